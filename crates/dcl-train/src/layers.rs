//! A network as a small graph of layers, the form the native CPU engine ([`crate::NativeNet`])
//! trains. A burn network lowers itself to it ([`crate::Classifier::layers`]); the trained
//! weights go back into the burn module by parameter id ([`write_back`]).
//!
//! Values are numbered: `0` is the signals `[batch, channels, length]`, `1` the extra
//! features `[batch, n_features]`, and layer `i` writes value `i + 2`. A value is a *map*
//! (`channels` × `length` per sample) or a *vector* (`width` per sample).
//!
//! ```
//! use dcl_train::{InputShape, LayerGraph};
//! let shape = InputShape { length: 32, channels: 1, n_features: 2, n_classes: 3 };
//! let mut g = LayerGraph::new(shape);
//! let w = g.weight(None, vec![8, 1, 3], vec![0.1; 24]);
//! let b = g.weight(None, vec![8], vec![0.0; 8]);
//! let x = g.conv1d(LayerGraph::SIGNALS, w, Some(b), 1, 1)?;
//! let x = g.relu(x)?;
//! let x = g.mean_length(x)?;
//! let x = g.concat(x, LayerGraph::FEATURES)?;
//! let w = g.weight(None, vec![10, 3], vec![0.1; 30]);
//! let logits = g.linear(x, w, None)?;
//! g.set_output(logits)?;
//! assert_eq!(g.layers().len(), 5);
//! # Ok::<(), dcl_train::TrainError>(())
//! ```

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId, RunningState};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::TrainError;
use crate::net::InputShape;

/// A value of the graph, by number (see the module docs).
pub type Value = usize;

/// A weight of the graph, by number.
pub type WeightIndex = usize;

/// The per-sample shape of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueShape {
    /// `channels` × `length`.
    Map {
        /// Channels.
        channels: usize,
        /// Samples per channel.
        length: usize,
    },
    /// `width` scalars.
    Vector {
        /// Width.
        width: usize,
    },
}

impl ValueShape {
    /// Scalars per sample.
    pub fn size(self) -> usize {
        match self {
            Self::Map { channels, length } => channels * length,
            Self::Vector { width } => width,
        }
    }
}

/// A tensor the graph holds: a trainable parameter or a batch-norm running statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// The burn parameter it came from and goes back to ([`write_back`]); `None` for a graph
    /// built by hand.
    pub id: Option<ParamId>,
    /// Its shape, as burn's tensor has it.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
    /// Whether the optimiser trains it (running statistics are updated by the forward pass).
    pub trainable: bool,
}

/// One layer: what it computes and from which values. Serialises as an object with its kind
/// in snake case (`{"kind": "conv1d", "input": 0, ...}`), the form a mirror in another
/// framework reads (`benches/train_torch.py`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layer {
    /// 1-D convolution of a map: weight `[c_out, c_in, kernel]`, optional bias `[c_out]`,
    /// zero padding of `padding` samples on both sides.
    Conv1d {
        /// Input value.
        input: Value,
        /// Weight.
        weight: WeightIndex,
        /// Bias.
        bias: Option<WeightIndex>,
        /// Stride.
        stride: usize,
        /// Padding on each side.
        padding: usize,
    },
    /// Batch norm over a map's batch and length, per channel (burn's `BatchNorm`).
    BatchNorm {
        /// Input value.
        input: Value,
        /// Scale `[channels]`.
        gamma: WeightIndex,
        /// Shift `[channels]`.
        beta: WeightIndex,
        /// Running mean `[channels]` (not trainable).
        running_mean: WeightIndex,
        /// Running (biased) variance `[channels]` (not trainable).
        running_var: WeightIndex,
        /// Added to the variance.
        epsilon: f32,
        /// Weight of a batch's statistics in the running ones.
        momentum: f32,
    },
    /// `max(x, 0)`.
    Relu {
        /// Input value.
        input: Value,
    },
    /// Average pooling of a map, zero padding not counted (burn's `count_include_pad = false`).
    AvgPool1d {
        /// Input value.
        input: Value,
        /// Window.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Padding on each side.
        padding: usize,
    },
    /// Max pooling of a map, without padding.
    MaxPool1d {
        /// Input value.
        input: Value,
        /// Window.
        kernel: usize,
        /// Stride.
        stride: usize,
    },
    /// `x W + b` of a vector, weight `[d_in, d_out]` as burn's `Linear`.
    Linear {
        /// Input value.
        input: Value,
        /// Weight.
        weight: WeightIndex,
        /// Bias `[d_out]`.
        bias: Option<WeightIndex>,
    },
    /// Element-wise sum of two values of one shape.
    Add {
        /// First input.
        a: Value,
        /// Second input.
        b: Value,
    },
    /// Two maps of one length stacked along channels, or two vectors joined.
    Concat {
        /// First input (first channels or entries).
        a: Value,
        /// Second input.
        b: Value,
    },
    /// A vector repeated along `length`: a map of `width` constant channels.
    Expand {
        /// Input value (a vector).
        input: Value,
        /// Length of the map.
        length: usize,
    },
    /// A map read as a vector, channel after channel.
    Flatten {
        /// Input value.
        input: Value,
    },
    /// A map's mean over its length: a vector of its channels.
    MeanLength {
        /// Input value.
        input: Value,
    },
    /// Zeros of the input's shape (a cell whose output no edge reaches).
    Zeros {
        /// The value whose shape it takes.
        like: Value,
    },
}

