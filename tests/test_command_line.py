"""The command line: configs by name from any directory, the console script,
sample mode, the modes that read a trained run with the config it recorded,
select among separate runs, and every kind of bad input as one line and
exit 2."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from infogan_jax import commands
from infogan_jax import configs
from infogan_jax import distributed
from infogan_jax import selection
from infogan_jax import trainer
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


# Without --config, each from an empty directory (RUN: a workdir there).
BAD_INPUT_WITHOUT_CONFIG = [
    (['--workdir=RUN'], '--config: --mode=train needs a config'),
    (['--workdir=RUN', '--config.seed=1'], '--mode=train needs a config'),
    (['--mode=eval', '--workdir=RUN'], 'no checkpoints/ there'),
    (['--mode=sample', '--workdir=RUN', '--config.bogus=1'],
     "no field 'bogus'"),
    (['--mode=select'], 'needs --workdir=DIR (a population: pick a member) '
     'or --workdirs=DIR,DIR,...'),
    (['--mode=select', '--workdir=RUN', '--workdirs=a,b'],
     '--workdir and --workdirs: give one'),
    (['--mode=select', '--workdirs=a'], '--workdirs=a: give two or more runs'),
    (['--mode=select', '--workdirs=a,b,a'], 'a given more than once'),
    (['--mode=select', '--workdirs=a,b'], '--workdirs: a: no checkpoints/'),
    (['--mode=select', '--workdirs=a,b', '--config=mnist'],
     'leave out --config'),
    (['--mode=select', '--workdirs=a,b', '--config.seed=1'],
     'leave out --config'),
    (['--mode=select', '--workdirs=a,b', '--member=1'],
     '--member: only with --workdir'),
    (['--mode=select', '--workdirs=a,b', '--num_images=0'], 'num_images'),
    (['--mode=eval', '--workdirs=a,b'], '--workdirs: only --mode=select'),
    (['--mode=select', '--workdir=RUN', '--step=3'],
     '--step: only with --mode=select --workdirs'),
    (['--mode=select', '--workdir=RUN', '--num_images=8'],
     '--config.select_num_images'),
]


@pytest.mark.parametrize('flags,expected', BAD_INPUT_WITHOUT_CONFIG,
                         ids=[' '.join(f) for f, _ in BAD_INPUT_WITHOUT_CONFIG])
def test_bad_input_without_config_is_one_line_and_exit_2(tmp_path, flags,
                                                         expected):
  flags = [f.replace('RUN', str(tmp_path / 'run')) for f in flags]
  result = _run([sys.executable, '-m', 'infogan_jax.main', *flags],
                cwd=tmp_path)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr
  assert expected in lines[0]
  assert os.listdir(tmp_path) == []


def test_a_run_without_a_recorded_config_needs_config(tmp_path):
  """Checkpoints that record no config, and no config.json beside them."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  workdir = tmp_path / 'run'
  checkpoints = ocp.CheckpointManager(workdir / 'checkpoints')
  checkpoints.save(2, args=ocp.args.StandardSave(
      {'step': np.asarray(2, np.int32)}))
  checkpoints.wait_until_finished()
  checkpoints.close()
  result = _run([CONSOLE, 'figures', f'--workdir={workdir}'], cwd=tmp_path)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().splitlines() == [
      f'error: --workdir={workdir}: its checkpoints record no config and it '
      "has no config.json; pass the run's --config"]
  assert sorted(os.listdir(workdir)) == ['checkpoints']


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
      "error: got '--config=mnist' where the mode goes: infogan-jax train "
      '--config=mnist --workdir=DIR, or infogan-jax '
      'eval|figures|sample|select --workdir=DIR [--FLAG=VALUE ...]']


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
  # A run shorter than an epoch leaves no half-filled tf.data cache behind.
  assert 'did not fully read the dataset being cached' not in result.stderr
  # The last log line says how fast it went and that nothing is left.
  assert re.search(r'\[2\] .*eta_min=0,.*steps_per_sec=', result.stderr)
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


# ------------------------------------------------- modes that read a run


# Its tests run on one pytest-xdist worker, which trains it once.
SHARES_POPULATION = pytest.mark.xdist_group('test_command_line:population')


@pytest.fixture(scope='module')
def population(tmp_path_factory):
  """Two members trained for 2 steps on real MNIST, as `infogan-jax train
  --config.population=2` would leave them; the config they record has no
  evaluators."""
  config = conftest.tiny_config()
  config.data_dir = conftest.require_mnist()
  config.population = 2
  config.num_train_steps = 2
  config.select_num_images = 32
  workdir = str(tmp_path_factory.mktemp('population'))
  with pytest.MonkeyPatch.context() as patch:
    conftest.train_on_one_device(patch)
    trainer.train_and_evaluate(config, workdir)
  return config, workdir


