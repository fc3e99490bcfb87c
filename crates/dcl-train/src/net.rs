//! The networks: [`CellNet`], a NAS-Bench-201-style macro skeleton whose cells follow a
//! [`CellSpec`], and the pieces other networks are built from ([`seeded_conv1d`],
//! [`seeded_linear`], [`FeatureEntry`]'s stem input). The networks are 1-D; the cell wiring
//! ([`CellSpec`], the edge loop in [`Cell::forward`]) does not depend on the dimension, so a
//! 2-D variant only needs 2-D versions of the three small layers below.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::avg_pool1d;
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::cell::{CellSpec, EdgeOp};
use crate::layers::{LayerGraph, Value};

/// A network that classifies signals `[batch, channels, length]`, with extra per-sample
/// features `[batch, n_features]` joined after pooling, into `[batch, n_classes]` logits.
pub trait Classifier<B: Backend>: Module<B> {
    /// The logits.
    fn forward(&self, signals: Tensor<B, 3>, features: Tensor<B, 2>) -> Tensor<B, 2>;

    /// Whether the network takes samples of `shape`. [`crate::train`], [`crate::predict`] and
    /// [`crate::evaluate`] ask first and return a typed error, where burn would panic on the
    /// mismatched tensors. The default, for networks that cannot tell, says yes.
    fn accepts(&self, shape: &InputShape) -> bool {
        let _ = shape;
        true
    }

    /// The network as a [`LayerGraph`] over samples of `shape`, with its current weights, for
    /// the native engine ([`crate::NativeNet`]); the trainer writes the trained weights back
    /// with [`crate::write_back`]. The default, for networks without a layer-level form, is an
    /// error, and the trainer then trains on burn.
    fn layers(&self, shape: &InputShape) -> Result<LayerGraph, TrainError> {
        let _ = shape;
        Err(TrainError::Config(
            "this network has no layer-level form".into(),
        ))
    }
}

/// A typed error when `model` does not take samples of `shape` (where burn would panic on the
/// mismatched tensors).
pub fn check_accepts<B: Backend, M: Classifier<B>>(
    model: &M,
    shape: &InputShape,
) -> Result<(), TrainError> {
    if model.accepts(shape) {
        Ok(())
    } else {
        Err(TrainError::Data(format!(
            "the network does not take samples of {shape:?}"
        )))
    }
}

/// What every network needs to know about its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputShape {
    /// Samples per signal (per channel).
    pub length: usize,
    /// Channels per signal (a serialized shape without the field reads as 1).
    #[serde(default = "one_channel")]
    pub channels: usize,
    /// Extra features per sample.
    pub n_features: usize,
    /// Number of classes.
    pub n_classes: usize,
}

fn one_channel() -> usize {
    1
}

impl InputShape {
    /// The shape of `data`'s samples.
    pub fn of(data: &crate::SignalData) -> Self {
        Self {
            length: data.length,
            channels: data.channels,
            n_features: data.n_features,
            n_classes: data.n_classes,
        }
    }
}

/// A parameter of `shape` drawn uniformly from `(-bound, bound)` by our RNG.
fn uniform<B: Backend, const D: usize>(
    shape: [usize; D],
    bound: f32,
    rng: &mut dyn Rng,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(-bound..bound))
        .collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// A same-padded `Conv1d` whose weights come from `rng` (Kaiming-uniform with burn's default
/// bound `1/sqrt(fan_in)`, weights drawn before biases), so initial weights depend on the seed
/// alone.
pub fn seeded_conv1d<B: Backend>(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    rng: &mut dyn Rng,
    device: &B::Device,
) -> Conv1d<B> {
    let bound = 1.0 / ((c_in * kernel) as f32).sqrt();
    let mut conv = Conv1dConfig::new(c_in, c_out, kernel)
        .with_stride(stride)
        .with_padding(PaddingConfig1d::Explicit(kernel / 2, kernel / 2))
        .init(device);
    // Weights before bias: the order of draws fixes which seed gives which network.
    conv.weight = uniform([c_out, c_in, kernel], bound, rng, device);
    conv.bias = Some(uniform([c_out], bound, rng, device));
    conv
}

