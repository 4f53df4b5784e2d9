"""Checks of single config fields: each raises a ConfigError naming the
field, its value and what is allowed. Used by `config_validation` and by
each evaluator for its own fields."""

from __future__ import annotations

import numbers

from infogan_jax.errors import ConfigError


def get(config, field: str):
  value = config
  for part in field.split('.'):
    value = value[part]
  return value


def is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_sequence_of(value, predicate) -> bool:
  """A tuple or list (not a string) whose every element satisfies predicate."""
  return (not isinstance(value, (str, bytes)) and hasattr(value, '__iter__')
          and all(predicate(v) for v in value))


def int_at_least(config, field: str, minimum: int):
  value = get(config, field)
  if not is_int(value) or value < minimum:
    raise ConfigError(field, value, f'must be an integer >= {minimum}')


def real_in(config, field: str, low: float, high: float | None = None,
            low_open: bool = False, high_open: bool = True):
  value = get(config, field)
  too_low = value <= low if low_open else value < low
  too_high = high is not None and (value >= high if high_open else value > high)
  if not is_real(value) or too_low or too_high:
    left = '(' if low_open else '['
    right = 'inf)' if high is None else (f'{high})' if high_open else f'{high}]')
    raise ConfigError(field, value, f'must be a number in {left}{low}, {right}')


def non_empty_string(config, field: str):
  value = get(config, field)
  if not isinstance(value, str) or not value:
    raise ConfigError(field, value, 'must be a non-empty string')
