"""Sample grids: tiling order, padding and PNG output."""

import numpy as np
from PIL import Image

from infogan_jax import images


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
