//! `dcl-enas search`: one search, journalled in a run directory: on a benchmark table
//! (NAS-Bench-201 or the NAS-Bench-101 subset), or with the user's own program evaluating
//! each architecture (`[evaluator]`) of a preset or a declared space (`[space]`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use dcl_bench::{
    CountingOracle, Nb101Metric, Nb101Table, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table,
};
use dcl_evo::{
    DclEnas, DclEnasConfig, Driver, Journal, JournalHeader, RandomSearch, RegularizedEvolution,
    SearchHistory, Strategy,
};
use dcl_exec::LocalPool;
use dcl_exec::command::CommandEvaluator;
use dcl_graph::{
    Evaluator, GraphSpace, NB101_NUM_CELLS, NB201_NUM_CELLS, Nb101Space, Nb201Space, Subspace,
};
use dcl_predictor::{
    Engine, FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig, RankingLoss,
};
use dcl_slurm::{SlurmConfig, SlurmExecutor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigFile, KeyFlag, flag_keys, key_flags};
use crate::evaluator::EvaluatorSetting;
use crate::flags::{
    DclEnasFlags, EvolutionFlags, ExecutionFlags, FinetuneFlags, PretrainFlags, StrategyFlags,
};
use crate::report;
use crate::space::{
    PRETRAIN_SAMPLE, PretrainSet, SpaceSetting, WithSpace, pretrain_set, sample_stage1,
};
use crate::{CliError, config, invalid};

/// The search spaces with a table to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SpaceName {
    /// NAS-Bench-201: all 15,625 cells.
    Nb201,
    /// NAS-Bench-101: the 20,001-cell subset that ships with the crate.
    Nb101,
}

impl SpaceName {
    /// The name in flags, files and summary lines.
    pub fn name(self) -> &'static str {
        match self {
            SpaceName::Nb201 => "nb201",
            SpaceName::Nb101 => "nb101",
        }
    }

    /// How many architectures the space holds: no search can spend a larger budget.
    pub fn size(self) -> usize {
        match self {
            SpaceName::Nb201 => dcl_graph::NB201_NUM_CELLS,
            SpaceName::Nb101 => dcl_bench::NB101_SUBSET_CELLS,
        }
    }

    /// Refuses a budget larger than the space, naming `flag` and `key`.
    pub(crate) fn check_budget(self, budget: usize, flag: &str, key: &str) -> Result<(), CliError> {
        check_budget(self.name(), self.size(), budget, flag, key)
    }
}

/// Refuses a budget larger than the space `space` of `size` architectures, naming `flag` and
/// `key`.
fn check_budget(
    space: &str,
    size: usize,
    budget: usize,
    flag: &str,
    key: &str,
) -> Result<(), CliError> {
    if budget > size {
        return Err(invalid(format!(
            "{flag} (key `{key}`) {budget} is more than the space holds: {space} has {size} \
             architectures"
        )));
    }
    Ok(())
}

/// The datasets a table was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// CIFAR-10 (both spaces).
    Cifar10,
    /// CIFAR-100 (NAS-Bench-201).
    Cifar100,
    /// ImageNet-16-120 (NAS-Bench-201).
    Imagenet16,
}

impl DatasetName {
    /// The NAS-Bench-201 table's dataset.
    pub fn nb201(self) -> Nb201Dataset {
        match self {
            DatasetName::Cifar10 => Nb201Dataset::Cifar10,
            DatasetName::Cifar100 => Nb201Dataset::Cifar100,
            DatasetName::Imagenet16 => Nb201Dataset::ImageNet16,
        }
    }
}

/// The column a search reads as its fitness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnName {
    /// NAS-Bench-201: test accuracy after 200 epochs.
    Test200,
    /// NAS-Bench-201: validation accuracy after 12 epochs (the cheap protocol).
    Valid12,
    /// NAS-Bench-101: validation accuracy after 108 epochs (its single-run column).
    Valid108,
}

impl ColumnName {
    /// The NAS-Bench-201 metric of `dataset` this column reads (`valid108`, NB101's column,
    /// has none and reads as `test200`; configs refuse it on NB201 before this is asked).
    pub fn nb201(self, dataset: DatasetName) -> Nb201Metric {
        let column = match self {
            ColumnName::Valid12 => Nb201Column::Valid12,
            ColumnName::Test200 | ColumnName::Valid108 => Nb201Column::Test200,
        };
        Nb201Metric::new(dataset.nb201(), column)
    }

    /// The name in flags, files and summary lines.
    pub fn name(self) -> &'static str {
        match self {
            ColumnName::Test200 => "test200",
            ColumnName::Valid12 => "valid12",
            ColumnName::Valid108 => "valid108",
        }
    }
}

/// The search strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyName {
    /// Uniform random search.
    Random,
    /// Regularized evolution (Real et al. 2019).
    Re,
    /// DCL-ENAS: evolution ranked by the pre-trained predictor.
    DclEnas,
}

