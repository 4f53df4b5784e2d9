"""A whole training split held on the devices (config.data_on_device).

Each step draws its batch by index inside the jitted step, so no data
crosses from the host during training. Pure JAX: no TensorFlow.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import numpy as np

from infogan_jax import keys
from infogan_jax import sharding as sharding_lib


@flax.struct.dataclass
class DeviceDataset:
  """The images of a split, and the key of its epoch permutations."""

  images: jax.Array  # [N, H, W, C], replicated, in G's output range
  # Raw key data for the epoch permutations; a population has one per
  # member, [members, ...], each member drawing its own order.
  key: jax.Array

  def batch(self, step: jax.Array, batch_size: int) -> jax.Array:
    """The batch of iteration `step` (0-based): each epoch a new permutation.

    The last partial batch of each epoch is dropped, as in the tf.data path.
    """
    steps_per_epoch = self.images.shape[0] // batch_size
    epoch, position = jnp.divmod(step, steps_per_epoch)
    order = jax.random.permutation(
        jax.random.fold_in(jax.random.wrap_key_data(self.key), epoch),
        self.images.shape[0])
    indices = jax.lax.dynamic_slice_in_dim(order, position * batch_size,
                                           batch_size)
    return jnp.take(self.images, indices, axis=0)


# How a population's dataset maps over members: shared images, own keys.
MEMBER_AXES = DeviceDataset(images=None, key=0)


def create(images: np.ndarray, seed: int,
           sharding: jax.sharding.NamedSharding,
           population: int = 1) -> DeviceDataset:
  """`images` (every process passes all of them) placed with `sharding`
  (replicated); with a population, member i's key is that of seed + i, split
  over the mesh's member axis."""
  key = jax.random.key_data(keys.stream(seed, 'device_data'))
  key_sharding = sharding
  if population > 1:
    key = np.stack([jax.random.key_data(keys.stream(seed + i, 'device_data'))
                    for i in range(population)])
    key_sharding = sharding_lib.members(sharding.mesh)
  return DeviceDataset(
      images=jax.make_array_from_process_local_data(sharding, images),
      key=jax.make_array_from_callback(key.shape, key_sharding,
                                       lambda index: np.asarray(key)[index]))
