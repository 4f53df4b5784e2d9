"""Shared test set-up: 8 fake CPU devices, a tiny config, the MNIST copy."""

import os
import sys
import tempfile

# The tests start dozens of Python processes that import JAX and TensorFlow.
# Where the environment tells Python not to write bytecode (and the package
# is installed with --no-compile), each would compile those modules from
# source again: they are compiled once, by the first process that imports
# them, and cached.
sys.dont_write_bytecode = False
os.environ.pop('PYTHONDONTWRITEBYTECODE', None)

# XLA:CPU's backend optimisations and its newer fusion emitters cost more
# compile time than the few steps of a test win back (without them the tiny
# model's init compiles 5x faster, and its train step 2x).
FAST_COMPILE = ('--xla_backend_optimization_level=0 '
                '--xla_cpu_use_fusion_emitters=false')

# Before JAX starts: eight CPU devices, so sharding is exercised everywhere.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8 ' +
                           FAST_COMPILE)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
# Many tests (and the training processes some start) compile the same
# programs: JAX's persistent cache compiles each once per machine. Compiled
# code is looked up by the whole program and the compiler's flags, so results
# are the same with and without it.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', os.path.join(
    tempfile.gettempdir(), f'infogan_jax_tests_{os.getuid()}', 'jax_cache'))

import pytest  # pylint: disable=g-import-not-at-top

from infogan_jax.configs import mnist  # pylint: disable=g-import-not-at-top


# Narrow networks of the paper's MNIST shape, for fast tests.
TINY_MODEL = {
    'generator': ('fc32-bn-relu', 'fc7x7x8-bn-relu', 'up8-s2-bn-relu',
                  'up1-s2-sigmoid'),
    'shared_body': ('conv8-s2-lrelu', 'conv16-s2-bn-lrelu', 'fc32-bn-lrelu'),
    'q_head': ('fc16-bn-lrelu',),
}
# The same networks as command-line overrides, for tests that start the
# command in a process of its own.
TINY_MODEL_FLAGS = [f'--config.model.{field}={layers!r}'
                    for field, layers in TINY_MODEL.items()]


def tiny_config():
  """The MNIST config with narrow layers and small batches, for fast tests."""
  config = mnist.get_config()
  config.batch_size = 16
  config.num_train_steps = 4
  config.log_every_steps = 2
  config.sample_every_steps = 2
  config.checkpoint_every_steps = 2
  config.shuffle_buffer_size = 64
  config.sample_grid_columns = 3
  config.evaluators = ()  # tests of evaluation turn them on
  config.eval_batch_size = 16
  config.model.update(TINY_MODEL)
  return config


def train_on_one_device(patch: pytest.MonkeyPatch):
  """Makes the trainer build its mesh on the first device only."""
  import jax  # pylint: disable=g-import-not-at-top
  from infogan_jax import sharding  # pylint: disable=g-import-not-at-top
  make_mesh = sharding.make_mesh
  patch.setattr(sharding, 'make_mesh', lambda devices=None, population=1:
                make_mesh(jax.devices()[:1], population))


class _WithoutLabels:
  """A TFDS builder whose examples have their labels removed: reading one
  is a KeyError when the tf.data graph is built."""

  def __init__(self, builder):
    self._builder = builder

  def __getattr__(self, name):
    return getattr(self._builder, name)

  def as_dataset(self, *args, **kwargs):
    ds = self._builder.as_dataset(*args, **kwargs)
    return ds.map(lambda example: {'image': example['image']})


def remove_labels(patch: pytest.MonkeyPatch):
  """Makes every dataset the input pipeline opens come without labels."""
  from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  get_builder = pipeline.get_builder
  patch.setattr(pipeline, 'get_builder',
                lambda c: _WithoutLabels(get_builder(c)))


@pytest.fixture
def config():
  return tiny_config()


@pytest.fixture
def mnist_data_dir():
  return require_mnist()


def require_mnist() -> str:
  """A data_dir holding prepared MNIST: TFDS_DATA_DIR, else TFDS's default
  directory (~/tensorflow_datasets). Required in CI, skipped elsewhere."""
  from tensorflow_datasets.core import constants  # pylint: disable=g-import-not-at-top
  candidates = [os.environ.get('TFDS_DATA_DIR', ''), constants.DATA_DIR]
  for data_dir in candidates:
    if data_dir and os.path.isdir(os.path.join(data_dir, 'mnist')):
      return data_dir
  if os.environ.get('CI'):
    pytest.fail(f'CI needs prepared MNIST in one of {candidates}')
  pytest.skip(f'no prepared MNIST in {candidates}')
