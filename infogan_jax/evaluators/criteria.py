"""Label-free criteria for choosing among restarts or population members.

Several trainings of one config can end with different digit pairs sharing
categories. Each criterion scores a run from Q's categorical posterior on
real *training* images alone, so picking the best-scoring run never looks at
a label:

- 'real_information': H(mean_x Q(c|x)) - mean_x H(Q(c|x)), the batch term
  of `losses.real_information` over all the images: high when real images
  spread over every category and each is placed confidently;
- 'confidence': the mean over images of max_c Q(c|x);
- 'agreement': the mean NMI between this run's categories and each other
  run's, on the same images (a consensus vote: the partition most runs
  share); for three runs or more.

`PopulationCriteria` scores the members of a population during training
and for `--mode=select --workdir`; `infogan_jax.selection` scores separate
workdirs (`--mode=select --workdirs`).
"""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from infogan_jax import codes as codes_lib
from infogan_jax import state as state_lib
from infogan_jax.evaluators import base
from infogan_jax.gan import InfoGAN

CRITERIA = ('real_information', 'confidence', 'agreement')


def real_information(probabilities: np.ndarray) -> float:
  """H(mean posterior) - mean H(posterior) of [N, K] probabilities, nats."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  probabilities = np.asarray(probabilities, np.float64)
  return float(stats.entropy(probabilities.mean(0)) -
               stats.entropy(probabilities, axis=-1).mean())


def confidence(probabilities: np.ndarray) -> float:
  """Mean over images of the largest probability."""
  return float(np.asarray(probabilities).max(-1).mean())


def agreement(assignments: Sequence[np.ndarray]) -> np.ndarray:
  """Per run, its mean NMI with every other run's categories.

  Needs three runs or more: with two, both score the same.
  """
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  n = len(assignments)
  if n < 3:
    raise ValueError(f'agreement needs at least 3 runs, got {n}')
  nmi = np.eye(n)
  for i in range(n):
    for j in range(i + 1, n):
      nmi[i, j] = nmi[j, i] = metrics.normalized_mutual_info_score(
          assignments[i], assignments[j])
  return (nmi.sum(1) - 1.0) / (n - 1)


def scores(posteriors: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
  """Every criterion for each run, from its [N, K] posterior on the same N
  unlabelled images ('agreement' only for three runs or more)."""
  table = {
      'real_information': np.array([real_information(p) for p in posteriors]),
      'confidence': np.array([confidence(p) for p in posteriors]),
  }
  if len(posteriors) >= 3:
    table['agreement'] = agreement([np.argmax(p, -1) for p in posteriors])
  return table


def choose(criterion_scores: dict[str, np.ndarray]) -> dict[str, int]:
  """The index each criterion picks: its highest score (first on ties)."""
  return {name: int(np.argmax(values))
          for name, values in criterion_scores.items()}


def default_criterion(runs: int) -> str:
  """'agreement' from three runs on, else 'real_information'."""
  return 'agreement' if runs >= 3 else 'real_information'


class PopulationCriteria:
  """The criteria for each member of a population, from Q's posterior over
  the first categorical code on the first `config.select_num_images` images
  of the training split (read without labels)."""

  def __init__(self, config, gan: InfoGAN, mesh: jax.sharding.Mesh):
    from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
    self.images = pipeline.read_whole_split(
        config, config.train_split, gan.value_range)[:config.select_num_images]
    self._q = base.BatchedQ(gan, mesh,
                            lambda q: jax.nn.softmax(
                                q[codes_lib.Categorical.name][0], -1),
                            config.eval_batch_size)

  def __call__(self, members: Sequence[state_lib.TrainState]
               ) -> dict[str, np.ndarray]:
    """{criterion: [one score per member]} for the members' states."""
    return scores([self._q(m.d.variables(), self.images) for m in members])
