"""`python -m infogan_jax.main` that signals itself at a chosen moment.

For the interruption tests: a moment named in control flow, not in seconds,
is reached the same way on a busy machine and an idle one.

  python tests/interrupting_main.py MOMENT SIGNAL [main's flags ...]

MOMENT:
  restore   just after the checkpoint is restored (start-up)
  input     just after the input pipeline is built (start-up)
  compile   just before the first step's call, which compiles it
  step:N    just after the call that completes step N returns
  save:N    just after step N's checkpoint save has been started, while
            Orbax may still be writing it
SIGNAL: KILL or TERM.
"""

import functools
import os
import signal
import sys

from absl import app

from infogan_jax import checkpointing
from infogan_jax import main
from infogan_jax import population
from infogan_jax.data import pipeline


def _signal_self(name: str):
  os.kill(os.getpid(), getattr(signal, f'SIG{name}'))


def _patch(module, attribute: str, wrap):
  setattr(module, attribute, wrap(getattr(module, attribute)))


def install(moment: str, signal_name: str) -> None:
  """Patches the training code to send `signal_name` at `moment`."""
  fire = functools.partial(_signal_self, signal_name)
  kind, _, arg = moment.partition(':')

  def after(original, when=lambda *a, **k: True):
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
      result = original(*args, **kwargs)
      if when(*args, **kwargs):
        fire()
      return result
    return wrapper

  if kind == 'restore':
    _patch(checkpointing, 'restore_latest', after)
  elif kind == 'input':
    _patch(pipeline, 'create_train_source', after)
  elif kind == 'save':
    _patch(checkpointing, 'save', lambda f: after(
        f, when=lambda checkpoints, step, *a, **k: step == int(arg)))
  elif kind in ('compile', 'step'):
    def wrap_jit(jit_train_steps):
      @functools.wraps(jit_train_steps)
      def wrapper(*args, **kwargs):
        step_fn = jit_train_steps(*args, **kwargs)

        def counted(state, batches):
          if kind == 'compile':
            fire()
          state, metrics = step_fn(state, batches)
          if kind == 'step' and int(state.step) == int(arg):
            fire()
          return state, metrics
        return counted
      return wrapper
    _patch(population, 'jit_train_steps', wrap_jit)
  else:
    raise ValueError(f'unknown moment {moment!r}')


if __name__ == '__main__':
  # As under `python -m`: the working directory (the repository, with
  # configs/) on the path, not this file's folder.
  sys.path[0] = os.getcwd()
  install(sys.argv[1], sys.argv[2])
  app.run(main.main, argv=['infogan_jax.main', *sys.argv[3:]])
