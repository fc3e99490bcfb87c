//! Run directories: the files a search leaves beside its journal, and `dcl-enas report`, which
//! re-derives them from the journal alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Table};
use dcl_evo::{Journal, SearchHistory};
use dcl_graph::{Nb101Cell, Nb201Cell};
use serde::{Deserialize, Serialize};

use crate::search::{ColumnName, DatasetName};
use crate::{CliError, invalid, plot};

/// What a search found, as `summary.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The space searched (`nb201`, `nb101`).
    pub space: String,
    /// The dataset.
    pub dataset: String,
    /// The column searched.
    pub column: String,
    /// The strategy.
    pub strategy: String,
    /// The run's seed.
    pub seed: u64,
    /// The best architecture found (by the searched column).
    pub best_arch: String,
    /// Its value in the searched column (its fitness, for a run without a table).
    pub accuracy: f64,
    /// Its rank in that column over the whole table (1 is the best); `None` without a table.
    pub rank: Option<usize>,
    /// Architectures in the table; `None` without a table.
    pub table_size: Option<usize>,
    /// The query that found it (1-based).
    pub best_query: usize,
    /// Successful true evaluations.
    pub queries: usize,
    /// Architectures that failed every attempt.
    pub failures: usize,
    /// Wall time of the search; for a report, the journalled evaluation time.
    pub seconds: f64,
}

impl Summary {
    /// The line a search ends with.
    pub fn line(&self) -> String {
        match (self.rank, self.table_size) {
            (Some(rank), Some(size)) => format!(
                "best arch={} acc={:.2} rank={rank}/{size} queries={} seconds={:.1}",
                self.best_arch, self.accuracy, self.queries, self.seconds
            ),
            _ => format!(
                "best arch={} fitness={:.4} queries={} failures={} seconds={:.1}",
                self.best_arch, self.accuracy, self.queries, self.failures, self.seconds
            ),
        }
    }
}

/// The run settings a summary repeats.
#[derive(Debug, Clone)]
pub struct RunView {
    /// The strategy's name.
    pub strategy: String,
    /// The seed.
    pub seed: u64,
    /// The dataset.
    pub dataset: DatasetName,
    /// The column searched.
    pub column: ColumnName,
}

fn seconds_of<A>(history: &SearchHistory<A>, start: Option<Instant>) -> f64 {
    start.map_or(history.evaluator_seconds, |s| s.elapsed().as_secs_f64())
}

/// The summary of an NB201 search.
pub fn nb201_summary(
    view: &RunView,
    history: &SearchHistory<Nb201Cell>,
    start: impl Into<Option<Instant>>,
) -> Result<Summary, CliError> {
    let table = Nb201Table::embedded()?;
    let metric = view.column.nb201(view.dataset);
    let best = history
        .best()
        .ok_or_else(|| invalid("the search made no successful query".into()))?;
    Ok(Summary {
        space: "nb201".into(),
        dataset: view.dataset.nb201().name().into(),
        column: view.column.name().into(),
        strategy: view.strategy.clone(),
        seed: view.seed,
        best_arch: best.arch.to_string(),
        accuracy: table.accuracy(&best.arch, metric)?,
        rank: Some(table.rank(&best.arch, metric)?),
        table_size: Some(table.len()),
        best_query: best.query,
        queries: history.len(),
        failures: history.failures.len(),
        seconds: seconds_of(history, start.into()),
    })
}

/// How an NB101 cell is written in summaries and CSV files: its text form,
/// `adj_upper:ops`.
pub fn nb101_label(cell: &Nb101Cell) -> String {
    cell.to_string()
}

