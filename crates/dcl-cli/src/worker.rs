//! `dcl-enas worker --spec FILE --out FILE`: evaluates one architecture of a Slurm job array
//! (or of any scheduler that can run a command) and writes its result file.
//!
//! The spec is a [`TaskSpec`] whose `evaluator` is a [`WorkerTask`]: a NAS-Bench table
//! look-up (cheap: the whole cluster path can be tested with it) or a candidate training
//! with `dcl-train` on data files written once by the driver. The result is written
//! atomically; a worker that cannot even read its spec still writes a failure result, so
//! the driver learns why.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Table};
use dcl_exec::command::{CommandConfig, CommandEvaluator};
use dcl_graph::{Attempt, Failure, FailureKind, GraphSpace, Nb101Cell, Nb201Cell};
use dcl_slurm::{TaskResult, TaskSpec};
use dcl_train::{NetArch, TrainTask};
use serde::{Deserialize, Serialize};

use crate::evaluator::EvaluatorSetting;
use crate::search::{ColumnName, DatasetName};
use crate::space::{SpaceSetting, WithSpace};
use crate::{CliError, invalid};

/// The `worker` command's arguments.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The task's spec (JSON, written by the Slurm executor).
    #[arg(long)]
    pub spec: PathBuf,
    /// Where to write the result (JSON, atomically).
    #[arg(long)]
    pub out: PathBuf,
}

/// What a worker does with a spec's architecture (the spec's `evaluator` field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum WorkerTask {
    /// Look the architecture up in the embedded NAS-Bench table of the spec's space
    /// (`nb201`: `dataset` and `column`; `nb101`: the subset's valid108 column).
    Table {
        /// The dataset.
        dataset: DatasetName,
        /// The column.
        column: ColumnName,
    },
    /// Train the candidate (space `nb201`: a cell; `net`: a cell and its feature entry):
    /// [`TrainTask::run`], its fitness the mean over the folds; the result's `details` hold
    /// each fold's record.
    Train(Box<TrainTask>),
    /// Run the user's program on the architecture, as `dcl-enas search` does locally with an
    /// `[evaluator]`: the same spec and result files under the run directory's `evals/`.
    Command(Box<CommandTask>),
}

/// A [`WorkerTask::Command`]: the user's program on the spec's architecture, in the next free
/// attempt directory of that architecture, with the same seed as on the driver's machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandTask {
    /// The space (preset or declared) the spec's architecture belongs to.
    pub space: SpaceSetting,
    /// The program and its settings.
    pub evaluator: EvaluatorSetting,
    /// The search's run directory (absolute; shared by the driver and the nodes).
    pub run_dir: PathBuf,
    /// The search's seed (the program's seed is derived from it and the key).
    pub seed: u64,
}

/// What a worker learnt besides the outcome.
#[derive(Debug, Default)]
struct Measured {
    details: serde_json::Value,
    objectives: std::collections::BTreeMap<String, f64>,
    log: Option<String>,
}

/// Runs `dcl-enas worker`: the result file is written whatever the evaluation's outcome; the
/// command fails only when it cannot write it.
pub fn run(args: &WorkerArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let (outcome, measured) = match TaskSpec::read(&args.spec) {
        Ok(spec) => evaluate_measured(&spec),
        Err(e) => (
            Err(Failure::new(
                FailureKind::Error,
                format!("unreadable spec: {e}"),
            )),
            Measured::default(),
        ),
    };
    if let Err(f) = &outcome {
        tracing::warn!("evaluation failed: {f}");
    }
    let mut result = TaskResult::new(outcome, start.elapsed().as_secs_f64(), &host());
    result.details = measured.details;
    result.objectives = measured.objectives;
    result.log = measured.log;
    result
        .write(&args.out)
        .map_err(|e| invalid(format!("--out {}: {e}", args.out.display())))?;
    Ok(())
}

/// The node's name: Slurm's, else the kernel's.
fn host() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_default()
}

fn error(message: impl std::fmt::Display) -> Failure {
    Failure::new(FailureKind::Error, message.to_string())
}

fn arch<A: serde::de::DeserializeOwned>(spec: &TaskSpec) -> Result<A, Failure> {
    serde_json::from_value(spec.arch.clone())
        .map_err(|e| error(format!("the spec's {} architecture: {e}", spec.space)))
}

