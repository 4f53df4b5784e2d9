"""Image grids for samples: arrays in [0, 1] to one tiled picture or a PNG."""

from __future__ import annotations

import io

from etils import epath
import numpy as np
from PIL import Image


def make_grid(images: np.ndarray, columns: int, padding: int = 2) -> np.ndarray:
  """Tiles [n, H, W, C] images, row-major, into one [rows*H', cols*W', C] grid.

  Values are clipped to [0, 1]; cells are separated by `padding` white pixels.
  """
  images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
  n, h, w, c = images.shape
  rows = -(-n // columns)
  cells = np.ones((rows * columns, h + padding, w + padding, c), np.float32)
  cells[:n, :h, :w] = images
  grid = cells.reshape(rows, columns, h + padding, w + padding, c)
  grid = grid.transpose(0, 2, 1, 3, 4).reshape(
      rows * (h + padding), columns * (w + padding), c)
  return grid[:-padding, :-padding] if padding else grid


def save_png(grid: np.ndarray, path: str) -> None:
  """Writes a [H, W, C] array in [0, 1] (C = 1 or 3) as an 8-bit PNG."""
  pixels = np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)
  if pixels.shape[-1] == 1:
    pixels = pixels[..., 0]
  encoded = io.BytesIO()
  Image.fromarray(pixels).save(encoded, format='PNG')
  # epath: local or gs:// alike.
  path = epath.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(encoded.getvalue())
