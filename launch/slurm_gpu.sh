#!/usr/bin/env bash
# Submits infogan_jax to a SLURM cluster of GPU nodes: sbatch runs the batch
# script launch/infogan.sbatch on the allocated nodes, its srun starts the
# processes, and JAX reads the job's layout from SLURM (process count, ids,
# the coordinator on the first node). See docs/launch.md.
#
#   launch/slurm_gpu.sh CONFIG WORKDIR [--config.FIELD=VALUE ...]
#
# WORKDIR must be on a file system all nodes share (or gs://). A relative
# WORKDIR, LOG_DIR or VENV is taken from the directory you submit from, and
# passed on as an absolute path.
#
# The job gets SIGTERM NOTICE_S seconds before its time limit: the training
# saves a checkpoint and exits with status 75, and the job requeues itself
# (same job id, same log file) to resume, up to MAX_REQUEUES times. Other
# failures are not requeued; srun --kill-on-bad-exit=1 ends the job when any
# process fails.
#
# Settings (environment variables):
#   NODES          nodes to allocate (default 2)
#   GPUS_PER_NODE  GPUs of each node to use (default 8)
#   PROCESS_PER    gpu: one process per GPU; node: one per node, driving all
#                  of its GPUs (default gpu)
#   CPUS_PER_TASK  CPU cores per process, for tf.data (default 4 per GPU
#                  the process drives: 4 with PROCESS_PER=gpu, 4 x
#                  GPUS_PER_NODE with node; 32 on an 8-GPU node, which most
#                  GPU nodes have, where 8 per GPU would ask for 64)
#   TIME           the job's time limit (default 24:00:00)
#   NOTICE_S       SLURM sends SIGTERM this many seconds before the time
#                  limit (default 300)
#   MAX_REQUEUES   requeues after a preemption (status 75) (default 3)
#   PARTITION      the partition (default: the cluster's)
#   ACCOUNT        the account to charge (default: yours)
#   JOB_NAME       the job's name (default infogan)
#   SBATCH_EXTRA   more sbatch options, split at spaces, e.g.
#                  '--qos=high --constraint=a100 --mail-type=END'; they come
#                  last, so they override the ones above
#   VENV           a virtualenv with infogan_jax installed with its [cuda12]
#                  extra (jax with CUDA): pip install -e '.[cuda12]'; activated
#                  in the job (default: the repository's .venv). Submitting
#                  checks that its jax has the CUDA plugin (DRY_RUN: warns)
#   LOG_DIR        where SLURM writes the job's output, %x-%j.out (default
#                  WORKDIR/logs; ./slurm_logs when WORKDIR is gs:// or
#                  another URL, which SLURM cannot write to)
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
CPUS_PER_TASK=${CPUS_PER_TASK:-}
TIME=${TIME:-24:00:00}
NOTICE_S=${NOTICE_S:-300}
PARTITION=${PARTITION:-}
ACCOUNT=${ACCOUNT:-}
JOB_NAME=${JOB_NAME:-infogan}
VENV=${VENV:-$repo/.venv}
MAX_REQUEUES=${MAX_REQUEUES:-3}
SBATCH_EXTRA=${SBATCH_EXTRA:-}
url='^[A-Za-z][A-Za-z0-9+.-]*://'
[ -n "$workdir" ] || { echo "WORKDIR is empty: give the run's directory (or a gs:// URL)" >&2; exit 2; }
# Relative paths are made absolute here, against the directory you submit
# from: the training resolves --workdir in the repository (where the job
# changes to), SLURM resolves --output in the job's directory (the one
# sbatch ran in), and the job sources VENV after changing directory.
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/${1#./}" ;; esac; }
[[ $workdir =~ $url ]] || workdir=$(absolute "$workdir")
VENV=$(absolute "$VENV")
# SLURM writes its logs to the nodes' file system, never to a URL (gs://...):
# with a URL workdir they go to ./slurm_logs.
if [ -z "${LOG_DIR:-}" ]; then
  if [[ $workdir =~ $url ]]; then LOG_DIR=$PWD/slurm_logs; else LOG_DIR=$workdir/logs; fi
fi
[[ $LOG_DIR =~ $url ]] || LOG_DIR=$(absolute "$LOG_DIR")
DRY_RUN=${DRY_RUN:-0}

require_positive_integers NODES GPUS_PER_NODE NOTICE_S
[[ $MAX_REQUEUES =~ ^[0-9]+$ ]] || { echo "MAX_REQUEUES=$MAX_REQUEUES: must be 0 or a positive integer" >&2; exit 2; }
case $PROCESS_PER in
  gpu) tasks_per_node=$GPUS_PER_NODE gpus_per_process=1 ;;
  node) tasks_per_node=1 gpus_per_process=$GPUS_PER_NODE ;;
  *) echo "PROCESS_PER=$PROCESS_PER: must be gpu or node" >&2; exit 2 ;;
