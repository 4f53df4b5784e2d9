"""The public API: `infogan_jax.load` and what the restored model does."""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import PIL.Image
import pytest
import tensorflow_datasets as tfds

import conftest
import infogan_jax
from infogan_jax import checkpointing
from infogan_jax.data import pipeline
from infogan_jax.errors import DataNotFoundError
from infogan_jax import gan as gan_lib
from infogan_jax import keys
from infogan_jax import losses
from infogan_jax.evaluators import clustering
from infogan_jax import selection
from infogan_jax import sharding
from infogan_jax import trainer
from infogan_tools import grids

STEPS = 200

# The tests share the module's run: one pytest-xdist worker builds it once.
pytestmark = pytest.mark.xdist_group('test_inference:run')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """A short run on mock MNIST, for `load` and what the restored model does."""
  config = conftest.tiny_config()
  config.download_data = 'always'
  config.batch_size = 32
  config.num_train_steps = STEPS
  config.log_every_steps = config.sample_every_steps = STEPS
  config.checkpoint_every_steps = STEPS // 2
  config.steps_per_call = 1
  workdir = str(tmp_path_factory.mktemp('run'))
  # On one device: 200 steps of all-reduces over 8 fake CPU devices can hit
  # XLA:CPU's 40 s rendezvous timeout on a loaded two-core machine.
  with pytest.MonkeyPatch.context() as patch, tfds.testing.mock_data(
      num_examples=64):
    conftest.train_on_one_device(patch)
    state = trainer.train_and_evaluate(config, workdir)
  return config, workdir, state


@pytest.fixture(scope='module')
def model(run):
  return infogan_jax.load(run[1])


