"""Curves of logged metrics across runs, as one PNG (the paper's Figure 1).

  python -m infogan_tools.plots --out=mi.png \
      --run=InfoGAN=/tmp/mnist --run=GAN=/tmp/mnist_gan

Each --run is LABEL=WORKDIR and reads WORKDIR/metrics.jsonl. Runs sharing a
label are drawn as their mean with a band from their minimum to their
maximum (e.g. several seeds); a label with one run is a plain line. For
`mi_cat_nats` a dashed line marks H(c), the bound's maximum (from the
first run's config.json).
"""

from __future__ import annotations

import collections
import json
import os
import sys
from typing import Sequence

from absl import flags
import matplotlib
import numpy as np

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

import infogan_tools  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FlagValues()  # see infogan_tools/__init__.py
_RUN = flags.DEFINE_multi_string(
    'run', None, 'LABEL=WORKDIR; repeat for several runs (same LABEL: seeds).',
    flag_values=FLAGS)
_OUT = flags.DEFINE_string('out', None, 'Path of the PNG to write.',
                           flag_values=FLAGS)
_METRIC = flags.DEFINE_string('metric', 'mi_cat_nats',
                              'The metrics.jsonl field to plot.',
                              flag_values=FLAGS)
_MAX_STEP = flags.DEFINE_integer('max_step', 0,
                                 'Plot steps up to this one (0: all).',
                                 flag_values=FLAGS)


def read_metric(workdir: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
  """(steps, values) of `metric` in workdir/metrics.jsonl, sorted by step.

  Lines without the metric (e.g. evaluations) are skipped; a step logged
  twice (a resumed run) keeps its last value.
  """
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} does not exist: is {workdir} a workdir?')
  values = {}
  with open(path) as f:
    for line in f:
      record = json.loads(line)
      if metric in record:
        values[record['step']] = record[metric]
  if not values:
    raise ValueError(f'{path} has no {metric!r}')
  steps = np.array(sorted(values))
  return steps, np.array([values[s] for s in steps], np.float64)


def plot_runs(runs: Sequence[tuple[str, str]], out: str,
              metric: str = 'mi_cat_nats', max_step: int = 0,
              reference: float | None = None) -> None:
  """Writes one PNG with a curve (or a mean and band) per label."""
  groups = collections.defaultdict(list)
  for label, workdir in runs:
    groups[label].append(read_metric(workdir, metric))
  fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
  for label, curves in groups.items():
    # Seeds may have logged different steps: plot the steps all of them have.
    steps = curves[0][0]
    for s, _ in curves[1:]:
      steps = np.intersect1d(steps, s)
    if max_step:
      steps = steps[steps <= max_step]
    ys = np.stack([v[np.searchsorted(s, steps)] for s, v in curves])
    name = label if len(curves) == 1 else f'{label} ({len(curves)} runs)'
    (line,) = ax.plot(steps, ys.mean(0), label=name)
    if len(curves) > 1:
      ax.fill_between(steps, ys.min(0), ys.max(0), alpha=0.25,
                      color=line.get_color(), linewidth=0)
  if reference is not None:
    ax.axhline(reference, color='gray', linestyle='--', linewidth=1,
               label=f'H(c) = {reference:.2f}')
  ax.set_xlabel('iteration')
  ax.set_ylabel(metric)
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  os.makedirs(os.path.dirname(out) or '.', exist_ok=True)
  fig.savefig(out)
  plt.close(fig)


def _parse_run(spec: str) -> tuple[str, str]:
  label, sep, workdir = spec.partition('=')
  if not sep or not label or not workdir:
    infogan_tools.usage_error(f'--run={spec}: expected LABEL=WORKDIR')
  return label, workdir


def main(argv=None) -> int:
  argv = infogan_tools.parse_flags(FLAGS, argv)
  if len(argv) > 1:
    infogan_tools.usage_error(f'unexpected arguments: {argv[1:]}')
  runs = [_parse_run(spec) for spec in _RUN.value]
  reference = None
  if _METRIC.value == 'mi_cat_nats':
    reference = infogan_tools.categorical_entropy(runs[0][1])
  plot_runs(runs, _OUT.value, _METRIC.value, _MAX_STEP.value, reference)
  print(_OUT.value)
  return 0


flags.mark_flags_as_required(['run', 'out'], flag_values=FLAGS)

if __name__ == '__main__':
  sys.exit(main())