/// A `Linear` whose weights come from `rng`, like [`seeded_conv1d`].
pub fn seeded_linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    rng: &mut dyn Rng,
    device: &B::Device,
) -> Linear<B> {
    let bound = 1.0 / (d_in as f32).sqrt();
    let mut lin = LinearConfig::new(d_in, d_out).init(device);
    lin.weight = uniform([d_in, d_out], bound, rng, device);
    lin.bias = Some(uniform([d_out], bound, rng, device));
    lin
}

/// Batch norm over `[batch, channels, length]`, the same computation as burn's `BatchNorm`
/// (batch statistics and a running-average update in training, running statistics otherwise),
/// but with the statistics taken by two `mean_dim` calls instead of a transpose and reshape:
/// on burn-flex that measured 10x faster, and batch norm dominated a cell network's step.
fn batch_norm<B: Backend>(bn: &BatchNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [_, channels, _] = x.dims();
    let device = x.device();
    let (mean, var) = if B::ad_enabled(&device) {
        let mean = x.clone().mean_dim(2).mean_dim(0);
        let var = (x.clone() - mean.clone()).square().mean_dim(2).mean_dim(0);
        let m = bn.momentum;
        let update = |state: &burn::module::RunningState<Tensor<B, 1>>, batch: &Tensor<B, 3>| {
            let running = state.value_sync().to_device(&device);
            let new = running.mul_scalar(1.0 - m)
                + batch.clone().detach().reshape([channels]).mul_scalar(m);
            state.update(new.detach());
        };
        update(&bn.running_mean, &mean);
        update(&bn.running_var, &var);
        (mean, var)
    } else {
        (
            bn.running_mean
                .value()
                .to_device(&device)
                .reshape([1, channels, 1]),
            bn.running_var
                .value()
                .to_device(&device)
                .reshape([1, channels, 1]),
        )
    };
    // A power, not a division by a square root: burn differentiates divisions through
    // burn-ndarray's approximate SIMD reciprocal (12 bits, alignment-dependent, so training
    // would not repeat bit for bit).
    let scale =
        bn.gamma.val().reshape([1, channels, 1]) * var.add_scalar(bn.epsilon).powf_scalar(-0.5);
    (x - mean) * scale + bn.beta.val().reshape([1, channels, 1])
}

/// ReLU, convolution, batch norm: NAS-Bench-201's `nor_conv` operation.
#[derive(Module, Debug)]
pub struct ReluConvBn<B: Backend> {
    conv: Conv1d<B>,
    bn: BatchNorm<B>,
}

impl<B: Backend> ReluConvBn<B> {
    fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        rng: &mut dyn Rng,
        device: &B::Device,
    ) -> Self {
        Self {
            conv: seeded_conv1d(c_in, c_out, kernel, stride, rng, device),
            bn: BatchNormConfig::new(c_out).init(device),
        }
    }

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        batch_norm(&self.bn, self.conv.forward(relu(x)))
    }

    /// Lowered, reading `relu_x`, the ReLU of its input (shared by the edges of one node).
    fn lower(&self, g: &mut LayerGraph, relu_x: Value) -> Result<Value, TrainError> {
        let x = g.burn_conv1d(&self.conv, relu_x)?;
        g.burn_batch_norm(&self.bn, x)
    }
}

/// One planned edge of a built cell: which module (if any) computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlannedEdge {
    from: usize,
    to: usize,
    op: EdgeOp,
    conv: usize,
}

/// A built cell: one [`ReluConvBn`] per convolution edge, the rest parameter-free.
#[derive(Module, Debug)]
pub struct Cell<B: Backend> {
    convs: Vec<ReluConvBn<B>>,
    #[module(skip)]
    plan: Vec<PlannedEdge>,
    #[module(skip)]
    nodes: usize,
}

impl<B: Backend> Cell<B> {
    fn new(spec: &CellSpec, channels: usize, rng: &mut dyn Rng, device: &B::Device) -> Self {
        let mut convs = Vec::new();
        let mut plan = Vec::new();
        for e in &spec.edges {
            let conv = convs.len();
            if let EdgeOp::Conv { kernel } = e.op {
                convs.push(ReluConvBn::new(channels, channels, kernel, 1, rng, device));
            }
            plan.push(PlannedEdge {
                from: e.from,
                to: e.to,
                op: e.op,
                conv,
            });
        }
        Self {
            convs,
            plan,
            nodes: spec.nodes,
        }
    }

