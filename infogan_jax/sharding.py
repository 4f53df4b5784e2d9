"""Data parallelism on a `Mesh`: the mesh and the shardings of its arrays.

The train state is replicated on every device; batches are split over the
mesh's 'data' axis (`step.jit_train_steps` compiles the step with these).
"""

from __future__ import annotations

import jax
import numpy as np


def make_mesh(devices=None) -> jax.sharding.Mesh:
  """A 1-D data-parallel mesh over the given devices (default: all of them)."""
  devices = jax.devices() if devices is None else devices
  return jax.sharding.Mesh(np.asarray(devices), ('data',))


def replicated(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """A full copy on every device of the mesh."""
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def data(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """Batches [batch, ...]: split over 'data' on axis 0."""
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))


def stacked_data(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """Stacks of batches [steps, batch, ...]: the batch axis over 'data'."""
  return jax.sharding.NamedSharding(mesh,
                                    jax.sharding.PartitionSpec(None, 'data'))
