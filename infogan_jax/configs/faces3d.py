"""The paper's 3D Faces experiment (InfoGAN, Chen et al. 2016, Appendix C.4).

Data: the Basel-face renderings of Paysan et al. (2009), 32x32 grayscale. TFDS
has no builder for them: put the images (PNG or JPEG, any size; they are
converted to grayscale and resized to 32x32) under DIR/train/faces/ and pass
`--config.image_folder=DIR`.
Codes: 5 x Unif(-1, 1), noise 128. Architecture: D body conv64 s2 lReLU,
conv128 s2 BN lReLU, FC1024 BN lReLU; D and Q share everything but their
output units (no Q head); G FC1024 BN ReLU, FC 8x8x128 BN ReLU, upconv64 s2 BN
ReLU, upconv1 s2 sigmoid.
The paper shows (Figure 3) continuous codes capturing azimuth (pose),
elevation, lighting and wide-vs-narrow face shape, each learned in its own
run with its own learning rates and lambda (Table 5), best of 5 runs. Those
runs are the variants:
  --config=configs/faces3d.py:azimuth     D/Q lr 2e-4, G lr 5e-4, lambda 0.2
  --config=configs/faces3d.py:elevation   D/Q lr 4e-4, G lr 3e-4, lambda 0.1
  --config=configs/faces3d.py:lighting    D/Q lr 8e-4, G lr 3e-4, lambda 0.1
  --config=configs/faces3d.py:wide_narrow as lighting

Command:
  python -m infogan_jax.main --config=configs/faces3d.py:azimuth \
    --config.image_folder=DIR --workdir=runs/faces_azimuth
"""

from infogan_jax.configs import default

# Table 5 of the paper: (D/Q learning rate, G learning rate, lambda).
VARIANTS = {
    'azimuth': (2e-4, 5e-4, 0.2),
    'elevation': (4e-4, 3e-4, 0.1),
    'lighting': (8e-4, 3e-4, 0.1),
    'wide_narrow': (8e-4, 3e-4, 0.1),
}


def get_config(variant: str = 'azimuth'):
  config = default.get_config()
  config.dataset = 'image_folder'
  config.image_size = 32
  config.image_channels = 1
  config.model.categorical_codes = ()
  config.model.num_continuous_codes = 5
  config.model.noise_dim = 128
  config.model.generator = ('fc1024-bn-relu', 'fc8x8x128-bn-relu',
                            'up64-s2-bn-relu', 'up1-s2-sigmoid')
  config.model.shared_body = ('conv64-s2-lrelu', 'conv128-s2-bn-lrelu',
                              'fc1024-bn-lrelu')
  config.model.q_head = ()
  d_lr, g_lr, lam = default.select_variant(
      VARIANTS, variant, 'configs/faces3d.py')
  config.d_learning_rate = d_lr
  config.g_learning_rate = g_lr
  config.lambda_continuous = lam
  return config
