#!/usr/bin/env bash
# Cold `cargo test --workspace` from a fresh copy of HEAD, with an empty target directory:
# compile time (with cargo's --timings report), then the test run. Nothing else should run.
#   bash docs/results/test_time/measure.sh [LOG_DIR [COMMIT]]
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
logs=${1:-/tmp/dcl-test-time}
commit=$(git -C "$repo" rev-parse --short "${2:-HEAD}")
tree=$(mktemp -d) target=$(mktemp -d)
mkdir -p "$logs"
git -C "$repo" archive "$commit" | tar -x -C "$tree"
cd "$tree"
t0=$(date +%s)
CARGO_TARGET_DIR=$target cargo test --workspace --no-run --timings >"$logs/build.log" 2>&1
t1=$(date +%s)
CARGO_TARGET_DIR=$target cargo test --workspace >"$logs/run.log" 2>&1
t2=$(date +%s)
cp "$target"/cargo-timings/cargo-timing.html "$logs/" 2>/dev/null || true
echo "commit=$commit build_s=$((t1 - t0)) run_s=$((t2 - t1)) total_s=$((t2 - t0))"
rm -rf "$tree" "$target"