def _assert_close(actual, expected):
  """The same nested dicts and lists, their floats equal within 1e-5."""
  if isinstance(expected, dict):
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
      _assert_close(actual[key], value)
  elif isinstance(expected, (list, tuple)):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
      _assert_close(a, e)
  elif isinstance(expected, float):
    assert actual == pytest.approx(expected, rel=1e-5, abs=1e-7)
  else:
    assert actual == expected


def _without_config(mode, workdir, *flags):
  """`infogan-jax MODE --workdir=... FLAGS` (no --config): its stdout."""
  result = _run([CONSOLE, mode, f'--workdir={workdir}', *flags], cwd=workdir)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


@pytest.mark.slow
@SHARES_POPULATION
def test_eval_without_config_applies_overrides_to_the_recorded_one(
    population):
  config, workdir = population
  config = config.copy_and_resolve_references()
  config.evaluators = ('clustering',)
  config.eval_batch_size = 2000
  _, scores, report = commands.evaluate(config, workdir)
  assert {'eval_accuracy/member_0', 'eval_accuracy/member_1'} <= set(scores)
  # The recorded config has no evaluators: the command takes them as
  # overrides, as it would with --config.
  assert _without_config('eval', workdir, '--config.evaluators=clustering',
                         '--config.eval_batch_size=2000') == report + '\n'


@pytest.mark.slow
@SHARES_POPULATION
def test_sample_and_figures_without_config(population):
  config, workdir = population
  _, npz = commands.write_samples(config, workdir, 5, {'cat0': 3}, seed=1,
                                  member=1)
  with np.load(npz) as saved:
    expected = saved['images']
  png, again = _without_config('sample', workdir, '--num_samples=5',
                               '--codes=cat0=3', '--sample_seed=1',
                               '--member=1').split()
  assert again == npz and png == npz[:-4] + '.png'
  with np.load(again) as saved:
    np.testing.assert_allclose(saved['images'], expected, atol=1e-5)

  paths = commands.write_figures(config, workdir)
  grids = [pathlib.Path(path).read_bytes() for path in paths]
  assert _without_config('figures', workdir).split() == paths
  assert [pathlib.Path(path).read_bytes() for path in paths] == grids


@pytest.mark.slow
@SHARES_POPULATION
def test_select_without_config(population):
  config, workdir = population
  expected = commands.select(config, workdir)
  _assert_close(json.loads(_without_config('select', workdir)), expected)


@pytest.mark.slow
@SHARES_POPULATION
def test_select_among_separate_runs(population, tmp_path):
  config, workdir = population
  # Each member exported as a run of its own: `select --workdirs` scores
  # them as separate runs (restarts), each with its recorded config.
  runs = []
  for member in (0, 1):
    commands.select(config, workdir, member=member)
    runs.append(str(tmp_path / f'seed{config.seed + member}'))
    shutil.move(os.path.join(workdir, 'selected'), runs[-1])
  command = [CONSOLE, 'select', f'--workdirs={",".join(runs)}',
             '--num_images=16', '--step=2', '--compare_with_labels']
  # The runs logged no test accuracy to compare with.
  result = _run(command, cwd=tmp_path)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      'error: --compare_with_labels: a run has no eval_accuracy logged at its '
      'step')

  for member, run in enumerate(runs):
    with open(os.path.join(run, 'metrics.jsonl'), 'w') as f:
      f.write(json.dumps({'step': 2, 'eval_accuracy': 0.2 + member}) + '\n')
  expected = selection.compare_with_labels(selection.select(runs, 16))
  result = _run(command, cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout)
  _assert_close(report, expected)
  assert [run['workdir'] for run in report['runs']] == runs
  assert report['chosen_by_labels'] == runs[1]
  assert set(report['chosen']) == {'real_information', 'confidence'}


def test_the_old_selection_command_points_to_select(tmp_path):
  result = _run([sys.executable, '-m', 'infogan_jax.selection', 'a', 'b'],
                cwd=tmp_path)
  assert result.returncode == 2 and result.stdout == ''
  assert result.stderr.strip().splitlines() == [
      'error: choosing among runs is `infogan-jax select '
      '--workdirs=RUN_DIR,RUN_DIR,...` now']


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
