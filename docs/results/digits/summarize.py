"""Summarises the digits runs of run.sh: per strategy, over seeds, the best validation accuracy
found (the searched fitness), the test accuracy of that architecture (never used to choose),
the best validation accuracy after 10/20/40 evaluations, and the search's wall time; then
the per-seed paired differences of DCL-ENAS against each other strategy with a t-interval.

    python3 docs/results/digits/summarize.py docs/results/digits/runs
"""

import json
import math
import os
import statistics
import sys

STRATEGIES = ["dcl-enas", "random", "re"]
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def run(path):
    summary = json.load(open(os.path.join(path, "summary.json")))
    records = [json.loads(line) for line in open(os.path.join(path, "journal.jsonl"))]
    evals = sorted((r for r in records if r["type"] == "evaluation" and "fitness" in r),
                   key=lambda r: r.get("slot", 0))
    curve, best = [], -math.inf
    for r in evals:
        best = max(best, r["fitness"])
        curve.append(best)
    chosen = next(r for r in evals if r["arch"] == summary["best_arch"])
    result = json.load(open(os.path.join(path, os.path.dirname(chosen["log"]), "result.json")))
    return {
        "valid": summary["accuracy"],
        "test": result["details"]["test_accuracy"],
        "at": {k: curve[min(k, len(curve)) - 1] for k in (10, 20, 40)},
        "seconds": summary["seconds"],
        "failures": summary["failures"],
        "arch": summary["best_arch"],
    }


def ms(xs):
    return f"{statistics.mean(xs):.2f}±{statistics.stdev(xs) if len(xs) > 1 else 0.0:.2f}"


def main(out):
    runs = {}
    for s in STRATEGIES:
        for name in sorted(os.listdir(out)):
            path = os.path.join(out, name)
            if name.startswith(s + "-seed") and os.path.isfile(os.path.join(path, "summary.json")):
                runs.setdefault(s, {})[int(name.rsplit("seed", 1)[1])] = run(path)
    print("| strategy | seeds | best valid | its test | valid @10 | valid @20 | valid @40 | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for s, by_seed in runs.items():
        r = list(by_seed.values())
        print(f"| {s} | {len(r)} | {ms([x['valid'] for x in r])} | {ms([x['test'] for x in r])} | "
              + " | ".join(ms([x["at"][k] for x in r]) for k in (10, 20, 40))
              + f" | {ms([x['seconds'] for x in r])} |")
    print()
    for s in STRATEGIES[1:]:
        if "dcl-enas" not in runs or s not in runs:
            continue
        seeds = sorted(set(runs["dcl-enas"]) & set(runs[s]))
        for what in ("valid", "test"):
            d = [runs["dcl-enas"][k][what] - runs[s][k][what] for k in seeds]
            if len(d) < 2:
                continue
            m, sd = statistics.mean(d), statistics.stdev(d)
            h = T975[len(d) - 1] * sd / math.sqrt(len(d))
            print(f"paired dcl-enas - {s} ({what}): {m:+.2f}, 95 % t-interval [{m - h:+.2f}, {m + h:+.2f}]"
                  f" over seeds {seeds}: " + " ".join(f"{x:+.2f}" for x in d))
    print()
    for s, by_seed in runs.items():
        r = list(by_seed.values())
        print(f"digits strategy={s} best_valid={ms([x['valid'] for x in r])} "
              f"best_test={ms([x['test'] for x in r])} seconds={ms([x['seconds'] for x in r])} "
              f"seeds={len(r)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/results/digits/runs")
