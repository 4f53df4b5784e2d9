"""TFDS + tf.data input: each process reads its share, steps see global arrays.

TensorFlow is imported here and nowhere else, so code that only generates
(a notebook, a synthetic benchmark) never needs it.
"""

from __future__ import annotations

import os
from typing import Iterator

import jax
import numpy as np

from infogan_jax.config_validation import ConfigError


class DataNotFoundError(RuntimeError):
  """The dataset is not prepared where TFDS looks, and cannot be downloaded."""


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


def get_builder(name: str, data_dir: str, download: bool = False):
  """A TFDS builder whose data can be read; DataNotFoundError otherwise.

  With `download`, missing data is downloaded and prepared by TFDS (this needs
  internet access); without, it must already be prepared in the data_dir.
  """
  _, tfds = _tfds()
  data_dir = resolve_data_dir(data_dir)
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.DatasetNotFoundError:
    raise ConfigError(
        'dataset', name,
        "must be the name of a TFDS dataset, e.g. 'mnist' (see "
        'tfds.list_builders())') from None
  if download:
    builder.download_and_prepare()
  elif not builder.is_prepared():
    raise DataNotFoundError(
        f"dataset '{name}' is not prepared in data_dir "
        f"'{builder.data_dir_root}'. Either point --config.data_dir (or "
        f'TFDS_DATA_DIR) at a directory holding {name}/<version>/ as '
        f'prepared by TFDS, or build it from the original files offline: '
        f"pip install -e '.[prepare]' && tfds build {name} "
        f'--manual_dir=DIR --data_dir=DATA_DIR (or, with internet access, '
        f'pass --config.download_data=True).')
  return builder


def image_shape(config) -> tuple[int, ...]:
  """Shape (H, W, C) of the training images, from the dataset's metadata."""
  builder = get_builder(config.dataset, config.data_dir, config.download_data)
  return tuple(builder.info.features['image'].shape)


def create_train_iterator(config, sharding: jax.sharding.NamedSharding,
                          value_range: tuple[float, float],
                          start_step: int = 0) -> Iterator[jax.Array]:
  """Yields global batches of training images as sharded `jax.Array`s.

  Every process reads its own slice of the split (`split_for_jax_process`) and
  contributes batch_size / process_count images to each global batch. Labels
  are dropped: InfoGAN never sees them. Images are scaled to `value_range`,
  the generator's output range. The shuffle seed depends on the process and
  on `start_step`, so a resumed run does not replay the order it has seen.
  """
  tf, tfds = _tfds()
  builder = get_builder(config.dataset, config.data_dir, config.download_data)
  split = tfds.split_for_jax_process(
      config.train_split, process_index=jax.process_index(),
      process_count=jax.process_count())
  seed = config.seed + 1_000_003 * jax.process_index() + start_step
  ds = builder.as_dataset(
      split=split, shuffle_files=True,
      read_config=tfds.ReadConfig(shuffle_seed=seed))
  low, high = value_range

  def preprocess(example):
    image = tf.cast(example['image'], tf.float32) / 255.0
    return image * (high - low) + low

  ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
  if config.cache_dataset:
    ds = ds.cache()
  local_batch = config.batch_size // jax.process_count()
  ds = ds.repeat().shuffle(config.shuffle_buffer_size, seed=seed)
  ds = ds.batch(local_batch, drop_remainder=True)
  ds = ds.prefetch(tf.data.AUTOTUNE)
  for local in tfds.as_numpy(ds):
    yield jax.make_array_from_process_local_data(sharding, np.asarray(local))
