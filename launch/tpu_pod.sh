#!/usr/bin/env bash
# Trains infogan_jax on a Cloud TPU VM pod slice: creates the slice, installs
# the package on every worker, runs the same training command on all workers
# at once (JAX finds the other hosts by itself), and deletes the slice.
#
#   launch/tpu_pod.sh [create|setup|train|delete|all] [--config.FIELD=VALUE ...]
#
# `all` (the default) runs create, setup and train, then delete, which also
# runs when training fails (KEEP=1 keeps the slice). The workdir and the data
# must be on Cloud Storage: every worker reads and writes them.
#
# Settings (environment variables):
#   TPU_NAME         the slice's name (default infogan-pod)
#   ZONE             its zone (default us-central2-b)
#   PROJECT          the Google Cloud project (default: gcloud's)
#   ACCELERATOR_TYPE the slice (default v4-32: 4 hosts x 4 chips)
#   RUNTIME_VERSION  the TPU VM image (default tpu-ubuntu2204-base)
#   SPOT=1           ask for a Spot slice (preemptible)
#   REPO_URL         where workers clone this repository from (setup)
#   BRANCH           which branch (default main)
#   CONFIG           the config, relative to the repository (default configs/mnist.py)
#   WORKDIR          gs://BUCKET/PATH for checkpoints, metrics and samples (train)
#   TFDS_DATA_DIR    gs://BUCKET/PATH holding the prepared TFDS data (train)
#   KEEP=1           with `all`, keep the slice after training
#   DRY_RUN=1        print the commands instead of running them
set -euo pipefail

# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"

action=all
case ${1:-} in
  create|setup|train|delete|all) action=$1; shift ;;
  -h|--help) usage ;;
  --*|'') ;;
  *) echo "unknown action '$1'" >&2; usage ;;
esac

TPU_NAME=${TPU_NAME:-infogan-pod}
ZONE=${ZONE:-us-central2-b}
PROJECT=${PROJECT:-}
ACCELERATOR_TYPE=${ACCELERATOR_TYPE:-v4-32}
RUNTIME_VERSION=${RUNTIME_VERSION:-tpu-ubuntu2204-base}
SPOT=${SPOT:-0}
REPO_URL=${REPO_URL:-}
BRANCH=${BRANCH:-main}
CONFIG=${CONFIG:-configs/mnist.py}
WORKDIR=${WORKDIR:-}
TFDS_DATA_DIR=${TFDS_DATA_DIR:-}
KEEP=${KEEP:-0}
DRY_RUN=${DRY_RUN:-0}

gcloud_tpu=(gcloud compute tpus tpu-vm)
where=("--zone=$ZONE")
[ -z "$PROJECT" ] || where+=("--project=$PROJECT")

need() {
  local name=$1 hint=$2
  if [ -z "${!name}" ]; then
    echo "$name is not set: $hint" >&2
    exit 2
  fi
}

# One command on every worker of the slice at once.
on_all_workers() {
  run "${gcloud_tpu[@]}" ssh "$TPU_NAME" "${where[@]}" --worker=all --command="$1"
}

create() {
  local flags=("--accelerator-type=$ACCELERATOR_TYPE" "--version=$RUNTIME_VERSION")
  [ "$SPOT" != 1 ] || flags+=(--spot)
  run "${gcloud_tpu[@]}" create "$TPU_NAME" "${where[@]}" "${flags[@]}"
}

setup() {
  need REPO_URL 'the git URL the workers clone infogan_jax from'
  local repo branch
  repo=$(printf '%q' "$REPO_URL")
  branch=$(printf '%q' "$BRANCH")
  on_all_workers "set -e
if [ -d infogan_jax ]; then git -C infogan_jax fetch -q origin $branch && git -C infogan_jax checkout -q -B $branch FETCH_HEAD
else git clone -q --branch $branch $repo infogan_jax; fi
python3 -m venv infogan_venv
infogan_venv/bin/pip install -q -U pip
infogan_venv/bin/pip install -q -e ./infogan_jax 'jax[tpu]'"
}

train() {
  need WORKDIR 'a gs:// path that every worker can write'
  need TFDS_DATA_DIR 'a gs:// path holding the prepared dataset'
  local command
  command=$(printf '%q ' env "TFDS_DATA_DIR=$TFDS_DATA_DIR" ../infogan_venv/bin/python \
    -m infogan_jax.main "--config=$CONFIG" "--workdir=$WORKDIR" "$@")
  on_all_workers "cd infogan_jax && $command"
}

delete() {
  run "${gcloud_tpu[@]}" delete "$TPU_NAME" "${where[@]}" --quiet
}

case $action in
  create) create ;;
  setup) setup ;;
  train) train "$@" ;;
  delete) delete ;;
  all)
    need REPO_URL 'the git URL the workers clone infogan_jax from'
    need WORKDIR 'a gs:// path that every worker can write'
    need TFDS_DATA_DIR 'a gs:// path holding the prepared dataset'
    create
    [ "$KEEP" = 1 ] || trap delete EXIT
    setup
    train "$@"
    ;;
esac
