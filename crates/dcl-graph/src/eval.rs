//! The two small traits a search talks to: an [`Evaluator`] that truly evaluates architectures
//! (a benchmark table, a trainer) and a [`Surrogate`] that cheaply ranks them (a predictor).
//!
//! They live here, in the crate every other crate already uses, so that the predictor and the
//! benchmark tables can implement them without depending on the search crate, and a user's
//! own predictor or trainer plugs into the search the same way.

use crate::SearchSpace;

/// Truly evaluates architectures: trains them, or looks them up in a benchmark table. Search
/// budgets are counted in calls to [`evaluate`](Evaluator::evaluate).
pub trait Evaluator<S: SearchSpace> {
    /// Why an evaluation failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The fitness of `arch`: higher is better (an accuracy, say).
    fn evaluate(&mut self, space: &S, arch: &S::Arch) -> Result<f64, Self::Error>;
}

/// A cheap stand-in for the evaluator that ranks candidates before any is truly evaluated.
pub trait Surrogate<S: SearchSpace> {
    /// Why scoring or learning failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// One score per architecture, higher meaning predicted better. Only the order matters.
    fn score(&mut self, space: &S, archs: &[S::Arch]) -> Result<Vec<f64>, Self::Error>;

    /// Learns from every architecture truly evaluated so far, with its fitness. Called after
    /// each batch of true evaluations, always with the whole labelled set.
    fn learn(&mut self, space: &S, labelled: &[(S::Arch, f64)]) -> Result<(), Self::Error>;
}
