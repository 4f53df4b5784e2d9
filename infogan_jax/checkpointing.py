"""Orbax checkpoints of a run: where they live and what each one records.

`WORKDIR/checkpoints/STEP/` holds the whole TrainState. Every step also
carries, as its Orbax custom metadata, the run's config and the checkpoint
format version, so a step directory alone is enough to rebuild the networks
(`infogan_jax.load`). Paths may be local or remote (gs://...).
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
from etils import epath
from flax import traverse_util
import jax
from jax.experimental import multihost_utils
import ml_collections
import orbax.checkpoint as ocp

from infogan_jax import config_validation
from infogan_jax import population as population_lib
from infogan_jax.configs import default as default_config
from infogan_jax.errors import CheckpointNotFoundError
from infogan_jax.errors import IncompatibleCheckpointError

# Bump when a checkpoint written by this code can no longer be read by older
# code, e.g. when the TrainState layout changes.
FORMAT_VERSION = 1


def _absolute(path: str) -> str:
  return path if '://' in path else os.path.abspath(path)


def checkpoint_dir(workdir: str) -> str:
  """Where the checkpoints of `workdir` live."""
  return os.path.join(_absolute(os.fspath(workdir)), 'checkpoints')


def unreadable_dir(workdir: str) -> str:
  """Where checkpoints that could not be read are moved, out of the way."""
  return os.path.join(_absolute(os.fspath(workdir)), 'checkpoints_unreadable')


def manager(workdir: str, max_to_keep: int | None = None
            ) -> ocp.CheckpointManager:
  """The training loop's manager: saves and restores whole TrainStates.

  Orbax writes each step into a temporary directory and renames it when
  complete (on gs://, it marks it complete), so a step cut short by a crash
  is never listed (its temporary directory is left as it was).
  """
  return ocp.CheckpointManager(
      checkpoint_dir(workdir),
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                           create=True))


def save(checkpoints: ocp.CheckpointManager, step: int, state: Any,
         config: ml_collections.ConfigDict) -> None:
  """Saves `state` at `step`, with the config and format version beside it."""
  checkpoints.save(
      step, args=ocp.args.StandardSave(state), force=True,
      custom_metadata={'format_version': FORMAT_VERSION,
                       'config': json.loads(config.to_json_best_effort())})


def restore_latest(checkpoints: ocp.CheckpointManager, state: Any,
                   model: ml_collections.ConfigDict | None = None,
                   population: int = 1):
  """The newest readable checkpoint, restored into `state`'s structure.

  Returns None when there is no checkpoint. With `model` (the config's model
  field), a checkpoint of another model raises IncompatibleCheckpointError
  naming the differing fields, as does one whose arrays have other shapes
  or one of a population of another size (`population`).
  A checkpoint that cannot be read (files missing or truncated: deleted by
  hand, or written by a file system that lost them) is moved to
  `unreadable_dir`, with a warning, and the next older one is tried.
  """
  directory = os.fspath(checkpoints.directory)
  reader = Reader(directory)
  try:
    for step in sorted(checkpoints.all_steps(), reverse=True):
      try:
        saved_config = reader.config(step)
        saved_tree = reader.tree_metadata(step)
      except IncompatibleCheckpointError:
        raise
      except Exception as e:  # pylint: disable=broad-exception-caught
        _set_aside(checkpoints, reader.workdir, step, e)
        continue
      if saved_config is not None:
        population_lib.check_saved(saved_config, population, step,
                                   reader.workdir)
      if model is not None and saved_config is not None:
        differences = config_validation.config_differences(
            saved_config.model, model,
                                         prefix='model.')
        if differences:
          raise IncompatibleCheckpointError(
              f'the checkpoint at step {step} in {reader.workdir} has another '
              'model: ' + '; '.join(differences))
      differences = shape_differences(state, saved_tree)
      if differences:
        raise IncompatibleCheckpointError(
            f'the checkpoint at step {step} in {reader.workdir} does not fit '
            'the model: ' + '; '.join(differences))
      try:
        return checkpoints.restore(step, args=ocp.args.StandardRestore(state))
      except Exception as e:  # pylint: disable=broad-exception-caught
        _set_aside(checkpoints, reader.workdir, step, e)
  finally:
    reader.close()
  return None


def export(state: Any, config: ml_collections.ConfigDict,
           workdir: str) -> str:
  """Writes `state` (a single run's) as the checkpoint at its step in a new
  or existing `workdir`, with `config` as its config.json; a checkpoint at
  that step already there is replaced. Returns the step's directory."""
  step = int(state.step)
  target = epath.Path(checkpoint_dir(workdir)) / str(step)
  if jax.process_index() == 0 and target.exists():
    target.rmtree()
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f'export to {workdir}')
  checkpoints = manager(workdir)
  try:
    save(checkpoints, step, state, config)
    checkpoints.wait_until_finished()
  finally:
    checkpoints.close()
  if jax.process_index() == 0:
    (epath.Path(_absolute(os.fspath(workdir))) / 'config.json').write_text(
        config.to_json_best_effort(indent=2))
  return os.fspath(target)


def _set_aside(checkpoints: ocp.CheckpointManager, workdir: str, step: int,
               error: Exception) -> None:
  """Moves an unreadable step out of the checkpoints, keeping its files."""
  reason = (str(error).strip().splitlines() or [''])[0][:200]
  target = epath.Path(unreadable_dir(workdir)) / str(step)
  logging.warning(
      'The checkpoint at step %d in %s cannot be read (%s: %s); moving it to '
      '%s and trying the one before.', step, checkpoints.directory,
      type(error).__name__, reason, target)
  if jax.process_index() == 0:
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = 1
    while target.exists():
      target = target.parent / f'{step}.{suffix}'
      suffix += 1
    (epath.Path(checkpoints.directory) / str(step)).rename(target)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f'set aside checkpoint {step}')
  checkpoints.reload()


