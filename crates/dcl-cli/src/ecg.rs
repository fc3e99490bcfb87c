//! The real-world case: DCL-ENAS over 1-D cells on MIT-BIH heartbeat classification, with every
//! queried candidate really trained, against the hand-designed Kachuee et al. (2018) network.
//!
//! [`run`] is the whole pipeline, shared by the `ecg_search` example (the full experiment) and
//! the test suite (a tiny configuration):
//!
//! 1. cut beats, inter-patient split: DS1 minus the validation patients for training, the
//!    validation patients (DS1) for model selection, DS2 for the test;
//! 2. stage 1: pre-train the predictor label-free on all 15,625 NAS-Bench-201 cells (the 1-D
//!    cell space is NAS-Bench-201's, read with 1-D operations);
//! 3. DCL-ENAS (or, to compare, random search or regularized evolution), each query a real
//!    training run on a proxy: a class-balanced DS1 subset, few epochs; the fitness is the
//!    validation balanced accuracy (or the configured metric);
//! 4. the best cell found and the baseline (its RR features entering where
//!    [`EcgSearchConfig::baseline_entry`] says) are trained by the same trainer with the same
//!    full budget, once per seed, and tested on DS2.

use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use dcl_ecg::{BeatConfig, InterPatientSplit, MitBih, extract_beats};
use dcl_evo::{
    DclEnas, DclEnasConfig, Driver, Journal, JournalHeader, MultiObjective, RandomSearch,
    RegularizedEvolution, SearchHistory, Strategy, SurrogateClock, TimedSurrogate,
};
use dcl_exec::LocalPool;
use dcl_graph::{Evaluator, Objectives, SearchSpace};
use dcl_predictor::{
    Engine, FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig,
};
use dcl_train::{
    CandidateRecord, CellEvaluator, CellNet, CellSpec, ClassMetrics, Classifier, FeatureEntry,
    InputShape, KachueeNet, Kernels, NetArch, NetConfig, NetSpace, SignalData, TrainConfig,
    evaluate, train,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::search::StrategyName;

/// The beats as the trainer's input: each beat's window (its channels one after another) as
/// a signal, its RR features as features.
pub fn signal_data(beats: dcl_ecg::BeatSet) -> SignalData {
    SignalData {
        length: beats.window,
        channels: beats.channels,
        n_features: beats.n_features,
        n_classes: beats.n_classes,
        signals: beats.signals,
        features: beats.features,
        labels: beats.labels,
    }
}

/// Everything the pipeline can be told.
#[derive(Debug, Clone)]
pub struct EcgSearchConfig {
    /// How beats are cut.
    pub beats: BeatConfig,
    /// DS1 records used for validation.
    pub valid_records: Vec<String>,
    /// Search proxy: at most this many training beats per class (class-balanced subset).
    pub proxy_train_per_class: usize,
    /// Search proxy: at most this many validation beats per class.
    pub proxy_valid_per_class: usize,
    /// Final training: at most this many training beats per class (`None`: all of them).
    pub full_train_per_class: Option<usize>,
    /// Final validation and test: at most this many beats per class (`None`: every beat, the
    /// real protocol; a cap only serves quick smoke runs).
    pub eval_per_class: Option<usize>,
    /// The skeleton around the searched cell. Its [`NetConfig::features`] is ignored: each
    /// candidate brings its own ([`EcgSearchConfig::feature_entries`]).
    pub net: NetConfig,
    /// Where the RR features may enter the searched networks: the search space is the cells
    /// with each of these ([`NetSpace`]). `[Head]` searches the cells
    /// alone, exactly as `Nb201Space`.
    pub feature_entries: Vec<FeatureEntry>,
    /// Where the RR features enter the baseline ([`KachueeNet::with_entry`]): `Head` is the
    /// network as published; `Stem` and `Logits` give it the entries a search may choose.
    pub baseline_entry: FeatureEntry,
    /// How NB201 operations become 1-D ones.
    pub kernels: Kernels,
    /// Training of each candidate during the search.
    pub proxy_train: TrainConfig,
    /// Training of the final networks (found and baseline alike).
    pub full_train: TrainConfig,
    /// The search strategy: DCL-ENAS, or random search or regularized evolution over the same
    /// space with the same budget, proxy, rescoring and final training (the comparisons).
    pub strategy: StrategyName,
    /// DCL-ENAS's settings (`strategy` DCL-ENAS).
    pub search: DclEnasConfig,
    /// Regularized evolution's settings (`strategy` RE).
    pub evolution: RegularizedEvolution,
    /// Multi-objective search, proxy fitness against the parameter count (computed exactly
    /// from the candidate's network), with these settings; `None`: fitness alone. With it,
    /// every candidate's parameters and measured inference latency per beat are journalled
    /// (the latency never measured again on replay), DCL-ENAS runs its multi-objective rounds
    /// ([`DclEnas::start_multiobjective`]), random search stays random (regularized evolution
    /// is refused), and every member of the final front is trained fully and tested.
    pub multiobjective: Option<MultiObjective>,
    /// Candidates trained during the search (true evaluations).
    pub budget: usize,
    /// Predictor model.
    pub model: ModelConfig,
    /// Stage 1.
    pub pretrain: PretrainConfig,
    /// Stage 2, at every refit.
    pub finetune: FinetuneConfig,
    /// What runs the predictor's encoder in training ([`Predictor::set_training_engine`]).
    pub training_engine: Engine,
    /// Initial-weight and batch-order seeds of the final trainings (one run per seed per network).
    pub final_seeds: Vec<u64>,
    /// Seed of the search (predictor, evolution, proxy subsets).
    pub seed: u64,
    /// Search fitness by patient folds. 0 or 1: each candidate is
    /// trained on the proxy subset of the training patients and scored on the validation
    /// patients. `k >= 2`: all DS1 patients (training and validation) are dealt into `k`
    /// groups in record order (round robin); each candidate is trained `k` times, on the proxy
    /// subset of all groups but one, scored on the held-out group, and its fitness is the mean
    /// of the `k` scores, so that it measures transfer to new patients over most of DS1 rather
    /// than over five patients. Costs `k` trainings per query (the budget counts queries).
    pub proxy_folds: usize,
    /// Ablation: every beat window (training, validation, test, proxy sets) is replaced by
    /// zeros, so the networks see the RR features alone. It measures how much the beat's
    /// shape helps, or hurts, across patients.
    pub rr_only: bool,
    /// Rescoring before the final pick (`top` 0 or `repeats` 0: none, the search's best is
    /// trained fully). A query's fitness is one proxy training per fold, and retraining the
    /// top cells with other seeds reorders them by more than the margins the search picks by;
    /// so the `top` best distinct candidates are trained again on the
    /// same proxy folds `repeats` times, with proxy training seeds `proxy_train.seed + 1`,
    /// `+ 2`, ..., and the cell with the best mean fitness (the search's training and these) is
    /// trained fully.
    pub rescore: Rescore,
    /// Proxy validation metrics at the class mix of the patients the validation beats were
    /// drawn from ([`TrainConfig::valid_class_mix`]), not at the class-balanced subsample's
    /// equal mix. Matters for a fitness that counts false positives (`proxy_train.monitor`
    /// macro-F1): on the balanced subsample a network that calls a third of the normal beats
    /// S loses a sixth of N's recall; at a DS1 fold's mix (~22,000 N, ~600 S) at most one
    /// in 12 of the beats it calls S is S. Default off.
    pub proxy_class_mix: bool,
    /// With `proxy_folds >= 2`: the F (fusion) beats are dealt into the folds by time within
    /// each patient instead of by patient (fold `g` validates on the `g`-th of `k` consecutive
    /// blocks of every DS1 patient's F beats and trains on the other blocks); N, S and V stay
    /// patient-held-out. Nearly all of DS1's F beats are record 208's, so with patient folds one
    /// fold trains on a dozen F beats and the other validates on a dozen, and the F term of the
    /// fitness is ~0 for every cell. Default off.
    pub f_within_patients: bool,
}

impl EcgSearchConfig {
    /// Checks everything before any work (before the beats are cut, stage 1, hours of
    /// search): the budget, the final seeds, the per-class caps, the skeleton, every training,
    /// the search, stage 1 and stage 2, the feature entries.
    pub fn validate(&self) -> Result<(), EcgSearchError> {
        let config = |what: &str| EcgSearchError::Config(what.to_string());
        if self.budget == 0 {
            return Err(config("the budget must be positive"));
        }
        if self.final_seeds.is_empty() {
            return Err(config("final_seeds must name at least one seed"));
        }
        if self.proxy_train_per_class == 0 || self.proxy_valid_per_class == 0 {
            return Err(config(
                "proxy_train_per_class and proxy_valid_per_class must be positive",
            ));
        }
        if self.full_train_per_class == Some(0) || self.eval_per_class == Some(0) {
            return Err(config(
                "full_train_per_class and eval_per_class must be positive",
            ));
        }
        if self.feature_entries.is_empty() {
            return Err(config("feature_entries must name at least one entry"));
        }
        self.net.validate()?;
        self.proxy_train.validate()?;
        self.full_train.validate()?;
        match self.strategy {
            StrategyName::DclEnas => {
                DclEnas::new(self.search.clone()).validate()?;
                if self.search.initial < 2 {
                    return Err(config(
                        "search.initial must be at least 2: the predictor fine-tunes on pairs",
                    ));
                }
            }
            StrategyName::Re => self.evolution.validate()?,
            StrategyName::Random => {}
        }
        if let Some(mo) = &self.multiobjective {
            mo.validate()?;
            if self.strategy == StrategyName::Re {
                return Err(config(
                    "regularized evolution searches one objective: a multi-objective search takes dcl-enas or random",
                ));
            }
        }
        self.pretrain.validate()?;
        self.finetune.validate()?;
        Ok(())
    }
}

/// How many of the search's best cells are retrained before the final pick, and how often;
/// see [`EcgSearchConfig::rescore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rescore {
    /// The best distinct candidates (by search fitness) retrained.
    pub top: usize,
    /// Extra proxy trainings (each over all folds) per retrained candidate.
    pub repeats: usize,
}

