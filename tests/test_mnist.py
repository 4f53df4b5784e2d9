"""The real MNIST copy: the README's command learns the categorical code."""

import copy
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import nbclient
import nbformat
import numpy as np
import pytest

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, 'notebooks', 'colab.ipynb')

# c1 on the test digits after 250 steps at batch 64. Where a short GAN run
# ends is chaotic: a library release moves it as a new seed does. Measured
# over seeds 0-5 (jax 0.10.2, the lock of 2026-12-06): accuracy 0.371-0.504
# (chance: 0.1), NMI 0.318-0.438, ARI 0.192-0.308, the information bound
# 1.02-1.09 nats at step 50 and 2.070-2.081 at step 250 (at most log 10 =
# 2.303). The floors sit about three standard deviations of that spread
# below its mean, still far above chance.
STEPS = 250
FLOORS = {'eval_accuracy': 0.28, 'eval_nmi': 0.25, 'eval_ari': 0.12}


# The 250-step run is a module fixture: keep the module on one pytest-xdist
# worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('mnist_run')]


@pytest.fixture(scope='module')
def mnist_run(tmp_path_factory):
  """The README's command for 250 steps at batch 64, on one CPU device."""
  conftest.require_mnist()
  workdir = tmp_path_factory.mktemp('mnist')
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  result = subprocess.run(
      [sys.executable, '-m', 'infogan_jax.main', '--config=configs/mnist.py',
       f'--workdir={workdir}', '--config.batch_size=64',
       f'--config.num_train_steps={STEPS}', '--config.log_every_steps=50',
       f'--config.sample_every_steps={STEPS}',
       f'--config.checkpoint_every_steps={STEPS}',
       '--config.shuffle_buffer_size=2000'],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


def test_short_run_learns_the_categorical_code(mnist_run):
  with open(mnist_run / 'metrics.jsonl') as f:
    records = [json.loads(line) for line in f]
  rows = [r for r in records if 'mi_cat_nats' in r]
  evals = [r for r in records if 'eval_accuracy' in r]
  assert [r['step'] for r in rows] == [50, 100, 150, 200, 250]
  # c1 as a classifier of the 10,000 test digits: far above chance (0.1)
  # already, though not yet at its final accuracy.
  assert [r['step'] for r in evals] == [STEPS]
  for name, floor in FLOORS.items():
    assert evals[0][name] > floor, (name, evals)
  # Q tells G's ten categories apart: the bound rises (by about a nat
  # here) towards H(c1).
  mi = [r['mi_cat_nats'] for r in rows]
  assert mi[0] + 0.5 < mi[-1] and 1.9 < mi[-1] <= np.log(10) + 1e-6, mi
  assert os.listdir(mnist_run / 'checkpoints') == [str(STEPS)]
  assert sorted(os.listdir(mnist_run / 'samples')) == [
      f'step_{STEPS:08d}_cat0.png', f'step_{STEPS:08d}_cont0.png',
      f'step_{STEPS:08d}_cont1.png']


def _outputs(notebook):
  return [output for cell in notebook.cells
          for output in cell.get('outputs', [])]


def _pngs(notebook):
  return [output for output in _outputs(notebook)
          if 'image/png' in output.get('data', {})]


def _text(notebook):
  return '\n'.join(output.get('text', '') or
                   output.get('data', {}).get('text/plain', '')
                   for output in _outputs(notebook))


def test_colab_notebook_trains_and_runs_end_to_end(tmp_path, monkeypatch):
  """The notebook in a fresh directory: no checkpoint, so it trains a few
  steps itself, then restores them and runs every section."""
  conftest.require_mnist()
  with open(NOTEBOOK, 'rb') as f:
    committed = f.read()
  notebook = nbformat.reads(committed.decode(), as_version=4)
  # Committed with the outputs of a run of the default length, small, for
  # the repository page to show.
  assert len(committed) < 1_500_000
  assert len(_pngs(notebook)) >= 5
  assert re.search(r'trained \d+ steps in [\d.]+ min', _text(notebook))
  assert not [output for output in _outputs(notebook)
              if output.get('name') == 'stderr' or
              output['output_type'] == 'error']

  for cell in notebook.cells:
    if cell.cell_type == 'code':
      cell.outputs = []
  workdir = tmp_path / 'run'
  monkeypatch.setenv('INFOGAN_WORKDIR', str(workdir))
  monkeypatch.setenv('INFOGAN_NOTEBOOK_STEPS', '4')
  monkeypatch.setenv('INFOGAN_NOTEBOOK_FLAGS', shlex.join([
      '--config.batch_size=16', '--config.shuffle_buffer_size=64',
      '--config.log_every_steps=2', '--config.evaluators=()',
      *conftest.TINY_MODEL_FLAGS]))
  # The kernel and its training command: one device, compiled fast.
  monkeypatch.setenv('XLA_FLAGS', conftest.FAST_COMPILE)
  # Raises CellExecutionError, with the cell and its traceback, on any error.
  nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3',
                          resources={'metadata': {'path': str(tmp_path)}}
                          ).execute()
  with open(NOTEBOOK, 'rb') as f:
    assert f.read() == committed
  # The package is importable and the kernel runs outside a checkout: the
  # first cell and the import cell did nothing.
  cells = _cells(notebook)
  assert cells['cell01'].outputs == [], cells['cell01'].outputs
  assert cells['import-package'].outputs == []
  if shutil.which('nvidia-smi') is None:
    assert 'No NVIDIA GPU here, so this cell changes nothing' in _text(
        notebook)
  # The training cell trained in WORKDIR, and the notebook restored that run.
  assert os.listdir(workdir / 'checkpoints') == ['4']
  text = _text(notebook)
  assert re.search(r'trained 4 steps in [\d.]+ min', text), text
  assert re.search(r'step 4: mi_cat_nats -?[\d.]+', text), text
  assert "TrainedInfoGAN(dataset='mnist', step=4," in text, text
  # Q read the codes back, and c1 classified every test digit.
  agreement = re.search(r'cat0: Q names the category G was given for '
                        r'([\d.]+)%', text)
  assert agreement and 0 <= float(agreement.group(1)) <= 100, text
  accuracy = re.search(r'cat0 on 10,000 test digits: matched accuracy '
                       r'([\d.]+)', text)
  assert accuracy and 0 <= float(accuracy.group(1)) <= 1, text
  # The sample grid, one grid per code, the test digits by category.
  assert len(_pngs(notebook)) >= 5, len(_pngs(notebook))


