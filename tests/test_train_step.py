"""The jitted train step: metrics, determinism, and 8 devices == 1 device."""

import dataclasses

import jax
import numpy as np
import optax
import pytest

from infogan_jax import step as step_lib
from infogan_jax import sharding
from infogan_jax.data import device as device_data


def _run(config, devices, images, steps=2):
  mesh = sharding.make_mesh(devices)
  gan = step_lib.TrainStep.from_config(config)
  state = step_lib.create_state(gan, config.seed, (28, 28, 1), mesh)
  step_fn = step_lib.jit_train_step(gan, mesh)
  data = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  metrics = None
  for _ in range(steps):
    state, metrics = step_fn(state, jax.device_put(images, data))
  return state, metrics


@pytest.fixture(scope='module')
def images():
  return np.random.default_rng(0).uniform(size=(16, 28, 28, 1)).astype(
      np.float32)


def _sgd_update(config, devices, images):
  """Parameter change of one step under SGD(1): the gradients themselves."""
  mesh = sharding.make_mesh(devices)
  gan = step_lib.TrainStep.from_config(config)
  gan = dataclasses.replace(gan, g_tx=optax.sgd(1.0), d_tx=optax.sgd(1.0))
  state = step_lib.create_state(gan, config.seed, (28, 28, 1), mesh)
  before = jax.device_get(state)
  after, metrics = step_lib.jit_train_step(gan, mesh)(state, images)
  assert len(after.d.params['body']['Conv_0']['kernel'].sharding.device_set
            ) == len(devices)
  delta = jax.tree.map(lambda a, b: np.asarray(a, np.float64) - b,
                       jax.device_get(after), before)
  return delta, jax.device_get(metrics)


def test_eight_devices_equal_one(config, images):
  assert jax.device_count() == 8
  one, m1 = _sgd_update(config, jax.devices()[:1], images)
  eight, m8 = _sgd_update(config, jax.devices(), images)
  for key in m1:
    np.testing.assert_allclose(m1[key], m8[key], rtol=1e-4, atol=1e-6)
  # Float32 reductions in another order, amplified by batch norm over 16
  # images, leave relative differences near 1e-3 in G's gradients (1e-5 with
  # x64); a real sharding bug (e.g. per-device BN statistics) is O(1).
  for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(one),
                          jax.tree.leaves(eight)):
    scale = np.linalg.norm(a)
    assert np.linalg.norm(a - b) <= 1e-2 * scale + 1e-7, (
        jax.tree_util.keystr(path))


def test_metrics_and_step(config, images):
  state, metrics = _run(config, jax.devices(), images, steps=3)
  assert int(state.step) == 3
  assert set(metrics) >= {'d_loss', 'g_loss', 'mi_cat_nats', 'mi_cont_nats',
                          'd_real', 'd_fake'}
  # Constants are not emitted by the step (H(c) comes from the config).
  assert 'h_cat_nats' not in metrics
  assert float(metrics['mi_cat_nats']) <= np.log(10) + 1e-5
  assert 0 < float(metrics['d_real']) < 1 and 0 < float(metrics['d_fake']) < 1
  # The MI term is subtracted from D's loss with lambda 1 per code type.
  assert float(metrics['d_loss']) == pytest.approx(
      float(metrics['d_loss_gan'] - metrics['mi_cat_nats'] -
            metrics['mi_cont_nats']), abs=1e-5)
  for x in jax.tree.leaves(state):
    assert np.all(np.isfinite(np.asarray(x)))


def test_same_seed_same_result_other_seed_differs(config, images):
  a, _ = _run(config, jax.devices(), images)
  b, _ = _run(config, jax.devices(), images)
  config.seed = 1
  c, _ = _run(config, jax.devices(), images)
  ka = a.g.params['Dense_0']['kernel']
  np.testing.assert_array_equal(ka, b.g.params['Dense_0']['kernel'])
  assert not np.allclose(ka, c.g.params['Dense_0']['kernel'])


