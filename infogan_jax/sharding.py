"""The mesh and the shardings of its arrays.

The mesh has two axes: 'member' (the members of a population, see
`population.py`) and 'data' (data parallelism inside a member). A single
run (population 1) has a 'member' axis of size 1: its state is replicated on
every device and its batches are split over all of them. A population of N
members on D devices puts gcd(N, D) groups of members side by side: with
N >= D (and D dividing N) each device trains N / D whole members; with fewer
members than devices each member is trained data-parallel on D / N devices.
`step.jit_train_steps` (one run) and `population.jit_train_steps` (its
members) compile the step with these shardings.
"""

from __future__ import annotations

import math

import jax
import numpy as np

P = jax.sharding.PartitionSpec


def member_groups(population: int, device_count: int) -> int:
  """The size of the mesh's 'member' axis: gcd(population, device_count)."""
  return math.gcd(population, device_count)


def data_shards(population: int, device_count: int) -> int:
  """How many devices share each member's batch: the 'data' axis size."""
  return device_count // member_groups(population, device_count)


def make_mesh(devices=None, population: int = 1) -> jax.sharding.Mesh:
  """A ('member', 'data') mesh over the given devices (default: all)."""
  devices = np.asarray(jax.devices() if devices is None else devices)
  groups = member_groups(population, devices.size)
  return jax.sharding.Mesh(devices.reshape(groups, devices.size // groups),
                           ('member', 'data'))


def replicated(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """A full copy on every device of the mesh."""
  return jax.sharding.NamedSharding(mesh, P())


def data(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """Batches [batch, ...] of a single run: axis 0 split over every device."""
  return jax.sharding.NamedSharding(mesh, P(('member', 'data')))


def member_data(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """One member's batch [batch, ...] inside the step mapped over members:
  split over 'data' (the mapping adds 'member' for the member axis)."""
  return jax.sharding.NamedSharding(mesh, P('data'))


def stacked_data(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """Stacks of batches [steps, batch, ...]: the batch axis over every device.

  A population's batch is its members' batches end to end (member 0's
  first), so this split gives each device its own members' images.
  """
  return jax.sharding.NamedSharding(mesh, P(None, ('member', 'data')))


def members(mesh: jax.sharding.Mesh) -> jax.sharding.Sharding:
  """Arrays with a leading member axis [N, ...]: split over 'member'."""
  return jax.sharding.NamedSharding(mesh, P('member'))
