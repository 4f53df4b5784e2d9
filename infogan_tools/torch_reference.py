"""A PyTorch eager version of the paper's MNIST train step, as a speed baseline.

Only `benchmark.py --compare_torch` uses it. It does the same work per
iteration as `infogan_jax.step.train_step` on `configs/mnist.py` (same layers, no
bias before batch norm, one D/Q Adam update on real and fake images, then one
G Adam update on fresh fakes, the same losses), in channels-last memory format.
It is not a second implementation to train with: nothing checks that its
numbers match, only that it runs.
"""

from __future__ import annotations

import time

import numpy as np


def measure(batch_size: int, num_steps: int, windows: int,
            warmup: int = 3) -> dict:
  """Median steps/s over `windows` windows of `num_steps` eager steps."""
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)
  cl = torch.channels_last
  noise, num_cat, num_cont = 62, 10, 2

  generator = nn.Sequential(
      nn.Linear(noise + num_cat + num_cont, 1024, bias=False),
      nn.BatchNorm1d(1024), nn.ReLU(),
      nn.Linear(1024, 128 * 7 * 7, bias=False),
      nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
      nn.Unflatten(1, (128, 7, 7)),
      nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
      nn.BatchNorm2d(64), nn.ReLU(),
      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid(),
  ).to(memory_format=cl)
  body = nn.Sequential(
      nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.1),
      nn.Conv2d(64, 128, 4, 2, 1, bias=False),
      nn.BatchNorm2d(128), nn.LeakyReLU(0.1),
      nn.Flatten(),
      nn.Linear(128 * 7 * 7, 1024, bias=False),
      nn.BatchNorm1d(1024), nn.LeakyReLU(0.1),
  ).to(memory_format=cl)
  d_out = nn.Linear(1024, 1)
  q_head = nn.Sequential(
      nn.Linear(1024, 128, bias=False), nn.BatchNorm1d(128),
      nn.LeakyReLU(0.1), nn.Linear(128, num_cat + num_cont))
  d_params = [*body.parameters(), *d_out.parameters(), *q_head.parameters()]
  d_opt = torch.optim.Adam(d_params, lr=2e-4, betas=(0.5, 0.999))
  g_opt = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
  bce = nn.functional.binary_cross_entropy_with_logits
  cross_entropy = nn.functional.cross_entropy
  real = torch.rand(batch_size, 1, 28, 28).contiguous(memory_format=cl)
  ones = torch.ones(batch_size)
  zeros = torch.zeros(batch_size)

  def latents():
    z = torch.rand(batch_size, noise) * 2 - 1
    cat = torch.randint(num_cat, (batch_size,))
    cont = torch.rand(batch_size, num_cont) * 2 - 1
    x = torch.cat([z, nn.functional.one_hot(cat, num_cat).float(), cont], 1)
    return x, cat, cont

  def discriminate(images):
    h = body(images)
    return d_out(h)[:, 0], q_head(h)

  def information(q, cat, cont):
    # The MI bound up to constants: Q's log-likelihood of the codes.
    return (-cross_entropy(q[:, :num_cat], cat) -
            0.5 * ((q[:, num_cat:] - cont) ** 2).sum(1).mean())

  def step():
    x, cat, cont = latents()
    with torch.no_grad():
      fakes = generator(x).contiguous(memory_format=cl)
    real_logits, _ = discriminate(real)
    fake_logits, q = discriminate(fakes)
    d_loss = (bce(real_logits, ones) + bce(fake_logits, zeros) -
              information(q, cat, cont))
    d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    d_opt.step()

    x, cat, cont = latents()
    fake_logits, q = discriminate(generator(x).contiguous(memory_format=cl))
    g_loss = bce(fake_logits, ones) - information(q, cat, cont)
    g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    g_opt.step()

  for _ in range(warmup):
    step()
  rates = []
  for _ in range(windows):
    start = time.perf_counter()
    for _ in range(num_steps):
      step()
    rates.append(num_steps / (time.perf_counter() - start))
  steps_per_sec = float(np.median(rates))
  return {
      'torch_version': torch.__version__,
      'torch_threads': torch.get_num_threads(),
      'steps_per_sec': steps_per_sec,
      'images_per_sec': steps_per_sec * batch_size,
  }
