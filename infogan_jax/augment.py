"""Small random deformations of real images, for Q's consistency term.

`transform(key, images, ...)` shifts, rotates and elastically bends each
image by a little, and optionally slants it and thickens or thins its
strokes, drawn from `key`: the same key gives the same images. The output
stays in the images' value range: each pixel is a bilinear mix of input
pixels and the background (the range's low end, which is what is shifted in
from outside the frame), and a stroke change mixes in its 3x3 neighbours'
largest or smallest value.

Written here because JAX has the two pieces (`jax.scipy.ndimage`'s
interpolation, `jax.image.resize`) but no random-warp function over them.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Deformation:
  """How far a transformed copy may move from its image. Hashable (static)."""

  max_shift: float = 2.0  # pixels, each axis, uniform in [-max, max]
  max_rotation: float = 10.0  # degrees, uniform in [-max, max]
  # Elastic noise: a displacement field drawn N(0, elastic_std) pixels on an
  # elastic_grid x elastic_grid lattice, bilinearly upsampled to the image.
  elastic_std: float = 0.5
  elastic_grid: int = 4
  # Slant: x moves by shear * (y - centre), shear uniform in [-max, max].
  max_shear: float = 0.0
  # Stroke width: each image moves a fraction t, uniform in [-max, max]
  # (max <= 1), of the way to its 3x3 dilation (t > 0) or erosion (t < 0).
  max_stroke: float = 0.0

  @classmethod
  def from_config(cls, augment_config) -> Deformation:
    return cls(max_shift=float(augment_config.max_shift),
               max_rotation=float(augment_config.max_rotation),
               elastic_std=float(augment_config.elastic_std),
               elastic_grid=int(augment_config.elastic_grid),
               max_shear=float(augment_config.get('max_shear', 0.0)),
               max_stroke=float(augment_config.get('max_stroke', 0.0)))


def _sample_coordinates(key: jax.Array, height: int, width: int,
                        deformation: Deformation) -> jax.Array:
  """[2, H, W]: where each output pixel reads the input image."""
  angle_key, shift_key, elastic_key = jax.random.split(key, 3)
  angle = jax.random.uniform(angle_key, (), minval=-1.0, maxval=1.0) * (
      deformation.max_rotation * math.pi / 180)
  shift = jax.random.uniform(shift_key, (2,), minval=-1.0,
                             maxval=1.0) * deformation.max_shift
  grid = deformation.elastic_grid
  field = jax.random.normal(elastic_key, (2, grid, grid)) * (
      deformation.elastic_std)
  field = jax.image.resize(field, (2, height, width), 'linear')
  ys, xs = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                        jnp.arange(width, dtype=jnp.float32), indexing='ij')
  cy, cx = (height - 1) / 2, (width - 1) / 2
  dy, dx = ys - cy, xs - cx
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  source_y = cos * dy - sin * dx + cy - shift[0] + field[0]
  source_x = sin * dy + cos * dx + cx - shift[1] + field[1]
  if deformation.max_shear:
    # Its own key, folded in: the draws above stay those of `key`.
    shear = jax.random.uniform(jax.random.fold_in(key, 1), (), minval=-1.0,
                               maxval=1.0) * deformation.max_shear
    source_x = source_x + shear * dy
  return jnp.stack([source_y, source_x])


def _change_strokes(image: jax.Array, t: jax.Array) -> jax.Array:
  """image [H, W, C] moved a fraction t of the way to its 3x3 dilation
  (t > 0) or erosion (t < 0). Outside the frame counts as neither."""
  def pooled(init, op):
    return jax.lax.reduce_window(image, init, op, (3, 3, 1), (1, 1, 1),
                                 'SAME')
  thick = pooled(-jnp.inf, jax.lax.max)
  thin = pooled(jnp.inf, jax.lax.min)
  return (image + jnp.maximum(t, 0.0) * (thick - image) +
          jnp.maximum(-t, 0.0) * (thin - image))


def _warp(image: jax.Array, coordinates: jax.Array,
          background: float) -> jax.Array:
  """image [H, W, C] read at coordinates [2, H, W], bilinearly."""
  channels = [
      jax.scipy.ndimage.map_coordinates(
          image[..., c], [coordinates[0], coordinates[1]], order=1,
          mode='constant', cval=background)
      for c in range(image.shape[-1])
  ]
  return jnp.stack(channels, -1)


def transform(key: jax.Array, images: jax.Array,
              value_range: tuple[float, float],
              deformation: Deformation = Deformation()) -> jax.Array:
  """A randomly deformed copy of each image of [N, H, W, C] `images`."""
  n, height, width, _ = images.shape
  low, high = value_range
  keys = jax.random.split(key, n)
  coordinates = jax.vmap(
      lambda k: _sample_coordinates(k, height, width, deformation))(keys)
  warped = jax.vmap(lambda image, c: _warp(image.astype(jnp.float32), c,
                                           low))(images, coordinates)
  if deformation.max_stroke:
    amounts = jax.vmap(lambda k: jax.random.uniform(
        jax.random.fold_in(k, 2), (), minval=-1.0, maxval=1.0))(keys)
    warped = jax.vmap(_change_strokes)(
        warped, amounts * deformation.max_stroke)
  # Interpolation mixes in-range values; the clip only removes rounding.
  return jnp.clip(warped, low, high).astype(images.dtype)
