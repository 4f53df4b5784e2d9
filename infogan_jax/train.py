"""The three modes of `main`: train, evaluate a checkpoint, draw its figures.

`run(config, workdir, mode)` runs one and returns the command's exit status.

`train_and_evaluate(config, workdir)` reads top to bottom: validation, workdir
and writers, mesh and state (resumed from the latest checkpoint if there is
one), input, evaluators, then the loop with its periodic logging, sample
grids, evaluations and checkpoints. The step itself lives in `train_step.py`.
`evaluate` and `write_figures` work on the latest checkpoint of a workdir.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sys
import tempfile

from absl import logging
from clu import metric_writers
from clu import periodic_actions
from etils import epath
import jax
import ml_collections
import numpy as np

from infogan_jax import checkpointing
from infogan_jax import config_validation
from infogan_jax import distributed
from infogan_jax import evaluation
from infogan_jax import images as images_lib
from infogan_jax import models
from infogan_jax import preemption
from infogan_jax import train_step as train_step_lib
from infogan_jax import traversals


# ------------------------------------------------------------ training loop


def _record(writer: metric_writers.MetricWriter, workdir: str, step: int,
            scalars: dict[str, float]):
  """Scalars to the writer (TensorBoard, log) and, once, to metrics.jsonl."""
  writer.write_scalars(step, scalars)
  if jax.process_index() == 0:
    # epath: a gs:// workdir too (a pod's workers share no local disk).
    with (epath.Path(workdir) / 'metrics.jsonl').open('a') as f:
      f.write(json.dumps({'step': step, **scalars}) + '\n')


class WorkdirError(OSError):
  """The workdir cannot be created or written, or has too little space."""


class NonFiniteError(RuntimeError):
  """A step's loss or gradients were not finite (config.on_nonfinite='stop')."""


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


def _prepare(config: ml_collections.ConfigDict, workdir: str,
             needs_data: bool = True, create_workdir: bool = False):
  """Checks the config, the data and the workdir, then builds mesh, model
  and a state.

  Bad input stops here (ConfigError, DataNotFoundError, WorkdirError),
  before compilation of anything but the initialiser. Without `needs_data`
  the dataset is not touched: the image shape is the generator's.
  """
  config_validation.validate(config, device_count=jax.device_count(),
                             process_count=jax.process_count())
  if needs_data:
    from infogan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
    image_shape = input_pipeline.image_shape(config)
    config_validation.check_image_shape(config, image_shape)
    input_pipeline.check_evaluation(config)
  else:
    image_shape = models.generator_output_shape(config.model)
  gan = train_step_lib.InfoGAN.from_config(config)
  shapes = jax.eval_shape(functools.partial(gan.init, config.seed,
                                            image_shape))
  check_workdir(workdir, sum(x.size * x.dtype.itemsize
                             for x in jax.tree.leaves(shapes)),
                create=create_workdir)
  mesh = train_step_lib.make_mesh()
  state = train_step_lib.create_state(gan, config.seed, image_shape, mesh)
  return mesh, gan, state


def _restore_trained(config, workdir: str, needs_data: bool):
  """Mesh, model and the latest checkpoint of `workdir`, for eval and figures."""
  mesh, gan, state = _prepare(config, workdir, needs_data)
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  try:
    restored = checkpointing.restore_latest(checkpoints, state, config.model)
  finally:
    checkpoints.close()
  if restored is None:
    raise checkpointing.CheckpointNotFoundError(
        f'no checkpoint in {os.path.join(workdir, "checkpoints")}; train '
        f'first (--mode=train) or pass the workdir of a trained run')
  return mesh, gan, restored


def _save_grids(grids: dict[str, np.ndarray], directory: str,
                step: int) -> list[str]:
  """Writes the grids as PNGs (on the main process); returns their paths."""
  paths = [os.path.join(directory, f'step_{step:08d}_{name}.png')
           for name in grids]
  if jax.process_index() == 0:
    for grid, path in zip(grids.values(), paths):
      images_lib.save_png(grid, path)
  return paths


# Metrics that are counts: summed over the logging interval, not averaged.
_SUMMED = ('nonfinite_steps',)


