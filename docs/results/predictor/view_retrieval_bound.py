"""Upper bound on stage-1 view retrieval among 256 NAS-Bench-201 cells.

Two augmented views of each of 256 random cells are drawn as stage 1 draws them per op node
(op substitution to another op with probability p, then masking with probability p); a
matcher that is *told* both views' op labels (masked ops as wildcards, edge drops ignored,
ties broken at random) retrieves view 2 of a cell from view 1 by the fewest disagreeing ops.
No encoder can do better than this on the same views (edge drops only remove information).

    python3 docs/results/predictor/view_retrieval_bound.py
"""
import random

N_CELLS, N_OPS, N_EDGES, TRIALS = 256, 5, 6, 40


def view(cell, p, rng):
    out = []
    for op in cell:
        if rng.random() < p:
            op = (op + rng.randint(1, N_OPS - 1)) % N_OPS
        if rng.random() < p:
            op = None
        out.append(op)
    return out


def disagreements(a, b):
    return sum(1 for x, y in zip(a, b) if x is not None and y is not None and x != y)


def bound(p, seed):
    rng = random.Random(seed)
    hits = total = 0
    for _ in range(TRIALS):
        cells = [[rng.randrange(N_OPS) for _ in range(N_EDGES)] for _ in range(N_CELLS)]
        v1 = [view(c, p, rng) for c in cells]
        v2 = [view(c, p, rng) for c in cells]
        for i in range(N_CELLS):
            d = [disagreements(v1[i], v2[j]) for j in range(N_CELLS)]
            best = min(d)
            hits += rng.choice([j for j in range(N_CELLS) if d[j] == best]) == i
            total += 1
    return hits / total


for p in (0.05, 0.1):
    print(f"rate={p} idealised_top1={bound(p, 0):.3f} queries={TRIALS * N_CELLS}")
