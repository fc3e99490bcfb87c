//! `dcl-enas ecg search | baseline | cell | proxy | signals | signals-report`: DCL-ENAS on
//! MIT-BIH heartbeat classification (AAMI N/S/V/F, de Chazal inter-patient split), every
//! queried candidate really trained, against the hand-designed Kachuee et al. (2018) network
//! trained by the same trainer with the same budget ([`crate::run_with`] is the pipeline).
//!
//! `search` ends with one line per network,
//! `ecg model=baseline-ENTRY|dcl-enas|random-search|regularized-evolution acc=M±S
//! balanced_acc=M±S macro_f1=M±S seeds=N ...` (mean ± std over the final-training seeds);
//! `baseline` and `cell CELL` train one network alone with the data, trainer and budget a
//! search gives its found cell (`ecg model=baseline-ENTRY|cell ...`);
//! `proxy CELL...` prints the search fitness of each cell,
//! `ecg proxy_fitness=... seed=... proxy_train_seed=... cell=...`; `signals` and
//! `signals-report` are the signal study ([`crate::signals`]), ending with
//! `ecg signal=NAME tau=... rho=... regret=...` lines and `ecg spread between_sd=...`.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use clap::{Args, Subcommand, ValueEnum};
use dcl_ecg::{BeatConfig, DEFAULT_VALID_RECORDS, MitBih};
use dcl_evo::{DclEnasConfig, InfillReference, MultiObjective, RegularizedEvolution};
use dcl_predictor::{Engine, FinetuneConfig, ModelConfig, PretrainConfig};
use dcl_train::{
    Augment, DeviceKind, FeatureEntry, Kernels, Monitor, NetArch, NetConfig, OptimizerKind,
    SkeletonMenu, TrainConfig,
};
use serde::{Deserialize, Serialize};

use dcl_cli::config::{ConfigFile, flag_keys};
use dcl_cli::flags::{ExecutionFlags, MultiObjectiveFlags, StrategyFlags};
use dcl_cli::search::{CONFIG_FILE, ExecutorName, StrategyName};
use dcl_cli::{CliError, config, invalid};

mod signals;
pub use signals::{SignalsArgs, SignalsPlan, SignalsReportArgs, summary_lines};

use crate::{
    ECG_AUGMENT, EcgSearchConfig, EcgSearchReport, Execution, FinalRun, Rescore, proxy_fitness,
    run_baseline, run_cell, run_with,
};

/// The `ecg` commands.
// Parsed once per process: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Subcommand)]
pub enum EcgCommand {
    /// The whole pipeline: pre-train, search with real trainings, train and test the found
    /// network and the baseline.
    #[command(allow_negative_numbers = true)]
    Search(EcgSearchArgs),
    /// Train and test the baseline alone, with the data, trainer and budget a search gives it.
    #[command(allow_negative_numbers = true)]
    Baseline {
        /// Also write the final runs (metrics and test confusion matrices) to this JSON file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The settings.
        #[command(flatten)]
        args: EcgArgs,
    },
    /// Train and test one network alone, as a search trains its found one.
    #[command(allow_negative_numbers = true)]
    Cell {
        /// The network, in NAS-Bench-201's cell form (`|nor_conv_3x3~0|+|...|`), with
        /// `@stem` or `@logits` after it for features entering there.
        cell: String,
        /// Also write the final runs (metrics and test confusion matrices) to this JSON file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The settings.
        #[command(flatten)]
        args: EcgArgs,
    },
    /// The DS2 results of several runs side by side in the literature's scores (accuracy,
    /// per-class sensitivity and positive predictive value, jκ) and ours; one file per search
    /// seed.
    Compare(crate::compare::CompareArgs),
    /// Plot a multi-objective search's front again from its `report.json` (DS2 balanced
    /// accuracy against parameters, with the baseline's point) and print its `ecg front`
    /// lines; nothing is trained.
    Front {
        /// The search's `report.json`.
        report: PathBuf,
        /// Where to write the plot (SVG).
        #[arg(long)]
        out: PathBuf,
    },
    /// The signal study: architectures drawn at random, each measured by every DS1-only
    /// selection signal and by its final trainings on the pseudo-test; resumable, splittable
    /// between processes (`--part`). `signals-report` summarises it.
    #[command(allow_negative_numbers = true)]
    Signals(signals::SignalsArgs),
    /// A finished signal study's summary: Kendall's τ and Spearman's ρ of each signal against
    /// the pseudo-test with bootstrap intervals, the regret of each signal's pick, the spread
    /// between architectures against the spread across seeds, a scatter plot.
    SignalsReport(signals::SignalsReportArgs),
    /// The search fitness of each given network (no search, no final training).
    #[command(allow_negative_numbers = true)]
    Proxy {
        /// The networks.
        #[arg(required = true)]
        cells: Vec<String>,
        /// The settings.
        #[command(flatten)]
        args: EcgArgs,
    },
}

/// Augmentation of training beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AugmentName {
    /// None.
    None,
    /// [`ECG_AUGMENT`]: gain, noise, baseline wander, shift, RR jitter.
    Ecg,
}

/// The proxy validation score a search maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FitnessName {
    /// Balanced accuracy.
    BalancedAccuracy,
    /// Macro-F1.
    MacroF1,
}

/// Where the RR features enter a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EntryName {
    /// Joined to the pooled maps before the head.
    Head,
    /// Also constant input channels of the stem.
    Stem,
    /// A head of their own whose logits are added.
    Logits,
}

impl EntryName {
    fn entry(self) -> FeatureEntry {
        match self {
            EntryName::Head => FeatureEntry::Head,
            EntryName::Stem => FeatureEntry::Stem,
            EntryName::Logits => FeatureEntry::Logits,
        }
    }
}

