"""What training and the commands that read a trained run share.

`prepare` checks a config, its data and its workdir and builds the mesh,
the step and a fresh state; `restore` and `restore_trained` bring back the
newest checkpoint; `evaluate` scores every member of a state;
`create_writer` writes metrics to TensorBoard, the log and metrics.jsonl;
`check_workdir` makes sure the workdir takes a checkpoint before anything
is written. `trainer.py` runs the loop with them and `commands.py` the
other modes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any

from clu import metric_writers
from etils import epath
from flax import traverse_util
import jax
import ml_collections
import numpy as np

from infogan_jax import checkpointing
from infogan_jax import config_validation
from infogan_jax import evaluators as evaluators_lib
from infogan_jax.evaluators import criteria
from infogan_jax import population
from infogan_jax import state as state_lib
from infogan_jax import step as step_lib
from infogan_jax import traversals
from infogan_jax.errors import CheckpointNotFoundError
from infogan_jax.errors import WorkdirError


# ---------------------------------------------------------- metric writers

# Training's speed and time left: in the log and TensorBoard, not in
# metrics.jsonl (they describe the machine, not the run).
PROGRESS = ('steps_per_sec', 'eta_min')


class JsonlWriter(metric_writers.MetricWriter):
  """Scalars as one JSON object per line in a file (metrics.jsonl), for
  reading runs without TensorBoard; everything else is left to the other
  writers. Written through epath, so a gs:// workdir works too."""

  def __init__(self, path: str):
    self._path = epath.Path(path)

  def write_scalars(self, step: int, scalars):
    with self._path.open('a') as f:
      f.write(json.dumps({'step': int(step),
                          **{k: float(v) for k, v in scalars.items()
                             if k not in PROGRESS}}) + '\n')

  def write_summaries(self, step, values, metadata=None):
    pass

  def write_images(self, step, images):
    pass

  def write_videos(self, step, videos):
    pass

  def write_audios(self, step, audios, *, sample_rate):
    pass

  def write_texts(self, step, texts):
    pass

  def write_histograms(self, step, arrays, num_buckets=None):
    pass

  def write_hparams(self, hparams):
    pass

  def flush(self):
    pass

  def close(self):
    pass


class LogWriter(metric_writers.LoggingWriter):
  """One log line per write of scalars, short enough to read: a
  population's per-member values (NAME/member_I) are left to TensorBoard
  and metrics.jsonl, their mean, min and max kept; the config (hparams) is
  left to TensorBoard and config.json."""

  def write_scalars(self, step: int, scalars):
    super().write_scalars(step, {name: value for name, value in
                                 scalars.items() if '/member_' not in name})

  def write_hparams(self, hparams):
    pass


def create_writer(workdir: str) -> metric_writers.MetricWriter:
  """Writes to TensorBoard (in `workdir`), the log and metrics.jsonl; on
  every process but the main one, to the log only."""
  if jax.process_index() != 0:
    return metric_writers.AsyncMultiWriter([LogWriter()])
  return metric_writers.MultiWriter([
      metric_writers.AsyncMultiWriter([
          LogWriter(), metric_writers.SummaryWriter(workdir)]),
      JsonlWriter(os.path.join(workdir, 'metrics.jsonl'))])


