//! # dcl-slurm
//!
//! Runs a search's true evaluations as Slurm job arrays. [`SlurmExecutor`] is an
//! [`Evaluator`](dcl_graph::Evaluator): for each batch the search driver hands it, it writes
//! one [`TaskSpec`] per architecture into the run directory, submits **one**
//! `sbatch --array=0-(k-1)` job whose tasks run a worker command on their spec, watches the
//! tasks' states through Slurm itself (`scontrol show job`, `sacct` where accounting
//! exists), and reads each task's [`TaskResult`] file, the only truth about its outcome. A
//! task that ends without a result (non-zero exit, `TIMEOUT`, `CANCELLED`, `NODE_FAIL`,
//! `OUT_OF_MEMORY`, ...) is a [`Failure`](dcl_graph::Failure) of the matching kind; the
//! driver retries it (a new array of just those tasks) and records it as failed after its
//! last attempt.
//!
//! The worker is any program that reads a spec and writes a result: the `dcl-enas` program's
//! `worker` subcommand evaluates the NAS-Bench tables and trains candidates with
//! `dcl-train`. What a spec asks for (`TaskSpec::evaluator`) is the application's JSON; this
//! crate only carries it.
//!
//! ## Files, in `RUN_DIR/slurm/`
//!
//! | file | content |
//! | --- | --- |
//! | `array-NNNN/spec-I.json` | task `I`'s [`TaskSpec`] (written before submission) |
//! | `array-NNNN/job.sh` | the batch script submitted |
//! | `array-NNNN/job_id` | the array's Slurm job id (written once `sbatch` answers) |
//! | `array-NNNN/result-I.json` | task `I`'s [`TaskResult`] (written by the worker, atomically) |
//! | `array-NNNN/task-I.log` | the task's stdout and stderr |
//! | `array-NNNN/cancelled` | present when this driver cancelled the array (Ctrl-C) |
//!
//! ## Resuming
//!
//! A new executor on a run directory reads what earlier drivers left there. When asked to
//! evaluate an architecture that an earlier array already ran or is running, and whose job
//! the search journal (`RUN_DIR/journal.jsonl`, its `job_id` fields) has not recorded, it
//! adopts that task instead of submitting again: a finished task's result is read, a task
//! still pending or running is waited for. A driver killed with SIGKILL therefore loses no
//! finished or running training.
//!
//! Data flows one way: graph → encoding → predictor → evolution → **executors** →
//! applications. This crate depends on `dcl-graph` alone.
#![warn(missing_docs)]

mod config;
mod executor;
mod slurm;
mod task;

pub use config::{SlurmConfig, parse_time_limit};
pub use executor::{Canceller, SlurmExecutor};
pub use slurm::{JobState, TaskState, parse_sacct, parse_scontrol};
pub use task::{TASK_FORMAT, TaskResult, TaskSpec};

/// What can go wrong before or around a Slurm job (not a candidate's own failure, which is a
/// [`Failure`](dcl_graph::Failure)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlurmError {
    /// A setting of the `[slurm]` table (or the worker command) is unusable.
    #[error("invalid Slurm setting `{key}`: {message}")]
    Config {
        /// The setting's key in the `[slurm]` table (`worker` for the worker command).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A Slurm command could not be run (not installed, not on `PATH`).
    #[error("could not run `{command}`: {source}")]
    Command {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// A Slurm command ran and refused (`sbatch` of a partition that does not exist, say).
    #[error("`{command}` failed: {message}")]
    Refused {
        /// The command.
        command: String,
        /// Its standard error.
        message: String,
    },
    /// A spec or result file is malformed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing the run directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl SlurmError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        SlurmError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