def _summarise(history: list[dict[str, np.ndarray]]) -> dict[str, float]:
  """One scalar per metric over the calls in `history`."""
  return {name: float((np.sum if name in _SUMMED else np.mean)(
      np.concatenate([h[name] for h in history]))) for name in history[0]}


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
                       workdir: str) -> train_step_lib.TrainState:
  """Trains (or resumes training) as the config says, writing into workdir.

  Raises preemption.Preempted after saving a checkpoint when a preemption
  notice (SIGTERM) arrives, and NonFiniteError on a non-finite step unless
  config.on_nonfinite is 'skip'.
  """
  mesh, gan, state = _prepare(config, workdir, create_workdir=True)
  is_main = jax.process_index() == 0
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  try:
    # Before config.json is overwritten: it holds the model of checkpoints
    # that do not record their config.
    restored = checkpointing.restore_latest(checkpoints, state, config.model)
    if restored is not None:
      state = restored
      logging.info('Resumed from checkpoint at step %d.', int(state.step))
    if is_main:
      (epath.Path(workdir) / 'config.json').write_text(
          config.to_json_best_effort(indent=2))
    return _train(config, workdir, mesh, gan, state, checkpoints)
  finally:
    # Whatever stops the run, the checkpoints being written are completed.
    checkpoints.wait_until_finished()
    checkpoints.close()


def _train(config, workdir, mesh, gan, state, checkpoints):
  """The loop of `train_and_evaluate`, from the state it starts at."""
  from infogan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  is_main = jax.process_index() == 0
  writer = metric_writers.create_default_writer(
      workdir, just_logging=not is_main)
  sample_dir = os.path.join(workdir, 'samples')
  start_step = int(state.step)
  per_call = config.steps_per_call
  if start_step % per_call:
    raise config_validation.ConfigError(
        'steps_per_call', per_call,
        f'the checkpoint in {workdir} is at step {start_step}; resume with a '
        'steps_per_call that divides it')

  step_fn = train_step_lib.jit_train_steps(
      gan, mesh, per_call, config.batch_size, config.data_on_device)
  render_grids = traversals.GridRenderer(config, gan)
  value_range = models.output_range(config.model)
  batches = input_pipeline.create_train_source(config, mesh, value_range,
                                              start_step=start_step)
  evaluators = evaluation.create_evaluators(config, gan, mesh, value_range)

  hooks = []
  if is_main:
    hooks.append(periodic_actions.ReportProgress(
        num_train_steps=config.num_train_steps, writer=writer))
  history, unchecked = [], []
  logging.info('Training from step %d to %d on %d device(s).', start_step,
               config.num_train_steps, jax.device_count())
  with metric_writers.ensure_flushes(writer), \
      preemption.Notice(checkpoints) as notice:
    for step in range(start_step + per_call, config.num_train_steps + 1,
                      per_call):
      with jax.profiler.StepTraceAnnotation('train', step_num=step):
        state, metrics = step_fn(state, next(batches))
      history.append(metrics)  # each value has one entry per step
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
      if not gan.skip_nonfinite and (log or sample or evaluate_now or save
                                     or stop):
        _check_finite(unchecked, per_call, workdir, checkpoints.latest_step())
        unchecked = []

      if log:
        _record(writer, workdir, step, _summarise(history))
        history = []

      if sample:
        grids = render_grids(state.g.variables())
        writer.write_images(step, {f'samples/{name}': grid[None]
                                   for name, grid in grids.items()})
        _save_grids(grids, sample_dir, step)

      if evaluate_now:
        _record(writer, workdir, step,
                evaluation.run_evaluators(evaluators, state))

      if save or stop:
        checkpointing.save(checkpoints, step, state, config)
      if stop:
        checkpoints.wait_until_finished()
        raise preemption.Preempted(step, checkpointing.checkpoint_dir(workdir))
  return state


def evaluate(config: ml_collections.ConfigDict,
             workdir: str) -> tuple[int, dict[str, float], str]:
  """Runs the config's evaluators on the latest checkpoint of `workdir`.

  The scores go to metrics.jsonl and TensorBoard at the checkpoint's step.
  Returns (step, scores, a readable report of the scores and, for
  'clustering', of what each category holds).
  """
  if not config.evaluators:
    raise config_validation.ConfigError(
        'evaluators', tuple(config.evaluators),
        f'--mode=eval needs at least one of {config_validation.EVALUATORS}')
  mesh, gan, state = _restore_trained(config, workdir, needs_data=True)
  evaluators = evaluation.create_evaluators(
      config, gan, mesh, models.output_range(config.model))
  step = int(state.step)
  notes = []
  scores = evaluation.run_evaluators(evaluators, state, notes)
  writer = metric_writers.create_default_writer(
      workdir, just_logging=jax.process_index() != 0)
  _record(writer, workdir, step, scores)
  writer.close()
  report = [f'step {step}: ' + ' '.join(
      f'{name}={value:.4f}' for name, value in scores.items())] + notes
  return step, scores, '\n'.join(report)


