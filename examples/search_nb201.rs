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

use std::time::Instant;

use clap::Parser;
use dcl_bench::{CountingOracle, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_evo::{DclEnas, DclEnasConfig};
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
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let start = Instant::now();
    let dataset = Nb201Dataset::from_name(&args.dataset).ok_or("unknown dataset")?;
    let column = Nb201Column::from_name(&args.column).ok_or("unknown column")?;
    let metric = Nb201Metric::new(dataset, column);
    let table = Nb201Table::embedded()?;
    let space = Nb201Space::new();

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
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let search = DclEnas::new(DclEnasConfig::default());
    let mut last_shown = 0;
    let history = search.run_observed(
        &space,
        &mut oracle,
        &mut surrogate,
        args.budget,
        &mut rng,
        &mut |q| {
            if q.query / 10 > last_shown || q.query == args.budget {
                last_shown = q.query / 10;
                println!("  query {:>4}: {:.2} ({})", q.query, q.fitness, q.arch);
            }
        },
    )?;
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
        oracle.queries(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
