//! # dcl-train
//!
//! Builds candidate networks from architectures and trains them for real with burn, so that a
//! search can pay for each query with a training run instead of a table look-up.
//!
//! * [`CellSpec`]: a cell as operation edges between nodes; [`CellSpec::from_nb201`] reads a
//!   NAS-Bench-201 cell as a 1-D cell.
//! * [`CellNet`]: the NAS-Bench-201 macro skeleton (stem, stages of cells joined by residual
//!   reduction blocks, global pooling, classifier) with 1-D convolutions for signals. Other
//!   networks implement [`Classifier`] (and [`Classifier::layers`] for the native engine),
//!   built from [`seeded_conv1d`] and [`seeded_linear`] so that a seed fixes their weights;
//!   [`ResNet1d`] is a plain residual 1-D CNN of that kind, for hand-designed baselines.
//! * [`train`]: seeded mini-batches, Adam or SGD with a cosine schedule, class-weighted
//!   cross-entropy, early stopping on a validation split; [`ClassMetrics`] for the results.
//! * [`FeatureEntry`]: where a [`CellNet`]'s extra features (RR intervals, say) enter it;
//!   [`NetSpace`]: NAS-Bench-201's cells with a feature entry as one search space ([`NetArch`]).
//! * [`CellEvaluator`]: implements dcl-graph's `Evaluator` for `Nb201Space` and [`NetSpace`],
//!   so DCL-ENAS (or any strategy of dcl-evo) trains the candidates it queries.
//!
//! Backends: burn-ndarray on the CPU by default ([`NdArrayBackend`]); burn-flex with the `flex`
//! feature; burn-cuda with the `cuda` feature. [`DeviceKind`] picks one at run time and says
//! clearly when it is not available.
//!
//! ```
//! use dcl_train::{CellNet, CellSpec, ClassMetrics, InputShape, Kernels, NdArrayBackend, NetConfig,
//!     OptimizerKind, SignalData, TrainConfig, train};
//! // Two classes of toy signals: a narrow or a wide bump, at shifting positions.
//! let (length, n) = (32, 64);
//! let mut data = SignalData { length, n_features: 0, n_classes: 2, ..Default::default() };
//! for i in 0..n {
//!     let width = if i % 2 == 0 { 1.5 } else { 6.0 };
//!     let centre = 12.0 + (i % 8) as f32;
//!     data.signals.extend((0..length).map(|t| (-((t as f32 - centre) / width).powi(2)).exp()));
//!     data.labels.push((i % 2) as u8);
//! }
//! let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
//!     .parse()
//!     .unwrap();
//! let spec = CellSpec::from_nb201(&cell, Kernels::default());
//! let shape = InputShape::of(&data);
//! let device = Default::default();
//! let net_config = NetConfig { channels: 4, stages: 2, ..NetConfig::default() };
//! let model = CellNet::<NdArrayBackend>::new(&spec, &net_config, shape, 1, &device)?;
//! let config = TrainConfig {
//!     epochs: 6,
//!     batch_size: 16,
//!     optimizer: OptimizerKind::Adam { lr: 1e-2, weight_decay: 0.0 },
//!     patience: None,
//!     ..TrainConfig::default()
//! };
//! let trained = train(model, &data, &data, &config, &device, &mut |_| {})?;
//! assert!(trained.report.valid.accuracy > 0.9, "{:?}", trained.report.epochs);
//! # Ok::<(), dcl_train::TrainError>(())
//! ```
#![warn(missing_docs)]

mod augment;
mod backend;
mod cell;
mod data;
mod error;
mod evaluator;
mod layers;
mod metrics;
mod native;
mod net;
mod resnet;
mod skeleton;
mod space;
mod task;
mod train;

pub use augment::Augment;
#[cfg(feature = "cuda")]
pub use backend::CudaBackend;
#[cfg(feature = "flex")]
pub use backend::FlexBackend;
pub use backend::{DeviceKind, NdArrayBackend};
pub use cell::{CellEdge, CellSpec, EdgeOp, Kernels};
pub use data::SignalData;
pub use error::TrainError;
pub use evaluator::{CandidateRecord, CellEvaluator, LATENCY_MS, PARAMS};
pub use layers::{Layer, LayerGraph, Value, ValueShape, Weight, WeightIndex, write_back};
pub use metrics::{ClassMetrics, Monitor};
pub use native::NativeNet;
pub use net::{
    Cell, CellNet, Classifier, FeatureEntry, InputShape, NetConfig, ReductionBlock, ReluConvBn,
    check_accepts, seeded_conv1d, seeded_linear,
};
pub use resnet::{ResBlock, ResNet1d, ResNetConfig};
pub use skeleton::{Skeleton, SkeletonMenu};
pub use space::{NetArch, NetSpace};
pub use task::{TrainFold, TrainTask, read_data, write_data};
pub use train::{
    ClassWeighting, EpochRecord, OptimizerKind, TrainConfig, TrainEngine, TrainReport, Trained,
    evaluate, latency_ms, predict, train, weighted_cross_entropy,
};

/// Not API. The addresses of the training, evaluation and prediction of both networks on
/// [`NdArrayBackend`] (what every CPU device trains through), so that this crate compiles
/// them once: dependents built without optimisation (every test and example; rustc shares
/// generic code between crates at opt-level 0 and 1) then link to them instead of each
/// compiling them again. Never called.
#[cfg(all(debug_assertions, not(test)))]
#[doc(hidden)]
pub fn __ndarray_backend_code() -> [*const (); 12] {
    type B = NdArrayBackend;
    type I = burn::backend::NdArray;
    [
        train::<B, CellNet<B>> as *const (),
        train::<B, ResNet1d<B>> as *const (),
        evaluate::<I, CellNet<I>> as *const (),
        evaluate::<I, ResNet1d<I>> as *const (),
        predict::<I, CellNet<I>> as *const (),
        predict::<I, ResNet1d<I>> as *const (),
        latency_ms::<I, CellNet<I>> as *const (),
        latency_ms::<I, ResNet1d<I>> as *const (),
        CellNet::<B>::new as *const (),
        ResNet1d::<B>::new as *const (),
        CellEvaluator::<B>::new as *const (),
        CellEvaluator::<B>::train_arch as *const (),
    ]
}
