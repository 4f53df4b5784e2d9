"""The benchmark command on a tiny config: its table and its JSON line."""

import json
import os
import subprocess
import sys

import pytest

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--config.batch_size=16', *conftest.TINY_MODEL_FLAGS]
FIELDS = ('images_per_sec', 'steps_per_sec', 'compile_s', 'flops_per_step',
          'achieved_gflops', 'device', 'batch_size')


def _benchmark(*flags, env=None):
  result = subprocess.run(
      [sys.executable, '-m', 'infogan_tools.benchmark',
       '--config=configs/mnist.py', '--steps=2', '--windows=2', *TINY, *flags],
      cwd=REPO, capture_output=True, text=True, timeout=600,
      # One device, compiled without the backend optimisations (the figures
      # are not the point here, the fields are).
      env={**os.environ, 'XLA_FLAGS': conftest.FAST_COMPILE, **(env or {})})
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.strip().splitlines()
  return lines, json.loads(lines[-1])


def test_synthetic_benchmark_reports_every_field(tmp_path):
  lines, result = _benchmark('--config.steps_per_call=2',
                             f'--profile_dir={tmp_path}')
  for field in FIELDS:
    assert field in result, field
  assert result['batch_size'] == 16 and result['steps_per_call'] == 2
  assert result['images_per_sec'] == pytest.approx(
      16 * result['steps_per_sec'])
  assert result['flops_per_step'] > 1e6 and result['compile_s'] > 0
  assert result['achieved_gflops'] == pytest.approx(
      result['flops_per_step'] * result['steps_per_sec'] / 1e9)
  assert result['device'] == 'cpu'
  assert any(line.startswith('achieved GFLOP/s') for line in lines)
  assert any('XLA:CPU threads busy' in line for line in lines)


def test_population_table():
  lines, result = _benchmark('--populations=1,2')
  rows = result['populations']
  assert [row['population'] for row in rows] == [1, 2]
  for row in rows:
    assert row['images_per_sec'] == pytest.approx(
        row['population'] * row['member_images_per_sec'])
    assert row['member_images_per_sec'] == pytest.approx(
        16 * row['steps_per_sec'])
  header = lines.index(next(line for line in lines
                            if line.startswith('population  compile s')))
  assert [line.split()[0] for line in lines[header + 1:header + 3]] == [
      '1', '2']


def test_real_data_benchmark_compares_with_synthetic(mnist_data_dir):
  # (A slice of the training split: reading all of it onto the device is
  # the same code, 30x longer.)
  _, result = _benchmark('--data=real', '--config.data_on_device=True',
                         '--config.train_split=train[:2048]',
                         env={'TFDS_DATA_DIR': mnist_data_dir})
  assert result['data'] == 'real' and result['data_on_device']
  assert result['real_images_per_sec'] > 0
  assert result['real_over_synthetic'] == pytest.approx(
      result['real_images_per_sec'] / result['images_per_sec'])


def test_bad_config_is_one_line_error():
  result = subprocess.run(
      [sys.executable, '-m', 'infogan_tools.benchmark',
       '--config=configs/mnist.py', '--config.steps_per_call=0'],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith(
      'error: config.steps_per_call=0:')
