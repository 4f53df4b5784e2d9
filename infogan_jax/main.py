"""The command line.

    infogan-jax train --config=mnist --workdir=DIR [--config.FIELD=VALUE ...]
    infogan-jax eval|figures|sample|select --workdir=DIR [--config.FIELD=VALUE ...]
    infogan-jax select --workdirs=DIR,DIR,... [--step=N] [--num_images=N]
    python -m infogan_jax.main --config=configs/mnist.py --workdir=DIR [--mode=MODE]

--config takes a shipped config by name (`mnist`, `faces3d:elevation`; see
infogan_jax/configs/) or the path of a config file. Training needs it; the
other modes read the config the workdir's run recorded (its newest
checkpoint's, else its config.json), with any --config.FIELD=VALUE applied on
top, or check a --config given against the checkpoint. Modes: train
(default) trains or resumes; eval runs the config's evaluators on the
workdir's latest checkpoint and prints the scores; figures writes that
checkpoint's code grids to DIR/figures/; sample writes --num_samples images
(with the codes in --codes fixed) to DIR/generated/ as a PNG grid and an
.npz; select picks a member of a population (--config.population=N) without
labels, or the one --member names, and exports it as a single run to
DIR/selected/. `select --workdirs` instead scores separate runs of one
config (e.g. restarts) by the same label-free criteria and prints, as JSON,
each run's scores and the run each criterion chooses; --compare_with_labels
adds the test accuracy each run logged, for reports.

Exit status: 0 when the mode is done; 2 for bad input (flags, config, data,
workdir, checkpoint), with one line on stderr saying what is wrong and
nothing created; 3 when a non-finite loss stopped training
(config.on_nonfinite='stop'); 75 when a preemption notice (SIGTERM) stopped
training after a checkpoint: run the same command again to resume. Anything
else is a crash, with its traceback.

A job of several processes (a TPU pod, a GPU cluster, N local processes) runs
this same command in every process; see `distributed.py` for how they find
each other, and docs/multihost.md.
"""

import difflib
import importlib.util
import json
import logging as std_logging
import os
import re
import sys

# The C++ INFO lines TensorFlow and XLA print as they start are noise before
# a run's first line or an error; their warnings still show.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections
from ml_collections import config_flags

from infogan_jax import config_validation
from infogan_jax import configs as shipped_configs
from infogan_jax import distributed
from infogan_jax.data import pipeline
from infogan_jax import errors
from infogan_jax import codes as codes_lib
from infogan_jax.evaluators import criteria
# pylint: enable=g-import-not-at-top,wrong-import-position

MODES = ('train', 'eval', 'figures', 'sample', 'select')
EXIT_BAD_INPUT = errors.EXIT_BAD_INPUT

FLAGS = flags.FLAGS
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, '
                               'samples, metrics and TensorBoard events.')
_MODE = flags.DEFINE_enum(
    'mode', 'train', MODES,
    'train: train or resume in the workdir. eval: score its latest '
    'checkpoint with config.evaluators. figures: draw its code grids. '
    'sample: write --num_samples images from it. select: export a member '
    'of a population as a single run, or (--workdirs) choose among '
    'separate runs.')
config_flags.DEFINE_config_file(
    'config', None, 'A shipped config by name (mnist, faces3d:elevation, ...) '
    'or the path of a config file. Needed to train; the other modes default '
    "to the config the workdir's run recorded.", lock_config=True)
# --workdir is required; select may take --workdirs instead (_check_select
# says which flags go together).
flags.register_validator(
    'workdir', lambda workdir: (workdir is not None or _MODE.value == 'select'
                                or bool(_WORKDIRS.value)),
    message='Flag --workdir must have a value other than None.')
_NUM_SAMPLES = flags.DEFINE_integer(
    'num_samples', 64, '--mode=sample: how many images.', lower_bound=1)
_CODES = flags.DEFINE_list(
    'codes', [], '--mode=sample: codes fixed for every image, as NAME=VALUE '
    'pairs, e.g. cat0=3,cont0=0.5 (categories are integers from 0).')
_SAMPLE_SEED = flags.DEFINE_integer(
    'sample_seed', 0, '--mode=sample: the seed of the noise and of the codes '
    'not fixed by --codes.')
