"""How a run can stop early, and the command's exit status for each.

Every error a user can fix by changing the input (config, flag, data,
workdir, checkpoint, job layout) is a `BadInput`: the command prints its
message as one line on stderr and exits with EXIT_BAD_INPUT. The modules
that raise them re-export their own (e.g. `checkpointing.
CheckpointNotFoundError`), so callers may catch either name.
"""

from __future__ import annotations

EXIT_BAD_INPUT = 2
EXIT_NONFINITE = 3
EXIT_PREEMPTED = 75  # sysexits.h's EX_TEMPFAIL: try again later


class BadInput(Exception):
  """Input that cannot be used; the message says what to change."""


class ConfigError(BadInput, ValueError):
  """A config value that cannot be used."""

  def __init__(self, field: str, value, allowed: str):
    super().__init__(f'config.{field}={value!r}: {allowed}')
    self.field = field


class DataNotFoundError(BadInput, RuntimeError):
  """The dataset is not prepared where TFDS looks, and cannot be downloaded."""


class WorkdirError(BadInput, OSError):
  """The workdir cannot be created or written, or has too little space."""


class CheckpointNotFoundError(BadInput, RuntimeError):
  """A mode that needs a trained state found no checkpoint where it looked."""


class IncompatibleCheckpointError(BadInput, ValueError):
  """A checkpoint does not fit the config or this version of the code."""


class DistributedError(BadInput, RuntimeError):
  """The processes of a job could not be joined, or disagree."""


class NonFiniteError(RuntimeError):
  """A step's loss or gradients were not finite (config.on_nonfinite='stop')."""


class Preempted(Exception):
  """Training stopped early on a preemption notice, after a checkpoint."""

  def __init__(self, step: int, directory: str):
    super().__init__(
        f'preempted: stopped at step {step} with a checkpoint in {directory};'
        ' run the same command to resume')
    self.step = step
