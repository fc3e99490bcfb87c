//! # dcl-predictor
//!
//! The DCL-ENAS ranker: a GIN-style graph encoder (messages along both edge directions,
//! one-hot op features, a readout over every layer), a projection head trained label-free with
//! InfoNCE on augmented views ([`Predictor::pretrain`], stage 1), and a score head fine-tuned
//! to rank with a relative-performance loss ([`Predictor::finetune`], stage 2). Ranking
//! metrics live in [`metrics`].
//!
//! `cargo add dcl-predictor` is enough to use it on your own space: the graph vocabulary
//! ([`SearchSpace`], [`GraphSpace`], [`ArchGraph`], ...), the evaluator traits
//! ([`Evaluator`], [`FnEvaluator`]) and the random-number crates the traits' signatures name
//! ([`rand`], [`rand_chacha`]) are re-exported here.
//!
//! ```
//! use dcl_predictor::rand::SeedableRng;
//! use dcl_predictor::rand_chacha::ChaCha8Rng;
//! use dcl_predictor::{FinetuneConfig, ModelConfig, Nb201Space, Predictor, SearchSpace};
//!
//! let space = Nb201Space::new();
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! let labelled: Vec<_> = (0..16)
//!     .map(|i| (space.sample(&mut rng), f64::from(i)))
//!     .collect();
//! let model = ModelConfig { hidden: 16, layers: 2, projection: 8 };
//! let mut ranker: Predictor = Predictor::new(&space, model, 0).unwrap();
//! let finetune = FinetuneConfig { epochs: 2, ..Default::default() };
//! ranker.finetune(&space, &labelled, &finetune).unwrap();
//! let scores = ranker.score(&space, &[space.sample(&mut rng)]).unwrap();
//! assert!(scores[0].is_finite());
//! ```
//!
//! ## Determinism
//!
//! Initial weights and every shuffle and augmentation come from a `ChaCha8Rng` seeded by
//! [`Predictor::new`]'s seed, never from a global RNG, and the same seed gives the same
//! predictor bit for bit whatever the thread count. The native training engine, the default,
//! sums in chunks of a fixed size, in chunk order; with [`Engine::Burn`]
//! ([`Predictor::set_training_engine`]) the model never differentiates through burn-ndarray's
//! approximate reciprocal (see dcl-contrastive's crate docs). The two engines train the same
//! model rounded differently; native scoring is bit-equal to burn's.
#![warn(missing_docs)]

// The unit tests train and differentiate through burn for the default backend. Loading the
// crate as its dependents see it lets rustc link to the burn code compiled there for
// `CpuBackend` (generic code is shared between crates at the test profile's opt-level)
// instead of compiling it again for the tests.
#[cfg(test)]
extern crate dcl_predictor as _;

mod ensemble;
mod error;
mod file;
pub mod metrics;
mod model;
mod native;
mod predictor;
mod surrogate;

pub use dcl_contrastive as contrastive;
pub use dcl_graph::{
    self, ArchGraph, Attempt, EncodingShape, Evaluator, Failure, FailureKind, FnEvaluator,
    GraphBatch, GraphError, GraphLimits, GraphSpace, ModuleHash, Nb101Cell, Nb101Space, Nb201Cell,
    Nb201Space, NodeOp, Objectives, OpVocab, SearchSpace, Subspace, Surrogate, augment,
};
pub use ensemble::{Ensemble, MEMBER_SEED_STRIDE};
pub use error::PredictorError;
pub use model::ModelConfig;
pub use predictor::{
    CpuBackend, Engine, FinetuneConfig, Lineage, Predictor, PretrainConfig, PretrainRecord,
    RankingLoss, TrainReport,
};
pub use rand;
pub use rand_chacha;
pub use surrogate::PredictorSurrogate;

#[cfg(all(debug_assertions, not(test)))]
#[doc(hidden)]
pub use predictor::__cpu_backend_code;
