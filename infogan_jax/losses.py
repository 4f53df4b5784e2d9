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

from infogan_jax import codes as codes_lib


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
  """Lower bounds L_I = E[log Q(c|x)] + H(c), in nats, one per code.

  `mi.<type name>` (e.g. `mi.categorical`) is the bound for all codes of
  that type together (they are independent): the sum of theirs.
  """

  per_code: dict[str, jax.Array]  # by type name: [that type's count]

  def __getattr__(self, name):
    try:
      return self.per_code[name].sum()
    except KeyError:
      raise AttributeError(name) from None


def mutual_information(spec: codes_lib.CodeSpec, q_out: jax.Array,
                       latents: codes_lib.Latents) -> MutualInformation:
  """The batch estimate of L_I for the codes that produced the images."""
  posterior = codes_lib.split_q_output(spec, q_out)
  log_likelihoods = codes_lib.log_likelihoods(spec, posterior, latents)
  return MutualInformation({
      t.name: log_likelihoods[t.name].mean(0) + jnp.asarray(t.entropies,
                                                            jnp.float32)
      for t in spec.types})


def information_penalty(mi: MutualInformation,
                        lambdas: dict[str, float]) -> jax.Array:
  """lambda * L_I with one lambda per code type (by type name); subtract it
  from a loss."""
  terms = [lambdas[name] * bounds.sum()
           for name, bounds in mi.per_code.items()]
  total = terms[0]
  for term in terms[1:]:
    total = total + term
  return total


# ------------------------------------------- Q on real images (not the paper)
# The paper trains Q on generated images only. These optional terms also
# train it (with D's shared body) on the real batch; each has its own lambda
# in the D loss, 0 leaving the paper's objective unchanged. They act on the
# categorical codes.


def _categorical_logits(spec: codes_lib.CodeSpec,
                        q_out: jax.Array) -> tuple[jax.Array, ...]:
  return codes_lib.split_q_output(spec, q_out)[codes_lib.Categorical.name]


def real_information(spec: codes_lib.CodeSpec,
                     q_out: jax.Array) -> jax.Array:
  """H(mean_x Q(c|x)) - mean_x H(Q(c|x)) over a batch, summed over the
  categorical codes, in nats.

  The batch estimate of the mutual information between an image and the
  category Q gives it: at most H(c) = ln K per code, reached when the batch
  spreads evenly over the K categories and Q is certain of each image.
  """
  total = jnp.zeros((), jnp.float32)
  for logits in _categorical_logits(spec, q_out):
    # In log space: a probability that underflows to 0 would give entropy
    # gradients of 0 * inf.
    log_p = jax.nn.log_softmax(logits, -1)
    log_marginal = jax.nn.logsumexp(log_p, axis=0) - jnp.log(logits.shape[0])
    marginal = -(jnp.exp(log_marginal) * log_marginal).sum()
    conditional = -(jnp.exp(log_p) * log_p).sum(-1).mean()
    total = total + marginal - conditional
  return total


def consistency(spec: codes_lib.CodeSpec, q_out: jax.Array,
                q_out_transformed: jax.Array) -> jax.Array:
  """Mean KL(Q(c|x) || Q(c|T(x))) over a batch, summed over the categorical
  codes, in nats: how far Q's posterior moves when an image is deformed.

  Q(c|x) is the target and held fixed (no gradient): the term pulls the
  transformed copy's posterior towards the image's, not the reverse.
  """
  original = _categorical_logits(spec, jax.lax.stop_gradient(q_out))
  transformed = _categorical_logits(spec, q_out_transformed)
  total = jnp.zeros((), jnp.float32)
  for target, logits in zip(original, transformed):
    total = total + optax.losses.kl_divergence(
        jax.nn.log_softmax(logits, -1), jax.nn.softmax(target, -1)).mean()
  return total


def paired_information(spec: codes_lib.CodeSpec, q_out: jax.Array,
                       q_out_transformed: jax.Array) -> jax.Array:
  """I(c; c') of the categories Q gives an image and its deformed copy,
  summed over the categorical codes, in nats (the objective of invariant
  information clustering, Ji et al. 2019): `categorical_paired_information`
  of each code's logits."""
  original = _categorical_logits(spec, q_out)
  transformed = _categorical_logits(spec, q_out_transformed)
  total = jnp.zeros((), jnp.float32)
  for a, b in zip(original, transformed):
    total = total + categorical_paired_information(a, b)
  return total


def categorical_paired_information(logits: jax.Array,
                                   logits_transformed: jax.Array
                                   ) -> jax.Array:
  """I(c; c') in nats of two categorical posteriors [n, K] given as logits,
  of a batch of images and their deformed copies.

  P = the batch mean of outer(p(c|x), p(c'|T(x))), symmetrised, is their
  joint distribution; I = sum P log(P / (P_i P_j)). At most ln K, reached
  when both copies of every image get the same category, confidently, and
  the batch uses all K evenly: a partition that the deformations do not
  cross. Gradients reach both posteriors.
  """
  joint = jnp.einsum('ni,nj->ij',
                     jax.nn.softmax(logits.astype(jnp.float32), -1),
                     jax.nn.softmax(logits_transformed.astype(jnp.float32),
                                    -1)) / logits.shape[0]
  joint = (joint + joint.T) / 2
  # Clipped below so that log(0) never enters the sum or its gradient.
  joint = jnp.maximum(joint, jnp.finfo(joint.dtype).tiny)
  marginal = joint.sum(1)
  return (joint * (jnp.log(joint) - jnp.log(marginal[:, None]) -
                   jnp.log(marginal[None, :]))).sum()
