//! [`ResNet1d`]: a plain residual 1-D CNN with a flattening head, the shape of many
//! hand-designed signal classifiers, to stand beside the searched [`crate::CellNet`]s as a
//! baseline.

use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv1d;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::max_pool1d;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::layers::{LayerGraph, Value};
use crate::net::{
    Classifier, FeatureEntry, InputShape, check_accepts, seeded_conv1d, seeded_linear,
};

/// The sizes of a [`ResNet1d`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResNetConfig {
    /// Filters of every convolution.
    pub filters: usize,
    /// Residual blocks.
    pub blocks: usize,
    /// Width of every convolution (odd: the convolutions are same-padded).
    pub kernel: usize,
    /// Width of each block's max-pooling (stride 2).
    pub pool: usize,
    /// Fully-connected ReLU layers between the flattened maps and the classifier.
    pub hidden_layers: usize,
    /// Units of each of them.
    pub hidden: usize,
}

impl ResNetConfig {
    /// Typed error for sizes that build no network: no filters or blocks, an even kernel, a
    /// pooling narrower than 1, hidden layers of no units, or sizes past 4,096 filters,
    /// 16 blocks, kernels or poolings of 64, 8 hidden layers, 65,536 hidden units.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.filters == 0
            || self.blocks == 0
            || self.kernel.is_multiple_of(2)
            || self.pool == 0
            || (self.hidden_layers > 0 && self.hidden == 0)
            || self.filters > 4096
            || self.blocks > 16
            || self.kernel > 63
            || self.pool > 64
            || self.hidden_layers > 8
            || self.hidden > 65_536
        {
            return Err(TrainError::Config(format!(
                "{self:?}: filters, blocks and pool must be positive, the kernel odd, hidden \
                 positive with hidden layers; at most 4096 filters, 16 blocks, kernel 63, \
                 pool 64, 8 hidden layers of 65536"
            )));
        }
        Ok(())
    }

    /// Samples per channel left after the blocks' poolings; `None` when a signal of `length`
    /// is too short for them.
    pub fn pooled_length(&self, length: usize) -> Option<usize> {
        (0..self.blocks).try_fold(length, |len, _| {
            (len >= self.pool).then(|| (len - self.pool) / 2 + 1)
        })
    }
}

/// One residual block of a [`ResNet1d`]: conv, ReLU, conv, add the input, ReLU, max-pool
/// (stride 2).
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    conv1: Conv1d<B>,
    conv2: Conv1d<B>,
    #[module(skip)]
    pool: usize,
}

impl<B: Backend> ResBlock<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let y = self.conv2.forward(relu(self.conv1.forward(x.clone())));
        max_pool1d(relu(y + x), self.pool, 2, 0, 1, false)
    }

    fn lower(&self, g: &mut LayerGraph, x: Value) -> Result<Value, TrainError> {
        let y = g.burn_conv1d(&self.conv1, x)?;
        let y = g.relu(y)?;
        let y = g.burn_conv1d(&self.conv2, y)?;
        let y = g.add(y, x)?;
        let y = g.relu(y)?;
        g.max_pool1d(y, self.pool, 2)
    }
}

/// A plain residual 1-D CNN ([`ResNetConfig`]): a convolution to `filters` channels,
/// `blocks` residual blocks ([`ResBlock`]), the maps flattened, `hidden_layers`
/// fully-connected ReLU layers and the classifier. The extra features enter where a
/// [`FeatureEntry`] says, as in [`crate::CellNet`]: `Head` joins them to the flattened maps;
/// `Stem` also feeds them to the first convolution as constant input channels; `Logits` gives
/// them a head of their own (one hidden ReLU layer of `hidden` units when the network has
/// hidden layers, and a linear classifier) whose logits are added to the signal's.
///
/// Its weights are drawn from the seed alone, in the order of the layers (the features' own
/// head last), so that the same seed gives the same network whatever the entry.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use dcl_train::{Classifier, FeatureEntry, InputShape, ResNet1d, ResNetConfig};
/// let config = ResNetConfig { filters: 8, blocks: 3, kernel: 5, pool: 5, hidden_layers: 2, hidden: 16 };
/// let shape = InputShape { length: 128, channels: 1, n_features: 4, n_classes: 4 };
/// let device = Default::default();
/// for entry in FeatureEntry::ALL {
///     let net = ResNet1d::<NdArray>::new(&config, shape, entry, 0, &device).unwrap();
///     assert!(net.accepts(&shape));
///     let logits = net.forward(Tensor::zeros([2, 1, 128], &device), Tensor::zeros([2, 4], &device));
///     assert_eq!(logits.dims(), [2, 4]);
/// }
/// ```
#[derive(Module, Debug)]
pub struct ResNet1d<B: Backend> {
    stem: Conv1d<B>,
    blocks: Vec<ResBlock<B>>,
    hidden: Vec<Linear<B>>,
    out: Linear<B>,
    /// [`FeatureEntry::Logits`]' hidden layer (with at least one feature and hidden layer).
    features_hidden: Option<Linear<B>>,
    /// [`FeatureEntry::Logits`]' classifier (with at least one feature).
    features_out: Option<Linear<B>>,
    #[module(skip)]
    config: ResNetConfig,
    #[module(skip)]
    entry: FeatureEntry,
}