/// Everything that decides an ECG run (the `ecg` commands' config file); each key is the flag
/// of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EcgConfig {
    /// The MIT-BIH directory: PhysioNet's WFDB files as downloaded (`.hea`, `.dat`, `.atr`) or
    /// the repository's bundled layout; `None`: the copy bundled in the repository.
    pub data: Option<PathBuf>,
    /// `native` (the native CPU engine, the default), `ndarray` (burn-ndarray), `flex` (built
    /// with `--features flex`), `cuda` or `cuda:N` (`--features cuda`).
    pub device: String,
    /// Candidates trained during the search.
    pub budget: usize,
    /// Search seed.
    pub seed: u64,
    /// Seeds of the final trainings, one training per seed per network.
    pub final_seeds: Vec<u64>,
    /// Proxy: training beats per class during the search.
    pub proxy_per_class: usize,
    /// Proxy: epochs per candidate.
    pub proxy_epochs: usize,
    /// Proxy: validation beats per class (each fold's held-out patients, subsampled).
    pub proxy_valid_per_class: usize,
    /// Validation and test beats per class for the final trainings' reports (`None`: all of
    /// them, the protocol's; a cap is for quick runs and tests).
    pub eval_per_class: Option<usize>,
    /// Final training: beats per class (0: all of DS1's training patients).
    pub full_per_class: usize,
    /// Final training: epochs (early stopping, patience 5).
    pub full_epochs: usize,
    /// Channels of the first stage of the searched skeleton.
    pub channels: usize,
    /// Candidates asked and trained together.
    pub batch: usize,
    /// Worker threads training candidates at once.
    pub workers: usize,
    /// Rayon threads per worker.
    pub threads_per_worker: usize,
    /// Attempts per candidate before it is recorded as failed: by default 2, and with
    /// `executor = "slurm"` `slurm.retries + 1` (which it must then equal if given).
    pub max_attempts: Option<u32>,
    /// Where the search's candidates train: here (`workers` at a time) or as Slurm job arrays.
    pub executor: ExecutorName,
    /// How Slurm jobs are submitted (`executor = "slurm"`).
    pub slurm: dcl_slurm::SlurmConfig,
    /// Augmentation of training beats, proxy and final trainings alike.
    pub augment: AugmentName,
    /// Adam's L2 weight decay, proxy and final trainings alike.
    pub weight_decay: f32,
    /// Units of a hidden layer in the cell network's head (0: a linear classifier).
    pub head_hidden: usize,
    /// Probability that a training beat's signal is zeroed (on top of `augment`).
    pub signal_dropout: f32,
    /// Search fitness over this many patient folds of DS1 (0: the validation patients only).
    pub proxy_folds: usize,
    /// Ablation: zero every beat window (the RR features alone).
    pub rr_only: bool,
    /// Add the two local-rhythm RR features.
    pub local_rr: bool,
    /// Subtract each record's median beat from its windows.
    pub median_beat: bool,
    /// A second input channel: the window minus the record's median beat.
    pub median_channel: bool,
    /// Where the RR features may enter the searched networks.
    pub feature_entries: Vec<EntryName>,
    /// Where the RR features enter the baseline (`head`: the network as published).
    pub baseline_entry: EntryName,
    /// The search strategy (`random` and `re` search the same space with the same budget,
    /// proxy, rescoring and final training: the comparisons).
    pub strategy: StrategyName,
    /// Retrain this many of the search's best on the proxy folds before the final pick (0:
    /// the search's best).
    pub rescore_top: usize,
    /// Extra proxy trainings of each rescored network.
    pub rescore_repeats: usize,
    /// Seed of the proxy trainings (default: the search seed).
    pub proxy_train_seed: Option<u64>,
    /// Search fitness.
    pub fitness: FitnessName,
    /// Score proxy validation at the held-out patients' class mix.
    pub proxy_class_mix: bool,
    /// Deal F beats into the proxy folds by time within each patient.
    pub f_within_patients: bool,
    /// Design mode: hold the pseudo-test patients (`dcl_ecg::PSEUDO_TEST_RECORDS`) out of
    /// everything and test the final networks on them; DS2 is not read.
    pub pseudo_test: bool,
    /// The wide space: each candidate also chooses its skeleton from these lists (the table
    /// `[skeletons]`: `channels`, `stages`, `cells_per_stage`, `stem_kernel`, `conv_kernel`,
    /// `head_hidden`); `channels`, `head_hidden` and the conv width are then the candidates'.
    pub skeletons: Option<SkeletonMenu>,
    /// Multi-objective search: proxy fitness against parameters (dcl-enas or random); the
    /// front is trained fully.
    pub multiobjective: EcgMultiObjective,
    /// DCL-ENAS's settings.
    pub dcl_enas: DclEnasConfig,
    /// Stage 1: label-free pre-training of the predictor on every cell of the space.
    pub pretrain: PretrainConfig,
    /// Stage 2: the predictor fine-tuned after each round.
    pub finetune: FinetuneConfig,
    /// The predictor's shape.
    pub model: ModelConfig,
    /// What runs the predictor's encoder in training: `native` (the default: this crate's
    /// kernels) or `burn` (burn's autodiff; slower, another rounding).
    pub training_engine: Engine,
}

/// The `multiobjective` table of the `ecg` commands: whether the search is multi-objective,
/// and multi-objective DCL-ENAS's settings (the keys of `mo`'s table of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EcgMultiObjective {
    /// Search proxy fitness against parameters (dcl-enas or random); the front is trained
    /// fully.
    pub enabled: bool,
    /// Multi-objective DCL-ENAS: the infill's hypervolume reference.
    pub reference: InfillReference,
    /// Multi-objective DCL-ENAS: random candidates scored per round beside the offspring.
    pub sampled: usize,
}

impl Default for EcgMultiObjective {
    fn default() -> Self {
        let settings = MultiObjective::default();
        Self {
            enabled: false,
            reference: settings.reference,
            sampled: settings.sampled,
        }
    }
}

impl ConfigFile for EcgConfig {
    /// DCL-ENAS's, stage 1's and the multi-objective settings under their former top-level
    /// keys.
    const RENAMED: &'static [(&'static str, &'static str)] = &[
        ("multiobjective", "multiobjective.enabled"),
        ("infill_reference", "multiobjective.reference"),
        ("sampled", "multiobjective.sampled"),
        ("initial", "dcl_enas.initial"),
        ("infill", "dcl_enas.infill"),
        ("explore", "dcl_enas.explore"),
        ("pretrain_epochs", "pretrain.epochs"),
    ];
}

