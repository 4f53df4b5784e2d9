"""The generator's latent input: noise z and the structured codes c.

Each kind of code is a `CodeType` class: categorical codes, and continuous
codes with a Unif(-1, 1) prior. It says how its codes are configured and
checked, drawn, fed to G, read from Q's output, scored, swept in a grid,
parsed from the command line and represented for evaluation. `CodeSpec` is
a model's layout (the noise size and one instance of every type in
`CODE_TYPES`); the functions below loop over its types, so adding a kind of
code is one class here (added to `CODE_TYPES`) and its config field: the
step and its bound, the grids, `--codes`, `infogan_jax.load` and the
disentanglement representation serve it. What only makes sense for
categorical codes (the real-image terms, clustering, the selection
criteria) names `Categorical`.

Codes are named by type and index: 'cat0', 'cat1', ... and 'cont0', ...
(in the metrics, the sample grids, `--codes` and `infogan_jax.load`).

Mutual-information bookkeeping: for a code c with prior entropy H(c),
E[log Q(c|x)] + H(c) is the variational lower bound L_I on I(c; G(z, c)).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from infogan_jax import fields
from infogan_jax.errors import ConfigError


class CodeType(abc.ABC):
  """Some number of latent codes of one kind (a frozen dataclass).

  Its codes' values in a batch are one [n, count] array, its part of G's
  input `input_width` columns and its part of Q's output `q_width` columns,
  both in the order of `CODE_TYPES`.
  """

  name: ClassVar[str]  # its key in Latents.codes, and CodeSpec.<name>
  prefix: ClassVar[str]  # its codes are named prefix0, prefix1, ...
  lambda_field: ClassVar[str]  # the config field weighting its bound L_I
  dtype: ClassVar[Any]  # of its values
  # Where its features go in `representation`: lowest first (a new kind
  # comes after the continuous means and categorical probabilities).
  representation_rank: ClassVar[int] = 2

  @classmethod
  @abc.abstractmethod
  def from_config(cls, model_config) -> CodeType:
    """The codes of this type a model config asks for (possibly none)."""

  @classmethod
  @abc.abstractmethod
  def check_config(cls, config) -> None:
    """Raises ConfigError for an unusable value of its fields of the (whole)
    config."""

  @property
  @abc.abstractmethod
  def count(self) -> int:
    """How many codes of this type."""

  @property
  @abc.abstractmethod
  def input_width(self) -> int:
    """Columns of G's input."""

  @property
  @abc.abstractmethod
  def q_width(self) -> int:
    """Columns of Q's output."""

  @property
  @abc.abstractmethod
  def entropies(self) -> tuple[float, ...]:
    """H(c) of each code under its prior, in nats."""

  @abc.abstractmethod
  def sample(self, key: jax.Array, n: int) -> jax.Array:
    """n draws of every code from the prior: [n, count]."""

  @abc.abstractmethod
  def generator_input(self, values: jax.Array, dtype) -> jax.Array:
    """G's input columns for values [n, count]: [n, input_width]."""

  @abc.abstractmethod
  def posterior(self, q_columns: jax.Array) -> Any:
    """Q's distribution parameters from its columns [n, q_width] (float32)."""

  @abc.abstractmethod
  def log_likelihoods(self, posterior, values: jax.Array) -> jax.Array:
    """log Q(c_i | x) of each code under `posterior`: [n, count]."""

  @abc.abstractmethod
  def representation(self, posterior) -> jax.Array:
    """Q's features for the evaluators: [n, features]."""

  @abc.abstractmethod
  def readable(self, posterior) -> dict[str, Any]:
    """Q's beliefs as `infogan_jax.load` gives them, by field name."""

  @abc.abstractmethod
  def sweep_values(self, index: int, config) -> np.ndarray:
    """The rows of code `index`'s sample grid."""

  @abc.abstractmethod
  def check_values(self, index: int, values: jax.Array) -> jax.Array:
    """Values set for code `index`, cast to `dtype`; ValueError if not
    allowed."""

  @abc.abstractmethod
  def parse(self, index: int, text: str):
    """One value of code `index` from the command line; ValueError if not
    allowed."""


