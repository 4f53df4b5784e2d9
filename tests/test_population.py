"""Populations: N seeds trained as one program (config.population)."""

import dataclasses
import functools
import json
import os
import shutil

import jax
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

import infogan_jax
from infogan_jax import commands
from infogan_jax import config_validation
from infogan_jax import population as population_lib
from infogan_jax import sharding
from infogan_jax import step as step_lib
from infogan_jax import trainer
from infogan_jax.errors import ConfigError
from infogan_jax.errors import IncompatibleCheckpointError

SEED = 5


def _images(n=64):
  """Noise images of different brightness: a batch drawn in another order
  changes the losses."""
  rng = np.random.default_rng(0)
  return (rng.uniform(size=(n, 1, 1, 1)) *
          rng.uniform(size=(n, 28, 28, 1))).astype(np.float32)


def _with(config, form, slow=False):
  """(the config's step, `form`): members stepped in `form`; `slow`:
  learning rates 100x smaller (see below)."""
  step = step_lib.TrainStep.from_config(config)
  if slow:
    step = dataclasses.replace(
        step, g_tx=optax.adam(config.g_learning_rate / 100, b1=config.adam_b1),
        d_tx=optax.adam(config.d_learning_rate / 100, b1=config.adam_b1))
  return step, form


@functools.lru_cache
def _compiled(stepping, population):
  step, form = stepping
  mesh = population_lib.make_mesh(population, jax.devices()[:1])
  return mesh, population_lib.jit_train_steps(step, mesh, 1, 16, True,
                                              population, form)


def _train(stepping, seed, population, steps):
  """`steps` steps with data on one device; the state and per-step metrics."""
  mesh, call = _compiled(stepping, population)
  state = population_lib.create_state(stepping[0], seed, (28, 28, 1), mesh,
                                      population)
  dataset = population_lib.device_dataset(_images(), seed,
                                          sharding.replicated(mesh),
                                          population)
  history = []
  for _ in range(steps):
    state, metrics = call(state, dataset)
    history.append(jax.device_get(metrics))
  return jax.device_get(state), history


POPULATION, STEPS = 3, 20


@pytest.mark.parametrize('form', ['loop', 'vmap'])
def test_member_is_the_single_run_of_its_seed(config, form):
  """Member i is the run of seed + i up to float reassociation: the same
  initial state, latents and batches, and updates that agree up to
  summation order. ('vmap' batches the convolutions, which sum in another
  order; 'loop' runs each member's own step, which XLA may still fuse, and
  so sum, differently from the single run's program: with the tests'
  fast-compile flags it does.)

  GAN training amplifies reassociation (Adam's first updates are nearly
  sign(g), and a pre-activation at a LeakyReLU's kink can go either way): at
  the config's learning rates a member and its single run drift
  to d_loss differences near 1e-2 after 20 steps on this tiny model, as
  any change of summation order would. At 1/100 of them they stay near 1e-6,
  while everything that depends on the seed must still line up: the
  control below (the run of the next seed) differs by far more.
  """
  step = _with(config, form, slow=True)
  members, member_metrics = _train(step, SEED, POPULATION, STEPS)
  assert member_metrics[0]['d_loss'].shape == (POPULATION, 1)
  for i in range(POPULATION):
    single, metrics = _train(step, SEED + i, 1, STEPS)
    member = population_lib.member(members, i)
    assert int(member.step) == int(single.step) == STEPS
    np.testing.assert_array_equal(member.key, single.key)
    # Per leaf, relative to its size. The loosest leaves are biases that
    # start at 0 and have moved by ~20 updates of Adam (measured: up to 3%);
    # the other seed's run differs by ~100%.
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(single),
                            jax.tree.leaves(member)):
      a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
      error = np.linalg.norm(a - b) / (np.linalg.norm(a) + 1e-12)
      assert error <= 0.1, (jax.tree_util.keystr(path), error)
    for t in range(STEPS):
      for name, values in metrics[t].items():
        np.testing.assert_allclose(member_metrics[t][name][i, 0],
                                   values[0], atol=1e-4, err_msg=name)
    # The control: another seed's run is far from member i.
    if i == 0:
      other = np.array([m['d_loss'][0] for m in _train(
          step, SEED + 1, 1, STEPS)[1]])
      mine = np.array([m['d_loss'][i, 0] for m in member_metrics])
      assert np.max(np.abs(other - mine)) > 1e-2


