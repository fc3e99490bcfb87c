//! [`CommandEvaluator`]: each architecture evaluated by the user's own program, in any
//! language, as a process of its own.
//!
//! For each attempt the evaluator writes a spec file ([`Spec`], JSON) into the attempt's
//! directory under the run directory, runs the command with the spec's and the result's paths
//! appended as arguments (and in `DCL_ENAS_SPEC` / `DCL_ENAS_RESULT`), its standard output and
//! error going to `log.txt` beside them, and reads the result file ([`ResultFile`]) the
//! program writes. The program runs as its own process group, so a timeout kills it and
//! everything it started, and so does the end of the attempt (nothing it left behind keeps
//! running).
//!
//! Outcomes, one [`FailureKind`] per way a program can fail:
//!
//! | what happened | outcome |
//! | --- | --- |
//! | exit 0, a result with a finite `fitness` | the fitness (and `objectives`) |
//! | a result with a `fitness`, then a non-zero exit or a signal | [`FailureKind::Crash`] |
//! | a result with `failure` (whatever the exit status) | [`FailureKind::Error`] with its message |
//! | a result with a non-finite fitness | [`FailureKind::NonFinite`] |
//! | a non-zero exit or a signal, and no result | [`FailureKind::Crash`], naming the status and the log |
//! | exit 0 and no result, or a malformed or half-written one | [`FailureKind::Crash`] |
//! | still running at the timeout | [`FailureKind::Timeout`] (the process group killed) |
//!
//! Retries are the driver's (`dcl_evo::Driver::max_attempts`): each attempt gets the next
//! attempt number and a fresh directory, and the same seed.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dcl_graph::{Attempt, Evaluator, Failure, FailureKind, GraphSpace, NodeOp, Objectives};
use serde::{Deserialize, Serialize};

use crate::ExecError;

/// The spec format [`CommandEvaluator`] writes.
pub const SPEC_FORMAT: u32 = 2;

/// The name of each attempt's files in its directory.
pub const SPEC_FILE: &str = "spec.json";
/// See [`SPEC_FILE`].
pub const RESULT_FILE: &str = "result.json";
/// See [`SPEC_FILE`].
pub const LOG_FILE: &str = "log.txt";
/// While an attempt runs: its process group's id and the leader's start time (`/proc`), so
/// that the next process of the run kills it if this one dies first.
pub const PROCESS_FILE: &str = "process";

/// What the program is told about the architecture to evaluate (`spec.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// [`SPEC_FORMAT`].
    pub format: u32,
    /// The space's name.
    pub space: String,
    /// The architecture's text form ([`SearchSpace::arch_text`](dcl_graph::SearchSpace::arch_text)).
    pub arch: String,
    /// The architecture as a graph.
    pub graph: SpecGraph,
    /// Its canonical key's text, as the search journal has it.
    pub key: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// A seed for the program, the same for every attempt at this architecture in this run.
    pub seed: u64,
    /// The run directory.
    pub run_dir: PathBuf,
    /// What the configuration passes through to the program (its `[evaluator]` table's
    /// `args`, `env`, data paths, ...), as given.
    #[serde(default)]
    pub config: serde_json::Value,
}

/// An architecture's graph in a spec: node `i`'s op name (`input` and `output` for the two
/// ends) and the edges `[from, to]`, every edge from a lower to a higher node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecGraph {
    /// Each node's op name.
    pub nodes: Vec<String>,
    /// The edges.
    pub edges: Vec<[usize; 2]>,
}

/// What the program writes (`result.json`): a `fitness`, or a `failure` with a message;
/// optional `objectives` (name → value) and `details` (anything JSON, kept for the
/// application).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultFile {
    /// The fitness: higher is better.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitness: Option<f64>,
    /// Why the evaluation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Further objectives measured with the fitness.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objectives: BTreeMap<String, f64>,
    /// Anything else the program reports.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

impl ResultFile {
    /// Parses a result file's bytes: exactly one of `fitness` and `failure`, objectives
    /// finite. A non-finite fitness parses (it is a [`FailureKind::NonFinite`] outcome).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        // An object only: serde would also read a struct from an array of its fields.
        if !value.is_object() {
            return Err("a result is a JSON object".into());
        }
        let r: ResultFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if r.fitness.is_some() == r.failure.is_some() {
            return Err("a result holds exactly one of `fitness` and `failure`".into());
        }
        if let Some((name, v)) = r.objectives.iter().find(|(_, v)| !v.is_finite()) {
            return Err(format!("objective `{name}` is {v}"));
        }
        Ok(r)
    }

    /// The outcome it reports.
    pub fn outcome(&self) -> Result<(f64, Objectives), Failure> {
        match (self.fitness, &self.failure) {
            (_, Some(message)) => Err(Failure::new(FailureKind::Error, message.clone())),
            (Some(f), None) if f.is_finite() => Ok((f, self.objectives.clone())),
            (Some(f), None) => Err(Failure::new(
                FailureKind::NonFinite,
                format!("the program reported fitness {f}"),
            )),
            (None, None) => Err(Failure::new(FailureKind::Crash, "an empty result")),
        }
    }
}