    /// Node `j` is the sum of its incoming edges; a node no edge reaches stays zero, and so do
    /// the edges leaving it (they are skipped rather than computed on zeros).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut nodes: Vec<Option<Tensor<B, 3>>> = vec![None; self.nodes];
        nodes[0] = Some(x.clone());
        for j in 1..self.nodes {
            let mut sum: Option<Tensor<B, 3>> = None;
            for e in self.plan.iter().filter(|e| e.to == j) {
                let Some(input) = nodes[e.from].clone() else {
                    continue;
                };
                let out = match e.op {
                    EdgeOp::Zero => continue,
                    EdgeOp::Identity => input,
                    EdgeOp::Conv { .. } => self.convs[e.conv].forward(input),
                    EdgeOp::AvgPool { kernel } => {
                        avg_pool1d(input, kernel, 1, kernel / 2, false, false)
                    }
                };
                sum = Some(match sum {
                    Some(s) => s + out,
                    None => out,
                });
            }
            nodes[j] = sum;
        }
        nodes[self.nodes - 1]
            .take()
            .unwrap_or_else(|| x.zeros_like())
    }

    /// Lowered as [`Cell::forward`] computes it, edge for edge.
    fn lower(&self, g: &mut LayerGraph, x: Value) -> Result<Value, TrainError> {
        let mut nodes: Vec<Option<Value>> = vec![None; self.nodes];
        let mut relus: Vec<Option<Value>> = vec![None; self.nodes];
        nodes[0] = Some(x);
        for j in 1..self.nodes {
            let mut sum: Option<Value> = None;
            for e in self.plan.iter().filter(|e| e.to == j) {
                let Some(input) = nodes[e.from] else {
                    continue;
                };
                let out = match e.op {
                    EdgeOp::Zero => continue,
                    EdgeOp::Identity => input,
                    EdgeOp::Conv { .. } => {
                        let r = match relus[e.from] {
                            Some(r) => r,
                            None => *relus[e.from].insert(g.relu(input)?),
                        };
                        self.convs[e.conv].lower(g, r)?
                    }
                    EdgeOp::AvgPool { kernel } => g.avg_pool1d(input, kernel, 1, kernel / 2)?,
                };
                sum = Some(match sum {
                    Some(s) => g.add(s, out)?,
                    None => out,
                });
            }
            nodes[j] = sum;
        }
        match nodes[self.nodes - 1] {
            Some(v) => Ok(v),
            None => g.zeros(x),
        }
    }
}

/// NAS-Bench-201's residual reduction block: halves the length and doubles the channels.
#[derive(Module, Debug)]
pub struct ReductionBlock<B: Backend> {
    a: ReluConvBn<B>,
    b: ReluConvBn<B>,
    shortcut: Conv1d<B>,
    shortcut_bn: BatchNorm<B>,
}

impl<B: Backend> ReductionBlock<B> {
    fn new(c_in: usize, c_out: usize, rng: &mut dyn Rng, device: &B::Device) -> Self {
        Self {
            a: ReluConvBn::new(c_in, c_out, 3, 2, rng, device),
            b: ReluConvBn::new(c_out, c_out, 3, 1, rng, device),
            // A strided 1x1 shortcut: its output length, ceil(L/2), matches the strided
            // convolution's for odd lengths too.
            shortcut: seeded_conv1d(c_in, c_out, 1, 2, rng, device),
            shortcut_bn: BatchNormConfig::new(c_out).init(device),
        }
    }

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let residual = batch_norm(&self.shortcut_bn, self.shortcut.forward(x.clone()));
        self.b.forward(self.a.forward(x)) + residual
    }

    fn lower(&self, g: &mut LayerGraph, x: Value) -> Result<Value, TrainError> {
        let residual = g.burn_conv1d(&self.shortcut, x)?;
        let residual = g.burn_batch_norm(&self.shortcut_bn, residual)?;
        let r = g.relu(x)?;
        let a = self.a.lower(g, r)?;
        let r = g.relu(a)?;
        let b = self.b.lower(g, r)?;
        g.add(b, residual)
    }
}

