#!/usr/bin/env bash
# Five runs of the side-by-side bench at 1 and 2 threads, alternating, one at a time.
# Logs beside this script; the summary lines are the last lines of each log.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=docs/results/train_speed_logs
cargo bench --bench train --no-run
for run in 1 2 3 4 5; do
  taskset -c 0 cargo bench --bench train -- --threads 1 > "$out/threads1_run$run.log" 2>&1
  taskset -c 0,1 cargo bench --bench train -- --threads 2 > "$out/threads2_run$run.log" 2>&1
done
grep -h '^train_speed' "$out"/threads*_run*.log
