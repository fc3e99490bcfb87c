//! The flag groups commands share. A setting has one flag and one config key in every
//! command that has it: each group is declared once, flattened into the commands that use it
//! (`#[command(flatten)]`), and sets its keys with [`flag_keys!`](crate::flag_keys).
//!
//! | group | keys | commands |
//! | --- | --- | --- |
//! | [`DclEnasFlags`] | `dcl_enas.*` | `search`, `benchmark`, `mo`, `ecg` |
//! | [`PretrainFlags`] | `pretrain.*`, `model.hidden`, `model.layers`, `training_engine` | those and `predictor eval`, `predictor pretrain` |
//! | [`FinetuneFlags`] | `finetune.*` | `search`, `benchmark`, `mo`, `ecg`, `predictor eval` |
//! | [`StrategyFlags`] | the three above and `finetune.loss` | `search`, `benchmark`, `mo`, `ecg` |
//! | [`EvolutionFlags`] | `evolution.*` | `search`, `benchmark` |
//! | [`SeedsFlags`] | `seeds`, `seed_offset` | `benchmark`, `mo`, `predictor eval` |
//! | [`ExecutionFlags`] | `batch`, `max_attempts`, `executor`, `workers` | `search`, `ecg` |
//! | [`MultiObjectiveFlags`] | `multiobjective.reference`, `multiobjective.sampled` | `mo`, `ecg` |

use clap::Args;
use dcl_evo::{DclEnasConfig, InfillReference, RegularizedEvolution};
use dcl_predictor::{Engine, FinetuneConfig, ModelConfig, PretrainConfig};

use crate::flag_keys;
use crate::mo::InfillReferenceName;
use crate::search::{ExecutorName, LossName};

/// DCL-ENAS's own settings.
#[derive(Debug, Clone, Default, Args)]
pub struct DclEnasFlags {
    /// DCL-ENAS: random architectures evaluated before the first fit, at least 2 [default:
    /// 10].
    #[arg(long)]
    pub initial: Option<usize>,
    /// DCL-ENAS: population evolved on predicted fitness [default: 20].
    #[arg(long)]
    pub population: Option<usize>,
    /// DCL-ENAS: generations between rounds [default: 5].
    #[arg(long)]
    pub generations: Option<usize>,
    /// DCL-ENAS: offspring per generation [default: 100].
    #[arg(long)]
    pub offspring: Option<usize>,
    /// DCL-ENAS: architectures truly evaluated per round [default: 5].
    #[arg(long)]
    pub infill: Option<usize>,
    /// DCL-ENAS: queries per round that explore around the incumbent, at most --infill
    /// [default: 1].
    #[arg(long)]
    pub explore: Option<usize>,
    /// DCL-ENAS: probability of crossover, in [0, 1] [default: 0.3].
    #[arg(long, allow_hyphen_values = true)]
    pub crossover_rate: Option<f64>,
    /// DCL-ENAS: tournament size [default: 3].
    #[arg(long)]
    pub tournament: Option<usize>,
}

/// The settings [`DclEnasFlags`] set.
#[derive(Debug)]
pub struct DclEnasSettings<'a> {
    /// DCL-ENAS.
    pub dcl_enas: &'a mut DclEnasConfig,
}

flag_keys!(DclEnasFlags, DclEnasSettings<'_>, {
    initial => dcl_enas.initial, population => dcl_enas.population,
    generations => dcl_enas.generations, offspring => dcl_enas.offspring,
    infill => dcl_enas.infill, explore => dcl_enas.explore,
    crossover_rate => dcl_enas.crossover_rate, tournament => dcl_enas.tournament,
});

impl DclEnasFlags {
    /// Overrides DCL-ENAS's settings with the flags given.
    pub fn apply(&self, dcl_enas: &mut DclEnasConfig) {
        self.apply_keys(DclEnasSettings { dcl_enas });
    }
}

