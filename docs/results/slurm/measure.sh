#!/usr/bin/env bash
# Overhead of the Slurm executor on the local one-node cluster (scripts/slurm-local.sh start),
# and the batch-size trade-off: the same DCL-ENAS NB201 search (seed 0, budget 100) through
# Slurm with batches of 1, 5, 10 and 20 (infill = batch from 5 up), and random search with batches of 20 for the plain
# per-task cost. Prints one line per run and, from the job-completion log, each run's
# submission-to-start latency and tasks per minute.
#
#   cargo build --release && bash docs/results/slurm/measure.sh | tee docs/results/slurm/measure.log
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin=/tmp/dcl-enas-measure
cp target/release/dcl-enas "$bin"
out=$(mktemp -d /tmp/dcl-slurm-measure.XXXX)
jobcomp=${DCL_SLURM_DIR:-/var/tmp/dcl-slurm-local}/jobcomp.log
export RAYON_NUM_THREADS=1 DCL_PROGRESS=lines

run() {
  local name=$1
  shift
  local cfg=$out/$name.toml
  printf 'executor = "slurm"\n%s\n[slurm]\npoll_seconds = 0.5\n' "$*" >"$cfg"
  local t0 t1
  t0=$(date +%s.%N)
  line=$("$bin" search --config "$cfg" --out "$out/$name" 2>"$out/$name.log" | tail -n 1)
  t1=$(date +%s.%N)
  local ids
  ids=$(cat "$out/$name"/slurm/array-*/job_id | paste -sd'|')
  python3 - "$jobcomp" "$ids" "$name" "$t0" "$t1" "$line" <<'PY'
import sys, re, datetime
path, ids, name, t0, t1, line = sys.argv[1:]
ids = set(ids.split("|"))
lat, starts, ends = [], [], []
ts = lambda s: datetime.datetime.fromisoformat(s).timestamp()
for l in open(path):
    f = dict(kv.split("=", 1) for kv in l.split() if "=" in kv)
    if f.get("ArrayJobId") in ids:
        s, st, e = ts(f["SubmitTime"]), ts(f["StartTime"]), ts(f["EndTime"])
        lat.append(st - s); starts.append(s); ends.append(e)
n = len(lat)
wall = float(t1) - float(t0)
print(f"slurm run={name} tasks={n} arrays={len(ids)} wall_s={wall:.1f} "
      f"submit_to_start_mean_s={sum(lat)/n:.2f} submit_to_start_max_s={max(lat):.0f} "
      f"tasks_per_min={n / (wall / 60):.1f} | {line}")
PY
}

search='strategy = "dcl-enas"
budget = 100
seed = 0'
# A round of DCL-ENAS offers `infill` architectures, so batches above 5 need infill = batch
# (as docs/results/search.md's batch-10 rows).
for batch in 1 5 10 20; do
  infill=$((batch < 5 ? 5 : batch))
  run "dcl-batch$batch" "$search
batch = $batch
[dcl_enas]
infill = $infill"
done
run "random-batch20" 'strategy = "random"
budget = 100
seed = 0
batch = 20'
rm -rf "$out"
