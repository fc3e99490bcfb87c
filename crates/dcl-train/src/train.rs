//! The trainer: seeded mini-batches, Adam or SGD with an optional cosine schedule,
//! class-weighted cross-entropy, early stopping on a validation split.

use std::marker::PhantomData;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::augment::Augment;
use crate::data::SignalData;
use crate::layers::Weight;
use crate::metrics::{ClassMetrics, Monitor};
use crate::native::NativeNet;
use crate::net::{Classifier, InputShape, check_accepts};

/// The optimiser and its settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// Adam with L2 weight decay.
    Adam {
        /// Peak learning rate.
        lr: f64,
        /// L2 penalty.
        weight_decay: f32,
    },
    /// SGD with momentum and L2 weight decay.
    Sgd {
        /// Peak learning rate.
        lr: f64,
        /// Momentum.
        momentum: f64,
        /// L2 penalty.
        weight_decay: f32,
    },
}

impl OptimizerKind {
    fn lr(self) -> f64 {
        match self {
            Self::Adam { lr, .. } | Self::Sgd { lr, .. } => lr,
        }
    }
}

/// Which engine trains (and runs) a network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainEngine {
    /// The native CPU engine ([`crate::NativeNet`]) when the network's backend is a CPU one
    /// (burn-ndarray or burn-flex) and the network has a layer-level form
    /// ([`Classifier::layers`]); burn's own otherwise (CUDA, a network without one — the
    /// latter with a warning). The default.
    #[default]
    Auto,
    /// The native CPU engine whatever the network's backend (its weights are read from and
    /// written back to it); burn's, with a warning, for a network without a layer-level form.
    Native,
    /// burn's autodiff and optimisers on the network's own backend.
    Burn,
}

impl TrainEngine {
    /// The lowercase name (`auto`, `native`, `burn`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Native => "native",
            Self::Burn => "burn",
        }
    }

    /// Whether a network on backend `B` trains natively (before asking the network).
    fn wants_native<B: Backend>(self) -> bool {
        match self {
            Self::Auto => is_cpu_backend::<B>(),
            Self::Native => true,
            Self::Burn => false,
        }
    }
}

impl std::fmt::Display for TrainEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `B` is burn-ndarray or burn-flex, with autodiff (as [`train`] takes them) or
/// without (as the inference functions do).
fn is_cpu_backend<B: Backend>() -> bool {
    use std::any::TypeId;
    let cpu = [
        TypeId::of::<crate::NdArrayBackend>(),
        TypeId::of::<burn::backend::NdArray>(),
        #[cfg(feature = "flex")]
        TypeId::of::<crate::FlexBackend>(),
        #[cfg(feature = "flex")]
        TypeId::of::<burn::backend::Flex>(),
    ];
    cpu.contains(&TypeId::of::<B>())
}

/// `model` lowered onto the native engine when `engine` picks it for backend `B` and the
/// network has a layer-level form; `None` leaves the work (`work`: "training",
/// "inference") to burn, with a warning where the native engine was wanted but the network
/// cannot be lowered.
fn lower<B: Backend, M: Classifier<B>>(
    model: &M,
    shape: &InputShape,
    engine: TrainEngine,
    work: &str,
) -> Option<NativeNet> {
    if !engine.wants_native::<B>() {
        return None;
    }
    match model.layers(shape).and_then(NativeNet::new) {
        Ok(net) => Some(net),
        Err(e) => {
            tracing::warn!("{work} on burn, not the native engine: {e}");
            None
        }
    }
}

fn burn_engine() -> TrainEngine {
    TrainEngine::Burn
}

/// How cross-entropy weighs the classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClassWeighting {
    /// Every sample counts the same.
    Uniform,
    /// Class `c` weighs `n / (k * n_c)`: each class contributes equally, however rare.
    InverseFrequency,
    /// Class `c` weighs `sqrt(n / (k * n_c))`: a milder correction.
    SqrtInverseFrequency,
}

