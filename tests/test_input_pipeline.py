"""Input: global sharded batches in G's range, and the offline build route."""

import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from infogan_jax.data import pipeline
from infogan_jax import sharding

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _first_batch(config, value_range):
  placement = sharding.stacked_data(sharding.make_mesh())
  return next(pipeline.create_train_iterator(config, placement,
                                                   value_range))[0]


@pytest.mark.parametrize('value_range', [(0.0, 1.0), (-1.0, 1.0)])
def test_global_sharded_batches_in_range(config, value_range):
  config.download_data = 'always'
  with tfds.testing.mock_data(num_examples=40):
    batch = _first_batch(config, value_range)
  assert batch.shape == (16, 28, 28, 1) and batch.dtype == np.float32
  assert len(batch.sharding.device_set) == jax.device_count()
  assert batch.sharding.spec == jax.sharding.PartitionSpec('data')
  values = np.asarray(batch)
  assert values.min() >= value_range[0] and values.max() <= value_range[1]
  assert values.min() < value_range[0] + 0.1 < value_range[1] - 0.1 < (
      values.max())


def test_order_depends_only_on_the_step(config):
  """A resumed iterator continues the uninterrupted order, across epochs."""
  config.download_data = 'always'
  config.shuffle_buffer_size = 8  # each epoch of 24 in its own order
  placement = sharding.stacked_data(sharding.make_mesh())

  def batches(start_step, n):
    it = pipeline.create_train_iterator(
        config, placement, (0.0, 1.0), start_step=start_step)
    return [np.asarray(next(it))[0] for _ in range(n)]

  with tfds.testing.mock_data(num_examples=24):
    whole = batches(0, 6)  # 96 images: four epochs of 24
    for start in (1, 2, 4):  # step 1 straddles epochs 0 and 1
      np.testing.assert_array_equal(np.stack(batches(start, 2)),
                                    np.stack(whole[start:start + 2]))
  flat = np.stack(whole).reshape(4, 24, -1)
  assert not np.array_equal(flat[0], flat[1])  # epochs are reshuffled
  for epoch in flat[1:]:  # each a permutation of the same 24 images
    np.testing.assert_array_equal(np.sort(epoch, axis=0),
                                  np.sort(flat[0], axis=0))


def test_data_dir_from_config_or_environment(monkeypatch):
  monkeypatch.setenv('TFDS_DATA_DIR', '/from/env')
  assert pipeline.resolve_data_dir('') == '/from/env'
  assert pipeline.resolve_data_dir('/from/config') == '/from/config'
  monkeypatch.delenv('TFDS_DATA_DIR')
  assert pipeline.resolve_data_dir('') is None


@pytest.fixture
def mnist_manual_dir():
  """The four original MNIST files: required in CI, skipped elsewhere."""
  path = os.environ.get('MNIST_MANUAL_DIR') or os.path.join(
      REPO, '..', 'shared', 'downloads', 'mnist')
  if os.path.exists(os.path.join(path, 'train-images-idx3-ubyte.gz')):
    return path
  if os.environ.get('CI'):
    pytest.fail(f'CI needs the original MNIST files in {path}')
  pytest.skip('no original MNIST files')


