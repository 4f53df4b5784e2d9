"""The train state and the ONE jitted train step (pure JAX, no TensorFlow).

`train_step(gan, state, images) -> (state, metrics)` does a D (and Q) update,
then a G update; `jit_train_step` compiles it data-parallel over a 1-D mesh.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from infogan_jax import augment
from infogan_jax import latents as latents_lib
from infogan_jax import losses
from infogan_jax import models

# ------------------------------------------------------------------- state


@flax.struct.dataclass
class NetState:
  """One network's trainable state: parameters, BN statistics, optimiser."""

  params: Any
  batch_stats: Any
  opt_state: Any

  def variables(self) -> dict[str, Any]:
    return {'params': self.params, 'batch_stats': self.batch_stats}


@flax.struct.dataclass
class TrainState:
  """Everything that decides the future of a run; saved in checkpoints."""

  step: jax.Array  # number of completed iterations
  key: jax.Array  # raw uint32 key data; each step uses fold_in(key, step)
  g: NetState  # the generator
  d: NetState  # the discriminator together with Q's head


@dataclasses.dataclass(frozen=True, eq=False)
class InfoGAN:
  """The static parts of a run: networks, code layout, optimisers, lambdas.

  Compared and hashed by identity, so jitted functions take it as a static
  argument.
  """

  spec: latents_lib.CodeSpec
  generator: nn.Module
  discriminator: models.Discriminator
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  lambda_categorical: float
  lambda_continuous: float
  mi_in_generator_loss: bool = True  # False: the plain-GAN baseline
  # True: an update whose loss or gradients are not finite is not applied.
  skip_nonfinite: bool = False
  # Q on real images (beyond the paper; 0 turns a term off): weights of the
  # real-data information and of the consistency under `deformation`, and
  # the data range the deformed copies stay in.
  lambda_real_information: float = 0.0
  lambda_consistency: float = 0.0
  deformation: augment.Deformation = augment.Deformation()
  value_range: tuple[float, float] = (0.0, 1.0)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> InfoGAN:
    generator, discriminator = models.build_models(config.model)

    def adam(learning_rate):
      return optax.adam(learning_rate, b1=config.adam_b1, b2=config.adam_b2)

    return cls(
        spec=latents_lib.CodeSpec.from_config(config.model),
        generator=generator,
        discriminator=discriminator,
        g_tx=adam(config.g_learning_rate),
        d_tx=adam(config.d_learning_rate),
        lambda_categorical=config.lambda_categorical,
        lambda_continuous=config.lambda_continuous,
        mi_in_generator_loss=config.mi_in_generator_loss,
        skip_nonfinite=config.on_nonfinite == 'skip',
        lambda_real_information=config.lambda_real_information,
        lambda_consistency=config.lambda_consistency,
        deformation=augment.Deformation.from_config(config.augment),
        value_range=models.output_range(config.model),
    )

  def init(self, seed: int, image_shape: tuple[int, ...]) -> TrainState:
    g_key, d_key, train_key = jax.random.split(jax.random.key(seed), 3)
    g_vars, d_vars = models.init_variables(
        self.generator, self.discriminator, self.spec.input_dim, image_shape,
        g_key, d_key)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        key=jax.random.key_data(train_key),
        g=NetState(g_vars['params'], g_vars['batch_stats'],
                   self.g_tx.init(g_vars['params'])),
        d=NetState(d_vars['params'], d_vars['batch_stats'],
                   self.d_tx.init(d_vars['params'])),
    )

  def generate(self, g_variables, latents: latents_lib.Latents,
               train: bool = False):
    """G(z, c). In training mode also returns G's updated BN statistics."""
    x = latents_lib.generator_input(self.spec, latents)
    if train:
      images, updates = self.generator.apply(
          g_variables, x, train=True, mutable=['batch_stats'])
      return images, updates['batch_stats']
    return self.generator.apply(g_variables, x, train=False)

  def discriminate(self, d_variables, images: jax.Array):
    """D's logits and Q's output in training mode, with D's new BN statistics."""
    (logits, q_out), updates = self.discriminator.apply(
        d_variables, images, train=True, mutable=['batch_stats'])
    return logits, q_out, updates['batch_stats']

  def penalty(self, mi: losses.MutualInformation) -> jax.Array:
    return losses.information_penalty(mi, self.lambda_categorical,
                                      self.lambda_continuous)

  def real_data_terms(self, params, batch_stats, real_q_out: jax.Array,
                      images: jax.Array, key: jax.Array):
    """D's loss terms from Q on the real batch: (loss to add, metrics).

    The real-data information is logged at every step (it is the label-free
    selection criterion too) and enters the loss with its lambda; the
    consistency term, which needs a second pass of D over deformed copies,
    is computed only when its lambda is not 0. That pass's batch-norm
    statistics are not kept.
    """
    information = losses.real_information(self.spec, real_q_out)
    if self.lambda_real_information:
      loss = -self.lambda_real_information * information
    else:  # measured only
      loss, information = 0.0, jax.lax.stop_gradient(information)
    metrics = {'q_real_information_nats': information}
    if self.lambda_consistency:
      deformed = augment.transform(key, images, self.value_range,
                                   self.deformation)
      _, deformed_q_out, _ = self.discriminate(
          {'params': params, 'batch_stats': batch_stats}, deformed)
      divergence = losses.consistency(self.spec, real_q_out, deformed_q_out)
      loss = loss + self.lambda_consistency * divergence
      metrics['q_consistency_nats'] = divergence
    return loss, metrics


