//! `dcl-enas mo`: multi-objective search on the benchmark tables, accuracy against parameter
//! count (or, on NB201, FLOPs): random search, NSGA-II and multi-objective DCL-ENAS over seeds.
//!
//! The hypervolume is measured in a fixed frame ([`TableReference`]): accuracy and cost
//! normalised by the table's minimum and maximum, reference point at the table's median
//! accuracy and median cost. NB201: the 200-epoch test accuracy of the dataset, and the exact
//! cost of the CIFAR network built from the cell ([`Nb201Cost`]); NB101: the 20,001-cell
//! table, its single-run 108-epoch validation accuracy and its `params` column. Every strategy
//! runs once per seed with the largest budget; smaller budgets read the same run at that
//! point. Ends with one line per strategy and budget:
//! `mo space=nb201 dataset=cifar10 strategy=dcl-enas budget=150 hv=M±S hv_fraction=M±S seeds=30`
//! (`hv_fraction`: the strategy's mean hypervolume over the whole table's front's).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Cost, Nb201Table};
use dcl_evo::pareto::{TableReference, pareto_front};
use dcl_evo::{
    DclEnas, DclEnasConfig, Driver, FnEvaluator, InfillReference, MultiObjective, Nsga2,
    RandomSearch, SearchHistory, Strategy,
};
use dcl_graph::{GraphSpace, Nb101Space, Nb201Space, Subspace};
use dcl_predictor::{
    Engine, FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::benchmark::Column;
use crate::config::{ConfigFile, KeyFlag, flag_keys, key_flags};
use crate::flags::{
    DclEnasFlags, FinetuneFlags, MultiObjectiveFlags, PretrainFlags, SeedsFlags, StrategyFlags,
};
use crate::search::{
    ALIASES, CONFIG_HELP, CONFIG_ONLY, DatasetName, RENAMED_REFIT, SpaceName, located,
    search_pretrain,
};
use crate::{CliError, config, invalid, plot};

/// The multi-objective strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MoStrategyName {
    /// Uniform random search (the floor).
    Random,
    /// NSGA-II.
    Nsga2,
    /// Multi-objective DCL-ENAS.
    DclEnas,
}

impl MoStrategyName {
    /// The name in flags, files and summary lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Nsga2 => "nsga2",
            Self::DclEnas => "dcl-enas",
        }
    }
}

/// The infill reference of multi-objective DCL-ENAS ([`InfillReference`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InfillReferenceName {
    /// Beyond the worst labelled fitness and cost.
    Nadir,
    /// The labelled architectures' medians.
    Median,
}

impl From<InfillReferenceName> for InfillReference {
    fn from(name: InfillReferenceName) -> Self {
        name.reference()
    }
}

impl InfillReferenceName {
    /// The library's setting.
    pub fn reference(self) -> InfillReference {
        match self {
            Self::Nadir => InfillReference::Nadir,
            Self::Median => InfillReference::Median,
        }
    }
}

/// The cost set against accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CostName {
    /// Trainable parameters.
    Params,
    /// FLOPs of one image (NB201 only).
    Flops,
}

/// Everything that decides a multi-objective benchmark (the `mo` command's config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MoConfig {
    /// The space.
    pub space: SpaceName,
    /// NB201 dataset.
    pub dataset: DatasetName,
    /// The cost.
    pub cost: CostName,
    /// Budgets reported (the largest is run).
    pub budgets: Vec<usize>,
    /// Seeds per strategy.
    pub seeds: u64,
    /// First seed.
    pub seed_offset: u64,
    /// Strategies compared.
    pub strategies: Vec<MoStrategyName>,
    /// NSGA-II's settings.
    pub nsga2: Nsga2,
    /// DCL-ENAS's settings.
    pub dcl_enas: DclEnasConfig,
    /// Multi-objective DCL-ENAS's own settings.
    pub multiobjective: MultiObjective,
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

impl ConfigFile for MoConfig {
    const RENAMED: &'static [(&'static str, &'static str)] = RENAMED_REFIT;
}

