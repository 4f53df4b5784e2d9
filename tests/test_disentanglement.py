"""Disentanglement metrics on representations with known answers, and the
generated sprites whose factors they are measured against."""

import json
import logging

import numpy as np
import pytest
from sklearn import neighbors
import tensorflow_datasets as tfds

from infogan_jax.configs import dsprites as dsprites_config
from infogan_jax.configs import shapes3d as shapes3d_config
from infogan_jax.configs import sprites as sprites_config
from infogan_jax import config_validation
from infogan_jax import evaluators
from infogan_jax import gan as gan_lib
from infogan_jax.evaluators import disentanglement_metrics as disentanglement
from infogan_jax.data import pipeline
from infogan_tools import sprites
from infogan_jax import trainer

SIZES = (2, 3, 4)


def _factors(rng, n):
  return np.stack([rng.integers(k, size=n) for k in SIZES], axis=1)


def _exact(rng, factors):
  """The factors themselves, with a little noise."""
  return factors + rng.normal(0, 0.05, factors.shape)


def _random(rng, factors):
  """A code that knows nothing of the factors."""
  return rng.normal(size=factors.shape)


def _permuted(rng, factors):
  return _exact(rng, factors)[:, ::-1]


def _mixed(rng, factors):
  """Factors 0 and 1 rotated together: each of two latents carries both."""
  sizes = np.array(SIZES[:2])  # each factor to mean 0, std 1 over the data
  a, b = ((factors[:, :2] - (sizes - 1) / 2) / np.sqrt((sizes**2 - 1) / 12)).T
  return np.stack([a + b, a - b, factors[:, 2]], axis=1) + rng.normal(
      0, 0.05, factors.shape)


def _split(code, seed=0):
  rng = np.random.default_rng(seed)
  train, test = _factors(rng, 3000), _factors(rng, 1500)
  return code(rng, train), train, code(rng, test), test


def _all_scores(code):
  train_rep, train, test_rep, test = _split(code)
  scores = {'mig': disentanglement.mig(train_rep, train),
            'sap': disentanglement.sap(train_rep, train, test_rep, test)}
  scores.update({f'dci_{k}': v for k, v in disentanglement.dci(
      train_rep, train, test_rep, test).items()})
  return scores


# Its tests run on one pytest-xdist worker, which builds it once.
SHARES_SCORES = pytest.mark.xdist_group('test_disentanglement:scores')


@pytest.fixture(scope='module')
def scores():
  return {name: _all_scores(code) for name, code in
          [('exact', _exact), ('random', _random), ('permuted', _permuted),
           ('mixed', _mixed)]}


@SHARES_SCORES
def test_the_factors_themselves_score_near_the_top(scores):
  exact = scores['exact']
  assert exact['mig'] > 0.95
  assert exact['dci_disentanglement'] > 0.95
  assert exact['dci_completeness'] > 0.95
  assert exact['dci_informativeness'] > 0.99
  # SAP's ceiling is the mean of 1 - 1/K over factors of K values: the other
  # latents still predict the majority class.
  ceiling = np.mean([1 - 1 / k for k in SIZES])
  assert 0.9 * ceiling < exact['sap'] <= ceiling + 1e-9


@SHARES_SCORES
def test_an_independent_code_scores_near_zero(scores):
  random = scores['random']
  assert random['mig'] < 0.02 and random['sap'] < 0.05
  assert random['dci_disentanglement'] < 0.1
  assert random['dci_completeness'] < 0.1
  # Informativeness is an accuracy: chance is about 1/K per factor.
  assert random['dci_informativeness'] < np.mean([1 / k for k in SIZES]) + 0.1


@SHARES_SCORES
def test_permuting_the_latents_changes_nothing(scores):
  for name, value in scores['exact'].items():
    assert scores['permuted'][name] == pytest.approx(value, abs=0.02), name


@SHARES_SCORES
def test_two_factors_in_one_latent_score_lower(scores):
  exact, mixed = scores['exact'], scores['mixed']
  assert mixed['mig'] < exact['mig'] - 0.2
  assert mixed['sap'] < exact['sap'] - 0.1
  # Two latents each inform two factors (less disentangled), and two factors
  # are each spread over two latents (less complete).
  assert mixed['dci_disentanglement'] < exact['dci_disentanglement'] - 0.2
  assert mixed['dci_completeness'] < exact['dci_completeness'] - 0.2


def _factor_vae(code, threshold=0.05):
  """The FactorVAE score of `code` applied to factors drawn uniformly."""
  rng = np.random.default_rng(1)

  def sample_factors(n, r):
    return _factors(r, n)

  def represent(factors):
    return code(rng, factors)

  global_std = represent(sample_factors(5000, rng)).std(axis=0, ddof=1)
  votes = [disentanglement.factor_vae_votes(represent, sample_factors, SIZES,
                                            global_std, n, 64, rng, threshold)
           for n in (500, 300)]
  return disentanglement.factor_vae_score(*votes), votes


def test_factor_vae_score():
  exact, votes = _factor_vae(_exact)
  assert exact == 1.0
  assert votes[0].sum() == 500 and votes[1].sum() == 300
  assert _factor_vae(_permuted)[0] == 1.0
  # Fixing factor 0 or 1 steadies two latents alike: votes blur.
  assert _factor_vae(_mixed)[0] < 0.9
  # Chance: the majority class among 3 factors.
  assert _factor_vae(_random)[0] < 0.5
  # Latents that hardly vary take no part; with none left the score is 0.
  assert _factor_vae(_exact, threshold=100.0)[0] == 0.0


# ---------------------------------------------------------- the sprites


