#!/usr/bin/env bash
# #37 item 3: item 1's study (run.sh) in the wide space: forty architectures drawn at random
# (seed 0) from the cells x feature entries x skeletons of `--wide-space` (channels 8/16/32,
# stages 2/3/4, cells per stage 1/2, stem kernel 5/7/11, conv width 3/5/9, head 0/32/64),
# each measured exactly as there (proxy, rescoring, three final trainings tested on the
# pseudo-test). Resumable (`wide/`); two processes; report in wide_report.log, wide.svg.
#
#   bash docs/results/ecg/signals/wide.sh
set -u
cd "$(dirname "$0")/../../../.."
BIN=${BIN:-/tmp/dcl-enas-signals}
OUT=docs/results/ecg/signals
FLAGS=(--pseudo-test --seed 0 --final-seeds 0,1,2 --augment ecg --head-hidden 32
  --proxy-folds 2 --median-beat --rescore-repeats 2 --feature-entries head,stem,logits
  --wide-space --archs 40 --archs-seed 0 --out "$OUT/wide")
export RAYON_NUM_THREADS=1
for part in 0 1; do
  echo "--- part $part/2 started $(date -u +%FT%TZ)" >>"$OUT/wide_part$part.log"
  "$BIN" ecg signals "${FLAGS[@]}" --part "$part/2" >>"$OUT/wide_part$part.log" 2>&1 &
done
wait
"$BIN" ecg signals-report "$OUT/wide" --plot "$OUT/wide.svg" >"$OUT/wide_report.log" 2>&1
tail -n 12 "$OUT/wide_report.log"
