"""Q's categorical codes as classifiers, scored without using labels to train.

Each test image goes to the category argmax Q(c|x); categories are matched
one-to-one to the classes by the Hungarian algorithm (the standard
unsupervised clustering accuracy), and NMI and ARI need no matching at all.
Labels are read here, for scoring only: they never reach training.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from infogan_jax import codes as codes_lib
from infogan_jax import state as state_lib
from infogan_jax.errors import ConfigError
from infogan_jax.evaluators import base
from infogan_jax.gan import InfoGAN

# ------------------------------------------------------ clustering metrics

# scipy and scikit-learn are imported where they are used: loading them takes
# ~2.5 s, which every training start and command-line error would pay.


def contingency(clusters: np.ndarray, labels: np.ndarray,
                num_clusters: int = 0) -> np.ndarray:
  """counts[k, y]: how many examples of class y fell into cluster k, for
  every k up to the largest used or `num_clusters` - 1, and every y up to the
  largest (a cluster never used is a row of 0s)."""
  from sklearn import metrics as sk_metrics  # pylint: disable=g-import-not-at-top
  clusters = np.asarray(clusters, np.int64)
  labels = np.asarray(labels, np.int64)
  counts = np.zeros((max(clusters.max() + 1, num_clusters), labels.max() + 1),
                    np.int64)
  # scikit-learn's table has a row and column per value that occurs.
  counts[np.ix_(np.unique(clusters), np.unique(labels))] = (
      sk_metrics.cluster.contingency_matrix(clusters, labels))
  return counts


def match_clusters(clusters: np.ndarray, labels: np.ndarray) -> dict[int, int]:
  """The one-to-one cluster -> class map that classifies the most examples.

  Found by the Hungarian algorithm on the contingency table. With more
  clusters than classes, the unmatched clusters are left out (their examples
  count as errors).
  """
  from scipy import optimize  # pylint: disable=g-import-not-at-top
  counts = contingency(clusters, labels)
  rows, cols = optimize.linear_sum_assignment(counts, maximize=True)
  return {int(k): int(y) for k, y in zip(rows, cols)}


def clustering_accuracy(clusters: np.ndarray, labels: np.ndarray) -> float:
  """Accuracy of the clusters as classes under the best one-to-one matching."""
  mapping = match_clusters(clusters, labels)
  predicted = np.array([mapping.get(int(k), -1) for k in np.asarray(clusters)])
  return float(np.mean(predicted == np.asarray(labels)))


def clustering_scores(clusters: np.ndarray,
                      labels: np.ndarray) -> dict[str, float]:
  """Matched accuracy, NMI (arithmetic normalisation) and ARI, in [0, 1]."""
  from sklearn import metrics as sk_metrics  # pylint: disable=g-import-not-at-top
  return {
      'accuracy': clustering_accuracy(clusters, labels),
      'nmi': float(sk_metrics.normalized_mutual_info_score(labels, clusters)),
      'ari': float(sk_metrics.adjusted_rand_score(labels, clusters)),
  }


def describe_clusters(clusters: np.ndarray, labels: np.ndarray,
                      class_names=None, num_clusters: int = 0) -> str:
  """A table of what each cluster holds: size, matched class, top classes;
  one row per cluster up to `num_clusters` (a code's K), empty ones too.

  Shows at a glance which classes share a category (e.g. 4 and 9).
  """
  counts = contingency(clusters, labels, num_clusters)
  mapping = match_clusters(clusters, labels)
  name = (lambda y: str(class_names[y])) if class_names else str
  lines = ['category  size  matched  holds (share of the category)']
  for k, row in enumerate(counts):
    size = int(row.sum())
    top = np.argsort(row)[::-1][:3]
    holds = ', '.join(f'{name(y)} {row[y] / max(size, 1):.0%}' for y in top
                      if row[y])
    matched = name(mapping[k]) if k in mapping and size else '-'
    lines.append(f'{k:>8}  {size:>4}  {matched:>7}  {holds}')
  return '\n'.join(lines)


# ------------------------------------------------------------- evaluator


class ClusteringEvaluator(base.Evaluator):
  """Q's categorical codes as unsupervised classifiers of a labelled split
  (config.eval_split): 'eval_accuracy', 'eval_nmi', 'eval_ari' for the first
  code, and 'eval_catI_...' for each code when there are several."""

  NAMES = ('clustering',)

  @classmethod
  def check_config(cls, config) -> None:
    if not codes_lib.CodeSpec.from_config(config.model).categorical.count:
      raise ConfigError('evaluators', tuple(config.evaluators),
                        "'clustering' needs a categorical code "
                        '(model.categorical_codes is empty)')

  @classmethod
  def check_dataset(cls, config, info) -> None:
    if 'label' not in info.features:
      raise ConfigError(
          'evaluators', tuple(config.evaluators),
          f"'clustering' needs class labels and dataset '{config.dataset}' "
          "has none; drop it (--config.evaluators='()')")

  @classmethod
  def create(cls, config, gan: InfoGAN, mesh: jax.sharding.Mesh
             ) -> ClusteringEvaluator:
    from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
    images, labels = pipeline.read_whole_split(
        config, config.eval_split, gan.value_range, label_key='label')
    return cls(gan, mesh, images, labels, config.eval_batch_size)

  def __init__(self, gan: InfoGAN, mesh: jax.sharding.Mesh,
               images: np.ndarray, labels: np.ndarray, batch_size: int):
    if not gan.spec.categorical.count:
      raise ValueError('the clustering evaluator needs a categorical code')
    self.spec = gan.spec
    self.images = images
    self.labels = np.asarray(labels)
    self._predict = base.BatchedQ(
        gan, mesh, lambda posterior: jnp.stack(
            [jnp.argmax(l, -1) for l in posterior[codes_lib.Categorical.name]],
            -1), batch_size)

  def predict(self, d_variables) -> np.ndarray:
    """[N, number of categorical codes]: each image's most likely category."""
    return self._predict(d_variables, self.images)

  def report(self, state: state_lib.TrainState
             ) -> tuple[dict[str, float], str]:
    """The scores, and what each category of the first code holds."""
    predictions = self.predict(state.d.variables())
    return (self._scores(predictions),
            describe_clusters(predictions[:, 0], self.labels,
                              num_clusters=self.spec.categorical.sizes[0]))

  def __call__(self, state: state_lib.TrainState) -> dict[str, float]:
    return self._scores(self.predict(state.d.variables()))

  def _scores(self, predictions: np.ndarray) -> dict[str, float]:
    scores = {}
    for i in range(self.spec.categorical.count):
      code = clustering_scores(predictions[:, i], self.labels)
      # The first code unsuffixed; each code by index when there are several.
      if i == 0:
        scores.update({f'eval_{k}': v for k, v in code.items()})
      if self.spec.categorical.count > 1:
        scores.update({f'eval_cat{i}_{k}': v for k, v in code.items()})
    return scores
