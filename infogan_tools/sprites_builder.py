"""TFDS builder `generated_sprites`: the images of `infogan_tools.sprites`.

Importing this module registers the builder, so `tfds.builder(
'generated_sprites')` finds it. It needs no download: preparing it draws the
6,144 images into the data_dir (11 s on a 2-core CPU VM). The input pipeline
prepares it on first use.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from infogan_tools import sprites


class GeneratedSprites(tfds.core.GeneratorBasedBuilder):
  """64x64 binary sprites, one per combination of five factors."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First version.'}

  def _info(self) -> tfds.core.DatasetInfo:
    features = {'image': tfds.features.Image(shape=(sprites.SIZE,
                                                    sprites.SIZE, 1))}
    for name, count in sprites.FACTORS.items():
      features[f'label_{name}'] = tfds.features.ClassLabel(num_classes=count)
      features[f'value_{name}'] = tfds.features.Scalar(dtype=np.float32)
    return self.dataset_info_from_configs(
        description=sprites.__doc__,
        features=tfds.features.FeaturesDict(features))

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download
    return {'train': self._generate_examples()}

  def _generate_examples(self):
    factors = sprites.all_factors()
    values = sprites.factor_values(factors)
    for start in range(0, len(factors), 512):
      chunk = factors[start:start + 512]
      for i, image in enumerate(sprites.render(chunk), start=start):
        example = {'image': image}
        for j, name in enumerate(sprites.FACTORS):
          example[f'label_{name}'] = int(factors[i, j])
          example[f'value_{name}'] = np.float32(values[i, j])
        yield i, example
