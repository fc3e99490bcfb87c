//! The `dcl-enas` command-line program, and the application pipelines it runs.
//!
//! The libraries (`dcl-graph` … `dcl-exec`) know nothing of this crate; it puts them together:
//!
//! * [`search`]: one search on a benchmark table, journalled in a run directory;
//! * [`benchmark`]: strategies × datasets × seeds on the tables, summary lines and plots;
//! * [`report`]: the files of a run directory, re-derived from its journal;
//! * [`predictor`]: the predictor alone (ranking quality, pre-trained encoders);
//! * [`ecg`]: DCL-ENAS on MIT-BIH heartbeat classification with real trainings (the
//!   pipeline), [`ecg_command`] (the `ecg` commands);
//! * [`worker`]: one architecture of a Slurm job array (`dcl-enas worker`);
//! * [`run_dir`]: a run directory's lock, and what Ctrl-C and SIGTERM do to a search;
//! * [`config`] (TOML files), [`progress`] (bars and log lines), [`plot`] (SVG curves).
//!
//! [`main`] parses the command line; the `dcl-enas` binary is `fn main() { dcl_cli::main() }`.
#![warn(missing_docs)]

// Loading the crate as its dependents see it lets rustc link the unit tests to the generic
// code compiled there (shared between crates at the test profile's opt-level) instead of
// compiling it again.
#[cfg(test)]
extern crate dcl_cli as _;

pub mod benchmark;
pub mod config;
pub mod ecg;
pub mod ecg_command;
pub mod ecg_compare;
pub mod mo;
pub mod plot;
pub mod predictor;
pub mod progress;
pub mod report;
pub mod run_dir;
pub mod search;
pub mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
pub(crate) fn invalid(message: String) -> CliError {
    CliError::Invalid(message)
}

/// Predictor-assisted evolutionary neural architecture search (DCL-ENAS).
///
/// With no command, runs `search` with its defaults: DCL-ENAS on NAS-Bench-201 CIFAR-10,
/// 100 queries, seed 0.
#[derive(Debug, Parser)]
#[command(name = "dcl-enas", version)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
// Parsed once per process: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search a benchmark table (NAS-Bench-201, NAS-Bench-101) into a run directory.
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
    /// MIT-BIH heartbeat classification: search with real trainings, baseline, one cell.
    #[command(subcommand)]
    Ecg(ecg_command::EcgCommand),
    /// Evaluate one architecture from a spec file and write its result (run by Slurm tasks).
    Worker(worker::WorkerArgs),
}

/// Parses the command line, runs the command, and prints any error (exit code 1; 2 for a
/// command line clap refuses).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    progress::init();
    let result = match cli.command {
        None => search::run(&search::SearchArgs::default()),
        Some(Command::Search(a)) => search::run(&a),
        Some(Command::Benchmark(a)) => benchmark::run(&a),
        Some(Command::Mo(a)) => mo::run(&a),
        Some(Command::Report(a)) => report::run(&a),
        Some(Command::Predictor(c)) => predictor::run(&c),
        Some(Command::Ecg(c)) => ecg_command::run(&c),
        Some(Command::Worker(a)) => worker::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn no_command_is_the_main_job() {
        // `cargo run --release` with no argument: no command, which `main` runs as `search`
        // with its defaults (DCL-ENAS, NB201 CIFAR-10, 100 queries, seed 0).
        let cli = Cli::try_parse_from(["dcl-enas"]).unwrap();
        assert!(cli.command.is_none());
        let d = search::SearchConfig::default();
        assert_eq!(
            (d.strategy, d.space, d.dataset, d.budget, d.seed, d.column()),
            (
                search::StrategyName::DclEnas,
                search::SpaceName::Nb201,
                search::DatasetName::Cifar10,
                100,
                0,
                search::ColumnName::Test200
            )
        );
        assert!(Cli::try_parse_from(["dcl-enas", "searhc"]).is_err());
        Cli::command().debug_assert();
    }
}