_MEMBER = flags.DEFINE_integer(
    'member', None, '--mode=select: export this member of the population '
    'instead of the one a criterion picks; --mode=sample: the member to '
    'sample from.', lower_bound=0)
_SELECT_CRITERION = flags.DEFINE_enum(
    'select_criterion', None, list(criteria.CRITERIA),
    '--mode=select: the label-free criterion (default: agreement from 3 '
    'members on, else real_information).')
_WORKDIRS = flags.DEFINE_list(
    'workdirs', [], '--mode=select, instead of --workdir: separate runs of '
    'one config (e.g. restarts) to score by the label-free criteria; prints '
    'each run\'s scores and the run each criterion chooses.')
_STEP = flags.DEFINE_integer(
    'step', None, '--mode=select --workdirs: the checkpoint to score in each '
    'run (default: its latest).', lower_bound=0)
_NUM_IMAGES = flags.DEFINE_integer(
    'num_images', 10_000, '--mode=select --workdirs: training images to '
    'score each run on.', lower_bound=1)
_COMPARE_WITH_LABELS = flags.DEFINE_bool(
    'compare_with_labels', False, '--mode=select --workdirs: after choosing, '
    'add the test accuracy each run logged at that step and whether each '
    'criterion chose the run those accuracies would (for reports).')
_DISTRIBUTED = flags.DEFINE_enum(
    'distributed', 'auto', list(distributed.MODES),
    'auto: join a multi-process job when the flags below (or JAX_* '
    'variables) say so, or on SLURM with several tasks and on Cloud TPU '
    'VMs. on: always call jax.distributed.initialize. off: never.')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'HOST:PORT of process 0 (default: '
    '$JAX_COORDINATOR_ADDRESS, or detected on SLURM and Cloud TPU).')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', None, 'Processes in the job (default: '
    '$JAX_NUM_PROCESSES, or detected).')
_PROCESS_ID = flags.DEFINE_integer(
    'process_id', None, 'This process, 0..num_processes-1 (default: '
    '$JAX_PROCESS_ID, or detected).')
_TIMEOUT = flags.DEFINE_integer(
    'distributed_timeout_s', 300, 'Give up when the processes have not all '
    'joined within this many seconds.')


class BadInput(errors.BadInput):
  """A flag or argument that cannot be used; its message is one line."""


# Where --config is left out, absl reads the --config.FIELD=VALUE overrides
# against the fields of the default config (every shipped config has the
# same), and `_recorded_config` applies them to the config the workdir's run
# recorded. That one is read once a multi-process job is joined: reading a
# checkpoint starts JAX.
_STAND_IN = 'default'
_config_left_out = False


def _stop(message: str):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(EXIT_BAD_INPUT)


# ---------------------------------------------------------- flags


def _with_config_paths(argv: list[str]) -> list[str]:
  """argv with a shipped config's name (--config=mnist) turned into its path."""
  out = list(argv)
  for i, arg in enumerate(out):
    if arg.startswith('--config='):
      value = arg[len('--config='):]
      index = i
    elif arg == '--config' and i + 1 < len(out):
      value, index = out[i + 1], i + 1
    else:
      continue
    if shipped_configs.is_name(value):
      try:
        path = shipped_configs.path(value)
      except ValueError as e:
        raise BadInput(f'--config={value}: {e}') from None
      out[index] = ('--config=' + path) if index == i else path
    else:
      config_file = value.split(':', 1)[0]
      if not os.path.isfile(config_file):
        raise BadInput(f'--config={value}: no such file {config_file!r}; '
                       'give a shipped config by name (e.g. --config=mnist) '
                       'or the path of a config file')
  return out


def _config_fields(config, prefix: str = '') -> list[str]:
  """Every field of a ConfigDict, dotted ('model.noise_dim')."""
  fields = []
  for key, value in config.items():
    fields.append(prefix + key)
    if hasattr(value, 'items'):
      fields += _config_fields(value, f'{prefix}{key}.')
  return fields


def _nearest(name: str, candidates: list[str]) -> str:
  close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
  return f' (nearest: {close[0]})' if close else ''


