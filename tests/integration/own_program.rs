//! `dcl-enas search` with a `[space]` of the user's and an `[evaluator]` program (standard-
//! library Python), for real: every way a program can fail lands in the journal as its
//! failure kind while the search goes on, each attempt's log named in its record; `report`
//! rewrites the run's files; and a driver killed with SIGKILL mid-batch leaves its programs
//! running until `--resume` kills them, then ends with the history of a run never killed.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, BIN, text};

/// A 64-architecture cell space: 3 nodes, 3 edges, 4 ops.
const SPACE: &str = r#"
[space]
kind = "cell"
name = "tiny"
nodes = 3
ops = ["none", "skip", "a", "b"]
"#;

/// The program: what it does with an architecture depends on its key's byte sum modulo 8
/// (see [`category`]); it records its pid in its attempt directory (its working directory).
const PROGRAM: &str = r#"
import json, os, signal, sys, time
spec = json.load(open(sys.argv[1]))
result = sys.argv[2]
open("pid", "w").write(str(os.getpid()))
def write(text):
    open(result + ".tmp", "w").write(text)
    os.replace(result + ".tmp", result)
key = spec["key"]
fitness = sum(key.encode()) % 97 + spec["seed"] % 1000 / 1000
tickets = os.environ.get("HANG_EVERY_SECOND")
if tickets:
    n = 0
    while True:
        try:
            os.close(os.open(os.path.join(tickets, str(n)), os.O_CREAT | os.O_EXCL))
            break
        except FileExistsError:
            n += 1
    if n % 2 == 1:
        open("slow", "w").write("")
        time.sleep(120)
category = sum(key.encode()) % 8 if spec["config"]["args"].get("failures") else 7
if category == 0:
    sys.exit(3)
elif category == 1:
    write('{"fitness": ')
elif category == 2:
    time.sleep(120)
elif category == 3:
    os.kill(os.getpid(), signal.SIGKILL)
elif category == 4:
    open(result, "w").write('{"fitness": 0.')
    sys.exit(0)
elif category == 5:
    sys.stdout.write("x" * (3 << 20))
    write(json.dumps({"fitness": fitness}))
elif category == 6:
    write(json.dumps({"failure": "the loss diverged"}))
else:
    write(json.dumps({"fitness": fitness, "objectives": {"ops": len(spec["graph"]["nodes"])}}))
"#;

/// What [`PROGRAM`] does with the architecture whose key text is `key` (when asked to fail).
fn category(key: &str) -> u32 {
    key.bytes().map(u32::from).sum::<u32>() % 8
}