/// The summary of an NB101 search (on the 20,001-cell subset, single-run 108-epoch
/// validation accuracy).
pub fn nb101_summary(
    view: &RunView,
    history: &SearchHistory<Nb101Cell>,
    start: impl Into<Option<Instant>>,
) -> Result<Summary, CliError> {
    let table = Nb101Table::subset20k()?;
    let m = Nb101Metric::VAL_108;
    let best = history
        .best()
        .ok_or_else(|| invalid("the search made no successful query".into()))?;
    let value = table.value(&best.arch, m)?;
    let better = table
        .records()
        .iter()
        .filter(|r| r.get(m).is_some_and(|v| v > value))
        .count();
    Ok(Summary {
        space: "nb101".into(),
        dataset: "cifar10".into(),
        column: view.column.name().into(),
        strategy: view.strategy.clone(),
        seed: view.seed,
        best_arch: nb101_label(&best.arch),
        accuracy: value,
        rank: Some(better + 1),
        table_size: Some(table.len()),
        best_query: best.query,
        queries: history.len(),
        failures: history.failures.len(),
        seconds: seconds_of(history, start.into()),
    })
}

/// Writes `history.json`, `history.csv`, `summary.json` and `best_so_far.svg` into `dir`
/// (each atomically).
pub fn write_run<A: Serialize>(
    dir: &Path,
    history: &SearchHistory<A>,
    summary: &Summary,
    label: impl Fn(&A) -> String,
) -> Result<(), CliError> {
    history.save_json(dir.join("history.json"))?;
    history.save_csv(dir.join("history.csv"), label)?;
    let json = serde_json::to_string_pretty(summary).map_err(|e| invalid(e.to_string()))?;
    dcl_graph::io::write_atomic(dir.join("summary.json"), json.as_bytes())?;
    let title = if summary.dataset.is_empty() {
        format!(
            "{} on {} (seed {})",
            summary.strategy, summary.space, summary.seed
        )
    } else {
        format!(
            "{} on {} {}/{} (seed {})",
            summary.strategy, summary.space, summary.dataset, summary.column, summary.seed
        )
    };
    let svg = plot::curves(
        &title,
        "best fitness so far",
        &[(summary.strategy.clone(), vec![history.best_so_far()])],
    )?;
    dcl_graph::io::write_atomic(dir.join("best_so_far.svg"), svg.as_bytes())?;
    Ok(())
}

/// The `report` command's arguments.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The run directory (it must hold a journal).
    pub dir: PathBuf,
    /// Write the history files, summary and plot here instead of into DIR.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `dcl-enas report DIR`: rebuilds the history from the journal alone and rewrites the
