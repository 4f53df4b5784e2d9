"""The paper's 3D Chairs experiment (InfoGAN, Chen et al. 2016, Appendix C.5).

Data: the rendered chairs of Aubry et al. (2014), 64x64 grayscale. TFDS has no
builder for them: put the images (PNG or JPEG, any size; they are converted to
grayscale and resized to 64x64) under DIR/train/chairs/ and pass
`--config.image_folder=DIR`.
Codes (Appendix table): 3 x Cat(20) and 1 x Unif(-1, 1), noise 128. The main
text speaks of 4 categorical codes; that reading is
`--config.model.categorical_codes="(20, 20, 20, 20)"`.
Architecture: D body conv64 s2, conv128 s2 BN, conv256 s2 BN, conv256 BN,
conv256 BN, FC1024 BN (lReLU); D and Q share everything but their output
units; G FC1024 BN, FC 8x8x256 BN, upconv256 BN, upconv256 BN, upconv128 s2
BN, upconv64 s2 BN (ReLU), upconv1 s2 sigmoid.
The paper shows (Figure 6) a continuous code capturing rotation and another
capturing width, each learned in its own run (Table 7), best of 5 runs:
  --config=configs/chairs3d.py:rotation  D/Q lr 2e-4, G lr 1e-3,
                                         lambda_cont 10, lambda_disc 1
  --config=configs/chairs3d.py:width     D/Q lr 2e-4, G lr 1e-3,
                                         lambda_cont 0.05, lambda_disc 2

Command:
  python -m infogan_jax.main --config=configs/chairs3d.py:rotation \
    --config.image_folder=DIR --workdir=runs/chairs_rotation
"""

from infogan_jax.configs import default

# Table 7 of the paper: (D/Q lr, G lr, lambda continuous, lambda categorical).
VARIANTS = {
    'rotation': (2e-4, 1e-3, 10.0, 1.0),
    'width': (2e-4, 1e-3, 0.05, 2.0),
}


def get_config(variant: str = 'rotation'):
  config = default.get_config()
  config.dataset = 'image_folder'
  config.image_size = 64
  config.image_channels = 1
  config.model.categorical_codes = (20, 20, 20)
  config.model.num_continuous_codes = 1
  config.model.noise_dim = 128
  config.model.generator = ('fc1024-bn-relu', 'fc8x8x256-bn-relu',
                            'up256-bn-relu', 'up256-bn-relu',
                            'up128-s2-bn-relu', 'up64-s2-bn-relu',
                            'up1-s2-sigmoid')
  config.model.shared_body = ('conv64-s2-lrelu', 'conv128-s2-bn-lrelu',
                              'conv256-s2-bn-lrelu', 'conv256-bn-lrelu',
                              'conv256-bn-lrelu', 'fc1024-bn-lrelu')
  config.model.q_head = ()
  d_lr, g_lr, lam_cont, lam_cat = default.select_variant(
      VARIANTS, variant, 'configs/chairs3d.py')
  config.d_learning_rate = d_lr
  config.g_learning_rate = g_lr
  config.lambda_continuous = lam_cont
  config.lambda_categorical = lam_cat
  return config
