//! Random search vs regularized evolution vs DCL-ENAS on the embedded benchmark tables.
//!
//! ```text
//! cargo run --release --example search_benchmark -- --dataset cifar10 --protocol test200 --seeds 100
//! cargo run --release --example search_benchmark -- --dataset cifar100,imagenet16 --protocol test200,valid12 --seeds 30
//! cargo run --release --example search_benchmark -- --space nb101 --budget 50,100,150 --seeds 30
//! ```
//!
//! NB201 protocols: `test200` searches on the 200-epoch test accuracy and reports it;
//! `valid12` searches on the 12-epoch validation accuracy and reports the 200-epoch test
//! accuracy of the architecture it would pick (the best by the searched column). NB101: the
//! 20,001-cell table is the searchable space (offspring are restricted to its cells), search and
//! report on the single-run 108-epoch validation accuracy.
//!
//! Strategies are ask/tell [`Strategy`] objects driven by a [`Driver`]: `--batch k` asks and
//! evaluates `k` architectures at a time (default 1, one at a time, which gives the same
//! searches as the strategies' `run`). Every strategy runs once per seed with the largest budget; smaller budgets read the same
//! run's history at that point (no strategy looks at the budget except to stop). The predictor
//! is pre-trained label-free once per space and serves every seed and dataset; that time is
//! printed once. Ends with one line per configuration:
//! `search space=nb201 dataset=cifar10 protocol=test200 strategy=dcl-enas budget=100 mean=94.33 std=0.05 seeds=100`
//! (with `batch=k` after the strategy when `--batch` is not 1)
//! and `optimum ...` lines with the median number of queries to reach the optimum of the
//! searched column. Curves (mean ± std of the reported accuracy against queries) are written
//! as SVG to `--out` (default `results/search`, outside the committed docs).

use std::time::Instant;

use clap::Parser;
use clap::ValueEnum;
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_evo::{
    DclEnas, DclEnasConfig, Driver, RandomSearch, RegularizedEvolution, SearchHistory, Strategy,
};
use dcl_predictor::{
    FinetuneConfig, ModelConfig, Nb101Space, Nb201Space, Predictor, PredictorSurrogate,
    PretrainConfig, RankingLoss, SearchSpace, Subspace,
};
use plotters::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Parser, Debug)]
struct Args {
    /// nb201 or nb101.
    #[arg(long, default_value = "nb201")]
    space: String,
    /// NB201 datasets: cifar10, cifar100, imagenet16.
    #[arg(long, value_delimiter = ',', default_value = "cifar10")]
    dataset: Vec<String>,
    /// NB201 protocols: test200, valid12.
    #[arg(long, value_delimiter = ',', default_value = "test200")]
    protocol: Vec<String>,
    /// Budgets reported (the largest is run).
    #[arg(long, value_delimiter = ',', default_value = "50,100,150")]
    budget: Vec<usize>,
    /// Seeds per configuration.
    #[arg(long, default_value_t = 30)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    seed_offset: u64,
    /// Strategies: random, re (regularized evolution), dcl-enas.
    #[arg(long, value_delimiter = ',', default_value = "random,re,dcl-enas")]
    strategies: Vec<StrategyName>,
    /// Architectures asked and evaluated together (synchronous batches).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Label-free pre-training epochs.
    #[arg(long, default_value_t = 2)]
    pretrain_epochs: usize,
    /// DCL-ENAS: architectures truly evaluated per round.
    #[arg(long, default_value_t = DclEnasConfig::default().infill)]
    infill: usize,
    /// DCL-ENAS: queries per round that explore (single mutations of the best so far, not
    /// ranked by the predictor).
    #[arg(long, default_value_t = DclEnasConfig::default().explore)]
    explore: usize,
    /// DCL-ENAS: random architectures truly evaluated before the first fit.
    #[arg(long, default_value_t = DclEnasConfig::default().initial)]
    initial: usize,
    /// DCL-ENAS: generations evolved on predicted fitness between rounds.
    #[arg(long, default_value_t = DclEnasConfig::default().generations)]
    generations: usize,
    /// DCL-ENAS: offspring bred per generation.
    #[arg(long, default_value_t = DclEnasConfig::default().offspring)]
    offspring: usize,
    /// DCL-ENAS: population size.
    #[arg(long, default_value_t = DclEnasConfig::default().population)]
    population: usize,
    /// DCL-ENAS: fine-tuning epochs per refit.
    #[arg(long, default_value_t = FinetuneConfig::search_default().epochs)]
    refit_epochs: usize,
    /// DCL-ENAS: loss of each refit, pairwise or rnc (Rank-N-Contrast + pairwise).
    #[arg(long, default_value = "pairwise")]
    refit_loss: String,
    /// Print every run's reported accuracy at each budget.
    #[arg(long)]
    per_seed: bool,
    /// Folder where every run's query history is written as CSV (none by default).
    #[arg(long)]
    history_dir: Option<String>,
    /// Folder for the SVG plots.
    #[arg(long, default_value = "results/search")]
    out: String,
}

