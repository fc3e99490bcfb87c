#!/usr/bin/env python3
"""Checks that the batch-1 reruns (the batch1_*.log files here) reproduce the committed tables
of docs/results/search.md, every cell but the timing column (s/run).

Usage: python3 docs/results/search/compare_tables.py [search.md]
Prints one line per table row: `same` or `DIFFERENT` with both rows.
"""
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
NAMES = {"random": "random search", "re": "regularized evolution", "dcl-enas": "DCL-ENAS"}
SEARCH = re.compile(
    r"^search space=(\S+) dataset=(\S+) protocol=(\S+) strategy=(\S+) budget=(\d+) "
    r"mean=(\S+) std=(\S+) seeds=(\d+)", re.M)
OPTIMUM = re.compile(
    r"^optimum space=(\S+) dataset=(\S+) protocol=(\S+) strategy=(\S+) "
    r"median_queries=(\S+) reached=(\S+)", re.M)


def rows_from_logs():
    rows = {}
    for log in sorted(HERE.glob("batch1_*.log")):
        text = log.read_text()
        for m in SEARCH.finditer(text):
            key = (m.group(1), m.group(2), m.group(3), m.group(4))
            rows.setdefault(key, {"at": {}, "seeds": m.group(8)})
            rows[key]["at"][int(m.group(5))] = f"{m.group(6)} ± {m.group(7)}"
        for m in OPTIMUM.finditer(text):
            key = (m.group(1), m.group(2), m.group(3), m.group(4))
            rows.setdefault(key, {"at": {}, "seeds": None})
            rows[key]["opt"] = f"{m.group(5)} ({m.group(6)})"
    out = {}
    for (space, dataset, protocol, strategy), r in rows.items():
        if "opt" not in r or len(r["at"]) != 3:
            continue
        cells = [NAMES[strategy]] + [r["at"][b] for b in (50, 100, 150)] + [r["opt"], r["seeds"]]
        out[(f"### {space} {dataset} {protocol}", NAMES[strategy])] = "| " + " | ".join(cells) + " |"
    return out


def rows_from_doc(path):
    out, section = {}, None
    for line in Path(path).read_text().splitlines():
        if line.startswith("### "):
            section = line.strip()
        elif section and line.startswith("| ") and line.split(" | ")[0][2:] in NAMES.values():
            cells = [c.strip() for c in line.strip("| ").split(" | ")]
            out[(section, cells[0])] = "| " + " | ".join(cells[:6]) + " |"
    return out


def main():
    doc = rows_from_doc(sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "search.md")
    same = different = 0
    for key, row in sorted(rows_from_logs().items()):
        committed = doc.get(key)
        if committed == row:
            same += 1
            print(f"same       {key[0][4:]} {key[1]}: {row}")
        else:
            different += 1
            print(f"DIFFERENT  {key[0][4:]} {key[1]}:\n  rerun:     {row}\n  committed: {committed}")
    print(f"rows: {same} same, {different} different")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
