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

use burn::tensor::backend::AutodiffBackend;
use clap::Args;
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Table};
use dcl_graph::{Failure, FailureKind, Nb101Cell, Nb201Cell};
use dcl_slurm::{TaskResult, TaskSpec};
use dcl_train::{
    CandidateRecord, CellEvaluator, DeviceKind, Kernels, NetArch, NetConfig, SignalData,
    TrainConfig,
};
use serde::{Deserialize, Serialize};

use crate::search::{ColumnName, DatasetName};
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
    /// Train the candidate (space `nb201`: a cell; `net`: a cell and its feature entry).
    Train(Box<TrainTask>),
}

/// A candidate training: one training per fold (data files written once by the driver),
/// network and training settings, device. The fitness is the mean over the folds of the
/// validation metric × 100, as `dcl_cli::ecg`'s proxy folds score a candidate; the result's
/// `details` hold each fold's [`CandidateRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainTask {
    /// The folds, at least one.
    pub folds: Vec<TrainFold>,
    /// The network around the cell.
    pub net: NetConfig,
    /// How the cell's 2-D operations become 1-D ones.
    pub kernels: Kernels,
    /// Epochs, optimizer, seed, ...
    pub config: TrainConfig,
    /// `cpu`, `flex`, `cuda` or `cuda:N` (on a GPU node: `gres = "gpu:1"` and `cuda`).
    pub device: String,
}

/// One fold of a [`TrainTask`]: its data files ([`SignalData`] as JSON, gzipped when the name
/// ends in `.gz`; see [`write_data`]) and the class mix its validation is scored at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainFold {
    /// Training data.
    pub train: PathBuf,
    /// Validation data.
    pub valid: PathBuf,
    /// `TrainConfig::valid_class_mix` of this fold (`None`: as the validation set is).
    #[serde(default)]
    pub valid_class_mix: Option<Vec<f64>>,
}

/// Writes `data` for workers to read: JSON, gzipped when `path` ends in `.gz`, atomically.
pub fn write_data(path: &Path, data: &SignalData) -> std::io::Result<()> {
    let json = serde_json::to_vec(data).map_err(std::io::Error::other)?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&json)?;
        gz.finish()?
    } else {
        json
    };
    dcl_graph::io::write_atomic(path, &bytes)
}

/// Runs `dcl-enas worker`: the result file is written whatever the evaluation's outcome; the
/// command fails only when it cannot write it.
pub fn run(args: &WorkerArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let outcome = match TaskSpec::read(&args.spec) {
        Ok(spec) => evaluate(&spec),
        Err(e) => Err(Failure::new(
            FailureKind::Error,
            format!("unreadable spec: {e}"),
        )),
    };
    if let Err(f) = &outcome {
        tracing::warn!("evaluation failed: {f}");
    }
    let (outcome, details) = match outcome {
        Ok((fitness, details)) => (Ok(fitness), details),
        Err(f) => (Err(f), serde_json::Value::Null),
    };
    let mut result = TaskResult::new(outcome, start.elapsed().as_secs_f64(), &host());
    result.details = details;
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
            let device: DeviceKind = t.device.parse().map_err(error)?;
            device.check().map_err(error)?;
            let net_arch = if space == "net" {
                arch::<NetArch>(spec)?
            } else {
                NetArch {
                    cell: arch(spec)?,
                    features: t.net.features,
                }
            };
            if t.folds.is_empty() {
                return Err(error("a training task needs at least one fold"));
            }
            // The device names the engine (specs written before the native engine said
            // `ndarray` for burn-ndarray, and still get it).
            let mut t = t.clone();
            t.config.engine = device.engine();
            let records = match device {
                DeviceKind::Native | DeviceKind::NdArray => {
                    train_folds::<dcl_train::NdArrayBackend>(&t, &net_arch, &Default::default())
                }
                #[cfg(feature = "flex")]
                DeviceKind::Flex => {
                    train_folds::<dcl_train::FlexBackend>(&t, &net_arch, &Default::default())
                }
                #[cfg(feature = "cuda")]
                DeviceKind::Cuda(i) => train_folds::<dcl_train::CudaBackend>(
                    &t,
                    &net_arch,
                    &burn::backend::cuda::CudaDevice::new(i),
                ),
                #[allow(unreachable_patterns)]
                other => Err(error(format!(
                    "device {other} is not compiled into this worker (build with --features flex or cuda)"
                ))),
            }?;
            let fitness = records.iter().map(|r| r.fitness).sum::<f64>() / records.len() as f64;
            let details = serde_json::to_value(&records).map_err(error)?;
            Ok((fitness, details))
        }
        (_, space) => Err(error(format!(
            "this worker cannot evaluate space {space:?}"
        ))),
    }
}

fn read_data(path: &Path) -> Result<SignalData, Failure> {
    let at = |e: &dyn std::fmt::Display| error(format!("{}: {e}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| at(&e))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| at(&e))?;
        out
    } else {
        bytes
    };
    let data: SignalData = serde_json::from_slice(&bytes).map_err(|e| at(&e))?;
    data.validate().map_err(|e| at(&e))?;
    Ok(data)
}

/// The candidate trained on each fold in turn.
fn train_folds<B: AutodiffBackend>(
    t: &TrainTask,
    arch: &NetArch,
    device: &B::Device,
) -> Result<Vec<CandidateRecord>, Failure> {
    t.folds
        .iter()
        .map(|fold| {
            let mut evaluator = CellEvaluator::<B>::new(
                read_data(&fold.train)?,
                read_data(&fold.valid)?,
                t.net,
                t.kernels,
                TrainConfig {
                    valid_class_mix: fold.valid_class_mix.clone(),
                    ..t.config.clone()
                },
                device.clone(),
            )
            .map_err(error)?;
            evaluator.train_arch(arch).map_err(error)
        })
        .collect()
}
