"""Trains one architecture of a dcl-enas search on scikit-learn's digits and reports its
validation accuracy: the "bring your own trainer" example.

dcl-enas runs it once per architecture as `python3 train.py SPEC RESULT` (see search.toml).
The network is built from the spec's graph alone, so the same script serves any space whose
op names it knows: every graph node applies its op to the sum of its inputs; `input` is the
stem's output, `output` the sum of its inputs.

Data: the 1,797 8x8 digit images bundled with scikit-learn (no download), split once and for
all (seed 0) into 600 training, 797 validation and 400 test images. The fitness is the
validation accuracy in percent (Adam, one-cycle learning rate, 6 epochs: short enough
that the architecture matters); the test accuracy is only reported in `details` (it is never
used to choose anything). Deterministic for a given spec seed: one thread, deterministic
kernels, the seed for the weights and the batch order.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "crates", "dcl-exec", "python"))
import dcl_enas_result as dcl  # noqa: E402

import importlib.util  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


def data():
    # scikit-learn's copy of the data, read without importing scikit-learn (a second saved).
    sklearn = importlib.util.find_spec("sklearn")
    if sklearn is None:
        raise RuntimeError("scikit-learn is not installed (pip install scikit-learn)")
    path = os.path.join(sklearn.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    x = table[:, :64].reshape(-1, 8, 8) / 16.0
    y = table[:, 64].astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = torch.from_numpy(x[order]).unsqueeze(1), torch.from_numpy(y[order])
    return (x[:600], y[:600]), (x[600:1397], y[600:1397]), (x[1397:], y[1397:])


def op(name, c):
    if name == "conv3":
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
    if name == "conv1":
        return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))
    if name == "pool":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name in ("skip", "input", "output"):
        return nn.Identity()
    if name == "none":
        return None
    raise ValueError(f"unknown op {name!r}")


class Cell(nn.Module):
    """The spec's graph: node j computes op_j(sum of its predecessors' outputs)."""

    def __init__(self, graph, c):
        super().__init__()
        self.nodes = graph["nodes"]
        self.inputs = [[a for a, b in graph["edges"] if b == j] for j in range(len(self.nodes))]
        self.ops = nn.ModuleList(op(n, c) or nn.Identity() for n in self.nodes)

    def forward(self, x):
        out = [x]
        for j in range(1, len(self.nodes)):
            # A `none` node outputs zeros; so does a node nothing reaches.
            live = [out[i] for i in self.inputs[j] if out[i] is not None]
            if self.nodes[j] == "none" or not live:
                out.append(None)
                continue
            out.append(self.ops[j](sum(live)))
        return out[-1] if out[-1] is not None else torch.zeros_like(x)


class Net(nn.Module):
    def __init__(self, graph, c=8, cells=2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.cells = nn.Sequential(*[Cell(graph, c) for _ in range(cells)])
        self.head = nn.Linear(c, 10)

    def forward(self, x):
        x = self.cells(self.stem(x))
        return self.head(torch.relu(x).mean(dim=(2, 3)))


def accuracy(net, x, y):
    net.eval()
    with torch.no_grad():
        return 100.0 * (net(x).argmax(1) == y).float().mean().item()


def fit(net, xt, yt, epochs, lr, seed):
    """Trains `net` (Adam, one-cycle learning rate, batches of 50 in an order drawn from
    `seed`); returns the epoch whose loss was not finite, else None."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    batch_size = 50
    steps = epochs * -(-len(yt) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        for batch in torch.randperm(len(yt), generator=gen).split(batch_size):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(xt[batch]), yt[batch])
            loss.backward()
            opt.step()
            schedule.step()
        if not torch.isfinite(loss):
            return epoch + 1
    return None


def main():
    spec = dcl.read_spec()
    args = spec.get("config", {}).get("args", {})
    epochs, lr = int(args.get("epochs", 6)), float(args.get("lr", 0.02))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(spec["seed"])
    (xt, yt), (xv, yv), (xs, ys) = data()
    start = time.time()
    net = Net(spec["graph"], c=int(args.get("channels", 8)), cells=int(args.get("cells", 2)))
    params = sum(p.numel() for p in net.parameters())
    diverged = fit(net, xt, yt, epochs, lr, spec["seed"])
    if diverged is not None:
        dcl.write_result(failure=f"the loss diverged in epoch {diverged}")
        return
    valid, test = accuracy(net, xv, yv), accuracy(net, xs, ys)
    print(f"{spec['arch']}: valid {valid:.2f} test {test:.2f} params {params} "
          f"({time.time() - start:.1f} s)")
    dcl.write_result(fitness=valid, objectives={"params": params},
                     details={"test_accuracy": test, "epochs": epochs,
                              "train_seconds": time.time() - start})


if __name__ == "__main__":
    main()
