"""launch/: clean under shellcheck, and each script's dry run says what it would do.

The parts that run on a cluster (launch/infogan.sbatch, launch/tpu_worker.sh)
and tpu_pod.sh's waiting run here with stand-ins for srun, scontrol and
gcloud on PATH, which record how they were called.
"""

import glob
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(glob.glob(os.path.join(REPO, 'launch', '*.sh')) +
                 glob.glob(os.path.join(REPO, 'launch', '*.sbatch')) +
                 glob.glob(os.path.join(REPO, 'scripts', '*.sh')) +
                 [os.path.join(REPO, '.ci', 'run'),
                  os.path.join(REPO, '.ci', 'refresh-lock')])


# The scripts' settings: a test gives the ones it means, whatever the shell
# running the tests has (CI sets TFDS_DATA_DIR, for one).
_SETTINGS = ('WORKDIR', 'TFDS_DATA_DIR', 'CONFIG', 'REPO_URL', 'TPU_NAME',
             'ZONE', 'PROJECT', 'ACCELERATOR_TYPE', 'RUNTIME_VERSION',
             'LOG_DIR', 'VENV', 'SBATCH_EXTRA', 'RUN_NAME', 'KEEP',
             'BRANCH', 'WORKER_PYTHON', 'CPUS_PER_TASK')


def _clean_environment():
  return {k: v for k, v in os.environ.items() if k not in _SETTINGS}


def _run(script, *args, cwd=None, **env):
  return subprocess.run([os.path.join(REPO, 'launch', script), *args],
                        env={**_clean_environment(), 'DRY_RUN': '1', **env},
                        cwd=cwd, capture_output=True, text=True, timeout=300)


def _stub(directory, name, body):
  """An executable `name` in `directory`: a bash script with `body`."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, name)
  with open(path, 'w') as f:
    f.write('#!/usr/bin/env bash\n' + body)
  os.chmod(path, 0o755)


def _lines(path):
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return f.read().splitlines()


def test_shell_scripts_pass_shellcheck():
  # (Also beside this Python: its virtualenv's bin/ may not be on PATH.)
  shellcheck = (shutil.which('shellcheck') or
                shutil.which('shellcheck', path=os.path.dirname(sys.executable)))
  assert shellcheck, "shellcheck is missing: pip install -e '.[test]'"
  assert len(SCRIPTS) >= 5
  # -x: also check what the scripts source (launch/common.sh).
  result = subprocess.run([shellcheck, '-x', *SCRIPTS], cwd=REPO,
                          capture_output=True, text=True)
  assert result.returncode == 0, result.stdout


@pytest.mark.parametrize('script', ['local.sh', 'slurm_gpu.sh', 'tpu_pod.sh'])
def test_help_prints_the_settings(script):
  result = _run(script, '--help')
  assert result.returncode == 2
  assert 'Settings (environment variables):' in result.stderr
  assert 'DRY_RUN=1' in result.stderr


def test_tpu_pod_help_says_the_workers_clone_the_pushed_branch():
  help_text = ' '.join(_run('tpu_pod.sh', '--help').stderr.split())
  assert ('The workers run what they clone from REPO_URL at BRANCH, not your '
          'working copy: commit and push your edits there first.') in help_text
  assert 'https://USER:TOKEN@HOST/OWNER/REPO.git' in help_text
  assert 'deploy key' in help_text


def test_local_dry_run_starts_one_process_per_id():
  result = _run('local.sh', 'configs/mnist.py', '/tmp/run',
                '--config.batch_size=64', NUM_PROCESSES='3', PORT='4321')
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert len(lines) == 4 and lines[-1] == 'wait'
  for i, line in enumerate(lines[:3]):
    assert f'--process_id={i} ' in line
    assert '--num_processes=3' in line
    assert '--coordinator_address=localhost:4321' in line
    assert 'xla_force_host_platform_device_count=2' in line
    assert line.endswith('&')
  assert 'process_1.log' in lines[1] and '--config.batch_size=64' in lines[2]


def test_local_rejects_bad_settings():
  result = _run('local.sh', 'configs/mnist.py', '/tmp/run',
                NUM_PROCESSES='0')
  assert result.returncode == 2
  assert 'NUM_PROCESSES=0: must be a positive integer' in result.stderr


def _sbatch_command(stdout):
  """The words of the dry run's sbatch command."""
  words = shlex.split(stdout)
  assert words[0] == 'sbatch'
  return words


