#!/usr/bin/env bash
# The reported comparison of docs/results/multiobjective.md: random search, NSGA-II and
# multi-objective DCL-ENAS, accuracy against parameters, budgets 50/100/150, seeds 0-29, on
# NB201 CIFAR-10 and on the 20,001-cell NB101 table. NSGA-II at its default settings and
# DCL-ENAS at the ones passed here were chosen on seeds 100-109 (tune.sh).
# Usage: bash docs/results/multiobjective/run.sh [BINARY] [nb201|nb101|all]
# (default target/release/dcl-enas; build it with `cargo build --release --features flex`).
set -euo pipefail
bin=${1:-target/release/dcl-enas}
which=${2:-all}
here=$(cd "$(dirname "$0")" && pwd)
export RAYON_NUM_THREADS=1 DCL_PROGRESS=lines
DCL=(--infill-reference "${REFERENCE:-median}" --sampled "${SAMPLED:-1000}")
for space in nb201 nb101; do
  [ "$which" = all ] || [ "$which" = "$space" ] || continue
  out=$here/$space
  if [ -e "$out/summary.txt" ]; then
    echo "$space: done ($out/summary.txt)"
    continue
  fi
  rm -rf "$out"
  "$bin" mo --space "$space" --seeds 30 --per-seed "${DCL[@]}" --out "$out" > "$here/$space.log" 2>&1
  grep -E '^(front|mo) ' "$here/$space.log"
done
