//! Talking to Slurm: `sbatch`, `scontrol show job`, `sacct`, `scancel`, and reading what they
//! say about a job array's tasks.

use std::collections::BTreeMap;
use std::process::Command;

use dcl_graph::{Failure, FailureKind};

use crate::SlurmError;

/// A Slurm job state, as `scontrol` and `sacct` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for resources (also `CONFIGURING`, `REQUEUED`, held, ...).
    Pending,
    /// Running (also `COMPLETING`, `SUSPENDED`, ...).
    Running,
    /// Ended with exit code 0.
    Completed,
    /// Ended with a non-zero exit code or signal (`ExitCode=code:signal`).
    Failed(String),
    /// Killed at its time limit (also `DEADLINE`).
    Timeout,
    /// Cancelled by a user or an administrator.
    Cancelled,
    /// Its node failed (also `BOOT_FAIL`).
    NodeFail,
    /// Killed for using more memory than it asked for.
    OutOfMemory,
    /// Any other end: `PREEMPTED`, ... (the name as Slurm gave it).
    Other(String),
}

impl JobState {
    /// The state named `name` (`CANCELLED by 0` reads as cancelled), with `exit` the job's
    /// `ExitCode`.
    pub fn from_name(name: &str, exit: &str) -> Self {
        let name = name.split_whitespace().next().unwrap_or("");
        match name {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
            | "RESV_DEL_HOLD" | "SPECIAL_EXIT" => JobState::Pending,
            "RUNNING" | "COMPLETING" | "SUSPENDED" | "STOPPED" | "RESIZING" | "SIGNALING"
            | "STAGE_OUT" => JobState::Running,
            "COMPLETED" => JobState::Completed,
            "FAILED" => JobState::Failed(exit.to_owned()),
            "TIMEOUT" | "DEADLINE" => JobState::Timeout,
            "CANCELLED" => JobState::Cancelled,
            "NODE_FAIL" | "BOOT_FAIL" => JobState::NodeFail,
            "OUT_OF_MEMORY" => JobState::OutOfMemory,
            other => JobState::Other(other.to_owned()),
        }
    }

    /// Whether the task may still write its result.
    pub fn is_active(&self) -> bool {
        matches!(self, JobState::Pending | JobState::Running)
    }

    /// The failure a task that ended in this state without a result file is.
    pub fn failure(&self, job: &str) -> Failure {
        match self {
            JobState::Timeout => Failure::new(
                FailureKind::Timeout,
                format!("Slurm job {job} ran past its time limit (TIMEOUT)"),
            ),
            JobState::Failed(exit) => Failure::new(
                FailureKind::Crash,
                format!("Slurm job {job} FAILED (ExitCode {exit}) without a result"),
            ),
            JobState::Cancelled => {
                Failure::new(FailureKind::Crash, format!("Slurm job {job} was CANCELLED"))
            }
            JobState::NodeFail => Failure::new(
                FailureKind::Crash,
                format!("Slurm job {job}: its node failed (NODE_FAIL)"),
            ),
            JobState::OutOfMemory => Failure::new(
                FailureKind::Crash,
                format!("Slurm job {job} ran out of memory (OUT_OF_MEMORY)"),
            ),
            JobState::Completed => Failure::new(
                FailureKind::Crash,
                format!("Slurm job {job} COMPLETED without writing its result file"),
            ),
            JobState::Other(name) => Failure::new(
                FailureKind::Crash,
                format!("Slurm job {job} ended {name} without a result"),
            ),
            JobState::Pending | JobState::Running => Failure::new(
                FailureKind::Crash,
                format!("Slurm job {job} is still active"),
            ),
        }
    }
}

/// What Slurm says about one array's tasks, by task index. A task Slurm does not mention is
/// absent.
pub type TaskState = BTreeMap<u32, JobState>;

/// Task indices of an `ArrayTaskId` field: `3`, `0-4`, `0,2-3`, `1-9%2`, `0-9:2`.
fn task_indices(text: &str) -> Vec<u32> {
    let text = text.split('%').next().unwrap_or("");
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once(':') {
            Some((r, s)) => (r, s.parse::<u32>().unwrap_or(1).max(1)),
            None => (part, 1),
        };
        match range.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    // A pending range can be as wide as MaxArraySize; never more.
                    out.extend((a..=b.min(a.saturating_add(1_000_000))).step_by(step as usize));
                }
            }
            None => out.extend(range.parse::<u32>().ok()),
        }
    }
    out
}

/// Reads `scontrol -o show job ARRAY_ID` (one record per line, `Key=Value` fields) into the
/// states of the array's tasks.
///
/// ```
/// use dcl_slurm::{JobState, parse_scontrol};
/// let text = "JobId=12 ArrayJobId=10 ArrayTaskId=2 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0\n\
///             JobId=10 ArrayJobId=10 ArrayTaskId=3-4 JobState=PENDING Reason=Resources ExitCode=0:0\n";
/// let states = parse_scontrol(text, "10");
/// assert_eq!(states[&2], JobState::Timeout);
/// assert_eq!(states[&4], JobState::Pending);
/// ```
pub fn parse_scontrol(text: &str, array_id: &str) -> TaskState {
    let mut states = TaskState::new();
    for line in text.lines() {
        let fields: BTreeMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|f| f.split_once('='))
            .collect();
        if fields.get("ArrayJobId") != Some(&array_id) {
            continue;
        }
        let (Some(tasks), Some(state)) = (fields.get("ArrayTaskId"), fields.get("JobState")) else {
            continue;
        };
        let state = JobState::from_name(state, fields.get("ExitCode").unwrap_or(&""));
        for i in task_indices(tasks) {
            states.insert(i, state.clone());
        }
    }
    states
}

