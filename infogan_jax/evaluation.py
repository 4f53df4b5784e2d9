"""Evaluators: numbers about a trained state, on data the run never trained on.

An evaluator is any callable `evaluator(state) -> {name: float}` built once
per run (data loaded, functions jitted) and called every
`config.eval_every_steps` during training and by `--mode=eval` on a
checkpoint. `config.evaluators` names the ones to build; `create_evaluators`
knows them.

'clustering' uses Q's categorical posterior as a classifier without labels:
each test image goes to the category argmax Q(c|x), categories are matched
one-to-one to the classes by the Hungarian algorithm (the standard
unsupervised clustering accuracy), and NMI and ARI need no matching at all.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize
from sklearn import metrics as sk_metrics

from infogan_jax import config_validation
from infogan_jax import latents as latents_lib
from infogan_jax import train_step as train_step_lib

Evaluator = Callable[[train_step_lib.TrainState], dict[str, float]]

EVALUATORS = config_validation.EVALUATORS

# ------------------------------------------------------ clustering metrics


def contingency(clusters: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """counts[k, y]: how many examples of class y fell into cluster k."""
  clusters = np.asarray(clusters, np.int64)
  labels = np.asarray(labels, np.int64)
  counts = np.zeros((clusters.max() + 1, labels.max() + 1), np.int64)
  np.add.at(counts, (clusters, labels), 1)
  return counts


def match_clusters(clusters: np.ndarray, labels: np.ndarray) -> dict[int, int]:
  """The one-to-one cluster -> class map that classifies the most examples.

  Found by the Hungarian algorithm on the contingency table. With more
  clusters than classes, the unmatched clusters are left out (their examples
  count as errors).
  """
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
  return {
      'accuracy': clustering_accuracy(clusters, labels),
      'nmi': float(sk_metrics.normalized_mutual_info_score(labels, clusters)),
      'ari': float(sk_metrics.adjusted_rand_score(labels, clusters)),
  }


def describe_clusters(clusters: np.ndarray, labels: np.ndarray,
                      class_names=None) -> str:
  """A table of what each cluster holds: size, matched class, top classes.

  Shows at a glance which classes share a category (e.g. 4 and 9).
  """
  counts = contingency(clusters, labels)
  mapping = match_clusters(clusters, labels)
  name = (lambda y: str(class_names[y])) if class_names else str
  lines = ['category  size  matched  holds (share of the category)']
  for k, row in enumerate(counts):
    size = int(row.sum())
    top = np.argsort(row)[::-1][:3]
    holds = ', '.join(f'{name(y)} {row[y] / max(size, 1):.0%}' for y in top
                      if row[y])
    matched = name(mapping[k]) if k in mapping else '-'
    lines.append(f'{k:>8}  {size:>4}  {matched:>7}  {holds}')
  return '\n'.join(lines)


# ------------------------------------------------------------ evaluators


def _pad_to(batch: np.ndarray, size: int) -> np.ndarray:
  pad = size - len(batch)
  return np.concatenate([batch, np.zeros((pad, *batch.shape[1:]),
                                         batch.dtype)]) if pad else batch


class ClusteringEvaluator:
  """Q's categorical codes as unsupervised classifiers of a labelled split.

  D (with Q) runs in inference mode: batch norm uses its running averages.
  Batches are sharded over the mesh's 'data' axis; every process holds the
  whole split and receives all predictions.
  """

  def __init__(self, gan: train_step_lib.InfoGAN, mesh: jax.sharding.Mesh,
               images: np.ndarray, labels: np.ndarray, batch_size: int):
    if not gan.spec.categorical:
      raise ValueError('the clustering evaluator needs a categorical code')
    self.spec = gan.spec
    self.images = images
    self.labels = np.asarray(labels)
    self.batch_size = batch_size
    self._data = jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec('data'))
    replicated = train_step_lib.replicated_sharding(mesh)

    def predict(d_variables, batch):
      _, q_out = gan.discriminator.apply(d_variables, batch, train=False)
      posterior = latents_lib.split_q_output(gan.spec, q_out)
      return jnp.stack([jnp.argmax(l, -1) for l in posterior.logits], -1)

    self._predict = jax.jit(predict, in_shardings=(replicated, self._data),
                            out_shardings=replicated)

  def predict(self, d_variables) -> np.ndarray:
    """[N, number of categorical codes]: each image's most likely category."""
    out = []
    for start in range(0, len(self.images), self.batch_size):
      batch = self.images[start:start + self.batch_size]
      padded = _pad_to(batch, self.batch_size)
      global_batch = jax.make_array_from_callback(
          padded.shape, self._data, lambda index, b=padded: b[index])
      out.append(np.asarray(self._predict(d_variables, global_batch))
                 [:len(batch)])
    return np.concatenate(out)

  def report(self, state: train_step_lib.TrainState
             ) -> tuple[dict[str, float], str]:
    """The scores, and what each category of the first code holds."""
    predictions = self.predict(state.d.variables())
    return (self._scores(predictions),
            describe_clusters(predictions[:, 0], self.labels))

  def __call__(self, state: train_step_lib.TrainState) -> dict[str, float]:
    return self._scores(self.predict(state.d.variables()))

  def _scores(self, predictions: np.ndarray) -> dict[str, float]:
    scores = {}
    for i in range(len(self.spec.categorical)):
      code = clustering_scores(predictions[:, i], self.labels)
      # The first code unsuffixed; each code by index when there are several.
      if i == 0:
        scores.update({f'eval_{k}': v for k, v in code.items()})
      if len(self.spec.categorical) > 1:
        scores.update({f'eval_cat{i}_{k}': v for k, v in code.items()})
    return scores


def create_evaluators(config, gan: train_step_lib.InfoGAN,
                      mesh: jax.sharding.Mesh,
                      value_range: tuple[float, float]) -> dict[str, Evaluator]:
  """The evaluators `config.evaluators` names, ready to call."""
  evaluators = {}
  for name in config.evaluators:
    if name == 'clustering':
      from infogan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
      images, labels = input_pipeline.read_whole_split(
          config, config.eval_split, value_range, label_key='label')
      evaluators[name] = ClusteringEvaluator(gan, mesh, images, labels,
                                             config.eval_batch_size)
    else:
      raise ValueError(f'unknown evaluator {name!r}; known: {EVALUATORS}')
  return evaluators


def run_evaluators(evaluators: dict[str, Evaluator],
                   state: train_step_lib.TrainState,
                   notes: list[str] | None = None) -> dict[str, float]:
  """All evaluators' scores. With `notes`, evaluators that can describe what
  they saw (a `report` method) append that text to it."""
  scores = {}
  for evaluator in evaluators.values():
    if notes is not None and hasattr(evaluator, 'report'):
      evaluator_scores, note = evaluator.report(state)
      notes.append(note)
    else:
      evaluator_scores = evaluator(state)
    scores.update(evaluator_scores)
  return scores
