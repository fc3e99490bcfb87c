//! The [`Predictor`] handle: pre-train, fine-tune, score, save, load.

use std::path::Path;
use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::module::{AutodiffModule, Module};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use dcl_contrastive::{info_nce, pairwise_logistic, pairwise_logistic_soft, rank_n_contrast};
use dcl_graph::augment::{Augmentation, Compose, EdgeDrop, NodeMask, NodeShuffle, OpSubstitution};
use dcl_graph::{ArchGraph, EncodingShape, GraphBatch, GraphSpace};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::PredictorError;
use crate::file::{self, FORMAT_VERSION, Header, MAGIC};
use crate::model::{BatchTensors, ModelConfig, RankerModel, register_head_grads};
use crate::native;

/// The CPU backend used by default: burn-ndarray with autodiff.
pub type CpuBackend = Autodiff<NdArray<f32>>;

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
/// The default loss is Rank-N-Contrast plus the pairwise loss: in `predictor_eval` it ranked
/// best on NAS-Bench-201 at every labelled-set size (Kendall τ +0.01 to +0.03 over the pairwise
/// loss alone) and as well on NAS-Bench-101, at 1.5-3x the fine-tuning time
/// (docs/results/predictor.md).
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
    /// stage 1 taught it while a few labels pull on it: on NAS-Bench-101 with 100 labels,
    /// weights 0.1 and 0.2 raised Kendall τ by about 0.01; on NAS-Bench-201 it changed
    /// nothing, hence off by default (docs/results/predictor.md). 0 turns it off.
    #[serde(default)]
    pub info_nce_weight: f64,
    /// Stop after this many optimiser steps, if set: bounds the cost of a refit when the
    /// labelled set grows large (a search of a thousand queries), at the price of fewer passes
    /// over it (docs/results/budget_scaling.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<usize>,
}

/// `value` must be finite and positive.
fn positive(name: &str, value: f64) -> Result<(), PredictorError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(PredictorError::Config(format!(
            "{name} must be finite and positive, got {value}"
        )))
    }
}

/// `value` must be finite and not negative.
fn non_negative(name: &str, value: f64) -> Result<(), PredictorError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(PredictorError::Config(format!(
            "{name} must be finite and non-negative, got {value}"
        )))
    }
}

/// `value` must be a probability.
fn probability(name: &str, value: f64) -> Result<(), PredictorError> {
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
struct LossTally {
    steps: usize,
    first_loss: f64,
    epoch_sum: f64,
    epoch_steps: usize,
    last_epoch_loss: f64,
}

impl LossTally {
    fn record(&mut self, loss: f64) {
        if self.steps == 0 {
            self.first_loss = loss;
        }
        self.steps += 1;
        self.epoch_sum += loss;
        self.epoch_steps += 1;
    }

    /// Closes an epoch (one without steps leaves the last epoch's mean).
    fn end_epoch(&mut self) {
        if self.epoch_steps > 0 {
            self.last_epoch_loss = self.epoch_sum / self.epoch_steps as f64;
        }
        self.epoch_sum = 0.0;
        self.epoch_steps = 0;
    }

    fn report(&self, start: Instant) -> TrainReport {
        TrainReport {
            steps: self.steps,
            final_loss: self.last_epoch_loss,
            first_loss: self.first_loss,
            seconds: start.elapsed().as_secs_f64(),
        }
    }
}

/// A GIN ranker for the architectures of one search space.
///
/// ```
/// use dcl_predictor::{FinetuneConfig, ModelConfig, Nb201Space, Predictor, PretrainConfig, GraphSpace, SearchSpace};
/// use rand::SeedableRng;
///
/// let space = Nb201Space::new();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let archs: Vec<_> = (0..64).map(|_| space.sample(&mut rng)).collect();
/// let small = ModelConfig { hidden: 16, layers: 2, projection: 8 };
/// let mut p: Predictor = Predictor::new(&space, small, 7).unwrap();
/// p.pretrain(&space, &archs, &PretrainConfig { epochs: 1, batch_size: 32, ..Default::default() }).unwrap();
/// // Label: the number of 3x3 convolutions (a toy target).
/// let labelled: Vec<_> = archs.iter().map(|a| {
///     (*a, a.ops().iter().filter(|o| **o == dcl_graph::Nb201Op::NorConv3x3).count() as f64)
/// }).collect();
/// p.finetune(&space, &labelled, &FinetuneConfig { epochs: 5, ..Default::default() }).unwrap();
/// let scores = p.score(&space, &archs).unwrap();
/// assert_eq!(scores.len(), 64);
/// ```
#[derive(Debug)]
pub struct Predictor<B: AutodiffBackend = CpuBackend> {
    model: RankerModel<B>,
    config: ModelConfig,
    space: String,
    shape: EncodingShape,
    device: B::Device,
    rng: ChaCha8Rng,
    lineage: Lineage,
    /// The seed `rng` was last built from.
    rng_seed: u64,
    /// What runs scoring and embedding.
    engine: Engine,
    /// What runs the encoder in training steps.
    training: Engine,
}

/// Where a predictor's weights come from, as far as they can be repeated: the seed of its
/// initial weights and every stage-1 pre-training since. Saved with the predictor;
/// [`Predictor::pretrain_cached`] reuses a saved encoder only when its lineage is the one the
/// caller would produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// Seed of the initial weights ([`Predictor::new`]); `None` when unknown (a file saved
    /// before lineages were recorded).
    pub init_seed: Option<u64>,
    /// Each stage-1 run, in order.
    pub pretraining: Vec<PretrainRecord>,
}

