//! How the cost of a DCL-ENAS search grows with its budget on NAS-Bench-201, and what a cap on
//! the refit's optimiser steps (`finetune.max_steps`, `--finetune-max-steps`) saves and costs.
//!
//! Each run is `dcl-enas search` with the program's defaults (NB201 CIFAR-10 test200, one
//! architecture at a time; `SearchConfig::default()`) and one refit setting, driven here so
//! that every refit is timed: the predictor surrogate is wrapped in a stopwatch. The search
//! is the same as the program's for the same seed (same config, seed, RNG and surrogate); a
//! run of budget B passes through the runs of every smaller budget, so one run to the largest
//! budget is read at each checkpoint.
//!
//! ```text
//! cargo bench --bench budget_scaling -- --budget 1000 --checkpoints 100,300,1000 \
//!     --seeds 0,1,2 --refit-max-steps none,100 --training-engine burn \
//!     --out docs/results/budget_scaling
//! ```
//!
//! Each (cap, seed) run is saved as `OUT/run-CAP-seedS.json` as it ends, and a run already
//! there is read back instead of run again, so an interrupted command goes on where it
//! stopped. Ends with one line per cap and checkpoint:
//! `scaling engine=E refit_max_steps=C budget=B search_seconds=M±S refit_seconds=M±S
//! round_seconds=M±S acc=M±S rank=M±S seeds=N`
//! (`refit_seconds`/`round_seconds`: the mean of the last five refits/rounds before the
//! checkpoint; `search_seconds`: from the first query to the checkpoint, stage 1 excluded) and
//! writes `OUT/round_seconds.svg`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use clap::Parser;
use dcl_bench::{CountingOracle, Nb201Table};
use dcl_cli::search::SearchConfig;
use dcl_evo::{DclEnas, SearchSpace, Surrogate, mean_std};
use dcl_predictor::{Engine, Nb201Space, Predictor, PredictorSurrogate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Parser)]
struct Args {
    /// Queries of each run.
    #[arg(long, default_value_t = 100)]
    budget: usize,
    /// Budgets reported (each at most --budget).
    #[arg(long, value_delimiter = ',', default_value = "50,100")]
    checkpoints: Vec<usize>,
    /// Search seeds.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    seeds: Vec<u64>,
    /// Refit step caps: `none` or a number of optimiser steps.
    #[arg(long, value_delimiter = ',', default_value = "none,100")]
    refit_max_steps: Vec<String>,
    /// What trains the predictor's encoder: burn (the program's default) or native.
    #[arg(long, default_value = "burn")]
    training_engine: Engine,
    /// Directory of the runs (resumable) and the plot.
    #[arg(long, default_value = "results/budget_scaling")]
    out: PathBuf,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One round: the refit that ends it, and the whole round's wall time.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Round {
    /// Labelled architectures the refit learnt from (= queries so far).
    labels: usize,
    /// Seconds of the refit.
    refit_seconds: f64,
    /// Seconds from the end of the previous refit to the end of this one: scoring and
    /// evolving offspring, the round's table look-ups, and the refit.
    round_seconds: f64,
}

/// One run to the full budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Run {
    engine: String,
    refit_max_steps: Option<usize>,
    seed: u64,
    pretrain_seconds: f64,
    /// Seconds from the search's start to each query's outcome.
    query_seconds: Vec<f64>,
    /// Each query's fitness (test200 accuracy) and architecture.
    query_fitness: Vec<f64>,
    query_arch: Vec<String>,
    rounds: Vec<Round>,
}

/// Times every refit of the surrogate it wraps.
struct Stopwatch<P> {
    inner: P,
    rounds: Rc<RefCell<Vec<Round>>>,
    last_refit_end: Option<Instant>,
}