# ------------------------------------------------------------ reading back


# Datasets made by a builder that was imported for them before
# `dataset_module` named it.
_BUILDER_MODULES = {'generated_sprites': 'infogan_tools.sprites_builder'}


def with_defaults(saved: dict) -> ml_collections.ConfigDict:
  """A recorded config as today's code reads it, for loading and evaluating
  the run: fields added since it was recorded take their defaults (for every
  field added so far, the default is what runs did before it existed), and
  values whose spelling changed are translated."""
  fields = traverse_util.flatten_dict(default_config.get_config().to_dict())
  fields.update(traverse_util.flatten_dict(saved))
  config = traverse_util.unflatten_dict(fields)
  if isinstance(config['download_data'], bool):
    # Before 'auto'/'always'/'never': True downloaded and prepared the dataset
    # at every start, False never downloaded.
    config['download_data'] = 'always' if config['download_data'] else 'never'
  if 'dataset_module' not in saved:
    config['dataset_module'] = _BUILDER_MODULES.get(saved.get('dataset'), '')
  return ml_collections.ConfigDict(config)


class Reader:
  """Read-only access to the checkpoints of a workdir, one step at a time.

  `path` is a workdir (holding checkpoints/) or a checkpoints directory.
  Parts of the state can be restored without reading the rest, e.g. the
  networks without their optimiser states.
  """

  def __init__(self, path: str):
    path = _absolute(os.fspath(path))
    if (epath.Path(path) / 'checkpoints').is_dir():
      self.workdir, self.directory = path, os.path.join(path, 'checkpoints')
    else:
      self.workdir, self.directory = os.path.dirname(path.rstrip('/')), path
    self._missing = (f'no checkpoint in {path}: give the workdir of a '
                     'training run or its checkpoints/ directory')
    if not epath.Path(self.directory).is_dir():
      raise CheckpointNotFoundError(self._missing)
    self._manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(create=False),
        item_handlers=ocp.PyTreeCheckpointHandler())

  def step(self, step: int | None = None) -> int:
    """`step` if it was saved, else an error naming the saved steps;
    without `step`, the newest one."""
    steps = list(self._manager.all_steps())
    if not steps:
      raise CheckpointNotFoundError(self._missing)
    if step is None:
      return max(steps)
    if step not in steps:
      raise CheckpointNotFoundError(
          f'no checkpoint at step {step} in {self.directory}; saved steps: '
          f'{", ".join(map(str, sorted(steps)))}')
    return step

  def config(self, step: int) -> ml_collections.ConfigDict | None:
    """The run's config, after checking the step's format version.

    Checkpoints written before the config travelled with them take it from
    the workdir's config.json; None if there is none.
    """
    metadata = self._manager.metadata(step).custom_metadata or {}
    version = metadata.get('format_version', 1)
    if version > FORMAT_VERSION:
      raise IncompatibleCheckpointError(
          f'the checkpoint at {self.directory}/{step} has format version '
          f'{version}; this infogan_jax reads versions up to '
          f'{FORMAT_VERSION}: upgrade infogan_jax')
    if 'config' in metadata:
      return with_defaults(metadata['config'])
    config_file = epath.Path(self.workdir) / 'config.json'
    if not config_file.exists():
      return None
    return with_defaults(json.loads(config_file.read_text()))

  def tree_metadata(self, step: int) -> Any:
    """The saved arrays' shapes and dtypes, as the state's nested dicts."""
    return self._manager.item_metadata(step).tree

  def restore(self, step: int, target: Any = None) -> Any:
    """The parts of the saved state that `target` names (a nested dict of
    jax.ShapeDtypeStructs with shardings), after comparing their shapes.

    Without `target`, all of it as nested dicts and lists, on the first local
    device, whatever devices and processes saved it.
    """
    saved = self.tree_metadata(step)
    if target is None:
      device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
      target = jax.tree.map(
          lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
          saved)
    differences = shape_differences(target, saved)
    if differences:
      raise IncompatibleCheckpointError(
          f'the checkpoint at {self.directory}/{step} does not fit the model: '
          + '; '.join(differences))
    return self._manager.restore(step, args=ocp.args.PyTreeRestore(
        item=target,
        restore_args=ocp.checkpoint_utils.construct_restore_args(target),
        partial_restore=True))

  def close(self):
    self._manager.close()


def _flat_shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  # By JAX key paths: the state is a dataclass, which flax's flatten_dict
  # (dicts only) does not walk.
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {jax.tree_util.keystr(path, simple=True, separator='/'):
          tuple(leaf.shape) for path, leaf in leaves}


def shape_differences(expected: Any, saved: Any, limit: int = 5) -> list[str]:
  """What differs between the arrays `expected` names and those saved.

  Arrays the checkpoint has beyond `expected` are ignored (a partial restore
  skips them). At most `limit` differences, then a count of the rest.
  """
  want, have = _flat_shapes(expected), _flat_shapes(saved)
  out = []
  for name, shape in want.items():
    if name not in have:
      out.append(f'{name} is missing (expected shape {shape})')
    elif have[name] != shape:
      out.append(f'{name} has shape {have[name]}, the model expects {shape}')
  if len(out) > limit:
    out = out[:limit] + [f'and {len(out) - limit} more']
  return out
