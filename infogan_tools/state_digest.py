"""One SHA-256 over every array of a run's checkpoint, to check that a
change of code leaves training bitwise the same:

  python -m infogan_tools.state_digest WORKDIR [STEP]

prints 'step S: N arrays, sha256 H' for the newest checkpoint (or STEP).
Arrays are hashed in sorted key-path order with their names, dtypes and
shapes, so two checkpoints agree exactly when their digests do.
"""

from __future__ import annotations

import hashlib
import sys

import jax
import numpy as np

from infogan_jax import checkpointing


def digest(workdir: str, step: int | None = None) -> tuple[int, int, str]:
  """(step, number of arrays, hex digest) of a checkpoint of `workdir`."""
  reader = checkpointing.Reader(workdir)
  try:
    step = reader.step(step)
    tree = reader.restore(step)
  finally:
    reader.close()
  leaves = sorted(jax.tree_util.tree_flatten_with_path(tree)[0],
                  key=lambda item: jax.tree_util.keystr(item[0]))
  h = hashlib.sha256()
  for path, leaf in leaves:
    array = np.ascontiguousarray(np.asarray(leaf))
    h.update(f'{jax.tree_util.keystr(path)} {array.dtype} {array.shape}'
             .encode())
    h.update(array.tobytes())
  return step, len(leaves), h.hexdigest()


if __name__ == '__main__':
  if len(sys.argv) not in (2, 3):
    sys.exit('usage: python -m infogan_tools.state_digest WORKDIR [STEP]')
  found = digest(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else None)
  print('step {}: {} arrays, sha256 {}'.format(*found))