def test_slurm_dry_run_submits_the_batch_script_one_task_per_gpu_or_node():
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                '--config.batch_size=64', NODES='4', GPUS_PER_NODE='8',
                PARTITION='gpu')
  assert result.returncode == 0, result.stderr
  words = _sbatch_command(result.stdout)
  for flag in ('--nodes=4', '--ntasks-per-node=8', '--gpus-per-node=8',
               '--partition=gpu', '--signal=TERM@300',
               '--output=/shared/svhn/logs/%x-%j.out'):
    assert flag in words
  assert not any(w.startswith('--wrap') for w in words)
  # The batch script, then the training's arguments.
  script = words.index(os.path.join(REPO, 'launch', 'infogan.sbatch'))
  assert words[script + 1:] == ['--config=configs/svhn.py',
                                '--workdir=/shared/svhn',
                                '--config.batch_size=64']
  export = [w for w in words if w.startswith('--export=')]
  assert export == [f'--export=ALL,INFOGAN_REPO={REPO},'
                    f'INFOGAN_VENV={REPO}/.venv,INFOGAN_GPUS_PER_PROCESS=1,'
                    'MAX_REQUEUES=3']
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                GPUS_PER_NODE='4', PROCESS_PER='node', MAX_REQUEUES='0')
  words = _sbatch_command(result.stdout)
  assert '--ntasks-per-node=1' in words
  export = next(w for w in words if w.startswith('--export='))
  assert ',INFOGAN_GPUS_PER_PROCESS=4,MAX_REQUEUES=0' in export
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                PROCESS_PER='core')
  assert result.returncode == 2
  assert 'PROCESS_PER=core: must be gpu or node' in result.stderr


@pytest.mark.parametrize('env,cpus', [
    ({}, 4),                                   # 8 processes: 32 per node
    ({'PROCESS_PER': 'node'}, 32),             # 1 process with 8 GPUs
    ({'PROCESS_PER': 'node', 'GPUS_PER_NODE': '4'}, 16),
    ({'GPUS_PER_NODE': '4'}, 4),
    ({'CPUS_PER_TASK': '12'}, 12),
    ({'CPUS_PER_TASK': '12', 'PROCESS_PER': 'node'}, 12),
])
def test_slurm_asks_4_cores_per_gpu_unless_told(env, cpus):
  # 8 per process and GPU asked for 64 cores per 8-GPU node, more than many
  # GPU nodes have.
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn', **env)
  assert result.returncode == 0, result.stderr
  assert f'--cpus-per-task={cpus}' in _sbatch_command(result.stdout)


@pytest.mark.parametrize('value', ['0', 'four', '-4'])
def test_slurm_rejects_a_bad_cpus_per_task(value):
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                CPUS_PER_TASK=value)
  assert result.returncode == 2 and not result.stdout
  assert result.stderr == f'CPUS_PER_TASK={value}: must be a positive integer\n'


def test_sbatch_script_defaults_ask_4_cores_per_gpu():
  with open(os.path.join(REPO, 'launch', 'infogan.sbatch')) as f:
    directives = dict(line.removeprefix('#SBATCH ').split('=', 1)
                      for line in f.read().splitlines()
                      if line.startswith('#SBATCH --') and '=' in line)
  assert directives['--ntasks-per-node'] == directives['--gpus-per-node'] == '8'
  assert directives['--cpus-per-task'] == '4'


def test_slurm_extra_sbatch_options_come_last_before_the_script():
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                SBATCH_EXTRA='--qos=high  --constraint=a100 --time=2:00:00')
  assert result.returncode == 0, result.stderr
  words = _sbatch_command(result.stdout)
  script = words.index(os.path.join(REPO, 'launch', 'infogan.sbatch'))
  assert words[script - 3:script] == ['--qos=high', '--constraint=a100',
                                      '--time=2:00:00']
  # After the default --time, so sbatch takes the extra one.
  assert words.index('--time=24:00:00') < script - 1