/// Everything the trainer needs besides the data and the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Maximum number of epochs. Default 20.
    pub epochs: usize,
    /// Mini-batch size. Default 128.
    pub batch_size: usize,
    /// Cap on the optimisation steps of one epoch (`None`: the whole training set). Default None.
    pub steps_per_epoch: Option<usize>,
    /// Optimiser. Default Adam, lr 1e-3, weight decay 1e-4.
    pub optimizer: OptimizerKind,
    /// Cosine decay of the learning rate from its peak to 0 over all planned steps. Default true.
    pub cosine: bool,
    /// Class weights of the loss. Default [`ClassWeighting::InverseFrequency`].
    pub class_weighting: ClassWeighting,
    /// Stop after this many epochs without a better validation score (`None`: never). The
    /// returned model is always the best one seen. Default Some(5).
    pub patience: Option<usize>,
    /// The validation metric that picks the best epoch. Default balanced accuracy.
    pub monitor: Monitor,
    /// Seed of the batch order and of the augmentation. Default 0.
    pub seed: u64,
    /// Random perturbation of every training signal (validation data is never touched).
    /// Default none.
    #[serde(default)]
    pub augment: Augment,
    /// Validation metrics, and so the monitor, at this class mix (`None`: as the validation set
    /// is): each validation sample of class `c` counts `valid_class_mix[c]` times, see
    /// [`ClassMetrics::at_class_mix`]. For a class-balanced validation sample, (class `c` in the
    /// population) / (class `c` in the sample) makes macro-F1 count a rare class's false
    /// positives as the population would. Default None.
    #[serde(default)]
    pub valid_class_mix: Option<Vec<f64>>,
    /// Which engine trains. Default [`TrainEngine::Auto`]: native on the CPU backends.
    #[serde(default)]
    pub engine: TrainEngine,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 128,
            steps_per_epoch: None,
            optimizer: OptimizerKind::Adam {
                lr: 1e-3,
                weight_decay: 1e-4,
            },
            cosine: true,
            class_weighting: ClassWeighting::InverseFrequency,
            patience: Some(5),
            monitor: Monitor::BalancedAccuracy,
            seed: 0,
            augment: Augment::NONE,
            valid_class_mix: None,
            engine: TrainEngine::Auto,
        }
    }
}

impl TrainConfig {
    /// Checks the settings before any training: epochs, batch size, steps per epoch and
    /// learning rate positive, weight decay (and SGD's momentum) finite and not negative, the
    /// augmentation's settings in range. [`train`] calls it first.
    pub fn validate(&self) -> Result<(), TrainError> {
        let lr = self.optimizer.lr();
        if self.epochs == 0
            || self.batch_size == 0
            || self.steps_per_epoch == Some(0)
            || !(lr.is_finite() && lr > 0.0)
        {
            return Err(TrainError::Config(format!(
                "epochs, batch size, steps per epoch and learning rate must be positive: {self:?}"
            )));
        }
        let (weight_decay, momentum) = match self.optimizer {
            OptimizerKind::Adam { weight_decay, .. } => (weight_decay, 0.0),
            OptimizerKind::Sgd {
                weight_decay,
                momentum,
                ..
            } => (weight_decay, momentum),
        };
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(TrainError::Config(format!(
                "weight_decay must be finite and not negative, got {weight_decay}"
            )));
        }
        if !(0.0..1.0).contains(&momentum) {
            return Err(TrainError::Config(format!(
                "momentum must be in [0, 1), got {momentum}"
            )));
        }
        self.augment.validate()
    }
}

/// One epoch of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// The monitored validation metric.
    pub valid_score: f64,
    /// Seconds since training began.
    pub seconds: f64,
}

/// What a training run returns besides the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Every epoch run.
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose model is returned (1-based).
    pub best_epoch: usize,
    /// Validation metrics of the returned model.
    pub valid: ClassMetrics,
    /// Optimisation steps taken.
    pub steps: usize,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// The engine that trained: [`TrainEngine::Native`] or [`TrainEngine::Burn`] (a serialized
    /// report without the field reads as burn).
    #[serde(default = "burn_engine")]
    pub engine: TrainEngine,
}

/// A trained model and its report.
#[derive(Debug)]
pub struct Trained<M> {
    /// The best model seen (by the monitored validation metric), on the inference backend
    /// (autodiff stripped). It is a snapshot: burn's batch-norm running statistics are shared
    /// between clones of a training module, so a clone would keep drifting as training goes on.
    pub model: M,
    /// The run's report.
    pub report: TrainReport,
}

