//! [`SlurmExecutor`]: an [`Evaluator`] whose batches run as Slurm job arrays.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcl_graph::{Attempt, Evaluator, Failure, FailureKind, Objectives, SearchSpace};
use serde::Serialize;

use crate::slurm::{JobState, TaskState, array_states, run};
use crate::{SlurmConfig, SlurmError, TaskResult, TaskSpec};

/// A task an earlier driver submitted (or at least wrote the spec of).
#[derive(Debug, Clone)]
struct EarlierTask {
    key: String,
    array: PathBuf,
    index: u32,
    /// `None` when the driver died between writing the specs and `sbatch`'s answer.
    array_id: Option<String>,
    cancelled: bool,
}

/// A task this batch waits for.
#[derive(Debug)]
struct Waiting {
    /// Index in the batch.
    slot: usize,
    array: PathBuf,
    array_id: String,
    index: u32,
    since: Instant,
    /// Polls in a row in which Slurm did not know the task.
    unknown: u32,
    done: bool,
}

/// What a finished task reported.
struct Finished {
    outcome: Result<f64, Failure>,
    seconds: f64,
    objectives: Objectives,
    log: Option<String>,
}

impl Finished {
    /// A failure found by the driver (no result to read): timed from the submission.
    fn failed(failure: Failure, w: &Waiting) -> Self {
        Self {
            outcome: Err(failure),
            seconds: w.since.elapsed().as_secs_f64(),
            objectives: Objectives::new(),
            log: None,
        }
    }
}

impl Waiting {
    fn job(&self) -> String {
        format!("{}_{}", self.array_id, self.index)
    }
    fn result_path(&self) -> PathBuf {
        self.array.join(format!("result-{}.json", self.index))
    }
}

/// Cancels the arrays a [`SlurmExecutor`] is waiting for (`scancel`); for a Ctrl-C / SIGTERM
/// handler, which may run on another thread and then ends the process. Cancelled arrays are
/// marked in the run directory, so a resumed search submits their unfinished tasks again
/// (without counting the cancellation as a failed attempt) and keeps their finished ones.
///
/// Once cancelled, the executor reports no more outcomes (a cancelled task must not reach the
/// journal as a failure): its `evaluate_batch` waits for the process to end.
#[derive(Debug, Clone, Default)]
pub struct Canceller {
    active: Arc<Mutex<Vec<(String, PathBuf)>>>,
    cancelled: Arc<AtomicBool>,
}

