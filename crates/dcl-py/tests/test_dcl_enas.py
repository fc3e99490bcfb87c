"""The Python front, end to end: every exported name, bad inputs, journals and resume,
pickling, Ctrl-C, logging, and the same result as the `dcl-enas` program.

Run from a virtual environment where the package is installed (`maturin develop` in
crates/dcl-py; `.ci/run` does it). The program-comparison test needs the `dcl-enas` binary
(`cargo build`); it is looked for in $DCL_ENAS_BIN, else in the workspace's target/debug.
"""

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import dcl_enas

ROOT = Path(__file__).resolve().parents[3]
BEST_NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
# Stage 1 cut short: the tests exercise the loop, not the predictor's quality.
QUICK = {"pretrain": {"max_steps": 4, "batch_size": 64}, "finetune": {"epochs": 3}}


@pytest.fixture(scope="module")
def nb201():
    return dcl_enas.nb201()


@pytest.fixture(scope="module")
def table():
    return dcl_enas.Nb201Table()


def toy(arch):
    """A cheap structural fitness of a cell: 3x3 convolutions, weighted by position."""
    ops = str(arch).replace("+", "").strip("|").split("|")
    return float(sum((i + 1) * op.startswith("nor_conv_3x3") for i, op in enumerate(ops)))


# ---------------------------------------------------------------- spaces and architectures


def test_the_four_spaces_and_their_properties():
    s = dcl_enas.nb201()
    assert (s.name, s.size) == ("nb201", 15625)
    assert s.ops == ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    n = dcl_enas.nb101()
    assert (n.name, n.size) == ("nb101", 20001)
    c = dcl_enas.cell(nodes=4, ops=["none", "skip", "conv3"], name="mine")
    assert (c.name, c.size, c.ops) == ("mine", 3**6, ["none", "skip", "conv3"])
    d = dcl_enas.dag(nodes=5, max_edges=7, ops=["conv3", "conv1"])
    assert (d.name, d.size) == ("dag", None)
    assert repr(c) == 'dcl_enas.cell(nodes=4, ops=["none", "skip", "conv3"], name="mine")'
    assert s == dcl_enas.nb201() and s != n and hash(s) == hash(dcl_enas.nb201())


@pytest.mark.parametrize(
    "bad",
    [
        lambda: dcl_enas.cell(nodes=1, ops=["none", "conv"]),
        lambda: dcl_enas.cell(nodes=4, ops=[]),
        lambda: dcl_enas.cell(nodes=4, ops=["conv", "conv"]),
        lambda: dcl_enas.dag(nodes=2, max_edges=0, ops=["a"]),
    ],
)
def test_a_bad_space_is_refused_with_invalid_value(bad):
    with pytest.raises(dcl_enas.InvalidValue):
        bad()


def test_sampling_is_seeded_and_text_parses_back(nb201):
    spaces = [nb201, dcl_enas.nb101(), dcl_enas.cell(4, ["none", "skip", "conv3"]),
              dcl_enas.dag(6, 8, ["conv3", "conv1", "pool"])]
    for s in spaces:
        a, b = s.sample(20, seed=5), s.sample(20, seed=5)
        assert a == b and a != s.sample(20, seed=6)
        for arch in a:
            assert s.parse(str(arch)) == arch
            assert arch.space == s
            assert pickle.loads(pickle.dumps(arch)) == arch
            child = s.mutate(arch, seed=1)
            assert child.space == s
        assert pickle.loads(pickle.dumps(s)) == s


