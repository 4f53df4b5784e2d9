"""Bad input: one clear line naming the field, before anything compiles."""

import os
import re
import shutil

import pytest
import tensorflow_datasets as tfds

from infogan_jax.configs import default
from infogan_jax.configs import mnist
from infogan_jax.configs import mnist_gan
from infogan_jax.configs import mnist_q_on_real
from infogan_jax.configs import mnist_restarts
from infogan_jax.configs import mnist_restarts_deform
from infogan_jax.configs import mnist_tuned
from infogan_jax import config_validation
from infogan_jax import evaluators
from infogan_jax.data import pipeline
from infogan_jax import commands
from infogan_jax import trainer


BAD = [
    ('conv_transpose', 'fast', 'must be one of'),
    ('batch_size', 0, 'batch_size'),
    ('batch_size', -8, 'batch_size'),
    ('batch_size', 12, 'divisible by the number of devices'),
    ('num_train_steps', 0, 'num_train_steps'),
    ('seed', -1, 'seed'),
    ('lambda_categorical', -1.0, 'lambda_categorical'),
    ('lambda_continuous', -0.5, 'lambda_continuous'),
    ('d_learning_rate', 0.0, 'd_learning_rate'),
    ('adam_b1', 1.0, 'adam_b1'),
    ('log_every_steps', 0, 'log_every_steps'),
    ('checkpoint_every_steps', -1, 'checkpoint_every_steps'),
    ('model.categorical_codes', (10, 1), 'each >= 2'),
    ('model.num_continuous_codes', -1, 'num_continuous_codes'),
    ('model.continuous_std', 'unit', "one of ('fixed', 'learned')"),
    ('model.generator', ('fc1024-bn-relu', 'up1-s2'), '-sigmoid'),
    ('model.shared_body', ('conv64-s2-swish',), "unknown option 'swish'"),
    ('model.batch_norm_momentum', 1.5, 'batch_norm_momentum'),
    ('max_checkpoints_to_keep', 0, 'max_checkpoints_to_keep'),
    ('model.noise_dim', -3, 'noise_dim'),
    ('steps_per_call', 0, 'steps_per_call'),
    ('steps_per_call', 3, 'must divide log_every_steps (2)'),
    ('model.compute_dtype', 'float16', "one of ('float32', 'bfloat16')"),
    ('evaluators', ('accuracy',), "names from ('clustering', 'mig',"),
    ('evaluators', ('clustering', 'fid'), "names from ('clustering', 'mig',"),
    ('pixel_max', 0, 'pixel_max'),
    ('eval_every_steps', -1, 'eval_every_steps'),
    ('eval_batch_size', 12, 'divisible by the number of devices (8)'),
    ('eval_split', '', 'eval_split'),
    ('on_nonfinite', 'ignore', "one of ('stop', 'skip')"),
    ('g_learning_rate', -1e-3, 'g_learning_rate'),
    ('adam_b2', 1.5, 'adam_b2'),
    ('shuffle_buffer_size', 0, 'shuffle_buffer_size'),
    ('continuous_sweep', (2.0, -2.0), 'low < high'),
    ('model.init_std', 0.0, 'init_std'),
    ('image_channels', 2, "1 (grayscale), 3 (RGB) or 0"),
    ('lambda_real_information', -1.0, 'lambda_real_information'),
    ('lambda_consistency', -0.1, 'lambda_consistency'),
    ('lambda_paired_information', -1.0, 'lambda_paired_information'),
    ('lambda_overcluster', -1.0, 'lambda_overcluster'),
    ('model.overcluster_categories', -1, 'overcluster_categories'),
    ('augment.max_shift', -1.0, 'max_shift'),
    ('augment.max_rotation', 200.0, '[0.0, 180.0)'),
    ('augment.elastic_std', -0.5, 'elastic_std'),
    ('augment.elastic_grid', 1, 'elastic_grid'),
    ('augment.max_shear', -0.1, 'max_shear'),
    ('augment.max_stroke', 1.5, '[0.0, 1.0]'),
    ('restarts', 0, 'restarts'),
    ('restart_criterion', 'accuracy', "one of ('', 'real_information'"),
]


def _set(config, field, value):
  *parents, last = field.split('.')
  node = config
  for parent in parents:
    node = node[parent]
  node[last] = value


def test_default_and_mnist_configs_are_valid():
  config_validation.validate(default.get_config(), device_count=8)
  config_validation.validate(mnist.get_config(), device_count=8)
  config_validation.validate(mnist_gan.get_config(), device_count=8)
  config_validation.validate(mnist_tuned.get_config(), device_count=8)
  config_validation.validate(mnist_q_on_real.get_config(), device_count=8)
  config_validation.validate(mnist_restarts.get_config(), device_count=8)
  config_validation.validate(mnist_restarts_deform.get_config(),
                             device_count=8)


