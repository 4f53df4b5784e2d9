"""Models: the paper's MNIST architecture, shapes, parameter counts, init."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infogan_jax.configs import mnist
from infogan_jax import gan as gan_lib
from infogan_jax import codes
from infogan_jax import models


def dense(n_in, n_out, bias=True):
  return n_in * n_out + n_out * bias


def conv(n_in, n_out, k=4, bias=True):
  return k * k * n_in * n_out + n_out * bias


def bn(c):
  return 2 * c  # scale and bias; the layer before it has no bias of its own


def count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


# Its tests run on one pytest-xdist worker, which builds it once.
SHARES_MNIST_MODELS = pytest.mark.xdist_group('test_models:mnist_models')


@pytest.fixture(scope='module')
def mnist_models():
  config = mnist.get_config()
  g, d = models.build_models(config.model)
  spec = codes.CodeSpec.from_config(config.model)
  z = jnp.zeros((2, spec.input_dim))
  g_vars = g.init(jax.random.key(0), z, train=False)
  d_vars = d.init(jax.random.key(1), jnp.zeros((2, 28, 28, 1)), train=False)
  return config, spec, g, d, g_vars, d_vars


@SHARES_MNIST_MODELS
def test_generator_matches_paper_table(mnist_models):
  # FC1024 BN ReLU; FC 7x7x128 BN ReLU; upconv64 s2 BN ReLU; upconv1 s2.
  _, spec, _, _, g_vars, _ = mnist_models
  assert spec.input_dim == 62 + 10 + 2
  want = (dense(74, 1024, False) + bn(1024) + dense(1024, 7 * 7 * 128, False) +
          bn(7 * 7 * 128) + conv(128, 64, bias=False) + bn(64) + conv(64, 1))
  assert count(g_vars['params']) == want


@SHARES_MNIST_MODELS
def test_discriminator_and_q_match_paper_table(mnist_models):
  # Shared: conv64 s2 lReLU; conv128 s2 BN lReLU; FC1024 BN lReLU.
  # D: FC1. Q: FC128 BN lReLU, FC out (10 logits + 2 means).
  _, _, _, _, _, d_vars = mnist_models
  params = d_vars['params']
  body = (conv(1, 64) + conv(64, 128, bias=False) + bn(128) +
          dense(7 * 7 * 128, 1024, False) + bn(1024))
  assert count(params['body']) == body
  assert count(params['d_out']) == dense(1024, 1)
  assert count(params['q_head']) + count(params['q_out']) == (
      dense(1024, 128, False) + bn(128) + dense(128, 12))


@SHARES_MNIST_MODELS
def test_output_shapes_and_range(mnist_models):
  _, spec, g, d, g_vars, d_vars = mnist_models
  lat = codes.sample(spec, jax.random.key(2), 5)
  images = g.apply(g_vars, codes.generator_input(spec, lat), train=False)
  assert images.shape == (5, 28, 28, 1)
  assert float(images.min()) >= 0 and float(images.max()) <= 1
  logits, q_out = d.apply(d_vars, images, train=False)
  assert logits.shape == (5,) and q_out.shape == (5, spec.q_output_dim)
  assert gan_lib.InfoGAN.from_config(mnist.get_config()).image_shape() == (
      28, 28, 1)


@SHARES_MNIST_MODELS
def test_weights_are_normal_002_and_biases_zero(mnist_models):
  _, _, _, _, g_vars, d_vars = mnist_models
  kernel = np.asarray(g_vars['params']['Dense_1']['kernel'])
  assert abs(kernel.std() - 0.02) < 0.001 and abs(kernel.mean()) < 0.001
  kernel = np.asarray(d_vars['params']['body']['Dense_0']['kernel'])
  assert abs(kernel.std() - 0.02) < 0.001
  np.testing.assert_array_equal(d_vars['params']['body']['Conv_0']['bias'], 0)


@SHARES_MNIST_MODELS
def test_batch_norm_momentum_has_flax_meaning(mnist_models):
  config, spec, g, _, g_vars, _ = mnist_models
  assert config.model.batch_norm_momentum == 0.9
  lat = codes.sample(spec, jax.random.key(3), 64)
  _, updates = g.apply(g_vars, codes.generator_input(spec, lat), train=True,
                       mutable=['batch_stats'])
  # One step from mean 0 moves the running mean 10% of the way to the batch.
  x = codes.generator_input(spec, lat)
  h = x @ g_vars['params']['Dense_0']['kernel']
  np.testing.assert_allclose(updates['batch_stats']['BatchNorm_0']['mean'],
                             0.1 * h.mean(0), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('text,spec', [
    ('conv64-s2-lrelu', models.LayerSpec('conv', (64,), stride=2,
                                         activation='lrelu')),
    ('fc7x7x128-bn-relu', models.LayerSpec('fc', (7, 7, 128), batch_norm=True,
                                           activation='relu')),
    ('up1-k3-s2-sigmoid', models.LayerSpec('up', (1,), kernel=3, stride=2,
                                           activation='sigmoid')),
    ('fc1', models.LayerSpec('fc', (1,))),
])
def test_parse_layer(text, spec):
  assert models.parse_layer(text) == spec


@pytest.mark.parametrize('text', ['conv', 'dense64', 'conv64-s0', 'conv8x8x3',
                                  'fc64-s2', 'conv64-swish', 'up64_bn'])
def test_parse_layer_rejects(text):
  with pytest.raises(ValueError, match='bad layer'):
    models.parse_layer(text)


@pytest.mark.parametrize('kernel, stride', [(4, 2), (3, 2), (4, 1), (5, 3),
                                            (1, 2), (2, 3)])
def test_conv_transpose_same_equals_lax(kernel, stride):
  x = jax.random.normal(jax.random.key(0), (2, 5, 4, 3))
  w = jax.random.normal(jax.random.key(1), (kernel, kernel, 3, 6))
  dn = ('NHWC', 'HWIO', 'NHWC')

  def reference(x, w):
    return jax.lax.conv_transpose(x, w, (stride, stride), 'SAME',
                                  dimension_numbers=dn)

  def fast(x, w):
    return models.conv_transpose_same(x, w, stride)

  expected = reference(x, w)
  assert expected.shape == (2, 5 * stride, 4 * stride, 6)
  np.testing.assert_allclose(fast(x, w), expected, rtol=1e-5, atol=1e-5)
  # And the gradients with respect to both inputs.
  probe = jax.random.normal(jax.random.key(2), expected.shape)
  grads = [jax.grad(lambda x, w, f=f: (f(x, w) * probe).sum(), (0, 1))(x, w)
           for f in (reference, fast)]
  for a, b in zip(*grads):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


def test_conv_transpose_module_matches_flax():
  x = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
  ours = models.ConvTranspose(4, 4, 2)
  flax_layer = nn.ConvTranspose(4, (4, 4), (2, 2), padding='SAME')
  variables = ours.init(jax.random.key(1), x)
  assert (jax.tree.map(jnp.shape, variables) ==
          jax.tree.map(jnp.shape, flax_layer.init(jax.random.key(1), x)))
  np.testing.assert_allclose(ours.apply(variables, x),
                             flax_layer.apply(variables, x),
                             rtol=1e-5, atol=1e-5)


def test_both_transposed_convolution_forms_share_parameters_and_outputs():
  """config.conv_transpose picks how G's 'up' layers compute, not what:
  the same variables (so the same checkpoints) give the same images."""
  config = mnist.get_config()
  z = jnp.asarray(np.random.default_rng(0).normal(
      size=(3, codes.CodeSpec.from_config(config.model).input_dim)),
                  jnp.float32)
  images = {}
  for form in ('matmul', 'native'):
    generator, _ = models.build_models(config.model, conv_transpose=form)
    variables = generator.init(jax.random.key(0), z, train=False)
    images[form] = generator.apply(variables, z, train=False)
    shapes = jax.tree.map(jnp.shape, variables)
    assert shapes == images.setdefault('shapes', shapes)
  np.testing.assert_allclose(images['matmul'], images['native'], atol=1e-5)
  assert models.conv_transpose_form('auto', 'cpu') == 'matmul'
  assert models.conv_transpose_form('auto', 'gpu') == 'native'
  assert models.conv_transpose_form('auto', 'tpu') == 'native'
  assert models.conv_transpose_form('native', 'cpu') == 'native'
  config.conv_transpose = 'auto'
  assert gan_lib.InfoGAN.from_config(config, platform='tpu').generator \
      .conv_transpose == 'native'


def test_bfloat16_compute_keeps_float32_parameters_and_outputs():
  config = mnist.get_config()
  config.model.compute_dtype = 'bfloat16'
  generator, discriminator = models.build_models(config.model)
  z = jnp.zeros((2, codes.CodeSpec.from_config(config.model).input_dim))
  g_vars = generator.init(jax.random.key(0), z, train=False)
  images = generator.apply(g_vars, z, train=False)
  d_vars = discriminator.init(jax.random.key(1), images, train=False)
  logits, q_out = discriminator.apply(d_vars, images, train=False)
  for leaf in jax.tree.leaves((g_vars, d_vars)):
    assert leaf.dtype == jnp.float32
  assert images.dtype == logits.dtype == q_out.dtype == jnp.float32
  # The layers do compute in bfloat16: the HLO has bfloat16 dots.
  hlo = jax.jit(lambda v, z: generator.apply(v, z, train=False)).lower(
      g_vars, z).as_text()
  assert 'bf16' in hlo