/// How [`CommandEvaluator`] runs the program.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandConfig {
    /// The program and its first arguments; the spec's and the result's paths follow them.
    pub command: Vec<String>,
    /// Evaluations at a time in a batch, at least 1.
    pub workers: usize,
    /// Longest an attempt may run; `None`: no limit.
    pub timeout: Option<Duration>,
    /// Environment variables set for the program.
    pub env: BTreeMap<String, String>,
    /// `CUDA_VISIBLE_DEVICES` of each worker slot, in turn (empty: left as it is); with
    /// `workers` equal to its length, one GPU per worker.
    pub gpus: Vec<String>,
    /// Passed through to the program in the spec's `config`.
    pub config: serde_json::Value,
}

impl CommandConfig {
    /// A configuration that runs `command` one at a time, without a time limit.
    pub fn new(command: Vec<String>) -> Self {
        Self {
            command,
            workers: 1,
            timeout: None,
            env: BTreeMap::new(),
            gpus: Vec::new(),
            config: serde_json::Value::Null,
        }
    }

    /// Typed error for a configuration that cannot run: no program, no worker, a zero
    /// timeout, an environment variable name that is empty or holds `=`.
    pub fn validate(&self) -> Result<(), ExecError> {
        if self.command.first().is_none_or(|p| p.is_empty()) {
            return Err(ExecError::Config("the command names no program".into()));
        }
        if self.workers == 0 {
            return Err(ExecError::Config("workers must be at least 1".into()));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(ExecError::Config("the timeout must be positive".into()));
        }
        if let Some(name) = self
            .env
            .keys()
            .find(|k| k.is_empty() || k.contains('=') || k.contains('\0'))
        {
            return Err(ExecError::Config(format!(
                "environment variable name {name:?}"
            )));
        }
        Ok(())
    }
}

/// An [`Evaluator`] that runs the user's program on each architecture (see the module's
/// documentation for the files and the outcomes), `workers` at a time in a batch.
///
/// ```no_run
/// use dcl_exec::command::{CommandConfig, CommandEvaluator};
/// use dcl_exec::Evaluator;
/// use dcl_graph::{Nb201Cell, Nb201Space};
///
/// let config = CommandConfig::new(vec!["python3".into(), "train.py".into()]);
/// let mut evaluator = CommandEvaluator::new(config, "runs/mine", 0)?;
/// let cell = Nb201Cell::from_ordinal(7).unwrap();
/// let fitness = evaluator.evaluate(&Nb201Space::new(), &cell);
/// # Ok::<(), dcl_exec::ExecError>(())
/// ```
#[derive(Debug)]
pub struct CommandEvaluator {
    config: CommandConfig,
    run_dir: PathBuf,
    seed: u64,
    attempts: HashMap<String, u32>,
    survivors_killed: usize,
}

impl CommandEvaluator {
    /// Runs `config`'s program for a search whose run directory is `run_dir` (attempts go to
    /// `run_dir/evals/`) and whose seed is `seed`. Checks the configuration and creates the
    /// directory; programs that an earlier process of the run started and left running (its
    /// driver killed) are killed first, with their process groups.
    pub fn new(
        config: CommandConfig,
        run_dir: impl Into<PathBuf>,
        seed: u64,
    ) -> Result<Self, ExecError> {
        let mut evaluator = Self::for_task(config, run_dir, seed)?;
        evaluator.survivors_killed = kill_survivors(&evaluator.run_dir.join("evals"));
        Ok(evaluator)
    }

    /// [`CommandEvaluator::new`] for one task of a job array (the `dcl-enas worker` of a
    /// Slurm task): the same files and seeds, but the programs other tasks of the run are
    /// running beside it are left alone (their driver is alive; it is the driver's job, not a
    /// task's, to clean up after a killed predecessor).
    pub fn for_task(
        config: CommandConfig,
        run_dir: impl Into<PathBuf>,
        seed: u64,
    ) -> Result<Self, ExecError> {
        config.validate()?;
        let run_dir = run_dir.into();
        std::fs::create_dir_all(run_dir.join("evals"))
            .map_err(|e| ExecError::Config(format!("cannot create {}: {e}", run_dir.display())))?;
        Ok(Self {
            config,
            run_dir,
            seed,
            attempts: HashMap::new(),
            survivors_killed: 0,
        })
    }

