#!/bin/bash
# Wall time of a small real-training ECG search on 2 cores: one worker (1 or 2 rayon threads)
# against two workers of one thread each, the same search (batches of 2) in all three.
# Logs: docs/results/search/speedup_*.log; run directories under results/speedup/.
set -e
cd "$(dirname "$0")/../../.."
cargo build --release --features flex --example ecg_search
L=docs/results/search
rm -rf results/speedup
COMMON="--device flex --budget 12 --initial 4 --infill 2 --explore 1 --batch 2 --proxy-per-class 200 --proxy-epochs 2 --pretrain-epochs 1 --final-seeds 0 --full-epochs 1 --full-per-class 50"
for cfg in "1 1" "1 2" "2 1"; do
  set -- $cfg; W=$1; R=$2
  name=speedup_workers${W}_rayon${R}
  echo "\$ RAYON_NUM_THREADS=$R cargo run --release --features flex --example ecg_search -- $COMMON --workers $W --threads-per-worker 1 --run-dir results/speedup/$name" > $L/$name.log
  RAYON_NUM_THREADS=$R /usr/bin/time -v target/release/examples/ecg_search $COMMON --workers $W --threads-per-worker 1 --run-dir results/speedup/$name >> $L/$name.log 2> $L/$name.err
done
