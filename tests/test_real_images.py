"""Q on real images (beyond the paper): the real-data information and the
consistency terms, the deformation behind the second, the label-free
selection criteria, and a guard that labels reach neither training nor
selection."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

import conftest

from infogan_jax import augment
from infogan_jax.evaluators import criteria
from infogan_jax.data import pipeline
from infogan_jax import codes
from infogan_jax import losses
from infogan_jax import selection
from infogan_jax import trainer
from infogan_jax import step as step_lib

SPEC = codes.CodeSpec(3, (codes.Categorical((4,)), codes.Continuous(1)))


def _q_out(logits):
  """Q's output for SPEC: the categorical logits, then one continuous mean."""
  logits = jnp.asarray(logits, jnp.float32)
  return jnp.concatenate([logits, jnp.zeros((len(logits), 1))], -1)


# --------------------------------------------------------------- the terms


def test_real_information_on_hand_made_posteriors():
  certain_and_spread = _q_out(50.0 * jnp.eye(4))
  assert float(losses.real_information(SPEC, certain_and_spread)) == (
      pytest.approx(math.log(4), abs=1e-4))
  # Certain, but every image in category 0: nothing is told apart.
  all_one = _q_out(50.0 * np.eye(4)[[0, 0, 0, 0]])
  assert float(losses.real_information(SPEC, all_one)) == pytest.approx(
      0.0, abs=1e-4)
  # Spread but unsure: each posterior uniform.
  assert float(losses.real_information(SPEC, _q_out(jnp.zeros((4, 4))))) == (
      pytest.approx(0.0, abs=1e-6))
  # Two categories used, each image certain: ln 2.
  two = _q_out(50.0 * np.eye(4)[[0, 1, 0, 1]])
  assert float(losses.real_information(SPEC, two)) == pytest.approx(
      math.log(2), abs=1e-4)


def test_real_information_sums_over_categorical_codes():
  spec = codes.CodeSpec(2, (codes.Categorical((2, 3)), codes.Continuous(0)))
  q_out = jnp.concatenate([50.0 * np.eye(2)[[0, 1, 0, 1, 0, 1]],
                           50.0 * np.eye(3)[[0, 1, 2, 0, 1, 2]]], -1)
  assert float(losses.real_information(spec, q_out)) == pytest.approx(
      math.log(2) + math.log(3), abs=1e-4)


def test_real_information_gradient_is_finite_for_certain_posteriors():
  # Logits far apart make probabilities underflow to exactly 0.
  logits = jnp.array([[1e4, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1e4]])
  grad = jax.grad(lambda l: losses.real_information(SPEC, _q_out(l)))(logits)
  assert np.isfinite(np.asarray(grad)).all()


def test_consistency_on_hand_made_posteriors():
  sure = _q_out([[50.0, 0.0, 0.0, 0.0]])
  unsure = _q_out([[0.0, 0.0, 0.0, 0.0]])
  assert float(losses.consistency(SPEC, sure, sure)) == pytest.approx(
      0.0, abs=1e-6)
  # KL(one-hot || uniform over 4) = ln 4.
  assert float(losses.consistency(SPEC, sure, unsure)) == pytest.approx(
      math.log(4), abs=1e-4)
  # The original image's posterior is the target: no gradient flows into it.
  grad_target, grad_moved = jax.grad(
      lambda a, b: losses.consistency(SPEC, a, b), argnums=(0, 1))(sure,
                                                                   unsure)
  assert float(jnp.abs(grad_target).sum()) == 0
  assert float(jnp.abs(grad_moved).sum()) > 0


