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
    print("| setting (seeds 100-109) | hv_fraction at 50 | at 100 | at 150 | mean of the three (criterion) |")
    print("| --- | --- | --- | --- | --- |")
    for name, b in rows:
        cells = [f"{b[k][0]:.3f} ± {b[k][1]:.3f}" if k in b else "" for k in (50, 100, 150)]
        mean = sum(b[k][0] for k in (50, 100, 150) if k in b) / max(1, len(b))
        print(f"| {name} | " + " | ".join(cells) + f" | {mean:.3f} |")


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


RUN = re.compile(r"^  run space=(\S+) dataset=\S+ strategy=(\S+) seed=(\d+) (.*)$")


def per_seed(space):
    """Per-seed hypervolumes from the run's log: {strategy: {budget: [hv, ...]}}."""
    out = {}
    log = os.path.join(HERE, f"{space}.log")
    if not os.path.exists(log):
        return out
    with open(log) as f:
        for line in f:
            m = RUN.match(line)
            if not m:
                continue
            for kv in m.group(4).split():
                k, v = kv.split("=")
                out.setdefault(m.group(2), {}).setdefault(int(k[2:]), []).append(float(v))
    return out


def welch():
    """DCL-ENAS minus NSGA-II: difference of the means, its standard error, Welch's t."""
    for space in ("nb201", "nb101"):
        got = per_seed(space)
        if "dcl-enas" not in got or "nsga2" not in got:
            continue
        whole = None
        summary = os.path.join(HERE, space, "summary.txt")
        if os.path.exists(summary):
            with open(summary) as f:
                for line in f:
                    m = re.match(r"^front .* hv=(\S+)", line)
                    if m:
                        whole = float(m.group(1))
        if whole is None:
            continue
        print(f"\n{space}, DCL-ENAS minus NSGA-II (hv_fraction, Welch):\n")
        print("| budget | difference of means | standard error | t | seeds |")
        print("| --- | --- | --- | --- | --- |")
        for b in sorted(got["dcl-enas"]):
            x = [v / whole for v in got["dcl-enas"][b]]
            y = [v / whole for v in got["nsga2"][b]]
            mx, my = sum(x) / len(x), sum(y) / len(y)
            vx = sum((v - mx) ** 2 for v in x) / (len(x) - 1)
            vy = sum((v - my) ** 2 for v in y) / (len(y) - 1)
            se = (vx / len(x) + vy / len(y)) ** 0.5
            t = (mx - my) / se if se > 0 else float("nan")
            print(f"| {b} | {mx - my:.3f} | {se:.3f} | {t:.2f} | {len(x)} / {len(y)} |")


if __name__ == "__main__":
    tuning()
    reported()
    welch()