impl<S: SearchSpace, P: Surrogate<S>> Surrogate<S> for Stopwatch<P> {
    type Error = P::Error;
    fn score(&mut self, space: &S, archs: &[S::Arch]) -> Result<Vec<f64>, P::Error> {
        self.inner.score(space, archs)
    }
    fn learn(&mut self, space: &S, labelled: &[(S::Arch, f64)]) -> Result<(), P::Error> {
        let t = Instant::now();
        let r = self.inner.learn(space, labelled);
        let end = Instant::now();
        self.rounds.borrow_mut().push(Round {
            labels: labelled.len(),
            refit_seconds: (end - t).as_secs_f64(),
            round_seconds: self
                .last_refit_end
                .map_or((end - t).as_secs_f64(), |l| (end - l).as_secs_f64()),
        });
        self.last_refit_end = Some(end);
        r
    }
    fn min_labels(&self) -> usize {
        self.inner.min_labels()
    }
}

fn cap_name(cap: Option<usize>) -> String {
    cap.map_or_else(|| "none".to_owned(), |c| c.to_string())
}

fn run_one(
    args: &Args,
    cap: Option<usize>,
    seed: u64,
    table: &'static Nb201Table,
) -> Result<Run, Box<dyn std::error::Error>> {
    let mut cfg = SearchConfig {
        seed,
        budget: args.budget,
        training_engine: args.training_engine,
        ..SearchConfig::default()
    };
    cfg.finetune.max_steps = cap;
    cfg.validate()?;
    let space = Nb201Space::new();
    let metric = cfg.column().nb201(cfg.dataset);
    let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
    // As `dcl-enas search` builds its DCL-ENAS search.
    let t = Instant::now();
    let mut predictor: Predictor = Predictor::new(&space, cfg.model, cfg.seed)?;
    predictor.set_training_engine(cfg.training_engine);
    predictor.pretrain(&space, &cells, &cfg.pretrain)?;
    let pretrain_seconds = t.elapsed().as_secs_f64();
    let rounds = Rc::new(RefCell::new(Vec::new()));
    let surrogate = Stopwatch {
        inner: PredictorSurrogate::new(predictor, cfg.finetune.clone(), cfg.seed),
        rounds: rounds.clone(),
        last_refit_end: None,
    };
    let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut search = DclEnas::new(cfg.dcl_enas.clone()).start(&space, surrogate, rng)?;
    let mut oracle = CountingOracle::new(table, metric);
    let start = Instant::now();
    let mut query_seconds = Vec::with_capacity(args.budget);
    let history = cfg
        .driver()
        .run(&mut search, &space, &mut oracle, None, &mut |_| {
            query_seconds.push(start.elapsed().as_secs_f64());
        })?;
    drop(search);
    let rounds = rounds.borrow().clone();
    Ok(Run {
        engine: cfg.training_engine.to_string(),
        refit_max_steps: cap,
        seed,
        pretrain_seconds,
        query_seconds,
        query_fitness: history.queries.iter().map(|q| q.fitness).collect(),
        query_arch: history.queries.iter().map(|q| q.arch.to_string()).collect(),
        rounds,
    })
}

fn load_or_run(
    args: &Args,
    cap: Option<usize>,
    seed: u64,
    table: &'static Nb201Table,
) -> Result<Run, Box<dyn std::error::Error>> {
    let path = args.out.join(format!(
        "run-{}-{}-seed{seed}.json",
        args.training_engine,
        cap_name(cap)
    ));
    if let Ok(text) = std::fs::read_to_string(&path) {
        let run: Run = serde_json::from_str(&text)?;
        if run.query_fitness.len() >= args.budget {
            eprintln!("read back {}", path.display());
            return Ok(run);
        }
    }
    eprintln!(
        "running engine={} refit_max_steps={} seed={seed} budget={}",
        args.training_engine,
        cap_name(cap),
        args.budget
    );
    let run = run_one(args, cap, seed, table)?;
    dcl_graph::io::write_atomic(&path, serde_json::to_string(&run)?.as_bytes())?;
    eprintln!(
        "run engine={} refit_max_steps={} seed={seed}: {:.1} s (stage 1 {:.1} s)",
        run.engine,
        cap_name(cap),
        run.query_seconds.last().copied().unwrap_or(0.0),
        run.pretrain_seconds
    );
    Ok(run)
}

