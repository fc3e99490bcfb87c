#!/usr/bin/env bash
# Validation balanced accuracy on real MIT-BIH patient folds, native engine vs burn-ndarray,
# over proxy-training seeds 0-4 (issue #35, item 5): `ecg proxy` trains the cell on the README
# configuration's two proxy folds (search seed 0) and prints the mean validation balanced
# accuracy. Resumable: a seed whose log ends with its result line is skipped.
# Usage: bash docs/results/train_engine_accuracy/run.sh [native|ndarray]...
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=docs/results/train_engine_accuracy
bin=${BIN:-target/release/dcl-enas}
# The cell DCL-ENAS found for search seed 0 in the fair comparison (docs/results/ecg.md).
cell='|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|@stem'
devices=("$@")
[ $# -gt 0 ] || devices=(native ndarray)
for device in "${devices[@]}"; do
  for seed in 0 1 2 3 4; do
    log=$dir/${device}_seed$seed.log
    if [ -f "$log" ] && grep -q '^ecg proxy_fitness=' "$log"; then continue; fi
    { echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-unset}"
      /usr/bin/time -f "# wall %e s, user %U s" "$bin" ecg proxy "$cell" --augment ecg \
        --head-hidden 32 --proxy-folds 2 --median-beat --feature-entries head,stem,logits \
        --proxy-train-seed "$seed" --device "$device" 2>&1
    } > "$log.tmp"
    mv "$log.tmp" "$log"
    tail -n 2 "$log"
  done
done
