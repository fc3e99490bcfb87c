//! The predictor alone, as another NAS framework would use it: fine-tune it on the
//! architectures evaluated so far, rank the next candidates, measure how well it ranks.
//!
//! ```text
//! cargo run --release --example predictor_alone
//! ```
//!
//! NAS-Bench-201 CIFAR-10 (the embedded table) stands in for your evaluations: 156 labelled
//! cells, the other 15,469 ranked.

use dcl_bench::{Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_predictor::metrics::kendall_tau;
use dcl_predictor::{FinetuneConfig, ModelConfig, Nb201Space, Predictor, PretrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let table = Nb201Table::embedded()?;
    let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
    let space = Nb201Space::new();
    let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();

    // Stage 1, once per space: no label needed. Cached in a file, reused only by a run with
    // the same settings.
    let mut predictor: Predictor = Predictor::new(&space, ModelConfig::default(), 1)?;
    let cache = std::env::temp_dir().join("dcl-enas-example-nb201.dclpred");
    let stage1 = PretrainConfig {
        epochs: 2,
        ..Default::default()
    };
    match predictor.pretrain_cached(&cache, &space, &cells, &stage1)? {
        Some(r) => println!("stage 1: {} steps, saved to {}", r.steps, cache.display()),
        None => println!("stage 1: loaded {}", cache.display()),
    }

    // Stage 2 on what your framework has evaluated so far (every 100th cell here).
    let labelled: Vec<_> = table
        .records()
        .iter()
        .step_by(100)
        .map(|r| (r.cell, r.accuracy(metric)))
        .collect();
    let mut ranker = predictor.fork(0);
    ranker.finetune(&space, &labelled, &FinetuneConfig::default())?;

    // Rank the candidates your framework proposes (all the others here) and check.
    let others: Vec<_> = table
        .records()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 100 != 0)
        .map(|(_, r)| r)
        .collect();
    let candidates: Vec<_> = others.iter().map(|r| r.cell).collect();
    let scores: Vec<f64> = ranker
        .score(&space, &candidates)?
        .into_iter()
        .map(f64::from)
        .collect();
    let truth: Vec<f64> = others.iter().map(|r| r.accuracy(metric)).collect();
    let best = (0..scores.len())
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .ok_or("no candidate")?;
    println!(
        "{} labels: Kendall tau {:.3} over {} cells; top-ranked {} has {:.2} % (rank {} of {})",
        labelled.len(),
        kendall_tau(&truth, &scores)?,
        candidates.len(),
        candidates[best],
        truth[best],
        table.rank(&candidates[best], metric)?,
        table.len()
    );
    Ok(())
}
