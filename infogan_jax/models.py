"""Flax modules: the generator G, and the discriminator D with Q's head.

Architectures are data: each network is a stack of layer strings from the
config (see `configs/default.py` for the grammar), so every experiment of the
paper is a config, not a module. D and Q share one body; D's output is a single
logit on it, and Q adds its own hidden layers and one output layer sized by the
latent code, so the mutual-information gradient flows into the shared body.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from infogan_jax import latents as latents_lib

ACTIVATIONS = ('relu', 'lrelu', 'tanh', 'sigmoid')
_LAYER_RE = re.compile(r'^(fc|conv|up)(\d+|\d+x\d+x\d+)((?:-[a-z0-9]+)*)$')


@dataclasses.dataclass(frozen=True)
class LayerSpec:
  kind: str  # 'fc', 'conv' or 'up'
  shape: tuple[int, ...]  # (features,) or, for 'fc' only, (H, W, C)
  kernel: int = 4
  stride: int = 1
  batch_norm: bool = False
  activation: str | None = None

  @property
  def features(self) -> int:
    return math.prod(self.shape)


def parse_layer(text: str) -> LayerSpec:
  """Parses one layer string such as 'conv128-s2-bn-lrelu'; ValueError if bad."""
  match = _LAYER_RE.match(text)
  if not match:
    raise ValueError(
        f"bad layer {text!r}: expected KIND SIZE [-kK] [-sS] [-bn] [-ACT] "
        f"with KIND in fc/conv/up, e.g. 'conv64-s2-bn-lrelu'")
  kind, size, options = match.groups()
  shape = tuple(int(s) for s in size.split('x'))
  if len(shape) > 1 and kind != 'fc':
    raise ValueError(f'bad layer {text!r}: only fc layers reshape to HxWxC')
  spec = dict(kind=kind, shape=shape)
  for option in filter(None, options.split('-')):
    if option == 'bn':
      spec['batch_norm'] = True
    elif option in ACTIVATIONS:
      spec['activation'] = option
    elif re.fullmatch(r'[ks][1-9]\d*', option):
      spec['kernel' if option[0] == 'k' else 'stride'] = int(option[1:])
    else:
      raise ValueError(
          f'bad layer {text!r}: unknown option {option!r}; allowed: kN, sN, '
          f"bn, {', '.join(ACTIVATIONS)}")
  if kind == 'fc' and ('kernel' in spec or 'stride' in spec):
    raise ValueError(f'bad layer {text!r}: fc layers take no kernel or stride')
  return LayerSpec(**spec)


class Stack(nn.Module):
  """A sequence of layers described by layer strings."""

  layers: Sequence[str]
  leaky_relu_slope: float = 0.1
  batch_norm_momentum: float = 0.9
  batch_norm_epsilon: float = 1e-5
  init_std: float = 0.02

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    init = nn.initializers.normal(self.init_std)
    for spec in map(parse_layer, self.layers):
      # A bias before batch norm is cancelled by it (its gradient is zero up
      # to rounding, which Adam would amplify), so BN's own bias replaces it.
      kwargs = dict(kernel_init=init, use_bias=not spec.batch_norm)
      if spec.kind == 'fc':
        x = nn.Dense(spec.features, **kwargs)(x.reshape(x.shape[0], -1))
      else:
        layer = nn.Conv if spec.kind == 'conv' else nn.ConvTranspose
        x = layer(spec.shape[0], (spec.kernel, spec.kernel),
                  (spec.stride, spec.stride), padding='SAME', **kwargs)(x)
      if spec.batch_norm:
        # For a reshaping fc layer, as in the official code, batch norm acts
        # on the flat features before the reshape.
        x = nn.BatchNorm(use_running_average=not train,
                         momentum=self.batch_norm_momentum,
                         epsilon=self.batch_norm_epsilon)(x)
      x = self._activate(spec.activation, x)
      if len(spec.shape) > 1:
        x = x.reshape(x.shape[0], *spec.shape)
    return x

  def _activate(self, name: str | None, x: jax.Array) -> jax.Array:
    if name is None:
      return x
    if name == 'lrelu':
      return nn.leaky_relu(x, self.leaky_relu_slope)
    return getattr(nn, name)(x)


def _stack_kwargs(model_config) -> dict:
  return dict(
      leaky_relu_slope=model_config.leaky_relu_slope,
      batch_norm_momentum=model_config.batch_norm_momentum,
      batch_norm_epsilon=model_config.batch_norm_epsilon,
      init_std=model_config.init_std,
  )


class Discriminator(nn.Module):
  """D and Q: a shared body, D's logit, and Q's head on the same features."""

  body: Sequence[str]
  q_head: Sequence[str]
  q_output_dim: int
  stack_kwargs: dict = dataclasses.field(default_factory=dict)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
    """Returns D's logit [n] and Q's raw output [n, q_output_dim]."""
    init = nn.initializers.normal(self.stack_kwargs.get('init_std', 0.02))
    h = Stack(self.body, **self.stack_kwargs, name='body')(x, train)
    h = h.reshape(h.shape[0], -1)
    d_logit = nn.Dense(1, kernel_init=init, name='d_out')(h)[:, 0]
    q = Stack(self.q_head, **self.stack_kwargs, name='q_head')(h, train)
    q_out = nn.Dense(self.q_output_dim, kernel_init=init, name='q_out')(q)
    return d_logit, q_out


def build_models(model_config) -> tuple[Stack, Discriminator]:
  """The generator and the discriminator (with Q) of a model config."""
  spec = latents_lib.CodeSpec.from_config(model_config)
  kwargs = _stack_kwargs(model_config)
  generator = Stack(tuple(model_config.generator), **kwargs)
  discriminator = Discriminator(
      body=tuple(model_config.shared_body),
      q_head=tuple(model_config.q_head),
      q_output_dim=spec.q_output_dim,
      stack_kwargs=kwargs,
  )
  return generator, discriminator


def generator_output_shape(model_config) -> tuple[int, ...]:
  """Shape (H, W, C) of one generated image, found without compiling."""
  generator, _ = build_models(model_config)
  spec = latents_lib.CodeSpec.from_config(model_config)
  z = jax.ShapeDtypeStruct((1, spec.input_dim), jnp.float32)
  out = jax.eval_shape(
      lambda z: generator.init_with_output(jax.random.key(0), z, False)[0], z)
  return tuple(out.shape[1:])


def output_range(model_config) -> tuple[float, float]:
  """The range of G's output, set by its last activation: the data range."""
  last = parse_layer(model_config.generator[-1]).activation
  return {'sigmoid': (0.0, 1.0), 'tanh': (-1.0, 1.0)}[last]