impl Layer {
    /// The values it reads.
    pub fn inputs(&self) -> Vec<Value> {
        match *self {
            Self::Conv1d { input, .. }
            | Self::BatchNorm { input, .. }
            | Self::Relu { input }
            | Self::AvgPool1d { input, .. }
            | Self::MaxPool1d { input, .. }
            | Self::Linear { input, .. }
            | Self::Expand { input, .. }
            | Self::Flatten { input }
            | Self::MeanLength { input } => vec![input],
            Self::Add { a, b } | Self::Concat { a, b } => vec![a, b],
            Self::Zeros { .. } => Vec::new(),
        }
    }
}

/// A network as layers over numbered values, with its weights (see the module docs). Every
/// builder method checks shapes and returns the new value.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerGraph {
    input: InputShape,
    weights: Vec<Weight>,
    layers: Vec<Layer>,
    shapes: Vec<ValueShape>,
    output: Option<Value>,
}

impl LayerGraph {
    /// The signals.
    pub const SIGNALS: Value = 0;
    /// The extra features.
    pub const FEATURES: Value = 1;

    /// An empty graph over samples of `input`.
    pub fn new(input: InputShape) -> Self {
        Self {
            input,
            weights: Vec::new(),
            layers: Vec::new(),
            shapes: vec![
                ValueShape::Map {
                    channels: input.channels,
                    length: input.length,
                },
                ValueShape::Vector {
                    width: input.n_features,
                },
            ],
            output: None,
        }
    }

    /// The samples it takes.
    pub fn input(&self) -> InputShape {
        self.input
    }

    /// Its weights.
    pub fn weights(&self) -> &[Weight] {
        &self.weights
    }

    /// Its weights, to change.
    pub fn weights_mut(&mut self) -> &mut [Weight] {
        &mut self.weights
    }

    /// Its layers, in the order they run.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The shape of `value`.
    pub fn shape(&self, value: Value) -> Option<ValueShape> {
        self.shapes.get(value).copied()
    }

    /// The logits (once [`set_output`](Self::set_output) named them).
    pub fn output(&self) -> Option<Value> {
        self.output
    }

    /// Adds a trainable weight.
    pub fn weight(
        &mut self,
        id: Option<ParamId>,
        shape: Vec<usize>,
        values: Vec<f32>,
    ) -> WeightIndex {
        self.push_weight(id, shape, values, true)
    }

    /// Adds a running statistic (updated by training passes, not by the optimiser).
    pub fn state(
        &mut self,
        id: Option<ParamId>,
        shape: Vec<usize>,
        values: Vec<f32>,
    ) -> WeightIndex {
        self.push_weight(id, shape, values, false)
    }

    fn push_weight(
        &mut self,
        id: Option<ParamId>,
        shape: Vec<usize>,
        values: Vec<f32>,
        trainable: bool,
    ) -> WeightIndex {
        self.weights.push(Weight {
            id,
            shape,
            values,
            trainable,
        });
        self.weights.len() - 1
    }

    /// Names the logits: a vector of `n_classes`.
    pub fn set_output(&mut self, value: Value) -> Result<(), TrainError> {
        match self.shape(value) {
            Some(ValueShape::Vector { width }) if width == self.input.n_classes => {
                self.output = Some(value);
                Ok(())
            }
            other => Err(bad(format!(
                "the output must be a vector of {} logits, value {value} is {other:?}",
                self.input.n_classes
            ))),
        }
    }

    fn map(&self, value: Value) -> Result<(usize, usize), TrainError> {
        match self.shape(value) {
            Some(ValueShape::Map { channels, length }) => Ok((channels, length)),
            other => Err(bad(format!("value {value} is {other:?}, not a map"))),
        }
    }

