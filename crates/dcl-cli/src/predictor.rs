//! `dcl-enas predictor eval | pretrain`: the predictor alone.
//!
//! `eval` measures ranking quality as TNASP and PINAT do: fine-tune on `k` random labelled
//! architectures, Kendall τ on all the others. Stage 1 is label-free, so one encoder per space
//! is pre-trained once (on every NB201 cell, or on the whole 423,624-cell NB101 enumeration)
//! and serves every `k` and seed; each seed draws its own labelled set and fine-tunes its own
//! copy. Labels: NB201 CIFAR-10 200-epoch test accuracy; NB101 108-epoch validation accuracy of
//! the 20,001-cell subset (single training runs). Ends with one line per configuration:
//! `tau space=nb201 k=156 variant=dcl mean=0.712 std=0.015 seeds=5 seconds=3.1`
//! (`seconds`: mean fine-tune + scoring time per seed).
//!
//! `pretrain` makes an encoder file that `eval --encoder FILE` (or any program, through
//! [`Predictor::pretrain_cached`]) reuses only for the settings it was made with.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_graph::{GraphSpace, Nb101Space, Nb201Space};
use dcl_predictor::metrics::{kendall_tau, precision_at_k, spearman_rho};
use dcl_predictor::{
    Engine, Ensemble, FinetuneConfig, ModelConfig, Predictor, PretrainConfig, RankingLoss,
};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigFile, KeyFlag, flag_keys, key_flags};
use crate::flags::{FinetuneFlags, PretrainFlags, PretrainSettings, SeedsFlags};
use crate::search::{SpaceName, located};
use crate::{CliError, config, invalid};

/// Seed of encoder 0's initial weights (encoder `i` uses this plus `i`).
pub const ENCODER_SEED: u64 = 1_000_003;

/// The `predictor` commands.
// Parsed once per process: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Subcommand)]
pub enum PredictorCommand {
    /// Kendall τ of the predictor against k labelled architectures, with ablations.
    #[command(allow_negative_numbers = true)]
    Eval(EvalArgs),
    /// Pre-train an encoder (stage 1) and save it with the settings it was made with.
    #[command(allow_negative_numbers = true)]
    Pretrain(PretrainArgs),
}

/// The variants compared by `eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Pre-trained, pairwise loss.
    Dcl,
    /// Pre-trained, Rank-N-Contrast + pairwise.
    Rnc,
    /// Pairwise loss from scratch (no stage 1).
    NoPretrain,
    /// Pre-trained, mean squared error (a regression baseline).
    Mse,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Dcl => "dcl",
            Variant::Rnc => "rnc",
            Variant::NoPretrain => "no-pretrain",
            Variant::Mse => "mse",
        }
    }
}

/// Everything that decides `predictor eval` (its config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalConfig {
    /// The space.
    pub space: SpaceName,
    /// Labelled set sizes; empty for the space's usual ones (78, 156, 469, 781, 1563 on
    /// NB201; 100, 172, 424, 4236 on NB101).
    pub k: Vec<usize>,
    /// Seeds per configuration.
    pub seeds: u64,
    /// First seed.
    pub seed_offset: u64,
    /// Variants compared.
    pub variants: Vec<Variant>,
    /// Fine-tuned copies per seed whose standardised scores are averaged.
    pub ensemble: usize,
    /// Encoders pre-trained from different seeds; ensemble member m starts from encoder
    /// m mod this.
    pub encoders: usize,
    /// Weight of the Rank-N-Contrast term (variant rnc).
    pub rnc_weight: f64,
    /// Stage 1 on this many architectures drawn at random from the space (seed
    /// [`ENCODER_SEED`]) instead of all of them: how a space too large to list is pre-trained.
    pub pretrain_sample: Option<usize>,
    /// The model.
    pub model: ModelConfig,
    /// Stage 1.
    pub pretrain: PretrainConfig,
    /// Stage 2 (its loss is the variant's).
    pub finetune: FinetuneConfig,
    /// What runs the encoder in training: `native` (the default: this crate's kernels) or
    /// `burn` (burn's autodiff; slower, another rounding).
    pub training_engine: Engine,
}

impl ConfigFile for EvalConfig {}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            space: SpaceName::Nb201,
            k: Vec::new(),
            seeds: 5,
            seed_offset: 0,
            variants: vec![
                Variant::Dcl,
                Variant::Rnc,
                Variant::NoPretrain,
                Variant::Mse,
            ],
            ensemble: 1,
            encoders: 1,
            rnc_weight: 1.0,
            pretrain_sample: None,
            model: ModelConfig::default(),
            pretrain: PretrainConfig::default(),
            finetune: FinetuneConfig {
                epochs: 100,
                ..FinetuneConfig::default()
            },
            training_engine: Engine::default(),
        }
    }
}

