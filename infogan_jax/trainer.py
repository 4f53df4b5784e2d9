"""Training: `train_and_evaluate(config, workdir)` trains or resumes a run.

It reads top to bottom: checks (config, data, workdir), the networks and a
fresh state, the newest checkpoint if there is one, then `_train`: input,
evaluators, and the loop with its periodic logging, sample grids,
evaluations and checkpoints. The step itself is in `step.py`; the modes
that read a trained workdir are in `commands.py`.
"""

from __future__ import annotations

import json
import os
import shutil
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
from infogan_jax import evaluators as evaluators_lib
from infogan_jax.evaluators import criteria
from infogan_jax import preemption
from infogan_jax import restarts
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
  shapes = step_lib.abstract_state(step, config.seed, image_shape,
                                   config.population)
  check_workdir(workdir, sum(x.size * x.dtype.itemsize
                             for x in jax.tree.leaves(shapes)),
                create=create_workdir)
  mesh = sharding.make_mesh(population=config.population)
  state = step_lib.create_state(step, config.seed, image_shape, mesh,
                                config.population)
  return mesh, step, state


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


class Members:
  """The members of a population's state one by one, as single-run states
  replicated on the mesh; a single run's state is its only member."""

  def __init__(self, mesh: jax.sharding.Mesh, population: int):
    self.population = population
    self._get = step_lib.member_getter(mesh) if population > 1 else None

  def each(self, state: state_lib.TrainState):
    """(suffix for names, member state) pairs: ('', state) for a single run,
    ('_member0', ...), ... for a population."""
    if self.population == 1:
      yield '', state
      return
    for i in range(self.population):
      yield f'_member{i}', self._get(state, i)


def evaluate(evaluators: dict[str, evaluators_lib.Evaluator],
             member_criteria: criteria.PopulationCriteria | None,
             members: Members, state: state_lib.TrainState,
             notes: list[str] | None = None) -> dict[str, np.ndarray]:
  """The evaluators' scores of every member ([members] arrays for a
  population), and for a population the selection criteria of each member
  (select_<criterion>) and the member each picks (select_pick_<criterion>).
  `notes` as in `evaluators.run`."""
  if members.population == 1:
    return evaluators_lib.run(evaluators, state, notes)
  member_states = [member for _, member in members.each(state)]
  per_member = []
  for i, member in enumerate(member_states):
    member_notes = None if notes is None else []
    per_member.append(evaluators_lib.run(evaluators, member, member_notes))
    if member_notes:
      notes.extend(f'member {i}:\n{note}' for note in member_notes)
  scores = {name: np.array([m[name] for m in per_member])
            for name in per_member[0]}
  if member_criteria is not None:
    table = member_criteria(member_states)
    scores.update({f'select_{name}': values for name, values in table.items()})
    scores.update({f'select_pick_{name}': np.asarray(index) for name, index in
                   criteria.choose(table).items()})
  return scores


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
  mesh, step, state = prepare(config, workdir, create_workdir=True)
  checkpoints = checkpointing.manager(workdir, config.max_checkpoints_to_keep)
  try:
    # Before config.json is overwritten: it holds the model of checkpoints
    # that do not record their config.
    restored = checkpointing.restore_latest(checkpoints, state, config.model,
                                            config.population)
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
  population = restarts.population_config(config)
  mesh, train_step, state = _train_or_resume(population,
                                             restarts.restarts_dir(workdir))
  if int(state.step) != config.restart_pick_step:
    raise WorkdirError(
        f'{restarts.restarts_dir(workdir)} holds restarts at step '
        f'{int(state.step)}, not restart_pick_step '
        f'({config.restart_pick_step}); train in a new workdir')
  members = [member for _, member in
             Members(mesh, population.population).each(state)]
  table = criteria.PopulationCriteria(population, train_step.gan, mesh)(members)
  record = restarts.make_record(config, int(state.step), table)
  picked = restarts.picked_config(config, record['member'])
  checkpointing.export(members[record['member']], picked, workdir)
  writer, _ = create_writers(workdir)
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
  population = config.population
  step_fn = step_lib.jit_train_steps(train_step, mesh, per_call,
                                     config.batch_size, config.data_on_device,
                                     population)
  batches = pipeline.create_train_source(config, mesh, gan.value_range,
                                         start_step=start_step)
  evaluators = evaluators_lib.create(config, gan, mesh)
  member_criteria = (criteria.PopulationCriteria(config, gan, mesh)
                     if population > 1 and gan.spec.categorical.count else None)
  evaluate_members = evaluators or member_criteria
  members = Members(mesh, population)
  render_grids = traversals.GridRenderer(config, gan)
  writer, progress_writer = create_writers(workdir)
  hooks = []
  if jax.process_index() == 0:
    hooks.append(periodic_actions.ReportProgress(
        num_train_steps=config.num_train_steps, writer=progress_writer))
  means, unchecked = IntervalMeans(), []
  logging.info('Training %s from step %d to %d on %d device(s).',
               f'{population} members' if population > 1 else 'one run',
               start_step, config.num_train_steps, jax.device_count())
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
      evaluate_now = evaluate_members and (last or (
          config.eval_every_steps and step % config.eval_every_steps == 0))
      save = step % config.checkpoint_every_steps == 0 or last
      stop = notice.reached(step) and not last

      # Nothing is recorded or saved from a state past a non-finite step.
      if not train_step.skip_nonfinite and (log or sample or evaluate_now or
                                            save or stop):
        _check_finite(unchecked, per_call, workdir, checkpoints.latest_step())
        unchecked = []

      if log:
        writer.write_scalars(step, scalars(means.result()))

      if sample:
        grids = {}
        for suffix, member in members.each(state):
          grids.update({name + suffix: grid for name, grid in
                        render_grids(member.g.variables()).items()})
        writer.write_images(step, {f'samples/{name}': grid[None]
                                   for name, grid in grids.items()})
        traversals.save_grids(grids, os.path.join(workdir, 'samples'), step)

      if evaluate_now:
        writer.write_scalars(step, scalars(evaluate(
            evaluators, member_criteria, members, state)))

      if save or stop:
        checkpointing.save(checkpoints, step, state, config)
      if stop:
        checkpoints.wait_until_finished()
        raise Preempted(step, checkpointing.checkpoint_dir(workdir))
  return state
