"""Clustering metrics, the evaluator, --mode=eval/figures and the MI plot."""

import itertools
import json
import math
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

import conftest
from infogan_jax.evaluators import clustering
from infogan_tools import plots
from infogan_tools import summary
from infogan_jax import commands
from infogan_jax import trainer
from infogan_jax import step as step_lib
from infogan_jax import sharding

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _from_counts(counts):
  """(clusters, labels) with counts[k][y] examples of class y in cluster k."""
  clusters, labels = [], []
  for k, row in enumerate(counts):
    for y, n in enumerate(row):
      clusters += [k] * n
      labels += [y] * n
  return np.array(clusters), np.array(labels)


@pytest.mark.parametrize('seed', range(3))
def test_matching_undoes_a_permutation(seed):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 10, 500)
  permutation = rng.permutation(10)
  clusters = permutation[labels]
  mapping = clustering.match_clusters(clusters, labels)
  assert mapping == {int(permutation[y]): y for y in range(10)}
  assert clustering.clustering_scores(clusters, labels) == {
      'accuracy': 1.0, 'nmi': pytest.approx(1.0), 'ari': pytest.approx(1.0)}


def test_matching_beats_greedy():
  # Greedy takes the largest cell (cluster 0 -> class 0, 10 examples) and is
  # left with cluster 1 -> class 1 (0 examples): 10 right. The best
  # one-to-one matching crosses over: 9 + 8 = 17 right.
  clusters, labels = _from_counts([[10, 9], [8, 0]])
  assert clustering.match_clusters(clusters, labels) == {0: 1, 1: 0}
  assert clustering.clustering_accuracy(clusters, labels) == pytest.approx(
      17 / 27)


def test_brute_force_agrees_with_hungarian():
  rng = np.random.default_rng(0)
  clusters, labels = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
  best = max(np.mean(np.array(p)[clusters] == labels)
             for p in itertools.permutations(range(5)))
  assert clustering.clustering_accuracy(clusters, labels) == pytest.approx(best)


def test_scores_of_hand_made_clusterings():
  # Independent: two classes split evenly across two clusters.
  scores = clustering.clustering_scores(np.array([0, 1, 0, 1]),
                                        np.array([0, 0, 1, 1]))
  assert scores['accuracy'] == 0.5
  assert scores['nmi'] == pytest.approx(0.0, abs=1e-12)
  assert scores['ari'] == pytest.approx(-0.5)
  # Three clusters for two classes; the middle one is mixed. By hand:
  # MI = (2/3) ln 2, NMI = MI / ((ln 2 + ln 3) / 2); ARI = (2 - 1.2) / (4.5 -
  # 1.2); the best matching leaves the mixed cluster out: 4 of 6 right.
  scores = clustering.clustering_scores(np.array([0, 0, 1, 1, 2, 2]),
                                        np.array([0, 0, 0, 1, 1, 1]))
  assert scores['accuracy'] == pytest.approx(4 / 6)
  assert scores['nmi'] == pytest.approx((2 / 3) * math.log(2) /
                                        (math.log(6) / 2))
  assert scores['ari'] == pytest.approx(0.8 / 3.3)


def test_describe_shows_a_merged_pair():
  clusters, labels = _from_counts([[50, 0, 0], [0, 30, 20], [0, 1, 0]])
  table = clustering.describe_clusters(clusters, labels).splitlines()
  assert table[2].split()[:3] == ['1', '50', '1']
  assert '1 60%, 2 40%' in table[2]


def test_describe_shows_every_category_of_the_code():
  """Categories after the last one used are rows too, empty: a code of 5
  categories of which 0..2 hold images shows 5 rows."""
  clusters, labels = _from_counts([[50, 0, 0], [0, 30, 20], [0, 1, 0]])
  table = clustering.describe_clusters(clusters, labels,
                                       num_clusters=5).splitlines()
  assert len(table) == 1 + 5
  assert table[4].split() == ['3', '0', '-'] and table[5].split() == [
      '4', '0', '-']
  assert len(clustering.describe_clusters(clusters, labels).splitlines()) == 4
  # An empty category between used ones is matched to nothing either.
  clusters, labels = _from_counts([[50, 0, 0], [0, 0, 0], [0, 30, 20]])
  table = clustering.describe_clusters(clusters, labels).splitlines()
  assert table[2].split() == ['1', '0', '-']


