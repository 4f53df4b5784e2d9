"""Sample grids: tiling order, padding and PNG output."""

import jax
import numpy as np
from PIL import Image

from infogan_jax import images
from infogan_jax import latents
from infogan_jax import train


def test_grid_tiles_row_major_with_padding():
  cells = np.stack([np.full((2, 3, 1), i / 10) for i in range(6)])
  grid = images.make_grid(cells, columns=3, padding=1)
  assert grid.shape == (2 * 3 - 1, 3 * 4 - 1, 1)
  assert grid[0, 0, 0] == 0.0 and grid[0, 4, 0] == np.float32(0.1)
  assert grid[3, 0, 0] == np.float32(0.3) and grid[3, 8, 0] == np.float32(0.5)
  assert grid[2, 0, 0] == 1.0  # padding row


def test_png_round_trip(tmp_path):
  grid = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4, 1)
  path = str(tmp_path / 'sub' / 'g.png')
  images.save_png(grid, path)
  pixels = np.asarray(Image.open(path))
  assert pixels.shape == (3, 4) and pixels[0, 0] == 0 and pixels[-1, -1] == 255


def test_grid_latents_rows_are_categories_columns_share_the_rest():
  spec = latents.CodeSpec(4, (10, 3), 2)
  lat = train.grid_latents(spec, jax.random.key(0), columns=5)
  cat = np.asarray(lat.categorical).reshape(10, 5, 2)
  np.testing.assert_array_equal(cat[:, :, 0],
                                np.broadcast_to(np.arange(10)[:, None], (10, 5)))
  noise = np.asarray(lat.noise).reshape(10, 5, 4)
  np.testing.assert_array_equal(noise, np.broadcast_to(noise[:1], noise.shape))
  np.testing.assert_array_equal(cat[:, :, 1],
                                np.broadcast_to(cat[:1, :, 1], (10, 5)))
  assert len(np.unique(noise[0, :, 0])) == 5


def test_grid_latents_without_categorical_code():
  spec = latents.CodeSpec(4, (), 2)
  lat = train.grid_latents(spec, jax.random.key(0), columns=3)
  assert lat.noise.shape == (9, 4)
