"""The command line: configs by name from any directory, the console script,
sample mode, and every kind of bad input as one line and exit 2."""

import os
import subprocess
import sys

import numpy as np
import pytest

from infogan_jax import commands
from infogan_jax import configs
from infogan_jax import distributed
import conftest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONSOLE = os.path.join(os.path.dirname(sys.executable), 'infogan-jax')

# The tiny model of conftest.tiny_config, as flags.
TINY = [
    '--config.batch_size=16', '--config.shuffle_buffer_size=64',
    '--config.log_every_steps=1', '--config.evaluators=()',
    *conftest.TINY_MODEL_FLAGS,
]


def _run(args, cwd, env=None):
  return subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                        timeout=600, env={**os.environ, **(env or {})})


def test_shipped_configs_resolve_by_name_and_path():
  assert 'mnist' in configs.names() and 'faces3d' in configs.names()
  assert configs.is_name('mnist') and configs.is_name('faces3d:elevation')
  assert not configs.is_name('configs/mnist.py')
  assert not configs.is_name('my_config.py')
  assert configs.path('faces3d:elevation') == os.path.join(
      configs.DIRECTORY, 'faces3d.py') + ':elevation'
  with pytest.raises(ValueError, match='mnist_tuned'):
    configs.path('mnist_tund')
  # The repository's configs/ is the same directory as the package's.
  assert os.path.samefile(os.path.join(REPO, 'configs', 'mnist.py'),
                          configs.path('mnist'))


def _broken_config(tmp_path):
  path = tmp_path / 'broken.py'
  path.write_text('def get_config(:\n')
  return str(path)


# (flags after --workdir, text the one line must contain). Each runs from an
# empty directory with --config=mnist unless it gives its own --config.
BAD_INPUT = [
    (['--config.bogus_field=1'], "no field 'bogus_field'"),
    (['--config.model.nosie_dim=10'], 'nearest: --config.model.noise_dim'),
    (['--config.num_train_steps=abc'], 'num_train_steps=abc'),
    (['--config.model.categorical_codes=(10,'], 'categorical_codes'),
    (['--config.batch_size=-1'], 'config.batch_size=-1'),
    (['--config.dataset=no_such_dataset'], 'config.dataset='),
    (['--config=no/such/config.py'], 'no such file'),
    (['--config=mnst'], "'mnst' is not a shipped config"),
    (['--config=BROKEN'], 'SyntaxError'),
    (['--config=faces3d:azimut'], 'must be one of azimuth'),
    (['--config=mnist:foo'], 'get_config()'),
    (['--bogus=1'], 'unknown flag'),
    (['--mdoe=eval'], 'nearest: --mode'),
    (['--mode=foo'], 'value should be one of'),
    (['stray'], "unexpected argument 'stray'"),
    (['--mode=eval'], 'no checkpoints/ there'),
    (['--mode=sample', '--codes=cat0=12'], 'categories 0..9'),
    (['--mode=sample', '--codes=style=1'], 'NAME one of cat0'),
    (['--num_samples=0'], 'num_samples'),
    (['--config.population=0'], 'config.population=0'),
    (['--member=-1'], 'member'),
]


@pytest.mark.parametrize('flags,expected', BAD_INPUT,
                         ids=[' '.join(f) for f, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2_with_nothing_created(
    tmp_path, flags, expected):
  flags = [f.replace('BROKEN', _broken_config(tmp_path)) for f in flags]
  workdir = tmp_path / 'run'
  config = [] if any(f.startswith('--config=') for f in flags) else [
      '--config=mnist']
  result = _run([sys.executable, '-m', 'infogan_jax.main', *config,
                 f'--workdir={workdir}', *flags], cwd=tmp_path)
  assert result.returncode == 2, result.stderr
  # Nothing but the error: no traceback, no start-up logging of TF or XLA.
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
  assert expected in lines[0]
  assert not workdir.exists()


def test_missing_workdir_flag(tmp_path):
  result = _run([sys.executable, '-m', 'infogan_jax.main', '--config=mnist'],
                cwd=tmp_path)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      'error: flag --workdir=None: Flag --workdir must have a value other '
      'than None.']


def test_missing_data_is_one_line(tmp_path):
  # 'never', so that the outcome does not depend on this machine's network
  # (tests/test_input_pipeline.py covers 'auto' offline).
  result = _run([sys.executable, '-m', 'infogan_jax.main', '--config=mnist',
                 f'--workdir={tmp_path / "run"}',
                 '--config.download_data=never'],
                cwd=tmp_path, env={'TFDS_DATA_DIR': str(tmp_path / 'empty')})
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and 'tfds build mnist' in lines[0], result.stderr
  assert not (tmp_path / 'run').exists() and not (tmp_path / 'empty').exists()


@pytest.mark.parametrize('flags,status', [
    (['--help'], 0), (['--config=mnist', '--workdir=x',
                       '--config.batch_size=0'], 2)])
def test_help_and_config_errors_do_not_import_tensorflow(flags, status):
  probe = ('import atexit, sys\n'
           'atexit.register(lambda: print("tensorflow" in sys.modules))\n'
           'from infogan_jax import main\n'
           'main.run(sys.argv)\n')
  result = _run([sys.executable, '-c', probe, *flags], cwd=REPO)
  assert result.returncode == status, result.stderr
  assert result.stdout.strip().splitlines()[-1] == 'False'
  if status == 0:
    assert 'infogan-jax train --config=mnist' in result.stdout
    assert '--workdir' in result.stdout and '--codes' in result.stdout


def test_console_script_needs_a_mode(tmp_path):
  result = _run([CONSOLE, '--config=mnist', '--workdir=x'], cwd=tmp_path)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      "error: got '--config=mnist' where the mode goes: infogan-jax "
      'train|eval|figures|sample|select --config=mnist --workdir=DIR '
      '[--FLAG=VALUE ...]']


