"""Joining a multi-process job: TPU pods, GPU clusters, N local processes.

Every process of a job runs the same command. `initialize` connects them
through JAX's multi-controller runtime before anything touches a device; after
it, `jax.devices()` lists the devices of all processes and the mesh spans
them. Cloud TPU VMs and SLURM jobs are recognised and JAX reads their
settings itself; anywhere else the coordinator address, the number of
processes and this process's id come from flags or from the environment
variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import threading
from typing import Mapping

import jax
from jax.experimental import multihost_utils
import ml_collections
import numpy as np

from infogan_jax import config_validation
from infogan_jax.errors import DistributedError

MODES = ('auto', 'on', 'off')


@dataclasses.dataclass(frozen=True)
class Settings:
  """How this process joins the job; None leaves a value to JAX."""

  coordinator_address: str | None = None
  num_processes: int | None = None
  process_id: int | None = None

  @property
  def explicit(self) -> bool:
    return any(v is not None for v in dataclasses.astuple(self))


def _int_from_env(environ: Mapping[str, str], name: str) -> int | None:
  value = environ.get(name)
  if value in (None, ''):
    return None
  try:
    return int(value)
  except ValueError:
    raise DistributedError(f'{name}={value!r}: must be an integer') from None


def settings(coordinator_address: str | None = None,
             num_processes: int | None = None,
             process_id: int | None = None,
             environ: Mapping[str, str] = os.environ) -> Settings:
  """Flags where given, else the JAX_* environment variables; checked."""
  result = Settings(
      coordinator_address or environ.get('JAX_COORDINATOR_ADDRESS') or None,
      num_processes if num_processes is not None else _int_from_env(
          environ, 'JAX_NUM_PROCESSES'),
      process_id if process_id is not None else _int_from_env(
          environ, 'JAX_PROCESS_ID'))
  address = result.coordinator_address
  if address is not None and (':' not in address or
                              not address.rsplit(':', 1)[1].isdigit()):
    raise DistributedError(
        f'coordinator_address={address!r}: must be HOST:PORT, e.g. '
        '10.0.0.2:1234 (the address of process 0)')
  if result.num_processes is not None and result.num_processes < 1:
    raise DistributedError(
        f'num_processes={result.num_processes}: must be an integer >= 1')
  if result.process_id is not None and not (
      0 <= result.process_id < (result.num_processes or float('inf'))):
    raise DistributedError(
        f'process_id={result.process_id}: must be in [0, num_processes'
        f'{"=" + str(result.num_processes) if result.num_processes else ""})')
  return result


def detected_cluster(environ: Mapping[str, str] = os.environ) -> str | None:
  """'slurm' or 'cloud_tpu' where JAX can find the job's layout by itself."""
  tasks = environ.get('SLURM_STEP_NUM_TASKS') or environ.get('SLURM_NTASKS')
  if environ.get('SLURM_JOB_ID') and tasks and tasks.isdigit() and int(tasks) > 1:
    return 'slurm'
  if (environ.get('TPU_WORKER_HOSTNAMES') or glob.glob('/dev/accel[0-9]*') or
      glob.glob('/dev/vfio/[0-9]*')):
    return 'cloud_tpu'
  return None