def test_paired_information_on_hand_made_posteriors():
  sure = 50.0 * jnp.eye(4)  # four images, one certain category each
  # Both copies in the same category, all four used evenly: ln 4.
  assert float(losses.paired_information(
      SPEC, _q_out(sure), _q_out(sure))) == pytest.approx(math.log(4),
                                                          abs=1e-4)
  # The copies' categories independent of each other: 0.
  uniform = _q_out(jnp.zeros((4, 4)))
  assert float(losses.paired_information(
      SPEC, _q_out(sure), uniform)) == pytest.approx(0.0, abs=1e-6)
  # Every image in one category, on both copies: 0 (nothing to tell apart).
  one = _q_out(50.0 * jnp.eye(4)[jnp.array([0, 0, 0, 0])])
  assert float(losses.paired_information(SPEC, one, one)) == pytest.approx(
      0.0, abs=1e-6)
  # Two categories, each copy certain and in the same one: ln 2. Swapping
  # the two copies gives the same value (P is made symmetric).
  two = _q_out(50.0 * jnp.eye(4)[jnp.array([0, 1, 0, 1])])
  moved = _q_out(50.0 * jnp.eye(4)[jnp.array([0, 1, 1, 1])])
  assert float(losses.paired_information(SPEC, two, two)) == pytest.approx(
      math.log(2), abs=1e-4)
  assert float(losses.paired_information(SPEC, two, moved)) == pytest.approx(
      float(losses.paired_information(SPEC, moved, two)), abs=1e-6)
  assert float(losses.paired_information(SPEC, two, moved)) < math.log(2)
  # Gradients reach both copies, and stay finite where P has zeros.
  paired_grads = jax.grad(lambda a, b: losses.paired_information(SPEC, a, b),
                          argnums=(0, 1))
  for grad in paired_grads(_q_out(jnp.eye(4)), _q_out(jnp.eye(4)[::-1])):
    assert float(jnp.abs(grad).sum()) > 0
  for grad in paired_grads(_q_out(1e4 * jnp.eye(4)),
                           _q_out(1e4 * jnp.eye(4)[::-1])):
    assert np.isfinite(np.asarray(grad)).all()


def test_categorical_paired_information_of_more_categories():
  # Eight images in eight of fifty categories, both copies certain: ln 8,
  # whatever the unused categories.
  sure = 50.0 * jnp.eye(50)[:8]
  assert float(losses.categorical_paired_information(sure, sure)) == (
      pytest.approx(math.log(8), abs=1e-4))
  # The copies of each image in categories that pair up one to one (a
  # relabelling) carry the same information; the paired information over
  # codes is this sum.
  assert float(losses.categorical_paired_information(
      sure, sure[::-1])) == pytest.approx(math.log(8), abs=1e-4)
  a = jax.random.normal(jax.random.key(0), (6, 4))
  b = jax.random.normal(jax.random.key(1), (6, 4))
  assert float(losses.paired_information(SPEC, _q_out(a), _q_out(b))) == (
      pytest.approx(float(losses.categorical_paired_information(a, b)),
                    abs=1e-6))


def _real_data_grads(config, lambda_real_information, lambda_consistency,
                     lambda_paired_information=0.0, lambda_overcluster=0.0):
  config.lambda_real_information = lambda_real_information
  config.lambda_consistency = lambda_consistency
  config.lambda_paired_information = lambda_paired_information
  config.lambda_overcluster = lambda_overcluster
  config.model.overcluster_categories = 12 if lambda_overcluster else 0
  gan = step_lib.TrainStep.from_config(config)
  state = gan.init(0, (28, 28, 1))
  images = jax.random.uniform(jax.random.key(1), (8, 28, 28, 1))

  def loss(params):
    _, q_out, _, overcluster = gan.gan.discriminate(
        {'params': params, 'batch_stats': state.d.batch_stats}, images)
    return gan.real_data_terms(params, state.d.batch_stats, q_out,
                               overcluster, images, jax.random.key(2))

  (value, metrics), grads = jax.value_and_grad(loss, has_aux=True)(
      state.d.params)
  return value, metrics, grads


def _norm(tree):
  return float(sum(jnp.abs(x).sum() for x in jax.tree.leaves(tree)))


@pytest.mark.parametrize(
    'weights', [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)],
    ids=['real_information', 'consistency', 'paired_information'])
