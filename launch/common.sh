# shellcheck shell=bash
# Helpers shared by the launch scripts; sourced, not run.

# The script's header comment, as its usage message; exits 2.
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# Stops with a one-line error unless each named variable is a positive integer.
require_positive_integers() {
  local name
  for name in "$@"; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || { echo "$name=${!name}: must be a positive integer" >&2; exit 2; }
  done
}

# Runs a command, or prints it (quoted, ready to paste) when DRY_RUN=1.
run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "$@"
    echo
  else
    "$@"
  fi
}