impl Default for EcgConfig {
    fn default() -> Self {
        Self {
            data: None,
            device: "native".into(),
            budget: 30,
            seed: 0,
            final_seeds: vec![0, 1, 2],
            proxy_per_class: 400,
            proxy_epochs: 6,
            proxy_valid_per_class: 500,
            eval_per_class: None,
            full_per_class: 2000,
            full_epochs: 15,
            channels: 16,
            batch: 1,
            workers: 1,
            threads_per_worker: 1,
            max_attempts: None,
            executor: ExecutorName::Local,
            slurm: dcl_slurm::SlurmConfig::default(),
            augment: AugmentName::None,
            weight_decay: 1e-4,
            head_hidden: 0,
            signal_dropout: 0.0,
            proxy_folds: 0,
            rr_only: false,
            local_rr: false,
            median_beat: false,
            median_channel: false,
            feature_entries: vec![EntryName::Head],
            baseline_entry: EntryName::Head,
            strategy: StrategyName::DclEnas,
            rescore_top: 0,
            rescore_repeats: 2,
            proxy_train_seed: None,
            fitness: FitnessName::BalancedAccuracy,
            proxy_class_mix: false,
            f_within_patients: false,
            pseudo_test: false,
            skeletons: None,
            multiobjective: EcgMultiObjective::default(),
            dcl_enas: DclEnasConfig {
                initial: 10,
                infill: 5,
                ..DclEnasConfig::default()
            },
            pretrain: PretrainConfig {
                epochs: 2,
                ..PretrainConfig::default()
            },
            finetune: FinetuneConfig::search_default(),
            model: ModelConfig::default(),
            training_engine: Engine::default(),
        }
    }
}

/// The ECG settings flags; each overrides the config key of the same name.
#[derive(Debug, Clone, Default, Args)]
pub struct EcgArgs {
    /// Config file (TOML); flags override its keys.
    #[arg(long, help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// MIT-BIH directory: PhysioNet's WFDB files (.hea, .dat, .atr) as downloaded [default: the
    /// copy bundled in the repository].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Device: native (the native CPU engine), ndarray (burn-ndarray), flex, cuda or cuda:N
    /// [default: native].
    #[arg(long)]
    pub device: Option<String>,
    /// Candidates trained during the search [default: 30].
    #[arg(long)]
    pub budget: Option<usize>,
    /// Search seed [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Final-training seeds, comma-separated [default: 0,1,2].
    #[arg(long, value_delimiter = ',')]
    pub final_seeds: Option<Vec<u64>>,
    /// Proxy training beats per class [default: 400].
    #[arg(long)]
    pub proxy_per_class: Option<usize>,
    /// Proxy epochs per candidate [default: 6].
    #[arg(long)]
    pub proxy_epochs: Option<usize>,
    /// Proxy validation beats per class [default: 500].
    #[arg(long)]
    pub proxy_valid_per_class: Option<usize>,
    /// Validation and test beats per class in the final reports (quick runs; the protocol
    /// uses all) [default: all].
    #[arg(long)]
    pub eval_per_class: Option<usize>,
    /// Final training beats per class, 0 for all [default: 2000].
    #[arg(long)]
    pub full_per_class: Option<usize>,
    /// Final training epochs [default: 15].
    #[arg(long)]
    pub full_epochs: Option<usize>,
    /// Channels of the first stage, at least 1 [default: 16].
    #[arg(long)]
    pub channels: Option<usize>,
    /// Rayon threads per worker [default: 1].
    #[arg(long)]
    pub threads_per_worker: Option<usize>,
    /// How the search's candidates train (on Slurm, with the config file's `[slurm]` table).
    #[command(flatten)]
    pub execution: ExecutionFlags,
    /// Augmentation [default: none].
    #[arg(long, value_enum)]
    pub augment: Option<AugmentName>,
    /// Adam weight decay, finite and non-negative [default: 0.0001].
    #[arg(long, allow_hyphen_values = true)]
    pub weight_decay: Option<f32>,
    /// Hidden units of the cell network's head [default: 0].
    #[arg(long)]
    pub head_hidden: Option<usize>,
    /// Probability of zeroing a training beat's signal, in [0, 1] [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub signal_dropout: Option<f32>,
    /// Proxy patient folds (0: the validation patients) [default: 0].
    #[arg(long)]
    pub proxy_folds: Option<usize>,
    /// Ablation: the RR features alone.
    #[arg(long)]
    pub rr_only: bool,
    /// Add the local-rhythm RR features.
    #[arg(long)]
    pub local_rr: bool,
    /// Subtract each record's median beat.
    #[arg(long)]
    pub median_beat: bool,
    /// The window minus the median beat as a second channel.
    #[arg(long)]
    pub median_channel: bool,
    /// Feature entries searched, comma-separated [default: head].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub feature_entries: Option<Vec<EntryName>>,
    /// Where the RR features enter the baseline [default: head].
    #[arg(long, value_enum)]
    pub baseline_entry: Option<EntryName>,
    /// Search strategy: dcl-enas, random or re (regularized evolution, population 20,
    /// tournament 5) [default: dcl-enas].
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyName>,
    /// Networks rescored before the final pick [default: 0].
    #[arg(long)]
    pub rescore_top: Option<usize>,
    /// Extra proxy trainings per rescored network [default: 2].
    #[arg(long)]
    pub rescore_repeats: Option<usize>,
    /// Seed of the proxy trainings [default: --seed].
    #[arg(long)]
    pub proxy_train_seed: Option<u64>,
    /// Search fitness [default: balanced-accuracy].
    #[arg(long, value_enum)]
    pub fitness: Option<FitnessName>,
    /// Proxy validation at the held-out patients' class mix.
    #[arg(long)]
    pub proxy_class_mix: bool,
    /// Deal F beats into proxy folds by time within patients (needs --proxy-folds 2+).
    #[arg(long)]
    pub f_within_patients: bool,
    /// Design mode: hold out the pseudo-test patients (DS1 106, 109, 122, 201, 220) from all
    /// training and choice and test on them; DS2 is not read.
    #[arg(long)]
    pub pseudo_test: bool,
    /// The wide space: each candidate also chooses channels (8, 16, 32), stages (2, 3, 4),
    /// cells per stage (1, 2), stem kernel (5, 7, 11), conv width (3, 5, 9) and head units
    /// (0, 32, 64); other lists with the config's `[skeletons]` table.
    #[arg(long)]
    pub wide_space: bool,
    /// Multi-objective: proxy fitness against parameters; the front is trained fully.
    #[arg(long)]
    pub multiobjective: bool,
    /// Multi-objective DCL-ENAS's settings.
    #[command(flatten)]
    pub multiobjective_settings: MultiObjectiveFlags,
    /// DCL-ENAS's and its predictor's settings.
    #[command(flatten)]
    pub strategy_settings: StrategyFlags,
}

/// `--config`'s help in the `ecg` commands.
const CONFIG_HELP: &str = "Config file (TOML); flags override its keys. Keys only a config \
     file sets: finetune.loss.weight (with the rnc loss), model.projection, and the [slurm] \
     table (docs/slurm.md). A file written before may name initial, infill, explore, \
     pretrain_epochs, multiobjective, infill_reference and sampled at the top level: they read \
     as dcl_enas.*, pretrain.epochs and multiobjective.{enabled,reference,sampled}.";