impl Canceller {
    /// Whether [`cancel`](Canceller::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Cancels every array still outstanding; returns their job ids.
    pub fn cancel(&self) -> Vec<String> {
        self.cancelled.store(true, Ordering::SeqCst);
        let arrays = match self.active.lock() {
            Ok(mut a) => std::mem::take(&mut *a),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        let mut ids = Vec::new();
        for (id, dir) in arrays {
            let _ =
                dcl_graph::io::write_atomic(dir.join("cancelled"), b"cancelled by the driver\n");
            if let Err(e) = run("scancel", &[&id]) {
                tracing::warn!("could not cancel Slurm job {id}: {e}");
            }
            ids.push(id);
        }
        ids
    }

    fn add(&self, id: &str, dir: &Path) {
        if let Ok(mut a) = self.active.lock() {
            a.push((id.to_owned(), dir.to_owned()));
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut a) = self.active.lock() {
            a.retain(|(i, _)| i != id);
        }
    }
}

/// Runs each batch of a search as one Slurm job array: one task per architecture, each
/// running the worker command on its [`TaskSpec`] and writing its [`TaskResult`].
///
/// * Outcomes: a task's result file is its outcome; a task that ends without one is a
///   [`Failure`] of its state's kind ([`JobState::failure`]: `TIMEOUT` → timeout, `FAILED`,
///   `CANCELLED`, `NODE_FAIL`, `OUT_OF_MEMORY` → crash). The search driver retries failed
///   architectures (set its `max_attempts` to [`SlurmConfig::retries`] + 1), each retry a new
///   array of just those tasks, and records an architecture as failed after its last attempt.
/// * States come from `scontrol show job` (Slurm keeps finished jobs there for `MinJobAge`,
///   300 s by default) and `sacct` where accounting runs; a task neither knows for three
///   polls in a row, with no result file, is a crash.
/// * Every attempt's outcome carries its job id (`ARRAYID_TASK`) to the journal.
/// * See the crate's documentation for the files and for what a resumed driver adopts.
///
/// ```no_run
/// use dcl_evo::{Driver, RandomSearch, Strategy};
/// use dcl_graph::Nb201Space;
/// use dcl_slurm::{SlurmConfig, SlurmExecutor};
/// use rand::SeedableRng;
///
/// let space = Nb201Space::new();
/// let cfg = SlurmConfig { partition: Some("gpu".into()), ..SlurmConfig::default() };
/// let mut slurm = SlurmExecutor::new(
///     "runs/my-search",
///     cfg.clone(),
///     "nb201",
///     serde_json::json!({"kind": "table", "dataset": "cifar10", "column": "test200"}),
///     vec!["/opt/dcl-enas/bin/dcl-enas".into(), "worker".into()],
/// )
/// .unwrap();
/// let driver = Driver { batch_size: 8, max_attempts: cfg.retries + 1, ..Driver::new(100) };
/// let mut search = RandomSearch.start(&space, rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let history = driver.run(&mut search, &space, &mut slurm, None, &mut |_| {}).unwrap();
/// ```
#[derive(Debug)]
pub struct SlurmExecutor {
    config: SlurmConfig,
    dir: PathBuf,
    space: String,
    evaluator: serde_json::Value,
    worker: Vec<String>,
    earlier: Vec<EarlierTask>,
    consumed: HashSet<String>,
    next_array: u32,
    canceller: Canceller,
}

/// The journal's file name in a run directory (dcl-evo's `journal.jsonl`).
const JOURNAL_FILE: &str = "journal.jsonl";

impl SlurmExecutor {
    /// An executor keeping its files in `run_dir/slurm`, whose tasks run
    /// `worker... --spec SPEC --out RESULT` (for `dcl-enas`: `[path, "worker"]`) on specs
    /// naming `space` and `evaluator`.
    ///
    /// Checks the settings, that `sbatch` accepts them (`sbatch --test-only`), and reads what
    /// earlier drivers left in the directory, all before any job is submitted.
    pub fn new(
        run_dir: impl AsRef<Path>,
        config: SlurmConfig,
        space: &str,
        evaluator: serde_json::Value,
        worker: Vec<String>,
    ) -> Result<Self, SlurmError> {
        config.validate()?;
        if worker.is_empty() || worker.iter().any(|w| w.contains(['\n', '\0'])) {
            return Err(SlurmError::Config {
                key: "worker".into(),
                message: "a program (and its arguments, one line each) is needed".into(),
            });
        }
        let run_dir = run_dir.as_ref();
        let dir = run_dir.join("slurm");
        std::fs::create_dir_all(&dir).map_err(|e| SlurmError::io(&dir, e))?;
        let dir = std::fs::canonicalize(&dir).map_err(|e| SlurmError::io(&dir, e))?;
        let mut me = Self {
            config,
            dir,
            space: space.into(),
            evaluator,
            worker,
            earlier: Vec::new(),
            consumed: journalled_jobs(&run_dir.join(JOURNAL_FILE)),
            next_array: 0,
            canceller: Canceller::default(),
        };
        me.check()?;
        me.read_earlier()?;
        Ok(me)
    }

    /// Asks `sbatch --test-only` whether a task with these settings would be accepted
    /// (partition, account, time limit, resources).
    pub fn check(&self) -> Result<(), SlurmError> {
        let mut args: Vec<String> = vec!["--test-only".into()];
        args.extend(
            self.config
                .directives()
                .iter()
                .filter_map(|l| l.strip_prefix("#SBATCH ").map(str::to_owned)),
        );
        args.push(format!(
            "--output={}",
            self.dir.join("test-only.log").display()
        ));
        args.push("--wrap=true".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run("sbatch", &refs).map(|_| ())
    }

    /// The handle that cancels this executor's outstanding arrays.
    pub fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }

