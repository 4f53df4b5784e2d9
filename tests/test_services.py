"""What training and the commands share: the writers (the log, TensorBoard,
metrics.jsonl), the config as TensorBoard hparams, progress."""

import glob
import json
import logging

import pytest
import tensorflow as tf

from infogan_jax import services
from infogan_jax.configs import mnist


def test_the_log_summarises_a_population_and_the_json_keeps_every_member(
    tmp_path, caplog):
  writer = services.create_writer(str(tmp_path))
  scalars = {'d_loss': 1.0, 'd_loss/min': 0.5, 'd_loss/max': 1.5,
             'd_loss/member_0': 0.5, 'd_loss/member_1': 1.5,
             'steps_per_sec': 4.0, 'eta_min': 2.5}
  with caplog.at_level(logging.INFO):
    writer.write_scalars(7, scalars)
    writer.flush()
  writer.close()
  line = next(r.getMessage() for r in caplog.records
              if r.getMessage().startswith('[7]'))
  assert 'd_loss=1' in line and 'd_loss/min=0.5' in line
  assert 'd_loss/max=1.5' in line and 'member' not in line
  assert 'steps_per_sec=4' in line and 'eta_min=2.5' in line
  with open(tmp_path / 'metrics.jsonl') as f:
    record = json.loads(f.readline())
  # Every member's value, and no timing: the file describes the run.
  assert record == {'step': 7, 'd_loss': 1.0, 'd_loss/min': 0.5,
                    'd_loss/max': 1.5, 'd_loss/member_0': 0.5,
                    'd_loss/member_1': 1.5}


def test_the_config_goes_to_tensorboard_as_hparams(tmp_path):
  config = mnist.get_config()
  flat = services.hparams(config)
  assert flat['model.noise_dim'] == 62 and flat['seed'] == 0
  assert flat['model.categorical_codes'] == '(10,)'
  assert all(isinstance(v, (bool, int, float, str)) for v in flat.values())
  writer = services.create_writer(str(tmp_path))
  writer.write_hparams(flat)
  writer.close()
  plugins = set()
  for path in glob.glob(str(tmp_path / 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        plugins.add(value.metadata.plugin_data.plugin_name)
  assert 'hparams' in plugins


def test_progress_is_timed_from_the_first_call(monkeypatch):
  clock = iter([90.0, 100.0, 100.0, 110.0, 130.0])
  monkeypatch.setattr(services.time, 'monotonic', lambda: next(clock))
  progress = services.Progress(last_step=1000)
  assert progress(5) == {}  # not started: nothing timed yet
  progress.start(10)  # the first call's end: compiling is not timed
  assert progress(10) == {}
  at_110 = progress(60)  # 50 steps in 10 s
  assert at_110['steps_per_sec'] == pytest.approx(5.0)
  assert at_110['eta_min'] == pytest.approx(940 / 5 / 60)
  assert progress(110)['steps_per_sec'] == pytest.approx(100 / 30)
