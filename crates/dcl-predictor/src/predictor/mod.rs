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

mod config;
mod engine;
mod finetune;
mod persist;
mod pretrain;
mod scoring;

pub use config::{FinetuneConfig, PretrainConfig, RankingLoss, TrainReport};
pub use engine::Engine;

use config::LossTally;
use finetune::{NativeHead, NativePass, descend, native_step, shuffle};

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
    /// differently, so a cached encoder is reused only by a run with the same one. Optional in
    /// a file; absent, it reads as [`Engine::Burn`].
    #[serde(default = "burn_engine")]
    pub engine: Engine,
}

pub(super) fn burn_engine() -> Engine {
    Engine::Burn
}

/// [`PretrainRecord::digest`] of `archs`.
pub(super) fn digest<S: GraphSpace>(space: &S, archs: &[S::Arch]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for a in archs {
        for b in space.canonical_text(a).bytes().chain([b';']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

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
    pub(super) fn fresh(
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
            training: Engine::default(),
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
    /// ([`Engine::Native`] unless set).
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
    pub(super) fn native_encoder(&self, model: &RankerModel<B>) -> Option<native::Encoder> {
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

    pub(super) fn check_space<S: GraphSpace>(&self, space: &S) -> Result<(), PredictorError> {
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

    pub(super) fn graphs<S: GraphSpace>(
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
}

/// Not API. The addresses of the predictor's space-independent work for [`CpuBackend`], so
/// that this crate compiles it for the default backend once: dependents built without
/// optimisation (every test and example; rustc shares generic code between crates at
/// opt-level 0 and 1) then link to it instead of each compiling it again, which made up most
/// of a cold `cargo test`'s compile time. Never called.
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
