"""Interruptions: SIGTERM, SIGKILL at random moments, damaged checkpoints,
non-finite losses. A resumed run must end bitwise equal to an uninterrupted
one (same config, same CPU devices)."""

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from infogan_jax import checkpointing
from infogan_jax.data import pipeline
from infogan_jax import commands
from infogan_jax import trainer

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# conftest.tiny_config as command-line overrides, on MNIST, checkpointing
# every 5 of 120 steps: saves are often in flight when a signal lands.
STEPS = 120
RUN = [
    '--config=configs/mnist.py', '--config.batch_size=16',
    '--config.shuffle_buffer_size=64', '--config.sample_grid_columns=3',
    '--config.evaluators=()', f'--config.num_train_steps={STEPS}',
    '--config.log_every_steps=5', '--config.checkpoint_every_steps=5',
    f'--config.sample_every_steps={STEPS}',
    *conftest.TINY_MODEL_FLAGS,
]

pytestmark = pytest.mark.xdist_group('interruptions')


def _start(workdir, interrupt=None):
  """The training command on one CPU device, and its log as it runs.

  `interrupt`: (MOMENT, SIGNAL) for tests/interrupting_main.py, which makes
  the process send itself SIGNAL at MOMENT (a point in its control flow).
  """
  env = dict(os.environ, XLA_FLAGS=conftest.FAST_COMPILE, JAX_PLATFORMS='cpu')
  command = ['-m', 'infogan_jax.main'] if interrupt is None else [
      os.path.join(REPO, 'tests', 'interrupting_main.py'), *interrupt]
  process = subprocess.Popen(
      [sys.executable, *command, f'--workdir={workdir}', *RUN], cwd=REPO,
      env=env, stderr=subprocess.PIPE, text=True)
  return process, _Log(process)


class _Log:
  """Collects a process's stderr in a thread; `wait_for` a line in it."""

  def __init__(self, process: subprocess.Popen):
    self.lines = []  # (arrival time, line)
    self._changed = threading.Condition()
    self._thread = threading.Thread(target=self._read, args=(process,))
    self._thread.start()

  def _read(self, process):
    for line in process.stderr:
      with self._changed:
        self.lines.append((time.monotonic(), line))
        self._changed.notify_all()

  def wait_for(self, text: str, timeout: float = 300) -> float:
    """Waits for a line containing `text`; returns when it arrived."""
    def arrival():
      return next((t for t, line in self.lines if text in line), None)
    with self._changed:
      found = self._changed.wait_for(arrival, timeout)
    assert found, f'{text!r} not in the log:\n' + self.text(wait=False)[-3000:]
    return found

  def text(self, wait: bool = True) -> str:
    if wait:
      self._thread.join(timeout=60)
    return ''.join(line for _, line in self.lines)


def _final_state(workdir):
  reader = checkpointing.Reader(str(workdir))
  try:
    return reader.restore(reader.step())
  finally:
    reader.close()


def _assert_bitwise_equal(a, b):
  paths = jax.tree_util.tree_flatten_with_path(a)[0]
  assert len(paths) == len(jax.tree.leaves(b))
  for (path, x), y in zip(paths, jax.tree.leaves(b)):
    assert np.array_equal(np.asarray(x), np.asarray(y)), (
        jax.tree_util.keystr(path))


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  conftest.require_mnist()
  workdir = tmp_path_factory.mktemp('uninterrupted')
  process, log = _start(workdir)
  assert process.wait(timeout=600) == 0, log.text()[-3000:]
  state = _final_state(workdir)
  assert int(state['step']) == STEPS
  return state


@pytest.fixture(scope='module')
def preempted(tmp_path_factory):
  """A run sent SIGTERM when step 20 is done: what it left, read at once."""
  conftest.require_mnist()
  workdir = tmp_path_factory.mktemp('preempted')
  process, log = _start(workdir, interrupt=('step:20', 'TERM'))
  status = process.wait(timeout=600)
  reader = checkpointing.Reader(str(workdir))
  latest = reader.step()
  reader.close()
  with open(workdir / 'metrics.jsonl') as f:
    last_logged = json.loads(f.readlines()[-1])['step']
  return workdir, status, log.text(), latest, last_logged


@pytest.mark.slow
def test_sigterm_saves_the_step_reached_and_exits_75(preempted):
  _, status, text, latest, last_logged = preempted
  assert status == commands.EXIT_PREEMPTED, text[-3000:]
  line = [l for l in text.splitlines() if l.startswith('preempted: ')]
  assert len(line) == 1, text[-3000:]
  step = int(line[0].split('stopped at step ')[1].split()[0])
  assert step == 20 and latest == step
  # The writers were flushed: the last metrics are those of the last log step.
  assert last_logged == step