def _cells(notebook):
  return {cell.id: cell for cell in notebook.cells}


def _run_cells(directory, cells):
  """Runs copies of these cells, code or notebook cells, in a new kernel in
  directory, stopping at the first error as Run all does; returns them."""
  notebook = nbformat.v4.new_notebook(cells=[
      nbformat.v4.new_code_cell(cell) if isinstance(cell, str) else
      copy.deepcopy(cell) for cell in cells])
  directory.mkdir(exist_ok=True)
  client = nbclient.NotebookClient(
      notebook, timeout=120, kernel_name='python3',
      resources={'metadata': {'path': str(directory)}})
  try:
    client.execute()
  except nbclient.exceptions.CellExecutionError:
    pass
  return notebook.cells


def test_colab_notebook_without_the_package_says_what_to_do(tmp_path,
                                                               monkeypatch):
  """Neither installed nor inside a checkout, and no REPO_URL: the first cell
  prints how to get the package, raising nothing, and the import cell stops
  the notebook with that line, not a traceback."""
  cells = _cells(nbformat.read(NOTEBOOK, as_version=4))
  monkeypatch.delenv('INFOGAN_REPO_URL', raising=False)
  monkeypatch.setenv('PIP_NO_INDEX', '1')  # pip would fail, changing nothing
  setup, install, importing, after = _run_cells(tmp_path / 'notebooks', [
      # As if the package were not installed: importlib.util.find_spec finds
      # nothing and importing it raises ModuleNotFoundError.
      "import sys\nsys.modules['infogan_jax'] = None",
      cells['cell01'], cells['import-package'], "print('not reached')"])
  assert setup.outputs == []
  [printed] = install.outputs
  assert (printed.output_type, printed.name) == ('stream', 'stdout'), printed
  line = printed.text.rstrip('\n')
  assert '\n' not in line and line.startswith(
      'infogan_jax is not installed and this notebook is not inside a '
      'checkout of it: set REPO_URL at the top of the first cell'), line
  [stop] = importing.outputs
  assert stop.output_type == 'error' and stop.traceback == [line], stop
  assert after.outputs == [] and after.execution_count is None