    fn vector(&self, value: Value) -> Result<usize, TrainError> {
        match self.shape(value) {
            Some(ValueShape::Vector { width }) => Ok(width),
            other => Err(bad(format!("value {value} is {other:?}, not a vector"))),
        }
    }

    fn weight_shape(&self, w: WeightIndex, trainable: bool) -> Result<&[usize], TrainError> {
        match self.weights.get(w) {
            Some(weight) if weight.trainable == trainable => {
                if weight.values.len() != weight.shape.iter().product::<usize>() {
                    return Err(bad(format!(
                        "weight {w} holds {} values for {:?}",
                        weight.values.len(),
                        weight.shape
                    )));
                }
                Ok(&weight.shape)
            }
            _ => Err(bad(format!(
                "no {} weight {w}",
                if trainable { "trainable" } else { "state" }
            ))),
        }
    }

    fn push(&mut self, layer: Layer, shape: ValueShape) -> Value {
        self.layers.push(layer);
        self.shapes.push(shape);
        self.shapes.len() - 1
    }

    /// A 1-D convolution (see [`Layer::Conv1d`]).
    pub fn conv1d(
        &mut self,
        input: Value,
        weight: WeightIndex,
        bias: Option<WeightIndex>,
        stride: usize,
        padding: usize,
    ) -> Result<Value, TrainError> {
        let (c_in, length) = self.map(input)?;
        let ws = self.weight_shape(weight, true)?.to_vec();
        let [c_out, wc_in, kernel] = ws[..] else {
            return Err(bad(format!("conv weight of shape {ws:?}")));
        };
        if wc_in != c_in || kernel == 0 || stride == 0 || length + 2 * padding < kernel {
            return Err(bad(format!(
                "conv weight {ws:?}, stride {stride}, padding {padding} on {c_in} channels of {length}"
            )));
        }
        if let Some(b) = bias
            && self.weight_shape(b, true)? != [c_out]
        {
            return Err(bad(format!("conv bias {b} is not [{c_out}]")));
        }
        let out = ValueShape::Map {
            channels: c_out,
            length: (length + 2 * padding - kernel) / stride + 1,
        };
        Ok(self.push(
            Layer::Conv1d {
                input,
                weight,
                bias,
                stride,
                padding,
            },
            out,
        ))
    }

