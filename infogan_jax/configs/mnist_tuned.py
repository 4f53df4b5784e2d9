"""MNIST with the two changes that helped c1 in the screen of docs/results.md.

Everything as in configs/mnist.py except:
  - model.leaky_relu_slope = 0.01, the official code's slope (the paper's
    text says 0.1);
  - lambda_continuous = 0.1, a weaker weight on the two continuous codes'
    bound (the paper uses a smaller lambda for continuous codes than for
    categorical ones, without giving MNIST's).
In a 1,500-step screen on seed 1 each change alone raised c1's test accuracy
from 0.670 to 0.86. configs/mnist.py stays the faithful default.

Measured (seed 1, the full 5,000 steps, 2-core AMD EPYC VM, JAX 0.10.2 on
the CPU): test accuracy of c1 0.865 (NMI 0.844, ARI 0.806), against 0.777
for configs/mnist.py on the same seed; 4 and 9 still share two categories.
One seed only: docs/results.md.

Command:
  TFDS_DATA_DIR=../shared/tensorflow_datasets \\
  python -m infogan_jax.main --config=configs/mnist_tuned.py --workdir=/tmp/mnist_tuned
"""

from infogan_jax.configs import mnist


def get_config():
  config = mnist.get_config()
  config.model.leaky_relu_slope = 0.01
  config.lambda_continuous = 0.1
  return config