def hparams(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The config as TensorBoard's hparams: flat, dotted names
  ('model.noise_dim'), sequences and None as text."""
  flat = traverse_util.flatten_dict(config.to_dict(), sep='.')
  return {name: value if isinstance(value, (bool, int, float, str))
          else str(value) for name, value in flat.items()}


class Progress:
  """Steps per second and the minutes left (`PROGRESS`), from `start` (the
  end of the first call, so compiling is left out) to each `__call__`; call
  both once the steps they name are done, not merely dispatched."""

  def __init__(self, last_step: int):
    self._last_step = last_step
    self._start = None

  def start(self, step: int) -> None:
    self._start = (step, time.monotonic())

  def __call__(self, step: int) -> dict[str, float]:
    """The progress at `step`; empty before `start` or at its step."""
    now = time.monotonic()
    if self._start is None:
      return {}
    first, then = self._start
    if step == first or now == then:
      return {}
    rate = (step - first) / (now - then)
    return {'steps_per_sec': rate,
            'eta_min': (self._last_step - step) / rate / 60}


# ------------------------------------------------------- workdir and state


def check_workdir(workdir: str, needed_bytes: int, create: bool) -> None:
  """Raises WorkdirError unless `workdir` takes files and has room for
  `needed_bytes`. Remote paths (gs://...) are left to their first write."""
  if '://' in workdir:
    return
  try:
    if create:
      os.makedirs(workdir, exist_ok=True)
    if not os.path.isdir(workdir):
      return  # nothing to write into; the mode says what is missing
    with tempfile.TemporaryFile(dir=workdir) as f:
      f.write(b'\0' * 4096)
      f.flush()
      os.fsync(f.fileno())
  except OSError as e:
    raise WorkdirError(f'workdir {workdir!r} cannot be written: '
                       f'{e.strerror or e}') from None
  free = shutil.disk_usage(workdir).free
  if free < needed_bytes:
    raise WorkdirError(
        f'workdir {workdir!r} has {free / 2**20:.1f} MiB free; a checkpoint of'
        f' this model needs {needed_bytes / 2**20:.1f} MiB')


def prepare(config: ml_collections.ConfigDict, workdir: str,
            needs_data: bool = True, create_workdir: bool = False):
  """Checks the config, the data and the workdir, then builds the mesh, the
  step (with the networks) and a fresh state (a population's for
  `config.population` > 1).

  Bad input stops here (ConfigError, DataNotFoundError, WorkdirError),
  before compilation of anything but the initialiser. Without `needs_data`
  the dataset is not touched: the image shape is the generator's.
  """
  config_validation.validate(config, device_count=jax.device_count(),
                             process_count=jax.process_count())
  step = step_lib.TrainStep.from_config(config)
  image_shape = step.gan.image_shape()
  if needs_data:
    from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
    config_validation.check_image_shape(config, image_shape,
                                        pipeline.image_shape(config))
    evaluators_lib.check_dataset(config, pipeline.dataset_info(config))
  count = population.size(config)
  shapes = population.abstract_state(step, config.seed, image_shape, count)
  check_workdir(workdir, sum(x.size * x.dtype.itemsize
                             for x in jax.tree.leaves(shapes)),
                create=create_workdir)
  mesh = population.make_mesh(count)
  state = population.create_state(step, config.seed, image_shape, mesh, count)
  return mesh, step, state


def restore(checkpoints, state: state_lib.TrainState,
            config: ml_collections.ConfigDict):
  """The newest readable checkpoint of `checkpoints` in `state`'s structure
  (None if there is none), checked against the config's model and
  population (`checkpointing.restore_latest`)."""
  return checkpointing.restore_latest(checkpoints, state, config.model,
                                      population.size(config))


def restore_trained(config: ml_collections.ConfigDict, workdir: str,
                    needs_data: bool):
  """Mesh, step (with the networks) and the latest checkpoint of a trained
  `workdir`; CheckpointNotFoundError if it has none."""
  mesh, step, state = prepare(config, workdir, needs_data)
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  try:
    restored = restore(checkpoints, state, config)
  finally:
    checkpoints.close()
  if restored is None:
    raise CheckpointNotFoundError(
        f'no checkpoint in {os.path.join(workdir, "checkpoints")}; train '
        f'first (--mode=train) or pass the workdir of a trained run')
  return mesh, step, restored


def evaluate(evaluators: dict[str, evaluators_lib.Evaluator],
             member_criteria: criteria.PopulationCriteria | None,
             members: population.Members, state: state_lib.TrainState,
             notes: list[str] | None = None) -> dict[str, np.ndarray]:
  """The evaluators' scores of every member (a single run's as they are,
  [members] arrays for a population), and with `member_criteria` each
  member's selection criteria (select_<criterion>) and the member each
  picks (select_pick_<criterion>). `notes` as in `evaluators.run`, each
  headed by its member in a population."""
  states, per_member = [], []
  for i, (suffix, member_state) in enumerate(members.each(state)):
    states.append(member_state)
    member_notes = None if notes is None else []
    per_member.append(evaluators_lib.run(evaluators, member_state,
                                         member_notes))
    if member_notes:
      notes.extend(f'member {i}:\n{note}' if suffix else note
                   for note in member_notes)
  scores = members.stack(per_member)
  if member_criteria is not None:
    table = member_criteria(states)
    scores.update({f'select_{name}': values for name, values in table.items()})
    scores.update({f'select_pick_{name}': np.asarray(index) for name, index in
                   criteria.choose(table).items()})
  return scores


def member_grids(render: traversals.GridRenderer, members: population.Members,
                 state: state_lib.TrainState) -> dict[str, np.ndarray]:
  """Every member's code grids, named by code (and _memberI in a
  population)."""
  grids = {}
  for suffix, member_state in members.each(state):
    grids.update({name + suffix: grid for name, grid in
                  render(member_state.g.variables()).items()})
  return grids