@pytest.mark.parametrize('workdir', ['gs://bucket/runs/svhn', 's3://b/svhn'])
def test_slurm_logs_of_a_url_workdir_go_to_a_local_directory(workdir, tmp_path):
  result = _run('slurm_gpu.sh', 'configs/svhn.py', workdir, cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  words = _sbatch_command(result.stdout)
  assert f'--output={tmp_path}/slurm_logs/%x-%j.out' in words
  assert f'--workdir={workdir}' in words
  result = _run('slurm_gpu.sh', 'configs/svhn.py', workdir, cwd=tmp_path,
                LOG_DIR='/shared/logs')
  assert '--output=/shared/logs/%x-%j.out' in _sbatch_command(result.stdout)
  result = _run('slurm_gpu.sh', 'configs/svhn.py', workdir, cwd=tmp_path,
                LOG_DIR='gs://bucket/logs')
  assert result.returncode == 2 and not result.stdout
  assert 'LOG_DIR=gs://bucket/logs: must be a directory' in result.stderr


def test_slurm_resolves_relative_paths_where_it_is_run(tmp_path):
  # The job runs in the repository, SLURM writes --output relative to the
  # submit directory: relative paths would meet in two places.
  result = _run('slurm_gpu.sh', 'configs/svhn.py', 'runs/svhn',
                VENV='./gpu-venv', cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  words = _sbatch_command(result.stdout)
  assert f'--workdir={tmp_path}/runs/svhn' in words
  assert f'--output={tmp_path}/runs/svhn/logs/%x-%j.out' in words
  export = next(w for w in words if w.startswith('--export='))
  assert f',INFOGAN_VENV={tmp_path}/gpu-venv,' in export
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '../runs/svhn',
                LOG_DIR='slurm/logs', cwd=tmp_path)
  words = _sbatch_command(result.stdout)
  assert f'--workdir={tmp_path}/../runs/svhn' in words
  assert f'--output={tmp_path}/slurm/logs/%x-%j.out' in words
  # Absolute paths and URLs stay as they are.
  result = _run('slurm_gpu.sh', 'configs/svhn.py', 'gs://bucket/svhn',
                LOG_DIR='/shared/logs', VENV='/opt/venv', cwd=tmp_path)
  words = _sbatch_command(result.stdout)
  assert '--workdir=gs://bucket/svhn' in words
  assert '--output=/shared/logs/%x-%j.out' in words
  assert ',INFOGAN_VENV=/opt/venv,' in next(
      w for w in words if w.startswith('--export='))
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '', cwd=tmp_path)
  assert result.returncode == 2 and not result.stdout
  assert result.stderr == ("WORKDIR is empty: give the run's directory "
                           '(or a gs:// URL)\n')


def _venv(tmp_path, name, plugin):
  """A stand-in virtualenv whose python sees only the standard library and,
  with `plugin`, a module jax_cuda12_plugin."""
  site = tmp_path / name / 'site'
  site.mkdir(parents=True)
  if plugin:
    (site / 'jax_cuda12_plugin').mkdir()
    (site / 'jax_cuda12_plugin' / '__init__.py').write_text('')
  # -S: without the site-packages of the Python running the tests.
  _stub(tmp_path / name / 'bin', 'python',
        f'PYTHONPATH={site} exec {sys.executable} -S "$@"\n')
  return str(tmp_path / name)


def _submit(tmp_path, venv, dry_run):
  """slurm_gpu.sh with VENV=venv and an sbatch stand-in that records its
  arguments."""
  _stub(tmp_path / 'bin', 'sbatch', f'echo "$*" >> {tmp_path}/sbatch\n')
  result = _run('slurm_gpu.sh', 'configs/svhn.py', str(tmp_path / 'run'),
                VENV=venv, DRY_RUN='1' if dry_run else '0',
                PATH=f'{tmp_path}/bin:{os.environ["PATH"]}')
  return result, _lines(tmp_path / 'sbatch')


def test_slurm_submits_with_a_venv_whose_jax_has_cuda(tmp_path):
  venv = _venv(tmp_path, 'cuda', plugin=True)
  result, sbatch = _submit(tmp_path, venv, dry_run=False)
  assert result.returncode == 0 and not result.stderr, result.stderr
  assert len(sbatch) == 1 and f'INFOGAN_VENV={venv},' in sbatch[0]
  assert (tmp_path / 'run' / 'logs').is_dir()


@pytest.mark.parametrize('dry_run', [True, False])
@pytest.mark.parametrize('kind', ['cpu-only', 'missing'])
def test_slurm_refuses_a_venv_without_jax_cuda(tmp_path, kind, dry_run):
  # A CPU-only jax (the plain install, without the [cuda12] extra) would
  # train on the nodes' CPUs; a missing venv would fail in the job.
  venv = (_venv(tmp_path, 'cpu', plugin=False) if kind == 'cpu-only' else
          str(tmp_path / 'nowhere'))
  result, sbatch = _submit(tmp_path, venv, dry_run)
  problem = (f'VENV={venv}: its jax has no CUDA plugin (jax_cuda12_plugin), '
             'so the job would run on CPUs; install the [cuda12] extra: '
             f"{venv}/bin/pip install -e '{REPO}[cuda12]'\n"
             if kind == 'cpu-only' else
             f'VENV={venv}: no virtualenv there ({venv}/bin/python is '
             f'missing); make one: python3 -m venv {venv} && {venv}/bin/pip '
             f"install -e '{REPO}[cuda12]'\n")
  assert not sbatch
  if dry_run:  # perhaps away from the cluster: a warning, and the command
    assert result.returncode == 0
    assert result.stderr == 'warning: ' + problem
    assert _sbatch_command(result.stdout)
  else:
    assert result.returncode == 2 and not result.stdout
    assert result.stderr == problem
    assert not (tmp_path / 'run').exists()


