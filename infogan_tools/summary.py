"""One run's results as a small JSON record, for docs/results/.

  python -m infogan_tools.summary --workdir=W --config_file=configs/mnist.py \
      --wall_s=1950 > results.json
  python -m infogan_tools.summary --table docs/results/*.json

The second form prints the records as a Markdown table.

Reads W/config.json and W/metrics.jsonl: the last training record (the MI
bounds) and the last evaluation (eval_* scores), and adds the hardware this
process sees; for a run with restarts, also what each restart scored and
which one was picked (W/restarts/). Checkpoints and events stay in W.
"""

from __future__ import annotations

import json
import os
import platform
import sys

from absl import flags

import infogan_tools

FLAGS = flags.FlagValues()  # see infogan_tools/__init__.py
_WORKDIR = flags.DEFINE_string('workdir', None, 'A finished run.',
                               flag_values=FLAGS)
_TABLE = flags.DEFINE_bool(
    'table', False, 'Print the JSON records given as arguments as a Markdown '
    'table instead.', flag_values=FLAGS)
_SCREEN = flags.DEFINE_bool(
    'screen', False, 'Print the screen records given as arguments '
    '(scripts/screen_mnist.sh) as a Markdown table: a row per candidate, a '
    'column per seed.', flag_values=FLAGS)
_WALL_S = flags.DEFINE_float(
    'wall_s', None, 'Wall time of the run in seconds, if measured.',
    flag_values=FLAGS)
_CONFIG_FILE = flags.DEFINE_string(
    'config_file', None, 'The config file the run was trained from, as '
    'given to --config (recorded as is).', flag_values=FLAGS)
_RESUMED_FROM_STEP = flags.DEFINE_integer(
    'resumed_from_step', None, 'The checkpoint step the measured training '
    'started from, when it continued an earlier run; --wall_s then covers '
    'only the steps after it.', flag_values=FLAGS)
_CANDIDATE = flags.DEFINE_string(
    'candidate', None, 'The name of the run in the screen '
    '(scripts/screen_mnist.sh), if it is one of its candidates.',
    flag_values=FLAGS)


def _cpu_name() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def _memory_gib() -> int | None:
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemTotal:'):
          return round(int(line.split()[1]) / 2**20)
  except OSError:
    pass
  return None


def hardware() -> str:
  """The accelerators JAX sees, or the CPU, its core count and memory."""
  import jax  # pylint: disable=g-import-not-at-top
  devices = jax.devices()
  if devices[0].platform != 'cpu':
    return f'{len(devices)} x {devices[0].device_kind}'
  memory = _memory_gib()
  return (f'CPU: {_cpu_name()}, {os.cpu_count()} cores' +
          (f', {memory} GiB' if memory else ''))


def _jax_version() -> str:
  import jax  # pylint: disable=g-import-not-at-top
  return jax.__version__


