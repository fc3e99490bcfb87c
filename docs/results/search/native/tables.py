#!/usr/bin/env python3
"""The per-dataset tables of docs/results/search.md ("Results"), from the benchmark logs in
this directory (the default training engine): for each space, dataset and protocol, one row
per strategy with mean ± std at 50/100/150 queries, the median queries to the optimum (runs
reaching it), seeds and seconds per run, as the program's summary lines give them.

Usage: python3 docs/results/search/native/tables.py
"""
import re
from pathlib import Path

HERE = Path(__file__).parent
LOGS = ["cifar10_test200.log", "cifar100_imagenet16_test200.log", "valid12.log", "nb101.log"]
NAMES = {"random": "random search", "re": "regularized evolution", "dcl-enas": "DCL-ENAS"}
SEARCH = re.compile(
    r"^search space=(\S+) dataset=(\S+) protocol=(\S+) strategy=(\S+) budget=(\d+) "
    r"mean=(\S+) std=(\S+) seeds=(\d+) seconds_per_run=(\S+)", re.M)
OPTIMUM = re.compile(
    r"^optimum space=(\S+) dataset=(\S+) protocol=(\S+) strategy=(\S+) "
    r"median_queries=(\S+) reached=(\S+)", re.M)


def main():
    sections = {}
    for log in LOGS:
        text = (HERE / log).read_text()
        for m in SEARCH.finditer(text):
            row = sections.setdefault(m.group(1, 2, 3), {}).setdefault(m.group(4), {})
            row[int(m.group(5))] = f"{m.group(6)} ± {m.group(7)}"
            row["seeds"], row["s"] = m.group(8), m.group(9)
        for m in OPTIMUM.finditer(text):
            sections.setdefault(m.group(1, 2, 3), {}).setdefault(m.group(4), {})["opt"] = (
                f"{m.group(5)} ({m.group(6)})")
    for (space, dataset, protocol), rows in sections.items():
        print(f"### {space} {dataset} {protocol}\n")
        print("| strategy | @50 | @100 | @150 | median queries to optimum (reached) | seeds | s/run |")
        print("|---|---|---|---|---|---|---|")
        for strategy in ["random", "re", "dcl-enas"]:
            r = rows[strategy]
            print(f"| {NAMES[strategy]} | {r[50]} | {r[100]} | {r[150]} | {r['opt']} | {r['seeds']} | {r['s']} |")
        print()


if __name__ == "__main__":
    main()
