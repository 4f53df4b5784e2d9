"""The disentanglement evaluator: MIG, FactorVAE score, DCI and SAP of Q's
representation of a split whose generating factors are known
(config.factor_keys).

The representation is Q's continuous means and each categorical code's
probabilities (`codes.representation`). One pass computes it for every image of the split; each
metric (`disentanglement_metrics.py`) then samples points (or FactorVAE's
batches with one factor fixed) from it, with the same draws at every
evaluation.
"""

from __future__ import annotations

import functools
import time

from absl import logging
import jax
import numpy as np

from infogan_jax import codes as codes_lib
from infogan_jax import fields
from infogan_jax import state as state_lib
from infogan_jax.errors import ConfigError
from infogan_jax.evaluators import base
from infogan_jax.gan import InfoGAN

# The metrics, by their names in config.evaluators.
METRICS = ('mig', 'factor_vae', 'dci', 'sap')


class DisentanglementEvaluator(base.Evaluator):
  """MIG, FactorVAE score, DCI and SAP (those in `metrics`) of Q's
  representation against the known factors of every image of a split.

  `factors[i]` are image i's factor indices; FactorVAE needs every
  combination of factor values to be present (as in dSprites, 3D Shapes and
  generated_sprites). `settings` holds the protocol's sizes
  (config.disentanglement).
  """

  NAMES = METRICS

  @classmethod
  def check_config(cls, config) -> None:
    keys = config.factor_keys
    if not keys or not fields.is_sequence_of(keys,
                                             lambda k: isinstance(k, str)):
      raise ConfigError('factor_keys', keys,
                        f'{METRICS} need the names of the features holding '
                        "the factors, e.g. ('label_shape', ...)")
    if config.center_crop or config.image_size or config.image_channels:
      raise ConfigError('evaluators', tuple(config.evaluators),
                        f'{METRICS} read images as the dataset stores them: '
                        'set center_crop, image_size and image_channels to 0')
    for field in ('num_train', 'num_test', 'factor_vae_train_votes',
                  'factor_vae_eval_votes'):
      fields.int_at_least(config, f'disentanglement.{field}', 1)
    fields.int_at_least(config, 'disentanglement.factor_vae_batch_size', 2)

  @classmethod
  def check_dataset(cls, config, info) -> None:
    for key in config.factor_keys:
      feature = info.features[key] if key in info.features else None
      if not hasattr(feature, 'num_classes'):
        raise ConfigError(
            'factor_keys', tuple(config.factor_keys),
            f"dataset '{config.dataset}' has no class-label feature {key!r};"
            f' its features: {", ".join(sorted(info.features))}')

  @classmethod
  def create(cls, config, gan: InfoGAN, mesh: jax.sharding.Mesh
             ) -> DisentanglementEvaluator:
    from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
    images, factors, sizes = pipeline.read_factors(config)
    metrics = tuple(m for m in METRICS if m in config.evaluators)
    return cls(gan, mesh, images, factors, sizes, metrics,
               config.disentanglement, config.eval_batch_size,
               config.pixel_max, config.seed)

  def __init__(self, gan: InfoGAN, mesh: jax.sharding.Mesh,
               images: np.ndarray, factors: np.ndarray,
               factor_sizes: tuple[int, ...], metrics: tuple[str, ...],
               settings, batch_size: int, pixel_max: int, seed: int):
    self.images = images
    self.factors = np.asarray(factors, np.int64)
    self.factor_sizes = tuple(factor_sizes)
    self.metrics = tuple(metrics)
    self.settings = settings
    self.seed = seed
    self._represent = base.BatchedQ(
        gan, mesh, functools.partial(codes_lib.representation, gan.spec),
        batch_size, pixel_max)
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
    # Imported here: its scikit-learn takes seconds to load, which a run
    # without these metrics (most runs) should not pay.
    from infogan_jax.evaluators import disentanglement_metrics as metrics_lib  # pylint: disable=g-import-not-at-top
    settings, n = self.settings, len(self.factors)
    rng = np.random.default_rng(self.seed)
    train = rng.integers(n, size=settings.num_train)
    test = rng.integers(n, size=settings.num_test)
    split = (table[train], self.factors[train], table[test],
             self.factors[test])
    # (Only FactorVAE draws from `rng` after this, so the order of the
    # metrics does not change any score.)
    compute = {
        'mig': lambda: {'eval_mig': metrics_lib.mig(
            table[train], self.factors[train])},
        'sap': lambda: {'eval_sap': metrics_lib.sap(*split)},
        'dci': lambda: {f'eval_dci_{k}': v for k, v in
                        metrics_lib.dci(*split, seed=self.seed).items()},
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
    from infogan_jax.evaluators import disentanglement_metrics as metrics_lib  # pylint: disable=g-import-not-at-top
    settings = self.settings

    def sample_factors(size, r):
      return self.factors[r.integers(len(self.factors), size=size)].copy()

    def represent(factors):
      return table[self._index[np.ravel_multi_index(factors.T,
                                                    self.factor_sizes)]]

    global_std = np.std(represent(sample_factors(settings.num_train, rng)),
                        axis=0, ddof=1)
    votes = [metrics_lib.factor_vae_votes(
        represent, sample_factors, self.factor_sizes, global_std, count,
        settings.factor_vae_batch_size, rng)
             for count in (settings.factor_vae_train_votes,
                           settings.factor_vae_eval_votes)]
    return metrics_lib.factor_vae_score(*votes)

  def __call__(self, state: state_lib.TrainState) -> dict[str, float]:
    start = time.perf_counter()
    table = self._represent(state.d.variables(), self.images)
    logging.info('Q represented %d images in %.1f s', len(table),
                 time.perf_counter() - start)
    return self.scores(table)
