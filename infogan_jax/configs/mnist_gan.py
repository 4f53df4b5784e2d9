"""Plain-GAN baseline for the paper's MNIST Figure 1.

Everything as in configs/mnist.py except that G's loss has no MI term: Q is
still trained (with D's shared body, by D's loss) on fakes and their codes,
so `mi_cat_nats` measures how much of c1 the generator's images carry when
nothing asks it to keep any. In the paper the bound peaks near 0.55 nats
and falls towards 0.05-0.1, while InfoGAN's reaches H(c1) = 2.30.

Command:
  TFDS_DATA_DIR=../shared/tensorflow_datasets \\
  python -m infogan_jax.main --config=configs/mnist_gan.py --workdir=/tmp/mnist_gan
"""

from infogan_jax.configs import mnist


def get_config():
  config = mnist.get_config()
  config.mi_in_generator_loss = False
  return config
