"""What the command does in each mode, and its exit status.

`run(config, workdir, mode)` trains (`trainer.py`), or works on the newest
checkpoint of a trained workdir: `evaluate` scores it, `write_figures` draws
its code grids, `write_samples` generates images from it.
"""

from __future__ import annotations

import json
import math
import os
import sys

from etils import epath
import jax
import ml_collections
import numpy as np

from infogan_jax import checkpointing
from infogan_jax import distributed
from infogan_jax import errors
from infogan_jax import evaluators as evaluators_lib
from infogan_jax.evaluators import criteria
from infogan_jax import images as images_lib
from infogan_jax import population
from infogan_jax import traversals
from infogan_jax.errors import ConfigError

# `trainer` and `services` (and with them TensorFlow, through clu's summary
# writers) are imported by the modes that use them: sample mode starts in
# seconds without.

# Exit statuses (errors.py says when each is used).
EXIT_BAD_INPUT = errors.EXIT_BAD_INPUT
EXIT_NONFINITE = errors.EXIT_NONFINITE
EXIT_PREEMPTED = errors.EXIT_PREEMPTED


def evaluate(config: ml_collections.ConfigDict,
             workdir: str) -> tuple[int, dict[str, float], str]:
  """Runs the config's evaluators on the latest checkpoint of `workdir`.

  The scores go to metrics.jsonl and TensorBoard at the checkpoint's step.
  Returns (step, scores, a readable report of the scores and, for
  'clustering', of what each category holds). A population's scores are
  per member with their mean, min and max, as in training.
  """
  from infogan_jax import services  # pylint: disable=g-import-not-at-top
  if not config.evaluators:
    raise ConfigError(
        'evaluators', tuple(config.evaluators),
        f'--mode=eval needs at least one of {evaluators_lib.NAMES}')
  mesh, train_step, state = services.restore_trained(config, workdir,
                                                     needs_data=True)
  evaluators = evaluators_lib.create(config, train_step.gan, mesh)
  step = int(state.step)
  notes = []
  scores = population.scalars(services.evaluate(
      evaluators, None, population.Members(mesh, population.size(config)),
      state, notes))
  writer = services.create_writer(workdir)
  writer.write_scalars(step, scores)
  writer.close()
  report = [f'step {step}: ' + ' '.join(
      f'{name}={value:.4f}' for name, value in scores.items())] + notes
  return step, scores, '\n'.join(report)


def write_figures(config: ml_collections.ConfigDict, workdir: str) -> list[str]:
  """Code grids of the latest checkpoint of `workdir`, as PNGs in figures/.

  One grid per code, laid out as the training samples are (rows: each
  category, or `continuous_sweep` in `continuous_sweep_steps` values;
  columns: `sample_grid_columns` draws of z and the other codes). Returns
  the paths written.
  """
  from infogan_jax import services  # pylint: disable=g-import-not-at-top
  mesh, train_step, state = services.restore_trained(config, workdir,
                                                     needs_data=False)
  grids = services.member_grids(
      traversals.GridRenderer(config, train_step.gan),
      population.Members(mesh, population.size(config)), state)
  return traversals.save_grids(grids, os.path.join(workdir, 'figures'),
                               int(state.step))


def write_samples(config: ml_collections.ConfigDict, workdir: str,
                  num_samples: int = 64, codes: dict | None = None,
                  seed: int = 0, member: int | None = None) -> list[str]:
  """`num_samples` images of the latest checkpoint of `workdir`, the codes in
  `codes` ({'cat0': 3, 'cont0': 0.5}) fixed, as a PNG grid and an .npz
  (images in [0, 1], [n, H, W, C], and the latents that made them) in
  generated/. The same seed gives the same images. A population's
  checkpoint needs `member`. Returns both paths.
  """
  from infogan_jax import inference  # pylint: disable=g-import-not-at-top
  model = inference.load(workdir, config=config, member=member)
  latents = model.sample_latents(jax.random.key(seed), num_samples, codes)
  images = np.asarray(model.render(latents))
  name = '_'.join([f'step_{model.step:08d}', f'seed{seed}'] +
                  [f'{k}={v}' for k, v in sorted((codes or {}).items())])
  directory = os.path.join(workdir, 'generated')
  paths = [os.path.join(directory, name + '.png'),
           os.path.join(directory, name + '.npz')]
  if jax.process_index() == 0:
    images_lib.save_png(images_lib.make_grid(
        images, columns=math.ceil(math.sqrt(num_samples))), paths[0])
    with epath.Path(paths[1]).open('wb') as f:
      np.savez(f, images=images, step=model.step,
               noise=np.asarray(latents.noise),
               **{k: np.asarray(v) for k, v in latents.codes.items()})
  return paths


