"""The paper's SVHN experiment (InfoGAN, Chen et al. 2016, Appendix C.2).

Data: TFDS `svhn_cropped` (32x32x3 digits), scaled to [-1, 1] for G's tanh.
Codes (Appendix table): 4 x Cat(10) and 4 x Unif(-1, 1), noise 124. The main
text speaks of 2 continuous codes; that reading is
`--config.model.num_continuous_codes=2`.
Architecture: D/Q body conv64 s2 lReLU, conv128 s2 BN lReLU, conv256 s2 BN
lReLU; Q head FC128 BN lReLU; G FC 2x2x448 BN ReLU, upconv256 s2 BN ReLU,
upconv128 s2 ReLU, upconv64 s2 ReLU, upconv3 s2 tanh.
The paper shows (Figure 4) a continuous code capturing lighting and a
categorical code capturing the plate context.

Command:
  python -m infogan_jax.main --config=configs/svhn.py --workdir=runs/svhn
"""

from infogan_jax.configs import default


def get_config():
  config = default.get_config()
  config.dataset = 'svhn_cropped'
  config.cache_dataset = True  # 73,257 small images fit in memory
  config.model.categorical_codes = (10, 10, 10, 10)
  config.model.num_continuous_codes = 4
  config.model.noise_dim = 124
  config.model.generator = ('fc2x2x448-bn-relu', 'up256-s2-bn-relu',
                            'up128-s2-relu', 'up64-s2-relu', 'up3-s2-tanh')
  config.model.shared_body = ('conv64-s2-lrelu', 'conv128-s2-bn-lrelu',
                              'conv256-s2-bn-lrelu')
  config.model.q_head = ('fc128-bn-lrelu',)
  return config