/// Samples `indices` of `data`: signals `[b, channels, length]` and features `[b, f]`, flat,
/// each sample perturbed by `augment` if given.
fn raw_batch(
    data: &SignalData,
    indices: &[usize],
    augment: Option<(&Augment, &mut ChaCha8Rng)>,
) -> (Vec<f32>, Vec<f32>) {
    let (len, ch, nf) = (data.length, data.channels, data.n_features);
    let per = ch * len;
    let mut signals = Vec::with_capacity(indices.len() * per);
    let mut features = Vec::with_capacity(indices.len() * nf);
    for &i in indices {
        signals.extend_from_slice(&data.signals[i * per..(i + 1) * per]);
        features.extend_from_slice(&data.features[i * nf..(i + 1) * nf]);
    }
    if let Some((augment, rng)) = augment.filter(|(a, _)| !a.is_none()) {
        for k in 0..indices.len() {
            let s = &mut signals[k * per..(k + 1) * per];
            augment.apply_channels(s, ch, &mut features[k * nf..(k + 1) * nf], rng);
        }
    }
    (signals, features)
}

/// A raw batch of `b` samples of `data`'s shape as tensors.
fn tensors<B: Backend>(
    data: &SignalData,
    (signals, features): (Vec<f32>, Vec<f32>),
    device: &B::Device,
) -> (Tensor<B, 3>, Tensor<B, 2>) {
    let b = signals.len() / (data.channels * data.length).max(1);
    (
        Tensor::from_data(
            TensorData::new(signals, [b, data.channels, data.length]),
            device,
        ),
        Tensor::from_data(TensorData::new(features, [b, data.n_features]), device),
    )
}

/// Samples `indices` of `data` as tensors.
fn batch<B: Backend>(
    data: &SignalData,
    indices: &[usize],
    device: &B::Device,
) -> (Tensor<B, 3>, Tensor<B, 2>) {
    tensors::<B>(data, raw_batch(data, indices, None), device)
}

/// Predicted labels for every sample of `data`, in batches of `batch_size`, on the engine
/// `engine` picks for backend `B` as [`train`] picks it (native on the CPU backends by
/// default): the weights, running statistics included, are the model's either way.
pub fn predict<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &SignalData,
    batch_size: usize,
    device: &B::Device,
    engine: TrainEngine,
) -> Result<Vec<u8>, TrainError> {
    data.validate()?;
    let shape = InputShape::of(data);
    check_accepts(model, &shape)?;
    match lower(model, &shape, engine, "inference") {
        Some(mut net) => native_predict(&mut net, data, batch_size),
        None => Ok(burn_predict(model, data, batch_size, device)),
    }
}

/// burn's forward pass over `data` (already validated), in batches.
fn burn_predict<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &SignalData,
    batch_size: usize,
    device: &B::Device,
) -> Vec<u8> {
    let all: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(data.len());
    for chunk in all.chunks(batch_size.max(1)) {
        let (x, f) = batch::<B>(data, chunk, device);
        let pred = model.forward(x, f).argmax(1).into_data();
        out.extend(pred.iter::<i64>().map(|p| p as u8));
    }
    out
}

/// Passes of one sample through the network run before [`latency_ms`] starts timing.
const LATENCY_WARMUP: usize = 3;

/// The measured inference latency of `model` per sample, in milliseconds, on `device` and
/// the engine `engine` picks for backend `B` (as [`predict`]; the native engine's time counts
/// its forward pass, not the one-off lowering of the network): the median over `repeats`
/// forward passes of one sample of `data` at a time (the first sample, as a monitor classifies
/// a stream sample by sample), after a few untimed passes. A wall-clock measurement: it varies with the
/// machine and its load, so a search stores it and never measures it again on replay.
pub fn latency_ms<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &SignalData,
    repeats: usize,
    device: &B::Device,
    engine: TrainEngine,
) -> Result<f64, TrainError> {
    data.validate()?;
    let shape = InputShape::of(data);
    check_accepts(model, &shape)?;
    if data.is_empty() || repeats == 0 {
        return Err(TrainError::Data(
            "latency needs at least one sample and one repeat".into(),
        ));
    }
    let mut native = lower(model, &shape, engine, "inference");
    let mut times = Vec::with_capacity(repeats);
    for k in 0..LATENCY_WARMUP + repeats {
        let t = Instant::now();
        match &mut native {
            Some(net) => {
                let (x, f) = raw_batch(data, &[0], None);
                std::hint::black_box(net.forward(&x, &f, false)?);
            }
            None => {
                let (x, f) = batch::<B>(data, &[0], device);
                // Reading the logits back waits for the device, so the pass is timed whole.
                let _ = model.forward(x, f).into_data();
            }
        }
        if k >= LATENCY_WARMUP {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The metrics of `model` on `data`, predicted as [`predict`] does.
pub fn evaluate<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &SignalData,
    batch_size: usize,
    device: &B::Device,
    engine: TrainEngine,
) -> Result<ClassMetrics, TrainError> {
    let predicted = predict(model, data, batch_size, device, engine)?;
    ClassMetrics::new(&data.labels, &predicted, data.n_classes)
}

/// Loss weights per class; a class absent from the training data gets weight 0.
fn class_weights(counts: &[usize], weighting: ClassWeighting) -> Vec<f32> {
    let n: usize = counts.iter().sum();
    let k = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                return 0.0;
            }
            let inv = n as f64 / (k as f64 * c as f64);
            (match weighting {
                ClassWeighting::Uniform => 1.0,
                ClassWeighting::InverseFrequency => inv,
                ClassWeighting::SqrtInverseFrequency => inv.sqrt(),
            }) as f32
        })
        .collect()
}

