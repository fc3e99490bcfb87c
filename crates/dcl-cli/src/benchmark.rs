//! `dcl-enas benchmark`: strategies × datasets × protocols × seeds on the benchmark tables.
//!
//! NB201 protocols: `test200` searches on the 200-epoch test accuracy and reports it;
//! `valid12` searches on the 12-epoch validation accuracy and reports the 200-epoch test
//! accuracy of the architecture it would pick (the best by the searched column). NB101: the
//! 20,001-cell table is the searchable space, search and report on the single-run 108-epoch
//! validation accuracy. Every strategy runs once per seed with the largest budget; smaller
//! budgets read the same run's history at that point. The predictor is pre-trained once per
//! space (seed 0) and forked for every seed and dataset. Ends with one line per configuration:
//! `search space=nb201 dataset=cifar10 protocol=test200 strategy=dcl-enas budget=100 mean=94.33 std=0.05 seeds=100 seconds_per_run=0.2`
//! (with `batch=k` after the strategy when the batch is not 1) and `optimum ...` lines with the
//! median number of queries to the searched column's optimum.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Table};
use dcl_evo::{
    DclEnas, DclEnasConfig, Driver, RandomSearch, RegularizedEvolution, SearchHistory, Strategy,
};
use dcl_graph::{FnEvaluator, GraphSpace, Nb101Space, Nb201Space, Subspace};
use dcl_predictor::{
    Engine, FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigFile, KeyFlag, flag_keys, key_flags};
use crate::flags::{
    DclEnasFlags, EvolutionFlags, FinetuneFlags, PretrainFlags, SeedsFlags, StrategyFlags,
};
use crate::search::{
    ALIASES, CONFIG_HELP, CONFIG_ONLY, ColumnName, DatasetName, RENAMED_REFIT, SpaceName,
    StrategyName, located, search_pretrain,
};
use crate::{CliError, config, invalid, plot};

/// Everything that decides a benchmark (the `benchmark` command's config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BenchmarkConfig {
    /// The space.
    pub space: SpaceName,
    /// NB201 datasets.
    pub datasets: Vec<DatasetName>,
    /// NB201 protocols (`test200`, `valid12`); NB101 has `valid108` only.
    pub protocols: Vec<ColumnName>,
    /// Budgets reported (the largest is run).
    pub budgets: Vec<usize>,
    /// Seeds per configuration.
    pub seeds: u64,
    /// First seed.
    pub seed_offset: u64,
    /// Strategies compared.
    pub strategies: Vec<StrategyName>,
    /// Architectures asked and evaluated together.
    pub batch: usize,
    /// DCL-ENAS's settings.
    pub dcl_enas: DclEnasConfig,
    /// Regularized evolution's settings.
    pub evolution: RegularizedEvolution,
    /// Stage 1 (once per space).
    pub pretrain: PretrainConfig,
    /// Stage 2: the predictor fine-tuned after each round.
    pub finetune: FinetuneConfig,
    /// The predictor's shape.
    pub model: ModelConfig,
    /// What runs the predictor's encoder in training: `native` (the default: this crate's
    /// CPU kernels, several times faster) or `burn` (burn's autodiff; numerically a different
    /// rounding of the same model).
    pub training_engine: Engine,
}

impl ConfigFile for BenchmarkConfig {
    const RENAMED: &'static [(&'static str, &'static str)] = RENAMED_REFIT;
}

impl Default for BenchmarkConfig {
    fn default() -> Self {
        Self {
            space: SpaceName::Nb201,
            datasets: vec![DatasetName::Cifar10],
            protocols: vec![ColumnName::Test200],
            budgets: vec![50, 100, 150],
            seeds: 30,
            seed_offset: 0,
            strategies: vec![
                StrategyName::Random,
                StrategyName::Re,
                StrategyName::DclEnas,
            ],
            batch: 1,
            dcl_enas: DclEnasConfig::default(),
            evolution: RegularizedEvolution::default(),
            pretrain: search_pretrain(),
            finetune: FinetuneConfig::search_default(),
            model: ModelConfig::default(),
            training_engine: Engine::default(),
        }
    }
}