impl StrategyName {
    /// The journal header's strategy name and settings: a run resumes only with the same.
    pub fn journal(
        self,
        evolution: &RegularizedEvolution,
        dcl_enas: &DclEnasConfig,
    ) -> (&'static str, serde_json::Value) {
        let (name, settings) = match self {
            StrategyName::Random => ("random", serde_json::to_value(RandomSearch)),
            StrategyName::Re => ("regularized-evolution", serde_json::to_value(evolution)),
            StrategyName::DclEnas => ("dcl-enas", serde_json::to_value(dcl_enas)),
        };
        // Plain structs of numbers: serializing them cannot fail.
        (name, settings.unwrap_or_default())
    }

    /// The name in flags, files and summary lines.
    pub fn name(self) -> &'static str {
        match self {
            StrategyName::Random => "random",
            StrategyName::Re => "re",
            StrategyName::DclEnas => "dcl-enas",
        }
    }
}

/// Where evaluations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutorName {
    /// On this machine, `workers` evaluations at a time.
    Local,
    /// As Slurm job arrays, one per batch (settings in the `[slurm]` table).
    Slurm,
}

/// The stage-2 loss of each refit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LossName {
    /// Pairwise logistic ranking loss.
    Pairwise,
    /// Rank-N-Contrast (weight 1) plus the pairwise loss.
    Rnc,
    /// Mean squared error on standardised accuracies.
    Mse,
}

impl From<LossName> for RankingLoss {
    fn from(name: LossName) -> Self {
        match name {
            LossName::Pairwise => RankingLoss::Pairwise,
            LossName::Rnc => RankingLoss::RankNContrast { weight: 1.0 },
            LossName::Mse => RankingLoss::Mse,
        }
    }
}

/// Everything that decides a search (the `search` command's config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchConfig {
    /// The space searched: a preset's name, or a `[space]` table ([`SpaceSetting`]).
    pub space: SpaceSetting,
    /// The user's program that evaluates each architecture (`[evaluator]`); without it, the
    /// preset's table is read.
    pub evaluator: Option<EvaluatorSetting>,
    /// Stage 1's sample of a space larger than [`PRETRAIN_WHOLE_LIMIT`](crate::space::PRETRAIN_WHOLE_LIMIT) (DCL-ENAS).
    pub pretrain_sample: usize,
    /// The dataset whose column is searched.
    pub dataset: DatasetName,
    /// The column searched; by default the space's usual one (`test200` on NB201,
    /// `valid108` on NB101).
    pub column: Option<ColumnName>,
    /// The strategy.
    pub strategy: StrategyName,
    /// True evaluations allowed.
    pub budget: usize,
    /// Seed of the whole run.
    pub seed: u64,
    /// Architectures asked and evaluated together.
    pub batch: usize,
    /// Attempts per architecture before it is recorded as failed; by default 3, and with
    /// `executor = "slurm"` `slurm.retries + 1` (which it must then equal if given).
    pub max_attempts: Option<u32>,
    /// Where evaluations run.
    pub executor: ExecutorName,
    /// Evaluations at a time on this machine (`executor = "local"`).
    pub workers: usize,
    /// How Slurm jobs are submitted (`executor = "slurm"`).
    pub slurm: SlurmConfig,
    /// DCL-ENAS's settings.
    pub dcl_enas: DclEnasConfig,
    /// Regularized evolution's settings.
    pub evolution: RegularizedEvolution,
    /// Stage 1: label-free pre-training of the predictor (DCL-ENAS).
    pub pretrain: PretrainConfig,
    /// Stage 2: the predictor fine-tuned after each round (DCL-ENAS).
    pub finetune: FinetuneConfig,
    /// The predictor's shape (DCL-ENAS).
    pub model: ModelConfig,
    /// What runs the predictor's encoder in training: `native` (the default: this crate's
    /// CPU kernels, several times faster) or `burn` (burn's autodiff; numerically a different
    /// rounding of the same model).
    pub training_engine: Engine,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            space: SpaceSetting::Preset(SpaceName::Nb201),
            evaluator: None,
            pretrain_sample: PRETRAIN_SAMPLE,
            dataset: DatasetName::Cifar10,
            column: None,
            strategy: StrategyName::DclEnas,
            budget: 100,
            seed: 0,
            batch: 1,
            max_attempts: None,
            executor: ExecutorName::Local,
            workers: 1,
            slurm: SlurmConfig::default(),
            dcl_enas: DclEnasConfig::default(),
            evolution: RegularizedEvolution::default(),
            pretrain: search_pretrain(),
            finetune: FinetuneConfig::search_default(),
            model: ModelConfig::default(),
            training_engine: Engine::default(),
        }
    }
}

/// Stage 1 as searches run it: two epochs over the space (the main job's setting).
pub fn search_pretrain() -> PretrainConfig {
    PretrainConfig {
        epochs: 2,
        ..PretrainConfig::default()
    }
}

