"""The real MNIST copy: the README's command learns the categorical code."""

import json
import os
import re
import subprocess
import sys

import nbclient
import nbformat
import pytest

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# c1 on the test digits after 300 steps at batch 64; chance is 0.1.
EVAL_ACCURACY_AT_300 = 0.35  # measured: 0.53


# Both tests use one training run: keep them on one pytest-xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('mnist_run')]


@pytest.fixture(scope='module')
def mnist_run(tmp_path_factory):
  """The README's command for 300 steps at batch 64, on one CPU device."""
  conftest.require_mnist()
  workdir = tmp_path_factory.mktemp('mnist')
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  result = subprocess.run(
      [sys.executable, '-m', 'infogan_jax.main', '--config=configs/mnist.py',
       f'--workdir={workdir}', '--config.batch_size=64',
       '--config.num_train_steps=300', '--config.log_every_steps=50',
       '--config.sample_every_steps=300', '--config.checkpoint_every_steps=300',
       '--config.shuffle_buffer_size=2000'],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


def test_short_run_reaches_two_nats(mnist_run):
  with open(mnist_run / 'metrics.jsonl') as f:
    records = [json.loads(line) for line in f]
  rows = [r for r in records if 'mi_cat_nats' in r]
  evals = [r for r in records if 'eval_accuracy' in r]
  assert [r['step'] for r in rows] == [50, 100, 150, 200, 250, 300]
  # c1 as a classifier of the 10,000 test digits: far above chance (0.1)
  # already, though not yet at its final accuracy.
  assert [r['step'] for r in evals] == [300]
  assert evals[0]['eval_accuracy'] > EVAL_ACCURACY_AT_300, evals
  assert evals[0]['eval_nmi'] > 0.3 and evals[0]['eval_ari'] > 0.15, evals
  mi = [r['mi_cat_nats'] for r in rows]
  assert mi[0] < 2.0 < mi[-1] <= rows[-1]['h_cat_nats'] + 1e-6, mi
  assert os.listdir(mnist_run / 'checkpoints') == ['300']
  assert sorted(os.listdir(mnist_run / 'samples')) == [
      'step_00000300_cat0.png', 'step_00000300_cont0.png',
      'step_00000300_cont1.png']


def test_colab_notebook_runs_on_the_checkpoint(mnist_run, tmp_path,
                                                monkeypatch):
  notebook = nbformat.read(os.path.join(REPO, 'notebooks', 'colab.ipynb'),
                           as_version=4)
  monkeypatch.setenv('INFOGAN_WORKDIR', str(mnist_run))
  monkeypatch.delenv('XLA_FLAGS', raising=False)  # the kernel: one device
  # Raises CellExecutionError, with the cell and its traceback, on any error.
  nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3',
                          resources={'metadata': {'path': str(tmp_path)}}
                          ).execute()
  text = '\n'.join(output.get('text', '') for cell in notebook.cells
                   for output in cell.get('outputs', []))
  assert 'TrainedInfoGAN(dataset=\'mnist\', step=300' in text
  # Q reads back the category G was given, and classifies test digits.
  agreement = re.search(r'cat0: Q names the category G was given for '
                        r'([\d.]+)%', text)
  assert agreement and float(agreement.group(1)) > 50, text
  accuracy = re.search(r'matched accuracy ([\d.]+)', text)
  assert accuracy and float(accuracy.group(1)) > EVAL_ACCURACY_AT_300, text
  images = [output for cell in notebook.cells
            for output in cell.get('outputs', [])
            if 'image/png' in output.get('data', {})]
  # The sample grid, one grid per code, the test images.
  assert len(images) >= 5, len(images)