def write_figures(config: ml_collections.ConfigDict, workdir: str) -> list[str]:
  """Code grids of the latest checkpoint of `workdir`, as PNGs in figures/.

  One grid per code, laid out as the training samples are (rows: each
  category, or `continuous_sweep` in `continuous_sweep_steps` values;
  columns: `sample_grid_columns` draws of z and the other codes). Returns
  the paths written.
  """
  _, gan, state = _restore_trained(config, workdir, needs_data=False)
  grids = traversals.GridRenderer(config, gan)(state.g.variables())
  return _save_grids(grids, os.path.join(workdir, 'figures'), int(state.step))


def write_samples(config: ml_collections.ConfigDict, workdir: str,
                  num_samples: int = 64, codes: dict | None = None,
                  seed: int = 0) -> list[str]:
  """`num_samples` images of the latest checkpoint of `workdir`, the codes in
  `codes` ({'cat0': 3, 'cont0': 0.5}) fixed, as a PNG grid and an .npz
  (images in [0, 1], [n, H, W, C], and the latents that made them) in
  generated/. The same seed gives the same images. Returns both paths.
  """
  from infogan_jax import inference  # pylint: disable=g-import-not-at-top
  model = inference.load(workdir, config=config)
  latents = model.sample_latents(jax.random.key(seed), num_samples, codes)
  images = np.asarray(model.render(latents))
  name = '_'.join([f'step_{model.step:08d}', f'seed{seed}'] +
                  [f'{k}={v}' for k, v in sorted((codes or {}).items())])
  directory = os.path.join(workdir, 'generated')
  paths = [os.path.join(directory, name + '.png'),
           os.path.join(directory, name + '.npz')]
  if jax.process_index() == 0:
    images_lib.save_png(images_lib.make_grid(
        images, columns=math.ceil(math.sqrt(num_samples))), paths[0])
    with epath.Path(paths[1]).open('wb') as f:
      np.savez(f, images=images, step=model.step,
               **{k: np.asarray(v) for k, v in latents._asdict().items()})
  return paths


# ---------------------------------------------------------- the command


EXIT_BAD_INPUT = config_validation.EXIT_BAD_INPUT
EXIT_NONFINITE = 3
EXIT_PREEMPTED = 75  # sysexits.h's EX_TEMPFAIL: try again later


def run(config: ml_collections.ConfigDict, workdir: str,
        mode: str = 'train', sample_options: dict | None = None) -> int:
  """Runs `mode` ('train', 'eval', 'figures' or 'sample', the latter with
  `write_samples`'s keyword arguments `sample_options`); returns the exit
  status.

  0: done. EXIT_BAD_INPUT: the config, data, workdir or checkpoint cannot be
  used; one line on stderr says why. EXIT_NONFINITE: a non-finite step
  stopped training. EXIT_PREEMPTED: a preemption notice stopped training
  after a checkpoint; run again to resume. Other errors propagate.
  """
  from infogan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  bad_input = (config_validation.ConfigError, input_pipeline.DataNotFoundError,
               WorkdirError, checkpointing.CheckpointNotFoundError,
               checkpointing.IncompatibleCheckpointError,
               distributed.DistributedError)
  try:
    distributed.check_same_config(config)
    if mode == 'train':
      train_and_evaluate(config, workdir)
    elif mode == 'eval':
      print(evaluate(config, workdir)[2])
    elif mode == 'sample':
      for path in write_samples(config, workdir, **(sample_options or {})):
        print(path)
    else:
      for path in write_figures(config, workdir):
        print(path)
  except bad_input as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_BAD_INPUT
  except NonFiniteError as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_NONFINITE
  except preemption.Preempted as e:
    print(e, file=sys.stderr)
    return EXIT_PREEMPTED
  return 0
