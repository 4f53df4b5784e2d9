"""Checks a whole config once at start-up, before anything is compiled.

Every problem is a `ConfigError` whose message is one line naming the field,
the value and what is allowed.
"""

from __future__ import annotations

import numbers

from infogan_jax import latents as latents_lib
from infogan_jax import models


# The command's exit status for bad input (a config, flag, data or workdir
# that cannot be used), reported as one line on stderr.
EXIT_BAD_INPUT = 2
# config.download_data's values (configs/default.py says what each does).
DOWNLOAD_CHOICES = ('auto', 'always', 'never')


class ConfigError(ValueError):
  """A config value that cannot be used."""

  def __init__(self, field: str, value, allowed: str):
    super().__init__(f'config.{field}={value!r}: {allowed}')
    self.field = field


def _get(config, field: str):
  value = config
  for part in field.split('.'):
    value = value[part]
  return value


def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_sequence_of(value, predicate) -> bool:
  """A tuple or list (not a string) whose every element satisfies predicate."""
  return (not isinstance(value, (str, bytes)) and hasattr(value, '__iter__')
          and all(predicate(v) for v in value))


def _int_at_least(config, field: str, minimum: int):
  value = _get(config, field)
  if not _is_int(value) or value < minimum:
    raise ConfigError(field, value, f'must be an integer >= {minimum}')


def _real_in(config, field: str, low: float, high: float | None = None,
             low_open: bool = False, high_open: bool = True):
  value = _get(config, field)
  too_low = value <= low if low_open else value < low
  too_high = high is not None and (value >= high if high_open else value > high)
  if not _is_real(value) or too_low or too_high:
    left = '(' if low_open else '['
    right = 'inf)' if high is None else (f'{high})' if high_open else f'{high}]')
    raise ConfigError(field, value, f'must be a number in {left}{low}, {right}')


def _non_empty_string(config, field: str):
  value = _get(config, field)
  if not isinstance(value, str) or not value:
    raise ConfigError(field, value, 'must be a non-empty string')


def _layers(config, field: str, allow_empty: bool):
  value = _get(config, field)
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


# What a step with a non-finite loss or gradient does (config.on_nonfinite).
ON_NONFINITE = ('stop', 'skip')

# The evaluators infogan_jax.evaluation can build (config.evaluators).
EVALUATORS = ('clustering', 'mig', 'factor_vae', 'dci', 'sap')
DISENTANGLEMENT = EVALUATORS[1:]


def _validate_evaluation(config, device_count: int) -> None:
  names = config.evaluators
  if not _is_sequence_of(names, lambda name: name in EVALUATORS):
    raise ConfigError('evaluators', names,
                      f'must be a tuple of names from {EVALUATORS}')
  if 'clustering' in names and not config.model.categorical_codes:
    raise ConfigError('evaluators', tuple(names),
                      "'clustering' needs a categorical code "
                      '(model.categorical_codes is empty)')
  if any(name in DISENTANGLEMENT for name in names):
    keys = config.factor_keys
    if not keys or not _is_sequence_of(keys, lambda k: isinstance(k, str)):
      raise ConfigError('factor_keys', keys,
                        f'{DISENTANGLEMENT} need the names of the features '
                        "holding the factors, e.g. ('label_shape', ...)")
    if config.center_crop or config.image_size or config.image_channels:
      raise ConfigError('evaluators', tuple(names),
                        f'{DISENTANGLEMENT} read images as the dataset '
                        'stores them: set center_crop, image_size and '
                        'image_channels to 0')
    for field in ('num_train', 'num_test', 'factor_vae_train_votes',
                  'factor_vae_eval_votes'):
      _int_at_least(config, f'disentanglement.{field}', 1)
    _int_at_least(config, 'disentanglement.factor_vae_batch_size', 2)
  _non_empty_string(config, 'eval_split')
  _int_at_least(config, 'eval_every_steps', 0)
  if config.eval_every_steps % config.steps_per_call:
    raise ConfigError(
        'eval_every_steps', config.eval_every_steps,
        f'must be a multiple of steps_per_call ({config.steps_per_call})')
  _int_at_least(config, 'eval_batch_size', 1)
  if config.eval_batch_size % device_count:
    raise ConfigError(
        'eval_batch_size', config.eval_batch_size,
        f'must be divisible by the number of devices ({device_count})')


