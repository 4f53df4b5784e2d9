"""Latents for code-aware sample grids: one grid per code of the layout.

In every grid a column is one draw of z and of the other codes, shared by all
rows; the rows vary one code: each category of a categorical code, or evenly
spaced values of a continuous code (beyond the prior's [-1, 1] if asked, as
in the paper's Figure 2): each code type's `sweep_values`.
"""

from __future__ import annotations

import os
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from infogan_jax import images as images_lib
from infogan_jax import codes as codes_lib
from infogan_jax import keys
from infogan_jax.gan import InfoGAN


def sweep(spec: codes_lib.CodeSpec, base: codes_lib.Latents, name: str,
          values: Sequence[float] | jax.Array) -> codes_lib.Latents:
  """Rows: `values` of code `name` (e.g. 'cat0', 'cont1'); columns: `base`.

  Returns [len(values) * columns] latents, row-major: every row repeats the
  columns of `base` with only the swept code changed.
  """
  values = jnp.asarray(values)
  columns = base.noise.shape[0]
  tiled = jax.tree.map(lambda x: jnp.tile(x, (len(values), 1)), base)
  return codes_lib.set_code(spec, tiled, name, jnp.repeat(values, columns))


def code_grid(spec: codes_lib.CodeSpec, key: jax.Array, name: str,
              values: Sequence[float], columns: int) -> codes_lib.Latents:
  """Rows: `values` of code `name`; columns: prior draws from `key`.
  [len(values) * columns] latents."""
  return sweep(spec, codes_lib.sample(spec, key, columns), name, values)


def code_grids(spec: codes_lib.CodeSpec, key: jax.Array, columns: int,
               config) -> dict[str, codes_lib.Latents]:
  """Latents of every code's grid, by code name ('cat0', ..., 'cont0', ...),
  each code's rows its type's `sweep_values` (every category; the config's
  `continuous_sweep` in `continuous_sweep_steps` values).

  All grids share `key`, so column j shows the same z in every grid. With no
  code at all, a single 'samples' grid of independent draws.
  """
  grids = {}
  for name in spec.names:
    code_type, index = spec.find(name)
    grids[name] = code_grid(spec, key, name,
                            code_type.sweep_values(index, config), columns)
  if not grids:
    grids['samples'] = codes_lib.sample(spec, key, columns * columns)
  return grids


class GridRenderer:
  """Renders a config's code grids with a generator's variables.

  `renderer(g_variables)` -> {name: [H, W, C] image grid in [0, 1]}, one per
  code as `code_grids` lays them out, from the config's seed, columns and
  sweep (the seed's 'sample_grids' stream). G runs in inference mode,
  jitted once per renderer.
  """

  def __init__(self, config, gan: InfoGAN):
    self.columns = config.sample_grid_columns
    self.latents = code_grids(gan.spec, keys.stream(config.seed,
                                                    'sample_grids'),
                              self.columns, config)
    self._generate = jax.jit(
        lambda g_variables, latents: gan.to_unit_range(
            gan.generate(g_variables, latents)))

  def __call__(self, g_variables) -> dict[str, np.ndarray]:
    return {name: images_lib.make_grid(
        np.asarray(self._generate(g_variables, latents)),
        columns=self.columns) for name, latents in self.latents.items()}


def save_grids(grids: dict[str, np.ndarray], directory: str,
               step: int) -> list[str]:
  """Writes the grids as PNGs named by step and code (on the main process);
  returns their paths."""
  paths = [os.path.join(directory, f'step_{step:08d}_{name}.png')
           for name in grids]
  if jax.process_index() == 0:
    for grid, path in zip(grids.values(), paths):
      images_lib.save_png(grid, path)
  return paths
