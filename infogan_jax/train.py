"""The three modes of `main`: train, evaluate a checkpoint, draw its figures.

`train_and_evaluate(config, workdir)` reads top to bottom: validation, workdir
and writers, mesh and state (resumed from the latest checkpoint if there is
one), input, evaluators, then the loop with its periodic logging, sample
grids, evaluations and checkpoints. The step itself lives in `train_step.py`.
`evaluate` and `write_figures` work on the latest checkpoint of a workdir.
"""

from __future__ import annotations

import json
import os

from absl import logging
from clu import metric_writers
from clu import periodic_actions
import jax
import ml_collections
import numpy as np

from infogan_jax import checkpointing
from infogan_jax import config_validation
from infogan_jax import evaluation
from infogan_jax import images as images_lib
from infogan_jax import models
from infogan_jax import train_step as train_step_lib
from infogan_jax import traversals


# ------------------------------------------------------------ training loop


def _record(writer: metric_writers.MetricWriter, workdir: str, step: int,
            scalars: dict[str, float]):
  """Scalars to the writer (TensorBoard, log) and, once, to metrics.jsonl."""
  writer.write_scalars(step, scalars)
  if jax.process_index() == 0:
    with open(os.path.join(workdir, 'metrics.jsonl'), 'a') as f:
      f.write(json.dumps({'step': step, **scalars}) + '\n')


def _prepare(config: ml_collections.ConfigDict, needs_data: bool = True):
  """Checks the config (and the data), then builds mesh, model and a state.

  Bad input stops here (ConfigError, DataNotFoundError), before compilation
  of anything but the initialiser. Without `needs_data` the dataset is not
  touched: the image shape is the generator's.
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
  mesh = train_step_lib.make_mesh()
  gan = train_step_lib.InfoGAN.from_config(config)
  state = train_step_lib.create_state(gan, config.seed, image_shape, mesh)
  return mesh, gan, state


def _check_model_config(workdir: str, step: int | None, config) -> None:
  """Stops, naming the fields, if the model differs from the checkpoint's."""
  if step is None:
    return
  reader = checkpointing.Reader(workdir)
  try:
    saved = reader.config(step)
  finally:
    reader.close()
  differences = [] if saved is None else checkpointing.config_differences(
      saved.model, config.model, prefix='model.')
  if differences:
    raise checkpointing.IncompatibleCheckpointError(
        f'the checkpoint at step {step} in {workdir} has another model: '
        + '; '.join(differences))


def _restore_trained(config, workdir: str, needs_data: bool):
  """Mesh, model and the latest checkpoint of `workdir`, for eval and figures."""
  mesh, gan, state = _prepare(config, needs_data)
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  _check_model_config(workdir, checkpoints.latest_step(), config)
  restored = checkpointing.restore_latest(checkpoints, state)
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


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> train_step_lib.TrainState:
  """Trains (or resumes training) as the config says, writing into workdir."""
  mesh, gan, state = _prepare(config)
  from infogan_jax import input_pipeline  # pylint: disable=g-import-not-at-top

  is_main = jax.process_index() == 0
  os.makedirs(workdir, exist_ok=True)
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  # Before config.json is overwritten: it holds the model of checkpoints
  # that do not record their config.
  _check_model_config(workdir, checkpoints.latest_step(), config)
  restored = checkpointing.restore_latest(checkpoints, state)
  if restored is not None:
    state = restored
    logging.info('Resumed from checkpoint at step %d.', int(state.step))
  if is_main:
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=2))
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
  history = []
  logging.info('Training from step %d to %d on %d device(s).', start_step,
               config.num_train_steps, jax.device_count())
  with metric_writers.ensure_flushes(writer):
    for step in range(start_step + per_call, config.num_train_steps + 1,
                      per_call):
      with jax.profiler.StepTraceAnnotation('train', step_num=step):
        state, metrics = step_fn(state, next(batches))
      history.append(metrics)  # each value has one entry per step
      for hook in hooks:
        hook(step)
      last = step == config.num_train_steps

      if step % config.log_every_steps == 0 or last:
        scalars = jax.tree.map(lambda *x: float(np.mean(np.concatenate(x))),
                               *history)
        history = []
        _record(writer, workdir, step, scalars)

      if step % config.sample_every_steps == 0 or last:
        grids = render_grids(state.g.variables())
        writer.write_images(step, {f'samples/{name}': grid[None]
                                   for name, grid in grids.items()})
        _save_grids(grids, sample_dir, step)

      if evaluators and (last or (config.eval_every_steps and
                                  step % config.eval_every_steps == 0)):
        _record(writer, workdir, step,
                evaluation.run_evaluators(evaluators, state))

      if step % config.checkpoint_every_steps == 0 or last:
        checkpointing.save(checkpoints, step, state, config)
  checkpoints.wait_until_finished()
  checkpoints.close()
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