/// The `benchmark` command's arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct BenchmarkArgs {
    /// Config file (TOML); flags override its keys.
    #[arg(long, help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Output directory for the config, summary, plots and histories (it must not hold a
    /// summary) [default: a new one under runs/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Space [default: nb201].
    #[arg(long, value_enum)]
    pub space: Option<SpaceName>,
    /// NB201 datasets, comma-separated [default: cifar10].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub dataset: Option<Vec<DatasetName>>,
    /// Protocols, comma-separated: test200, valid12 (nb201), valid108 (nb101) [default:
    /// test200, or valid108 on nb101].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub protocol: Option<Vec<ColumnName>>,
    /// Budgets reported, comma-separated, each at least 1 [default: 50,100,150].
    #[arg(long, value_delimiter = ',')]
    pub budget: Option<Vec<usize>>,
    /// Seeds.
    #[command(flatten)]
    pub seeds: SeedsFlags,
    /// Strategies, comma-separated [default: random,re,dcl-enas].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub strategies: Option<Vec<StrategyName>>,
    /// Architectures asked and evaluated together [default: 1].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Print every run's reported accuracy at each budget.
    #[arg(long)]
    pub per_seed: bool,
    /// Write every run's history as CSV under OUT/histories.
    #[arg(long)]
    pub histories: bool,
    /// Strategy and predictor settings.
    #[command(flatten)]
    pub strategy_settings: StrategyFlags,
    /// Regularized evolution's settings.
    #[command(flatten)]
    pub evolution_settings: EvolutionFlags,
}

/// Checks the seeds and budgets of a comparison over seeds (`benchmark`, `mo`); the error
/// names the flag and the key.
pub(crate) fn validate_seeds_and_budgets(
    space: SpaceName,
    seeds: u64,
    seed_offset: u64,
    budgets: &[usize],
) -> Result<(), CliError> {
    if seeds == 0 {
        return Err(invalid(
            "--seeds (key `seeds`) must be at least 1, got 0".into(),
        ));
    }
    if seed_offset.checked_add(seeds).is_none() {
        return Err(invalid(format!(
            "--seed-offset (key `seed_offset`) {} plus --seeds {} is past the largest seed",
            seed_offset, seeds
        )));
    }
    if budgets.is_empty() || budgets.contains(&0) {
        return Err(invalid(format!(
            "--budget (key `budgets`): every budget must be at least 1, got {:?}",
            budgets
        )));
    }
    for &b in budgets {
        space.check_budget(b, "--budget", "budgets")?;
    }
    Ok(())
}

/// The output directory of a comparison over seeds (`benchmark`, `mo`): `out`, or a fresh
/// `runs/{prefix}-...` directory; created and locked for the rest of the process (refused
/// while another process holds it), refused when it already holds a summary, with the config
/// saved in it.
pub(crate) fn new_out_dir<C: serde::Serialize>(
    out: Option<&std::path::PathBuf>,
    prefix: &str,
    seed_offset: u64,
    config: &C,
) -> Result<(std::path::PathBuf, Option<dcl_evo::RunLock>), CliError> {
    let out = out
        .cloned()
        .unwrap_or_else(|| dcl_evo::fresh_run_dir(prefix, seed_offset));
    let lock = crate::run_dir::lock(&out, "--out")?;
    if out.join(SUMMARY_FILE).exists() {
        return Err(invalid(format!(
            "--out {}: it holds the summary of another {prefix}; give a new directory",
            out.display()
        )));
    }
    config::save(config, &out.join("config.toml"))?;
    Ok((out, lock))
}

flag_keys!(BenchmarkArgs, &mut BenchmarkConfig, {
    space => space, dataset => datasets, protocol => protocols, budget => budgets,
    strategies => strategies, batch => batch,
});

