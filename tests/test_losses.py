"""Losses: closed forms, and where the mutual-information gradient goes."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infogan_jax import codes
from infogan_jax import losses
from infogan_jax import step as step_lib


def test_gan_losses_match_closed_forms():
  real = jnp.array([0.5, -1.0, 2.0])
  fake = jnp.array([-0.3, 1.5])
  sig = lambda x: 1 / (1 + np.exp(-np.asarray(x, np.float64)))
  want_d = -np.log(sig(real)).mean() - np.log(1 - sig(fake)).mean()
  want_g = -np.log(sig(fake)).mean()  # non-saturating
  assert float(losses.discriminator_gan_loss(real, fake)) == pytest.approx(
      want_d, rel=1e-5)
  assert float(losses.generator_gan_loss(fake)) == pytest.approx(want_g,
                                                                  rel=1e-5)


def make_spec(noise_dim, categorical, continuous):
  return codes.CodeSpec(noise_dim, (codes.Categorical(tuple(categorical)),
                                    codes.Continuous(continuous)))


def test_perfect_q_reaches_the_entropy():
  spec = make_spec(3, (10,), 0)
  lat = codes.sample(spec, jax.random.key(0), 32)
  q_out = 100.0 * jax.nn.one_hot(lat.categorical[:, 0], 10)
  mi = losses.mutual_information(spec, q_out, lat)
  assert float(mi.categorical) == pytest.approx(math.log(10), abs=1e-4)
  uniform = losses.mutual_information(spec, jnp.zeros((32, 10)), lat)
  assert float(uniform.categorical) == pytest.approx(0.0, abs=1e-5)


def test_penalty_weights_each_code_type():
  mi = losses.MutualInformation({'categorical': jnp.array([2.0]),
                                 'continuous': jnp.array([-0.25, -0.25])})
  assert float(losses.information_penalty(
      mi, {'categorical': 1.0, 'continuous': 0.1})) == pytest.approx(1.95)


def _mi_grads(config, lambda_categorical=1.0):
  config.lambda_categorical = lambda_categorical
  config.lambda_continuous = 1.0
  gan = step_lib.TrainStep.from_config(config)
  # Jitted: op by op on the tests' eight devices it is several times slower.
  state = jax.jit(gan.init, static_argnums=(0, 1))(0, (28, 28, 1))
  lat = codes.sample(gan.spec, jax.random.key(1), 8)

  def penalty(g_params, d_params):
    fakes, _ = gan.gan.generate({'params': g_params,
                             'batch_stats': state.g.batch_stats}, lat,
                            train=True)
    _, q_out, _, _ = gan.gan.discriminate(
        {'params': d_params, 'batch_stats': state.d.batch_stats}, fakes)
    return gan.penalty(losses.mutual_information(gan.spec, q_out, lat))

  return jax.jit(jax.grad(penalty, argnums=(0, 1)))(state.g.params,
                                                    state.d.params)


def _norm(tree):
  return float(sum(jnp.abs(x).sum() for x in jax.tree.leaves(tree)))


def test_mi_gradient_reaches_generator_and_shared_body(config):
  g_grads, d_grads = _mi_grads(config)
  assert _norm(g_grads) > 0
  for layer in d_grads['body'].values():
    assert _norm(layer) > 0
  assert _norm(d_grads['q_head']) > 0 and _norm(d_grads['q_out']) > 0
  assert _norm(d_grads['d_out']) == 0  # D's own logit plays no part in L_I


def test_mi_gradient_scales_with_lambda(config):
  _, one = _mi_grads(config.copy_and_resolve_references(), 1.0)
  config.model.num_continuous_codes = 0
  _, zero = _mi_grads(config, 0.0)
  assert _norm(one['body']) > 0 and _norm(zero['body']) == 0