flag_keys!(EvalArgs, &mut EvalConfig, {
    space => space, k => k, variants => variants, ensemble => ensemble, encoders => encoders,
    rnc_weight => rnc_weight, pretrain_sample => pretrain_sample,
});

flag_keys!(PretrainArgs, &mut PretrainCommandConfig, { space => space, seed => seed });

impl EvalArgs {
    /// Overrides `cfg`'s keys with the flags given.
    pub fn apply(&self, cfg: &mut EvalConfig) {
        self.apply_keys(&mut *cfg);
        self.seeds.apply(&mut cfg.seeds, &mut cfg.seed_offset);
        self.finetune.apply(&mut cfg.finetune);
        self.stage1.apply(PretrainSettings {
            pretrain: &mut cfg.pretrain,
            model: &mut cfg.model,
            training_engine: &mut cfg.training_engine,
        });
    }
}

impl PretrainArgs {
    /// Overrides `cfg`'s keys with the flags given.
    pub fn apply(&self, cfg: &mut PretrainCommandConfig) {
        self.apply_keys(&mut *cfg);
        self.stage1.apply(PretrainSettings {
            pretrain: &mut cfg.pretrain,
            model: &mut cfg.model,
            training_engine: &mut cfg.training_engine,
        });
    }
}

/// Keys of `predictor eval` and `predictor pretrain` that only a config file sets (their
/// `--config` help lists them).
const CONFIG_ONLY: &[&str] = &["model.projection"];

/// `--config`'s help in `predictor eval` and `predictor pretrain`: it lists [`CONFIG_ONLY`].
const CONFIG_HELP: &str =
    "Config file (TOML); flags override its keys. A key only a config file sets: model.projection.";

/// `predictor eval`'s flag groups, each flag with its key.
const EVAL_KEYS: &[&[(&str, &str)]] = &[
    EvalArgs::KEYS,
    SeedsFlags::KEYS,
    FinetuneFlags::KEYS,
    PretrainFlags::KEYS,
];

/// `predictor pretrain`'s flag groups, each flag with its key.
const PRETRAIN_KEYS: &[&[(&str, &str)]] = &[PretrainArgs::KEYS, PretrainFlags::KEYS];

/// `predictor eval`'s key → flag map, for error messages.
fn eval_flags() -> Vec<KeyFlag> {
    key_flags(
        &EvalArgs::augment_args(clap::Command::new("eval")),
        EVAL_KEYS,
        CONFIG_ONLY,
        &[],
    )
}

/// `predictor pretrain`'s key → flag map, for error messages.
fn pretrain_flags() -> Vec<KeyFlag> {
    key_flags(
        &PretrainArgs::augment_args(clap::Command::new("pretrain")),
        PRETRAIN_KEYS,
        CONFIG_ONLY,
        &[],
    )
}

/// `predictor eval`'s arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct EvalArgs {
    /// Config file (TOML); flags override its keys.
    #[arg(long, help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// Encoder cache: loaded when it holds an encoder made with these settings (a file made
    /// otherwise is refused), written after pre-training when missing. Encoder i > 0 is
    /// FILE.i.
    #[arg(long)]
    pub encoder: Option<PathBuf>,
    /// Space [default: nb201].
    #[arg(long, value_enum)]
    pub space: Option<SpaceName>,
    /// Labelled set sizes, comma-separated, each in 2..=(table size - 2) [default:
    /// 78,156,469,781,1563 on nb201, 100,172,424,4236 on nb101].
    #[arg(long, value_delimiter = ',')]
    pub k: Option<Vec<usize>>,
    /// Seeds.
    #[command(flatten)]
    pub seeds: SeedsFlags,
    /// Variants, comma-separated [default: dcl,rnc,no-pretrain,mse].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub variants: Option<Vec<Variant>>,
    /// Fine-tuned copies per seed, averaged [default: 1].
    #[arg(long)]
    pub ensemble: Option<usize>,
    /// Encoders from different seeds [default: 1].
    #[arg(long)]
    pub encoders: Option<usize>,
    /// Weight of the Rank-N-Contrast term (variant rnc) [default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub rnc_weight: Option<f64>,
    /// Stage 1 on this many architectures drawn at random, at least 2, instead of the whole
    /// space [default: the whole space].
    #[arg(long)]
    pub pretrain_sample: Option<usize>,
    /// Stage-2 settings (its loss is the variant's).
    #[command(flatten)]
    pub finetune: FinetuneFlags,
    /// Stage-1 and model settings.
    #[command(flatten)]
    pub stage1: PretrainFlags,
}