def test_load_restores_the_final_networks_without_optimiser_state(run, model):
  config, _, state = run
  assert model.step == STEPS and model.config.seed == config.seed
  assert model.code_names == ('cat0', 'cont0', 'cont1')
  assert model.image_shape == (28, 28, 1)
  for restored, trained in ((model.g_variables, state.g.variables()),
                            (model.d_variables, state.d.variables())):
    assert jax.tree.structure(restored) == jax.tree.structure(trained)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(trained)):
      np.testing.assert_array_equal(a, b)
  # Restoring an earlier step and from the checkpoints directory also works.
  earlier = infogan_jax.load(os.path.join(run[1], 'checkpoints'),
                             step=STEPS // 2)
  assert earlier.step == STEPS // 2
  assert 'step=100' in repr(earlier) and "codes=cat0(10), cont0" in repr(earlier)


def test_generate_is_deterministic_in_range_and_fixes_codes(model):
  key = jax.random.key(3)
  images = model.generate(key, 6)
  assert images.shape == (6, 28, 28, 1) and images.dtype == jnp.float32
  assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
  np.testing.assert_array_equal(images, model.generate(key, 6))
  assert not np.array_equal(images, model.generate(jax.random.key(4), 6))

  codes = {'cat0': 7, 'cont1': jnp.linspace(-2.0, 2.0, 6)}
  latents = model.sample_latents(key, 6, codes)
  np.testing.assert_array_equal(latents.categorical[:, 0], 7)
  np.testing.assert_allclose(latents.continuous[:, 1],
                             np.linspace(-2.0, 2.0, 6), rtol=1e-6)
  # Fixing codes leaves z and the other codes as the key draws them.
  free = model.sample_latents(key, 6)
  np.testing.assert_array_equal(latents.noise, free.noise)
  np.testing.assert_array_equal(latents.continuous[:, 0], free.continuous[:, 0])
  np.testing.assert_array_equal(model.generate(key, 6, codes),
                                model.render(latents))


def _fit_q(model, n=512, batch_size=32, epochs=20):
  """`model` with Q (and D's body under it) fitted alone to read back the codes
  of n fixed images of its frozen G: Adam on the information bound, over
  `epochs` passes of minibatches.

  Unlike the short GAN run before it, this is a supervised problem on fixed
  inputs: where it ends does not hang on a chaotic trajectory.
  """
  latents = model.sample_latents(jax.random.key(11), n)
  images = model.gan.generate(model.g_variables, latents)  # G's range
  batches = jax.tree.map(
      lambda x: jnp.tile(x.reshape(n // batch_size, batch_size, *x.shape[1:]),
                         (epochs,) + (1,) * x.ndim), (images, latents))
  stats = model.d_variables['batch_stats']
  optimiser = optax.adam(1e-3)

  def loss(params, images, latents):
    _, q_out = model.gan.discriminate(
        {'params': params, 'batch_stats': stats}, images, train=False)
    mi = losses.mutual_information(model.spec, q_out, latents)
    return -(mi.categorical + mi.continuous)

  def update(carry, batch):
    params, opt_state = carry
    grads = jax.grad(loss)(params, *batch)
    updates, opt_state = optimiser.update(grads, opt_state)
    return (optax.apply_updates(params, updates), opt_state), None

  @jax.jit
  def fit(params):
    return jax.lax.scan(update, (params, optimiser.init(params)),
                        batches)[0][0]

  params = fit(model.d_variables['params'])
  return dataclasses.replace(
      model, d_variables={'params': params, 'batch_stats': stats})


def _read_back(model, n=500):
  """How often Q names the category G was given, and how its mean of the
  first continuous code correlates with the value G was given, on n fresh
  draws."""
  latents = model.sample_latents(jax.random.key(5), n)
  posterior = model.posterior(model.render(latents))
  agreement = float(np.mean(np.asarray(posterior.categories()[:, 0]) ==
                            np.asarray(latents.categorical[:, 0])))
  r = np.corrcoef(latents.continuous[:, 0], posterior.mean[:, 0])[0, 1]
  return agreement, float(r), posterior


def test_posterior_reads_back_the_codes_g_was_given(model):
  agreement, r, posterior = _read_back(_fit_q(model))
  assert posterior.probabilities[0].shape == (500, 10)
  np.testing.assert_allclose(posterior.probabilities[0].sum(-1), 1.0,
                             rtol=1e-5)
  assert posterior.mean.shape == posterior.std.shape == (500, 2)
  # A pytree: its arrays, one per field, reach jax.tree functions.
  assert len(jax.tree.leaves(posterior)) == 3
  assert jax.tree.map(np.asarray, posterior).categories().shape == (500, 1)
  np.testing.assert_array_equal(posterior.std, 1.0)  # Q's std is fixed
  # Measured over the fixture's run with seeds 0-4 (its GAN trajectory
  # perturbed as a library release would): agreement 0.962-1.000 where the
  # GAN's own Q reached 0.202-0.450 (chance: 0.1), r 0.899-0.955.
  assert agreement > 0.9, agreement
  assert r > 0.7, r


def test_posterior_agrees_with_the_clustering_evaluator(run, model):
  config, _, state = run
  images = np.asarray(model.generate(jax.random.key(6), 32))
  gan = gan_lib.InfoGAN.from_config(config)
  low, high = gan.value_range
  evaluator = clustering.ClusteringEvaluator(
      gan, sharding.make_mesh(jax.devices()[:1]),
      images * (high - low) + low,
      np.zeros(32, np.int32), batch_size=16)
  np.testing.assert_array_equal(evaluator.predict(state.d.variables()),
                                model.posterior(images).categories())
  # uint8 images are read as 0..255.
  as_bytes = np.round(images * 255).astype(np.uint8)
  np.testing.assert_allclose(
      model.posterior(as_bytes).probabilities[0],
      model.posterior(as_bytes / np.float32(255)).probabilities[0], atol=1e-6)
  # ... unless the run's dataset stores its pixels as 0/1 (pixel_max=1).
  binary = images > 0.5
  config = run[0].copy_and_resolve_references()
  config.pixel_max = 1
  binary_model = infogan_jax.load(run[1], config=config)
  np.testing.assert_allclose(
      binary_model.posterior(binary.astype(np.uint8)).probabilities[0],
      model.posterior(binary.astype(np.float32)).probabilities[0], atol=1e-6)


def test_traverse_rows_sweep_one_code(model):
  columns = 4
  cell = 28 + 2  # image plus the grid's padding
  grid = model.traverse('cat0', columns=columns)
  assert grid.shape == (10 * cell - 2, columns * cell - 2, 1)
  assert 0.0 <= grid.min() and grid.max() <= 1.0
  # Row 3 shows category 3 on the same draws as every other row (by
  # default those of the seed's 'traversals' stream).
  key = keys.stream(model.config.seed, 'traversals')
  row = model.generate(key, columns, codes={'cat0': 3})
  np.testing.assert_allclose(grid[3 * cell:3 * cell + 28, :28], row[0],
                             atol=1e-6)
  sweep = model.traverse('cont1', columns=columns)
  assert sweep.shape[0] == model.config.continuous_sweep_steps * cell - 2
  custom = model.traverse('cont0', values=[-1.0, 1.0], columns=columns,
                          codes={'cat0': 2})
  assert custom.shape == (2 * cell - 2, columns * cell - 2, 1)


def test_labelled_grids_draw_every_code_with_the_papers_names(model,
                                                              tmp_path):
  assert grids.paper_names(model.code_names) == {
      'cat0': 'c1', 'cont0': 'c2', 'cont1': 'c3'}
  paths = grids.labelled_grids(model, str(tmp_path / 'final'), columns=3)
  assert [os.path.basename(p) for p in paths] == [
      'final_cat0.png', 'final_cont0.png', 'final_cont1.png']
  heights = [np.asarray(PIL.Image.open(p)).shape[0] for p in paths]
  # Ten category rows against the sweep's seven: the taller figure.
  assert heights[0] > heights[1] == heights[2]


@pytest.mark.parametrize('call, message', [
    (lambda m: m.generate(jax.random.key(0), 4, {'cat1': 0}),
     "unknown code 'cat1'; this model has cat0, cont0, cont1"),
    (lambda m: m.generate(jax.random.key(0), 4, {'cat0': 10}),
     "code 'cat0': categories must be in [0, 10)"),
    (lambda m: m.generate(jax.random.key(0), 4, {'cat0': 1.5}),
     "code 'cat0': categories are integers in [0, 10)"),
    (lambda m: m.generate(jax.random.key(0), 4, {'cont0': [1.0, 2.0]}),
     "code 'cont0': give one value or 4 values"),
    (lambda m: m.traverse('cont9'), "unknown code 'cont9'"),
    (lambda m: m.posterior(np.zeros((2, 32, 32, 1))),
     'images: expected shape (n, *(28, 28, 1)), got (2, 32, 32, 1)'),
])
def test_bad_arguments_are_named(model, call, message):
  with pytest.raises(ValueError) as error:
    call(model)
  assert message in str(error.value)


def test_missing_checkpoints_and_steps_are_named(run, tmp_path):
  for path in (tmp_path, tmp_path / 'absent'):
    with pytest.raises(infogan_jax.CheckpointNotFoundError,
                       match='no checkpoint in .*: give the workdir of a '
                       'training run'):
      infogan_jax.load(str(path))
  with pytest.raises(infogan_jax.CheckpointNotFoundError,
                     match='no checkpoint at step 7 .* saved steps: 100, 200'):
    infogan_jax.load(run[1], step=7)


def test_another_model_config_is_refused_naming_the_fields(run):
  config = conftest.tiny_config()
  config.model.noise_dim = 30
  config.model.q_head = ()
  with pytest.raises(infogan_jax.IncompatibleCheckpointError) as error:
    infogan_jax.load(run[1], config=config)
  message = str(error.value)
  assert 'model.noise_dim: 62 in the checkpoint, 30 given' in message
  assert "model.q_head: ['fc16-bn-lrelu'] in the checkpoint, () given" in (
      message)
  # Fields outside the model may differ (the schedule, the data).
  config = conftest.tiny_config()
  config.num_train_steps = 10_000
  assert infogan_jax.load(run[1], config=config).step == STEPS


def test_resuming_with_another_model_stops_before_touching_the_run(run):
  config, workdir, _ = run
  config = config.copy_and_resolve_references()
  config.num_train_steps = 2 * STEPS
  config.model.leaky_relu_slope = 0.2
  before = sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  with tfds.testing.mock_data(num_examples=64):
    with pytest.raises(checkpointing.IncompatibleCheckpointError,
                       match='model.leaky_relu_slope: 0.1 in the checkpoint'):
      trainer.train_and_evaluate(config, workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == before
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['model']['leaky_relu_slope'] == 0.1


def _save_bare(workdir, state, step, **custom_metadata):
  """A checkpoint as older or newer code might write it."""
  manager = ocp.CheckpointManager(os.path.join(workdir, 'checkpoints'))
  manager.save(step, args=ocp.args.StandardSave(state),
               custom_metadata=custom_metadata)
  manager.wait_until_finished()
  manager.close()


def test_newer_checkpoint_formats_are_refused(run, tmp_path):
  _, _, state = run
  _save_bare(str(tmp_path), state, 5,
             format_version=checkpointing.FORMAT_VERSION + 1)
  with pytest.raises(infogan_jax.IncompatibleCheckpointError,
                     match=f'format version {checkpointing.FORMAT_VERSION + 1}'
                     '; this infogan_jax reads versions up to'):
    infogan_jax.load(str(tmp_path))


def test_checkpoints_without_a_config_need_one_and_check_shapes(run, tmp_path):
  config, _, state = run
  _save_bare(str(tmp_path), state, 5)  # no config, no config.json
  with pytest.raises(infogan_jax.IncompatibleCheckpointError,
                     match="records no config .* pass the run's config"):
    infogan_jax.load(str(tmp_path))
  assert infogan_jax.load(str(tmp_path), config=config).step == 5
  other = config.copy_and_resolve_references()
  other.model.noise_dim = 30
  with pytest.raises(infogan_jax.IncompatibleCheckpointError) as error:
    infogan_jax.load(str(tmp_path), config=other)
  assert ('g/params/Dense_0/kernel has shape (74, 32), the model expects '
          '(42, 32)') in str(error.value)


def test_checkpoints_of_older_configs_read_with_todays_defaults(
    run, tmp_path, monkeypatch):
  """A run recorded before fields were added (or their values respelled)
  loads, and today's data code reads its config."""
  config, _, state = run
  older = config.to_dict()
  for added in ('dataset_module', 'population', 'augment'):
    del older[added]
  del older['model']['compute_dtype']
  older['download_data'] = False  # the bool it was before 'auto'/'never'
  _save_bare(str(tmp_path), state, 5, format_version=1, config=older)
  model = infogan_jax.load(str(tmp_path))
  assert model.config.dataset_module == ''
  assert model.config.population == 1
  assert model.config.augment.max_shift == 2.0
  assert model.config.model.compute_dtype == 'float32'
  assert model.config.model.noise_dim == config.model.noise_dim
  assert model.config.download_data == 'never'
  # Forget that this process has checked the data: with 'never', mock data
  # that is not prepared is one clear error (not an unknown field).
  monkeypatch.setattr(pipeline, '_CHECKED', set())
  with tfds.testing.mock_data(num_examples=16):
    with pytest.raises(DataNotFoundError,
                       match="download_data='never'"):
      selection.training_images(model.config, 8)


def test_recorded_values_are_translated_and_unknown_fields_kept():
  recorded = {'dataset': 'generated_sprites', 'download_data': True,
              'model': {'noise_dim': 5}, 'retired_field': 3}
  config = checkpointing.with_defaults(recorded)
  assert config.download_data == 'always'
  assert config.dataset_module == 'infogan_tools.sprites_builder'
  assert config.model.noise_dim == 5
  assert config.model.num_continuous_codes == 2  # the default
  assert config.retired_field == 3
  for spelled in ('auto', 'never'):
    assert checkpointing.with_defaults(
        {'download_data': spelled}).download_data == spelled
  assert checkpointing.with_defaults(
      {'dataset_module': 'mine'}).dataset_module == 'mine'