impl BenchmarkArgs {
    /// Overrides `cfg`'s keys with the flags given.
    pub fn apply(&self, cfg: &mut BenchmarkConfig) {
        self.apply_keys(&mut *cfg);
        self.seeds.apply(&mut cfg.seeds, &mut cfg.seed_offset);
        self.evolution_settings.apply(&mut cfg.evolution);
        self.strategy_settings.apply(crate::strategy_settings!(cfg));
    }
}

/// The `benchmark` command's flag groups, each flag with its key.
const BENCHMARK_KEYS: &[&[(&str, &str)]] = &[
    BenchmarkArgs::KEYS,
    SeedsFlags::KEYS,
    DclEnasFlags::KEYS,
    PretrainFlags::KEYS,
    FinetuneFlags::KEYS,
    StrategyFlags::KEYS,
    EvolutionFlags::KEYS,
];

/// The `benchmark` command's key → flag map, for error messages.
fn benchmark_flags() -> Vec<KeyFlag> {
    key_flags(
        &BenchmarkArgs::augment_args(clap::Command::new("benchmark")),
        BENCHMARK_KEYS,
        CONFIG_ONLY,
        ALIASES,
    )
}

impl BenchmarkConfig {
    /// Checks every setting before any work; the error names the flag and the key.
    pub fn validate(&self) -> Result<(), CliError> {
        validate_seeds_and_budgets(self.space, self.seeds, self.seed_offset, &self.budgets)?;
        for (key, empty) in [
            ("strategies", self.strategies.is_empty()),
            ("datasets", self.datasets.is_empty()),
            ("protocols", self.protocols.is_empty()),
        ] {
            if empty {
                return Err(invalid(format!("key `{key}` must not be empty")));
            }
        }
        for &p in &self.protocols {
            let ok = match self.space {
                SpaceName::Nb201 => p != ColumnName::Valid108,
                SpaceName::Nb101 => p == ColumnName::Valid108,
            };
            if !ok {
                return Err(invalid(format!(
                    "--protocol (key `protocols`): {} has no protocol {}",
                    self.space.name(),
                    p.name()
                )));
            }
        }
        let budget = self.budgets.iter().copied().max().unwrap_or(1);
        let flags = benchmark_flags();
        located(
            "",
            &flags,
            Driver {
                batch_size: self.batch,
                ..Driver::new(budget)
            }
            .validate(),
        )?;
        located(
            "dcl_enas",
            &flags,
            DclEnas::new(self.dcl_enas.clone()).validate(),
        )?;
        located("evolution", &flags, self.evolution.validate())?;
        if self.strategies.contains(&StrategyName::DclEnas) {
            located("pretrain", &flags, self.pretrain.validate())?;
            located("finetune", &flags, self.finetune.validate())?;
        }
        located("model", &flags, self.model.validate())?;
        Ok(())
    }
}

/// A column of the table, as a function of the architecture.
pub(crate) type Column<'a, A> = Box<dyn Fn(&A) -> f64 + Send + Sync + 'a>;

/// One benchmark setting: a space with its searched and reported columns.
struct Setting<'a, S: GraphSpace> {
    space: &'a S,
    name: String,
    search: Column<'a, S::Arch>,
    report: Column<'a, S::Arch>,
    /// The optimum of the searched column over the space.
    optimum: f64,
}

/// The summary file of a benchmark directory.
pub const SUMMARY_FILE: &str = "summary.txt";