    /// The directory holding the arrays' files (`RUN_DIR/slurm`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every readable result in the run directory with its spec, earlier drivers' included,
    /// in submission order: what the workers measured besides the fitness
    /// ([`TaskResult::details`]) is read from here.
    pub fn results(&self) -> Vec<(TaskSpec, TaskResult)> {
        let mut out = Vec::new();
        for (_, array) in arrays(&self.dir).unwrap_or_default() {
            for (index, spec) in specs(&array) {
                if let Ok(result) = TaskResult::read(&array.join(format!("result-{index}.json"))) {
                    out.push((spec, result));
                }
            }
        }
        out
    }

    fn read_earlier(&mut self) -> Result<(), SlurmError> {
        for (n, array) in arrays(&self.dir)? {
            self.next_array = self.next_array.max(n + 1);
            let array_id = std::fs::read_to_string(array.join("job_id"))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty());
            let cancelled = array.join("cancelled").exists();
            for (index, spec) in specs(&array) {
                self.earlier.push(EarlierTask {
                    key: spec.key,
                    array: array.clone(),
                    index,
                    array_id: array_id.clone(),
                    cancelled,
                });
            }
        }
        Ok(())
    }

    /// An earlier task of `key` to adopt: the latest one whose job the journal has not
    /// recorded and that has a result, is still active, or ended (unless this driver's
    /// predecessor cancelled it). Taken out of the list, so it is adopted once.
    fn adopt(&mut self, key: &str, states: &mut BTreeMap<String, TaskState>) -> Option<Waiting> {
        let pos = self.earlier.iter().rposition(|t| {
            t.key == key
                && t.array_id
                    .as_ref()
                    .is_some_and(|id| !self.consumed.contains(&format!("{id}_{}", t.index)))
        })?;
        let task = self.earlier.remove(pos);
        let array_id = task.array_id.clone()?;
        let has_result = task
            .array
            .join(format!("result-{}.json", task.index))
            .exists();
        let state = states
            .entry(array_id.clone())
            .or_insert_with(|| array_states(&array_id))
            .get(&task.index)
            .cloned();
        let keep = has_result
            || match &state {
                Some(s) if s.is_active() => true,
                Some(_) => !task.cancelled,
                None => false,
            };
        if !keep {
            return None;
        }
        tracing::info!(
            "adopting Slurm task {array_id}_{} ({}) from an earlier driver",
            task.index,
            if has_result {
                "finished"
            } else {
                "not finished"
            }
        );
        if state.as_ref().is_some_and(JobState::is_active) {
            self.canceller.add(&array_id, &task.array);
        }
        Some(Waiting {
            slot: 0,
            array: task.array,
            array_id,
            index: task.index,
            since: Instant::now(),
            unknown: 0,
            done: false,
        })
    }