/// history files, summary and plot (the summary's `seconds` is then the journalled evaluation
/// time, not the search's wall time), in DIR or in `--out`. A run still going (another
/// process holds DIR's lock) is only read: its summary line is printed, and its files are
/// written only to `--out`.
pub fn run(args: &ReportArgs) -> Result<(), CliError> {
    let (header, _) = Journal::<serde_json::Value>::read(&args.dir)?;
    // Where the files go, held for the writing: DIR (unless a live run holds it), or --out.
    let (out, _lock) = match &args.out {
        Some(out) => (Some(out.clone()), crate::run_dir::lock(out, "--out")?),
        None => match crate::run_dir::try_lock(&args.dir, "DIR")? {
            Ok(lock) => (Some(args.dir.clone()), lock),
            Err(holder) => {
                eprintln!(
                    "{} is in use by {}: its files are left alone (give --out to write them \
                     elsewhere); the summary so far:",
                    args.dir.display(),
                    holder.map_or_else(|| "another process".to_owned(), |h| h.to_string())
                );
                (None, None)
            }
        },
    };
    let out = out.as_deref();
    let strategy = match header.strategy.as_str() {
        "regularized-evolution" => "re".to_owned(),
        s => s.to_owned(),
    };
    let table_view = || -> Result<RunView, CliError> {
        let setting = |key: &str| -> Result<serde_json::Value, CliError> {
            header.settings.get(key).cloned().ok_or_else(|| {
                invalid(format!(
                    "{}: the journal's header has no settings.{key} (not written by `dcl-enas search`)",
                    args.dir.display()
                ))
            })
        };
        Ok(RunView {
            strategy: strategy.clone(),
            seed: header.seed,
            dataset: serde_json::from_value(setting("dataset")?)
                .map_err(|e| invalid(e.to_string()))?,
            column: serde_json::from_value(setting("column")?)
                .map_err(|e| invalid(e.to_string()))?,
        })
    };
    // A run whose fitness came from the user's program has no table to rank against.
    let tabled = header.settings.get("evaluator").is_none();
    let summary = match header.space.as_str() {
        "nb201" if tabled => {
            let (h, records) = Journal::<Nb201Cell>::read(&args.dir)?;
            let history = SearchHistory::from_journal(&h, &records);
            let s = nb201_summary(&table_view()?, &history, None)?;
            write_to(out, &history, &s, |c| c.to_string())?;
            s
        }
        "nb101" if tabled => {
            let (h, records) = Journal::<Nb101Cell>::read(&args.dir)?;
            let history = SearchHistory::from_journal(&h, &records);
            let s = nb101_summary(&table_view()?, &history, None)?;
            write_to(out, &history, &s, nb101_label)?;
            s
        }
        "netspace" => {
            let (h, records) = Journal::<dcl_train::NetArch>::read(&args.dir)?;
            let history = SearchHistory::from_journal(&h, &records);
            let s = untabled_summary(
                &h.space,
                &strategy,
                h.seed,
                &history,
                |a| a.to_string(),
                None,
            )?;
            write_to(out, &history, &s, |a| a.to_string())?;
            s
        }
        // Any other space: architectures as their JSON form (a text form as the text), no
        // table to rank against.
        _ => {
            let (h, records) = Journal::<serde_json::Value>::read(&args.dir)?;
            let history = SearchHistory::from_journal(&h, &records);
            let label = |a: &serde_json::Value| match a {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let s = untabled_summary(&h.space, &strategy, h.seed, &history, label, None)?;
            write_to(out, &history, &s, label)?;
            s
        }
    };
    println!("{}", summary.line());
    Ok(())
}

/// [`write_run`] into `dir`, if there is one.
fn write_to<A: Serialize>(
    dir: Option<&Path>,
    history: &SearchHistory<A>,
    summary: &Summary,
    label: impl Fn(&A) -> String,
) -> Result<(), CliError> {
    match dir {
        Some(dir) => write_run(dir, history, summary, label),
        None => Ok(()),
    }
}

/// The summary of a run without a table (an ECG search, your own space): the best fitness;
/// `seconds` since `start`, else the journalled evaluation time.
pub(crate) fn untabled_summary<A>(
    space: &str,
    strategy: &str,
    seed: u64,
    history: &SearchHistory<A>,
    label: impl Fn(&A) -> String,
    start: Option<Instant>,
) -> Result<Summary, CliError> {
    let best = history
        .best()
        .ok_or_else(|| invalid("the search made no successful query".into()))?;
    Ok(Summary {
        space: space.to_owned(),
        dataset: String::new(),
        column: String::new(),
        strategy: strategy.to_owned(),
        seed,
        best_arch: label(&best.arch),
        accuracy: best.fitness,
        rank: None,
        table_size: None,
        best_query: best.query,
        queries: history.len(),
        failures: history.failures.len(),
        seconds: seconds_of(history, start),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_has_every_field() {
        let s = Summary {
            space: "nb201".into(),
            dataset: "cifar10".into(),
            column: "test200".into(),
            strategy: "dcl-enas".into(),
            seed: 0,
            best_arch: "|a|".into(),
            accuracy: 94.373,
            rank: Some(1),
            table_size: Some(15625),
            best_query: 40,
            queries: 100,
            failures: 0,
            seconds: 21.44,
        };
        assert_eq!(
            s.line(),
            "best arch=|a| acc=94.37 rank=1/15625 queries=100 seconds=21.4"
        );
        let untabled = Summary {
            rank: None,
            table_size: None,
            ..s
        };
        assert_eq!(
            untabled.line(),
            "best arch=|a| fitness=94.3730 queries=100 failures=0 seconds=21.4"
        );
    }
}
