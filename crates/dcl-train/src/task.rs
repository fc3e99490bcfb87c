//! One candidate training as a self-contained task: data files, the network and training
//! settings, the device. A driver writes the data once ([`write_data`]) and a task per
//! candidate; a worker process elsewhere (a Slurm task) runs it ([`TrainTask::run`]).

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::{
    CandidateRecord, CellEvaluator, DeviceKind, Kernels, NetArch, NetConfig, SignalData,
    TrainConfig, TrainError,
};

/// A candidate training: one training per fold, network and training settings, device. The
/// fitness is the mean over the folds of the validation metric × 100 ([`TrainTask::fitness`]).
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
    /// A [`DeviceKind`]: `native`, `ndarray`, `flex`, `cuda` or `cuda:N`. It names the engine
    /// too ([`DeviceKind::engine`]).
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
    /// [`TrainConfig::valid_class_mix`] of this fold (`None`: as the validation set is).
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

/// Reads and validates what [`write_data`] wrote.
pub fn read_data(path: &Path) -> Result<SignalData, TrainError> {
    let at = |e: &dyn std::fmt::Display| TrainError::Data(format!("{}: {e}", path.display()));
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

impl TrainTask {
    /// Trains `arch` on each fold in turn, on the task's device and its engine: one record per
    /// fold. A device this build lacks, or one that does not answer, is an error before any
    /// data is read.
    pub fn run(&self, arch: &NetArch) -> Result<Vec<CandidateRecord>, TrainError> {
        let device: DeviceKind = self.device.parse()?;
        device.check()?;
        if self.folds.is_empty() {
            return Err(TrainError::Config(
                "a training task needs at least one fold".into(),
            ));
        }
        let mut task = self.clone();
        task.config.engine = device.engine();
        match device {
            DeviceKind::Native | DeviceKind::NdArray => {
                task.train_folds::<crate::NdArrayBackend>(arch, &Default::default())
            }
            #[cfg(feature = "flex")]
            DeviceKind::Flex => task.train_folds::<crate::FlexBackend>(arch, &Default::default()),
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda(i) => task
                .train_folds::<crate::CudaBackend>(arch, &burn::backend::cuda::CudaDevice::new(i)),
            #[allow(unreachable_patterns)]
            other => Err(TrainError::Config(format!(
                "device {other} is not compiled into this build (features flex or cuda)"
            ))),
        }
    }

    /// The task's fitness from its records: the mean of the folds' fitness.
    pub fn fitness(records: &[CandidateRecord]) -> f64 {
        records.iter().map(|r| r.fitness).sum::<f64>() / records.len().max(1) as f64
    }

    fn train_folds<B: AutodiffBackend>(
        &self,
        arch: &NetArch,
        device: &B::Device,
    ) -> Result<Vec<CandidateRecord>, TrainError> {
        self.folds
            .iter()
            .map(|fold| {
                let mut evaluator = CellEvaluator::<B>::new(
                    read_data(&fold.train)?,
                    read_data(&fold.valid)?,
                    self.net,
                    self.kernels,
                    TrainConfig {
                        valid_class_mix: fold.valid_class_mix.clone(),
                        ..self.config.clone()
                    },
                    device.clone(),
                )?;
                evaluator.train_arch(arch)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> SignalData {
        SignalData {
            length: 4,
            channels: 1,
            n_features: 1,
            n_classes: 2,
            signals: vec![0.5, -1.0, 2.0, 0.25, 1.0, 0.0, -0.5, 3.0],
            features: vec![0.1, 0.2],
            labels: vec![0, 1],
        }
    }

    #[test]
    fn data_files_round_trip_plain_and_gzipped_and_bad_ones_are_typed_errors() {
        let dir = std::env::temp_dir().join(format!("dcl-train-task-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["d.json", "d.json.gz"] {
            let path = dir.join(name);
            write_data(&path, &data()).unwrap();
            assert_eq!(read_data(&path).unwrap(), data(), "{name}");
        }
        let gz = std::fs::read(dir.join("d.json.gz")).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");

        let bad = dir.join("bad.json");
        std::fs::write(&bad, b"{\"length\": 4").unwrap();
        assert!(matches!(read_data(&bad), Err(TrainError::Data(_))));
        // Well-formed JSON whose parts disagree in size.
        let mut inconsistent = data();
        inconsistent.labels.push(1);
        let path = dir.join("inconsistent.json");
        write_data(&path, &inconsistent).unwrap();
        assert!(matches!(read_data(&path), Err(TrainError::Data(_))));
        assert!(matches!(
            read_data(&dir.join("missing.json")),
            Err(TrainError::Data(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
