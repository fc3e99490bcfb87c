#!/usr/bin/env bash
# Reruns every benchmark command of docs/results/search.md and the NB201/NB101 comparison of
# docs/results/multiobjective.md with the predictor's default training engine (native), on two
# lanes at once, one thread each. Each benchmark's log is written here as <name>.log, each mo
# run's as docs/results/multiobjective/<space>.log (its summary and plots are then copied from
# runs/native/mo_<space>/ to docs/results/multiobjective/<space>/ by hand); a command whose log
# ends in "# done rc=0" is skipped, so the script resumes.
# Usage: bash docs/results/search/native/run.sh [BINARY]   (default target/release/dcl-enas)
set -uo pipefail
bin=$(realpath "${1:-target/release/dcl-enas}")
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-$here/../../../../runs/native}
mkdir -p "$runs"
export RAYON_NUM_THREADS=1 DCL_PROGRESS=lines
one() { # NAME ARGS...: one command into NAME.log (or $LOG)
  local name=$1 log=${LOG:-$here/$1.log}
  shift
  if tail -1 "$log" 2>/dev/null | grep -q '^# done rc=0'; then
    echo "$name: done"
    return
  fi
  rm -rf "$runs/$name"
  { echo "\$ RAYON_NUM_THREADS=1 dcl-enas $* --out runs/$name"
    "$bin" "$@" --out "$runs/$name" 2>&1 | grep -v ' eta '
    echo "# done rc=${PIPESTATUS[0]}"; } > "$log"
  echo "$name: $(tail -1 "$log")"
}
lane_a() {
  one cifar10_test200 benchmark --dataset cifar10 --protocol test200 --seeds 100 --per-seed
  one valid12 benchmark --dataset cifar10,cifar100,imagenet16 --protocol valid12 --seeds 30 --per-seed
  one batch5_test200 benchmark --strategies dcl-enas --dataset cifar10,cifar100,imagenet16 --protocol test200 --seeds 30 --batch 5 --per-seed
  LOG=$here/../../multiobjective/nb101.log one mo_nb101 mo --space nb101 --seeds 30 --per-seed --infill-reference median --sampled 1000
}
lane_b() {
  one cifar100_imagenet16_test200 benchmark --dataset cifar100,imagenet16 --protocol test200 --seeds 30 --per-seed
  one nb101 benchmark --space nb101 --seeds 30 --per-seed
  one batch10_infill10_test200 benchmark --strategies dcl-enas --dataset cifar10,cifar100,imagenet16 --protocol test200 --seeds 30 --batch 10 --infill 10 --per-seed
  LOG=$here/../../multiobjective/nb201.log one mo_nb201 mo --space nb201 --seeds 30 --per-seed --infill-reference median --sampled 1000
}
lane_a &
lane_b &
wait