    /// Batch norm (see [`Layer::BatchNorm`]).
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &mut self,
        input: Value,
        gamma: WeightIndex,
        beta: WeightIndex,
        running_mean: WeightIndex,
        running_var: WeightIndex,
        epsilon: f32,
        momentum: f32,
    ) -> Result<Value, TrainError> {
        let (channels, length) = self.map(input)?;
        let c = [channels];
        if self.weight_shape(gamma, true)? != c
            || self.weight_shape(beta, true)? != c
            || self.weight_shape(running_mean, false)? != c
            || self.weight_shape(running_var, false)? != c
            || !(epsilon > 0.0 && epsilon.is_finite())
            || !(0.0..=1.0).contains(&momentum)
        {
            return Err(bad(format!(
                "batch norm over {channels} channels, epsilon {epsilon}, momentum {momentum}"
            )));
        }
        Ok(self.push(
            Layer::BatchNorm {
                input,
                gamma,
                beta,
                running_mean,
                running_var,
                epsilon,
                momentum,
            },
            ValueShape::Map { channels, length },
        ))
    }

    /// ReLU.
    pub fn relu(&mut self, input: Value) -> Result<Value, TrainError> {
        let shape = self
            .shape(input)
            .ok_or_else(|| bad(format!("no value {input}")))?;
        Ok(self.push(Layer::Relu { input }, shape))
    }

    /// Average pooling (see [`Layer::AvgPool1d`]).
    pub fn avg_pool1d(
        &mut self,
        input: Value,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Value, TrainError> {
        let (channels, length) = self.map(input)?;
        if kernel == 0 || stride == 0 || 2 * padding > kernel || length + 2 * padding < kernel {
            return Err(bad(format!(
                "average pool {kernel}/{stride}/{padding} of length {length}"
            )));
        }
        let length = (length + 2 * padding - kernel) / stride + 1;
        Ok(self.push(
            Layer::AvgPool1d {
                input,
                kernel,
                stride,
                padding,
            },
            ValueShape::Map { channels, length },
        ))
    }

    /// Max pooling (see [`Layer::MaxPool1d`]).
    pub fn max_pool1d(
        &mut self,
        input: Value,
        kernel: usize,
        stride: usize,
    ) -> Result<Value, TrainError> {
        let (channels, length) = self.map(input)?;
        if kernel == 0 || stride == 0 || length < kernel {
            return Err(bad(format!(
                "max pool {kernel}/{stride} of length {length}"
            )));
        }
        let length = (length - kernel) / stride + 1;
        Ok(self.push(
            Layer::MaxPool1d {
                input,
                kernel,
                stride,
            },
            ValueShape::Map { channels, length },
        ))
    }

    /// A linear layer (see [`Layer::Linear`]).
    pub fn linear(
        &mut self,
        input: Value,
        weight: WeightIndex,
        bias: Option<WeightIndex>,
    ) -> Result<Value, TrainError> {
        let d_in = self.vector(input)?;
        let ws = self.weight_shape(weight, true)?.to_vec();
        let [wd_in, d_out] = ws[..] else {
            return Err(bad(format!("linear weight of shape {ws:?}")));
        };
        if wd_in != d_in {
            return Err(bad(format!("linear weight {ws:?} on a vector of {d_in}")));
        }
        if let Some(b) = bias
            && self.weight_shape(b, true)? != [d_out]
        {
            return Err(bad(format!("linear bias {b} is not [{d_out}]")));
        }
        Ok(self.push(
            Layer::Linear {
                input,
                weight,
                bias,
            },
            ValueShape::Vector { width: d_out },
        ))
    }

    /// Element-wise sum.
    pub fn add(&mut self, a: Value, b: Value) -> Result<Value, TrainError> {
        match (self.shape(a), self.shape(b)) {
            (Some(sa), Some(sb)) if sa == sb => Ok(self.push(Layer::Add { a, b }, sa)),
            (sa, sb) => Err(bad(format!("adding {sa:?} to {sb:?}"))),
        }
    }

    /// Concatenation (see [`Layer::Concat`]).
    pub fn concat(&mut self, a: Value, b: Value) -> Result<Value, TrainError> {
        let shape = match (self.shape(a), self.shape(b)) {
            (Some(ValueShape::Vector { width: wa }), Some(ValueShape::Vector { width: wb })) => {
                ValueShape::Vector { width: wa + wb }
            }
            (
                Some(ValueShape::Map {
                    channels: ca,
                    length: la,
                }),
                Some(ValueShape::Map {
                    channels: cb,
                    length: lb,
                }),
            ) if la == lb => ValueShape::Map {
                channels: ca + cb,
                length: la,
            },
            (sa, sb) => return Err(bad(format!("concatenating {sa:?} and {sb:?}"))),
        };
        Ok(self.push(Layer::Concat { a, b }, shape))
    }

    /// A vector repeated along `length` (see [`Layer::Expand`]).
    pub fn expand(&mut self, input: Value, length: usize) -> Result<Value, TrainError> {
        let channels = self.vector(input)?;
        if length == 0 {
            return Err(bad("expanding to length 0".into()));
        }
        Ok(self.push(
            Layer::Expand { input, length },
            ValueShape::Map { channels, length },
        ))
    }

    /// A map read as a vector.
    pub fn flatten(&mut self, input: Value) -> Result<Value, TrainError> {
        let (channels, length) = self.map(input)?;
        Ok(self.push(
            Layer::Flatten { input },
            ValueShape::Vector {
                width: channels * length,
            },
        ))
    }

    /// A map's mean over its length.
    pub fn mean_length(&mut self, input: Value) -> Result<Value, TrainError> {
        let (channels, _) = self.map(input)?;
        Ok(self.push(
            Layer::MeanLength { input },
            ValueShape::Vector { width: channels },
        ))
    }

    /// Zeros of `like`'s shape.
    pub fn zeros(&mut self, like: Value) -> Result<Value, TrainError> {
        let shape = self
            .shape(like)
            .ok_or_else(|| bad(format!("no value {like}")))?;
        Ok(self.push(Layer::Zeros { like }, shape))
    }

    /// A burn parameter as a trainable weight of the graph.
    pub fn param<B: Backend, const D: usize>(
        &mut self,
        param: &Param<Tensor<B, D>>,
    ) -> WeightIndex {
        let (shape, values) = tensor_values(&param.val());
        self.weight(Some(param.id), shape, values)
    }

    /// A burn running statistic as a state of the graph.
    pub fn running<B: Backend, const D: usize>(
        &mut self,
        state: &RunningState<Tensor<B, D>>,
    ) -> WeightIndex {
        let mut grab = GrabId(None);
        state.visit(&mut grab);
        let id = grab.0.expect("a running state visits its one tensor");
        // Synchronised: the updates of burn's training passes, from every thread.
        let (shape, values) = tensor_values(&state.value_sync());
        self.state(Some(id), shape, values)
    }

    /// Adds a burn `Conv1d` reading `input`; an error for a convolution the layer graph cannot
    /// express (dilation, groups, or asymmetric padding).
    pub fn burn_conv1d<B: Backend>(
        &mut self,
        conv: &burn::nn::conv::Conv1d<B>,
        input: Value,
    ) -> Result<Value, TrainError> {
        use burn::nn::PaddingConfig1d;
        let padding = match conv.padding {
            _ if conv.dilation != 1 || conv.groups != 1 => None,
            PaddingConfig1d::Valid => Some(0),
            PaddingConfig1d::Explicit(a, b) if a == b => Some(a),
            _ => None,
        };
        let Some(padding) = padding else {
            return Err(TrainError::Config(
                "a convolution with dilation, groups or asymmetric padding".into(),
            ));
        };
        let weight = self.param(&conv.weight);
        let bias = conv.bias.as_ref().map(|b| self.param(b));
        self.conv1d(input, weight, bias, conv.stride, padding)
    }

    /// Adds a burn `BatchNorm` reading `input`.
    pub fn burn_batch_norm<B: Backend>(
        &mut self,
        bn: &burn::nn::BatchNorm<B>,
        input: Value,
    ) -> Result<Value, TrainError> {
        let gamma = self.param(&bn.gamma);
        let beta = self.param(&bn.beta);
        let mean = self.running(&bn.running_mean);
        let var = self.running(&bn.running_var);
        self.batch_norm(
            input,
            gamma,
            beta,
            mean,
            var,
            bn.epsilon as f32,
            bn.momentum as f32,
        )
    }

    /// Adds a burn `Linear` reading `input`.
    pub fn burn_linear<B: Backend>(
        &mut self,
        linear: &burn::nn::Linear<B>,
        input: Value,
    ) -> Result<Value, TrainError> {
        let weight = self.param(&linear.weight);
        let bias = linear.bias.as_ref().map(|b| self.param(b));
        self.linear(input, weight, bias)
    }
}