fn temp(name: &str) -> PathBuf {
    let d = common::temp("ownprog", name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes the program and a config running it into `dir`, attempts limited to `timeout`
/// seconds; `extra` holds further keys.
fn config(dir: &Path, extra: &str, failures: bool, timeout: u32) -> PathBuf {
    std::fs::write(dir.join("program.py"), PROGRAM).unwrap();
    let program = dir.join("program.py");
    let text = format!(
        "{extra}\n{SPACE}\n[evaluator]\ncommand = [\"python3\", {program:?}]\ntimeout = {timeout}\n\
         [evaluator.args]\nfailures = {failures}\n"
    );
    let path = dir.join("search.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `dcl-enas search --config CFG --out OUT` to its end.
fn search(cfg: &Path, out: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(["search", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .env("DCL_PROGRESS", "lines")
        .output()
        .expect("the binary starts")
}

fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_way_a_program_fails_is_journalled_as_its_kind_and_the_search_goes_on() {
    let dir = temp("failures");
    // The whole space, four programs at a time, one attempt each; 5 s is long for every
    // program but the one that hangs, even on a loaded machine.
    let cfg = config(
        &dir,
        "strategy = \"random\"\nbudget = 64\nbatch = 8\nworkers = 4\nmax_attempts = 1",
        true,
        5,
    );
    let run = dir.join("run");
    let out = search(&cfg, &run);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let records = records(&run);
    assert_eq!(records.len(), 64);
    let mut kinds: BTreeMap<u32, HashSet<String>> = BTreeMap::new();
    for r in &records {
        let key = r["key"].as_str().unwrap();
        let kind = r["failure"]["kind"]
            .as_str()
            .unwrap_or("fitness")
            .to_owned();
        let message = r["failure"]["message"].as_str().unwrap_or("");
        let expected = match category(key) {
            0 | 1 | 3 | 4 => "crash",
            2 => "timeout",
            6 => "error",
            _ => "fitness",
        };
        assert_eq!(kind, expected, "{key}: {r}");
        match category(key) {
            0 => assert!(message.contains("exited with status 3"), "{message}"),
            1 | 4 => assert!(message.contains("is not a result"), "{message}"),
            3 => assert!(message.contains("killed by signal 9"), "{message}"),
            6 => assert_eq!(message, "the loss diverged"),
            _ => {}
        }
        // Each attempt's output is in the log its record names.
        let log = run.join(r["log"].as_str().unwrap());
        let size = std::fs::metadata(&log).unwrap().len();
        if category(key) == 5 {
            assert!(size >= 3 << 20, "{}: {size} bytes", log.display());
        }
        if category(key) == 7 {
            assert_eq!(r["objectives"]["ops"], 5.0, "{r}");
        }
        kinds.entry(category(key)).or_default().insert(kind);
    }
    assert_eq!(kinds.len(), 8, "every kind of program was met: {kinds:?}");
    let successes = records
        .iter()
        .filter(|r| r.get("fitness").is_some())
        .count();
    assert!(
        stdout.contains(&format!("queries={successes} failures={}", 64 - successes)),
        "{stdout}"
    );
    // No program outlives the search (the timed-out ones were killed, not left sleeping).
    for r in &records {
        let attempt = run.join(r["log"].as_str().unwrap()).with_file_name("pid");
        if let Ok(pid) = std::fs::read_to_string(attempt) {
            assert!(!alive(pid.trim().parse().unwrap()), "{r}");
        }
    }
    // report rewrites the run's files from the journal alone, with the same best.
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let out = common::run(&["report", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let best = |s: &str| {
        s.lines()
            .last()
            .unwrap()
            .split(" fitness=")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(best(&text(&out.stdout)), best(&stdout));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["space"], "tiny");
    assert!(summary["rank"].is_null());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether process `pid` is running (a zombie waiting to be reaped is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        !matches!(state, Some("Z" | "X"))
    })
}

/// The pids recorded by the programs of `run` still running.
fn running_programs(run: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(run.join("evals")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("pid")).ok())
        .filter_map(|p| p.trim().parse().ok())
        .filter(|&p| alive(p))
        .collect()
}

/// Kills the child when dropped, so that a failing test leaves no driver behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The successful evaluations in ask order, as (architecture, fitness).
fn history(run: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(run.join("history.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

#[test]
fn a_driver_killed_mid_batch_leaves_no_program_running_after_resume_and_the_same_history() {
    let dir = temp("kill");
    let settings = "strategy = \"re\"\nbudget = 16\nbatch = 4\nworkers = 4\nseed = 11\n\
                    [evolution]\npopulation_size = 6\nsample_size = 2";
    let cfg = config(&dir, settings, false, 600);
    // The run never killed.
    let whole = dir.join("whole");
    let out = search(&cfg, &whole);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The same run whose every second program started hangs (an environment variable only
    // the first driver passes on), killed once some of a batch are journalled and others run.
    let tickets = dir.join("tickets");
    std::fs::create_dir_all(&tickets).unwrap();
    let run = dir.join("run");
    let child = Command::new(BIN)
        .args(["search", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&run)
        .env("DCL_PROGRESS", "lines")
        .env("HANG_EVERY_SECOND", &tickets)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let t = Instant::now();
    let slow = |run: &Path| {
        std::fs::read_dir(run.join("evals"))
            .is_ok_and(|d| d.flatten().any(|e| e.path().join("slow").exists()))
    };
    while !slow(&run) || records(&run).is_empty() {
        assert!(child.0.try_wait().unwrap().is_none(), "the driver ended");
        assert!(t.elapsed() < Duration::from_secs(120), "no hanging program");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let orphans = running_programs(&run);
    assert!(
        !orphans.is_empty(),
        "the killed driver's hanging programs outlive it (the case --resume must handle)"
    );
    let journalled = records(&run).len();
    // The resume kills them first, runs the attempts cut by the kill again, and goes on.
    let out = common::run(&["search", "--resume", run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for pid in &orphans {
        assert!(
            !alive(*pid),
            "program {pid} of the killed driver still runs"
        );
    }
    assert!(running_programs(&run).is_empty());
    assert!(
        text(&out.stderr).contains("left running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(history(&run), history(&whole));
    // Nothing journalled before the kill ran again: each key succeeded once.
    let records = records(&run);
    assert!(records.len() > journalled);
    let keys: Vec<&str> = records
        .iter()
        .filter(|r| r.get("fitness").is_some())
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), keys.iter().collect::<HashSet<_>>().len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The evaluation records of `run` without their timings.
fn untimed_records(run: &Path) -> Vec<serde_json::Value> {
    let mut rs = records(run);
    for r in &mut rs {
        r.as_object_mut().unwrap().remove("seconds");
    }
    rs.sort_by_key(|r| r["slot"].as_u64());
    rs
}

#[test]
fn the_presets_declared_as_a_cell_and_a_dag_space_search_the_same_architectures() {
    let dir = temp("presets");
    std::fs::write(dir.join("program.py"), PROGRAM).unwrap();
    let program = dir.join("program.py");
    let nb201_ops = r#"["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]"#;
    let nb101_ops = r#"["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]"#;
    for (preset, declared) in [
        (
            "space = \"nb201\"".to_owned(),
            format!("[space]\nkind = \"cell\"\nname = \"nb201\"\nnodes = 4\nops = {nb201_ops}"),
        ),
        (
            "space = \"nb101\"".to_owned(),
            format!(
                "[space]\nkind = \"dag\"\nname = \"nb101\"\nnodes = 7\nmax_edges = 9\n\
                 ops = {nb101_ops}"
            ),
        ),
    ] {
        let mut runs = Vec::new();
        for (name, space) in [("preset", &preset), ("declared", &declared)] {
            let cfg = dir.join(format!("{name}.toml"));
            std::fs::write(
                &cfg,
                format!(
                    "strategy = \"re\"\nbudget = 10\nbatch = 2\nseed = 4\n{space}\n\
                     [evolution]\npopulation_size = 4\nsample_size = 2\n\
                     [evaluator]\ncommand = [\"python3\", {program:?}]\n"
                ),
            )
            .unwrap();
            let run = dir.join(format!("{name}-{}", runs.len()));
            let _ = std::fs::remove_dir_all(&run);
            let out = search(&cfg, &run);
            assert!(out.status.success(), "{space}: {}", text(&out.stderr));
            runs.push(run);
        }
        let (a, b) = (untimed_records(&runs[0]), untimed_records(&runs[1]));
        assert_eq!(a.len(), 10);
        assert_eq!(a, b, "{preset}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