/// Settings flags: each overrides the config file's key of the same name (`--infill` is
/// `dcl_enas.infill`, `--pretrain-epochs` is `pretrain.epochs`).
#[derive(Debug, Clone, Default, Args)]
pub struct SearchFlags {
    /// Space searched [default: nb201].
    #[arg(long, value_enum)]
    pub space: Option<SpaceName>,
    /// Dataset [default: cifar10].
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetName>,
    /// Column searched [default: test200 on nb201, valid108 on nb101].
    #[arg(long, value_enum)]
    pub column: Option<ColumnName>,
    /// Strategy [default: dcl-enas].
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyName>,
    /// True evaluations allowed, at least 1 [default: 100].
    #[arg(long)]
    pub budget: Option<usize>,
    /// Seed of the run [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stage 1 on this many architectures drawn at random when the space holds more than
    /// 20,000 [default: 5000].
    #[arg(long)]
    pub pretrain_sample: Option<usize>,
    /// How evaluations run.
    #[command(flatten)]
    pub execution: ExecutionFlags,
    /// DCL-ENAS and predictor settings.
    #[command(flatten)]
    pub strategy_settings: StrategyFlags,
    /// Regularized evolution's settings.
    #[command(flatten)]
    pub evolution_settings: EvolutionFlags,
}

flag_keys!(SearchFlags, &mut SearchConfig, {
    space => space, dataset => dataset, column => column, strategy => strategy,
    budget => budget, seed => seed, pretrain_sample => pretrain_sample,
});

impl SearchFlags {
    /// Overrides `cfg`'s keys with the flags given.
    pub fn apply(&self, cfg: &mut SearchConfig) {
        self.apply_keys(&mut *cfg);
        self.execution.apply(crate::execution_settings!(cfg));
        self.evolution_settings.apply(&mut cfg.evolution);
        self.strategy_settings.apply(crate::strategy_settings!(cfg));
    }
}

/// Keys of the strategies', the stage-1 and stage-2 and the model's settings that only a
/// config file sets (the `--config` help lists them).
pub(crate) const CONFIG_ONLY: &[&str] = &["finetune.loss.weight", "model.projection"];

/// `--config`'s help in `search`, `benchmark` and `mo`: it lists [`CONFIG_ONLY`].
pub(crate) const CONFIG_HELP: &str = "Config file (TOML); flags override its keys. Keys only \
     a config file sets: finetune.loss.weight (with the rnc loss), model.projection. A file \
     written before may name stage 2's table `refit`: it reads as `finetune`.";

/// `--config`'s help in `search`: [`CONFIG_HELP`] and the tables of a search with your own
/// program.
const SEARCH_CONFIG_HELP: &str = "Config file (TOML); flags override its keys. A [space] \
     table declares a space of your own (kind = \"cell\" with nodes and ops, or kind = \"dag\" \
     with nodes, max_edges and ops) and an [evaluator] \
     table the program that evaluates each architecture (command, timeout, env, gpus, args): \
     see docs/guide.md. Keys only a config file sets: finetune.loss.weight (with the rnc \
     loss), model.projection. A file written before may name stage 2's table `refit`: it \
     reads as `finetune`.";

/// Stage 2's table was `refit` in `search`, `benchmark` and `mo` config files.
pub(crate) const RENAMED_REFIT: &[(&str, &str)] = &[("refit", "finetune")];

impl ConfigFile for SearchConfig {
    const RENAMED: &'static [(&'static str, &'static str)] = RENAMED_REFIT;
}

/// Field names the library's messages use for a config key of another name.
pub(crate) const ALIASES: &[(&str, &str)] = &[("batch_size", "batch")];

/// The `search` command's flag groups, each flag with its key.
const SEARCH_KEYS: &[&[(&str, &str)]] = &[
    SearchFlags::KEYS,
    ExecutionFlags::KEYS,
    DclEnasFlags::KEYS,
    PretrainFlags::KEYS,
    FinetuneFlags::KEYS,
    StrategyFlags::KEYS,
    EvolutionFlags::KEYS,
];

/// The `search` command's key → flag map, for error messages.
fn search_flags() -> Vec<KeyFlag> {
    key_flags(
        &SearchArgs::augment_args(clap::Command::new("search")),
        SEARCH_KEYS,
        CONFIG_ONLY,
        ALIASES,
    )
}

impl SearchConfig {
    /// The column searched: the configured one or the space's usual one.
    pub fn column(&self) -> ColumnName {
        self.column.unwrap_or(match self.space {
            SpaceSetting::Preset(SpaceName::Nb101) => ColumnName::Valid108,
            _ => ColumnName::Test200,
        })
    }

    /// How many architectures the space holds (`None`: more than `usize` counts): a preset
    /// searched through its table holds the table's.
    pub fn space_size(&self) -> Result<Option<usize>, CliError> {
        Ok(match (&self.space, &self.evaluator) {
            (SpaceSetting::Preset(p), None) => Some(p.size()),
            (SpaceSetting::Preset(SpaceName::Nb201), Some(_)) => Some(NB201_NUM_CELLS),
            (SpaceSetting::Preset(SpaceName::Nb101), Some(_)) => Some(NB101_NUM_CELLS),
            (SpaceSetting::Declared(d), _) => d.size()?,
        })
    }