@pytest.mark.parametrize('gpu', [False, True])
def test_colab_notebook_gpu_cell(tmp_path, monkeypatch, gpu):
  """Without a GPU the GPU cell changes nothing. With one that JAX does not
  see (here an nvidia-smi that lists a GPU, and JAX_PLATFORMS=cpu hiding any
  real one), it names the CUDA build of the installed jax, which it installs
  only in Colab, and lists JAX's devices."""
  cells = _cells(nbformat.read(NOTEBOOK, as_version=4))
  bin_directory = tmp_path / 'bin'
  bin_directory.mkdir()
  nvidia_smi = bin_directory / 'nvidia-smi'
  nvidia_smi.write_text('#!/bin/sh\necho "GPU 0: a stand-in"\n' if gpu else
                        '#!/bin/sh\nexit 9\n')  # as without a driver
  nvidia_smi.chmod(0o755)
  monkeypatch.setenv('PATH',
                     f'{bin_directory}{os.pathsep}{os.environ["PATH"]}')
  monkeypatch.setenv('PIP_NO_INDEX', '1')  # pip would fail, changing nothing
  monkeypatch.setenv('JAX_PLATFORMS', 'cpu')
  monkeypatch.setenv('XLA_FLAGS', conftest.FAST_COMPILE)
  install, importing, check = _run_cells(tmp_path / 'notebooks', [
      cells['cell01'], cells['import-package'], cells['gpu-runtime']])
  assert install.outputs == importing.outputs == []
  assert {(o.output_type, o.get('name')) for o in check.outputs} == {
      ('stream', 'stdout')}, check.outputs
  printed = ''.join(output.text for output in check.outputs)
  if gpu:
    jax_version = importlib.metadata.version('jax')
    assert printed == (
        f'JAX sees only the CPU: pip install "jax[cuda12]=={jax_version}" '
        'installs its CUDA build.\nJAX devices: [CpuDevice(id=0)]\n'), printed
  else:
    assert printed.startswith(
        'No NVIDIA GPU here, so this cell changes nothing'), printed


# Stands in for Colab in a kernel: what the settings cell calls to mount the
# Drive prints its argument.
_FAKE_COLAB = """import sys
import types
colab = types.ModuleType('google.colab')
colab.drive = types.SimpleNamespace(mount=lambda path: print('mount', path))
sys.modules['google.colab'] = colab"""


@pytest.mark.parametrize('use_drive', [False, True])
@pytest.mark.parametrize('in_colab', [False, True])
def test_colab_notebook_drive_option(tmp_path, monkeypatch, use_drive,
                                     in_colab):
  """Off, as committed, the Drive option does nothing. On, it mounts the
  Drive and moves a relative WORKDIR into it, in Colab only."""
  cells = _cells(nbformat.read(NOTEBOOK, as_version=4))
  settings = copy.deepcopy(cells['cell03'])
  assert settings.source.count('\nUSE_DRIVE = False\n') == 1
  if use_drive:
    settings.source = settings.source.replace(
        '\nUSE_DRIVE = False\n', '\nUSE_DRIVE = True\n')
  monkeypatch.delenv('INFOGAN_WORKDIR', raising=False)
  outputs = [cell.outputs for cell in _run_cells(tmp_path / 'notebooks', [
      _FAKE_COLAB if in_colab else 'pass', cells['cell01'],
      cells['import-package'], settings, 'print(WORKDIR)'])]
  assert all(output.output_type == 'stream' for cell in outputs
             for output in cell), outputs
  printed = [''.join(output.text for output in cell) for cell in outputs]
  assert printed[:3] == ['', '', ''], printed
  if use_drive and in_colab:
    workdir = '/content/drive/MyDrive/infogan_jax/runs/mnist_notebook'
    assert printed[3] == f'mount /content/drive\nWORKDIR: {workdir}\n'
  elif use_drive:
    workdir = 'runs/mnist_notebook'
    assert printed[3] == ('USE_DRIVE: not in Colab, so no Drive to mount; '
                          f'WORKDIR stays {workdir}\n')
  else:
    workdir = 'runs/mnist_notebook'
    assert printed[3] == ''
  assert printed[4] == f'{workdir}\n'
  assert not os.path.exists(tmp_path / 'notebooks' / 'runs')