/// Trains `model` on `train`, keeping the epoch that scores best on `valid`. `progress` is
/// called after every epoch. [`TrainConfig::engine`] picks the engine (by default the native
/// one for the CPU backends, see [`TrainEngine`]); the report says which trained. Same seed and
/// data ⇒ same result, bit for bit on the native engine and on burn-ndarray whatever their
/// thread counts (tested; other backends are not checked).
pub fn train<B, M>(
    model: M,
    train: &SignalData,
    valid: &SignalData,
    config: &TrainConfig,
    device: &B::Device,
    progress: &mut dyn FnMut(&EpochRecord),
) -> Result<Trained<M::InnerModule>, TrainError>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    config.validate()?;
    train.validate()?;
    valid.validate()?;
    if InputShape::of(train) != InputShape::of(valid) {
        return Err(TrainError::Data(
            "training and validation data differ in shape".into(),
        ));
    }
    check_accepts(&model, &InputShape::of(train))?;
    if let Some(mix) = &config.valid_class_mix {
        crate::metrics::check_class_mix(mix, valid.n_classes)?;
    }
    if let Some(net) = lower(&model, &InputShape::of(train), config.engine, "training") {
        let learner = NativeLearner {
            net,
            model,
            optimizer: config.optimizer,
            backend: PhantomData,
        };
        return run(learner, train, valid, config, progress);
    }
    let decay = |penalty: f32| (penalty > 0.0).then(|| WeightDecayConfig::new(penalty));
    match config.optimizer {
        OptimizerKind::Adam { weight_decay, .. } => {
            let optim = AdamConfig::new()
                .with_weight_decay(decay(weight_decay))
                .init();
            let learner = BurnLearner::new(model, optim, device);
            run(learner, train, valid, config, progress)
        }
        OptimizerKind::Sgd {
            momentum,
            weight_decay,
            ..
        } => {
            let optim = SgdConfig::new()
                .with_momentum(Some(MomentumConfig {
                    momentum,
                    dampening: 0.0,
                    nesterov: false,
                }))
                .with_weight_decay(decay(weight_decay))
                .init();
            let learner = BurnLearner::new(model, optim, device);
            run(learner, train, valid, config, progress)
        }
    }
}

/// Class-weighted cross-entropy as burn's `CrossEntropyLoss` defines it,
/// `sum_i w[t_i] (logsumexp(z_i) - z_i[t_i]) / sum_i w[t_i]`, but with exact gradients:
/// burn's own differentiates `log` through burn-ndarray's approximate SIMD reciprocal, which
/// made training neither exact nor repeatable (see dcl-contrastive's crate docs). The loss
/// [`train`] minimises.
///
/// # Panics
/// If a target is not below `class_weights.len()`, or `targets` and the logits' rows differ
/// in number.
pub fn weighted_cross_entropy<B: Backend>(
    logits: Tensor<B, 2>,
    targets: &[u8],
    class_weights: &[f32],
    device: &B::Device,
) -> Tensor<B, 1> {
    let b = targets.len();
    let w: Vec<f32> = targets
        .iter()
        .map(|&t| class_weights[usize::from(t)])
        .collect();
    let total: f32 = w.iter().sum();
    let index: Vec<i32> = targets.iter().map(|&t| i32::from(t)).collect();
    let index = Tensor::<B, 1, Int>::from_ints(index.as_slice(), device).reshape([b, 1]);
    let picked = logits.clone().gather(1, index);
    let nll = (dcl_contrastive::logsumexp(logits, 1) - picked).reshape([b]);
    let w = Tensor::<B, 1>::from_floats(w.as_slice(), device);
    (nll * w).sum().div_scalar(total.max(f32::MIN_POSITIVE))
}

