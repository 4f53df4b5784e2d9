"""Training: `train_and_evaluate(config, workdir)` trains or resumes a run.

It reads top to bottom: a prepared run (checks, networks, fresh state:
`services.prepare`), the newest checkpoint if there is one, then `_train`:
input, evaluators, and the loop with its periodic logging, sample grids,
evaluations and checkpoints. The step itself is in `step.py` (a
population's in `population.py`); the modes that read a trained workdir are
in `commands.py`.
"""

from __future__ import annotations

import os

from absl import logging
from clu import metric_writers
from etils import epath
import jax
import ml_collections
import numpy as np

from infogan_jax import checkpointing
from infogan_jax import config_validation
from infogan_jax import evaluators as evaluators_lib
from infogan_jax.evaluators import criteria
from infogan_jax import population as population_lib
from infogan_jax import preemption
from infogan_jax import restarts
from infogan_jax import services
from infogan_jax import state as state_lib
from infogan_jax import traversals
from infogan_jax.errors import NonFiniteError
from infogan_jax.errors import Preempted
from infogan_jax.errors import WorkdirError


# ------------------------------------------------------------ training loop


class IntervalMeans:
  """Each metric over the steps since the last `result()`: the mean, or for
  counts (SUMMED) the total, one per member of a population. Summed on the
  devices, so a logging interval costs one transfer. (clu's Average would
  also sum over the member axis.)"""

  SUMMED = ('nonfinite_steps',)

  def __init__(self):
    self._totals: dict[str, jax.Array] = {}
    self._steps = 0

  def add(self, metrics: dict[str, jax.Array]) -> None:
    """Adds one call's metrics: [steps], or [members, steps]."""
    for name, values in metrics.items():
      total = values.sum(-1)
      self._totals[name] = (self._totals[name] + total
                            if name in self._totals else total)
    self._steps += next(iter(metrics.values())).shape[-1]

  def result(self) -> dict[str, np.ndarray]:
    out = {name: np.asarray(total) / (1 if name in self.SUMMED
                                      else self._steps)
           for name, total in self._totals.items()}
    self._totals, self._steps = {}, 0
    return out


