//! Run directories, for real: a second `dcl-enas` process that would write a run directory
//! another one holds (here a holder frozen with SIGSTOP) is refused naming the holder,
//! `report` on the live run only reads it, a holder killed with SIGKILL leaves the directory
//! free; SIGTERM ends a table search and SIGINT an ECG search with one line (evaluations
//! kept, the exact resume command) and the conventional exit status, and the printed command
//! resumes the run to its end.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, BIN, run, run_shell, text};

/// DCL-ENAS with ten random architectures first, then one slow refit (hundreds of epochs on
/// ten labels, a few seconds) before its eleventh and last query: the search sits in that
/// refit, ten evaluations journalled, when a test signals it, and a resumed run pays for the
/// refit once more, nothing else.
const ONE_SLOW_REFIT: &str = "
budget = 11
seed = 5

[dcl_enas]
initial = 10
infill = 1
explore = 0
offspring = 20
generations = 1

[pretrain]
epochs = 1
max_steps = 2

[finetune]
epochs = 300
";

/// [`ONE_SLOW_REFIT`] with a quick refit: a whole run takes a second or two.
fn quick_run() -> String {
    ONE_SLOW_REFIT.replace("epochs = 300", "epochs = 20")
}

fn temp(name: &str) -> PathBuf {
    let d = common::temp("rundir", name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spawn(args: &[&str], stderr: &Path) -> Child {
    Command::new(BIN)
        .args(args)
        .env("DCL_PROGRESS", "lines")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .expect("the binary starts")
}

/// Journal records (lines after the header) of `dir`.
fn records(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// Waits until `dir`'s journal holds at least `n` records (the child still running).
fn wait_for_records(child: &mut Child, dir: &Path, n: usize) {
    let t = Instant::now();
    while records(dir) < n {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the search ended ({status}) before journalling {n} records");
        }
        assert!(t.elapsed() < Duration::from_secs(300), "no {n} records");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills the child when dropped, so that a failing test leaves no stopped process behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn a_run_directory_is_written_by_one_process_at_a_time() {
    let dir = temp("lock");
    let cfg = dir.join("slow.toml");
    std::fs::write(&cfg, ONE_SLOW_REFIT).unwrap();
    let run_dir = dir.join("run");
    let d = run_dir.to_str().unwrap();
    let mut holder = KillOnDrop(spawn(
        &["search", "--config", cfg.to_str().unwrap(), "--out", d],
        &dir.join("holder.log"),
    ));
    wait_for_records(&mut holder.0, &run_dir, 10);
    // Frozen in its refit, the holder keeps the directory for as long as the checks take.
    signal(&holder.0, "STOP");
    let pid = holder.0.id();
    let refused = |args: &[&str]| {
        let out = run(args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(
            err.contains(&format!("{d} is in use by process {pid} on ")) && err.contains(" since "),
            "{args:?}: {err}"
        );
    };
    refused(&["search", "--resume", d]);
    refused(&["search", "--budget", "5", "--out", d]);
    refused(&["benchmark", "--seeds", "1", "--budget", "5", "--out", d]);
    refused(&["mo", "--seeds", "1", "--budget", "5", "--out", d]);
    refused(&["ecg", "search", "--strategy", "random", "--out", d]);
    assert!(
        holder.0.try_wait().unwrap().is_none(),
        "the holder ended before it was stopped: make its refit slower"
    );
    // Nobody else wrote the directory: the holder's journal has only its own records.
    let lines = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    assert_eq!(
        lines.lines().filter(|l| l.contains("\"header\"")).count(),
        1
    );

    // `report` reads the live run: its summary so far, no file of the run rewritten.
    let out = run(&["report", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("best arch="),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains(&format!("in use by process {pid}")),
        "{}",
        text(&out.stderr)
    );
    assert!(!run_dir.join("history.json").exists());
    // ... or writes them elsewhere.
    let elsewhere = dir.join("report");
    let out = run(&["report", d, "--out", elsewhere.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(elsewhere.join("history.csv").exists() && elsewhere.join("summary.json").exists());
    assert!(!run_dir.join("history.json").exists());
    // The override for file systems that cannot lock skips the lock, and says so.
    let out = Command::new(BIN)
        .args(["report", d])
        .env("DCL_PROGRESS", "lines")
        .env("DCL_ENAS_NO_LOCK", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not locked"),
        "{}",
        text(&out.stderr)
    );
    assert!(run_dir.join("history.json").exists());
    assert!(holder.0.try_wait().unwrap().is_none());

    // A holder killed outright leaves the directory free: the next run resumes and finishes.
    signal(&holder.0, "KILL");
    holder.0.wait().unwrap();
    let out = run(&["search", "--resume", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("queries=11"),
        "{}",
        text(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_fresh_runs_racing_for_one_directory_leave_one_journal() {
    let dir = temp("race");
    let cfg = dir.join("quick.toml");
    // Both start at once and take the lock before any work, so a quick run still races.
    std::fs::write(&cfg, quick_run()).unwrap();
    let run_dir = dir.join("run");
    let d = run_dir.to_str().unwrap();
    let args = ["search", "--config", cfg.to_str().unwrap(), "--out", d];
    let mut a = spawn(&args, &dir.join("a.log"));
    let mut b = spawn(&args, &dir.join("b.log"));
    let (sa, sb) = (a.wait().unwrap(), b.wait().unwrap());
    // One finished the run; the other was refused, by the lock or by the journal it found.
    assert!(sa.success() != sb.success(), "{sa} {sb}");
    let loser = if sa.success() { "b.log" } else { "a.log" };
    let err = std::fs::read_to_string(dir.join(loser)).unwrap();
    assert!(
        err.contains(" is in use by ") || err.contains("already holds a journal"),
        "{err}"
    );
    assert_eq!(records(&run_dir), 11);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The line a signal leaves, checked against the journal; returns the resume command.
fn interrupted_line(log: &Path, signal: &str, dir: &Path, resume: &str) -> String {
    let err = std::fs::read_to_string(log).unwrap();
    let line = err
        .lines()
        .find(|l| l.starts_with("interrupted by "))
        .unwrap_or_else(|| panic!("no interrupted line: {err}"));
    let kept = records(dir);
    let expected = format!(
        "interrupted by SIG{signal}: {kept} journalled evaluation{} kept in {}; resume with: \
         {BIN} {resume} --resume {}",
        if kept == 1 { "" } else { "s" },
        dir.join("journal.jsonl").display(),
        dir.display()
    );
    assert_eq!(line, expected);
    line.rsplit_once("resume with: ").unwrap().1.to_owned()
}

#[test]
fn sigterm_ends_a_table_search_with_a_line_that_resumes_it() {
    // (SIGINT goes to the ECG search below; the Slurm tests send SIGTERM to a driver.)
    let dir = temp("signal");
    let cfg = dir.join("slow.toml");
    std::fs::write(&cfg, ONE_SLOW_REFIT).unwrap();
    let run_dir = dir.join("run");
    let d = run_dir.to_str().unwrap();
    let log = dir.join("term.log");
    let mut child = spawn(
        &["search", "--config", cfg.to_str().unwrap(), "--out", d],
        &log,
    );
    wait_for_records(&mut child, &run_dir, 10);
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status}");
    let resume = interrupted_line(&log, "TERM", &run_dir, "search");
    // The journal is whole (no torn line), and the printed command resumes it.
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    assert!(journal.ends_with('\n'));
    for line in journal.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    let out = run_shell(&resume);
    assert!(out.status.success(), "{resume}: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("queries=11"),
        "{}",
        text(&out.stdout)
    );
    let keys: HashSet<String> = std::fs::read_to_string(run_dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["key"].to_string())
        .collect();
    assert_eq!(keys.len(), 11);
    assert_eq!(records(&run_dir), 11, "an evaluation paid for twice");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_ends_an_ecg_search_with_a_line_that_resumes_it() {
    let dir = temp("ecg-signal");
    let run_dir = dir.join("run");
    let d = run_dir.to_str().unwrap();
    let log = dir.join("ecg.log");
    let tiny = [
        "--strategy",
        "random",
        "--budget",
        "4",
        "--channels",
        "4",
        "--proxy-epochs",
        "5",
        "--proxy-per-class",
        "16",
        "--proxy-valid-per-class",
        "8",
        "--full-per-class",
        "16",
        "--full-epochs",
        "1",
        "--eval-per-class",
        "8",
        "--final-seeds",
        "0",
    ];
    let mut child = spawn(
        &[&["ecg", "search", "--out", d][..], &tiny[..]].concat(),
        &log,
    );
    wait_for_records(&mut child, &run_dir, 1);
    signal(&child, "INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    let resume = interrupted_line(&log, "INT", &run_dir, "ecg search");
    let out = run_shell(&resume);
    assert!(out.status.success(), "{resume}: {}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.starts_with("ecg model=")),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(records(&run_dir), 4);
    let _ = std::fs::remove_dir_all(&dir);
}
