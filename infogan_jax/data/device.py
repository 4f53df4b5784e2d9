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


@flax.struct.dataclass
class DeviceDataset:
  """The images of a split, and the key of its epoch permutations."""

  images: jax.Array  # [N, H, W, C], replicated, in G's output range
  # Raw key data for the epoch permutations (`population.py` gives each
  # member of a population its own).
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


def create(images: np.ndarray, seed: int,
           placement: jax.sharding.NamedSharding) -> DeviceDataset:
  """`images` (every process passes all of them) placed with `placement`
  (replicated), drawn in the order of `seed`."""
  key = np.asarray(jax.random.key_data(keys.stream(seed, 'device_data')))
  return DeviceDataset(
      images=jax.make_array_from_process_local_data(placement, images),
      key=jax.make_array_from_callback(key.shape, placement,
                                       lambda index: key[index]))
