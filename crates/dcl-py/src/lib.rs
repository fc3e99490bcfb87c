//! `dcl_enas._native`: the Python front of dcl-enas (see `python/dcl_enas/__init__.py` for
//! the package a user imports, and `dcl_enas/__init__.pyi` for its types).
//!
//! Spaces and architectures ([`space`]), the benchmark tables ([`tables`]), the strategies in
//! the ask/tell shape over [`dcl_evo::Session`] ([`search`]), the predictor alone
//! ([`predictor`]). Long work runs on the module's thread pool with the interpreter released
//! and Ctrl-C honoured ([`runner`]); the library's `tracing` events become Python `logging`
//! records ([`logs`]); its errors become the exceptions of `dcl_enas._errors` ([`errors`]).

use pyo3::prelude::*;

pub mod errors;
pub mod logs;
pub mod predictor;
pub mod runner;
pub mod search;
pub mod settings;
pub mod space;
pub mod tables;

/// Sets how many threads the library's work uses (pre-training, refits, scoring): 0 gives
/// rayon's default (`RAYON_NUM_THREADS`, else one per core). Leave cores to PyTorch when it
/// shares the process.
#[pyfunction]
fn set_threads(threads: usize) -> PyResult<()> {
    Ok(runner::set_threads(threads)?)
}

/// How many threads the library's work uses.
#[pyfunction]
fn threads() -> PyResult<usize> {
    Ok(runner::threads()?)
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logs::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<space::PySpace>()?;
    m.add_class::<space::PyArch>()?;
    m.add_function(wrap_pyfunction!(space::nb201, m)?)?;
    m.add_function(wrap_pyfunction!(space::nb101, m)?)?;
    m.add_function(wrap_pyfunction!(space::cell, m)?)?;
    m.add_function(wrap_pyfunction!(space::dag, m)?)?;
    m.add_function(wrap_pyfunction!(space::_space_from_json, m)?)?;
    m.add_function(wrap_pyfunction!(space::_arch_from, m)?)?;
    m.add_class::<tables::PyNb201Table>()?;
    m.add_class::<tables::PyNb101Table>()?;
    m.add_class::<search::PySearch>()?;
    m.add_class::<search::PyRandomSearch>()?;
    m.add_class::<search::PyRegularizedEvolution>()?;
    m.add_class::<search::PyDclEnas>()?;
    m.add_function(wrap_pyfunction!(search::stage1_architectures, m)?)?;
    m.add_class::<predictor::PyPredictor>()?;
    m.add_function(wrap_pyfunction!(set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads, m)?)?;
    Ok(())
}
