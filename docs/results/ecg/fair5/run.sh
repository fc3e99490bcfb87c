#!/usr/bin/env bash
# #37 item 4: the fair comparison again, at 5 search seeds and a budget of 60. The protocol of
# ecg.md's `## Fair comparison` (DS1 for every choice, DS2 tested once per final network) on
# the native engine: DCL-ENAS, random search and regularized evolution over the same space
# with the same budget, proxy (two patient folds), rescoring (the best 5 twice more) and final
# training (seeds 0, 1, 2); each search also trains the baseline with one feature entry
# (DCL-ENAS: head, as published; random: stem; RE: logits), so every seed has all three.
# EXTRA adds flags to every run (e.g. EXTRA=--wide-space for item 3's space).
#
# Fifteen searches, two at a time (one thread each); each keeps its run directory under
# runs/ and resumes from its journal when this is run again (finished ones are skipped). When
# all fifteen reports are there: `ecg compare` with the paired differences (compare.log).
#
#   cargo build --release && cp target/release/dcl-enas /tmp/dcl-enas-fair5
#   bash docs/results/ecg/fair5/run.sh
set -u
cd "$(dirname "$0")/../../../.."
BIN=${BIN:-/tmp/dcl-enas-fair5}
LOGS=docs/results/ecg/fair5
EXTRA=${EXTRA:-}
export BIN LOGS EXTRA RAYON_NUM_THREADS=1

one() {
  local strategy=$1 seed=$2 entry
  case $strategy in dcl-enas) entry=head ;; random) entry=stem ;; re) entry=logits ;; esac
  local dir=runs/ecg_fair5_${strategy}_seed$seed log=$LOGS/${strategy}_seed$seed.log
  local protocol=(--budget 60 --final-seeds 0,1,2 --augment ecg --head-hidden 32
    --proxy-folds 2 --median-beat --rescore-top 5 --rescore-repeats 2
    --feature-entries head,stem,logits $EXTRA)
  if [ -f "$LOGS/report_${strategy}_seed$seed.json" ]; then
    echo "$strategy seed $seed: done"
    return
  elif [ -f "$dir/journal.jsonl" ]; then
    echo "--- resumed $(date -u +%FT%TZ)" >>"$log"
    "$BIN" ecg search --resume "$dir" >>"$log" 2>&1
  else
    echo "$BIN ecg search ${protocol[*]} --seed $seed --strategy $strategy --baseline-entry $entry --out $dir" >"$log"
    "$BIN" ecg search "${protocol[@]}" --seed "$seed" --strategy "$strategy" \
      --baseline-entry "$entry" --out "$dir" >>"$log" 2>&1
  fi
  [ -f "$dir/report.json" ] && cp "$dir/report.json" "$LOGS/report_${strategy}_seed$seed.json"
}
export -f one

for seed in 0 1 2 3 4; do
  for strategy in dcl-enas random re; do echo "$strategy $seed"; done
done | xargs -P 2 -L 1 bash -c 'one "$0" "$1"'

REPORTS=("$LOGS"/report_{dcl-enas,random,re}_seed{0,1,2,3,4}.json)
if ls "${REPORTS[@]}" >/dev/null 2>&1; then
  "$BIN" ecg compare "${REPORTS[@]}" --paired dcl-enas:random-search \
    --paired dcl-enas:regularized-evolution --paired dcl-enas:baseline-head \
    --paired dcl-enas:baseline-stem --paired dcl-enas:baseline-logits | tee "$LOGS/compare.log"
fi