def test_each_term_trains_q_and_the_shared_body(config, weights):
  value, metrics, grads = _real_data_grads(config, *weights)
  assert float(value) != 0
  for layer in grads['body'].values():
    assert _norm(layer) > 0
  assert _norm(grads['q_head']) > 0 and _norm(grads['q_out']) > 0
  assert _norm(grads['d_out']) == 0  # D's real/fake logit plays no part
  assert ('q_consistency_nats' in metrics) == bool(weights[1])
  assert ('q_paired_information_nats' in metrics) == bool(weights[2])
  assert 'overcluster_out' not in grads


def test_the_overclustering_term_trains_its_head_and_the_shared_body(config):
  value, metrics, grads = _real_data_grads(config, 0.0, 0.0, 0.0, 1.0)
  paired = float(metrics['overcluster_paired_information_nats'])
  assert float(value) == pytest.approx(-paired)
  assert 0 < paired <= math.log(12) + 1e-5  # at most ln K'
  # A linear head on the body's features, beside D's logit.
  assert grads['overcluster_out']['kernel'].shape == (
      grads['d_out']['kernel'].shape[0], 12)
  for layer in grads['body'].values():
    assert _norm(layer) > 0
  assert _norm(grads['overcluster_out']) > 0
  # Q's head and D's logit play no part.
  assert _norm(grads['q_head']) == 0 and _norm(grads['q_out']) == 0
  assert _norm(grads['d_out']) == 0
  assert 'q_paired_information_nats' not in metrics


def test_an_overclustering_head_leaves_the_other_parameters_as_they_were(
    config):
  """Adding the head adds its own parameters and draws nothing else anew."""
  plain = step_lib.TrainStep.from_config(config).init(0, (28, 28, 1))
  config.model.overcluster_categories = 50
  config.lambda_overcluster = 1.0
  with_head = step_lib.TrainStep.from_config(config).init(0, (28, 28, 1))
  head = with_head.d.params.pop('overcluster_out')
  assert head['kernel'].shape == (plain.d.params['d_out']['kernel'].shape[0],
                                  50)
  assert jax.tree.all(jax.tree.map(
      lambda a, b: bool(jnp.array_equal(a, b)),
      (plain.d.params, plain.g.params), (with_head.d.params,
                                         with_head.g.params)))


def test_terms_are_zero_when_their_lambdas_are(config):
  value, metrics, grads = _real_data_grads(config, 0.0, 0.0, 0.0)
  assert float(value) == 0 and _norm(grads) == 0
  # The real-data information is still measured.
  assert float(metrics['q_real_information_nats']) > 0
  assert 'q_consistency_nats' not in metrics
  assert 'q_paired_information_nats' not in metrics
  assert 'overcluster_paired_information_nats' not in metrics


def test_a_step_with_zero_lambdas_is_the_papers_step(config):
  """Weights of 0 leave every parameter bitwise as without the terms."""
  def step(**fields):
    c = config.copy_and_resolve_references()
    for name, value in fields.items():
      c[name] = value
    gan = step_lib.TrainStep.from_config(c)
    images = jax.random.uniform(jax.random.key(3), (8, 28, 28, 1))
    return jax.jit(lambda s, x: step_lib.train_step(gan, s, x))(
        gan.init(0, (28, 28, 1)), images)

  paper, _ = step()
  zero, _ = step(lambda_real_information=0.0, lambda_consistency=0.0,
                 lambda_paired_information=0.0)
  on, _ = step(lambda_real_information=1.0)
  same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), paper.d.params,
                      zero.d.params)
  assert all(jax.tree.leaves(same))
  assert not all(jax.tree.leaves(jax.tree.map(
      lambda a, b: bool(jnp.array_equal(a, b)), paper.d.params, on.d.params)))