impl<B: Backend> ResNet1d<B> {
    /// Builds the network for samples of `shape`, the extra features entering at `entry`, its
    /// initial weights drawn from `seed`. Fails on a configuration [`ResNetConfig::validate`]
    /// refuses, a signal too short for the poolings, no channels or fewer than two classes.
    pub fn new(
        config: &ResNetConfig,
        shape: InputShape,
        entry: FeatureEntry,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let Some(len) = config.pooled_length(shape.length) else {
            return Err(TrainError::Config(format!(
                "a signal of {} samples is too short for {} poolings of width {}",
                shape.length, config.blocks, config.pool
            )));
        };
        if shape.channels == 0 || shape.n_classes < 2 {
            return Err(TrainError::Config(format!("input shape {shape:?}")));
        }
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
        let (f, k) = (config.filters, config.kernel);
        let (stem_in, flat_in) = entry.widths(&shape, f * len);
        let stem = seeded_conv1d(stem_in, f, k, 1, &mut rng, device);
        let blocks = (0..config.blocks)
            .map(|_| ResBlock {
                conv1: seeded_conv1d(f, f, k, 1, &mut rng, device),
                conv2: seeded_conv1d(f, f, k, 1, &mut rng, device),
                pool: config.pool,
            })
            .collect();
        let mut width = flat_in;
        let hidden = (0..config.hidden_layers)
            .map(|_| {
                let layer = seeded_linear(width, config.hidden, &mut rng, device);
                width = config.hidden;
                layer
            })
            .collect();
        let out = seeded_linear(width, shape.n_classes, &mut rng, device);
        let own_head = entry == FeatureEntry::Logits && shape.n_features > 0;
        let (features_hidden, features_out) = match (own_head, config.hidden_layers > 0) {
            (false, _) => (None, None),
            (true, true) => {
                let h = seeded_linear(shape.n_features, config.hidden, &mut rng, device);
                let o = seeded_linear(config.hidden, shape.n_classes, &mut rng, device);
                (Some(h), Some(o))
            }
            (true, false) => (
                None,
                Some(seeded_linear(
                    shape.n_features,
                    shape.n_classes,
                    &mut rng,
                    device,
                )),
            ),
        };
        Ok(Self {
            stem,
            blocks,
            hidden,
            out,
            features_hidden,
            features_out,
            config: *config,
            entry,
        })
    }

    /// Where the extra features enter.
    pub fn entry(&self) -> FeatureEntry {
        self.entry
    }

    /// The sizes it was built with.
    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }
}

impl<B: Backend> Classifier<B> for ResNet1d<B> {
    fn accepts(&self, shape: &InputShape) -> bool {
        self.config.pooled_length(shape.length).is_some_and(|len| {
            let (stem_in, flat_in) = self.entry.widths(shape, self.config.filters * len);
            let first_in = match self.hidden.first() {
                Some(layer) => layer.weight.val().dims()[0],
                None => self.out.weight.val().dims()[0],
            };
            let own_head = match &self.features_out {
                Some(out) => match &self.features_hidden {
                    Some(hidden) => hidden.weight.val().dims()[0] == shape.n_features,
                    None => out.weight.val().dims()[0] == shape.n_features,
                },
                None => self.entry != FeatureEntry::Logits || shape.n_features == 0,
            };
            self.stem.weight.val().dims()[1] == stem_in
                && first_in == flat_in
                && own_head
                && self.out.weight.val().dims()[1] == shape.n_classes
        })
    }

    fn forward(&self, signals: Tensor<B, 3>, features: Tensor<B, 2>) -> Tensor<B, 2> {
        let n_features = features.dims()[1];
        let signals = self.entry.stem_input(signals, &features);
        let mut x = self.stem.forward(signals);
        for block in &self.blocks {
            x = block.forward(x);
        }
        let [b, c, l] = x.dims();
        let flat = x.reshape([b, c * l]);
        let mut h = if n_features > 0 && self.entry != FeatureEntry::Logits {
            Tensor::cat(vec![flat, features.clone()], 1)
        } else {
            flat
        };
        for layer in &self.hidden {
            h = relu(layer.forward(h));
        }
        let logits = self.out.forward(h);
        match (&self.features_hidden, &self.features_out) {
            (Some(hidden), Some(out)) => logits + out.forward(relu(hidden.forward(features))),
            (None, Some(out)) => logits + out.forward(features),
            _ => logits,
        }
    }

    fn layers(&self, shape: &InputShape) -> Result<LayerGraph, TrainError> {
        check_accepts(self, shape)?;
        let mut g = LayerGraph::new(*shape);
        let x = self.entry.lower_stem_input(&mut g)?;
        let mut x = g.burn_conv1d(&self.stem, x)?;
        for block in &self.blocks {
            x = block.lower(&mut g, x)?;
        }
        let flat = g.flatten(x)?;
        let mut h = if shape.n_features > 0 && self.entry != FeatureEntry::Logits {
            g.concat(flat, LayerGraph::FEATURES)?
        } else {
            flat
        };
        for layer in &self.hidden {
            h = g.burn_linear(layer, h)?;
            h = g.relu(h)?;
        }
        let mut logits = g.burn_linear(&self.out, h)?;
        let own = match (&self.features_hidden, &self.features_out) {
            (Some(hidden), Some(out)) => {
                let h = g.burn_linear(hidden, LayerGraph::FEATURES)?;
                let h = g.relu(h)?;
                Some(g.burn_linear(out, h)?)
            }
            (None, Some(out)) => Some(g.burn_linear(out, LayerGraph::FEATURES)?),
            _ => None,
        };
        if let Some(own) = own {
            logits = g.add(logits, own)?;
        }
        g.set_output(logits)?;
        Ok(g)
    }
}