def test_evaluator_batches_match_one_big_batch(config):
  """Padding and sharding the last partial batch change no prediction."""
  config.model.categorical_codes = (10, 3)
  gan = step_lib.TrainStep.from_config(config)
  mesh = sharding.make_mesh()
  state = step_lib.create_state(gan, 0, (28, 28, 1), mesh)
  images = np.random.default_rng(0).uniform(size=(50, 28, 28, 1)).astype(
      np.float32)
  labels = np.arange(50) % 10
  evaluator = clustering.ClusteringEvaluator(gan.gan, mesh, images, labels,
                                             batch_size=16)
  predicted = evaluator.predict(state.d.variables())
  _, q_out = gan.gan.discriminator.apply(state.d.variables(), images, train=False)
  expected = np.stack([np.argmax(q_out[:, :10], -1),
                       np.argmax(q_out[:, 10:13], -1)], -1)
  np.testing.assert_array_equal(predicted, expected)
  scores = evaluator(state)
  assert set(scores) == {f'eval_{p}{m}' for p in ('', 'cat0_', 'cat1_')
                         for m in ('accuracy', 'nmi', 'ari')}
  assert scores['eval_accuracy'] == scores['eval_cat0_accuracy']
  assert scores['eval_cat1_accuracy'] <= 3 / 10 + 1e-9  # 3 categories only


# Its tests run on one pytest-xdist worker, which builds it once.
SHARES_TRAINED_WORKDIR = pytest.mark.xdist_group('test_evaluation:trained_workdir')


@pytest.fixture(scope='module')
def trained_workdir(tmp_path_factory):
  """A 4-step run on mock MNIST with the clustering evaluator on."""
  config = conftest.tiny_config()
  workdir = str(tmp_path_factory.mktemp('run'))
  config.download_data = 'always'
  config.evaluators = ('clustering',)
  config.eval_every_steps = 2
  with tfds.testing.mock_data(num_examples=40):
    trainer.train_and_evaluate(config, workdir)
  return config, workdir


def test_training_logs_evaluations_and_eval_mode_repeats_the_last(
    trained_workdir):
  config, workdir = trained_workdir
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    rows = [json.loads(line) for line in f]
  evals = [r for r in rows if 'eval_accuracy' in r][:2]  # during training
  assert [r['step'] for r in evals] == [2, 4]
  for r in evals:
    assert 0.0 <= r['eval_accuracy'] <= 1.0 and -1 <= r['eval_ari'] <= 1
    assert 0.0 <= r['eval_nmi'] <= 1.0
  with tfds.testing.mock_data(num_examples=40):
    step, scores, report = commands.evaluate(config, workdir)
  assert step == 4
  # The checkpoint holds the state the last in-training evaluation saw.
  assert scores == {k: v for k, v in evals[-1].items() if k != 'step'}
  assert report.startswith('step 4: eval_accuracy=')
  assert 'category  size  matched' in report
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    assert json.loads(f.readlines()[-1]) == {'step': 4, **scores}


@SHARES_TRAINED_WORKDIR
def test_figures_mode_writes_one_grid_per_code(trained_workdir):
  config, workdir = trained_workdir
  config = config.copy_and_resolve_references()
  config.continuous_sweep_steps = 5
  # No dataset needed: the image shape is the generator's.
  paths = commands.write_figures(config, workdir)
  assert [os.path.basename(p) for p in paths] == [
      'step_00000004_cat0.png', 'step_00000004_cont0.png',
      'step_00000004_cont1.png']
  # Rows: 10 categories, or 5 sweep values; 3 columns; 28x28 cells 2px apart.
  assert Image.open(paths[0]).size == (3 * 30 - 2, 10 * 30 - 2)
  assert Image.open(paths[1]).size == (3 * 30 - 2, 5 * 30 - 2)