impl Default for MoConfig {
    fn default() -> Self {
        Self {
            space: SpaceName::Nb201,
            dataset: DatasetName::Cifar10,
            cost: CostName::Params,
            budgets: vec![50, 100, 150],
            seeds: 30,
            seed_offset: 0,
            strategies: vec![
                MoStrategyName::Random,
                MoStrategyName::Nsga2,
                MoStrategyName::DclEnas,
            ],
            nsga2: Nsga2::default(),
            dcl_enas: DclEnasConfig::default(),
            multiobjective: MultiObjective::default(),
            pretrain: search_pretrain(),
            finetune: FinetuneConfig::search_default(),
            model: ModelConfig::default(),
            training_engine: Engine::default(),
        }
    }
}

/// The `mo` command's arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct MoArgs {
    /// Config file (TOML); flags override its keys.
    #[arg(long, help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Output directory for the config, summary and plots (it must not hold a summary)
    /// [default: a new one under runs/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Space [default: nb201].
    #[arg(long, value_enum)]
    pub space: Option<SpaceName>,
    /// NB201 dataset [default: cifar10].
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetName>,
    /// Cost set against accuracy [default: params].
    #[arg(long, value_enum)]
    pub cost: Option<CostName>,
    /// Budgets reported, comma-separated, each at least 1 [default: 50,100,150].
    #[arg(long, value_delimiter = ',')]
    pub budget: Option<Vec<usize>>,
    /// Seeds.
    #[command(flatten)]
    pub seeds: SeedsFlags,
    /// Strategies, comma-separated [default: random,nsga2,dcl-enas].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub strategies: Option<Vec<MoStrategyName>>,
    /// NSGA-II: population, at least 2 [default: 20].
    #[arg(long)]
    pub nsga2_population: Option<usize>,
    /// NSGA-II: crossover probability, in [0, 1] [default: 0.9].
    #[arg(long, allow_hyphen_values = true)]
    pub nsga2_crossover: Option<f64>,
    /// NSGA-II: mutation probability, in [0, 1] [default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub nsga2_mutation: Option<f64>,
    /// Multi-objective DCL-ENAS's settings.
    #[command(flatten)]
    pub multiobjective: MultiObjectiveFlags,
    /// Print every run's hypervolume at each budget.
    #[arg(long)]
    pub per_seed: bool,
    /// DCL-ENAS and predictor settings.
    #[command(flatten)]
    pub strategy_settings: StrategyFlags,
}

flag_keys!(MoArgs, &mut MoConfig, {
    space => space, dataset => dataset, cost => cost, budget => budgets,
    strategies => strategies, nsga2_population => nsga2.population,
    nsga2_crossover => nsga2.crossover_rate, nsga2_mutation => nsga2.mutation_rate,
});

impl MoArgs {
    /// Overrides `cfg`'s keys with the flags given.
    pub fn apply(&self, cfg: &mut MoConfig) {
        self.apply_keys(&mut *cfg);
        self.seeds.apply(&mut cfg.seeds, &mut cfg.seed_offset);
        self.multiobjective.apply(
            &mut cfg.multiobjective.reference,
            &mut cfg.multiobjective.sampled,
        );
        self.strategy_settings.apply(crate::strategy_settings!(cfg));
    }
}

/// The `mo` command's flag groups, each flag with its key.
const MO_KEYS: &[&[(&str, &str)]] = &[
    MoArgs::KEYS,
    SeedsFlags::KEYS,
    MultiObjectiveFlags::KEYS,
    DclEnasFlags::KEYS,
    PretrainFlags::KEYS,
    FinetuneFlags::KEYS,
    StrategyFlags::KEYS,
];

/// The `mo` command's key → flag map, for error messages.
fn mo_flags() -> Vec<KeyFlag> {
    key_flags(
        &MoArgs::augment_args(clap::Command::new("mo")),
        MO_KEYS,
        CONFIG_ONLY,
        ALIASES,
    )
}

