"""Evaluators: numbers about a trained state, on data the run never trained on.

`config.evaluators` names what to compute; `REGISTRY` maps each name to the
evaluator class that computes it (one class may compute several names, e.g.
the four disentanglement metrics from one representation). Each class owns
its config and dataset checks. To add an evaluator: subclass
`base.Evaluator` in a module of this package and register its names here.

- 'clustering' (`clustering.py`): Q's categorical code as a classifier of a
  labelled split, matched to the classes; accuracy, NMI, ARI.
- 'mig', 'factor_vae', 'dci', 'sap' (`disentanglement.py`): Q's
  representation scored against a dataset's known factors.
"""

from __future__ import annotations

import jax

from infogan_jax import fields
from infogan_jax import state as state_lib
from infogan_jax.errors import ConfigError
from infogan_jax.evaluators import base
from infogan_jax.evaluators import clustering
from infogan_jax.evaluators import disentanglement
from infogan_jax.gan import InfoGAN

Evaluator = base.Evaluator

REGISTRY: dict[str, type[base.Evaluator]] = {
    name: cls for cls in (clustering.ClusteringEvaluator,
                          disentanglement.DisentanglementEvaluator)
    for name in cls.NAMES
}
NAMES = tuple(REGISTRY)


def _classes(config) -> list[type[base.Evaluator]]:
  """The evaluator classes config.evaluators needs, each once, in order."""
  return list(dict.fromkeys(REGISTRY[name] for name in config.evaluators))


def check_config(config, device_count: int = 1) -> None:
  """Raises ConfigError for an unknown name or a field an evaluator cannot
  work with."""
  names = config.evaluators
  if not fields.is_sequence_of(names, lambda name: name in REGISTRY):
    raise ConfigError('evaluators', names,
                      f'must be a tuple of names from {NAMES}')
  for cls in _classes(config):
    cls.check_config(config)
  fields.non_empty_string(config, 'eval_split')
  fields.int_at_least(config, 'eval_every_steps', 0)
  if config.eval_every_steps % config.steps_per_call:
    raise ConfigError(
        'eval_every_steps', config.eval_every_steps,
        f'must be a multiple of steps_per_call ({config.steps_per_call})')
  fields.int_at_least(config, 'eval_batch_size', 1)
  if config.eval_batch_size % device_count:
    raise ConfigError(
        'eval_batch_size', config.eval_batch_size,
        f'must be divisible by the number of devices ({device_count})')


def check_dataset(config, info) -> None:
  """Raises ConfigError when the dataset (its TFDS DatasetInfo) cannot serve
  the configured evaluators."""
  if not config.evaluators:
    return
  # (The split table is empty when TFDS has no metadata, e.g. under mocks;
  # reading will then say what is wrong.)
  if info.splits and config.eval_split not in info.splits:
    raise ConfigError(
        'eval_split', config.eval_split,
        f"dataset '{config.dataset}' has the splits "
        f"{', '.join(sorted(info.splits))}")
  for cls in _classes(config):
    cls.check_dataset(config, info)


def create(config, gan: InfoGAN,
           mesh: jax.sharding.Mesh) -> dict[str, base.Evaluator]:
  """The evaluators config.evaluators names, ready to call, by the name of
  their module (e.g. 'clustering', 'disentanglement')."""
  return {cls.__module__.rsplit('.', 1)[-1]: cls.create(config, gan, mesh)
          for cls in _classes(config)}


def run(evaluators: dict[str, base.Evaluator], state: state_lib.TrainState,
        notes: list[str] | None = None) -> dict[str, float]:
  """All evaluators' scores; with `notes`, the readable notes of those that
  have one are appended to it."""
  scores = {}
  for evaluator in evaluators.values():
    if notes is None:  # no text wanted: the scores alone
      scores.update(evaluator(state))
      continue
    evaluator_scores, note = evaluator.report(state)
    if note:
      notes.append(note)
    scores.update(evaluator_scores)
  return scores