    /// Attempts per architecture: `max_attempts`, else 3 (`slurm.retries + 1` on Slurm).
    pub fn attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(match self.executor {
            ExecutorName::Local => 3,
            ExecutorName::Slurm => self.slurm.retries + 1,
        })
    }

    /// The driver the settings give.
    pub fn driver(&self) -> Driver {
        Driver {
            batch_size: self.batch,
            max_attempts: self.attempts(),
            ..Driver::new(self.budget)
        }
    }

    /// Checks every setting before any work; the error names the flag and the key.
    pub fn validate(&self) -> Result<(), CliError> {
        match (&self.space, &self.evaluator) {
            (SpaceSetting::Preset(space), None) => self.validate_table(*space)?,
            (SpaceSetting::Declared(_), None) => {
                return Err(invalid(
                    "a [space] of your own has no table: give the program that evaluates its \
                     architectures in an [evaluator] table (key `evaluator.command`)"
                        .into(),
                ));
            }
            (_, Some(evaluator)) => {
                if let SpaceSetting::Declared(d) = &self.space {
                    d.validate()?;
                }
                evaluator.validate()?;
                if self.executor == ExecutorName::Slurm && !evaluator.gpus.is_empty() {
                    return Err(invalid(
                        "key `evaluator.gpus` names the GPUs of local workers: with executor \
                         slurm, Slurm gives each task its GPUs (ask with `slurm.gres`)"
                            .into(),
                    ));
                }
                if self.column.is_some() {
                    return Err(invalid(
                        "--column (key `column`) reads a table: with an [evaluator] the \
                         program's fitness is searched"
                            .into(),
                    ));
                }
                if self.pretrain_sample < 2 {
                    return Err(invalid(format!(
                        "--pretrain-sample (key `pretrain_sample`) must be at least 2, got {}",
                        self.pretrain_sample
                    )));
                }
            }
        }
        if let Some(size) = self.space_size()? {
            check_budget(self.space.name(), size, self.budget, "--budget", "budget")?;
        }
        if self.workers == 0 || self.workers > 256 {
            return Err(invalid(format!(
                "--workers (key `workers`) must be in 1..=256, got {}",
                self.workers
            )));
        }
        let flags = search_flags();
        located("", &flags, self.driver().validate())?;
        if self.executor == ExecutorName::Slurm {
            check_slurm(&self.slurm, self.max_attempts)?;
        }
        located(
            "dcl_enas",
            &flags,
            DclEnas::new(self.dcl_enas.clone()).validate(),
        )?;
        located("evolution", &flags, self.evolution.validate())?;
        located("pretrain", &flags, self.pretrain.validate())?;
        located("finetune", &flags, self.finetune.validate())?;
        located("model", &flags, self.model.validate())?;
        if self.strategy == StrategyName::DclEnas && self.dcl_enas.initial < 2 {
            return Err(invalid(format!(
                "--initial (key `dcl_enas.initial`): the predictor needs at least 2 labelled \
                 architectures before its first fit, got {}",
                self.dcl_enas.initial
            )));
        }
        Ok(())
    }

    /// The checks of a search on a preset's table: its columns and datasets.
    fn validate_table(&self, space: SpaceName) -> Result<(), CliError> {
        match (space, self.column()) {
            (SpaceName::Nb201, ColumnName::Test200 | ColumnName::Valid12) => {}
            (SpaceName::Nb101, ColumnName::Valid108) => {}
            (s, c) => {
                return Err(invalid(format!(
                    "--column (key `column`): {} has no column {}; nb201 has test200 and \
                     valid12, nb101 has valid108",
                    s.name(),
                    c.name()
                )));
            }
        }
        if space == SpaceName::Nb101 && self.dataset != DatasetName::Cifar10 {
            return Err(invalid(
                "--dataset (key `dataset`): nb101 was trained on cifar10 only".into(),
            ));
        }
        Ok(())
    }

    /// Everything else that decides the outcome, for the journal's header.
    fn settings(&self) -> serde_json::Value {
        let Some(evaluator) = &self.evaluator else {
            return serde_json::json!({
                "dataset": self.dataset,
                "column": self.column(),
                "pretrain": self.pretrain,
                // The journal's name of stage 2's settings, kept so that earlier runs resume.
                "refit": self.finetune,
                "model": self.model,
                "training_engine": self.training_engine,
            });
        };
        let mut settings = serde_json::json!({
            "evaluator": evaluator.journal_settings(),
            "pretrain": self.pretrain,
            "pretrain_sample": self.pretrain_sample,
            "refit": self.finetune,
            "model": self.model,
            "training_engine": self.training_engine,
        });
        if let SpaceSetting::Declared(d) = &self.space {
            settings["space"] = serde_json::to_value(d).unwrap_or_default();
        }
        settings
    }

    /// The journal header of this search.
    pub fn header(&self) -> JournalHeader {
        let (name, strategy_config) = self.strategy.journal(&self.evolution, &self.dcl_enas);
        JournalHeader::new(
            name,
            &strategy_config,
            self.space.name(),
            self.seed,
            self.driver(),
        )
        .with_settings(&self.settings())
    }
}

