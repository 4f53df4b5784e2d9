"""Restarts picked inside one run (config.restarts): the restarts train as a
population, a label-free criterion picks one, the pick trains on alone in
the same workdir, and every phase resumes."""

import json
import os
import re

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

import conftest
from infogan_jax import checkpointing
from infogan_jax import commands
from infogan_jax import config_validation
from infogan_jax import inference
from infogan_jax import restarts
from infogan_jax import trainer
from infogan_jax.evaluators import criteria


def _steps(directory):
  return sorted(int(d) for d in os.listdir(directory) if d.isdigit())


def _metrics(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def test_restarts_pick_one_without_labels_and_train_it_on(config, tmp_path,
                                                           monkeypatch):
  # Every dataset the run opens comes without labels: neither the
  # restarts, nor the pick, nor the continued run can read one.
  conftest.remove_labels(monkeypatch)
  config.download_data = 'always'  # TFDS's mocked download stands in for data
  config.seed = 1
  config.restarts = 3
  config.restart_pick_step = 2
  config.restart_criterion = 'confidence'
  config.select_num_images = 32
  workdir = str(tmp_path / 'run')
  with tfds.testing.mock_data(num_examples=64):
    final = trainer.train_and_evaluate(config, workdir)
  assert int(final.step) == 4

  # The restarts: a population of the seeds 3..5 (disjoint from seed 0's
  # 0..2 and seed 2's 6..8), trained to the pick step only.
  directory = restarts.restarts_dir(workdir)
  assert _steps(checkpointing.checkpoint_dir(directory)) == [2]
  with open(os.path.join(directory, 'config.json')) as f:
    population_config = json.load(f)
  assert (population_config['population'], population_config['seed'],
          population_config['num_train_steps']) == (3, 3, 2)

  # The pick: every member's scores, and the member the criterion picks.
  pick = restarts.read_pick(workdir)
  assert pick['member_seeds'] == [3, 4, 5] and pick['step'] == 2
  assert set(pick['scores']) == set(criteria.CRITERIA)
  assert all(len(v) == 3 for v in pick['scores'].values())
  member = pick['member']
  assert member == int(np.argmax(pick['scores']['confidence']))
  assert pick['picks'] == criteria.choose(
      {k: np.array(v) for k, v in pick['scores'].items()})
  assert pick['picked_seed'] == 3 + member
  logged = _metrics(workdir)[0]
  assert logged['step'] == 2 and logged['restart_pick'] == member
  assert logged[f'restart_confidence/member_{member}'] == (
      pytest.approx(max(pick['scores']['confidence'])))

  # The continued run starts from the picked member bit for bit and is the
  # single run of its seed.
  assert _steps(checkpointing.checkpoint_dir(workdir)) == [2, 4]
  population = inference.load(directory, step=2, member=member)
  continued = inference.load(workdir, step=2)
  leaves = lambda model: jax.tree.leaves((model.g_variables,
                                          model.d_variables))
  for a, b in zip(leaves(population), leaves(continued), strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  other = inference.load(directory, step=2, member=(member + 1) % 3)
  assert any(not np.array_equal(np.asarray(a), np.asarray(b))
             for a, b in zip(leaves(other), leaves(continued)))
  final_model = inference.load(workdir)
  assert final_model.step == 4
  assert (final_model.config.seed, final_model.config.population,
          final_model.config.restarts) == (3 + member, 1, 1)

  # Resumed for longer: nothing of the restarts is trained, scored or
  # exported again.
  def not_again(*args, **kwargs):
    raise AssertionError('the restarts were picked again')
  with monkeypatch.context() as patch:
    patch.setattr(criteria, 'PopulationCriteria', not_again)
    patch.setattr(checkpointing, 'export', not_again)
    patch.setattr(restarts, 'write_pick', not_again)
    config.num_train_steps = 6
    with tfds.testing.mock_data(num_examples=64):
      assert int(trainer.train_and_evaluate(config, workdir).step) == 6
  assert _steps(checkpointing.checkpoint_dir(directory)) == [2]
  assert restarts.read_pick(workdir) == pick

  # Resumed with other restart settings, or without restarts: one line
  # naming the field, before anything is trained.
  config.restart_criterion = 'agreement'
  with pytest.raises(config_validation.ConfigError,
                     match=r"^config.restart_criterion='agreement': .* picked "
                     r"its restart with restart_criterion='confidence'"):
    trainer.train_and_evaluate(config, workdir)
  config.restart_criterion, config.restarts = 'confidence', 1
  with pytest.raises(config_validation.ConfigError,
                     match=r'^config.restarts=1: .* holds a run with '
                     r'restarts=3 and seed=1; resume it with those'):
    trainer.train_and_evaluate(config, workdir)
  # The picked restart's own config trains on from it.
  config.seed = 3 + member
  config.num_train_steps = 8
  with tfds.testing.mock_data(num_examples=64):
    assert int(trainer.train_and_evaluate(config, workdir).step) == 8


def test_a_run_stopped_between_the_phases_picks_on_resume(config, tmp_path,
                                                          monkeypatch):
  """The restarts' population ends and the run stops before picking, then
  again after the pick's export but before pick.json (as crashes would):
  each next start picks from the saved population and goes on."""
  config.download_data = 'always'
  config.restarts = 3
  config.restart_pick_step = 2
  workdir = str(tmp_path / 'run')
  write_pick = restarts.write_pick

  def crash(*args):
    raise RuntimeError('stopped before pick.json')

  with tfds.testing.mock_data(num_examples=64):
    trainer.train_and_evaluate(restarts.population_config(config),
                               restarts.restarts_dir(workdir))
    assert restarts.read_pick(workdir) is None
    monkeypatch.setattr(restarts, 'write_pick', crash)
    with pytest.raises(RuntimeError, match='before pick.json'):
      trainer.train_and_evaluate(config, workdir)
    assert _steps(checkpointing.checkpoint_dir(workdir)) == [2]
    monkeypatch.setattr(restarts, 'write_pick', write_pick)
    assert int(trainer.train_and_evaluate(config, workdir).step) == 4
  pick = restarts.read_pick(workdir)
  assert pick['restart_criterion'] == 'agreement'  # the default from three
  assert pick['member'] == int(np.argmax(pick['scores']['agreement']))
  assert _steps(checkpointing.checkpoint_dir(
      restarts.restarts_dir(workdir))) == [2]
  assert _steps(checkpointing.checkpoint_dir(workdir)) == [2, 4]


@pytest.mark.parametrize('changes,message', [
    ({'seed': 1}, r'^config.seed=1: .* trains the restarts of seed 0; '),
    ({'restarts': 4}, r'^config.restarts=4: .* trains 3 restarts; '),
    ({'restart_pick_step': 4, 'num_train_steps': 6},
     r'^config.restart_pick_step=4: .* trains its restarts to step 2; '),
])
def test_restarts_resumed_with_other_settings_stop_before_training(
    config, tmp_path, capsys, changes, message):
  config.download_data = 'always'
  config.restarts = 3
  config.restart_pick_step = 2
  workdir = str(tmp_path / 'run')
  with tfds.testing.mock_data(num_examples=64):
    trainer.train_and_evaluate(restarts.population_config(config),
                               restarts.restarts_dir(workdir))
  for field, value in changes.items():
    config[field] = value
  assert commands.run(config, workdir) == commands.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and re.match(message, err[len('error: '):])
  assert not os.path.exists(checkpointing.checkpoint_dir(workdir))


def test_restarts_refuse_a_workdir_of_a_run_without_them(config, tmp_path,
                                                         capsys):
  config.download_data = 'always'
  workdir = str(tmp_path / 'run')
  with tfds.testing.mock_data(num_examples=64):
    trainer.train_and_evaluate(config, workdir)
  config.restarts = 3
  config.restart_pick_step = 2
  config.num_train_steps = 6
  assert commands.run(config, workdir) == commands.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert re.match(r'error: .* holds checkpoints of a run without restarts '
                  r'\(steps \[2, 4\]\)', err)
  assert not os.path.exists(restarts.restarts_dir(workdir))


def test_summary_puts_the_labels_pick_beside_the_criterions(tmp_path):
  """The record of a run with restarts (infogan_tools.summary) adds each
  restart's logged test accuracy at the pick step and the restart those
  accuracies would pick, for the report only."""
  from infogan_tools import summary  # pylint: disable=g-import-not-at-top
  workdir = tmp_path / 'run'
  (workdir / 'restarts').mkdir(parents=True)
  (workdir / 'config.json').write_text(json.dumps(
      {'seed': 7, 'model': {'categorical_codes': [10]}}))
  (workdir / 'metrics.jsonl').write_text(
      json.dumps({'step': 4, 'mi_cat_nats': 2.0}) + '\n' +
      json.dumps({'step': 4, 'eval_accuracy': 0.96}) + '\n')
  pick = {'seed': 2, 'restarts': 3, 'restart_pick_step': 2,
          'restart_criterion': 'agreement', 'step': 2, 'member': 1,
          'picked_seed': 7, 'member_seeds': [6, 7, 8],
          'scores': {'agreement': [0.7, 0.9, 0.8]}, 'picks': {'agreement': 1}}
  (workdir / 'restarts' / 'pick.json').write_text(json.dumps(pick))
  (workdir / 'restarts' / 'metrics.jsonl').write_text(
      json.dumps({'step': 1, 'eval_accuracy/member_0': 0.99,
                  'eval_accuracy/member_1': 0.1,
                  'eval_accuracy/member_2': 0.1}) + '\n' +
      json.dumps({'step': 2, 'd_loss': 1.0}) + '\n' +
      json.dumps({'step': 2, 'eval_accuracy/member_0': 0.89,
                  'eval_accuracy/member_1': 0.95,
                  'eval_accuracy/member_2': 0.97,
                  'select_agreement/member_1': 0.9,
                  'select_pick_agreement': 1}) + '\n' +
      # A later --mode=eval of the same checkpoint adds to that record.
      json.dumps({'step': 2, 'eval_nmi/member_0': 0.5}) + '\n')
  (workdir / 'restarts' / 'config.json').write_text(json.dumps(
      {'seed': 6, 'population': 3, 'model': {'categorical_codes': [10]}}))
  record = summary.summarize(str(workdir))
  assert record['seed'] == 2  # the run's, not the picked restart's (7)
  assert record['eval_accuracy'] == 0.96
  assert record['restarts']['member'] == 1
  assert record['restarts']['test_accuracy_at_pick'] == [0.89, 0.95, 0.97]
  assert record['restarts']['labels_pick'] == 2
  # The restarts' population alone: its members' scores and picks too.
  population = summary.summarize(str(workdir / 'restarts'))
  assert population['seed'] == 6 and population['eval_step'] == 2
  assert population['eval_accuracy/member_2'] == 0.97
  assert population['select_agreement/member_1'] == 0.9
  assert population['select_pick_agreement'] == 1
  assert population['eval_nmi/member_0'] == 0.5
