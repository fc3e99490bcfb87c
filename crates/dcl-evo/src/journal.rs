//! The search journal: one JSON line per event, appended and synced to disk before the search
//! goes on, so that a search killed at any moment can be resumed. The first line is the
//! [`JournalHeader`] (`"type":"header"`), every other line one [`EvaluationRecord`]
//! (`"type":"evaluation"`), both with the fields their docs list; [`JOURNAL_FORMAT`] is the
//! format's version.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use dcl_graph::Failure;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// The version of the journal format this crate writes. It reads this one and format 1, whose
/// keys are Rust's debug text of the space's key and whose architectures may be in their
/// field form; [`Journal::resume`] rewrites a format-1 journal as this format first.
pub const JOURNAL_FORMAT: u32 = 2;

/// The oldest journal format this crate reads.
const OLDEST_READABLE_FORMAT: u32 = 1;

/// The journal's file name inside a run directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// A new run directory's default path: `runs/{program}-seed{seed}-{unix seconds}`, so that
/// runs started at different times (or with other seeds) never share a journal.
pub fn fresh_run_dir(program: &str, seed: u64) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from(format!("runs/{program}-seed{seed}-{secs}"))
}

/// Waits until no journal line is being written in this process, then holds further writes
/// back until the guard is dropped. [`Journal::append`] writes and syncs each line under it, so
/// a handler that ends the process on a signal takes it first and never cuts a line in half;
/// a program's other append-only logs may write under it too.
pub fn hold_journal_writes() -> std::sync::MutexGuard<'static, ()> {
    static WRITES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    WRITES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why a journal could not be created, read or appended to.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A new run was started in a directory that already holds a journal.
    #[error(
        "{0} already holds a journal: start a new run in another directory, or resume this one"
    )]
    Exists(PathBuf),
    /// A run was resumed from a directory without a journal.
    #[error("{0} holds no journal to resume")]
    Missing(PathBuf),
    /// A line other than the last one is not a journal record (the last one, torn by a kill,
    /// is dropped instead).
    #[error("{path} line {line}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The journal was written by another format version.
    #[error(
        "the journal has format {found}; this version reads formats {OLDEST_READABLE_FORMAT} to {JOURNAL_FORMAT}"
    )]
    Format {
        /// The journal's format.
        found: u32,
    },
    /// The journal's header disagrees with the configuration of the run resuming it.
    #[error("the journal was written with {field} = {journal}, but this run has {field} = {run}")]
    Mismatch {
        /// The first field that differs (a dotted path into the header).
        field: String,
        /// Its value in the journal.
        journal: String,
        /// Its value in this run.
        run: String,
    },
    /// An ask/tell [`Session`](crate::Session) was handed a journal whose records do not say
    /// when they were told: one the [`Driver`](crate::Driver) wrote.
    #[error(
        "journal record {record} does not say how many architectures were asked before it was \
         told: the journal was written by a driven search (resume it as that search), not by an \
         ask/tell session"
    )]
    NoAskCount {
        /// 1-based record number (the header not counted).
        record: usize,
    },
    /// Replaying an ask/tell [`Session`](crate::Session)'s journal, the strategy did not ask
    /// the architecture a record tells: the session is not the one that wrote the journal.
    #[error(
        "the journal does not replay: record {record} tells {arch}, which the replayed search \
         did not ask (other code, settings or seed?)"
    )]
    Unasked {
        /// 1-based record number (the header not counted).
        record: usize,
        /// The architecture the record tells.
        arch: String,
    },
    /// Replaying the journal asked an architecture the journal never evaluated while other
    /// records were still unread: the search is not the one that wrote the journal.
    #[error(
        "the journal does not replay: {arch} was asked but never evaluated by the journalled run, \
         and {unread} journalled architectures were never asked (other code or settings?)"
    )]
    Diverged {
        /// The architecture asked.
        arch: String,
        /// Journalled architectures not asked yet.
        unread: usize,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The first line of a journal: everything that decides which architectures the search asks.
/// Resuming compares every field except `crate_version` with the resuming run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    /// [`JOURNAL_FORMAT`] when written.
    pub format: u32,
    /// Version of dcl-evo that wrote the journal (for people; not compared).
    pub crate_version: String,
    /// The strategy's name ([`Strategy::name`](crate::Strategy::name)).
    pub strategy: String,
    /// The strategy's settings, as JSON.
    pub strategy_config: Value,
    /// The search space's name.
    pub space: String,
    /// The seed the strategy's RNG (and the run's other randomness) is built from.
    pub seed: u64,
    /// The driver: budget, batch size, attempts, whether failures count.
    pub driver: crate::Driver,
    /// Everything else the application says decides the outcome (the evaluator's settings,
    /// the surrogate's), as JSON; `null` when none.
    #[serde(default)]
    pub settings: Value,
}