def restarts_report(workdir: str) -> dict | None:
  """For a run with restarts (config.restarts), its pick.json: each
  restart's label-free scores and the pick; then, for the report only, each
  restart's test accuracy logged at the pick step and the restart those
  accuracies would have picked. None for a run without restarts."""
  directory = os.path.join(workdir, 'restarts')
  path = os.path.join(directory, 'pick.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    report = json.load(f)
  from infogan_jax import selection  # pylint: disable=g-import-not-at-top
  accuracies = [selection.logged_accuracy(directory, report['step'],
                                          f'eval_accuracy/member_{i}')
                for i in range(report['restarts'])]
  if None not in accuracies:
    report['test_accuracy_at_pick'] = accuracies
    report['labels_pick'] = accuracies.index(max(accuracies))
  return report


def summarize(workdir: str, wall_s: float | None = None,
              candidate: str | None = None, config_file: str | None = None,
              resumed_from_step: int | None = None) -> dict:
  with open(os.path.join(workdir, 'config.json')) as f:
    config = json.load(f)
  train, evaluations = {}, []
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    for line in f:
      record = json.loads(line)
      if any(k.startswith('eval_') for k in record):
        evaluations.append(record)
      else:
        train = record
  # The last step evaluated; every record of it (a later --mode=eval of
  # the same checkpoint adds to the training's, without its select_*).
  evaluation = {}
  for record in evaluations:
    if record['step'] == evaluations[-1]['step']:
      evaluation.update(record)
  summary = {
      'workdir': os.path.basename(os.path.normpath(workdir)),
      **({'config_file': config_file} if config_file else {}),
      'seed': config['seed'],
      'mi_in_generator_loss': config.get('mi_in_generator_loss', True),
      'steps': train.get('step'),
      'mi_cat_nats': train.get('mi_cat_nats'),
      'h_cat_nats': round(infogan_tools.categorical_entropy(workdir), 6),
      'mi_cont_nats': train.get('mi_cont_nats'),
      'eval_step': evaluation.get('step'),
      # A population's evaluation also holds each member's label-free
      # selection scores and picks (select_*).
      **{k: v for k, v in evaluation.items()
         if k.startswith(('eval_', 'select_'))},
      # Every evaluation of the run, in order (the last one is also above).
      'evals': evaluations,
      'hardware': hardware(),
      'jax': _jax_version(),
  }
  restarts = restarts_report(workdir)
  if restarts is not None:
    # The run's own seed is the one it was started with, not the pick's.
    summary['seed'] = restarts['seed']
    summary['restarts'] = restarts
  if candidate is not None:
    summary = {'candidate': candidate, **summary}
  if wall_s is not None:
    summary['wall_min'] = round(wall_s / 60, 1)
  if resumed_from_step:
    summary['resumed_from_step'] = resumed_from_step
  return summary


def table(records: list[dict]) -> str:
  """Markdown rows: run, config file, seed, accuracy, NMI, ARI, MI bounds,
  wall time (and the step it was measured from, for a continued run),
  hardware."""
  lines = ['| run | config | seed | test accuracy | NMI | ARI | `mi_cat_nats` '
           '(of H(c1)) | `mi_cont_nats` | wall time | hardware |',
           '|---|---|---|---|---|---|---|---|---|---|']

  def number(record, key, digits):
    value = record.get(key)
    return '-' if value is None else f'{value:.{digits}f}'

  for r in records:
    wall = f"{r['wall_min']} min" if 'wall_min' in r else '-'
    if 'resumed_from_step' in r:
      wall += f" (steps {r['resumed_from_step']}-{r['steps']})"
    config = f"`{r['config_file']}`" if 'config_file' in r else '-'
    lines.append(
        f"| {r['workdir']} | {config} | {r['seed']} | "
        f"{number(r, 'eval_accuracy', 4)} | {number(r, 'eval_nmi', 3)} | {number(r, 'eval_ari', 3)} | "
        f"{number(r, 'mi_cat_nats', 3)} ({number(r, 'h_cat_nats', 2)}) | "
        f"{number(r, 'mi_cont_nats', 3)} | {wall} | {r['hardware']} |")
  return '\n'.join(lines)


def screen_table(records: list[dict]) -> str:
  """Markdown: per candidate (in first-seen order), each seed's test
  accuracy at every evaluation, and the mean over seeds at the last one."""
  seeds = sorted({r['seed'] for r in records})
  candidates = list(dict.fromkeys(r['candidate'] for r in records))
  lines = ['| candidate | ' + ' | '.join(f'seed {s}' for s in seeds) +
           ' | mean at the end |',
           '|---|' + '---|' * len(seeds) + '---|']
  for candidate in candidates:
    cells, finals = [], []
    for seed in seeds:
      runs = [r for r in records
              if r['candidate'] == candidate and r['seed'] == seed]
      if not runs:
        cells.append('-')
        continue
      accuracies = [e['eval_accuracy'] for e in runs[0]['evals']]
      finals.append(accuracies[-1])
      cells.append(' / '.join(f'{a:.3f}' for a in accuracies))
    mean = f'{sum(finals) / len(finals):.3f}' if finals else '-'
    lines.append(f'| {candidate} | ' + ' | '.join(cells) + f' | {mean} |')
  return '\n'.join(lines)


def main(argv=None) -> int:
  argv = infogan_tools.parse_flags(FLAGS, argv)
  if _TABLE.value or _SCREEN.value:
    records = []
    for path in argv[1:]:
      with open(path) as f:
        records.append(json.load(f))
    print(screen_table(records) if _SCREEN.value else table(records))
    return 0
  if len(argv) > 1:
    infogan_tools.usage_error(f'unexpected arguments: {argv[1:]}')
  if not _WORKDIR.value:
    infogan_tools.usage_error('--workdir is required (or --table FILES)')
  print(json.dumps(summarize(_WORKDIR.value, _WALL_S.value, _CANDIDATE.value,
                             _CONFIG_FILE.value, _RESUMED_FROM_STEP.value),
                   indent=1))
  return 0


if __name__ == '__main__':
  sys.exit(main())
