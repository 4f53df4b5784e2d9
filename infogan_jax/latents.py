"""The generator's latent input: noise z and the structured code c.

`CodeSpec` describes the layout (any number of categorical codes of any size,
any number of Unif(-1, 1) continuous codes, the noise size); the functions here
sample latents, build G's input vector, split Q's output into per-code
distribution parameters and score codes under them.

Mutual-information bookkeeping: for a code c with prior entropy H(c),
E[log Q(c|x)] + H(c) is the variational lower bound L_I on I(c; G(z, c)).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

CONTINUOUS_STD_MODES = ('fixed', 'learned')


@dataclasses.dataclass(frozen=True)
class CodeSpec:
  """Layout of the latent input. Hashable, so it can be a static jit argument."""

  noise_dim: int
  categorical: tuple[int, ...]
  num_continuous: int
  continuous_std: str = 'fixed'

  @classmethod
  def from_config(cls, model_config) -> CodeSpec:
    return cls(
        noise_dim=int(model_config.noise_dim),
        categorical=tuple(int(k) for k in model_config.categorical_codes),
        num_continuous=int(model_config.num_continuous_codes),
        continuous_std=str(model_config.continuous_std),
    )

  @property
  def input_dim(self) -> int:
    """Width of G's input: z, the one-hot categorical codes, the continuous codes."""
    return self.noise_dim + sum(self.categorical) + self.num_continuous

  @property
  def q_output_dim(self) -> int:
    """Width of Q's output: logits per categorical code, mean (and log std)."""
    per_continuous = 2 if self.continuous_std == 'learned' else 1
    return sum(self.categorical) + per_continuous * self.num_continuous

  @property
  def categorical_entropies(self) -> tuple[float, ...]:
    """H(c_i) of each uniform categorical code, in nats: ln K."""
    return tuple(math.log(k) for k in self.categorical)

  @property
  def continuous_entropies(self) -> tuple[float, ...]:
    """Differential entropy of each Unif(-1, 1) code, in nats: ln 2."""
    return (math.log(2.0),) * self.num_continuous

  @property
  def categorical_entropy(self) -> float:
    """H(c) of all categorical codes together: sum of ln K."""
    return float(sum(self.categorical_entropies))

  @property
  def continuous_entropy(self) -> float:
    """Differential entropy of all continuous codes together."""
    return float(sum(self.continuous_entropies))


class Latents(NamedTuple):
  noise: jax.Array  # [n, noise_dim], Unif(-1, 1)
  categorical: jax.Array  # [n, len(categorical)], int32 category indices
  continuous: jax.Array  # [n, num_continuous], Unif(-1, 1)


class QPosterior(NamedTuple):
  logits: tuple[jax.Array, ...]  # one [n, K] array per categorical code
  mean: jax.Array  # [n, num_continuous]
  log_std: jax.Array | None  # [n, num_continuous]; None when std is fixed to 1


def sample(spec: CodeSpec, key: jax.Array, n: int) -> Latents:
  """Draws n latents from the prior: uniform categories, Unif(-1, 1) elsewhere."""
  noise_key, cat_key, cont_key = jax.random.split(key, 3)
  noise = jax.random.uniform(
      noise_key, (n, spec.noise_dim), minval=-1.0, maxval=1.0)
  categorical = jax.random.randint(
      cat_key, (n, len(spec.categorical)), 0,
      jnp.asarray(spec.categorical, jnp.int32))
  continuous = jax.random.uniform(
      cont_key, (n, spec.num_continuous), minval=-1.0, maxval=1.0)
  return Latents(noise, categorical, continuous)


def generator_input(spec: CodeSpec, latents: Latents) -> jax.Array:
  """Concatenates z, the one-hot categorical codes and the continuous codes."""
  one_hots = [
      jax.nn.one_hot(latents.categorical[:, i], k, dtype=latents.noise.dtype)
      for i, k in enumerate(spec.categorical)
  ]
  return jnp.concatenate([latents.noise, *one_hots, latents.continuous], -1)


def split_q_output(spec: CodeSpec, q_out: jax.Array) -> QPosterior:
  """Splits Q's raw output into per-code distribution parameters."""
  q_out = q_out.astype(jnp.float32)
  logits = []
  start = 0
  for k in spec.categorical:
    logits.append(q_out[:, start:start + k])
    start += k
  mean = q_out[:, start:start + spec.num_continuous]
  start += spec.num_continuous
  log_std = None
  if spec.continuous_std == 'learned':
    log_std = q_out[:, start:start + spec.num_continuous]
  return QPosterior(tuple(logits), mean, log_std)


def categorical_log_likelihoods(posterior: QPosterior,
                                latents: Latents) -> jax.Array:
  """log Q(c_i | x) for each categorical code i: [n, len(categorical)]."""
  columns = [
      -optax.softmax_cross_entropy_with_integer_labels(
          logits, latents.categorical[:, i])
      for i, logits in enumerate(posterior.logits)
  ]
  if not columns:
    return jnp.zeros((latents.noise.shape[0], 0), jnp.float32)
  return jnp.stack(columns, axis=-1)


def continuous_log_likelihoods(posterior: QPosterior,
                               latents: Latents) -> jax.Array:
  """log Q(c_j | x) under each code's Gaussian: [n, num_continuous]."""
  std = 1.0 if posterior.log_std is None else jnp.exp(posterior.log_std)
  return jax.scipy.stats.norm.logpdf(
      latents.continuous.astype(jnp.float32), posterior.mean, std)


# ------------------------------------------------------------ code names
# Codes are named by type and index: 'cat0', 'cat1', ... for the categorical
# codes, 'cont0', 'cont1', ... for the continuous ones (as in the metrics and
# the sample grids).


def code_names(spec: CodeSpec) -> tuple[str, ...]:
  """Every code of the layout by name: categorical first, then continuous."""
  return (tuple(f'cat{i}' for i in range(len(spec.categorical))) +
          tuple(f'cont{i}' for i in range(spec.num_continuous)))


def parse_code_name(spec: CodeSpec, name: str) -> tuple[str, int]:
  """'cat1' -> ('categorical', 1); ValueError naming the codes if unknown."""
  if name not in code_names(spec):
    raise ValueError(f'unknown code {name!r}; this model has '
                     f'{", ".join(code_names(spec)) or "no codes"}')
  if name.startswith('cat'):
    return 'categorical', int(name[3:])
  return 'continuous', int(name[4:])


def set_code(spec: CodeSpec, latents: Latents, name: str,
             values) -> Latents:
  """`latents` with code `name` set to `values` (a scalar, or one per row).

  Categories must be integers in [0, K); continuous values may be any
  number (beyond the prior's [-1, 1] to extrapolate).
  """
  kind, index = parse_code_name(spec, name)
  n = latents.noise.shape[0]
  values = jnp.asarray(values)
  if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != n):
    raise ValueError(f'code {name!r}: give one value or {n} values, got '
                     f'shape {values.shape}')
  values = jnp.broadcast_to(values, (n,))
  if kind == 'categorical':
    k = spec.categorical[index]
    if not jnp.issubdtype(values.dtype, jnp.integer):
      raise ValueError(f'code {name!r}: categories are integers in [0, {k})')
    if not isinstance(values, jax.core.Tracer) and (
        (values < 0).any() or (values >= k).any()):
      raise ValueError(f'code {name!r}: categories must be in [0, {k})')
    return latents._replace(categorical=latents.categorical.at[:, index].set(
        values.astype(latents.categorical.dtype)))
  return latents._replace(continuous=latents.continuous.at[:, index].set(
      values.astype(latents.continuous.dtype)))
