#!/usr/bin/env python3
"""The Kendall tau tables of docs/results/predictor.md ("Results: Kendall τ") from the `tau ...`
summary lines of the native-engine logs here (tau_native_*.log): mean ± std over the seeds
(mean seconds per seed), beside PINAT's published figures.

Usage: python3 docs/results/predictor/tau_tables.py
"""
import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PINAT = {
    "nb201": {78: 0.549, 156: 0.631, 469: 0.706, 781: 0.761, 1563: 0.784},
    "nb101": {100: 0.679, 172: 0.715, 424: 0.772, 4236: 0.846},
}
VARIANTS = ["dcl", "rnc", "no-pretrain", "mse"]

rows = {}
for path in sorted(glob.glob(os.path.join(HERE, "tau_native_*.log"))):
    for line in open(path):
        if line.startswith("tau "):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            rows[(kv["space"], int(kv["k"]), kv["variant"])] = (
                float(kv["mean"]), float(kv["std"]), float(kv["seconds"]))
for space in ["nb201", "nb101"]:
    print(f"| {space} k | PINAT | " + " | ".join(VARIANTS) + " |")
    print("|---|---|" + "---|" * len(VARIANTS))
    for k, pinat in PINAT[space].items():
        cells = []
        for v in VARIANTS:
            r = rows.get((space, k, v))
            cells.append(f"{r[0]:.3f} ± {r[1]:.3f} ({r[2]:.0f} s)" if r else "—")
        print(f"| {k} | {pinat:.3f} | " + " | ".join(cells) + " |")
    print()