/// The strategies compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StrategyName {
    /// Uniform random search.
    Random,
    /// Regularized evolution.
    Re,
    /// DCL-ENAS with the pre-trained predictor.
    DclEnas,
}

impl std::fmt::Display for StrategyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StrategyName::Random => "random",
            StrategyName::Re => "re",
            StrategyName::DclEnas => "dcl-enas",
        })
    }
}

/// The DCL-ENAS settings the flags give.
fn dcl_config(args: &Args) -> DclEnasConfig {
    DclEnasConfig {
        infill: args.infill,
        initial: args.initial,
        explore: args.explore,
        generations: args.generations,
        offspring: args.offspring,
        population: args.population,
        ..Default::default()
    }
}

/// The ask/tell strategy `name` for one seeded run.
fn strategy<'s, S: SearchSpace>(
    name: StrategyName,
    space: &'s S,
    pretrained: &Predictor,
    args: &Args,
    seed: u64,
) -> Result<Box<dyn Strategy<S> + 's>, Box<dyn std::error::Error>> {
    let rng = ChaCha8Rng::seed_from_u64(seed);
    Ok(match name {
        StrategyName::Random => Box::new(RandomSearch.start(space, rng)),
        StrategyName::Re => Box::new(RegularizedEvolution::default().start(space, rng)?),
        StrategyName::DclEnas => {
            let refit_loss = match args.refit_loss.as_str() {
                "pairwise" => RankingLoss::Pairwise,
                "rnc" => RankingLoss::RankNContrast { weight: 1.0 },
                other => return Err(format!("unknown refit loss {other}").into()),
            };
            let refit = FinetuneConfig {
                epochs: args.refit_epochs,
                loss: refit_loss,
                ..FinetuneConfig::search_default()
            };
            let surrogate = PredictorSurrogate::new(pretrained.fork(seed), refit, seed);
            Box::new(DclEnas::new(dcl_config(args)).start(space, surrogate, rng)?)
        }
    })
}

/// The reported-accuracy curve of one run: after each query, the reported accuracy of the
/// architecture that is best by the searched column so far.
fn curve<A>(h: &SearchHistory<A>, reported: impl Fn(&A) -> f64, budget: usize) -> Vec<f64> {
    let mut best: Option<&dcl_evo::QueryRecord<A>> = None;
    let mut out = Vec::with_capacity(budget);
    for q in &h.queries {
        if best.is_none_or(|b| q.fitness > b.fitness) {
            best = Some(q);
        }
        out.push(best.map_or(f64::NAN, |b| reported(&b.arch)));
    }
    // A run that stopped early (space exhausted) keeps its last value.
    while out.len() < budget {
        out.push(*out.last().unwrap_or(&f64::NAN));
    }
    out
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A column of the table, as a function of the architecture.
type Column<'a, A> = Box<dyn Fn(&A) -> f64 + 'a>;

struct Setting<'a, S: SearchSpace> {
    space: &'a S,
    name: String,
    /// The searched column's value (what the oracle answers).
    search: Column<'a, S::Arch>,
    /// The reported column's value.
    report: Column<'a, S::Arch>,
    /// The optimum of the searched column over the space.
    optimum: f64,
}

struct FnOracle<'a, S: SearchSpace>(&'a dyn Fn(&S::Arch) -> f64);

impl<S: SearchSpace> dcl_evo::Evaluator<S> for FnOracle<'_, S> {
    type Error = std::convert::Infallible;
    fn evaluate(&mut self, _: &S, a: &S::Arch) -> Result<f64, Self::Error> {
        Ok((self.0)(a))
    }
}

