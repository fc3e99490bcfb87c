"""DCL-ENAS from Python: search spaces, the NAS-Bench tables, ask/tell strategies with
resumable journals, and the contrastive GNN predictor, on a Rust core.

A search in four lines::

    import dcl_enas
    space, table = dcl_enas.nb201(), dcl_enas.Nb201Table()
    search = dcl_enas.DclEnas(space, seed=0)
    while len(search.history) < 100:
        for arch in search.ask():
            search.tell(arch, table.accuracy(arch))
    print(search.best())

Long work (pre-training, refits, scoring) runs on the library's own threads
(``set_threads``) with the interpreter released; Ctrl-C stops it. Progress and messages go
to the ``logging`` loggers ``dcl_enas`` and ``dcl_enas.progress``; nothing is printed.
"""

import logging as _logging

from ._errors import DclError, FileError, InvalidValue, NotInTable
from ._native import (
    Arch,
    DclEnas,
    Nb101Table,
    Nb201Table,
    Predictor,
    RandomSearch,
    RegularizedEvolution,
    Search,
    Space,
    __version__,
    cell,
    dag,
    nb101,
    nb201,
    set_threads,
    stage1_architectures,
    threads,
)

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "Arch",
    "DclEnas",
    "DclError",
    "FileError",
    "InvalidValue",
    "Nb101Table",
    "Nb201Table",
    "NotInTable",
    "Predictor",
    "RandomSearch",
    "RegularizedEvolution",
    "Search",
    "Space",
    "__version__",
    "cell",
    "dag",
    "nb101",
    "nb201",
    "set_threads",
    "stage1_architectures",
    "threads",
]