impl MoConfig {
    /// Checks every setting before any work; the error names the flag and the key.
    pub fn validate(&self) -> Result<(), CliError> {
        crate::benchmark::validate_seeds_and_budgets(
            self.space,
            self.seeds,
            self.seed_offset,
            &self.budgets,
        )?;
        if self.strategies.is_empty() {
            return Err(invalid("key `strategies` must not be empty".into()));
        }
        if self.space == SpaceName::Nb101 && self.cost == CostName::Flops {
            return Err(invalid(
                "--cost (key `cost`): nb101's table has no FLOPs; use params".into(),
            ));
        }
        let flags = mo_flags();
        located("nsga2", &flags, self.nsga2.validate())?;
        located("multiobjective", &flags, self.multiobjective.validate())?;
        located(
            "dcl_enas",
            &flags,
            DclEnas::new(self.dcl_enas.clone()).validate(),
        )?;
        if self.strategies.contains(&MoStrategyName::DclEnas) {
            located("pretrain", &flags, self.pretrain.validate())?;
            located("finetune", &flags, self.finetune.validate())?;
        }
        located("model", &flags, self.model.validate())?;
        Ok(())
    }

    fn name(&self) -> String {
        match self.space {
            SpaceName::Nb201 => format!("space=nb201 dataset={}", self.dataset.nb201().name()),
            SpaceName::Nb101 => "space=nb101 dataset=cifar10".to_owned(),
        }
    }
}

/// The summary file of an `mo` directory.
pub const SUMMARY_FILE: &str = "summary.txt";

/// One table: its space, and accuracy and cost as functions of the architecture.
struct Table<'a, S: GraphSpace> {
    space: &'a S,
    archs: Vec<S::Arch>,
    accuracy: Column<'a, S::Arch>,
    cost: Column<'a, S::Arch>,
}

/// Runs `dcl-enas mo`.
pub fn run(args: &MoArgs) -> Result<(), CliError> {
    let mut cfg = match &args.config {
        Some(file) => config::load::<MoConfig>(file)?,
        None => MoConfig::default(),
    };
    args.apply(&mut cfg);
    cfg.validate()?;
    let (out, _lock) =
        crate::benchmark::new_out_dir(args.out.as_ref(), "mo", cfg.seed_offset, &cfg)?;
    let summary = match cfg.space {
        SpaceName::Nb201 => {
            let table = Nb201Table::embedded()?;
            let space = Nb201Space::new();
            let dataset = cfg.dataset.nb201();
            let metric = crate::search::ColumnName::Test200.nb201(cfg.dataset);
            let cost = cfg.cost;
            let t = Table {
                space: &space,
                archs: table.records().iter().map(|r| r.cell).collect(),
                accuracy: Box::new(move |a| table.accuracy(a, metric).unwrap_or(f64::NAN)),
                cost: Box::new(move |a| {
                    let c = Nb201Cost::of(a, dataset);
                    match cost {
                        CostName::Params => c.params as f64,
                        CostName::Flops => c.flops as f64,
                    }
                }),
            };
            run_table(&t, &cfg, args, &out)?
        }
        SpaceName::Nb101 => {
            let table = Nb101Table::subset20k()?;
            let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let space = Subspace::new(Nb101Space::new(), cells.clone())?;
            let t = Table {
                space: &space,
                archs: cells,
                accuracy: Box::new(move |a| {
                    table.value(a, Nb101Metric::VAL_108).unwrap_or(f64::NAN)
                }),
                cost: Box::new(move |a| table.value(a, Nb101Metric::Params).unwrap_or(f64::NAN)),
            };
            run_table(&t, &cfg, args, &out)?
        }
    };
    let mut text = summary.join("\n");
    text.push('\n');
    dcl_graph::io::write_atomic(out.join(SUMMARY_FILE), text.as_bytes())?;
    for line in &summary {
        println!("{line}");
    }
    Ok(())
}

