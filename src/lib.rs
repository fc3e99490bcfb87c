//! # dcl-enas
//!
//! Predictor-assisted evolutionary neural architecture search with dual contrastive learning
//! (DCL-ENAS; Zhang, Gong, Chen, Zhang, arXiv 2512.20112), in Rust.
//!
//! This umbrella crate re-exports the workspace's library crates and hosts the `dcl-enas`
//! program (its code is in `dcl-cli`), the examples and the benches. Each crate can also be
//! used on its own:
//!
//! * [`graph`] (`dcl-graph`): architecture DAGs, the `SearchSpace` and `GraphSpace` traits, NAS-Bench-101/201
//!   spaces, the NB101 hash, augmentations, fixed-size encodings.
//! * [`bench`](mod@bench) (`dcl-bench`): the NAS-Bench-101/201 tables, embedded, as true-fitness oracles.
//! * [`contrastive`] (`dcl-contrastive`): InfoNCE and the ranking losses.
//! * [`predictor`] (`dcl-predictor`): the GIN ranker and its two training stages.
//! * [`evo`] (`dcl-evo`): random search, regularized evolution and the DCL-ENAS loop, as
//!   ask/tell strategies; the batch driver and the resumable journal.
//! * [`exec`] (`dcl-exec`): executors that evaluate a batch at once (local worker threads).
//! * [`slurm`] (`dcl-slurm`): the Slurm executor: each batch one job array.
//! * [`ecg`] (`dcl-ecg`): the MIT-BIH Arrhythmia Database, bundled, as a beat-classification task.
//! * [`train`] (`dcl-train`): builds candidate networks from cells and trains them with burn.
#![warn(missing_docs)]

pub use dcl_bench as bench;
pub use dcl_contrastive as contrastive;
pub use dcl_ecg as ecg;
pub use dcl_evo as evo;
pub use dcl_exec as exec;
pub use dcl_graph as graph;
pub use dcl_predictor as predictor;
pub use dcl_slurm as slurm;
pub use dcl_train as train;

/// The user guide (docs/guide.md), compiled here so that its Rust snippets are doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct Guide;