/// Keys of the `ecg` commands that only a config file sets (besides the `[slurm]` table).
#[cfg(test)]
const CONFIG_ONLY: &[&str] = &["finetune.loss.weight", "model.projection"];

/// `ecg search`'s arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct EcgSearchArgs {
    /// Run directory (journal, candidates, config, report); must not hold a journal
    /// [default: a new one under runs/].
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Resume the run in this directory (its config.toml; flags must agree with it).
    #[arg(long, conflicts_with = "config")]
    pub resume: Option<PathBuf>,
    /// The settings.
    #[command(flatten)]
    pub args: EcgArgs,
}

flag_keys!(EcgArgs, &mut EcgConfig, {
    data => data, device => device, budget => budget, seed => seed, final_seeds => final_seeds,
    proxy_per_class => proxy_per_class, proxy_epochs => proxy_epochs,
    proxy_valid_per_class => proxy_valid_per_class, proxy_train_seed => proxy_train_seed,
    full_per_class => full_per_class, full_epochs => full_epochs,
    eval_per_class => eval_per_class, channels => channels,
    threads_per_worker => threads_per_worker, augment => augment,
    weight_decay => weight_decay, head_hidden => head_hidden,
    signal_dropout => signal_dropout, proxy_folds => proxy_folds,
    feature_entries => feature_entries, baseline_entry => baseline_entry,
    strategy => strategy, rescore_top => rescore_top, rescore_repeats => rescore_repeats,
    fitness => fitness, rr_only => rr_only, local_rr => local_rr,
    median_beat => median_beat, median_channel => median_channel,
    proxy_class_mix => proxy_class_mix, f_within_patients => f_within_patients,
    pseudo_test => pseudo_test,
    multiobjective => multiobjective.enabled,
});

impl EcgArgs {
    /// The config: the file (or `base`), the flags over it.
    fn resolve(&self, base: Option<EcgConfig>) -> Result<EcgConfig, CliError> {
        let mut cfg = match (&self.config, base) {
            (Some(f), _) => config::load::<EcgConfig>(f)?,
            (None, Some(b)) => b,
            (None, None) => EcgConfig::default(),
        };
        self.apply_keys(&mut cfg);
        if self.wide_space && cfg.skeletons.is_none() {
            cfg.skeletons = Some(SkeletonMenu::wide());
        }
        self.execution.apply(dcl_cli::execution_settings!(cfg));
        self.multiobjective_settings.apply(
            &mut cfg.multiobjective.reference,
            &mut cfg.multiobjective.sampled,
        );
        self.strategy_settings
            .apply(dcl_cli::strategy_settings!(cfg));
        Ok(cfg)
    }
}

