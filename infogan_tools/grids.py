"""A trained run's code grids with labelled rows (the README's figures).

  python -m infogan_tools.grids --workdir=RUN --out=docs/mnist/final [--columns=10]

writes OUT_cat0.png, OUT_cont0.png, ...: for each code, the grid that
`infogan_jax.load(RUN).traverse` draws (rows: the code's values, every
category or the config's continuous sweep; columns: draws of z and the other
codes), each row labelled with the code's value. Codes are named as in the
paper, in the order of the model's codes: c1 = cat0, c2 = cont0, c3 = cont1
for MNIST.
"""

from __future__ import annotations

import os
import sys

from absl import flags
import matplotlib
import numpy as np

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

import infogan_tools  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FlagValues()  # see infogan_tools/__init__.py
_WORKDIR = flags.DEFINE_string('workdir', None, 'The trained run.',
                               flag_values=FLAGS)
_OUT = flags.DEFINE_string('out', None, 'Prefix of the PNGs to write.',
                           flag_values=FLAGS)
_COLUMNS = flags.DEFINE_integer('columns', 10, 'Draws of z per grid.',
                                lower_bound=1, flag_values=FLAGS)


def paper_names(code_names) -> dict[str, str]:
  """{'cat0': 'c1', 'cont0': 'c2', ...}: the paper's c_i, in code order."""
  return {name: f'c{i + 1}' for i, name in enumerate(code_names)}


def labelled_grids(model, out: str, columns: int = 10) -> list[str]:
  """Writes every code's grid of `model` (a TrainedInfoGAN) as OUT_NAME.png
  with its rows labelled; returns the paths."""
  names = paper_names(model.code_names)
  paths = []
  for code in model.code_names:
    code_type, index = model.spec.find(code)
    values = code_type.sweep_values(index, model.config)
    grid = model.traverse(code, values=values, columns=columns)
    rows = len(values)
    height = grid.shape[0] / rows
    fig, ax = plt.subplots(figsize=(columns * 0.55 + 1.2, rows * 0.55 + 0.5),
                           dpi=120)
    ax.imshow(np.squeeze(grid), cmap='gray' if grid.shape[-1] == 1 else None,
              vmin=0.0, vmax=1.0)
    ax.set_yticks((np.arange(rows) + 0.5) * height)
    ax.set_yticklabels([f'{names[code]} = {v:g}' if float(v).is_integer()
                        else f'{names[code]} = {v:.2f}' for v in values])
    ax.set_xticks([])
    ax.set_title(f'{names[code]} ({code}); columns: draws of z and the other '
                 'codes', fontsize=8)
    path = f'{out}_{code}.png'
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)
    paths.append(path)
  return paths


def main(argv=None) -> int:
  argv = infogan_tools.parse_flags(FLAGS, argv)
  if len(argv) > 1:
    infogan_tools.usage_error(f'unexpected arguments: {argv[1:]}')
  import infogan_jax  # pylint: disable=g-import-not-at-top
  for path in labelled_grids(infogan_jax.load(_WORKDIR.value), _OUT.value,
                             _COLUMNS.value):
    print(path)
  return 0


flags.mark_flags_as_required(['workdir', 'out'], flag_values=FLAGS)

if __name__ == '__main__':
  sys.exit(main())
