"""TFDS + tf.data input: each process reads its share, steps see global arrays.

TensorFlow is imported here and nowhere else in the library (and only when
a function needs it), so code that only generates (a notebook, a synthetic
benchmark) never loads it.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import itertools
import os
import socket
import threading
from typing import Any, Iterator

import jax
import numpy as np

from infogan_jax import population
from infogan_jax import sharding
from infogan_jax.data import device
from infogan_jax.errors import ConfigError
from infogan_jax.errors import DataNotFoundError


IMAGE_FOLDER = 'image_folder'


def _tfds():
  # TensorFlow's C++ INFO lines (oneDNN, CPU features) are noise here.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  # tf.data runs on the host; keep TensorFlow off any accelerator.
  tf.config.set_visible_devices([], 'GPU')
  return tf, tfds


def resolve_data_dir(data_dir: str) -> str | None:
  """The config's data_dir, else TFDS_DATA_DIR, else None (TFDS's default)."""
  return data_dir or os.environ.get('TFDS_DATA_DIR') or None


def _unknown_dataset(config) -> ConfigError:
  return ConfigError(
      'dataset', config.dataset,
      "must be 'image_folder' or the name of a TFDS dataset, e.g. 'mnist' "
      '(see tfds.list_builders())')


# config.download_data: 'auto' downloads a missing dataset when the machine
# is online, 'always' leaves every check to TFDS, 'never' only reads
# prepared data (`check_dataset`).
DOWNLOAD_CHOICES = ('auto', 'always', 'never')


def check_config(config) -> None:
  """Raises ConfigError for an unusable config.download_data."""
  if config.download_data not in DOWNLOAD_CHOICES:
    raise ConfigError('download_data', config.download_data,
                      f'must be one of {", ".join(DOWNLOAD_CHOICES)}')


def check_dataset(config) -> None:
  """Before JAX starts: ConfigError unless TFDS knows `config.dataset` (or
  data_dir holds it), and DataNotFoundError when it is missing from a local
  data_dir and cannot be downloaded (config.download_data).

  Uses TFDS's registry and the file system only: TensorFlow is not imported,
  so a bad name or missing data offline is reported within seconds.
  """
  if config.dataset_module:
    try:
      found = importlib.util.find_spec(config.dataset_module) is not None
    except ModuleNotFoundError:  # its parent package is missing
      found = False
    if not found:
      raise ConfigError('dataset_module', config.dataset_module,
                        'no module of that name can be imported')
    return  # its builder makes the data: nothing to download
  if config.dataset == IMAGE_FOLDER:
    return
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  name = config.dataset.split(':')[0].split('/')[0]
  data_dir = resolve_data_dir(config.data_dir)
  try:
    tfds.builder_cls(name)
  except tfds.core.DatasetNotFoundError:
    if data_dir and ('://' in data_dir or
                     os.path.isdir(os.path.join(data_dir, name))):
      return  # prepared from files without a registered builder; TFDS decides
    raise _unknown_dataset(config) from None
  data_dir = data_dir or tfds.core.constants.DATA_DIR
  if '://' in data_dir or config.download_data == 'always':
    return
  prepared = glob.glob(os.path.join(data_dir, name, '**', 'dataset_info.json'),
                       recursive=True)
  if prepared:
    return
  if config.download_data == 'never':
    raise _missing_data_error(data_dir, config.dataset, offline=False)
  if not can_reach():
    raise _missing_data_error(data_dir, config.dataset, offline=True)


# Where TFDS downloads most datasets from (and MNIST's files): reachable, or
# the machine is offline for our purposes.
_DOWNLOAD_PROBE = ('storage.googleapis.com', 443)


def can_reach(address: tuple[str, int] = _DOWNLOAD_PROBE,
              timeout_s: float = 5.0) -> bool:
  """Whether a TCP connection to `address` opens within `timeout_s` (name
  lookup included, which can hang on its own when there is no network)."""
  outcome = []

  def connect():
    try:
      socket.create_connection(address, timeout=timeout_s).close()
      outcome.append(True)
    except OSError:
      outcome.append(False)

  thread = threading.Thread(target=connect, daemon=True)
  thread.start()
  thread.join(timeout_s)
  return bool(outcome and outcome[0])


def _missing_data_error(data_dir: str, name: str,
                        offline: bool) -> DataNotFoundError:
  reason = ('and this machine cannot reach the internet to download it'
            if offline else "and config.download_data='never'")
  return DataNotFoundError(
      f"dataset '{name}' is not prepared in data_dir "
      f"'{data_dir}' {reason}. Either point "
      f'--config.data_dir (or TFDS_DATA_DIR) at a directory holding '
      f'{name}/<version>/ as prepared by TFDS, or build it from the original '
      f"files offline: pip install -e '.[prepare]' && tfds build {name} "
      f'--manual_dir=DIR --data_dir=DATA_DIR.')


def _download_and_prepare(builder, config) -> None:
  """Prepares a missing dataset: process 0 first while the others wait, then
  any process whose data_dir is not shared with process 0's."""
  if config.download_data == 'never' and not config.dataset_module:
    raise _missing_data_error(builder.data_dir_root, config.dataset,
                              offline=False)
  if (config.download_data == 'auto' and not config.dataset_module and
      not can_reach()):
    raise _missing_data_error(builder.data_dir_root, config.dataset,
                              offline=True)
  if jax.process_count() == 1:
    builder.download_and_prepare()
    return
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  if jax.process_index() == 0:
    builder.download_and_prepare()
  multihost_utils.sync_global_devices(f'prepared {config.dataset}')
  if not builder.is_prepared():
    builder.download_and_prepare()


