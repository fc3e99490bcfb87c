//! # dcl-evo
//!
//! Evolutionary neural architecture search over any [`SearchSpace`], generic over how
//! architectures are truly evaluated ([`Evaluator`]: a benchmark table, a trainer) and how they
//! are cheaply ranked ([`Surrogate`]: the DCL-ENAS predictor, or your own):
//!
//! * [`RandomSearch`]: uniform samples.
//! * [`RegularizedEvolution`]: tournament selection and aging (Real et al., AAAI 2019).
//! * [`DclEnas`]: the DCL-ENAS loop: evaluate a few random architectures, fit the surrogate,
//!   then repeatedly evolve for a few generations with predicted fitness, truly evaluate the
//!   most promising unseen offspring, and refit.
//!
//! Budgets count true evaluations; no architecture (by canonical key) is ever paid for twice.
//! A search returns its whole [`SearchHistory`].
#![warn(missing_docs)]

mod error;
mod history;
mod strategies;

pub use dcl_graph::{Evaluator, SearchSpace, Surrogate};
pub use error::SearchError;
pub use history::{QueryRecord, SearchHistory};
pub use strategies::{DclEnas, DclEnasConfig, RandomSearch, RegularizedEvolution};