def _unknown_config_field(argv: list[str]) -> str | None:
  """One line for the first --config.FIELD=... of argv that names no field
  of the loaded config; None if all do (or no config is loaded)."""
  config = FLAGS['config'].value
  if config is None:  # absl stopped before --config was parsed: load it here
    try:
      value = next(a for a in argv if a.startswith('--config='))[len('--config='):]
      path, _, variant = value.partition(':')
      spec = importlib.util.spec_from_file_location('_config_for_names', path)
      module = importlib.util.module_from_spec(spec)
      spec.loader.exec_module(module)
      config = module.get_config(*([variant] if variant else []))
    except Exception:  # pylint: disable=broad-except
      return None  # the config's own error will be the one reported
  fields = _config_fields(config)
  for arg in argv:
    if arg.startswith('--config.'):
      field = arg[len('--config.'):].split('=', 1)[0]
      if field not in fields:
        nearest = _nearest(field, fields)
        return (f'--config.{field}: the config has no field {field!r}'
                f'{nearest.replace("nearest: ", "nearest: --config.")}')
  return None


def _flag_error_line(error: flags.Error) -> str:
  """One line for an error absl or ml_collections raised while parsing."""
  if isinstance(error, flags.UnrecognizedFlagError):
    name = error.flagname
    known = [n for n in FLAGS if len(n) > 1 and not n.startswith('config.')]
    return (f'--{name}: unknown flag{_nearest(name, known).replace(": ", ": --")}'
            '; see --help')
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  if len(lines) == 1:
    return lines[0]
  # A config file that failed to load: absl's message holds its traceback;
  # the first line names the flag, the last one the exception.
  return f'{lines[0].rstrip(":")} {lines[-1]}'


def _config_file_error(argv: list[str], error: Exception) -> str:
  given = next((a for a in argv if a.startswith('--config=')), '--config')
  return f'{given}: the config file does not load: {type(error).__name__}: {error}'


_HELP = ('-h', '-?', '--help', '--helpshort', '--helpfull')


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, with every problem reported as one line and exit 2."""
  if any(arg in _HELP for arg in argv[1:]):
    print(__doc__)
    print(FLAGS.get_help() if '--helpfull' in argv else
          FLAGS.main_module_help())
    sys.exit(0)
  global _config_left_out
  try:
    argv = _with_config_paths(argv)
    _config_left_out = not any(re.match(r'-{1,2}config(=|$)', arg)
                               for arg in argv[1:])
    if _config_left_out:
      argv = [argv[0], '--config=' + shipped_configs.path(_STAND_IN),
              *argv[1:]]
    try:
      rest = FLAGS(argv)
    except flags.Error as e:
      raise BadInput(_unknown_config_field(argv) or _flag_error_line(e)) from None
    except (AttributeError, KeyError) as e:
      # ml_collections' way of saying that an override names no field, or
      # a config file's own error.
      raise BadInput(_unknown_config_field(argv) or
                     _config_file_error(argv, e)) from None
    except Exception as e:  # pylint: disable=broad-except
      # Loading the config file runs its code: a SyntaxError, ImportError...
      raise BadInput(_config_file_error(argv, e)) from None
    if len(rest) > 1:
      raise BadInput(f'unexpected argument {rest[1]!r}: every setting is a '
                     'flag (--workdir=DIR, --config.FIELD=VALUE); see --help')
  except BadInput as e:
    _stop(str(e))
  return rest


def _fixed_codes(config) -> dict[str, float]:
  """--codes as {name: value}, checked against the config's codes."""
  spec = codes_lib.CodeSpec.from_config(config.model)
  codes = {}
  for pair in _CODES.value:
    name, equals, value = pair.partition('=')
    if not equals or name not in spec.names:
      raise BadInput(f'--codes={pair}: give NAME=VALUE with NAME one of '
                     f'{", ".join(spec.names) or "(this model has no codes)"}')
    try:
      codes[name] = spec.parse(name, value)
    except ValueError as e:
      raise BadInput(f'--codes={pair}: {e}') from None
  return codes


def _check_trained_workdir(workdir: str, mode: str,
                           flag: str = '--workdir=') -> None:
  """eval, figures, sample and select read a run; a mistyped workdir is
  reported, not created. `flag` names it in the message."""
  if '://' in workdir:
    return
  checkpoints = os.path.join(workdir, 'checkpoints')
  if not os.path.isdir(checkpoints):
    raise BadInput(f'{flag}{workdir}: no checkpoints/ there; --mode={mode} '
                   "reads a trained run's workdir (train one with "
                   '--mode=train)')
  # Each finished checkpoint is a directory named by its step.
  if not any(name.isdigit() for name in os.listdir(checkpoints)):
    raise BadInput(f'{flag}{workdir}: no checkpoint in {checkpoints}; '
                   f'--mode={mode} reads a trained run (train first with '
                   '--mode=train)')


