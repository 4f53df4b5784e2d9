"""InfoGAN (Chen et al., 2016) in JAX and Flax.

The public API restores a trained run for notebooks:

    import infogan_jax
    model = infogan_jax.load('runs/mnist')
    images = model.generate(jax.random.key(0), 16, codes={'cat0': 3})

See `infogan_jax.inference` for what the restored model offers. Training runs
through `python -m infogan_jax.main`.
"""

_PUBLIC = {
    'load': 'infogan_jax.inference',
    'TrainedInfoGAN': 'infogan_jax.inference',
    'Posterior': 'infogan_jax.inference',
    'CheckpointNotFoundError': 'infogan_jax.checkpointing',
    'IncompatibleCheckpointError': 'infogan_jax.checkpointing',
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
  # Imported on first use: importing a submodule (the benchmark, the
  # models) does not load Orbax.
  if name in _PUBLIC:
    import importlib  # pylint: disable=g-import-not-at-top
    return getattr(importlib.import_module(_PUBLIC[name]), name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
  return sorted(list(globals()) + __all__)