/// The macro skeleton around the searched cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Channels of the first stage (doubled by each reduction). Default 16.
    pub channels: usize,
    /// Number of stages; reductions sit between them. Default 3 (as NAS-Bench-201).
    pub stages: usize,
    /// Cells per stage. Default 1 (NAS-Bench-201 uses 5 on images; 1-D signals of a few
    /// hundred samples are small).
    pub cells_per_stage: usize,
    /// Width of the stem convolution. Default 7.
    pub stem_kernel: usize,
    /// Units of a hidden ReLU layer between the pooled maps (with the extra features) and the
    /// classifier; 0 for NAS-Bench-201's single linear classifier. A hidden layer lets the
    /// network combine extra features non-linearly (ratios of them, say), as a flattening
    /// baseline's fully-connected layers can ([`crate::ResNet1d`]). Default 0.
    #[serde(default)]
    pub head_hidden: usize,
    /// Where the extra features enter the network. Default [`FeatureEntry::Head`] (every
    /// network built before this choice existed).
    #[serde(default)]
    pub features: FeatureEntry,
}

impl NetConfig {
    /// Checks the skeleton before anything is built: channels, stages and cells per stage
    /// positive (channels at most 4,096, stages at most 8), the stem kernel odd.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.channels == 0
            || self.stages == 0
            || self.cells_per_stage == 0
            || self.stem_kernel.is_multiple_of(2)
        {
            return Err(TrainError::Config(format!(
                "{self:?}: channels, stages and cells_per_stage must be positive, the stem kernel odd"
            )));
        }
        if self.channels > 4096 || self.stages > 8 || self.head_hidden > 65_536 {
            return Err(TrainError::Config(format!(
                "{self:?}: channels above 4096, stages above 8 or head_hidden above 65536"
            )));
        }
        Ok(())
    }
}

/// Where a [`CellNet`]'s extra per-sample features (an ECG beat's RR intervals, say) enter it.
///
/// When the features transfer between sources better than the signal's shape does (across
/// patients, an ECG beat's rhythm and its shape), how the two are combined is part of the
/// architecture, and a search can choose it ([`crate::NetSpace`]).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FeatureEntry {
    /// Joined to the pooled maps, before the head's hidden layer (if any) and the classifier.
    #[default]
    Head,
    /// As `Head`, and also fed to the stem as constant input channels (one per feature), so
    /// that every convolution can condition on them.
    Stem,
    /// A head of their own (a hidden ReLU layer of [`NetConfig::head_hidden`] units, when
    /// positive, and a linear classifier) whose logits are added to the signal's; the signal's
    /// head sees the pooled maps alone. The rhythm then gets its own say in the decision
    /// instead of being one input among the pooled channels.
    Logits,
}

impl FeatureEntry {
    /// Every entry, in declaration order.
    pub const ALL: [FeatureEntry; 3] =
        [FeatureEntry::Head, FeatureEntry::Stem, FeatureEntry::Logits];

    /// The lowercase name (`head`, `stem`, `logits`).
    pub fn name(self) -> &'static str {
        match self {
            FeatureEntry::Head => "head",
            FeatureEntry::Stem => "stem",
            FeatureEntry::Logits => "logits",
        }
    }

    /// What the stem reads: the signals, and with `Stem` each feature as one more channel,
    /// constant along the signal.
    pub fn stem_input<B: Backend>(
        self,
        signals: Tensor<B, 3>,
        features: &Tensor<B, 2>,
    ) -> Tensor<B, 3> {
        let n_features = features.dims()[1];
        if self != FeatureEntry::Stem || n_features == 0 {
            return signals;
        }
        let [b, _, length] = signals.dims();
        let constant = features
            .clone()
            .reshape([b, n_features, 1])
            .expand([b, n_features, length]);
        Tensor::cat(vec![signals, constant], 1)
    }

    /// The stem's input for the layer graph: the signals, and with `Stem` the features as
    /// constant channels after them.
    pub fn lower_stem_input(self, g: &mut LayerGraph) -> Result<Value, TrainError> {
        let shape = g.input();
        if self != FeatureEntry::Stem || shape.n_features == 0 {
            return Ok(LayerGraph::SIGNALS);
        }
        let constant = g.expand(LayerGraph::FEATURES, shape.length)?;
        g.concat(LayerGraph::SIGNALS, constant)
    }

    /// The stem's input channels and the head's input width for samples of `shape` and
    /// `pooled` channels after pooling: what a [`CellNet`] is built with and accepts.
    pub fn widths(self, shape: &InputShape, pooled: usize) -> (usize, usize) {
        match self {
            FeatureEntry::Head => (shape.channels, pooled + shape.n_features),
            FeatureEntry::Stem => (shape.channels + shape.n_features, pooled + shape.n_features),
            FeatureEntry::Logits => (shape.channels, pooled),
        }
    }
}

