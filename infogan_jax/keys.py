"""Every random stream of a run, derived from its seed here and nowhere else.

The networks' initial parameters and the training stream (each step folds
in its step number) come from one split of the root key, as in every run
since the first, so that runs and checkpoints stay reproducible. Every other
stream is the root key folded with its purpose's number; a new purpose gets
a new number, and no number is ever reused.
"""

from __future__ import annotations

import jax

# Purposes folded into the root key. Never renumber: results depend on them.
_PURPOSES = {
    'device_data': 1,  # epoch permutations of a split held on the devices
    'sample_grids': 2,  # z and the other codes of the per-code sample grids
    'traversals': 3,  # the default columns of `TrainedInfoGAN.traverse`
}


def root(seed: int) -> jax.Array:
  return jax.random.key(seed)


def initial(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(G's init key, D/Q's init key, the training stream's key)."""
  g_key, d_key, train_key = jax.random.split(root(seed), 3)
  return g_key, d_key, train_key


def stream(seed: int, purpose: str) -> jax.Array:
  """The key of one named purpose (see `_PURPOSES`)."""
  return jax.random.fold_in(root(seed), _PURPOSES[purpose])
