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

'mig', 'factor_vae', 'dci' and 'sap' (see `disentanglement.py`) score Q's
representation of a dataset whose generating factors are known
(config.factor_keys): the continuous codes' means and each categorical
code's probabilities. One pass computes that representation for every image
of the split; each metric then samples points (or FactorVAE's batches with
one factor fixed) from it, with the same draws at every evaluation.
"""

from __future__ import annotations

import time
from typing import Callable

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize
from sklearn import metrics as sk_metrics

from infogan_jax import config_validation
from infogan_jax import disentanglement
from infogan_jax import latents as latents_lib
from infogan_jax import models
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


class _BatchedQ:
  """`fn(posterior)` of Q's posterior on images, jitted and mapped over the
  images in batches sharded over the mesh's 'data' axis.

  D (with Q) runs in inference mode: batch norm uses its running averages.
  Every process holds all the images and receives all the outputs. Images
  may be uint8 (0..pixel_max), scaled here into `value_range`.
  """

  def __init__(self, gan: train_step_lib.InfoGAN, mesh: jax.sharding.Mesh,
               fn, batch_size: int, value_range=None, pixel_max: int = 255):
    self.batch_size = batch_size
    self._data = jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec('data'))
    replicated = train_step_lib.replicated_sharding(mesh)

    def apply(d_variables, batch):
      if value_range is not None:
        batch = models.to_output_range(batch, value_range, pixel_max)
      _, q_out = gan.discriminator.apply(d_variables, batch, train=False)
      return fn(latents_lib.split_q_output(gan.spec, q_out))

    self._apply = jax.jit(apply, in_shardings=(replicated, self._data),
                          out_shardings=replicated)

  def __call__(self, d_variables, images: np.ndarray) -> np.ndarray:
    out = []
    for start in range(0, len(images), self.batch_size):
      batch = images[start:start + self.batch_size]
      padded = _pad_to(batch, self.batch_size)
      global_batch = jax.make_array_from_callback(
          padded.shape, self._data, lambda index, b=padded: b[index])
      out.append(np.asarray(self._apply(d_variables, global_batch))
                 [:len(batch)])
    return np.concatenate(out)


class ClusteringEvaluator:
  """Q's categorical codes as unsupervised classifiers of a labelled split."""

  def __init__(self, gan: train_step_lib.InfoGAN, mesh: jax.sharding.Mesh,
               images: np.ndarray, labels: np.ndarray, batch_size: int):
    if not gan.spec.categorical:
      raise ValueError('the clustering evaluator needs a categorical code')
    self.spec = gan.spec
    self.images = images
    self.labels = np.asarray(labels)
    self._predict = _BatchedQ(
        gan, mesh, lambda posterior: jnp.stack(
            [jnp.argmax(l, -1) for l in posterior.logits], -1), batch_size)

  def predict(self, d_variables) -> np.ndarray:
    """[N, number of categorical codes]: each image's most likely category."""
    return self._predict(d_variables, self.images)

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


def representation(posterior: latents_lib.QPosterior) -> jax.Array:
  """Q's representation of images: continuous means, then each categorical
  code's probabilities."""
  return jnp.concatenate([posterior.mean] + [jax.nn.softmax(l, -1)
                                             for l in posterior.logits], -1)


