"""Types of the dcl_enas package (its Rust core, `dcl_enas._native`, re-exported)."""

import os
from types import TracebackType
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._errors import DclError as DclError
from ._errors import FileError as FileError
from ._errors import InvalidValue as InvalidValue
from ._errors import NotInTable as NotInTable

__version__: str

PathLike = Union[str, "os.PathLike[str]"]

class Space:
    """A search space. Build one with `nb201()`, `nb101()`, `cell(...)` or `dag(...)`.

    Spaces compare equal when built from the same settings and pickle as those settings."""

    @property
    def name(self) -> str:
        """The space's name (journals and summaries use it)."""
    @property
    def size(self) -> Optional[int]:
        """How many architectures the space holds; None when not known (a DAG space)."""
    @property
    def ops(self) -> List[str]:
        """The names of the operations the space's architectures are built from."""
    def sample(self, n: int = 1, seed: int = 0) -> List[Arch]:
        """`n` architectures drawn uniformly at random with `seed` (repeats possible)."""
    def mutate(self, arch: Arch, seed: int = 0) -> Arch:
        """A random single-edit neighbour of `arch` (drawn with `seed`)."""
    def parse(self, text: str) -> Arch:
        """The architecture written `text` (what `str(arch)` gives); InvalidValue when it is
        not one, or not in this space."""

class Arch:
    """An architecture of a space: `str(arch)` is its text form (what `Space.parse` reads),
    `arch.key` its canonical key (equal for architectures that build the same network), and
    equality and hashing go by space and key. Architectures pickle as their space and text."""

    @property
    def key(self) -> str:
        """The canonical key: equal for two architectures exactly when they build the same
        network (NAS-Bench-101 and DAG spaces: the module hash)."""
    @property
    def space(self) -> Space:
        """The space the architecture belongs to."""
    def to_graph(self) -> Dict[str, Any]:
        """The architecture as the graph the predictor reads: `nodes` (each node's operation:
        "input", "output" or an op name), `edges` (pairs `(from, to)`), and the `input` and
        `output` node indices."""

def nb201() -> Space:
    """NAS-Bench-201: all 15,625 cells (6 edges, 5 operations each)."""

def nb101() -> Space:
    """NAS-Bench-101: the 20,001 cells of the table that ships with the library (the space
    `dcl-enas search --space nb101` searches)."""

def cell(nodes: int, ops: List[str], name: str = "cell") -> Space:
    """A NAS-Bench-201-style cell space: `nodes` feature maps (the input included), every pair
    `i < j` joined by an edge carrying one of `ops` ("none" removes the edge, "skip" is the
    identity)."""

def dag(nodes: int, max_edges: int, ops: List[str], name: str = "dag") -> Space:
    """A NAS-Bench-101-style DAG space: up to `nodes` vertices (input and output included) and
    `max_edges` edges, each intermediate vertex carrying one of `ops`."""

class Nb201Table:
    """The NAS-Bench-201 table: every cell's accuracy (percent, mean over the benchmark's
    seeds) on three datasets and three columns, and each network's parameters and FLOPs.

    `dataset` is "cifar10", "cifar100" or "imagenet16"; `column` is "test200" (test accuracy
    after 200 epochs, the usual target), "valid12" or "test12" (after 12 epochs)."""

    def __init__(self) -> None:
        """The table that ships with the library (read once per process)."""
    def accuracy(self, arch: Arch, dataset: str = "cifar10", column: str = "test200") -> float:
        """The accuracy of `arch` (percent)."""
    def rank(self, arch: Arch, dataset: str = "cifar10", column: str = "test200") -> int:
        """The rank of `arch` by that accuracy (1 = the best of the 15,625)."""
    def index(self, arch: Arch) -> int:
        """The benchmark's topology index of `arch` (0 to 15,624)."""
    def best_accuracy(self, dataset: str = "cifar10", column: str = "test200") -> float:
        """The best accuracy in the table for that dataset and column."""
    def params(self, arch: Arch, dataset: str = "cifar10") -> int:
        """Trainable parameters of the network built from `arch` for `dataset`."""
    def flops(self, arch: Arch, dataset: str = "cifar10") -> int:
        """Multiply-accumulates of one forward pass of one image through that network."""
    def __len__(self) -> int: ...

