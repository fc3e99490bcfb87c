#!/usr/bin/env bash
# The per-candidate cost of the ECG search on the native CPU engine (the default device), for
# sizing #37's runs: the proxy of the fair comparison (two patient folds, 6 epochs on 400
# beats per class, median beat subtracted, ECG augmentation, head width 32) for the four cells
# of proxy_noise_seed0_ps1.log (timed there on burn-flex), each with its RR features in the
# stem; then one final training (2,000 beats per class, at most 15 epochs, one seed) of the
# first. One thread, then two. Release build; nothing else should run.
#   cargo build --release && bash docs/results/ecg/candidate_time/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../../.."
BIN=${BIN:-target/release/dcl-enas}
OUT=docs/results/ecg/candidate_time
FLAGS="--augment ecg --head-hidden 32 --proxy-folds 2 --median-beat"
CELLS=(
  "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|@stem"
  "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|@stem"
  "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|@stem"
  "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|none~1|nor_conv_1x1~2|@stem"
)
for threads in 1 2; do
  start=$(date +%s.%N)
  RAYON_NUM_THREADS=$threads "$BIN" ecg proxy $FLAGS --proxy-train-seed 1 "${CELLS[@]}" \
    > "$OUT/proxy_threads$threads.log" 2>&1
  echo "ecg_candidate_time work=proxy cells=4 folds=2 threads=$threads seconds=$(echo "$(date +%s.%N) - $start" | bc)"
done
for threads in 1 2; do
  start=$(date +%s.%N)
  RAYON_NUM_THREADS=$threads "$BIN" ecg cell $FLAGS --final-seeds 0 "${CELLS[0]}" \
    > "$OUT/final_threads$threads.log" 2>&1
  echo "ecg_candidate_time work=final cells=1 seeds=1 threads=$threads seconds=$(echo "$(date +%s.%N) - $start" | bc)"
done
