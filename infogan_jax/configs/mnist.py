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

Measured (seed 0): 5,000 steps in 32.5 min wall time (2.6 steps/s, compile and
start-up included) on a 2-core AMD EPYC VM with 24 GiB and no GPU (JAX 0.10.2
on the CPU, one device). At the end `mi_cat_nats` is 2.30 of H(c1) = 2.30
(it passes 2.0 by step 200) and `mi_cont_nats` -0.48 (the ceiling with Q's
std fixed to 1 is -0.45). Eight categories of c1 are one digit each; 7 and 9
share the other two (docs/mnist/seed0_cat0.png), so c1 classifies the test
digits with accuracy 0.887 (`--mode=eval`). Other seeds: docs/results.md.
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