def _checks(config, workdir: str, mode: str) -> dict[str, float]:
  """The checks that need no devices; returns --codes."""
  config_validation.validate(config)
  codes = _fixed_codes(config) if mode == 'sample' else {}
  if mode != 'train':
    _check_trained_workdir(workdir, mode)
  if mode in ('train', 'eval', 'select'):  # the modes that read the dataset
    pipeline.check_dataset(config)
  return codes


def _overrides() -> dict:
  """The --config.FIELD=VALUE given, as {'model.noise_dim': 10, ...}."""
  if FLAGS.config is None:  # parsed without _parse_flags, and no --config
    return {}
  return config_flags.get_override_values(FLAGS['config'])


def _as_tuples(tree):
  """`tree` (nested dicts) with its lists as tuples."""
  if isinstance(tree, dict):
    return {key: _as_tuples(value) for key, value in tree.items()}
  if isinstance(tree, list):
    return tuple(_as_tuples(value) for value in tree)
  return tree


def _recorded_config(workdir: str) -> ml_collections.ConfigDict:
  """The config the run in `workdir` recorded (its newest checkpoint's, else
  its config.json), with the --config.FIELD=VALUE overrides applied."""
  from infogan_jax import checkpointing  # pylint: disable=g-import-not-at-top
  reader = checkpointing.Reader(workdir)
  try:
    recorded = reader.config(reader.step())
  finally:
    reader.close()
  if recorded is None:
    raise BadInput(f'--workdir={workdir}: its checkpoints record no config and '
                   "it has no config.json; pass the run's --config")
  # Sequences as in a config file: JSON recorded them as lists.
  config = ml_collections.ConfigDict(_as_tuples(recorded.to_dict()))
  for field, value in _overrides().items():
    try:
      config.update_from_flattened_dict({field: value})
    except (AttributeError, KeyError, TypeError) as e:
      raise BadInput(f'--config.{field}={value!r}: the config recorded in '
                     f'{workdir} does not take it: {e}') from None
  config.lock()
  return config


def _check_select(config_given: bool) -> None:
  """select takes --workdir (a population) or --workdirs (separate runs),
  each with its own flags."""
  runs, mode = _WORKDIRS.value, _MODE.value
  if runs and mode != 'select':
    raise BadInput(f'--workdirs: only --mode=select reads several runs; '
                   f'--mode={mode} reads one, --workdir=DIR')
  if not runs:
    for flag in (_STEP, _NUM_IMAGES, _COMPARE_WITH_LABELS):
      if FLAGS[flag.name].present:
        raise BadInput(
            f'--{flag.name}: only with --mode=select --workdirs=DIR,DIR,... '
            '(separate runs)' + ('; a population is scored on '
                                 '--config.select_num_images images'
                                 if flag is _NUM_IMAGES else ''))
    if mode == 'select' and _WORKDIR.value is None:
      raise BadInput('--mode=select needs --workdir=DIR (a population: pick '
                     'a member) or --workdirs=DIR,DIR,... (separate runs: '
                     'choose one)')
    return
  if _WORKDIR.value is not None:
    raise BadInput('--workdir and --workdirs: give one, --workdir=DIR to pick '
                   'a member of the population there or --workdirs=DIR,DIR,'
                   '... to choose among separate runs')
  if len(runs) < 2:
    raise BadInput(f'--workdirs={",".join(runs)}: give two or more runs to '
                   'choose among')
  repeated = sorted({run for run in runs if runs.count(run) > 1})
  if repeated:
    raise BadInput(f'--workdirs: {", ".join(repeated)} given more than once')
  if config_given or _overrides():
    raise BadInput('--config: select --workdirs reads each run with its own '
                   'recorded config; leave out --config and --config.FIELD')
  for flag in (_MEMBER, _SELECT_CRITERION):
    if FLAGS[flag.name].present:
      raise BadInput(f'--{flag.name}: only with --workdir (a population); '
                     "select --workdirs reports each criterion's choice")


