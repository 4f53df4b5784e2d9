"""The five paper experiments: architectures, configs, data, a few steps each."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

import conftest

from infogan_jax.configs import celeba
from infogan_jax.configs import chairs3d
from infogan_jax.configs import faces3d
from infogan_jax.configs import mnist
from infogan_jax.configs import svhn
from infogan_jax import config_validation
from infogan_jax.data import pipeline
from infogan_jax import gan as gan_lib
from infogan_jax import codes
from infogan_jax import models
from infogan_jax import trainer
from infogan_jax import sharding


def dense(n_in, n_out, bias=True):
  return n_in * n_out + n_out * bias


def conv(n_in, n_out, bias=True, k=4):
  return k * k * n_in * n_out + n_out * bias


def bn(c):
  return 2 * c


# Parameter counts from the paper's Appendix C tables, per network part.
# Layers followed by batch norm carry no bias; the paper's kernels are 4x4.
def _svhn_like(codes_in, q_out):
  g = (dense(codes_in, 2 * 2 * 448, False) + bn(2 * 2 * 448) +
       conv(448, 256, False) + bn(256) + conv(256, 128) + conv(128, 64) +
       conv(64, 3))
  body = conv(3, 64) + conv(64, 128, False) + bn(128) + conv(128, 256, False) + (
      bn(256))
  flat = 4 * 4 * 256
  return dict(g=g, body=body, d_out=dense(flat, 1),
              q=dense(flat, 128, False) + bn(128) + dense(128, q_out))


EXPERIMENTS = {
    'mnist': (mnist.get_config, (28, 28, 1), dict(
        g=dense(74, 1024, False) + bn(1024) + dense(1024, 6272, False) +
        bn(6272) + conv(128, 64, False) + bn(64) + conv(64, 1),
        body=conv(1, 64) + conv(64, 128, False) + bn(128) +
        dense(6272, 1024, False) + bn(1024),
        d_out=dense(1024, 1),
        q=dense(1024, 128, False) + bn(128) + dense(128, 12))),
    # 124 noise + 4 x 10 categories + 4 continuous; Q: 40 logits + 4 means.
    'svhn': (svhn.get_config, (32, 32, 3), _svhn_like(168, 44)),
    # 128 noise + 10 x 10 categories; Q: 100 logits.
    'celeba': (celeba.get_config, (32, 32, 3), _svhn_like(228, 100)),
    # 128 noise + 5 continuous; D and Q share all but the output units.
    'faces3d': (faces3d.get_config, (32, 32, 1), dict(
        g=dense(133, 1024, False) + bn(1024) + dense(1024, 8192, False) +
        bn(8192) + conv(128, 64, False) + bn(64) + conv(64, 1),
        body=conv(1, 64) + conv(64, 128, False) + bn(128) +
        dense(8 * 8 * 128, 1024, False) + bn(1024),
        d_out=dense(1024, 1),
        q=dense(1024, 5))),
    # 128 noise + 3 x 20 categories + 1 continuous; Q: 60 logits + 1 mean.
    'chairs3d': (chairs3d.get_config, (64, 64, 1), dict(
        g=dense(189, 1024, False) + bn(1024) + dense(1024, 8 * 8 * 256, False) +
        bn(8 * 8 * 256) + 2 * (conv(256, 256, False) + bn(256)) +
        conv(256, 128, False) + bn(128) + conv(128, 64, False) + bn(64) +
        conv(64, 1),
        body=conv(1, 64) + conv(64, 128, False) + bn(128) +
        conv(128, 256, False) + bn(256) + 2 * (conv(256, 256, False) + bn(256))
        + dense(8 * 8 * 256, 1024, False) + bn(1024),
        d_out=dense(1024, 1),
        q=dense(1024, 61))),
}


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('name', sorted(EXPERIMENTS))
def test_parameter_counts_follow_the_paper(name):
  get_config, image_shape, want = EXPERIMENTS[name]
  model_config = get_config().model
  g, d = models.build_models(model_config)
  spec = codes.CodeSpec.from_config(model_config)
  g_params = jax.eval_shape(
      lambda: g.init(jax.random.key(0), jnp.zeros((1, spec.input_dim)), False)
  )['params']
  d_params = jax.eval_shape(
      lambda: d.init(jax.random.key(0), jnp.zeros((1, *image_shape)), False)
  )['params']
  assert _count(g_params) == want['g']
  assert _count(d_params['body']) == want['body']
  assert _count(d_params['d_out']) == want['d_out']
  assert _count(d_params.get('q_head', {})) + _count(d_params['q_out']) == (
      want['q'])
  assert gan_lib.InfoGAN.from_config(get_config()).image_shape() == image_shape


def _image_folder(root, n=12, size=(40, 36)):
  folder = root / 'train' / 'all'
  folder.mkdir(parents=True)
  rng = np.random.default_rng(0)
  for i in range(n):
    pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / f'{i}.png')
  return str(root)


def _tiny_run(config, workdir, steps=2):
  config.batch_size = 8
  config.num_train_steps = steps
  config.log_every_steps = 1
  config.sample_every_steps = steps
  config.checkpoint_every_steps = steps
  config.shuffle_buffer_size = 16
  config.sample_grid_columns = 2
  config.eval_batch_size = 8
  state = trainer.train_and_evaluate(config, str(workdir))
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  rows = [r for r in records if not any(k.startswith('eval_') for k in r)]
  evals = [r for r in records if r not in rows]
  # Only the MNIST experiment has labels to evaluate against, at the end.
  assert [r['step'] for r in evals] == ([steps] if config.evaluators else [])
  return state, rows


@pytest.fixture
def one_device(monkeypatch):
  """The trainer's mesh on one device. On the tests' eight fake CPU devices
  a step of these full-size networks takes ~10x longer (measured for
  chairs3d: 20-35 s against 2-3 s); sharding is the tiny config's tests' job.
  """
  conftest.train_on_one_device(monkeypatch)


@pytest.mark.usefixtures('one_device')
@pytest.mark.parametrize('name', sorted(EXPERIMENTS))
def test_each_experiment_trains_a_few_steps(name, tmp_path):
  get_config, image_shape, _ = EXPERIMENTS[name]
  config = get_config()
  if config.dataset == 'image_folder':
    config.image_folder = _image_folder(tmp_path / 'data')
    state, rows = _tiny_run(config, tmp_path / 'work')
  else:
    config.download_data = 'always'  # the mocked download stands in for data
    with tfds.testing.mock_data(num_examples=16):
      assert pipeline.image_shape(config) == image_shape
      state, rows = _tiny_run(config, tmp_path / 'work')
  assert int(state.step) == 2 and [r['step'] for r in rows] == [1, 2]
  for row in rows:
    assert all(np.isfinite(v) for v in row.values()), row
  low, high = models.output_range(config.model)
  assert (low, high) == ((-1.0, 1.0) if image_shape[-1] == 3 else (0.0, 1.0))
  spec = codes.CodeSpec.from_config(config.model)
  samples = os.listdir(tmp_path / 'work' / 'samples')
  assert len(samples) == len(spec.names)
  # With several codes of a type, each code's bound is logged on its own.
  per_code = {k for k in rows[-1] if k[-5:] == '_nats' and k[-6].isdigit()}
  n_cat, n_cont = spec.categorical.count, spec.continuous.count
  assert per_code == ({f'mi_cat{i}_nats' for i in range(n_cat)} if n_cat > 1
                      else set()) | ({f'mi_cont{i}_nats' for i in range(n_cont)}
                                     if n_cont > 1 else set())


def test_image_folder_is_converted_and_resized(tmp_path):
  config = faces3d.get_config()
  config.image_folder = _image_folder(tmp_path)
  config.batch_size = 8
  assert pipeline.image_shape(config) == (32, 32, 1)
  placement = sharding.stacked_data(sharding.make_mesh())
  batch = np.asarray(next(pipeline.create_train_iterator(
      config, placement, (0.0, 1.0)))[0])
  assert batch.shape == (8, 32, 32, 1)
  assert 0.0 <= batch.min() and batch.max() <= 1.0 and batch.std() > 0.01


def test_image_folder_missing_is_explained(tmp_path):
  config = chairs3d.get_config()
  config.image_folder = str(tmp_path / 'nowhere')
  with pytest.raises(pipeline.DataNotFoundError,
                     match='image_folder=DIR'):
    pipeline.image_shape(config)


def test_other_tfds_dataset_with_an_existing_architecture(tmp_path):
  config = mnist.get_config()
  config.dataset = 'fashion_mnist'
  config.download_data = 'always'
  with tfds.testing.mock_data(num_examples=16):
    shape = pipeline.image_shape(config)
    generated = gan_lib.InfoGAN.from_config(config).image_shape()
    config_validation.check_image_shape(config, generated, shape)  # no error
    config.dataset = 'svhn_cropped'
    with pytest.raises(config_validation.ConfigError,
                       match=r'\(32, 32, 3\) but config.model.generator'):
      config_validation.check_image_shape(config, generated,
                                          pipeline.image_shape(config))


def test_variants_set_the_paper_tables():
  width = chairs3d.get_config('width')
  assert (width.lambda_continuous, width.lambda_categorical) == (0.05, 2.0)
  elevation = faces3d.get_config('elevation')
  assert (elevation.d_learning_rate, elevation.g_learning_rate,
          elevation.lambda_continuous) == (4e-4, 3e-4, 0.1)
  with pytest.raises(ValueError, match='one of rotation, width'):
    chairs3d.get_config('height')


def test_image_folder_keeps_rgb_when_channels_unset(tmp_path):
  config = faces3d.get_config()
  config.image_folder = _image_folder(tmp_path)
  config.image_channels = 0
  assert pipeline.image_shape(config) == (32, 32, 3)
