//! The `dcl-enas` program, run for real: the main job on a small budget, a config file that
//! repeats a run, a used run directory refused, `report` re-deriving a run's files from its
//! journal, every invalid value refused before any work with a message naming its flag, and
//! progress drawn as bars under a pseudo-terminal but as plain lines elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use dcl_bench::{Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_graph::Nb201Cell;

use crate::common::{self, BIN, run, text};

/// A DCL-ENAS config small enough for a test: a few pre-training steps, short refits.
const TINY: &str = "
budget = 16
seed = 2

[dcl_enas]
initial = 6
infill = 5
offspring = 40
generations = 2

[pretrain]
epochs = 1
max_steps = 3

[finetune]
epochs = 4
";

fn temp(name: &str) -> PathBuf {
    common::temp("cli", name)
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "dcl-enas {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// `summary.json` without its timing.
fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("seconds");
    v
}

/// `history.csv` without its seconds column.
fn history_rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect()
}

/// The journal's evaluation lines without their timing.
fn journal_outcomes(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or("")
}

#[test]
fn the_main_job_on_a_small_budget_ends_with_its_summary_line() {
    let dir = temp("main");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run_dir = dir.join("run");
    let stdout = ok(&[
        "search",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    let line = last_line(&stdout);
    let fields: Vec<(&str, &str)> = line
        .strip_prefix("best ")
        .unwrap_or_else(|| panic!("not a summary line: {line}"))
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["arch", "acc", "rank", "queries", "seconds"]);
    // The line tells the truth about the table.
    let table = Nb201Table::embedded().unwrap();
    let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
    let cell: Nb201Cell = fields[0].1.parse().unwrap();
    assert_eq!(
        fields[1].1,
        format!("{:.2}", table.accuracy(&cell, metric).unwrap())
    );
    assert_eq!(
        fields[2].1,
        format!("{}/15625", table.rank(&cell, metric).unwrap())
    );
    assert_eq!(fields[3].1, "16");
    // The best of the history is the best cell, and every row is the table's value.
    let rows = history_rows(&run_dir);
    assert_eq!(rows[0], "query,arch,fitness");
    assert_eq!(rows.len(), 17);
    let mut best = f64::MIN;
    for row in &rows[1..] {
        let (rest, fitness) = row.rsplit_once(',').unwrap();
        let (_, arch) = rest.split_once(',').unwrap();
        let c: Nb201Cell = arch.parse().unwrap();
        let f: f64 = fitness.parse().unwrap();
        assert_eq!(f, table.accuracy(&c, metric).unwrap());
        best = best.max(f);
    }
    assert_eq!(best, table.accuracy(&cell, metric).unwrap());
    for f in [
        "config.toml",
        "journal.jsonl",
        "history.json",
        "best_so_far.svg",
    ] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
    let svg = std::fs::read_to_string(run_dir.join("best_so_far.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("dcl-enas"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_saved_config_repeats_the_run_and_a_used_directory_is_refused() {
    let dir = temp("repeat");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    let first = ok(&[
        "search",
        "--config",
        cfg.to_str().unwrap(),
        "--batch",
        "3",
        "--out",
        a.to_str().unwrap(),
    ]);
    // The resolved config holds the flag, and no output directory.
    let saved = std::fs::read_to_string(a.join("config.toml")).unwrap();
    assert!(saved.contains("batch = 3") && saved.contains("max_steps = 3"));
    assert!(!saved.contains(a.to_str().unwrap()));
    let again = ok(&[
        "search",
        "--config",
        a.join("config.toml").to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
    ]);
    let strip = |s: &str| last_line(s).rsplit_once(" seconds=").unwrap().0.to_owned();
    assert_eq!(strip(&first), strip(&again));
    assert_eq!(summary(&a), summary(&b));
    assert_eq!(history_rows(&a), history_rows(&b));
    assert_eq!(journal_outcomes(&a), journal_outcomes(&b));
    assert_eq!(journal_outcomes(&a).len(), 16);

    // What a kill leaves (a journal cut in the middle of a line, no other output) resumes to
    // the same run.
    let c = dir.join("c");
    std::fs::create_dir_all(&c).unwrap();
    let journal = std::fs::read_to_string(a.join("journal.jsonl")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    let mut cut = lines[..8].join("\n");
    cut.push('\n');
    cut.push_str(&lines[8][..lines[8].len() / 2]);
    std::fs::write(c.join("journal.jsonl"), cut).unwrap();
    std::fs::copy(a.join("config.toml"), c.join("config.toml")).unwrap();
    let refused = run(&["search", "--resume", c.to_str().unwrap(), "--seed", "9"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("seed"));
    let resumed = ok(&["search", "--resume", c.to_str().unwrap()]);
    assert_eq!(strip(&resumed), strip(&first));
    assert_eq!(summary(&c), summary(&a));
    assert_eq!(history_rows(&c), history_rows(&a));

    // A directory that holds a journal is never written over.
    let before = std::fs::read(a.join("journal.jsonl")).unwrap();
    let out = run(&[
        "search",
        "--strategy",
        "random",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already holds a journal"), "{err}");
    assert_eq!(std::fs::read(a.join("journal.jsonl")).unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(a.join("config.toml")).unwrap(),
        saved
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_rederives_a_runs_files_from_its_journal() {
    let dir = temp("report");
    // Batches of 4 on 3 workers: outcomes come back in any order, the history is in ask order.
    for (strategy, extra) in [("random", "4"), ("re", "1")] {
        let run_dir = dir.join(strategy);
        ok(&[
            "search",
            "--strategy",
            strategy,
            "--budget",
            "40",
            "--batch",
            extra,
            "--workers",
            "3",
            "--seed",
            "5",
            "--out",
            run_dir.to_str().unwrap(),
        ]);
        let (s, rows) = (summary(&run_dir), history_rows(&run_dir));
        let history: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run_dir.join("history.json")).unwrap())
                .unwrap();
        for f in [
            "summary.json",
            "history.csv",
            "history.json",
            "best_so_far.svg",
        ] {
            std::fs::remove_file(run_dir.join(f)).unwrap();
        }
        let stdout = ok(&["report", run_dir.to_str().unwrap()]);
        assert!(last_line(&stdout).starts_with("best arch="));
        assert_eq!(summary(&run_dir), s, "{strategy}");
        assert_eq!(history_rows(&run_dir), rows, "{strategy}");
        let rebuilt: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run_dir.join("history.json")).unwrap())
                .unwrap();
        let archs = |h: &serde_json::Value| {
            h["queries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["arch"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(archs(&rebuilt), archs(&history));
        assert!(run_dir.join("best_so_far.svg").exists());
    }
    let out = run(&["report", dir.join("nothing").to_str().unwrap()]);
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Copies the committed format-1 run directory `name` (tests/data/journal_v1) to `to`.
fn format1_run(name: &str, to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/journal_v1")
        .join(name);
    std::fs::create_dir_all(to).unwrap();
    for f in ["journal.jsonl", "config.toml"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

#[test]
fn a_format_1_journal_is_reported_and_resumed_as_the_same_run() {
    let dir = temp("format1");
    // The flags that made the committed runs (tests/data/journal_v1/README.md).
    let runs: [(&str, &[&str]); 2] = [
        (
            "nb201",
            &[
                "--space",
                "nb201",
                "--strategy",
                "re",
                "--budget",
                "30",
                "--seed",
                "3",
                "--batch",
                "2",
            ],
        ),
        (
            "nb101",
            &[
                "--space",
                "nb101",
                "--strategy",
                "random",
                "--budget",
                "12",
                "--seed",
                "5",
            ],
        ),
    ];
    for (name, flags) in runs {
        // The same run made from scratch by this version.
        let fresh = dir.join(format!("{name}-fresh"));
        let mut args = vec!["search"];
        args.extend_from_slice(flags);
        args.extend(["--out", fresh.to_str().unwrap()]);
        let fresh_line = last_line(&ok(&args)).to_owned();

        // `report` reads the old journal as it is.
        let reported = dir.join(format!("{name}-report"));
        format1_run(name, &reported);
        let stdout = ok(&["report", reported.to_str().unwrap()]);
        assert_eq!(summary(&reported), summary(&fresh), "{name}");
        assert_eq!(history_rows(&reported), history_rows(&fresh), "{name}");
        assert!(last_line(&stdout).starts_with("best arch="), "{name}");
        let header = std::fs::read_to_string(reported.join("journal.jsonl")).unwrap();
        assert!(
            header.starts_with(r#"{"type":"header","format":1,"#),
            "{name}"
        );

        // `--resume` rewrites it in format 2 and replays it without evaluating anything again.
        let resumed = dir.join(format!("{name}-resumed"));
        format1_run(name, &resumed);
        let before = journal_outcomes(&resumed).len();
        let stdout = ok(&["search", "--resume", resumed.to_str().unwrap()]);
        let strip = |s: &str| s.rsplit_once(" seconds=").unwrap().0.to_owned();
        assert_eq!(strip(last_line(&stdout)), strip(&fresh_line), "{name}");
        assert_eq!(summary(&resumed), summary(&fresh), "{name}");
        assert_eq!(history_rows(&resumed), history_rows(&fresh), "{name}");
        let journal = std::fs::read_to_string(resumed.join("journal.jsonl")).unwrap();
        assert!(
            journal.starts_with(r#"{"type":"header","format":2,"#),
            "{name}"
        );
        // Its runs trained no predictor with anything but burn, and its header now says so:
        // resuming it with the other engine is refused, naming the setting.
        assert!(
            journal
                .lines()
                .next()
                .unwrap()
                .contains(r#""training_engine":"burn""#),
            "{name}"
        );
        let refused = run(&[
            "search",
            "--resume",
            resumed.to_str().unwrap(),
            "--training-engine",
            "native",
        ]);
        assert!(!refused.status.success(), "{name}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("training_engine"),
            "{name}"
        );
        assert_eq!(
            journal_outcomes(&resumed).len(),
            before,
            "{name}: nothing re-evaluated"
        );
        // The rewritten journal is the fresh run's, line for line, timings aside.
        assert_eq!(
            journal_outcomes(&resumed),
            journal_outcomes(&fresh),
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_invalid_value_is_refused_before_any_work_naming_its_flag() {
    let dir = temp("invalid");
    std::fs::create_dir_all(&dir).unwrap();
    let bad_key = dir.join("bad.toml");
    std::fs::write(&bad_key, "budget = 10\n[dcl_enas]\ninfil = 3\n").unwrap();
    let deep = dir.join("deep.toml");
    std::fs::write(&deep, "[model]\nlayers = 65\n").unwrap();
    let narrow = dir.join("narrow.toml");
    std::fs::write(&narrow, "[model]\nhidden = 0\n").unwrap();
    let slurm_files: Vec<(String, &str)> = [
        (
            "poll",
            "[slurm]\npoll_seconds = 0\n",
            "key `slurm.poll_seconds`",
        ),
        (
            "time",
            "[slurm]\ntime_limit = \"soon\"\n",
            "key `slurm.time_limit`",
        ),
        ("mem", "[slurm]\nmem = \"4GB\"\n", "key `slurm.mem`"),
        (
            "extra",
            "[slurm]\nsbatch_extra = [\"qos=x\"]\n",
            "key `slurm.sbatch_extra`",
        ),
        (
            "attempts",
            "max_attempts = 5\n[slurm]\nretries = 1\n",
            "key `max_attempts`",
        ),
        (
            "typo",
            "[slurm]\npartitoin = \"gpu\"\n",
            "`slurm.partitoin`",
        ),
    ]
    .into_iter()
    .map(|(name, text, expected)| {
        let path = dir.join(format!("slurm-{name}.toml"));
        std::fs::write(&path, format!("executor = \"slurm\"\n{text}")).unwrap();
        (path.to_str().unwrap().to_owned(), expected)
    })
    .collect();
    let out_dir = dir.join("never");
    let out = out_dir.to_str().unwrap();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["search", "--executor", "slurm", "--max-attempts", "2"],
            "--max-attempts",
        ),
        (vec!["search", "--budget", "0"], "--budget"),
        (
            vec!["search", "--budget", "15626"],
            "--budget (key `budget`) 15626 is more than the space holds: nb201 has 15625",
        ),
        (
            vec!["search", "--space", "nb101", "--budget", "20002"],
            "--budget (key `budget`) 20002 is more than the space holds: nb101 has 20001",
        ),
        (
            vec!["ecg", "search", "--budget", "15626"],
            "--budget (key `budget`) 15626 is more than the space holds: 15625",
        ),
        (
            vec![
                "ecg",
                "search",
                "--budget",
                "31251",
                "--feature-entries",
                "head,stem",
            ],
            "31250 architectures",
        ),
        (vec!["search", "--batch", "0"], "--batch"),
        (vec!["search", "--max-attempts", "0"], "--max-attempts"),
        (vec!["search", "--workers", "0"], "--workers"),
        (vec!["search", "--pretrain-lr", "-0.1"], "--pretrain-lr"),
        (vec!["search", "--pretrain-lr", "NaN"], "--pretrain-lr"),
        (vec!["search", "--finetune-lr", "inf"], "--finetune-lr"),
        // Stage 2's flags were --refit-*: they still parse, and messages name today's.
        (vec!["search", "--refit-lr", "inf"], "--finetune-lr"),
        (
            vec!["search", "--finetune-weight-decay", "-1e-4"],
            "--finetune-weight-decay",
        ),
        (
            vec!["search", "--crossover-rate", "1.5"],
            "--crossover-rate",
        ),
        (vec!["search", "--edge-drop", "-0.1"], "--edge-drop"),
        (
            vec!["search", "--op-substitution", "2"],
            "--op-substitution",
        ),
        (vec!["search", "--node-mask", "NaN"], "--node-mask"),
        (
            vec!["search", "--infill", "5", "--explore", "6"],
            "--explore",
        ),
        (vec!["search", "--infill", "0"], "--infill"),
        (vec!["search", "--initial", "1"], "--initial"),
        (vec!["search", "--offspring", "4000000000"], "--offspring"),
        (vec!["search", "--tournament", "4000000000"], "--tournament"),
        (
            vec!["search", "--re-sample", "0", "--strategy", "re"],
            "--re-sample",
        ),
        (
            vec!["search", "--pretrain-epochs", "0"],
            "--pretrain-epochs",
        ),
        (
            vec!["search", "--finetune-epochs", "0"],
            "--finetune-epochs",
        ),
        (
            vec!["benchmark", "--finetune-batch-size", "1"],
            "--finetune-batch-size",
        ),
        (
            vec!["search", "--space", "nb101", "--column", "test200"],
            "--column",
        ),
        (
            vec!["search", "--space", "nb101", "--dataset", "cifar100"],
            "--dataset",
        ),
        (
            vec!["search", "--config", bad_key.to_str().unwrap()],
            "`dcl_enas.infil`",
        ),
        (vec!["search", "--strategy", "annealing"], "--strategy"),
        (vec!["search", "--budget", "-3"], "--budget"),
        (vec!["benchmark", "--seeds", "0"], "--seeds"),
        (
            vec![
                "benchmark",
                "--seed-offset",
                "18446744073709551615",
                "--seeds",
                "2",
            ],
            "--seed-offset",
        ),
        (
            vec!["predictor", "eval", "--seed-offset", "18446744073709551615"],
            "--seed-offset",
        ),
        (vec!["benchmark", "--budget", "50,0"], "--budget"),
        (
            vec!["benchmark", "--budget", "50,15626"],
            "--budget (key `budgets`) 15626 is more than",
        ),
        (vec!["benchmark", "--protocol", "valid108"], "--protocol"),
        (vec!["benchmark", "--explore", "9"], "--explore"),
        (
            vec!["benchmark", "--config", bad_key.to_str().unwrap()],
            "unknown key",
        ),
        (
            vec!["search", "--config", deep.to_str().unwrap()],
            "key `model.layers`",
        ),
        (
            vec!["benchmark", "--config", narrow.to_str().unwrap()],
            "key `model.hidden`",
        ),
        (vec!["predictor", "eval", "--layers", "65"], "--layers"),
        (vec!["predictor", "eval", "--k", "15624"], "--k"),
        (vec!["predictor", "eval", "--k", "1"], "--k"),
        (vec!["predictor", "eval", "--seeds", "0"], "--seeds"),
        (
            vec!["predictor", "eval", "--pretrain-sample", "1"],
            "--pretrain-sample",
        ),
        (
            vec!["predictor", "eval", "--pretrain-sample", "15626"],
            "--pretrain-sample",
        ),
        (
            vec!["predictor", "eval", "--finetune-lr", "-1"],
            "--finetune-lr",
        ),
        (
            vec!["predictor", "eval", "--finetune-weight-decay", "NaN"],
            "--finetune-weight-decay",
        ),
        (
            vec!["predictor", "eval", "--finetune-epochs", "0"],
            "--finetune-epochs",
        ),
        (
            vec!["predictor", "eval", "--edge-drop", "1.5"],
            "--edge-drop",
        ),
        (vec!["predictor", "eval", "--hidden", "0"], "--hidden"),
        (
            vec!["predictor", "eval", "--space", "nb101", "--k", "20000"],
            "--k",
        ),
        (vec!["ecg", "baseline", "--channels", "0"], "--channels"),
        (vec!["worker", "--spec", "x.json"], "--out"),
        (
            vec!["ecg", "search", "--executor", "slurm", "--workers", "2"],
            "--workers",
        ),
        (
            vec![
                "ecg",
                "search",
                "--executor",
                "slurm",
                "--max-attempts",
                "5",
            ],
            "--max-attempts",
        ),
        (
            vec!["ecg", "search", "--eval-per-class", "0"],
            "--eval-per-class",
        ),
        (
            vec!["ecg", "search", "--proxy-valid-per-class", "0"],
            "--proxy-valid-per-class",
        ),
        (
            vec!["ecg", "search", "--proxy-epochs", "0"],
            "--proxy-epochs",
        ),
        (vec!["ecg", "search", "--full-epochs", "0"], "--full-epochs"),
        (vec!["ecg", "search", "--budget", "0"], "--budget"),
        (vec!["ecg", "search", "--initial", "1"], "--initial"),
        (vec!["ecg", "search", "--explore", "6"], "--explore"),
        (
            vec!["ecg", "baseline", "--weight-decay", "-1"],
            "--weight-decay",
        ),
        (
            vec!["ecg", "baseline", "--signal-dropout", "1.5"],
            "--signal-dropout",
        ),
        (vec!["ecg", "baseline", "--device", "tpu"], "--device"),
        (vec!["ecg", "search", "--workers", "0"], "--workers"),
        (vec!["ecg", "cell", "|not_a_cell|"], "CELL"),
        (
            vec!["ecg", "baseline", "--data", "/nonexistent/mitdb"],
            "--data",
        ),
    ];
    for (path, expected) in &slurm_files {
        cases.push((vec!["search", "--config", path], expected));
    }
    for (mut args, flag) in cases {
        // Commands with a run directory get one that must stay unmade.
        if matches!(args[0], "search" | "benchmark") || args[..2] == ["ecg", "search"] {
            args.extend(["--out", out]);
        }
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(
            err.contains(flag),
            "{args:?}: the message does not name {flag}: {err}"
        );
        assert!(!out_dir.exists(), "{args:?} started work before refusing");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_worker_that_cannot_read_its_spec_still_writes_a_failure_result() {
    let dir = temp("worker");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("result.json");
    let spec = dir.join("spec.json");
    // The worker's result for the spec file's current content.
    let work = || {
        ok(&[
            "worker",
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        dcl_slurm::TaskResult::read(&out).unwrap()
    };
    std::fs::write(&spec, "{\"format\": 1, \"space\": \"nb201\"").unwrap();
    let r = work();
    assert_eq!(r.outcome().unwrap_err().kind, dcl_graph::FailureKind::Error);
    assert!(r.failure.unwrap().message.contains("unreadable spec"));
    // A good spec: the table's value.
    let cell: Nb201Cell =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
            .parse()
            .unwrap();
    let task = dcl_slurm::TaskSpec::new(
        "nb201",
        serde_json::to_value(cell).unwrap(),
        "k",
        serde_json::json!({"kind": "table", "dataset": "cifar100", "column": "valid12"}),
    );
    task.write(&spec).unwrap();
    let metric = Nb201Metric::new(Nb201Dataset::Cifar100, Nb201Column::Valid12);
    let expected = Nb201Table::embedded()
        .unwrap()
        .accuracy(&cell, metric)
        .unwrap();
    assert_eq!(work().outcome(), Ok(expected));
    // A space the worker does not know is a failure, not a crash.
    let odd = dcl_slurm::TaskSpec {
        space: "nb999".into(),
        ..task
    };
    odd.write(&spec).unwrap();
    assert!(work().failure.unwrap().message.contains("nb999"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn progress_is_bars_on_a_terminal_and_plain_lines_elsewhere() {
    let dir = temp("progress");
    let args = |d: &Path| {
        format!(
            "search --strategy random --budget 200 --seed 1 --out {}",
            d.display()
        )
    };
    // Not a terminal: one plain line at the end of each task, no escape codes, no redraws.
    let piped = Command::new(BIN)
        .args(args(&dir.join("piped")).split(' '))
        .env_remove("DCL_PROGRESS")
        .output()
        .unwrap();
    assert!(piped.status.success());
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(err.contains("queries: 200/200 (100 %"), "{err}");
    assert!(!err.contains('\x1b') && !err.contains('\r'), "{err:?}");

    // A pseudo-terminal (util-linux `script`): a bar, drawn with escape codes.
    let tty = Command::new("script")
        .args([
            "-qec",
            &format!("{BIN} {}", args(&dir.join("tty"))),
            "/dev/null",
        ])
        .env_remove("DCL_PROGRESS")
        .output()
        .expect("util-linux `script` runs the program under a pseudo-terminal");
    assert!(tty.status.success());
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(screen.contains("queries ["), "no bar drawn: {screen:?}");
    assert!(screen.contains("200/200"), "{screen:?}");
    assert!(screen.contains('\x1b'), "{screen:?}");
    assert!(
        !screen.contains("queries: 200/200"),
        "plain lines on a terminal: {screen:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ecg_baseline_writes_its_runs_and_compare_scores_them_as_the_literature_does() {
    let dir = temp("ecg-compare");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("baseline.json");
    let f = file.to_str().unwrap();
    let trained = ok(&[
        "ecg",
        "baseline",
        "--baseline-entry",
        "stem",
        "--full-per-class",
        "16",
        "--eval-per-class",
        "16",
        "--full-epochs",
        "1",
        "--final-seeds",
        "0,1",
        "--out",
        f,
    ]);
    assert!(
        last_line(&trained).starts_with("ecg model=baseline-stem "),
        "{trained}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(report["model"], "baseline-stem");
    assert_eq!(report["config"]["baseline_entry"], "stem");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    // Balanced accuracy, and mean sensitivity over N/S/V/F from the confusion matrix by hand.
    let mut balanced = Vec::new();
    let mut mean_se = Vec::new();
    for r in runs {
        balanced.push(100.0 * r["test"]["balanced_accuracy"].as_f64().unwrap());
        let confusion: Vec<Vec<f64>> =
            serde_json::from_value(r["test"]["confusion"].clone()).unwrap();
        assert_eq!(confusion.iter().flatten().sum::<f64>(), 4.0 * 16.0);
        let se: f64 = (0..4)
            .map(|k| confusion[k][k] / confusion[k].iter().sum::<f64>())
            .sum();
        mean_se.push(100.0 * se / 4.0);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let compared = ok(&["ecg", "compare", f]);
    let line = last_line(&compared);
    assert!(
        line.starts_with(&format!(
            "ecg model=baseline-stem balanced_acc={:.2}±0.00 ",
            mean(&balanced)
        )),
        "{compared}"
    );
    assert!(
        line.contains(&format!(" mean_se={:.2}±0.00 ", mean(&mean_se))),
        "{compared}"
    );
    assert!(
        line.contains(" jk=") && line.ends_with(" seeds=1"),
        "{line}"
    );
    // Two files are two search seeds of the model; a file that is no report is refused.
    let twice = ok(&["ecg", "compare", f, f]);
    assert!(last_line(&twice).ends_with(" seeds=2"), "{twice}");
    let not_a_report = run(&["ecg", "compare", "Cargo.toml"]);
    assert!(!not_a_report.status.success());
    assert!(String::from_utf8_lossy(&not_a_report.stderr).contains("Cargo.toml"));
    // Paired differences by search seed: the stem baseline against copies named logits, one
    // of them with every balanced accuracy one point lower.
    let copy = |model: &str, seed: u64, lower: f64| {
        let mut r = report.clone();
        r["model"] = model.into();
        r["config"]["seed"] = seed.into();
        for run in r["runs"].as_array_mut().unwrap() {
            let b = run["test"]["balanced_accuracy"].as_f64().unwrap();
            run["test"]["balanced_accuracy"] = (b - lower).into();
        }
        let path = dir.join(format!("{model}_{seed}.json"));
        std::fs::write(&path, r.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let files = [
        copy("baseline-stem", 1, 0.0),
        copy("baseline-logits", 0, 0.0),
        copy("baseline-logits", 1, 0.01),
    ];
    let paired = ok(&[
        "ecg",
        "compare",
        f,
        &files[0],
        &files[1],
        &files[2],
        "--paired",
        "baseline-stem:baseline-logits",
    ]);
    assert!(
        paired.contains(
            "ecg paired a=baseline-stem b=baseline-logits metric=balanced_acc mean=+0.50 \
             ci=[-5.85,6.85] per_seed=0:+0.00,1:+1.00 seeds=2"
        ),
        "{paired}"
    );
    let unknown = run(&["ecg", "compare", f, "--paired", "dcl-enas:baseline-stem"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no model \"dcl-enas\""));
    // A design-mode run's results are the pseudo-test's: never tabulated as DS2's.
    let mut pseudo = report.clone();
    pseudo["config"]["pseudo_test"] = true.into();
    let pseudo_file = dir.join("pseudo.json");
    std::fs::write(&pseudo_file, pseudo.to_string()).unwrap();
    let refused = run(&["ecg", "compare", f, pseudo_file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pseudo-test"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ecg_front_plots_a_committed_multiobjective_report_again_and_refuses_a_single_objective_one() {
    // The ECG search of docs/results/multiobjective.md: its front members' parameters and DS2
    // balanced accuracies, recomputed here from the report's final runs.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("docs/results/multiobjective/ecg_report.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let front = report["front"].as_array().unwrap();
    assert!(front.len() >= 2);
    let dir = temp("ecg-front");
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("front.svg");
    let stdout = ok(&[
        "ecg",
        "front",
        file.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]);
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("ecg front cell="))
        .collect();
    assert_eq!(lines.len(), front.len(), "{stdout}");
    for (line, m) in lines.iter().zip(front) {
        let runs = m["runs"].as_array().unwrap();
        let balanced = runs
            .iter()
            .map(|r| 100.0 * r["test"]["balanced_accuracy"].as_f64().unwrap())
            .sum::<f64>()
            / runs.len() as f64;
        assert!(
            line.contains(&format!(" params={} ", m["params"]))
                && line.contains(&format!(" balanced_acc={balanced:.2}±")),
            "{line}"
        );
    }
    assert!(
        stdout.contains("ecg front-baseline model=baseline-stem "),
        "{stdout}"
    );
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg") && drawn.contains("baseline-stem"));
    // A single-objective search's report has no front.
    let single = root.join("docs/results/ecg/fair/report_random_seed0.json");
    let refused = run(&[
        "ecg",
        "front",
        single.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no front"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_ecg_and_predictor_commands_run_end_to_end() {
    // The search fitness of one network on tiny proxy trainings: the command's own line.
    let cell = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_3x3~2|@stem";
    let stdout = ok(&[
        "ecg",
        "proxy",
        cell,
        "--channels",
        "4",
        "--proxy-epochs",
        "1",
        "--proxy-per-class",
        "16",
        "--seed",
        "3",
    ]);
    let line = last_line(&stdout);
    let rest = line
        .strip_prefix("ecg proxy_fitness=")
        .unwrap_or_else(|| panic!("{line}"));
    let (fitness, rest) = rest.split_once(' ').unwrap();
    let fitness: f64 = fitness.parse().unwrap();
    assert!((0.0..=100.0).contains(&fitness), "{line}");
    assert_eq!(rest, format!("seed=3 proxy_train_seed=3 cell={cell}"));

    // A pre-trained encoder is made once, reused for the same settings, refused for others.
    let dir = temp("encoder");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("enc.dclpred");
    let f = file.to_str().unwrap();
    let tiny = [
        "--pretrain-steps",
        "2",
        "--pretrain-batch",
        "32",
        "--hidden",
        "8",
        "--layers",
        "1",
    ];
    let made = ok(&[&["predictor", "pretrain", "--out", f][..], &tiny[..]].concat());
    assert!(last_line(&made).contains("steps=2"), "{made}");
    let again = ok(&[&["predictor", "pretrain", "--out", f][..], &tiny[..]].concat());
    assert!(last_line(&again).contains("unchanged="), "{again}");
    // The same settings from a config file are the same encoder.
    let toml = dir.join("tiny.toml");
    std::fs::write(
        &toml,
        "[pretrain]\nmax_steps = 2\nbatch_size = 32\n[model]\nhidden = 8\nlayers = 1\n",
    )
    .unwrap();
    let from_file = ok(&[
        "predictor",
        "pretrain",
        "--out",
        f,
        "--config",
        toml.to_str().unwrap(),
    ]);
    assert!(last_line(&from_file).contains("unchanged="), "{from_file}");
    let other = run(&[
        &["predictor", "pretrain", "--out", f, "--edge-drop", "0.3"][..],
        &tiny[..],
    ]
    .concat());
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("edge_drop"));
    let eval = ok(&[
        &[
            "predictor",
            "eval",
            "--encoder",
            f,
            "--k",
            "40",
            "--seeds",
            "2",
            "--variants",
            "dcl",
            "--finetune-epochs",
            "2",
        ][..],
        &tiny[..],
    ]
    .concat());
    assert!(eval.contains("loaded="), "{eval}");
    let line = last_line(&eval);
    assert!(
        line.starts_with("tau space=nb201 k=40 variant=dcl mean="),
        "{line}"
    );
    assert!(line.contains(" seeds=2 "), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mo_compares_strategies_by_hypervolume_and_refuses_bad_settings_first() {
    let dir = temp("mo");
    let config = dir.join("mo.toml");
    std::fs::create_dir_all(&dir).unwrap();
    // DCL-ENAS with a few pre-training steps and short refits; stage 2's table under its
    // former name, `refit`, which reads as `finetune`.
    std::fs::write(
        &config,
        "[dcl_enas]\ninitial = 6\ninfill = 5\noffspring = 40\ngenerations = 2\n\
         [multiobjective]\nreference = \"median\"\nsampled = 50\n\
         [pretrain]\nepochs = 1\nmax_steps = 3\n[refit]\nepochs = 4\n",
    )
    .unwrap();
    let out = dir.join("run");
    let stdout = ok(&[
        "mo",
        "--config",
        config.to_str().unwrap(),
        "--seeds",
        "2",
        "--budget",
        "8,16",
        "--out",
        out.to_str().unwrap(),
    ]);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("mo ")).collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    for (line, (strategy, budget)) in lines.iter().zip([
        ("random", 8),
        ("random", 16),
        ("nsga2", 8),
        ("nsga2", 16),
        ("dcl-enas", 8),
        ("dcl-enas", 16),
    ]) {
        let head =
            format!("mo space=nb201 dataset=cifar10 strategy={strategy} budget={budget} hv=");
        assert!(line.starts_with(&head), "{line}");
        assert!(
            line.contains(" hv_fraction=") && line.contains(" seeds=2"),
            "{line}"
        );
        let fraction: f64 = line
            .split(" hv_fraction=")
            .nth(1)
            .and_then(|r| r.split('±').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=1.0).contains(&fraction), "{line}");
    }
    // The whole table's front: NAS-Bench-201's CIFAR-10 medians.
    assert!(
        stdout.contains("front space=nb201 dataset=cifar10 cost=params table=15625"),
        "{stdout}"
    );
    assert!(stdout.contains("median_params=344346"), "{stdout}");
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert_eq!(summary.lines().filter(|l| l.starts_with("mo ")).count(), 6);
    for plot in [
        "hv_space_nb201_dataset_cifar10.svg",
        "front_space_nb201_dataset_cifar10.svg",
    ] {
        assert!(
            std::fs::read_to_string(out.join(plot))
                .unwrap()
                .starts_with("<svg")
        );
    }
    // A used directory, FLOPs on NB101, and bad NSGA-II settings are refused before any work.
    for (args, expected) in [
        (vec!["--out", out.to_str().unwrap()], "holds the summary"),
        (vec!["--space", "nb101", "--cost", "flops"], "--cost"),
        (vec!["--nsga2-population", "1"], "population"),
        (vec!["--nsga2-crossover", "1.5"], "crossover_rate"),
        (vec!["--seeds", "0"], "--seeds"),
        (
            vec!["--budget", "50,15626"],
            "15626 is more than the space holds",
        ),
    ] {
        let mut all = vec!["mo"];
        all.extend(args);
        let r = run(&all);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            !r.status.success() && err.contains(expected),
            "{all:?}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
