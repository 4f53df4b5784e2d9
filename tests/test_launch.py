"""launch/: clean under shellcheck, and each script's dry run says what it would do."""

import glob
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(glob.glob(os.path.join(REPO, 'launch', '*.sh')) +
                 glob.glob(os.path.join(REPO, 'scripts', '*.sh')) +
                 [os.path.join(REPO, '.ci', 'run')])


def _run(script, *args, **env):
  return subprocess.run([os.path.join(REPO, 'launch', script), *args],
                        env={**os.environ, 'DRY_RUN': '1', **env},
                        capture_output=True, text=True, timeout=60)


def test_shell_scripts_pass_shellcheck():
  shellcheck = shutil.which('shellcheck')
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


def test_slurm_dry_run_submits_one_task_per_gpu_or_node():
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                NODES='4', GPUS_PER_NODE='8', PARTITION='gpu')
  assert result.returncode == 0, result.stderr
  command = result.stdout
  assert command.startswith('sbatch ')
  for flag in ('--nodes=4', '--ntasks-per-node=8', '--gpus-per-node=8',
               '--partition=gpu', '--wrap=srun'):
    assert flag in command
  assert 'JAX_LOCAL_DEVICE_IDS' not in command
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                GPUS_PER_NODE='4', PROCESS_PER='node')
  assert '--ntasks-per-node=1' in result.stdout
  # (The wrapped command is quoted twice; without the quoting:)
  assert ('JAX_LOCAL_DEVICE_IDS=0,1,2,3 python -m infogan_jax.main'
          in result.stdout.replace('\\', ''))
  result = _run('slurm_gpu.sh', 'configs/svhn.py', '/shared/svhn',
                PROCESS_PER='core')
  assert result.returncode == 2
  assert 'PROCESS_PER=core: must be gpu or node' in result.stderr


def test_tpu_pod_dry_run_creates_sets_up_trains_and_deletes():
  env = dict(REPO_URL='https://example.org/infogan_jax.git',
             WORKDIR='gs://bucket/run', TFDS_DATA_DIR='gs://bucket/tfds',
             ACCELERATOR_TYPE='v5litepod-16', SPOT='1')
  result = _run('tpu_pod.sh', 'all', '--config.batch_size=512', **env)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert lines[0].startswith('gcloud compute tpus tpu-vm create infogan-pod')
  assert '--accelerator-type=v5litepod-16' in lines[0]
  assert '--spot' in lines[0]
  ssh = [line for line in lines if ' ssh infogan-pod ' in line]
  assert len(ssh) == 2 and all('--worker=all' in line for line in ssh)
  assert 'git clone' in ssh[0] and 'jax[tpu]' in ssh[0]
  assert 'infogan_jax.main' in ssh[1] and 'gs://bucket/run' in ssh[1]
  assert 'batch_size=512' in ssh[1]
  assert lines[-1].startswith('gcloud compute tpus tpu-vm delete infogan-pod')


def test_tpu_pod_needs_a_cloud_workdir():
  result = _run('tpu_pod.sh', 'train', TFDS_DATA_DIR='gs://bucket/tfds',
                WORKDIR='')
  assert result.returncode == 2
  assert 'WORKDIR is not set' in result.stderr
