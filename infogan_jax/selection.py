"""Choosing among restarts of a run (separate workdirs) without labels.

Several short trainings of one config (restarts) can end with different
digit pairs sharing categories. Each restart is scored by the label-free
criteria of `evaluators/criteria.py` (real-data information, confidence,
agreement), from Q on real *training* images alone. (The members of one
population are scored by `commands.select` instead.) The command line:

  infogan-jax select --workdirs=RUN_DIR,RUN_DIR,... [--num_images=10000]
      [--step=500] [--compare_with_labels]

prints one JSON object: each run's scores and, per criterion, the run it
picks. Each run is read with its own recorded config (dataset, split, model).
`--compare_with_labels` then adds, for the report only, the test accuracy
each run logged at that step and whether each criterion's pick is the run
those labels would pick.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Sequence

import numpy as np

from infogan_jax.evaluators import criteria


# ------------------------------------------------------- from checkpoints


def training_images(config, num_images: int) -> np.ndarray:
  """The first `num_images` images of the run's training split, in [0, 1].

  Images only: the split is read without its labels.
  """
  from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  images = pipeline.read_whole_split(config, config.train_split, (0.0, 1.0))
  return images[:num_images]


def first_code_posterior(model, images: np.ndarray,
                         batch_size: int = 1000) -> np.ndarray:
  """Q's probabilities for the first categorical code: [N, K]."""
  return np.concatenate([
      np.asarray(model.posterior(images[i:i + batch_size]).probabilities[0])
      for i in range(0, len(images), batch_size)])


def select(workdirs: Sequence[str], num_images: int = 10_000,
           step: int | None = None) -> dict:
  """Scores each workdir's checkpoint at `step` (default: its latest), e.g.
  short restarts after a few hundred steps; returns the report."""
  from infogan_jax import inference  # pylint: disable=g-import-not-at-top
  models = [inference.load(w, step=step) for w in workdirs]
  images = training_images(models[0].config, num_images)
  posteriors = [first_code_posterior(m, images) for m in models]
  table = criteria.scores(posteriors)
  picks = criteria.choose(table)
  return {
      'num_images': len(images),
      'runs': [{'workdir': w, 'step': m.step,
                **{name: float(values[i]) for name, values in table.items()}}
               for i, (w, m) in enumerate(zip(workdirs, models))],
      'chosen': {name: workdirs[i] for name, i in picks.items()},
  }


def logged_accuracy(workdir: str, step: int,
                    name: str = 'eval_accuracy') -> float | None:
  """The test accuracy the run's clustering evaluator logged at `step`
  (`name`: a population member's is 'eval_accuracy/member_I'), or None.

  For reporting how a criterion's pick compares with the run labels would
  pick; `select` never calls it.
  """
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    for line in f:
      record = json.loads(line)
      if record['step'] == step and name in record:
        return record[name]
  return None


def compare_with_labels(report: dict) -> dict:
  """`report` with each run's logged test accuracy at its step, the run
  those accuracies would pick, and whether each criterion picked it."""
  runs = report['runs']
  for run in runs:
    run['logged_test_accuracy'] = logged_accuracy(run['workdir'], run['step'])
  accuracies = [r['logged_test_accuracy'] for r in runs]
  if None in accuracies:
    raise ValueError('a run has no eval_accuracy logged at its step')
  best = runs[int(np.argmax(accuracies))]['workdir']
  return {**report, 'chosen_by_labels': best,
          'same_as_labels': {name: chosen == best
                             for name, chosen in report['chosen'].items()}}


if __name__ == '__main__':
  # The command line moved; an old script should not succeed doing nothing.
  print('error: choosing among runs is `infogan-jax select '
        '--workdirs=RUN_DIR,RUN_DIR,...` now', file=sys.stderr)
  sys.exit(2)