def select(config: ml_collections.ConfigDict, workdir: str,
           member: int | None = None, criterion: str | None = None) -> dict:
  """Picks a member of the population in `workdir` (its latest checkpoint)
  by a label-free criterion and exports it as a single run to
  WORKDIR/selected, which `infogan_jax.load` and `--mode=eval` read.

  `criterion`: one of `criteria.CRITERIA`; default 'agreement' from three
  members on, else 'real_information'. With `member`, that member is
  exported without scoring. Returns the report: each member's scores, each
  criterion's pick, the member exported and where.
  """
  from infogan_jax import services  # pylint: disable=g-import-not-at-top
  count = population.size(config)
  if count == 1:
    raise ConfigError('population', 1, f'{workdir} holds a single run: '
                      '--mode=select picks a member of a population '
                      '(--config.population=N)')
  population.check_member(config, member)
  mesh, train_step, state = services.restore_trained(config, workdir,
                                                     needs_data=True)
  members = population.Members(mesh, count)
  report = {'workdir': workdir, 'step': int(state.step)}
  if member is None:
    if not train_step.spec.categorical.count:
      raise ConfigError('model.categorical_codes', (), 'the selection '
                        'criteria need a categorical code; pass --member')
    criterion = criterion or criteria.default_criterion(count)
    table = criteria.PopulationCriteria(config, train_step.gan, mesh)(
        members.states(state))
    if criterion not in table:
      raise ConfigError('select_criterion', criterion,
                        f'must be one of {", ".join(table)} here')
    picks = criteria.choose(table)
    member = picks[criterion]
    report.update(scores={name: [float(v) for v in values]
                          for name, values in table.items()},
                  picks=picks, criterion=criterion)
  destination = os.path.join(workdir, 'selected')
  checkpointing.export(population.member_getter(mesh)(state, member),
                       population.member_config(config, member), destination)
  return {**report, 'member': member, 'exported_to': destination}


def run(config: ml_collections.ConfigDict, workdir: str,
        mode: str = 'train', sample_options: dict | None = None,
        select_options: dict | None = None) -> int:
  """Runs `mode` ('train', 'eval', 'figures', 'sample' with
  `write_samples`'s keyword arguments `sample_options`, or 'select' with
  `select`'s `select_options`); returns the exit status.

  0: done. EXIT_BAD_INPUT: the config, data, workdir or checkpoint cannot be
  used; one line on stderr says why. EXIT_NONFINITE: a non-finite step
  stopped training. EXIT_PREEMPTED: a preemption notice stopped training
  after a checkpoint; run again to resume. Other errors propagate.
  """
  try:
    distributed.check_same_config(config)
    if mode == 'train':
      from infogan_jax import trainer  # pylint: disable=g-import-not-at-top
      trainer.train_and_evaluate(config, workdir)
    elif mode == 'eval':
      print(evaluate(config, workdir)[2])
    elif mode == 'select':
      print(json.dumps(select(config, workdir, **(select_options or {})),
                       indent=1))
    elif mode == 'sample':
      for path in write_samples(config, workdir, **(sample_options or {})):
        print(path)
    else:
      for path in write_figures(config, workdir):
        print(path)
  except errors.BadInput as e:
    print(f'error: {e}', file=sys.stderr)
    return errors.EXIT_BAD_INPUT
  except errors.NonFiniteError as e:
    print(f'error: {e}', file=sys.stderr)
    return errors.EXIT_NONFINITE
  except errors.Preempted as e:
    print(e, file=sys.stderr)
    return errors.EXIT_PREEMPTED
  return 0
