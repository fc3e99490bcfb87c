//! The two training stages' settings and what a stage reports.

use super::*;

/// Stage 1: label-free contrastive pre-training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainConfig {
    /// Passes over the architectures.
    pub epochs: usize,
    /// Architectures per step (each gives two views).
    pub batch_size: usize,
    /// Stop after this many steps, if set.
    pub max_steps: Option<usize>,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// InfoNCE temperature.
    pub temperature: f64,
    /// Per-node probability of an op substitution in a view.
    pub op_substitution: f64,
    /// Per-edge probability of an edge drop in a view.
    pub edge_drop: f64,
    /// Per-node probability of masking an op in a view.
    pub node_mask: f64,
}

impl PretrainConfig {
    /// The augmentation that makes a view: op substitution, edge drop and op masking with this
    /// configuration's probabilities, then a node shuffle.
    pub fn augmentation(&self) -> Compose {
        Compose::new(vec![
            Box::new(OpSubstitution::new(self.op_substitution)),
            Box::new(EdgeDrop::new(self.edge_drop)),
            Box::new(NodeMask::new(self.node_mask)),
            Box::new(NodeShuffle),
        ])
    }
}

impl Default for PretrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 256,
            max_steps: None,
            learning_rate: 1e-3,
            temperature: 0.2,
            op_substitution: 0.1,
            edge_drop: 0.1,
            node_mask: 0.1,
        }
    }
}

/// The stage-2 loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum RankingLoss {
    /// Pairwise logistic ranking loss on the scores.
    Pairwise,
    /// Rank-N-Contrast on the embeddings, plus the pairwise loss on the scores (the score head
    /// needs some signal to read the ordered embeddings out).
    RankNContrast {
        /// Weight of the Rank-N-Contrast term.
        weight: f64,
    },
    /// Plain mean squared error on standardised accuracies (a regression baseline).
    Mse,
}

/// Stage 2: fine-tuning on labelled architectures.
///
/// The default loss is Rank-N-Contrast plus the pairwise loss, which ranks better than the
/// pairwise loss alone on NAS-Bench-201 and as well on NAS-Bench-101, at 1.5-3x the
/// fine-tuning time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneConfig {
    /// Passes over the labelled set.
    pub epochs: usize,
    /// Labelled architectures per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Adam weight decay (L2 penalty).
    pub weight_decay: f64,
    /// The loss.
    pub loss: RankingLoss,
    /// Temperature of the pairwise loss (on standardised score differences).
    pub temperature: f64,
    /// Temperature of Rank-N-Contrast.
    pub rnc_temperature: f64,
    /// Soft pairwise targets: `None` asks the better architecture of every pair to score
    /// higher, however small the gap ([`pairwise_logistic`]); `Some(t)` asks for a margin
    /// that grows with the gap between standardised targets, with target temperature `t`
    /// ([`pairwise_logistic_soft`]), so that pairs closer than the label noise barely count.
    #[serde(default)]
    pub target_temperature: Option<f64>,
    /// Weight of the stage-1 loss kept on during fine-tuning: InfoNCE between two augmented
    /// views of each labelled batch (with [`PretrainConfig::default`]'s augmentations and
    /// temperature), added to the ranking loss. It keeps the encoder from forgetting what
    /// stage 1 taught it while a few labels pull on it (a small gain on NAS-Bench-101, none on
    /// NAS-Bench-201, hence off by default). 0 turns it off.
    #[serde(default)]
    pub info_nce_weight: f64,
    /// Stop after this many optimiser steps, if set: bounds the cost of a refit when the
    /// labelled set grows large (a search of a thousand queries), at the price of fewer passes
    /// over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
}

/// `value` must be finite and positive.
pub(super) fn positive(name: &str, value: f64) -> Result<(), PredictorError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(PredictorError::Config(format!(
            "{name} must be finite and positive, got {value}"
        )))
    }
}

/// `value` must be finite and not negative.
pub(super) fn non_negative(name: &str, value: f64) -> Result<(), PredictorError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(PredictorError::Config(format!(
            "{name} must be finite and non-negative, got {value}"
        )))
    }
}

/// `value` must be a probability.
pub(super) fn probability(name: &str, value: f64) -> Result<(), PredictorError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(PredictorError::Config(format!(
            "{name} must be a probability in [0, 1], got {value}"
        )))
    }
}