impl std::fmt::Display for FeatureEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FeatureEntry {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, TrainError> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                TrainError::Config(format!(
                    "unknown feature entry {s:?} (expected head, stem or logits)"
                ))
            })
    }
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            channels: 16,
            stages: 3,
            cells_per_stage: 1,
            stem_kernel: 7,
            head_hidden: 0,
            features: FeatureEntry::Head,
        }
    }
}

/// Stem, stages of cells joined by [`ReductionBlock`]s, batch norm and ReLU, global average
/// pooling, the extra features joined, an optional hidden layer ([`NetConfig::head_hidden`]),
/// a linear classifier. [`NetConfig::features`] moves where the extra features enter.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use dcl_train::{CellNet, CellSpec, Classifier, InputShape, Kernels, NetConfig};
/// let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
///     .parse()
///     .unwrap();
/// let spec = CellSpec::from_nb201(&cell, Kernels::default());
/// let shape = InputShape { length: 128, channels: 1, n_features: 4, n_classes: 4 };
/// let device = Default::default();
/// let net = CellNet::<NdArray>::new(&spec, &NetConfig::default(), shape, 7, &device).unwrap();
/// let logits = net.forward(Tensor::zeros([2, 1, 128], &device), Tensor::zeros([2, 4], &device));
/// assert_eq!(logits.dims(), [2, 4]);
/// ```
#[derive(Module, Debug)]
pub struct CellNet<B: Backend> {
    stem: Conv1d<B>,
    stem_bn: BatchNorm<B>,
    stages: Vec<Vec<Cell<B>>>,
    reductions: Vec<ReductionBlock<B>>,
    head_bn: BatchNorm<B>,
    hidden: Option<Linear<B>>,
    classifier: Linear<B>,
    /// [`FeatureEntry::Logits`]' hidden layer (with a positive `head_hidden`).
    features_hidden: Option<Linear<B>>,
    /// [`FeatureEntry::Logits`]' classifier (with at least one feature).
    features_classifier: Option<Linear<B>>,
    #[module(skip)]
    entry: FeatureEntry,
}

impl<B: Backend> CellNet<B> {
    /// Builds the network for `spec`, its initial weights drawn from `seed`.
    pub fn new(
        spec: &CellSpec,
        config: &NetConfig,
        shape: InputShape,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self, TrainError> {
        spec.validate()?;
        config.validate()?;
        if shape.length == 0 || shape.channels == 0 || shape.n_classes < 2 {
            return Err(TrainError::Config(format!("input shape {shape:?}")));
        }
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
        let c = config.channels;
        let entry = config.features;
        let last = c << (config.stages - 1);
        let (stem_in, joined) = entry.widths(&shape, last);
        let stem = seeded_conv1d(stem_in, c, config.stem_kernel, 1, &mut rng, device);
        let mut stages = Vec::new();
        let mut reductions = Vec::new();
        for s in 0..config.stages {
            let channels = c << s;
            if s > 0 {
                reductions.push(ReductionBlock::new(
                    channels / 2,
                    channels,
                    &mut rng,
                    device,
                ));
            }
            stages.push(
                (0..config.cells_per_stage)
                    .map(|_| Cell::new(spec, channels, &mut rng, device))
                    .collect(),
            );
        }
        let hidden = (config.head_hidden > 0)
            .then(|| seeded_linear(joined, config.head_hidden, &mut rng, device));
        let classifier_in = if config.head_hidden > 0 {
            config.head_hidden
        } else {
            joined
        };
        let classifier = seeded_linear(classifier_in, shape.n_classes, &mut rng, device);
        // Drawn after everything `Head` draws, so that `Head` networks keep their weights.
        let own_head = entry == FeatureEntry::Logits && shape.n_features > 0;
        let features_hidden = (own_head && config.head_hidden > 0)
            .then(|| seeded_linear(shape.n_features, config.head_hidden, &mut rng, device));
        let features_classifier = own_head.then(|| {
            let d_in = if config.head_hidden > 0 {
                config.head_hidden
            } else {
                shape.n_features
            };
            seeded_linear(d_in, shape.n_classes, &mut rng, device)
        });
        Ok(Self {
            stem,
            stem_bn: BatchNormConfig::new(c).init(device),
            stages,
            reductions,
            head_bn: BatchNormConfig::new(last).init(device),
            hidden,
            classifier,
            features_hidden,
            features_classifier,
            entry,
        })
    }
}

impl<B: Backend> Classifier<B> for CellNet<B> {
    fn accepts(&self, shape: &InputShape) -> bool {
        let pooled = self.head_bn.gamma.val().dims()[0];
        let head_in = match &self.hidden {
            Some(hidden) => hidden.weight.val().dims()[0],
            None => self.classifier.weight.val().dims()[0],
        };
        let (stem_in, joined) = self.entry.widths(shape, pooled);
        let own_head = match (&self.features_hidden, &self.features_classifier) {
            (Some(hidden), Some(_)) => hidden.weight.val().dims()[0] == shape.n_features,
            (None, Some(classifier)) => classifier.weight.val().dims()[0] == shape.n_features,
            // Built without features (or not `Logits`).
            _ => self.entry != FeatureEntry::Logits || shape.n_features == 0,
        };
        shape.length > 0
            && shape.channels > 0
            && self.stem.weight.val().dims()[1] == stem_in
            && head_in == joined
            && own_head
            && self.classifier.weight.val().dims()[1] == shape.n_classes
    }

