"""The paper's CelebA experiment (InfoGAN, Chen et al. 2016, Appendix C.3).

Data: TFDS `celeb_a` (218x178 faces), center-cropped to 108x108 and resized to
32x32 (area interpolation), scaled to [-1, 1] for G's tanh. The paper does not
give its crop; 108 is the common choice for aligned CelebA in GAN work
(`--config.center_crop=...` changes it).
Codes: 10 x Cat(10), noise 128. Architecture as SVHN: D/Q body conv64 s2,
conv128 s2 BN, conv256 s2 BN (lReLU); Q head FC128 BN lReLU; G FC 2x2x448 BN
ReLU, upconv256 s2 BN ReLU, upconv128 s2 ReLU, upconv64 s2 ReLU, upconv3 s2
tanh.
The paper shows (Figure 5) categorical codes capturing azimuth (pose),
presence of glasses, hair style and emotion.

Command:
  python -m infogan_jax.main --config=configs/celeba.py --workdir=runs/celeba
"""

from infogan_jax.configs import svhn


def get_config():
  config = svhn.get_config()
  config.dataset = 'celeb_a'
  config.cache_dataset = False  # 162,770 decoded images; stream instead
  config.center_crop = 108
  config.image_size = 32
  config.model.categorical_codes = (10,) * 10
  config.model.num_continuous_codes = 0
  config.model.noise_dim = 128
  return config
