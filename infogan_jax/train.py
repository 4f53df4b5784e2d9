"""The training loop: `train_and_evaluate(config, workdir)`.

Reads top to bottom: validation, workdir and writers, mesh and state (resumed
from the latest checkpoint if there is one), input, then the loop with its
periodic logging, sample grids and checkpoints. The step itself lives in
`train_step.py`.
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
import orbax.checkpoint as ocp

from infogan_jax import config_validation
from infogan_jax import images as images_lib
from infogan_jax import models
from infogan_jax import train_step as train_step_lib
from infogan_jax import traversals

# ------------------------------------------------------------ training loop


def _checkpoint_manager(workdir: str, config) -> ocp.CheckpointManager:
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), 'checkpoints'),
      options=ocp.CheckpointManagerOptions(
          max_to_keep=config.max_checkpoints_to_keep,
          create=True),
  )


def _write_jsonl(path: str, step: int, scalars: dict[str, float]):
  with open(path, 'a') as f:
    f.write(json.dumps({'step': step, **scalars}) + '\n')


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> train_step_lib.TrainState:
  """Trains (or resumes training) as the config says, writing into workdir."""
  # Validation first: bad input stops here, before any compilation.
  config_validation.validate(config, device_count=jax.device_count(),
                             process_count=jax.process_count())
  from infogan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  image_shape = input_pipeline.image_shape(config)
  config_validation.check_image_shape(config, image_shape)

  is_main = jax.process_index() == 0
  os.makedirs(workdir, exist_ok=True)
  if is_main:
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=2))
  writer = metric_writers.create_default_writer(
      workdir, just_logging=not is_main)
  metrics_path = os.path.join(workdir, 'metrics.jsonl')
  sample_dir = os.path.join(workdir, 'samples')

  # Mesh, model, state.
  mesh = train_step_lib.make_mesh()
  gan = train_step_lib.InfoGAN.from_config(config)
  state = train_step_lib.create_state(gan, config.seed, image_shape, mesh)
  checkpoints = _checkpoint_manager(workdir, config)
  if checkpoints.latest_step() is not None:
    state = checkpoints.restore(
        checkpoints.latest_step(), args=ocp.args.StandardRestore(state))
    logging.info('Resumed from checkpoint at step %d.', int(state.step))
  start_step = int(state.step)
  per_call = config.steps_per_call
  if start_step % per_call:
    raise config_validation.ConfigError(
        'steps_per_call', per_call,
        f'the checkpoint in {workdir} is at step {start_step}; resume with a '
        'steps_per_call that divides it')

  step_fn = train_step_lib.jit_train_steps(
      gan, mesh, per_call, config.batch_size, config.data_on_device)
  sample_fn = jax.jit(gan.generate)
  grids = traversals.code_grids(
      gan.spec, jax.random.key(config.seed), config.sample_grid_columns,
      tuple(config.continuous_sweep), config.continuous_sweep_steps)
  low, high = models.output_range(config.model)
  batches = input_pipeline.create_train_source(config, mesh, (low, high),
                                              start_step=start_step)

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

      if step % config.log_every_steps == 0 or step == config.num_train_steps:
        scalars = jax.tree.map(lambda *x: float(np.mean(np.concatenate(x))),
                               *history)
        history = []
        writer.write_scalars(step, scalars)
        if is_main:
          _write_jsonl(metrics_path, step, scalars)

      if (step % config.sample_every_steps == 0 or
          step == config.num_train_steps):
        for name, grid_latents in grids.items():
          generated = np.asarray(sample_fn(state.g.variables(), grid_latents))
          grid = images_lib.make_grid((generated - low) / (high - low),
                                      columns=config.sample_grid_columns)
          writer.write_images(step, {f'samples/{name}': grid[None]})
          if is_main:
            images_lib.save_png(grid, os.path.join(
                sample_dir, f'step_{step:08d}_{name}.png'))

      if (step % config.checkpoint_every_steps == 0 or
          step == config.num_train_steps):
        checkpoints.save(step, args=ocp.args.StandardSave(state), force=True)
  checkpoints.wait_until_finished()
  checkpoints.close()
  return state