impl JournalHeader {
    /// A header for a run of `strategy` (its name) with settings `strategy_config`.
    pub fn new(
        strategy: &str,
        strategy_config: &impl Serialize,
        space: &str,
        seed: u64,
        driver: crate::Driver,
    ) -> Self {
        Self {
            format: JOURNAL_FORMAT,
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            strategy: strategy.to_owned(),
            strategy_config: serde_json::to_value(strategy_config).unwrap_or(Value::Null),
            space: space.to_owned(),
            seed,
            driver,
            settings: Value::Null,
        }
    }

    /// The header with the application's `settings`.
    pub fn with_settings(mut self, settings: &impl Serialize) -> Self {
        self.settings = serde_json::to_value(settings).unwrap_or(Value::Null);
        self
    }

    /// The first field (dotted path) in which `self` (the journal's) and `run` differ.
    pub fn mismatch(&self, run: &JournalHeader) -> Option<JournalError> {
        let mut a = serde_json::to_value(self).ok()?;
        let mut b = serde_json::to_value(run).ok()?;
        for v in [&mut a, &mut b] {
            if let Value::Object(m) = v {
                m.remove("crate_version");
            }
        }
        dcl_graph::io::first_difference(&a, &b).map(|(field, journal, run)| {
            JournalError::Mismatch {
                field: if field.is_empty() {
                    "header".into()
                } else {
                    field
                },
                journal,
                run,
            }
        })
    }
}

/// One attempt at evaluating one architecture, as journalled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRecord<A> {
    /// The architecture.
    pub arch: A,
    /// Its key's text ([`SearchSpace::key_text`](dcl_graph::SearchSpace::key_text)): replay
    /// matches on it.
    pub key: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// The fitness, when the attempt succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitness: Option<f64>,
    /// Why the attempt failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Wall time of the attempt, seconds.
    pub seconds: f64,
    /// Further objectives measured with the fitness (parameter count, latency, ...), by name:
    /// stored, never re-measured on replay.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objectives: BTreeMap<String, f64>,
    /// The executor's id of the job that ran the attempt (a Slurm job id), where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The file holding the attempt's output (standard output and error of the user's program,
    /// or of the Slurm task), relative to the run directory where it lies inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// 0-based position of the architecture among the run's asks (the order the history
    /// keeps, whatever order a batch's evaluations ended in). Optional: records without it are
    /// taken in file order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u64>,
    /// How many architectures the run had asked when this outcome was told: written by an
    /// ask/tell [`Session`](crate::Session), whose replay asks that many before telling it
    /// (the driver's records leave it out: the driver replays by batches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asks_before: Option<u64>,
}

/// One line of a journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<A> {
    Header(JournalHeader),
    Evaluation(EvaluationRecord<A>),
}

/// A run's journal, open for appending.
#[derive(Debug)]
pub struct Journal<A> {
    path: PathBuf,
    file: File,
    header: JournalHeader,
    records: Vec<EvaluationRecord<A>>,
    dropped_torn_line: bool,
}

