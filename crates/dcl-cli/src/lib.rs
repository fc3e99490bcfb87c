//! The `dcl-enas` program's commands on the benchmark tables, and what every command of the
//! program shares (settings files, run directories, progress display, plots, the Slurm
//! worker). The ECG application (`dcl-ecg-app`) builds its commands on these.
//!
//! The libraries (`dcl-graph` … `dcl-exec`) know nothing of this crate; it puts them together:
//!
//! * [`search`]: one search, journalled in a run directory: on a benchmark table, or with
//!   the user's program ([`evaluator`]) on a preset or declared space ([`space`]);
//! * [`benchmark`]: strategies × datasets × seeds on the tables, summary lines and plots;
//! * [`report`]: the files of a run directory, re-derived from its journal;
//! * [`predictor`]: the predictor alone (ranking quality, pre-trained encoders);
//! * [`worker`]: one architecture of a Slurm job array (`dcl-enas worker`);
//! * [`run_dir`]: a run directory's lock, and what Ctrl-C and SIGTERM do to a search;
//! * [`config`] (TOML files), [`flags`] (the flag groups commands share), [`progress`] (bars
//!   and log lines), [`plot`] (SVG curves).
//!
//! [`Command`] is these commands for clap; the `dcl-enas` binary (the root package) adds the
//! ECG application's, parses the command line and runs the command with [`run`].
#![warn(missing_docs)]

// Loading the crate as its dependents see it lets rustc link the unit tests to the generic
// code compiled there (shared between crates at the test profile's opt-level) instead of
// compiling it again.
#[cfg(test)]
extern crate dcl_cli as _;

pub mod benchmark;
pub mod config;
pub mod evaluator;
pub mod flags;
pub mod mo;
pub mod plot;
pub mod predictor;
pub mod progress;
pub mod report;
pub mod run_dir;
pub mod search;
pub mod space;
pub mod worker;

use std::process::ExitCode;

use clap::Subcommand;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A setting or file the user gave is not usable (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The journal refused or failed.
    #[error(transparent)]
    Journal(#[from] dcl_evo::JournalError),
    /// The search failed.
    #[error(transparent)]
    Search(#[from] dcl_evo::SearchError),
    /// The predictor failed.
    #[error(transparent)]
    Predictor(#[from] dcl_predictor::PredictorError),
    /// A benchmark table failed.
    #[error(transparent)]
    Bench(#[from] dcl_bench::BenchError),
    /// A search space failed.
    #[error(transparent)]
    Graph(#[from] dcl_graph::GraphError),
    /// The executor failed.
    #[error(transparent)]
    Exec(#[from] dcl_exec::ExecError),
    /// Slurm refused or failed.
    #[error(transparent)]
    Slurm(#[from] dcl_slurm::SlurmError),
}

/// A [`CliError::Invalid`].
pub fn invalid(message: String) -> CliError {
    CliError::Invalid(message)
}

/// The commands.
// Parsed once per process: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search a benchmark table (NAS-Bench-201, NAS-Bench-101), or any space with your own
    /// program evaluating each architecture, into a run directory.
    #[command(allow_negative_numbers = true)]
    Search(search::SearchArgs),
    /// Compare strategies over datasets and seeds on the benchmark tables.
    #[command(allow_negative_numbers = true)]
    Benchmark(benchmark::BenchmarkArgs),
    /// Multi-objective search on the benchmark tables: accuracy against parameters or FLOPs,
    /// hypervolume over seeds.
    #[command(allow_negative_numbers = true)]
    Mo(mo::MoArgs),
    /// Rewrite a run directory's history, summary and plot from its journal.
    Report(report::ReportArgs),
    /// The predictor alone: ranking quality, pre-trained encoders.
    #[command(subcommand)]
    Predictor(predictor::PredictorCommand),
    /// Evaluate one architecture from a spec file and write its result (run by Slurm tasks).
    Worker(worker::WorkerArgs),
}

/// Runs a command (`None`: `search` with its defaults, the main job).
pub fn run(command: Option<Command>) -> Result<(), CliError> {
    match command {
        None => search::run(&search::SearchArgs::default()),
        Some(Command::Search(a)) => search::run(&a),
        Some(Command::Benchmark(a)) => benchmark::run(&a),
        Some(Command::Mo(a)) => mo::run(&a),
        Some(Command::Report(a)) => report::run(&a),
        Some(Command::Predictor(c)) => predictor::run(&c),
        Some(Command::Worker(a)) => worker::run(&a),
    }
}

/// The process's exit status for a command's `result`, printing its error: 0, or 1 after
/// `error: MESSAGE` on standard error (clap itself exits with 2 on a command line it refuses).
pub fn exit_code(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