def test_slurm_submits_when_the_venv_cannot_be_checked(tmp_path):
  # A python that does not run here (another machine's build, say).
  _stub(tmp_path / 'other' / 'bin', 'python', 'exit 126\n')
  venv = str(tmp_path / 'other')
  result, sbatch = _submit(tmp_path, venv, dry_run=False)
  assert result.returncode == 0 and len(sbatch) == 1
  assert result.stderr == (f"warning: could not check VENV's jax ({venv}/bin/"
                           'python exited with status 126); submitting '
                           'anyway\n')


def test_sbatch_script_requeues_and_appends():
  with open(os.path.join(REPO, 'launch', 'infogan.sbatch')) as f:
    lines = f.read().splitlines()
  directives = lines[:next(i for i, line in enumerate(lines)
                           if line and not line.startswith('#'))]
  for option in ('--requeue', '--open-mode=append', '--signal=TERM@300'):
    assert f'#SBATCH {option}' in directives


def _run_sbatch_script(tmp_path, srun_status, **env):
  """Runs launch/infogan.sbatch as SLURM would, with srun and scontrol
  stand-ins; returns the result and what srun and scontrol were called with."""
  stubs = tmp_path / 'bin'
  _stub(stubs, 'srun',
        'echo "$* JAX_LOCAL_DEVICE_IDS=${JAX_LOCAL_DEVICE_IDS:-}'
        ' SRUN_CPUS_PER_TASK=${SRUN_CPUS_PER_TASK:-}"'
        f' >> {tmp_path}/srun\nexit {srun_status}\n')
  _stub(stubs, 'scontrol', f'echo "$*" >> {tmp_path}/scontrol\n')
  (tmp_path / 'venv' / 'bin').mkdir(parents=True, exist_ok=True)
  (tmp_path / 'venv' / 'bin' / 'activate').write_text('')
  outside = {k: v for k, v in _clean_environment().items() if not k.startswith('SLURM_')}
  job_env = {**outside, 'PATH': f'{stubs}:{os.environ["PATH"]}',
             'INFOGAN_REPO': REPO, 'INFOGAN_VENV': str(tmp_path / 'venv'),
             'SLURM_JOB_ID': '4242', **env}
  result = subprocess.run(
      ['bash', os.path.join(REPO, 'launch', 'infogan.sbatch'),
       '--config=configs/mnist.py', '--workdir=gs://bucket/run'],
      env=job_env, capture_output=True, text=True, timeout=300)
  return result, _lines(tmp_path / 'srun'), _lines(tmp_path / 'scontrol')


@pytest.mark.parametrize('srun_status,restarts,requeued', [
    (75, None, True),    # preempted: requeue
    (75, '2', True),     # the third requeue of MAX_REQUEUES=3
    (75, '3', False),    # the limit is reached
    (0, None, False),    # done
    (1, None, False),    # a crash
    (137, None, False),  # killed
])
def test_sbatch_script_requeues_only_a_preempted_job(
    tmp_path, srun_status, restarts, requeued):
  env = {'MAX_REQUEUES': '3'}
  if restarts is not None:
    env['SLURM_RESTART_COUNT'] = restarts
  result, srun, scontrol = _run_sbatch_script(tmp_path, srun_status, **env)
  assert result.returncode == srun_status, result.stderr
  assert srun == ['--kill-on-bad-exit=1 python -m infogan_jax.main '
                  '--config=configs/mnist.py --workdir=gs://bucket/run '
                  'JAX_LOCAL_DEVICE_IDS= SRUN_CPUS_PER_TASK=']
  assert scontrol == (['requeue 4242'] if requeued else [])
  if srun_status == 75 and not requeued:
    assert 'already requeued 3 times' in result.stdout


def test_sbatch_script_gives_one_process_per_node_all_its_gpus(tmp_path):
  _, srun, _ = _run_sbatch_script(tmp_path, 0, INFOGAN_GPUS_PER_PROCESS='4',
                                  SLURM_CPUS_PER_TASK='16')
  assert srun[0].endswith(' JAX_LOCAL_DEVICE_IDS=0,1,2,3 SRUN_CPUS_PER_TASK=16')


TPU_ENV = dict(REPO_URL='https://example.org/infogan_jax.git',
               WORKDIR='gs://bucket/run', TFDS_DATA_DIR='gs://bucket/tfds')


