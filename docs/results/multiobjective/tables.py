#!/usr/bin/env python3
"""Markdown tables of docs/results/multiobjective.md from the summaries beside this script:
the tuning grid (tune/*/summary.txt) and the reported runs (nb201/ and nb101/summary.txt).
Usage: python3 docs/results/multiobjective/tables.py"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(
    r"^mo space=(\S+) dataset=(\S+) strategy=(\S+) budget=(\d+) hv=(\S+)±(\S+) "
    r"hv_fraction=(\S+)±(\S+) seeds=(\d+)"
)


def lines(path):
    out = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if m:
                out.append(m.groups())
    return out


def tuning():
    rows = []
    tune = os.path.join(HERE, "tune")
    for name in sorted(os.listdir(tune)):
        summary = os.path.join(tune, name, "summary.txt")
        if not os.path.exists(summary):
            continue
        by_budget = {int(g[3]): (float(g[6]), float(g[7])) for g in lines(summary)}
        rows.append((name, by_budget))
    print("| setting (seeds 100-109) | hv_fraction at 50 | at 100 | at 150 |")
    print("| --- | --- | --- | --- |")
    for name, b in rows:
        cells = [f"{b[k][0]:.3f} ± {b[k][1]:.3f}" if k in b else "" for k in (50, 100, 150)]
        print(f"| {name} | " + " | ".join(cells) + " |")


def reported():
    for space in ("nb201", "nb101"):
        summary = os.path.join(HERE, space, "summary.txt")
        if not os.path.exists(summary):
            continue
        got = lines(summary)
        strategies = list(dict.fromkeys(g[2] for g in got))
        budgets = sorted({int(g[3]) for g in got})
        print(f"\n{space} ({got[0][1]}), hv_fraction (mean ± std over {got[0][8]} seeds):\n")
        print("| strategy | " + " | ".join(f"{b} queries" for b in budgets) + " |")
        print("| --- | " + " | ".join("---" for _ in budgets) + " |")
        for s in strategies:
            cells = []
            for b in budgets:
                g = [x for x in got if x[2] == s and int(x[3]) == b][0]
                cells.append(f"{float(g[6]):.3f} ± {float(g[7]):.3f}")
            print(f"| {s} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    tuning()
    reported()