fn run_setting<S: SearchSpace>(
    set: &Setting<'_, S>,
    pretrained: &Predictor,
    args: &Args,
    summary: &mut Vec<String>,
) -> Result<(), Box<dyn std::error::Error>>
where
    S::Arch: serde::Serialize + serde::de::DeserializeOwned,
{
    let budget = *args.budget.iter().max().ok_or("no budget")?;
    let driver = Driver {
        batch_size: args.batch,
        ..Driver::new(budget)
    };
    driver.validate()?;
    let batch = if args.batch == 1 {
        String::new()
    } else {
        format!(" batch={}", args.batch)
    };
    let mut curves: Vec<(String, Vec<Vec<f64>>)> = Vec::new();
    for &name in &args.strategies {
        let start = Instant::now();
        let mut runs = Vec::new();
        let mut to_opt = Vec::new();
        for seed in args.seed_offset..args.seed_offset + args.seeds {
            let mut oracle = FnOracle::<S>(&*set.search);
            let mut search = strategy(name, set.space, pretrained, args, seed)?;
            let h = driver.run(search.as_mut(), set.space, &mut oracle, None, &mut |_| {})?;
            let first = h.queries.iter().position(|q| q.fitness >= set.optimum);
            to_opt.push(first.map_or(f64::INFINITY, |i| (i + 1) as f64));
            if let Some(dir) = &args.history_dir {
                std::fs::create_dir_all(dir)?;
                let file = format!(
                    "{dir}/{}_strategy_{name}_seed_{seed}.csv",
                    set.name.replace([' ', '='], "_")
                );
                h.save_csv(file, |a| format!("{a:?}"))?;
            }
            let c = curve(&h, &*set.report, budget);
            if args.per_seed {
                let at: Vec<String> = args
                    .budget
                    .iter()
                    .map(|&b| format!("at{b}={:.2}", c[b - 1]))
                    .collect();
                println!(
                    "  run {} strategy={name}{batch} seed={seed} {} first_optimum={}",
                    set.name,
                    at.join(" "),
                    first.map_or("none".to_string(), |i| (i + 1).to_string())
                );
            }
            runs.push(c);
        }
        let secs = start.elapsed().as_secs_f64() / args.seeds as f64;
        for &b in &args.budget {
            let at: Vec<f64> = runs.iter().map(|c| c[b - 1]).collect();
            let (m, s) = mean_std(&at);
            summary.push(format!(
                "search {} strategy={name}{batch} budget={b} mean={m:.2} std={s:.2} seeds={} seconds_per_run={secs:.1}",
                set.name,
                runs.len()
            ));
        }
        let reached = to_opt.iter().filter(|x| x.is_finite()).count();
        let med = median(to_opt.clone());
        summary.push(format!(
            "optimum {} strategy={name}{batch} median_queries={} reached={reached}/{}",
            set.name,
            if med.is_finite() {
                format!("{med:.0}")
            } else {
                format!(">{budget}")
            },
            runs.len()
        ));
        println!("{}", summary[summary.len() - 1]);
        curves.push((name.to_string(), runs));
    }
    plot(set, &curves, args, budget)?;
    Ok(())
}

