"""DCL-ENAS on the NAS-Bench-201 table from Python, ending with the `best ...` line that
`dcl-enas search` prints: the same seed gives the same search (the Python front adds no
randomness), so the lines agree but for the seconds.

    pip install ./crates/dcl-py          # or, in a virtual environment: maturin develop
    python examples/python/search_nb201.py --seed 0
    dcl-enas search --seed 0             # the same line
"""

import argparse
import logging
import time

import dcl_enas


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or imagenet16")
    parser.add_argument("--journal", help="a run directory: the search resumes from it")
    parser.add_argument("--verbose", action="store_true", help="log progress to stderr")
    args = parser.parse_args()
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    start = time.time()
    space, table = dcl_enas.nb201(), dcl_enas.Nb201Table()
    with dcl_enas.DclEnas(space, seed=args.seed, journal=args.journal) as search:
        while len(search.history) < args.budget:
            for arch in search.ask(1):
                search.tell(arch, table.accuracy(arch, dataset=args.dataset))
        best, _ = search.best()
        print(
            f"best arch={best} acc={table.accuracy(best, dataset=args.dataset):.2f} "
            f"rank={table.rank(best, dataset=args.dataset)}/{len(table)} "
            f"queries={len(search.history)} seconds={time.time() - start:.1f}"
        )


if __name__ == "__main__":
    main()