@pytest.mark.parametrize('population', [1, 2, 8, 16])
def test_members_spread_over_eight_devices(config, population):
  """N >= 8: each device holds N / 8 whole members; N < 8: each member is
  data-parallel over 8 / N devices. The same numbers as on one device.
  (The vmapped form, which accelerators use; the trainer's tests run the
  CPU's looped form on these devices.)"""
  step, form = _with(config, 'vmap')
  mesh = population_lib.make_mesh(population)
  groups = min(population, 8)
  assert dict(mesh.shape) == {'member': groups, 'data': 8 // groups}
  state = population_lib.create_state(step, SEED, (28, 28, 1), mesh,
                                      population)
  if population > 1:
    leaf = state.g.params['Dense_0']['kernel']
    assert leaf.shape[0] == population
    shard_shapes = {s.data.shape for s in leaf.addressable_shards}
    assert shard_shapes == {(population // groups, *leaf.shape[1:])}
  batch = np.concatenate([_images(16)] * population)[None]
  batch = jax.device_put(batch, sharding.stacked_data(mesh))
  eight, eight_metrics = population_lib.jit_train_steps(
      step, mesh, 1, 16, False, population, form)(state, batch)
  one_mesh = population_lib.make_mesh(population, jax.devices()[:1])
  one = population_lib.create_state(step, SEED, (28, 28, 1), one_mesh,
                                    population)
  one, one_metrics = population_lib.jit_train_steps(
      step, one_mesh, 1, 16, False, population, form)(
          one, jax.device_put(np.asarray(batch),
                              sharding.stacked_data(one_mesh)))
  for name in one_metrics:
    np.testing.assert_allclose(np.asarray(eight_metrics[name]),
                               np.asarray(one_metrics[name]), rtol=1e-4,
                               atol=1e-5, err_msg=name)
  # Every member trained on the same batch from its own seed: they differ.
  if population > 1:
    losses = np.asarray(one_metrics['d_loss'])[:, 0]
    assert len(set(np.round(losses, 5))) == population


def test_population_must_fit_devices_and_batch(config):
  config.population = 0
  with pytest.raises(ConfigError,
                     match=r'^config\.population=0: must be an integer'):
    config_validation.validate(config, device_count=8)
  config.population, config.batch_size = 3, 12
  # gcd(3, 8) = 1 member group: every member's batch over all 8 devices.
  with pytest.raises(ConfigError, match=r'^config\.population=3: on 8 '
                     r"devices each member's batch is split over 8 of them"):
    config_validation.validate(config, device_count=8)
  config.batch_size = 16
  config_validation.validate(config, device_count=8)
  config.population, config.batch_size = 4, 7  # 2 devices per member
  with pytest.raises(ConfigError, match='split over 2 of them'):
    config_validation.validate(config, device_count=8)


# ------------------------------------------------- the training loop


# Its tests run on one pytest-xdist worker, which builds it once.
SHARES_POPULATION_RUN = pytest.mark.xdist_group('test_population:population_run')


@pytest.fixture(scope='module')
def population_run(tmp_path_factory):
  """Four members for 4 steps on mock MNIST, with clustering evaluated."""
  import conftest  # pylint: disable=g-import-not-at-top
  config = conftest.tiny_config()
  config.download_data = 'always'
  config.population = 4
  config.evaluators = ('clustering',)
  config.eval_every_steps = 4
  config.select_num_images = 48
  workdir = str(tmp_path_factory.mktemp('population'))
  # On one device (members over devices: test_members_spread_over_...).
  with pytest.MonkeyPatch.context() as patch, tfds.testing.mock_data(
      num_examples=64):
    conftest.train_on_one_device(patch)
    state = trainer.train_and_evaluate(config, workdir)
    # The same run resumed from its checkpoint at step 2.
    halfway = tmp_path_factory.mktemp('population_resumed')
    shutil.copytree(os.path.join(workdir, 'checkpoints', '2'),
                    halfway / 'checkpoints' / '2')
    resumed = trainer.train_and_evaluate(config, str(halfway))
  return config, workdir, jax.device_get(state), jax.device_get(resumed)


@SHARES_POPULATION_RUN
def test_population_logs_each_member_and_their_spread(population_run):
  _, workdir, state, _ = population_run
  assert int(state.step) == 4 and state.key.shape[0] == 4
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  logged = records[0]
  members = [logged[f'd_loss/member_{i}'] for i in range(4)]
  assert len(set(members)) == 4
  assert logged['d_loss'] == pytest.approx(np.mean(members))
  assert logged['d_loss/min'] == min(members)
  assert logged['d_loss/max'] == max(members)
  evaluation = [r for r in records if 'eval_accuracy' in r][-1]
  for name in ('eval_accuracy', 'select_real_information',
               'select_confidence', 'select_agreement'):
    assert {f'{name}/member_{i}' for i in range(4)} <= set(evaluation)
  picks = {evaluation[f'select_pick_{name}'] for name in
           ('real_information', 'confidence', 'agreement')}
  assert picks <= {0, 1, 2, 3}
  assert int(evaluation['select_pick_agreement']) == int(np.argmax(
      [evaluation[f'select_agreement/member_{i}'] for i in range(4)]))
  samples = set(os.listdir(os.path.join(workdir, 'samples')))
  assert {f'step_00000004_cat0_member{i}.png' for i in range(4)} <= samples


@SHARES_POPULATION_RUN
def test_population_resumes_exactly(population_run):
  _, _, state, resumed = population_run
  for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(resumed)):
    np.testing.assert_array_equal(a, b)


@SHARES_POPULATION_RUN
def test_load_and_select_a_member(population_run, tmp_path):
  config, workdir, state, _ = population_run
  with pytest.raises(IncompatibleCheckpointError,
                     match='holds a population of 4 members: pass '
                     r'member=0\.\.3'):
    infogan_jax.load(workdir)
  model = infogan_jax.load(workdir, member=2)
  assert model.config.seed == config.seed + 2
  assert model.config.population == 1
  np.testing.assert_array_equal(
      model.g_variables['params']['Dense_0']['kernel'],
      state.g.params['Dense_0']['kernel'][2])

  with tfds.testing.mock_data(num_examples=64):
    report = commands.select(config, workdir)
  assert report['criterion'] == 'agreement'
  chosen = report['member']
  assert chosen == report['picks']['agreement']
  assert chosen == int(np.argmax(report['scores']['agreement']))
  selected = infogan_jax.load(report['exported_to'])
  assert selected.step == 4 and selected.config.seed == config.seed + chosen
  np.testing.assert_array_equal(
      selected.d_variables['params']['q_out']['kernel'],
      state.d.params['q_out']['kernel'][chosen])
  with pytest.raises(IncompatibleCheckpointError, match='single run'):
    infogan_jax.load(report['exported_to'], member=0)

  # The exported member resumes as an ordinary single run of its seed.
  single = population_lib.member_config(config, chosen)
  single.num_train_steps = 6
  with tfds.testing.mock_data(num_examples=64):
    resumed = trainer.train_and_evaluate(single, report['exported_to'])
  assert int(resumed.step) == 6

  # A population's checkpoints are not resumed as a single run, and a
  # single run has no members to select.
  config = population_lib.member_config(config, 0)
  with pytest.raises(ConfigError, match='picks a member of a population'):
    commands.select(config, workdir)
  with pytest.raises(IncompatibleCheckpointError,
                     match=r'population of 4 members and this run has '
                     r'population 1: pass --config\.population=4'):
    with tfds.testing.mock_data(num_examples=64):
      trainer.train_and_evaluate(config, workdir)