impl EcgConfig {
    /// Attempts per candidate: `max_attempts`, else 2 (`slurm.retries + 1` on Slurm).
    pub fn attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(match self.executor {
            ExecutorName::Local => 2,
            ExecutorName::Slurm => self.slurm.retries + 1,
        })
    }

    /// The device, parsed (the error names the flag and key).
    pub fn device_kind(&self) -> Result<DeviceKind, CliError> {
        self.device
            .parse()
            .map_err(|e| invalid(format!("--device (key `device`): {e}")))
    }

    /// The pipeline's config, checked (the error names the flag and key).
    pub fn search_config(&self) -> Result<EcgSearchConfig, CliError> {
        let count_key = |flag: &str, key: &str, v: usize, min: usize, max: usize| {
            if v < min || v > max {
                Err(invalid(format!(
                    "--{flag} (key `{key}`) must be in {min}..={max}, got {v}"
                )))
            } else {
                Ok(())
            }
        };
        // A top-level key named as its flag.
        let count = |flag: &str, v: usize, min: usize, max: usize| {
            count_key(flag, &flag.replace('-', "_"), v, min, max)
        };
        count("budget", self.budget, 1, 100_000)?;
        // The space: every cell with each feature entry (and each skeleton of a wide space).
        let skeletons = self.skeletons.as_ref().map_or(1, SkeletonMenu::size);
        let size = (dcl_graph::NB201_NUM_CELLS * self.feature_entries.len().max(1))
            .saturating_mul(skeletons);
        if self.budget > size {
            return Err(invalid(format!(
                "--budget (key `budget`) {} is more than the space holds: {size} architectures \
                 ({} cells x {} feature entr{} x {skeletons} skeleton{})",
                self.budget,
                dcl_graph::NB201_NUM_CELLS,
                self.feature_entries.len().max(1),
                if self.feature_entries.len() > 1 {
                    "ies"
                } else {
                    "y"
                },
                if skeletons > 1 { "s" } else { "" }
            )));
        }
        if let Some(menu) = &self.skeletons {
            menu.validate()
                .map_err(|e| invalid(format!("the `[skeletons]` table: {e}")))?;
        }
        count("proxy-per-class", self.proxy_per_class, 1, 1_000_000)?;
        count(
            "proxy-valid-per-class",
            self.proxy_valid_per_class,
            1,
            1_000_000,
        )?;
        if let Some(k) = self.eval_per_class {
            count("eval-per-class", k, 1, 1_000_000)?;
        }
        count("proxy-epochs", self.proxy_epochs, 1, 10_000)?;
        count("full-epochs", self.full_epochs, 1, 10_000)?;
        count("channels", self.channels, 1, 4096)?;
        let d = &self.dcl_enas;
        count_key("initial", "dcl_enas.initial", d.initial, 2, 100_000)?;
        count_key("infill", "dcl_enas.infill", d.infill, 1, 100_000)?;
        count_key("explore", "dcl_enas.explore", d.explore, 0, d.infill)?;
        count_key(
            "pretrain-epochs",
            "pretrain.epochs",
            self.pretrain.epochs,
            1,
            10_000,
        )?;
        count("batch", self.batch, 1, 10_000)?;
        count("workers", self.workers, 1, 256)?;
        count("threads-per-worker", self.threads_per_worker, 1, 256)?;
        count("max-attempts", self.attempts() as usize, 1, 100)?;
        if self.executor == ExecutorName::Slurm {
            dcl_cli::search::check_slurm(&self.slurm, self.max_attempts)?;
            if self.workers > 1 {
                return Err(invalid(
                    "--workers (key `workers`): local workers do not apply with executor \
                     slurm; --batch says how many candidates train at once"
                        .into(),
                ));
            }
        }
        count("head-hidden", self.head_hidden, 0, 4096)?;
        if self.final_seeds.is_empty() {
            return Err(invalid(
                "--final-seeds (key `final_seeds`) must name at least one seed".into(),
            ));
        }
        if self.feature_entries.is_empty() {
            return Err(invalid(
                "--feature-entries (key `feature_entries`) must name at least one entry".into(),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(invalid(format!(
                "--weight-decay (key `weight_decay`) must be finite and non-negative, got {}",
                self.weight_decay
            )));
        }
        if !(0.0..=1.0).contains(&self.signal_dropout) {
            return Err(invalid(format!(
                "--signal-dropout (key `signal_dropout`) must be in [0, 1], got {}",
                self.signal_dropout
            )));
        }
        let engine = self.device_kind()?.engine();
        let adam = OptimizerKind::Adam {
            lr: 1e-3,
            weight_decay: self.weight_decay,
        };
        let augment = Augment {
            signal_dropout: self.signal_dropout,
            ..match self.augment {
                AugmentName::None => Augment::NONE,
                AugmentName::Ecg => ECG_AUGMENT,
            }
        };
        let monitor = match self.fitness {
            FitnessName::BalancedAccuracy => Monitor::BalancedAccuracy,
            FitnessName::MacroF1 => Monitor::MacroF1,
        };
        let config = EcgSearchConfig {
            beats: BeatConfig {
                local_rr: self.local_rr,
                subtract_median_beat: self.median_beat,
                median_beat_channel: self.median_channel,
                ..BeatConfig::default()
            },
            valid_records: DEFAULT_VALID_RECORDS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            proxy_train_per_class: self.proxy_per_class,
            proxy_valid_per_class: self.proxy_valid_per_class,
            full_train_per_class: (self.full_per_class > 0).then_some(self.full_per_class),
            eval_per_class: self.eval_per_class,
            net: NetConfig {
                channels: self.channels,
                head_hidden: self.head_hidden,
                ..NetConfig::default()
            },
            feature_entries: self.feature_entries.iter().map(|e| e.entry()).collect(),
            baseline_entry: self.baseline_entry.entry(),
            kernels: Kernels::default(),
            proxy_train: TrainConfig {
                epochs: self.proxy_epochs,
                optimizer: adam,
                patience: None,
                seed: self.proxy_train_seed.unwrap_or(self.seed),
                augment,
                monitor,
                engine,
                ..TrainConfig::default()
            },
            full_train: TrainConfig {
                epochs: self.full_epochs,
                optimizer: adam,
                patience: Some(5),
                augment,
                engine,
                ..TrainConfig::default()
            },
            strategy: self.strategy,
            evolution: RegularizedEvolution::default(),
            search: self.dcl_enas.clone(),
            budget: self.budget,
            model: self.model,
            pretrain: self.pretrain.clone(),
            finetune: self.finetune.clone(),
            training_engine: self.training_engine,
            final_seeds: self.final_seeds.clone(),
            seed: self.seed,
            proxy_folds: self.proxy_folds,
            rr_only: self.rr_only,
            rescore: Rescore {
                top: self.rescore_top,
                repeats: self.rescore_repeats,
            },
            proxy_class_mix: self.proxy_class_mix,
            f_within_patients: self.f_within_patients,
            pseudo_test: self.pseudo_test,
            skeletons: self.skeletons.clone(),
            multiobjective: self.multiobjective.enabled.then_some(MultiObjective {
                reference: self.multiobjective.reference,
                sampled: self.multiobjective.sampled,
            }),
        };
        config
            .validate()
            .map_err(|e| invalid(format!("invalid ECG settings: {e}")))?;
        Ok(config)
    }
}

/// What `ecg baseline --out` and `ecg cell --out` write: the final runs of one network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SingleReport {
    /// `baseline-ENTRY` or `cell`.
    pub model: String,
    /// The cell trained (`ecg cell`).
    pub cell: Option<String>,
    /// The settings of the run.
    pub config: EcgConfig,
    /// One final run per final-training seed, each with its test metrics and confusion matrix
    /// (DS2's, or the pseudo-test's with `pseudo_test`).
    pub runs: Vec<FinalRun>,
}

/// What to run.
enum Mode {
    Search(Box<Execution>),
    Baseline,
    Cell(NetArch),
    Proxy(Vec<NetArch>),
    Signals(PathBuf, Vec<(usize, NetArch)>, crate::signals::StudyTarget),
}

enum Outcome {
    Search(Box<EcgSearchReport>),
    Single(String, Vec<FinalRun>),
    Fitness(Vec<f64>),
    Signals(usize),
}