def validate(config, device_count: int = 1, process_count: int = 1) -> None:
  """Raises ConfigError for the first unusable value in `config`."""
  _int_at_least(config, 'seed', 0)
  _non_empty_string(config, 'dataset')
  _non_empty_string(config, 'train_split')
  if not isinstance(config.data_dir, str):
    raise ConfigError('data_dir', config.data_dir, 'must be a string path')
  _int_at_least(config, 'shuffle_buffer_size', 1)
  if not isinstance(config.image_folder, str):
    raise ConfigError('image_folder', config.image_folder,
                      'must be a string path')
  _int_at_least(config, 'center_crop', 0)
  _int_at_least(config, 'pixel_max', 1)
  _int_at_least(config, 'image_size', 0)
  if config.image_channels not in (0, 1, 3):
    raise ConfigError('image_channels', config.image_channels,
                      "must be 1 (grayscale), 3 (RGB) or 0 (the data's own)")
  if config.download_data not in DOWNLOAD_CHOICES:
    raise ConfigError('download_data', config.download_data,
                      f'must be one of {", ".join(DOWNLOAD_CHOICES)}')
  if not isinstance(config.cache_dataset, bool):
    raise ConfigError('cache_dataset', config.cache_dataset,
                      'must be True or False')

  _int_at_least(config, 'batch_size', 1)
  for count, what in ((device_count, 'devices'), (process_count, 'processes')):
    if config.batch_size % count:
      raise ConfigError(
          'batch_size', config.batch_size,
          f'the global batch must be divisible by the number of {what} '
          f'({count})')
  _int_at_least(config, 'num_train_steps', 1)
  _real_in(config, 'd_learning_rate', 0.0, low_open=True)
  _real_in(config, 'g_learning_rate', 0.0, low_open=True)
  _real_in(config, 'adam_b1', 0.0, 1.0)
  _real_in(config, 'adam_b2', 0.0, 1.0)
  _real_in(config, 'lambda_categorical', 0.0)
  _real_in(config, 'lambda_continuous', 0.0)
  for field in ('lambda_real_information', 'lambda_consistency'):
    _real_in(config, field, 0.0)
    if config[field] and not config.model.categorical_codes:
      raise ConfigError(field, config[field],
                        'acts on categorical codes; must be 0 when '
                        'model.categorical_codes is empty')
  _real_in(config, 'augment.max_shift', 0.0)
  _real_in(config, 'augment.max_rotation', 0.0, 180.0)
  _real_in(config, 'augment.elastic_std', 0.0)
  _int_at_least(config, 'augment.elastic_grid', 2)

  for field in ('log_every_steps', 'sample_every_steps',
                'checkpoint_every_steps', 'max_checkpoints_to_keep',
                'sample_grid_columns'):
    _int_at_least(config, field, 1)
  _int_at_least(config, 'steps_per_call', 1)
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
  if config.on_nonfinite not in ON_NONFINITE:
    raise ConfigError('on_nonfinite', config.on_nonfinite,
                      f'must be one of {ON_NONFINITE}')

  _validate_evaluation(config, device_count)

  sweep = config.continuous_sweep
  if (len(sweep) != 2 or not all(_is_real(v) for v in sweep) or
      sweep[0] >= sweep[1]):
    raise ConfigError('continuous_sweep', sweep,
                      'must be a pair (low, high) of numbers with low < high')
  _int_at_least(config, 'continuous_sweep_steps', 2)

  codes = config.model.categorical_codes
  if not _is_sequence_of(codes, lambda k: _is_int(k) and k >= 2):
    raise ConfigError('model.categorical_codes', codes,
                      'must be a tuple of category counts, each >= 2')
  _int_at_least(config, 'model.num_continuous_codes', 0)
  _int_at_least(config, 'model.noise_dim', 0)
  std = config.model.continuous_std
  if std not in latents_lib.CONTINUOUS_STD_MODES:
    raise ConfigError('model.continuous_std', std,
                      f'must be one of {latents_lib.CONTINUOUS_STD_MODES}')

  generator = _layers(config, 'model.generator', allow_empty=False)
  last = models.parse_layer(generator[-1]).activation
  if last not in ('sigmoid', 'tanh'):
    raise ConfigError(
        'model.generator', generator,
        "the last layer must end in -sigmoid (data in [0, 1]) or -tanh "
        '(data in [-1, 1])')
  _layers(config, 'model.shared_body', allow_empty=False)
  _layers(config, 'model.q_head', allow_empty=True)
  _real_in(config, 'model.leaky_relu_slope', 0.0)
  _real_in(config, 'model.batch_norm_momentum', 0.0, 1.0)
  _real_in(config, 'model.batch_norm_epsilon', 0.0, low_open=True)
  _real_in(config, 'model.init_std', 0.0, low_open=True)
  if config.model.compute_dtype not in models.COMPUTE_DTYPES:
    raise ConfigError('model.compute_dtype', config.model.compute_dtype,
                      f'must be one of {tuple(models.COMPUTE_DTYPES)}')


def check_image_shape(config, image_shape: tuple[int, ...]) -> None:
  """Raises ConfigError if G's output does not have the dataset's image shape."""
  generated = models.generator_output_shape(config.model)
  if tuple(generated) != tuple(image_shape):
    raise ConfigError(
        'dataset', config.dataset,
        f'its images have shape {tuple(image_shape)} but config.model.generator'
        f' makes {tuple(generated)}; choose a dataset and an architecture that'
        ' agree (see configs/)')