class Nb101Table:
    """The NAS-Bench-101 table that ships with the library: 20,001 cells (the space `nb101()`
    searches), with single-run accuracies in percent.

    `column` is "val_acc_108" (the usual target), "test_acc_108", "train_acc_108",
    "train_time_108" (seconds), the same at 4, 12 or 36 epochs where the table has them, or
    "params"."""

    def __init__(self) -> None:
        """The table (read once per process)."""
    def value(self, arch: Arch, column: str = "val_acc_108") -> float:
        """The value of `column` for `arch`; NotInTable when the table has no row for it."""
    def __contains__(self, arch: Arch) -> bool: ...
    def __len__(self) -> int: ...

class Search:
    """A search in the ask/tell shape, as `RandomSearch`, `RegularizedEvolution` and `DclEnas`
    build it: ask architectures, evaluate them however you like, tell their fitness (higher is
    better) or their failure.

    With `journal="DIR"` every outcome is written to `DIR/journal.jsonl` (the program's
    journal format) before the strategy learns it, and the directory is locked while the
    search is open (`close()`, or the end of a `with` block, releases it). Building the same
    search on a directory that holds a journal replays it: the search comes back in the state
    the journalled loop left it in and, given the same outcomes, asks what that loop would have
    asked. A journal written with other settings, seed or space is refused, naming the first
    difference."""

    def ask(self, n: int = 1) -> List[Arch]:
        """Up to `n` architectures never asked before. Fewer, or none, come back when the
        strategy must first be told outcomes (DCL-ENAS at the end of a round: tell what is
        pending, then ask again), or when the space is used up (`finished`). Ctrl-C during a
        DCL-ENAS refit raises KeyboardInterrupt and closes the search (build it again on its
        journal to go on)."""
    def tell(self, arch: Arch, fitness: float, seconds: float = 0.0) -> None:
        """Tells the fitness of `arch` (asked, not told yet; higher is better; a finite
        number), measured in `seconds` (journalled, for people). InvalidValue for an
        architecture never asked or already told, or a fitness that is NaN or infinite."""
    def tell_failure(self, arch: Arch, message: str, kind: str = "error", seconds: float = 0.0) -> None:
        """Tells that `arch` could not be evaluated: it is remembered (never asked again) and
        never learnt from. `kind` is "error" (the default), "crash" or "timeout"."""
    def best(self) -> Optional[Tuple[Arch, float]]:
        """The best architecture told so far and its fitness, or None before any success."""
    @property
    def history(self) -> List[Tuple[Arch, Optional[float]]]:
        """Every outcome told, in the order told (the replayed ones first): pairs of an
        architecture and its fitness, None for a failure."""
    @property
    def pending(self) -> List[Arch]:
        """Architectures asked and not told yet, in the order asked."""
    @property
    def asked(self) -> int:
        """How many architectures were asked in all (replayed ones included)."""
    @property
    def replayed(self) -> int:
        """How many outcomes came from the journal when the search was built."""
    @property
    def finished(self) -> bool:
        """Whether the space is used up."""
    @property
    def strategy(self) -> str:
        """The strategy's name (as journals record it)."""
    @property
    def space(self) -> Space:
        """The space searched."""
    @property
    def journal(self) -> Optional[str]:
        """The run directory, when the search is journalled."""
    def close(self) -> None:
        """Closes the search: the journal is closed and the run directory unlocked. Any later
        call but `close` raises DclError."""
    def __enter__(self) -> "Search": ...
    def __exit__(
        self,
        exc_type: Optional[type],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class RandomSearch(Search):
    """Random search: every architecture drawn uniformly among those not asked yet."""

    def __init__(self, space: Space, seed: int = 0, journal: Optional[PathLike] = None) -> None:
        """A random search of `space` drawing from `seed`, journalled in the directory
        `journal` when given."""

class RegularizedEvolution(Search):
    """Regularized (aging) evolution (Real et al., 2019): the first `population_size`
    architectures are random; then each ask mutates the best of `sample_size` random members
    of the population, and each told success joins it, the oldest member leaving."""

    def __init__(
        self,
        space: Space,
        seed: int = 0,
        journal: Optional[PathLike] = None,
        population_size: int = 20,
        sample_size: int = 5,
    ) -> None:
        """Regularized evolution on `space` drawing from `seed`, journalled in the directory
        `journal` when given."""

class DclEnas(Search):
    """DCL-ENAS: the predictor pre-trained on the space without labels (stage 1), then rounds
    of evolution ranked by the predictor, each refitting it on every outcome told (stage 2)
    and offering the best few children (and one exploring mutation of the incumbent) for
    true evaluation.

    Settings, as the program's config file names them (each a dict laid over the defaults):
    `dcl_enas` (`initial`, `population`, `generations`, `offspring`, `infill`, `explore`,
    `crossover_rate`, `tournament`), `pretrain`, `finetune`, `model`, and `pretrain_sample`,
    `training_engine`. With the defaults and the same seed, the search asks what
    `dcl-enas search --seed SEED` asks."""

    def __init__(
        self,
        space: Space,
        seed: int = 0,
        journal: Optional[PathLike] = None,
        predictor: Optional[Predictor] = None,
        **settings: Any,
    ) -> None:
        """DCL-ENAS on `space` drawing from `seed`, journalled in the directory `journal` when
        given. Without `predictor`, stage 1 pre-trains one as the program does (seconds on
        NAS-Bench-201; Ctrl-C stops it); with one, a copy of it is the surrogate."""

def stage1_architectures(space: Space, seed: int = 0, sample: int = 5000) -> List[Arch]:
    """The architectures a DCL-ENAS search on `space` pre-trains on by default (the table's
    cells for the presets, the whole space up to 20,000 architectures, else a sample drawn
    with `seed`), as a list."""

class Predictor:
    """The GNN ranker of DCL-ENAS on one space: stage 1 (`pretrain`, label-free contrastive
    learning on architectures alone), stage 2 (`finetune` on architectures with their
    accuracies, to rank), then `score` (higher = predicted better; only the order means
    anything).

    Training runs on the library's threads (`set_threads`) with the interpreter released;
    Ctrl-C stops it at its next step and leaves the weights as they were."""

    def __init__(self, space: Space, seed: int = 0, model: Optional[Dict[str, int]] = None) -> None:
        """A predictor for `space` with weights drawn from `seed`; `model` sets its shape
        (`hidden` 64, `layers` 4, `projection` 32 by default)."""
    def pretrain(self, archs: Optional[List[Arch]] = None, **settings: Any) -> Dict[str, float]:
        """Stage 1 on `archs` (by default `stage1_architectures(space)`). `settings` are laid
        over the search's stage 1: `epochs`, `batch_size`, `max_steps`, `learning_rate`,
        `temperature`, `op_substitution`, `edge_drop`, `node_mask`. Returns the report
        (`steps`, `first_loss`, `final_loss`, `seconds`)."""
    def finetune(self, archs: List[Arch], accuracies: List[float], **settings: Any) -> Dict[str, float]:
        """Stage 2 on `archs` with their `accuracies` (the same length; finite; higher is
        better). `settings` are laid over the search's refit: `epochs`, `batch_size`,
        `learning_rate`, `weight_decay`, `temperature`, `max_steps`, .... Returns the report."""
    def score(self, archs: List[Arch]) -> npt.NDArray[np.float64]:
        """The scores of `archs` as a NumPy array (float64, input order; higher = predicted
        better)."""
    def save(self, path: PathLike) -> None:
        """Saves the predictor to `path` (atomically: an interrupted save leaves the old
        file)."""
    @staticmethod
    def load(space: Space, path: PathLike) -> Predictor:
        """A predictor saved with `save`, for `space` (InvalidValue when the file is for
        another space or shape, or is damaged)."""
    @property
    def space(self) -> Space:
        """The space."""
    @property
    def num_params(self) -> int:
        """Trainable parameters."""

def set_threads(threads: int) -> None:
    """Sets how many threads the library's work uses (pre-training, refits, scoring): 0 gives
    rayon's default (RAYON_NUM_THREADS, else one per core). Leave cores to PyTorch when it
    shares the process."""

def threads() -> int:
    """How many threads the library's work uses."""