/// One spec's outcome and what else the worker learnt: a user's program's objectives and
/// log; a training's records.
fn evaluate_measured(spec: &TaskSpec) -> (Result<f64, Failure>, Measured) {
    if let Ok(WorkerTask::Command(task)) = serde_json::from_value(spec.evaluator.clone()) {
        let CommandTask {
            space,
            evaluator,
            run_dir,
            seed,
        } = *task;
        // Slurm sets the task's CUDA_VISIBLE_DEVICES itself.
        let config = CommandConfig {
            gpus: Vec::new(),
            ..evaluator.command_config(1)
        };
        let run = RunCommand {
            spec,
            config,
            run_dir: &run_dir,
            seed,
        };
        let (outcome, attempt) = space
            .with_space(run)
            .unwrap_or_else(|e| (Err(error(e)), Attempt::default()));
        let measured = Measured {
            details: serde_json::Value::Null,
            objectives: attempt.objectives,
            log: attempt.log,
        };
        return (outcome, measured);
    }
    match evaluate(spec) {
        Ok((fitness, details)) => (
            Ok(fitness),
            Measured {
                details,
                ..Measured::default()
            },
        ),
        Err(f) => (Err(f), Measured::default()),
    }
}

/// The user's program on the spec's architecture, as the next attempt in `run_dir`.
struct RunCommand<'a> {
    spec: &'a TaskSpec,
    config: CommandConfig,
    run_dir: &'a Path,
    seed: u64,
}

impl WithSpace for RunCommand<'_> {
    type Output = (Result<f64, Failure>, Attempt);
    fn run<S>(self, space: &S) -> Self::Output
    where
        S: GraphSpace + Sync,
        S::Arch: Serialize + serde::de::DeserializeOwned + Send + Sync,
    {
        let arch: S::Arch = match arch(self.spec) {
            Ok(a) => a,
            Err(f) => return (Err(f), Attempt::default()),
        };
        if self.spec.space != space.name() {
            let message = format!(
                "the spec's space {:?} is not the task's {:?}",
                self.spec.space,
                space.name()
            );
            return (Err(error(message)), Attempt::default());
        }
        match CommandEvaluator::for_task(self.config, self.run_dir, self.seed) {
            Ok(mut e) => e.evaluate_attempt(space, &arch),
            Err(e) => (Err(error(e)), Attempt::default()),
        }
    }
}

/// One spec's outcome: the fitness and what else the evaluation measured (the fold
/// trainings' records of a [`WorkerTask::Train`]; nothing for a table).
pub fn evaluate(spec: &TaskSpec) -> Result<(f64, serde_json::Value), Failure> {
    let task: WorkerTask = serde_json::from_value(spec.evaluator.clone())
        .map_err(|e| error(format!("the spec's evaluator: {e}")))?;
    match (task, spec.space.as_str()) {
        (WorkerTask::Table { dataset, column }, "nb201") => {
            let cell: Nb201Cell = arch(spec)?;
            if !matches!(column, ColumnName::Test200 | ColumnName::Valid12) {
                return Err(error(format!("nb201 has no column {}", column.name())));
            }
            let table = Nb201Table::embedded().map_err(error)?;
            let fitness = table
                .accuracy(&cell, column.nb201(dataset))
                .map_err(error)?;
            Ok((fitness, serde_json::Value::Null))
        }
        (WorkerTask::Table { dataset, column }, "nb101") => {
            if dataset != DatasetName::Cifar10 || column != ColumnName::Valid108 {
                return Err(error("nb101 has cifar10 valid108 only"));
            }
            let cell: Nb101Cell = arch(spec)?;
            let table = Nb101Table::subset20k().map_err(error)?;
            let fitness = table.value(&cell, Nb101Metric::VAL_108).map_err(error)?;
            Ok((fitness, serde_json::Value::Null))
        }
        (WorkerTask::Train(t), space @ ("nb201" | "net")) => {
            let net_arch = if space == "net" {
                arch::<NetArch>(spec)?
            } else {
                NetArch::with_entry(arch(spec)?, t.net.features)
            };
            let records = t.run(&net_arch).map_err(error)?;
            let details = serde_json::to_value(&records).map_err(error)?;
            Ok((TrainTask::fitness(&records), details))
        }
        (_, space) => Err(error(format!(
            "this worker cannot evaluate space {space:?}"
        ))),
    }
}
