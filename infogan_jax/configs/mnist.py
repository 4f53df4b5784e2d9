"""The paper's MNIST experiment (InfoGAN, Chen et al. 2016, Appendix C.1).

Architecture as in the paper's table; where the paper is silent, the official
code's choices: batch 128, 5,000 iterations, Adam beta1 0.5, D/Q lr 2e-4, G lr
1e-3, z 62-dim Unif(-1, 1), c = 1 x Cat(10) + 2 x Unif(-1, 1), Q's continuous
codes N(mu, 1), lambda 1 for both code types, G ending in a sigmoid over data in
[0, 1]. The leaky-ReLU slope is the paper's 0.1 (the official code has 0.01:
`--config.model.leaky_relu_slope=0.01`).

Command:
  TFDS_DATA_DIR=../shared/tensorflow_datasets \
  python -m infogan_jax.main --config=configs/mnist.py --workdir=/tmp/mnist

Results, with their commands and hardware: README.md and docs/results.md.
"""

from infogan_jax.configs import default


def get_config():
  config = default.get_config()
  config.dataset = 'mnist'
  config.batch_size = 128
  config.num_train_steps = 5_000
  # c1 as a digit classifier on the 10,000 test images.
  config.evaluators = ('clustering',)
  return config
