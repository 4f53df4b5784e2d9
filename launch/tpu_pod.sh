#!/usr/bin/env bash
# Trains infogan_jax on a Cloud TPU VM pod slice: creates the slice, installs
# the package on every worker, starts the same training command on all
# workers at once (JAX finds the other hosts by itself), waits for it to end,
# and deletes the slice. See docs/launch.md.
#
#   launch/tpu_pod.sh [ACTION] [--config.FIELD=VALUE ...]
#
# Actions:
#   create  create the slice
#   setup   on every worker: clone REPO_URL at BRANCH, install uv (from PyPI,
#           with the image's pip), make a Python WORKER_PYTHON virtualenv
#           ~/infogan_venv with it (the images' Python, 3.10, is too old for
#           the package and jax) and install the package with its [tpu] extra
#   train   start the training on every worker, detached (nohup, setsid): it
#           goes on when this terminal or its connection goes away. Each
#           worker appends its output to ~/infogan_logs/RUN.HOST.log and, when
#           the training ends (whatever its status), copies that log to
#           WORKDIR/logs/
#   status  one line per worker: running, or exited with status N
#   logs    the last LOG_LINES lines of every worker's log (FOLLOW=1: and
#           what comes, until Ctrl-C)
#   wait    poll the workers every POLL_S seconds until the training has ended
#           on all of them; exits with its status (the highest of the workers')
#   stop    send the training the preemption notice (SIGTERM): it saves a
#           checkpoint and exits with status 75; `train` resumes it
#   delete  delete the slice
#   all     (the default) create, setup, train, wait, then delete. The slice
#           is deleted once every worker has reported the training's exit
#           status, or when create, setup or the start fail; never while the
#           training may still run: an interrupted `all` (Ctrl-C, a closed
#           terminal) or a `wait` that cannot reach the workers leaves the
#           slice and the training running; check on it with `status` or
#           `logs`, then `wait` and `delete` (or `delete` at once).
#
# The workdir and the data must be on Cloud Storage (gs://): every worker
# reads and writes them.
#
# The workers run what they clone from REPO_URL at BRANCH, not your working
# copy: commit and push your edits there first. For a private repository,
# give the workers read access: an https URL with a read-only token
# (https://USER:TOKEN@HOST/OWNER/REPO.git; it ends up in each worker's
# ~/infogan_jax/.git/config and in DRY_RUN's output), or an ssh URL with a
# deploy key copied to every worker after `create` (see docs/launch.md).
#
# Settings (environment variables):
#   TPU_NAME         the slice's name (default infogan-pod)
#   ZONE             its zone (default us-central2-b)
#   PROJECT          the Google Cloud project (default: gcloud's)
#   ACCELERATOR_TYPE the slice (default v4-32: 4 hosts x 4 chips)
#   RUNTIME_VERSION  the TPU VM image (default: the one for the generation of
#                    ACCELERATOR_TYPE: v2, v3, v4: tpu-ubuntu2204-base; v5e
#                    (v5litepod-N): v2-alpha-tpuv5-lite; v5p: v2-alpha-tpuv5;
#                    v6e: v2-alpha-tpuv6e)
#   SPOT=1           ask for a Spot slice (preemptible)
#   REPO_URL         where workers clone this repository from (setup)
#   BRANCH           which branch (default main)
#   WORKER_PYTHON    the Python version of the workers' virtualenv, 3.11 or
#                    later (default 3.11); uv takes a python of that version
#                    on the worker, else downloads one (setup)
#   CONFIG           the config, relative to the repository (default configs/mnist.py)
#   WORKDIR          gs://BUCKET/PATH for checkpoints, metrics and samples (train)
#   TFDS_DATA_DIR    gs://BUCKET/PATH holding the prepared TFDS data (train)
#   RUN_NAME         names the run's log files (default: the last part of
#                    WORKDIR); status, logs, wait and stop need it or WORKDIR
#   LOG_LINES        lines per worker that `logs` shows (default 50)
#   FOLLOW=1         `logs` goes on showing new lines
#   POLL_S           seconds between two checks of `wait` (default 60)
#   MAX_POLL_FAILURES  `wait` gives up (the slice is kept) after this many
#                    checks in a row that cannot reach the workers (default 10)
#   KEEP=1           with `all`, keep the slice after training
#   DRY_RUN=1        print the commands instead of running them
set -euo pipefail

# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"

action=all
case ${1:-} in
  create|setup|train|status|logs|wait|stop|delete|all) action=$1; shift ;;
  -h|--help) usage ;;
  --*|'') ;;
  *) echo "unknown action '$1'" >&2; usage ;;
esac

