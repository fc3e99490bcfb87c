#!/usr/bin/env python3
"""DCL-ENAS searches with the native training engine against the documented ones (burn's
training), same seeds 0-29, NB201 CIFAR-10 test200, budget 150: paired differences.

python3 docs/results/predictor/compare_native_training.py
"""
import os
import statistics as st

HERE = os.path.dirname(os.path.abspath(__file__))


def load(paths):
    runs = {}
    for path in paths:
        for line in open(path):
            if line.startswith("  run ") and "strategy=dcl-enas" in line and "dataset=cifar10 " in line \
                    and "protocol=test200" in line:
                kv = dict(x.split("=", 1) for x in line.split()[1:])
                runs[int(kv["seed"])] = kv
    return runs


burn = load([os.path.join(HERE, "..", "search", "cli_rerun_cifar10_test200.log")])
native = load([os.path.join(HERE, f"native_training_cifar10_test200_seeds{r}.log") for r in ("0-14", "15-29")])
seeds = sorted(native)
assert seeds == list(range(30)) and all(s in burn for s in seeds)
for budget in ("at50", "at100", "at150"):
    x = [float(burn[s][budget]) for s in seeds]
    y = [float(native[s][budget]) for s in seeds]
    d = [b - a for a, b in zip(x, y)]
    print(f"{budget}: burn {st.mean(x):.3f} ± {st.stdev(x):.3f}  native {st.mean(y):.3f} ± {st.stdev(y):.3f}  "
          f"paired difference {st.mean(d):+.3f} ± {st.stdev(d):.3f} (standard error {st.stdev(d) / len(d) ** 0.5:.3f})")
for name, runs in (("burn", burn), ("native", native)):
    reached = [int(runs[s]["first_optimum"]) for s in seeds if runs[s]["first_optimum"].isdigit()]
    print(f"first optimum, {name}: median {st.median(reached)} queries, reached {len(reached)}/{len(seeds)}")