/// One stage-1 run: its settings, the architectures it saw, and the seed its random stream
/// started from (that of [`Predictor::new`] or of the last [`Predictor::fork`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainRecord {
    /// The settings.
    pub config: PretrainConfig,
    /// Architectures pre-trained on.
    pub architectures: usize,
    /// FNV-1a digest of the architectures' key texts ([`SearchSpace::key_text`](dcl_graph::SearchSpace::key_text)),
    /// each followed by `;`, in order (the order decides the batches), as 16 hex digits.
    pub digest: String,
    /// Seed of the random stream (shuffles, augmentations).
    pub rng_seed: u64,
    /// What ran the encoder ([`Predictor::set_training_engine`]): the engines round
    /// differently, so a cached encoder is reused only by a run with the same one. Files saved
    /// before it was recorded were all trained by burn.
    #[serde(default = "burn_engine")]
    pub engine: Engine,
}

fn burn_engine() -> Engine {
    Engine::Burn
}

/// [`PretrainRecord::digest`] of `archs`.
fn digest<S: GraphSpace>(space: &S, archs: &[S::Arch]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for a in archs {
        for b in space.key_text(&space.key(a)).bytes().chain([b';']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// What computes a predictor's scores and embeddings on the CPU.
///
/// For scoring and embedding ([`Predictor::set_engine`]) both give the same values bit for bit
/// (a test checks it on both spaces); the choice is one of speed. For training
/// ([`Predictor::set_training_engine`], [`Engine::Burn`] by default) the native engine computes
/// the same gradients rounded differently, so it trains a slightly different model, faster.
///
/// ```
/// use dcl_predictor::Engine;
/// assert_eq!("native".parse::<Engine>().unwrap(), Engine::Native);
/// assert_eq!(Engine::Burn.to_string(), "burn");
/// assert!("torch".parse::<Engine>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// This crate's CPU kernels (SGEMM for the dense layers, sparse message passing, buffers
    /// reused within a chunk of graphs, chunks in parallel on rayon's pool): several times
    /// faster than burn-ndarray at this model's size (docs/results/predictor.md, "Speed").
    #[default]
    Native,
    /// burn's forward pass on the predictor's backend `B`, without autodiff.
    Burn,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Native => "native",
            Self::Burn => "burn",
        })
    }
}

impl std::str::FromStr for Engine {
    type Err = PredictorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" => Ok(Self::Native),
            "burn" => Ok(Self::Burn),
            _ => Err(PredictorError::Config(format!(
                "unknown predictor engine {s:?} (native, burn)"
            ))),
        }
    }
}

/// Graphs per forward pass when scoring.
const SCORE_CHUNK: usize = 2048;

impl<B: AutodiffBackend> Predictor<B> {
    /// A fresh predictor for `space`, weights drawn from `seed`, on the default device.
    pub fn new<S: GraphSpace>(
        space: &S,
        config: ModelConfig,
        seed: u64,
    ) -> Result<Self, PredictorError> {
        Self::with_device(space, config, seed, B::Device::default())
    }

    /// A fresh predictor on `device`.
    pub fn with_device<S: GraphSpace>(
        space: &S,
        config: ModelConfig,
        seed: u64,
        device: B::Device,
    ) -> Result<Self, PredictorError> {
        Self::fresh(space.name(), EncodingShape::of(space), config, seed, device)
    }

