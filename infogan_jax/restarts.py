"""Restarts picked inside one run: `config.restarts = K`.

Some MNIST seeds settle in the first thousand steps on two categories that
each hold about half of the same two digits, and keep them to the end. A run
with K restarts first trains the runs of seeds seed*K .. seed*K+K-1 as one
population to `config.restart_pick_step`, in WORKDIR/restarts/ (an ordinary
population workdir). It then scores each member by a label-free criterion
of `evaluators/criteria.py` (Q's posterior on unlabelled training images),
records every score and the pick in WORKDIR/restarts/pick.json and in the
run's metrics, and continues the picked member alone, as the single run of
its seed, in WORKDIR to `num_train_steps`.

Each phase resumes: the population from its checkpoints, the pick from
pick.json (written only once the picked member is in WORKDIR's
checkpoints), the continued run from its own. For one K, distinct seeds
have disjoint restarts. docs/populations.md says what each file holds.
"""

from __future__ import annotations

import json
import os

from etils import epath
import jax
from jax.experimental import multihost_utils
import ml_collections

from infogan_jax import codes as codes_lib
from infogan_jax import fields
from infogan_jax.errors import ConfigError
from infogan_jax.errors import WorkdirError
from infogan_jax.evaluators import criteria

PICK_FILE = 'pick.json'
# What pick.json must agree on with the config of a resumed run.
_RECORDED = ('seed', 'restarts', 'restart_pick_step', 'restart_criterion')


def check_config(config) -> None:
  """Raises ConfigError for restart settings that cannot be used."""
  fields.int_at_least(config, 'restarts', 1)
  fields.int_at_least(config, 'restart_pick_step', 1)
  allowed = ('',) + criteria.CRITERIA
  if config.restart_criterion not in allowed:
    raise ConfigError('restart_criterion', config.restart_criterion,
                      f'must be one of {allowed}')
  if config.restarts == 1:
    return
  if config.population != 1:
    raise ConfigError('population', config.population,
                      'must be 1 with restarts > 1: the restarts are a '
                      'population of their own')
  if not codes_lib.CodeSpec.from_config(config.model).categorical.count:
    raise ConfigError('restarts', config.restarts, 'the pick scores Q\'s '
                      'first categorical code; must be 1 when '
                      'model.categorical_codes is empty')
  if config.restart_pick_step >= config.num_train_steps:
    raise ConfigError('restart_pick_step', config.restart_pick_step,
                      f'must be below num_train_steps '
                      f'({config.num_train_steps})')
  if config.restart_pick_step % config.steps_per_call:
    raise ConfigError('restart_pick_step', config.restart_pick_step,
                      f'must be a multiple of steps_per_call '
                      f'({config.steps_per_call})')
  if config.restart_criterion == 'agreement' and config.restarts < 3:
    raise ConfigError('restart_criterion', 'agreement',
                      'needs restarts >= 3 (with two, both agree equally)')


def criterion(config) -> str:
  """The criterion that picks: config.restart_criterion, or the default."""
  return config.restart_criterion or criteria.default_criterion(
      config.restarts)


def first_seed(config) -> int:
  """The seed of restart 0; restart i trains seed first_seed + i."""
  return config.seed * config.restarts


def _settings(config) -> dict:
  """The restart settings pick.json records, the criterion resolved."""
  return {**{name: config[name] for name in _RECORDED},
          'restart_criterion': criterion(config)}


def restarts_dir(workdir: str) -> str:
  """Where the restarts' population trains."""
  return os.path.join(os.fspath(workdir), 'restarts')


def population_config(config) -> ml_collections.ConfigDict:
  """The restarts as a population: member i is the run of seed*K + i,
  trained to the pick step."""
  population = ml_collections.ConfigDict(config.to_dict())
  population.seed = first_seed(config)
  population.population = config.restarts
  population.num_train_steps = config.restart_pick_step
  population.restarts = 1
  return population


