"""InfoGAN on generated_sprites, the dataset with known factors that this
package draws itself (`infogan_tools/sprites.py`: shape, scale, orientation,
x and y over 6,144 64x64 images). It needs no download, so the
disentanglement metrics run end to end on any machine. It is NOT dSprites:
its scores are not comparable with published dSprites numbers.

The model and training follow configs/dsprites.py except D's learning rate:
2e-4 (as for MNIST) instead of 2e-3. With 2e-3 (the command below with
--config.d_learning_rate=2e-3, stopped at step 1,100), D overpowered G within
1,000 steps: D(fake) 0.016 at step 1,100, every sample the same grey
checkerboard. With 2e-4, G drew sprites through all 6,000 steps of the run
in docs/results.md (D(fake) 0.41 at step 250, 0.11 at step 6,000). With
--config.lambda_continuous=1 instead of 0.05, every sample was the same
checkerboard by step 1,000, the codes hidden in its texture. All on the
2-core CPU VM of docs/results.md, which also gives the metrics after 3,000
and 6,000 steps. The metrics run on every image of the one split, with the
disentanglement_lib protocol's sizes.

Command:
  python -m infogan_jax.main --config=configs/sprites.py --workdir=/tmp/sprites
"""

from infogan_jax.configs import dsprites


def get_config():
  config = dsprites.get_config()
  config.dataset = 'generated_sprites'
  config.dataset_module = 'infogan_tools.sprites_builder'
  config.d_learning_rate = 2e-4
  config.pixel_max = 255
  config.factor_keys = ('label_shape', 'label_scale', 'label_orientation',
                        'label_x_position', 'label_y_position')
  return config