impl PretrainConfig {
    /// Checks every field before any work (the error names it): `batch_size >= 2`,
    /// `epochs >= 1`, a finite positive learning rate and temperature, probabilities in
    /// [0, 1]. [`Predictor::pretrain`] calls it first.
    pub fn validate(&self) -> Result<(), PredictorError> {
        if self.epochs == 0 {
            return Err(PredictorError::Config(
                "epochs must be at least 1 (pre-training), got 0".into(),
            ));
        }
        if self.batch_size < 2 {
            return Err(PredictorError::Config(format!(
                "batch_size must be at least 2 (pre-training), got {}",
                self.batch_size
            )));
        }
        positive("learning_rate", self.learning_rate)?;
        positive("temperature", self.temperature)?;
        probability("op_substitution", self.op_substitution)?;
        probability("edge_drop", self.edge_drop)?;
        probability("node_mask", self.node_mask)
    }
}

impl FinetuneConfig {
    /// Checks every field before any work (the error names it): `batch_size >= 2`,
    /// `epochs >= 1`, a finite positive learning rate and temperatures, a finite non-negative
    /// weight decay and loss weights. [`Predictor::finetune`] calls it first.
    pub fn validate(&self) -> Result<(), PredictorError> {
        if self.epochs == 0 {
            return Err(PredictorError::Config(
                "epochs must be at least 1 (fine-tuning), got 0".into(),
            ));
        }
        if self.batch_size < 2 {
            return Err(PredictorError::Config(format!(
                "batch_size must be at least 2 (fine-tuning), got {}",
                self.batch_size
            )));
        }
        positive("learning_rate", self.learning_rate)?;
        non_negative("weight_decay", self.weight_decay)?;
        positive("temperature", self.temperature)?;
        positive("rnc_temperature", self.rnc_temperature)?;
        if let Some(t) = self.target_temperature {
            positive("target_temperature", t)?;
        }
        if let RankingLoss::RankNContrast { weight } = self.loss {
            non_negative("loss.weight (Rank-N-Contrast)", weight)?;
        }
        if self.max_steps == Some(0) {
            return Err(PredictorError::Config(
                "max_steps must be at least 1 (fine-tuning), got 0".into(),
            ));
        }
        non_negative("info_nce_weight", self.info_nce_weight)
    }
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 128,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            loss: RankingLoss::RankNContrast { weight: 1.0 },
            temperature: 1.0,
            rnc_temperature: 0.5,
            target_temperature: None,
            info_nce_weight: 0.0,
            max_steps: None,
        }
    }
}

impl FinetuneConfig {
    /// The fine-tuning used for each refit inside a search: fewer epochs than
    /// [`Default`] and the plain pairwise loss, because a search refits dozens of times on
    /// small, growing labelled sets and Rank-N-Contrast costs 1.5-3x the time per step.
    pub fn search_default() -> Self {
        Self {
            epochs: 50,
            loss: RankingLoss::Pairwise,
            ..Self::default()
        }
    }
}

/// What a training stage did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Optimiser steps taken.
    pub steps: usize,
    /// Mean loss over the last epoch.
    pub final_loss: f64,
    /// Loss of the first step (0 if no step was taken): with `final_loss`, how far the
    /// stage's loss came down.
    #[serde(default)]
    pub first_loss: f64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// A training stage's losses as it goes: steps, the first loss, and the mean of each epoch.
#[derive(Default)]
pub(super) struct LossTally {
    pub(super) steps: usize,
    pub(super) first_loss: f64,
    pub(super) epoch_sum: f64,
    pub(super) epoch_steps: usize,
    pub(super) last_epoch_loss: f64,
}

impl LossTally {
    pub(super) fn record(&mut self, loss: f64) {
        if self.steps == 0 {
            self.first_loss = loss;
        }
        self.steps += 1;
        self.epoch_sum += loss;
        self.epoch_steps += 1;
    }

    /// Closes an epoch (one without steps leaves the last epoch's mean).
    pub(super) fn end_epoch(&mut self) {
        if self.epoch_steps > 0 {
            self.last_epoch_loss = self.epoch_sum / self.epoch_steps as f64;
        }
        self.epoch_sum = 0.0;
        self.epoch_steps = 0;
    }

    pub(super) fn report(&self, start: Instant) -> TrainReport {
        TrainReport {
            steps: self.steps,
            final_loss: self.last_epoch_loss,
            first_loss: self.first_loss,
            seconds: start.elapsed().as_secs_f64(),
        }
    }
}