    /// Writes the specs and the batch script of a new array and submits it.
    fn submit(&mut self, specs: Vec<TaskSpec>) -> Result<(String, PathBuf), SlurmError> {
        let array = self.dir.join(format!("array-{:04}", self.next_array));
        self.next_array += 1;
        std::fs::create_dir_all(&array).map_err(|e| SlurmError::io(&array, e))?;
        let k = specs.len();
        for (i, spec) in specs.into_iter().enumerate() {
            spec.write(&array.join(format!("spec-{i}.json")))?;
        }
        let script = self.script(&array);
        let script_path = array.join("job.sh");
        dcl_graph::io::write_atomic(&script_path, script.as_bytes())
            .map_err(|e| SlurmError::io(&script_path, e))?;
        let out = run(
            "sbatch",
            &[
                "--parsable",
                &format!("--array=0-{}", k - 1),
                &script_path.to_string_lossy(),
            ],
        )?;
        let id = out.trim().split(';').next().unwrap_or("").to_owned();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SlurmError::Refused {
                command: "sbatch --parsable".into(),
                message: format!("unexpected answer {out:?}"),
            });
        }
        // Known to the canceller before anything else sees the id.
        self.canceller.add(&id, &array);
        let id_path = array.join("job_id");
        dcl_graph::io::write_atomic(&id_path, format!("{id}\n").as_bytes())
            .map_err(|e| SlurmError::io(&id_path, e))?;
        tracing::info!(
            "submitted Slurm array {id}: {k} task{} ({})",
            if k == 1 { "" } else { "s" },
            array.display()
        );
        Ok((id, array))
    }

    /// The batch script of one array.
    fn script(&self, array: &Path) -> String {
        let mut s = String::from("#!/bin/bash\n");
        for line in self.config.directives() {
            s.push_str(&line);
            s.push('\n');
        }
        s.push_str(&format!(
            "#SBATCH --output={}\n",
            array.join("task-%a.log").display()
        ));
        s.push_str("set -u\ni=$SLURM_ARRAY_TASK_ID\n");
        if let Some(prefix) = &self.config.command_prefix {
            s.push_str(prefix);
            s.push(' ');
        }
        for w in &self.worker {
            s.push_str(&sh_quote(w));
            s.push(' ');
        }
        let dir = array.to_string_lossy();
        s.push_str(&format!(
            "--spec {}\"$i\".json --out {}\"$i\".json\n",
            sh_quote(&format!("{dir}/spec-")),
            sh_quote(&format!("{dir}/result-"))
        ));
        s
    }

    /// Reports `w`'s outcome once; after a cancellation, nothing (see [`Canceller`]).
    fn report(
        &mut self,
        w: &mut Waiting,
        finished: Finished,
        done: &mut dyn FnMut(usize, Result<f64, Failure>, Attempt),
    ) {
        while self.canceller.is_cancelled() {
            std::thread::sleep(Duration::from_secs(1));
        }
        w.done = true;
        let job = w.job();
        self.consumed.insert(job.clone());
        // The worker's own log where it kept one (a user's program), else the task's output.
        let log = finished.log.unwrap_or_else(|| {
            let array = w.array.file_name().unwrap_or_default().to_string_lossy();
            format!("slurm/{array}/task-{}.log", w.index)
        });
        done(
            w.slot,
            finished.outcome,
            Attempt {
                seconds: finished.seconds,
                job_id: Some(job),
                objectives: finished.objectives,
                log: Some(log),
            },
        );
    }

    /// A finished task's outcome from its result file, if the file is there.
    fn read_result(w: &Waiting) -> Option<Finished> {
        let path = w.result_path();
        if !path.exists() {
            return None;
        }
        Some(match TaskResult::read(&path) {
            Ok(r) => Finished {
                outcome: r.outcome(),
                seconds: r.seconds,
                objectives: if r.outcome().is_ok() {
                    r.objectives
                } else {
                    Objectives::new()
                },
                log: r.log,
            },
            Err(e) => Finished::failed(
                Failure::new(
                    FailureKind::Crash,
                    format!("unreadable result of Slurm job {}: {e}", w.job()),
                ),
                w,
            ),
        })
    }

    fn run_batch<S>(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        done: &mut dyn FnMut(usize, Result<f64, Failure>, Attempt),
    ) where
        S: SearchSpace,
        S::Arch: Serialize,
    {
        let mut states: BTreeMap<String, TaskState> = BTreeMap::new();
        let mut waiting = Vec::new();
        let mut fresh = Vec::new();
        for (slot, arch) in archs.iter().enumerate() {
            let key = space.canonical_text(arch);
            match self.adopt(&key, &mut states) {
                Some(w) => waiting.push(Waiting { slot, ..w }),
                None => fresh.push((slot, key)),
            }
        }
        if !fresh.is_empty() {
            let specs = fresh
                .iter()
                .map(|(slot, key)| {
                    TaskSpec::new(
                        &self.space,
                        serde_json::to_value(&archs[*slot]).unwrap_or_default(),
                        key,
                        self.evaluator.clone(),
                    )
                })
                .collect();
            match self.submit(specs) {
                Ok((id, array)) => {
                    waiting.extend(fresh.iter().enumerate().map(|(index, (slot, _))| Waiting {
                        slot: *slot,
                        array: array.clone(),
                        array_id: id.clone(),
                        index: index as u32,
                        since: Instant::now(),
                        unknown: 0,
                        done: false,
                    }))
                }
                Err(e) => {
                    tracing::warn!("could not submit a Slurm array: {e}");
                    for (slot, _) in &fresh {
                        done(
                            *slot,
                            Err(Failure::new(
                                FailureKind::Error,
                                format!("could not submit to Slurm: {e}"),
                            )),
                            Attempt::timed(0.0),
                        );
                    }
                }
            }
        }
        let poll = Duration::from_secs_f64(self.config.poll_seconds);
        let mut fresh_states = false;
        loop {
            for w in waiting.iter_mut().filter(|w| !w.done) {
                if let Some(finished) = Self::read_result(w) {
                    self.report(w, finished, done);
                }
            }
            if waiting.iter().all(|w| w.done) {
                break;
            }
            if fresh_states {
                std::thread::sleep(poll);
            }
            fresh_states = true;
            let ids: HashSet<String> = waiting
                .iter()
                .filter(|w| !w.done)
                .map(|w| w.array_id.clone())
                .collect();
            states = ids
                .into_iter()
                .map(|id| {
                    let s = array_states(&id);
                    (id, s)
                })
                .collect();
            for w in waiting.iter_mut().filter(|w| !w.done) {
                let state = states.get(&w.array_id).and_then(|s| s.get(&w.index));
                match state {
                    Some(s) if s.is_active() => w.unknown = 0,
                    Some(s) => {
                        // The result is written before the task ends: look once more.
                        let s = s.clone();
                        let finished = Self::read_result(w)
                            .unwrap_or_else(|| Finished::failed(s.failure(&w.job()), w));
                        self.report(w, finished, done);
                    }
                    None => {
                        w.unknown += 1;
                        if w.unknown >= 3 {
                            let finished = Self::read_result(w).unwrap_or_else(|| {
                                let message = format!(
                                    "Slurm no longer knows job {} and it left no result",
                                    w.job()
                                );
                                Finished::failed(Failure::new(FailureKind::Crash, message), w)
                            });
                            self.report(w, finished, done);
                        }
                    }
                }
            }
        }
        // Every task of these arrays has ended: nothing left to cancel.
        for w in &waiting {
            self.canceller.remove(&w.array_id);
        }
    }
}

