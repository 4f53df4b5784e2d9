#!/usr/bin/env bash
# Times this project's MNIST step on the accelerator JAX sees, in one go
# (minutes on a GPU), and prints one JSON line: see
# infogan_tools/accelerator_check.py for what it measures. Arguments go to it
# (--smoke: a tiny model, for a CPU).
#
# Needs python3 with jax, flax, optax, orbax and ml-collections; no
# TensorFlow, TFDS or clu. On a machine that lacks ml-collections, put its
# wheel (pure Python) in .whl/ beside this repository's files: it is
# installed into /tmp/site first. $PYTHON overrides python3.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if ! "$python" -c 'import ml_collections' 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "error: ml-collections is not installed and .whl/ holds no wheels:" \
      "pip install ml-collections, or put its wheel in .whl/" >&2
    exit 2
  fi
  "$python" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
exec "$python" -m infogan_tools.accelerator_check "$@"
