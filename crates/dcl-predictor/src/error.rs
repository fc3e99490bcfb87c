//! The one error type of this crate.

use dcl_contrastive::LossError;
use dcl_graph::GraphError;
use thiserror::Error;

/// Why a predictor operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PredictorError {
    /// An architecture could not be turned into a graph or an encoding.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A loss refused its inputs.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// No architectures (or no labelled ones) to work with.
    #[error("no data: {0}")]
    Empty(&'static str),
    /// A label that is NaN or infinite.
    #[error("label {index} is not finite ({value})")]
    NonFiniteLabel {
        /// Position in the labelled set.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A training loss that became NaN or infinite.
    #[error("training diverged: the loss became {0} at step {1}")]
    Diverged(f32, usize),
    /// The model gave a NaN or infinite score (its weights overflow on this input): the
    /// architecture cannot be ranked.
    #[error("the score of architecture {index} is not finite ({value})")]
    NonFiniteScore {
        /// Position in the scored set.
        index: usize,
        /// The score.
        value: f32,
    },
    /// A configuration value out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The predictor (or file) belongs to another search space.
    #[error("the predictor is for space {expected:?}, not {found:?}")]
    SpaceMismatch {
        /// The predictor's space.
        expected: String,
        /// The space it was used with.
        found: String,
    },
    /// The predictor (or file) has another encoding shape or model shape.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// A cached encoder was made another way than the run asks for.
    #[error(
        "the cached encoder {path} was made differently: {field}; delete it or give another path"
    )]
    CacheMismatch {
        /// The file.
        path: String,
        /// The first difference, as a dotted path with both values.
        field: String,
    },
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The work was asked to stop ([`dcl_graph::progress::CancelToken`]); the predictor's
    /// weights are as they were before the call.
    #[error("cancelled")]
    Cancelled,
    /// A file that is not a saved predictor, or is damaged.
    #[error("not a valid predictor file: {0}")]
    Format(String),
}
