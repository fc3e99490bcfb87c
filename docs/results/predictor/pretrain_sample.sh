#!/usr/bin/env bash
# Stage 1 on the whole NB201 space (15,625 cells) against a random sample of it, as a space too
# large to list would be pre-trained: Kendall tau of the dcl variant at k = 156 and 469, seeds
# 0-4, everything else at predictor eval's defaults (10 epochs over what it pre-trains on).
#   bash docs/results/predictor/pretrain_sample.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=docs/results/predictor
for sample in whole 5000 1000; do
  extra=()
  [ "$sample" = whole ] || extra=(--pretrain-sample "$sample")
  ./target/release/dcl-enas predictor eval --space nb201 --k 156,469 --seeds 5 \
    --variants dcl "${extra[@]}" > "$out/pretrain_sample_$sample.log" 2>&1
  tail -2 "$out/pretrain_sample_$sample.log"
done
# The 5,000-cell sample with as many steps as the whole space gets (31 epochs: 620 steps).
./target/release/dcl-enas predictor eval --space nb201 --k 156,469 --seeds 5 --variants dcl \
  --pretrain-sample 5000 --pretrain-epochs 31 > "$out/pretrain_sample_5000_620steps.log" 2>&1
tail -2 "$out/pretrain_sample_5000_620steps.log"