def initialize(mode: str = 'auto', job: Settings = Settings(),
               timeout_s: int = 300,
               environ: Mapping[str, str] = os.environ) -> bool:
  """Joins the job if there is one; returns whether JAX was initialised.

  mode 'auto': when `job` says anything or a cluster is detected; 'on':
  always (JAX detects what is not given); 'off': never. Bad or incomplete
  settings raise DistributedError. A job that has not formed within
  `timeout_s` ends the process with exit status 2 and a one-line error on
  stderr: JAX would abort it with no exception to catch.
  """
  if mode not in MODES:
    raise DistributedError(f'distributed={mode!r}: must be one of {MODES}')
  cluster = detected_cluster(environ)
  if mode == 'off' or (mode == 'auto' and not job.explicit and not cluster):
    return False
  if cluster is None and job.explicit and None in dataclasses.astuple(job):
    missing = [f'--{f.name} (or JAX_{f.name.upper()})'
               for f in dataclasses.fields(job) if getattr(job, f.name) is None]
    raise DistributedError(
        'a multi-process job outside SLURM and Cloud TPU needs '
        f'{", ".join(missing)} as well')
  who = (f'process {job.process_id} of {job.num_processes}'
         if job.num_processes else 'this process')
  where = job.coordinator_address or f'the {cluster} coordinator'
  if job.process_id == 0:
    problem = (f'{who}: the other processes did not all join through {where} '
               f'within {timeout_s} s')
  else:
    problem = (f'{who} could not join the job through {where} within '
               f'{timeout_s} s: is process 0 running, and is the address '
               'right?')
  # JAX aborts the whole process (no Python exception) when the job does not
  # come together in time; a watchdog that fires first exits with a line
  # that says what went wrong instead.
  watchdog = threading.Timer(timeout_s, _exit_with, (problem,))
  watchdog.daemon = True
  watchdog.start()
  try:
    jax.distributed.initialize(job.coordinator_address, job.num_processes,
                               job.process_id,
                               initialization_timeout=timeout_s + 60)
  except Exception as e:  # pylint: disable=broad-except
    raise DistributedError(f'{problem}; {str(e).strip() or type(e).__name__}'
                           ) from None
  finally:
    watchdog.cancel()
  return True


def _exit_with(message: str) -> None:
  os.write(2, f'error: {message} (--distributed_timeout_s)\n'.encode())
  os._exit(2)  # pylint: disable=protected-access


def _gathered_bytes(data: bytes) -> list[bytes]:
  """`data` of every process, in process order."""
  length = np.asarray(len(data), np.int32)
  lengths = np.asarray(multihost_utils.process_allgather(length)).reshape(-1)
  padded = np.zeros(int(lengths.max()), np.uint8)
  padded[:len(data)] = np.frombuffer(data, np.uint8)
  rows = np.asarray(multihost_utils.process_allgather(padded))
  return [bytes(row[:n]) for row, n in zip(rows, lengths)]


def check_same_config(config: ml_collections.ConfigDict) -> None:
  """Stops every process if any runs with another config than process 0.

  Every process raises the same error, naming the fields that differ between
  process 0 and the first process that differs.
  """
  if jax.process_count() == 1:
    return
  # Every process gathers every digest, not multihost_utils.assert_equal:
  # that raises only on the processes that differ from process 0 (jax 0.7),
  # and process 0 would train on alone.
  text = config.to_json_best_effort(sort_keys=True).encode()
  digests = _gathered_bytes(hashlib.sha256(text).digest())
  others = [i for i, d in enumerate(digests) if d != digests[0]]
  if not others:
    return
  texts = _gathered_bytes(text)
  first, other = (ml_collections.ConfigDict(json.loads(texts[i]))
                  for i in (0, others[0]))
  differences = config_validation.config_differences(
      first, other, labels=('on process 0', f'on process {others[0]}'))
  raise DistributedError(
      f'the processes run different configs (processes {others} differ from '
      f'process 0): ' + '; '.join(differences))


def gpu_visible_to_system() -> bool:
  """Whether this machine has an NVIDIA GPU, whatever JAX was installed with."""
  return os.path.exists('/dev/nvidia0') or shutil.which('nvidia-smi') is not None


def platform_lines(backend: str, devices: list,
                   gpu_visible: bool) -> list[tuple[str, str]]:
  """(level, message) lines naming where JAX runs, with a warning when a GPU
  sits unused because the installed jax is CPU-only."""
  lines = [('info', f'JAX runs on {backend}: {len(devices)} local device(s), '
                    f'{devices[0].device_kind if devices else "none"}')]
  if backend == 'cpu' and gpu_visible:
    lines.append(('warning',
                  'this machine has a GPU, but JAX runs on the CPU: the '
                  "installed jax is CPU-only. Install pip install -U "
                  "'jax[cuda12]' (README, Install) to train on the GPU."))
  return lines
