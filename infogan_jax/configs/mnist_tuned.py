"""MNIST with the two changes that helped c1 in the screen of docs/results.md.

Everything as in configs/mnist.py except:
  - model.leaky_relu_slope = 0.01, the official code's slope (the paper's
    text says 0.1);
  - lambda_continuous = 0.1, a weaker weight on the two continuous codes'
    bound (the paper uses a smaller lambda for continuous codes than for
    categorical ones, without giving MNIST's).
Each change helped c1 in a short screen; configs/mnist.py stays the
faithful default. Results: docs/results.md.

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
