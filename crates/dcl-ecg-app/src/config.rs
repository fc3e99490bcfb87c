//! What the pipeline can be told: [`EcgSearchConfig`] (the experiment) and [`Execution`]
//! (how the search's trainings run and are kept).

use dcl_cli::search::StrategyName;
use dcl_ecg::BeatConfig;
use dcl_evo::{DclEnas, DclEnasConfig, MultiObjective, RegularizedEvolution};
use dcl_predictor::{Engine, FinetuneConfig, ModelConfig, PretrainConfig};
use dcl_train::{FeatureEntry, Kernels, NetConfig, NetSpace, SkeletonMenu, TrainConfig};

use crate::EcgSearchError;

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
    /// with each of these ([`dcl_train::NetSpace`]). `[Head]` searches the cells
    /// alone, exactly as `Nb201Space`.
    pub feature_entries: Vec<FeatureEntry>,
    /// Where the RR features enter the baseline ([`crate::kachuee_net`]): `Head` is the
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
    /// What runs the predictor's encoder in training ([`dcl_predictor::Predictor::set_training_engine`]).
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
    /// Design mode: the pseudo-test patients ([`dcl_ecg::PSEUDO_TEST_RECORDS`]) are held out
    /// of every training, fold and choice, and the final networks are tested on them instead
    /// of DS2, which is then never read. Without it, the search still reads DS1 only, and the
    /// final networks are tested on DS2. Default off.
    pub pseudo_test: bool,
    /// The wide space: each candidate also chooses its skeleton (channels, stages, cells per
    /// stage, stem kernel, conv width, head) from this menu ([`NetSpace::with_skeletons`]),
    /// and `net`'s and `kernels`' values for them are the menu's to set. `None`: the cells
    /// with their feature entries, in `net`'s skeleton.
    pub skeletons: Option<SkeletonMenu>,
}

impl EcgSearchConfig {
    /// The search space: the cells with each of [`EcgSearchConfig::feature_entries`], and
    /// each skeleton of [`EcgSearchConfig::skeletons`] when it is given.
    pub fn space(&self) -> Result<NetSpace, EcgSearchError> {
        Ok(match &self.skeletons {
            Some(menu) => NetSpace::with_skeletons(self.feature_entries.clone(), menu.clone())?,
            None => NetSpace::new(self.feature_entries.clone())?,
        })
    }

    /// This configuration with proxy trainings seeded by `seed` (the rescoring's repeats).
    pub fn with_proxy_seed(&self, seed: u64) -> Self {
        Self {
            proxy_train: TrainConfig {
                seed,
                ..self.proxy_train.clone()
            },
            ..self.clone()
        }
    }

    /// Checks everything before any work (before the beats are cut, stage 1, hours of
    /// search): the budget, the final seeds, the per-class caps, the skeleton, every training,
    /// the search, the predictor's shape, stage 1 and stage 2, the feature entries.
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
        self.space()?;
        if self.pseudo_test
            && let Some(r) = self
                .valid_records
                .iter()
                .find(|r| dcl_ecg::PSEUDO_TEST_RECORDS.contains(&r.as_str()))
        {
            return Err(config(&format!(
                "validation record {r} is a pseudo-test patient: design mode holds those out \
                 of every choice"
            )));
        }
        self.model.validate()?;
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dcl_ecg::DEFAULT_VALID_RECORDS;

    /// A configuration as small as the pipeline takes: one search query, 8 beats per class.
    pub(crate) fn test_config(rr_only: bool, proxy_folds: usize) -> EcgSearchConfig {
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
            pseudo_test: false,
            skeletons: None,
        }
    }

    /// In design mode no validation patient may be a pseudo-test patient: refused by
    /// `validate`, before any beat is cut.
    #[test]
    fn a_pseudo_test_patient_cannot_validate_in_design_mode() {
        let mut config = test_config(false, 0);
        config.valid_records.push("201".into());
        assert!(config.validate().is_ok());
        config.pseudo_test = true;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("validation record 201"), "{err}");
        config.valid_records.pop();
        assert!(config.validate().is_ok());
    }
}
