//! The search's evaluator: each candidate trained on every proxy fold, here
//! ([`FoldEvaluator`]) or as a Slurm worker's task ([`slurm_task`]); each candidate's
//! trainings appended to the run directory's candidate log.

use burn::tensor::backend::AutodiffBackend;
use dcl_graph::{Evaluator, Objectives};
use dcl_train::{CandidateRecord, CellEvaluator, NetArch, NetSpace, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::folds::ProxyFold;
use crate::{EcgSearchConfig, EcgSearchError};

/// The search's evaluator: one [`CellEvaluator`] per proxy fold, the fitness their mean.
pub(crate) struct FoldEvaluator<B: AutodiffBackend> {
    folds: Vec<CellEvaluator<B>>,
    /// Every candidate trained on all folds, with its fold trainings in fold order.
    pub(crate) trained: Vec<TrainedCandidate>,
    /// Where each trained candidate is also appended, when the search has a run directory.
    pub(crate) candidate_log: Option<CandidateLog>,
}

/// A candidate's proxy trainings, fold by fold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrainedCandidate {
    pub(crate) arch: NetArch,
    pub(crate) records: Vec<CandidateRecord>,
}

/// `candidates.jsonl` of a run directory: one [`TrainedCandidate`] per line, appended and
/// synced as each candidate finishes, shared by the workers, read back on resume so that the
/// report keeps the trainings of a search that was interrupted.
#[derive(Clone)]
pub(crate) struct CandidateLog(std::sync::Arc<std::sync::Mutex<std::fs::File>>);

/// The candidate log's file name in a run directory.
pub const CANDIDATES_FILE: &str = "candidates.jsonl";

impl CandidateLog {
    pub(crate) fn open(dir: &std::path::Path) -> Result<Self, EcgSearchError> {
        let path = dir.join(CANDIDATES_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| EcgSearchError::Io(format!("{}: {e}", path.display())))?;
        Ok(Self(std::sync::Arc::new(std::sync::Mutex::new(file))))
    }

    fn append(&self, c: &TrainedCandidate) -> std::io::Result<()> {
        use std::io::Write;
        let mut line = serde_json::to_string(c).map_err(std::io::Error::other)?;
        line.push('\n');
        // Under the journal's write lock, so that a signal never cuts a line in half.
        let _writing = dcl_evo::hold_journal_writes();
        let mut f = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// The candidates a log holds (a torn last line, from a kill mid-write, left out).
    pub(crate) fn read(dir: &std::path::Path) -> Vec<TrainedCandidate> {
        std::fs::read_to_string(dir.join(CANDIDATES_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl<B: AutodiffBackend> FoldEvaluator<B> {
    /// One verbose [`CellEvaluator`] per fold of `proxy`, validating at the fold's class mix
    /// when [`EcgSearchConfig::proxy_class_mix`] is on.
    pub(crate) fn new(
        proxy: Vec<ProxyFold>,
        config: &EcgSearchConfig,
        device: &B::Device,
    ) -> Result<Self, EcgSearchError> {
        let folds = proxy
            .into_iter()
            .map(|fold| {
                let valid_class_mix = config.proxy_class_mix.then(|| fold.class_mix());
                Ok(CellEvaluator::<B>::new(
                    fold.train,
                    fold.valid,
                    config.net,
                    config.kernels,
                    TrainConfig {
                        valid_class_mix,
                        ..config.proxy_train.clone()
                    },
                    device.clone(),
                )?
                .verbose(true)
                .with_objectives(config.multiobjective.is_some()))
            })
            .collect::<Result<Vec<_>, EcgSearchError>>()?;
        Ok(Self {
            folds,
            trained: Vec::new(),
            candidate_log: None,
        })
    }

    /// Every proxy training, candidate by candidate, fold by fold.
    pub(crate) fn records(&self) -> Vec<CandidateRecord> {
        self.trained
            .iter()
            .flat_map(|c| c.records.iter().cloned())
            .collect()
    }
}

impl<B: AutodiffBackend> Evaluator<NetSpace> for FoldEvaluator<B> {
    type Error = dcl_train::TrainError;

    fn evaluate(&mut self, space: &NetSpace, arch: &NetArch) -> Result<f64, Self::Error> {
        self.evaluate_with_objectives(space, arch).map(|(f, _)| f)
    }

    /// The mean fitness over the folds, and (when the folds measure them) the network's
    /// parameters and its latency per beat averaged over the folds' trained networks.
    fn evaluate_with_objectives(
        &mut self,
        _space: &NetSpace,
        arch: &NetArch,
    ) -> Result<(f64, Objectives), Self::Error> {
        let mut records = Vec::with_capacity(self.folds.len());
        for fold in &mut self.folds {
            records.push(fold.train_arch(arch)?);
        }
        let fitness = records.iter().map(|r| r.fitness).sum::<f64>() / records.len() as f64;
        let mut objectives = Objectives::new();
        if let Some(p) = records.first().and_then(|r| r.params) {
            objectives.insert(dcl_train::PARAMS.to_owned(), p as f64);
        }
        let latencies: Vec<f64> = records.iter().filter_map(|r| r.latency_ms).collect();
        if !latencies.is_empty() {
            objectives.insert(
                dcl_train::LATENCY_MS.to_owned(),
                latencies.iter().sum::<f64>() / latencies.len() as f64,
            );
        }
        let trained = TrainedCandidate {
            arch: *arch,
            records,
        };
        if let Some(Err(e)) = self.candidate_log.as_ref().map(|log| log.append(&trained)) {
            tracing::warn!("could not append to {CANDIDATES_FILE}: {e}");
        }
        self.trained.push(trained);
        Ok((fitness, objectives))
    }
}

/// Writes the proxy folds' data under `dir/slurm/data/` (once: a resumed run reuses the
/// files) and returns the workers' task: every fold trained with the proxy settings, as
/// [`FoldEvaluator`] does here.
pub(crate) fn slurm_task(
    dir: &std::path::Path,
    proxy: &[ProxyFold],
    config: &EcgSearchConfig,
    device: &str,
) -> Result<serde_json::Value, EcgSearchError> {
    let data = dir.join("slurm").join("data");
    std::fs::create_dir_all(&data)
        .map_err(|e| EcgSearchError::Io(format!("{}: {e}", data.display())))?;
    let data = std::fs::canonicalize(&data)
        .map_err(|e| EcgSearchError::Io(format!("{}: {e}", data.display())))?;
    let mut folds = Vec::with_capacity(proxy.len());
    for (g, fold) in proxy.iter().enumerate() {
        let train = data.join(format!("fold-{g}-train.json.gz"));
        let valid = data.join(format!("fold-{g}-valid.json.gz"));
        for (path, set) in [(&train, &fold.train), (&valid, &fold.valid)] {
            if !path.exists() {
                dcl_train::write_data(path, set)
                    .map_err(|e| EcgSearchError::Io(format!("{}: {e}", path.display())))?;
            }
        }
        folds.push(dcl_train::TrainFold {
            train,
            valid,
            valid_class_mix: config.proxy_class_mix.then(|| fold.class_mix()),
        });
    }
    let task = dcl_cli::worker::WorkerTask::Train(Box::new(dcl_train::TrainTask {
        folds,
        net: config.net,
        kernels: config.kernels,
        config: config.proxy_train.clone(),
        device: device.to_owned(),
    }));
    Ok(serde_json::to_value(task).expect("a task serializes"))
}