/// Stage 1 (label-free pre-training), the predictor's shape and its training engine.
#[derive(Debug, Clone, Default, Args)]
pub struct PretrainFlags {
    /// Stage 1: epochs over the space, at least 1 [default: 2 in searches, 10 in the
    /// predictor commands].
    #[arg(long)]
    pub pretrain_epochs: Option<usize>,
    /// Stage 1: at most this many steps [default: no cap].
    #[arg(long)]
    pub pretrain_steps: Option<usize>,
    /// Stage 1: learning rate, finite and positive [default: 0.001].
    #[arg(long, allow_hyphen_values = true)]
    pub pretrain_lr: Option<f64>,
    /// Stage 1: batch size, at least 2 [default: 256].
    #[arg(long)]
    pub pretrain_batch: Option<usize>,
    /// Stage 1: InfoNCE temperature, finite and positive [default: 0.2].
    #[arg(long, allow_hyphen_values = true)]
    pub pretrain_temperature: Option<f64>,
    /// Stage 1: augmentation's per-node op-substitution probability, in [0, 1] [default: 0.1].
    #[arg(long, allow_hyphen_values = true)]
    pub op_substitution: Option<f64>,
    /// Stage 1: augmentation's per-edge edge-drop probability, in [0, 1] [default: 0.1].
    #[arg(long, allow_hyphen_values = true)]
    pub edge_drop: Option<f64>,
    /// Stage 1: augmentation's per-node op-masking probability, in [0, 1] [default: 0.1].
    #[arg(long, allow_hyphen_values = true)]
    pub node_mask: Option<f64>,
    /// The predictor's hidden width [default: 64].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// The predictor's message-passing layers [default: 4].
    #[arg(long)]
    pub layers: Option<usize>,
    /// What runs the predictor's encoder in training: native (this crate's kernels), or burn
    /// (slower; other rounding) [default: native].
    #[arg(long)]
    pub training_engine: Option<Engine>,
}

/// The settings [`PretrainFlags`] set.
#[derive(Debug)]
pub struct PretrainSettings<'a> {
    /// Stage 1.
    pub pretrain: &'a mut PretrainConfig,
    /// The predictor's shape.
    pub model: &'a mut ModelConfig,
    /// The predictor's training engine.
    pub training_engine: &'a mut Engine,
}

flag_keys!(PretrainFlags, PretrainSettings<'_>, {
    pretrain_epochs => pretrain.epochs, pretrain_steps => pretrain.max_steps,
    pretrain_lr => pretrain.learning_rate, pretrain_batch => pretrain.batch_size,
    pretrain_temperature => pretrain.temperature, op_substitution => pretrain.op_substitution,
    edge_drop => pretrain.edge_drop, node_mask => pretrain.node_mask,
    hidden => model.hidden, layers => model.layers, training_engine => [*] training_engine,
});

impl PretrainFlags {
    /// Overrides stage 1's, the model's and the engine's settings with the flags given.
    pub fn apply(&self, settings: PretrainSettings<'_>) {
        self.apply_keys(settings);
    }
}

/// Stage 2: fine-tuning the predictor on evaluated architectures (each round's refit in a
/// search).
#[derive(Debug, Clone, Default, Args)]
pub struct FinetuneFlags {
    /// Stage 2: epochs of each fine-tuning, at least 1 [default: 50 in searches, 100 in
    /// predictor eval].
    #[arg(long, alias = "refit-epochs")]
    pub finetune_epochs: Option<usize>,
    /// Stage 2: at most this many optimiser steps per fine-tuning, at least 1: bounds a
    /// refit's cost at large budgets [default: no cap].
    #[arg(long, alias = "refit-max-steps")]
    pub finetune_max_steps: Option<usize>,
    /// Stage 2: learning rate, finite and positive [default: 0.001].
    #[arg(long, alias = "refit-lr", allow_hyphen_values = true)]
    pub finetune_lr: Option<f64>,
    /// Stage 2: weight decay, finite and non-negative [default: 0.0001].
    #[arg(long, alias = "refit-weight-decay", allow_hyphen_values = true)]
    pub finetune_weight_decay: Option<f64>,
    /// Stage 2: batch size, at least 2 [default: 128].
    #[arg(long)]
    pub finetune_batch_size: Option<usize>,
    /// Stage 2: temperature of the pairwise loss, finite and positive [default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub finetune_temperature: Option<f64>,
    /// Stage 2: soft pairwise targets with this target temperature [default: hard targets].
    #[arg(long, allow_hyphen_values = true)]
    pub finetune_target_temperature: Option<f64>,
    /// Stage 2: temperature of Rank-N-Contrast [default: 2].
    #[arg(long, allow_hyphen_values = true)]
    pub finetune_rnc_temperature: Option<f64>,
    /// Stage 2: weight of the stage-1 InfoNCE term kept on while fine-tuning [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub finetune_info_nce_weight: Option<f64>,
}

/// The settings [`FinetuneFlags`] set.
#[derive(Debug)]
pub struct FinetuneSettings<'a> {
    /// Stage 2.
    pub finetune: &'a mut FinetuneConfig,
}