def picked_config(config, member: int) -> ml_collections.ConfigDict:
  """The config the picked restart continues with: the single run of its
  own seed, to the run's num_train_steps (pick.json says how it was
  chosen)."""
  picked = ml_collections.ConfigDict(config.to_dict())
  picked.seed = first_seed(config) + member
  picked.restarts = 1
  return picked


def read_pick(workdir: str) -> dict | None:
  """The pick recorded in `workdir` (a run with restarts), or None."""
  path = epath.Path(restarts_dir(workdir)) / PICK_FILE
  if not path.exists():
    return None
  try:
    return json.loads(path.read_text())
  except ValueError:
    raise WorkdirError(f'{path} cannot be read; delete it to pick again '
                       'from the restarts') from None


def check_resumed(config, record: dict, workdir: str) -> None:
  """Raises ConfigError unless `config` has the restart settings the pick
  recorded in `workdir` was made with."""
  for name, value in _settings(config).items():
    if record[name] != value:
      raise ConfigError(
          name, value, f'{workdir} picked its restart with {name}='
          f'{record[name]!r}; resume it with the same value')


def check_workdir(config, workdir: str) -> None:
  """Before any training: raises unless `workdir` is new or holds this
  config's restarts (a run with restarts=1 too: it must not train on from
  a picked restart as if it were its own seed)."""
  record = read_pick(workdir)
  if config.restarts == 1:
    if record is not None and config.seed != record['picked_seed']:
      raise ConfigError(
          'restarts', 1, f'{workdir} holds a run with restarts='
          f'{record["restarts"]} and seed={record["seed"]}; resume it '
          'with those')
    return
  if record is not None:
    check_resumed(config, record, workdir)
    return
  saved = epath.Path(restarts_dir(workdir)) / 'config.json'
  if saved.exists():
    saved = json.loads(saved.read_text())
    expected = population_config(config)
    if saved['population'] != expected.population:
      raise ConfigError('restarts', config.restarts,
                        f'{workdir} trains {saved["population"]} restarts; '
                        'resume it with that many')
    if saved['seed'] != expected.seed:
      raise ConfigError('seed', config.seed,
                        f'{workdir} trains the restarts of seed '
                        f'{saved["seed"] // saved["population"]}; resume it '
                        'with that seed')
    if saved['num_train_steps'] != expected.num_train_steps:
      raise ConfigError('restart_pick_step', config.restart_pick_step,
                        f'{workdir} trains its restarts to step '
                        f'{saved["num_train_steps"]}; resume it with that')
  directory = epath.Path(workdir) / 'checkpoints'
  steps = sorted(int(p.name) for p in directory.iterdir()
                 if p.name.isdigit()) if directory.exists() else []
  if set(steps) - {config.restart_pick_step}:
    raise WorkdirError(f'{workdir} holds checkpoints of a run without '
                       f'restarts (steps {steps}); train in a new workdir')


def make_record(config, step: int, table: dict) -> dict:
  """What pick.json holds: the settings, every restart's scores (`table`,
  {criterion: [one per restart]}), each criterion's pick and the one made."""
  settings = _settings(config)
  name = settings['restart_criterion']
  picks = criteria.choose(table)
  first = first_seed(config)
  return {
      **settings,
      'step': step,
      'member': picks[name],
      'picked_seed': first + picks[name],
      'member_seeds': [first + i for i in range(config.restarts)],
      'scores': {k: [float(v) for v in values] for k, values in table.items()},
      'picks': picks,
  }


def write_pick(workdir: str, record: dict) -> None:
  """Writes pick.json (on the main process, whole or not at all): the pick
  is made. Every process returns once it is there."""
  if jax.process_index() == 0:
    path = epath.Path(restarts_dir(workdir)) / PICK_FILE
    partial = path.with_name(PICK_FILE + '.tmp')
    partial.write_text(json.dumps(record, indent=1))
    partial.rename(path)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices('restart picked')