def test_tpu_pod_dry_run_creates_sets_up_starts_waits_and_deletes():
  result = _run('tpu_pod.sh', 'all', '--config.batch_size=512',
                ACCELERATOR_TYPE='v5litepod-16', SPOT='1', **TPU_ENV)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert lines[0].startswith('gcloud compute tpus tpu-vm create infogan-pod')
  assert '--accelerator-type=v5litepod-16' in lines[0]
  assert '--spot' in lines[0]
  ssh = [line for line in lines if ' ssh infogan-pod ' in line]
  assert len(ssh) == 3 and all('--worker=all' in line for line in ssh)
  # (The setup's script has several lines, quoted as $'...'.)
  assert 'git clone' in ssh[0] and 'jax[tpu]' in ssh[0]
  start, status = [shlex.split(line)[-1] for line in ssh[1:]]
  # The training starts detached through the worker script, named after
  # the workdir's last part.
  start = shlex.split(start.removeprefix('--command='))
  assert start[:6] == ['cd', 'infogan_jax', '&&', 'launch/tpu_worker.sh',
                       'start', 'run']
  assert start[6] == 'gs://bucket/run'
  assert '--workdir=gs://bucket/run' in start
  assert 'TFDS_DATA_DIR=gs://bucket/tfds' in start
  assert start[-1] == '--config.batch_size=512'
  assert status.endswith('launch/tpu_worker.sh status run ')
  assert lines[-1].startswith('gcloud compute tpus tpu-vm delete infogan-pod')
  result = _run('tpu_pod.sh', 'all', KEEP='1', **TPU_ENV)
  assert ' delete ' not in result.stdout


def _bash_words(line):
  """The words of a command line as bash reads them (shlex knows no $'...',
  which a dry run prints for a word with newlines)."""
  split = 'eval "set -- $1"; printf "%s\\0" "$@"'
  result = subprocess.run(['bash', '-c', split, 'bash', line],
                          capture_output=True, text=True, check=True,
                          timeout=60)
  return result.stdout.split('\0')[:-1]


def _setup_command(**env):
  """The script that the dry run of `setup` runs on every worker."""
  result = _run('tpu_pod.sh', 'setup', **{**TPU_ENV, **env})
  assert result.returncode == 0, result.stderr
  words = _bash_words(result.stdout)
  assert words[:6] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh',
                       'infogan-pod'] and '--worker=all' in words
  return words[-1].removeprefix('--command=')


def test_tpu_pod_setup_makes_a_python_3_11_venv_with_uv_that_train_runs():
  # The TPU images have Python 3.10; the package and jax need 3.11 or later.
  setup = _setup_command().splitlines()
  assert 'python3 -m pip install -q --user -U uv' in setup
  assert not any('python3 -m venv' in line for line in setup)
  assert setup.index('rm -rf infogan_venv') < setup.index(
      'python3 -m uv venv -q --python 3.11 infogan_venv')
  # Into it, the package with its [tpu] extra (jax[tpu] at the versions
  # that pyproject.toml allows).
  assert setup[-1] == ('python3 -m uv pip install -q --python '
                       "infogan_venv/bin/python -e './infogan_jax[tpu]'")
  # train runs that virtualenv's python, from the clone beside it.
  result = _run('tpu_pod.sh', 'train', **TPU_ENV)
  assert result.returncode == 0, result.stderr
  start = shlex.split(shlex.split(result.stdout)[-1].removeprefix('--command='))
  assert start[:2] == ['cd', 'infogan_jax']
  assert start[start.index('PYTHONUNBUFFERED=1') + 1:][:3] == [
      '../infogan_venv/bin/python', '-m', 'infogan_jax.main']
  assert 'python3 -m uv venv -q --python 3.12 infogan_venv' in \
      _setup_command(WORKER_PYTHON='3.12').splitlines()


@pytest.mark.parametrize('version', ['3.10', '3', '2.7', '3.11; rm -rf ~', ''])
def test_tpu_pod_refuses_a_worker_python_older_than_3_11(version):
  result = _run('tpu_pod.sh', 'setup', WORKER_PYTHON=version, **TPU_ENV)
  if version == '':  # unset: the default
    assert result.returncode == 0, result.stderr
    return
  assert result.returncode == 2 and not result.stdout
  assert result.stderr == (f'WORKER_PYTHON={version}: must be a Python '
                           'version, 3.11 or later (e.g. 3.11, 3.12.8)\n')