flag_keys!(FinetuneFlags, FinetuneSettings<'_>, {
    finetune_epochs => finetune.epochs, finetune_max_steps => finetune.max_steps,
    finetune_lr => finetune.learning_rate, finetune_weight_decay => finetune.weight_decay,
    finetune_batch_size => finetune.batch_size, finetune_temperature => finetune.temperature,
    finetune_target_temperature => finetune.target_temperature,
    finetune_rnc_temperature => finetune.rnc_temperature,
    finetune_info_nce_weight => finetune.info_nce_weight,
});

impl FinetuneFlags {
    /// Overrides stage 2's settings with the flags given.
    pub fn apply(&self, finetune: &mut FinetuneConfig) {
        self.apply_keys(FinetuneSettings { finetune });
    }
}

/// DCL-ENAS's and its predictor's settings: [`DclEnasFlags`], [`PretrainFlags`],
/// [`FinetuneFlags`] and stage 2's loss.
#[derive(Debug, Clone, Default, Args)]
pub struct StrategyFlags {
    /// DCL-ENAS.
    #[command(flatten)]
    pub dcl_enas: DclEnasFlags,
    /// Stage 1 and the model.
    #[command(flatten)]
    pub pretrain: PretrainFlags,
    /// Stage 2.
    #[command(flatten)]
    pub finetune: FinetuneFlags,
    /// Stage 2: loss [default: pairwise].
    #[arg(long, alias = "refit-loss", value_enum)]
    pub finetune_loss: Option<LossName>,
}

flag_keys!(StrategyFlags, FinetuneSettings<'_>, { finetune_loss => finetune.loss });

/// The settings [`StrategyFlags`] set.
#[derive(Debug)]
pub struct StrategySettings<'a> {
    /// DCL-ENAS.
    pub dcl_enas: &'a mut DclEnasConfig,
    /// Stage 1.
    pub pretrain: &'a mut PretrainConfig,
    /// Stage 2.
    pub finetune: &'a mut FinetuneConfig,
    /// The predictor's shape.
    pub model: &'a mut ModelConfig,
    /// The predictor's training engine.
    pub training_engine: &'a mut Engine,
}

/// The [`StrategySettings`] of a config with the shared fields `dcl_enas`, `pretrain`,
/// `finetune`, `model` and `training_engine` (every command's config that has a strategy
/// names them so).
#[macro_export]
macro_rules! strategy_settings {
    ($cfg:expr) => {
        $crate::flags::StrategySettings {
            dcl_enas: &mut $cfg.dcl_enas,
            pretrain: &mut $cfg.pretrain,
            finetune: &mut $cfg.finetune,
            model: &mut $cfg.model,
            training_engine: &mut $cfg.training_engine,
        }
    };
}

/// The [`ExecutionSettings`] of a config with the shared fields `batch`, `max_attempts`,
/// `executor` and `workers`.
#[macro_export]
macro_rules! execution_settings {
    ($cfg:expr) => {
        $crate::flags::ExecutionSettings {
            batch: &mut $cfg.batch,
            max_attempts: &mut $cfg.max_attempts,
            executor: &mut $cfg.executor,
            workers: &mut $cfg.workers,
        }
    };
}

impl StrategyFlags {
    /// Each flag's field and key, group by group.
    pub const GROUPS: &'static [&'static [(&'static str, &'static str)]] = &[
        DclEnasFlags::KEYS,
        PretrainFlags::KEYS,
        FinetuneFlags::KEYS,
        StrategyFlags::KEYS,
    ];

    /// Overrides the settings with the flags given.
    pub fn apply(&self, cfg: StrategySettings<'_>) {
        self.dcl_enas.apply(cfg.dcl_enas);
        self.pretrain.apply(PretrainSettings {
            pretrain: cfg.pretrain,
            model: cfg.model,
            training_engine: cfg.training_engine,
        });
        self.finetune.apply(cfg.finetune);
        self.apply_keys(FinetuneSettings {
            finetune: cfg.finetune,
        });
    }
}

/// Regularized evolution's settings.
#[derive(Debug, Clone, Default, Args)]
pub struct EvolutionFlags {
    /// Regularized evolution: population [default: 20].
    #[arg(long)]
    pub re_population: Option<usize>,
    /// Regularized evolution: tournament size [default: 5].
    #[arg(long)]
    pub re_sample: Option<usize>,
}

/// The settings [`EvolutionFlags`] set.
#[derive(Debug)]
pub struct EvolutionSettings<'a> {
    /// Regularized evolution.
    pub evolution: &'a mut RegularizedEvolution,
}