def get_builder(config):
  """The dataset's TFDS builder, with data that can be read.

  `config.dataset == 'image_folder'` reads images from
  `config.image_folder`/<split>/<any name>/*.png|jpg with TFDS's ImageFolder.
  Otherwise the TFDS dataset is read from the data_dir, where it is
  downloaded and prepared first if missing (config.download_data). Raises
  ConfigError for an unknown name and DataNotFoundError for missing data
  that cannot be downloaded.
  """
  tf, tfds = _tfds()
  if config.dataset == IMAGE_FOLDER:
    return _image_folder_builder(config, tf, tfds)
  data_dir = resolve_data_dir(config.data_dir)
  if config.dataset_module:
    importlib.import_module(config.dataset_module)  # registers its builder
  try:
    builder = tfds.builder(config.dataset, data_dir=data_dir)
  except tfds.core.DatasetNotFoundError:
    raise _unknown_dataset(config) from None
  key = (config.dataset, data_dir)
  if key not in _CHECKED:
    # Every process takes the same branch, so that they meet at the barrier.
    # The first call comes from every process (image_shape, at start-up).
    missing = not builder.is_prepared()
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
      missing = bool(multihost_utils.process_allgather(np.array(missing)).any())
    if missing or config.download_data == 'always':
      _download_and_prepare(builder, config)
    _CHECKED.add(key)
  return builder


# (dataset, data_dir) pairs found prepared or prepared by this process.
_CHECKED = set()


def _image_folder_builder(config, tf, tfds):
  root = config.image_folder
  split_dir = os.path.join(root, config.train_split)
  if not root or not os.path.isdir(split_dir):
    problem = (f'{split_dir!r} is not a directory' if root else
               'config.image_folder is not set')
    raise DataNotFoundError(
        f"dataset 'image_folder' needs --config.image_folder=DIR with the "
        f'images in DIR/{config.train_split}/<any name>/*.png (or .jpg); '
        f'{problem}.')
  # Files are decoded to the configured channels (RGB when unset).
  builder = tfds.ImageFolder(
      root, shape=(None, None, config.image_channels or 3), dtype=tf.uint8)
  if not builder.info.splits[config.train_split].num_examples:
    raise DataNotFoundError(
        f"dataset 'image_folder': no .png or .jpg images under "
        f'{split_dir}/<any name>/.')
  return builder


