//! The one error type of this crate.

use thiserror::Error;

/// Why a search stopped early.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The surrogate failed.
    #[error("surrogate failed: {0}")]
    Surrogate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The surrogate returned the wrong number of scores.
    #[error("the surrogate returned {found} scores for {expected} architectures")]
    ScoreCount {
        /// Architectures scored.
        expected: usize,
        /// Scores returned.
        found: usize,
    },
    /// A strategy was told the outcome of an architecture it did not ask (or twice).
    #[error("told the outcome of {0}, which was not asked or was already told")]
    NotAsked(String),
    /// The journal could not be written or does not fit this run.
    #[error(transparent)]
    Journal(#[from] crate::JournalError),
    /// A fitness told was not a finite number (NaN or infinite).
    #[error(
        "the fitness of {arch} is {fitness}: a fitness must be a finite number (tell a failure instead)"
    )]
    NotFinite {
        /// The architecture's text.
        arch: String,
        /// The fitness told.
        fitness: f64,
    },
    /// A configuration value out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
}