def test_a_step_trains_the_overclustering_head(config):
  config.model.overcluster_categories = 10
  config.lambda_overcluster = 1.0
  gan = step_lib.TrainStep.from_config(config)
  state = gan.init(0, (28, 28, 1))
  # A head far from its near-uniform start, so that the term is large
  # enough to tell the real batch from the fakes.
  head = dict(state.d.params['overcluster_out'])
  head['kernel'] = 30 * jax.random.normal(jax.random.key(4),
                                          head['kernel'].shape)
  state = state.replace(d=state.d.replace(
      params={**state.d.params, 'overcluster_out': head}))
  images = jax.random.uniform(jax.random.key(3), (8, 28, 28, 1))
  new, metrics = jax.jit(lambda s, x: step_lib.train_step(gan, s, x))(
      state, images)
  # The term is the head's on the real batch (and its deformed copies, drawn
  # with the step's key), not on the fakes.
  d_key, _ = jax.random.split(jax.random.fold_in(
      jax.random.wrap_key_data(state.key), state.step))
  _, q_out, _, real_overcluster = gan.gan.discriminate(state.d.variables(),
                                                       images)
  _, expected = gan.real_data_terms(state.d.params, state.d.batch_stats,
                                    q_out, real_overcluster, images,
                                    jax.random.fold_in(d_key, 1))
  assert float(metrics['overcluster_paired_information_nats']) == (
      pytest.approx(float(expected['overcluster_paired_information_nats']),
                    rel=1e-4))
  assert not jnp.array_equal(new.d.params['overcluster_out']['kernel'],
                             state.d.params['overcluster_out']['kernel'])


# ---------------------------------------------------------- the deformation


def _digit_like(key, n=6):
  """Blobs of ink inside a 28x28 frame, in [0, 1]."""
  ys, xs = np.mgrid[:28, :28]
  centres = np.asarray(jax.random.uniform(key, (n, 2), minval=10, maxval=18))
  blobs = [np.exp(-((ys - cy)**2 + (xs - cx)**2) / 12.0) for cy, cx in centres]
  return jnp.asarray(np.stack(blobs)[..., None], jnp.float32)


@pytest.mark.parametrize('value_range', [(0.0, 1.0), (-1.0, 1.0)])
def test_transform_stays_in_the_value_range(value_range):
  low, high = value_range
  images = jax.random.uniform(jax.random.key(0), (8, 28, 28, 3),
                              minval=low, maxval=high)
  strong = augment.Deformation(max_shift=6.0, max_rotation=45.0,
                               elastic_std=3.0)
  out = augment.transform(jax.random.key(1), images, value_range, strong)
  assert out.shape == images.shape and out.dtype == images.dtype
  assert float(out.min()) >= low and float(out.max()) <= high
  # What moves in from outside the frame is background (the range's low).
  shifted = augment.transform(
      jax.random.key(2), jnp.full((4, 28, 28, 1), high), value_range,
      augment.Deformation(max_shift=6.0, max_rotation=0.0, elastic_std=0.0))
  assert float(shifted.min()) < high


def test_transform_is_determined_by_its_key():
  images = _digit_like(jax.random.key(0))
  a = augment.transform(jax.random.key(7), images, (0.0, 1.0))
  b = augment.transform(jax.random.key(7), images, (0.0, 1.0))
  c = augment.transform(jax.random.key(8), images, (0.0, 1.0))
  assert np.array_equal(np.asarray(a), np.asarray(b))
  assert not np.array_equal(np.asarray(a), np.asarray(c))
  # Each image gets its own deformation.
  same = jnp.broadcast_to(images[:1], images.shape)
  moved = augment.transform(jax.random.key(7), same, (0.0, 1.0))
  assert not np.allclose(np.asarray(moved[0]), np.asarray(moved[1]))


NONE = dict(max_shift=0.0, max_rotation=0.0, elastic_std=0.0)