    /// Runs the next attempt at `arch` to its end: the outcome, and the attempt's time,
    /// objectives and log (relative to the run directory), as a batch reports them.
    pub fn evaluate_attempt<S: GraphSpace>(
        &mut self,
        space: &S,
        arch: &S::Arch,
    ) -> (Result<f64, Failure>, Attempt) {
        match self.start(space, arch, 0) {
            Ok(run) => self.finish_attempt(run),
            Err(failure) => (Err(failure), Attempt::timed(0.0)),
        }
    }

    /// [`CommandEvaluator::finish`], as an outcome and its [`Attempt`].
    fn finish_attempt(&self, run: Running) -> (Result<f64, Failure>, Attempt) {
        let log = run.log();
        let log = log
            .strip_prefix(&self.run_dir)
            .unwrap_or(&log)
            .to_string_lossy()
            .into_owned();
        let (result, seconds) = self.finish(run);
        let (outcome, objectives) = match result {
            Ok((f, o)) => (Ok(f), o),
            Err(e) => (Err(e), Objectives::new()),
        };
        let attempt = Attempt {
            objectives,
            log: Some(log),
            ..Attempt::timed(seconds)
        };
        (outcome, attempt)
    }

    /// How many programs of an earlier process of this run [`CommandEvaluator::new`] found
    /// still running and killed (with everything they started): attempts whose driver died
    /// before them.
    pub fn survivors_killed(&self) -> usize {
        self.survivors_killed
    }

    /// The program's seed for the architecture whose key text is `key`: the same for every
    /// attempt, different between architectures and between runs' seeds (FNV-1a of the key,
    /// mixed with the run's seed).
    pub fn seed_of(&self, key: &str) -> u64 {
        splitmix(fnv1a(key) ^ splitmix(self.seed))
    }

    /// The directory of `key`'s attempt `attempt`: `evals/KEYHASH-aN` under the run
    /// directory (key texts may hold any character; the hash does not).
    pub fn attempt_dir(&self, key: &str, attempt: u32) -> PathBuf {
        self.run_dir
            .join("evals")
            .join(format!("{:016x}-a{attempt}", fnv1a(key)))
    }

