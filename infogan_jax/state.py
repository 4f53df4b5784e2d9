"""The train state: what decides the future of a run, saved in checkpoints.

Its own small dataclasses rather than flax's `TrainState`: that one carries
a step and an apply function per network, where a run has one step for the
pair and `InfoGAN` applies the networks; this layout is also the one every
checkpoint so far was written in.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class NetState:
  """One network's trainable state: parameters, BN statistics, optimiser."""

  params: Any
  batch_stats: Any
  opt_state: Any

  def variables(self) -> dict[str, Any]:
    return {'params': self.params, 'batch_stats': self.batch_stats}

  @classmethod
  def create(cls, variables: dict[str, Any],
             tx: optax.GradientTransformation) -> NetState:
    return cls(variables['params'], variables['batch_stats'],
               tx.init(variables['params']))

  def apply_gradients(self, tx: optax.GradientTransformation, grads,
                      batch_stats, keep_if: jax.Array | None = None
                      ) -> NetState:
    """The state after one optimiser update, with new BN statistics.

    With `keep_if` (a boolean scalar), the update is applied only where it
    is True; otherwise the state stays as it was, statistics and optimiser
    included.
    """
    updates, opt_state = tx.update(grads, self.opt_state, self.params)
    new = NetState(optax.apply_updates(self.params, updates), batch_stats,
                   opt_state)
    return new if keep_if is None else optax.tree.where(keep_if, new, self)


@flax.struct.dataclass
class TrainState:
  """The whole state of a run."""

  step: jax.Array  # number of completed iterations
  key: jax.Array  # raw uint32 key data; each step uses fold_in(key, step)
  g: NetState  # the generator
  d: NetState  # the discriminator together with Q's head


def all_finite(tree) -> jax.Array:
  """Whether every array in `tree` is finite everywhere (a boolean scalar)."""
  return jnp.all(jnp.stack([jnp.isfinite(x).all()
                            for x in jax.tree.leaves(tree)]))
