"""MNIST with Q on real images and three restarts picked at step 1,000.

configs/mnist_q_on_real.py, whose seeds either separate every digit by step
1,000 or keep a pair of digits in two shared categories to the end, trained
as three restarts (the runs of seeds 3*seed .. 3*seed+2) to step 1,000; the
one whose categories agree best with the other two (`agreement`, from Q on
10,000 unlabelled training images) is trained on alone to step 5,000
(infogan_jax/restarts.py). Costs 3 x 1,000 + 4,000 steps. No label is used
in training or in the pick. Results: docs/results.md.

Command:
  TFDS_DATA_DIR=../shared/tensorflow_datasets \\
  infogan-jax train --config=mnist_restarts --workdir=/tmp/mnist_restarts
"""

from infogan_jax.configs import mnist_q_on_real


def get_config():
  config = mnist_q_on_real.get_config()
  config.restarts = 3
  config.restart_pick_step = 1_000
  config.restart_criterion = 'agreement'
  return config