@pytest.mark.parametrize('cloned', [False, True])
def test_tpu_pod_setup_script_runs_on_a_worker(tmp_path, cloned):
  """The setup's script, run by bash in a worker's home with git and
  python3 stand-ins: it clones (or updates) the branch, installs uv and
  makes the virtualenv afresh."""
  home = tmp_path / 'home'
  (home / 'infogan_venv' / 'bin').mkdir(parents=True)  # an older one
  (home / 'infogan_venv' / 'bin' / 'python').write_text('3.10')
  if cloned:
    (home / 'infogan_jax').mkdir()
  for name in ('git', 'python3'):
    _stub(tmp_path / 'bin', name, f'echo "{name} $*" >> {tmp_path}/calls\n')
  path = f'{tmp_path}/bin:{os.environ["PATH"]}'
  result = subprocess.run(
      ['bash', '-c', _setup_command(BRANCH='dev')], cwd=home,
      env={**_clean_environment(), 'PATH': path},
      capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  git = (['git -C infogan_jax fetch -q origin dev',
          'git -C infogan_jax checkout -q -B dev FETCH_HEAD'] if cloned else
         ['git clone -q --branch dev https://example.org/infogan_jax.git '
          'infogan_jax'])
  assert _lines(tmp_path / 'calls') == git + [
      'python3 -m pip install -q --user -U uv',
      'python3 -m uv venv -q --python 3.11 infogan_venv',
      'python3 -m uv pip install -q --python infogan_venv/bin/python '
      '-e ./infogan_jax[tpu]']
  assert not (home / 'infogan_venv').exists()  # removed; uv makes it


@pytest.mark.parametrize('accelerator,version', [
    ('v2-8', 'tpu-ubuntu2204-base'),
    ('v3-32', 'tpu-ubuntu2204-base'),
    ('v4-32', 'tpu-ubuntu2204-base'),
    ('v5litepod-16', 'v2-alpha-tpuv5-lite'),
    ('v5p-8', 'v2-alpha-tpuv5'),
    ('v6e-16', 'v2-alpha-tpuv6e'),
])
def test_tpu_pod_runtime_version_follows_the_generation(accelerator, version):
  result = _run('tpu_pod.sh', 'create', ACCELERATOR_TYPE=accelerator)
  assert result.returncode == 0, result.stderr
  assert f'--accelerator-type={accelerator} --version={version}' in result.stdout
  result = _run('tpu_pod.sh', 'create', ACCELERATOR_TYPE=accelerator,
                RUNTIME_VERSION='my-image')
  assert '--version=my-image' in result.stdout


def test_tpu_pod_asks_for_the_runtime_of_an_unknown_generation():
  result = _run('tpu_pod.sh', 'create', ACCELERATOR_TYPE='v9x-8')
  assert result.returncode == 2 and not result.stdout
  assert 'ACCELERATOR_TYPE=v9x-8: no default image' in result.stderr
  assert 'RUNTIME_VERSION' in result.stderr


def test_tpu_pod_needs_a_cloud_workdir():
  result = _run('tpu_pod.sh', 'train', TFDS_DATA_DIR='gs://bucket/tfds',
                WORKDIR='')
  assert result.returncode == 2
  assert 'WORKDIR is not set' in result.stderr


@pytest.mark.parametrize('name,value', [
    ('WORKDIR', '/tmp/run'), ('WORKDIR', 'runs/mnist'), ('WORKDIR', 'gs://'),
    ('TFDS_DATA_DIR', '/data/tensorflow_datasets'),
    ('TFDS_DATA_DIR', 's3://bucket/tfds'),
])
@pytest.mark.parametrize('action', ['all', 'train'])
def test_tpu_pod_rejects_paths_off_cloud_storage(action, name, value):
  result = _run('tpu_pod.sh', action, **{**TPU_ENV, name: value})
  assert result.returncode == 2
  assert not result.stdout  # before any gcloud command
  assert result.stderr == f'{name}={value}: must be a gs://BUCKET/PATH ' \
                          '(every worker of the slice reads it)\n'
  # Actions that do not train ignore the paths (a shell may set them).
  result = _run('tpu_pod.sh', 'create', **{**TPU_ENV, name: value})
  assert result.returncode == 0 and 'tpu-vm create' in result.stdout


def test_tpu_pod_status_logs_and_stop_run_the_worker_script():
  def command(*args, **env):
    result = _run('tpu_pod.sh', *args, **env)
    assert result.returncode == 0, result.stderr
    words = shlex.split(result.stdout)
    assert words[:6] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh',
                         'infogan-pod']
    assert '--worker=all' in words
    return words[-1]
  prefix = '--command=cd infogan_jax && launch/tpu_worker.sh '
  assert command('status', **TPU_ENV) == prefix + 'status run '
  assert command('status', RUN_NAME='mnist-3') == prefix + 'status mnist-3 '
  assert command('logs', **TPU_ENV) == prefix + 'logs run 50 '
  assert (command('logs', LOG_LINES='5', FOLLOW='1', **TPU_ENV) ==
          prefix + 'logs run 5 follow ')
  assert command('stop', **TPU_ENV) == prefix + 'stop run '
  result = _run('tpu_pod.sh', 'status', WORKDIR='', RUN_NAME='')
  assert result.returncode == 2 and not result.stdout
  assert 'RUN_NAME is not set' in result.stderr


