"""scripts/accelerator_check.sh in its smoke mode, on this CPU, without
TensorFlow, TFDS or clu."""

import json
import os
import subprocess
import sys

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_smoke_run_prints_one_json_line_without_tensorflow(tmp_path):
  # Stand-ins that fail on import: the check must not need these packages.
  for name in ('tensorflow', 'tensorflow_datasets', 'clu'):
    (tmp_path / f'{name}.py').write_text(
        f'raise ImportError("{name} is not allowed here")\n')
  env = {**os.environ, 'XLA_FLAGS': conftest.FAST_COMPILE,
         'PYTHON': sys.executable, 'PYTHONPATH': str(tmp_path)}
  # Populations of 1 and 2 here (the script's default is 1 and 8) keep the
  # test short on two cores.
  result = subprocess.run(
      ['scripts/accelerator_check.sh', '--smoke', '--populations=1,2'],
      cwd=REPO, env=env,
      capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.strip().splitlines()
  assert len(lines) == 1
  report = json.loads(lines[0])
  assert report['platform'] == 'cpu' and report['smoke']
  assert report['steps_per_call'] == 1
  # CI points MNIST_MANUAL_DIR at the four original files.
  if os.environ.get('MNIST_MANUAL_DIR'):
    assert report['data'] == 'mnist'
  assert [p['population'] for p in report['populations']] == [1, 2]
  for row in report['populations']:
    assert row['compile_s'] > 0 and row['steps_per_s'] > 0
    # Rounded to whole images.
    assert abs(row['images_per_s'] -
               row['population'] * 16 * row['steps_per_s']) <= 2
  assert report['full_run']['steps'] == 16 and report['full_run']['wall_s'] > 0