/// The hypervolume after each query of `history` (failures add nothing).
fn hypervolume_curve<A>(
    history: &SearchHistory<A>,
    frame: &TableReference,
    cost: &dyn Fn(&A) -> f64,
    budget: usize,
) -> Vec<f64> {
    let mut points = Vec::with_capacity(budget);
    let mut curve = Vec::with_capacity(budget);
    for q in history.queries.iter().take(budget) {
        points.push((q.fitness, cost(&q.arch)));
        curve.push(frame.hypervolume(&points));
    }
    // A run cut short (the space used up) keeps its last value.
    let last = curve.last().copied().unwrap_or(0.0);
    curve.resize(budget, last);
    curve
}

fn run_table<S: GraphSpace>(
    t: &Table<'_, S>,
    cfg: &MoConfig,
    args: &MoArgs,
    out: &std::path::Path,
) -> Result<Vec<String>, CliError>
where
    S::Arch: Serialize + serde::de::DeserializeOwned,
{
    let pairs: Vec<(f64, f64)> = t
        .archs
        .iter()
        .map(|a| ((t.accuracy)(a), (t.cost)(a)))
        .collect();
    let frame = TableReference::new(&pairs)
        .ok_or_else(|| invalid("the table's accuracy or cost is constant or not finite".into()))?;
    let whole = frame.hypervolume(&pairs);
    let name = cfg.name();
    let cost_name = match cfg.cost {
        CostName::Params => "params",
        CostName::Flops => "flops",
    };
    let (median_acc, median_cost) = frame.medians();
    let mut summary = vec![format!(
        "front {name} cost={cost_name} table={} front_size={} hv={whole:.6} median_accuracy={median_acc:.2} median_{cost_name}={median_cost:.0}",
        pairs.len(),
        pareto_front(&pairs.iter().map(|&(a, c)| [-a, c]).collect::<Vec<_>>()).len()
    )];
    let wants_dcl = cfg.strategies.contains(&MoStrategyName::DclEnas);
    let mut pretrained: Predictor = Predictor::new(t.space, cfg.model, 0)?;
    pretrained.set_training_engine(cfg.training_engine);
    if wants_dcl {
        let r = pretrained.pretrain(t.space, &t.archs, &cfg.pretrain)?;
        println!(
            "pretrain space={} cells={} steps={} seconds={:.1} (once, shared by every seed)",
            cfg.space.name(),
            t.archs.len(),
            r.steps,
            r.seconds
        );
    }
    let budget = cfg.budgets.iter().copied().max().unwrap_or(1);
    let driver = Driver::new(budget);
    let mut curves: Vec<(String, Vec<Vec<f64>>)> = Vec::new();
    let mut fronts: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for &strategy in &cfg.strategies {
        let start = Instant::now();
        let mut runs = Vec::new();
        let mut histories = Vec::new();
        for seed in cfg.seed_offset..cfg.seed_offset + cfg.seeds {
            let rng = ChaCha8Rng::seed_from_u64(seed);
            let column = &t.cost;
            let cost = move |a: &S::Arch| column(a);
            let mut search: Box<dyn Strategy<S> + '_> = match strategy {
                MoStrategyName::Random => Box::new(RandomSearch.start(t.space, rng)),
                MoStrategyName::Nsga2 => Box::new(cfg.nsga2.start(t.space, cost, rng)?),
                MoStrategyName::DclEnas => {
                    let surrogate =
                        PredictorSurrogate::new(pretrained.fork(seed), cfg.finetune.clone(), seed);
                    Box::new(DclEnas::new(cfg.dcl_enas.clone()).start_multiobjective(
                        t.space,
                        surrogate,
                        cost,
                        cfg.multiobjective,
                        rng,
                    )?)
                }
            };
            let mut oracle = FnEvaluator::new(|a: &S::Arch| (t.accuracy)(a));
            let h = driver.run(search.as_mut(), t.space, &mut oracle, None, &mut |_| {})?;
            let c = hypervolume_curve(&h, &frame, &*t.cost, budget);
            if args.per_seed {
                let at: Vec<String> = cfg
                    .budgets
                    .iter()
                    .map(|&b| format!("hv{b}={:.6}", c[b - 1]))
                    .collect();
                println!(
                    "  run {name} strategy={} seed={seed} {}",
                    strategy.name(),
                    at.join(" ")
                );
            }
            runs.push(c);
            histories.push(h);
        }
        let secs = start.elapsed().as_secs_f64() / cfg.seeds as f64;
        for &b in &cfg.budgets {
            let at: Vec<f64> = runs.iter().map(|c| c[b - 1]).collect();
            let (m, s) = dcl_evo::mean_std(&at);
            let fractions: Vec<f64> = at.iter().map(|h| h / whole).collect();
            let (_, fs) = dcl_evo::mean_std(&fractions);
            summary.push(format!(
                "mo {name} strategy={} budget={b} hv={m:.6}±{s:.6} hv_fraction={:.4}±{fs:.4} seeds={} seconds_per_run={secs:.1}",
                strategy.name(),
                m / whole,
                runs.len()
            ));
        }
        // The front of the run with the median final hypervolume.
        let mut by_final: Vec<usize> = (0..runs.len()).collect();
        by_final.sort_by(|&a, &b| runs[a][budget - 1].total_cmp(&runs[b][budget - 1]));
        let median_run = &histories[by_final[by_final.len() / 2]];
        let points: Vec<(f64, f64)> = median_run
            .queries
            .iter()
            .map(|q| (q.fitness, (t.cost)(&q.arch)))
            .collect();
        fronts.push((strategy.name().to_owned(), front_of(&points)));
        curves.push((strategy.name().to_owned(), runs));
    }
    let file_name = name.replace(['=', ' '], "_");
    let svg = plot::curves(
        &format!("{name} cost={cost_name}: hypervolume ({} seeds)", cfg.seeds),
        "hypervolume (normalised)",
        &curves,
    )?;
    dcl_graph::io::write_atomic(out.join(format!("hv_{file_name}.svg")), svg.as_bytes())?;
    let svg = plot::fronts(
        &format!("{name}: fronts (median-hypervolume seed at {budget} queries)"),
        cost_name,
        ("whole table", &front_of(&pairs)),
        Some((median_acc, median_cost)),
        &fronts,
    )?;
    dcl_graph::io::write_atomic(out.join(format!("front_{file_name}.svg")), svg.as_bytes())?;
    println!("plots {}", out.display());
    Ok(summary)
}