def _fake_gcloud(tmp_path, **env):
  """A gcloud stand-in: records its calls; `tpu_worker.sh status` reports
  FAKE_POLLS_RUNNING polls with a worker running, then both ended."""
  _stub(tmp_path / 'bin', 'gcloud', f"""\
args="$*"
echo "${{args//$'\\n'/ }}" >> {tmp_path}/calls
case "$*" in
  *'tpu_worker.sh status'*)
    [ "${{FAKE_STATUS_FAIL:-0}}" = 0 ] || exit 255
    echo "$*" >> {tmp_path}/polls
    echo "Using ssh batch size of 1."
    if [ "$(wc -l < {tmp_path}/polls)" -le "${{FAKE_POLLS_RUNNING:-0}}" ]; then
      echo "t1v-w-0: exited with status 0"; echo "t1v-w-1: running"
    else
      echo "t1v-w-0: exited with status 0"; echo "t1v-w-1: exited with status ${{FAKE_EXIT:-0}}"
    fi ;;
  *'tpu_worker.sh start'*) exit "${{FAKE_START_STATUS:-0}}" ;;
esac
""")
  return {'PATH': f'{tmp_path}/bin:{os.environ["PATH"]}', 'DRY_RUN': '0',
          'POLL_S': '1', **TPU_ENV, **env}


def _calls(tmp_path):
  """Which gcloud commands ran, in order: create, ssh (named after the
  worker script's action, or setup), delete."""
  names = []
  for line in _lines(tmp_path / 'calls'):
    words = line.split()  # compute tpus tpu-vm VERB ...
    if words[3] == 'ssh':
      worker = line.partition('launch/tpu_worker.sh ')[2].split()
      names.append(worker[0] if worker else 'setup')
    else:
      names.append(words[3])
  return names


@pytest.mark.parametrize('exit_status', [0, 75])
def test_tpu_pod_all_deletes_the_slice_once_every_worker_has_ended(
    tmp_path, exit_status):
  result = _run('tpu_pod.sh', 'all', **_fake_gcloud(
      tmp_path, FAKE_POLLS_RUNNING='2', FAKE_EXIT=str(exit_status)))
  assert result.returncode == exit_status, result.stderr
  assert _calls(tmp_path) == ['create', 'setup', 'start', 'status', 'status',
                              'status', 'delete']
  assert f't1v-w-1: exited with status {exit_status}' in result.stderr


def test_tpu_pod_all_keeps_the_slice_when_the_workers_cannot_be_reached(
    tmp_path):
  result = _run('tpu_pod.sh', 'all', **_fake_gcloud(
      tmp_path, FAKE_STATUS_FAIL='1', MAX_POLL_FAILURES='2'))
  assert result.returncode == 1
  assert _calls(tmp_path) == ['create', 'setup', 'start', 'status', 'status']
  assert 'giving up, the slice is kept' in result.stderr


def test_tpu_pod_all_deletes_the_slice_when_the_start_fails(tmp_path):
  result = _run('tpu_pod.sh', 'all', **_fake_gcloud(
      tmp_path, FAKE_START_STATUS='1'))
  assert result.returncode == 1
  assert _calls(tmp_path) == ['create', 'setup', 'start', 'delete']


# A shell cannot trap a signal it was started with ignored, and a suite run
# under nohup hands its children SIGHUP ignored: this prefix resets it and
# execs the command, as a terminal's shell starts its jobs. (A preexec_fn
# would run Python in a fork of this multithreaded process, which can hang.)
HANGUP_DEFAULT = [sys.executable, '-c',
                  'import os, signal, sys; '
                  'signal.signal(signal.SIGHUP, signal.SIG_DFL); '
                  'os.execv(sys.argv[1], sys.argv[1:])']


def _pod_waiting(tmp_path, **env):
  """`tpu_pod.sh all` with workers that keep running, once it has polled
  them (its trap is set by then). In a process group of its own, as a job
  started from a shell is."""
  env = _fake_gcloud(tmp_path, FAKE_POLLS_RUNNING='1000', **env)
  process = subprocess.Popen(
      [*HANGUP_DEFAULT, os.path.join(REPO, 'launch', 'tpu_pod.sh'), 'all'],
      env={**_clean_environment(), **env}, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, start_new_session=True)
  # Generous limits: they only bound a wait on a busy machine.
  deadline = time.time() + 120
  while not _lines(tmp_path / 'polls') and time.time() < deadline:
    time.sleep(0.1)
  assert _lines(tmp_path / 'polls'), 'never polled'
  return process


def test_tpu_pod_all_interrupted_while_waiting_keeps_the_slice(tmp_path):
  process = _pod_waiting(tmp_path)
  # The terminal closed: the hangup reaches the whole job (the script and
  # the gcloud or sleep it is waiting for), as a shell passes it on.
  os.killpg(process.pid, signal.SIGHUP)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 130
  assert 'delete' not in _calls(tmp_path)
  assert 'the training goes on and the slice is kept' in stderr


