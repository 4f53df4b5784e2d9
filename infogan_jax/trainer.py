"""Training: `train_and_evaluate(config, workdir)` trains or resumes a run.

It reads top to bottom: checks (config, data, workdir), the networks and a
fresh state, the newest checkpoint if there is one, then `_train`: input,
evaluators, and the loop with its periodic logging, sample grids,
evaluations and checkpoints. The step itself is in `step.py`; the modes
that read a trained workdir are in `commands.py`.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile

from absl import logging
from clu import metric_writers
from clu import metrics as clu_metrics
from clu import periodic_actions
from etils import epath
import jax
import ml_collections
import numpy as np

from infogan_jax import checkpointing
from infogan_jax import config_validation
from infogan_jax import evaluators as evaluators_lib
from infogan_jax import preemption
from infogan_jax import sharding
from infogan_jax import state as state_lib
from infogan_jax import step as step_lib
from infogan_jax import traversals
from infogan_jax.errors import NonFiniteError
from infogan_jax.errors import Preempted
from infogan_jax.errors import WorkdirError


# ------------------------------------------------------------ training loop


class JsonlWriter(metric_writers.MetricWriter):
  """Scalars as one JSON object per line in a file (metrics.jsonl), for
  reading runs without TensorBoard; everything else is left to the other
  writers. Written through epath, so a gs:// workdir works too."""

  def __init__(self, path: str):
    self._path = epath.Path(path)

  def write_scalars(self, step: int, scalars):
    with self._path.open('a') as f:
      f.write(json.dumps({'step': int(step),
                          **{k: float(v) for k, v in scalars.items()}}) + '\n')

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


def create_writers(workdir: str) -> tuple[metric_writers.MetricWriter,
                                           metric_writers.MetricWriter]:
  """(the metrics writer: TensorBoard, the log and metrics.jsonl; the
  progress writer, for steps/s and uptime: TensorBoard and the log). On
  every process but the main one, both write to the log only."""
  default = metric_writers.create_default_writer(
      workdir, just_logging=jax.process_index() != 0)
  if jax.process_index() != 0:
    return default, default
  return metric_writers.MultiWriter([
      default, JsonlWriter(os.path.join(workdir, 'metrics.jsonl'))]), default


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
  step (with the networks) and a fresh state.

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
  shapes = jax.eval_shape(functools.partial(step.init, config.seed,
                                            image_shape))
  check_workdir(workdir, sum(x.size * x.dtype.itemsize
                             for x in jax.tree.leaves(shapes)),
                create=create_workdir)
  mesh = sharding.make_mesh()
  state = step_lib.create_state(step, config.seed, image_shape, mesh)
  return mesh, step, state


class IntervalMeans:
  """Each metric over the steps since the last `result()`: the mean, or for
  counts (SUMMED) the total. Accumulated on the devices with clu's Average,
  so a logging interval costs one transfer."""

  SUMMED = ('nonfinite_steps',)

  def __init__(self):
    self._metrics: dict[str, clu_metrics.Average] = {}

  def add(self, metrics: dict[str, jax.Array]) -> None:
    """Adds one call's metrics (one value per step)."""
    for name, values in metrics.items():
      update = clu_metrics.Average.from_model_output(values)
      self._metrics[name] = (self._metrics[name].merge(update)
                             if name in self._metrics else update)

  def result(self) -> dict[str, float]:
    out = {name: float(m.total if name in self.SUMMED else m.compute())
           for name, m in self._metrics.items()}
    self._metrics = {}
    return out