impl EvalConfig {
    /// Checks every setting before any work; `table_size` is the number of labelled
    /// architectures of the space.
    pub fn validate(&self, table_size: usize) -> Result<(), CliError> {
        if self.seeds == 0 {
            return Err(invalid(
                "--seeds (key `seeds`) must be at least 1, got 0".into(),
            ));
        }
        if self.seed_offset.checked_add(self.seeds).is_none() {
            return Err(invalid(format!(
                "--seed-offset (key `seed_offset`) {} plus --seeds {} is past the largest seed",
                self.seed_offset, self.seeds
            )));
        }
        for (flag, key, v) in [
            ("--ensemble", "ensemble", self.ensemble),
            ("--encoders", "encoders", self.encoders),
        ] {
            if v == 0 || v > 1000 {
                return Err(invalid(format!(
                    "{flag} (key `{key}`) must be in 1..=1000, got {v}"
                )));
            }
        }
        if self.variants.is_empty() {
            return Err(invalid(
                "--variants (key `variants`) must not be empty".into(),
            ));
        }
        for &k in &self.ks() {
            if k < 2 || k + 2 > table_size {
                return Err(invalid(format!(
                    "--k (key `k`): {k} labelled architectures; the labelled set must hold 2 to {} \
                     of the {table_size} (at least 2 left to rank)",
                    table_size.saturating_sub(2)
                )));
            }
        }
        if !(self.rnc_weight.is_finite() && self.rnc_weight >= 0.0) {
            return Err(invalid(format!(
                "--rnc-weight (key `rnc_weight`) must be finite and non-negative, got {}",
                self.rnc_weight
            )));
        }
        let flags = eval_flags();
        located("model", &flags, self.model.validate())?;
        if self.variants.iter().any(|v| *v != Variant::NoPretrain) {
            located("pretrain", &flags, self.pretrain.validate())?;
        }
        located("finetune", &flags, self.finetune.validate())
    }

    /// The labelled set sizes.
    pub fn ks(&self) -> Vec<usize> {
        match (self.k.is_empty(), self.space) {
            (false, _) => self.k.clone(),
            (true, SpaceName::Nb201) => vec![78, 156, 469, 781, 1563],
            (true, SpaceName::Nb101) => vec![100, 172, 424, 4236],
        }
    }
}

/// A space with its labelled architectures and its stage-1 pool.
struct Problem<S: GraphSpace> {
    space: S,
    archs: Vec<S::Arch>,
    labels: Vec<f64>,
    pretrain_pool: Vec<S::Arch>,
}

/// Runs a `predictor` command.
pub fn run(command: &PredictorCommand) -> Result<(), CliError> {
    match command {
        PredictorCommand::Eval(a) => eval(a),
        PredictorCommand::Pretrain(a) => pretrain(a),
    }
}

fn eval(args: &EvalArgs) -> Result<(), CliError> {
    let mut cfg = match &args.config {
        Some(f) => config::load::<EvalConfig>(f)?,
        None => EvalConfig::default(),
    };
    args.apply(&mut cfg);
    match cfg.space {
        SpaceName::Nb201 => {
            let table = Nb201Table::embedded()?;
            cfg.validate(table.len())?;
            let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
            let archs: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let labels = table.records().iter().map(|r| r.accuracy(metric)).collect();
            let pretrain_pool = archs.clone();
            evaluate(
                Problem {
                    space: Nb201Space::new(),
                    archs,
                    labels,
                    pretrain_pool,
                },
                &cfg,
                args,
            )
        }
        SpaceName::Nb101 => {
            let table = Nb101Table::subset20k()?;
            cfg.validate(table.len())?;
            let archs: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let labels = table
                .records()
                .iter()
                .map(|r| {
                    r.get(Nb101Metric::VAL_108)
                        .ok_or_else(|| invalid("the NB101 table lacks val_acc_108".into()))
                })
                .collect::<Result<_, _>>()?;
            let space = Nb101Space::new();
            let pretrain_pool = pool_of(&space)?;
            evaluate(
                Problem {
                    space,
                    archs,
                    labels,
                    pretrain_pool,
                },
                &cfg,
                args,
            )
        }
    }
}

/// Stage 1's architectures: every cell of the space.
fn pool_of<S: GraphSpace>(space: &S) -> Result<Vec<S::Arch>, CliError> {
    space
        .enumerate()
        .ok_or_else(|| invalid(format!("the {} space cannot be enumerated", space.name())))
}

