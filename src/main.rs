//! The `dcl-enas` program: `dcl-enas --help` lists its commands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Predictor-assisted evolutionary neural architecture search (DCL-ENAS).
///
/// With no command, runs `search` with its defaults: DCL-ENAS on NAS-Bench-201 CIFAR-10,
/// 100 queries, seed 0.
#[derive(Debug, Parser)]
#[command(name = "dcl-enas", version)]
struct Cli {
    /// The command.
    #[command(subcommand)]
    command: Option<Command>,
}

/// The commands: those on the benchmark tables, and the ECG application's.
// Parsed once per process: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Tables(dcl_cli::Command),
    /// MIT-BIH heartbeat classification: search with real trainings, baseline, one cell.
    #[command(subcommand)]
    Ecg(dcl_ecg_app::command::EcgCommand),
}

/// Parses the command line, runs the command, and prints any error (exit code 1; 2 for a
/// command line clap refuses).
fn main() -> ExitCode {
    let cli = Cli::parse();
    dcl_cli::progress::init();
    dcl_cli::exit_code(match cli.command {
        None => dcl_cli::run(None),
        Some(Command::Tables(c)) => dcl_cli::run(Some(c)),
        Some(Command::Ecg(c)) => dcl_ecg_app::command::run(&c),
    })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use dcl_cli::search;

    use super::*;

    #[test]
    fn no_command_is_the_main_job() {
        // `cargo run --release` with no argument: no command, which `main` runs as `search`
        // with its defaults (DCL-ENAS, NB201 CIFAR-10, 100 queries, seed 0).
        let cli = Cli::try_parse_from(["dcl-enas"]).unwrap();
        assert!(cli.command.is_none());
        let d = search::SearchConfig::default();
        assert_eq!(
            (
                d.strategy,
                d.space.clone(),
                d.dataset,
                d.budget,
                d.seed,
                d.column()
            ),
            (
                search::StrategyName::DclEnas,
                search::SpaceName::Nb201.into(),
                search::DatasetName::Cifar10,
                100,
                0,
                search::ColumnName::Test200
            )
        );
        assert!(Cli::try_parse_from(["dcl-enas", "searhc"]).is_err());
        Cli::command().debug_assert();
    }

    #[test]
    fn the_table_and_ecg_commands_are_one_program() {
        let parsed = |line: &[&str]| Cli::try_parse_from(line).unwrap().command;
        assert!(matches!(
            parsed(&["dcl-enas", "search", "--budget", "5"]),
            Some(Command::Tables(dcl_cli::Command::Search(_)))
        ));
        assert!(matches!(
            parsed(&["dcl-enas", "worker", "--spec", "s.json", "--out", "r.json"]),
            Some(Command::Tables(dcl_cli::Command::Worker(_)))
        ));
        assert!(matches!(
            parsed(&["dcl-enas", "ecg", "baseline", "--budget", "3"]),
            Some(Command::Ecg(
                dcl_ecg_app::command::EcgCommand::Baseline { .. }
            ))
        ));
        assert!(Cli::try_parse_from(["dcl-enas", "ecg", "searhc"]).is_err());
    }
}