def image_shape(config) -> tuple[int, ...]:
  """Shape (H, W, C) of the training images after preprocessing."""
  height, width, channels = get_builder(config).info.features['image'].shape
  if config.center_crop:
    height = width = config.center_crop
  if config.image_size:
    height = width = config.image_size
  if config.image_channels:
    channels = config.image_channels
  if height is None or width is None:
    raise ConfigError(
        'image_size', config.image_size,
        f"dataset '{config.dataset}' has images of varying size; set "
        'image_size to resize them')
  return (height, width, channels)


def num_train_examples(config) -> int:
  """Number of examples in the training split, from the dataset's metadata."""
  return get_builder(config).info.splits[config.train_split].num_examples


def _read_split(config, tfds):
  """This process's share of the training split, in a fixed order."""
  builder = get_builder(config)
  if config.dataset == IMAGE_FOLDER:
    # ImageFolder has no sub-splits: shard the file list per process instead.
    ds = builder.as_dataset(split=config.train_split, shuffle_files=False)
    return ds.shard(jax.process_count(), jax.process_index())
  split = tfds.split_for_jax_process(
      config.train_split, process_index=jax.process_index(),
      process_count=jax.process_count())
  return builder.as_dataset(split=split, shuffle_files=False)


def preprocess_image(image, config, value_range: tuple[float, float]):
  """uint8 [H, W, C] -> float32 in `value_range`: crop, channels, resize."""
  tf, _ = _tfds()
  if config.center_crop:
    image = tf.image.resize_with_crop_or_pad(image, config.center_crop,
                                             config.center_crop)
  image = tf.cast(image, tf.float32) / config.pixel_max
  if config.image_channels == 1 and image.shape[-1] == 3:
    image = tf.image.rgb_to_grayscale(image)
  elif config.image_channels == 3 and image.shape[-1] == 1:
    image = tf.image.grayscale_to_rgb(image)
  if config.image_size:
    image = tf.image.resize(image, (config.image_size, config.image_size),
                            method='area', antialias=True)
  low, high = value_range
  return tf.clip_by_value(image, 0.0, 1.0) * (high - low) + low


def _preprocessed(ds, config, value_range: tuple[float, float],
                  label_key: str | None = None):
  """Examples -> images through `preprocess_image`, or (image, label) pairs."""
  tf, _ = _tfds()

  def fn(ex):
    image = preprocess_image(ex['image'], config, value_range)
    return image if label_key is None else (image, ex[label_key])

  # Plain Python control flow on the config only: nothing for AutoGraph to do.
  return ds.map(tf.autograph.experimental.do_not_convert(fn),
                num_parallel_calls=tf.data.AUTOTUNE)


def create_train_source(config, mesh: jax.sharding.Mesh,
                        value_range: tuple[float, float],
                        start_step: int = 0) -> Iterator[Any]:
  """What each call of `step.jit_train_steps` takes, endlessly.

  With `config.data_on_device`, the same replicated DeviceDataset every time;
  otherwise stacks of `config.steps_per_call` batches from tf.data.
  """
  if config.data_on_device:
    return itertools.repeat(load_device_dataset(
        config, sharding.replicated(mesh), value_range))
  return create_train_iterator(
      config, sharding.stacked_data(mesh), value_range,
      start_step=start_step, steps_per_call=config.steps_per_call)


def _epoch_seed(config) -> int:
  """The shuffle seed of this process's epoch 0; epoch e uses it + e."""
  sequence = np.random.SeedSequence([config.seed, jax.process_index()])
  return int(sequence.generate_state(1, np.uint32)[0]) << 20