def test_state_is_donated(config, images):
  mesh = sharding.make_mesh()
  gan = step_lib.TrainStep.from_config(config)
  state = step_lib.create_state(gan, 0, (28, 28, 1), mesh)
  step_fn = step_lib.jit_train_step(gan, mesh)
  kernel = state.g.params['Dense_0']['kernel']
  step_fn(state, images)
  assert kernel.is_deleted()


def test_scanned_steps_equal_single_steps(config, images):
  mesh = sharding.make_mesh()
  gan = step_lib.TrainStep.from_config(config)
  rng = np.random.default_rng(1)
  batches = rng.uniform(size=(3, *images.shape)).astype(np.float32)

  single = step_lib.create_state(gan, 0, (28, 28, 1), mesh)
  step_fn = step_lib.jit_train_step(gan, mesh)
  single_metrics = []
  for batch in batches:
    single, metrics = step_fn(single, batch)
    single_metrics.append(metrics)

  scanned = step_lib.create_state(gan, 0, (28, 28, 1), mesh)
  scanned, stacked = step_lib.jit_train_steps(gan, mesh, 3, 16)(
      scanned, batches)
  assert int(scanned.step) == 3
  for key in single_metrics[0]:
    np.testing.assert_allclose(stacked[key],
                               [m[key] for m in single_metrics],
                               rtol=1e-4, atol=1e-5)
  for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(scanned)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _device_dataset(n):
  images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
  return device_data.DeviceDataset(
      images=images, key=jax.random.key_data(jax.random.key(7)))


def test_device_dataset_draws_each_example_once_per_epoch():
  dataset = _device_dataset(50)  # 3 batches of 16 per epoch, 2 dropped
  batch = jax.jit(dataset.batch, static_argnums=1)
  epochs = [[np.asarray(batch(step, 16)).ravel()
             for step in range(3 * e, 3 * e + 3)] for e in range(2)]
  for epoch in epochs:
    drawn = np.concatenate(epoch)
    assert len(set(drawn)) == 48 and set(drawn) <= set(range(50))
  assert not np.array_equal(epochs[0][0], epochs[1][0])  # a new order
  # A pure function of the step: the same step gives the same batch.
  np.testing.assert_array_equal(np.ravel(batch(4, 16)), epochs[1][1])


def test_device_data_steps_equal_steps_on_the_same_batches(config):
  """Drawing batches inside the step changes nothing but where they come from."""
  mesh = sharding.make_mesh()
  gan = step_lib.TrainStep.from_config(config)
  rng = np.random.default_rng(2)
  dataset = device_data.DeviceDataset(
      images=rng.uniform(size=(40, 28, 28, 1)).astype(np.float32),
      key=jax.random.key_data(jax.random.key(3)))
  batches = np.stack([dataset.batch(step, 16) for step in range(2)])

  fed = step_lib.create_state(gan, 0, (28, 28, 1), mesh)
  fed, _ = step_lib.jit_train_steps(gan, mesh, 2, 16)(fed, batches)
  drawn = step_lib.create_state(gan, 0, (28, 28, 1), mesh)
  drawn, _ = step_lib.jit_train_steps(
      gan, mesh, 2, 16, data_on_device=True)(drawn, dataset)
  for a, b in zip(jax.tree.leaves(fed), jax.tree.leaves(drawn)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_gan_baseline_drops_the_mi_term_from_g_only(config, images):
  """mi_in_generator_loss=False: G's loss is the GAN loss, D's keeps L_I."""
  devices = jax.devices()[:1]
  config.mi_in_generator_loss = False
  _, baseline = _run(config, devices, images, steps=1)
  assert float(baseline['g_loss']) == float(baseline['g_loss_gan'])
  mi = float(baseline['mi_cat_nats']) + float(baseline['mi_cont_nats'])
  np.testing.assert_allclose(float(baseline['d_loss']),
                             float(baseline['d_loss_gan']) - mi, rtol=1e-5)
  config.mi_in_generator_loss = True
  _, infogan = _run(config, devices, images, steps=1)
  assert float(infogan['g_loss']) != float(infogan['g_loss_gan'])
  # Same seed, same D half: the two runs differ only in G's loss.
  assert float(infogan['d_loss']) == float(baseline['d_loss'])
