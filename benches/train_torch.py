#!/usr/bin/env python3
"""PyTorch mirror of dcl-train's candidate training, for benches/train.rs.

Reads a case file written by the bench: a network as dcl-train's layer graph (layers over
numbered values, weights with their shapes and initial values), the training and validation
data, the class weights and the optimiser settings. Builds the same network from torch.nn's
own layers (Conv1d, BatchNorm1d, AvgPool1d, MaxPool1d, Linear, ReLU), eager mode.

1. Proof: loaded with our initial weights, trained 3 Adam steps on the bench's batches with
   the cosine learning rate, its losses must match the ones the bench recorded from our engine
   (within 1e-4 relative, at the first step and after three); otherwise it refuses to time.
2. Timing, in the same spans as the bench's: `iteration` = build the network (PyTorch's own
   initialiser), 3 Adam steps of the batch size, one validation pass; `steps1`/`steps4` =
   build and 1 or 4 steps (no validation). Medians over `--repeats` after warm-up.

Prints one JSON object on the last line of stdout.
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mirror(nn.Module):
    def __init__(self, case):
        super().__init__()
        self.layers = case["layers"]
        weights = case["weights"]
        self.mods = nn.ModuleList()
        self.kinds = []
        for layer in self.layers:
            kind = layer["kind"]
            if kind == "conv1d":
                c_out, c_in, k = weights[layer["weight"]]["shape"]
                m = nn.Conv1d(c_in, c_out, k, stride=layer["stride"], padding=layer["padding"],
                              bias=layer["bias"] is not None)
            elif kind == "batch_norm":
                c = weights[layer["gamma"]]["shape"][0]
                m = nn.BatchNorm1d(c, eps=layer["epsilon"], momentum=layer["momentum"])
            elif kind == "linear":
                d_in, d_out = weights[layer["weight"]]["shape"]
                m = nn.Linear(d_in, d_out, bias=layer["bias"] is not None)
            elif kind == "avg_pool1d":
                m = nn.AvgPool1d(layer["kernel"], stride=layer["stride"], padding=layer["padding"],
                                 count_include_pad=False)
            elif kind == "max_pool1d":
                m = nn.MaxPool1d(layer["kernel"], stride=layer["stride"])
            else:
                m = nn.Identity()
            self.mods.append(m)
        self.output = case["output"]

    def load_ours(self, case):
        """Copies our initial weights into the torch layers."""
        w = case["weights"]
        t = lambda i: torch.tensor(w[i]["values"], dtype=torch.float32).reshape(w[i]["shape"])
        with torch.no_grad():
            for layer, m in zip(self.layers, self.mods):
                kind = layer["kind"]
                if kind == "conv1d":
                    m.weight.copy_(t(layer["weight"]))
                    if layer["bias"] is not None:
                        m.bias.copy_(t(layer["bias"]))
                elif kind == "linear":
                    m.weight.copy_(t(layer["weight"]).T)
                    if layer["bias"] is not None:
                        m.bias.copy_(t(layer["bias"]))
                elif kind == "batch_norm":
                    m.weight.copy_(t(layer["gamma"]))
                    m.bias.copy_(t(layer["beta"]))
                    m.running_mean.copy_(t(layer["running_mean"]))
                    m.running_var.copy_(t(layer["running_var"]))

    def forward(self, signals, features):
        values = [signals, features]
        for layer, m in zip(self.layers, self.mods):
            kind = layer["kind"]
            if kind in ("conv1d", "batch_norm", "linear", "avg_pool1d", "max_pool1d"):
                y = m(values[layer["input"]])
            elif kind == "relu":
                y = F.relu(values[layer["input"]])
            elif kind == "add":
                y = values[layer["a"]] + values[layer["b"]]
            elif kind == "concat":
                y = torch.cat([values[layer["a"]], values[layer["b"]]], 1)
            elif kind == "expand":
                x = values[layer["input"]]
                y = x.unsqueeze(2).expand(-1, -1, layer["length"])
            elif kind == "flatten":
                y = values[layer["input"]].flatten(1)
            elif kind == "mean_length":
                y = values[layer["input"]].mean(2)
            elif kind == "zeros":
                y = torch.zeros_like(values[layer["like"]])
            else:
                raise SystemExit(f"unknown layer {kind}")
            values.append(y)
        return values[self.output]


def tensors(case, part):
    d = case[part]
    n = len(d["labels"])
    x = torch.tensor(d["signals"], dtype=torch.float32).reshape(n, d["channels"], d["length"])
    f = torch.tensor(d["features"], dtype=torch.float32).reshape(n, d["n_features"])
    y = torch.tensor(d["labels"], dtype=torch.long)
    return x, f, y


def lr_at(case, step, planned):
    peak = case["lr"]
    return peak * 0.5 * (1.0 + math.cos(math.pi * step / planned))


def train(case, steps, load=False, validate=False):
    """Build, `steps` Adam steps of the batch size over the training data, optionally the
    validation pass. Returns the losses."""
    model = Mirror(case)
    if load:
        model.load_ours(case)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=case["lr"], eps=1e-5,
                           weight_decay=case["weight_decay"])
    x, f, y = case["_train"]
    loss_fn = nn.CrossEntropyLoss(weight=case["_class_weights"])
    b = case["batch_size"]
    losses = []
    for s in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(case, s, steps)
        lo = (s * b) % len(y)
        xb, fb, yb = x[lo:lo + b], f[lo:lo + b], y[lo:lo + b]
        loss = loss_fn(model(xb, fb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if validate:
        model.eval()
        with torch.no_grad():
            vx, vf, _ = case["_valid"]
            model(vx, vf).argmax(1)
    return model, losses


def loss_after(case, model, step):
    x, f, y = case["_train"]
    b = case["batch_size"]
    lo = (step * b) % len(y)
    loss_fn = nn.CrossEntropyLoss(weight=case["_class_weights"])
    with torch.no_grad():
        return loss_fn(model(x[lo:lo + b], f[lo:lo + b]), y[lo:lo + b]).item()


def median_ms(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def sgemm_peak_gflops(n=1024, repeats=5):
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.mm(a, b)
    best = min(median_ms(lambda: torch.mm(a, b), 1, 0) for _ in range(repeats))
    return 2 * n ** 3 / (best * 1e-3) / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.case) as fh:
        case = json.load(fh)
    case["_train"] = tensors(case, "train")
    case["_valid"] = tensors(case, "valid")
    case["_class_weights"] = torch.tensor(case["class_weights"], dtype=torch.float32)
    params = sum(p.numel() for p in Mirror(case).parameters())

    # The proof: our initial weights, our batches, our losses.
    model, losses = train(case, 3, load=True)
    losses.append(loss_after(case, model, 3))
    want = case["our_losses"]
    rel = [abs(a - b) / max(abs(b), 1e-12) for a, b in zip(losses, want)]
    checked = [rel[0], rel[-1]]
    if params != case["params"] or max(checked) > 1e-4:
        print(f"refusing to time: params {params} vs ours {case['params']}, "
              f"losses {losses} vs ours {want}", file=sys.stderr)
        sys.exit(2)

    iteration = median_ms(lambda: train(case, 3, validate=True), args.repeats, args.warmup)
    one = median_ms(lambda: train(case, 1), args.repeats, args.warmup)
    four = median_ms(lambda: train(case, 4), args.repeats, args.warmup)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
        "params": params,
        "loss_rel_diff": max(checked),
        "iteration_ms": iteration,
        "steps1_ms": one,
        "steps4_ms": four,
        "sgemm_peak_gflops": sgemm_peak_gflops(),
    }))


if __name__ == "__main__":
    main()