/// Runs `dcl-enas benchmark`.
pub fn run(args: &BenchmarkArgs) -> Result<(), CliError> {
    let mut cfg = match &args.config {
        Some(file) => config::load::<BenchmarkConfig>(file)?,
        None => BenchmarkConfig::default(),
    };
    args.apply(&mut cfg);
    // NB101 has one column: naming the space picks it unless the protocols are named too.
    if args.space == Some(SpaceName::Nb101) && args.protocol.is_none() {
        cfg.protocols = vec![ColumnName::Valid108];
    }
    cfg.validate()?;
    let (out, _lock) = new_out_dir(args.out.as_ref(), "benchmark", cfg.seed_offset, &cfg)?;
    let mut summary = Vec::new();
    let wants_dcl = cfg.strategies.contains(&StrategyName::DclEnas);
    match cfg.space {
        SpaceName::Nb201 => {
            let table = Nb201Table::embedded()?;
            let space = Nb201Space::new();
            let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let pretrained = pretrained(&cfg, &space, &cells, wants_dcl)?;
            for &d in &cfg.datasets {
                for &p in &cfg.protocols {
                    let dataset = d.nb201();
                    let search_m = p.nb201(d);
                    let report_m = ColumnName::Test200.nb201(d);
                    let set = Setting {
                        space: &space,
                        name: format!(
                            "space=nb201 dataset={} protocol={}",
                            dataset.name(),
                            p.name()
                        ),
                        search: Box::new(move |a| table.accuracy(a, search_m).unwrap_or(f64::NAN)),
                        report: Box::new(move |a| table.accuracy(a, report_m).unwrap_or(f64::NAN)),
                        optimum: table.best(search_m).accuracy(search_m),
                    };
                    run_setting(&set, &pretrained, &cfg, args, &out, &mut summary)?;
                }
            }
        }
        SpaceName::Nb101 => {
            let table = Nb101Table::subset20k()?;
            let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let space = Subspace::new(Nb101Space::new(), cells.clone())?;
            let pretrained = pretrained(&cfg, &space, &cells, wants_dcl)?;
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
            run_setting(&set, &pretrained, &cfg, args, &out, &mut summary)?;
        }
    }
    let mut text = summary.join("\n");
    text.push('\n');
    dcl_graph::io::write_atomic(out.join(SUMMARY_FILE), text.as_bytes())?;
    for line in &summary {
        println!("{line}");
    }
    Ok(())
}

/// The predictor pre-trained once for every seed (seed 0), or a fresh one when no strategy
/// needs it.
fn pretrained<S: GraphSpace>(
    cfg: &BenchmarkConfig,
    space: &S,
    cells: &[S::Arch],
    wanted: bool,
) -> Result<Predictor, CliError> {
    let mut p: Predictor = Predictor::new(space, cfg.model, 0)?;
    p.set_training_engine(cfg.training_engine);
    if wanted {
        let r = p.pretrain(space, cells, &cfg.pretrain)?;
        println!(
            "pretrain space={} cells={} steps={} seconds={:.1} (once, shared by every seed and dataset)",
            cfg.space.name(),
            cells.len(),
            r.steps,
            r.seconds
        );
    }
    Ok(p)
}

/// The ask/tell strategy `name` for one seeded run.
fn strategy<'s, S: GraphSpace>(
    name: StrategyName,
    space: &'s S,
    pretrained: &Predictor,
    cfg: &BenchmarkConfig,
    seed: u64,
) -> Result<Box<dyn Strategy<S> + 's>, CliError> {
    let rng = ChaCha8Rng::seed_from_u64(seed);
    Ok(match name {
        StrategyName::Random => Box::new(RandomSearch.start(space, rng)),
        StrategyName::Re => Box::new(cfg.evolution.start(space, rng)?),
        StrategyName::DclEnas => {
            let surrogate =
                PredictorSurrogate::new(pretrained.fork(seed), cfg.finetune.clone(), seed);
            Box::new(DclEnas::new(cfg.dcl_enas.clone()).start(space, surrogate, rng)?)
        }
    })
}