/// Encoder `i`'s file: FILE for the first, FILE.i for the others.
fn encoder_file(path: &std::path::Path, i: u64) -> PathBuf {
    if i == 0 {
        return path.to_owned();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{i}"));
    PathBuf::from(name)
}

fn evaluate<S: GraphSpace>(
    p: Problem<S>,
    cfg: &EvalConfig,
    args: &EvalArgs,
) -> Result<(), CliError> {
    let name = p.space.name().to_owned();
    let mut p = p;
    if let Some(n) = cfg.pretrain_sample {
        if n < 2 || n > p.pretrain_pool.len() {
            return Err(invalid(format!(
                "--pretrain-sample (key `pretrain_sample`) must be in 2..={}, got {n}",
                p.pretrain_pool.len()
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(ENCODER_SEED);
        let (sample, _) = p.pretrain_pool.partial_shuffle(&mut rng, n);
        p.pretrain_pool = sample.to_vec();
    }
    let mut fresh: Predictor = Predictor::new(&p.space, cfg.model, ENCODER_SEED)?;
    fresh.set_training_engine(cfg.training_engine);
    let needs_pretrain = cfg.variants.iter().any(|v| *v != Variant::NoPretrain);
    let n_encoders = if needs_pretrain {
        cfg.encoders as u64
    } else {
        0
    };
    let mut pretrained = Vec::new();
    for i in 0..n_encoders {
        let mut enc: Predictor = Predictor::new(&p.space, cfg.model, ENCODER_SEED + i)?.fork(0);
        enc.set_training_engine(cfg.training_engine);
        let report = match &args.encoder {
            Some(path) => {
                let file = encoder_file(path, i);
                let r = enc.pretrain_cached(&file, &p.space, &p.pretrain_pool, &cfg.pretrain)?;
                if r.is_none() {
                    println!(
                        "pretrain space={name} encoder={i} loaded={}",
                        file.display()
                    );
                }
                r
            }
            None => Some(enc.pretrain(&p.space, &p.pretrain_pool, &cfg.pretrain)?),
        };
        if let Some(r) = report {
            println!(
                "pretrain space={name} encoder={i} cells={} steps={} loss={:.4} seconds={:.1}",
                p.pretrain_pool.len(),
                r.steps,
                r.final_loss,
                r.seconds
            );
        }
        pretrained.push(enc);
    }
    let mut summary = Vec::new();
    for k in cfg.ks() {
        for &variant in &cfg.variants {
            let (base, loss) = match variant {
                Variant::Dcl => (&pretrained[..], RankingLoss::Pairwise),
                Variant::Rnc => (
                    &pretrained[..],
                    RankingLoss::RankNContrast {
                        weight: cfg.rnc_weight,
                    },
                ),
                Variant::NoPretrain => (std::slice::from_ref(&fresh), RankingLoss::Pairwise),
                Variant::Mse => (&pretrained[..], RankingLoss::Mse),
            };
            let fcfg = FinetuneConfig {
                loss,
                ..cfg.finetune.clone()
            };
            let (mut taus, mut secs) = (Vec::new(), Vec::new());
            for seed in cfg.seed_offset..cfg.seed_offset + cfg.seeds {
                let start = Instant::now();
                // The labelled set: k distinct architectures drawn by this seed.
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut idx: Vec<usize> = (0..p.archs.len()).collect();
                for i in 0..k {
                    let j = rng.random_range(i..idx.len());
                    idx.swap(i, j);
                }
                let (train, test) = idx.split_at(k);
                let labelled: Vec<_> = train
                    .iter()
                    .map(|&i| (p.archs[i].clone(), p.labels[i]))
                    .collect();
                let test_archs: Vec<_> = test.iter().map(|&i| p.archs[i].clone()).collect();
                let ensemble =
                    Ensemble::finetune_from(base, &p.space, &labelled, &fcfg, cfg.ensemble, seed)?;
                let scores = ensemble.score(&p.space, &test_archs)?;
                let truth: Vec<f64> = test.iter().map(|&i| p.labels[i]).collect();
                let tau = kendall_tau(&truth, &scores)?;
                let rho = spearman_rho(&truth, &scores)?;
                let p50 = precision_at_k(&truth, &scores, 50.min(truth.len()))?;
                let s = start.elapsed().as_secs_f64();
                println!(
                    "  space={name} k={k} variant={} seed={seed} tau={tau:.4} rho={rho:.4} p@50={p50:.2} seconds={s:.1}",
                    variant.name()
                );
                taus.push(tau);
                secs.push(s);
            }
            let (m, sd) = dcl_evo::mean_std(&taus);
            let (ms, _) = dcl_evo::mean_std(&secs);
            summary.push(format!(
                "tau space={name} k={k} variant={} mean={m:.3} std={sd:.3} seeds={} seconds={ms:.1}",
                variant.name(),
                taus.len()
            ));
        }
    }
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// Everything that decides `predictor pretrain` (its config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PretrainCommandConfig {
    /// The space.
    pub space: SpaceName,
    /// Seed of the initial weights.
    pub seed: u64,
    /// The model.
    pub model: ModelConfig,
    /// Stage 1.
    pub pretrain: PretrainConfig,
    /// What runs the encoder in training: `native` (the default: this crate's kernels) or
    /// `burn` (burn's autodiff; slower, another rounding).
    pub training_engine: Engine,
}

impl ConfigFile for PretrainCommandConfig {}

impl Default for PretrainCommandConfig {
    fn default() -> Self {
        Self {
            space: SpaceName::Nb201,
            seed: ENCODER_SEED,
            model: ModelConfig::default(),
            pretrain: PretrainConfig::default(),
            training_engine: Engine::default(),
        }
    }
}

/// `predictor pretrain`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct PretrainArgs {
    /// Config file (TOML); flags override its keys.
    #[arg(long, help = CONFIG_HELP)]
    pub config: Option<PathBuf>,
    /// The encoder file to write (kept when it already holds an encoder made with these
    /// settings; refused when it holds one made otherwise).
    #[arg(long)]
    pub out: PathBuf,
    /// Space [default: nb201].
    #[arg(long, value_enum)]
    pub space: Option<SpaceName>,
    /// Seed of the initial weights (the encoders `eval` uses start from 1000003 + i)
    /// [default: 1000003].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stage-1 and model settings.
    #[command(flatten)]
    pub stage1: PretrainFlags,
}

fn pretrain(args: &PretrainArgs) -> Result<(), CliError> {
    let mut cfg = match &args.config {
        Some(f) => config::load::<PretrainCommandConfig>(f)?,
        None => PretrainCommandConfig::default(),
    };
    args.apply(&mut cfg);
    let flags = pretrain_flags();
    located("model", &flags, cfg.model.validate())?;
    located("pretrain", &flags, cfg.pretrain.validate())?;
    let report = match cfg.space {
        SpaceName::Nb201 => {
            let space = Nb201Space::new();
            // The table's order, as `eval` pre-trains on it.
            let pool: Vec<_> = Nb201Table::embedded()?
                .records()
                .iter()
                .map(|r| r.cell)
                .collect();
            let mut enc: Predictor = Predictor::new(&space, cfg.model, cfg.seed)?.fork(0);
            enc.set_training_engine(cfg.training_engine);
            (
                enc.pretrain_cached(&args.out, &space, &pool, &cfg.pretrain)?,
                pool.len(),
            )
        }
        SpaceName::Nb101 => {
            let space = Nb101Space::new();
            let pool = pool_of(&space)?;
            let mut enc: Predictor = Predictor::new(&space, cfg.model, cfg.seed)?.fork(0);
            enc.set_training_engine(cfg.training_engine);
            (
                enc.pretrain_cached(&args.out, &space, &pool, &cfg.pretrain)?,
                pool.len(),
            )
        }
    };
    match report {
        (Some(r), cells) => println!(
            "pretrain space={} cells={cells} steps={} loss={:.4} seconds={:.1} saved={}",
            cfg.space.name(),
            r.steps,
            r.final_loss,
            r.seconds,
            args.out.display()
        ),
        (None, _) => println!(
            "pretrain space={} unchanged={} (made with these settings already)",
            cfg.space.name(),
            args.out.display()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod settings_tests {
    use super::*;
    use crate::config::check_command;

    #[test]
    fn every_predictor_flag_sets_its_key_and_every_key_names_its_flag() {
        check_command::<EvalArgs, EvalConfig>(
            EVAL_KEYS,
            CONFIG_ONLY,
            &["config", "encoder"],
            // Each variant sets stage 2's loss.
            &["finetune.loss"],
            &[],
            &|a, cfg| a.apply(cfg),
        );
        check_command::<PretrainArgs, PretrainCommandConfig>(
            PRETRAIN_KEYS,
            CONFIG_ONLY,
            &["config", "out"],
            &[],
            &["--out", "x"],
            &|a, cfg| a.apply(cfg),
        );
        let flags = eval_flags();
        let find = |key: &str| flags.iter().find(|f| f.key == key).unwrap().flag.clone();
        assert_eq!(find("finetune.learning_rate"), "--finetune-lr");
        assert_eq!(find("pretrain.max_steps"), "--pretrain-steps");
        assert_eq!(find("model.projection"), "");
    }
}
