#!/usr/bin/env bash
# Issue #35 item 7: the fair comparison's DCL-ENAS search for search seed 0, with
# docs/results/ecg.md's settings, timed before the native engine (burn-flex, the code of commit
# 8a3a7d2 built with --features flex, as the fair comparison ran) and after it (the default
# device, native), one run at a time on a quiet machine. Each run starts afresh in
# runs/ecg_speed_WHICH_seed0; its log and report are copied beside this script.
# Usage: bash docs/results/ecg_speed/run.sh after|before
set -euo pipefail
cd "$(dirname "$0")/../../.."
dir=docs/results/ecg_speed
which=${1:?after or before}
case "$which" in
  after)
    cargo build --release
    bin=target/release/dcl-enas device=native commit=$(git rev-parse --short HEAD) ;;
  before)
    # The old code in its own worktree and target directory (under the ignored target/), so
    # neither disturbs this checkout's build; built once, reused by a later run.
    commit=8a3a7d2 src=target/before-tree
    [ -d "$src" ] || git worktree add --detach "$src" "$commit"
    (cd "$src" && CARGO_TARGET_DIR=../before-build cargo build --release --features flex)
    bin=target/before-build/release/dcl-enas device=flex ;;
  *) echo "after or before" >&2; exit 2 ;;
esac
out=runs/ecg_speed_${which}_seed0
rm -rf "$out"
{
  echo "# $(date -u +%FT%TZ) commit $commit device $device RAYON_NUM_THREADS=1"
  RAYON_NUM_THREADS=1 /usr/bin/time -f "# wall %e s, user %U s" "$bin" ecg search \
    --device "$device" --budget 30 --seed 0 --final-seeds 0,1,2 --augment ecg \
    --head-hidden 32 --proxy-folds 2 --median-beat --rescore-top 5 --rescore-repeats 2 \
    --feature-entries head,stem,logits --out "$out" 2>&1
} > "$dir/${which}_seed0.log.tmp"
mv "$dir/${which}_seed0.log.tmp" "$dir/${which}_seed0.log"
cp "$out/report.json" "$dir/${which}_seed0_report.json"
grep '^ecg model=' "$dir/${which}_seed0.log"
tail -n 1 "$dir/${which}_seed0.log"
