"""InfoGAN on dSprites (TFDS `dsprites`: 737,280 64x64 binary images of
shapes with five factors: shape, scale, orientation, x and y position).

The setup of InfoGAN-CR's InfoGAN baseline (Lin et al., 2020): 5 continuous
codes and 5 noise dimensions, Q's std fixed, lambda 0.05 for the continuous
codes, batch 64, G lr 1e-3, D lr 2e-3. The networks are a DCGAN-style stack
for 64x64 images: G from 128 units through 4x4x64 and four stride-2 up
convolutions; D and Q share four stride-2 convolutions and a 128-unit layer,
and differ only in their output units.

Evaluation: MIG, FactorVAE score, DCI and SAP on the whole split (dSprites
has one), with the disentanglement_lib protocol's sizes. The split is held
in host memory as uint8: 737,280 x 64 x 64 bytes, 3.0 GB.

dSprites cannot be downloaded on machines without internet access: prepare
it where there is (`tfds build dsprites`) and point --config.data_dir (or
TFDS_DATA_DIR) at the copy.

Command:
  python -m infogan_jax.main --config=configs/dsprites.py --workdir=/tmp/dsprites
"""

from infogan_jax.configs import default


def get_config():
  config = default.get_config()
  config.dataset = 'dsprites'
  config.pixel_max = 1  # TFDS stores dSprites' pixels as 0 and 1
  config.batch_size = 64
  config.num_train_steps = 30_000
  config.d_learning_rate = 2e-3
  config.g_learning_rate = 1e-3
  config.lambda_continuous = 0.05

  config.model.categorical_codes = ()
  config.model.num_continuous_codes = 5
  config.model.noise_dim = 5
  config.model.continuous_std = 'fixed'
  config.model.generator = (
      'fc128-bn-relu', 'fc4x4x64-bn-relu', 'up64-s2-bn-relu',
      'up32-s2-bn-relu', 'up32-s2-bn-relu', 'up1-s2-sigmoid')
  config.model.shared_body = (
      'conv32-s2-lrelu', 'conv32-s2-bn-lrelu', 'conv64-s2-bn-lrelu',
      'conv64-s2-bn-lrelu', 'fc128-bn-lrelu')
  config.model.q_head = ()

  config.evaluators = ('mig', 'factor_vae', 'dci', 'sap')
  config.eval_split = 'train'
  config.eval_every_steps = 0  # at the end
  config.eval_batch_size = 1_024
  config.factor_keys = ('label_shape', 'label_scale', 'label_orientation',
                        'label_x_position', 'label_y_position')
  config.sample_every_steps = 1_000
  config.checkpoint_every_steps = 1_000
  return config