/// Checks a `[slurm]` table and the `max_attempts` beside it (which must be `retries + 1`
/// if given); the error names the key.
pub fn check_slurm(slurm: &SlurmConfig, max_attempts: Option<u32>) -> Result<(), CliError> {
    slurm.validate().map_err(|e| match e {
        dcl_slurm::SlurmError::Config { key, message } => {
            invalid(format!("key `slurm.{key}`: {message}"))
        }
        other => other.into(),
    })?;
    match max_attempts {
        Some(n) if n != slurm.retries + 1 => Err(invalid(format!(
            "--max-attempts (key `max_attempts`) {n} must be `slurm.retries` + 1 ({}) with \
             executor slurm: set slurm.retries instead",
            slurm.retries + 1
        ))),
        _ => Ok(()),
    }
}

/// Maps a library's config error to one naming the flag and key: the error's message names the
/// field (the first of `section`'s keys found in it as a word).
pub(crate) fn located<E: std::fmt::Display>(
    section: &str,
    flags: &[KeyFlag],
    result: Result<(), E>,
) -> Result<(), CliError> {
    let Err(e) = result else { return Ok(()) };
    let message = e.to_string();
    let found = flags
        .iter()
        .filter(|f| f.section == section)
        .filter_map(|f| find_word(&message, &f.word).map(|at| (at, f)))
        .min_by_key(|&(at, f)| (at, std::cmp::Reverse(f.word.len())));
    Err(invalid(match found {
        Some((_, KeyFlag { key, flag, .. })) if flag.is_empty() => {
            format!("key `{key}`: {message}")
        }
        Some((_, KeyFlag { key, flag, .. })) => format!("{flag} (key `{key}`): {message}"),
        None => message,
    }))
}

/// Byte offset of `word` in `text` where it is not part of a longer identifier.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back().is_none_or(|c| !ident(c));
        let after = text[i + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !ident(c));
        before && after
    })
}

/// The `search` command's arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct SearchArgs {
    /// Config file (TOML); flags override its keys.
    #[arg(long, help = SEARCH_CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Run directory, which must not hold a journal [default: a new one under runs/].
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Resume the run in this directory (its config.toml; flags must agree with it).
    #[arg(long, conflicts_with = "config")]
    pub resume: Option<PathBuf>,
    /// The settings.
    #[command(flatten)]
    pub flags: SearchFlags,
}

/// The config file a run directory keeps.
pub const CONFIG_FILE: &str = "config.toml";

/// Runs `dcl-enas search`.
pub fn run(args: &SearchArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let mut cfg = match (&args.resume, &args.config) {
        (Some(dir), _) => config::load::<SearchConfig>(&dir.join(CONFIG_FILE))?,
        (None, Some(file)) => config::load::<SearchConfig>(file)?,
        (None, None) => SearchConfig::default(),
    };
    args.flags.apply(&mut cfg);
    if cfg.evaluator.is_none() {
        cfg.column = Some(cfg.column());
    }
    cfg.validate()?;
    if args.resume.is_none()
        && let Some(evaluator) = &mut cfg.evaluator
    {
        *evaluator = evaluator.resolved(Path::new("."));
    }
    let dir = match (&args.resume, &args.out) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => dcl_evo::fresh_run_dir("search", cfg.seed),
    };
    let flag = if args.resume.is_some() {
        "--resume"
    } else {
        "--out"
    };
    let _lock = crate::run_dir::lock(&dir, flag)?;
    crate::run_dir::report_on_signal(&dir, "search");
    if cfg.evaluator.is_some() {
        let search = CommandSearch {
            cfg: &cfg,
            dir: &dir,
            resume: args.resume.is_some(),
            start,
        };
        return cfg.space.with_space(search)?;
    }
    let task = serde_json::to_value(crate::worker::WorkerTask::Table {
        dataset: cfg.dataset,
        column: cfg.column(),
    })
    .expect("a task serializes");
    match cfg.space {
        SpaceSetting::Declared(_) => {
            return Err(invalid("a [space] of your own needs an [evaluator]".into()));
        }
        SpaceSetting::Preset(SpaceName::Nb201) => {
            let table = Nb201Table::embedded()?;
            let metric = cfg.column().nb201(cfg.dataset);
            let space = Nb201Space::new();
            let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let oracles = (0..cfg.workers)
                .map(|_| CountingOracle::new(table, metric))
                .collect();
            let slurm = slurm_for(&cfg, &dir, task)?;
            let journal = open_journal(&cfg, &space, &dir, args.resume.is_some())?;
            let pretrain = PretrainSet {
                archs: cells,
                whole: true,
            };
            let history = drive_on(&cfg, &space, &pretrain, oracles, slurm, journal)?;
            let summary = report::nb201_summary(&cfg_view(&cfg), &history, start)?;
            report::write_run(&dir, &history, &summary, |c| c.to_string())?;
            println!("{}", summary.line());
        }
        SpaceSetting::Preset(SpaceName::Nb101) => {
            let table = Nb101Table::subset20k()?;
            let cells: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let space = Subspace::new(Nb101Space::new(), cells.clone())?;
            let oracles = (0..cfg.workers)
                .map(|_| CountingOracle::new(table, Nb101Metric::VAL_108))
                .collect();
            let slurm = slurm_for(&cfg, &dir, task)?;
            let journal = open_journal(&cfg, &space, &dir, args.resume.is_some())?;
            let pretrain = PretrainSet {
                archs: cells,
                whole: true,
            };
            let history = drive_on(&cfg, &space, &pretrain, oracles, slurm, journal)?;
            let summary = report::nb101_summary(&cfg_view(&cfg), &history, start)?;
            report::write_run(&dir, &history, &summary, report::nb101_label)?;
            println!("{}", summary.line());
        }
    }
    Ok(())
}