def test_shear_slants_a_vertical_bar_and_leaves_the_other_draws():
  bar = jnp.zeros((16, 28, 28, 1)).at[:, 4:24, 13:15].set(1.0)
  slanted = augment.transform(jax.random.key(3), bar, (0.0, 1.0),
                              augment.Deformation(max_shear=0.4, **NONE))
  xs = jnp.arange(28.0)[None, None, :, None]

  def centre_x(rows):
    part = slanted[:, rows]
    return np.asarray((part * xs).sum((1, 2, 3)) / part.sum((1, 2, 3)))

  # x moves by shear * (y - 13.5): the bar's top (rows 6-9) and bottom
  # (rows 18-21) move apart by 12 x shear, |shear| <= 0.4.
  slope = (centre_x(slice(18, 22)) - centre_x(slice(6, 10))) / 12
  assert np.all(np.abs(slope) <= 0.4 + 0.02)
  assert np.abs(slope).max() > 0.1 and slope.min() < 0 < slope.max()
  # The shift, rotation and bending draws are those without a shear.
  images = _digit_like(jax.random.key(0))
  plain = augment.transform(jax.random.key(5), images, (0.0, 1.0))
  with_zero = augment.transform(jax.random.key(5), images, (0.0, 1.0),
                                augment.Deformation(max_shear=0.0,
                                                    max_stroke=0.0))
  np.testing.assert_array_equal(np.asarray(plain), np.asarray(with_zero))


def test_stroke_change_thickens_or_thins_within_the_value_range():
  images = jnp.broadcast_to(_digit_like(jax.random.key(0))[:1],
                            (32, 28, 28, 1))
  changed = augment.transform(jax.random.key(4), images, (0.0, 1.0),
                              augment.Deformation(max_stroke=1.0, **NONE))
  assert float(changed.min()) >= 0.0 and float(changed.max()) <= 1.0
  ink = np.asarray(changed.sum((1, 2, 3)))
  original = float(images[0].sum())
  thickest = float(jax.lax.reduce_window(
      images[0], -jnp.inf, jax.lax.max, (3, 3, 1), (1, 1, 1), 'SAME').sum())
  thinnest = float(jax.lax.reduce_window(
      images[0], jnp.inf, jax.lax.min, (3, 3, 1), (1, 1, 1), 'SAME').sum())
  # Some copies thicker, some thinner, none past the 3x3 dilation/erosion.
  assert ink.max() > original * 1.05 and ink.min() < original * 0.95
  assert np.all(ink <= thickest + 1e-3) and np.all(ink >= thinnest - 1e-3)


def test_transform_is_small_and_none_is_identity():
  images = _digit_like(jax.random.key(0))
  none = augment.Deformation(max_shift=0.0, max_rotation=0.0, elastic_std=0.0)
  same = augment.transform(jax.random.key(1), images, (0.0, 1.0), none)
  np.testing.assert_allclose(np.asarray(same), np.asarray(images), atol=1e-5)
  moved = augment.transform(jax.random.key(1), images, (0.0, 1.0))
  assert float(jnp.abs(moved - images).max()) > 0.05
  # The default deformation keeps the ink (the blobs stay inside the frame)
  # and moves each blob's centre by a few pixels at most.
  ink, moved_ink = images.sum((1, 2, 3)), moved.sum((1, 2, 3))
  np.testing.assert_allclose(np.asarray(moved_ink), np.asarray(ink), rtol=0.1)
  ys = jnp.arange(28.0)[None, :, None, None]
  centre = (images * ys).sum((1, 2, 3)) / ink
  moved_centre = (moved * ys).sum((1, 2, 3)) / moved_ink
  assert float(jnp.abs(centre - moved_centre).max()) < 4.0


# ---------------------------------------------------- label-free selection


def _posterior(assignments, k=10, certainty=0.9):
  p = np.full((len(assignments), k), (1 - certainty) / (k - 1))
  p[np.arange(len(assignments)), assignments] = certainty
  return p


