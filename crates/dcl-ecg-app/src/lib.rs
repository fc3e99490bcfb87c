//! # dcl-ecg-app
//!
//! The real-world application: DCL-ENAS over 1-D cells on MIT-BIH heartbeat classification
//! (AAMI N/S/V/F, de Chazal inter-patient split), every queried candidate really trained by
//! `dcl-train`, against the hand-designed network of Kachuee et al. (2018) trained by the same
//! trainer with the same budget. `dcl-ecg` is the data; this crate is the pipeline and the
//! `dcl-enas ecg` commands.
//!
//! [`run_with`] is the whole pipeline, in named stages:
//!
//! 1. cut beats, inter-patient split: DS1 minus the validation patients for training, the
//!    validation patients (DS1) for model selection, DS2 for the test;
//! 2. stage 1: pre-train the predictor label-free on all 15,625 NAS-Bench-201 cells (the 1-D
//!    cell space is NAS-Bench-201's, read with 1-D operations, each cell with a feature entry);
//! 3. DCL-ENAS (or, to compare, random search or regularized evolution), each query a real
//!    training run on a proxy: a class-balanced DS1 subset, few epochs; the fitness is the
//!    validation balanced accuracy (or the configured metric), averaged over patient folds
//!    ([`EcgSearchConfig::proxy_folds`]);
//! 4. optionally, the best few cells retrained with other seeds before the pick
//!    ([`Rescore`]);
//! 5. the cell chosen and the baseline (its RR features entering where
//!    [`EcgSearchConfig::baseline_entry`] says) trained by the same trainer with the same
//!    full budget, once per seed, and tested on DS2; with a multi-objective search, every
//!    member of the front too.
//!
//! [`baseline`] holds the Kachuee network (a [`dcl_train::ResNet1d`] of the published sizes)
//! and the ECG augmentation; [`command`] the `dcl-enas ecg` commands, [`compare`] their
//! side-by-side table of several runs.
#![warn(missing_docs)]

// Loading the crate as its dependents see it lets rustc link the unit tests to the generic
// code compiled there (shared between crates at the test profile's opt-level) instead of
// compiling it again.
#[cfg(test)]
extern crate dcl_ecg_app as _;

pub mod baseline;
pub mod command;
pub mod compare;
mod config;
mod evaluator;
mod folds;
mod pipeline;
mod report;
pub mod signals;

pub use baseline::{ECG_AUGMENT, KACHUEE, kachuee_net};
pub use config::{EcgSearchConfig, Execution, Rescore, SlurmTraining};
pub use evaluator::CANDIDATES_FILE;
pub use folds::signal_data;
pub use pipeline::{proxy_fitness, run, run_baseline, run_cell, run_with};
pub use report::{EcgSearchReport, FinalRun, FrontMember, RescoredCell};

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
