"""Preemption notices: a SIGTERM ends training at a step, with a checkpoint.

TPU VMs and most schedulers send SIGTERM some time before they stop a job.
In a job of several processes JAX's preemption service (started by
`jax.distributed.initialize`) receives it and makes every process stop at
the same step; Orbax's `CheckpointManager.reached_preemption` asks it. A
single process has no such service, so a SIGTERM handler notes the notice
for the training loop to read between steps.
"""

from __future__ import annotations

import signal
import threading

from absl import logging
import jax
import orbax.checkpoint as ocp


class Notice:
  """`with Notice(checkpoints) as notice:` ... `notice.reached(step)`.

  `reached(step)` must be called at every step by every process (the
  processes agree on the step to stop at); it returns True at that step.
  """

  def __init__(self, checkpoints: ocp.CheckpointManager):
    self._checkpoints = checkpoints
    self._received = threading.Event()
    self._previous = None

  def __enter__(self) -> Notice:
    if (jax.process_count() == 1 and
        threading.current_thread() is threading.main_thread()):
      self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
    return self

  def _on_sigterm(self, signum, frame):  # pylint: disable=unused-argument
    logging.warning('SIGTERM: stopping after this step, with a checkpoint.')
    self._received.set()

  def reached(self, step: int) -> bool:
    if jax.process_count() > 1:
      return self._checkpoints.reached_preemption(step)
    return self._received.is_set()

  def __exit__(self, *exc_info):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
      self._previous = None