@dataclasses.dataclass(frozen=True)
class Categorical(CodeType):
  """Uniform categorical codes, one-hot in G's input; Q gives logits."""

  name: ClassVar[str] = 'categorical'
  prefix: ClassVar[str] = 'cat'
  lambda_field: ClassVar[str] = 'lambda_categorical'
  dtype: ClassVar[Any] = jnp.int32
  representation_rank: ClassVar[int] = 1  # after the continuous means

  sizes: tuple[int, ...] = ()  # each code's number of categories

  @classmethod
  def from_config(cls, model_config) -> Categorical:
    return cls(tuple(int(k) for k in model_config.categorical_codes))

  @classmethod
  def check_config(cls, config) -> None:
    sizes = config.model.categorical_codes
    if not fields.is_sequence_of(sizes,
                                 lambda k: fields.is_int(k) and k >= 2):
      raise ConfigError('model.categorical_codes', sizes,
                        'must be a tuple of category counts, each >= 2')

  @property
  def count(self) -> int:
    return len(self.sizes)

  @property
  def input_width(self) -> int:
    return sum(self.sizes)

  @property
  def q_width(self) -> int:
    return sum(self.sizes)

  @property
  def entropies(self) -> tuple[float, ...]:
    return tuple(math.log(k) for k in self.sizes)  # ln K

  def sample(self, key, n):
    return jax.random.randint(key, (n, self.count), 0,
                              jnp.asarray(self.sizes, jnp.int32))

  def generator_input(self, values, dtype):
    if not self.sizes:
      return jnp.zeros((values.shape[0], 0), dtype)
    return jnp.concatenate([jax.nn.one_hot(values[:, i], k, dtype=dtype)
                            for i, k in enumerate(self.sizes)], -1)

  def posterior(self, q_columns) -> tuple[jax.Array, ...]:
    """The logits [n, K] of each code."""
    starts = np.cumsum((0,) + self.sizes)
    return tuple(q_columns[:, start:start + k]
                 for start, k in zip(starts, self.sizes))

  def log_likelihoods(self, posterior, values):
    columns = [-optax.softmax_cross_entropy_with_integer_labels(
        logits, values[:, i]) for i, logits in enumerate(posterior)]
    if not columns:
      return jnp.zeros((values.shape[0], 0), jnp.float32)
    return jnp.stack(columns, axis=-1)

  def representation(self, posterior):
    """Each code's probabilities."""
    return jnp.concatenate([jax.nn.softmax(logits, -1)
                            for logits in posterior], -1)

  def readable(self, posterior):
    # per code, [n, K]
    return {'probabilities': tuple(jax.nn.softmax(l) for l in posterior)}

  def sweep_values(self, index, config):
    return np.arange(self.sizes[index])  # every category

  def check_values(self, index, values):
    k = self.sizes[index]
    name = f'{self.prefix}{index}'
    if not jnp.issubdtype(values.dtype, jnp.integer):
      raise ValueError(f'code {name!r}: categories are integers in [0, {k})')
    if not isinstance(values, jax.core.Tracer) and (
        (values < 0).any() or (values >= k).any()):
      raise ValueError(f'code {name!r}: categories must be in [0, {k})')
    return values.astype(self.dtype)

  def parse(self, index, text):
    try:
      value = int(text)
    except ValueError:
      raise ValueError(f'{text!r} is not a number') from None
    if not 0 <= value < self.sizes[index]:
      raise ValueError(f'{self.prefix}{index} has categories '
                       f'0..{self.sizes[index] - 1}')
    return value


class ContinuousQ(NamedTuple):
  mean: jax.Array  # [n, count]
  log_std: jax.Array | None  # [n, count]; None when the std is fixed to 1