/// The Slurm executor of a run: its tasks run this very program's `worker` command on the
/// `task`. Ctrl-C or SIGTERM cancels its outstanding arrays (`scancel`) before the program
/// ends ([`crate::run_dir`]); the journal holds every outcome that came back, so `--resume`
/// goes on.
pub fn slurm_executor(
    slurm: &SlurmConfig,
    dir: &Path,
    space: &str,
    task: serde_json::Value,
) -> Result<SlurmExecutor, dcl_slurm::SlurmError> {
    let program = std::env::current_exe().map_err(|source| dcl_slurm::SlurmError::Io {
        path: "the running program".into(),
        source,
    })?;
    let executor = SlurmExecutor::new(
        dir,
        slurm.clone(),
        space,
        task,
        vec![program.to_string_lossy().into_owned(), "worker".into()],
    )?;
    let canceller = executor.canceller();
    crate::run_dir::cleanup_on_signal(move || {
        let ids = canceller.cancel();
        (!ids.is_empty()).then(|| {
            format!(
                "cancelled Slurm job{} {}",
                if ids.len() == 1 { "" } else { "s" },
                ids.join(" ")
            )
        })
    });
    Ok(executor)
}

/// The run's Slurm executor when `executor = "slurm"`, built (and `sbatch --test-only`
/// asked) before the journal is created, so a setting the cluster refuses leaves no run
/// behind.
fn slurm_for(
    cfg: &SearchConfig,
    dir: &Path,
    task: serde_json::Value,
) -> Result<Option<SlurmExecutor>, CliError> {
    match cfg.executor {
        ExecutorName::Slurm => Ok(Some(slurm_executor(
            &cfg.slurm,
            dir,
            cfg.space.name(),
            task,
        )?)),
        ExecutorName::Local => Ok(None),
    }
}

/// Drives the search on the configured executor: Slurm arrays of `worker` tasks, or the
/// oracles on this machine (one, or a pool of workers).
fn drive_on<S, E>(
    cfg: &SearchConfig,
    space: &S,
    pretrain: &PretrainSet<S::Arch>,
    mut oracles: Vec<E>,
    slurm: Option<SlurmExecutor>,
    journal: Journal<S::Arch>,
) -> Result<SearchHistory<S::Arch>, CliError>
where
    S: GraphSpace + Sync,
    S::Arch: Serialize + DeserializeOwned + Send + Sync,
    E: Evaluator<S> + Send,
{
    if let Some(mut slurm) = slurm {
        return drive(cfg, space, pretrain, &mut slurm, journal);
    }
    if oracles.len() == 1 {
        let mut e = oracles.pop().expect("one oracle");
        drive(cfg, space, pretrain, &mut e, journal)
    } else {
        let mut pool = LocalPool::new(oracles, 1)?;
        drive(cfg, space, pretrain, &mut pool, journal)
    }
}

/// Where the user's program runs.
enum Executor {
    /// As Slurm tasks, each running `dcl-enas worker` on the program.
    Slurm(SlurmExecutor),
    /// On this machine.
    Local(CommandEvaluator),
}

/// [`command_search`] on the configured space.
struct CommandSearch<'a> {
    cfg: &'a SearchConfig,
    dir: &'a Path,
    resume: bool,
    start: Instant,
}

impl WithSpace for CommandSearch<'_> {
    type Output = Result<(), CliError>;
    fn run<S>(self, space: &S) -> Self::Output
    where
        S: GraphSpace + Sync,
        S::Arch: Serialize + DeserializeOwned + Send + Sync,
    {
        command_search(self.cfg, space, self.dir, self.resume, self.start)
    }
}