impl Rescore {
    /// Whether any cell is retrained (`top` and `repeats` both positive).
    pub fn is_on(&self) -> bool {
        self.top > 0 && self.repeats > 0
    }

    /// The proxy training seed of repeat `r` (0-based), given the search's `base` seed.
    pub fn seed(base: u64, r: usize) -> u64 {
        base.wrapping_add(r as u64 + 1)
    }
}

/// A candidate retrained before the final pick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoredCell {
    /// The candidate.
    pub cell: NetArch,
    /// Its fitness: the search's first, then one per repeat (seeds of [`Rescore::seed`]).
    pub fitness: Vec<f64>,
    /// Mean of `fitness`, by which the final cell is chosen.
    pub mean: f64,
    /// The retrainings, repeat by repeat, fold by fold (validation metrics per class, epochs).
    #[serde(default)]
    pub records: Vec<CandidateRecord>,
}

/// One final training run, tested on DS2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalRun {
    /// Seed of the run.
    pub seed: u64,
    /// Validation metrics of the selected epoch.
    pub valid: ClassMetrics,
    /// DS2 test metrics.
    pub test: ClassMetrics,
    /// Selected epoch.
    pub best_epoch: usize,
    /// Wall time of the training.
    pub seconds: f64,
    /// Measured inference latency per beat in milliseconds ([`dcl_train::latency_ms`]), in a
    /// multi-objective search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// A member of a multi-objective search's front, trained fully and tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontMember {
    /// The candidate.
    pub cell: NetArch,
    /// Its search (proxy) fitness.
    pub fitness: f64,
    /// Its parameter count.
    pub params: u64,
    /// Its inference latency per beat measured during the search (mean over the proxy folds'
    /// trained networks), in milliseconds, as journalled.
    pub latency_ms: Option<f64>,
    /// Its final runs (DS2 test).
    pub runs: Vec<FinalRun>,
}

/// What [`run`] returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EcgSearchReport {
    /// Beats per class: training, validation, test.
    pub class_counts: [Vec<usize>; 3],
    /// The search's query history.
    pub history: SearchHistory<NetArch>,
    /// Every proxy training of the search, in query order: one per candidate, or with
    /// [`EcgSearchConfig::proxy_folds`] `k >= 2` one per candidate and fold (fold by fold).
    pub candidates: Vec<CandidateRecord>,
    /// The strategy that searched (`dcl-enas`, `random`, `regularized-evolution`).
    #[serde(default = "dcl_enas_name")]
    pub strategy: String,
    /// The cell chosen: best fitness on the proxy, or with [`EcgSearchConfig::rescore`] best
    /// mean fitness among the rescored cells.
    pub best_cell: NetArch,
    /// The rescored cells in the search's fitness order (empty without rescoring).
    #[serde(default)]
    pub rescored: Vec<RescoredCell>,
    /// Seconds of the rescoring trainings (included in `search_seconds`).
    #[serde(default)]
    pub rescore_seconds: f64,
    /// Seconds of stage-1 pre-training.
    pub pretrain_seconds: f64,
    /// Seconds of the whole search (pre-training excluded).
    pub search_seconds: f64,
    /// Parameters of the baseline and of the found network.
    pub params: [usize; 2],
    /// Where the RR features enter the baseline.
    #[serde(default)]
    pub baseline_entry: FeatureEntry,
    /// Final runs of the baseline.
    pub baseline: Vec<FinalRun>,
    /// Final runs of the found network.
    pub found: Vec<FinalRun>,
    /// A multi-objective search's front (proxy fitness against parameters), by increasing
    /// parameters, each member trained fully; empty for a single-objective search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub front: Vec<FrontMember>,
    /// Wall time of everything.
    pub seconds: f64,
}

fn dcl_enas_name() -> String {
    "dcl-enas".into()
}

/// Timed single-beat passes per latency measurement of a final network.
const LATENCY_REPEATS: usize = 21;

