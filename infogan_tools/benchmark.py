"""Speed of the train step: `python -m infogan_tools.benchmark --config=CONFIG`.

Times the same jitted call that `trainer.py` runs (`steps_per_call` iterations
of one D update and one G update) and reports compile time, steady-state
steps/s and images/s (the median over several timed windows after warm-up,
each ended by `block_until_ready`), FLOPs per step from XLA's cost analysis,
the GFLOP/s that makes, and the devices. It prints a table and, as its last
line, one JSON object with the same figures.

  --data=synthetic  random images of the dataset's shape (no TensorFlow).
  --data=real       the TFDS input pipeline (or, with data_on_device, the
                    split held on the devices), timed beside synthetic data
                    in the same run; the JSON gets real_over_synthetic.
  --compare_torch   also times a PyTorch eager version of the paper's MNIST
                    step (`torch_reference.py`; needs `pip install torch`)
                    and reports the ratio of images/s.
  --profile_dir=DIR writes a JAX profiler trace of one timed window there and
                    prints where the time goes: the busiest operations and
                    how busy each XLA:CPU worker thread was.
  --populations=1,2,4,8
                    times the step of populations of these sizes
                    (config.population) one after another, and prints a
                    table of images/s per member and in total; the JSON gets
                    'populations', one entry each.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import statistics
import sys
import time

from absl import flags
import jax
from ml_collections import config_flags
import numpy as np

from infogan_jax import config_validation
from infogan_jax import population as population_lib
from infogan_jax import sharding
from infogan_jax import step as step_lib
import infogan_tools

FLAGS = flags.FlagValues()  # see infogan_tools/__init__.py
_STEPS = flags.DEFINE_integer(
    'steps', 20, 'Iterations per timed window (rounded up to a multiple of '
    'steps_per_call).', flag_values=FLAGS)
_WINDOWS = flags.DEFINE_integer(
    'windows', 5, 'Timed windows; the median is reported.', flag_values=FLAGS)
_WARMUP = flags.DEFINE_integer(
    'warmup_calls', 2, 'Untimed calls after compiling.', flag_values=FLAGS)
_DATA = flags.DEFINE_enum('data', 'synthetic', ['synthetic', 'real'],
                          'Where batches come from.', flag_values=FLAGS)
_SYNTHETIC_EXAMPLES = flags.DEFINE_integer(
    'synthetic_examples', 60_000, 'Size of the synthetic split held on the '
    'devices when data_on_device is set (MNIST has 60,000); with '
    '--data=real, the real split\'s size instead.',
    flag_values=FLAGS)
_COMPARE_TORCH = flags.DEFINE_bool(
    'compare_torch', False, 'Also time the PyTorch eager reference step.',
    flag_values=FLAGS)
_PROFILE_DIR = flags.DEFINE_string(
    'profile_dir', None, 'Write a profiler trace of one window here and '
    'summarise it.', flag_values=FLAGS)
_POPULATIONS = flags.DEFINE_list(
    'populations', [], 'Population sizes to time one after another (each '
    'a synthetic-data run of config.population = N).', flag_values=FLAGS)
config_flags.DEFINE_config_file('config', None, 'Experiment config file.',
                                lock_config=True, flag_values=FLAGS)
flags.mark_flags_as_required(['config'], flag_values=FLAGS)


def _synthetic_source(config, mesh, image_shape, value_range, num_examples):
  """An endless source of random images, in the form the jitted call takes
  (with data_on_device: a split of `num_examples` images)."""
  low, high = value_range
  rng = np.random.default_rng(0)
  if config.data_on_device:
    images = rng.uniform(low, high, (num_examples, *image_shape))
    dataset = population_lib.device_dataset(
        images.astype(np.float32), config.seed, sharding.replicated(mesh),
        config.population)
    while True:
      yield dataset
  stacked = sharding.stacked_data(mesh)
  shape = (config.steps_per_call, config.batch_size * config.population,
           *image_shape)
  # A few distinct batches, already on the devices: only the step is timed.
  batches = [jax.device_put(rng.uniform(low, high, shape).astype(np.float32),
                            stacked) for _ in range(4)]
  while True:
    yield from batches


def _time_windows(call, state, source, calls_per_window: int,
                  warmup_calls: int | None = None):
  """Median seconds per window, and the state after the last window."""
  for _ in range(_WARMUP.value if warmup_calls is None else warmup_calls):
    state, _ = call(state, next(source))
  jax.block_until_ready(state)
  seconds = []
  for _ in range(_WINDOWS.value):
    start = time.perf_counter()
    for _ in range(calls_per_window):
      state, _ = call(state, next(source))
    jax.block_until_ready(state)
    seconds.append(time.perf_counter() - start)
  return statistics.median(seconds), state


def _summarise_profile(profile_dir: str, steps: int) -> list[str]:
  """Busiest XLA operations and XLA:CPU thread occupancy, from the trace."""
  path = sorted(glob.glob(os.path.join(profile_dir, '**', '*.xplane.pb'),
                          recursive=True), key=os.path.getmtime)[-1]
  profile = jax.profiler.ProfileData.from_file(path)
  by_kind = collections.Counter()
  busy = collections.Counter()  # per thread: time in operations
  executing = collections.Counter()  # per thread: time in whole executions
  spans = {'operations': [float('inf'), 0.0], 'executions': [float('inf'), 0.0]}

  def extend(span, event):
    span[0] = min(span[0], event.start_ns)
    span[1] = max(span[1], event.start_ns + event.duration_ns)

  for plane in profile.planes:
    for line in plane.lines:
      # XLA:CPU runs a program's operations on its worker pool (XLAEigen)
      # and, for small ones in some jaxlib releases, on the client's thread.
      if 'XLAEigen' not in line.name and 'XLAPjRtCpuClient' not in line.name:
        continue
      for event in line.events:
        if event.name == 'ThunkExecutor::Execute':
          executing[line.name] += event.duration_ns
          extend(spans['executions'], event)
        if event.name.startswith(('ThunkExecutor', 'ThreadpoolListener')):
          continue
        # 'ynn_fusion.41' -> 'ynn_fusion': matmuls and convolutions.
        by_kind[event.name.split('.')[0]] += event.duration_ns
        busy[line.name] += event.duration_ns
        extend(spans['operations'], event)
  # Older jaxlib releases trace whole executions only, not operations.
  kind = 'operations' if busy else 'executions'
  busy = busy or executing
  if not busy:
    return [f'profile: {path} (no XLA:CPU work in it)']
  span = spans[kind][1] - spans[kind][0]
  lines = [f'profile: {path}',
           '  XLA:CPU threads busy: ' + ', '.join(
               f'{100 * t / span:.0f}%' for t in busy.values()
               if t > span / 200) +
           f' of {span / 1e6:.0f} ms' + (
               '' if by_kind else
               ' (this jaxlib traces whole executions, not operations)')]
  total = sum(by_kind.values())
  for name, ns in by_kind.most_common(8):
    lines.append(f'  {name:32s} {ns / 1e6 / steps:8.2f} ms/step '
                 f'({100 * ns / total:4.1f}%)')
  return lines


def run(config, synthetic_only: bool = False) -> dict:
  """Benchmarks `config`; returns the figures the JSON line holds.
  `synthetic_only`: without the real-data, profile and PyTorch parts."""
  config_validation.validate(config, device_count=jax.device_count(),
                             process_count=jax.process_count())
  train_step = step_lib.TrainStep.from_config(config)
  image_shape = train_step.gan.image_shape()
  value_range = train_step.gan.value_range
  per_call = config.steps_per_call
  calls = -(-_STEPS.value // per_call)
  population = config.population
  mesh = population_lib.make_mesh(population)
  state = population_lib.create_state(train_step, config.seed, image_shape,
                                      mesh, population)
  call = population_lib.jit_train_steps(
      train_step, mesh, per_call, config.batch_size, config.data_on_device,
      population, population_lib.form(config.population_form,
                                      jax.default_backend()))

  num_examples = _SYNTHETIC_EXAMPLES.value
  if _DATA.value == 'real':
    from infogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
    # The same split size as the real data, so that one compiled step takes
    # both sources when the split is held on the devices.
    num_examples = pipeline.num_train_examples(config)
  synthetic = _synthetic_source(config, mesh, image_shape, value_range,
                                num_examples)
  start = time.perf_counter()
  compiled = call.lower(state, next(synthetic)).compile()
  compile_s = time.perf_counter() - start
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops_per_step = float(cost.get('flops', 0.0)) / per_call

  seconds, state = _time_windows(compiled, state, synthetic, calls)
  steps_per_sec = calls * per_call / seconds
  device = jax.devices()[0]
  result = {
      # Every member's images: a population of N trains N x batch_size
      # images per step.
      'images_per_sec': steps_per_sec * config.batch_size * population,
      'member_images_per_sec': steps_per_sec * config.batch_size,
      'population': population,
      'steps_per_sec': steps_per_sec,
      'compile_s': compile_s,
      'flops_per_step': flops_per_step,
      'achieved_gflops': flops_per_step * steps_per_sec / 1e9,
      'device': device.device_kind,
      'platform': device.platform,
      'device_count': jax.device_count(),
      'batch_size': config.batch_size,
      'steps_per_call': per_call,
      'data_on_device': config.data_on_device,
      'compute_dtype': config.model.compute_dtype,
      'data': _DATA.value,
  }
  if synthetic_only:
    return result
  if _DATA.value == 'real':
    warmup = _WARMUP.value
    if config.cache_dataset and not config.data_on_device:
      # Steady state: after one epoch has filled tf.data's cache. (The first
      # epoch also decodes the files.)
      batches = pipeline.num_train_examples(config) // config.batch_size
      warmup = max(warmup, -(-batches // per_call))
    seconds, state = _time_windows(
        compiled, state,
        pipeline.create_train_source(config, mesh, value_range),
        calls, warmup)
    result['real_images_per_sec'] = calls * per_call * config.batch_size / (
        seconds)
    result['real_over_synthetic'] = (result['real_images_per_sec'] /
                                     result['images_per_sec'])
  if _PROFILE_DIR.value:
    jax.profiler.start_trace(_PROFILE_DIR.value)
    _, state = _time_windows(compiled, state, synthetic, calls)
    jax.profiler.stop_trace()
    result['profile'] = _summarise_profile(
        _PROFILE_DIR.value, calls * per_call * (_WINDOWS.value +
                                                _WARMUP.value))
  if _COMPARE_TORCH.value:
    from infogan_tools import torch_reference  # pylint: disable=g-import-not-at-top
    torch = torch_reference.measure(config.batch_size, _STEPS.value,
                                    _WINDOWS.value)
    result['torch_images_per_sec'] = torch['images_per_sec']
    result['torch_version'] = torch['torch_version']
    result['jax_over_torch'] = (result['images_per_sec'] /
                                torch['images_per_sec'])
  return result


def run_populations(config, sizes: list[int]) -> list[dict]:
  """`run` for each population size in turn (synthetic data)."""
  results = []
  for size in sizes:
    sized = config.copy_and_resolve_references()
    sized.population = size
    results.append({key: value for key, value in run(sized, True).items()
                    if key in ('population', 'compile_s', 'steps_per_sec',
                               'member_images_per_sec', 'images_per_sec')})
  return results


def _population_table(rows: list[dict]) -> str:
  lines = ['population  compile s  steps/s  images/s per member  '
           'images/s in total']
  for row in rows:
    lines.append(f"{row['population']:>10}  {row['compile_s']:>9.1f}  "
                 f"{row['steps_per_sec']:>7.2f}  "
                 f"{row['member_images_per_sec']:>19.0f}  "
                 f"{row['images_per_sec']:>17.0f}")
  return '\n'.join(lines)


def _table(result: dict) -> str:
  rows = [
      ('device', f"{result['device']} x {result['device_count']} "
                 f"({result['platform']})"),
      ('batch size', result['batch_size']),
      ('population', result['population']),
      ('steps per call', result['steps_per_call']),
      ('data', result['data'] + (' (on device)' if result['data_on_device']
                                 else '')),
      ('compute dtype', result['compute_dtype']),
      ('compile time', f"{result['compile_s']:.1f} s"),
      ('steps/s (synthetic)', f"{result['steps_per_sec']:.2f}"),
      ('images/s (synthetic)', f"{result['images_per_sec']:.0f}" + (
          f" ({result['member_images_per_sec']:.0f} per member)"
          if result['population'] > 1 else '')),
      ('GFLOP per step', f"{result['flops_per_step'] / 1e9:.2f}"),
      ('achieved GFLOP/s', f"{result['achieved_gflops']:.1f}"),
  ]
  if 'real_images_per_sec' in result:
    rows += [('images/s (real data)', f"{result['real_images_per_sec']:.0f}"),
             ('real / synthetic', f"{result['real_over_synthetic']:.3f}")]
  if 'torch_images_per_sec' in result:
    rows += [(f"images/s (PyTorch {result['torch_version']} eager)",
              f"{result['torch_images_per_sec']:.0f}"),
             ('JAX / PyTorch', f"{result['jax_over_torch']:.2f}")]
  width = max(len(name) for name, _ in rows)
  return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)


def main(argv=None) -> int:
  argv = infogan_tools.parse_flags(FLAGS, argv)
  if len(argv) > 1:
    infogan_tools.usage_error(f'unexpected arguments: {argv[1:]}')
  sizes = infogan_tools.population_sizes(_POPULATIONS)
  try:
    result = run(FLAGS.config)
    if sizes:
      result['populations'] = run_populations(FLAGS.config, sizes)
  except config_validation.ConfigError as e:
    infogan_tools.usage_error(str(e))
  profile = result.pop('profile', [])
  print(_table(result))
  for line in profile:
    print(line)
  if sizes:
    print(_population_table(result['populations']))
  print(json.dumps(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
