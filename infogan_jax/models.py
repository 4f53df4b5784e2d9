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
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from infogan_jax import codes as codes_lib

ACTIVATIONS = ('relu', 'lrelu', 'tanh', 'sigmoid')
# `model.compute_dtype` -> the dtype layers compute in (None: their inputs').
COMPUTE_DTYPES = {'float32': None, 'bfloat16': jnp.bfloat16}
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


def conv_transpose_same(x: jax.Array, kernel: jax.Array,
                        stride: int) -> jax.Array:
  """`lax.conv_transpose(x, kernel, (stride, stride), 'SAME')`, NHWC/HWIO.

  The same sum, arranged for speed: one matmul multiplies every input pixel by
  every kernel tap, and each tap's product is shifted onto the output pixels
  it reaches. Output pixels whose coordinates share a residue modulo the
  stride (a phase) receive whole-pixel shifts, so the phases are summed
  separately and interleaved at the end. Its gradients are a matmul and
  slices, where XLA:CPU computes the kernel gradient of `lax.conv_transpose`
  through a slow generic convolution (about 20x slower for the MNIST G).
  """
  k, s = kernel.shape[0], stride
  n, h, w, _ = x.shape
  # lax's SAME padding of the dilated input, before the first pixel.
  before = k - 1 if s > k - 1 else -(-(k + s - 2) // 2)
  c, d = kernel.shape[2:]
  # [n*h*w, c] x [c, k*k*d]: one plain matmul, the fastest layout on CPU.
  taps = (x.reshape(-1, c) @ kernel.transpose(2, 0, 1, 3).reshape(c, -1)
          ).reshape(n, h, w, k, k, d)
  zero = jnp.zeros((), taps.dtype)

  def phase_and_shift(tap):
    # Input pixel m under tap t lands on output pixel s * m + before - t,
    # i.e. on pixel m + shift of phase (before - t) mod s.
    return (before - tap) % s, (before - tap) // s

  phases = [[jnp.zeros((n, h, w, d), taps.dtype)
             for _ in range(s)] for _ in range(s)]
  for i in range(k):
    row, di = phase_and_shift(i)
    for j in range(k):
      col, dj = phase_and_shift(j)
      shifted = jax.lax.pad(taps[:, :, :, i, j], zero,
                            [(0, 0, 0), (di, -di, 0), (dj, -dj, 0), (0, 0, 0)])
      phases[row][col] = phases[row][col] + shifted
  y = jnp.stack([jnp.stack(row, axis=3) for row in phases], axis=2)
  return y.reshape(n, s * h, s * w, -1)  # [n, h, s, w, s, d] interleaved


# Forms of the transposed convolution (config.conv_transpose): 'matmul' is
# `conv_transpose_same`, fast on XLA:CPU; 'native' is `lax.conv_transpose`,
# which GPUs and TPUs run natively. Same parameters, same results up to
# float rounding; 'auto' picks per platform.
CONV_TRANSPOSE_FORMS = ('auto', 'matmul', 'native')


def conv_transpose_form(setting: str, platform: str) -> str:
  """'matmul' or 'native' for a config setting on a JAX platform."""
  if setting != 'auto':
    return setting
  return 'matmul' if platform == 'cpu' else 'native'


class ConvTranspose(nn.Module):
  """A SAME transposed convolution with `nn.ConvTranspose`'s parameters,
  computed in either form (see CONV_TRANSPOSE_FORMS)."""

  features: int
  kernel_size: int
  stride: int
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()
  dtype: Any = None
  form: str = 'matmul'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', self.kernel_init,
                        (self.kernel_size, self.kernel_size, x.shape[-1],
                         self.features))
    bias = (self.param('bias', nn.initializers.zeros, (self.features,))
            if self.use_bias else None)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias,
                                              dtype=self.dtype)
    if self.form == 'native':
      y = jax.lax.conv_transpose(x, kernel, (self.stride, self.stride), 'SAME',
                                 dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    else:
      y = conv_transpose_same(x, kernel, self.stride)
    return y if bias is None else y + bias


class Stack(nn.Module):
  """A sequence of layers described by layer strings."""

  layers: Sequence[str]
  leaky_relu_slope: float = 0.1
  batch_norm_momentum: float = 0.9
  batch_norm_epsilon: float = 1e-5
  init_std: float = 0.02
  dtype: Any = None  # compute dtype; parameters stay float32
  conv_transpose: str = 'matmul'  # the form of 'up' layers

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    init = nn.initializers.normal(self.init_std)
    for spec in map(parse_layer, self.layers):
      # A bias before batch norm is cancelled by it (its gradient is zero up
      # to rounding, which Adam would amplify), so BN's own bias replaces it.
      kwargs = dict(kernel_init=init, use_bias=not spec.batch_norm,
                    dtype=self.dtype)
      if spec.kind == 'fc':
        x = nn.Dense(spec.features, **kwargs)(x.reshape(x.shape[0], -1))
      elif spec.kind == 'conv':
        x = nn.Conv(spec.shape[0], (spec.kernel, spec.kernel),
                    (spec.stride, spec.stride), padding='SAME', **kwargs)(x)
      else:
        x = ConvTranspose(spec.shape[0], spec.kernel, spec.stride,
                          form=self.conv_transpose, **kwargs)(x)
      if spec.batch_norm:
        # For a reshaping fc layer, as in the official code, batch norm acts
        # on the flat features before the reshape.
        x = nn.BatchNorm(use_running_average=not train,
                         momentum=self.batch_norm_momentum,
                         epsilon=self.batch_norm_epsilon, dtype=self.dtype)(x)
      x = self._activate(spec.activation, x)
      if len(spec.shape) > 1:
        x = x.reshape(x.shape[0], *spec.shape)
    return x.astype(jnp.float32)

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
      dtype=COMPUTE_DTYPES[model_config.compute_dtype],
  )


