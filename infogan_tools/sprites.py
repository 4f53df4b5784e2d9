"""A sprites dataset this project draws itself, with known factors.

Like dSprites, each 64x64 binary image is one white shape on black, and the
images cover every combination of five factors:

  shape        square, ellipse, triangle                           3 values
  scale        0.5 to 1 of the largest size                        4 values
  orientation  0 to 78.75 degrees in steps of 11.25                8 values
  x_position   centre from 16 to 48 pixels                         8 values
  y_position   centre from 16 to 48 pixels                         8 values

3 x 4 x 8 x 8 x 8 = 6,144 images. Orientations stay below 90 degrees, the
smallest symmetry of the three shapes, so that every combination gives a
different image and every factor can be read back from the pixels. It is not
dSprites (which has 737,280 images, 6 scales, 40 orientations over 360
degrees and 32 positions per axis): its metrics are not comparable with
published dSprites numbers.

`render(factors)` draws images from factor indices with NumPy alone; the TFDS
builder `generated_sprites` (in `infogan_tools.sprites_builder`) stores them
for the input pipeline.
"""

from __future__ import annotations

import itertools

import numpy as np

SIZE = 64
SHAPES = ('square', 'ellipse', 'triangle')
# Factor name -> number of values, in the order of a factor vector.
FACTORS = {'shape': 3, 'scale': 4, 'orientation': 8, 'x_position': 8,
           'y_position': 8}
SCALES = np.linspace(0.5, 1.0, FACTORS['scale'])
ORIENTATIONS = np.deg2rad(np.arange(FACTORS['orientation']) * 11.25)
POSITIONS = np.linspace(16.0, 48.0, FACTORS['x_position'])
# Half the side of the square at scale 1, in pixels; the other shapes are
# sized to a similar area.
UNIT = 10.0


def all_factors() -> np.ndarray:
  """Every factor combination, [6144, 5], in row-major order."""
  return np.array(list(itertools.product(*(range(n)
                                           for n in FACTORS.values()))))


def factor_values(factors: np.ndarray) -> np.ndarray:
  """[n, 5] indices -> [n, 5] values (shape index, scale, radians, x, y)."""
  factors = np.asarray(factors)
  return np.stack([factors[:, 0].astype(np.float64), SCALES[factors[:, 1]],
                   ORIENTATIONS[factors[:, 2]], POSITIONS[factors[:, 3]],
                   POSITIONS[factors[:, 4]]], axis=1)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  """Whether (u, v), in the shape's own frame (unit size), lies in it."""
  if SHAPES[shape] == 'square':
    return np.maximum(np.abs(u), np.abs(v)) <= 1.0
  if SHAPES[shape] == 'ellipse':
    return (u / 1.4) ** 2 + (v / 0.9) ** 2 <= 1.0
  # An equilateral triangle pointing up, circumradius 1.5.
  inside = np.ones(u.shape, bool)
  for normal in np.deg2rad([-90.0, 30.0, 150.0]):
    inside &= u * np.cos(normal) + v * np.sin(normal) <= 0.75
  return inside


def render(factors: np.ndarray) -> np.ndarray:
  """[n, 5] factor indices -> [n, 64, 64, 1] uint8 images (0 or 255)."""
  factors = np.asarray(factors)
  values = factor_values(factors)
  ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5  # pixel centres
  images = np.zeros((len(factors), SIZE, SIZE), np.uint8)
  for shape in range(len(SHAPES)):
    rows = np.flatnonzero(factors[:, 0] == shape)
    _, scale, angle, x, y = (values[rows, k, None, None] for k in range(5))
    dx, dy = xs - x, ys - y
    # Rotate the pixel offsets by -angle into the shape's frame.
    u = (np.cos(angle) * dx + np.sin(angle) * dy) / (scale * UNIT)
    v = (-np.sin(angle) * dx + np.cos(angle) * dy) / (scale * UNIT)
    images[rows] = _inside(shape, u, v) * 255
  return images[..., None]
