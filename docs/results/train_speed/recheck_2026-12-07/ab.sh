#!/bin/bash
# Alternating A/B of the train bench at 2 threads: A = the bench binary of this tree (run in
# /work/main), B = the one of 2f5ff70 (a worktree at /tmp/ab_base, built with
# CARGO_TARGET_DIR=/work/main/target cargo bench --bench train --no-run). Args: the two binaries.
A=$1; B=$2
for i in 1 2 3 4; do
  for side in A B; do
    if [ $side = A ]; then dir=/work/main; bin=$A; else dir=/tmp/ab_base; bin=$B; fi
    for t in 2; do
      cpus=$([ $t = 2 ] && echo 0,1 || echo 0)
      (cd $dir && taskset -c $cpus $bin --threads $t 2>&1 | grep '^train_speed' | sed "s/^/side=$side run=$i /")
    done
  done
done