def test_every_factor_combination_is_a_different_image():
  factors = sprites.all_factors()
  assert factors.shape == (6144, 5)
  images = sprites.render(factors)
  assert images.shape == (6144, 64, 64, 1) and images.dtype == np.uint8
  assert set(np.unique(images)) == {0, 255}
  assert len({image.tobytes() for image in images}) == 6144
  # Every sprite lies inside the frame: nothing touches the border.
  border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0],
                           images[:, :, -1]], axis=1)
  assert not border.any()


def test_each_factor_can_be_read_back_from_the_pixels():
  factors = sprites.all_factors()
  images = sprites.render(factors)[..., 0] > 0
  ys, xs = np.mgrid[0:64, 0:64] + 0.5
  area = images.sum(axis=(1, 2))
  centre_x = (images * xs).sum(axis=(1, 2)) / area
  centre_y = (images * ys).sum(axis=(1, 2)) / area
  # Position: the centroid is nearest to the sprite's own grid value.
  for j, centre in ((3, centre_x), (4, centre_y)):
    nearest = np.abs(centre[:, None] - sprites.POSITIONS).argmin(axis=1)
    assert np.mean(nearest == factors[:, j]) > 0.99
  # Scale: within each shape, the areas of successive scales do not overlap.
  for shape in range(3):
    areas = [area[(factors[:, 0] == shape) & (factors[:, 1] == k)]
             for k in range(4)]
    assert all(a.max() < b.min() for a, b in zip(areas, areas[1:])), shape
  # Shape and orientation: sprites moved to the frame's centre, a nearest
  # neighbour among those at other positions has the same shape and angle.
  centred = np.stack([np.roll(image, (32 - round(y), 32 - round(x)),
                              axis=(0, 1)) for image, x, y in
                      zip(images, centre_x, centre_y)]).reshape(len(images), -1)
  test = factors[:, 3] == 2  # one column of positions, held out
  model = neighbors.KNeighborsClassifier(n_neighbors=1)
  for j in (0, 2):
    model.fit(centred[~test], factors[~test, j])
    accuracy = np.mean(model.predict(centred[test]) == factors[test, j])
    assert accuracy > 0.95, (j, accuracy)


# ---------------------------------------------------------- end to end


def test_sprites_run_writes_all_four_metrics(tmp_path, caplog):
  config = sprites_config.get_config()
  config.data_dir = str(tmp_path / 'data')  # prepared here on first use
  config.batch_size = 16
  config.num_train_steps = 2
  config.log_every_steps = config.sample_every_steps = 2
  config.checkpoint_every_steps = 2
  config.shuffle_buffer_size = 64
  config.sample_grid_columns = 2
  config.eval_batch_size = 1024
  config.model.generator = ('fc16-bn-relu', 'fc4x4x8-bn-relu',
                            'up8-s2-bn-relu', 'up8-s2-bn-relu',
                            'up8-s2-bn-relu', 'up1-s2-sigmoid')
  config.model.shared_body = ('conv8-s2-lrelu', 'conv8-s2-bn-lrelu',
                              'conv8-s2-bn-lrelu', 'conv8-s2-bn-lrelu',
                              'fc16-bn-lrelu')
  settings = config.disentanglement
  settings.num_train, settings.num_test = 1000, 500
  settings.factor_vae_train_votes, settings.factor_vae_eval_votes = 100, 50
  settings.factor_vae_batch_size = 16
  workdir = tmp_path / 'run'
  with caplog.at_level(logging.INFO, logger='absl'):
    trainer.train_and_evaluate(config, str(workdir))
  # The evaluation logs what its pieces cost.
  timings = [r.getMessage() for r in caplog.records
             if r.getMessage().startswith('disentanglement metrics took:')]
  assert len(timings) == 1
  for name in ('mig', 'factor_vae', 'dci', 'sap'):
    assert f' {name} ' in timings[0], timings[0]
  with open(workdir / 'metrics.jsonl') as f:
    evals = [r for r in map(json.loads, f) if 'eval_mig' in r]
  assert len(evals) == 1 and evals[0]['step'] == 2
  names = {'eval_mig', 'eval_factor_vae', 'eval_dci_disentanglement',
           'eval_dci_completeness', 'eval_dci_informativeness', 'eval_sap'}
  assert set(evals[0]) == names | {'step'}
  for name in names:
    assert 0.0 <= evals[0][name] <= 1.0, (name, evals[0][name])
  # Two untrained steps: Q knows little of the factors.
  assert evals[0]['eval_mig'] < 0.5


@pytest.mark.parametrize('config_module', [dsprites_config, shapes3d_config])
def test_dsprites_and_shapes3d_pipelines(config_module):
  """Under TFDS's mock data (the real sets cannot be downloaded here)."""
  config = config_module.get_config()
  config.download_data = 'always'  # the mocked download stands in for data
  with tfds.testing.mock_data(num_examples=16):
    shape = pipeline.image_shape(config)
    config_validation.check_image_shape(
        config, gan_lib.InfoGAN.from_config(config).image_shape(), shape)
    evaluators.check_dataset(config, pipeline.dataset_info(config))  # the factor features exist
    images, factors, sizes = pipeline.read_factors(config)
  assert images.shape == (16, *shape) and images.dtype == np.uint8
  assert factors.shape == (16, len(config.factor_keys))
  assert np.all((0 <= factors) & (factors < np.array(sizes)))
  want = {'dsprites': (3, 6, 40, 32, 32),
          'shapes3d': (10, 10, 10, 8, 4, 15)}[config.dataset]
  assert sizes == want
