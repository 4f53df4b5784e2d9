#!/usr/bin/env bash
# Runs on each worker of a TPU slice; launch/tpu_pod.sh calls it there over
# ssh (in the worker's clone of the repository). It starts the training
# detached from the ssh session, so that a dropped connection does not end
# it, and reports on it.
#
#   launch/tpu_worker.sh start RUN WORKDIR COMMAND...
#       run COMMAND in the background (nohup, setsid); refuses while RUN is
#       still running here
#   launch/tpu_worker.sh status RUN
#       one line: 'HOST: running', 'HOST: exited with status N',
#       'HOST: stopped without an exit status' (killed, or the VM restarted)
#       or 'HOST: no run RUN'
#   launch/tpu_worker.sh logs RUN LINES [follow]
#       the log's last LINES lines, each prefixed with 'HOST: '; with
#       `follow`, then the lines to come (until interrupted)
#   launch/tpu_worker.sh stop RUN
#       send SIGTERM, the preemption notice: the training saves a
#       checkpoint and exits with status 75
#
# Files, in LOG_DIR, per run and host: RUN.HOST.log (the output; each start
# appends to it), RUN.HOST.pid, and RUN.HOST.status (the exit status,
# written last). When COMMAND ends, whatever its status, the log is copied
# to WORKDIR/logs/RUN.HOST.log (gcloud storage cp, else gsutil cp).
#
# Settings (environment variables):
#   INFOGAN_LOG_DIR  LOG_DIR (default ~/infogan_logs)
set -euo pipefail

# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || usage
action=$1 run_name=$2
shift 2

host=$(hostname)
log_dir=${INFOGAN_LOG_DIR:-$HOME/infogan_logs}
base=$log_dir/$run_name.$host
log=$base.log

# Whether the run's process (the detached shell of `_run`) is alive; the
# check of its command line guards against a pid reused after a restart.
running() {
  local args
  [ -f "$base.pid" ] && args=$(ps -ww -o args= -p "$(cat "$base.pid")") &&
    [[ $args == *'tpu_worker.sh _run '* ]]
}

# The copy of the log beside the workdir.
copy_log() {
  local target=$1/logs/$run_name.$host.log
  gcloud storage cp "$log" "$target" 2>&1 || gsutil cp "$log" "$target" 2>&1 ||
    echo "== could not copy the log to $target"
}

case $action in
  start)
    [ $# -ge 2 ] || usage
    if running; then
      echo "$host: run $run_name is still running (pid $(cat "$base.pid")); not started" >&2
      exit 1
    fi
    mkdir -p "$log_dir"
    rm -f "$base.status" "$base.pid"
    # setsid: a session of its own, which the end of the ssh session does not
    # hang up; no terminal on stdin, stdout or stderr, so ssh can return.
    nohup setsid "$0" _run "$run_name" "$@" >> "$log" 2>&1 < /dev/null &
    echo $! > "$base.pid"
    echo "$host: started run $run_name, log $log"
    ;;
  _run)
    # (Started by `start`, detached; stdout and stderr are the log.)
    echo $$ > "$base.pid"
    workdir=$1
    shift
    # A SIGTERM (a preemption notice, `stop`) also reaches the training, which
    # saves a checkpoint and exits 75; this shell stays to record that.
    trap 'echo "== $(date -u +%FT%TZ) SIGTERM received"' TERM
    echo "== $(date -u +%FT%TZ) $host: $*"
    status=0
    "$@" || status=$?
    echo "== $(date -u +%FT%TZ) exited with status $status"
    copy_log "$workdir"
    # Written last: once it exists, the log is copied and the run is over.
    echo "$status" > "$base.status.tmp"
    mv "$base.status.tmp" "$base.status"
    exit "$status"
    ;;
  status)
    # (In this order: the status file is written just before the run ends.)
    if running; then
      echo "$host: running"
    elif [ -f "$base.status" ]; then
      echo "$host: exited with status $(cat "$base.status")"
    elif [ -f "$base.pid" ]; then
      echo "$host: stopped without an exit status"
    else
      echo "$host: no run $run_name"
    fi
    ;;
  logs)
    [ $# -ge 1 ] || usage
    lines=$1
    require_positive_integers lines
    [ -f "$log" ] || { echo "$host: no log $log"; exit 0; }
    follow=()
    [ "${2:-}" != follow ] || follow=(-F)
    tail -n "$lines" "${follow[@]}" "$log" | sed -u "s/^/$host: /"
    ;;
  stop)
    if running; then
      # The run leads its own process group (setsid): signal all of it.
      kill -TERM -- "-$(cat "$base.pid")"
      echo "$host: sent SIGTERM to run $run_name"
    else
      echo "$host: run $run_name is not running"
    fi
    ;;
  *) echo "unknown action '$action'" >&2; usage ;;
esac