def create_train_iterator(config, placement: jax.sharding.NamedSharding,
                          value_range: tuple[float, float],
                          start_step: int = 0,
                          steps_per_call: int = 1) -> Iterator[jax.Array]:
  """Yields global batches of training images as sharded `jax.Array`s.

  Each item stacks `steps_per_call` batches on a new leading axis,
  [steps_per_call, batch, H, W, C], for `step.jit_train_steps`;
  `placement` must shard axis 1.

  Every process reads its own slice of the split and contributes
  batch_size / process_count images to each global batch. Labels are dropped:
  InfoGAN never sees them. Images are preprocessed (`preprocess_image`) into
  `value_range`, the generator's output range.

  The order is a function of the seed, the process and the step alone: epoch
  e is the process's slice, in file order, through a shuffle buffer seeded
  with (seed, process, e), and step s starts at element s * local batch of
  the endless sequence of epochs. A run resumed at `start_step` therefore
  sees exactly the batches an uninterrupted run would.
  """
  tf, tfds = _tfds()
  images = _preprocessed(_read_split(config, tfds), config, value_range)
  count = tf.autograph.experimental.do_not_convert(lambda n, _: n + 1)
  if config.cache_dataset:
    images = images.cache()
  size = int(images.cardinality())
  if size < 0:  # unknown: count once (a pass that also fills the cache)
    size = int(images.reduce(np.int64(0), count))
  if size == 0:
    raise DataNotFoundError(
        f"process {jax.process_index()} has no images of split "
        f"'{config.train_split}' of dataset '{config.dataset}' to read")
  local_batch = population.global_batch(config) // jax.process_count()
  first_epoch, offset = divmod(start_step * local_batch, size)
  seed = _epoch_seed(config)
  left = (config.num_train_steps - start_step) * local_batch
  if config.cache_dataset and left < size - offset + config.shuffle_buffer_size:
    # The run ends before its first epoch has read the whole split: filled
    # by one pass now, as tf.data would discard a half-filled cache at the
    # end with a warning.
    images.reduce(np.int64(0), count)

  @tf.autograph.experimental.do_not_convert
  def epoch(e):
    return images.shuffle(config.shuffle_buffer_size, seed=seed + e,
                          reshuffle_each_iteration=False)

  ds = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
  ds = ds.flat_map(epoch).skip(offset)
  ds = ds.batch(local_batch, drop_remainder=True)
  ds = ds.batch(steps_per_call)
  ds = ds.prefetch(tf.data.AUTOTUNE)
  for local in tfds.as_numpy(ds):
    yield jax.make_array_from_process_local_data(placement,
                                                 np.asarray(local))


def read_whole_split(config, split: str, value_range: tuple[float, float],
                     label_key: str | None = None):
  """All of `split`, preprocessed as for training, in host memory.

  Returns the images [N, H, W, C], or (images, labels) with `label_key`.
  Every process reads the whole split, not a share.
  """
  _, tfds = _tfds()
  ds = _preprocessed(get_builder(config).as_dataset(split=split), config,
                     value_range, label_key)
  parts = list(tfds.as_numpy(ds.batch(4096)))
  if label_key is None:
    return np.concatenate(parts)
  return tuple(np.concatenate(column) for column in zip(*parts))


def read_factors(config) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
  """Every image of config.eval_split as stored (uint8), its factors.

  Returns (images [N, H, W, C], factors [N, len(config.factor_keys)] class
  indices, the number of values of each factor).
  """
  tf, tfds = _tfds()
  builder = get_builder(config)
  sizes = tuple(builder.info.features[key].num_classes
                for key in config.factor_keys)
  keys = tuple(config.factor_keys)

  def fn(ex):
    return ex['image'], tf.stack([tf.cast(ex[key], tf.int64) for key in keys])

  ds = builder.as_dataset(split=config.eval_split).map(
      tf.autograph.experimental.do_not_convert(fn),
      num_parallel_calls=tf.data.AUTOTUNE)
  images, factors = zip(*tfds.as_numpy(ds.batch(4096)))
  return np.concatenate(images), np.concatenate(factors), sizes


def dataset_info(config):
  """The dataset's TFDS DatasetInfo: features, splits, sizes."""
  return get_builder(config).info


def load_device_dataset(config, placement: jax.sharding.NamedSharding,
                        value_range: tuple[float, float]
                        ) -> device.DeviceDataset:
  """The whole training split, preprocessed, as a replicated DeviceDataset.

  Every process reads the whole split (not its share): each device holds all
  of it and draws the global batch by index inside the jitted step.
  """
  images = read_whole_split(config, config.train_split, value_range)
  if len(images) < config.batch_size:
    raise ConfigError(
        'data_on_device', True,
        f'the split has {len(images)} images, fewer than batch_size '
        f'({config.batch_size})')
  return population.device_dataset(images, config.seed, placement,
                                   population.size(config))