impl<A: Serialize> Journal<A> {
    /// Starts the journal of a new run in `dir` (created if missing). A directory that already
    /// holds a journal is refused ([`JournalError::Exists`]): nothing is overwritten, and
    /// nothing is resumed by accident.
    pub fn create(dir: impl AsRef<Path>, header: JournalHeader) -> Result<Self, JournalError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(JOURNAL_FILE);
        let mut file = match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(JournalError::Exists(dir.to_owned()));
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let mut line = serde_json::to_string(&LineRef::<A>::Header(&header))
            .map_err(|e| io(&path)(e.into()))?;
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Self {
            path,
            file,
            header,
            records: Vec::new(),
            dropped_torn_line: false,
        })
    }

    /// Appends `record` and syncs it to disk before returning.
    pub fn append(&mut self, record: EvaluationRecord<A>) -> Result<(), JournalError> {
        let mut line = serde_json::to_string(&LineRef::Evaluation(&record))
            .map_err(|e| io(&self.path)(e.into()))?;
        line.push('\n');
        let writing = hold_journal_writes();
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        drop(writing);
        self.records.push(record);
        Ok(())
    }

    /// The header.
    pub fn header(&self) -> &JournalHeader {
        &self.header
    }

    /// Every record, in the order written (those read on resume first).
    pub fn records(&self) -> &[EvaluationRecord<A>] {
        &self.records
    }

    /// Whether resuming dropped a torn last line.
    pub fn dropped_torn_line(&self) -> bool {
        self.dropped_torn_line
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<A: Serialize + DeserializeOwned> Journal<A> {
    /// Opens the journal in `dir` to resume its run of a search over `space`: checks that its
    /// header matches `header` (every field but the crate version; [`JournalError::Mismatch`]
    /// names the first that differs), reads its records, and drops a torn last line (a kill in
    /// the middle of a write) with a warning. A format-1 journal is first rewritten in this
    /// format (atomically: a new file renamed over the old one), its keys recomputed as
    /// `space`'s key texts.
    pub fn resume<S>(
        dir: impl AsRef<Path>,
        header: JournalHeader,
        space: &S,
    ) -> Result<Self, JournalError>
    where
        S: dcl_graph::SearchSpace<Arch = A>,
    {
        Self::resume_upgrading(dir, header, space, |_| {})
    }

    /// [`resume`](Self::resume), with `upgrade` applied to the journal's header before the
    /// comparison: an application that records a setting it did not record before inserts,
    /// into a header that lacks it, the value the setting had then. A header that `upgrade`
    /// changes is written back (atomically, as a format upgrade is).
    ///
    /// ```
    /// use dcl_evo::{Driver, Journal, JournalHeader};
    /// use dcl_graph::Nb201Space;
    ///
    /// let dir = std::env::temp_dir().join(format!("dcl-evo-upgrade-doc-{}", std::process::id()));
    /// let old = JournalHeader::new("random", &(), "nb201", 0, Driver::new(5))
    ///     .with_settings(&serde_json::json!({ "column": "test200" }));
    /// drop(Journal::<dcl_graph::Nb201Cell>::create(&dir, old).unwrap());
    ///
    /// let today = JournalHeader::new("random", &(), "nb201", 0, Driver::new(5))
    ///     .with_settings(&serde_json::json!({ "column": "test200", "engine": "burn" }));
    /// let space = Nb201Space::new();
    /// assert!(Journal::resume(&dir, today.clone(), &space).is_err());
    /// let j = Journal::resume_upgrading(&dir, today.clone(), &space, |h| {
    ///     if let Some(m) = h.settings.as_object_mut() {
    ///         m.entry("engine").or_insert("burn".into());
    ///     }
    /// })
    /// .unwrap();
    /// assert_eq!(j.header().settings, today.settings);
    /// drop(j);
    /// // Written back: a plain resume now matches.
    /// assert!(Journal::resume(&dir, today, &space).is_ok());
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn resume_upgrading<S>(
        dir: impl AsRef<Path>,
        header: JournalHeader,
        space: &S,
        upgrade: impl FnOnce(&mut JournalHeader),
    ) -> Result<Self, JournalError>
    where
        S: dcl_graph::SearchSpace<Arch = A>,
    {
        let dir = dir.as_ref();
        let path = dir.join(JOURNAL_FILE);
        if !path.exists() {
            return Err(JournalError::Missing(dir.to_owned()));
        }
        let (mut found, mut records, good_len, dropped) = read_file::<A>(&path)?;
        let new_format = found.format != JOURNAL_FORMAT;
        if new_format {
            found.format = JOURNAL_FORMAT;
        }
        let before = found.clone();
        upgrade(&mut found);
        let rewrite_header = found != before;
        if let Some(e) = found.mismatch(&header) {
            return Err(e);
        }
        if dropped {
            tracing::warn!(
                "{}: dropped a torn last line (the run was killed while writing it)",
                path.display()
            );
        }
        if new_format {
            for r in &mut records {
                r.key = space.canonical_text(&r.arch);
            }
            tracing::info!(
                "{}: rewriting the format-{OLDEST_READABLE_FORMAT} journal in format {JOURNAL_FORMAT}",
                path.display()
            );
        }
        let upgrade = new_format || rewrite_header;
        if upgrade {
            rewrite(&path, &found, &records)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        if dropped && !upgrade {
            file.set_len(good_len).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        Ok(Self {
            path,
            file,
            header: found,
            records,
            dropped_torn_line: dropped,
        })
    }

    /// Reads the journal in `dir` without opening it for writing: its header and records (a
    /// torn last line left out).
    pub fn read(
        dir: impl AsRef<Path>,
    ) -> Result<(JournalHeader, Vec<EvaluationRecord<A>>), JournalError> {
        let path = dir.as_ref().join(JOURNAL_FILE);
        if !path.exists() {
            return Err(JournalError::Missing(dir.as_ref().to_owned()));
        }
        let (h, r, _, _) = read_file(&path)?;
        Ok((h, r))
    }
}

/// Replaces the journal at `path` by `header` and `records`, atomically
/// ([`dcl_graph::io::write_atomic`]).
fn rewrite<A: Serialize>(
    path: &Path,
    header: &JournalHeader,
    records: &[EvaluationRecord<A>],
) -> Result<(), JournalError> {
    let lines =
        std::iter::once(LineRef::Header(header)).chain(records.iter().map(LineRef::Evaluation));
    let mut text = String::new();
    for line in lines {
        text.push_str(&serde_json::to_string(&line).map_err(|e| io(path)(e.into()))?);
        text.push('\n');
    }
    dcl_graph::io::write_atomic(path, text.as_bytes()).map_err(io(path))
}

/// A line, serialised from a borrowed header or record.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LineRef<'a, A: Serialize> {
    Header(&'a JournalHeader),
    Evaluation(&'a EvaluationRecord<A>),
}

type Read<A> = (JournalHeader, Vec<EvaluationRecord<A>>, u64, bool);

/// The header, the records, the length of the good part, and whether a torn last line was
/// left out.
fn read_file<A: DeserializeOwned>(path: &Path) -> Result<Read<A>, JournalError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let corrupt = |line: usize, message: String| JournalError::Corrupt {
        path: path.to_owned(),
        line,
        message,
    };
    let mut header = None;
    let mut records = Vec::new();
    let mut good_len = 0u64;
    let mut dropped = false;
    let mut rest: &[u8] = &bytes;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        let consumed = line.len() + usize::from(complete);
        let is_last = consumed == rest.len();
        let parsed = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str::<Line<A>>(s).map_err(|e| e.to_string()));
        match parsed {
            Ok(_) | Err(_) if !complete => {
                // No newline: the write was cut short, whatever the bytes parse as.
                dropped = true;
                break;
            }
            Ok(Line::Header(h)) if number == 1 => {
                if !(OLDEST_READABLE_FORMAT..=JOURNAL_FORMAT).contains(&h.format) {
                    return Err(JournalError::Format { found: h.format });
                }
                header = Some(h);
            }
            Ok(Line::Header(_)) => return Err(corrupt(number, "a second header".into())),
            Ok(Line::Evaluation(_)) if number == 1 => {
                return Err(corrupt(number, "the first line is not a header".into()));
            }
            Ok(Line::Evaluation(r)) => records.push(r),
            Err(_) if is_last && number > 1 => {
                dropped = true;
                break;
            }
            Err(e) => return Err(corrupt(number, e)),
        }
        good_len += consumed as u64;
        rest = &rest[consumed..];
    }
    let header = header.ok_or_else(|| corrupt(1, "no complete header line".into()))?;
    Ok((header, records, good_len, dropped))
}
