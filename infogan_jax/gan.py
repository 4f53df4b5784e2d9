"""`InfoGAN`: the networks of a run, and the only code that applies them.

It builds G and D/Q from a config, initialises their variables, runs them in
training mode (batch statistics, updated BN averages returned) or inference
mode (BN running averages), and converts images between the pixels a
dataset stores, G's output range (the range the networks see) and [0, 1]
(what users see). Training, evaluation, sample grids and `infogan_jax.load`
all go through it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from infogan_jax import codes as codes_lib
from infogan_jax import models


@dataclasses.dataclass(frozen=True, eq=False)
class InfoGAN:
  """G, and D with Q's head, for one model config.

  Compared and hashed by identity, so jitted functions take it as a static
  argument and the variables as traced ones.
  """

  spec: codes_lib.CodeSpec
  generator: nn.Module
  discriminator: models.Discriminator
  # G's output range, set by its last activation; data is scaled into it.
  value_range: tuple[float, float] = (0.0, 1.0)

  @classmethod
  def from_config(cls, config, platform: str | None = None) -> InfoGAN:
    """The networks of `config.model`, with G's transposed convolutions in
    the form `config.conv_transpose` picks for `platform` (default: the
    platform JAX runs on)."""
    form = models.conv_transpose_form(
        config.get('conv_transpose', 'auto'),
        platform or jax.default_backend())
    generator, discriminator = models.build_models(config.model, form)
    return cls(spec=codes_lib.CodeSpec.from_config(config.model),
               generator=generator, discriminator=discriminator,
               value_range=models.output_range(config.model))

  # ------------------------------------------------------------ variables

  def init_variables(self, g_key: jax.Array, d_key: jax.Array,
                     image_shape: tuple[int, ...]) -> tuple[dict, dict]:
    """Fresh variables ({'params', 'batch_stats'}) of G and of D with Q."""
    g_vars = self.generator.init(g_key, jnp.zeros((1, self.spec.input_dim)),
                                 train=False)
    d_vars = self.discriminator.init(d_key, jnp.zeros((1, *image_shape)),
                                     train=False)
    return g_vars, d_vars

  def image_shape(self) -> tuple[int, ...]:
    """Shape (H, W, C) of one generated image, found without compiling."""
    z = jax.ShapeDtypeStruct((1, self.spec.input_dim), jnp.float32)
    out = jax.eval_shape(lambda z: self.generator.init_with_output(
        jax.random.key(0), z, False)[0], z)
    return tuple(out.shape[1:])

  # ------------------------------------------------------------- applying

  def generate(self, g_variables, latents: codes_lib.Latents,
               train: bool = False):
    """G(z, c) in G's range. In training mode also G's new BN statistics."""
    x = codes_lib.generator_input(self.spec, latents)
    if train:
      images, updates = self.generator.apply(
          g_variables, x, train=True, mutable=['batch_stats'])
      return images, updates['batch_stats']
    return self.generator.apply(g_variables, x, train=False)

  def discriminate(self, d_variables, images: jax.Array, train: bool = True):
    """D's logits and Q's raw output; in training mode (the default) also
    D's new BN statistics and the overclustering head's logits (None for a
    model without one)."""
    if train:
      (logits, q_out), updates = self.discriminator.apply(
          d_variables, images, train=True,
          mutable=['batch_stats', 'intermediates'])
      # The value sown by this call: the last (variables that already hold
      # intermediates would put older ones before it).
      overcluster = updates.get('intermediates', {}).get('overcluster')
      return (logits, q_out, updates['batch_stats'],
              None if overcluster is None else overcluster[-1])
    return self.discriminator.apply(d_variables, images, train=False)

  def posterior(self, d_variables, images: jax.Array) -> dict:
    """Q's posterior over the codes of images in G's range, in inference
    mode: each code type's distribution parameters, by type name."""
    _, q_out = self.discriminate(d_variables, images, train=False)
    return codes_lib.split_q_output(self.spec, q_out)

  # --------------------------------------------------------------- ranges

  def from_pixels(self, images, pixel_max: float = 1.0) -> jax.Array:
    """Images with pixels in [0, pixel_max] as float32 in G's range."""
    low, high = self.value_range
    return jnp.asarray(images, jnp.float32) / pixel_max * (high - low) + low

  def to_unit_range(self, images: jax.Array) -> Any:
    """Images in G's range (e.g. G's output) scaled to [0, 1]."""
    low, high = self.value_range
    return (images - low) / (high - low)
