"""A trained InfoGAN for notebooks: restore a checkpoint, generate, traverse,
classify.

    model = infogan_jax.load('runs/mnist')              # or gs://bucket/run
    images = model.generate(jax.random.key(0), 16, codes={'cat0': 3})
    grid = model.traverse('cont0')                       # an image, in [0, 1]

Only the networks' parameters and batch-norm statistics are restored (no
optimiser states, no training data), onto one device. Images going in and
coming out are [n, H, W, C] floats in [0, 1], whatever G's output range.
Nothing here parses flags or changes JAX's configuration, so it can share a
process with other JAX work.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from infogan_jax import checkpointing
from infogan_jax import config_validation
from infogan_jax import codes as codes_lib
from infogan_jax import images as images_lib
from infogan_jax import keys
from infogan_jax import population
from infogan_jax import traversals
from infogan_jax.gan import InfoGAN


@jax.tree_util.register_pytree_node_class
class Posterior(dict):
  """Q's beliefs about the codes behind images: each code type's fields (its
  `readable`), also as attributes: `probabilities` (one [n, K] per
  categorical code), `mean` and `std` ([n, number of continuous codes]; std
  all ones when Q's std is fixed)."""

  def __getattr__(self, name):
    try:
      return self[name]
    except KeyError:
      raise AttributeError(name) from None

  def categories(self) -> jax.Array:
    """[n, number of categorical codes]: the most likely category of each."""
    return jnp.stack([p.argmax(-1) for p in self.probabilities], -1)

  # A pytree (jax.tree.map, device_get reach its arrays), by field name.
  def tree_flatten(self):
    names = sorted(self)
    return [self[name] for name in names], names

  @classmethod
  def tree_unflatten(cls, names, values):
    return cls(zip(names, values))


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedInfoGAN:
  """G and D/Q of a checkpoint, in inference mode (batch-norm averages).

  Compared and hashed by identity: the jitted helpers take it as a static
  argument and its variables as traced ones.
  """

  config: ml_collections.ConfigDict
  step: int
  g_variables: Any  # {'params', 'batch_stats'}
  d_variables: Any  # D's and Q's, {'params', 'batch_stats'}
  gan: InfoGAN = dataclasses.field(repr=False)

  @property
  def spec(self) -> codes_lib.CodeSpec:
    return self.gan.spec

  def __repr__(self):
    codes = [f'{name}({k})' for name, k in
             zip(self.code_names, self.spec.categorical.sizes)]
    codes += self.code_names[len(codes):]
    return (f'TrainedInfoGAN(dataset={self.config.dataset!r}, '
            f'step={self.step}, codes={", ".join(codes)}, '
            f'noise_dim={self.spec.noise_dim}, '
            f'image_shape={self.image_shape})')

  @property
  def code_names(self) -> tuple[str, ...]:
    """'cat0', ..., 'cont0', ...: the names `codes` and `traverse` take."""
    return self.spec.names

  @functools.cached_property
  def image_shape(self) -> tuple[int, ...]:
    return self.gan.image_shape()

  def sample_latents(self, key: jax.Array, n: int,
                     codes: Mapping[str, Any] | None = None
                     ) -> codes_lib.Latents:
    """n draws from the prior, with the codes in `codes` fixed.

    `codes` maps code names to one value for all n or one value each, e.g.
    {'cat0': 7, 'cont1': jnp.linspace(-2, 2, n)}.
    """
    latents = codes_lib.sample(self.spec, key, n)
    for name, values in (codes or {}).items():
      latents = codes_lib.set_code(self.spec, latents, name, values)
    return latents

  def generate(self, key: jax.Array, n: int,
               codes: Mapping[str, Any] | None = None) -> jax.Array:
    """n images G makes from prior draws (codes in `codes` fixed), in [0, 1].

    The same key gives the same images.
    """
    return self.render(self.sample_latents(key, n, codes))

  def render(self, latents: codes_lib.Latents) -> jax.Array:
    """G's images of given latents, in [0, 1]."""
    return _generate(self, self.g_variables, latents)

  def traverse(self, code: str, values: Sequence[float] | None = None,
               columns: int = 8, key: jax.Array | None = None,
               codes: Mapping[str, Any] | None = None) -> np.ndarray:
    """A grid whose rows sweep one code and whose columns are prior draws.

    `values` defaults to every category of a categorical code, and to the
    config's `continuous_sweep` in `continuous_sweep_steps` values for a
    continuous one. Each column is one draw of z and the other codes (from
    `key`, default the seed's 'traversals' stream), with the codes in
    `codes` fixed. Returns
    an [H, W, C] image in [0, 1] (matplotlib's imshow shows it as is).
    """
    code_type, index = self.spec.find(code)
    if values is None:
      values = code_type.sweep_values(index, self.config)
    if key is None:
      key = keys.stream(self.config.seed, 'traversals')
    base = self.sample_latents(key, columns, codes)
    images = self.render(traversals.sweep(self.spec, base, code, values))
    return images_lib.make_grid(np.asarray(images), columns=columns)

  def posterior(self, images) -> Posterior:
    """Q's posterior over the codes of [n, H, W, C] images in [0, 1].

    uint8 images are read as the dataset stores them: 0..config.pixel_max
    (255, or 1 for datasets of 0/1 pixels such as dsprites).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != self.image_shape:
      raise ValueError(f'images: expected shape (n, *{self.image_shape}), '
                       f'got {images.shape}')
    # (Runs saved before config.pixel_max existed were all 0..255.)
    pixel_max = (self.config.get('pixel_max', 255)
                 if images.dtype == np.uint8 else 1.0)
    return _posterior(self, self.d_variables,
                      self.gan.from_pixels(images, pixel_max))


@functools.partial(jax.jit, static_argnums=0)
def _generate(model: TrainedInfoGAN, g_variables, latents):
  return model.gan.to_unit_range(model.gan.generate(g_variables, latents))


@functools.partial(jax.jit, static_argnums=0)
def _posterior(model: TrainedInfoGAN, d_variables, images) -> Posterior:
  q = model.gan.posterior(d_variables, images)
  fields = Posterior()
  for code_type in model.spec.types:
    readable = code_type.readable(q[code_type.name])
    assert not fields.keys() & readable.keys(), 'code types share a field'
    fields.update(readable)
  return fields


def load(path: str, step: int | None = None,
         config: ml_collections.ConfigDict | None = None,
         device: jax.Device | None = None,
         member: int | None = None) -> TrainedInfoGAN:
  """Restores G and D/Q from the checkpoints of a training run.

  Args:
    path: the run's workdir (or its checkpoints/ directory), local or gs://.
    step: which checkpoint; default the newest.
    config: the run's config, for checkpoints that do not record it; when
      they do, it must agree with theirs on the model (else an error names
      the fields that differ). Default: the checkpoint's own.
    device: where the networks go; default the first local device.
    member: for the checkpoint of a population (`config.population` > 1),
      which member (0 to population - 1); it comes back as the single run
      of seed + member. Leave it out for a single run.

  Raises:
    CheckpointNotFoundError: no checkpoint there, or not at `step`.
    IncompatibleCheckpointError: the checkpoint comes from a newer format,
      or its arrays do not fit the model the config describes, or `member`
      is missing for a population or given for a single run.
  """
  reader = checkpointing.Reader(path)
  try:
    step = reader.step(step)
    saved = reader.config(step)
    if config is None:
      if saved is None:
        raise checkpointing.IncompatibleCheckpointError(
            f'the checkpoint at step {step} of {path} records no config and '
            'its workdir has no config.json: pass the run\'s config')
      config = saved
    elif saved is not None:
      differences = config_validation.config_differences(
          saved.model, config.model, prefix='model.')
      if differences:
        raise checkpointing.IncompatibleCheckpointError(
            f'the config does not match the checkpoint at step {step} of '
            f'{path}: ' + '; '.join(differences))
    config, members = population.checkpoint_member(
        config, population.size(saved or config), member,
        f'the checkpoint at step {step} of {path}')
    config = ml_collections.FrozenConfigDict(config)
    try:
      gan = InfoGAN.from_config(config)
    except (AttributeError, KeyError) as e:
      raise checkpointing.IncompatibleCheckpointError(
          f'the config of the checkpoint at step {step} of {path} lacks a '
          f'model field this infogan_jax needs: {e}') from None
    sharding = jax.sharding.SingleDeviceSharding(
        device or jax.local_devices()[0])
    g_shapes, d_shapes = jax.eval_shape(functools.partial(
        gan.init_variables, jax.random.key(0), jax.random.key(1),
        gan.image_shape()))
    # The networks' part of the saved TrainState, without optimiser states.
    target = {name: {'params': v['params'], 'batch_stats': v['batch_stats']}
              for name, v in (('g', g_shapes), ('d', d_shapes))}
    target = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(members + x.shape, x.dtype,
                                       sharding=sharding), target)
    variables = reader.restore(step, target)
    if member is not None:
      variables = jax.tree.map(lambda x: x[member], variables)
  finally:
    reader.close()
  return TrainedInfoGAN(config=config, step=step, g_variables=variables['g'],
                        d_variables=variables['d'], gan=gan)

