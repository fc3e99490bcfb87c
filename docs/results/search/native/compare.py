#!/usr/bin/env python3
"""DCL-ENAS with the native training engine (the logs in this directory) against burn's
training (the cli_rerun_*.log files of docs/results/search/), seed by seed: for each dataset,
protocol and budget, both means, the paired difference native - burn and its standard error
(sample std of the per-seed differences / sqrt(seeds)), and the median queries to the optimum.
Random search and regularized evolution use no predictor; their lines must be identical.

Usage: python3 docs/results/search/native/compare.py
"""
import re
import statistics as st
import sys
from pathlib import Path

HERE = Path(__file__).parent
PAIRS = {
    "cifar10_test200": "cli_rerun_cifar10_test200.log",
    "cifar100_imagenet16_test200": "cli_rerun_cifar100_imagenet16_test200.log",
    "valid12": "cli_rerun_valid12.log",
    "nb101": "cli_rerun_nb101.log",
    "batch5_test200": "cli_rerun_batch5_test200.log",
    "batch10_infill10_test200": "cli_rerun_batch10_infill10_test200.log",
}
RUN = re.compile(
    r"^  run space=(\S+) dataset=(\S+) protocol=(\S+) strategy=(\S+)(?: batch=\d+)? seed=(\d+) "
    r"at50=(\S+) at100=(\S+) at150=(\S+) first_optimum=(\S+)", re.M)


def runs(path):
    out = {}
    for m in RUN.finditer(path.read_text()):
        space, data, proto, strat, seed = m.group(1, 2, 3, 4, 5)
        out[(space, data, proto, strat, int(seed))] = (
            [float(m.group(i)) for i in (6, 7, 8)], m.group(9))
    return out


OPTIMUM = re.compile(
    r"^optimum space=(\S+) dataset=(\S+) protocol=(\S+) strategy=dcl-enas(?: batch=\d+)? "
    r"median_queries=(\S+) reached=(\S+)", re.M)


def optima(path):
    """The program's own lines: median queries to the optimum and runs that reached it."""
    return {m.group(1, 2, 3): f"{m.group(4)} ({m.group(5)})" for m in OPTIMUM.finditer(path.read_text())}


def main():
    identical = True
    print("| log | space | dataset | protocol | budget | burn | native | native - burn (paired) | s.e. | median queries to the optimum (runs reaching it) burn / native |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for new_name, old_name in PAIRS.items():
        new_path = HERE / f"{new_name}.log"
        if not new_path.exists() or "# done rc=0" not in new_path.read_text():
            print(f"{new_name}: not run yet", file=sys.stderr)
            continue
        new, old = runs(new_path), runs(HERE.parent / old_name)
        opt_new, opt_old = optima(new_path), optima(HERE.parent / old_name)
        if set(new) != set(old):
            print(f"{new_name}: runs differ ({len(new)} vs {len(old)})", file=sys.stderr)
            identical = False
            continue
        for key in new:
            if key[3] != "dcl-enas" and new[key] != old[key]:
                print(f"{new_name}: {key} differs without a predictor", file=sys.stderr)
                identical = False
        groups = sorted({k[:4] for k in new if k[3] == "dcl-enas"})
        for g in groups:
            seeds = sorted(k[4] for k in new if k[:4] == g)
            for b, budget in enumerate((50, 100, 150)):
                o = [old[g + (s,)][0][b] for s in seeds]
                n = [new[g + (s,)][0][b] for s in seeds]
                d = [x - y for x, y in zip(n, o)]
                se = st.stdev(d) / len(d) ** 0.5
                fo, fn = opt_old.get(g[:3], "?"), opt_new.get(g[:3], "?")
                print(f"| {new_name} | {g[0]} | {g[1]} | {g[2]} | {budget} "
                      f"| {st.mean(o):.2f} ± {st.stdev(o):.2f} | {st.mean(n):.2f} ± {st.stdev(n):.2f} "
                      f"| {st.mean(d):+.3f} | {se:.3f} | {fo} / {fn} |")
    print("random search and regularized evolution identical:", "yes" if identical else "NO")


if __name__ == "__main__":
    main()