    /// Writes the spec of the next attempt at `arch` and starts the program.
    fn start<S: GraphSpace>(
        &mut self,
        space: &S,
        arch: &S::Arch,
        slot: usize,
    ) -> Result<Running, Failure> {
        let key = space.key_text(&space.key(arch));
        // The next attempt number whose directory is free: after a resume, the attempts of
        // the earlier processes keep their directories, so a late result of theirs is never
        // read as this attempt's.
        let mut attempt = self.attempts.get(&key).copied().unwrap_or(0) + 1;
        while self.attempt_dir(&key, attempt).exists() {
            attempt += 1;
        }
        self.attempts.insert(key.clone(), attempt);
        let graph = space
            .to_graph(arch)
            .map_err(|e| Failure::new(FailureKind::Error, format!("no graph: {e}")))?;
        let ops = space.ops();
        let nodes = graph
            .ops()
            .into_iter()
            .map(|op| match op {
                NodeOp::Input => "input".to_owned(),
                NodeOp::Output => "output".to_owned(),
                NodeOp::Op(i) => ops.name(i).unwrap_or("?").to_owned(),
            })
            .collect();
        let spec = Spec {
            format: SPEC_FORMAT,
            space: space.name().to_owned(),
            arch: space.arch_text(arch),
            graph: SpecGraph {
                nodes,
                edges: graph.edges().map(|(a, b)| [a, b]).collect(),
            },
            seed: self.seed_of(&key),
            key: key.clone(),
            attempt,
            run_dir: self.run_dir.clone(),
            config: self.config.config.clone(),
        };
        let dir = self.attempt_dir(&key, attempt);
        let io = |what: &str, e: std::io::Error| {
            Failure::new(FailureKind::Crash, format!("{what} {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", e))?;
        let spec_path = dir.join(SPEC_FILE);
        let result_path = dir.join(RESULT_FILE);
        let text = serde_json::to_vec_pretty(&spec).expect("a spec serializes");
        dcl_graph::io::write_atomic(&spec_path, &text)
            .map_err(|e| io("cannot write a spec in", e))?;
        let log = File::create(dir.join(LOG_FILE)).map_err(|e| io("cannot create a log in", e))?;
        let log_err = log.try_clone().map_err(|e| io("cannot open a log in", e))?;
        let mut command = Command::new(&self.config.command[0]);
        command
            .args(&self.config.command[1..])
            .arg(&spec_path)
            .arg(&result_path)
            .env("DCL_ENAS_SPEC", &spec_path)
            .env("DCL_ENAS_RESULT", &result_path)
            .envs(&self.config.env)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        if !self.config.gpus.is_empty() {
            command.env(
                "CUDA_VISIBLE_DEVICES",
                &self.config.gpus[slot % self.config.gpus.len()],
            );
        }
        process_group(&mut command);
        let child = command.spawn().map_err(|e| {
            Failure::new(
                FailureKind::Crash,
                format!("cannot start {:?}: {e}", self.config.command[0]),
            )
        })?;
        // Which process group runs the attempt, so that a later process of this run can kill
        // it if this one is killed first (removed when the attempt ends).
        if let Some(start) = start_time(child.id()) {
            let record = format!("{} {start}\n", child.id());
            let _ = dcl_graph::io::write_atomic(dir.join(PROCESS_FILE), record.as_bytes());
        }
        Ok(Running {
            child,
            dir,
            started: Instant::now(),
        })
    }

    /// Waits for `run` (killing its process group at the timeout) and reads its outcome.
    fn finish(&self, mut run: Running) -> (Result<(f64, Objectives), Failure>, f64) {
        while !self.poll(&mut run) {
            std::thread::sleep(Duration::from_millis(10));
        }
        // An ended child's status stays available: `Ok(None)` here means the timeout.
        let status = match run.child.try_wait() {
            Ok(Some(status)) => Ok(status),
            Ok(None) => {
                kill_group(&run.child);
                let _ = run.child.wait();
                let _ = std::fs::remove_file(run.dir.join(PROCESS_FILE));
                let limit = self.config.timeout.unwrap_or_default().as_secs_f64();
                let failure = Failure::new(
                    FailureKind::Timeout,
                    format!(
                        "still running after {limit} s, killed; log: {}",
                        run.log().display()
                    ),
                );
                return (Err(failure), run.started.elapsed().as_secs_f64());
            }
            Err(e) => Err(e),
        };
        // Whatever the program left running in its group goes with it.
        kill_group(&run.child);
        let _ = std::fs::remove_file(run.dir.join(PROCESS_FILE));
        let seconds = run.started.elapsed().as_secs_f64();
        (outcome(&run, status), seconds)
    }

    /// Whether `run` has ended or run past the timeout.
    fn poll(&self, run: &mut Running) -> bool {
        let timed_out = self
            .config
            .timeout
            .is_some_and(|t| run.started.elapsed() >= t);
        timed_out || !matches!(run.child.try_wait(), Ok(None))
    }
}

/// One started attempt.
struct Running {
    child: Child,
    dir: PathBuf,
    started: Instant,
}

impl Running {
    fn log(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }
}

/// The outcome of an attempt whose program ended with `status`.
fn outcome(
    run: &Running,
    status: std::io::Result<ExitStatus>,
) -> Result<(f64, Objectives), Failure> {
    let log = run.log();
    let status = status.map_err(|e| {
        Failure::new(
            FailureKind::Crash,
            format!("cannot wait for the program: {e}"),
        )
    })?;
    let result_path = run.dir.join(RESULT_FILE);
    match std::fs::read(&result_path) {
        Ok(bytes) => match ResultFile::parse(&bytes) {
            Ok(result) if result.failure.is_none() && !status.success() => Err(Failure::new(
                FailureKind::Crash,
                format!(
                    "the program wrote a fitness but {}; log: {}",
                    describe(status),
                    log.display()
                ),
            )),
            Ok(result) => result.outcome(),
            Err(e) => Err(Failure::new(
                FailureKind::Crash,
                format!(
                    "{} is not a result ({e}); the program {}; log: {}",
                    result_path.display(),
                    describe(status),
                    log.display()
                ),
            )),
        },
        Err(_) => Err(Failure::new(
            FailureKind::Crash,
            format!(
                "the program {} without writing {}; log: {}",
                describe(status),
                RESULT_FILE,
                log.display()
            ),
        )),
    }
}

/// How a program ended, in words.
fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    match status.code() {
        Some(0) => "exited".into(),
        Some(code) => format!("exited with status {code}"),
        None => "ended".into(),
    }
}

/// The program runs as the leader of a process group of its own.
fn process_group(command: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
}

/// Kills the process group led by `child` (nothing happens when it is gone).
fn kill_group(child: &Child) {
    kill_pgid(child.id());
}

/// Kills process group `pgid` (nothing happens when it is gone).
fn kill_pgid(pgid: u32) {
    #[cfg(unix)]
    {
        if let Ok(pgid) = i32::try_from(pgid) {
            // SAFETY: kill(2) with a negative pid signals that process group; it touches no
            // memory of ours.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pgid;
    }
}

/// The start time of process `pid` (clock ticks since boot, `/proc/PID/stat`'s 22nd field), to
/// tell it from a later process that got the same id; `None` without `/proc`.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Kills the process group of every attempt under `evals` whose process record names a
/// process still running with the recorded start time, and removes the records. Returns how
/// many it killed.
fn kill_survivors(evals: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(evals) else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let record = entry.path().join(PROCESS_FILE);
        let Ok(text) = std::fs::read_to_string(&record) else {
            continue;
        };
        let mut fields = text.split_whitespace().map(str::parse::<u64>);
        if let (Some(Ok(pid)), Some(Ok(start))) = (fields.next(), fields.next())
            && let Ok(pid32) = u32::try_from(pid)
            && start_time(pid32) == Some(start)
        {
            kill_pgid(pid32);
            killed += 1;
        }
        let _ = std::fs::remove_file(&record);
    }
    killed
}

