#!/usr/bin/env bash
# Five runs of the side-by-side bench at 1 and 2 threads, alternating, one at a time.
# Logs into OUT_DIR (default: beside this script); the summary lines end each log.
#   bash docs/results/train_speed/run.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-docs/results/train_speed}
mkdir -p "$out"
cargo bench --bench train --no-run
for run in 1 2 3 4 5; do
  taskset -c 0 cargo bench --bench train -- --threads 1 > "$out/threads1_run$run.log" 2>&1
  taskset -c 0,1 cargo bench --bench train -- --threads 2 > "$out/threads2_run$run.log" 2>&1
done
grep -h '^train_speed' "$out"/threads*_run*.log