    /// [`with_device`](Self::with_device) for a space known by its name and encoding shape.
    fn fresh(
        space: &str,
        shape: EncodingShape,
        config: ModelConfig,
        seed: u64,
        device: B::Device,
    ) -> Result<Self, PredictorError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = RankerModel::new(shape.feature_dim(), config, &mut rng, &device);
        Ok(Self {
            model,
            config,
            space: space.to_owned(),
            shape,
            device,
            rng,
            lineage: Lineage {
                init_seed: Some(seed),
                pretraining: Vec::new(),
            },
            rng_seed: seed,
            engine: Engine::default(),
            training: Engine::Burn,
        })
    }

    /// A copy of this predictor whose future shuffles and augmentations follow `seed`: one
    /// pre-trained encoder can be fine-tuned independently for every seed of an experiment.
    pub fn fork(&self, seed: u64) -> Self {
        Self {
            model: self.model.clone(),
            config: self.config,
            space: self.space.clone(),
            shape: self.shape,
            device: self.device.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            lineage: self.lineage.clone(),
            rng_seed: seed,
            engine: self.engine,
            training: self.training,
        }
    }

    /// Where the weights come from: the initial seed and every pre-training since.
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// What computes scores and embeddings ([`Engine::Native`] unless set).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Chooses what computes scores and embeddings; the values do not change.
    pub fn set_engine(&mut self, engine: Engine) {
        self.engine = engine;
    }

    /// What computes training steps' forward and backward passes through the encoder
    /// ([`Engine::Burn`] unless set).
    pub fn training_engine(&self) -> Engine {
        self.training
    }

    /// Chooses what runs the training steps of [`pretrain`](Self::pretrain) and
    /// [`finetune`](Self::finetune). With [`Engine::Native`] the encoder's forward and backward
    /// passes run in this crate's CPU kernels, and so do the whole of a stage-1 step (both
    /// views in one pass, the projection head, InfoNCE) and of a stage-2 step with the plain
    /// pairwise loss; the other stage-2 losses and the heads under them stay in burn's
    /// autodiff, and Adam is burn's for both. The gradient is exact but summed in another
    /// order than burn's: the trained model differs from [`Engine::Burn`]'s in the last bits,
    /// then by as much as another rounding would make it.
    pub fn set_training_engine(&mut self, engine: Engine) {
        self.training = engine;
    }

    /// The native encoder for `model`, when training runs natively.
    fn native_encoder(&self, model: &RankerModel<B>) -> Option<native::Encoder> {
        (self.training == Engine::Native).then(|| native::Encoder::of(model))
    }

    /// The model's shape.
    pub fn model_config(&self) -> ModelConfig {
        self.config
    }

    /// The name of the space the predictor is for.
    pub fn space_name(&self) -> &str {
        &self.space
    }

    /// The encoding shape the predictor reads.
    pub fn encoding_shape(&self) -> EncodingShape {
        self.shape
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.model.num_params()
    }

    fn check_space<S: GraphSpace>(&self, space: &S) -> Result<(), PredictorError> {
        if space.name() != self.space {
            return Err(PredictorError::SpaceMismatch {
                expected: self.space.clone(),
                found: space.name().to_owned(),
            });
        }
        let shape = EncodingShape::of(space);
        if shape != self.shape {
            return Err(PredictorError::ShapeMismatch(format!(
                "the predictor reads {:?}, the space gives {shape:?}",
                self.shape
            )));
        }
        Ok(())
    }

    fn graphs<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<ArchGraph>, PredictorError> {
        self.check_space(space)?;
        archs
            .iter()
            .map(|a| space.to_graph(a).map_err(PredictorError::from))
            .collect()
    }

    /// Stage 1: InfoNCE between two augmented views of every architecture, no labels needed.
    pub fn pretrain<S: GraphSpace>(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        cfg: &PretrainConfig,
    ) -> Result<TrainReport, PredictorError> {
        let start = Instant::now();
        if archs.len() < 2 {
            return Err(PredictorError::Empty(
                "pre-training needs at least two architectures",
            ));
        }
        cfg.validate()?;
        let graphs = self.graphs(space, archs)?;
        let record = PretrainRecord {
            config: cfg.clone(),
            architectures: archs.len(),
            digest: digest(space, archs),
            rng_seed: self.rng_seed,
            engine: self.training,
        };
        self.pretrain_graphs(&graphs, record, start)
    }

    /// The work of [`pretrain`](Self::pretrain) once the architectures are graphs (checked
    /// for the space) and `record` says what it is: kept apart from the space's type so that
    /// it is compiled once per backend, not once per space.
    fn pretrain_graphs(
        &mut self,
        graphs: &[ArchGraph],
        record: PretrainRecord,
        start: Instant,
    ) -> Result<TrainReport, PredictorError> {
        let cfg = &record.config;
        let aug = cfg.augmentation();
        let mut optim = AdamConfig::new().init::<B, RankerModel<B>>();
        let mut model = self.model.clone();
        let mut order: Vec<usize> = (0..graphs.len()).collect();
        let mut tally = LossTally::default();
        let max_steps = cfg.max_steps.unwrap_or(usize::MAX);
        let per_epoch = order
            .chunks(cfg.batch_size)
            .filter(|c| c.len() >= 2)
            .count();
        let total_steps = per_epoch.saturating_mul(cfg.epochs).min(max_steps) as u64;
        // The native engine's forward-pass buffers, reused from step to step.
        let mut traces = Vec::new();
        'epochs: for _ in 0..cfg.epochs {
            shuffle(&mut order, &mut self.rng);
            for chunk in order.chunks(cfg.batch_size) {
                if chunk.len() < 2 {
                    continue;
                }
                if tally.steps >= max_steps {
                    // Report the partial epoch rather than nothing.
                    tally.end_epoch();
                    break 'epochs;
                }
                let (v1, v2) = self.views(&aug, graphs, chunk)?;
                let value;
                (model, value) = match self.native_encoder(&model) {
                    Some(encoder) => {
                        // Both views in one pass: rows `i` and `i + n` are siblings.
                        let (mut batch, n) = (v1, chunk.len());
                        batch.extend_from(&v2)?;
                        let width = encoder.project.second.d_out;
                        native_step(
                            model,
                            &mut optim,
                            (&encoder, &mut traces),
                            (&batch, NativeHead::Projection),
                            |z| native::loss::info_nce(z, n, width, cfg.temperature),
                            (cfg.learning_rate, tally.steps),
                        )?
                    }
                    None => {
                        let loss = self.view_loss(
                            &model,
                            (None, &mut Vec::new()),
                            (v1, v2),
                            cfg.temperature,
                        )?;
                        descend(
                            model,
                            &mut optim,
                            loss,
                            (None, &[]),
                            cfg.learning_rate,
                            tally.steps,
                        )?
                    }
                };
                tally.record(value);
                dcl_graph::progress::step("pretrain", tally.steps as u64, total_steps);
            }
            tally.end_epoch();
        }
        self.model = model;
        let report = tally.report(start);
        self.lineage.pretraining.push(record);
        Ok(report)
    }

    /// Two augmented views of the graphs `chunk` points at, drawn view by view per graph.
    fn views(
        &mut self,
        aug: &Compose,
        graphs: &[ArchGraph],
        chunk: &[usize],
    ) -> Result<(GraphBatch, GraphBatch), PredictorError> {
        let mut v1 = GraphBatch::with_capacity(self.shape, chunk.len());
        let mut v2 = GraphBatch::with_capacity(self.shape, chunk.len());
        for &i in chunk {
            v1.push(&aug.augment(&graphs[i], &mut self.rng))?;
            v2.push(&aug.augment(&graphs[i], &mut self.rng))?;
        }
        Ok((v1, v2))
    }

    /// InfoNCE between two views through burn's projection head and loss. With the native
    /// engine both views go through the encoder in one pass, recorded in `passes` for the
    /// backward.
    fn view_loss(
        &self,
        model: &RankerModel<B>,
        (native, passes): (Option<&native::Encoder>, &mut Vec<NativePass<B>>),
        (mut v1, v2): (GraphBatch, GraphBatch),
        temperature: f64,
    ) -> Result<Tensor<B, 1>, PredictorError> {
        let Some(encoder) = native else {
            let z1 = model.project(model.embed(&BatchTensors::new(&v1, &self.device)));
            let z2 = model.project(model.embed(&BatchTensors::new(&v2, &self.device)));
            return Ok(info_nce(z1, z2, temperature)?);
        };
        let n = v1.len();
        v1.extend_from(&v2)?;
        let pass = NativePass::new(encoder, v1, &self.device);
        let z = model.project(pass.leaf.clone());
        passes.push(pass);
        let z1 = z.clone().narrow(0, 0, n);
        let z2 = z.narrow(0, n, n);
        Ok(info_nce(z1, z2, temperature)?)
    }

    /// Stage 2: fine-tune encoder and score head on `(architecture, accuracy)` pairs so that
    /// better architectures score higher.
    pub fn finetune<S: GraphSpace>(
        &mut self,
        space: &S,
        labelled: &[(S::Arch, f64)],
        cfg: &FinetuneConfig,
    ) -> Result<TrainReport, PredictorError> {
        let start = Instant::now();
        if labelled.len() < 2 {
            return Err(PredictorError::Empty(
                "fine-tuning needs at least two labelled architectures",
            ));
        }
        cfg.validate()?;
        if let Some((index, (_, value))) = labelled
            .iter()
            .enumerate()
            .find(|(_, (_, y))| !y.is_finite())
        {
            return Err(PredictorError::NonFiniteLabel {
                index,
                value: *value,
            });
        }
        let archs: Vec<S::Arch> = labelled.iter().map(|(a, _)| a.clone()).collect();
        let graphs = self.graphs(space, &archs)?;
        let labels: Vec<f64> = labelled.iter().map(|(_, y)| *y).collect();
        self.finetune_graphs(&graphs, &labels, cfg, start)
    }

    /// The work of [`finetune`](Self::finetune) once the architectures are graphs and the
    /// input is checked (at least two finite labels, a valid `cfg`): compiled once per
    /// backend, not once per space.
    fn finetune_graphs(
        &mut self,
        graphs: &[ArchGraph],
        labels: &[f64],
        cfg: &FinetuneConfig,
        start: Instant,
    ) -> Result<TrainReport, PredictorError> {
        // Standardised targets: the order is all the ranking losses use; MSE and the
        // Rank-N-Contrast distances want a unit scale.
        let n = labels.len() as f64;
        let mean = labels.iter().sum::<f64>() / n;
        let std = (labels.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-9);
        let targets: Vec<f32> = labels.iter().map(|y| ((y - mean) / std) as f32).collect();

        // The stage-1 term, if any, uses stage 1's default views and temperature.
        let stage1 = PretrainConfig::default();
        let aug = stage1.augmentation();
        let mut optim = AdamConfig::new()
            .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
            .init::<B, RankerModel<B>>();
        let mut model = self.model.clone();
        let mut order: Vec<usize> = (0..graphs.len()).collect();
        let mut tally = LossTally::default();
        let mut epochs_done = 0u64;
        // The plain pairwise loss needs no autodiff at all with the native engine.
        let plain_pairwise = cfg.loss == RankingLoss::Pairwise
            && cfg.target_temperature.is_none()
            && cfg.info_nce_weight == 0.0;
        let mut traces = Vec::new();
        let max_steps = cfg.max_steps.unwrap_or(usize::MAX);
        'epochs: for _ in 0..cfg.epochs {
            shuffle(&mut order, &mut self.rng);
            for chunk in order.chunks(cfg.batch_size) {
                if chunk.len() < 2 {
                    continue;
                }
                if tally.steps >= max_steps {
                    tally.end_epoch();
                    break 'epochs;
                }
                let mut batch = GraphBatch::with_capacity(self.shape, chunk.len());
                for &i in chunk {
                    batch.push_graph(&graphs[i])?;
                }
                let y: Vec<f32> = chunk.iter().map(|&i| targets[i]).collect();
                let native = self.native_encoder(&model);
                if let (Some(encoder), true) = (&native, plain_pairwise) {
                    let value;
                    (model, value) = native_step(
                        model,
                        &mut optim,
                        (encoder, &mut traces),
                        (&batch, NativeHead::Score),
                        |s| native::loss::pairwise_logistic(s, &y, cfg.temperature),
                        (cfg.learning_rate, tally.steps),
                    )?;
                    tally.record(value);
                    continue;
                }
                let y = Tensor::<B, 1>::from_data(TensorData::new(y, [chunk.len()]), &self.device);
                let mut passes = Vec::new();
                let emb = match &native {
                    None => model.embed(&BatchTensors::new(&batch, &self.device)),
                    Some(encoder) => {
                        let pass = NativePass::new(encoder, batch, &self.device);
                        let leaf = pass.leaf.clone();
                        passes.push(pass);
                        leaf
                    }
                };
                let pairwise = |s, y| match cfg.target_temperature {
                    None => pairwise_logistic(s, y, cfg.temperature),
                    Some(t) => pairwise_logistic_soft(s, y, cfg.temperature, t),
                };
                let mut loss = match cfg.loss {
                    RankingLoss::Pairwise => pairwise(model.score(emb), y)?,
                    RankingLoss::RankNContrast { weight } => {
                        let rnc = rank_n_contrast(emb.clone(), y.clone(), cfg.rnc_temperature)?;
                        pairwise(model.score(emb), y)? + rnc.mul_scalar(weight)
                    }
                    RankingLoss::Mse => (model.score(emb) - y).powf_scalar(2.0).mean(),
                };
                if cfg.info_nce_weight > 0.0 {
                    let views = self.views(&aug, graphs, chunk)?;
                    let nce = self.view_loss(
                        &model,
                        (native.as_ref(), &mut passes),
                        views,
                        stage1.temperature,
                    )?;
                    loss = loss + nce.mul_scalar(cfg.info_nce_weight);
                }
                let value;
                (model, value) = descend(
                    model,
                    &mut optim,
                    loss,
                    (native.as_ref(), &passes),
                    cfg.learning_rate,
                    tally.steps,
                )?;
                tally.record(value);
            }
            tally.end_epoch();
            epochs_done += 1;
            dcl_graph::progress::step("finetune", epochs_done, cfg.epochs as u64);
        }
        self.model = model;
        Ok(tally.report(start))
    }

    /// Scores of `archs` (higher = predicted better), in input order.
    pub fn score<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<f32>, PredictorError> {
        self.check_space(space)?;
        let mut out = Vec::with_capacity(archs.len());
        for chunk in archs.chunks(SCORE_CHUNK) {
            let graphs = chunk
                .iter()
                .map(|a| space.to_graph(a))
                .collect::<Result<Vec<_>, _>>()?;
            out.extend(self.score_graphs(&graphs)?);
        }
        Ok(out)
    }

    /// Scores of graphs of the predictor's space (higher = predicted better), in input order.
    /// The score depends on the graph alone, not on how its nodes are numbered. A score that
    /// is not finite is an error ([`PredictorError::NonFiniteScore`]), never a silent rank.
    pub fn score_graphs(&self, graphs: &[ArchGraph]) -> Result<Vec<f32>, PredictorError> {
        let mut out = Vec::with_capacity(graphs.len());
        match self.engine {
            Engine::Native => {
                let encoder = native::Encoder::of(&self.model);
                for chunk in graphs.chunks(SCORE_CHUNK) {
                    out.extend(encoder.score_all(&GraphBatch::from_graphs(self.shape, chunk)?));
                }
            }
            Engine::Burn => {
                let model = self.model.valid();
                for chunk in graphs.chunks(SCORE_CHUNK) {
                    let batch = GraphBatch::from_graphs(self.shape, chunk)?;
                    let emb =
                        model.embed(&BatchTensors::<B::InnerBackend>::new(&batch, &self.device));
                    let scores = model.score(emb).into_data();
                    out.extend(
                        scores
                            .to_vec::<f32>()
                            .map_err(|e| PredictorError::Format(format!("{e:?}")))?,
                    );
                }
            }
        }
        if let Some(index) = out.iter().position(|s| !s.is_finite()) {
            return Err(PredictorError::NonFiniteScore {
                index,
                value: out[index],
            });
        }
        Ok(out)
    }

    /// Graph embeddings (the encoder's output, `hidden` values each) of `archs`, in input
    /// order: what stage 1 shapes and the score head reads. Like the score, an embedding does
    /// not depend on how the graph's nodes are numbered.
    pub fn embed<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<Vec<f32>>, PredictorError> {
        let mut out = Vec::with_capacity(archs.len());
        for chunk in archs.chunks(SCORE_CHUNK) {
            let graphs = self.graphs(space, chunk)?;
            out.extend(self.embed_batch(&GraphBatch::from_graphs(self.shape, &graphs)?)?);
        }
        Ok(out)
    }

    /// Graph embeddings of an encoded batch (graphs, or augmented views pushed with
    /// [`GraphBatch::push`]) of the predictor's encoding shape.
    pub fn embed_batch(&self, batch: &GraphBatch) -> Result<Vec<Vec<f32>>, PredictorError> {
        if batch.shape() != self.shape {
            return Err(PredictorError::ShapeMismatch(format!(
                "the batch is encoded as {:?}, the predictor reads {:?}",
                batch.shape(),
                self.shape
            )));
        }
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let values = match self.engine {
            Engine::Native => native::Encoder::of(&self.model).embed_all(batch),
            Engine::Burn => {
                let model = self.model.valid();
                let emb = model.embed(&BatchTensors::<B::InnerBackend>::new(batch, &self.device));
                emb.into_data()
                    .to_vec::<f32>()
                    .map_err(|e| PredictorError::Format(format!("{e:?}")))?
            }
        };
        Ok(values
            .chunks(self.config.hidden)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Positions of `archs`, best predicted first.
    pub fn rank<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<usize>, PredictorError> {
        let s = self.score(space, archs)?;
        let mut idx: Vec<usize> = (0..s.len()).collect();
        idx.sort_by(|&i, &j| s[j].total_cmp(&s[i]).then(i.cmp(&j)));
        Ok(idx)
    }

    /// The weights as plain JSON, for reading the model into another framework (the PyTorch
    /// mirror of `benches/predictor_torch.py` does). Every linear layer is
    /// `{"d_in", "d_out", "weight", "bias"}` with `weight` the `[d_in, d_out]` matrix in
    /// row-major order (`y = x W + b`); the object holds `embed`, `lin1` and `lin2` (one entry
    /// per message-passing layer: `lin1` reads `[h, Σ_pred h, Σ_succ h]`), `readout` (reads the
    /// concatenated masked means of the embedding and of every layer), `score1`, `score2`,
    /// `proj1` and `proj2` (each head applies ReLU before each of its layers).
    ///
    /// ```
    /// use dcl_predictor::{ModelConfig, Nb201Space, Predictor};
    /// let p: Predictor = Predictor::new(&Nb201Space::new(), ModelConfig::default(), 0).unwrap();
    /// let w = p.export_weights().unwrap();
    /// assert_eq!(w["lin1"].as_array().unwrap().len(), 4);
    /// assert_eq!(w["lin1"][0]["d_in"], 3 * 64);
    /// assert_eq!(w["score2"]["weight"].as_array().unwrap().len(), 64);
    /// ```
    pub fn export_weights(&self) -> Result<serde_json::Value, PredictorError> {
        let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
            .record(self.model.clone().into_record(), ())
            .map_err(|e| PredictorError::Format(e.to_string()))?;
        let weights = file::read_weights(&record, self.shape.feature_dim(), self.config)?;
        Ok(weights.to_json())
    }

    /// Saves the predictor atomically (temporary file, fsync, rename): a header naming its
    /// space and shapes, then the weights as a burn record (named MessagePack).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PredictorError> {
        let path = path.as_ref();
        let io = |source| PredictorError::Io {
            path: path.display().to_string(),
            source,
        };
        let header = serde_json::to_vec(&Header {
            format: FORMAT_VERSION,
            space: self.space.clone(),
            shape: self.shape,
            model: self.config,
            lineage: Some(self.lineage.clone()),
        })
        .map_err(|e| PredictorError::Format(e.to_string()))?;
        let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
            .record(self.model.clone().into_record(), ())
            .map_err(|e| PredictorError::Format(e.to_string()))?;
        let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + record.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&record);
        // Atomically: an interrupted save leaves the old file (or none), never a torn one.
        dcl_graph::io::write_atomic(path, &bytes).map_err(io)
    }

    /// Loads a predictor saved by [`save`](Self::save) for use with `space`.
    ///
    /// A file for another space or encoding shape, a header whose model shape disagrees with
    /// the stored weights (or asks for widths over 4096 or more than 64 layers), a damaged
    /// record, and non-finite weights are all refused with a typed error, before any model is
    /// built from the header.
    pub fn load<S: GraphSpace>(
        path: impl AsRef<Path>,
        space: &S,
        device: B::Device,
    ) -> Result<Self, PredictorError> {
        Self::load_for(
            path.as_ref(),
            space.name(),
            EncodingShape::of(space),
            device,
        )
    }

    /// [`load`](Self::load) for a space known by its name and encoding shape.
    fn load_for(
        path: &Path,
        space: &str,
        shape: EncodingShape,
        device: B::Device,
    ) -> Result<Self, PredictorError> {
        let bytes = std::fs::read(path).map_err(|source| PredictorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let (header, record) = file::split(&bytes)?;
        if header.space != space {
            return Err(PredictorError::SpaceMismatch {
                expected: header.space,
                found: space.to_owned(),
            });
        }
        if header.shape != shape {
            return Err(PredictorError::ShapeMismatch(format!(
                "the file reads {:?}, the space gives {:?}",
                header.shape, shape
            )));
        }
        let weights = file::read_weights(record, shape.feature_dim(), header.model)?;
        // Built straight from the checked weights: no random model to throw away first.
        Ok(Self {
            model: RankerModel::from_weights(weights, &device),
            config: header.model,
            space: header.space,
            shape,
            device,
            rng: ChaCha8Rng::seed_from_u64(0),
            lineage: header.lineage.unwrap_or(Lineage {
                init_seed: None,
                pretraining: Vec::new(),
            }),
            rng_seed: 0,
            engine: Engine::default(),
            training: Engine::Burn,
        })
    }

    /// Stage 1 with a cache: when `path` holds an encoder whose [`Lineage`] and model are
    /// exactly what pre-training this predictor on `archs` with `config` would give, it is
    /// loaded in place of this one and `Ok(None)` returned; when `path` does not exist (or
    /// holds a damaged file), this predictor is pre-trained, saved there (atomically), and
    /// its report returned. An encoder made another way (other settings, seed, model,
    /// number of architectures, or of unknown lineage) is refused with
    /// [`PredictorError::CacheMismatch`] naming the first difference: a cache is never
    /// silently reused for a run it does not belong to.
    ///
    /// A loaded encoder's random stream restarts from seed 0: [`fork`](Self::fork) it before
    /// training further, as [`PredictorSurrogate`](crate::PredictorSurrogate) and
    /// [`Ensemble`](crate::Ensemble) do.
    pub fn pretrain_cached<S: GraphSpace>(
        &mut self,
        path: impl AsRef<Path>,
        space: &S,
        archs: &[S::Arch],
        config: &PretrainConfig,
    ) -> Result<Option<TrainReport>, PredictorError> {
        let path = path.as_ref();
        let mut expected = self.lineage.clone();
        expected.pretraining.push(PretrainRecord {
            config: config.clone(),
            architectures: archs.len(),
            digest: digest(space, archs),
            rng_seed: self.rng_seed,
            engine: self.training,
        });
        if path.exists() {
            match Self::load(path, space, self.device.clone()) {
                Ok(cached) => {
                    let found =
                        serde_json::json!({"model": cached.config, "lineage": cached.lineage});
                    let wanted = serde_json::json!({"model": self.config, "lineage": expected});
                    if let Some((at, file, run)) = dcl_graph::io::first_difference(&found, &wanted)
                    {
                        return Err(PredictorError::CacheMismatch {
                            path: path.display().to_string(),
                            field: format!("{at} (the file has {file}, this run wants {run})"),
                        });
                    }
                    let (engine, training) = (self.engine, self.training);
                    *self = cached;
                    self.engine = engine;
                    self.training = training;
                    return Ok(None);
                }
                Err(PredictorError::Format(why)) => {
                    tracing::warn!(
                        "{} does not read as a predictor ({why}): pre-training it again",
                        path.display()
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let report = self.pretrain(space, archs, config)?;
        self.save(path)?;
        Ok(Some(report))
    }
}

/// Embeddings computed by the native encoder, entering burn's autodiff as a leaf: the loss
/// and the heads run in burn, and the leaf's gradient is carried back through the encoder by
/// [`native::Encoder::backward`].
struct NativePass<B: AutodiffBackend> {
    batch: GraphBatch,
    traces: Vec<native::Trace>,
    leaf: Tensor<B, 2>,
}

impl<B: AutodiffBackend> NativePass<B> {
    fn new(encoder: &native::Encoder, batch: GraphBatch, device: &B::Device) -> Self {
        let mut traces = Vec::new();
        let emb = encoder.embed_traced(&batch, &mut traces);
        let shape = [batch.len(), encoder.embed.d_out];
        let leaf = Tensor::from_data(TensorData::new(emb, shape), device).require_grad();
        Self {
            batch,
            traces,
            leaf,
        }
    }
}

/// One optimiser step on `loss`; returns the updated model and the loss value, or an error if
/// the loss is no longer finite. With the native engine (`native` holds the encoder the
/// `passes` ran through) the encoder's gradients come from its own backward pass.
fn descend<B: AutodiffBackend, O: Optimizer<RankerModel<B>, B>>(
    model: RankerModel<B>,
    optim: &mut O,
    loss: Tensor<B, 1>,
    (native, passes): (Option<&native::Encoder>, &[NativePass<B>]),
    learning_rate: f64,
    step: usize,
) -> Result<(RankerModel<B>, f64), PredictorError> {
    let value = loss.clone().into_scalar().elem::<f32>();
    if !value.is_finite() {
        return Err(PredictorError::Diverged(value, step));
    }
    let mut grads = loss.backward();
    let mut encoder_grads: Option<native::Grads> = None;
    if let Some(encoder) = native {
        for pass in passes {
            let Some(d_emb) = pass.leaf.grad_remove(&mut grads) else {
                continue;
            };
            let d_emb = d_emb
                .into_data()
                .convert::<f32>()
                .into_vec::<f32>()
                .map_err(|e| PredictorError::Format(format!("{e:?}")))?;
            let g = encoder.backward(&pass.batch, &pass.traces, &d_emb);
            match &mut encoder_grads {
                None => encoder_grads = Some(g),
                Some(total) => total.add(&g),
            }
        }
    }
    let mut params = GradientsParams::from_grads(grads, &model);
    if let Some(g) = encoder_grads {
        model.register_encoder_grads(g, &mut params);
    }
    Ok((optim.step(learning_rate, model, params), f64::from(value)))
}

/// The head a native step trains through.
#[derive(Clone, Copy)]
enum NativeHead {
    /// The score head (stage 2).
    Score,
    /// The projection head (stage 1).
    Projection,
}

/// One training step in the native kernels from end to end: the encoder over `batch`, the
/// `head`, `loss` (its value and its gradient with respect to the head's outputs), their
/// backward passes, and the update by the same Adam as every other step.
fn native_step<B: AutodiffBackend, O: Optimizer<RankerModel<B>, B>>(
    model: RankerModel<B>,
    optim: &mut O,
    (encoder, traces): (&native::Encoder, &mut Vec<native::Trace>),
    (batch, head): (&GraphBatch, NativeHead),
    loss: impl FnOnce(&[f32]) -> (f64, Vec<f32>),
    (learning_rate, step): (f64, usize),
) -> Result<(RankerModel<B>, f64), PredictorError> {
    let (native_head, parts) = match head {
        NativeHead::Score => (&encoder.score, model.score_parts()),
        NativeHead::Projection => (&encoder.project, model.projection_parts()),
    };
    let emb = encoder.embed_traced(batch, traces);
    let (out, head_trace) = native_head.forward(&emb, batch.len(), native::Kernel::Fast);
    let (value, d_out) = loss(&out);
    if !value.is_finite() {
        return Err(PredictorError::Diverged(value as f32, step));
    }
    let (head_grads, d_emb) = native_head.backward(&emb, &head_trace, &d_out);
    let grads = encoder.backward(batch, traces, &d_emb);
    let mut params = GradientsParams::new();
    register_head_grads(parts, head_grads, &mut params);
    model.register_encoder_grads(grads, &mut params);
    Ok((optim.step(learning_rate, model, params), value))
}

/// Fisher–Yates from our RNG.
fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// Not API. The addresses of the predictor's space-independent work for [`CpuBackend`], so
/// that this crate compiles it for the default backend once: dependents built without
/// optimisation (every test and example; rustc shares generic code between crates at
/// opt-level 0 and 1) then link to it instead of each compiling it again, which made up most
/// of a cold `cargo test`'s compile time (docs/results/test_time.md). Never called.
#[cfg(all(debug_assertions, not(test)))]
#[doc(hidden)]
pub fn __cpu_backend_code() -> [*const (); 9] {
    type P = Predictor<CpuBackend>;
    [
        P::fresh as *const (),
        P::pretrain_graphs as *const (),
        P::finetune_graphs as *const (),
        P::score_graphs as *const (),
        P::embed_batch as *const (),
        P::load_for as *const (),
        (|p: &P, path: &Path| p.save(path)) as fn(&P, &Path) -> Result<(), PredictorError>
            as *const (),
        P::export_weights as *const (),
        P::fork as *const (),
    ]
}
