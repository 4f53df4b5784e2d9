"""MNIST with Q trained on real images too: the screen's winner for c1.

configs/mnist_tuned.py (the official code's leaky slope 0.01 and
lambda_continuous 0.1) plus two terms of D's loss that the paper does not
have, each weighted 1:
  - lambda_real_information: Q's categorical posterior over a real batch
    should spread over all ten categories, each image placed confidently;
  - lambda_consistency: a real digit and a slightly shifted, rotated and
    bent copy of it (config.augment) should get the same posterior.
No label is used: the training input is images only. configs/mnist.py stays
the paper's setup.

Results (the screen that chose it, five full seeds), with their commands
and hardware: README.md and docs/results.md.

Command:
  TFDS_DATA_DIR=../shared/tensorflow_datasets \\
  python -m infogan_jax.main --config=configs/mnist_q_on_real.py --workdir=/tmp/mnist_q_on_real
"""

from infogan_jax.configs import mnist_tuned


def get_config():
  config = mnist_tuned.get_config()
  config.lambda_real_information = 1.0
  config.lambda_consistency = 1.0
  return config