def test_mnist_tuned_changes_only_the_screened_choices():
  assert config_validation.config_differences(
      mnist.get_config(), mnist_tuned.get_config()) == [
          'lambda_continuous: 1.0 in the checkpoint, 0.1 given',
          'model.leaky_relu_slope: 0.1 in the checkpoint, 0.01 given']


def test_mnist_q_on_real_adds_only_the_real_image_terms():
  assert config_validation.config_differences(
      mnist_tuned.get_config(), mnist_q_on_real.get_config()) == [
          'lambda_consistency: 0.0 in the checkpoint, 1.0 given',
          'lambda_real_information: 0.0 in the checkpoint, 1.0 given']
  assert config_validation.config_differences(
      mnist_q_on_real.get_config(), mnist_restarts.get_config()) == [
          "restart_criterion: '' in the checkpoint, 'agreement' given",
          'restarts: 1 in the checkpoint, 3 given']
  assert config_validation.config_differences(
      mnist_restarts.get_config(), mnist_restarts_deform.get_config()) == [
          'augment.elastic_std: 0.5 in the checkpoint, 1.0 given',
          'augment.max_rotation: 10.0 in the checkpoint, 20.0 given',
          'augment.max_shift: 2.0 in the checkpoint, 3.0 given']
  # The paper's config keeps the paper's objective.
  assert mnist.get_config().lambda_consistency == 0
  assert mnist.get_config().lambda_real_information == 0
  assert mnist.get_config().lambda_paired_information == 0


def test_disentanglement_metrics_need_the_factor_keys(config):
  config.evaluators = ('mig', 'sap')
  with pytest.raises(config_validation.ConfigError,
                     match=r"^config.factor_keys=\(\): .* need the names"):
    config_validation.validate(config, device_count=8)
  config.factor_keys = ('label_shape',)
  # They feed Q the images as stored (uint8), without preprocessing.
  for field, value in (('center_crop', 28), ('image_size', 28),
                       ('image_channels', 1)):
    changed = config.copy_and_resolve_references()
    changed[field] = value
    with pytest.raises(config_validation.ConfigError,
                       match=r'^config.evaluators=.*as the dataset stores '
                       r'them: set center_crop, image_size and '
                       r'image_channels to 0'):
      config_validation.validate(changed, device_count=8)
  config.disentanglement.factor_vae_batch_size = 1
  with pytest.raises(config_validation.ConfigError,
                     match=r'^config.disentanglement.factor_vae_batch_size=1'):
    config_validation.validate(config, device_count=8)


def test_clustering_needs_a_categorical_code(config):
  config.evaluators = ('clustering',)
  config.model.categorical_codes = ()
  with pytest.raises(config_validation.ConfigError,
                     match=r"^config.evaluators=.*needs a categorical code"):
    config_validation.validate(config, device_count=8)


def test_eval_split_is_checked_against_the_data(config, mnist_data_dir):
  config.data_dir = mnist_data_dir
  config.evaluators = ('clustering',)
  evaluators.check_dataset(config, pipeline.dataset_info(config))  # MNIST: 'test', with labels
  config.eval_split = 'validation'
  with pytest.raises(config_validation.ConfigError,
                     match=r"^config.eval_split='validation'.*test, train$"):
    evaluators.check_dataset(config, pipeline.dataset_info(config))


def test_clustering_needs_labelled_data(config):
  config.download_data = 'always'
  config.evaluators = ('clustering',)
  config.dataset = 'celeb_a'  # attributes, no class label
  with tfds.testing.mock_data(num_examples=8):
    with pytest.raises(config_validation.ConfigError,
                       match=r"^config.evaluators=.*'celeb_a' has none"):
      evaluators.check_dataset(config, pipeline.dataset_info(config))


@pytest.mark.parametrize('field,value,allowed', BAD)
def test_bad_value_exits_2_naming_the_field(config, tmp_path, capsys, field,
                                            value, allowed):
  _set(config, field, value)
  with pytest.raises(config_validation.ConfigError) as info:
    config_validation.validate(config, device_count=8)
  assert str(info.value).startswith(f'config.{field}=')
  # The command's path: exit status 2, one line, nothing written.
  workdir = tmp_path / 'run'
  assert commands.run(config, str(workdir)) == commands.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and err.startswith(f'error: config.{field}=')
  assert allowed in err
  assert not workdir.exists()


@pytest.mark.parametrize('field', ['lambda_real_information',
                                   'lambda_consistency',
                                   'lambda_paired_information'])