def _check_finite(unchecked: list[tuple[int, jax.Array]], per_call: int,
                  workdir: str, latest: int | None) -> None:
  """Raises NonFiniteError naming the first step flagged in `unchecked`
  (pairs of a call's last step and its per-step flags)."""
  for last_step, flags in unchecked:
    # [steps], or [members, steps]: a step counts if any member's was bad.
    flags = np.asarray(flags).reshape(-1, per_call).any(0)
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

  With config.restarts > 1 the restarts train first, and the one they pick
  trains on (`restarts.py`).
  """
  if config.restarts > 1:
    config = _pick_restart(config, workdir)
  else:
    restarts.check_workdir(config, workdir)
  return _train_or_resume(config, workdir)[2]


def _train_or_resume(config, workdir):
  """(mesh, step, final state) of training `config` in `workdir` from its
  newest checkpoint, if it has one."""
  mesh, step, state = services.prepare(config, workdir, create_workdir=True)
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  try:
    # Before config.json is overwritten: it holds the model of checkpoints
    # that do not record their config.
    restored = services.restore(checkpoints, state, config)
    if restored is not None:
      state = restored
      logging.info('Resumed from checkpoint at step %d.', int(state.step))
    config_validation.check_resume_step(config, int(state.step), workdir)
    if jax.process_index() == 0:
      (epath.Path(workdir) / 'config.json').write_text(
          config.to_json_best_effort(indent=2))
    return mesh, step, _train(config, workdir, mesh, step, state, checkpoints)
  finally:
    # Whatever stops the run, the checkpoints being written are completed.
    checkpoints.wait_until_finished()
    checkpoints.close()


def _pick_restart(config, workdir) -> ml_collections.ConfigDict:
  """Trains the restarts of `config` as a population (or resumes them),
  scores them without labels, puts the pick into `workdir`'s checkpoints and
  returns the config it trains on with. Once picked, returns at once."""
  config_validation.validate(config, device_count=jax.device_count(),
                             process_count=jax.process_count())
  restarts.check_workdir(config, workdir)
  record = restarts.read_pick(workdir)
  if record is not None:
    return restarts.picked_config(config, record['member'])
  restarts_config = restarts.population_config(config)
  mesh, train_step, state = _train_or_resume(restarts_config,
                                             restarts.restarts_dir(workdir))
  if int(state.step) != config.restart_pick_step:
    raise WorkdirError(
        f'{restarts.restarts_dir(workdir)} holds restarts at step '
        f'{int(state.step)}, not restart_pick_step '
        f'({config.restart_pick_step}); train in a new workdir')
  members = population_lib.Members(mesh, config.restarts).states(state)
  table = criteria.PopulationCriteria(restarts_config, train_step.gan,
                                      mesh)(members)
  record = restarts.make_record(config, int(state.step), table)
  picked = restarts.picked_config(config, record['member'])
  checkpointing.export(members[record['member']], picked, workdir)
  writer = services.create_writer(workdir)
  writer.write_scalars(record['step'], {
      **{f'restart_{name}/member_{i}': value
         for name, values in record['scores'].items()
         for i, value in enumerate(values)},
      'restart_pick': record['member']})
  writer.close()
  # Written last: a run stopped before this point picks again on resume.
  restarts.write_pick(workdir, record)
  logging.info('Restarts at step %d: %s %s; training on restart %d (seed %d).',
               record['step'], record['restart_criterion'],
               record['scores'][record['restart_criterion']], record['member'],
               record['picked_seed'])
  return picked


def _train(config, workdir, mesh, train_step, state, checkpoints):
  """The loop of `train_and_evaluate`, from the state it starts at."""
  from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  gan = train_step.gan
  start_step, per_call = int(state.step), config.steps_per_call
  members = population_lib.Members(mesh, population_lib.size(config))
  step_fn = population_lib.jit_train_steps(
      train_step, mesh, per_call, config.batch_size, config.data_on_device,
      members.count, population_lib.form(config.population_form,
                                         jax.default_backend()))
  batches = pipeline.create_train_source(config, mesh, gan.value_range,
                                         start_step=start_step)
  evaluators = evaluators_lib.create(config, gan, mesh)
  member_criteria = (criteria.PopulationCriteria(config, gan, mesh)
                     if members.count > 1 and gan.spec.categorical.count
                     else None)
  evaluate_members = evaluators or member_criteria
  render_grids = traversals.GridRenderer(config, gan)
  writer = services.create_writer(workdir)
  writer.write_hparams(services.hparams(config))
  progress = services.Progress(config.num_train_steps)
  means, unchecked = IntervalMeans(), []
  logging.info('Training %s from step %d to %d on %d device(s).',
               f'{members.count} members' if members.count > 1 else 'one run',
               start_step, config.num_train_steps, jax.device_count())
  with metric_writers.ensure_flushes(writer), \
      preemption.Notice(checkpoints) as notice:
    for step in range(start_step + per_call, config.num_train_steps + 1,
                      per_call):
      with jax.profiler.StepTraceAnnotation('train', step_num=step):
        state, metrics = step_fn(state, next(batches))
      means.add(metrics)  # each value has one entry per step
      unchecked.append((step, metrics['nonfinite_steps']))
      last = step == config.num_train_steps
      log = step % config.log_every_steps == 0 or last
      sample = step % config.sample_every_steps == 0 or last
      evaluate_now = evaluate_members and (last or (
          config.eval_every_steps and step % config.eval_every_steps == 0))
      save = step % config.checkpoint_every_steps == 0 or last
      stop = notice.reached(step) and not last

      # Nothing is recorded or saved from a state past a non-finite step.
      if not train_step.skip_nonfinite and (log or sample or evaluate_now or
                                            save or stop):
        _check_finite(unchecked, per_call, workdir, checkpoints.latest_step())
        unchecked = []

      if step == start_step + per_call:
        # The first call done: its compilation is left out of steps/s.
        jax.block_until_ready(metrics)
        progress.start(step)
      if log:
        values = population_lib.scalars(means.result())  # waits for the steps
        writer.write_scalars(step, {**values, **progress(step)})

      if sample:
        grids = services.member_grids(render_grids, members, state)
        writer.write_images(step, {f'samples/{name}': grid[None]
                                   for name, grid in grids.items()})
        traversals.save_grids(grids, os.path.join(workdir, 'samples'), step)

      if evaluate_now:
        writer.write_scalars(step, population_lib.scalars(services.evaluate(
            evaluators, member_criteria, members, state)))

      if save or stop:
        checkpointing.save(checkpoints, step, state, config)
      if stop:
        checkpoints.wait_until_finished()
        raise Preempted(step, checkpointing.checkpoint_dir(workdir))
  return state