fn fmt((m, s): (f64, f64), digits: usize) -> String {
    format!("{m:.digits$}±{s:.digits$}")
}

/// Mean of the last five values before (and including) the round ending at `budget` queries.
fn last_five(rounds: &[Round], budget: usize, value: impl Fn(&Round) -> f64) -> f64 {
    let before: Vec<f64> = rounds
        .iter()
        .filter(|r| r.labels <= budget)
        .map(value)
        .collect();
    let tail = &before[before.len().saturating_sub(5)..];
    tail.iter().sum::<f64>() / tail.len().max(1) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.checkpoints.iter().any(|&b| b == 0 || b > args.budget) || args.seeds.is_empty() {
        return Err("every checkpoint must be in 1..=--budget, and --seeds non-empty".into());
    }
    let caps = args
        .refit_max_steps
        .iter()
        .map(|c| match c.as_str() {
            "none" => Ok(None),
            n => n
                .parse::<usize>()
                .map(Some)
                .map_err(|e| format!("{n}: {e}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::create_dir_all(&args.out)?;
    let table = Nb201Table::embedded()?;
    let metric = SearchConfig::default()
        .column()
        .nb201(SearchConfig::default().dataset);
    let mut lines = Vec::new();
    let mut series = Vec::new();
    for &cap in &caps {
        let runs = args
            .seeds
            .iter()
            .map(|&seed| load_or_run(&args, cap, seed, table))
            .collect::<Result<Vec<_>, _>>()?;
        for &b in &args.checkpoints {
            let mut acc = Vec::new();
            let mut rank = Vec::new();
            for run in &runs {
                let best = (0..b)
                    .max_by(|&i, &j| run.query_fitness[i].total_cmp(&run.query_fitness[j]))
                    .expect("a checkpoint of at least one query");
                let cell = run.query_arch[best].parse()?;
                acc.push(table.accuracy(&cell, metric)?);
                rank.push(table.rank(&cell, metric)? as f64);
            }
            let each = |f: &dyn Fn(&Run) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };
            lines.push(format!(
                "scaling engine={} refit_max_steps={} budget={b} search_seconds={} \
                 refit_seconds={} round_seconds={} acc={} rank={} seeds={}",
                args.training_engine,
                cap_name(cap),
                fmt(mean_std(&each(&|r: &Run| r.query_seconds[b - 1])), 1),
                fmt(
                    mean_std(&each(
                        &|r: &Run| last_five(&r.rounds, b, |x| x.refit_seconds)
                    )),
                    3
                ),
                fmt(
                    mean_std(&each(
                        &|r: &Run| last_five(&r.rounds, b, |x| x.round_seconds)
                    )),
                    3
                ),
                fmt(mean_std(&acc), 2),
                fmt(mean_std(&rank), 1),
                runs.len()
            ));
        }
        // Seconds of the round each query belongs to, per query, for the plot.
        let per_query: Vec<Vec<f64>> = runs
            .iter()
            .map(|run| {
                (1..=args.budget)
                    .map(|q| {
                        run.rounds
                            .iter()
                            .find(|r| r.labels >= q)
                            .or(run.rounds.last())
                            .map_or(f64::NAN, |r| r.round_seconds)
                    })
                    .collect()
            })
            .collect();
        series.push((format!("refit_max_steps={}", cap_name(cap)), per_query));
    }
    let svg = dcl_cli::plot::curves(
        &format!(
            "DCL-ENAS on NB201: seconds per round ({} engine)",
            args.training_engine
        ),
        "seconds per round",
        &series,
    )?;
    dcl_graph::io::write_atomic(
        Path::new(&args.out).join(format!("round_seconds_{}.svg", args.training_engine)),
        svg.as_bytes(),
    )?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