/// Runs an `ecg` command.
pub fn run(command: &EcgCommand) -> Result<(), CliError> {
    let start = Instant::now();
    let mut single_out = None;
    let (cfg, mode, cell_arg) = match command {
        EcgCommand::Search(s) => {
            let base = match &s.resume {
                Some(dir) => Some(config::load::<EcgConfig>(&dir.join(CONFIG_FILE))?),
                None => None,
            };
            let cfg = s.args.resolve(base)?;
            let dir = match (&s.resume, &s.out) {
                (Some(d), _) | (None, Some(d)) => d.clone(),
                (None, None) => dcl_evo::fresh_run_dir("ecg", cfg.seed),
            };
            let execution = Execution {
                batch_size: cfg.batch,
                workers: cfg.workers,
                threads_per_worker: cfg.threads_per_worker,
                max_attempts: cfg.attempts(),
                run_dir: Some(dir),
                resume: s.resume.is_some(),
                slurm: (cfg.executor == ExecutorName::Slurm).then(|| crate::SlurmTraining {
                    config: cfg.slurm.clone(),
                    device: cfg.device.clone(),
                }),
            };
            (cfg, Mode::Search(Box::new(execution)), None)
        }
        EcgCommand::Compare(args) => return crate::compare::run(args),
        EcgCommand::SignalsReport(args) => return signals::report(args),
        EcgCommand::Signals(args) => {
            let (plan, todo) = signals::plan(args)?;
            let cfg = plan.config.clone();
            (
                cfg,
                Mode::Signals(args.out.clone(), todo, plan.target()),
                None,
            )
        }
        EcgCommand::Front { report, out } => {
            let text = std::fs::read_to_string(report)
                .map_err(|e| invalid(format!("{}: {e}", report.display())))?;
            let report: EcgSearchReport = serde_json::from_str(&text)
                .map_err(|e| invalid(format!("{}: not a search report: {e}", report.display())))?;
            if report.front.is_empty() {
                return Err(invalid(
                    "the report has no front: not a multi-objective search (--multiobjective)"
                        .into(),
                ));
            }
            dcl_graph::io::write_atomic(out, front_plot(&report)?.as_bytes())?;
            print_front(&report);
            println!("front plotted in {}", out.display());
            return Ok(());
        }
        EcgCommand::Baseline { out, args } => {
            single_out = out.clone();
            (args.resolve(None)?, Mode::Baseline, None)
        }
        EcgCommand::Cell { cell, out, args } => {
            single_out = out.clone();
            let arch: NetArch = cell
                .parse()
                .map_err(|e| invalid(format!("CELL {cell:?}: {e}")))?;
            (args.resolve(None)?, Mode::Cell(arch), Some(cell.clone()))
        }
        EcgCommand::Proxy { cells, args } => {
            let archs = cells
                .iter()
                .map(|c| {
                    c.parse::<NetArch>()
                        .map_err(|e| invalid(format!("CELL {c:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (args.resolve(None)?, Mode::Proxy(archs), None)
        }
    };
    let search_config = cfg.search_config()?;
    let device = cfg.device_kind()?;
    device
        .check()
        .map_err(|e| invalid(format!("--device {device}: {e}")))?;
    if let Mode::Search(ex) = &mode {
        ex.validate()
            .map_err(|e| invalid(format!("invalid execution settings: {e}")))?;
    }
    let db = match &cfg.data {
        Some(dir) => {
            MitBih::open_dir(dir).map_err(|e| invalid(format!("--data {}: {e}", dir.display())))?
        }
        None => MitBih::bundled().map_err(|e| invalid(format!("MIT-BIH: {e}")))?,
    };
    // Held to the end of the command: one process at a time writes a run directory.
    let _lock = match &mode {
        Mode::Search(ex) => match &ex.run_dir {
            Some(dir) => {
                let flag = if ex.resume { "--resume" } else { "--out" };
                let lock = dcl_cli::run_dir::lock(dir, flag)?;
                dcl_cli::run_dir::report_on_signal(dir, "ecg search");
                lock
            }
            None => None,
        },
        _ => None,
    };
    if let Mode::Search(ex) = &mode
        && let (Some(dir), false) = (&ex.run_dir, ex.resume)
    {
        if dir.join(dcl_evo::JOURNAL_FILE).exists() {
            return Err(invalid(format!(
                "--out {}: it already holds a journal: start a new run in another directory, \
                 or resume this one",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)?;
        config::save(&cfg, &dir.join(CONFIG_FILE))?;
        tracing::info!(
            "run directory {} (if this run is killed: dcl-enas ecg search --resume {})",
            dir.display(),
            dir.display()
        );
    }
    // The resolved settings as one line of JSON (the run directory keeps them as TOML).
    let settings = serde_json::to_string(&cfg).map_err(|e| invalid(e.to_string()))?;
    println!("ecg on {device}: {settings}");
    let outcome = match device {
        DeviceKind::Native | DeviceKind::NdArray => {
            go::<dcl_train::NdArrayBackend>(&db, &search_config, &Default::default(), &mode)?
        }
        #[cfg(feature = "flex")]
        DeviceKind::Flex => {
            go::<dcl_train::FlexBackend>(&db, &search_config, &Default::default(), &mode)?
        }
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(i) => {
            let d = burn::backend::cuda::CudaDevice::new(i);
            go::<dcl_train::CudaBackend>(&db, &search_config, &d, &mode)?
        }
        #[allow(unreachable_patterns)]
        other => {
            return Err(invalid(format!(
                "--device {other}: not compiled in (build with --features flex or cuda)"
            )));
        }
    };
    let augment = match cfg.augment {
        AugmentName::None => "none",
        AugmentName::Ecg => "ecg",
    };
    match outcome {
        Outcome::Signals(done) => {
            if let EcgCommand::Signals(args) = command {
                println!(
                    "ecg signals part={}/{} measured={done} seconds={:.0} (ecg signals-report {} once every part is done)",
                    args.part.0,
                    args.part.1,
                    start.elapsed().as_secs_f64(),
                    args.out.display()
                );
            }
        }
        Outcome::Fitness(fitness) => {
            if let Mode::Proxy(archs) = &mode {
                for (cell, f) in archs.iter().zip(fitness) {
                    println!(
                        "ecg proxy_fitness={f:.6} seed={} proxy_train_seed={} cell={cell}",
                        search_config.seed, search_config.proxy_train.seed
                    );
                }
            }
        }
        Outcome::Single(name, runs) => {
            if let Some(path) = &single_out {
                let report = SingleReport {
                    model: name.clone(),
                    cell: cell_arg.clone(),
                    config: cfg.clone(),
                    runs: runs.clone(),
                };
                write_json(path, &report)?;
                println!("report written to {}", path.display());
            }
            per_class(&name, &runs, crate::folds::test_set_name(&search_config));
            let cell = cell_arg.map_or(String::new(), |c| format!(" cell={c}"));
            println!(
                "{}{cell} augment={augment} seconds={:.0}",
                summary(&name, &runs),
                start.elapsed().as_secs_f64()
            );
        }
        Outcome::Search(report) => {
            if let Mode::Search(ex) = &mode
                && let Some(dir) = &ex.run_dir
            {
                let path = dir.join("report.json");
                write_json(&path, &report)?;
                println!("report written to {}", path.display());
                if !report.front.is_empty() {
                    let path = dir.join("front.svg");
                    dcl_graph::io::write_atomic(&path, front_plot(&report)?.as_bytes())?;
                    println!("front plotted in {}", path.display());
                }
            }
            print_search(&report, start);
        }
    }
    Ok(())
}

/// Writes `value` as pretty JSON to `path`, atomically.
fn write_json<T: Serialize>(path: &std::path::Path, value: &T) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(value).map_err(|e| invalid(e.to_string()))?;
    dcl_graph::io::write_atomic(path, json.as_bytes())?;
    Ok(())
}

fn go<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    device: &B::Device,
    mode: &Mode,
) -> Result<Outcome, CliError> {
    let fail = |e: crate::EcgSearchError| invalid(e.to_string());
    Ok(match mode {
        Mode::Baseline => Outcome::Single(
            baseline_name(config.baseline_entry),
            run_baseline::<B>(db, config, device).map_err(fail)?,
        ),
        Mode::Cell(cell) => Outcome::Single(
            "cell".into(),
            run_cell::<B>(db, config, cell, device).map_err(fail)?,
        ),
        Mode::Proxy(cells) => {
            Outcome::Fitness(proxy_fitness::<B>(db, config, cells, device).map_err(fail)?)
        }
        Mode::Signals(dir, archs, target) => {
            crate::signals::study_archs::<B>(db, config, archs, *target, device, &mut |r| {
                signals::save(dir, &r).map_err(|e| crate::EcgSearchError::Io(e.to_string()))
            })
            .map_err(fail)?;
            Outcome::Signals(archs.len())
        }
        Mode::Search(ex) => Outcome::Search(Box::new(
            run_with::<B>(db, config, ex, device).map_err(fail)?,
        )),
    })
}

/// The summary line of one network's final trainings.
pub fn summary(name: &str, runs: &[FinalRun]) -> String {
    let pick =
        |f: &dyn Fn(&FinalRun) -> f64| dcl_evo::mean_std(&runs.iter().map(f).collect::<Vec<_>>());
    let (acc, acc_sd) = pick(&|r| 100.0 * r.test.accuracy);
    let (bal, bal_sd) = pick(&|r| 100.0 * r.test.balanced_accuracy);
    let (f1, f1_sd) = pick(&|r| 100.0 * r.test.macro_f1);
    format!(
        "ecg model={name} acc={acc:.2}±{acc_sd:.2} balanced_acc={bal:.2}±{bal_sd:.2} macro_f1={f1:.2}±{f1_sd:.2} seeds={}",
        runs.len()
    )
}

fn per_class(name: &str, runs: &[FinalRun], test_set: &str) {
    let Some(first) = runs.first() else { return };
    println!(
        "{name}: {test_set} per-class sensitivity / PPV (%, mean over seeds), confusion of seed {}:",
        first.seed
    );
    for (c, class) in ["N", "S", "V", "F"].iter().enumerate() {
        let se: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.test.sensitivity.get(c).copied().flatten())
            .collect();
        let pp: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.test.ppv.get(c).copied().flatten())
            .collect();
        println!(
            "  {class}: Se {:6.2}  PPV {:6.2}   {:?}",
            100.0 * dcl_evo::mean_std(&se).0,
            if pp.is_empty() {
                f64::NAN
            } else {
                100.0 * dcl_evo::mean_std(&pp).0
            },
            first.test.confusion.get(c).cloned().unwrap_or_default()
        );
    }
    // The literature's scores (AAMI's rule for V's PPV, jκ); `ecg compare` tabulates them.
    let scores: Vec<dcl_ecg::AamiScores> = runs
        .iter()
        .filter_map(|r| dcl_ecg::AamiScores::from_confusion(&r.test.confusion).ok())
        .collect();
    let mean = |f: &dyn Fn(&dcl_ecg::AamiScores) -> Option<f64>| {
        let v: Option<Vec<f64>> = scores.iter().map(f).collect();
        v.filter(|v| !v.is_empty())
            .map_or(f64::NAN, |v| dcl_evo::mean_std(&v).0)
    };
    println!(
        "  mean Se over N/S/V/F {:.2} %, jκ {:.4} (mean over seeds)",
        100.0 * mean(&|s| Some(s.mean_sensitivity)),
        mean(&|s| s.jk_index)
    );
}

/// The summary lines' name of the baseline with the RR features entering at `entry`.
pub fn baseline_name(entry: FeatureEntry) -> String {
    format!("baseline-{entry}")
}

/// The summary lines' name of the network a strategy found (`dcl-enas`, `random-search`,
/// `regularized-evolution`), from the report's strategy name.
pub fn found_name(strategy: &str) -> String {
    match strategy {
        "random" => "random-search".into(),
        other => other.into(),
    }
}

/// Mean DS2 balanced accuracy (%) and mean latency per beat (ms) of final runs.
fn tested(runs: &[FinalRun]) -> (f64, f64, f64) {
    let (bal, bal_sd) = dcl_evo::mean_std(
        &runs
            .iter()
            .map(|r| 100.0 * r.test.balanced_accuracy)
            .collect::<Vec<_>>(),
    );
    let latency: Vec<f64> = runs.iter().filter_map(|r| r.latency_ms).collect();
    let latency = if latency.is_empty() {
        f64::NAN
    } else {
        dcl_evo::mean_std(&latency).0
    };
    (bal, bal_sd, latency)
}

/// A multi-objective search's front (DS2 balanced accuracy against parameters) with the
/// baseline's point.
fn front_plot(report: &EcgSearchReport) -> Result<String, CliError> {
    let front: Vec<(f64, f64)> = report
        .front
        .iter()
        .map(|m| (tested(&m.runs).0, m.params as f64))
        .collect();
    let baseline = (tested(&report.baseline).0, report.params[0] as f64);
    dcl_cli::plot::fronts(
        "ECG: the search's front tested on DS2 (balanced accuracy), and the baseline",
        "params",
        (&found_name(&report.strategy), &front),
        None,
        &[(baseline_name(report.baseline_entry), vec![baseline])],
    )
}

/// The `ecg front` lines of a multi-objective search: each member of the front tested on DS2,
/// then the baseline's point.
fn print_front(report: &EcgSearchReport) {
    let baseline = baseline_name(report.baseline_entry);
    for m in &report.front {
        let (bal, sd, latency) = tested(&m.runs);
        println!(
            "ecg front cell={} params={} proxy_fitness={:.2} search_latency_ms={:.3} latency_ms={latency:.3} balanced_acc={bal:.2}±{sd:.2} seeds={}",
            m.cell,
            m.params,
            m.fitness,
            m.latency_ms.unwrap_or(f64::NAN),
            m.runs.len()
        );
    }
    if !report.front.is_empty() {
        let (bal, sd, latency) = tested(&report.baseline);
        println!(
            "ecg front-baseline model={baseline} params={} latency_ms={latency:.3} balanced_acc={bal:.2}±{sd:.2} seeds={}",
            report.params[0],
            report.baseline.len()
        );
    }
}

fn print_search(report: &EcgSearchReport, start: Instant) {
    let baseline = baseline_name(report.baseline_entry);
    let found = found_name(&report.strategy);
    per_class(&baseline, &report.baseline, &report.test_set);
    per_class(&found, &report.found, &report.test_set);
    let train_seconds = |runs: &[FinalRun]| runs.iter().map(|r| r.seconds).sum::<f64>();
    for c in &report.rescored {
        println!(
            "rescored: mean {:.2} over {:.2?} {}{}",
            c.mean,
            c.fitness,
            c.cell,
            if c.cell == report.best_cell {
                " (chosen)"
            } else {
                ""
            }
        );
    }
    let rescore_trainings: usize = report.rescored.iter().map(|c| c.records.len()).sum();
    println!(
        "time: pretrain {:.0} s, search {:.0} s ({} candidates, {} proxy trainings, {rescore_trainings} of them rescoring in {:.0} s), final baseline {:.0} s, final found {:.0} s, total {:.0} s",
        report.pretrain_seconds,
        report.search_seconds,
        report.history.queries.len(),
        report.candidates.len() + rescore_trainings,
        report.rescore_seconds,
        train_seconds(&report.baseline),
        train_seconds(&report.found),
        start.elapsed().as_secs_f64()
    );
    print_front(report);
    println!(
        "{} params={}",
        summary(&baseline, &report.baseline),
        report.params[0]
    );
    println!(
        "{} params={} cell={} candidates={} proxy_trainings={} rescored={} search_seconds={:.0} total_seconds={:.0}",
        summary(&found, &report.found),
        report.params[1],
        report.best_cell,
        report.history.queries.len(),
        report.candidates.len() + rescore_trainings,
        report.rescored.len(),
        report.search_seconds,
        start.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ecg_flag_sets_its_key_and_every_key_names_its_flag() {
        let groups: Vec<&[(&str, &str)]> = [
            EcgArgs::KEYS,
            // Set in `EcgArgs::resolve`: the flag puts the wide menu in the table.
            &[("wide_space", "skeletons")],
            ExecutionFlags::KEYS,
            MultiObjectiveFlags::KEYS,
        ]
        .into_iter()
        .chain(StrategyFlags::GROUPS.iter().copied())
        .collect();
        dcl_cli::config::check_command::<EcgArgs, EcgConfig>(
            &groups,
            CONFIG_ONLY,
            &["config"],
            // The `[slurm]` table, documented in docs/slurm.md.
            &["slurm"],
            &[],
            &|a, cfg| *cfg = a.resolve(Some(cfg.clone())).unwrap(),
        );
    }

    /// A config file written before the `ecg` commands shared their keys with `search` and
    /// `mo` (DCL-ENAS's, stage 1's and the multi-objective settings at the top level) reads as
    /// the same settings, so that its run directory resumes.
    #[test]
    fn an_ecg_config_with_the_former_top_level_keys_reads_as_today() {
        let old = "budget = 12\ninitial = 4\ninfill = 3\nexplore = 0\npretrain_epochs = 1\n\
                   multiobjective = true\ninfill_reference = \"nadir\"\nsampled = 50\n\
                   training_engine = \"burn\"\n";
        let read: EcgConfig = dcl_cli::config::parse(old, EcgConfig::default()).unwrap();
        let today = "budget = 12\ntraining_engine = \"burn\"\n[dcl_enas]\ninitial = 4\n\
                     infill = 3\nexplore = 0\n[pretrain]\nepochs = 1\n[multiobjective]\n\
                     enabled = true\nreference = \"nadir\"\nsampled = 50\n";
        let expected: EcgConfig = dcl_cli::config::parse(today, EcgConfig::default()).unwrap();
        assert_eq!(read, expected);
        assert_eq!(read.dcl_enas.infill, 3);
        assert_eq!(read.multiobjective.reference, InfillReference::Nadir);
        let search = read.search_config().unwrap();
        assert_eq!((search.search.initial, search.pretrain.epochs), (4, 1));
        assert_eq!(search.multiobjective.map(|m| m.sampled), Some(50));
        // What a run directory keeps reads back as itself.
        let saved = toml::to_string(&read).unwrap();
        let again: EcgConfig = dcl_cli::config::parse(&saved, EcgConfig::default()).unwrap();
        assert_eq!(again, read);
        // The predictor's settings, new to these commands, are checked before any work.
        let mut no_width = EcgConfig::default();
        no_width.model.hidden = 0;
        let e = no_width.search_config().unwrap_err().to_string();
        assert!(e.contains("hidden"), "{e}");
        // The same setting under both names is refused.
        assert!(
            dcl_cli::config::parse::<EcgConfig>(
                "infill = 3\n[dcl_enas]\ninfill = 4\n",
                EcgConfig::default()
            )
            .is_err()
        );
    }

    #[test]
    fn the_training_engine_reaches_the_search_from_the_flag_and_the_key() {
        let default = EcgArgs::default().resolve(None).unwrap();
        assert_eq!(
            default.search_config().unwrap().training_engine,
            Engine::Native
        );
        let mut flag = EcgArgs::default();
        flag.strategy_settings.pretrain.training_engine = Some(Engine::Burn);
        let cfg = flag.resolve(None).unwrap();
        assert_eq!(cfg.search_config().unwrap().training_engine, Engine::Burn);
        let key: EcgConfig = toml::from_str("training_engine = \"burn\"").unwrap();
        assert_eq!(key.search_config().unwrap().training_engine, Engine::Burn);
        assert!(toml::from_str::<EcgConfig>("training_engine = \"torch\"").is_err());
    }

    /// The candidates' engine follows the device: native by default, burn's own for a burn
    /// device, whether named by the flag or by a saved config's key (a run directory made
    /// before the native engine recorded `device = "ndarray"`, and resumes on burn-ndarray).
    #[test]
    fn the_device_picks_the_candidate_training_engine() {
        use dcl_train::TrainEngine;
        let engines = |cfg: &EcgConfig| {
            let s = cfg.search_config().unwrap();
            (s.proxy_train.engine, s.full_train.engine)
        };
        let default = EcgArgs::default().resolve(None).unwrap();
        assert_eq!(default.device, "native");
        assert_eq!(
            engines(&default),
            (TrainEngine::Native, TrainEngine::Native)
        );
        let flag = EcgArgs {
            device: Some("ndarray".into()),
            ..EcgArgs::default()
        };
        let cfg = flag.resolve(None).unwrap();
        assert_eq!(engines(&cfg), (TrainEngine::Burn, TrainEngine::Burn));
        let saved: EcgConfig = toml::from_str("device = \"ndarray\"").unwrap();
        assert_eq!(engines(&saved), (TrainEngine::Burn, TrainEngine::Burn));
        assert!(
            toml::from_str::<EcgConfig>("device = \"tpu\"")
                .unwrap()
                .search_config()
                .is_err()
        );
    }
}