/// FNV-1a (64-bit) of `text`: a hash that stays the same across builds and platforms.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64's finaliser: spreads the bits of `x`.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl<S: GraphSpace> Evaluator<S> for CommandEvaluator {
    type Error = Failure;

    fn evaluate(&mut self, space: &S, arch: &S::Arch) -> Result<f64, Failure> {
        <Self as Evaluator<S>>::evaluate_with_objectives(self, space, arch).map(|(f, _)| f)
    }

    fn evaluate_with_objectives(
        &mut self,
        space: &S,
        arch: &S::Arch,
    ) -> Result<(f64, Objectives), Failure> {
        let run = self.start(space, arch, 0)?;
        self.finish(run).0
    }

    /// Up to `workers` programs at a time; each outcome is reported as its program ends.
    fn evaluate_batch(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        done: &mut dyn FnMut(usize, Result<f64, Failure>, Attempt),
    ) {
        let mut next = 0;
        // (index, slot, attempt) of the programs running.
        let mut running: Vec<(usize, usize, Running)> = Vec::new();
        let mut free: Vec<usize> = (0..self.config.workers).rev().collect();
        while next < archs.len() || !running.is_empty() {
            while next < archs.len() {
                let Some(slot) = free.pop() else { break };
                match self.start(space, &archs[next], slot) {
                    Ok(run) => running.push((next, slot, run)),
                    Err(failure) => {
                        free.push(slot);
                        done(next, Err(failure), Attempt::timed(0.0));
                    }
                }
                next += 1;
            }
            let Some(pos) = running.iter_mut().position(|(_, _, run)| self.poll(run)) else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let (i, slot, run) = running.swap_remove(pos);
            free.push(slot);
            let (outcome, attempt) = self.finish_attempt(run);
            done(i, outcome, attempt);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use dcl_graph::{Nb201Cell, Nb201Space, SearchSpace};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dcl-exec-cmd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// `sh -c SCRIPT` with the spec as `$1` and the result as `$2`.
    fn sh(script: &str) -> CommandConfig {
        CommandConfig::new(vec!["sh".into(), "-c".into(), script.into(), "sh".into()])
    }

    fn cell(i: usize) -> Nb201Cell {
        Nb201Cell::from_ordinal(i).unwrap()
    }

    /// Writes `$2` atomically, as a well-behaved program does.
    const WRITE: &str = r#"write() { printf '%s' "$1" > "$DCL_ENAS_RESULT.tmp" && mv "$DCL_ENAS_RESULT.tmp" "$DCL_ENAS_RESULT"; }"#;

    fn run(config: CommandConfig, name: &str) -> (Result<(f64, Objectives), Failure>, PathBuf) {
        let dir = temp(name);
        let mut e = CommandEvaluator::new(config, &dir, 7).unwrap();
        let space = Nb201Space::new();
        let out = <CommandEvaluator as Evaluator<Nb201Space>>::evaluate_with_objectives(
            &mut e,
            &space,
            &cell(11),
        );
        let key = space.key_text(&space.key(&cell(11)));
        (out, e.attempt_dir(&key, 1))
    }

    #[test]
    fn a_program_that_writes_its_fitness_is_heard_and_reads_its_spec() {
        let script = format!(
            r#"{WRITE}; test "$1" = "$DCL_ENAS_SPEC" || exit 9; echo training; write '{{"fitness": 0.75, "objectives": {{"params": 12}}, "details": {{"epochs": 3}}}}'"#
        );
        let (out, dir) = run(sh(&script), "ok");
        let (fitness, objectives) = out.unwrap();
        assert_eq!(fitness, 0.75);
        assert_eq!(objectives.get("params"), Some(&12.0));
        let log = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap();
        assert_eq!(log, "training\n");
        let spec: Spec =
            serde_json::from_slice(&std::fs::read(dir.join(SPEC_FILE)).unwrap()).unwrap();
        let space = Nb201Space::new();
        assert_eq!(spec.format, SPEC_FORMAT);
        assert_eq!(spec.arch, space.arch_text(&cell(11)));
        assert_eq!(spec.key, space.key_text(&space.key(&cell(11))));
        assert_eq!(spec.attempt, 1);
        assert_eq!(
            (spec.graph.nodes.len(), spec.graph.nodes[0].as_str()),
            (8, "input")
        );
        assert_eq!(spec.graph.nodes[7], "output");
        assert!(spec.graph.edges.iter().all(|[a, b]| a < b));
        let e = CommandEvaluator::new(sh(""), temp("seed"), 7).unwrap();
        assert_eq!(spec.seed, e.seed_of(&spec.key));
        assert_ne!(e.seed_of("a"), e.seed_of("b"));
        let other = CommandEvaluator::new(sh(""), temp("seed8"), 8).unwrap();
        assert_ne!(e.seed_of("a"), other.seed_of("a"));
    }

    #[test]
    fn each_way_a_program_can_fail_is_a_failure_of_its_kind() {
        let cases: [(&str, FailureKind, &str); 8] = [
            ("exit 3", FailureKind::Crash, "status 3"),
            ("kill -9 $$", FailureKind::Crash, "signal 9"),
            ("true", FailureKind::Crash, "without writing"),
            (
                &format!(r#"{WRITE}; write '{{"failure": "diverged"}}'; exit 1"#),
                FailureKind::Error,
                "diverged",
            ),
            (
                &format!(r#"{WRITE}; write '{{"fitness": 0.5}}'; exit 2"#),
                FailureKind::Crash,
                "wrote a fitness but exited with status 2",
            ),
            // Written in place and cut off: half a result.
            (
                r#"printf '{"fitness": 0.' > "$2""#,
                FailureKind::Crash,
                "not a result",
            ),
            (
                &format!(r#"{WRITE}; write '{{"fitness": 1, "failure": "x"}}'"#),
                FailureKind::Crash,
                "exactly one",
            ),
            (
                &format!(r#"{WRITE}; write '{{"fitness": 1, "accuracy": 2}}'"#),
                FailureKind::Crash,
                "unknown field",
            ),
        ];
        for (n, (script, kind, words)) in cases.into_iter().enumerate() {
            let (out, _) = run(sh(script), &format!("fail{n}"));
            let e = out.unwrap_err();
            assert_eq!(e.kind, kind, "{script}: {e:?}");
            assert!(e.message.contains(words), "{script}: {}", e.message);
        }
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let dir = temp("timeout-pids");
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("child.pid");
        // A child in the background that would outlive its parent.
        let script = format!("sleep 30 & echo $! > {}; sleep 30", pid_file.display());
        let config = CommandConfig {
            timeout: Some(Duration::from_millis(400)),
            ..sh(&script)
        };
        let t = Instant::now();
        let (out, _) = run(config, "timeout");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert_eq!(out.unwrap_err().kind, FailureKind::Timeout);
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The background child is gone too: no process, or a zombie waiting for whoever
        // adopted it to reap it (give the kill a moment).
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                Ok(stat) => {
                    stat.rfind(')')
                        .and_then(|i| stat[i + 1..].split_whitespace().next())
                        == Some("Z")
                }
            }
        });
        assert!(gone, "process {pid} survived the timeout");
    }

    /// A driver killed mid-attempt leaves its program running: the run's next evaluator kills
    /// it (and what it started), and its late result is never read as a new attempt's.
    #[test]
    fn the_next_process_of_a_run_kills_the_programs_a_killed_driver_left() {
        let dir = temp("survivors");
        let space = Nb201Space::new();
        let key = space.key_text(&space.key(&cell(3)));
        let first = CommandEvaluator::new(sh(""), &dir, 1).unwrap();
        // What a killed driver leaves: attempt 1 of an architecture, still running, recorded.
        let attempt = first.attempt_dir(&key, 1);
        std::fs::create_dir_all(&attempt).unwrap();
        let mut orphan = Command::new("sh");
        orphan.args(["-c", "sleep 30 & sleep 30"]);
        process_group(&mut orphan);
        let mut orphan = orphan.spawn().unwrap();
        let start = start_time(orphan.id()).unwrap();
        std::fs::write(
            attempt.join(PROCESS_FILE),
            format!("{} {start}\n", orphan.id()),
        )
        .unwrap();
        // A record whose process has another start time (its id reused) is left alone.
        let other = first.attempt_dir("another", 1);
        std::fs::create_dir_all(&other).unwrap();
        let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
        std::fs::write(other.join(PROCESS_FILE), format!("{} 1\n", bystander.id())).unwrap();

        let script = format!(r#"{WRITE}; write '{{"fitness": 4}}'"#);
        let mut next = CommandEvaluator::new(sh(&script), &dir, 1).unwrap();
        assert_eq!(next.survivors_killed(), 1);
        let status = orphan.wait().unwrap();
        assert!(!status.success());
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "the bystander was killed"
        );
        bystander.kill().unwrap();
        let _ = bystander.wait();
        assert!(!attempt.join(PROCESS_FILE).exists());
        // The architecture's next attempt is attempt 2, in a directory of its own.
        let out = next.evaluate(&space, &cell(3)).unwrap();
        assert_eq!(out, 4.0);
        assert!(next.attempt_dir(&key, 2).join(RESULT_FILE).exists());
        assert!(!next.attempt_dir(&key, 2).join(PROCESS_FILE).exists());
        assert!(!attempt.join(RESULT_FILE).exists());
    }

    #[test]
    fn megabytes_of_output_go_to_the_log_without_blocking() {
        let script = format!(
            r#"{WRITE}; head -c 3000000 /dev/zero | tr '\0' x; head -c 1000000 /dev/zero | tr '\0' y >&2; write '{{"fitness": 1}}'"#
        );
        let (out, dir) = run(sh(&script), "output");
        assert_eq!(out.unwrap().0, 1.0);
        let size = std::fs::metadata(dir.join(LOG_FILE)).unwrap().len();
        assert_eq!(size, 4_000_000);
    }

    #[test]
    fn a_batch_runs_workers_at_once_and_retries_get_new_attempts_with_the_same_seed() {
        // Each program notes when it ran, its GPU and its seed, and reports its attempt.
        let dir = temp("batch");
        let script = format!(
            r#"{WRITE}; t0=$(date +%s%N); a=$(sed -n 's/.*"attempt": \([0-9]*\).*/\1/p' "$1"); s=$(sed -n 's/.*"seed": \([0-9]*\).*/\1/p' "$1"); echo "$s" > seed; echo "$CUDA_VISIBLE_DEVICES" > gpu; sleep 1; echo "$t0 $(date +%s%N)" > span; write "{{\"fitness\": $a}}""#
        );
        let config = CommandConfig {
            workers: 2,
            gpus: vec!["0".into(), "1".into()],
            ..sh(&script)
        };
        let mut e = CommandEvaluator::new(config, &dir, 3).unwrap();
        let space = Nb201Space::new();
        let archs: Vec<_> = (0..5).map(cell).collect();
        let mut got = vec![None; 5];
        e.evaluate_batch(&space, &archs, &mut |i, out, attempt| {
            assert!(attempt.seconds >= 0.9, "{attempt:?}");
            got[i] = Some(out.unwrap());
        });
        assert_eq!(got, vec![Some(1.0); 5]);
        let keys: Vec<String> = archs
            .iter()
            .map(|a| space.key_text(&space.key(a)))
            .collect();
        let read = |e: &CommandEvaluator, k: &str, a: u32, f: &str| {
            std::fs::read_to_string(e.attempt_dir(k, a).join(f))
                .unwrap()
                .trim()
                .to_owned()
        };
        let spans: Vec<(u128, u128, String)> = keys
            .iter()
            .map(|k| {
                let span = read(&e, k, 1, "span");
                let (a, b) = span.split_once(' ').unwrap();
                (
                    a.parse().unwrap(),
                    b.parse().unwrap(),
                    read(&e, k, 1, "gpu"),
                )
            })
            .collect();
        // The first two ran together, each on its own GPU; never more than two at once.
        let overlap = |x: &(u128, u128, String), y: &(u128, u128, String)| x.0 < y.1 && y.0 < x.1;
        assert!(overlap(&spans[0], &spans[1]), "{spans:?}");
        assert_ne!(spans[0].2, spans[1].2);
        for x in &spans {
            assert!(x.2 == "0" || x.2 == "1", "{spans:?}");
            let at_once = spans.iter().filter(|y| y.0 <= x.0 && x.0 < y.1).count();
            assert!(at_once <= 2, "{spans:?}");
        }
        // Again: attempt 2, in a directory of its own, with the same seed.
        e.evaluate_batch(&space, &archs[..1], &mut |_, out, _| {
            assert_eq!(out.unwrap(), 2.0)
        });
        assert_eq!(read(&e, &keys[0], 1, "seed"), read(&e, &keys[0], 2, "seed"));
        assert_eq!(
            read(&e, &keys[0], 1, "seed"),
            e.seed_of(&keys[0]).to_string()
        );
    }

    #[test]
    fn the_python_helper_reads_the_spec_and_writes_the_result() {
        if Command::new("python3").arg("--version").output().is_err() {
            panic!("python3 is needed for this test (.ci/run installs it)");
        }
        let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
        let program = format!(
            "import sys; sys.path.insert(0, {helper:?}); import dcl_enas_result as r; \
             s = r.read_spec(); r.write_result(fitness=len(s['graph']['nodes']) + s['attempt'], \
             objectives={{'edges': len(s['graph']['edges'])}}, details={{'key': s['key']}})"
        );
        let config = CommandConfig::new(vec!["python3".into(), "-c".into(), program]);
        let (out, dir) = run(config, "python");
        let (fitness, objectives) = out.unwrap();
        assert_eq!(fitness, 9.0);
        assert!(objectives["edges"] > 0.0);
        let result = ResultFile::parse(&std::fs::read(dir.join(RESULT_FILE)).unwrap()).unwrap();
        assert!(result.details["key"].is_string());
        // A non-finite fitness is refused by the helper, and that refusal is the program's
        // crash.
        let nan = format!(
            "import sys; sys.path.insert(0, {helper:?}); import dcl_enas_result as r; \
             r.write_result(fitness=float('nan'))"
        );
        let (out, dir) = run(
            CommandConfig::new(vec!["python3".into(), "-c".into(), nan]),
            "python-nan",
        );
        assert_eq!(out.unwrap_err().kind, FailureKind::Crash);
        let log = std::fs::read_to_string(dir.join(LOG_FILE)).unwrap();
        assert!(log.contains("fitness must be finite"), "{log}");
    }

    fn schema(name: &str) -> jsonschema::Validator {
        let path = format!("{}/../../docs/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
        let schema: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        jsonschema::draft202012::new(&schema).unwrap()
    }

    /// What the evaluator writes (specs) and what the Python helper and `ResultFile` write
    /// (results) follow the JSON Schemas in docs/schemas, and the schemas and the code agree
    /// on which results are results.
    #[test]
    fn the_files_follow_their_json_schemas() {
        let (spec_schema, result_schema) = (
            schema("command-spec.schema.json"),
            schema("command-result.schema.json"),
        );
        let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
        let program = format!(
            "import sys; sys.path.insert(0, {helper:?}); import dcl_enas_result as r; \
             s = r.read_spec(); r.write_result(fitness=0.5, objectives={{'params': 3}}, \
             details={{'epochs': [1, 2]}})"
        );
        let config = CommandConfig {
            config: serde_json::json!({"args": ["--epochs", "2"], "data": "/data"}),
            ..CommandConfig::new(vec!["python3".into(), "-c".into(), program])
        };
        let (out, dir) = run(config, "schema");
        out.unwrap();
        let read = |f: &str| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
        };
        let spec = read(SPEC_FILE);
        assert!(spec_schema.is_valid(&spec), "{spec}");
        assert!(result_schema.is_valid(&read(RESULT_FILE)));
        let mut wrong = spec.clone();
        wrong["format"] = 1.into();
        assert!(!spec_schema.is_valid(&wrong));
        wrong = spec.clone();
        wrong.as_object_mut().unwrap().remove("graph");
        assert!(!spec_schema.is_valid(&wrong));
        for result in [
            ResultFile {
                fitness: Some(93.5),
                failure: None,
                objectives: [("latency_ms".to_owned(), 1.5)].into(),
                details: serde_json::json!({"per_class": [0.9, 0.8]}),
            },
            ResultFile {
                fitness: None,
                failure: Some("out of memory".into()),
                objectives: BTreeMap::new(),
                details: serde_json::Value::Null,
            },
        ] {
            let written = serde_json::to_value(&result).unwrap();
            assert!(result_schema.is_valid(&written), "{written}");
        }
        // The schema and the parser accept and refuse the same documents.
        for (text, valid) in [
            (r#"{"fitness": 1}"#, true),
            (r#"{"failure": "diverged"}"#, true),
            (
                r#"{"fitness": 0.5, "objectives": {"params": 10}, "details": [1]}"#,
                true,
            ),
            (r#"{}"#, false),
            (r#"{"fitness": 1, "failure": "x"}"#, false),
            (r#"{"fitness": "high"}"#, false),
            (r#"{"fitness": 1, "objectives": {"params": "ten"}}"#, false),
            (r#"{"fitness": 1, "accuracy": 2}"#, false),
            (r#"[1]"#, false),
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(result_schema.is_valid(&value), valid, "schema: {text}");
            assert_eq!(
                ResultFile::parse(text.as_bytes()).is_ok(),
                valid,
                "parser: {text}"
            );
        }
    }

    #[test]
    fn bad_configurations_and_results_are_refused() {
        for bad in [
            CommandConfig::new(Vec::new()),
            CommandConfig::new(vec![String::new()]),
            CommandConfig {
                workers: 0,
                ..sh("true")
            },
            CommandConfig {
                timeout: Some(Duration::ZERO),
                ..sh("true")
            },
            CommandConfig {
                env: [("A=B".to_owned(), "x".to_owned())].into(),
                ..sh("true")
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(ExecError::Config(_))),
                "{bad:?}"
            );
            assert!(CommandEvaluator::new(bad, temp("bad"), 0).is_err());
        }
        let (out, _) = run(
            CommandConfig::new(vec!["/nonexistent/program".into()]),
            "missing-program",
        );
        assert!(out.unwrap_err().message.contains("cannot start"));
        assert!(ResultFile::parse(b"{}").is_err());
        assert!(ResultFile::parse(br#"{"fitness": 1, "objectives": {"x": 1e400}}"#).is_err());
        assert!(ResultFile::parse(br#"{"failure": "oom", "objectives": {"x": 1}}"#).is_ok());
    }
}
