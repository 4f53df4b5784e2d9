"""Latent codes: layout, sampling, entropy and Q's log-likelihoods."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from infogan_jax import latents

SPEC = latents.CodeSpec(noise_dim=5, categorical=(10, 3), num_continuous=2)


def test_layout_sizes():
  assert SPEC.input_dim == 5 + 13 + 2
  assert SPEC.q_output_dim == 13 + 2
  learned = latents.CodeSpec(5, (10, 3), 2, continuous_std='learned')
  assert learned.q_output_dim == 13 + 4


def test_spec_from_config(config):
  config.model.categorical_codes = (20, 20, 20)
  config.model.num_continuous_codes = 1
  spec = latents.CodeSpec.from_config(config.model)
  assert spec == latents.CodeSpec(62, (20, 20, 20), 1, 'fixed')


def test_entropy_is_sum_of_log_categories():
  assert SPEC.categorical_entropy == pytest.approx(math.log(10) + math.log(3))
  assert SPEC.continuous_entropy == pytest.approx(2 * math.log(2))
  assert latents.CodeSpec(62, (10,), 2).categorical_entropy == pytest.approx(
      2.302585, abs=1e-6)


def test_sampling_follows_the_prior():
  n = 20_000
  lat = latents.sample(SPEC, jax.random.key(0), n)
  assert lat.noise.shape == (n, 5) and lat.continuous.shape == (n, 2)
  assert lat.categorical.shape == (n, 2)
  for x in (lat.noise, lat.continuous):
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    # Kolmogorov-Smirnov against Unif(-1, 1).
    assert stats.kstest(np.asarray(x).ravel(), 'uniform',
                        args=(-1, 2)).pvalue > 1e-3
  for i, k in enumerate(SPEC.categorical):
    counts = np.bincount(np.asarray(lat.categorical[:, i]), minlength=k)
    assert len(counts) == k
    assert stats.chisquare(counts).pvalue > 1e-3


def test_different_keys_give_different_latents():
  a = latents.sample(SPEC, jax.random.key(0), 8)
  b = latents.sample(SPEC, jax.random.key(1), 8)
  assert not np.allclose(a.noise, b.noise)


def test_generator_input_is_noise_onehots_continuous():
  lat = latents.sample(SPEC, jax.random.key(0), 4)
  x = np.asarray(latents.generator_input(SPEC, lat))
  assert x.shape == (4, SPEC.input_dim)
  np.testing.assert_array_equal(x[:, :5], lat.noise)
  np.testing.assert_array_equal(x[:, 5:15].argmax(-1), lat.categorical[:, 0])
  np.testing.assert_array_equal(x[:, 15:18].argmax(-1), lat.categorical[:, 1])
  np.testing.assert_array_equal(x[:, 5:18].sum(-1), 2.0)
  np.testing.assert_array_equal(x[:, 18:], lat.continuous)


def test_categorical_log_likelihood_is_log_softmax():
  lat = latents.sample(SPEC, jax.random.key(0), 6)
  q_out = jax.random.normal(jax.random.key(1), (6, SPEC.q_output_dim))
  post = latents.split_q_output(SPEC, q_out)
  per_code = latents.categorical_log_likelihoods(post, lat)
  assert per_code.shape == (6, 2)
  got = per_code.sum(-1)
  q = np.asarray(q_out, np.float64)
  want = np.zeros(6)
  for row in range(6):
    for start, k, i in ((0, 10, 0), (10, 3, 1)):
      logits = q[row, start:start + k]
      c = int(lat.categorical[row, i])
      want[row] += logits[c] - np.log(np.exp(logits).sum())
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_fixed_std_log_likelihood_is_unit_gaussian():
  lat = latents.sample(SPEC, jax.random.key(0), 6)
  q_out = jax.random.normal(jax.random.key(1), (6, SPEC.q_output_dim))
  post = latents.split_q_output(SPEC, q_out)
  assert post.log_std is None
  mu = np.asarray(q_out[:, 13:15], np.float64)
  c = np.asarray(lat.continuous, np.float64)
  want = (-0.5 * (c - mu)**2 - 0.5 * np.log(2 * np.pi)).sum(-1)
  np.testing.assert_allclose(
      latents.continuous_log_likelihoods(post, lat).sum(-1), want, rtol=1e-5)


def test_learned_std_log_likelihood_is_gaussian():
  spec = latents.CodeSpec(5, (10,), 2, continuous_std='learned')
  lat = latents.sample(spec, jax.random.key(0), 6)
  q_out = jax.random.normal(jax.random.key(1), (6, spec.q_output_dim))
  post = latents.split_q_output(spec, q_out)
  mu = np.asarray(q_out[:, 10:12], np.float64)
  log_std = np.asarray(q_out[:, 12:14], np.float64)
  c = np.asarray(lat.continuous, np.float64)
  want = (-0.5 * ((c - mu) / np.exp(log_std))**2 - log_std -
          0.5 * np.log(2 * np.pi)).sum(-1)
  np.testing.assert_allclose(
      latents.continuous_log_likelihoods(post, lat).sum(-1), want, rtol=1e-5)


def test_no_codes_give_zero_likelihood():
  spec = latents.CodeSpec(4, (), 0)
  lat = latents.sample(spec, jax.random.key(0), 3)
  post = latents.split_q_output(spec, jnp.zeros((3, 0)))
  assert latents.categorical_log_likelihoods(post, lat).shape == (3, 0)
  assert latents.continuous_log_likelihoods(post, lat).shape == (3, 0)