def test_platform_line_warns_when_a_gpu_sits_unused():
  class Device:
    device_kind = 'cpu'
  lines = distributed.platform_lines('cpu', [Device()], gpu_visible=True)
  assert lines[0] == ('info', 'JAX runs on cpu: 1 local device(s), cpu')
  assert lines[1][0] == 'warning' and "jax[cuda12]" in lines[1][1]
  assert len(distributed.platform_lines('cpu', [Device()], gpu_visible=False)) == 1
  assert len(distributed.platform_lines('gpu', [Device()], gpu_visible=True)) == 1


@pytest.mark.slow
def test_console_script_trains_and_samples_from_any_directory(tmp_path):
  data_dir = conftest.require_mnist()
  workdir = tmp_path / 'run'
  env = {'TFDS_DATA_DIR': data_dir}
  result = _run([CONSOLE, 'train', '--config=mnist', f'--workdir={workdir}',
                 '--config.num_train_steps=2', *TINY], cwd=tmp_path, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'JAX runs on cpu' in result.stderr
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['2']

  def sample(*flags):
    result = _run([CONSOLE, 'sample', '--config=mnist', f'--workdir={workdir}',
                   *TINY, *flags], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()

  png, npz = sample('--num_samples=5', '--codes=cat0=3,cont1=0.5')
  assert png.endswith('step_00000002_seed0_cat0=3_cont1=0.5.png')
  assert os.path.exists(png) and npz == png[:-4] + '.npz'
  with np.load(npz) as saved:
    assert saved['images'].shape == (5, 28, 28, 1)
    assert saved['images'].min() >= 0 and saved['images'].max() <= 1
    assert (saved['categorical'][:, 0] == 3).all()
    assert (saved['continuous'][:, 1] == 0.5).all()
    assert len(set(saved['noise'][:, 0])) == 5  # five draws of z
    first = saved['images']
  # Another seed, other images; the same seed, the same images.
  _, other = sample('--num_samples=5', '--codes=cat0=3,cont1=0.5',
                    '--sample_seed=1')
  with np.load(other) as saved:
    assert not np.allclose(saved['images'], first)
  # The same seed, the same images (here through the function the command
  # calls, in this process: one command start fewer).
  config = conftest.tiny_config()
  _, again = commands.write_samples(config, str(workdir), 5,
                                    {'cat0': 3, 'cont1': 0.5}, seed=0)
  with np.load(again) as saved:
    np.testing.assert_allclose(saved['images'], first, atol=1e-5)


def test_the_wheel_ships_the_configs_and_the_console_script(tmp_path):
  """What `pip install git+URL` gets: configs usable outside the checkout."""
  import shutil  # pylint: disable=g-import-not-at-top
  import zipfile  # pylint: disable=g-import-not-at-top
  # Built from a copy: setuptools leaves build/ beside the sources.
  source = tmp_path / 'source'
  source.mkdir()
  for name in ('pyproject.toml', 'README.md'):
    shutil.copy(os.path.join(REPO, name), source / name)
  shutil.copytree(os.path.join(REPO, 'infogan_jax'), source / 'infogan_jax',
                  ignore=shutil.ignore_patterns('__pycache__'))
  result = _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q',
                 '-w', str(tmp_path / 'dist'), str(source)], cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-2000:]
  wheel, = (tmp_path / 'dist').glob('infogan_jax-*.whl')
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    entry_points = archive.read(next(
        n for n in names if n.endswith('entry_points.txt'))).decode()
  shipped = {n.split('/')[-1][:-3] for n in names
             if n.startswith('infogan_jax/configs/') and n.endswith('.py')}
  assert set(configs.names()) <= shipped
  assert 'infogan-jax = infogan_jax.main:console' in entry_points
