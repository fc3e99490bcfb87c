"""Read a dcl-enas spec and write its result: the whole protocol of a command evaluator.

dcl-enas runs your program once per architecture as

    PROGRAM ARGS... SPEC_PATH RESULT_PATH

(the two paths also in the environment as DCL_ENAS_SPEC and DCL_ENAS_RESULT). The spec is
JSON: the architecture as text (`arch`) and as a graph (`graph.nodes`: op names, `graph.edges`:
[from, to] pairs), its canonical `key`, the `attempt` number, a `seed` that is the same for
every attempt at that architecture, the `run_dir`, and the `config` your configuration passes
through. Your program writes the result once, at the end:

    import dcl_enas_result as dcl
    spec = dcl.read_spec()
    accuracy = train(spec["graph"], seed=spec["seed"])
    dcl.write_result(fitness=accuracy, objectives={"params": n_params})

or `dcl.write_result(failure="diverged")`. Higher fitness is better. The file is written
atomically (a temporary file, then a rename), so dcl-enas never reads half of it. Copy this
file next to your program; it needs the standard library only (Python 3.8+).
"""

import json
import math
import os
import sys
import tempfile

__all__ = ["read_spec", "write_result", "spec_path", "result_path"]


def spec_path():
    """The spec's path: DCL_ENAS_SPEC, else the second-to-last command-line argument."""
    path = os.environ.get("DCL_ENAS_SPEC")
    if path:
        return path
    if len(sys.argv) >= 3:
        return sys.argv[-2]
    raise RuntimeError("no spec: run by dcl-enas, which sets DCL_ENAS_SPEC")


def result_path():
    """The result's path: DCL_ENAS_RESULT, else the last command-line argument."""
    path = os.environ.get("DCL_ENAS_RESULT")
    if path:
        return path
    if len(sys.argv) >= 3:
        return sys.argv[-1]
    raise RuntimeError("no result path: run by dcl-enas, which sets DCL_ENAS_RESULT")


def read_spec(path=None):
    """The spec as a dict."""
    with open(path or spec_path(), encoding="utf-8") as f:
        return json.load(f)


def _finite(name, value):
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def write_result(fitness=None, failure=None, objectives=None, details=None, path=None):
    """Writes the result atomically: exactly one of `fitness` (a finite number) and
    `failure` (a message); `objectives` maps names to finite numbers; `details` is anything
    JSON can hold."""
    if (fitness is None) == (failure is None):
        raise ValueError("give exactly one of fitness and failure")
    result = {}
    if fitness is not None:
        result["fitness"] = _finite("fitness", fitness)
    else:
        result["failure"] = str(failure)
    if objectives:
        result["objectives"] = {str(k): _finite(f"objective {k}", v) for k, v in objectives.items()}
    if details is not None:
        result["details"] = details
    target = path or result_path()
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".result-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(result, f, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