/// Why the pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum EcgSearchError {
    /// Reading the data failed.
    #[error(transparent)]
    Ecg(#[from] dcl_ecg::EcgError),
    /// Building or training a network failed.
    #[error(transparent)]
    Train(#[from] dcl_train::TrainError),
    /// The predictor failed.
    #[error(transparent)]
    Predictor(#[from] dcl_predictor::PredictorError),
    /// The search failed.
    #[error(transparent)]
    Search(#[from] dcl_evo::SearchError),
    /// A configuration that cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Starting the local workers failed.
    #[error(transparent)]
    Exec(#[from] dcl_exec::ExecError),
    /// Reading or writing the run directory failed.
    #[error("run directory: {0}")]
    Io(String),
    /// Slurm refused or failed.
    #[error(transparent)]
    Slurm(#[from] dcl_slurm::SlurmError),
}

fn final_runs<B, M>(
    build: &dyn Fn(u64) -> Result<M, dcl_train::TrainError>,
    data: [&SignalData; 3],
    config: &EcgSearchConfig,
    device: &B::Device,
    name: &str,
) -> Result<Vec<FinalRun>, EcgSearchError>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    final_runs_timed::<B, M>(build, data, config, device, name, false)
}

/// [`final_runs`], measuring each trained network's latency per beat when `timed`.
fn final_runs_timed<B, M>(
    build: &dyn Fn(u64) -> Result<M, dcl_train::TrainError>,
    data: [&SignalData; 3],
    config: &EcgSearchConfig,
    device: &B::Device,
    name: &str,
    timed: bool,
) -> Result<Vec<FinalRun>, EcgSearchError>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    let [tr, va, te] = data;
    let mut runs = Vec::new();
    for &seed in &config.final_seeds {
        let train_config = TrainConfig {
            seed,
            ..config.full_train.clone()
        };
        let trained = train(build(seed)?, tr, va, &train_config, device, &mut |e| {
            tracing::info!(
                "    {name} seed {seed} epoch {:>3}: loss {:.4} valid {:.4} ({:.0} s)",
                e.epoch,
                e.loss,
                e.valid_score,
                e.seconds
            )
        })?;
        // Tested and timed on the engine that trained it.
        let engine = trained.report.engine;
        let test = evaluate(&trained.model, te, 512, device, engine)?;
        tracing::info!(
            "  {name} seed {seed}: test acc {:.4} balanced {:.4} macro-F1 {:.4} (epoch {}, {:.0} s)",
            test.accuracy,
            test.balanced_accuracy,
            test.macro_f1,
            trained.report.best_epoch,
            trained.report.seconds
        );
        let latency_ms = if timed {
            Some(dcl_train::latency_ms(
                &trained.model,
                te,
                LATENCY_REPEATS,
                device,
                engine,
            )?)
        } else {
            None
        };
        runs.push(FinalRun {
            seed,
            valid: trained.report.valid,
            test,
            best_epoch: trained.report.best_epoch,
            seconds: trained.report.seconds,
            latency_ms,
        });
    }
    Ok(runs)
}

/// The search's evaluator: one [`CellEvaluator`] per proxy fold, the fitness their mean.
struct FoldEvaluator<B: AutodiffBackend> {
    folds: Vec<CellEvaluator<B>>,
    /// Every candidate trained on all folds, with its fold trainings in fold order.
    trained: Vec<TrainedCandidate>,
    /// Where each trained candidate is also appended, when the search has a run directory.
    candidate_log: Option<CandidateLog>,
}

/// A candidate's proxy trainings, fold by fold.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainedCandidate {
    arch: NetArch,
    records: Vec<CandidateRecord>,
}

/// `candidates.jsonl` of a run directory: one [`TrainedCandidate`] per line, appended and
/// synced as each candidate finishes, shared by the workers, read back on resume so that the
/// report keeps the trainings of a search that was interrupted.
#[derive(Clone)]
struct CandidateLog(std::sync::Arc<std::sync::Mutex<std::fs::File>>);

/// The candidate log's file name in a run directory.
pub const CANDIDATES_FILE: &str = "candidates.jsonl";

impl CandidateLog {
    fn open(dir: &std::path::Path) -> Result<Self, EcgSearchError> {
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
    fn read(dir: &std::path::Path) -> Vec<TrainedCandidate> {
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
    fn new(
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
    fn records(&self) -> Vec<CandidateRecord> {
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

/// How the search's evaluations are run and kept: batches, local workers, retries, and the run
/// directory whose journal makes the search resumable. The default: one candidate at a time,
/// in this thread, nothing written.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Candidates asked and trained together.
    pub batch_size: usize,
    /// Worker threads training candidates at once (1: in the calling thread).
    pub workers: usize,
    /// Rayon threads of each worker (with `workers > 1`).
    pub threads_per_worker: usize,
    /// Attempts per candidate before it is recorded as failed.
    pub max_attempts: u32,
    /// Run directory: `journal.jsonl` (every evaluation), `candidates.jsonl` (every proxy
    /// training), `history.json` once the search ends. `None`: nothing is written.
    pub run_dir: Option<std::path::PathBuf>,
    /// Resume the run in `run_dir` instead of starting one (a directory that already holds a
    /// journal is refused otherwise).
    pub resume: bool,
    /// Train the search's candidates as Slurm job arrays instead of here (rescoring and the
    /// final trainings stay in this process). Needs `run_dir`.
    pub slurm: Option<SlurmTraining>,
}

/// The search's proxy trainings on Slurm: each batch one job array whose tasks run
/// `dcl-enas worker` on every proxy fold (data written once to `RUN_DIR/slurm/data/`).
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmTraining {
    /// How the jobs are submitted.
    pub config: dcl_slurm::SlurmConfig,
    /// The workers' device (`cpu`, `flex`, `cuda`, `cuda:N`).
    pub device: String,
}

impl Default for Execution {
    fn default() -> Self {
        Self {
            batch_size: 1,
            workers: 1,
            threads_per_worker: 1,
            max_attempts: 1,
            run_dir: None,
            resume: false,
            slurm: None,
        }
    }
}

impl Execution {
    /// Checks the settings before any work: positive sizes, and a run directory to resume.
    pub fn validate(&self) -> Result<(), EcgSearchError> {
        if self.batch_size == 0 || self.workers == 0 || self.threads_per_worker == 0 {
            return Err(EcgSearchError::Config(
                "batch_size, workers and threads_per_worker must be positive".into(),
            ));
        }
        if self.max_attempts == 0 {
            return Err(EcgSearchError::Config(
                "max_attempts must be positive".into(),
            ));
        }
        if self.resume && self.run_dir.is_none() {
            return Err(EcgSearchError::Config(
                "resuming needs the run directory".into(),
            ));
        }
        if let Some(s) = &self.slurm {
            s.config.validate()?;
            if self.run_dir.is_none() {
                return Err(EcgSearchError::Config(
                    "Slurm tasks need a run directory for their files".into(),
                ));
            }
            if self.workers > 1 {
                return Err(EcgSearchError::Config(
                    "workers are the local executor's; on Slurm the batch size says how many \
                     candidates train at once"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// Writes the proxy folds' data under `dir/slurm/data/` (once: a resumed run reuses the
/// files) and returns the workers' task: every fold trained with the proxy settings, as
/// [`FoldEvaluator`] does here.
fn slurm_task(
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
    let task = crate::worker::WorkerTask::Train(Box::new(dcl_train::TrainTask {
        folds,
        net: config.net,
        kernels: config.kernels,
        config: config.proxy_train.clone(),
        device: device.to_owned(),
    }));
    Ok(serde_json::to_value(task).expect("a task serializes"))
}

/// What decides the search's asks and outcomes, as the journal header's settings: a journal is
/// resumed only by a run whose settings are the same. The final trainings and the rescoring
/// come after the search and may change between a run and its resumption.
fn search_settings(config: &EcgSearchConfig) -> serde_json::Value {
    let mut settings = serde_json::json!({
        "beats": config.beats,
        "valid_records": config.valid_records,
        "proxy_train_per_class": config.proxy_train_per_class,
        "proxy_valid_per_class": config.proxy_valid_per_class,
        "net": config.net,
        "feature_entries": config.feature_entries,
        "kernels": config.kernels,
        "proxy_train": config.proxy_train,
        "model": config.model,
        "pretrain": config.pretrain,
        "finetune": config.finetune,
        "proxy_folds": config.proxy_folds,
        "rr_only": config.rr_only,
        "proxy_class_mix": config.proxy_class_mix,
        "f_within_patients": config.f_within_patients,
        "training_engine": config.training_engine,
    });
    // Only a multi-objective search names it, so that earlier journals still resume.
    if let Some(mo) = &config.multiobjective {
        settings["multiobjective"] = serde_json::json!(mo);
    }
    settings
}

/// [`crate::run_dir::upgrade_header`], and `beats` read from the text form headers gave it
/// before it was recorded as a table: a header whose `beats` is the text of this run's
/// `beats` reads as them.
fn upgrade_header(header: &mut JournalHeader, beats: &BeatConfig) {
    crate::run_dir::upgrade_header(header);
    if let Some(found) = header.settings.get_mut("beats")
        && found.as_str() == Some(format!("{beats:?}").as_str())
    {
        *found = serde_json::json!(beats);
    }
}

/// One proxy fold: training and validation beats, both class-balanced subsamples.
#[derive(Clone)]
struct ProxyFold {
    train: SignalData,
    valid: SignalData,
    /// Beats per class of the population `valid` was drawn from.
    population: Vec<usize>,
}

impl ProxyFold {
    /// A fold whose validation set is `valid` subsampled to `per_class` beats per class.
    fn new(train: SignalData, valid: dcl_ecg::BeatSet, per_class: usize, seed: u64) -> Self {
        let population = valid.class_counts();
        Self {
            train,
            valid: signal_data(valid.balanced_subsample(per_class, seed)),
            population,
        }
    }

    /// Weight of each validation beat by class: population / sample (1 for a class the sample
    /// lacks, whose weight nothing multiplies).
    fn class_mix(&self) -> Vec<f64> {
        let sample = self.valid.class_counts();
        sample
            .iter()
            .zip(&self.population)
            .map(|(&s, &p)| if s == 0 { 1.0 } else { p as f64 / s as f64 })
            .collect()
    }
}

/// The data of one pipeline run.
struct Prepared {
    train: SignalData,
    valid: SignalData,
    test: SignalData,
    /// The proxy folds: one unless `proxy_folds >= 2`.
    proxy: Vec<ProxyFold>,
    class_counts: [Vec<usize>; 3],
    shape: InputShape,
}

fn prepare(db: &MitBih, config: &EcgSearchConfig) -> Result<Prepared, EcgSearchError> {
    config.validate()?;
    let valid_records: Vec<&str> = config.valid_records.iter().map(String::as_str).collect();
    let split = InterPatientSplit::new(db, &config.beats, &valid_records)?;
    let full_train = match config.full_train_per_class {
        Some(k) => split.train.balanced_subsample(k, config.seed),
        None => split.train.clone(),
    };
    if config.f_within_patients && config.proxy_folds < 2 {
        return Err(EcgSearchError::Config(
            "dealing F beats within patients needs at least 2 proxy folds".into(),
        ));
    }
    let mut proxy: Vec<ProxyFold> = if config.proxy_folds >= 2 {
        proxy_folds(db, config)?
    } else {
        vec![ProxyFold::new(
            signal_data(
                split
                    .train
                    .balanced_subsample(config.proxy_train_per_class, config.seed),
            ),
            split.valid.clone(),
            config.proxy_valid_per_class,
            config.seed,
        )]
    };
    let class_counts = [
        full_train.class_counts(),
        split.valid.class_counts(),
        split.test.class_counts(),
    ];
    tracing::info!(
        "data: train {:?} valid {:?} test {:?} (N, S, V, F); proxy train {:?} valid {:?}",
        class_counts[0],
        class_counts[1],
        class_counts[2],
        proxy[0].train.class_counts(),
        proxy[0].valid.class_counts()
    );
    for (i, fold) in proxy.iter().enumerate() {
        if i > 0 {
            tracing::info!(
                "proxy fold {}: train {:?} valid {:?}",
                i + 1,
                fold.train.class_counts(),
                fold.valid.class_counts()
            );
        }
        if config.proxy_class_mix {
            tracing::info!(
                "proxy fold {}: validation at the class mix {:?}",
                i + 1,
                fold.population
            );
        }
    }
    let cap = |set: dcl_ecg::BeatSet| match config.eval_per_class {
        Some(k) => set.balanced_subsample(k, config.seed),
        None => set,
    };
    let mut sets: [SignalData; 3] = [
        signal_data(full_train),
        signal_data(cap(split.valid)),
        signal_data(cap(split.test)),
    ];
    if config.rr_only {
        let proxy_sets = proxy.iter_mut().flat_map(|f| [&mut f.train, &mut f.valid]);
        for set in sets.iter_mut().chain(proxy_sets) {
            set.signals.fill(0.0);
        }
    }
    let [train, valid, test] = sets;
    let shape = InputShape::of(&train);
    Ok(Prepared {
        train,
        valid,
        test,
        proxy,
        class_counts,
        shape,
    })
}

/// The proxy folds of [`EcgSearchConfig::proxy_folds`]: DS1's patients dealt round robin in
/// record order into `k` groups; fold `g` trains on the others, validates on group `g`. With
/// [`EcgSearchConfig::f_within_patients`], F beats go by [`f_blocks`] instead.
fn proxy_folds(db: &MitBih, config: &EcgSearchConfig) -> Result<Vec<ProxyFold>, EcgSearchError> {
    let k = config.proxy_folds;
    let ds1 = db.records_in(dcl_ecg::Split::Ds1);
    if ds1.len() < k {
        return Err(EcgSearchError::Config(format!(
            "{k} proxy folds but only {} DS1 patients",
            ds1.len()
        )));
    }
    let groups = patient_groups(&ds1, k);
    // One extraction, groups in order: fold g's training beats are the other groups' beats in
    // group order, exactly what extracting those records would give, without re-reading them.
    let all = extract_beats(db, &groups.concat(), &config.beats)?;
    let f = dcl_ecg::AamiClass::F.index();
    let blocks = config.f_within_patients.then(|| f_blocks(&all, f, k));
    Ok(groups
        .iter()
        .enumerate()
        .map(|(g, held)| {
            let (valid, train) = fold_split(&all, held, blocks.as_deref(), f, g);
            let train = all
                .subset(&train)
                .balanced_subsample(config.proxy_train_per_class, config.seed);
            ProxyFold::new(
                signal_data(train),
                all.subset(&valid),
                config.proxy_valid_per_class,
                config.seed,
            )
        })
        .collect())
}

/// Fold `g`'s (validation, training) beat positions in `all`: the beats of the patients `held`
/// validate, the others train; with `blocks` ([`f_blocks`]), beats of class `f` go by their
/// block instead.
fn fold_split(
    all: &dcl_ecg::BeatSet,
    held: &[&str],
    blocks: Option<&[usize]>,
    f: usize,
    g: usize,
) -> (Vec<usize>, Vec<usize>) {
    (0..all.len()).partition(|&i| match blocks {
        Some(b) if all.labels[i] as usize == f => b[i] == g,
        _ => held.contains(&all.records[i].as_str()),
    })
}

/// For each beat of `beats`, its block `0..k` if it is of class `class`: every record's beats
/// of that class, in the order they come (time order within a record), cut into `k`
/// consecutive blocks as equal as can be (`j`-th of `n` goes to block `j * k / n`), so that
/// every block holds a share of every patient's beats and neighbouring beats mostly share a
/// block. Beats of other classes get `usize::MAX`.
fn f_blocks(beats: &dcl_ecg::BeatSet, class: usize, k: usize) -> Vec<usize> {
    let mut per_record: std::collections::HashMap<&str, usize> = Default::default();
    for (label, record) in beats.labels.iter().zip(&beats.records) {
        if *label as usize == class {
            *per_record.entry(record).or_default() += 1;
        }
    }
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    beats
        .labels
        .iter()
        .zip(&beats.records)
        .map(|(label, record)| {
            if *label as usize != class {
                return usize::MAX;
            }
            let j = seen.entry(record).or_default();
            let block = *j * k / per_record[record.as_str()];
            *j += 1;
            block
        })
        .collect()
}

/// Deals `records` (sorted by record number) round robin into `k` groups.
fn patient_groups<'a>(records: &[&'a str], k: usize) -> Vec<Vec<&'a str>> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| (r.parse::<u32>().unwrap_or(u32::MAX), r.to_string()));
    let mut groups = vec![Vec::new(); k];
    for (i, r) in sorted.into_iter().enumerate() {
        groups[i % k].push(r);
    }
    groups
}

/// Only the hand-designed baseline's final trainings (no search): a quick check of data and
/// trainer settings, with the same data and budget as [`run`] gives it.
pub fn run_baseline<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    device: &B::Device,
) -> Result<Vec<FinalRun>, EcgSearchError> {
    let p = prepare(db, config)?;
    let shape = p.shape;
    final_runs::<B, _>(
        &|seed| KachueeNet::<B>::with_entry(shape, config.baseline_entry, seed, device),
        [&p.train, &p.valid, &p.test],
        config,
        device,
        "baseline",
    )
}

/// Only the final trainings of a given cell (no search), with the data, trainer and budget
/// [`run`] gives the found cell: to retrain a cell a search found under other final-training
/// settings, or to train a cell of one's own choosing.
pub fn run_cell<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    cell: &NetArch,
    device: &B::Device,
) -> Result<Vec<FinalRun>, EcgSearchError> {
    let p = prepare(db, config)?;
    let shape = p.shape;
    let spec = CellSpec::from_nb201(&cell.cell, config.kernels);
    let net = net_of(config, cell);
    final_runs::<B, _>(
        &|seed| CellNet::<B>::new(&spec, &net, shape, seed, device),
        [&p.train, &p.valid, &p.test],
        config,
        device,
        "cell",
    )
}

/// Only the search's fitness of the given cells (no search, no final trainings): each cell
/// trained on the proxy, fold by fold, exactly as a query of [`run`] with this configuration
/// trains it. With another `proxy_train.seed` and the same `seed` (same data), it measures how
/// much of a fitness difference is the proxy training's noise.
pub fn proxy_fitness<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    cells: &[NetArch],
    device: &B::Device,
) -> Result<Vec<f64>, EcgSearchError> {
    let p = prepare(db, config)?;
    let (fitness, _) = fold_fitness::<B>(p.proxy, config, cells, device, &mut |f, cell| {
        tracing::info!("proxy fitness {f:.2} {cell}")
    })?;
    Ok(fitness)
}

/// Each cell trained on the `proxy` folds with `config`'s proxy training, as a query of [`run`]
/// is; `each` sees every fitness as it comes. Returns the fitness of each cell and every
/// training's record (cell by cell, fold by fold).
fn fold_fitness<B: AutodiffBackend>(
    proxy: Vec<ProxyFold>,
    config: &EcgSearchConfig,
    cells: &[NetArch],
    device: &B::Device,
    each: &mut dyn FnMut(f64, &NetArch),
) -> Result<(Vec<f64>, Vec<CandidateRecord>), EcgSearchError> {
    let mut evaluator = FoldEvaluator::<B>::new(proxy, config, device)?;
    let space = NetSpace::new(config.feature_entries.clone())?;
    let mut fitness = Vec::with_capacity(cells.len());
    for cell in cells {
        let f = evaluator.evaluate(&space, cell)?;
        each(f, cell);
        fitness.push(f);
    }
    Ok((fitness, evaluator.records()))
}

/// The [`EcgSearchConfig::rescore`] step: the best distinct cells of `history` (search fitness
/// order, the earliest among equals) retrained on the `proxy` folds with each repeat's seed.
fn rescore<B: AutodiffBackend>(
    history: &SearchHistory<NetArch>,
    proxy: Vec<ProxyFold>,
    config: &EcgSearchConfig,
    device: &B::Device,
) -> Result<Vec<RescoredCell>, EcgSearchError> {
    if !config.rescore.is_on() {
        return Ok(Vec::new());
    }
    let Rescore { top, repeats } = config.rescore;
    // NaN last; the sort is stable, so equals keep query order.
    let key = |f: f64| if f.is_nan() { f64::NEG_INFINITY } else { f };
    let mut ranked: Vec<_> = history.queries.iter().collect();
    ranked.sort_by(|a, b| key(b.fitness).total_cmp(&key(a.fitness)));
    let mut seen = std::collections::HashSet::new();
    let mut cells: Vec<RescoredCell> = ranked
        .into_iter()
        .filter(|q| seen.insert(q.arch))
        .take(top)
        .map(|q| RescoredCell {
            cell: q.arch,
            fitness: vec![q.fitness],
            mean: f64::NAN,
            records: Vec::new(),
        })
        .collect();
    let chosen: Vec<NetArch> = cells.iter().map(|c| c.cell).collect();
    for r in 0..repeats {
        let seed = Rescore::seed(config.proxy_train.seed, r);
        let repeat = EcgSearchConfig {
            proxy_train: TrainConfig {
                seed,
                ..config.proxy_train.clone()
            },
            ..config.clone()
        };
        let (fitness, records) =
            fold_fitness::<B>(proxy.clone(), &repeat, &chosen, device, &mut |f, cell| {
                tracing::info!(
                    "rescore {}/{repeats} (proxy training seed {seed}): {f:.2} {cell}",
                    r + 1
                )
            })?;
        let folds = proxy.len();
        for ((c, f), trainings) in cells.iter_mut().zip(fitness).zip(records.chunks(folds)) {
            c.fitness.push(f);
            c.records.extend_from_slice(trainings);
        }
    }
    for c in &mut cells {
        c.mean = c.fitness.iter().sum::<f64>() / c.fitness.len() as f64;
        tracing::info!(
            "rescored {} mean {:.2} over {:.2?}",
            c.cell,
            c.mean,
            c.fitness
        );
    }
    Ok(cells)
}

/// The skeleton of `arch`'s network: `config.net` with the candidate's feature entry.
fn net_of(config: &EcgSearchConfig, arch: &NetArch) -> NetConfig {
    NetConfig {
        features: arch.features,
        ..config.net
    }
}

/// Runs the whole pipeline on `db` with backend `B`, one candidate at a time and nothing
/// written ([`Execution::default`]), reporting progress as `tracing` events.
pub fn run<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    device: &B::Device,
) -> Result<EcgSearchReport, EcgSearchError> {
    run_with::<B>(db, config, &Execution::default(), device)
}

/// Runs the whole pipeline on `db` with backend `B`, the search's trainings run and kept as
/// `execution` says (batches, workers, a resumable run directory).
pub fn run_with<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    execution: &Execution,
    device: &B::Device,
) -> Result<EcgSearchReport, EcgSearchError> {
    let start = Instant::now();
    config.validate()?;
    execution.validate()?;
    if config.multiobjective.is_some() && execution.slurm.is_some() {
        // The workers' result files carry the fitness, not the measured latency.
        return Err(EcgSearchError::Config(
            "a multi-objective search trains its candidates here, not on Slurm (the Slurm tasks do not report the latency they would measure)".into(),
        ));
    }
    let driver = Driver {
        budget: config.budget,
        batch_size: execution.batch_size,
        max_attempts: execution.max_attempts,
        count_failures: true,
    };
    let (strategy_name, strategy_config) = match (
        config.strategy.journal(&config.evolution, &config.search),
        &config.multiobjective,
    ) {
        (("dcl-enas", settings), Some(_)) => ("dcl-enas-mo", settings),
        (journal, _) => journal,
    };
    let header = JournalHeader::new(
        strategy_name,
        &strategy_config,
        "netspace",
        config.seed,
        driver,
    )
    .with_settings(&search_settings(config));
    let space = NetSpace::new(config.feature_entries.clone())?;
    // The journal is opened (or refused) before hours of work, not after.
    let mut journal = match &execution.run_dir {
        Some(dir) if execution.resume => {
            let j = Journal::resume_upgrading(dir, header, &space, |h| {
                upgrade_header(h, &config.beats)
            })
            .map_err(dcl_evo::SearchError::from)?;
            tracing::info!(
                "resuming {}: {} journalled trainings are read back, not retrained{}",
                dir.display(),
                j.records().len(),
                if j.dropped_torn_line() {
                    " (a torn last line, cut by the kill, was dropped)"
                } else {
                    ""
                }
            );
            Some(j)
        }
        Some(dir) => Some(Journal::create(dir, header).map_err(dcl_evo::SearchError::from)?),
        None => None,
    };
    let Prepared {
        train: tr,
        valid: va,
        test: te,
        proxy,
        class_counts,
        shape,
    } = prepare(db, config)?;

    // A candidate's parameter count, exact: its network built (not trained), counted once.
    let param_counts = std::sync::Mutex::new(std::collections::HashMap::new());
    let params_of = |arch: &NetArch| -> f64 {
        let mut counts = param_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(*arch).or_insert_with(|| {
            let spec = CellSpec::from_nb201(&arch.cell, config.kernels);
            CellNet::<B>::new(&spec, &net_of(config, arch), shape, 0, device)
                .map_or(f64::NAN, |n| n.num_params() as f64)
        })
    };
    let rng = ChaCha8Rng::seed_from_u64(config.seed);
    let t = Instant::now();
    // Time spent refitting and scoring with the predictor, when the strategy has one.
    let mut surrogate_clock = None;
    let mut strategy: Box<dyn Strategy<NetSpace> + '_> = match config.strategy {
        StrategyName::Random => Box::new(RandomSearch.start(&space, rng)),
        StrategyName::Re => Box::new(config.evolution.start(&space, rng)?),
        StrategyName::DclEnas => {
            // Stage 1 over the whole cell space, label-free.
            let cells = space.enumerate().ok_or_else(|| {
                EcgSearchError::Config("the cell space cannot be enumerated".into())
            })?;
            let mut predictor: Predictor = Predictor::new(&space, config.model, config.seed)?;
            predictor.set_training_engine(config.training_engine);
            let pre = predictor.pretrain(&space, &cells, &config.pretrain)?;
            tracing::info!(
                "stage 1: {} cells, {} steps, InfoNCE {:.3}, {:.1} s",
                cells.len(),
                pre.steps,
                pre.final_loss,
                t.elapsed().as_secs_f64()
            );
            let (surrogate, clock) = TimedSurrogate::new(PredictorSurrogate::new(
                predictor,
                config.finetune.clone(),
                config.seed,
            ));
            surrogate_clock = Some(clock);
            let search = DclEnas::new(config.search.clone());
            match config.multiobjective {
                Some(mo) => Box::new(search.start_multiobjective(
                    &space,
                    surrogate,
                    |a: &NetArch| params_of(a),
                    mo,
                    rng,
                )?),
                None => Box::new(search.start(&space, surrogate, rng)?),
            }
        }
    };
    let pretrain_seconds = t.elapsed().as_secs_f64();

    // The search: every query trains a candidate on the proxy.
    let t = Instant::now();
    // Rescoring trains on the same folds again.
    let rescore_proxy = if config.rescore.is_on() {
        proxy.clone()
    } else {
        Vec::new()
    };
    let (history, trained) = match (&execution.slurm, &execution.run_dir) {
        (Some(slurm), Some(dir)) => {
            let task = slurm_task(dir, &proxy, config, &slurm.device)?;
            drop(proxy);
            let mut executor = crate::search::slurm_executor(&slurm.config, dir, "net", task)?;
            let h = driver.run(
                strategy.as_mut(),
                &space,
                &mut executor,
                journal.as_mut(),
                &mut |_| {},
            )?;
            // The fold trainings of every candidate a task trained, from its result file.
            let trained = executor
                .results()
                .into_iter()
                .filter_map(|(spec, result)| {
                    Some(TrainedCandidate {
                        arch: serde_json::from_value(spec.arch).ok()?,
                        records: serde_json::from_value(result.details).ok()?,
                    })
                })
                .collect();
            (h, trained)
        }
        _ => {
            let candidate_log = match &execution.run_dir {
                Some(dir) => Some(CandidateLog::open(dir)?),
                None => None,
            };
            let workers = (0..execution.workers)
                .map(|_| {
                    let mut e = FoldEvaluator::<B>::new(proxy.clone(), config, device)?;
                    e.candidate_log = candidate_log.clone();
                    Ok(e)
                })
                .collect::<Result<Vec<_>, EcgSearchError>>()?;
            drop(proxy);
            if execution.workers == 1 {
                let mut evaluator = workers.into_iter().next().expect("one worker");
                let h = driver.run(
                    strategy.as_mut(),
                    &space,
                    &mut evaluator,
                    journal.as_mut(),
                    &mut |_| {},
                )?;
                (h, evaluator.trained)
            } else {
                let mut pool = LocalPool::new(workers, execution.threads_per_worker)?;
                let h = driver.run(
                    strategy.as_mut(),
                    &space,
                    &mut pool,
                    journal.as_mut(),
                    &mut |_| {},
                )?;
                let trained = pool
                    .into_evaluators()
                    .into_iter()
                    .flat_map(|e| e.trained)
                    .collect();
                (h, trained)
            }
        }
    };
    // Every candidate's trainings in query order: this process's, and on a resumed run those
    // of the earlier processes, read back from the run directory.
    let mut by_arch: std::collections::HashMap<NetArch, Vec<CandidateRecord>> =
        std::collections::HashMap::new();
    if let Some(dir) = &execution.run_dir {
        for c in CandidateLog::read(dir) {
            by_arch.insert(c.arch, c.records);
        }
    }
    for c in trained {
        by_arch.insert(c.arch, c.records);
    }
    let candidates: Vec<CandidateRecord> = history
        .queries
        .iter()
        .filter_map(|q| by_arch.get(&q.arch))
        .flat_map(|r| r.iter().cloned())
        .collect();
    if let Some(dir) = &execution.run_dir {
        history
            .save_json(dir.join("history.json"))
            .map_err(|e| EcgSearchError::Io(e.to_string()))?;
    }
    let best = history
        .best()
        .ok_or_else(|| EcgSearchError::Config("the search made no query".into()))?;
    let search_best = best.arch;
    tracing::info!(
        "search: {} candidates trained in {:.0} s (predictor {:.1} s); best {search_best} (proxy fitness {:.2})",
        history.queries.len(),
        t.elapsed().as_secs_f64(),
        surrogate_clock
            .as_ref()
            .map_or(0.0, SurrogateClock::seconds),
        best.fitness
    );
    let t_rescore = Instant::now();
    let rescored = rescore::<B>(&history, rescore_proxy, config, device)?;
    let rescore_seconds = t_rescore.elapsed().as_secs_f64();
    let best_cell = rescored
        .iter()
        .reduce(|b, c| if c.mean > b.mean { c } else { b })
        .map_or(search_best, |c| c.cell);
    if !rescored.is_empty() {
        tracing::info!(
            "rescoring: {} cells x {} repeats in {rescore_seconds:.0} s; chosen {best_cell}",
            rescored.len(),
            config.rescore.repeats
        );
    }
    let search_seconds = t.elapsed().as_secs_f64();

    // Final training of both networks with the same trainer, data and budget.
    let spec = CellSpec::from_nb201(&best_cell.cell, config.kernels);
    let net = net_of(config, &best_cell);
    let params = [
        KachueeNet::<B>::with_entry(shape, config.baseline_entry, 0, device)?.num_params(),
        CellNet::<B>::new(&spec, &net, shape, 0, device)?.num_params(),
    ];
    tracing::info!(
        "final training: baseline ({} parameters) and found ({} parameters), seeds {:?}",
        params[0],
        params[1],
        config.final_seeds
    );
    let data = [&tr, &va, &te];
    let timed = config.multiobjective.is_some();
    let baseline = final_runs_timed::<B, _>(
        &|seed| KachueeNet::<B>::with_entry(shape, config.baseline_entry, seed, device),
        data,
        config,
        device,
        "baseline",
        timed,
    )?;
    let found = final_runs_timed::<B, _>(
        &|seed| CellNet::<B>::new(&spec, &net, shape, seed, device),
        data,
        config,
        device,
        strategy_name,
        timed,
    )?;
    // A multi-objective search: every member of its front (proxy fitness against
    // parameters), trained and tested like the found network.
    let mut front = Vec::new();
    if timed {
        let points: Vec<[f64; 2]> = history
            .queries
            .iter()
            .map(|q| [-q.fitness, params_of(&q.arch)])
            .collect();
        let mut members = dcl_evo::pareto::pareto_front(&points);
        members.sort_by(|&a, &b| points[a][1].total_cmp(&points[b][1]).then(a.cmp(&b)));
        for i in members {
            let q = &history.queries[i];
            let runs = if q.arch == best_cell {
                found.clone()
            } else {
                let spec = CellSpec::from_nb201(&q.arch.cell, config.kernels);
                let net = net_of(config, &q.arch);
                final_runs_timed::<B, _>(
                    &|seed| CellNet::<B>::new(&spec, &net, shape, seed, device),
                    data,
                    config,
                    device,
                    &format!("front {}", q.arch),
                    true,
                )?
            };
            front.push(FrontMember {
                cell: q.arch,
                fitness: q.fitness,
                params: points[i][1] as u64,
                latency_ms: q.objectives.get(dcl_train::LATENCY_MS).copied(),
                runs,
            });
        }
    }
    Ok(EcgSearchReport {
        class_counts,
        history,
        candidates,
        strategy: strategy_name.into(),
        best_cell,
        rescored,
        rescore_seconds,
        pretrain_seconds,
        search_seconds,
        params,
        baseline_entry: config.baseline_entry,
        baseline,
        found,
        front,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcl_ecg::DEFAULT_VALID_RECORDS;

    fn test_config(rr_only: bool, proxy_folds: usize) -> EcgSearchConfig {
        EcgSearchConfig {
            beats: BeatConfig::default(),
            valid_records: DEFAULT_VALID_RECORDS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            proxy_train_per_class: 8,
            proxy_valid_per_class: 8,
            full_train_per_class: Some(8),
            eval_per_class: Some(8),
            net: NetConfig::default(),
            feature_entries: vec![FeatureEntry::Head],
            baseline_entry: FeatureEntry::Head,
            kernels: Kernels::default(),
            proxy_train: TrainConfig::default(),
            full_train: TrainConfig::default(),
            strategy: StrategyName::DclEnas,
            search: DclEnasConfig::default(),
            evolution: RegularizedEvolution::default(),
            budget: 1,
            model: ModelConfig::default(),
            pretrain: PretrainConfig::default(),
            finetune: FinetuneConfig::search_default(),
            training_engine: Engine::default(),
            final_seeds: vec![0],
            seed: 0,
            proxy_folds,
            rr_only,
            rescore: Rescore::default(),
            proxy_class_mix: false,
            f_within_patients: false,
            multiobjective: None,
        }
    }

    /// A journal written when `beats` was recorded as text and `training_engine` not at all
    /// resumes as the same run with burn's training; another `beats` or engine is refused.
    #[test]
    fn an_older_ecg_journal_header_reads_as_todays() {
        let mut config = test_config(false, 1);
        config.training_engine = Engine::Burn;
        let today = search_settings(&config);
        let header = |settings: &serde_json::Value| {
            JournalHeader::new("dcl-enas", &(), "netspace", 0, Driver::new(1))
                .with_settings(settings)
        };
        let mut older = today.clone();
        older["beats"] = serde_json::json!(format!("{:?}", config.beats));
        older.as_object_mut().unwrap().remove("training_engine");
        let mut found = header(&older);
        assert!(found.mismatch(&header(&today)).is_some());
        upgrade_header(&mut found, &config.beats);
        assert_eq!(found.mismatch(&header(&today)).map(|e| e.to_string()), None);

        let other_beats = BeatConfig {
            local_rr: true,
            ..BeatConfig::default()
        };
        let mut found = header(&older);
        upgrade_header(&mut found, &other_beats);
        assert!(found.settings["beats"].is_string());
        config.training_engine = Engine::Native;
        let mut found = header(&older);
        upgrade_header(&mut found, &config.beats);
        assert!(
            found
                .mismatch(&header(&search_settings(&config)))
                .unwrap()
                .to_string()
                .contains("training_engine")
        );
    }

    #[test]
    fn rr_only_zeroes_every_window_and_keeps_the_features() {
        let db = MitBih::bundled().unwrap();
        let config = test_config;
        let plain = prepare(&db, &config(false, 0)).unwrap();
        let ablated = prepare(&db, &config(true, 0)).unwrap();
        assert_eq!(plain.proxy.len(), 1);
        let sets = |p: &Prepared| {
            let mut v = vec![p.train.clone(), p.valid.clone(), p.test.clone()];
            v.extend(
                p.proxy
                    .iter()
                    .flat_map(|f| [f.train.clone(), f.valid.clone()]),
            );
            v
        };
        for (a, b) in sets(&plain).iter().zip(&sets(&ablated)) {
            assert!(a.signals.iter().any(|&v| v != 0.0));
            assert!(b.signals.iter().all(|&v| v == 0.0));
            assert_eq!(a.features, b.features);
            assert_eq!(a.labels, b.labels);
        }
        // Three patient folds: three (train, valid) pairs, capped per class, zeroed too.
        let folds = prepare(&db, &config(true, 3)).unwrap();
        assert_eq!(folds.proxy.len(), 3);
        for ProxyFold {
            train: t, valid: v, ..
        } in &folds.proxy
        {
            assert!(!t.is_empty() && !v.is_empty());
            assert!(t.class_counts().iter().all(|&c| c <= 8));
            assert!(t.signals.iter().chain(&v.signals).all(|&x| x == 0.0));
        }
        // The same beats, in the same order, as extracting each fold's records on their own.
        let two = prepare(&db, &config(false, 2)).unwrap();
        let groups = patient_groups(&db.records_in(dcl_ecg::Split::Ds1), 2);
        for (g, fold) in two.proxy.iter().enumerate() {
            let (t, v) = (&fold.train, &fold.valid);
            let beats = BeatConfig::default();
            let direct = |records: &[&str], per_class| -> SignalData {
                signal_data(
                    extract_beats(&db, records, &beats)
                        .unwrap()
                        .balanced_subsample(per_class, 0),
                )
            };
            let (dt, dv) = (direct(&groups[1 - g], 8), direct(&groups[g], 8));
            assert_eq!((&t.signals, &t.labels), (&dt.signals, &dt.labels));
            assert_eq!((&v.signals, &v.labels), (&dv.signals, &dv.labels));
        }
        assert!(matches!(
            prepare(&db, &config(false, 40)),
            Err(EcgSearchError::Config(_))
        ));
    }

    #[test]
    fn a_proxy_fold_never_mixes_patients() {
        // All of DS1, dealt into 2 and 3 folds: no patient's beats are on both sides of a
        // fold; each patient validates in exactly one fold. With F dealt within patients, only
        // F beats may share a patient across the sides, and each F beat validates once.
        let db = MitBih::bundled().unwrap();
        let ds1 = db.records_in(dcl_ecg::Split::Ds1);
        let f = dcl_ecg::AamiClass::F.index();
        for k in [2, 3] {
            let groups = patient_groups(&ds1, k);
            let all = extract_beats(&db, &groups.concat(), &BeatConfig::default()).unwrap();
            let blocks = f_blocks(&all, f, k);
            for within in [false, true] {
                let blocks = within.then_some(&blocks[..]);
                let mut validated = vec![0usize; all.len()];
                for (g, held) in groups.iter().enumerate() {
                    let (valid, train) = fold_split(&all, held, blocks, f, g);
                    assert_eq!(valid.len() + train.len(), all.len());
                    let patients = |beats: &[usize], skip_f: bool| {
                        beats
                            .iter()
                            .filter(|&&i| !(skip_f && all.labels[i] as usize == f))
                            .map(|&i| all.records[i].clone())
                            .collect::<std::collections::BTreeSet<_>>()
                    };
                    let (pv, pt) = (patients(&valid, within), patients(&train, within));
                    assert!(
                        pv.is_disjoint(&pt),
                        "k={k} fold {g}: {:?}",
                        pv.intersection(&pt)
                    );
                    for &i in &valid {
                        validated[i] += 1;
                    }
                }
                assert!(validated.iter().all(|&n| n == 1), "k={k} within={within}");
            }
        }
    }

    #[test]
    fn f_blocks_cut_each_records_beats_of_the_class_in_time_order() {
        let beats = dcl_ecg::BeatSet {
            labels: vec![3, 0, 3, 3, 3, 3, 1, 3],
            records: ["a", "a", "b", "a", "a", "b", "b", "a"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        // Record a's four F beats: two blocks of two; record b's two: one each.
        let m = usize::MAX;
        assert_eq!(f_blocks(&beats, 3, 2), vec![0, m, 0, 0, 1, 1, m, 1]);
        assert_eq!(f_blocks(&beats, 3, 4), vec![0, m, 0, 1, 2, 2, m, 3]);
    }

    #[test]
    fn f_within_patients_deals_f_by_time_and_the_rest_by_patient() {
        let db = MitBih::bundled().unwrap();
        // No cap: every beat of DS1 is in the folds.
        let uncapped = |f_within_patients| EcgSearchConfig {
            proxy_train_per_class: usize::MAX,
            proxy_valid_per_class: usize::MAX,
            f_within_patients,
            ..test_config(false, 2)
        };
        let by_patient = prepare(&db, &uncapped(false)).unwrap().proxy;
        let within = prepare(&db, &uncapped(true)).unwrap().proxy;
        let f = dcl_ecg::AamiClass::F.index();
        let ds1_f: usize = by_patient.iter().map(|p| p.valid.class_counts()[f]).sum();
        assert!(ds1_f > 400);
        for g in 0..2 {
            let (a, b) = (&by_patient[g], &within[g]);
            let (va, vb) = (a.valid.class_counts(), b.valid.class_counts());
            let (ta, tb) = (a.train.class_counts(), b.train.class_counts());
            // N, S and V as with patient folds.
            assert_eq!((&va[..f], &ta[..f]), (&vb[..f], &tb[..f]));
            // F: each fold validates on about half of DS1's F beats (record by record, up to
            // one beat each) and trains on the other fold's.
            let other = within[1 - g].valid.class_counts()[f];
            assert_eq!(tb[f], other);
            assert_eq!(vb[f] + other, ds1_f);
            assert!(vb[f].abs_diff(ds1_f / 2) <= 22, "{vb:?}");
            // The population is the held-out beats: no subsampling here, so unit weights.
            assert_eq!(b.population, vb);
            assert_eq!(b.class_mix(), vec![1.0; vb.len()]);
        }
        // With patient folds, F was nearly all in one fold: the problem this fixes.
        assert!(by_patient.iter().any(|p| p.valid.class_counts()[f] < 20));
        // Capped at 8 per class, the mix scales each class back to its population.
        let capped = EcgSearchConfig {
            f_within_patients: true,
            ..test_config(false, 2)
        };
        for fold in prepare(&db, &capped).unwrap().proxy {
            let sample = fold.valid.class_counts();
            for ((w, s), p) in fold.class_mix().iter().zip(&sample).zip(&fold.population) {
                assert_eq!(*s, 8.min(*p));
                assert!((w * *s as f64 - *p as f64).abs() < 1e-9);
            }
        }
        // Without folds there is nothing to deal F beats into.
        let no_folds = EcgSearchConfig {
            f_within_patients: true,
            ..test_config(false, 0)
        };
        assert!(matches!(
            prepare(&db, &no_folds),
            Err(EcgSearchError::Config(_))
        ));
    }

    #[test]
    fn patient_groups_deal_every_record_once_in_number_order() {
        let records = ["205", "101", "1000", "118", "106", "99"];
        let groups = patient_groups(&records, 2);
        assert_eq!(
            groups,
            vec![vec!["99", "106", "205"], vec!["101", "118", "1000"]]
        );
        let db = MitBih::bundled().unwrap();
        let ds1 = db.records_in(dcl_ecg::Split::Ds1);
        let groups = patient_groups(&ds1, 3);
        let mut all: Vec<&str> = groups.concat();
        all.sort();
        let mut expected = ds1.clone();
        expected.sort();
        assert_eq!(all, expected);
        assert!(groups.iter().all(|g| g.len() == 7 || g.len() == 8));
    }
}
