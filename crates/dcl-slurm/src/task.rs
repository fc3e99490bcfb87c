//! The two files between the driver and a worker: a task's spec and its result.

use std::collections::BTreeMap;
use std::path::Path;

use dcl_graph::{Failure, FailureKind};
use serde::{Deserialize, Serialize};

use crate::SlurmError;

/// The format version of spec and result files; a reader refuses another.
pub const TASK_FORMAT: u32 = 1;

/// What one task evaluates: written by the executor before submission, read by the worker.
///
/// ```
/// use dcl_slurm::TaskSpec;
/// let spec = TaskSpec::new(
///     "nb201",
///     serde_json::json!("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"),
///     "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|",
///     serde_json::json!({"kind": "table", "dataset": "cifar10"}),
/// );
/// let text = serde_json::to_string(&spec).unwrap();
/// assert_eq!(TaskSpec::parse(text.as_bytes()).unwrap(), spec);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// [`TASK_FORMAT`].
    pub format: u32,
    /// The search space's name (`nb201`, `nb101`, `net`, ...).
    pub space: String,
    /// The architecture, in its serde form (the text form for the spaces of this workspace;
    /// their older field form is read too).
    pub arch: serde_json::Value,
    /// The architecture's key text ([`SearchSpace::key_text`](dcl_graph::SearchSpace::key_text)),
    /// as the search journal has it.
    pub key: String,
    /// How to evaluate it: the application's description (table and column, or training
    /// settings, data location and seed).
    pub evaluator: serde_json::Value,
}

impl TaskSpec {
    /// A spec of the current format.
    pub fn new(
        space: &str,
        arch: serde_json::Value,
        key: &str,
        evaluator: serde_json::Value,
    ) -> Self {
        Self {
            format: TASK_FORMAT,
            space: space.into(),
            arch,
            key: key.into(),
            evaluator,
        }
    }

    /// Parses a spec file's bytes, refusing other formats.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let spec: TaskSpec = from_object(bytes)?;
        if spec.format != TASK_FORMAT {
            return Err(format!(
                "task spec format {} (this program reads {TASK_FORMAT})",
                spec.format
            ));
        }
        Ok(spec)
    }

    /// Reads a spec file.
    pub fn read(path: &Path) -> Result<Self, SlurmError> {
        read_with(path, Self::parse)
    }

    /// Writes the spec atomically.
    pub fn write(&self, path: &Path) -> Result<(), SlurmError> {
        write_json(path, self)
    }
}

/// What a worker found: the fitness or the failure, written atomically when the evaluation
/// ends. The executor believes this file alone, never the task's output or exit code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// [`TASK_FORMAT`].
    pub format: u32,
    /// The fitness (present exactly when `failure` is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitness: Option<f64>,
    /// Why the evaluation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Wall time of the evaluation in the worker, in seconds.
    pub seconds: f64,
    /// The node that ran it.
    #[serde(default)]
    pub host: String,
    /// Anything else the worker measured (per-class metrics, epochs), for the application.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    /// Objectives measured with the fitness, by name (journalled with it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objectives: BTreeMap<String, f64>,
    /// The file holding the evaluation's output, relative to the run directory, where the
    /// worker kept one of its own (a user's program's log); else the task's output is the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl TaskResult {
    /// A result of the current format from an outcome.
    pub fn new(outcome: Result<f64, Failure>, seconds: f64, host: &str) -> Self {
        let (fitness, failure) = match outcome {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(e)),
        };
        Self {
            format: TASK_FORMAT,
            fitness,
            failure,
            seconds,
            host: host.into(),
            details: serde_json::Value::Null,
            objectives: BTreeMap::new(),
            log: None,
        }
    }

    /// The outcome this result reports (a non-finite fitness is a
    /// [`FailureKind::NonFinite`] failure).
    pub fn outcome(&self) -> Result<f64, Failure> {
        match (&self.fitness, &self.failure) {
            (Some(f), None) if f.is_finite() => Ok(*f),
            (Some(f), None) => Err(Failure::new(
                FailureKind::NonFinite,
                format!("the worker reported {f}"),
            )),
            (None, Some(failure)) => Err(failure.clone()),
            _ => Err(Failure::new(
                FailureKind::Crash,
                "the result file holds both or neither of fitness and failure",
            )),
        }
    }

    /// Parses a result file's bytes, refusing other formats and results that hold both or
    /// neither of `fitness` and `failure`.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let r: TaskResult = from_object(bytes)?;
        if r.format != TASK_FORMAT {
            return Err(format!(
                "task result format {} (this program reads {TASK_FORMAT})",
                r.format
            ));
        }
        if r.fitness.is_some() == r.failure.is_some() {
            return Err("a result holds exactly one of fitness and failure".into());
        }
        if !(r.seconds.is_finite() && r.seconds >= 0.0) {
            return Err(format!(
                "seconds must be finite and >= 0, got {}",
                r.seconds
            ));
        }
        Ok(r)
    }

    /// Reads a result file.
    pub fn read(path: &Path) -> Result<Self, SlurmError> {
        read_with(path, Self::parse)
    }

    /// Writes the result atomically (temporary file, fsync, rename).
    pub fn write(&self, path: &Path) -> Result<(), SlurmError> {
        write_json(path, self)
    }
}

/// A JSON object's bytes as `T` (serde would also read a struct from an array of its fields).
fn from_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err("expected a JSON object".into());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// A file's bytes through `parse`, errors naming the file.
fn read_with<T>(path: &Path, parse: fn(&[u8]) -> Result<T, String>) -> Result<T, SlurmError> {
    let bytes = std::fs::read(path).map_err(|e| SlurmError::io(path, e))?;
    parse(&bytes).map_err(|message| SlurmError::File {
        path: path.display().to_string(),
        message,
    })
}

/// `value` as pretty JSON, written atomically (temporary file, fsync, rename).
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), SlurmError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| SlurmError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    dcl_graph::io::write_atomic(path, &text).map_err(|e| SlurmError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arrays_of_the_fields_are_not_specs_or_results() {
        assert!(TaskResult::parse(br#"[1, 0.5, null, 1.0, "h"]"#).is_err());
        assert!(TaskSpec::parse(br#"[1, "nb201", "x", "k", null]"#).is_err());
    }

    #[test]
    fn results_round_trip_and_odd_ones_are_refused() {
        for r in [
            TaskResult::new(Ok(93.5), 1.25, "node1"),
            TaskResult::new(Err(Failure::new(FailureKind::Error, "diverged")), 3.0, "n"),
        ] {
            let bytes = serde_json::to_vec(&r).unwrap();
            assert_eq!(TaskResult::parse(&bytes).unwrap(), r);
        }
        for text in [
            r#"{"format":1,"seconds":1}"#,
            r#"{"format":1,"fitness":1,"failure":{"kind":"error","message":"x"},"seconds":1}"#,
            r#"{"format":2,"fitness":1,"seconds":1}"#,
            r#"{"format":1,"fitness":1,"seconds":-1}"#,
            r#"{"format":1,"fitness":1}"#,
            "",
            "{",
        ] {
            assert!(TaskResult::parse(text.as_bytes()).is_err(), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Arbitrary bytes: an error or a result that holds exactly one outcome.
        #[test]
        fn result_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(r) = TaskResult::parse(&bytes) {
                prop_assert!(r.fitness.is_some() != r.failure.is_some());
            }
            let _ = TaskSpec::parse(&bytes);
        }
    }
}