@pytest.mark.slow
def test_sigkill_at_five_moments_then_resume_is_exact(preempted,
                                                      uninterrupted):
  """Goes on from the preempted run: five starts, each killed at a moment
  drawn from a seeded generator, then one that finishes.

  The moments are points in the process's control flow, so the test does
  the same thing however busy the machine is: two during start-up (after
  the restore, after building the input, or just before the first step
  compiles) and three during training (just after a step, or just after a
  checkpoint save has been started, while Orbax may still be writing it).
  Every kill lands before the last step.
  """
  workdir, _, _, latest, _ = preempted
  rng = random.Random(0)
  phases = rng.sample(['start-up'] * 2 + ['training'] * 3, 5)
  reached = [latest]
  for phase in phases:
    if phase == 'start-up':
      moment = rng.choice(['restore', 'input', 'compile'])
    elif rng.random() < 0.5:
      moment = f'step:{reached[-1] + rng.randint(1, 9)}'
    else:
      moment = f'save:{(reached[-1] // 5 + rng.choice([1, 2])) * 5}'
    process, log = _start(workdir, interrupt=(moment, 'KILL'))
    assert process.wait(timeout=600) == -signal.SIGKILL, (
        moment, log.text()[-3000:])
    steps = os.listdir(workdir / 'checkpoints')
    reached.append(max(int(s) for s in steps if s.isdigit()))
    if moment.startswith('save:'):
      # The save was started; whether Orbax finished writing it varies.
      assert reached[-1] in (int(moment[5:]), reached[-2],
                             int(moment[5:]) - 5), (moment, reached)
    elif moment.startswith('step:'):
      assert reached[-2] <= reached[-1] <= int(moment[5:]), (moment, reached)
    else:
      assert reached[-1] == reached[-2], (moment, reached)
  assert reached == sorted(reached) and reached[-1] < STEPS
  process, log = _start(workdir)
  assert process.wait(timeout=600) == 0, log.text()[-3000:]
  assert f'Resumed from checkpoint at step {reached[-1]}.' in log.text()
  _assert_bitwise_equal(_final_state(workdir), uninterrupted)


# ------------------------------------------------- damaged checkpoints


@pytest.fixture
def mock_config(config):
  config.download_data = 'always'  # TFDS's mocked download stands in for data
  return config


def _largest_file(directory):
  files = [os.path.join(root, name) for root, _, names in os.walk(directory)
           for name in names]
  return max(files, key=os.path.getsize)


def _truncate(step_dir):
  path = _largest_file(step_dir)
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)


def _delete_largest(step_dir):
  os.remove(_largest_file(step_dir))


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  """A 4-step run checkpointed at steps 2 and 4, and its final state."""
  workdir = tmp_path_factory.mktemp('finished')
  config = conftest.tiny_config()
  config.download_data = 'always'
  with tfds.testing.mock_data(num_examples=64):
    state = trainer.train_and_evaluate(config, str(workdir))
  return config, workdir, jax.device_get(state)


@pytest.mark.parametrize('damage', [_truncate, _delete_largest])
def test_damaged_newest_checkpoint_is_set_aside_for_the_previous(
    finished_run, tmp_path, caplog, damage):
  config, finished, final_state = finished_run
  workdir = str(tmp_path / 'run')
  shutil.copytree(finished, workdir)
  damage(os.path.join(workdir, 'checkpoints', '4'))
  with tfds.testing.mock_data(num_examples=64):
    with caplog.at_level(logging.WARNING):
      resumed = trainer.train_and_evaluate(config, workdir)
  warnings = [r.getMessage() for r in caplog.records
              if 'cannot be read' in r.getMessage()]
  assert len(warnings) == 1 and 'step 4' in warnings[0], warnings
  # Step 4 was trained again from step 2, and its files were kept aside.
  assert os.listdir(checkpointing.unreadable_dir(workdir)) == ['4']
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    assert [json.loads(line)['step'] for line in f] == [2, 4, 4]
  _assert_bitwise_equal(jax.device_get(resumed), final_state)


# ------------------------------------------------- non-finite losses


def _poison_step(monkeypatch, bad_step: int):
  """Feeds NaN images at `bad_step` (1-based), real batches otherwise."""
  real = pipeline.create_train_source

  def source(config, mesh, value_range, start_step=0):
    for step, batch in enumerate(
        real(config, mesh, value_range, start_step=start_step),
        start=start_step + 1):
      yield batch * jnp.nan if step == bad_step else batch

  monkeypatch.setattr(pipeline, 'create_train_source', source)


def test_nan_stops_naming_the_step_and_keeps_the_last_checkpoint(
    mock_config, tmp_path, monkeypatch, capsys):
  config = mock_config
  config.num_train_steps = 8
  _poison_step(monkeypatch, 5)
  with tfds.testing.mock_data(num_examples=64):
    status = commands.run(config, str(tmp_path))
  assert status == commands.EXIT_NONFINITE
  error = capsys.readouterr().err.strip().splitlines()[-1]
  assert error.startswith('error: non-finite loss or gradient at step 5;')
  assert 'the last good checkpoint, step 4, is kept' in error
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '4']
  with open(tmp_path / 'metrics.jsonl') as f:
    assert [json.loads(line)['step'] for line in f] == [2, 4]
  for leaf in jax.tree.leaves(_final_state(tmp_path)):
    assert np.all(np.isfinite(leaf))


def test_nan_skipped_and_counted_under_skip(mock_config, tmp_path,
                                            monkeypatch):
  config = mock_config
  config.num_train_steps = 8
  config.on_nonfinite = 'skip'
  _poison_step(monkeypatch, 5)
  with tfds.testing.mock_data(num_examples=64):
    state = trainer.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 8
  with open(tmp_path / 'metrics.jsonl') as f:
    counts = {r['step']: r['nonfinite_steps'] for r in map(json.loads, f)}
  assert counts == {2: 0, 4: 0, 6: 1, 8: 0}
  for leaf in jax.tree.leaves(state):
    assert np.all(np.isfinite(np.asarray(leaf)))
