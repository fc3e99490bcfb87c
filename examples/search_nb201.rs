//! DCL-ENAS on NAS-Bench-201 (the embedded table as the true-fitness oracle).
//!
//! ```text
//! cargo run --release --example search_nb201
//! cargo run --release --example search_nb201 -- --dataset cifar100 --budget 100 --seed 3
//! ```
//!
//! Pre-trains the predictor label-free on all 15,625 cells, then searches with a budget of
//! true evaluations (table look-ups, counted), refitting the predictor after every round. Ends
//! with a line like
//! `best arch=|nor_conv_3x3~0|+|...| acc=94.37 rank=1/15625 queries=100 seconds=21.4`
//! where `acc` is the searched column (200-epoch test accuracy by default) and `rank` the
//! found cell's rank in that column over the whole space.
//!
//! Every run journals its queries in a run directory (`--run-dir DIR`, by default a new one
//! under `runs/`): `--run-dir DIR` journals every query there (`DIR/journal.jsonl`, one JSON line each, synced
//! as it is made) and writes `DIR/history.json` at the end; a run killed on the way is resumed
//! with the same flags and `--resume DIR` in place of `--run-dir DIR`, and ends with the same
//! result as if it had never stopped.

use std::time::Instant;

use clap::Parser;
use dcl_bench::{CountingOracle, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_evo::{DclEnas, DclEnasConfig, Driver, Journal, JournalHeader, fresh_run_dir};
use dcl_predictor::{
    FinetuneConfig, ModelConfig, Nb201Space, Predictor, PredictorSurrogate, PretrainConfig,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Parser, Debug)]
struct Args {
    /// cifar10, cifar100 or imagenet16.
    #[arg(long, default_value = "cifar10")]
    dataset: String,
    /// The column searched: test200 or valid12.
    #[arg(long, default_value = "test200")]
    column: String,
    /// True evaluations allowed.
    #[arg(long, default_value_t = 100)]
    budget: usize,
    /// Seed of the whole run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Label-free pre-training epochs over the 15,625 cells.
    #[arg(long, default_value_t = 2)]
    pretrain_epochs: usize,
    /// Architectures asked and evaluated together.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Journal the run in this new directory (refused if it holds a journal already); by
    /// default a new one under `runs/`.
    #[arg(long, conflicts_with = "resume")]
    run_dir: Option<std::path::PathBuf>,
    /// Resume the run journalled in this directory (same flags as the run that wrote it).
    #[arg(long)]
    resume: Option<std::path::PathBuf>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let start = Instant::now();
    let dataset = Nb201Dataset::from_name(&args.dataset).ok_or("unknown dataset")?;
    let column = Nb201Column::from_name(&args.column).ok_or("unknown column")?;
    let metric = Nb201Metric::new(dataset, column);
    let table = Nb201Table::embedded()?;
    let space = Nb201Space::new();
    let search = DclEnas::new(DclEnasConfig::default());
    let driver = Driver {
        batch_size: args.batch,
        ..Driver::new(args.budget)
    };
    driver.validate()?;
    search.validate()?;
    // Everything that decides the run is in the header: a resume with other flags is refused.
    let header = JournalHeader::new("dcl-enas", &search.config, "nb201", args.seed, driver)
        .with_settings(&serde_json::json!({
            "metric": metric.to_string(),
            "pretrain_epochs": args.pretrain_epochs,
            "model": ModelConfig::default(),
            "finetune": FinetuneConfig::search_default(),
        }));
    let new_dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| fresh_run_dir("search_nb201", args.seed));
    let run_dir = args.resume.clone().unwrap_or_else(|| new_dir.clone());
    let journal = match &args.resume {
        None => {
            let j = Journal::create(&new_dir, header)?;
            println!(
                "journal: {} (if this run is killed, resume it with the same flags and --resume {})",
                j.path().display(),
                new_dir.display()
            );
            j
        }
        Some(dir) => {
            let j = Journal::resume(dir, header)?;
            println!(
                "resuming {}: {} journalled evaluations{}",
                dir.display(),
                j.records().len(),
                if j.dropped_torn_line() {
                    " (a torn last line dropped)"
                } else {
                    ""
                }
            );
            j
        }
    };
    let mut journal = Some(journal);

    println!(
        "stage 1: label-free pre-training on all {} cells ...",
        table.len()
    );
    let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
    let mut predictor: Predictor = Predictor::new(&space, ModelConfig::default(), args.seed)?;
    let report = predictor.pretrain(
        &space,
        &cells,
        &PretrainConfig {
            epochs: args.pretrain_epochs,
            ..Default::default()
        },
    )?;
    println!(
        "  {} steps, InfoNCE {:.3}, {:.1} s",
        report.steps, report.final_loss, report.seconds
    );

    println!(
        "search: DCL-ENAS on {metric}, budget {} queries ...",
        args.budget
    );
    let mut surrogate =
        PredictorSurrogate::new(predictor, FinetuneConfig::search_default(), args.seed);
    let mut oracle = CountingOracle::new(table, metric);
    let rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut state = search.start(&space, &mut surrogate, rng)?;
    let mut last_shown = 0;
    let history = driver.run(
        &mut state,
        &space,
        &mut oracle,
        journal.as_mut(),
        &mut |q| {
            if q.query / 10 > last_shown || q.query == args.budget {
                last_shown = q.query / 10;
                println!("  query {:>4}: {:.2} ({})", q.query, q.fitness, q.arch);
            }
        },
    )?;
    drop(state);
    history.save_json(run_dir.join("history.json"))?;
    let best = history.best().ok_or("no query was made")?;
    let rank = table.rank(&best.arch, metric)?;
    println!(
        "  evaluator {:.2} s, predictor {:.1} s, {} refits",
        history.evaluator_seconds,
        history.surrogate_seconds,
        surrogate.refits()
    );
    println!(
        "best arch={} acc={:.2} rank={}/{} queries={} seconds={:.1}",
        best.arch,
        best.fitness,
        rank,
        table.len(),
        history.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
