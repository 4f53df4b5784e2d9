"""One run that says what an accelerator does with this project's MNIST step.

    scripts/accelerator_check.sh [--smoke]
    python -m infogan_tools.accelerator_check [--mnist_dir=DIR] [--smoke]

Needs jax, flax, optax, orbax and ml-collections only: no TensorFlow, TFDS
or clu. The training images come from the original MNIST file
train-images-idx3-ubyte.gz in --mnist_dir (default $MNIST_MANUAL_DIR, else
../shared/downloads/mnist beside the repository), or are random when there is
none ('data' in the output says which). Everything runs with the split held
on the device (data_on_device), `steps_per_call` 1 on a CPU and
--accelerator_steps_per_call elsewhere, and G's transposed convolutions in
the platform's form (conv_transpose 'auto').

It prints one JSON line: the device; for populations of 1 and 8 members of
configs/mnist.py, the compile time, steps/s and images/s (in total and per
member); and the wall time of 5,000 training steps of one member (the
paper's run length; the steps alone, no evaluation or checkpoints).
--smoke: a tiny model and a few steps, for checking the script on a CPU.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time

from absl import flags
import jax
import numpy as np

from infogan_jax import config_validation
from infogan_jax import population as population_lib
from infogan_jax import sharding
from infogan_jax import step as step_lib
from infogan_jax.configs import mnist
from infogan_jax.data import device as device_data
import infogan_tools

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLAGS = flags.FlagValues()  # see infogan_tools/__init__.py
_MNIST_DIR = flags.DEFINE_string(
    'mnist_dir', None, 'Directory with train-images-idx3-ubyte.gz (default: '
    '$MNIST_MANUAL_DIR, else ../shared/downloads/mnist).', flag_values=FLAGS)
_SMOKE = flags.DEFINE_bool('smoke', False, 'A tiny model, a few steps.',
                           flag_values=FLAGS)
_POPULATIONS = flags.DEFINE_list('populations', ['1', '8'],
                                 'Population sizes to time.',
                                 flag_values=FLAGS)
_TIMED_STEPS = flags.DEFINE_integer(
    'timed_steps', 200, 'Steps timed per population size, after one '
    'untimed call.', flag_values=FLAGS)
_FULL_STEPS = flags.DEFINE_integer(
    'full_steps', 5_000, 'Steps of the timed single run.', flag_values=FLAGS)
_ACCELERATOR_STEPS_PER_CALL = flags.DEFINE_integer(
    'accelerator_steps_per_call', 10, 'Steps per jitted call on a GPU or '
    'TPU (unrolled in one program).', flag_values=FLAGS)


def mnist_directory() -> str | None:
  for directory in (_MNIST_DIR.value, os.environ.get('MNIST_MANUAL_DIR'),
                    os.path.join(os.path.dirname(REPO), 'shared', 'downloads',
                                 'mnist')):
    if directory and os.path.exists(
        os.path.join(directory, 'train-images-idx3-ubyte.gz')):
      return directory
  return None


def read_idx_images(path: str) -> np.ndarray:
  """The images of an MNIST idx file (gzip): uint8 [N, 28, 28, 1]."""
  with gzip.open(path, 'rb') as f:
    data = f.read()
  magic, count, rows, columns = np.frombuffer(data[:16], '>u4')
  if magic != 2051:
    raise ValueError(f'{path} is not an idx image file (magic {magic})')
  return np.frombuffer(data[16:], np.uint8).reshape(count, rows, columns, 1)


def config_for(platform: str):
  config = mnist.get_config()
  config.data_on_device = True
  config.steps_per_call = (1 if platform == 'cpu' else
                           _ACCELERATOR_STEPS_PER_CALL.value)
  if _SMOKE.value:
    config.batch_size = 16
    config.model.generator = ('fc32-bn-relu', 'fc7x7x8-bn-relu',
                              'up8-s2-bn-relu', 'up1-s2-sigmoid')
    config.model.shared_body = ('conv8-s2-lrelu', 'conv16-s2-bn-lrelu',
                                'fc32-bn-lrelu')
    config.model.q_head = ('fc16-bn-lrelu',)
  return config


def _calls(steps: int, per_call: int) -> int:
  return max(1, -(-steps // per_call))


def time_population(config, population: int, images: np.ndarray) -> dict:
  """Compile time and steady steps/s of a population's jitted call."""
  config = config.copy_and_resolve_references()
  config.population = population
  config_validation.validate(config, device_count=jax.device_count())
  train_step = step_lib.TrainStep.from_config(config)
  mesh = population_lib.make_mesh(population)
  state = population_lib.create_state(train_step, config.seed, (28, 28, 1),
                                      mesh, population)
  dataset = population_lib.device_dataset(images, config.seed,
                                          sharding.replicated(mesh),
                                          population)
  per_call = config.steps_per_call
  call = population_lib.jit_train_steps(
      train_step, mesh, per_call, config.batch_size, True, population,
      population_lib.form(config.population_form, jax.default_backend()))
  start = time.perf_counter()
  compiled = call.lower(state, dataset).compile()
  compile_s = time.perf_counter() - start
  state, _ = compiled(state, dataset)  # warm-up
  jax.block_until_ready(state)
  calls = _calls(_TIMED_STEPS.value, per_call)
  start = time.perf_counter()
  for _ in range(calls):
    state, _ = compiled(state, dataset)
  jax.block_until_ready(state)
  steps_per_s = calls * per_call / (time.perf_counter() - start)
  return {'population': population, 'compile_s': round(compile_s, 2),
          'steps_per_s': round(steps_per_s, 2),
          'images_per_s': round(steps_per_s * config.batch_size * population),
          'images_per_s_per_member': round(steps_per_s * config.batch_size)}