/// What the training loop asks of an engine.
trait Learner {
    /// The trained network handed back.
    type Model;
    /// A copy of the network at one epoch.
    type Snapshot;
    /// Which engine this is.
    const ENGINE: TrainEngine;
    /// One optimisation step on a raw batch; the loss before it.
    fn step(
        &mut self,
        data: &SignalData,
        batch: (Vec<f32>, Vec<f32>),
        targets: &[u8],
        class_weights: &[f32],
        lr: f64,
    ) -> Result<f32, TrainError>;
    /// The network's predictions on `data` (inference mode) and a snapshot of it.
    fn validate(&mut self, data: &SignalData) -> Result<(Vec<u8>, Self::Snapshot), TrainError>;
    /// The network of `snapshot`.
    fn finish(self, snapshot: Self::Snapshot) -> Result<Self::Model, TrainError>;
}

/// burn's autodiff and optimiser on the network's backend.
struct BurnLearner<B: AutodiffBackend, M, O> {
    /// Taken by each optimiser step and put back.
    model: Option<M>,
    optim: O,
    device: B::Device,
}

impl<B: AutodiffBackend, M, O> BurnLearner<B, M, O> {
    fn new(model: M, optim: O, device: &B::Device) -> Self {
        Self {
            model: Some(model),
            optim,
            device: device.clone(),
        }
    }
}

impl<B, M, O> Learner for BurnLearner<B, M, O>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
    O: Optimizer<M, B>,
{
    type Model = M::InnerModule;
    type Snapshot = M::InnerModule;
    const ENGINE: TrainEngine = TrainEngine::Burn;

    fn step(
        &mut self,
        data: &SignalData,
        batch: (Vec<f32>, Vec<f32>),
        targets: &[u8],
        class_weights: &[f32],
        lr: f64,
    ) -> Result<f32, TrainError> {
        let (x, f) = tensors::<B>(data, batch, &self.device);
        let model = self.model.as_ref().expect("put back after every step");
        let loss =
            weighted_cross_entropy(model.forward(x, f), targets, class_weights, &self.device);
        let value = loss.clone().into_scalar().elem::<f32>();
        if value.is_finite() {
            let model = self.model.take().expect("put back after every step");
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            self.model = Some(self.optim.step(lr, model, grads));
        }
        Ok(value)
    }

    fn validate(&mut self, data: &SignalData) -> Result<(Vec<u8>, M::InnerModule), TrainError> {
        let inner = self
            .model
            .as_ref()
            .expect("put back after every step")
            .valid();
        let predicted = burn_predict(&inner, data, 512, &self.device);
        Ok((predicted, inner))
    }

    fn finish(self, snapshot: M::InnerModule) -> Result<M::InnerModule, TrainError> {
        Ok(snapshot)
    }
}

/// The native engine; the burn network only gives its weights and takes back the trained
/// ones.
struct NativeLearner<B, M> {
    net: NativeNet,
    model: M,
    optimizer: OptimizerKind,
    backend: PhantomData<B>,
}

impl<B, M> Learner for NativeLearner<B, M>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    type Model = M::InnerModule;
    type Snapshot = Vec<Weight>;
    const ENGINE: TrainEngine = TrainEngine::Native;

    fn step(
        &mut self,
        _data: &SignalData,
        (signals, features): (Vec<f32>, Vec<f32>),
        targets: &[u8],
        class_weights: &[f32],
        lr: f64,
    ) -> Result<f32, TrainError> {
        self.net.train_step(
            &signals,
            &features,
            targets,
            class_weights,
            self.optimizer,
            lr,
        )
    }

    fn validate(&mut self, data: &SignalData) -> Result<(Vec<u8>, Vec<Weight>), TrainError> {
        let predicted = native_predict(&mut self.net, data, 512)?;
        Ok((predicted, self.net.weights().to_vec()))
    }

    fn finish(self, snapshot: Vec<Weight>) -> Result<M::InnerModule, TrainError> {
        crate::layers::write_back(self.model.valid(), &snapshot)
    }
}

