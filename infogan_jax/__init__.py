"""InfoGAN (Chen et al., 2016) in JAX and Flax."""
