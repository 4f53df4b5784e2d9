"""Latent codes: layout, sampling, entropy and Q's log-likelihoods; a new
code type plugs in as one class."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from scipy import stats

from infogan_jax import codes
from infogan_jax import losses
from infogan_jax import traversals


def make_spec(noise_dim, categorical, continuous, std='fixed'):
  return codes.CodeSpec(noise_dim, (codes.Categorical(tuple(categorical)),
                                    codes.Continuous(continuous, std)))


SPEC = make_spec(5, (10, 3), 2)


def test_layout_sizes():
  assert SPEC.input_dim == 5 + 13 + 2
  assert SPEC.q_output_dim == 13 + 2
  learned = make_spec(5, (10, 3), 2, std='learned')
  assert learned.q_output_dim == 13 + 4


def test_spec_from_config(config):
  config.model.categorical_codes = (20, 20, 20)
  config.model.num_continuous_codes = 1
  spec = codes.CodeSpec.from_config(config.model)
  assert spec == make_spec(62, (20, 20, 20), 1, 'fixed')


def test_entropy_is_sum_of_log_categories():
  assert sum(SPEC.categorical.entropies) == pytest.approx(
      math.log(10) + math.log(3))
  assert sum(SPEC.continuous.entropies) == pytest.approx(2 * math.log(2))
  assert sum(make_spec(62, (10,), 2).categorical.entropies) == pytest.approx(
      2.302585, abs=1e-6)


def test_sampling_follows_the_prior():
  n = 20_000
  lat = codes.sample(SPEC, jax.random.key(0), n)
  assert lat.noise.shape == (n, 5) and lat.continuous.shape == (n, 2)
  assert lat.categorical.shape == (n, 2)
  for x in (lat.noise, lat.continuous):
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    # Kolmogorov-Smirnov against Unif(-1, 1).
    assert stats.kstest(np.asarray(x).ravel(), 'uniform',
                        args=(-1, 2)).pvalue > 1e-3
  for i, k in enumerate(SPEC.categorical.sizes):
    counts = np.bincount(np.asarray(lat.categorical[:, i]), minlength=k)
    assert len(counts) == k
    assert stats.chisquare(counts).pvalue > 1e-3


def test_different_keys_give_different_latents():
  a = codes.sample(SPEC, jax.random.key(0), 8)
  b = codes.sample(SPEC, jax.random.key(1), 8)
  assert not np.allclose(a.noise, b.noise)


def test_generator_input_is_noise_onehots_continuous():
  lat = codes.sample(SPEC, jax.random.key(0), 4)
  x = np.asarray(codes.generator_input(SPEC, lat))
  assert x.shape == (4, SPEC.input_dim)
  np.testing.assert_array_equal(x[:, :5], lat.noise)
  np.testing.assert_array_equal(x[:, 5:15].argmax(-1), lat.categorical[:, 0])
  np.testing.assert_array_equal(x[:, 15:18].argmax(-1), lat.categorical[:, 1])
  np.testing.assert_array_equal(x[:, 5:18].sum(-1), 2.0)
  np.testing.assert_array_equal(x[:, 18:], lat.continuous)


def test_categorical_log_likelihood_is_log_softmax():
  lat = codes.sample(SPEC, jax.random.key(0), 6)
  q_out = jax.random.normal(jax.random.key(1), (6, SPEC.q_output_dim))
  post = codes.split_q_output(SPEC, q_out)
  per_code = codes.log_likelihoods(SPEC, post, lat)['categorical']
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
  lat = codes.sample(SPEC, jax.random.key(0), 6)
  q_out = jax.random.normal(jax.random.key(1), (6, SPEC.q_output_dim))
  post = codes.split_q_output(SPEC, q_out)
  assert post['continuous'].log_std is None
  mu = np.asarray(q_out[:, 13:15], np.float64)
  c = np.asarray(lat.continuous, np.float64)
  want = (-0.5 * (c - mu)**2 - 0.5 * np.log(2 * np.pi)).sum(-1)
  np.testing.assert_allclose(
      codes.log_likelihoods(SPEC, post, lat)['continuous'].sum(-1), want,
      rtol=1e-5)


def test_learned_std_log_likelihood_is_gaussian():
  spec = make_spec(5, (10,), 2, std='learned')
  lat = codes.sample(spec, jax.random.key(0), 6)
  q_out = jax.random.normal(jax.random.key(1), (6, spec.q_output_dim))
  post = codes.split_q_output(spec, q_out)
  mu = np.asarray(q_out[:, 10:12], np.float64)
  log_std = np.asarray(q_out[:, 12:14], np.float64)
  c = np.asarray(lat.continuous, np.float64)
  want = (-0.5 * ((c - mu) / np.exp(log_std))**2 - log_std -
          0.5 * np.log(2 * np.pi)).sum(-1)
  np.testing.assert_allclose(
      codes.log_likelihoods(spec, post, lat)['continuous'].sum(-1), want,
      rtol=1e-5)


def test_no_codes_give_zero_likelihood():
  spec = make_spec(4, (), 0)
  lat = codes.sample(spec, jax.random.key(0), 3)
  post = codes.split_q_output(spec, jnp.zeros((3, 0)))
  assert codes.log_likelihoods(spec, post, lat)['categorical'].shape == (3, 0)
  assert codes.log_likelihoods(spec, post, lat)['continuous'].shape == (3, 0)


def test_representation_is_continuous_means_then_probabilities():
  q_out = jax.random.normal(jax.random.key(1), (6, SPEC.q_output_dim))
  table = codes.representation(SPEC, codes.split_q_output(SPEC, q_out))
  assert table.shape == (6, 2 + 13)
  np.testing.assert_allclose(table[:, :2], q_out[:, 13:15], rtol=1e-6)
  np.testing.assert_allclose(table[:, 2:12],
                             jax.nn.softmax(q_out[:, :10]), rtol=1e-5)
  empty = make_spec(4, (), 0)
  assert codes.representation(empty, codes.split_q_output(
      empty, jnp.zeros((3, 0)))).shape == (3, 0)


def test_names_find_and_parse():
  assert SPEC.names == ('cat0', 'cat1', 'cont0', 'cont1')
  assert SPEC.find('cat1') == (SPEC.categorical, 1)
  assert SPEC.find('cont0') == (SPEC.continuous, 0)
  with pytest.raises(ValueError, match='unknown code .cat2.; this model has '
                     'cat0, cat1, cont0, cont1'):
    SPEC.find('cat2')
  assert SPEC.parse('cat1', '2') == 2
  assert SPEC.parse('cont1', '-1.5') == -1.5
  with pytest.raises(ValueError, match='cat1 has categories 0..2'):
    SPEC.parse('cat1', '3')
  with pytest.raises(ValueError, match='is not a number'):
    SPEC.parse('cont0', 'x')


def test_set_code_checks_categories():
  lat = codes.sample(SPEC, jax.random.key(0), 4)
  set_ = codes.set_code(SPEC, lat, 'cat1', 2)
  np.testing.assert_array_equal(set_.categorical[:, 1], 2)
  np.testing.assert_array_equal(set_.categorical[:, 0], lat.categorical[:, 0])
  np.testing.assert_array_equal(set_.continuous, lat.continuous)
  with pytest.raises(ValueError, match=r'must be in \[0, 3\)'):
    codes.set_code(SPEC, lat, 'cat1', 3)
  with pytest.raises(ValueError, match='integers'):
    codes.set_code(SPEC, lat, 'cat0', 0.5)
  with pytest.raises(ValueError, match='give one value or 4 values'):
    codes.set_code(SPEC, lat, 'cont0', [1.0, 2.0])


@dataclasses.dataclass(frozen=True)
class Binary(codes.CodeType):
  """A code type written outside the library: Bernoulli(1/2) bits, Q gives
  one logit each."""

  name = 'binary'
  prefix = 'bit'
  lambda_field = 'lambda_binary'
  dtype = jnp.int32

  number: int = 0

  @classmethod
  def from_config(cls, model_config):
    return cls(model_config.num_binary_codes)

  @classmethod
  def check_config(cls, config):
    pass

  count = property(lambda self: self.number)
  input_width = property(lambda self: self.number)
  q_width = property(lambda self: self.number)
  entropies = property(lambda self: (math.log(2.0),) * self.number)

  def sample(self, key, n):
    return jax.random.bernoulli(key, 0.5, (n, self.number)).astype(jnp.int32)

  def generator_input(self, values, dtype):
    return values.astype(dtype)

  def posterior(self, q_columns):
    return q_columns

  def log_likelihoods(self, posterior, values):
    return -optax.sigmoid_binary_cross_entropy(posterior, values)

  def representation(self, posterior):
    return jax.nn.sigmoid(posterior)

  def readable(self, posterior):
    return {'bit_probabilities': jax.nn.sigmoid(posterior)}

  def sweep_values(self, index, config):
    return np.array([0, 1])

  def check_values(self, index, values):
    return values.astype(self.dtype)

  def parse(self, index, text):
    return int(text)


def test_a_new_code_type_plugs_in():
  """Everything that loops over a spec's types serves a type it has never
  seen: layout, sampling, G's input, Q's split, the bound and its penalty,
  names, setting a code and the sample grids."""
  spec = codes.CodeSpec(5, (codes.Categorical((3,)), codes.Continuous(1),
                            Binary(2)))
  assert spec.input_dim == 5 + 3 + 1 + 2 and spec.q_output_dim == 3 + 1 + 2
  assert spec.names == ('cat0', 'cont0', 'bit0', 'bit1')
  assert spec.binary == Binary(2)
  lat = codes.sample(spec, jax.random.key(0), 64)
  assert lat.binary.shape == (64, 2)
  assert set(np.unique(np.asarray(lat.binary))) == {0, 1}
  x = np.asarray(codes.generator_input(spec, lat))
  np.testing.assert_array_equal(x[:, -2:], lat.binary)
  q_out = jax.random.normal(jax.random.key(1), (64, spec.q_output_dim))
  np.testing.assert_array_equal(codes.split_q_output(spec, q_out)['binary'],
                                q_out[:, -2:])
  mi = losses.mutual_information(spec, q_out, lat)
  assert set(mi.per_code) == {'categorical', 'continuous', 'binary'}
  want = (-optax.sigmoid_binary_cross_entropy(q_out[:, -2:], lat.binary)
          ).mean(0) + math.log(2.0)
  np.testing.assert_allclose(mi.per_code['binary'], want, rtol=1e-6)
  penalty = losses.information_penalty(
      mi, {'categorical': 1.0, 'continuous': 0.5, 'binary': 2.0})
  assert float(penalty) == pytest.approx(
      float(mi.categorical + 0.5 * mi.continuous + 2 * mi.binary), rel=1e-6)
  assert codes.representation(spec, codes.split_q_output(
      spec, q_out)).shape == (64, 3 + 1 + 2)
  set_ = codes.set_code(spec, lat, 'bit1', 1)
  np.testing.assert_array_equal(set_.binary[:, 1], 1)
  sweep = ml_collections.ConfigDict(dict(continuous_sweep=(-1.0, 1.0),
                                         continuous_sweep_steps=3))
  grids = traversals.code_grids(spec, jax.random.key(2), 4, sweep)
  assert {name: g.noise.shape[0] for name, g in grids.items()} == {
      'cat0': 12, 'cont0': 12, 'bit0': 8, 'bit1': 8}