def time_full_run(config, images: np.ndarray) -> dict:
  """Wall time of `--full_steps` steps of one run, compile included."""
  start = time.perf_counter()
  train_step = step_lib.TrainStep.from_config(config)
  mesh = sharding.make_mesh()
  state = step_lib.create_state(train_step, config.seed, (28, 28, 1), mesh)
  dataset = device_data.create(images, config.seed, sharding.replicated(mesh))
  per_call = config.steps_per_call
  call = step_lib.jit_train_steps(train_step, mesh, per_call,
                                  config.batch_size, True)
  calls = _calls(_FULL_STEPS.value, per_call)
  for _ in range(calls):
    state, metrics = call(state, dataset)
  jax.block_until_ready(state)
  return {'steps': calls * per_call,
          'wall_s': round(time.perf_counter() - start, 1),
          'final_mi_cat_nats': round(float(metrics['mi_cat_nats'][-1]), 3)}


def main(argv=None) -> int:
  argv = infogan_tools.parse_flags(FLAGS, argv)
  if len(argv) > 1:
    infogan_tools.usage_error(f'unexpected arguments: {argv[1:]}')
  populations = infogan_tools.population_sizes(_POPULATIONS)
  if _SMOKE.value:  # a few steps, unless asked for more
    for flag, steps in (('timed_steps', 8), ('full_steps', 16)):
      if not FLAGS[flag].present:
        FLAGS[flag].value = steps
  device = jax.devices()[0]
  config = config_for(device.platform)
  directory = mnist_directory()
  if directory:
    pixels = read_idx_images(os.path.join(directory,
                                          'train-images-idx3-ubyte.gz'))
    data = 'mnist'
  else:
    pixels = np.random.default_rng(0).integers(0, 256, (60_000, 28, 28, 1),
                                               np.uint8)
    data = 'random'
  if _SMOKE.value:
    pixels = pixels[:512]
  images = pixels.astype(np.float32) / 255.0  # G's range: [0, 1] (sigmoid)
  try:
    result = {
        'device': device.device_kind, 'platform': device.platform,
        'device_count': jax.device_count(), 'jax': jax.__version__,
        'data': data, 'smoke': _SMOKE.value,
        'batch_size': config.batch_size,
        'steps_per_call': config.steps_per_call,
        'populations': [time_population(config, n, images)
                        for n in populations],
        'full_run': time_full_run(config, images),
    }
  except config_validation.ConfigError as e:
    infogan_tools.usage_error(str(e))
  print(json.dumps(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