class Discriminator(nn.Module):
  """D and Q: a shared body, D's logit, and Q's head on the same features."""

  body: Sequence[str]
  q_head: Sequence[str]
  q_output_dim: int
  stack_kwargs: dict = dataclasses.field(default_factory=dict)
  # Categories of the overclustering head (0: none), a linear head on the
  # body's features that only a loss term on real images trains.
  overcluster_categories: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
    """Returns D's logit [n] and Q's raw output [n, q_output_dim].

    The overclustering head's logits [n, overcluster_categories] are sown
    into the 'intermediates' collection (kept only when the caller makes it
    mutable, and never by `init`), so D's outputs are the same with or
    without it.
    """
    init = nn.initializers.normal(self.stack_kwargs.get('init_std', 0.02))
    h = Stack(self.body, **self.stack_kwargs, name='body')(x, train)
    h = h.reshape(h.shape[0], -1)
    d_logit = nn.Dense(1, kernel_init=init, name='d_out')(h)[:, 0]
    if self.overcluster_categories:
      self.sow('intermediates', 'overcluster',
               nn.Dense(self.overcluster_categories, kernel_init=init,
                        name='overcluster_out')(h))
    q = Stack(self.q_head, **self.stack_kwargs, name='q_head')(h, train)
    q_out = nn.Dense(self.q_output_dim, kernel_init=init, name='q_out')(q)
    return d_logit, q_out


def build_models(model_config, conv_transpose: str = 'matmul'
                 ) -> tuple[Stack, Discriminator]:
  """The generator and the discriminator (with Q) of a model config;
  `conv_transpose` is the form of G's 'up' layers ('matmul' or 'native')."""
  spec = codes_lib.CodeSpec.from_config(model_config)
  kwargs = _stack_kwargs(model_config)
  generator = Stack(tuple(model_config.generator), **kwargs,
                    conv_transpose=conv_transpose)
  discriminator = Discriminator(
      body=tuple(model_config.shared_body),
      q_head=tuple(model_config.q_head),
      q_output_dim=spec.q_output_dim,
      stack_kwargs=kwargs,
      overcluster_categories=model_config.overcluster_categories,
  )
  return generator, discriminator


def output_range(model_config) -> tuple[float, float]:
  """The range of G's output, set by its last activation: the data range."""
  last = parse_layer(model_config.generator[-1]).activation
  return {'sigmoid': (0.0, 1.0), 'tanh': (-1.0, 1.0)}[last]
