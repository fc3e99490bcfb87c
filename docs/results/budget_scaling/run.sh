#!/usr/bin/env bash
# Issue #40 item 4: how the cost of a DCL-ENAS search on NB201 grows with its budget (100, 300,
# 1,000 queries), and the effect of capping each refit at 100 optimiser steps, over search
# seeds 0-2, one thread. Seed by seed (both caps for one seed before the next starts); each
# run is saved as it ends and read back by a later start, so an interrupted script goes on
# where it stopped. The log gets a time stamp per line.
# Usage: bash docs/results/budget_scaling/run.sh burn|native [SEEDS]   (the predictor's
# training engine; SEEDS defaults to "0 1 2")
set -euo pipefail
cd "$(dirname "$0")/../../.."
engine=${1:?burn or native}
seeds=${2:-0 1 2}
dir=docs/results/budget_scaling
cargo bench --bench budget_scaling --no-run
for s in $seeds; do
  {
    echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) engine $engine RAYON_NUM_THREADS=1 seeds $s"
    RAYON_NUM_THREADS=1 cargo bench --bench budget_scaling -- --budget 1000 \
      --checkpoints 100,300,1000 --seeds "$s" --refit-max-steps none,100 \
      --training-engine "$engine" --out "$dir" 2>&1 |
      while IFS= read -r l; do echo "$(date -u +%T) $l"; done
  } >> "$dir/$engine.log"
done
# All seeds together (read back): the lines the results doc quotes.
{
  echo "# $(date -u +%FT%TZ) summary over seeds: ${seeds}"
  RAYON_NUM_THREADS=1 cargo bench --bench budget_scaling -- --budget 1000 \
    --checkpoints 100,300,1000 --seeds "$(echo $seeds | tr ' ' ,)" --refit-max-steps none,100 \
    --training-engine "$engine" --out "$dir" 2>&1
} >> "$dir/$engine.log"
grep '^scaling ' "$dir/$engine.log" | tail -n 6
python3 "$dir/table.py"