fn run_setting<S: GraphSpace>(
    set: &Setting<'_, S>,
    pretrained: &Predictor,
    cfg: &BenchmarkConfig,
    args: &BenchmarkArgs,
    out: &Path,
    summary: &mut Vec<String>,
) -> Result<(), CliError>
where
    S::Arch: serde::Serialize + serde::de::DeserializeOwned,
{
    let budget = cfg.budgets.iter().copied().max().unwrap_or(1);
    let driver = Driver {
        batch_size: cfg.batch,
        ..Driver::new(budget)
    };
    let batch = if cfg.batch == 1 {
        String::new()
    } else {
        format!(" batch={}", cfg.batch)
    };
    let file_name = set.name.replace(['=', ' '], "_");
    let mut curves: Vec<(String, Vec<Vec<f64>>)> = Vec::new();
    for &name in &cfg.strategies {
        let start = Instant::now();
        let mut runs = Vec::new();
        let mut to_opt = Vec::new();
        for seed in cfg.seed_offset..cfg.seed_offset + cfg.seeds {
            let mut oracle = FnEvaluator::new(|a: &S::Arch| (set.search)(a));
            let mut search = strategy(name, set.space, pretrained, cfg, seed)?;
            let h: SearchHistory<S::Arch> =
                driver.run(search.as_mut(), set.space, &mut oracle, None, &mut |_| {})?;
            let first = h.queries.iter().position(|q| q.fitness >= set.optimum);
            to_opt.push(first.map_or(f64::INFINITY, |i| (i + 1) as f64));
            if args.histories {
                let dir = out.join("histories");
                std::fs::create_dir_all(&dir)?;
                h.save_csv(
                    dir.join(format!(
                        "{file_name}_strategy_{}_seed_{seed}.csv",
                        name.name()
                    )),
                    |a| set.space.arch_text(a),
                )?;
            }
            let c = h.reported_curve(|a| (set.report)(a), budget);
            if args.per_seed {
                let at: Vec<String> = cfg
                    .budgets
                    .iter()
                    .map(|&b| format!("at{b}={:.2}", c[b - 1]))
                    .collect();
                println!(
                    "  run {} strategy={}{batch} seed={seed} {} first_optimum={}",
                    set.name,
                    name.name(),
                    at.join(" "),
                    first.map_or("none".to_string(), |i| (i + 1).to_string())
                );
            }
            runs.push(c);
        }
        let secs = start.elapsed().as_secs_f64() / cfg.seeds as f64;
        for &b in &cfg.budgets {
            let at: Vec<f64> = runs.iter().map(|c| c[b - 1]).collect();
            let (m, s) = dcl_evo::mean_std(&at);
            summary.push(format!(
                "search {} strategy={}{batch} budget={b} mean={m:.2} std={s:.2} seeds={} seconds_per_run={secs:.1}",
                set.name,
                name.name(),
                runs.len()
            ));
        }
        let reached = to_opt.iter().filter(|x| x.is_finite()).count();
        let med = dcl_evo::median(&to_opt);
        summary.push(format!(
            "optimum {} strategy={}{batch} median_queries={} reached={reached}/{}",
            set.name,
            name.name(),
            if med.is_finite() {
                format!("{med:.0}")
            } else {
                format!(">{budget}")
            },
            runs.len()
        ));
        println!("{}", summary[summary.len() - 1]);
        curves.push((name.name().to_owned(), runs));
    }
    let svg = plot::curves(
        &format!("{} ({} seeds)", set.name, cfg.seeds),
        "reported accuracy (%)",
        &curves,
    )?;
    let file = out.join(format!("search_{file_name}.svg"));
    dcl_graph::io::write_atomic(&file, svg.as_bytes())?;
    println!("plot {}", file.display());
    Ok(())
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    #[test]
    fn every_benchmark_flag_sets_its_key_and_every_key_names_its_flag() {
        crate::config::check_command::<BenchmarkArgs, BenchmarkConfig>(
            BENCHMARK_KEYS,
            CONFIG_ONLY,
            &["config", "out", "per_seed", "histories"],
            &[],
            &[],
            &|a, cfg| a.apply(cfg),
        );
        let flags = benchmark_flags();
        assert!(
            flags
                .iter()
                .any(|f| f.key == "datasets" && f.flag == "--dataset")
        );
    }
}