@pytest.mark.slow
def test_offline_build_from_original_files(config, mnist_manual_dir, tmp_path):
  tfds_cli = shutil.which('tfds', path=os.path.dirname(sys.executable))
  assert tfds_cli, "the 'prepare' extra installs the tfds command"
  data_dir = tmp_path / 'data'
  result = subprocess.run(
      [tfds_cli, 'build', 'mnist', f'--manual_dir={mnist_manual_dir}',
       f'--data_dir={data_dir}'], capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  config.data_dir = str(data_dir)
  assert pipeline.image_shape(config) == (28, 28, 1)
  batch = np.asarray(_first_batch(config, (0.0, 1.0)))
  assert batch.shape == (16, 28, 28, 1)
  # Real digits: mostly black background with some white strokes.
  assert 0.05 < batch.mean() < 0.25 and batch.max() == 1.0


def test_device_dataset_holds_the_pipelines_images(config):
  config.download_data = 'always'
  config.batch_size = 8
  replicated = sharding.replicated(sharding.make_mesh())
  with tfds.testing.mock_data(num_examples=24):
    dataset = pipeline.load_device_dataset(config, replicated,
                                                 (-1.0, 1.0))
    config.shuffle_buffer_size = 1  # the pipeline's order, unshuffled
    config.steps_per_call = 3
    placement = sharding.stacked_data(sharding.make_mesh())
    epoch = np.asarray(next(pipeline.create_train_iterator(
        config, placement, (-1.0, 1.0), steps_per_call=3)))
  assert dataset.images.shape == (24, 28, 28, 1)
  assert dataset.images.sharding.is_fully_replicated
  # The same 24 preprocessed images, in whatever order each path reads them.
  def by_content(images):
    images = np.asarray(images).reshape(len(images), -1)
    return images[np.lexsort(images.T[::-1])]
  np.testing.assert_allclose(by_content(dataset.images),
                             by_content(epoch.reshape(24, 28, 28, 1)))


def _distinct_images(tfds_module, ds):
  """The set of distinct images of a dataset of examples, read in batches."""
  return {image.tobytes() for batch in tfds_module.as_numpy(ds.batch(4096))
          for image in batch['image']}


def test_each_process_reads_its_own_share(config, mnist_data_dir, monkeypatch):
  """Two processes' shares of MNIST's training split: disjoint, complete."""
  config.data_dir = mnist_data_dir
  _, tfds_module = pipeline._tfds()  # pylint: disable=protected-access
  # Checked as each process does at start-up (with the real process count:
  # a pretended second process has no peer to meet).
  builder = pipeline.get_builder(config)
  shares = []
  for index in (0, 1):
    monkeypatch.setattr(jax, 'process_count', lambda: 2)
    monkeypatch.setattr(jax, 'process_index', lambda i=index: i)
    shares.append(_distinct_images(
        tfds_module, pipeline._read_split(config, tfds_module)))  # pylint: disable=protected-access
  monkeypatch.undo()
  everything = _distinct_images(
      tfds_module, builder.as_dataset(split='train'))
  # MNIST repeats a handful of images, so compare sets of distinct images.
  assert shares[0] | shares[1] == everything
  assert len(shares[0] & shares[1]) < 20
  assert abs(len(shares[0]) - len(shares[1])) < 100


def test_can_reach_a_listening_port_and_not_a_closed_one():
  import socket  # pylint: disable=g-import-not-at-top
  with socket.socket() as server:
    server.bind(('127.0.0.1', 0))
    server.listen()
    assert pipeline.can_reach(server.getsockname(), timeout_s=5)
  with socket.socket() as closed:
    closed.bind(('127.0.0.1', 0))  # bound, not listening: refused at once
    assert not pipeline.can_reach(closed.getsockname(), timeout_s=5)


@pytest.mark.parametrize('setting,online,outcome', [
    ('auto', False, 'cannot reach the internet'),
    ('never', True, "download_data='never'"),
    ('auto', True, 'downloaded'),
    ('always', False, 'downloaded'),  # no check: TFDS is left to try
])
def test_missing_data_is_downloaded_only_when_it_can_be(
    config, tmp_path, monkeypatch, setting, online, outcome):
  downloads = []
  monkeypatch.setattr(pipeline, 'can_reach', lambda: online)
  monkeypatch.setattr(tfds.core.DatasetBuilder, 'download_and_prepare',
                      lambda self, **kwargs: downloads.append(self.name))
  config.data_dir = str(tmp_path / 'empty')
  config.download_data = setting
  if outcome == 'downloaded':
    pipeline.get_builder(config)
    assert downloads == ['mnist']
  else:
    with pytest.raises(pipeline.DataNotFoundError, match=outcome) as e:
      pipeline.get_builder(config)
    assert 'tfds build mnist --manual_dir=' in str(e.value)
    assert not downloads


def test_dataset_is_checked_before_jax_starts(config, tmp_path, monkeypatch):
  config.dataset = 'no_such_dataset'
  with pytest.raises(pipeline.ConfigError, match='config.dataset='):
    pipeline.check_dataset(config)
  # Missing from a local data_dir: reported unless it can be downloaded.
  config.dataset = 'mnist'
  config.data_dir = str(tmp_path)
  for setting, online, message in (('never', True, "'never'"),
                                   ('auto', False, 'cannot reach')):
    config.download_data = setting
    monkeypatch.setattr(pipeline, 'can_reach', lambda o=online: o)
    with pytest.raises(pipeline.DataNotFoundError, match=message):
      pipeline.check_dataset(config)
  config.download_data = 'auto'
  monkeypatch.setattr(pipeline, 'can_reach', lambda: True)
  pipeline.check_dataset(config)  # get_builder will download it
  # Prepared (the files TFDS writes): fine, online or not.
  (tmp_path / 'mnist' / '3.0.1').mkdir(parents=True)
  (tmp_path / 'mnist' / '3.0.1' / 'dataset_info.json').write_text('{}')
  monkeypatch.setattr(pipeline, 'can_reach', lambda: False)
  pipeline.check_dataset(config)
  # ... all without TensorFlow.
  probe = ('import sys\n'
           'from infogan_jax.data import pipeline\n'
           'from infogan_jax.configs import mnist\n'
           'config = mnist.get_config()\n'
           f'config.data_dir = {str(tmp_path)!r}\n'
           'pipeline.check_dataset(config)\n'
           'print("tensorflow" in sys.modules)\n')
  result = subprocess.run([sys.executable, '-c', probe], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
  assert result.stdout.strip() == 'False', result.stderr


def test_tests_find_mnist_in_tfds_default_directory_too(tmp_path, monkeypatch):
  from tensorflow_datasets.core import constants  # pylint: disable=g-import-not-at-top
  import conftest  # pylint: disable=g-import-not-at-top
  (tmp_path / 'default' / 'mnist').mkdir(parents=True)
  (tmp_path / 'env' / 'mnist').mkdir(parents=True)
  monkeypatch.setattr(constants, 'DATA_DIR', str(tmp_path / 'default'))
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'env'))
  assert conftest.require_mnist() == str(tmp_path / 'env')
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'nothing'))
  assert conftest.require_mnist() == str(tmp_path / 'default')