@pytest.mark.parametrize("text", ["", "garbage", "|nor_conv_3x3~0|", "|bogus~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_an_unknown_architecture_string_is_invalid(nb201, text):
    with pytest.raises(dcl_enas.InvalidValue):
        nb201.parse(text)
    with pytest.raises(ValueError):
        nb201.parse(text)


def test_a_cell_of_another_space_is_refused():
    small = dcl_enas.cell(4, ["none", "conv3"])
    with pytest.raises(dcl_enas.InvalidValue):
        small.parse("|skip~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(dcl_enas.InvalidValue):  # a NAS-Bench-101 cell outside the table
        dcl_enas.nb101().parse("111:input|conv3x3-bn-relu|output")


def test_equality_and_hashing_go_by_canonical_key():
    d = dcl_enas.dag(5, 9, ["conv3", "conv1"])
    # The same network numbered two ways: input -> a, b -> output with a and b swapped.
    a = d.parse("110011:input|conv3|conv1|output")
    b = d.parse("110011:input|conv1|conv3|output")
    assert a.key == b.key and a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert str(a) != str(b)


def test_to_graph_is_the_predictors_graph(nb201):
    g = nb201.parse(BEST_NB201).to_graph()
    assert g["nodes"][g["input"]] == "input" and g["nodes"][g["output"]] == "output"
    assert len(g["nodes"]) == 8 and sorted(g["nodes"][1:-1]).count("nor_conv_3x3") == 4
    assert all(0 <= i < 8 and 0 <= j < 8 for i, j in g["edges"])
    assert (g["input"], 1) in g["edges"]


# ---------------------------------------------------------------------------------- tables


def test_nb201_table_lookups(nb201, table):
    best = nb201.parse(BEST_NB201)
    assert len(table) == 15625
    assert table.accuracy(best) == pytest.approx(94.37, abs=0.005)
    assert table.rank(best) == 1
    assert table.best_accuracy() == table.accuracy(best)
    assert table.accuracy(best, dataset="cifar100") != table.accuracy(best)
    assert 0 <= table.index(best) < 15625
    assert table.params(best) == 1_073_466 and table.flops(best) == 153_272_970
    assert table.params(best, dataset="imagenet16") > table.params(best)
    for bad in [dict(dataset="mnist"), dict(column="test300")]:
        with pytest.raises(dcl_enas.InvalidValue):
            table.accuracy(best, **bad)
    other = dcl_enas.cell(4, ["none", "skip"]).sample(1)[0]
    with pytest.raises(dcl_enas.InvalidValue):
        table.accuracy(other)
    with pytest.raises(TypeError):
        table.accuracy(str(best))


def test_nb101_table_lookups():
    space, t = dcl_enas.nb101(), dcl_enas.Nb101Table()
    arch = space.sample(1, seed=2)[0]
    assert len(t) == 20001 and arch in t
    v = t.value(arch)
    assert 0 < v <= 100 and t.value(arch, "val_acc_108") == v
    assert t.value(arch, "params") > 0
    with pytest.raises(dcl_enas.InvalidValue):
        t.value(arch, "val_acc_7")
    with pytest.raises(dcl_enas.InvalidValue):
        t.value(dcl_enas.nb201().sample(1)[0])


# ------------------------------------------------------------------------------ strategies


@pytest.mark.parametrize("make", [
    lambda s, **k: dcl_enas.RandomSearch(s, **k),
    lambda s, **k: dcl_enas.RegularizedEvolution(s, population_size=6, sample_size=3, **k),
    lambda s, **k: dcl_enas.DclEnas(s, dcl_enas={"initial": 5, "infill": 3}, **QUICK, **k),
])
def test_ask_tell_learns_and_refuses_bad_tells(nb201, make):
    search = make(nb201, seed=1)
    assert isinstance(search, dcl_enas.Search)
    assert search.best() is None
    failed = None
    while len(search.history) < 30:
        asked = search.ask(2)
        assert asked, "a search asks more once its pending outcomes are told"
        for arch in asked:
            if failed is None:
                failed = arch
                search.tell_failure(arch, "out of memory", kind="crash")
            else:
                search.tell(arch, toy(arch), seconds=0.1)
    history = search.history
    assert [f for _, f in history].count(None) == 1
    keys = [a.key for a, _ in history]
    assert len(set(keys)) == len(keys), "never asked twice"
    best, fitness = search.best()
    assert fitness == max(f for _, f in history if f is not None) == toy(best)
    assert search.asked == 30 + len(search.pending)
    # Bad tells are refused and change nothing.
    never = next(a for a in nb201.sample(200, seed=9) if a.key not in set(keys))
    with pytest.raises(dcl_enas.InvalidValue, match="not asked"):
        search.tell(never, 1.0)
    with pytest.raises(dcl_enas.InvalidValue, match="not asked"):
        search.tell(history[1][0], 1.0)  # told already
    pending = search.ask(1) or search.pending
    for bad in [float("nan"), float("inf")]:
        with pytest.raises(dcl_enas.InvalidValue, match="finite"):
            search.tell(pending[0], bad)
    with pytest.raises(TypeError):
        search.tell(pending[0], "high")
    with pytest.raises(TypeError):
        search.tell(str(pending[0]), 1.0)
    with pytest.raises(dcl_enas.InvalidValue, match="failure kind"):
        search.tell_failure(pending[0], "x", kind="meltdown")
    with pytest.raises(dcl_enas.InvalidValue):
        search.tell(dcl_enas.cell(4, ["none", "conv3"]).sample(1)[0], 1.0)
    assert len(search.history) == 30
    search.close()
    with pytest.raises(dcl_enas.DclError, match="closed"):
        search.ask()


def test_settings_are_checked(nb201):
    with pytest.raises(dcl_enas.InvalidValue, match="unknown setting"):
        dcl_enas.DclEnas(nb201, dcl_enas={"initail": 5})
    with pytest.raises(dcl_enas.InvalidValue):
        dcl_enas.DclEnas(nb201, dcl_enas={"initial": 1}, **QUICK)
    with pytest.raises(dcl_enas.InvalidValue):
        dcl_enas.DclEnas(nb201, pretrain={"batch_size": 0})
    with pytest.raises(dcl_enas.InvalidValue):
        dcl_enas.RegularizedEvolution(nb201, population_size=0)


def play(search, rounds, seed):
    """A user's loop with uneven ask sizes and tells in a shuffled order."""
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        asked = search.ask(int(rng.integers(1, 4))) or search.pending
        for i in rng.permutation(len(asked)):
            arch = asked[i]
            if rng.random() < 0.1:
                search.tell_failure(arch, "boom")
            else:
                search.tell(arch, toy(arch))


@pytest.mark.parametrize("kind", ["random", "re", "dcl-enas"])
def test_a_journalled_search_resumes_where_it_stopped(nb201, tmp_path, kind):
    def make(journal=None, seed=3):
        if kind == "random":
            return dcl_enas.RandomSearch(nb201, seed=seed, journal=journal)
        if kind == "re":
            return dcl_enas.RegularizedEvolution(nb201, seed=seed, journal=journal, population_size=5)
        return dcl_enas.DclEnas(nb201, seed=seed, journal=journal,
                                dcl_enas={"initial": 4, "infill": 3}, **QUICK)

    whole = make()
    play(whole, 8, seed=0)
    run = tmp_path / "run"
    with make(journal=str(run)) as first:
        play(first, 8, seed=0)
        assert [(a.key, f) for a, f in first.history] == [(a.key, f) for a, f in whole.history]
        # The run directory is locked while the search is open.
        with pytest.raises(dcl_enas.DclError, match="in use"):
            make(journal=run)
    assert (run / "journal.jsonl").exists()
    resumed = make(journal=run)
    assert resumed.replayed == len(whole.history)
    assert [(a.key, f) for a, f in resumed.history] == [(a.key, f) for a, f in whole.history]
    # Asks after the last tell are not replayed: asking again brings them back.
    missing = whole.asked - resumed.asked
    if missing:
        resumed.ask(missing)
    assert [a.key for a in resumed.pending] == [a.key for a in whole.pending]
    play(resumed, 6, seed=1)
    play(whole, 6, seed=1)
    assert [(a.key, f) for a, f in resumed.history] == [(a.key, f) for a, f in whole.history]
    resumed.close()
    # Another seed or setting does not replay that journal.
    with pytest.raises(dcl_enas.InvalidValue, match="seed"):
        make(journal=run, seed=4)
    # The journal is the program's format: a header line, then one line per outcome.
    lines = [json.loads(l) for l in (run / "journal.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["settings"]["front"] == "python ask/tell"
    assert len(lines) == 1 + len(whole.history)
    assert all(l["asks_before"] >= 1 for l in lines[1:])


def test_a_journal_that_cannot_be_written_is_a_file_error(nb201, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(dcl_enas.FileError):
        dcl_enas.RandomSearch(nb201, journal=blocker / "run")
    with pytest.raises(OSError):
        dcl_enas.RandomSearch(nb201, journal=blocker / "run")


def dcl_enas_binary():
    given = os.environ.get("DCL_ENAS_BIN")
    path = given or str(ROOT / "target" / "debug" / "dcl-enas")
    if not os.path.exists(path):
        if given:  # CI names it: a missing program is a failure there, not a skip
            pytest.fail(f"DCL_ENAS_BIN={given} does not exist")
        pytest.skip(f"no dcl-enas program at {path} (cargo build)")
    return path


def test_the_same_seed_gives_the_programs_search(nb201, table, tmp_path):
    """The Python front adds no randomness: DCL-ENAS from Python asks exactly what
    `dcl-enas search` asks with the same seed and settings, and finds the same best."""
    config = tmp_path / "search.toml"
    config.write_text(
        'strategy = "dcl-enas"\nbudget = 40\nseed = 7\n'
        "[dcl_enas]\ninitial = 10\ninfill = 5\n"
        "[pretrain]\nepochs = 1\nmax_steps = 20\n"
        "[finetune]\nepochs = 10\n"
    )
    out = subprocess.run(
        [dcl_enas_binary(), "search", "--config", str(config), "--out", str(tmp_path / "cli")],
        capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    journal = [json.loads(l) for l in (tmp_path / "cli" / "journal.jsonl").read_text().splitlines()[1:]]

    search = dcl_enas.DclEnas(nb201, seed=7, dcl_enas={"initial": 10, "infill": 5},
                              pretrain={"epochs": 1, "max_steps": 20}, finetune={"epochs": 10})
    while len(search.history) < 40:
        for arch in search.ask(1):
            search.tell(arch, table.accuracy(arch))
    assert [a.key for a, _ in search.history] == [r["key"] for r in journal]
    best, _ = search.best()
    line = f"best arch={best} acc={table.accuracy(best):.2f} rank={table.rank(best)}/{len(table)} queries=40"
    assert out.startswith(line + " "), (out, line)


# ------------------------------------------------------------------------------- predictor


def test_the_predictor_learns_to_rank_and_saves(nb201, tmp_path):
    archs = nb201.sample(300, seed=4)
    train, held = archs[:200], archs[200:]
    p = dcl_enas.Predictor(nb201, seed=2, model={"hidden": 32, "layers": 2})
    report = p.pretrain(train, epochs=1, batch_size=64)
    assert report["steps"] == 4 and report["seconds"] >= 0
    report = p.finetune(train, [toy(a) for a in train], epochs=30)
    assert report["final_loss"] < report["first_loss"]
    scores = p.score(held)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64 and scores.shape == (100,)
    truth = np.array([toy(a) for a in held])
    # Concordant pairs among pairs with different truths: well above chance.
    i, j = np.triu_indices(len(held), 1)
    d = np.sign(truth[i] - truth[j])
    agree = np.mean((np.sign(scores[i] - scores[j]) == d)[d != 0])
    assert agree > 0.7, agree
    # Same seed, same predictor.
    q = dcl_enas.Predictor(nb201, seed=2, model={"hidden": 32, "layers": 2})
    q.pretrain(train, epochs=1, batch_size=64)
    q.finetune(train, [toy(a) for a in train], epochs=30)
    assert np.array_equal(q.score(held), scores)
    # Save and load.
    path = tmp_path / "p.dcl"
    p.save(path)
    r = dcl_enas.Predictor.load(nb201, path)
    assert np.array_equal(r.score(held), scores) and r.num_params == p.num_params
    with pytest.raises(dcl_enas.InvalidValue):
        dcl_enas.Predictor.load(dcl_enas.cell(4, ["none", "conv3"]), path)
    (tmp_path / "junk").write_bytes(b"not a predictor")
    with pytest.raises(dcl_enas.InvalidValue):
        dcl_enas.Predictor.load(nb201, tmp_path / "junk")
    with pytest.raises(dcl_enas.FileError):
        dcl_enas.Predictor.load(nb201, tmp_path / "missing")
    # Bad labels.
    with pytest.raises(dcl_enas.InvalidValue):
        p.finetune(train[:3], [1.0, 2.0])
    with pytest.raises(dcl_enas.InvalidValue):
        p.finetune(train[:3], [1.0, float("nan"), 2.0])
    with pytest.raises(dcl_enas.InvalidValue, match="unknown setting"):
        p.pretrain(train, epoch=1)
    with pytest.raises(dcl_enas.InvalidValue):
        p.score(dcl_enas.nb101().sample(2))


def test_dcl_enas_searches_with_a_given_predictor(nb201, tmp_path):
    p = dcl_enas.Predictor(nb201, seed=1, model={"hidden": 16, "layers": 1, "projection": 8})
    p.pretrain(nb201.sample(128, seed=0), epochs=1, batch_size=64)
    run = tmp_path / "run"
    with dcl_enas.DclEnas(nb201, seed=0, predictor=p, journal=run, finetune={"epochs": 2},
                          dcl_enas={"initial": 4}) as s:
        play(s, 5, seed=2)
        told = [a.key for a, _ in s.history]
    # Another predictor is another run: its journal does not replay.
    other = dcl_enas.Predictor(nb201, seed=2, model={"hidden": 16, "layers": 1, "projection": 8})
    with pytest.raises(dcl_enas.InvalidValue, match="predictor"):
        dcl_enas.DclEnas(nb201, seed=0, predictor=other, journal=run, finetune={"epochs": 2},
                         dcl_enas={"initial": 4})
    with dcl_enas.DclEnas(nb201, seed=0, predictor=p, journal=run, finetune={"epochs": 2},
                          dcl_enas={"initial": 4}) as s:
        assert [a.key for a, _ in s.history] == told
    with pytest.raises(dcl_enas.InvalidValue, match="space"):
        dcl_enas.DclEnas(dcl_enas.cell(4, ["none", "conv3"]), predictor=p)


def test_stage1_architectures(nb201):
    assert len(dcl_enas.stage1_architectures(nb201)) == 15625
    big = dcl_enas.cell(nodes=6, ops=["none", "skip", "conv3", "conv1", "pool"])
    archs = dcl_enas.stage1_architectures(big, seed=1, sample=300)
    assert len(archs) == 300 and len({a.key for a in archs}) == 300
    assert archs == dcl_enas.stage1_architectures(big, seed=1, sample=300)


# ------------------------------------------------------- threads, Ctrl-C, logging, errors


def test_threads_can_be_set():
    dcl_enas.set_threads(1)
    assert dcl_enas.threads() == 1
    dcl_enas.set_threads(2)
    assert dcl_enas.threads() == 2
    dcl_enas.set_threads(0)
    assert dcl_enas.threads() >= 1


def test_work_releases_the_interpreter(nb201):
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        p = dcl_enas.Predictor(nb201, seed=0)
        before = len(ticks)
        started = time.time()
        p.pretrain(nb201.sample(512, seed=0), epochs=2, batch_size=64)
        elapsed = time.time() - started
        during = len(ticks) - before
    finally:
        stop.set()
        t.join()
    # With the interpreter held for the whole pre-training, the other thread could not tick.
    assert during > 0.2 * elapsed / 0.002, (during, elapsed)


def test_ctrl_c_stops_pretraining_promptly():
    code = (
        "import dcl_enas, signal, sys, time\n"
        # What an interactive Python has; a child of a shell's background job starts with
        # SIGINT ignored.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "s = dcl_enas.nb201(); p = dcl_enas.Predictor(s)\n"
        "archs = s.sample(512)\n"
        "print('started', flush=True)\n"
        "t = time.time()\n"
        "try:\n"
        "    p.pretrain(archs, epochs=100000, batch_size=64)\n"
        "except KeyboardInterrupt:\n"
        "    print(f'interrupted {time.time() - t:.1f}', flush=True)\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert out.startswith("interrupted")
    assert time.time() - sent < 10


def test_ctrl_c_during_a_refit_closes_the_search_and_its_journal_goes_on(tmp_path):
    run = tmp_path / "run"
    code = (
        "import dcl_enas, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "s = dcl_enas.nb201()\n"
        f"search = dcl_enas.DclEnas(s, seed=0, journal={str(run)!r}, dcl_enas={{'initial': 4}},\n"
        "    pretrain={'max_steps': 2}, finetune={'epochs': 1000000})\n"
        "for a in search.ask(4):\n"
        "    search.tell(a, float(len(str(a))))\n"
        "print('refit', flush=True)\n"
        "try:\n"
        "    search.ask(1)\n"
        "except KeyboardInterrupt:\n"
        "    try:\n"
        "        search.ask(1)\n"
        "    except dcl_enas.DclError as e:\n"
        "        print('closed', 'interruption' in str(e), flush=True)\n"
        "        sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "refit"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and out.strip() == "closed True", out
    # The four outcomes are journalled; the search goes on from them.
    again = dcl_enas.DclEnas(dcl_enas.nb201(), seed=0, journal=run, dcl_enas={"initial": 4},
                             pretrain={"max_steps": 2}, finetune={"epochs": 1000000})
    assert again.replayed == 4
    again.close()


def test_progress_goes_to_logging_and_nothing_is_printed(nb201, caplog, capfd):
    with caplog.at_level(logging.INFO, logger="dcl_enas"):
        p = dcl_enas.Predictor(nb201, seed=0)
        p.pretrain(nb201.sample(128, seed=0), epochs=2, batch_size=64)
        search = dcl_enas.DclEnas(nb201, seed=0, **QUICK)
    progress = [r for r in caplog.records if r.name == "dcl_enas.progress"]
    assert any("task=pretrain" in r.getMessage() and "done=4" in r.getMessage() for r in progress)
    assert any(r.name == "dcl_enas" and "stage 1" in r.getMessage() for r in caplog.records)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    search.close()


def test_the_exception_classes():
    assert issubclass(dcl_enas.InvalidValue, dcl_enas.DclError)
    assert issubclass(dcl_enas.InvalidValue, ValueError)
    assert issubclass(dcl_enas.FileError, OSError) and issubclass(dcl_enas.FileError, dcl_enas.DclError)
    assert issubclass(dcl_enas.NotInTable, KeyError) and issubclass(dcl_enas.NotInTable, dcl_enas.DclError)
    assert dcl_enas.__version__


def test_every_export_is_documented_and_typed():
    stubs = (Path(dcl_enas.__file__).parent / "__init__.pyi").read_text()
    for name in dcl_enas.__all__:
        obj = getattr(dcl_enas, name)
        if name != "__version__":
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
            typed = [f"def {name}(", f"class {name}", f"import {name} as {name}"]
            assert any(t in stubs for t in typed), f"{name} is not in the stubs"
    for cls in [dcl_enas.Search, dcl_enas.Space, dcl_enas.Arch, dcl_enas.Predictor,
                dcl_enas.Nb201Table, dcl_enas.Nb101Table]:
        for attr, value in vars(cls).items():
            if not attr.startswith("_"):
                assert (value.__doc__ or "").strip(), f"{cls.__name__}.{attr} has no docstring"
                assert f" {attr}(" in stubs or f"def {attr}(" in stubs, f"{cls.__name__}.{attr} is not in the stubs"


def test_a_search_describes_itself_and_ends_when_the_space_is_used_up(tmp_path):
    tiny = dcl_enas.cell(nodes=2, ops=["none", "conv3", "skip"], name="tiny")  # 3 cells
    assert tiny.size == 3
    with dcl_enas.RandomSearch(tiny, seed=0, journal=tmp_path / "run") as s:
        assert (s.strategy, s.space, s.journal) == ("random", tiny, str(tmp_path / "run"))
        assert not s.finished
        asked = s.ask(10)
        assert len(asked) == 3 and len({a.key for a in asked}) == 3
        assert s.ask(1) == [] and s.finished
        for a in asked:
            s.tell(a, 1.0)
        assert "random" in repr(s) and "told=3" in repr(s)
    assert repr(s) == "Search(closed)"
    with dcl_enas.RegularizedEvolution(tiny) as s:
        assert s.strategy == "regularized-evolution" and s.journal is None