def _check_finite(unchecked: list[tuple[int, jax.Array]], per_call: int,
                  workdir: str, latest: int | None) -> None:
  """Raises NonFiniteError naming the first step flagged in `unchecked`
  (pairs of a call's last step and its per-step flags)."""
  for last_step, flags in unchecked:
    flags = np.asarray(flags)
    if flags.any():
      step = last_step - per_call + 1 + int(np.argmax(flags))
      kept = (f'the last good checkpoint, step {latest}, is kept in '
              f'{checkpointing.checkpoint_dir(workdir)}' if latest is not None
              else 'no checkpoint had been saved yet')
      raise NonFiniteError(
          f'non-finite loss or gradient at step {step}; training stopped '
          f'without saving it and {kept}. Lower the learning rates, or set '
          "--config.on_nonfinite=skip to drop such steps' updates")


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> state_lib.TrainState:
  """Trains (or resumes training) as the config says, writing into workdir.

  Raises Preempted after saving a checkpoint when a preemption notice
  (SIGTERM) arrives, and NonFiniteError on a non-finite step unless
  config.on_nonfinite is 'skip'.
  """
  mesh, step, state = prepare(config, workdir, create_workdir=True)
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  try:
    # Before config.json is overwritten: it holds the model of checkpoints
    # that do not record their config.
    restored = checkpointing.restore_latest(checkpoints, state, config.model)
    if restored is not None:
      state = restored
      logging.info('Resumed from checkpoint at step %d.', int(state.step))
    config_validation.check_resume_step(config, int(state.step), workdir)
    if jax.process_index() == 0:
      (epath.Path(workdir) / 'config.json').write_text(
          config.to_json_best_effort(indent=2))
    return _train(config, workdir, mesh, step, state, checkpoints)
  finally:
    # Whatever stops the run, the checkpoints being written are completed.
    checkpoints.wait_until_finished()
    checkpoints.close()


def _train(config, workdir, mesh, train_step, state, checkpoints):
  """The loop of `train_and_evaluate`, from the state it starts at."""
  from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  gan = train_step.gan
  start_step, per_call = int(state.step), config.steps_per_call
  step_fn = step_lib.jit_train_steps(train_step, mesh, per_call,
                                     config.batch_size, config.data_on_device)
  batches = pipeline.create_train_source(config, mesh, gan.value_range,
                                         start_step=start_step)
  evaluators = evaluators_lib.create(config, gan, mesh)
  render_grids = traversals.GridRenderer(config, gan)
  writer, progress_writer = create_writers(workdir)
  hooks = []
  if jax.process_index() == 0:
    hooks.append(periodic_actions.ReportProgress(
        num_train_steps=config.num_train_steps, writer=progress_writer))
  means, unchecked = IntervalMeans(), []
  logging.info('Training from step %d to %d on %d device(s).', start_step,
               config.num_train_steps, jax.device_count())
  with metric_writers.ensure_flushes(writer), \
      preemption.Notice(checkpoints) as notice:
    for step in range(start_step + per_call, config.num_train_steps + 1,
                      per_call):
      with jax.profiler.StepTraceAnnotation('train', step_num=step):
        state, metrics = step_fn(state, next(batches))
      means.add(metrics)  # each value has one entry per step
      unchecked.append((step, metrics['nonfinite_steps']))
      for hook in hooks:
        hook(step)
      last = step == config.num_train_steps
      log = step % config.log_every_steps == 0 or last
      sample = step % config.sample_every_steps == 0 or last
      evaluate_now = evaluators and (last or (
          config.eval_every_steps and step % config.eval_every_steps == 0))
      save = step % config.checkpoint_every_steps == 0 or last
      stop = notice.reached(step) and not last

      # Nothing is recorded or saved from a state past a non-finite step.
      if not train_step.skip_nonfinite and (log or sample or evaluate_now or
                                            save or stop):
        _check_finite(unchecked, per_call, workdir, checkpoints.latest_step())
        unchecked = []

      if log:
        writer.write_scalars(step, means.result())

      if sample:
        grids = render_grids(state.g.variables())
        writer.write_images(step, {f'samples/{name}': grid[None]
                                   for name, grid in grids.items()})
        traversals.save_grids(grids, os.path.join(workdir, 'samples'), step)

      if evaluate_now:
        writer.write_scalars(step, evaluators_lib.run(evaluators, state))

      if save or stop:
        checkpointing.save(checkpoints, step, state, config)
      if stop:
        checkpoints.wait_until_finished()
        raise Preempted(step, checkpointing.checkpoint_dir(workdir))
  return state
