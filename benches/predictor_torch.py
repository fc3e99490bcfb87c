#!/usr/bin/env python3
"""PyTorch mirror of the DCL-ENAS ranker, for the side-by-side speed comparison (issue 24).

Optional: it needs `pip install torch` (from the Python package registry); nothing else in the
project does. `cargo run --release --example predictor_speed -- --torch benches/predictor_torch.py`
exports our predictor's weights and graphs, runs this script on them and prints both sides.

The model is ours layer for layer (GIN with messages along both edge directions, a readout of
the masked mean of every layer, a score head and a projection head), with batched dense
adjacency products. Before timing anything the script scores the exported graphs with the
exported weights and checks them against our scores: it exits with status 3 if any differs by
more than the tolerance (1e-4), so a ratio is only ever printed for the same model.

Timed work (median of --reps runs after --warmup runs, milliseconds):
  score          scores of all exported graphs (1,024 NB201 cells), no autograd
  finetune_step  one stage-2 step on the first 128 graphs: forward, pairwise logistic loss,
                 backward, Adam (weight decay 1e-4)
  finetune_default_step  the same with the default loss (Rank-N-Contrast + pairwise)
  pretrain_step  one stage-1 step: two exported augmented views of 256 architectures,
                 forward of both, InfoNCE, backward, Adam
Our side also builds its batches (and augments views) on the host inside the timed step; this
side gets its tensors ready-made.

Prints `agree max_abs_diff=.. graphs=..` then one `torch work=.. ms=.. threads=..` line per work.
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

TOLERANCE = 1e-4


def linear(spec):
    """An nn.Linear holding our [d_in, d_out] row-major weight (torch stores [d_out, d_in])."""
    lin = torch.nn.Linear(spec["d_in"], spec["d_out"])
    with torch.no_grad():
        w = torch.tensor(spec["weight"], dtype=torch.float32).reshape(spec["d_in"], spec["d_out"])
        lin.weight.copy_(w.t())
        lin.bias.copy_(torch.tensor(spec["bias"], dtype=torch.float32))
    return lin


class Ranker(torch.nn.Module):
    def __init__(self, weights):
        super().__init__()
        self.embed = linear(weights["embed"])
        self.lin1 = torch.nn.ModuleList(linear(l) for l in weights["lin1"])
        self.lin2 = torch.nn.ModuleList(linear(l) for l in weights["lin2"])
        self.readout = linear(weights["readout"])
        self.proj1 = linear(weights["proj1"])
        self.proj2 = linear(weights["proj2"])
        self.score1 = linear(weights["score1"])
        self.score2 = linear(weights["score2"])

    def encode(self, adj, features, mask, inv_count):
        """Graph embeddings [b, hidden] of adjacency [b, n, n], features [b, n, f], mask [b, n, 1]."""
        adj_t = adj.transpose(1, 2)
        h = F.relu(self.embed(features)) * mask
        pooled = [h.sum(1) * inv_count]
        for lin1, lin2 in zip(self.lin1, self.lin2):
            z = torch.cat([h, torch.bmm(adj_t, h), torch.bmm(adj, h)], 2)
            z = F.relu(lin2(F.relu(lin1(z))))
            h = (h + z) * mask
            pooled.append(h.sum(1) * inv_count)
        return self.readout(torch.cat(pooled, 1))

    def score(self, emb):
        return self.score2(F.relu(self.score1(F.relu(emb)))).squeeze(1)

    def project(self, emb):
        return self.proj2(F.relu(self.proj1(F.relu(emb))))


def batch(spec, n, f):
    """Tensors of an exported batch: adjacency, features, mask and 1 / node count."""
    b = spec["graphs"]
    adj = torch.tensor(spec["adjacency"], dtype=torch.float32).reshape(b, n, n)
    features = torch.tensor(spec["features"], dtype=torch.float32).reshape(b, n, f)
    mask = torch.tensor(spec["mask"], dtype=torch.float32).reshape(b, n, 1)
    inv_count = 1.0 / mask.sum(1).clamp_min(1.0)
    return adj, features, mask, inv_count


def take(t, k):
    return tuple(x[:k].contiguous() for x in t)


def pairwise_logistic(scores, targets, temperature):
    better = (targets[:, None] > targets[None, :]).float()
    diff = (scores[:, None] - scores[None, :]) / temperature
    return (F.softplus(-diff) * better).sum() / better.sum().clamp_min(1.0)


def rank_n_contrast(z, targets, temperature):
    n = z.shape[0]
    z = F.normalize(z, dim=1, eps=1e-6)
    sim = z @ z.t() / temperature
    dist = (targets[:, None] - targets[None, :]).abs()
    eye = torch.eye(n, dtype=torch.bool)
    keep = (dist[:, None, :] >= dist[:, :, None]) & ~eye[:, None, :]
    logits = sim[:, None, :].expand(n, n, n).masked_fill(~keep, -1e9)
    term = sim - torch.logsumexp(logits, 2)
    return -(term * (~eye).float()).sum() / (n * (n - 1))


def info_nce(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], 0), dim=1, eps=1e-6)
    sim = (z @ z.t() / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool), -1e9)
    positives = (torch.arange(2 * n) + n) % (2 * n)
    return F.cross_entropy(sim, positives)


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("export", help="the JSON file written by examples/predictor_speed.rs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with open(args.export) as fh:
        ex = json.load(fh)
    cfg = ex["model"]
    n, f = ex["max_nodes"], ex["features"]
    model = Ranker(ex["weights"])
    graphs = batch(ex["graphs"], n, f)
    view1 = batch(ex["view1"], n, f)
    view2 = batch(ex["view2"], n, f)
    targets = torch.tensor(ex["targets"], dtype=torch.float32)
    k = len(ex["targets"])

    with torch.inference_mode():
        scores = model.score(model.encode(*graphs))
    ours = torch.tensor(ex["scores"], dtype=torch.float32)
    diff = (scores - ours).abs().max().item()
    print(f"agree max_abs_diff={diff:.3g} graphs={ours.shape[0]} tolerance={TOLERANCE}")
    if not diff <= TOLERANCE:
        print("the mirror does not reproduce our scores: no timing of a different model", file=sys.stderr)
        sys.exit(3)

    def score():
        with torch.inference_mode():
            model.score(model.encode(*graphs))

    labelled = take(graphs, k)
    # Targets standardised as ours are (population std).
    y = (targets - targets.mean()) / targets.std(unbiased=False).clamp_min(1e-9)
    ft = ex["finetune"]
    pt = ex["pretrain"]

    def finetune_step(opt, default_loss):
        def step():
            emb = model.encode(*labelled)
            loss = pairwise_logistic(model.score(emb), y, ft["temperature"])
            if default_loss:
                loss = loss + ft["rnc_weight"] * rank_n_contrast(emb, y, ft["rnc_temperature"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    def pretrain_step(opt):
        def step():
            z1 = model.project(model.encode(*view1))
            z2 = model.project(model.encode(*view2))
            loss = info_nce(z1, z2, pt["temperature"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    def adam(weight_decay):
        return torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=weight_decay)

    results = [("score", timed(score, args.warmup, args.reps))]
    state = {k_: v.clone() for k_, v in model.state_dict().items()}
    for work, make in [
        ("finetune_step", lambda: finetune_step(adam(ft["weight_decay"]), False)),
        ("finetune_default_step", lambda: finetune_step(adam(ft["weight_decay"]), True)),
        ("pretrain_step", lambda: pretrain_step(adam(0.0))),
    ]:
        model.load_state_dict(state)
        results.append((work, timed(make(), args.warmup, args.reps)))
    for work, ms in results:
        print(f"torch work={work} ms={ms:.3f} threads={torch.get_num_threads()} model=hidden{cfg['hidden']}x{cfg['layers']}")


if __name__ == "__main__":
    main()