/// Predicted labels of every sample of `data` by the native engine, in batches.
fn native_predict(
    net: &mut NativeNet,
    data: &SignalData,
    batch_size: usize,
) -> Result<Vec<u8>, TrainError> {
    let all: Vec<usize> = (0..data.len()).collect();
    let k = data.n_classes;
    let mut out = Vec::with_capacity(data.len());
    for chunk in all.chunks(batch_size.max(1)) {
        let (signals, features) = raw_batch(data, chunk, None);
        let logits = net.forward(&signals, &features, false)?;
        out.extend(logits.chunks(k).map(argmax));
    }
    Ok(out)
}

/// The first largest entry's index (burn's `argmax` on the CPU backends).
fn argmax(row: &[f32]) -> u8 {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best as u8
}

fn run<L: Learner>(
    mut learner: L,
    train: &SignalData,
    valid: &SignalData,
    config: &TrainConfig,
    progress: &mut dyn FnMut(&EpochRecord),
) -> Result<Trained<L::Model>, TrainError> {
    let start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    // Its own stream: switching augmentation on or off leaves the batch order as it was.
    let mut augment_rng = ChaCha8Rng::seed_from_u64(config.seed);
    augment_rng.set_stream(1);
    let weights = class_weights(&train.class_counts(), config.class_weighting);
    let full_steps = train.len().div_ceil(config.batch_size);
    let steps_per_epoch = config
        .steps_per_epoch
        .map_or(full_steps, |s| s.min(full_steps));
    let planned = (steps_per_epoch * config.epochs).max(1);
    let peak = config.optimizer.lr();
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut cursor = order.len(); // forces a shuffle before the first batch
    let mut epochs = Vec::new();
    let mut best: Option<(f64, usize, L::Snapshot, ClassMetrics)> = None;
    let mut step = 0;
    for epoch in 1..=config.epochs {
        let mut loss_sum = 0.0;
        for _ in 0..steps_per_epoch {
            if cursor + config.batch_size > order.len() && cursor > 0 {
                // Fisher–Yates from our RNG; a partial epoch continues where the last stopped.
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.random_range(0..=i));
                }
                cursor = 0;
            }
            let end = (cursor + config.batch_size).min(order.len());
            let idx = &order[cursor..end];
            cursor = end;
            let raw = raw_batch(train, idx, Some((&config.augment, &mut augment_rng)));
            let targets: Vec<u8> = idx.iter().map(|&i| train.labels[i]).collect();
            let lr = if config.cosine {
                peak * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / planned as f64).cos())
            } else {
                peak
            };
            let value = learner.step(train, raw, &targets, &weights, lr)?;
            if !value.is_finite() {
                return Err(TrainError::Diverged { loss: value, step });
            }
            loss_sum += f64::from(value);
            step += 1;
        }
        let (predicted, snapshot) = learner.validate(valid)?;
        let metrics = match &config.valid_class_mix {
            Some(mix) => {
                ClassMetrics::at_class_mix(&valid.labels, &predicted, valid.n_classes, mix)?
            }
            None => ClassMetrics::new(&valid.labels, &predicted, valid.n_classes)?,
        };
        let score = config.monitor.value(&metrics);
        let record = EpochRecord {
            epoch,
            loss: loss_sum / steps_per_epoch as f64,
            valid_score: score,
            seconds: start.elapsed().as_secs_f64(),
        };
        progress(&record);
        dcl_graph::progress::step("epochs", epoch as u64, config.epochs as u64);
        epochs.push(record);
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, epoch, snapshot, metrics));
        }
        let best_epoch = best.as_ref().map_or(epoch, |b| b.1);
        if config.patience.is_some_and(|p| epoch - best_epoch >= p) {
            break;
        }
    }
    let (_, best_epoch, snapshot, valid_metrics) = best.expect("at least one epoch ran");
    let model = learner.finish(snapshot)?;
    Ok(Trained {
        model,
        report: TrainReport {
            epochs,
            best_epoch,
            valid: valid_metrics,
            steps: step,
            seconds: start.elapsed().as_secs_f64(),
            engine: L::ENGINE,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_weights_balance_the_classes() {
        let w = class_weights(&[90, 10, 0], ClassWeighting::InverseFrequency);
        assert!((w[0] * 90.0 - w[1] * 10.0).abs() < 1e-4);
        assert_eq!(w[2], 0.0);
        assert_eq!(
            class_weights(&[90, 10], ClassWeighting::Uniform),
            vec![1.0, 1.0]
        );
        let s = class_weights(&[90, 10], ClassWeighting::SqrtInverseFrequency);
        assert!((s[1] / s[0] - 3.0).abs() < 1e-4);
    }
}