# ---------------------------------------------------------- logging


class _QuietLibraries(std_logging.Filter):
  """Drops the per-save INFO chatter of Orbax and JAX's note on each backend
  it could not start (e.g. no TPU); their warnings still show."""

  def filter(self, record):
    return record.levelno >= std_logging.WARNING or not (
        '/orbax/' in record.pathname or
        record.pathname.endswith('xla_bridge.py'))


# ---------------------------------------------------------- the command


def _select_runs(workdirs: list[str]) -> int:
  """select --workdirs: prints each run's scores and the run each criterion
  chooses, as JSON; returns the exit status."""
  from infogan_jax import selection  # pylint: disable=g-import-not-at-top
  logging.get_absl_handler().addFilter(_QuietLibraries())
  try:
    report = selection.select(workdirs, _NUM_IMAGES.value, _STEP.value)
    if _COMPARE_WITH_LABELS.value:
      try:
        report = selection.compare_with_labels(report)
      except ValueError as e:
        raise BadInput(f'--compare_with_labels: {e}') from None
  except errors.BadInput as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_BAD_INPUT
  print(json.dumps(report, indent=1))
  return 0


def main(argv):
  del argv  # _parse_flags allows no arguments beyond the flags
  workdir, mode = _WORKDIR.value, _MODE.value
  # Without --config, the modes that read a run take the one it recorded,
  # once JAX may start (_recorded_config).
  config = None if _config_left_out else FLAGS.config
  try:
    # The checks that need no devices, before JAX starts; the rest follow
    # once the devices are known.
    _check_select(config_given=config is not None)
    if _WORKDIRS.value:
      for run in _WORKDIRS.value:
        _check_trained_workdir(run, mode, flag='--workdirs: ')
    elif config is not None:
      codes = _checks(config, workdir, mode)
    elif mode == 'train':
      raise BadInput('--config: --mode=train needs a config, a shipped one by '
                     'name (e.g. --config=mnist) or the path of a config file')
    else:
      _check_trained_workdir(workdir, mode)
  except errors.BadInput as e:
    _stop(str(e))
  if _WORKDIRS.value:
    return _select_runs(_WORKDIRS.value)
  logging.get_absl_handler().addFilter(_QuietLibraries())
  try:
    distributed.initialize(
        _DISTRIBUTED.value,
        distributed.settings(_COORDINATOR.value, _NUM_PROCESSES.value,
                             _PROCESS_ID.value),
        timeout_s=_TIMEOUT.value)
  except errors.DistributedError as e:
    _stop(str(e))
  if config is None:
    try:
      config = _recorded_config(workdir)
      codes = _checks(config, workdir, mode)
    except errors.BadInput as e:
      _stop(str(e))
  for level, line in distributed.platform_lines(
      jax.default_backend(), jax.local_devices(),
      distributed.gpu_visible_to_system()):
    getattr(logging, level)(line)
  logging.info('JAX process %d of %d', jax.process_index(),
               jax.process_count())
  from infogan_jax import commands  # pylint: disable=g-import-not-at-top
  return commands.run(
      config, workdir, mode,
      sample_options=dict(num_samples=_NUM_SAMPLES.value, codes=codes,
                          seed=_SAMPLE_SEED.value, member=_MEMBER.value),
      select_options=dict(member=_MEMBER.value,
                          criterion=_SELECT_CRITERION.value))


def run(argv: list[str] | None = None) -> None:
  """`python -m infogan_jax.main --config=... --workdir=... [--mode=...]`."""
  app.run(main, argv=argv, flags_parser=_parse_flags)


def console() -> None:
  """The `infogan-jax MODE [--config=...] --workdir=...` console script."""
  argv = list(sys.argv)
  if len(argv) > 1 and argv[1] in MODES:
    argv[1:2] = [f'--mode={argv[1]}']
  elif len(argv) < 2 or argv[1] not in ('-h', '--help', '--helpfull'):
    given = f'{argv[1]!r} ' if len(argv) > 1 else 'nothing '
    _stop(f'got {given}where the mode goes: infogan-jax train '
          '--config=mnist --workdir=DIR, or infogan-jax '
          f'{"|".join(m for m in MODES if m != "train")} --workdir=DIR '
          '[--FLAG=VALUE ...]')
  run(argv)


if __name__ == '__main__':
  run()