# -------------------------------------------------------------- train step


def _sample_latents(gan: InfoGAN, key: jax.Array, n: int,
                    sharding: jax.sharding.Sharding | None):
  latents = latents_lib.sample(gan.spec, key, n)
  if sharding is not None:
    latents = jax.lax.with_sharding_constraint(latents, sharding)
  return latents


def _all_finite(tree) -> jax.Array:
  return jnp.all(jnp.stack([jnp.isfinite(x).all()
                            for x in jax.tree.leaves(tree)]))


def _apply_gradients(gan: InfoGAN, net: NetState,
                     tx: optax.GradientTransformation, loss, grads,
                     batch_stats) -> tuple[NetState, jax.Array]:
  """The updated network, and whether its loss and gradients were finite.

  Under `gan.skip_nonfinite` a non-finite update leaves the network as it
  was (parameters, BN statistics and optimiser state alike).
  """
  finite = _all_finite((loss, grads))
  updates, opt_state = tx.update(grads, net.opt_state, net.params)
  new = NetState(optax.apply_updates(net.params, updates), batch_stats,
                 opt_state)
  if gan.skip_nonfinite:
    new = optax.tree.where(finite, new, net)
  return new, finite


def train_step(gan: InfoGAN, state: TrainState, images: jax.Array,
               data_sharding: jax.sharding.Sharding | None = None):
  """One iteration: a D (and Q) update, then a G update, fresh latents each.

  Pure: (state, batch) -> (state, metrics). Each network's BN running
  statistics are updated by the half that trains it. `nonfinite_steps` in the
  metrics flags a step whose losses or gradients were not all finite; the
  training loop stops on it, or, with `gan.skip_nonfinite`, the step's
  updates are dropped (the step still counts, so the next draws new latents
  and a new batch).
  """
  n = images.shape[0]
  key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
  d_key, g_key = jax.random.split(key)

  # D half: real images, and fakes from a frozen G.
  d_latents = _sample_latents(gan, d_key, n, data_sharding)
  fakes, _ = gan.generate(state.g.variables(), d_latents, train=True)
  fakes = jax.lax.stop_gradient(fakes)

  def d_loss_fn(params):
    real_logits, real_q_out, stats = gan.discriminate(
        {'params': params, 'batch_stats': state.d.batch_stats}, images)
    fake_logits, q_out, stats = gan.discriminate(
        {'params': params, 'batch_stats': stats}, fakes)
    gan_loss = losses.discriminator_gan_loss(real_logits, fake_logits)
    mi = losses.mutual_information(gan.spec, q_out, d_latents)
    real_loss, real_metrics = (0.0, {}) if not gan.spec.categorical else (
        gan.real_data_terms(params, state.d.batch_stats, real_q_out, images,
                            jax.random.fold_in(d_key, 1)))
    aux = dict(stats=stats, mi=mi, gan_loss=gan_loss, real=real_metrics,
               d_real=jax.nn.sigmoid(real_logits).mean(),
               d_fake=jax.nn.sigmoid(fake_logits).mean())
    return gan_loss - gan.penalty(mi) + real_loss, aux

  (d_loss, d_aux), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
      state.d.params)
  d_state, d_finite = _apply_gradients(gan, state.d, gan.d_tx, d_loss,
                                       d_grads, d_aux['stats'])

  # G half: the updated D judges fresh fakes; D's statistics are not updated.
  g_latents = _sample_latents(gan, g_key, n, data_sharding)

  def g_loss_fn(params):
    fakes, stats = gan.generate(
        {'params': params, 'batch_stats': state.g.batch_stats}, g_latents,
        train=True)
    fake_logits, q_out, _ = gan.discriminate(d_state.variables(), fakes)
    gan_loss = losses.generator_gan_loss(fake_logits)
    if not gan.mi_in_generator_loss:
      return gan_loss, dict(stats=stats, gan_loss=gan_loss)
    mi = losses.mutual_information(gan.spec, q_out, g_latents)
    return gan_loss - gan.penalty(mi), dict(stats=stats, gan_loss=gan_loss)

  (g_loss, g_aux), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
      state.g.params)
  g_state, g_finite = _apply_gradients(gan, state.g, gan.g_tx, g_loss,
                                       g_grads, g_aux['stats'])

  metrics = {
      'd_loss': d_loss,
      'g_loss': g_loss,
      'd_loss_gan': d_aux['gan_loss'],
      'g_loss_gan': g_aux['gan_loss'],
      'mi_cat_nats': d_aux['mi'].categorical,
      'h_cat_nats': jnp.asarray(gan.spec.categorical_entropy, jnp.float32),
      'mi_cont_nats': d_aux['mi'].continuous,
      'd_real': d_aux['d_real'],
      'd_fake': d_aux['d_fake'],
      # 1 when a loss or gradient was not finite (summed when logged).
      'nonfinite_steps': 1 - (d_finite & g_finite).astype(jnp.int32),
      **d_aux['real'],
  }
  # With several codes of a type, each code's own bound too.
  mi = d_aux['mi']
  if len(gan.spec.categorical) > 1:
    metrics.update({f'mi_cat{i}_nats': mi.categorical_codes[i]
                    for i in range(len(gan.spec.categorical))})
  if gan.spec.num_continuous > 1:
    metrics.update({f'mi_cont{i}_nats': mi.continuous_codes[i]
                    for i in range(gan.spec.num_continuous)})
  new_state = state.replace(step=state.step + 1, g=g_state, d=d_state)
  return new_state, metrics


