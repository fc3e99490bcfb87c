"""Refit seconds against labels, and when each run found its best, from the run-*.json files
that `benches/budget_scaling.rs` writes. Usage: python3 docs/results/budget_scaling/table.py"""

import glob
import json
import os
import statistics

here = os.path.dirname(os.path.abspath(__file__))
runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(here, "run-*.json")))]


def mean_std(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt(xs, digits):
    m, s = mean_std(xs)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


groups = {}
for r in runs:
    groups.setdefault((r["engine"], r["refit_max_steps"]), []).append(r)

print("| engine | refit cap | seeds | " + " | ".join(f"refit s at {n} labels" for n in (100, 300, 500, 1000)) + " | refits | refit s in all |")
print("|---|---|---|" + "---:|" * 6)
for (engine, cap), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
    cells = []
    for n in (100, 300, 500, 1000):
        # The refits that learnt from n-4..n labels (one query at a time: the five refits up to n).
        xs = []
        for r in rs:
            near = [x["refit_seconds"] for x in r["rounds"] if n - 4 <= x["labels"] <= n]
            if near:
                xs.append(statistics.mean(near))
        cells.append(fmt(xs, 2) if xs else "-")
    total = [sum(x["refit_seconds"] for x in r["rounds"]) for r in rs]
    refits = [len(r["rounds"]) for r in rs]
    print(f"| {engine} | {cap or 'none'} | {','.join(str(r['seed']) for r in rs)} | " + " | ".join(cells) + f" | {fmt(refits, 0)} | {fmt(total, 0)} |")

print()
print("| engine | refit cap | seed | query of the best (1-based) | best test200 acc | queries/s at 100, 300, 1000 |")
print("|---|---|---:|---:|---:|---|")
for r in runs:
    f = r["query_fitness"]
    best = max(range(len(f)), key=lambda i: (f[i], -i))
    q = r["query_seconds"]
    print(f"| {r['engine']} | {r['refit_max_steps'] or 'none'} | {r['seed']} | {best + 1} | {f[best]:.2f} | "
          + ", ".join(f"{n / q[n - 1]:.2f}" for n in (100, 300, 1000)) + " |")