class DisentanglementEvaluator:
  """MIG, FactorVAE score, DCI and SAP (those in `metrics`) of Q's
  representation against the known factors of every image of a split.

  `factors[i]` are image i's factor indices; FactorVAE needs every
  combination of factor values to be present (as in dSprites, 3D Shapes and
  generated_sprites). `settings` holds the protocol's sizes
  (config.disentanglement).
  """

  def __init__(self, gan: train_step_lib.InfoGAN, mesh: jax.sharding.Mesh,
               images: np.ndarray, factors: np.ndarray,
               factor_sizes: tuple[int, ...], metrics: tuple[str, ...],
               settings, batch_size: int, value_range, pixel_max: int,
               seed: int):
    self.images = images
    self.factors = np.asarray(factors, np.int64)
    self.factor_sizes = tuple(factor_sizes)
    self.metrics = tuple(metrics)
    self.settings = settings
    self.seed = seed
    self._represent = _BatchedQ(gan, mesh, representation, batch_size,
                                value_range, pixel_max)
    if 'factor_vae' in self.metrics:
      # Image index of each factor combination.
      self._index = np.full(int(np.prod(self.factor_sizes)), -1, np.int64)
      self._index[np.ravel_multi_index(self.factors.T, self.factor_sizes)] = (
          np.arange(len(self.factors)))
      if (self._index < 0).any():
        raise ValueError('factor_vae needs every combination of factor '
                         'values in the split')

  def scores(self, table: np.ndarray) -> dict[str, float]:
    """The metrics of a representation `table` [N, latents] of the images."""
    settings, n = self.settings, len(self.factors)
    rng = np.random.default_rng(self.seed)
    train = rng.integers(n, size=settings.num_train)
    test = rng.integers(n, size=settings.num_test)
    split = (table[train], self.factors[train], table[test],
             self.factors[test])
    # (Only FactorVAE draws from `rng` after this, so the order of the
    # metrics does not change any score.)
    compute = {
        'mig': lambda: {'eval_mig': disentanglement.mig(
            table[train], self.factors[train])},
        'sap': lambda: {'eval_sap': disentanglement.sap(*split)},
        'dci': lambda: {f'eval_dci_{k}': v for k, v in
                        disentanglement.dci(*split, seed=self.seed).items()},
        'factor_vae': lambda: {'eval_factor_vae': self._factor_vae(table,
                                                                   rng)},
    }
    out, seconds = {}, []
    for name in self.metrics:
      start = time.perf_counter()
      out.update(compute[name]())
      seconds.append(f'{name} {time.perf_counter() - start:.1f} s')
    logging.info('disentanglement metrics took: %s', ', '.join(seconds))
    return out

  def _factor_vae(self, table: np.ndarray, rng: np.random.Generator) -> float:
    settings = self.settings

    def sample_factors(size, r):
      return self.factors[r.integers(len(self.factors), size=size)].copy()

    def represent(factors):
      return table[self._index[np.ravel_multi_index(factors.T,
                                                    self.factor_sizes)]]

    global_std = np.std(represent(sample_factors(settings.num_train, rng)),
                        axis=0, ddof=1)
    votes = [disentanglement.factor_vae_votes(
        represent, sample_factors, self.factor_sizes, global_std, count,
        settings.factor_vae_batch_size, rng)
             for count in (settings.factor_vae_train_votes,
                           settings.factor_vae_eval_votes)]
    return disentanglement.factor_vae_score(*votes)

  def __call__(self, state: train_step_lib.TrainState) -> dict[str, float]:
    start = time.perf_counter()
    table = self._represent(state.d.variables(), self.images)
    logging.info('Q represented %d images in %.1f s', len(table),
                 time.perf_counter() - start)
    return self.scores(table)


DISENTANGLEMENT = config_validation.DISENTANGLEMENT


def create_evaluators(config, gan: train_step_lib.InfoGAN,
                      mesh: jax.sharding.Mesh,
                      value_range: tuple[float, float]) -> dict[str, Evaluator]:
  """The evaluators `config.evaluators` names, ready to call. The
  disentanglement metrics share one evaluator (and one representation)."""
  from infogan_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  evaluators = {}
  for name in config.evaluators:
    if name == 'clustering':
      images, labels = input_pipeline.read_whole_split(
          config, config.eval_split, value_range, label_key='label')
      evaluators[name] = ClusteringEvaluator(gan, mesh, images, labels,
                                             config.eval_batch_size)
    elif name not in DISENTANGLEMENT:
      raise ValueError(f'unknown evaluator {name!r}; known: {EVALUATORS}')
  metrics = tuple(m for m in DISENTANGLEMENT if m in config.evaluators)
  if metrics:
    images, factors, sizes = input_pipeline.read_factors(config)
    evaluators['disentanglement'] = DisentanglementEvaluator(
        gan, mesh, images, factors, sizes, metrics, config.disentanglement,
        config.eval_batch_size, value_range, config.pixel_max, config.seed)
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
