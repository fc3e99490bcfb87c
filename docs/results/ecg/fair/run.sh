#!/usr/bin/env bash
# The fair comparison of docs/results/ecg.md (`## Fair comparison`): the ninth run's protocol
# (its DCL-ENAS searches and baseline-head trainings are the reports
# ../report_features_median_folds2_rescore5x2_seed{0,1,2}.json) against
#   * random search over the same space with the same budget, proxy folds, rescoring and final
#     training, one per search seed; each of these runs also trains the baseline with the RR
#     features at its stem (`--baseline-entry stem`: the baseline's trainings do not depend on
#     the strategy, only on the search seed's data);
#   * the baseline with its own logits head for the features, per search seed;
#   * regularized evolution (population 20, tournament 5) likewise (`re`), each also training
#     the published baseline again.
# Every run keeps a run directory under runs/ and its log here; a killed search resumes from its
# journal when this script is run again (finished ones are skipped).
#
#   cargo build --release --features flex && cp target/release/dcl-enas /tmp/dcl-enas-fair
#   bash docs/results/ecg/fair/run.sh [all|random|logits|re]   # all: seven processes
# When every report is there, it ends with `ecg compare` over the nine reports (compare.log):
# the table and the `ecg model=...` lines of ecg.md's `## Fair comparison`.
set -u
cd "$(dirname "$0")/../../../.."
BIN=${BIN:-/tmp/dcl-enas-fair}
LOGS=docs/results/ecg/fair
PROTOCOL=(--device flex --budget 30 --final-seeds 0,1,2 --augment ecg --head-hidden 32
  --proxy-folds 2 --median-beat --rescore-top 5 --rescore-repeats 2
  --feature-entries head,stem,logits)
export RAYON_NUM_THREADS=1

# search STRATEGY SEED: a search with STRATEGY (random or re) and the baseline with the
# features in its stem (random) or at its head (re: a second repeat of the published one).
search() {
  local strategy=$1 seed=$2
  local dir=runs/ecg_fair_${strategy}_seed$seed log=$LOGS/${strategy}_seed$seed.log
  local entry=stem
  [ "$strategy" = re ] && entry=head
  if [ -f "$dir/report.json" ]; then
    echo "$strategy search seed $seed: done ($dir/report.json)"
  elif [ -f "$dir/journal.jsonl" ]; then
    echo "--- resumed $(date -u +%FT%TZ)" >>"$log"
    "$BIN" ecg search --resume "$dir" >>"$log" 2>&1
  else
    echo "$BIN ecg search ${PROTOCOL[*]} --seed $seed --strategy $strategy --baseline-entry $entry --out $dir" >"$log"
    "$BIN" ecg search "${PROTOCOL[@]}" --seed "$seed" --strategy "$strategy" \
      --baseline-entry "$entry" --out "$dir" >>"$log" 2>&1
  fi
  [ -f "$dir/report.json" ] && cp "$dir/report.json" "$LOGS/report_${strategy}_seed$seed.json"
}

baseline_logits() {
  local seed
  for seed in 0 1 2; do
    local log=$LOGS/baseline_logits_seed$seed.log
    local report=$LOGS/report_baseline_logits_seed$seed.json
    if [ -f "$report" ]; then
      echo "baseline-logits seed $seed: done ($report)"
      continue
    fi
    echo "$BIN ecg baseline ${PROTOCOL[*]} --seed $seed --baseline-entry logits --out $report" >"$log"
    "$BIN" ecg baseline "${PROTOCOL[@]}" --seed "$seed" --baseline-entry logits \
      --out "$report" >>"$log" 2>&1
  done
}

part=${1:-all}
for strategy in random re; do
  if [ "$part" = all ] || [ "$part" = $strategy ]; then
    search $strategy 0 &
    search $strategy 1 &
    search $strategy 2 &
  fi
done
if [ "$part" = all ] || [ "$part" = logits ]; then
  baseline_logits &
fi
wait
REPORTS=(docs/results/ecg/report_features_median_folds2_rescore5x2_seed{0,1,2}.json
  $LOGS/report_random_seed{0,1,2}.json $LOGS/report_baseline_logits_seed{0,1,2}.json)
if ls "${REPORTS[@]}" >/dev/null 2>&1; then
  "$BIN" ecg compare "${REPORTS[@]}" | tee $LOGS/compare.log
fi
# Regularized evolution apart: its reports' baseline is the published one (head) again, which
# the comparison above already counts once per search seed.
if ls $LOGS/report_re_seed{0,1,2}.json >/dev/null 2>&1; then
  "$BIN" ecg compare $LOGS/report_re_seed{0,1,2}.json | tee $LOGS/compare_re.log
fi