esac
# 4 cores per GPU: 32 per 8-GPU node fits most GPU nodes (8 per GPU asked 64).
[ -n "$CPUS_PER_TASK" ] || CPUS_PER_TASK=$((4 * gpus_per_process))
require_positive_integers CPUS_PER_TASK
[[ ! $LOG_DIR =~ $url ]] || { echo "LOG_DIR=$LOG_DIR: must be a directory of the cluster, not a URL" >&2; exit 2; }
# (sbatch's --export, which passes them to the job, splits at commas.)
case $repo,$VENV in *,*,*) echo "the repository ($repo) and VENV ($VENV) must have no comma in their paths" >&2; exit 2 ;; esac
read -r -a extra <<< "$SBATCH_EXTRA"

# The job's jax needs its CUDA plugin, which the package's [cuda12] extra
# installs (a plain install is CPU-only). Whether VENV has it needs no GPU:
# its python looks for the module. A submission refuses without it; a dry
# run, which may run away from the cluster, only warns.
install="$VENV/bin/pip install -e '${repo}[cuda12]'"
venv_problem=
if [ ! -x "$VENV/bin/python" ]; then
  venv_problem="VENV=$VENV: no virtualenv there ($VENV/bin/python is missing); make one: python3 -m venv $VENV && $install"
else
  checked=0
  "$VENV/bin/python" -c 'import importlib.util as u, sys
sys.exit(0 if any(u.find_spec(m) for m in ("jax_cuda12_plugin", "jax_cuda13_plugin")) else 3)' || checked=$?
  case $checked in
    0) ;;
    3) venv_problem="VENV=$VENV: its jax has no CUDA plugin (jax_cuda12_plugin), so the job would run on CPUs; install the [cuda12] extra: $install" ;;
    *) echo "warning: could not check VENV's jax ($VENV/bin/python exited with status $checked); submitting anyway" >&2 ;;
  esac
fi
if [ -n "$venv_problem" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    echo "warning: $venv_problem" >&2
  else
    echo "$venv_problem" >&2
    exit 2
  fi
fi

sbatch=(sbatch "--job-name=$JOB_NAME" "--nodes=$NODES"
        "--ntasks-per-node=$tasks_per_node" "--gpus-per-node=$GPUS_PER_NODE"
        "--cpus-per-task=$CPUS_PER_TASK" "--time=$TIME"
        "--signal=TERM@$NOTICE_S"
        "--output=$LOG_DIR/%x-%j.out"
        "--export=ALL,INFOGAN_REPO=$repo,INFOGAN_VENV=$VENV,INFOGAN_GPUS_PER_PROCESS=$gpus_per_process,MAX_REQUEUES=$MAX_REQUEUES")
[ -z "$PARTITION" ] || sbatch+=("--partition=$PARTITION")
[ -z "$ACCOUNT" ] || sbatch+=("--account=$ACCOUNT")
[ ${#extra[@]} -eq 0 ] || sbatch+=("${extra[@]}")
sbatch+=("$repo/launch/infogan.sbatch" "--config=$config" "--workdir=$workdir" "$@")

[ "$DRY_RUN" = 1 ] || mkdir -p "$LOG_DIR"
run "${sbatch[@]}"