def test_selection_criteria_on_synthetic_posteriors():
  rng = np.random.default_rng(0)
  truth = rng.integers(0, 10, 2000)
  good = _posterior(truth)
  merged = _posterior(np.where(truth == 9, 4, truth))  # 4 and 9 share
  unsure = _posterior(truth, certainty=0.4)
  assert criteria.real_information(good) > criteria.real_information(merged)
  assert criteria.real_information(good) > criteria.real_information(unsure)
  assert criteria.real_information(good) == pytest.approx(
      math.log(10) - float(-np.sum(good[0] * np.log(good[0]))), abs=0.01)
  assert criteria.confidence(good) == pytest.approx(0.9)
  assert criteria.confidence(unsure) == pytest.approx(0.4)
  # Two restarts find the same partition (relabelled), a third merges two
  # classes and splits another: agreement singles it out.
  relabelled = (truth + 3) % 10
  odd = np.where(truth == 9, 4, truth)
  odd = np.where((truth == 1) & (rng.random(len(truth)) < 0.5), 9, odd)
  scores = criteria.agreement([truth, relabelled, odd])
  assert scores[2] < scores[0] and scores[2] < scores[1]
  assert scores[0] == pytest.approx(scores[1])
  # good and unsure share their partition; merged stands alone.
  picks = criteria.choose(criteria.scores([merged, good, unsure]))
  assert picks['real_information'] == 1 and picks['agreement'] == 1


def test_comparison_with_labels_reads_the_logged_accuracy(tmp_path):
  workdirs = []
  for i, accuracy in enumerate([0.7, 0.9]):
    workdir = tmp_path / f'run{i}'
    workdir.mkdir()
    # A training record at the step, an evaluation before it, then its own.
    (workdir / 'metrics.jsonl').write_text(
        '{"step": 500, "d_loss": 1.0}\n'
        '{"step": 400, "eval_accuracy": 0.1}\n'
        f'{{"step": 500, "eval_accuracy": {accuracy}}}\n')
    workdirs.append(str(workdir))
  report = {'runs': [{'workdir': w, 'step': 500} for w in workdirs],
            'chosen': {'a': workdirs[0], 'b': workdirs[1]}}
  compared = selection.compare_with_labels(report)
  assert [r['logged_test_accuracy'] for r in compared['runs']] == [0.7, 0.9]
  assert compared['chosen_by_labels'] == workdirs[1]
  assert compared['same_as_labels'] == {'a': False, 'b': True}


def test_choose_takes_the_highest_score():
  table = {'a': np.array([0.1, 0.7, 0.3]), 'b': np.array([2.0, 1.0, 3.0])}
  assert criteria.choose(table) == {'a': 1, 'b': 2}


# ------------------------------------------------------ no label reaches it


def test_no_label_reaches_training_or_selection(config, tmp_path,
                                                monkeypatch):
  """Two restarts train and one is selected from a dataset whose examples
  have no label at all."""
  conftest.remove_labels(monkeypatch)
  config.download_data = 'always'  # TFDS's mocked download stands in for data
  config.num_train_steps = 2
  config.checkpoint_every_steps = 1
  config.log_every_steps = 1
  config.sample_every_steps = 1
  config.lambda_real_information = 1.0
  config.lambda_consistency = 1.0
  workdirs = [str(tmp_path / f'restart{seed}') for seed in (0, 1)]
  with tfds.testing.mock_data(num_examples=64):
    for seed, workdir in enumerate(workdirs):
      config.seed = seed
      assert int(trainer.train_and_evaluate(config, workdir).step) == 2
    images = selection.training_images(config, 10)
    report = selection.select(workdirs, num_images=24)
    early = selection.select(workdirs, num_images=24, step=1)
  # The selection's input is images, nothing else.
  assert isinstance(images, np.ndarray) and images.shape == (10, 28, 28, 1)
  assert report['num_images'] == 24
  assert [r['workdir'] for r in report['runs']] == workdirs
  for run in report['runs']:
    assert run['step'] == 2
    assert 0 <= run['real_information'] <= math.log(10) + 1e-6
    assert 0.1 - 1e-6 <= run['confidence'] <= 1
  assert [r['step'] for r in early['runs']] == [1, 1]
  # Agreement needs a third restart.
  assert set(report['chosen']) == {'real_information', 'confidence'}
  with pytest.raises(ValueError, match='at least 3 runs'):
    criteria.agreement([np.zeros(4), np.ones(4)])
  assert set(report['chosen'].values()) <= set(workdirs)
