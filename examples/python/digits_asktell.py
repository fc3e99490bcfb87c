"""The digits example of `examples/digits/` driven in-process from Python: the same declared
cell space and the same PyTorch trainer (`examples/digits/train.py`'s network, data and
schedule), but the search is a `dcl_enas.DclEnas` object asked and told from this loop
instead of `dcl-enas search` running the trainer as a program per architecture. Not run by
CI (it needs PyTorch and scikit-learn: `pip install torch scikit-learn`).

    python examples/python/digits_asktell.py --seed 0 --budget 40 --journal runs/digits-py

The last line: `best arch=... valid=... test=... queries=... seconds=...`. With `--journal`
a killed run goes on where it stopped when started again with the same arguments.
"""

import argparse
import importlib.util
import logging
import os
import time
import zlib

import torch

import dcl_enas

HERE = os.path.dirname(os.path.abspath(__file__))


def load_trainer():
    """`examples/digits/train.py` as a module: its data split, network and accuracy."""
    path = os.path.join(HERE, "..", "digits", "train.py")
    spec = importlib.util.spec_from_file_location("digits_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(trainer, data, arch, seed, epochs=6, lr=0.02, channels=8, cells=2):
    """Trains `arch` as train.py does; returns (validation, test) accuracy in percent."""
    (xt, yt), (xv, yv), (xs, ys) = data
    torch.manual_seed(seed)
    net = trainer.Net(arch.to_graph(), c=channels, cells=cells)
    if trainer.fit(net, xt, yt, epochs, lr, seed) is not None:
        raise FloatingPointError("the loss diverged")
    return trainer.accuracy(net, xv, yv), trainer.accuracy(net, xs, ys)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--strategy", default="dcl-enas", choices=["dcl-enas", "random", "re"])
    parser.add_argument("--journal", help="a run directory: the search resumes from it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("dcl_enas.progress").setLevel(logging.WARNING)

    # One thread each: the library's work and PyTorch's share the machine one after another.
    dcl_enas.set_threads(1)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    trainer = load_trainer()
    data = trainer.data()
    test_of = {}

    start = time.time()
    space = dcl_enas.cell(nodes=4, ops=["none", "skip", "conv3", "conv1", "pool"], name="digits-cell")
    make = {"dcl-enas": dcl_enas.DclEnas, "random": dcl_enas.RandomSearch,
            "re": dcl_enas.RegularizedEvolution}[args.strategy]
    with make(space, seed=args.seed, journal=args.journal) as search:
        while len(search.history) < args.budget:
            for arch in search.ask(1):
                # Each architecture's training seed comes from the run's seed and its key.
                seed = zlib.crc32(f"{args.seed}:{arch.key}".encode())
                t0 = time.time()
                try:
                    valid, test = train(trainer, data, arch, seed)
                except FloatingPointError as e:
                    search.tell_failure(arch, str(e), seconds=time.time() - t0)
                    continue
                test_of[arch.key] = test
                search.tell(arch, valid, seconds=time.time() - t0)
                logging.info("%d: %s valid %.2f test %.2f (%.1f s)", len(search.history), arch,
                             valid, test, time.time() - t0)
        best, valid = search.best()
        test = test_of.get(best.key)
        test_text = f"{test:.2f}" if test is not None else "replayed"
        print(f"best arch={best} valid={valid:.2f} test={test_text} "
              f"queries={len(search.history)} seconds={time.time() - start:.1f}")


if __name__ == "__main__":
    main()