fn bad(message: String) -> TrainError {
    TrainError::Config(format!("layer graph: {message}"))
}

fn tensor_values<B: Backend, const D: usize>(tensor: &Tensor<B, D>) -> (Vec<usize>, Vec<f32>) {
    let data = tensor.to_data().convert::<f32>();
    let shape = data.shape.to_vec();
    let values = data.to_vec::<f32>().expect("converted to f32 above");
    (shape, values)
}

/// The id of the one tensor a running state visits (its id field is private).
struct GrabId(Option<ParamId>);

impl<B: Backend> ModuleVisitor<B> for GrabId {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0 = Some(param.id);
    }
}

/// Writes `weights` (from a [`LayerGraph`] lowered from `module`, trained since) back into
/// `module` by parameter id: parameters and running statistics alike. Fails unless every
/// weight with an id found its tensor, of the same shape.
pub fn write_back<B: Backend, M: Module<B>>(
    module: M,
    weights: &[Weight],
) -> Result<M, TrainError> {
    let mut mapper = WriteBack::<B> {
        values: weights
            .iter()
            .filter_map(|w| w.id.map(|id| (id, (w.shape.clone(), w.values.clone()))))
            .collect(),
        written: 0,
        wrong_shape: None,
        backend: std::marker::PhantomData,
    };
    let expected = mapper.values.len();
    let module = module.map(&mut mapper);
    if let Some(message) = mapper.wrong_shape {
        return Err(bad(message));
    }
    if mapper.written != expected {
        return Err(bad(format!(
            "{} of {expected} weights found their burn parameter",
            mapper.written
        )));
    }
    Ok(module)
}

struct WriteBack<B> {
    values: HashMap<ParamId, (Vec<usize>, Vec<f32>)>,
    written: usize,
    wrong_shape: Option<String>,
    backend: std::marker::PhantomData<B>,
}

impl<B: Backend> ModuleMapper<B> for WriteBack<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some((shape, values)) = self.values.remove(&id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        if shape != tensor.dims() {
            self.wrong_shape = Some(format!("weight {shape:?} for a tensor {:?}", tensor.dims()));
            return Param::from_mapped_value(id, tensor, mapper);
        }
        self.written += 1;
        let new = Tensor::from_data(TensorData::new(values, shape), &tensor.device());
        Param::from_mapped_value(id, new, mapper)
    }
}
