#!/usr/bin/env python3
"""The Kendall tau tables with the native training engine against the documented ones (burn's
training), 5 seeds each: means side by side, and the difference in units of its standard error
(sqrt(sd_burn^2 / 5 + sd_native^2 / 5)).

python3 docs/results/predictor/compare_native_tau.py
"""
import glob
import math
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def parse(lines):
    rows = {}
    for line in lines:
        if line.startswith("tau "):
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            key = (kv["space"], int(kv["k"]), kv["variant"])
            rows[key] = (float(kv["mean"]), float(kv["std"]), int(kv["seeds"]), float(kv["seconds"]))
    return rows


# The documented (burn) tables of "Results: Kendall tau" in predictor.md: mean ± std (seconds).
burn = {}
doc = open(os.path.join(HERE, "..", "predictor.md")).read()
section = doc.split("## Kendall τ with burn's training", 1)[1].split("\n## ", 1)[0]
variants = None
for line in section.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) > 2 and cells[0].endswith(" k"):
        space, variants = cells[0].split()[0], cells[2:]
    elif variants and cells and cells[0].isdigit():
        for variant, cell in zip(variants, cells[2:]):
            m = re.match(r"([0-9.]+) ± ([0-9.]+) \(([0-9.]+) s\)", cell)
            if m:
                burn[(space, int(cells[0]), variant)] = (float(m[1]), float(m[2]), 5, float(m[3]))
native = {}
for path in sorted(glob.glob(os.path.join(HERE, "tau_native_*.log"))):
    native.update(parse(open(path)))
assert native, "no tau_native_*.log"
print("| space | k | variant | burn (documented) | native | difference / s.e. |")
print("|---|---|---|---|---|---|")
worst = 0.0
for key in sorted(native, key=lambda k: (k[0], k[1], ["dcl", "rnc", "no-pretrain", "mse"].index(k[2]))):
    if key not in burn:
        continue
    (mb, sb, nb, tb), (mn, sn, nn, tn) = burn[key], native[key]
    se = math.sqrt(sb ** 2 / nb + sn ** 2 / nn)
    z = (mn - mb) / se if se > 0 else 0.0
    worst = max(worst, abs(z))
    print(f"| {key[0]} | {key[1]} | {key[2]} | {mb:.3f} ± {sb:.3f} ({tb:.0f} s) | {mn:.3f} ± {sn:.3f} ({tn:.0f} s) | {z:+.1f} |")
print(f"\nlargest |difference| / s.e.: {worst:.1f} over {sum(k in burn for k in native)} cells")
