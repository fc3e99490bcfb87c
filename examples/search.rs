//! A DCL-ENAS search through the library API, in a few lines: pre-train the predictor on the
//! whole NAS-Bench-201 space without labels, then let it rank the offspring while the embedded
//! table answers the true evaluations.
//!
//! ```text
//! cargo run --release --example search
//! ```
//!
//! The `dcl-enas search` command does the same with a run directory, a journal, resume,
//! progress and plots; this is the part you would embed.

use dcl_bench::{CountingOracle, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_evo::{DclEnas, DclEnasConfig, Driver};
use dcl_predictor::{
    FinetuneConfig, ModelConfig, Nb201Space, Predictor, PredictorSurrogate, PretrainConfig,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = 0;
    let table = Nb201Table::embedded()?;
    let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
    let space = Nb201Space::new();

    // Stage 1: label-free, on every cell of the space.
    let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
    let mut predictor: Predictor = Predictor::new(&space, ModelConfig::default(), seed)?;
    let pretrain = PretrainConfig {
        epochs: 2,
        ..Default::default()
    };
    let report = predictor.pretrain(&space, &cells, &pretrain)?;
    println!(
        "stage 1: {} steps, InfoNCE {:.3}",
        report.steps, report.final_loss
    );

    // Stage 2 happens inside the search: the surrogate is refitted after every round.
    let mut surrogate = PredictorSurrogate::new(predictor, FinetuneConfig::search_default(), seed);
    let mut search = DclEnas::new(DclEnasConfig::default()).start(
        &space,
        &mut surrogate,
        ChaCha8Rng::seed_from_u64(seed),
    )?;
    let mut oracle = CountingOracle::new(table, metric);
    let history = Driver::new(100).run(&mut search, &space, &mut oracle, None, &mut |_| {})?;

    let best = history.best().ok_or("no query")?;
    println!(
        "best {} acc={:.2} rank={}/{} after {} queries ({} table look-ups)",
        best.arch,
        best.fitness,
        table.rank(&best.arch, metric)?,
        table.len(),
        history.len(),
        oracle.queries()
    );
    Ok(())
}
