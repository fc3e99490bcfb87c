//! The one error type of this crate.

use dcl_graph::GraphError;
use thiserror::Error;

/// Why a table could not be loaded or a look-up failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Reading failed: a missing file, or a truncated or corrupt gzip stream.
    #[error("cannot read {what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV itself is malformed (wrong number of fields, bad UTF-8, ...).
    #[error("malformed CSV in {table}: {message}")]
    Csv {
        /// Which table.
        table: &'static str,
        /// What the CSV reader said.
        message: String,
    },
    /// The header row is not the one the table must have.
    #[error("{table}: unexpected header {found:?}, expected {expected:?}")]
    Header {
        /// Which table.
        table: &'static str,
        /// The header found.
        found: Vec<String>,
        /// The header required.
        expected: Vec<String>,
    },
    /// A field that is not a valid value: not a number, NaN or infinite, out of range.
    #[error("{table}, line {line}, column {column}: bad value {value:?} ({reason})")]
    Value {
        /// Which table.
        table: &'static str,
        /// 1-based line in the file.
        line: u64,
        /// Column name.
        column: &'static str,
        /// The text found.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The architecture of a row is invalid.
    #[error("{table}, line {line}: invalid architecture: {source}")]
    Arch {
        /// Which table.
        table: &'static str,
        /// 1-based line in the file.
        line: u64,
        /// Why.
        #[source]
        source: GraphError,
    },
    /// The same architecture on two rows.
    #[error("{table}, line {line}: architecture {key} already appeared on line {first_line}")]
    Duplicate {
        /// Which table.
        table: &'static str,
        /// 1-based line of the second occurrence.
        line: u64,
        /// 1-based line of the first.
        first_line: u64,
        /// The architecture's key.
        key: String,
    },
    /// A table with no rows.
    #[error("{0} has no rows")]
    Empty(&'static str),
    /// A look-up of an architecture the table does not hold.
    #[error("architecture {0} is not in the table")]
    NotInTable(String),
    /// A look-up of a metric the table does not have for this architecture.
    #[error("metric {metric} is not available in {table}")]
    MetricUnavailable {
        /// Which table.
        table: &'static str,
        /// The metric asked for.
        metric: String,
    },
}
