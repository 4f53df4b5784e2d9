"""Command line: `python -m infogan_jax.main --config=CONFIG --workdir=DIR`.

Fields of the config file can be overridden as `--config.FIELD=VALUE`.
--mode=train (default) trains or resumes; --mode=eval runs the config's
evaluators on the workdir's latest checkpoint and prints the scores;
--mode=figures writes that checkpoint's code grids to DIR/figures/.

Exit status: 0 when the mode is done; 2 for bad input (config, data,
workdir, checkpoint), with one line saying what is wrong; 3 when a non-finite
loss stopped training (config.on_nonfinite='stop'); 75 when a preemption
notice (SIGTERM) stopped training after a checkpoint: run the same command
again to resume. Anything else is a crash, with its traceback.

A job of several processes (a TPU pod, a GPU cluster, N local processes) runs
this same command in every process; see `distributed.py` for how they find
each other, and README "Several processes and hosts".
"""

import sys

from absl import app
from absl import flags
from absl import logging
import logging as std_logging
import jax
from ml_collections import config_flags

from infogan_jax import distributed
from infogan_jax import train

FLAGS = flags.FLAGS
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, '
                               'samples, metrics and TensorBoard events.')
_MODE = flags.DEFINE_enum(
    'mode', 'train', ['train', 'eval', 'figures'],
    'train: train or resume in the workdir. eval: score its latest '
    'checkpoint with config.evaluators. figures: draw its code grids.')
config_flags.DEFINE_config_file('config', None, 'Experiment config file.',
                                lock_config=True)
flags.mark_flags_as_required(['config', 'workdir'])
_DISTRIBUTED = flags.DEFINE_enum(
    'distributed', 'auto', list(distributed.MODES),
    'auto: join a multi-process job when the flags below (or JAX_* '
    'variables) say so, or on SLURM with several tasks and on Cloud TPU '
    'VMs. on: always call jax.distributed.initialize. off: never.')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'HOST:PORT of process 0 (default: '
    '$JAX_COORDINATOR_ADDRESS, or detected on SLURM and Cloud TPU).')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', None, 'Processes in the job (default: '
    '$JAX_NUM_PROCESSES, or detected).')
_PROCESS_ID = flags.DEFINE_integer(
    'process_id', None, 'This process, 0..num_processes-1 (default: '
    '$JAX_PROCESS_ID, or detected).')
_TIMEOUT = flags.DEFINE_integer(
    'distributed_timeout_s', 300, 'Give up when the processes have not all '
    'joined within this many seconds.')


class _QuietLibraries(std_logging.Filter):
  """Drops the per-save INFO chatter of Orbax; its warnings still show."""

  def filter(self, record):
    return record.levelno >= std_logging.WARNING or (
        '/orbax/' not in record.pathname)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.get_absl_handler().addFilter(_QuietLibraries())
  try:
    distributed.initialize(
        _DISTRIBUTED.value,
        distributed.settings(_COORDINATOR.value, _NUM_PROCESSES.value,
                             _PROCESS_ID.value),
        timeout_s=_TIMEOUT.value)
  except distributed.DistributedError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(train.EXIT_BAD_INPUT)
  logging.info('JAX process %d of %d, local devices: %s',
               jax.process_index(), jax.process_count(), jax.local_devices())
  sys.exit(train.run(FLAGS.config, _WORKDIR.value, _MODE.value))


if __name__ == '__main__':
  app.run(main)