@dataclasses.dataclass(frozen=True)
class Continuous(CodeType):
  """Codes drawn from Unif(-1, 1); Q gives a Gaussian's mean (and log std)."""

  name: ClassVar[str] = 'continuous'
  prefix: ClassVar[str] = 'cont'
  lambda_field: ClassVar[str] = 'lambda_continuous'
  dtype: ClassVar[Any] = jnp.float32
  representation_rank: ClassVar[int] = 0
  # model.continuous_std: 'fixed' = N(mean, 1), 'learned' = N(mean, std).
  STD_MODES: ClassVar[tuple[str, ...]] = ('fixed', 'learned')

  number: int = 0
  std: str = 'fixed'

  @classmethod
  def from_config(cls, model_config) -> Continuous:
    return cls(int(model_config.num_continuous_codes),
               str(model_config.continuous_std))

  @classmethod
  def check_config(cls, config) -> None:
    fields.int_at_least(config, 'model.num_continuous_codes', 0)
    if config.model.continuous_std not in cls.STD_MODES:
      raise ConfigError('model.continuous_std', config.model.continuous_std,
                        f'must be one of {cls.STD_MODES}')

  @property
  def count(self) -> int:
    return self.number

  @property
  def input_width(self) -> int:
    return self.number

  @property
  def q_width(self) -> int:
    return (2 if self.std == 'learned' else 1) * self.number

  @property
  def entropies(self) -> tuple[float, ...]:
    return (math.log(2.0),) * self.number  # of Unif(-1, 1)

  def sample(self, key, n):
    return jax.random.uniform(key, (n, self.number), minval=-1.0, maxval=1.0)

  def generator_input(self, values, dtype):
    return values

  def posterior(self, q_columns) -> ContinuousQ:
    mean = q_columns[:, :self.number]
    log_std = q_columns[:, self.number:] if self.std == 'learned' else None
    return ContinuousQ(mean, log_std)

  def log_likelihoods(self, posterior, values):
    std = 1.0 if posterior.log_std is None else jnp.exp(posterior.log_std)
    return jax.scipy.stats.norm.logpdf(values.astype(jnp.float32),
                                       posterior.mean, std)

  def representation(self, posterior):
    """Q's means."""
    return posterior.mean

  def readable(self, posterior):
    std = (jnp.ones_like(posterior.mean) if posterior.log_std is None
           else jnp.exp(posterior.log_std))
    return {'mean': posterior.mean, 'std': std}  # [n, count] each

  def sweep_values(self, index, config):
    low, high = config.continuous_sweep
    return np.linspace(low, high, config.continuous_sweep_steps)

  def check_values(self, index, values):
    # Any number: beyond the prior's [-1, 1] extrapolates.
    return values.astype(self.dtype)

  def parse(self, index, text):
    try:
      return float(text)
    except ValueError:
      raise ValueError(f'{text!r} is not a number') from None


# Every kind of code, in the order of G's input and Q's output.
CODE_TYPES: tuple[type[CodeType], ...] = (Categorical, Continuous)


class Latents(NamedTuple):
  """A batch of G's latent input. `latents.<type name>` (e.g.
  `latents.categorical`) is `latents.codes[<type name>]`."""

  noise: jax.Array  # [n, noise_dim], Unif(-1, 1)
  codes: dict[str, jax.Array]  # by type name: [n, that type's count]

  def __getattr__(self, name):
    try:
      return self.codes[name]
    except KeyError:
      raise AttributeError(name) from None


