//! The one error type of this crate.

use thiserror::Error;

/// Why a search stopped early.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The evaluator failed.
    #[error("evaluation failed: {0}")]
    Evaluator(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The surrogate failed.
    #[error("surrogate failed: {0}")]
    Surrogate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The evaluator returned NaN or an infinity.
    #[error("the evaluator returned a non-finite fitness ({0})")]
    NonFinite(f64),
    /// The surrogate returned the wrong number of scores.
    #[error("the surrogate returned {found} scores for {expected} architectures")]
    ScoreCount {
        /// Architectures scored.
        expected: usize,
        /// Scores returned.
        found: usize,
    },
    /// A configuration value out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
}
