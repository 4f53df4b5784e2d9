#!/usr/bin/env bash
# Submits infogan_jax to a SLURM cluster of GPU nodes: sbatch allocates the
# nodes, srun starts the processes, and JAX reads the job's layout from
# SLURM (process count, ids, the coordinator on the first node).
#
#   launch/slurm_gpu.sh CONFIG WORKDIR [--config.FIELD=VALUE ...]
#
# WORKDIR must be on a file system all nodes share (or gs://).
#
# Settings (environment variables):
#   NODES          nodes to allocate (default 2)
#   GPUS_PER_NODE  GPUs of each node to use (default 8)
#   PROCESS_PER    gpu: one process per GPU; node: one per node, driving all
#                  of its GPUs (default gpu)
#   CPUS_PER_TASK  CPU cores per process, for tf.data (default 8)
#   TIME           the job's time limit (default 24:00:00)
#   NOTICE_S       SLURM sends SIGTERM this many seconds before the time
#                  limit: the run saves a checkpoint and exits with status 75;
#                  submit again to resume (default 300)
#   PARTITION      the partition (default: the cluster's)
#   ACCOUNT        the account to charge (default: yours)
#   JOB_NAME       the job's name (default infogan)
#   VENV           a virtualenv with infogan_jax installed, activated on
#                  every node (default: the repository's .venv)
#   LOG_DIR        where SLURM writes the job's output (default WORKDIR/logs)
#   DRY_RUN=1      print the sbatch command instead of submitting it
set -euo pipefail

# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || usage
case $1 in -h|--help) usage ;; esac

config=$1 workdir=$2
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
NODES=${NODES:-2}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
PROCESS_PER=${PROCESS_PER:-gpu}
CPUS_PER_TASK=${CPUS_PER_TASK:-8}
TIME=${TIME:-24:00:00}
NOTICE_S=${NOTICE_S:-300}
PARTITION=${PARTITION:-}
ACCOUNT=${ACCOUNT:-}
JOB_NAME=${JOB_NAME:-infogan}
VENV=${VENV:-$repo/.venv}
LOG_DIR=${LOG_DIR:-$workdir/logs}
DRY_RUN=${DRY_RUN:-0}

require_positive_integers NODES GPUS_PER_NODE CPUS_PER_TASK NOTICE_S
case $PROCESS_PER in
  gpu) tasks_per_node=$GPUS_PER_NODE ;;
  # JAX would otherwise give the node's one process only GPU 0.
  node) tasks_per_node=1
        device_ids=$(seq -s, 0 $((GPUS_PER_NODE - 1))) ;;
  *) echo "PROCESS_PER=$PROCESS_PER: must be gpu or node" >&2; exit 2 ;;
esac

main=(python -m infogan_jax.main "--config=$config" "--workdir=$workdir" "$@")
step="cd $(printf '%q' "$repo") && source $(printf '%q' "$VENV/bin/activate") && "
[ -z "${device_ids:-}" ] || step+="JAX_LOCAL_DEVICE_IDS=$device_ids "
step+="$(printf '%q ' "${main[@]}")"

sbatch=(sbatch "--job-name=$JOB_NAME" "--nodes=$NODES"
        "--ntasks-per-node=$tasks_per_node" "--gpus-per-node=$GPUS_PER_NODE"
        "--cpus-per-task=$CPUS_PER_TASK" "--time=$TIME"
        "--signal=TERM@$NOTICE_S"
        "--output=$LOG_DIR/%x-%j.out")
[ -z "$PARTITION" ] || sbatch+=("--partition=$PARTITION")
[ -z "$ACCOUNT" ] || sbatch+=("--account=$ACCOUNT")
sbatch+=("--wrap=srun bash -c $(printf '%q' "$step")")

if [ "$DRY_RUN" = 1 ]; then
  printf '%q ' "${sbatch[@]}"
  echo
else
  mkdir -p "$LOG_DIR"
  "${sbatch[@]}"
fi
