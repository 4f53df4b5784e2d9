"""Checks a whole config once at start-up, before anything is compiled.

Every problem is a `ConfigError` whose message is one line naming the field,
the value and what is allowed.
"""

from __future__ import annotations

from flax import traverse_util
import ml_collections

from infogan_jax import codes as codes_lib
from infogan_jax import evaluators
from infogan_jax import fields
from infogan_jax import models
from infogan_jax import population
from infogan_jax import restarts
from infogan_jax import step as step_lib
from infogan_jax.data import pipeline
from infogan_jax.errors import ConfigError


def _layers(config, field: str, allow_empty: bool):
  value = fields.get(config, field)
  if isinstance(value, str) or not all(isinstance(v, str) for v in value):
    raise ConfigError(field, value, 'must be a tuple of layer strings')
  if not value and not allow_empty:
    raise ConfigError(field, value, 'must have at least one layer')
  for layer in value:
    try:
      models.parse_layer(layer)
    except ValueError as e:
      raise ConfigError(field, value, str(e)) from None
  return value


def validate(config, device_count: int = 1, process_count: int = 1) -> None:
  """Raises ConfigError for the first unusable value in `config`."""
  fields.int_at_least(config, 'seed', 0)
  fields.non_empty_string(config, 'dataset')
  fields.non_empty_string(config, 'train_split')
  if not isinstance(config.data_dir, str):
    raise ConfigError('data_dir', config.data_dir, 'must be a string path')
  fields.int_at_least(config, 'shuffle_buffer_size', 1)
  if not isinstance(config.dataset_module, str):
    raise ConfigError('dataset_module', config.dataset_module,
                      'must be a module name (a string)')
  if not isinstance(config.image_folder, str):
    raise ConfigError('image_folder', config.image_folder,
                      'must be a string path')
  fields.int_at_least(config, 'center_crop', 0)
  fields.int_at_least(config, 'pixel_max', 1)
  fields.int_at_least(config, 'image_size', 0)
  if config.image_channels not in (0, 1, 3):
    raise ConfigError('image_channels', config.image_channels,
                      "must be 1 (grayscale), 3 (RGB) or 0 (the data's own)")
  pipeline.check_config(config)
  if not isinstance(config.cache_dataset, bool):
    raise ConfigError('cache_dataset', config.cache_dataset,
                      'must be True or False')

  fields.int_at_least(config, 'batch_size', 1)
  population.check_config(config, device_count, process_count)
  for code_type in codes_lib.CODE_TYPES:
    code_type.check_config(config)
    fields.real_in(config, code_type.lambda_field, 0.0)
  fields.int_at_least(config, 'model.noise_dim', 0)
  categorical = codes_lib.CodeSpec.from_config(config.model).categorical
  fields.int_at_least(config, 'num_train_steps', 1)
  fields.real_in(config, 'd_learning_rate', 0.0, low_open=True)
  fields.real_in(config, 'g_learning_rate', 0.0, low_open=True)
  fields.real_in(config, 'adam_b1', 0.0, 1.0)
  fields.real_in(config, 'adam_b2', 0.0, 1.0)
  for field in ('lambda_real_information', 'lambda_consistency',
                'lambda_paired_information'):
    fields.real_in(config, field, 0.0)
    if config[field] and not categorical.count:
      raise ConfigError(field, config[field],
                        'acts on categorical codes; must be 0 when '
                        'model.categorical_codes is empty')
  fields.real_in(config, 'lambda_overcluster', 0.0)
  fields.int_at_least(config, 'model.overcluster_categories', 0)
  if config.lambda_overcluster and config.model.overcluster_categories < 2:
    raise ConfigError('model.overcluster_categories',
                      config.model.overcluster_categories,
                      'must be at least 2 when lambda_overcluster > 0')
  if config.lambda_overcluster and not categorical.count:
    raise ConfigError('lambda_overcluster', config.lambda_overcluster,
                      'is computed beside the terms on Q\'s categorical '
                      'codes; must be 0 when model.categorical_codes is '
                      'empty')
  fields.real_in(config, 'augment.max_shift', 0.0)
  fields.real_in(config, 'augment.max_rotation', 0.0, 180.0)
  fields.real_in(config, 'augment.elastic_std', 0.0)
  fields.int_at_least(config, 'augment.elastic_grid', 2)
  fields.real_in(config, 'augment.max_shear', 0.0)
  fields.real_in(config, 'augment.max_stroke', 0.0, 1.0, high_open=False)

  for field in ('log_every_steps', 'sample_every_steps',
                'checkpoint_every_steps', 'max_checkpoints_to_keep',
                'sample_grid_columns'):
    fields.int_at_least(config, field, 1)
  fields.int_at_least(config, 'steps_per_call', 1)
  fields.int_at_least(config, 'select_num_images', 1)
  for field in ('log_every_steps', 'sample_every_steps',
                'checkpoint_every_steps', 'num_train_steps'):
    if config[field] % config.steps_per_call:
      raise ConfigError(
          'steps_per_call', config.steps_per_call,
          f'must divide {field} ({config[field]}), as it must divide the '
          'logging, sampling and checkpoint intervals and num_train_steps')
  for field in ('data_on_device', 'mi_in_generator_loss'):
    if not isinstance(config[field], bool):
      raise ConfigError(field, config[field], 'must be True or False')
  step_lib.check_config(config)

  evaluators.check_config(config, device_count)
  restarts.check_config(config)
  if config.restarts > 1:
    # The restarts train as a population first: its devices and batches.
    validate(restarts.population_config(config), device_count, process_count)

  sweep = config.continuous_sweep
  if (len(sweep) != 2 or not all(fields.is_real(v) for v in sweep) or
      sweep[0] >= sweep[1]):
    raise ConfigError('continuous_sweep', sweep,
                      'must be a pair (low, high) of numbers with low < high')
  fields.int_at_least(config, 'continuous_sweep_steps', 2)

  generator = _layers(config, 'model.generator', allow_empty=False)
  last = models.parse_layer(generator[-1]).activation
  if last not in ('sigmoid', 'tanh'):
    raise ConfigError(
        'model.generator', generator,
        "the last layer must end in -sigmoid (data in [0, 1]) or -tanh "
        '(data in [-1, 1])')
  _layers(config, 'model.shared_body', allow_empty=False)
  _layers(config, 'model.q_head', allow_empty=True)
  fields.real_in(config, 'model.leaky_relu_slope', 0.0)
  fields.real_in(config, 'model.batch_norm_momentum', 0.0, 1.0)
  fields.real_in(config, 'model.batch_norm_epsilon', 0.0, low_open=True)
  fields.real_in(config, 'model.init_std', 0.0, low_open=True)
  if config.conv_transpose not in models.CONV_TRANSPOSE_FORMS:
    raise ConfigError('conv_transpose', config.conv_transpose,
                      f'must be one of {models.CONV_TRANSPOSE_FORMS}')
  if config.model.compute_dtype not in models.COMPUTE_DTYPES:
    raise ConfigError('model.compute_dtype', config.model.compute_dtype,
                      f'must be one of {tuple(models.COMPUTE_DTYPES)}')


