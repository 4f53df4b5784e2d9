"""InfoGAN on 3D Shapes (TFDS `shapes3d`: 480,000 64x64 RGB renders of a
shape in a room, with six factors: floor, wall and object hue, scale, shape
and orientation).

The same model and training as configs/dsprites.py, for RGB images in
[-1, 1] (G ends in tanh) and six continuous codes, one per factor. The
metrics hold the split in host memory as uint8: 480,000 x 64 x 64 x 3
bytes, 5.9 GB.

Command:
  python -m infogan_jax.main --config=configs/shapes3d.py --workdir=/tmp/shapes3d
"""

from infogan_jax.configs import dsprites


def get_config():
  config = dsprites.get_config()
  config.dataset = 'shapes3d'
  config.pixel_max = 255
  config.model.num_continuous_codes = 6
  config.model.generator = config.model.generator[:-1] + ('up3-s2-tanh',)
  config.factor_keys = ('label_floor_hue', 'label_wall_hue',
                        'label_object_hue', 'label_scale', 'label_shape',
                        'label_orientation')
  return config