@SHARES_TRAINED_WORKDIR
def test_summary_of_a_finished_run(trained_workdir):
  _, workdir = trained_workdir
  record = summary.summarize(workdir, wall_s=90)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    rows = [json.loads(line) for line in f]
  assert record['steps'] == 4 and record['eval_step'] == 4
  train_rows = [r for r in rows if 'mi_cat_nats' in r]
  eval_rows = [r for r in rows if 'eval_accuracy' in r]
  assert record['mi_cat_nats'] == train_rows[-1]['mi_cat_nats']
  assert record['eval_accuracy'] == eval_rows[-1]['eval_accuracy']
  assert record['wall_min'] == 1.5 and record['hardware'].startswith('CPU')
  assert record['mi_in_generator_loss'] is True and record['seed'] == 0
  # Every evaluation, in order; screen records name their candidate.
  assert record['evals'] == eval_rows and 'candidate' not in record
  assert 'config_file' not in record and 'resumed_from_step' not in record
  assert summary.summarize(workdir, candidate='c')['candidate'] == 'c'
  row = summary.table([record]).splitlines()[2].split(' | ')
  assert row[1] == '-' and row[3] == f"{record['eval_accuracy']:.4f}"
  assert row[8] == '1.5 min'
  # A run continued from a checkpoint: its wall time covers the later steps.
  record = summary.summarize(workdir, wall_s=90, config_file='configs/c.py',
                             resumed_from_step=2)
  assert record['config_file'] == 'configs/c.py'
  row = summary.table([record]).splitlines()[2].split(' | ')
  assert row[1] == '`configs/c.py`' and row[8] == '1.5 min (steps 2-4)'


def test_screen_table_has_a_row_per_candidate_and_a_column_per_seed():
  def record(candidate, seed, accuracies):
    return {'candidate': candidate, 'seed': seed,
            'evals': [{'step': 500 * (i + 1), 'eval_accuracy': a}
                      for i, a in enumerate(accuracies)]}
  rows = summary.screen_table([
      record('base', 0, [0.5, 0.6, 0.7]), record('base', 1, [0.4, 0.5, 0.9]),
      record('new', 1, [0.6, 0.7, 0.95])]).splitlines()
  assert rows[0] == '| candidate | seed 0 | seed 1 | mean at the end |'
  assert rows[2] == '| base | 0.500 / 0.600 / 0.700 | 0.400 / 0.500 / 0.900 | 0.800 |'
  assert rows[3] == '| new | - | 0.600 / 0.700 / 0.950 | 0.950 |'


def test_mi_plot_of_two_workdirs(tmp_path):
  for name, values in (('a', [1.0, 2.0, 2.2]), ('b', [0.5, 0.2, 0.1])):
    os.makedirs(tmp_path / name)
    with open(tmp_path / name / 'metrics.jsonl', 'w') as f:
      for step, v in zip((50, 100, 150), values):
        f.write(json.dumps({'step': step, 'mi_cat_nats': v}) + '\n')
      f.write(json.dumps({'step': 150, 'eval_accuracy': 0.5}) + '\n')
  steps, values = plots.read_metric(str(tmp_path / 'a'), 'mi_cat_nats')
  assert steps.tolist() == [50, 100, 150] and values.tolist() == [1, 2, 2.2]
  out = str(tmp_path / 'mi.png')
  plots.plot_runs([('InfoGAN', str(tmp_path / 'a')),
                   ('GAN', str(tmp_path / 'b'))], out, reference=math.log(10))
  assert Image.open(out).size == (720, 432)  # 6 x 3.6 inches at 120 dpi


def test_eval_mode_without_checkpoint_is_one_line(tmp_path):
  def figures():
    result = subprocess.run(
        [sys.executable, '-m', 'infogan_jax.main', '--config=configs/mnist.py',
         f'--workdir={tmp_path}', '--mode=figures'], cwd=REPO,
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith('error:')]
    assert len(errors) == 1
    return errors[0]
  # No checkpoints/ at all (a mistyped workdir): said before JAX starts, and
  # nothing is created there.
  assert 'no checkpoints/ there' in figures()
  assert os.listdir(tmp_path) == []
  # checkpoints/ without a checkpoint in it.
  os.makedirs(tmp_path / 'checkpoints')
  assert 'no checkpoint in' in figures()