def test_tpu_pod_all_answers_a_signal_at_once_between_two_polls(tmp_path):
  """A signal to the script alone (not its job), while it sleeps between two
  polls an hour apart: it answers at once instead of after the sleep."""
  # A sleep stand-in that says when it has started, then sleeps.
  _stub(tmp_path / 'bin', 'sleep',
        f'echo "$*" >> {tmp_path}/sleeps\nexec {shutil.which("sleep")} "$@"\n')
  process = _pod_waiting(tmp_path, POLL_S='3600')
  try:
    deadline = time.time() + 120
    while not _lines(tmp_path / 'sleeps') and time.time() < deadline:
      time.sleep(0.1)
    assert _lines(tmp_path / 'sleeps') == ['3600'], 'never slept'
    process.terminate()
    # Were bash waiting for the sleep in the foreground, it would run its
    # trap only when the hour had passed.
    _, stderr = process.communicate(timeout=120)
  finally:
    if process.poll() is None:  # it did not answer: end its job
      os.killpg(process.pid, signal.SIGKILL)
  assert process.returncode == 130
  assert _calls(tmp_path) == ['create', 'setup', 'start', 'status']
  assert 'the training goes on and the slice is kept' in stderr


def _worker(tmp_path, *args):
  return subprocess.run(
      [os.path.join(REPO, 'launch', 'tpu_worker.sh'), *args],
      env={**_clean_environment(), 'PATH': f'{tmp_path}/bin:{os.environ["PATH"]}',
           'INFOGAN_LOG_DIR': str(tmp_path / 'logs')},
      capture_output=True, text=True, timeout=300, cwd=tmp_path)


def _wait_until_ended(tmp_path, run_name):
  deadline = time.time() + 300
  while time.time() < deadline:
    status = _worker(tmp_path, 'status', run_name).stdout
    if 'running' not in status:
      return status
    time.sleep(0.1)
  raise AssertionError('still running')


def test_tpu_worker_runs_the_training_detached_and_keeps_its_log(tmp_path):
  _stub(tmp_path / 'bin', 'gcloud', f'echo "$*" >> {tmp_path}/calls\n')
  host = subprocess.run(['hostname'], capture_output=True,
                        text=True).stdout.strip()
  assert _worker(tmp_path, 'status', 'r1').stdout == f'{host}: no run r1\n'
  # A training that waits for the file `go`, then exits as if preempted.
  training = ['sh', '-c', 'while [ ! -f go ]; do sleep 0.05; done; '
              'echo step 100; exit 75']
  result = _worker(tmp_path, 'start', 'r1', 'gs://bucket/run', *training)
  assert result.returncode == 0, result.stderr
  assert _worker(tmp_path, 'status', 'r1').stdout == f'{host}: running\n'
  # Detached: a session of its own, which no hangup of ours reaches.
  pid = int(_lines(tmp_path / 'logs' / f'r1.{host}.pid')[0])
  assert os.getsid(pid) == pid != os.getsid(0)
  result = _worker(tmp_path, 'start', 'r1', 'gs://bucket/run', 'true')
  assert result.returncode == 1
  assert 'still running' in result.stderr
  (tmp_path / 'go').touch()
  assert _wait_until_ended(tmp_path, 'r1') == \
      f'{host}: exited with status 75\n'
  log = _lines(tmp_path / 'logs' / f'r1.{host}.log')
  assert 'step 100' in log and log[-1].endswith('exited with status 75')
  # The log is copied beside the workdir.
  assert _lines(tmp_path / 'calls') == [
      f'storage cp {tmp_path}/logs/r1.{host}.log '
      f'gs://bucket/run/logs/r1.{host}.log']
  assert _worker(tmp_path, 'logs', 'r1', '1').stdout == \
      f'{host}: {log[-1]}\n'


def test_tpu_worker_stop_sends_the_preemption_notice(tmp_path):
  _stub(tmp_path / 'bin', 'gcloud', 'exit 1\n')  # copying fails: no matter
  _stub(tmp_path / 'bin', 'gsutil', 'exit 1\n')
  training = ['sh', '-c', 'trap "echo checkpoint; exit 75" TERM; '
              'touch trapped; while :; do sleep 0.05; done']
  assert _worker(tmp_path, 'start', 'r2', 'gs://b/r', *training).returncode == 0
  deadline = time.time() + 300  # the signal goes once sh has set its trap
  while not (tmp_path / 'trapped').exists() and time.time() < deadline:
    time.sleep(0.05)
  assert 'sent SIGTERM' in _worker(tmp_path, 'stop', 'r2').stdout
  assert _wait_until_ended(tmp_path, 'r2').endswith(
      ': exited with status 75\n')
  log = '\n'.join(_lines(next((tmp_path / 'logs').glob('r2.*.log'))))
  assert 'checkpoint' in log and 'could not copy the log' in log