/// Reads `sacct -n -P -X -o JobID,State,ExitCode -j ARRAY_ID` (`10_3|COMPLETED|0:0`,
/// `10_[4-6]|PENDING|0:0`) into the states of the array's tasks.
///
/// ```
/// use dcl_slurm::{JobState, parse_sacct};
/// let states = parse_sacct("10_0|COMPLETED|0:0\n10_1|CANCELLED by 0|0:0\n10_[2-3]|PENDING|0:0\n", "10");
/// assert_eq!(states[&1], JobState::Cancelled);
/// assert_eq!(states[&3], JobState::Pending);
/// ```
pub fn parse_sacct(text: &str, array_id: &str) -> TaskState {
    let mut states = TaskState::new();
    for line in text.lines() {
        let mut cols = line.split('|');
        let (Some(id), Some(state)) = (cols.next(), cols.next()) else {
            continue;
        };
        let exit = cols.next().unwrap_or("");
        let Some(tasks) = id
            .strip_prefix(array_id)
            .and_then(|rest| rest.strip_prefix('_'))
        else {
            continue;
        };
        let tasks = tasks.trim_start_matches('[').trim_end_matches(']');
        let state = JobState::from_name(state, exit);
        for i in task_indices(tasks) {
            states.insert(i, state.clone());
        }
    }
    states
}

/// Runs a Slurm command; its stdout, or why not.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, SlurmError> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| SlurmError::Command {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(SlurmError::Refused {
            command,
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The states of an array's tasks: `scontrol` (finished jobs stay there for `MinJobAge`),
/// then `sacct` for the tasks `scontrol` no longer knows, where accounting exists.
pub(crate) fn array_states(array_id: &str) -> TaskState {
    let mut states = run("scontrol", &["-o", "show", "job", array_id])
        .map(|text| parse_scontrol(&text, array_id))
        .unwrap_or_default();
    if states.is_empty()
        && let Ok(text) = run(
            "sacct",
            &[
                "-n",
                "-P",
                "-X",
                "-o",
                "JobID,State,ExitCode",
                "-j",
                array_id,
            ],
        )
    {
        states = parse_sacct(&text, array_id);
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ranges_expand() {
        assert_eq!(task_indices("3"), vec![3]);
        assert_eq!(task_indices("0-3"), vec![0, 1, 2, 3]);
        assert_eq!(task_indices("0,2-3"), vec![0, 2, 3]);
        assert_eq!(task_indices("1-4%2"), vec![1, 2, 3, 4]);
        assert_eq!(task_indices("0-6:3"), vec![0, 3, 6]);
        assert_eq!(task_indices("x"), Vec::<u32>::new());
    }

    #[test]
    fn every_state_the_issue_names_is_read() {
        for (name, exit, state) in [
            ("PENDING", "0:0", JobState::Pending),
            ("RUNNING", "0:0", JobState::Running),
            ("COMPLETED", "0:0", JobState::Completed),
            ("FAILED", "3:0", JobState::Failed("3:0".into())),
            ("TIMEOUT", "0:15", JobState::Timeout),
            ("CANCELLED", "0:15", JobState::Cancelled),
            ("NODE_FAIL", "0:0", JobState::NodeFail),
            ("OUT_OF_MEMORY", "0:125", JobState::OutOfMemory),
            ("PREEMPTED", "0:0", JobState::Other("PREEMPTED".into())),
        ] {
            assert_eq!(JobState::from_name(name, exit), state);
        }
        assert_eq!(JobState::Timeout.failure("1_0").kind, FailureKind::Timeout);
        assert_eq!(
            JobState::OutOfMemory.failure("1_0").kind,
            FailureKind::Crash
        );
        assert!(
            JobState::Failed("3:0".into())
                .failure("9_2")
                .message
                .contains("3:0")
        );
    }

    #[test]
    fn scontrol_lines_of_other_jobs_are_ignored() {
        // Real output of Slurm 22.05 (fields trimmed), array 1 with a finished and a pending
        // task, and a record of another job.
        let text = "JobId=2 ArrayJobId=1 ArrayTaskId=0 JobState=COMPLETED Reason=None ExitCode=0:0\n\
                    JobId=4 ArrayJobId=1 ArrayTaskId=2 JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0\n\
                    JobId=1 ArrayJobId=1 ArrayTaskId=3 JobState=PENDING Reason=Resources ExitCode=0:0\n\
                    JobId=7 ArrayJobId=17 ArrayTaskId=0 JobState=RUNNING ExitCode=0:0\n";
        let s = parse_scontrol(text, "1");
        assert_eq!(s.len(), 3);
        assert_eq!(s[&0], JobState::Completed);
        assert_eq!(s[&2], JobState::Failed("3:0".into()));
        assert_eq!(s[&3], JobState::Pending);
        assert!(parse_sacct("17_0|RUNNING|0:0\n", "1").is_empty());
    }
}
