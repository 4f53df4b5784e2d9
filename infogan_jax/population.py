"""Populations: several runs of one config trained as one program.

Member i of a population of N (`config.population`) is the single run of
seed + i: its own networks, optimisers, latents and data order, every array
of its state under a leading member axis. This module holds everything
about that axis: its checks, how the step maps over it ('vmap' or 'loop'),
where members live on the mesh, a population's fresh state, its data keys,
a member as a single run (state, config, checkpoint), and how per-member
values are logged. The rest of the library sees one run, or loops over a
population's members through `Members`. A population of 1 is a single run:
the functions that take a count (`create_state`, `abstract_state`,
`device_dataset`, `jit_train_steps`, `Members`) then do what `step.py` and
`data/device.py` do for one.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from infogan_jax import fields
from infogan_jax import keys
from infogan_jax import sharding
from infogan_jax import state as state_lib
from infogan_jax import step as step_lib
from infogan_jax.data import device as device_data
from infogan_jax.errors import CheckpointNotFoundError
from infogan_jax.errors import ConfigError
from infogan_jax.errors import IncompatibleCheckpointError

# How a population's members are stepped (config.population_form): 'vmap'
# (one batched program), 'loop' (each member's own step, one after another,
# in one program), or 'auto' (`form`).
FORMS = ('auto', 'vmap', 'loop')

# How a population's state maps over its members (a `jax.vmap` axes tree):
# the step is shared, every other array has a leading member axis.
STATE_AXES = state_lib.TrainState(step=None, key=0, g=0, d=0)
# And its on-device dataset: shared images, a data key per member.
DATA_AXES = device_data.DeviceDataset(images=None, key=0)


def size(config) -> int:
  """How many members `config` trains (1 in configs from before populations)."""
  return config.get('population', 1)


def form(setting: str, platform: str) -> str:
  """'vmap' or 'loop' for a config setting on a JAX platform: 'auto' loops
  on the CPU, where XLA:CPU runs the batched (grouped) convolutions of the
  vmapped step far slower than the same convolutions one member at a time,
  and maps elsewhere."""
  if setting != 'auto':
    return setting
  return 'loop' if platform == 'cpu' else 'vmap'


def check_config(config, device_count: int = 1,
                 process_count: int = 1) -> None:
  """Raises ConfigError unless the population and its batches fit the
  devices and processes."""
  fields.int_at_least(config, 'population', 1)
  if config.population_form not in FORMS:
    raise ConfigError('population_form', config.population_form,
                      f'must be one of {", ".join(map(repr, FORMS))}')
  shards = sharding.data_shards(config.population, device_count)
  if config.population == 1:
    for count, what in ((device_count, 'devices'),
                        (process_count, 'processes')):
      if config.batch_size % count:
        raise ConfigError(
            'batch_size', config.batch_size,
            f'the global batch must be divisible by the number of {what} '
            f'({count})')
  elif config.batch_size % shards:
    raise ConfigError(
        'population', config.population,
        f'on {device_count} devices each member\'s batch is split over '
        f'{shards} of them and batch_size ({config.batch_size}) is not '
        f'divisible by {shards}: use a population that divides or is a '
        f'multiple of {device_count}, or a batch_size divisible by {shards}')
  elif (config.batch_size * config.population) % process_count:
    raise ConfigError(
        'population', config.population,
        f'the members\' batches together ({config.population} x '
        f'{config.batch_size}) must be divisible by the number of processes '
        f'({process_count})')


def global_batch(config) -> int:
  """Images per step for all members together: their batches end to end
  (member 0's first)."""
  return config.batch_size * size(config)


# ------------------------------------------------------ a member, alone


def member(state: state_lib.TrainState, index) -> state_lib.TrainState:
  """Member `index` of a population's state: a single run's state."""
  take = lambda x: x[index]
  return state_lib.TrainState(step=state.step, key=take(state.key),
                              g=jax.tree.map(take, state.g),
                              d=jax.tree.map(take, state.d))


def member_getter(mesh: jax.sharding.Mesh):
  """(population state, index) -> that member's state, replicated on the
  mesh: a single run's state, for grids, evaluators and export."""
  return jax.jit(member, out_shardings=sharding.replicated(mesh))


def member_config(config: ml_collections.ConfigDict,
                  index: int) -> ml_collections.ConfigDict:
  """The config of the single run that is member `index` of `config`'s
  population: seed + index, population 1."""
  single = ml_collections.ConfigDict(config.to_dict())
  single.seed = config.seed + index
  single.population = 1
  return single


def check_member(config, index: int | None) -> None:
  """Raises ConfigError unless `index` names a member of `config`'s
  population (None: no member asked for)."""
  if index is not None and not 0 <= index < size(config):
    raise ConfigError('member', index, f'must be in 0..{size(config) - 1}')


class Members:
  """The members of a population's state one by one, as single-run states
  replicated on the mesh; a single run's state is its only member."""

  def __init__(self, mesh: jax.sharding.Mesh, count: int):
    self.count = count
    self._get = member_getter(mesh) if count > 1 else None

  def each(self, state: state_lib.TrainState):
    """(suffix for names, member state) pairs: ('', state) for a single run,
    ('_member0', ...), ... for a population."""
    if self.count == 1:
      yield '', state
      return
    for i in range(self.count):
      yield f'_member{i}', self._get(state, i)

  def states(self, state: state_lib.TrainState) -> list:
    return [member_state for _, member_state in self.each(state)]

  def stack(self, per_member: list[dict]) -> dict:
    """One dict of values per member -> one dict of [members] arrays; a
    single run's dict as it is."""
    if self.count == 1:
      return per_member[0]
    return {name: np.array([values[name] for values in per_member])
            for name in per_member[0]}


def scalars(values: dict[str, np.ndarray]) -> dict[str, float]:
  """What is logged of per-run values: a single run's as they are; for a
  population (one value per member) each member's as NAME/member_I and
  their mean, min and max as NAME, NAME/min and NAME/max."""
  out = {}
  for name, value in values.items():
    value = np.asarray(value, np.float64)
    if value.ndim == 0:
      out[name] = float(value)
      continue
    out[name] = float(value.mean())
    out[f'{name}/min'] = float(value.min())
    out[f'{name}/max'] = float(value.max())
    out.update({f'{name}/member_{i}': float(v) for i, v in enumerate(value)})
  return out


# --------------------------------------------------------- checkpoints


def check_saved(saved_config: ml_collections.ConfigDict, count: int,
                step: int, workdir: str) -> None:
  """Raises IncompatibleCheckpointError unless the checkpoint of
  `saved_config` holds a population of `count` members (1: a single run)."""
  saved = size(saved_config)
  if saved == count:
    return
  where = f'the checkpoint at step {step} in {workdir}'
  if saved == 1:
    raise IncompatibleCheckpointError(
        f'{where} is a single run and this run has population {count}: '
        'pass --config.population=1')
  raise IncompatibleCheckpointError(
      f'{where} holds a population of {saved} members and this run has '
      f'population {count}: pass --config.population={saved} (to turn '
      'one member into a single run, --mode=select --member=I)')


def checkpoint_member(config: ml_collections.ConfigDict, count: int,
                      index: int | None, where: str
                      ) -> tuple[ml_collections.ConfigDict, tuple[int, ...]]:
  """For reading member `index` (None for a single run) of the checkpoint
  `where` of a population of `count`, trained with `config`: (the config of
  the run read, the leading shape of the saved arrays). Raises when `index`
  is missing for a population, given for a single run, or out of range."""
  if count > 1 and index is None:
    raise IncompatibleCheckpointError(
        f'{where} holds a population of {count} members: pass '
        f'member=0..{count - 1}')
  if count == 1 and index is not None:
    raise IncompatibleCheckpointError(
        f'{where} is a single run, not a population: leave out member')
  if index is None:
    return config, ()
  if not 0 <= index < count:
    raise CheckpointNotFoundError(
        f'{where} has members 0..{count - 1}, not {index}')
  return member_config(config, index), (count,)


# ------------------------------------------------ state, data and steps


def make_mesh(count: int = 1, devices=None) -> jax.sharding.Mesh:
  """The mesh for `count` members over the devices (default: all)."""
  return sharding.make_mesh(devices, population=count)


def state_sharding(mesh: jax.sharding.Mesh, count: int = 1):
  """Where the state lives: replicated for a single run; a population's
  members split over the mesh's 'member' axis (the step replicated)."""
  if count == 1:
    return sharding.replicated(mesh)
  members = sharding.members(mesh)
  return state_lib.TrainState(step=sharding.replicated(mesh), key=members,
                              g=members, d=members)


def init(step: step_lib.TrainStep, seed: int, count: int,
         image_shape: tuple[int, ...]) -> state_lib.TrainState:
  """The states at step 0 of members seed, seed + 1, ...: member i is the
  state a single run with seed + i starts from."""
  seeds = seed + jnp.arange(count)
  return jax.vmap(lambda s: step.init(s, image_shape),
                  out_axes=STATE_AXES)(seeds)


def create_state(step: step_lib.TrainStep, seed: int,
                 image_shape: tuple[int, ...], mesh: jax.sharding.Mesh,
                 count: int = 1) -> state_lib.TrainState:
  """A freshly initialised state placed for the mesh (`state_sharding`)."""
  if count == 1:
    return step_lib.create_state(step, seed, image_shape, mesh)
  return jax.jit(init, static_argnums=(0, 1, 2, 3),
                 out_shardings=state_sharding(mesh, count))(
                     step, seed, count, image_shape)


def abstract_state(step: step_lib.TrainStep, seed: int,
                   image_shape: tuple[int, ...],
                   count: int = 1) -> state_lib.TrainState:
  """The state's shapes and dtypes, without computing it."""
  if count == 1:
    return jax.eval_shape(functools.partial(step.init, seed, image_shape))
  return jax.eval_shape(functools.partial(init, step, seed, count,
                                          image_shape))


def device_dataset(images: np.ndarray, seed: int,
                   placement: jax.sharding.NamedSharding,
                   count: int = 1) -> device_data.DeviceDataset:
  """`images` held on the devices (`device_data.create`); with a population,
  member i draws the order of seed + i, its key split over the mesh's
  member axis."""
  if count == 1:
    return device_data.create(images, seed, placement)
  key = np.stack([jax.random.key_data(keys.stream(seed + i, 'device_data'))
                  for i in range(count)])
  return device_data.DeviceDataset(
      images=jax.make_array_from_process_local_data(placement, images),
      key=jax.make_array_from_callback(
          key.shape, sharding.members(placement.mesh),
          lambda index: key[index]))


def train_steps(step: step_lib.TrainStep, stepping: str,
                state: state_lib.TrainState, batches, num_steps: int,
                batch_size: int, count: int,
                data_sharding: jax.sharding.Sharding | None = None):
  """`step.train_steps` for every member at once, in the form `stepping`
  ('vmap' or 'loop').

  `state` has a leading member axis (`STATE_AXES`). `batches` is a
  DeviceDataset with one key per member, or [num_steps, count *
  batch_size, ...]: the members' batches end to end. Metrics come back
  [count, num_steps]. Under a mesh, the member axis is split over the
  mesh's 'member' axis and `data_sharding` splits each member's batch.
  """
  on_device = isinstance(batches, device_data.DeviceDataset)
  if on_device:
    batch_axes = DATA_AXES
  else:
    batches = batches.reshape(num_steps, count, batch_size,
                              *batches.shape[2:]).swapaxes(0, 1)
    batch_axes = 0

  if stepping == 'loop':
    # Each member's own step on its slice, left to XLA to place.
    results = [step_lib.train_steps(
        step, member(state, i),
        batches.replace(key=batches.key[i]) if on_device else batches[i],
        num_steps, batch_size) for i in range(count)]
    states, metrics = zip(*results)
    stack = lambda *x: jnp.stack(x)
    return (states[0].replace(key=stack(*[s.key for s in states]),
                              g=jax.tree.map(stack, *[s.g for s in states]),
                              d=jax.tree.map(stack, *[s.d for s in states])),
            jax.tree.map(stack, *metrics))

  def member_steps(member_state, member_batches):
    return step_lib.train_steps(step, member_state, member_batches,
                                num_steps, batch_size, data_sharding)

  return jax.vmap(member_steps, in_axes=(STATE_AXES, batch_axes),
                  out_axes=(STATE_AXES, 0),
                  spmd_axis_name=None if data_sharding is None else 'member'
                  )(state, batches)


def jit_train_steps(step: step_lib.TrainStep, mesh: jax.sharding.Mesh,
                    num_steps: int, batch_size: int,
                    data_on_device: bool = False, count: int = 1,
                    stepping: str = 'vmap'):
  """`step.jit_train_steps` for `count` members stepped in the form
  `stepping`: (state, batches or a DeviceDataset) -> (state, metrics with a
  leading member axis). The state is donated."""
  if count == 1:
    return step_lib.jit_train_steps(step, mesh, num_steps, batch_size,
                                    data_on_device)
  states = state_sharding(mesh, count)
  steps = functools.partial(train_steps, step, stepping, num_steps=num_steps,
                            batch_size=batch_size, count=count,
                            data_sharding=sharding.member_data(mesh))
  dataset = device_data.DeviceDataset(images=sharding.replicated(mesh),
                                      key=sharding.members(mesh))
  batches = dataset if data_on_device else sharding.stacked_data(mesh)
  return jax.jit(steps, in_shardings=(states, batches),
                 out_shardings=(states, sharding.replicated(mesh)),
                 donate_argnums=0)

