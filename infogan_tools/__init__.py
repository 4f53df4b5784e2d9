"""Tools around infogan_jax that the library does not need: the speed
benchmark and its PyTorch reference, result records and plots, and the
generated sprites dataset. The library never imports this package.

Each command defines its flags on its own `absl.flags.FlagValues`, so any of
them can be imported beside `infogan_jax.main` (whose flags are global).
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Sequence

from absl import flags


def parse_flags(flag_values: flags.FlagValues,
                argv: Sequence[str] | None = None) -> list[str]:
  """Parses `argv` (default sys.argv) into `flag_values`; returns the rest.

  A bad flag ends the process with one line on stderr and exit status 2.
  """
  # absl's global flags (logging's among them) keep their defaults.
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  try:
    return flag_values(list(sys.argv if argv is None else argv))
  except flags.Error as e:
    usage_error(str(e))


def population_sizes(flag: flags.FlagHolder) -> list[int]:
  """A list flag of population sizes as integers >= 1; anything else ends
  the process with one line naming the flag (exit status 2)."""
  try:
    sizes = [int(size) for size in flag.value]
  except ValueError:
    sizes = []
  if not sizes and flag.value or any(size < 1 for size in sizes):
    usage_error(f'--{flag.name}={",".join(flag.value)}: give population '
                'sizes (integers >= 1) separated by commas, e.g. 1,2,4,8')
  return sizes


def usage_error(message: str):
  """Ends the process with `message` as one line and exit status 2."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def categorical_entropy(workdir: str) -> float:
  """H(c) in nats (the maximum of the categorical bound mi_cat_nats), from
  the model of the run's config.json."""
  with open(os.path.join(workdir, 'config.json')) as f:
    counts = json.load(f)['model']['categorical_codes']
  return sum(math.log(k) for k in counts)