/// A search whose architectures the user's program evaluates (`[evaluator]`): on this
/// machine, `workers` programs at a time, or as Slurm tasks whose worker runs the same
/// program on the same files. Ends with the untabled summary line.
fn command_search<S>(
    cfg: &SearchConfig,
    space: &S,
    dir: &Path,
    resume: bool,
    start: Instant,
) -> Result<(), CliError>
where
    S: GraphSpace + Sync,
    S::Arch: Serialize + DeserializeOwned + Send + Sync,
{
    let evaluator = cfg
        .evaluator
        .as_ref()
        .ok_or_else(|| invalid("no [evaluator]".into()))?;
    std::fs::create_dir_all(dir)?;
    let run_dir = std::path::absolute(dir)?;
    // Built before the journal: a setting Slurm or the evaluator refuses leaves no run behind.
    let mut executor = match cfg.executor {
        ExecutorName::Slurm => {
            let task = crate::worker::WorkerTask::Command(Box::new(crate::worker::CommandTask {
                space: cfg.space.clone(),
                evaluator: evaluator.clone(),
                run_dir: run_dir.clone(),
                seed: cfg.seed,
            }));
            let task = serde_json::to_value(task).map_err(|e| invalid(e.to_string()))?;
            Executor::Slurm(slurm_executor(&cfg.slurm, dir, space.name(), task)?)
        }
        ExecutorName::Local => {
            let e =
                CommandEvaluator::new(evaluator.command_config(cfg.workers), &run_dir, cfg.seed)?;
            if e.survivors_killed() > 0 {
                tracing::warn!(
                    "killed {} program(s) an earlier process of this run left running",
                    e.survivors_killed()
                );
            }
            Executor::Local(e)
        }
    };
    let journal = open_journal(cfg, space, dir, resume)?;
    let pretrain = match cfg.strategy {
        StrategyName::DclEnas => {
            pretrain_set(space, cfg.space_size()?, cfg.pretrain_sample, cfg.seed)
        }
        _ => PretrainSet {
            archs: Vec::new(),
            whole: true,
        },
    };
    let history = match &mut executor {
        Executor::Slurm(slurm) => drive(cfg, space, &pretrain, slurm, journal)?,
        Executor::Local(local) => drive(cfg, space, &pretrain, local, journal)?,
    };
    let summary = report::untabled_summary(
        space.name(),
        cfg.strategy.name(),
        cfg.seed,
        &history,
        |a| space.arch_text(a),
        Some(start),
    )?;
    report::write_run(dir, &history, &summary, |a| space.arch_text(a))?;
    println!("{}", summary.line());
    Ok(())
}

/// The header fields a summary repeats.
pub(crate) fn cfg_view(cfg: &SearchConfig) -> report::RunView {
    report::RunView {
        strategy: cfg.strategy.name().to_owned(),
        seed: cfg.seed,
        dataset: cfg.dataset,
        column: cfg.column(),
    }
}

/// Creates (or, resuming, reopens) the run's journal and saves its config beside it.
fn open_journal<S>(
    cfg: &SearchConfig,
    space: &S,
    dir: &Path,
    resume: bool,
) -> Result<Journal<S::Arch>, CliError>
where
    S: GraphSpace,
    S::Arch: Serialize + DeserializeOwned,
{
    let header = cfg.header();
    let journal = if resume {
        let j = Journal::resume_upgrading(dir, header, space, crate::run_dir::upgrade_header)?;
        tracing::info!(
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
    } else {
        let j = Journal::create(dir, header)?;
        config::save(cfg, &dir.join(CONFIG_FILE))?;
        tracing::info!(
            "run directory {} (if this run is killed: dcl-enas search --resume {})",
            dir.display(),
            dir.display()
        );
        j
    };
    Ok(journal)
}

/// Builds the strategy (pre-training the predictor for DCL-ENAS) and drives it.
fn drive<S, E>(
    cfg: &SearchConfig,
    space: &S,
    pretrain: &PretrainSet<S::Arch>,
    evaluator: &mut E,
    mut journal: Journal<S::Arch>,
) -> Result<SearchHistory<S::Arch>, CliError>
where
    S: GraphSpace,
    S::Arch: Serialize + DeserializeOwned,
    E: Evaluator<S>,
{
    let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut strategy: Box<dyn Strategy<S> + '_> = match cfg.strategy {
        StrategyName::Random => Box::new(RandomSearch.start(space, rng)),
        StrategyName::Re => Box::new(cfg.evolution.start(space, rng)?),
        StrategyName::DclEnas => {
            let mut stage1 = cfg.pretrain.clone();
            if pretrain.whole {
                tracing::info!(
                    "stage 1: label-free pre-training on all {} architectures",
                    pretrain.archs.len()
                );
            } else {
                // A sample is trained for the steps `epochs` passes over NB201's space take:
                // what the sample rule was measured with.
                stage1 = sample_stage1(&stage1, pretrain.archs.len());
                let steps = stage1.max_steps.unwrap_or(0);
                tracing::info!(
                    "stage 1: label-free pre-training on {} architectures drawn from the \
                     space, {steps} steps",
                    pretrain.archs.len()
                );
            }
            let mut predictor: Predictor = Predictor::new(space, cfg.model, cfg.seed)?;
            predictor.set_training_engine(cfg.training_engine);
            let r = predictor.pretrain(space, &pretrain.archs, &stage1)?;
            tracing::info!(
                "stage 1: {} steps, InfoNCE {:.3}, {:.1} s",
                r.steps,
                r.final_loss,
                r.seconds
            );
            let surrogate = PredictorSurrogate::new(predictor, cfg.finetune.clone(), cfg.seed);
            Box::new(DclEnas::new(cfg.dcl_enas.clone()).start(space, surrogate, rng)?)
        }
    };
    let history = cfg.driver().run(
        strategy.as_mut(),
        space,
        evaluator,
        Some(&mut journal),
        &mut |_| {},
    )?;
    Ok(history)
}