def test_real_image_terms_need_a_categorical_code(config, field):
  config.model.categorical_codes = ()
  config[field] = 1.0
  with pytest.raises(config_validation.ConfigError,
                     match=rf'^config.{field}=1.0: acts on categorical codes'):
    config_validation.validate(config, device_count=8)
  config[field] = 0.0
  config_validation.validate(config, device_count=8)


def test_the_overclustering_term_needs_its_head(config):
  config.lambda_overcluster = 1.0
  with pytest.raises(config_validation.ConfigError, match=(
      r'^config.model.overcluster_categories=0: must be at least 2 when '
      r'lambda_overcluster > 0$')):
    config_validation.validate(config, device_count=8)
  config.model.overcluster_categories = 50
  config_validation.validate(config, device_count=8)
  config.model.categorical_codes = ()
  with pytest.raises(config_validation.ConfigError, match=(
      r'^config.lambda_overcluster=1.0: is computed beside the terms on '
      r"Q's categorical codes; must be 0")):
    config_validation.validate(config, device_count=8)


def test_unwritable_workdir_is_reported_at_start(config, tmp_path, capsys):
  (tmp_path / 'file').write_text('')
  workdir = tmp_path / 'file' / 'run'  # below a file: cannot be created
  config.download_data = 'always'
  with tfds.testing.mock_data(num_examples=8):
    assert commands.run(config, str(workdir)) == commands.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert err.startswith(f"error: workdir '{workdir}' cannot be written: ")
  assert err.count('\n') == 1


def test_full_workdir_is_reported_at_start(config, tmp_path, capsys,
                                           monkeypatch):
  real = shutil.disk_usage
  monkeypatch.setattr(shutil, 'disk_usage',
                      lambda path: real(path)._replace(free=1000))
  config.download_data = 'always'
  with tfds.testing.mock_data(num_examples=8):
    assert commands.run(config, str(tmp_path)) == commands.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert re.fullmatch(r"error: workdir '.*' has 0\.0 MiB free; a checkpoint "
                      r'of this model needs [\d.]+ MiB\n', err), err
  assert os.listdir(tmp_path) == []


def test_unknown_dataset_stops_train_early(config, tmp_path):
  config.dataset = 'no_such_dataset'
  with pytest.raises(config_validation.ConfigError, match='config.dataset='):
    trainer.train_and_evaluate(config, str(tmp_path))
  assert not os.listdir(tmp_path)  # stopped before writing anything


def test_image_shape_mismatch(config, tmp_path):
  config.dataset = 'cifar10'
  config.download_data = 'always'
  with tfds.testing.mock_data(num_examples=8):
    with pytest.raises(config_validation.ConfigError,
                       match=r'\(32, 32, 3\) but config.model.generator makes'
                       r' \(28, 28, 1\)'):
      trainer.train_and_evaluate(config, str(tmp_path))


def test_missing_data_names_both_ways_to_provide_it(config, tmp_path):
  config.data_dir = str(tmp_path)
  with pytest.raises(pipeline.DataNotFoundError) as info:
    pipeline.image_shape(config)
  message = str(info.value)
  assert "dataset 'mnist'" in message and str(tmp_path) in message
  assert '--config.data_dir' in message and 'TFDS_DATA_DIR' in message
  assert 'tfds build mnist --manual_dir=' in message


def test_a_dataset_module_that_cannot_be_imported_is_one_line(config):
  config.dataset_module = 'no_such_package.builder'
  with pytest.raises(config_validation.ConfigError,
                     match=r"^config.dataset_module='no_such_package.builder':"
                     ' no module of that name'):
    pipeline.check_dataset(config)


RESTARTS_BAD = [
    ({'population': 2}, r'^config.population=2: must be 1 with restarts > 1'),
    ({'restart_pick_step': 4}, r'^config.restart_pick_step=4: must be below '
     r'num_train_steps \(4\)'),
    ({'steps_per_call': 2, 'restart_pick_step': 3},
     r'^config.restart_pick_step=3: must be a multiple of steps_per_call'),
    ({'restarts': 2, 'restart_criterion': 'agreement'},
     r"^config.restart_criterion='agreement': needs restarts >= 3"),
    ({'model.categorical_codes': ()}, r'^config.restarts=3: the pick scores'),
]


@pytest.mark.parametrize('changes,message', RESTARTS_BAD)
def test_restart_settings_are_checked_before_anything_trains(
    config, tmp_path, capsys, changes, message):
  config.restarts = 3
  config.restart_pick_step = 2
  for field, value in changes.items():
    _set(config, field, value)
  with pytest.raises(config_validation.ConfigError, match=message):
    config_validation.validate(config, device_count=8)
  workdir = tmp_path / 'run'
  assert commands.run(config, str(workdir)) == commands.EXIT_BAD_INPUT
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and re.match(message, err[len('error: '):])
  assert not workdir.exists()
