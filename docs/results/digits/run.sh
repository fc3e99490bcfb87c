#!/usr/bin/env bash
# DCL-ENAS vs random search vs regularized evolution on the digits example
# (examples/digits/: a PyTorch trainer run by `dcl-enas search` through its [evaluator]).
#
#   cargo build --release && bash docs/results/digits/run.sh
#
# Each (seed, strategy) is a run directory under docs/results/digits/runs/; a run killed
# part-way is resumed by running the script again (`--resume`), finished ones are kept.
# Seeds 0-4, budget 40, 2 workers, everything else as examples/digits/search.toml.
# Needs python3 with torch (CPU wheels) and scikit-learn; see docs/guide.md.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${BIN:-target/release/dcl-enas}
OUT=docs/results/digits/runs
mkdir -p "$OUT"
for seed in 0 1 2 3 4; do
  for strategy in dcl-enas random re; do
    dir=$OUT/$strategy-seed$seed
    if [ -f "$dir/summary.json" ]; then continue; fi
    start=$(date +%s.%N)
    if [ -f "$dir/journal.jsonl" ]; then
      "$BIN" search --resume "$dir" > "$dir.out" 2> "$dir.log"
    else
      "$BIN" search --config examples/digits/search.toml --strategy "$strategy" \
        --seed "$seed" --out "$dir" > "$dir.out" 2> "$dir.log"
    fi
    echo "$strategy seed $seed: $(tail -1 "$dir.out") wall=$(echo "$(date +%s.%N) - $start" | bc)"
  done
done
python3 docs/results/digits/summarize.py "$OUT"
