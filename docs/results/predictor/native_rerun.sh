#!/usr/bin/env bash
# Reruns, with the default (native) training engine, the tau tables' commands whose logs
# tau_native_*.log were made when the engine was opt-in (NB201 all k, NB101 k = 100 and 172:
# the same lines bit for bit show that the code still computes what those logs hold), and the
# NB101 held-out-tuned settings of the README's headline (rerun_*.log; those had only been made
# with burn's training). One thread each, in sequence; a finished log is skipped.
# Usage: bash docs/results/predictor/native_rerun.sh [BINARY]   (default target/release/dcl-enas)
set -uo pipefail
bin=$(realpath "${1:-target/release/dcl-enas}")
here=$(cd "$(dirname "$0")" && pwd)
export RAYON_NUM_THREADS=1 DCL_PROGRESS=lines
one() { # NAME ARGS...
  local name=$1
  shift
  if tail -1 "$here/$name.log" 2>/dev/null | grep -q '^# done rc=0'; then
    echo "$name: done"
    return
  fi
  { echo "\$ RAYON_NUM_THREADS=1 dcl-enas $*"
    "$bin" "$@" 2>&1 | grep -v ' eta '
    echo "# done rc=${PIPESTATUS[0]}"; } > "$here/$name.log"
  echo "$name: $(tail -1 "$here/$name.log")"
}
one rerun_nb201 predictor eval --space nb201 --seeds 5
one rerun_nb101_k100_172 predictor eval --space nb101 --seeds 5 --pretrain-steps 600 --k 100,172
one rerun_nb101_tuned_k100_172 predictor eval --space nb101 --seeds 5 --pretrain-steps 200 --k 100,172 --variants rnc --finetune-lr 0.003 --finetune-temperature 0.5 --finetune-batch-size 64 --ensemble 5 --finetune-info-nce-weight 0.2
one rerun_nb101_tuned_k424 predictor eval --space nb101 --seeds 5 --pretrain-steps 200 --k 424 --variants rnc --finetune-lr 0.003 --finetune-temperature 0.5 --finetune-batch-size 64 --ensemble 5 --finetune-info-nce-weight 0.2
