#!/usr/bin/env bash
# Compares each `dcl-enas benchmark` rerun (cli_rerun_*.log) with the `search_benchmark`
# example's log of the same command: summary lines (timings removed, sorted) and per-seed lines.
#   bash docs/results/search/compare_cli_rerun.sh
cd "$(dirname "$0")"
for pair in cifar10_test200:batch1_test200_cifar10 \
  cifar100_imagenet16_test200:batch1_test200_cifar100_imagenet16 nb101:batch1_nb101 \
  valid12:batch1_valid12 batch5_test200:batch5_test200 \
  batch10_infill10_test200:batch10_infill10_test200; do
  new=cli_rerun_${pair%%:*}.log old=${pair##*:}.log
  lines() { grep "^search\|^optimum" "$1" | sed 's/ seconds_per_run=[0-9.]*//' | sort; }
  s=$(diff <(lines "$old") <(lines "$new") >/dev/null && echo same || echo DIFFERENT)
  r=$(diff <(grep "^  run" "$old") <(grep "^  run" "$new") >/dev/null && echo same || echo DIFFERENT)
  echo "${pair%%:*}: summary $s ($(lines "$new" | wc -l) lines), per-seed $r ($(grep -c '^  run' "$new") lines)"
done
