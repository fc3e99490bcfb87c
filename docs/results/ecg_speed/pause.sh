#!/usr/bin/env bash
# Stops (SIGSTOP) or continues (SIGCONT) the running 'before' search of run.sh, so that other
# work (a compile) never shares the machine with it; each stop and continue is logged with its
# time, and the stopped time is subtracted from the run's wall time (its CPU time is unaffected).
# Usage: bash docs/results/ecg_speed/pause.sh stop|cont
set -euo pipefail
cd "$(dirname "$0")"
pid=$(pgrep -f "^target/before-build/release/dcl-enas ecg search")
case "${1:?stop or cont}" in
  stop) kill -STOP "$pid" ;;
  cont) kill -CONT "$pid" ;;
  *) echo "stop or cont" >&2; exit 2 ;;
esac
echo "$1 $(date -u +%s.%N) pid $pid" >> before_pauses.log