fn plot<S: SearchSpace>(
    set: &Setting<'_, S>,
    curves: &[(String, Vec<Vec<f64>>)],
    args: &Args,
    budget: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&args.out)?;
    let file = format!(
        "{}/search_{}.svg",
        args.out,
        set.name.replace(['=', ' '], "_")
    );
    let stats: Vec<(String, Vec<(f64, f64)>)> = curves
        .iter()
        .map(|(name, runs)| {
            let per_q = (0..budget)
                .map(|q| mean_std(&runs.iter().map(|c| c[q]).collect::<Vec<_>>()))
                .collect();
            (name.clone(), per_q)
        })
        .collect();
    let start = 10.min(budget - 1);
    let lo = stats
        .iter()
        .flat_map(|(_, v)| v[start..].iter().map(|(m, s)| m - s))
        .fold(f64::MAX, f64::min);
    let hi = stats
        .iter()
        .flat_map(|(_, v)| v.iter().map(|(m, s)| m + s))
        .fold(f64::MIN, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{} ({} seeds)", set.name, args.seeds),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(1f64..budget as f64, lo..hi + 0.05 * (hi - lo).max(0.01))?;
        chart
            .configure_mesh()
            .x_desc("queries")
            .y_desc("reported accuracy (%)")
            .draw()?;
        let palette = [
            RGBColor(200, 50, 50),
            RGBColor(40, 90, 200),
            RGBColor(30, 150, 60),
            RGBColor(150, 50, 150),
        ];
        for (i, (name, v)) in stats.iter().enumerate() {
            let c = palette[i % palette.len()];
            chart.draw_series(std::iter::once(Polygon::new(
                (start..budget)
                    .map(|q| ((q + 1) as f64, v[q].0 + v[q].1))
                    .chain(
                        (start..budget)
                            .rev()
                            .map(|q| ((q + 1) as f64, v[q].0 - v[q].1)),
                    )
                    .collect::<Vec<_>>(),
                c.mix(0.15),
            )))?;
            chart
                .draw_series(LineSeries::new(
                    (start..budget).map(|q| ((q + 1) as f64, v[q].0)),
                    c.stroke_width(2),
                ))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        root.present()?;
    }
    dcl_graph::io::write_atomic(&file, svg.as_bytes())?;
    println!("plot {file}");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    if args.budget.is_empty() || args.budget.contains(&0) {
        return Err("--budget: every budget must be at least 1".into());
    }
    // The settings every seed uses, checked before pre-training.
    Driver {
        batch_size: args.batch,
        ..Driver::new(*args.budget.iter().max().unwrap_or(&1))
    }
    .validate()?;
    DclEnas::new(dcl_config(&args)).validate()?;
    let mut summary = Vec::new();
    let wants_dcl = args.strategies.contains(&StrategyName::DclEnas);
    match args.space.as_str() {
        "nb201" => {
            let table = Nb201Table::embedded()?;
            let space = Nb201Space::new();
            let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let mut pretrained: Predictor = Predictor::new(&space, ModelConfig::default(), 0)?;
            if wants_dcl {
                let r = pretrained.pretrain(
                    &space,
                    &cells,
                    &PretrainConfig {
                        epochs: args.pretrain_epochs,
                        ..Default::default()
                    },
                )?;
                println!(
                    "pretrain space=nb201 cells={} steps={} seconds={:.1} (once, shared by every seed and dataset)",
                    cells.len(),
                    r.steps,
                    r.seconds
                );
            }
            for d in &args.dataset {
                let dataset =
                    Nb201Dataset::from_name(d).ok_or_else(|| format!("unknown dataset {d}"))?;
                for p in &args.protocol {
                    let column = match p.as_str() {
                        "test200" => Nb201Column::Test200,
                        "valid12" => Nb201Column::Valid12,
                        other => return Err(format!("unknown protocol {other}").into()),
                    };
                    let search_m = Nb201Metric::new(dataset, column);
                    let report_m = Nb201Metric::new(dataset, Nb201Column::Test200);
                    let set = Setting {
                        space: &space,
                        name: format!("space=nb201 dataset={} protocol={p}", dataset.name()),
                        search: Box::new(move |a| table.accuracy(a, search_m).unwrap_or(f64::NAN)),
                        report: Box::new(move |a| table.accuracy(a, report_m).unwrap_or(f64::NAN)),
                        optimum: table.best(search_m).accuracy(search_m),
                    };
                    run_setting(&set, &pretrained, &args, &mut summary)?;
                }
            }
        }
        "nb101" => {
            let table = Nb101Table::subset20k()?;
            let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let space = Subspace::new(Nb101Space::new(), cells.clone())?;
            let mut pretrained: Predictor = Predictor::new(&space, ModelConfig::default(), 0)?;
            if wants_dcl {
                let r = pretrained.pretrain(
                    &space,
                    &cells,
                    &PretrainConfig {
                        epochs: args.pretrain_epochs,
                        ..Default::default()
                    },
                )?;
                println!(
                    "pretrain space=nb101 cells={} steps={} seconds={:.1} (once, shared by every seed)",
                    cells.len(),
                    r.steps,
                    r.seconds
                );
            }
            let m = Nb101Metric::VAL_108;
            let best = table
                .records()
                .iter()
                .filter_map(|r| r.get(m))
                .fold(f64::MIN, f64::max);
            let set = Setting {
                space: &space,
                name: "space=nb101 dataset=cifar10 protocol=valid108".to_owned(),
                search: Box::new(move |a| table.value(a, m).unwrap_or(f64::NAN)),
                report: Box::new(move |a| table.value(a, m).unwrap_or(f64::NAN)),
                optimum: best,
            };
            run_setting(&set, &pretrained, &args, &mut summary)?;
        }
        other => return Err(format!("unknown space {other}").into()),
    }
    for line in summary {
        println!("{line}");
    }
    Ok(())
}
