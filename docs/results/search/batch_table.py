#!/usr/bin/env python3
"""The batch-size table of docs/results/search.md, from the --per-seed lines of the logs here.

k = 1 is read from the batch-1 benchmark logs (CIFAR-10: seeds 0-29 of its 100-seed run), k = 5
from batch5_test200.log, k = 10 (infill 10) from batch10_infill10_test200.log: those of
native/ (the default training engine) or, with `burn`, those beside this script (burn's
training, the previous default).
Usage: python3 docs/results/search/batch_table.py [burn]
"""
import re
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
BURN = len(sys.argv) > 1 and sys.argv[1] == "burn"
DIR = HERE if BURN else HERE / "native"
BATCH1 = (
    ("batch1_test200_cifar10.log", "batch1_test200_cifar100_imagenet16.log")
    if BURN
    else ("cifar10_test200.log", "cifar100_imagenet16_test200.log")
)
RUN = re.compile(
    r"run space=nb201 dataset=(\S+) protocol=test200 strategy=dcl-enas(?: batch=(\d+))? "
    r"seed=(\d+) at50=(\S+) at100=(\S+) at150=(\S+) first_optimum=(\S+)"
)


def runs(log, k):
    out = {}
    path = DIR / log
    if not path.exists():
        return out
    for m in RUN.finditer(path.read_text()):
        dataset, batch, seed = m.group(1), int(m.group(2) or 1), int(m.group(3))
        if batch != k or seed >= 30:
            continue
        out.setdefault(dataset, {})[seed] = (
            [float(m.group(i)) for i in (4, 5, 6)],
            None if m.group(7) == "none" else int(m.group(7)),
        )
    return out


def main():
    settings = [
        ("1 (infill 5)", {**runs(BATCH1[0], 1), **runs(BATCH1[1], 1)}),
        ("5 (infill 5)", runs("batch5_test200.log", 5)),
        ("10 (infill 10)", runs("batch10_infill10_test200.log", 10)),
    ]
    print("| dataset | batch k | @50 | @100 | @150 | optimum reached by 150 (median queries) | seeds |")
    print("|---|---|---|---|---|---|---|")
    for dataset in ["cifar10", "cifar100", "imagenet16"]:
        for name, table in settings:
            per_seed = table.get(dataset, {})
            if not per_seed:
                print(f"| {dataset} | {name} | (not run) | | | | 0 |")
                continue
            cells = []
            for b in range(3):
                v = [r[0][b] for r in per_seed.values()]
                sd = statistics.stdev(v) if len(v) > 1 else 0.0
                cells.append(f"{statistics.mean(v):.2f} ± {sd:.2f}")
            firsts = [r[1] for r in per_seed.values()]
            reached = [f for f in firsts if f is not None]
            med = statistics.median([f if f is not None else 10**9 for f in firsts])
            med = ">150" if med >= 10**9 else f"{med:.0f}"
            print(
                f"| {dataset} | {name} | {' | '.join(cells)} | {len(reached)}/{len(firsts)} ({med}) | {len(per_seed)} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