def check_image_shape(config, generated: tuple[int, ...],
                      image_shape: tuple[int, ...]) -> None:
  """Raises ConfigError if G's images (shape `generated`) do not have the
  dataset's image shape."""
  if tuple(generated) != tuple(image_shape):
    raise ConfigError(
        'dataset', config.dataset,
        f'its images have shape {tuple(image_shape)} but config.model.generator'
        f' makes {tuple(generated)}; choose a dataset and an architecture that'
        ' agree (see configs/)')


def config_differences(first: ml_collections.ConfigDict,
                       second: ml_collections.ConfigDict,
                       prefix: str = '',
                       labels: tuple[str, str] = ('in the checkpoint', 'given')
                       ) -> list[str]:
  """Fields whose values differ between two configs, as
  'name: a in the checkpoint, b given' (`labels` name the two sides)."""
  flat = [traverse_util.flatten_dict(c.to_dict(), sep='.')
          for c in (first, second)]
  out = []
  for name in sorted(set(flat[0]) | set(flat[1])):
    a, b = (f.get(name, '<absent>') for f in flat)
    if _normalised(a) != _normalised(b):
      out.append(f'{prefix}{name}: {a!r} {labels[0]}, {b!r} {labels[1]}')
  return out


def _normalised(value):
  """Tuples and lists compare equal (JSON turns one into the other)."""
  if isinstance(value, (list, tuple)):
    return [_normalised(v) for v in value]
  return value


def check_resume_step(config, step: int, workdir: str) -> None:
  """Raises ConfigError unless steps_per_call divides the step a run
  resumes from."""
  if step % config.steps_per_call:
    raise ConfigError(
        'steps_per_call', config.steps_per_call,
        f'the checkpoint in {workdir} is at step {step}; resume with a '
        'steps_per_call that divides it')
