"""The train step: one D (and Q) update, then one G update, as a pure function.

`TrainStep` holds what a step needs besides the state (the networks, the
optimisers, the loss weights); `step(state, images) -> (state, metrics)`.
`train_steps` runs several in one call, and `jit_train_steps` compiles them
for a mesh (shardings from `sharding.py`). All of it is one run's; the same
for a population's members is in `population.py`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import optax

from infogan_jax import augment
from infogan_jax import keys
from infogan_jax import codes as codes_lib
from infogan_jax import losses
from infogan_jax import sharding
from infogan_jax import state as state_lib
from infogan_jax.data import device as device_data
from infogan_jax.errors import ConfigError
from infogan_jax.gan import InfoGAN


# What a step with a non-finite loss or gradient does (config.on_nonfinite):
# 'stop' training, or 'skip' the step's updates.
ON_NONFINITE = ('stop', 'skip')


def check_config(config) -> None:
  """Raises ConfigError for an unusable config.on_nonfinite."""
  if config.on_nonfinite not in ON_NONFINITE:
    raise ConfigError('on_nonfinite', config.on_nonfinite,
                      f'must be one of {ON_NONFINITE}')


@dataclasses.dataclass(frozen=True, eq=False)
class TrainStep:
  """The static parts of a step: networks, optimisers, loss weights.

  Compared and hashed by identity, so jitted functions take it as a static
  argument.
  """

  gan: InfoGAN
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  # The weight of each code type's bound L_I, by type name.
  code_lambdas: dict[str, float]
  mi_in_generator_loss: bool = True  # False: the plain-GAN baseline
  # True: an update whose loss or gradients are not finite is not applied.
  skip_nonfinite: bool = False
  # Q on real images (beyond the paper; 0 turns a term off): weights of the
  # real-data information, and of the consistency and the paired information
  # under `deformation`; the last also of the overclustering head's
  # categories.
  lambda_real_information: float = 0.0
  lambda_consistency: float = 0.0
  lambda_paired_information: float = 0.0
  lambda_overcluster: float = 0.0
  deformation: augment.Deformation = augment.Deformation()

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict,
                  gan: InfoGAN | None = None) -> TrainStep:
    def adam(learning_rate):
      return optax.adam(learning_rate, b1=config.adam_b1, b2=config.adam_b2)

    return cls(
        gan=gan or InfoGAN.from_config(config),
        g_tx=adam(config.g_learning_rate),
        d_tx=adam(config.d_learning_rate),
        code_lambdas={t.name: config[t.lambda_field]
                      for t in codes_lib.CODE_TYPES},
        mi_in_generator_loss=config.mi_in_generator_loss,
        skip_nonfinite=config.on_nonfinite == 'skip',
        lambda_real_information=config.lambda_real_information,
        lambda_consistency=config.lambda_consistency,
        lambda_paired_information=config.lambda_paired_information,
        lambda_overcluster=config.lambda_overcluster,
        deformation=augment.Deformation.from_config(config.augment),
    )

  @property
  def spec(self) -> codes_lib.CodeSpec:
    return self.gan.spec

  def init(self, seed: int, image_shape: tuple[int, ...]
           ) -> state_lib.TrainState:
    """The state at step 0: fresh networks and optimisers."""
    g_key, d_key, train_key = keys.initial(seed)
    g_vars, d_vars = self.gan.init_variables(g_key, d_key, image_shape)
    return state_lib.TrainState(
        step=jnp.zeros((), jnp.int32),
        key=jax.random.key_data(train_key),
        g=state_lib.NetState.create(g_vars, self.g_tx),
        d=state_lib.NetState.create(d_vars, self.d_tx),
    )

  def penalty(self, mi: losses.MutualInformation) -> jax.Array:
    return losses.information_penalty(mi, self.code_lambdas)

  def real_data_terms(self, params, batch_stats, real_q_out: jax.Array,
                      real_overcluster: jax.Array | None, images: jax.Array,
                      key: jax.Array):
    """D's loss terms from Q (and the overclustering head) on the real
    batch: (loss to add, metrics).

    The real-data information is logged at every step (it is the label-free
    selection criterion too) and enters the loss with its lambda; the
    consistency, paired-information and overclustering terms, which need a
    second pass of D over deformed copies, are computed only when their
    lambda is not 0. That pass's batch-norm statistics are not kept.
    """
    information = losses.real_information(self.spec, real_q_out)
    if self.lambda_real_information:
      loss = -self.lambda_real_information * information
    else:  # measured only
      loss, information = 0.0, jax.lax.stop_gradient(information)
    metrics = {'q_real_information_nats': information}
    if not (self.lambda_consistency or self.lambda_paired_information or
            self.lambda_overcluster):
      return loss, metrics
    deformed = augment.transform(key, images, self.gan.value_range,
                                 self.deformation)
    _, deformed_q_out, _, deformed_overcluster = self.gan.discriminate(
        {'params': params, 'batch_stats': batch_stats}, deformed)
    if self.lambda_consistency:
      divergence = losses.consistency(self.spec, real_q_out, deformed_q_out)
      loss = loss + self.lambda_consistency * divergence
      metrics['q_consistency_nats'] = divergence
    if self.lambda_paired_information:
      paired = losses.paired_information(self.spec, real_q_out,
                                         deformed_q_out)
      loss = loss - self.lambda_paired_information * paired
      metrics['q_paired_information_nats'] = paired
    if self.lambda_overcluster:
      if real_overcluster is None:
        raise ValueError('lambda_overcluster > 0 needs a model with an '
                         'overclustering head (overcluster_categories > 0)')
      paired = losses.categorical_paired_information(real_overcluster,
                                                     deformed_overcluster)
      loss = loss - self.lambda_overcluster * paired
      metrics['overcluster_paired_information_nats'] = paired
    return loss, metrics

  def __call__(self, state: state_lib.TrainState, images: jax.Array,
               data_sharding: jax.sharding.Sharding | None = None):
    return train_step(self, state, images, data_sharding)


def _sample_latents(step: TrainStep, key: jax.Array, n: int,
                    data_sharding: jax.sharding.Sharding | None):
  latents = codes_lib.sample(step.spec, key, n)
  if data_sharding is not None:
    latents = jax.lax.with_sharding_constraint(latents, data_sharding)
  return latents


def _update(step: TrainStep, net: state_lib.NetState,
            tx: optax.GradientTransformation, loss_fn):
  """One network's update from `loss_fn(params) -> (loss, aux)`, where
  aux['stats'] are its new BN statistics. Returns (the new network, loss,
  aux, whether loss and gradients were finite); under
  `step.skip_nonfinite` a non-finite update is not applied."""
  (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(net.params)
  finite = state_lib.all_finite((loss, grads))
  new = net.apply_gradients(tx, grads, aux['stats'],
                            keep_if=finite if step.skip_nonfinite else None)
  return new, loss, aux, finite


def train_step(step: TrainStep, state: state_lib.TrainState,
               images: jax.Array,
               data_sharding: jax.sharding.Sharding | None = None):
  """One iteration: a D (and Q) update, then a G update, fresh latents each.

  Pure: (state, batch) -> (state, metrics). Each network's BN running
  statistics are updated by the half that trains it. `nonfinite_steps` in the
  metrics flags a step whose losses or gradients were not all finite; the
  training loop stops on it, or, with `step.skip_nonfinite`, the step's
  updates are dropped (the step still counts, so the next draws new latents
  and a new batch).
  """
  gan = step.gan
  n = images.shape[0]
  key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
  d_key, g_key = jax.random.split(key)

  # D half: real images, and fakes from a frozen G.
  d_latents = _sample_latents(step, d_key, n, data_sharding)
  fakes, _ = gan.generate(state.g.variables(), d_latents, train=True)
  fakes = jax.lax.stop_gradient(fakes)

  def d_loss_fn(params):
    real_logits, real_q_out, stats, real_overcluster = gan.discriminate(
        {'params': params, 'batch_stats': state.d.batch_stats}, images)
    fake_logits, q_out, stats, _ = gan.discriminate(
        {'params': params, 'batch_stats': stats}, fakes)
    gan_loss = losses.discriminator_gan_loss(real_logits, fake_logits)
    mi = losses.mutual_information(step.spec, q_out, d_latents)
    real_loss, real_metrics = 0.0, {}
    if step.spec.categorical.count:  # the real-data terms act on them
      real_loss, real_metrics = step.real_data_terms(
          params, state.d.batch_stats, real_q_out, real_overcluster, images,
          jax.random.fold_in(d_key, 1))
    aux = dict(stats=stats, mi=mi, gan_loss=gan_loss, real=real_metrics,
               d_real=jax.nn.sigmoid(real_logits).mean(),
               d_fake=jax.nn.sigmoid(fake_logits).mean())
    return gan_loss - step.penalty(mi) + real_loss, aux

  d_state, d_loss, d_aux, d_finite = _update(step, state.d, step.d_tx,
                                             d_loss_fn)

  # G half: the updated D judges fresh fakes; D's statistics are not updated.
  g_latents = _sample_latents(step, g_key, n, data_sharding)

  def g_loss_fn(params):
    fakes, stats = gan.generate(
        {'params': params, 'batch_stats': state.g.batch_stats}, g_latents,
        train=True)
    fake_logits, q_out, _, _ = gan.discriminate(d_state.variables(), fakes)
    gan_loss = losses.generator_gan_loss(fake_logits)
    if not step.mi_in_generator_loss:
      return gan_loss, dict(stats=stats, gan_loss=gan_loss)
    mi = losses.mutual_information(step.spec, q_out, g_latents)
    return gan_loss - step.penalty(mi), dict(stats=stats, gan_loss=gan_loss)

  g_state, g_loss, g_aux, g_finite = _update(step, state.g, step.g_tx,
                                             g_loss_fn)

  metrics = {
      'd_loss': d_loss,
      'g_loss': g_loss,
      'd_loss_gan': d_aux['gan_loss'],
      'g_loss_gan': g_aux['gan_loss'],
      'd_real': d_aux['d_real'],
      'd_fake': d_aux['d_fake'],
      # 1 when a loss or gradient was not finite (summed when logged).
      'nonfinite_steps': 1 - (d_finite & g_finite).astype(jnp.int32),
      **d_aux['real'],
  }
  # Each code type's bound, and with several codes of a type each code's.
  for code_type in step.spec.types:
    bounds = d_aux['mi'].per_code[code_type.name]
    metrics[f'mi_{code_type.prefix}_nats'] = bounds.sum()
    if code_type.count > 1:
      metrics.update({f'mi_{code_type.prefix}{i}_nats': bounds[i]
                      for i in range(code_type.count)})
  new_state = state.replace(step=state.step + 1, g=g_state, d=d_state)
  return new_state, metrics


def train_steps(step: TrainStep, state: state_lib.TrainState, batches,
                num_steps: int, batch_size: int,
                data_sharding: jax.sharding.Sharding | None = None):
  """`num_steps` train steps in one call; metrics stacked on axis 0.

  `batches` is either [num_steps, batch, H, W, C], or a DeviceDataset from
  which each step draws its own batch.
  """
  on_device = isinstance(batches, device_data.DeviceDataset)
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
    state, metrics = train_step(step, state, batch, data_sharding)
    history.append(metrics)
  return state, jax.tree.map(lambda *x: jnp.stack(x), *history)


# ------------------------------------------------ compiled for a mesh


def jit_train_step(step: TrainStep, mesh: jax.sharding.Mesh):
  """One train step jitted for `mesh`: (state, batch) -> (state, metrics).

  The state is replicated and donated, the batch split over the devices.
  """
  replicated, data = sharding.replicated(mesh), sharding.data(mesh)
  return jax.jit(functools.partial(train_step, step, data_sharding=data),
                 in_shardings=(replicated, data),
                 out_shardings=(replicated, replicated), donate_argnums=0)


def jit_train_steps(step: TrainStep, mesh: jax.sharding.Mesh,
                    num_steps: int, batch_size: int,
                    data_on_device: bool = False):
  """`train_steps` jitted for `mesh`: (state, batches or a DeviceDataset)
  -> (state, metrics stacked per step).

  The state is replicated and donated; stacked batches are sharded on their
  batch axis, a DeviceDataset's images are replicated.
  """
  replicated = sharding.replicated(mesh)
  steps = functools.partial(train_steps, step, num_steps=num_steps,
                            batch_size=batch_size,
                            data_sharding=sharding.data(mesh))
  batches = replicated if data_on_device else sharding.stacked_data(mesh)
  return jax.jit(steps, in_shardings=(replicated, batches),
                 out_shardings=(replicated, replicated), donate_argnums=0)


def create_state(step: TrainStep, seed: int, image_shape: tuple[int, ...],
                 mesh: jax.sharding.Mesh) -> state_lib.TrainState:
  """A freshly initialised state, replicated on the mesh."""
  init = jax.jit(step.init, static_argnums=(0, 1),
                 out_shardings=sharding.replicated(mesh))
  return init(seed, image_shape)
