#!/usr/bin/env bash
# #37 item 1: how well each DS1-only selection signal predicts unseen patients. Forty
# architectures drawn at random (seed 0) from the fair comparison's space (NB201 cells x
# feature entry head/stem/logits), each measured with the fair comparison's settings: the
# search's proxy fitness (two patient folds, 6 epochs on 400 beats per class, proxy training
# seed 0), the rescoring fitness (that and two more proxy trainings, seeds 1 and 2), and three
# final trainings (seeds 0, 1, 2; 2,000 beats per class, at most 15 epochs, early stopping on
# the DS1 validation patients) tested on the pseudo-test patients (DS1 106, 109, 122, 201,
# 220), which no training or choice sees; DS2 is not read.
#
# Two processes (one thread each) share the list; the run directory `study/` keeps every
# architecture's measurements as it finishes, so running this again resumes. When all forty
# are there it writes the summary (report.log, study/summary.json, signals.svg).
#
#   cargo build --release && cp target/release/dcl-enas /tmp/dcl-enas-signals
#   bash docs/results/ecg/signals/run.sh
set -u
cd "$(dirname "$0")/../../../.."
BIN=${BIN:-/tmp/dcl-enas-signals}
OUT=docs/results/ecg/signals
FLAGS=(--pseudo-test --seed 0 --final-seeds 0,1,2 --augment ecg --head-hidden 32
  --proxy-folds 2 --median-beat --rescore-repeats 2 --feature-entries head,stem,logits
  --archs 40 --archs-seed 0 --out "$OUT/study")
export RAYON_NUM_THREADS=1
for part in 0 1; do
  echo "--- part $part/2 started $(date -u +%FT%TZ)" >>"$OUT/part$part.log"
  "$BIN" ecg signals "${FLAGS[@]}" --part "$part/2" >>"$OUT/part$part.log" 2>&1 &
done
wait
"$BIN" ecg signals-report "$OUT/study" --plot "$OUT/signals.svg" >"$OUT/report.log" 2>&1
tail -n 5 "$OUT/report.log"
