#!/usr/bin/env bash
# Starts one infogan_jax job of several processes on this machine: the
# multi-process set-up of a pod or a cluster, on one host. Each process gets
# DEVICES_PER_PROCESS CPU devices (PLATFORM=cpu) or one GPU (PLATFORM=gpu).
# Process 0 writes to the terminal, the others to LOG_DIR/process_N.log; the
# script waits for all of them and fails if any fails.
#
#   launch/local.sh CONFIG WORKDIR [--config.FIELD=VALUE ...]
#
# Settings (environment variables):
#   NUM_PROCESSES        processes to start (default 2)
#   DEVICES_PER_PROCESS  CPU devices per process, PLATFORM=cpu (default 2)
#   PLATFORM             cpu or gpu (default cpu)
#   PORT                 the coordinator's port on localhost (default 12355)
#   TIMEOUT_S            give up if the processes do not all join (default 120)
#   LOG_DIR              logs of processes 1.. (default WORKDIR/logs)
#   PYTHON               the interpreter (default python3)
#   DRY_RUN=1            print the commands instead of running them
set -euo pipefail

# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || usage
case $1 in -h|--help) usage ;; esac

config=$1 workdir=$2
shift 2
NUM_PROCESSES=${NUM_PROCESSES:-2}
DEVICES_PER_PROCESS=${DEVICES_PER_PROCESS:-2}
PLATFORM=${PLATFORM:-cpu}
PORT=${PORT:-12355}
TIMEOUT_S=${TIMEOUT_S:-120}
LOG_DIR=${LOG_DIR:-$workdir/logs}
PYTHON=${PYTHON:-python3}
DRY_RUN=${DRY_RUN:-0}

case $PLATFORM in cpu|gpu) ;; *) echo "PLATFORM=$PLATFORM: must be cpu or gpu" >&2; exit 2 ;; esac
require_positive_integers NUM_PROCESSES DEVICES_PER_PROCESS PORT TIMEOUT_S

cd "$(dirname "$0")/.."
[ "$DRY_RUN" = 1 ] || mkdir -p "$LOG_DIR"

pids=()
for ((i = 0; i < NUM_PROCESSES; i++)); do
  if [ "$PLATFORM" = cpu ]; then
    device_env=(JAX_PLATFORMS=cpu "XLA_FLAGS=${XLA_FLAGS:-} --xla_force_host_platform_device_count=$DEVICES_PER_PROCESS")
  else
    device_env=("CUDA_VISIBLE_DEVICES=$i")
  fi
  command=(env "${device_env[@]}" "$PYTHON" -m infogan_jax.main
           "--config=$config" "--workdir=$workdir"
           "--coordinator_address=localhost:$PORT"
           "--num_processes=$NUM_PROCESSES" "--process_id=$i"
           "--distributed_timeout_s=$TIMEOUT_S" "$@")
  if [ "$DRY_RUN" = 1 ]; then
    printf '%q ' "${command[@]}"
    if [ "$i" -gt 0 ]; then printf '> %q 2>&1 &\n' "$LOG_DIR/process_$i.log"; else printf '&\n'; fi
    continue
  fi
  if [ "$i" -eq 0 ]; then
    "${command[@]}" &
  else
    "${command[@]}" > "$LOG_DIR/process_$i.log" 2>&1 &
  fi
  pids+=($!)
done
[ "$DRY_RUN" = 1 ] && { echo wait; exit 0; }

# Stop every process if this script is interrupted.
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM
status=0
for i in "${!pids[@]}"; do
  # wait returns early (status > 128) when a trapped signal arrives; wait
  # again for the process's own status (75 after a SIGTERM: preempted).
  while :; do
    code=0
    wait "${pids[$i]}" || code=$?
    if [ "$code" -le 128 ] || ! kill -0 "${pids[$i]}" 2>/dev/null; then break; fi
  done
  if [ "$code" -ne 0 ]; then
    echo "process $i exited with status $code (log: $([ "$i" -eq 0 ] && echo terminal || echo "$LOG_DIR/process_$i.log"))" >&2
    [ "$status" -ne 0 ] || status=$code
  fi
done
exit "$status"
