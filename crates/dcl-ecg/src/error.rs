//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong reading MIT-BIH data or cutting beats from it.
#[derive(Debug, thiserror::Error)]
pub enum EcgError {
    /// A file is missing, unreadable, or a truncated/corrupt gzip stream.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file is malformed, has the wrong header or a bad value.
    #[error("{file}, line {line}: {message}")]
    Format {
        /// Which file.
        file: String,
        /// 1-based line number (0 when unknown).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A signal file holds fewer (or more) samples than its record says.
    #[error("record {record}: signal has {found} samples, expected {expected}")]
    SignalLength {
        /// The record.
        record: String,
        /// Samples found.
        found: usize,
        /// Samples the record table announces.
        expected: usize,
    },
    /// An annotation points past the end of its record's signal.
    #[error(
        "record {record}: annotation at sample {sample} is past the end of the signal ({n_samples} samples)"
    )]
    AnnotationOutOfRange {
        /// The record.
        record: String,
        /// The annotation's sample index.
        sample: usize,
        /// The signal length.
        n_samples: usize,
    },
    /// An annotation symbol that is neither a known beat nor a known non-beat code.
    #[error("record {record}: unknown annotation symbol {symbol:?} at sample {sample}")]
    UnknownSymbol {
        /// The record.
        record: String,
        /// The annotation's sample index.
        sample: usize,
        /// The symbol.
        symbol: String,
    },
    /// A record name that the database does not hold.
    #[error("unknown record {0:?}")]
    UnknownRecord(String),
    /// A beat set in which a class the task needs has no beat at all.
    #[error("{set}: class {class} has no beats")]
    EmptyClass {
        /// Which set (`train`, `valid`, ...).
        set: String,
        /// The class.
        class: String,
    },
    /// A configuration that cannot work (zero window, a record in two splits, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Shorthand for this crate's results.
pub type Result<T> = std::result::Result<T, EcgError>;