@flax.struct.dataclass
class DeviceDataset:
  """A whole training split held on the devices, for `data_on_device`."""

  images: jax.Array  # [N, H, W, C], replicated, in G's output range
  key: jax.Array  # raw key data for the epoch permutations

  def batch(self, step: jax.Array, batch_size: int) -> jax.Array:
    """The batch of iteration `step` (0-based): each epoch a new permutation.

    The last partial batch of each epoch is dropped, as in the tf.data path.
    """
    steps_per_epoch = self.images.shape[0] // batch_size
    epoch, position = jnp.divmod(step, steps_per_epoch)
    order = jax.random.permutation(
        jax.random.fold_in(jax.random.wrap_key_data(self.key), epoch),
        self.images.shape[0])
    indices = jax.lax.dynamic_slice_in_dim(order, position * batch_size,
                                           batch_size)
    return jnp.take(self.images, indices, axis=0)


def train_steps(gan: InfoGAN, state: TrainState, batches,
                num_steps: int, batch_size: int,
                data_sharding: jax.sharding.Sharding | None = None):
  """`num_steps` train steps in one call; metrics stacked on axis 0.

  `batches` is either [num_steps, batch, H, W, C], or a DeviceDataset from
  which each step draws its own batch.
  """
  on_device = isinstance(batches, DeviceDataset)
  # A Python loop, i.e. the steps unrolled: XLA:CPU runs the body of a rolled
  # lax.scan about 5x slower (its matmuls and convolutions lose their fast
  # paths). The price is compile time growing with num_steps.
  history = []
  for i in range(num_steps):
    if on_device:
      batch = batches.batch(state.step, batch_size)
      if data_sharding is not None:
        batch = jax.lax.with_sharding_constraint(batch, data_sharding)
    else:
      batch = batches[i]
    state, metrics = train_step(gan, state, batch, data_sharding)
    history.append(metrics)
  return state, jax.tree.map(lambda *x: jnp.stack(x), *history)


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D data-parallel mesh over the given devices (default: all of them)."""
  devices = jax.devices() if devices is None else devices
  return jax.sharding.Mesh(np.asarray(devices), ('data',))


def replicated_sharding(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """A full copy on every device of the mesh."""
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def _shardings(mesh: jax.sharding.Mesh):
  data = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  return replicated_sharding(mesh), data


def stacked_data_sharding(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """Sharding of [steps, batch, ...] stacks: the batch axis over 'data'."""
  return jax.sharding.NamedSharding(mesh,
                                    jax.sharding.PartitionSpec(None, 'data'))


def jit_train_step(gan: InfoGAN, mesh: jax.sharding.Mesh):
  """The train step jitted for `mesh`: state replicated and donated, batch sharded."""
  replicated, data = _shardings(mesh)
  step = functools.partial(train_step, gan, data_sharding=data)
  return jax.jit(step, in_shardings=(replicated, data),
                 out_shardings=(replicated, replicated), donate_argnums=0)


def jit_train_steps(gan: InfoGAN, mesh: jax.sharding.Mesh, num_steps: int,
                    batch_size: int, data_on_device: bool = False):
  """`train_steps` jitted for `mesh`: (state, batches or dataset) -> ...

  The state is replicated and donated; stacked batches are sharded on their
  batch axis, a DeviceDataset is replicated.
  """
  replicated, data = _shardings(mesh)
  stacked = stacked_data_sharding(mesh)
  steps = functools.partial(train_steps, gan, num_steps=num_steps,
                            batch_size=batch_size, data_sharding=data)
  return jax.jit(
      steps, in_shardings=(replicated,
                           replicated if data_on_device else stacked),
      out_shardings=(replicated, replicated), donate_argnums=0)


def create_state(gan: InfoGAN, seed: int, image_shape: tuple[int, ...],
                 mesh: jax.sharding.Mesh) -> TrainState:
  """A freshly initialised state, replicated over the mesh."""
  init = jax.jit(gan.init, static_argnums=(0, 1),
                 out_shardings=replicated_sharding(mesh))
  return init(seed, image_shape)
