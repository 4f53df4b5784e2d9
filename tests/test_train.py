"""train_and_evaluate end to end on mock data: outputs, and resuming."""

import json
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from infogan_jax import config_validation
from infogan_jax import trainer


def _read_metrics(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


@pytest.fixture
def mock_config(config):
  # Under mock_data, TFDS's (mocked) download_and_prepare stands in for a
  # prepared data_dir.
  config.download_data = 'always'
  return config


def test_train_writes_metrics_samples_checkpoints(mock_config, tmp_path):
  workdir = str(tmp_path)
  with tfds.testing.mock_data(num_examples=64):
    state = trainer.train_and_evaluate(mock_config, workdir)
  assert int(state.step) == 4
  rows = _read_metrics(workdir)
  assert [r['step'] for r in rows] == [2, 4]
  for key in ('d_loss', 'g_loss', 'mi_cat_nats', 'mi_cont_nats', 'd_real',
              'd_fake'):
    assert all(np.isfinite(r[key]) for r in rows), key
  samples = sorted(os.listdir(os.path.join(workdir, 'samples')))
  assert samples == [f'step_0000000{s}_{code}.png' for s in (2, 4)
                     for code in ('cat0', 'cont0', 'cont1')]
  sample_dir = os.path.join(workdir, 'samples')
  grid = np.asarray(Image.open(os.path.join(sample_dir,
                                            'step_00000004_cat0.png')))
  # 10 rows (the categories of c1) by 3 columns of 28x28 cells, 2px apart.
  assert grid.shape == (10 * 30 - 2, 3 * 30 - 2)
  grid = np.asarray(Image.open(os.path.join(sample_dir,
                                            'step_00000004_cont1.png')))
  # 7 rows (c3 swept over [-2, 2]) by 3 columns.
  assert grid.shape == (7 * 30 - 2, 3 * 30 - 2)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['batch_size'] == 16
  assert any(name.startswith('events.out.tfevents')
             for name in os.listdir(workdir))


def test_resume_continues_from_checkpoint(mock_config, tmp_path):
  workdir = str(tmp_path)
  with tfds.testing.mock_data(num_examples=64):
    trainer.train_and_evaluate(mock_config, workdir)
    mock_config.num_train_steps = 6
    state = trainer.train_and_evaluate(mock_config, workdir)
  assert int(state.step) == 6
  assert [r['step'] for r in _read_metrics(workdir)] == [2, 4, 6]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == [
      '2', '4', '6']


def test_finished_run_does_no_more_steps(mock_config, tmp_path):
  workdir = str(tmp_path)
  with tfds.testing.mock_data(num_examples=64):
    first = trainer.train_and_evaluate(mock_config, workdir)
    again = trainer.train_and_evaluate(mock_config, workdir)
  assert int(again.step) == 4
  np.testing.assert_array_equal(first.g.params['Dense_0']['kernel'],
                                again.g.params['Dense_0']['kernel'])
  assert len(_read_metrics(workdir)) == 2


def test_data_on_device_with_scanned_steps(mock_config, tmp_path):
  workdir = str(tmp_path)
  mock_config.data_on_device = True
  mock_config.steps_per_call = 2
  with tfds.testing.mock_data(num_examples=40):
    state = trainer.train_and_evaluate(mock_config, workdir)
  assert int(state.step) == 4
  rows = _read_metrics(workdir)
  assert [r['step'] for r in rows] == [2, 4]
  assert all(np.isfinite(r['d_loss']) for r in rows)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']


def test_resume_needs_a_steps_per_call_dividing_the_checkpoint(
    mock_config, tmp_path):
  workdir = str(tmp_path)
  mock_config.num_train_steps = mock_config.checkpoint_every_steps = 2
  with tfds.testing.mock_data(num_examples=40):
    trainer.train_and_evaluate(mock_config, workdir)
    mock_config.steps_per_call = 3
    mock_config.num_train_steps = 6
    mock_config.log_every_steps = mock_config.sample_every_steps = 3
    mock_config.checkpoint_every_steps = 3
    with pytest.raises(config_validation.ConfigError, match='steps_per_call'):
      trainer.train_and_evaluate(mock_config, workdir)
