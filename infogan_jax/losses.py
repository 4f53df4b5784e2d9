"""Losses as pure functions of network outputs.

Minimax game of InfoGAN: min_{G,Q} max_D V(D, G) - lambda * L_I(G, Q). Here D
minimises the usual binary cross-entropy, G the non-saturating -log D(G(z, c)),
and lambda * L_I is subtracted from both, so Q (and D's shared body under it)
is trained by D's optimiser and G is pushed towards codes Q can recover.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from infogan_jax import latents as latents_lib


def discriminator_gan_loss(real_logits: jax.Array,
                           fake_logits: jax.Array) -> jax.Array:
  """-E[log D(x)] - E[log(1 - D(G(z, c)))], from D's logits."""
  real = optax.sigmoid_binary_cross_entropy(real_logits,
                                            jnp.ones_like(real_logits))
  fake = optax.sigmoid_binary_cross_entropy(fake_logits,
                                            jnp.zeros_like(fake_logits))
  return real.mean() + fake.mean()


def generator_gan_loss(fake_logits: jax.Array) -> jax.Array:
  """The non-saturating generator loss -E[log D(G(z, c))]."""
  return optax.sigmoid_binary_cross_entropy(fake_logits,
                                            jnp.ones_like(fake_logits)).mean()


class MutualInformation(NamedTuple):
  """Lower bounds L_I = E[log Q(c|x)] + H(c), in nats, one per code."""

  categorical_codes: jax.Array  # [len(categorical)]
  continuous_codes: jax.Array  # [num_continuous]

  @property
  def categorical(self) -> jax.Array:
    """The bound for all categorical codes together (they are independent)."""
    return self.categorical_codes.sum()

  @property
  def continuous(self) -> jax.Array:
    """The bound for all continuous codes together."""
    return self.continuous_codes.sum()


def mutual_information(spec: latents_lib.CodeSpec, q_out: jax.Array,
                       latents: latents_lib.Latents) -> MutualInformation:
  """The batch estimate of L_I for the codes that produced the images."""
  posterior = latents_lib.split_q_output(spec, q_out)
  categorical = latents_lib.categorical_log_likelihoods(posterior, latents)
  continuous = latents_lib.continuous_log_likelihoods(posterior, latents)
  return MutualInformation(
      categorical_codes=categorical.mean(0) + jnp.asarray(
          spec.categorical_entropies, jnp.float32),
      continuous_codes=continuous.mean(0) + jnp.asarray(
          spec.continuous_entropies, jnp.float32),
  )


def information_penalty(mi: MutualInformation, lambda_categorical: float,
                        lambda_continuous: float) -> jax.Array:
  """lambda * L_I with one lambda per code type; subtract it from a loss."""
  return lambda_categorical * mi.categorical + lambda_continuous * mi.continuous