flag_keys!(EvolutionFlags, EvolutionSettings<'_>, {
    re_population => evolution.population_size, re_sample => evolution.sample_size,
});

impl EvolutionFlags {
    /// Overrides regularized evolution's settings with the flags given.
    pub fn apply(&self, evolution: &mut RegularizedEvolution) {
        self.apply_keys(EvolutionSettings { evolution });
    }
}

/// The seeds of a comparison: `seeds` runs from `seed_offset` on.
#[derive(Debug, Clone, Default, Args)]
pub struct SeedsFlags {
    /// Seeds per configuration, at least 1 [default: 30; 5 in predictor eval].
    #[arg(long)]
    pub seeds: Option<u64>,
    /// First seed [default: 0].
    #[arg(long)]
    pub seed_offset: Option<u64>,
}

/// The settings [`SeedsFlags`] set.
#[derive(Debug)]
pub struct SeedsSettings<'a> {
    /// Seeds per configuration.
    pub seeds: &'a mut u64,
    /// First seed.
    pub seed_offset: &'a mut u64,
}

flag_keys!(SeedsFlags, SeedsSettings<'_>, {
    seeds => [*] seeds, seed_offset => [*] seed_offset,
});

impl SeedsFlags {
    /// Overrides the seeds with the flags given.
    pub fn apply(&self, seeds: &mut u64, seed_offset: &mut u64) {
        self.apply_keys(SeedsSettings { seeds, seed_offset });
    }
}

/// How a search's evaluations run: batches, attempts, where, how many at once.
#[derive(Debug, Clone, Default, Args)]
pub struct ExecutionFlags {
    /// Architectures asked and evaluated together, at least 1 [default: 1].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Attempts per architecture before it is recorded as failed, at least 1 [default: 3 in
    /// search, 2 in ecg; with --executor slurm it is slurm.retries + 1].
    #[arg(long)]
    pub max_attempts: Option<u32>,
    /// Where evaluations run [default: local].
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorName>,
    /// Evaluations at a time (local executor), 1 to 256 [default: 1].
    #[arg(long)]
    pub workers: Option<usize>,
}

/// The settings [`ExecutionFlags`] set.
#[derive(Debug)]
pub struct ExecutionSettings<'a> {
    /// Architectures asked together.
    pub batch: &'a mut usize,
    /// Attempts per architecture.
    pub max_attempts: &'a mut Option<u32>,
    /// Where evaluations run.
    pub executor: &'a mut ExecutorName,
    /// Evaluations at a time.
    pub workers: &'a mut usize,
}

flag_keys!(ExecutionFlags, ExecutionSettings<'_>, {
    batch => [*] batch, max_attempts => [*] max_attempts, executor => [*] executor,
    workers => [*] workers,
});

impl ExecutionFlags {
    /// Overrides the execution settings with the flags given.
    pub fn apply(&self, settings: ExecutionSettings<'_>) {
        self.apply_keys(settings);
    }
}

/// Multi-objective DCL-ENAS's own settings ([`dcl_evo::MultiObjective`]).
#[derive(Debug, Clone, Default, Args)]
pub struct MultiObjectiveFlags {
    /// Multi-objective DCL-ENAS: the infill's hypervolume reference [default: median].
    #[arg(long, value_enum)]
    pub infill_reference: Option<InfillReferenceName>,
    /// Multi-objective DCL-ENAS: random architectures scored per round beside the offspring
    /// [default: 1000].
    #[arg(long)]
    pub sampled: Option<usize>,
}

/// The settings [`MultiObjectiveFlags`] set.
#[derive(Debug)]
pub struct MultiObjectiveSettings<'a> {
    /// The table they are in.
    pub multiobjective: MultiObjectiveFields<'a>,
}

/// The fields of a `multiobjective` table that [`MultiObjectiveFlags`] set.
#[derive(Debug)]
pub struct MultiObjectiveFields<'a> {
    /// The infill's reference.
    pub reference: &'a mut InfillReference,
    /// Random architectures scored per round.
    pub sampled: &'a mut usize,
}

flag_keys!(MultiObjectiveFlags, MultiObjectiveSettings<'_>, {
    infill_reference => [*] multiobjective.reference, sampled => [*] multiobjective.sampled,
});

impl MultiObjectiveFlags {
    /// Overrides the multi-objective settings with the flags given.
    pub fn apply(&self, reference: &mut InfillReference, sampled: &mut usize) {
        self.apply_keys(MultiObjectiveSettings {
            multiobjective: MultiObjectiveFields { reference, sampled },
        });
    }
}
