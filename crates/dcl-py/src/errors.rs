//! The library's errors as Python exceptions: `DclError` and its subclasses, defined in
//! `dcl_enas/_errors.py` so that they can also derive from `ValueError`, `OSError` and
//! `KeyError`.

use dcl_bench::BenchError;
use dcl_evo::{JournalError, LockError, SearchError};
use dcl_graph::GraphError;
use dcl_predictor::PredictorError;
use pyo3::prelude::*;

/// Which exception class an error becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `DclError`: the library failed (a diverged training, a journal that does not replay).
    Base,
    /// `InvalidValue` (also a `ValueError`): a value the caller gave is not usable.
    Value,
    /// `FileError` (also an `OSError`): a file or directory could not be read or written.
    File,
    /// `NotInTable` (also a `KeyError`): a table has no row for the architecture.
    NotInTable,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::Base => "DclError",
            Kind::Value => "InvalidValue",
            Kind::File => "FileError",
            Kind::NotInTable => "NotInTable",
        }
    }
}

/// An error on its way to Python: its class and the library's message.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// An [`Kind::Value`] error.
    pub fn value(message: impl Into<String>) -> Self {
        Self::new(Kind::Value, message)
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        Python::attach(|py| {
            let class = match py
                .import("dcl_enas._errors")
                .and_then(|m| m.getattr(e.kind.class_name()))
            {
                Ok(c) => c,
                Err(err) => return err,
            };
            match class.call1((e.message,)) {
                Ok(instance) => PyErr::from_value(instance),
                Err(err) => err,
            }
        })
    }
}

/// Turns a library error into an [`Error`] of the right kind, keeping its message.
macro_rules! kinds {
    ($($ty:ty => |$e:ident| $kind:expr;)*) => {$(
        impl From<$ty> for Error {
            fn from($e: $ty) -> Self {
                let kind = $kind;
                Error::new(kind, $e.to_string())
            }
        }
    )*};
}

kinds! {
    GraphError => |e| Kind::Value;
    BenchError => |e| match e {
        BenchError::NotInTable(_) => Kind::NotInTable,
        BenchError::Io { .. } => Kind::File,
        _ => Kind::Base,
    };
    JournalError => |e| journal_kind(&e);
    LockError => |e| match e {
        LockError::Held { .. } => Kind::Base,
        _ => Kind::File,
    };
    SearchError => |e| match &e {
        SearchError::NotAsked(_) | SearchError::NotFinite { .. } | SearchError::Config(_) => {
            Kind::Value
        }
        SearchError::Journal(j) => journal_kind(j),
        SearchError::Surrogate(inner) => match inner.downcast_ref::<PredictorError>() {
            Some(p) => predictor_kind(p),
            None => Kind::Base,
        },
        _ => Kind::Base,
    };
    PredictorError => |e| predictor_kind(&e);
    dcl_cli::CliError => |e| match &e {
        dcl_cli::CliError::Invalid(_) => Kind::Value,
        dcl_cli::CliError::Io(_) => Kind::File,
        _ => Kind::Base,
    };
}

fn journal_kind(e: &JournalError) -> Kind {
    match e {
        JournalError::Io { .. } | JournalError::Exists(_) | JournalError::Missing(_) => Kind::File,
        JournalError::Mismatch { .. } => Kind::Value,
        _ => Kind::Base,
    }
}

fn predictor_kind(e: &PredictorError) -> Kind {
    match e {
        PredictorError::Io { .. } => Kind::File,
        PredictorError::Diverged(..) | PredictorError::NonFiniteScore { .. } => Kind::Base,
        _ => Kind::Value,
    }
}
