"""What every evaluator is, and Q applied to many images over a mesh."""

from __future__ import annotations

import jax
import numpy as np

from infogan_jax import sharding
from infogan_jax import state as state_lib
from infogan_jax.gan import InfoGAN


class Evaluator:
  """Scores of a trained state: `evaluator(state) -> {'eval_...': float}`.

  Built once per run (data loaded, functions jitted) by `create`, called
  every `config.eval_every_steps` during training and by `--mode=eval`.
  `NAMES` are the values of config.evaluators it computes; its class
  methods check the config (before anything starts) and the dataset (once
  its metadata is known), raising ConfigError.
  """

  NAMES: tuple[str, ...] = ()

  @classmethod
  def check_config(cls, config) -> None:
    """Raises ConfigError when the config cannot run this evaluator."""

  @classmethod
  def check_dataset(cls, config, info) -> None:
    """Raises ConfigError when the dataset (its TFDS DatasetInfo) lacks what
    this evaluator needs."""

  @classmethod
  def create(cls, config, gan: InfoGAN, mesh: jax.sharding.Mesh
             ) -> Evaluator:
    raise NotImplementedError

  def __call__(self, state: state_lib.TrainState) -> dict[str, float]:
    raise NotImplementedError

  def report(self, state: state_lib.TrainState
             ) -> tuple[dict[str, float], str | None]:
    """The scores and, where the evaluator can say more, a readable note."""
    return self(state), None


def _pad_to(batch: np.ndarray, size: int) -> np.ndarray:
  pad = size - len(batch)
  return np.concatenate([batch, np.zeros((pad, *batch.shape[1:]),
                                         batch.dtype)]) if pad else batch


class BatchedQ:
  """`fn(posterior)` of Q's posterior on images, jitted and mapped over the
  images in batches sharded over the mesh's 'data' axis.

  D (with Q) runs in inference mode: batch norm uses its running averages.
  Every process holds all the images and receives all the outputs. With
  `pixel_max`, images are stored pixels (0..pixel_max) and scaled here into
  G's range; without it they are in G's range already.
  """

  def __init__(self, gan: InfoGAN, mesh: jax.sharding.Mesh, fn,
               batch_size: int, pixel_max: int | None = None):
    self.batch_size = batch_size
    self._data = sharding.data(mesh)
    replicated = sharding.replicated(mesh)

    def apply(d_variables, batch):
      if pixel_max is not None:
        batch = gan.from_pixels(batch, pixel_max)
      return fn(gan.posterior(d_variables, batch))

    self._apply = jax.jit(apply, in_shardings=(replicated, self._data),
                          out_shardings=replicated)

  def __call__(self, d_variables, images: np.ndarray) -> np.ndarray:
    out = []
    for start in range(0, len(images), self.batch_size):
      batch = images[start:start + self.batch_size]
      padded = _pad_to(batch, self.batch_size)
      global_batch = jax.make_array_from_callback(
          padded.shape, self._data, lambda index, b=padded: b[index])
      out.append(np.asarray(self._apply(d_variables, global_batch))
                 [:len(batch)])
    return np.concatenate(out)
