#!/usr/bin/env bash
# #37 item 2: another DS1-only selection signal, measured beside item 1's study (run.sh) on
# the same forty architectures with the same settings but the flags given: proxy trainings
# alone (no final training), one proxy training seed (0). Two processes share the list; the
# run directory `signal_NAME/` resumes when this is run again. Then item 1's report again
# with every signal measured so far (report.log, signals.svg).
#
#   bash docs/results/ecg/signals/signal.sh NAME FLAG...
#   e.g. signal.sh lopo --proxy-folds 17      (leave one patient out: 17 trainings each)
#        signal.sh folds4 --proxy-folds 4
set -u
cd "$(dirname "$0")/../../../.."
BIN=${BIN:-/tmp/dcl-enas-signals}
OUT=docs/results/ecg/signals
NAME=$1
shift
# The study's settings but those the signal changes (given after NAME; --proxy-folds
# defaults to the study's 2).
FOLDS=(--proxy-folds 2)
case " $* " in *" --proxy-folds "*) FOLDS=() ;; esac
FLAGS=(--pseudo-test --seed 0 --final-seeds 0,1,2 --augment ecg --head-hidden 32
  "${FOLDS[@]}" --median-beat --rescore-repeats 0 --feature-entries head,stem,logits
  --archs 40 --archs-seed 0 --proxy-only "$@" --out "$OUT/signal_$NAME")
export RAYON_NUM_THREADS=1
for part in 0 1; do
  echo "--- part $part/2 started $(date -u +%FT%TZ)" >>"$OUT/signal_${NAME}_part$part.log"
  "$BIN" ecg signals "${FLAGS[@]}" --part "$part/2" >>"$OUT/signal_${NAME}_part$part.log" 2>&1 &
done
wait
SIGNALS=()
for dir in "$OUT"/signal_*/; do
  name=$(basename "$dir")
  SIGNALS+=(--signal "${name#signal_}=${dir%/}")
done
"$BIN" ecg signals-report "$OUT/study" "${SIGNALS[@]}" --plot "$OUT/signals.svg" \
  >"$OUT/report.log" 2>&1
tail -n 30 "$OUT/report.log"
