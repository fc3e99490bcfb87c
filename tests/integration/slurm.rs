//! The Slurm executor against a real Slurm (`scripts/slurm-local.sh start`): a batched
//! search equal to the local one, failing / cancelled / timed-out tasks, a driver killed
//! with SIGKILL and resumed, and a real-training search whose tasks train candidates.
//!
//! Ignored where no cluster runs; `.ci/run` starts one and runs them with `--ignored slurm`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dcl_bench::{Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_evo::{Driver, RandomSearch};
use dcl_graph::{Nb201Cell, Nb201Space};
use dcl_slurm::{SlurmConfig, SlurmExecutor};
use dcl_train::{CellEvaluator, Kernels, NetArch, NetConfig, SignalData, TrainConfig};
use rand::{RngExt, SeedableRng};

const BIN: &str = env!("CARGO_BIN_EXE_dcl-enas");

/// DCL-ENAS, budget 40 in batches of 5, small enough for a test.
const SEARCH: &str = "
strategy = \"dcl-enas\"
budget = 40
batch = 5
seed = 3

[dcl_enas]
initial = 10
infill = 5
offspring = 40
generations = 2

[pretrain]
epochs = 1
max_steps = 3

[finetune]
epochs = 4
";

/// [`SEARCH`] on Slurm, polling quickly.
fn on_slurm() -> String {
    format!("executor = \"slurm\"\n{SEARCH}\n[slurm]\npoll_seconds = 0.3\n")
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcl-slurm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn search(config: &Path, out: &Path) -> Output {
    Command::new(BIN)
        .args(["search", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .env("DCL_PROGRESS", "lines")
        .output()
        .expect("the binary starts")
}

fn ok(out: Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "dcl-enas failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_owned()
}

/// The journal's evaluation records.
fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The records without what may differ between executors (timing, job ids).
fn outcomes(dir: &Path) -> Vec<serde_json::Value> {
    let mut rs = records(dir);
    for r in &mut rs {
        let o = r.as_object_mut().unwrap();
        o.remove("seconds");
        o.remove("job_id");
        o.remove("log");
    }
    // A batch's outcomes are journalled as they end: compare in ask order.
    rs.sort_by_key(|r| (r["slot"].as_u64(), r["attempt"].as_u64()));
    rs
}

/// A search's summary line (its last) without its wall time.
fn untimed_line(stdout: &str) -> String {
    let last = stdout.lines().last().unwrap();
    last.rsplit_once(" seconds=").unwrap().0.to_owned()
}

/// `history.csv` without its seconds column.
fn history_rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect()
}

/// Every spec the executor wrote, by architecture key: (array, task) pairs.
fn specs_by_key(dir: &Path) -> BTreeMap<String, Vec<(String, usize)>> {
    let mut out: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    let mut arrays: Vec<_> = std::fs::read_dir(dir.join("slurm"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("array-")
        })
        .collect();
    arrays.sort();
    for a in arrays {
        for i in 0.. {
            let Ok(text) = std::fs::read_to_string(a.join(format!("spec-{i}.json"))) else {
                break;
            };
            let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
            out.entry(spec["key"].as_str().unwrap().to_owned())
                .or_default()
                .push((a.file_name().unwrap().to_string_lossy().into_owned(), i));
        }
    }
    out
}

#[test]
#[ignore = "needs a local Slurm: scripts/slurm-local.sh start"]
fn slurm_a_batched_search_equals_the_local_one() {
    let dir = temp("equal");
    let local_cfg = write(&dir.join("local.toml"), SEARCH);
    let slurm_cfg = write(&dir.join("slurm.toml"), &on_slurm());
    let (local_out, _) = ok(search(&local_cfg, &dir.join("local")));
    let t = Instant::now();
    let (slurm_out, _) = ok(search(&slurm_cfg, &dir.join("slurm")));
    eprintln!(
        "40 evaluations in 8 arrays: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let (l, s) = (dir.join("local"), dir.join("slurm"));
    assert_eq!(outcomes(&s), outcomes(&l));
    assert_eq!(history_rows(&s), history_rows(&l));
    assert_eq!(untimed_line(&slurm_out), untimed_line(&local_out));
    // One array per batch, each task one architecture, every attempt journalled with its job.
    let specs = specs_by_key(&s);
    assert_eq!(specs.len(), 40);
    assert!(specs.values().all(|v| v.len() == 1));
    let arrays: std::collections::BTreeSet<_> =
        specs.values().flatten().map(|(a, _)| a.clone()).collect();
    assert_eq!(arrays.len(), 8);
    let jobs: Vec<String> = records(&s)
        .iter()
        .map(|r| r["job_id"].as_str().expect("a job id").to_owned())
        .collect();
    let distinct: std::collections::HashSet<_> = jobs.iter().collect();
    assert_eq!(distinct.len(), 40);
    assert!(jobs.iter().all(|j| j.contains('_')), "{jobs:?}");
}

/// A program of the user's (standard-library Python) whose fitness depends on the
/// architecture's key and its seed, and that reports an objective.
const PROGRAM: &str = r#"
import json, os, sys
spec = json.load(open(sys.argv[1]))
fitness = sum(spec["key"].encode()) % 89 + spec["seed"] % 1000 / 1000
print("training", spec["arch"], "on", os.environ.get("SLURM_JOB_ID", "this machine"))
with open(sys.argv[2] + ".tmp", "w") as f:
    json.dump({"fitness": fitness, "objectives": {"nodes": len(spec["graph"]["nodes"])}}, f)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
"#;

#[test]
#[ignore = "needs a local Slurm: scripts/slurm-local.sh start"]
fn slurm_your_own_program_runs_in_the_tasks_on_the_files_it_gets_locally() {
    let dir = temp("own-program");
    let program = write(&dir.join("train.py"), PROGRAM);
    let config = |executor: &str| {
        format!(
            "strategy = \"re\"\nbudget = 16\nbatch = 4\nworkers = 2\nseed = 2\n\
             executor = \"{executor}\"\n[evolution]\npopulation_size = 6\nsample_size = 2\n\
             [space]\nkind = \"cell\"\nname = \"mine\"\nnodes = 3\n\
             ops = [\"none\", \"skip\", \"a\", \"b\"]\n\
             [evaluator]\ncommand = [\"python3\", {program:?}]\n[evaluator.args]\nepochs = 2\n\
             [slurm]\npoll_seconds = 0.3\n"
        )
    };
    let local_cfg = write(&dir.join("local.toml"), &config("local"));
    let slurm_cfg = write(&dir.join("slurm.toml"), &config("slurm"));
    let (local_out, _) = ok(search(&local_cfg, &dir.join("local")));
    let (slurm_out, _) = ok(search(&slurm_cfg, &dir.join("slurm")));
    let (l, s) = (dir.join("local"), dir.join("slurm"));
    // The same outcomes and objectives, architecture for architecture: the program got the
    // same spec (the same seed) in a task as on this machine.
    assert_eq!(outcomes(&s), outcomes(&l));
    assert!(outcomes(&s).iter().all(|r| r["objectives"]["nodes"] == 5.0));
    assert_eq!(untimed_line(&slurm_out), untimed_line(&local_out));
    // Each record names its job and the program's own log, in the run directory.
    for r in records(&s) {
        assert!(r["job_id"].as_str().is_some_and(|j| j.contains('_')), "{r}");
        let log = s.join(r["log"].as_str().unwrap());
        assert!(log.starts_with(s.join("evals")), "{}", log.display());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.starts_with("training ") && !text.contains("this machine"),
            "{text}"
        );
        let spec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(log.with_file_name("spec.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(spec["format"], 2);
        assert_eq!(spec["key"], r["key"]);
        assert_eq!(spec["config"]["args"]["epochs"], 2);
    }
    // The Slurm task itself read a format-1 spec naming the program.
    let task: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.join("slurm/array-0000/spec-0.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(task["format"], 1);
    assert_eq!(task["evaluator"]["kind"], "command");
}

#[test]
#[ignore = "needs a local Slurm: scripts/slurm-local.sh start"]
fn slurm_failing_cancelled_and_timed_out_tasks_are_retried_or_recorded() {
    let dir = temp("faults");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    // Put before the worker command: task 0 of the first array exits 3 (once: its retry is
    // in a later array), task 1's architecture always exits 4, task 2 sleeps until the test
    // cancels it, task 3 sleeps past the one-minute time limit.
    let faults = write(
        &dir.join("faults.sh"),
        &format!(
            r#"#!/bin/bash
state={state}
spec=$4
key=$(grep -o '"key": "[^"]*"' "$spec")
case "$spec" in
  */array-0000/spec-0.json) exit 3 ;;
  */array-0000/spec-1.json) echo "$key" > "$state/doomed" ;;
  */array-0000/spec-2.json) touch "$state/task-2-running"; sleep 120 ;;
  */array-0000/spec-3.json) sleep 600 ;;
esac
if [ -f "$state/doomed" ] && [ "$key" = "$(cat "$state/doomed")" ]; then exit 4; fi
exec "$@"
"#,
            state = state.display()
        ),
    );
    Command::new("chmod")
        .arg("+x")
        .arg(&faults)
        .status()
        .unwrap();
    let cfg = write(
        &dir.join("faults.toml"),
        &format!(
            "strategy = \"random\"\nbudget = 10\nbatch = 5\nseed = 4\nexecutor = \"slurm\"\n\n\
             [slurm]\npoll_seconds = 0.3\nretries = 2\ntime_limit = \"1\"\ncommand_prefix = \"{}\"\n",
            faults.display()
        ),
    );
    let run_dir = dir.join("run");
    let child = Command::new(BIN)
        .args(["search", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&run_dir)
        .env("DCL_PROGRESS", "lines")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Cancel task 2 while it runs.
    let t = Instant::now();
    while !state.join("task-2-running").exists() {
        assert!(t.elapsed() < Duration::from_secs(120), "task 2 never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    let array = std::fs::read_to_string(run_dir.join("slurm/array-0000/job_id")).unwrap();
    let cancelled = Command::new("scancel")
        .arg(format!("{}_2", array.trim()))
        .status()
        .unwrap();
    assert!(cancelled.success());
    let (stdout, stderr) = ok(child.wait_with_output().unwrap());
    eprintln!("faults run: {:.1} s", t.elapsed().as_secs_f64());

    let first: Vec<String> = (0..5)
        .map(|i| {
            let text =
                std::fs::read_to_string(run_dir.join(format!("slurm/array-0000/spec-{i}.json")))
                    .unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["key"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut attempts: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for r in records(&run_dir) {
        attempts
            .entry(r["key"].as_str().unwrap().to_owned())
            .or_default()
            .push(r);
    }
    for v in attempts.values_mut() {
        v.sort_by_key(|r| r["attempt"].as_u64());
    }
    let kind = |r: &serde_json::Value| r["failure"]["kind"].as_str().unwrap_or("").to_owned();
    let message = |r: &serde_json::Value| r["failure"]["message"].as_str().unwrap_or("").to_owned();
    let table = Nb201Table::embedded().unwrap();
    let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
    let succeeded_at = |key: &str, attempt: u64| {
        let rs = &attempts[key];
        assert_eq!(rs.len() as u64, attempt, "{key}: {rs:?}");
        let last = rs.last().unwrap();
        let cell: Nb201Cell = serde_json::from_value(last["arch"].clone()).unwrap();
        assert_eq!(
            last["fitness"].as_f64(),
            Some(table.accuracy(&cell, metric).unwrap())
        );
    };
    // Exit 3 once: FAILED, retried, then the table's value.
    let r0 = &attempts[&first[0]][0];
    assert_eq!(kind(r0), "crash");
    assert!(
        message(r0).contains("FAILED") && message(r0).contains("3:0"),
        "{r0}"
    );
    succeeded_at(&first[0], 2);
    // Always exit 4: three attempts, then recorded as failed and the search went on.
    let doomed = &attempts[&first[1]];
    assert_eq!(doomed.len(), 3, "{doomed:?}");
    assert!(
        doomed
            .iter()
            .all(|r| kind(r) == "crash" && message(r).contains("4:0"))
    );
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("history.json")).unwrap())
            .unwrap();
    assert_eq!(history["failures"].as_array().unwrap().len(), 1);
    assert_eq!(history["queries"].as_array().unwrap().len(), 9);
    // Cancelled while running: CANCELLED, retried.
    let r2 = &attempts[&first[2]][0];
    assert_eq!(kind(r2), "crash");
    assert!(message(r2).contains("CANCELLED"), "{r2}");
    succeeded_at(&first[2], 2);
    // Past its time limit: TIMEOUT, a timeout failure, retried.
    let r3 = &attempts[&first[3]][0];
    assert_eq!(kind(r3), "timeout", "{r3}");
    succeeded_at(&first[3], 2);
    succeeded_at(&first[4], 1);
    assert!(
        stdout.lines().last().unwrap().contains("queries=9"),
        "{stdout}\n{stderr}"
    );
}

#[test]
#[ignore = "needs a local Slurm: scripts/slurm-local.sh start"]
fn slurm_a_killed_or_interrupted_driver_resumes_without_rerunning_finished_tasks() {
    let dir = temp("kill");
    let local_cfg = write(&dir.join("local.toml"), SEARCH);
    let slurm_cfg = write(&dir.join("slurm.toml"), &on_slurm());
    ok(search(&local_cfg, &dir.join("local")));
    let run_dir = dir.join("slurm");
    // Two SIGKILLs, then a SIGTERM (what Ctrl-C or `scancel` of a driver job sends), each as
    // soon as an array is submitted: its tasks are pending or running.
    for (phase, (kill_at, signal)) in [
        ("array-0002", "KILL"),
        ("array-0004", "KILL"),
        ("array-0006", "TERM"),
    ]
    .into_iter()
    .enumerate()
    {
        let log = std::fs::File::create(dir.join(format!("phase-{phase}.log"))).unwrap();
        let mut child = Command::new(BIN)
            .arg("search")
            .args(if run_dir.exists() {
                vec!["--resume".into(), run_dir.clone().into_os_string()]
            } else {
                vec![
                    "--config".into(),
                    slurm_cfg.clone().into_os_string(),
                    "--out".into(),
                    run_dir.clone().into_os_string(),
                ]
            })
            .env("DCL_PROGRESS", "lines")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let array = run_dir.join("slurm").join(kill_at);
        let t = Instant::now();
        while !array.join("job_id").exists() {
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "{kill_at} never submitted"
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the search ended ({status}) before {kill_at} was submitted");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        if signal == "TERM" {
            // The driver cancelled its array and said so with the conventional exit code.
            assert_eq!(status.code(), Some(143), "{status}");
            assert!(array.join("cancelled").exists());
            let id = std::fs::read_to_string(array.join("job_id")).unwrap();
            let t = Instant::now();
            loop {
                let q = Command::new("squeue")
                    .args(["-h", "-j", id.trim()])
                    .output()
                    .unwrap();
                if q.stdout.is_empty() {
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "array {id} still queued"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let resumed = Command::new(BIN)
        .args(["search", "--resume"])
        .arg(&run_dir)
        .env("DCL_PROGRESS", "lines")
        .output()
        .unwrap();
    ok(resumed);
    // The drivers after a SIGKILL found the killed one's tasks still pending or running and
    // waited for them instead of submitting them again.
    for phase in [1, 2] {
        let log = std::fs::read_to_string(dir.join(format!("phase-{phase}.log"))).unwrap();
        assert!(log.contains("adopting Slurm task"), "phase {phase}: {log}");
    }
    // SIGTERM cancelled the outstanding array, and only it.
    let interrupted = std::fs::read_to_string(dir.join("phase-2.log")).unwrap();
    let cancelled = std::fs::read_to_string(run_dir.join("slurm/array-0006/job_id")).unwrap();
    assert!(
        interrupted.contains(&format!("cancelled Slurm job {};", cancelled.trim())),
        "{interrupted}"
    );

    assert_eq!(outcomes(&run_dir), outcomes(&dir.join("local")));
    assert_eq!(history_rows(&run_dir), history_rows(&dir.join("local")));
    // Cancelling cost no attempt: every architecture's one attempt succeeded.
    assert!(records(&run_dir).iter().all(|r| r["attempt"] == 1));
    // Nothing finished ran twice: an architecture was submitted again only when its earlier
    // task was in the array the driver cancelled and had not finished.
    let specs = specs_by_key(&run_dir);
    assert_eq!(specs.len(), 40);
    for (key, tasks) in &specs {
        for (array, index) in &tasks[..tasks.len() - 1] {
            let a = run_dir.join("slurm").join(array);
            assert!(
                a.join("cancelled").exists() && !a.join(format!("result-{index}.json")).exists(),
                "{key} submitted again after {array}/{index}: {tasks:?}"
            );
        }
    }
}

/// Two classes of 32-sample signals: a slow sine or a fast one, with noise.
fn signals(n: usize, seed: u64) -> SignalData {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let length = 32;
    let mut data = SignalData {
        length,
        channels: 1,
        n_features: 1,
        n_classes: 2,
        ..SignalData::default()
    };
    for i in 0..n {
        let class = (i % 2) as u8;
        let freq = if class == 0 { 1.0 } else { 3.0 };
        for t in 0..length {
            let x = (freq * t as f32 / length as f32 * std::f32::consts::TAU).sin();
            data.signals.push(x + 0.3 * (rng.random::<f32>() - 0.5));
        }
        data.features.push(rng.random::<f32>());
        data.labels.push(class);
    }
    data
}

#[test]
#[ignore = "needs a local Slurm: scripts/slurm-local.sh start"]
fn slurm_a_real_training_search_trains_its_candidates_in_tasks() {
    let dir = temp("train");
    let (train, valid) = (signals(64, 1), signals(32, 2));
    let train_path = dir.join("train.json");
    let valid_path = dir.join("valid.json");
    std::fs::write(&train_path, serde_json::to_vec(&train).unwrap()).unwrap();
    std::fs::write(&valid_path, serde_json::to_vec(&valid).unwrap()).unwrap();
    let net = NetConfig {
        channels: 4,
        stages: 1,
        ..NetConfig::default()
    };
    let config = TrainConfig {
        epochs: 2,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let task = dcl_cli::worker::WorkerTask::Train(Box::new(dcl_train::TrainTask {
        folds: vec![dcl_train::TrainFold {
            train: train_path,
            valid: valid_path,
            valid_class_mix: None,
        }],
        net,
        kernels: Kernels::default(),
        config: config.clone(),
        device: "cpu".into(),
    }));
    let space = Nb201Space::new();
    let driver = Driver {
        batch_size: 2,
        max_attempts: 1,
        ..Driver::new(4)
    };
    let mut slurm = SlurmExecutor::new(
        &dir,
        SlurmConfig {
            poll_seconds: 0.3,
            retries: 0,
            ..SlurmConfig::default()
        },
        "nb201",
        serde_json::to_value(&task).unwrap(),
        vec![BIN.into(), "worker".into()],
    )
    .unwrap();
    let rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut search = RandomSearch.start(&space, rng);
    let history = driver
        .run(&mut search, &space, &mut slurm, None, &mut |_| {})
        .unwrap();
    assert_eq!(history.len(), 4);
    assert!(history.failures.is_empty(), "{:?}", history.failures);

    // The same candidates trained here give the same fitness.
    let mut local = CellEvaluator::<dcl_train::NdArrayBackend>::new(
        train,
        valid,
        net,
        Kernels::default(),
        config,
        Default::default(),
    )
    .unwrap();
    for q in &history.queries {
        let here = local
            .train_arch(&NetArch::with_entry(q.arch, net.features))
            .unwrap()
            .fitness;
        assert!(
            (here - q.fitness).abs() < 1e-9,
            "{}: {} in the task, {here} here",
            q.arch,
            q.fitness
        );
    }
    // Two arrays of two tasks, each with its log, each result with the training's record.
    let specs = specs_by_key(&dir);
    assert_eq!(specs.len(), 4);
    assert!(dir.join("slurm/array-0001/task-1.log").exists());
    let results = slurm.results();
    assert_eq!(results.len(), 4);
    for (spec, result) in results {
        let records: Vec<dcl_train::CandidateRecord> =
            serde_json::from_value(result.details).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(Some(records[0].fitness), result.fitness, "{}", spec.key);
        assert_eq!(records[0].report.epochs.len(), 2);
    }
}

/// `value` without its timing fields (`seconds`, `*_seconds`) and job ids, at any depth.
fn untimed(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(o) => {
            o.retain(|k, _| !k.ends_with("seconds") && k != "job_id");
            o.values_mut().for_each(untimed);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(untimed),
        _ => {}
    }
}

#[test]
#[ignore = "needs a local Slurm: scripts/slurm-local.sh start"]
fn slurm_an_ecg_search_trains_its_candidates_in_tasks_as_the_local_one_does() {
    let dir = temp("ecg");
    let tiny = [
        "--budget",
        "4",
        "--initial",
        "2",
        "--infill",
        "2",
        "--explore",
        "1",
        "--batch",
        "2",
        "--proxy-folds",
        "2",
        "--proxy-per-class",
        "8",
        "--proxy-valid-per-class",
        "8",
        "--proxy-epochs",
        "1",
        "--eval-per-class",
        "8",
        "--full-per-class",
        "8",
        "--full-epochs",
        "1",
        "--channels",
        "4",
        "--final-seeds",
        "0",
        "--pretrain-epochs",
        "1",
    ];
    let ecg = |out: &Path, slurm: bool| {
        let mut c = Command::new(BIN);
        c.args(["ecg", "search"]).args(tiny).arg("--out").arg(out);
        if slurm {
            let cfg = write(
                &dir.join("ecg-slurm.toml"),
                "executor = \"slurm\"\n[slurm]\npoll_seconds = 0.3\n",
            );
            c.arg("--config").arg(cfg);
        }
        ok(c.env("DCL_PROGRESS", "lines").output().unwrap())
    };
    let (local_out, _) = ecg(&dir.join("local"), false);
    let (slurm_out, _) = ecg(&dir.join("slurm"), true);

    let (l, s) = (dir.join("local"), dir.join("slurm"));
    assert_eq!(outcomes(&s), outcomes(&l));
    assert!(records(&s).iter().all(|r| r["job_id"].is_string()));
    // The report (every proxy training of every candidate, fold by fold, and the final
    // trainings) is the local one's, timings aside.
    let report = |d: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
        untimed(&mut v);
        v
    };
    let (lr, sr) = (report(&l), report(&s));
    assert_eq!(
        sr["candidates"].as_array().unwrap().len(),
        8,
        "4 candidates x 2 folds"
    );
    assert_eq!(sr, lr);
    let summary = |o: &str| -> Vec<String> {
        o.lines()
            .filter(|l| l.starts_with("ecg model="))
            .map(|l| l.split(" search_seconds").next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(summary(&slurm_out), summary(&local_out));
    // Every fold's data was written once for the workers.
    for g in 0..2 {
        assert!(
            s.join(format!("slurm/data/fold-{g}-train.json.gz"))
                .exists()
        );
    }
    assert_eq!(specs_by_key(&s).len(), 4);
}

#[test]
#[ignore = "needs a local Slurm: scripts/slurm-local.sh start"]
fn slurm_a_partition_the_cluster_lacks_is_refused_before_any_work() {
    let dir = temp("partition");
    let cfg = write(
        &dir.join("p.toml"),
        "executor = \"slurm\"\nbudget = 5\n[slurm]\npartition = \"no-such-partition\"\n",
    );
    let out = search(&cfg, &dir.join("run"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("sbatch") && stderr.contains("partition"),
        "{stderr}"
    );
    assert!(!dir.join("run/journal.jsonl").exists());
    assert!(!stderr.contains("stage 1"), "work started: {stderr}");
}