TPU_NAME=${TPU_NAME:-infogan-pod}
ZONE=${ZONE:-us-central2-b}
PROJECT=${PROJECT:-}
ACCELERATOR_TYPE=${ACCELERATOR_TYPE:-v4-32}
RUNTIME_VERSION=${RUNTIME_VERSION:-}
SPOT=${SPOT:-0}
REPO_URL=${REPO_URL:-}
BRANCH=${BRANCH:-main}
WORKER_PYTHON=${WORKER_PYTHON:-3.11}
CONFIG=${CONFIG:-configs/mnist.py}
WORKDIR=${WORKDIR:-}
TFDS_DATA_DIR=${TFDS_DATA_DIR:-}
RUN_NAME=${RUN_NAME:-}
LOG_LINES=${LOG_LINES:-50}
FOLLOW=${FOLLOW:-0}
POLL_S=${POLL_S:-60}
MAX_POLL_FAILURES=${MAX_POLL_FAILURES:-10}
KEEP=${KEEP:-0}
DRY_RUN=${DRY_RUN:-0}

# Checks that need no gcloud, all before the first gcloud command. The paths
# matter only to the actions that train (a local TFDS_DATA_DIR in the shell
# does not stop `create` or `delete`).
if [ "$action" = train ] || [ "$action" = all ]; then
  for name in WORKDIR TFDS_DATA_DIR; do
    case ${!name} in
      ''|gs://?*) ;;
      *) echo "$name=${!name}: must be a gs://BUCKET/PATH (every worker of the slice reads it)" >&2
         exit 2 ;;
    esac
  done
fi
require_positive_integers LOG_LINES POLL_S MAX_POLL_FAILURES
# The package and jax need Python 3.11 or later.
[[ $WORKER_PYTHON =~ ^3\.(1[1-9]|[2-9][0-9])(\.[0-9]+)?$ ]] || {
  echo "WORKER_PYTHON=$WORKER_PYTHON: must be a Python version, 3.11 or later (e.g. 3.11, 3.12.8)" >&2
  exit 2
}
if [ -z "$RUN_NAME" ] && [ -n "$WORKDIR" ]; then
  RUN_NAME=${WORKDIR%/}
  RUN_NAME=${RUN_NAME##*/}
fi
[[ -z $RUN_NAME || $RUN_NAME =~ ^[A-Za-z0-9._-]+$ ]] || {
  echo "RUN_NAME=$RUN_NAME: must be letters, digits, '.', '_' or '-' (set RUN_NAME)" >&2
  exit 2
}

# The TPU VM image for the generation of ACCELERATOR_TYPE.
default_runtime_version() {
  case $ACCELERATOR_TYPE in
    v2-*|v3-*|v4-*) echo tpu-ubuntu2204-base ;;
    v5litepod-*|v5e-*) echo v2-alpha-tpuv5-lite ;;
    v5p-*) echo v2-alpha-tpuv5 ;;
    v6e-*) echo v2-alpha-tpuv6e ;;
    *) echo "ACCELERATOR_TYPE=$ACCELERATOR_TYPE: no default image for it; set RUNTIME_VERSION (see docs/launch.md)" >&2
       return 2 ;;
  esac
}
if [ -z "$RUNTIME_VERSION" ] && { [ "$action" = create ] || [ "$action" = all ]; }; then
  RUNTIME_VERSION=$(default_runtime_version) || exit 2
fi

gcloud_tpu=(gcloud compute tpus tpu-vm)
# On every worker, beside its clone ~/infogan_jax: the virtualenv that setup
# makes and train runs.
venv=infogan_venv
where=("--zone=$ZONE")
[ -z "$PROJECT" ] || where+=("--project=$PROJECT")

need() {
  local name=$1 hint=$2
  if [ -z "${!name}" ]; then
    echo "$name is not set: $hint" >&2
    exit 2
  fi
}
need_run_name() {
  need RUN_NAME "the run's name (default: the last part of WORKDIR); set RUN_NAME or WORKDIR"
}

# One command on the given workers (all, or a number) of the slice.
on_workers() {
  run "${gcloud_tpu[@]}" ssh "$TPU_NAME" "${where[@]}" --worker="$1" --command="$2"
}
on_all_workers() {
  on_workers all "$1"
}
# launch/tpu_worker.sh ARGS... on every worker, in its clone of the repository.
worker_script() {
  on_all_workers "cd infogan_jax && $(printf '%q ' launch/tpu_worker.sh "$@")"
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
  # uv from PyPI, with the image's pip (--user: ~/.local; python3 -m uv finds
  # it there whatever PATH is). uv venv makes the virtualenv afresh with a
  # python WORKER_PYTHON it finds on the worker or downloads (a uv-managed
  # CPython); it has no pip, so uv installs into it.
  on_all_workers "set -e
if [ -d infogan_jax ]; then git -C infogan_jax fetch -q origin $branch && git -C infogan_jax checkout -q -B $branch FETCH_HEAD
else git clone -q --branch $branch $repo infogan_jax; fi
python3 -m pip install -q --user -U uv
rm -rf $venv
python3 -m uv venv -q --python $WORKER_PYTHON $venv
python3 -m uv pip install -q --python $venv/bin/python -e './infogan_jax[tpu]'"
}

