"""The shipped experiment configs, installed with the package.

`--config=mnist` (or `mnist:VARIANT`) names one of these files from any
directory; a path to a .py file (`--config=configs/mnist.py`, or one of your
own) is used as given.
"""

from __future__ import annotations

import os

DIRECTORY = os.path.dirname(os.path.abspath(__file__))


def names() -> list[str]:
  """The shipped configs' names (`default` is their common base)."""
  return sorted(f[:-3] for f in os.listdir(DIRECTORY)
                if f.endswith('.py') and not f.startswith('_'))


def is_name(value: str) -> bool:
  """Whether --config's value names a shipped config rather than a file."""
  name = value.split(':', 1)[0]
  return bool(name) and os.sep not in name and '/' not in name and (
      not name.endswith('.py'))


def path(value: str) -> str:
  """'mnist' -> this package's mnist.py, 'faces3d:elevation' -> that file
  with ':elevation'; ValueError for a name that is not shipped."""
  name, colon, variant = value.partition(':')
  if name not in names():
    raise ValueError(f'{name!r} is not a shipped config; the shipped ones are '
                     f'{", ".join(names())} (or give the path of a .py file)')
  return os.path.join(DIRECTORY, f'{name}.py') + colon + variant
