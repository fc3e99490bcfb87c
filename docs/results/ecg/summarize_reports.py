#!/usr/bin/env python3
"""Numbers read from ecg_search reports (standard library only), as quoted in ecg.md.

    python3 docs/results/ecg/summarize_reports.py TAG [TAG ...]

TAG names reports docs/results/ecg/report_TAG_seed{0,1,2}.json, e.g. median_folds2_rescore5x2
(sixth run) or median_folds2_rescore5x2_f1mix (seventh). Prints, per search seed: DS2 test
metrics (mean ± std over final seeds), found − baseline, how many search trainings have
validation F recall above 0.05; then over seeds the mean ± std gap, and the mean per-class
proxy validation recall and DS2 sensitivity / PPV of each network; for a search over feature
entries (--feature-entries), per entry the number of queries and their mean and best fitness.
"""
import json
import os
import statistics as st
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(values):
    return [round(st.mean(c) * 100, 1) for c in zip(*values)]


for tag in sys.argv[1:]:
    gaps = []
    entries = {}
    proxy, se, ppv = [], {"baseline": [], "found": []}, {"baseline": [], "found": []}
    for s in range(3):
        r = json.load(open(os.path.join(HERE, f"report_{tag}_seed{s}.json")))
        means = {}
        for m in ("baseline", "found"):
            b = [x["test"]["balanced_accuracy"] * 100 for x in r[m]]
            f = [x["test"]["macro_f1"] * 100 for x in r[m]]
            means[m] = (st.mean(b), st.mean(f))
            print(f"{tag} seed {s} {m}: balanced {st.mean(b):.2f} ± {st.stdev(b):.2f} "
                  f"macro-F1 {st.mean(f):.2f} ± {st.stdev(f):.2f}")
            se[m] += [[v or 0 for v in x["test"]["sensitivity"]] for x in r[m]]
            ppv[m] += [[v or 0 for v in x["test"]["ppv"]] for x in r[m]]
        gaps.append([means["found"][i] - means["baseline"][i] for i in (0, 1)])
        for q in r["history"]["queries"]:
            entries.setdefault(q["arch"].get("features", "head"), []).append(q["fitness"])
        best = r["best_cell"].get("features", "head")
        print(f"{tag} seed {s}: chosen entry {best}")
        recall = [[v or 0 for v in c["report"]["valid"]["sensitivity"]] for c in r["candidates"]]
        proxy += recall
        seen = sum(x[3] > 0.05 for x in recall)
        print(f"{tag} seed {s}: gap {gaps[-1][0]:+.2f} / {gaps[-1][1]:+.2f}; "
              f"F recall > 0.05 in {seen} of {len(recall)} search trainings")
    b, f = zip(*gaps)
    print(f"{tag} gap over seeds: balanced {st.mean(b):+.2f} ± {st.stdev(b):.2f}, "
          f"macro-F1 {st.mean(f):+.2f} ± {st.stdev(f):.2f}")
    print(f"{tag} proxy validation recall N/S/V/F: {pct(proxy)}")
    for e, fit in sorted(entries.items()):
        print(f"{tag} entry {e}: {len(fit)} queries over the seeds, fitness mean "
              f"{st.mean(fit):.2f} best {max(fit):.2f}")
    for m in ("baseline", "found"):
        print(f"{tag} {m} DS2 Se N/S/V/F {pct(se[m])} PPV {pct(ppv[m])}")
