"""Code-aware grids: one per code, rows vary it, columns share the rest."""

import jax
import ml_collections
import numpy as np
import pytest

from infogan_jax import codes
from infogan_jax import traversals


def make_spec(noise_dim, categorical, continuous):
  return codes.CodeSpec(noise_dim, (codes.Categorical(tuple(categorical)),
                                    codes.Continuous(continuous)))


def _rows(x, rows, columns):
  return np.asarray(x).reshape(rows, columns, *np.shape(x)[1:])


def test_categorical_grid_rows_are_categories():
  spec = make_spec(4, (10, 3), 2)
  lat = traversals.code_grid(spec, jax.random.key(0), 'cat1', range(3),
                            columns=5)
  cat = _rows(lat.categorical, 3, 5)
  np.testing.assert_array_equal(cat[:, :, 1],
                                np.broadcast_to(np.arange(3)[:, None], (3, 5)))
  # Everything else is shared down each column and differs across columns.
  noise = _rows(lat.noise, 3, 5)
  np.testing.assert_array_equal(noise, np.broadcast_to(noise[:1], noise.shape))
  np.testing.assert_array_equal(cat[:, :, 0],
                                np.broadcast_to(cat[:1, :, 0], (3, 5)))
  assert len(np.unique(noise[0, :, 0])) == 5


def test_continuous_grid_sweeps_one_code():
  spec = make_spec(4, (10,), 2)
  values = [-2.0, 0.0, 2.0]
  lat = traversals.code_grid(spec, jax.random.key(0), 'cont0', values, 4)
  cont = _rows(lat.continuous, 3, 4)
  np.testing.assert_array_equal(cont[:, :, 0],
                                np.broadcast_to(np.array(values)[:, None],
                                                (3, 4)))
  np.testing.assert_array_equal(cont[:, :, 1],
                                np.broadcast_to(cont[:1, :, 1], (3, 4)))


@pytest.mark.parametrize('spec,names', [
    (make_spec(62, (10,), 2), ['cat0', 'cont0', 'cont1']),
    (make_spec(128, (20, 20, 20), 1), ['cat0', 'cat1', 'cat2', 'cont0']),
    (make_spec(128, (), 5), [f'cont{i}' for i in range(5)]),
    (make_spec(128, (10,) * 10, 0), [f'cat{i}' for i in range(10)]),
    (make_spec(8, (), 0), ['samples']),
])
def test_code_grids_cover_every_layout(spec, names):
  sweep = ml_collections.ConfigDict(dict(continuous_sweep=(-2.0, 2.0),
                                         continuous_sweep_steps=5))
  grids = traversals.code_grids(spec, jax.random.key(0), columns=3,
                                config=sweep)
  assert list(grids) == names
  for name, lat in grids.items():
    rows = (spec.categorical.sizes[int(name[3:])] if name.startswith('cat') else
            5 if name.startswith('cont') else 3)
    assert lat.noise.shape == (rows * 3, spec.noise_dim)
  # Column j shows the same z in every grid.
  first = [np.asarray(g.noise[:3]) for g in grids.values()]
  for other in first[1:]:
    np.testing.assert_array_equal(first[0], other)