/// The non-dominated (accuracy, cost) pairs of `points`, by increasing cost.
fn front_of(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let minimised: Vec<[f64; 2]> = points.iter().map(|&(a, c)| [-a, c]).collect();
    let mut front: Vec<(f64, f64)> = pareto_front(&minimised)
        .into_iter()
        .map(|i| points[i])
        .collect();
    front.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)));
    front.dedup();
    front
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    /// The run directories committed under docs/results were written with stage 2's table
    /// named `refit`: they still load, with its values as `finetune`'s.
    #[test]
    fn the_committed_mo_configs_load_with_their_former_keys() {
        fn configs(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    configs(&path, out);
                } else if path.file_name().is_some_and(|n| n == "config.toml") {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/results/multiobjective");
        let mut found = Vec::new();
        configs(&root, &mut found);
        assert!(found.len() >= 10, "{found:?}");
        for path in found {
            let raw: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            let cfg = config::load::<MoConfig>(&path).unwrap();
            let epochs = raw["refit"]["epochs"].as_integer().unwrap();
            assert_eq!(cfg.finetune.epochs as i64, epochs, "{}", path.display());
        }
    }

    #[test]
    fn every_mo_flag_sets_its_key_and_every_key_names_its_flag() {
        crate::config::check_command::<MoArgs, MoConfig>(
            MO_KEYS,
            CONFIG_ONLY,
            &["config", "out", "per_seed"],
            &[],
            &[],
            &|a, cfg| a.apply(cfg),
        );
        let flags = mo_flags();
        assert!(
            flags
                .iter()
                .any(|f| f.key == "nsga2.crossover_rate" && f.flag == "--nsga2-crossover")
        );
    }
}