# Starts the training on every worker and returns; it runs detached.
train() {
  need WORKDIR 'a gs:// path that every worker can write'
  need TFDS_DATA_DIR 'a gs:// path holding the prepared dataset'
  worker_script start "$RUN_NAME" "$WORKDIR" \
    env "TFDS_DATA_DIR=$TFDS_DATA_DIR" PYTHONUNBUFFERED=1 "../$venv/bin/python" \
    -m infogan_jax.main "--config=$CONFIG" "--workdir=$WORKDIR" "$@"
  [ "$DRY_RUN" = 1 ] || echo "started on every worker; follow it with: launch/tpu_pod.sh logs (RUN_NAME=$RUN_NAME)" >&2
}

# Polls the workers until none is running. Returns 0 once all have ended,
# with their highest exit status in training_status (1 for a worker that has
# none: killed, or never started); returns 1 when it gives up.
training_status=
sleeper=
wait_for_training() {
  need_run_name
  local command out failures=0 ended lost code
  command="cd infogan_jax && $(printf '%q ' launch/tpu_worker.sh status "$RUN_NAME")"
  if [ "$DRY_RUN" = 1 ]; then
    on_all_workers "$command"
    training_status=0
    return 0
  fi
  echo "waiting for the training to end on every worker (a check every ${POLL_S}s; Ctrl-C leaves it running)" >&2
  while :; do
    if out=$(on_all_workers "$command"); then out=${out//$'\r'/}; else out=; fi
    # The lines of launch/tpu_worker.sh status; gcloud may add others.
    ended=$(grep -c ': exited with status [0-9]*$' <<< "$out" || true)
    lost=$(grep -c -e ': stopped without an exit status$' -e ': no run ' <<< "$out" || true)
    if grep -q ': running$' <<< "$out"; then
      failures=0
    elif [ $((ended + lost)) -gt 0 ]; then
      echo "$out" >&2
      training_status=0
      [ "$lost" -eq 0 ] || training_status=1
      while read -r code; do
        [ -z "$code" ] || [ "$code" -le "$training_status" ] || training_status=$code
      done < <(sed -n 's/.*: exited with status \([0-9]*\)$/\1/p' <<< "$out")
      return 0
    else
      failures=$((failures + 1))
      echo "wait: could not read the workers' status ($failures of $MAX_POLL_FAILURES)" >&2
      if [ "$failures" -ge "$MAX_POLL_FAILURES" ]; then
        echo "wait: giving up, the slice is kept; check it with launch/tpu_pod.sh status, then delete it" >&2
        return 1
      fi
    fi
    # In the background: bash runs a trap only once its foreground command
    # has ended, so a signal sent to this script alone (kill PID, a
    # scheduler's SIGTERM) would otherwise wait out the sleep.
    sleep "$POLL_S" & sleeper=$!
    wait "$sleeper"
    sleeper=
  done
}

delete() {
  run "${gcloud_tpu[@]}" delete "$TPU_NAME" "${where[@]}" --quiet
}

case $action in
  create) create ;;
  setup) setup ;;
  train) train "$@" ;;
  status) need_run_name; worker_script status "$RUN_NAME" ;;
  logs)
    need_run_name
    if [ "$FOLLOW" = 1 ]; then
      worker_script logs "$RUN_NAME" "$LOG_LINES" follow
    else
      worker_script logs "$RUN_NAME" "$LOG_LINES"
    fi
    ;;
  wait)
    wait_for_training || exit 1
    exit "$training_status"
    ;;
  stop) need_run_name; worker_script stop "$RUN_NAME" ;;
  delete) delete ;;
  all)
    need REPO_URL 'the git URL the workers clone infogan_jax from'
    need WORKDIR 'a gs:// path that every worker can write'
    need TFDS_DATA_DIR 'a gs:// path holding the prepared dataset'
    create
    # Until the training has started, a failure deletes the slice.
    [ "$KEEP" = 1 ] || trap delete EXIT
    setup
    train "$@"
    # From here on the training runs detached: leaving early keeps the slice.
    trap - EXIT
    trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null || true; echo "interrupted: the training goes on and the slice is kept; see launch/tpu_pod.sh status, logs, wait, delete" >&2; exit 130' INT TERM HUP
    wait_for_training || exit 1
    [ "$DRY_RUN" = 1 ] || echo "training ended with status $training_status" >&2
    [ "$KEEP" = 1 ] || delete
    exit "$training_status"
    ;;
esac
