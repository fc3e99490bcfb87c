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
//! Multi-objective (fitness against a [`Cost`] such as the parameter count):
//!
//! * [`Nsga2`]: NSGA-II (non-dominated sorting and crowding distance).
//! * [`DclEnas::start_multiobjective`]: DCL-ENAS whose rounds evolve on predicted fitness and
//!   exact cost and truly evaluate the children that most improve the front's hypervolume.
//! * [`pareto`]: dominance, fronts, crowding distance, exact 2-D hypervolume.
//!
//! Each strategy is an ask/tell [`Strategy`]: drive it from your own loop, or with a
//! [`Driver`] (batches evaluated together, retries, and a [`Journal`] that lets a killed
//! search resume where it stopped). Budgets count true evaluations; no architecture (by
//! canonical key) is ever paid for twice. A search returns its whole [`SearchHistory`].
#![warn(missing_docs)]

mod driver;
mod error;
mod history;
mod journal;
mod lock;
mod multiobjective;
pub mod pareto;
mod session;
mod strategies;
mod strategy;
mod timed;

pub use dcl_graph::{Evaluator, Failure, FailureKind, FnEvaluator, SearchSpace, Surrogate};
pub use driver::Driver;
pub use error::SearchError;
pub use history::{FailureRecord, QueryRecord, SearchHistory, mean_std, median};
pub use journal::{
    EvaluationRecord, JOURNAL_FILE, JOURNAL_FORMAT, Journal, JournalError, JournalHeader,
    fresh_run_dir, hold_journal_writes,
};
pub use lock::{LOCK_FILE, LockError, LockHolder, RunLock};
pub use multiobjective::{Cost, InfillReference, MultiObjective, Nsga2, Nsga2State};
pub use session::Session;
pub use strategies::{
    DclEnas, DclEnasConfig, DclEnasState, MAX_COUNT, RandomSearch, RandomSearchState,
    RegularizedEvolution, RegularizedEvolutionState,
};
pub use strategy::{Outcome, SpaceRef, Strategy};
pub use timed::{SurrogateClock, TimedSurrogate};
