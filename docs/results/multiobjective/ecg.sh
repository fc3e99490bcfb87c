#!/usr/bin/env bash
# The ECG front of docs/results/multiobjective.md: one multi-objective DCL-ENAS search (proxy
# balanced accuracy against parameters; every candidate's measured latency per beat journalled)
# at the fair comparison's protocol (docs/results/ecg/fair/run.sh) without rescoring and with
# two final seeds, the baseline with the RR features at its stem (the fair comparison's best
# baseline) trained and tested beside every member of the front.
# The run directory is under runs/; a killed search resumes from its journal when this script
# is run again.
#
#   cargo build --release --features flex && cp target/release/dcl-enas /tmp/dcl-enas-mo
#   bash docs/results/multiobjective/ecg.sh
set -u
cd "$(dirname "$0")/../../.."
BIN=${BIN:-/tmp/dcl-enas-mo}
LOGS=docs/results/multiobjective
DIR=runs/ecg_mo_seed0
export RAYON_NUM_THREADS=1 DCL_PROGRESS=lines
if [ -f "$DIR/report.json" ]; then
  echo "done: $DIR/report.json"
elif [ -f "$DIR/journal.jsonl" ]; then
  echo "--- resumed $(date -u +%FT%TZ)" >>"$LOGS/ecg.log"
  "$BIN" ecg search --resume "$DIR" >>"$LOGS/ecg.log" 2>&1
else
  ARGS=(--device flex --budget 30 --final-seeds 0,1 --augment ecg --head-hidden 32
    --proxy-folds 2 --median-beat --feature-entries head,stem,logits --baseline-entry stem
    --multiobjective --infill-reference "${REFERENCE:-median}" --sampled "${SAMPLED:-1000}"
    --seed 0 --out "$DIR")
  echo "$BIN ecg search ${ARGS[*]}" >"$LOGS/ecg.log"
  "$BIN" ecg search "${ARGS[@]}" >>"$LOGS/ecg.log" 2>&1
fi
if [ -f "$DIR/report.json" ]; then
  cp "$DIR/report.json" "$LOGS/ecg_report.json"
  cp "$DIR/front.svg" "$LOGS/ecg_front.svg"
  cp "$DIR/journal.jsonl" "$LOGS/ecg_journal.jsonl"
fi
