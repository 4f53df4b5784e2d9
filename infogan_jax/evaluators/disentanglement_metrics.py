"""Disentanglement metrics on datasets whose generating factors are known.

Each metric scores a representation (here: Q's continuous means and
categorical probabilities on real images) against the true factors, as
disentanglement_lib (Locatello et al., 2019) computes it:

- MIG (Chen et al., 2018): latents discretised into 20 equal-width bins;
  for each factor, the gap between the two latents that share the most
  mutual information with it, over the factor's entropy; averaged.
- FactorVAE score (Kim & Mnih, 2018): votes from batches in which one
  factor is fixed: the latent (of those with std >= 0.05, each divided by
  its std over the data) that varies least names the factor; a majority-vote
  classifier from latent to factor, trained and evaluated on separate votes;
  the score is its evaluation accuracy.
- DCI (Eastwood & Williams, 2018): a gradient-boosted-tree classifier per
  factor; from their feature importances, disentanglement (does each latent
  inform one factor), completeness (is each factor captured by one latent);
  informativeness is their mean test accuracy.
- SAP (Kumar et al., 2018): for each (latent, factor) the test accuracy of a
  linear SVM on that latent alone; for each factor the gap between the best
  and second-best latent; averaged.

Representations are [N, latents] floats, factors [N, factors] integers
(class indices). scikit-learn does the classifiers and mutual information.
"""

from __future__ import annotations

from typing import Callable
import warnings

import numpy as np
from scipy import stats
from sklearn import ensemble
from sklearn import metrics as sk_metrics
from sklearn import preprocessing
from sklearn import svm


def _gap(scores: np.ndarray) -> np.ndarray:
  """Per column (factor) of scores[latent, factor]: the best latent's score
  minus the second best's (minus 0 when there is one latent)."""
  top = np.sort(scores, axis=0)[::-1]
  return top[0] - (top[1] if len(top) > 1 else 0.0)


# ---------------------------------------------------------------- MIG


def discretise(representation: np.ndarray, bins: int = 20) -> np.ndarray:
  """Each latent into `bins` equal-width bins over its own range (a constant
  latent into one bin)."""
  with warnings.catch_warnings():
    # A constant latent is worth a warning only to a user of the discretiser.
    warnings.filterwarnings('ignore', 'Feature .* is constant')
    binned = preprocessing.KBinsDiscretizer(
        bins, encode='ordinal', strategy='uniform',
        subsample=None).fit_transform(np.asarray(representation, np.float64))
  return binned.astype(np.int64)


def mutual_information(discrete: np.ndarray, factors: np.ndarray) -> np.ndarray:
  """m[i, j]: mutual information (nats) of latent i and factor j."""
  return np.array([[sk_metrics.mutual_info_score(f, z) for f in factors.T]
                   for z in discrete.T])


def mig(representation: np.ndarray, factors: np.ndarray,
        bins: int = 20) -> float:
  """Mutual information gap, in [0, 1]."""
  m = mutual_information(discretise(representation, bins), factors)
  entropy = np.array([sk_metrics.mutual_info_score(f, f) for f in factors.T])
  return float(np.mean(_gap(m) / entropy))


# ---------------------------------------------------------------- SAP


def sap(train_rep: np.ndarray, train_factors: np.ndarray,
        test_rep: np.ndarray, test_factors: np.ndarray) -> float:
  """Separated attribute predictability, in [0, 1]."""
  scores = np.zeros((train_rep.shape[1], train_factors.shape[1]))
  for i in range(train_rep.shape[1]):
    for j in range(train_factors.shape[1]):
      classifier = svm.LinearSVC(C=0.01, class_weight='balanced')
      classifier.fit(train_rep[:, i:i + 1], train_factors[:, j])
      scores[i, j] = np.mean(
          classifier.predict(test_rep[:, i:i + 1]) == test_factors[:, j])
  return float(np.mean(_gap(scores)))


# ---------------------------------------------------------------- DCI


def importance_matrix(train_rep, train_factors, test_rep, test_factors,
                      seed: int = 0) -> tuple[np.ndarray, float, float]:
  """(R[latent, factor] feature importances, train and test accuracy)."""
  r = np.zeros((train_rep.shape[1], train_factors.shape[1]))
  train_acc, test_acc = [], []
  for j in range(train_factors.shape[1]):
    model = ensemble.GradientBoostingClassifier(random_state=seed)
    model.fit(train_rep, train_factors[:, j])
    r[:, j] = np.abs(model.feature_importances_)
    train_acc.append(np.mean(model.predict(train_rep) == train_factors[:, j]))
    test_acc.append(np.mean(model.predict(test_rep) == test_factors[:, j]))
  return r, float(np.mean(train_acc)), float(np.mean(test_acc))


def _weighted_one_minus_entropy(r: np.ndarray) -> float:
  """sum over rows of weight * (1 - entropy of the row, base = row length)."""
  if r.shape[1] == 1:
    return 1.0  # one column: nothing to spread over
  entropy = stats.entropy(r.T + 1e-11, base=r.shape[1])
  total = r.sum()
  weights = r.sum(axis=1) / total if total else np.ones(len(r)) / len(r)
  return float(np.sum(weights * (1.0 - entropy)))


def dci(train_rep, train_factors, test_rep, test_factors,
        seed: int = 0) -> dict[str, float]:
  """Disentanglement, completeness and informativeness, each in [0, 1]."""
  r, _, test_accuracy = importance_matrix(train_rep, train_factors, test_rep,
                                          test_factors, seed)
  return {
      'disentanglement': _weighted_one_minus_entropy(r),
      'completeness': _weighted_one_minus_entropy(r.T),
      'informativeness': test_accuracy,
  }


# ---------------------------------------------------------------- FactorVAE


def factor_vae_votes(represent: Callable[[np.ndarray], np.ndarray],
                     sample_factors: Callable[[int, np.random.Generator],
                                              np.ndarray],
                     factor_sizes: tuple[int, ...], global_std: np.ndarray,
                     num_votes: int, batch_size: int,
                     rng: np.random.Generator,
                     threshold: float = 0.05) -> np.ndarray:
  """votes[latent, factor]: how often a latent varied least with a factor fixed.

  `represent(factors)` gives the representation of images with those
  factors; `sample_factors(n, rng)` draws n factor vectors from the data.
  Latents whose std over the data (`global_std`) is below `threshold` take
  no part.
  """
  active = global_std >= threshold
  votes = np.zeros((len(global_std), len(factor_sizes)), np.int64)
  if not active.any():
    return votes
  for _ in range(num_votes):
    k = rng.integers(len(factor_sizes))
    factors = sample_factors(batch_size, rng)
    factors[:, k] = factors[0, k]
    variances = np.var(represent(factors), axis=0, ddof=1)
    normalised = variances[active] / global_std[active] ** 2
    votes[np.flatnonzero(active)[np.argmin(normalised)], k] += 1
  return votes


def factor_vae_score(train_votes: np.ndarray,
                     eval_votes: np.ndarray) -> float:
  """Evaluation accuracy of the majority-vote classifier latent -> factor."""
  classifier = np.argmax(train_votes, axis=1)
  total = eval_votes.sum()
  if not total:
    return 0.0
  return float(eval_votes[np.arange(len(classifier)), classifier].sum() /
               total)
