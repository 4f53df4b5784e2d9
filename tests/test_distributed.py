"""Several processes: joining, bad input, and 2 x 2 devices == 1 x 4 devices.

The multi-process runs are real: launch/local.sh starts two processes on
localhost (2 CPU devices each, gloo collectives), as on a pod or a cluster.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
from PIL import Image
import pytest

from infogan_jax import checkpointing
from infogan_jax import distributed

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The tiny model of conftest.tiny_config, as command-line overrides.
TINY = [
    '--config.batch_size=16', '--config.log_every_steps=2',
    '--config.sample_every_steps=4', '--config.checkpoint_every_steps=2',
    '--config.sample_grid_columns=3', '--config.evaluators=()',
    *conftest.TINY_MODEL_FLAGS,
]

# Two steps, each logged and checkpointed.
STEPS = ['--config.num_train_steps=2', '--config.log_every_steps=1',
         '--config.checkpoint_every_steps=1', '--config.sample_every_steps=2']

pytestmark = pytest.mark.xdist_group('processes')


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _env(devices: int) -> dict[str, str]:
  env = dict(os.environ, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={devices} '
             + conftest.FAST_COMPILE)
  for name in ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES',
               'JAX_PROCESS_ID'):
    env.pop(name, None)
  return env


def _main(workdir, *flags) -> list[str]:
  return [sys.executable, '-m', 'infogan_jax.main', '--config=configs/mnist.py',
          f'--workdir={workdir}', *TINY, *flags]


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
  """64 small grayscale PNGs as an image_folder dataset (no TFDS data needed)."""
  root = tmp_path_factory.mktemp('images')
  folder = root / 'train' / 'all'
  folder.mkdir(parents=True)
  rng = np.random.default_rng(0)
  for i in range(64):
    pixels = (rng.random((28, 28)) ** 3 * 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / f'{i:03d}.png')
  return ['--config.dataset=image_folder', f'--config.image_folder={root}',
          '--config.image_channels=1', '--config.image_size=28',
          '--config.data_on_device=True']


@pytest.fixture(scope='module')
def two_process_run(tmp_path_factory, image_folder):
  """launch/local.sh: 2 processes x 2 CPU devices, 4 steps."""
  workdir = tmp_path_factory.mktemp('two_processes')
  env = dict(_env(2), PYTHON=sys.executable, PORT=str(_free_port()),
             NUM_PROCESSES='2', DEVICES_PER_PROCESS='2', TIMEOUT_S='300')
  result = subprocess.run(
      ['launch/local.sh', 'configs/mnist.py', str(workdir), *TINY,
       *image_folder, *STEPS],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  logs = result.stderr[-3000:]
  if os.path.exists(workdir / 'logs' / 'process_1.log'):
    logs += (workdir / 'logs' / 'process_1.log').read_text()[-3000:]
  assert result.returncode == 0, logs
  return workdir, result


@pytest.fixture(scope='module')
def one_process_run(tmp_path_factory, image_folder):
  """The same job in one process with 4 CPU devices."""
  workdir = tmp_path_factory.mktemp('one_process')
  result = subprocess.run(
      _main(workdir, *image_folder, *STEPS),
      cwd=REPO, env=_env(4), capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


def _state(workdir, step):
  reader = checkpointing.Reader(str(workdir))
  try:
    return reader.restore(step)
  finally:
    reader.close()


def _metrics(workdir):
  with open(workdir / 'metrics.jsonl') as f:
    return [json.loads(line) for line in f]


def test_two_processes_train_as_one_with_the_same_devices(two_process_run,
                                                          one_process_run):
  workdir, result = two_process_run
  assert 'JAX process 0 of 2' in result.stderr
  log_1 = (workdir / 'logs' / 'process_1.log').read_text()
  assert 'JAX process 1 of 2' in log_1 and 'on 4 device(s)' in log_1
  # Only process 0 writes the run's files; both take part in checkpoints.
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['1', '2']
  two_metrics, one_metrics = _metrics(workdir), _metrics(one_process_run)
  assert [r['step'] for r in two_metrics] == [1, 2]
  for a, b in zip(two_metrics, one_metrics, strict=True):
    assert a.keys() == b.keys()
    np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a],
                               rtol=1e-5, atol=1e-5)
  # Each whole state (parameters, BN statistics, Adam's moments), restored
  # from the 2-process checkpoints in this one process, on one device. After
  # one step the leaves agree to float32 reduction order (measured: 4e-4 of
  # a leaf's norm at most); Adam and batch norm over 4 images per device
  # amplify that in the second (measured: 1.4e-2). A different batch, key or
  # per-process batch norm would differ by the order of the leaves themselves.
  for step, tolerance in ((1, 2e-3), (2, 5e-2)):
    two, one = _state(workdir, step), _state(one_process_run, step)
    assert int(two['step']) == int(one['step']) == step
    flat = jax.tree_util.tree_flatten_with_path(two)[0]
    for (path, a), b in zip(flat, jax.tree.leaves(one), strict=True):
      a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
      gap = np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12)
      assert gap <= tolerance, (step, jax.tree_util.keystr(path), gap)


def test_two_process_checkpoint_resumes_in_one_process(two_process_run,
                                                       image_folder):
  workdir, _ = two_process_run
  result = subprocess.run(
      _main(workdir, *image_folder, '--config.num_train_steps=4'),
      cwd=REPO, env=_env(1), capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Resumed from checkpoint at step 2' in result.stderr
  assert '4' in os.listdir(workdir / 'checkpoints')


def test_processes_with_different_configs_stop(tmp_path):
  port = _free_port()
  processes = [
      subprocess.Popen(
          _main(tmp_path, f'--config.seed={seed}',
                f'--coordinator_address=localhost:{port}',
                '--num_processes=2', f'--process_id={i}'),
          cwd=REPO, env=_env(1), stdout=subprocess.PIPE,
          stderr=subprocess.PIPE, text=True)
      for i, seed in enumerate((0, 7))]
  for process in processes:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 2, stderr[-3000:]
    assert ('error: the processes run different configs (processes [1] '
            'differ from process 0): seed: 0 on process 0, 7 on process 1'
            in stderr), stderr[-3000:]
  assert not os.path.exists(tmp_path / 'checkpoints')


@pytest.mark.parametrize('process_id, says', [
    (1, 'process 1 of 2 could not join the job through localhost:'),
    (0, 'process 0 of 2: the other processes did not all join through '),
])
def test_unreachable_job_is_an_error_not_a_hang(tmp_path, process_id, says):
  result = subprocess.run(
      _main(tmp_path, f'--coordinator_address=localhost:{_free_port()}',
            '--num_processes=2', f'--process_id={process_id}',
            '--distributed_timeout_s=3'),
      cwd=REPO, env=_env(1), capture_output=True, text=True, timeout=120)
  assert result.returncode == 2, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('error: ' + says) and 'within 3 s' in last, last


# ------------------------------------------------- settings, in-process


def test_settings_come_from_flags_then_environment():
  env = {'JAX_COORDINATOR_ADDRESS': 'host:1', 'JAX_NUM_PROCESSES': '4',
         'JAX_PROCESS_ID': '3'}
  assert distributed.settings(environ=env) == distributed.Settings(
      'host:1', 4, 3)
  assert distributed.settings('other:2', 2, 0, environ=env) == (
      distributed.Settings('other:2', 2, 0))
  assert not distributed.settings(environ={}).explicit


@pytest.mark.parametrize('kwargs, env, message', [
    (dict(coordinator_address='localhost'), {}, r'^coordinator_address=.*HOST:PORT'),
    (dict(num_processes=0), {}, r'^num_processes=0: must be an integer >= 1'),
    (dict(num_processes=2, process_id=2), {}, r'^process_id=2: must be in \[0, num_processes=2\)'),
    ({}, {'JAX_NUM_PROCESSES': 'two'}, r"^JAX_NUM_PROCESSES='two': must be an integer"),
])
def test_bad_settings_are_named(kwargs, env, message):
  with pytest.raises(distributed.DistributedError, match=message):
    distributed.settings(**kwargs, environ=env)


def test_clusters_are_detected_and_partial_settings_refused():
  slurm = {'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '8'}
  assert distributed.detected_cluster(slurm) == 'slurm'
  assert distributed.detected_cluster({**slurm, 'SLURM_NTASKS': '1'}) is None
  assert distributed.detected_cluster(
      {'TPU_WORKER_HOSTNAMES': 'a,b'}) == 'cloud_tpu'
  # Nothing said and no cluster: a single-process run, untouched.
  assert not distributed.initialize('auto', distributed.Settings(), environ={})
  assert not distributed.initialize(
      'off', distributed.Settings('h:1', 2, 0), environ={})
  with pytest.raises(distributed.DistributedError,
                     match=r'needs --num_processes \(or JAX_NUM_PROCESSES\), '
                     r'--process_id'):
    distributed.initialize('auto', distributed.Settings('h:1'), environ={})