    fn forward(&self, signals: Tensor<B, 3>, features: Tensor<B, 2>) -> Tensor<B, 2> {
        let n_features = features.dims()[1];
        let signals = self.entry.stem_input(signals, &features);
        let mut x = batch_norm(&self.stem_bn, self.stem.forward(signals));
        for (s, cells) in self.stages.iter().enumerate() {
            if s > 0 {
                x = self.reductions[s - 1].forward(x);
            }
            for cell in cells {
                x = cell.forward(x);
            }
        }
        let x = relu(batch_norm(&self.head_bn, x));
        let [b, c, _] = x.dims();
        let pooled = x.mean_dim(2).reshape([b, c]);
        let joined = if n_features > 0 && self.entry != FeatureEntry::Logits {
            Tensor::cat(vec![pooled, features.clone()], 1)
        } else {
            pooled
        };
        let logits = match &self.hidden {
            Some(hidden) => self.classifier.forward(relu(hidden.forward(joined))),
            None => self.classifier.forward(joined),
        };
        match (&self.features_hidden, &self.features_classifier) {
            (Some(hidden), Some(classifier)) => {
                logits + classifier.forward(relu(hidden.forward(features)))
            }
            (None, Some(classifier)) => logits + classifier.forward(features),
            _ => logits,
        }
    }

    fn layers(&self, shape: &InputShape) -> Result<LayerGraph, TrainError> {
        check_accepts(self, shape)?;
        let mut g = LayerGraph::new(*shape);
        let x = self.entry.lower_stem_input(&mut g)?;
        let x = g.burn_conv1d(&self.stem, x)?;
        let mut x = g.burn_batch_norm(&self.stem_bn, x)?;
        for (s, cells) in self.stages.iter().enumerate() {
            if s > 0 {
                x = self.reductions[s - 1].lower(&mut g, x)?;
            }
            for cell in cells {
                x = cell.lower(&mut g, x)?;
            }
        }
        let x = g.burn_batch_norm(&self.head_bn, x)?;
        let x = g.relu(x)?;
        let pooled = g.mean_length(x)?;
        let joined = if shape.n_features > 0 && self.entry != FeatureEntry::Logits {
            g.concat(pooled, LayerGraph::FEATURES)?
        } else {
            pooled
        };
        let mut logits = match &self.hidden {
            Some(hidden) => {
                let h = g.burn_linear(hidden, joined)?;
                let h = g.relu(h)?;
                g.burn_linear(&self.classifier, h)?
            }
            None => g.burn_linear(&self.classifier, joined)?,
        };
        let own = match (&self.features_hidden, &self.features_classifier) {
            (Some(hidden), Some(classifier)) => {
                let h = g.burn_linear(hidden, LayerGraph::FEATURES)?;
                let h = g.relu(h)?;
                Some(g.burn_linear(classifier, h)?)
            }
            (None, Some(classifier)) => Some(g.burn_linear(classifier, LayerGraph::FEATURES)?),
            _ => None,
        };
        if let Some(own) = own {
            logits = g.add(logits, own)?;
        }
        g.set_output(logits)?;
        Ok(g)
    }
}
