#!/usr/bin/env bash
# Issue #40 item 4: how the cost of a DCL-ENAS search on NB201 grows with its budget (100, 300,
# 1,000 queries), and the effect of capping each refit at 100 optimiser steps, over search
# seeds 0-2, one thread. Runs are saved as they end and read back by a second start, so an
# interrupted run goes on where it stopped.
# Usage: bash docs/results/budget_scaling/run.sh burn|native   (the predictor's training engine)
set -euo pipefail
cd "$(dirname "$0")/../../.."
engine=${1:?burn or native}
dir=docs/results/budget_scaling
cargo bench --bench budget_scaling --no-run
{
  echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) engine $engine RAYON_NUM_THREADS=1"
  RAYON_NUM_THREADS=1 cargo bench --bench budget_scaling -- --budget 1000 \
    --checkpoints 100,300,1000 --seeds 0,1,2 --refit-max-steps none,100 \
    --training-engine "$engine" --out "$dir" 2>&1
} >> "$dir/$engine.log"
grep '^scaling ' "$dir/$engine.log" | tail -n 6