@dataclasses.dataclass(frozen=True)
class CodeSpec:
  """Layout of the latent input. Hashable, so it can be a static jit
  argument. `spec.<type name>` (e.g. `spec.categorical`) is that type's
  instance."""

  noise_dim: int
  types: tuple[CodeType, ...]

  @classmethod
  def from_config(cls, model_config) -> CodeSpec:
    return cls(int(model_config.noise_dim),
               tuple(t.from_config(model_config) for t in CODE_TYPES))

  def __getattr__(self, name):
    for code_type in self.__dict__.get('types', ()):
      if code_type.name == name:
        return code_type
    raise AttributeError(name)

  @property
  def input_dim(self) -> int:
    """Width of G's input: z, then each type's columns."""
    return self.noise_dim + sum(t.input_width for t in self.types)

  @property
  def q_output_dim(self) -> int:
    """Width of Q's output: each type's columns."""
    return sum(t.q_width for t in self.types)

  @property
  def names(self) -> tuple[str, ...]:
    """Every code by name, in the order of the types."""
    return tuple(f'{t.prefix}{i}' for t in self.types for i in range(t.count))

  def find(self, name: str) -> tuple[CodeType, int]:
    """'cat1' -> (the categorical type, 1); ValueError naming the codes if
    unknown."""
    for code_type in self.types:
      for i in range(code_type.count):
        if name == f'{code_type.prefix}{i}':
          return code_type, i
    raise ValueError(f'unknown code {name!r}; this model has '
                     f'{", ".join(self.names) or "no codes"}')

  def parse(self, name: str, text: str):
    """A value of code `name` from the command line; ValueError if the code
    or the value is not allowed."""
    code_type, index = self.find(name)
    return code_type.parse(index, text)


def sample(spec: CodeSpec, key: jax.Array, n: int) -> Latents:
  """Draws n latents from the prior: z from Unif(-1, 1), each type its own
  key."""
  noise_key, *type_keys = jax.random.split(key, 1 + len(spec.types))
  noise = jax.random.uniform(
      noise_key, (n, spec.noise_dim), minval=-1.0, maxval=1.0)
  return Latents(noise, {t.name: t.sample(k, n)
                         for t, k in zip(spec.types, type_keys)})


def generator_input(spec: CodeSpec, latents: Latents) -> jax.Array:
  """z, then each type's columns."""
  return jnp.concatenate(
      [latents.noise] + [t.generator_input(latents.codes[t.name],
                                           latents.noise.dtype)
                         for t in spec.types], -1)


def split_q_output(spec: CodeSpec, q_out: jax.Array) -> dict[str, Any]:
  """Q's raw output as each type's distribution parameters, by type name."""
  q_out = q_out.astype(jnp.float32)
  posterior, start = {}, 0
  for code_type in spec.types:
    posterior[code_type.name] = code_type.posterior(
        q_out[:, start:start + code_type.q_width])
    start += code_type.q_width
  return posterior


def log_likelihoods(spec: CodeSpec, posterior: dict[str, Any],
                    latents: Latents) -> dict[str, jax.Array]:
  """log Q(c_i | x) of every code, by type name: [n, count] each."""
  return {t.name: t.log_likelihoods(posterior[t.name], latents.codes[t.name])
          for t in spec.types}


def representation(spec: CodeSpec, posterior: dict[str, Any]) -> jax.Array:
  """Q's representation of images: each type's features, side by side in
  the order of their `representation_rank` (Q's continuous means, then each
  categorical code's probabilities); [n, 0] for a model without codes."""
  types = sorted((t for t in spec.types if t.count),
                 key=lambda t: t.representation_rank)
  if not types:
    n = jax.tree.leaves(posterior)[0].shape[0]
    return jnp.zeros((n, 0), jnp.float32)
  return jnp.concatenate([t.representation(posterior[t.name])
                          for t in types], -1)


def set_code(spec: CodeSpec, latents: Latents, name: str,
             values) -> Latents:
  """`latents` with code `name` set to `values` (a scalar, or one per row).

  Categories must be integers in [0, K); continuous values may be any
  number (beyond the prior's [-1, 1] to extrapolate).
  """
  code_type, index = spec.find(name)
  n = latents.noise.shape[0]
  values = jnp.asarray(values)
  if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != n):
    raise ValueError(f'code {name!r}: give one value or {n} values, got '
                     f'shape {values.shape}')
  values = code_type.check_values(index, jnp.broadcast_to(values, (n,)))
  column = latents.codes[code_type.name]
  return latents._replace(codes={
      **latents.codes,
      code_type.name: column.at[:, index].set(values.astype(column.dtype))})