#[cfg(test)]
mod settings_tests {
    use super::*;
    use crate::config::check_command;

    /// `text` as a search config, checked; the error's message.
    fn refused(text: &str) -> String {
        let cfg: SearchConfig = config::parse(text, SearchConfig::default()).unwrap();
        cfg.validate().unwrap_err().to_string()
    }

    #[test]
    fn a_search_with_your_own_program_is_checked_before_any_work() {
        const CELL: &str = "[space]\nkind = \"cell\"\nnodes = 3\nops = [\"a\", \"b\"]\n";
        const PROGRAM: &str = "[evaluator]\ncommand = [\"python3\", \"t.py\"]\n";
        let ok: SearchConfig = config::parse(
            &format!("budget = 8\n{CELL}{PROGRAM}"),
            SearchConfig::default(),
        )
        .unwrap();
        ok.validate().unwrap();
        assert_eq!(ok.space_size().unwrap(), Some(8));
        // The journal pins the space and what decides outcomes, not the timeout.
        let settings = ok.header().settings;
        assert_eq!(settings["space"]["ops"], serde_json::json!(["a", "b"]));
        assert_eq!(settings["evaluator"]["command"][1], "t.py");
        assert!(settings.get("column").is_none());
        let e = refused(&format!("budget = 9\n{CELL}{PROGRAM}"));
        assert!(
            e.contains("--budget") && e.contains("8 architectures"),
            "{e}"
        );
        let e = refused(&format!("budget = 4\n{CELL}"));
        assert!(e.contains("evaluator.command"), "{e}");
        let e = refused(&format!(
            "budget = 4\ncolumn = \"valid12\"\n{CELL}{PROGRAM}"
        ));
        assert!(e.contains("--column"), "{e}");
        let e = refused(&format!(
            "budget = 4\nexecutor = \"slurm\"\n{CELL}{PROGRAM}gpus = [\"0\"]\n"
        ));
        assert!(
            e.contains("evaluator.gpus") && e.contains("slurm.gres"),
            "{e}"
        );
        let e = refused(&format!(
            "budget = 4\n{}{PROGRAM}",
            CELL.replace("nodes = 3", "nodes = 30")
        ));
        assert!(e.contains("key `space`") && e.contains("nodes"), "{e}");
        let e = refused(&format!("budget = 4\npretrain_sample = 1\n{CELL}{PROGRAM}"));
        assert!(e.contains("--pretrain-sample"), "{e}");
        // A DAG space has no size to check a budget against, but its declaration is checked.
        let dag = "[space]\nkind = \"dag\"\nnodes = 4\nmax_edges = 9\nops = [\"a\"]\n";
        let e = refused(&format!("budget = 4\n{dag}{PROGRAM}"));
        assert!(e.contains("max_edges"), "{e}");
        // A preset with a program searches the whole space: NB101's 423,624 cells.
        let nb101: SearchConfig = config::parse(
            &format!("space = \"nb101\"\nbudget = 30000\n{PROGRAM}"),
            SearchConfig::default(),
        )
        .unwrap();
        nb101.validate().unwrap();
    }

    #[test]
    fn every_search_flag_sets_its_key_and_every_key_names_its_flag() {
        check_command::<SearchArgs, SearchConfig>(
            SEARCH_KEYS,
            CONFIG_ONLY,
            &["config", "out", "resume"],
            &["slurm", "evaluator"],
            &[],
            &|a, c| a.flags.apply(c),
        );
        // The derived map names the flag of a key, and a key only a file sets.
        let flags = search_flags();
        let find = |key: &str| flags.iter().find(|f| f.key == key).unwrap().flag.clone();
        assert_eq!(find("dcl_enas.infill"), "--infill");
        assert_eq!(find("finetune.learning_rate"), "--finetune-lr");
        assert_eq!(find("pretrain.max_steps"), "--pretrain-steps");
        assert_eq!(find("training_engine"), "--training-engine");
        assert_eq!(find("model.hidden"), "--hidden");
        assert_eq!(find("model.projection"), "");
        assert!(
            flags
                .iter()
                .any(|f| f.word == "batch_size" && f.flag == "--batch")
        );
        // A library message naming a field becomes one naming its flag and key.
        let e = located(
            "finetune",
            &flags,
            Err::<(), _>("learning_rate must be positive"),
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "--finetune-lr (key `finetune.learning_rate`): learning_rate must be positive"
        );
        let e = located("", &flags, Err::<(), _>("batch_size must be at least 1"));
        assert_eq!(
            e.unwrap_err().to_string(),
            "--batch (key `batch`): batch_size must be at least 1"
        );
    }
}