impl<S> Evaluator<S> for SlurmExecutor
where
    S: SearchSpace,
    S::Arch: Serialize,
{
    type Error = Failure;

    /// One architecture, as an array of one task.
    fn evaluate(&mut self, space: &S, arch: &S::Arch) -> Result<f64, Failure> {
        let mut out = Err(Failure::new(FailureKind::Crash, "no outcome"));
        self.run_batch(space, std::slice::from_ref(arch), &mut |_, o, _| out = o);
        out
    }

    fn evaluate_batch(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        done: &mut dyn FnMut(usize, Result<f64, Failure>, Attempt),
    ) {
        self.run_batch(space, archs, done)
    }
}

/// The `array-NNNN` directories in `dir`, with their numbers, in submission order.
fn arrays(dir: &Path) -> Result<Vec<(u32, PathBuf)>, SlurmError> {
    let entries = std::fs::read_dir(dir).map_err(|e| SlurmError::io(dir, e))?;
    let mut arrays: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("array-")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    arrays.sort();
    Ok(arrays)
}

/// An array's readable specs by task index, up to the first missing one.
fn specs(array: &Path) -> impl Iterator<Item = (u32, TaskSpec)> + '_ {
    (0..).map_while(move |index| {
        TaskSpec::read(&array.join(format!("spec-{index}.json")))
            .ok()
            .map(|spec| (index, spec))
    })
}

/// The job ids (`job_id` fields) of a search journal's records; none if there is no journal.
fn journalled_jobs(path: &Path) -> HashSet<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashSet::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("job_id")?.as_str().map(str::to_owned))
        .collect()
}

/// `text` as one shell word.
fn sh_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_survive_quoting() {
        assert_eq!(sh_quote("/usr/bin/dcl-enas"), "/usr/bin/dcl-enas");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", sh_quote("a'b $HOME \"c\""))])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a'b $HOME \"c\"");
    }

    #[test]
    fn journalled_job_ids_are_read_and_torn_lines_skipped() {
        let dir = std::env::temp_dir().join(format!("dcl-slurm-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.jsonl");
        std::fs::write(
            &path,
            "{\"type\":\"header\"}\n{\"type\":\"evaluation\",\"job_id\":\"12_0\"}\n\
             {\"type\":\"evaluation\"}\n{\"type\":\"evaluation\",\"job_id\":\"12_1\"}\n{\"type\":\"eva",
        )
        .unwrap();
        let jobs = journalled_jobs(&path);
        assert_eq!(
            jobs,
            HashSet::from(["12_0".to_string(), "12_1".to_string()])
        );
        assert!(journalled_jobs(&dir.join("none")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
