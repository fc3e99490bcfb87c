//! The native CPU engine: trains a [`LayerGraph`] with its own forward and backward passes
//! (im2col and the `gemm` crate for convolutions and linear layers), holding the weights,
//! the optimiser's moments and the batch-norm statistics for a whole training run.

mod kernels;

use rayon::prelude::*;

use crate::TrainError;
use crate::layers::{Layer, LayerGraph, ValueShape, Weight};
use crate::train::OptimizerKind;
use kernels::{Conv, ConvScratch, Window, sgemm};

/// Values per piece of an element-wise loop run in parallel.
const ELEMENT_PIECE: usize = 1 << 14;

/// Optimiser state of one weight, as burn's optimisers keep it.
#[derive(Debug, Clone)]
enum Moments {
    /// Not stepped yet.
    None,
    /// Adam's first and second moments and its step count.
    Adam { m: Vec<f32>, v: Vec<f32>, time: i32 },
    /// SGD's velocity.
    Sgd { velocity: Vec<f32> },
}

/// What a layer keeps from its forward pass for its backward pass.
#[derive(Debug, Clone, Default)]
struct Saved {
    /// A convolution's input: channels-last ([`Lanes`]) for stride 1, unfolded otherwise.
    col: Vec<f32>,
    /// Batch norm's batch mean and `1 / sqrt(var + eps)`.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    /// Max pooling's chosen positions.
    arg: Vec<u32>,
}

/// A [`LayerGraph`] being trained on the CPU: weights, gradients, optimiser moments and
/// per-layer buffers, reused from step to step.
///
/// ```
/// use dcl_train::{InputShape, LayerGraph, NativeNet, OptimizerKind};
/// let shape = InputShape { length: 8, channels: 1, n_features: 0, n_classes: 2 };
/// let mut g = LayerGraph::new(shape);
/// let w = g.weight(None, vec![3, 1, 3], vec![0.3, -0.2, 0.1, 0.5, 0.4, -0.3, -0.1, 0.2, 0.6]);
/// let x = g.conv1d(LayerGraph::SIGNALS, w, None, 1, 1)?;
/// let x = g.mean_length(x)?;
/// let v = g.weight(None, vec![3, 2], vec![0.5, -0.5, -0.4, 0.4, 0.3, -0.2]);
/// let logits = g.linear(x, v, None)?;
/// g.set_output(logits)?;
/// let mut net = NativeNet::new(g)?;
/// let signals: Vec<f32> = (0..16).map(|i| (i as f32 * 0.7).sin()).collect();
/// let adam = OptimizerKind::Adam { lr: 0.05, weight_decay: 0.0 };
/// let first = net.train_step(&signals, &[], &[0, 1], &[1.0, 1.0], adam, 0.05)?;
/// let mut last = first;
/// for _ in 0..30 {
///     last = net.train_step(&signals, &[], &[0, 1], &[1.0, 1.0], adam, 0.05)?;
/// }
/// assert!(last < first);
/// # Ok::<(), dcl_train::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct NativeNet {
    graph: LayerGraph,
    grads: Vec<Vec<f32>>,
    touched: Vec<bool>,
    moments: Vec<Moments>,
    values: Vec<Vec<f32>>,
    dvalues: Vec<Vec<f32>>,
    flowing: Vec<bool>,
    saved: Vec<Saved>,
    scratch: ConvScratch,
    batch: usize,
}

impl NativeNet {
    /// Takes a graph with its output named. Fails on a graph without output.
    pub fn new(graph: LayerGraph) -> Result<Self, TrainError> {
        if graph.output().is_none() {
            return Err(TrainError::Config("layer graph: no output named".into()));
        }
        let n_values = graph.layers().len() + 2;
        let n_layers = graph.layers().len();
        Ok(Self {
            grads: graph
                .weights()
                .iter()
                .map(|w| vec![0.0; w.values.len()])
                .collect(),
            touched: vec![false; graph.weights().len()],
            moments: vec![Moments::None; graph.weights().len()],
            values: vec![Vec::new(); n_values],
            dvalues: vec![Vec::new(); n_values],
            flowing: vec![false; n_values],
            saved: vec![Saved::default(); n_layers],
            scratch: ConvScratch::default(),
            graph,
            batch: 0,
        })
    }

    /// The graph, with its current weights.
    pub fn graph(&self) -> &LayerGraph {
        &self.graph
    }

    /// Its weights (parameters and running statistics), as they are now.
    pub fn weights(&self) -> &[Weight] {
        self.graph.weights()
    }

    /// The weight gradients of the last [`backward`](Self::backward) (zeros for weights it
    /// did not reach).
    pub fn gradients(&self) -> &[Vec<f32>] {
        &self.grads
    }

    /// Which weights the last [`backward`](Self::backward) reached: those without a path to
    /// the logits (a cell's dead edges) keep a zero gradient, and the optimiser leaves them
    /// alone.
    pub fn touched(&self) -> &[bool] {
        &self.touched
    }

    fn check_batch(
        &self,
        signals: &[f32],
        features: &[f32],
        batch: usize,
    ) -> Result<(), TrainError> {
        let s = self.graph.input();
        if batch == 0
            || signals.len() != batch * s.channels * s.length
            || features.len() != batch * s.n_features
        {
            return Err(TrainError::Data(format!(
                "{} signal and {} feature values for a batch of {batch} samples of {s:?}",
                signals.len(),
                features.len()
            )));
        }
        Ok(())
    }

    /// The logits `[batch, n_classes]` of samples laid out as [`crate::SignalData`] lays them
    /// (`signals` `[batch, channels, length]`, `features` `[batch, n_features]`). `training`
    /// uses batch statistics in batch norm and updates its running statistics.
    pub fn forward(
        &mut self,
        signals: &[f32],
        features: &[f32],
        training: bool,
    ) -> Result<&[f32], TrainError> {
        let s = self.graph.input();
        let batch = signals
            .len()
            .checked_div(s.channels * s.length)
            .unwrap_or(0);
        self.check_batch(signals, features, batch)?;
        self.batch = batch;
        // Signals to channel-major.
        let x = &mut self.values[0];
        x.resize(batch * s.channels * s.length, 0.0);
        for b in 0..batch {
            for c in 0..s.channels {
                let src = &signals[(b * s.channels + c) * s.length..][..s.length];
                x[(c * batch + b) * s.length..][..s.length].copy_from_slice(src);
            }
        }
        self.values[1].clear();
        self.values[1].extend_from_slice(features);
        for i in 0..self.graph.layers().len() {
            self.forward_layer(i, training);
        }
        let out = self.graph.output().expect("checked in new");
        Ok(&self.values[out])
    }

    fn shape(&self, v: usize) -> ValueShape {
        self.graph.shape(v).expect("values of the graph")
    }

    /// The window of layer `i` over its input, for convolutions and pools.
    fn window(&self, i: usize) -> Option<Window> {
        let (input, kernel, stride, padding) = match self.graph.layers()[i] {
            Layer::Conv1d {
                input,
                weight,
                stride,
                padding,
                ..
            } => (
                input,
                self.graph.weights()[weight].shape[2],
                stride,
                padding,
            ),
            Layer::AvgPool1d {
                input,
                kernel,
                stride,
                padding,
            } => (input, kernel, stride, padding),
            Layer::MaxPool1d {
                input,
                kernel,
                stride,
            } => (input, kernel, stride, 0),
            _ => return None,
        };
        let (channels, length) = map_dims(self.graph.shape(input));
        Some(Window {
            channels,
            batch: self.batch,
            length,
            length_out: map_dims(self.graph.shape(i + 2)).1,
            kernel,
            stride,
            padding,
        })
    }

    fn forward_layer(&mut self, i: usize, training: bool) {
        let out = i + 2;
        let batch = self.batch;
        let size = batch * self.shape(out).size();
        let mut y = std::mem::take(&mut self.values[out]);
        y.resize(size, 0.0);
        let layer = self.graph.layers()[i].clone();
        let window = self.window(i);
        let saved = &mut self.saved[i];
        let values = &self.values;
        let weights = self.graph.weights();
        match layer {
            Layer::Conv1d {
                input,
                weight,
                bias,
                ..
            } => {
                let w = window.expect("a convolution has a window");
                let c_out = weights[weight].shape[0];
                let cols = batch * w.length_out;
                let conv = Conv {
                    window: w,
                    weights: &weights[weight].values,
                    c_out,
                };
                conv.forward(&values[input], &mut saved.col, &mut self.scratch, &mut y);
                if let Some(b) = bias {
                    let b = &weights[b].values;
                    y.par_chunks_mut(cols).enumerate().for_each(|(c, row)| {
                        row.iter_mut().for_each(|v| *v += b[c]);
                    });
                }
            }
            Layer::BatchNorm {
                input,
                gamma,
                beta,
                running_mean,
                running_var,
                epsilon,
                momentum,
            } => {
                let channels = weights[gamma].values.len();
                let n = size / channels;
                let x = &values[input];
                saved.mean.resize(channels, 0.0);
                saved.inv_std.resize(channels, 0.0);
                let mut var = vec![0.0; channels];
                if training {
                    kernels::channel_stats(x, n, &mut saved.mean, &mut var);
                } else {
                    saved.mean.copy_from_slice(&weights[running_mean].values);
                    var.copy_from_slice(&weights[running_var].values);
                }
                let gamma_v = &weights[gamma].values;
                let scale: Vec<f32> = (0..channels)
                    .map(|c| {
                        let is = (var[c] + epsilon).powf(-0.5);
                        saved.inv_std[c] = is;
                        gamma_v[c] * is
                    })
                    .collect();
                kernels::normalize(x, n, &saved.mean, &scale, &weights[beta].values, &mut y);
                if training {
                    let mean = saved.mean.clone();
                    let ws = self.graph.weights_mut();
                    for (r, batch_stat) in [(running_mean, &mean), (running_var, &var)] {
                        for (v, &s) in ws[r].values.iter_mut().zip(batch_stat.iter()) {
                            *v = *v * (1.0 - momentum) + s * momentum;
                        }
                    }
                }
            }
            Layer::Relu { input } => {
                y.par_chunks_mut(ELEMENT_PIECE)
                    .zip(values[input].par_chunks(ELEMENT_PIECE))
                    .for_each(|(o, a)| o.iter_mut().zip(a).for_each(|(o, &a)| *o = a.max(0.0)));
            }
            Layer::AvgPool1d { input, .. } => {
                let w = window.expect("a pool has a window");
                kernels::avg_pool(&values[input], &w, &mut y);
            }
            Layer::MaxPool1d { input, .. } => {
                let w = window.expect("a pool has a window");
                saved.arg.resize(size, 0);
                kernels::max_pool(&values[input], &w, &mut y, &mut saved.arg);
            }
            Layer::Linear {
                input,
                weight,
                bias,
            } => {
                let shape = &weights[weight].shape;
                let (d_in, d_out) = (shape[0], shape[1]);
                sgemm(
                    batch,
                    d_in,
                    d_out,
                    &values[input],
                    false,
                    &weights[weight].values,
                    false,
                    &mut y,
                    false,
                );
                if let Some(b) = bias {
                    let b = &weights[b].values;
                    for row in y.chunks_mut(d_out) {
                        row.iter_mut().zip(b).for_each(|(v, &c)| *v += c);
                    }
                }
            }
            Layer::Add { a, b } => {
                y.par_chunks_mut(ELEMENT_PIECE)
                    .zip(values[a].par_chunks(ELEMENT_PIECE))
                    .zip(values[b].par_chunks(ELEMENT_PIECE))
                    .for_each(|((o, p), q)| {
                        o.iter_mut()
                            .zip(p.iter().zip(q))
                            .for_each(|(o, (&p, &q))| *o = p + q)
                    });
            }
            Layer::Concat { a, b } => match (self.graph.shape(a), self.graph.shape(b)) {
                (
                    Some(ValueShape::Vector { width: wa }),
                    Some(ValueShape::Vector { width: wb }),
                ) => {
                    for r in 0..batch {
                        y[r * (wa + wb)..][..wa].copy_from_slice(&values[a][r * wa..][..wa]);
                        y[r * (wa + wb) + wa..][..wb].copy_from_slice(&values[b][r * wb..][..wb]);
                    }
                }
                _ => {
                    // Channel-major maps: the second's channels follow the first's.
                    let na = values[a].len();
                    y[..na].copy_from_slice(&values[a]);
                    y[na..].copy_from_slice(&values[b]);
                }
            },
            Layer::Expand { input, length } => {
                let width = self.graph.shape(input).map_or(0, ValueShape::size);
                let x = &values[input];
                for f in 0..width {
                    for b in 0..batch {
                        y[(f * batch + b) * length..][..length].fill(x[b * width + f]);
                    }
                }
            }
            Layer::Flatten { input } => {
                let (c, l) = map_dims(self.graph.shape(input));
                let x = &values[input];
                for ch in 0..c {
                    for b in 0..batch {
                        y[b * c * l + ch * l..][..l]
                            .copy_from_slice(&x[(ch * batch + b) * l..][..l]);
                    }
                }
            }
            Layer::MeanLength { input } => {
                let (c, l) = map_dims(self.graph.shape(input));
                let x = &values[input];
                for ch in 0..c {
                    for b in 0..batch {
                        let row = &x[(ch * batch + b) * l..][..l];
                        y[b * c + ch] = row.iter().sum::<f32>() / l as f32;
                    }
                }
            }
            Layer::Zeros { .. } => y.fill(0.0),
        }
        self.values[out] = y;
    }

    /// Back-propagates `dlogits` (`[batch, n_classes]`) through the last
    /// [`forward`](Self::forward) (which must have been a training pass), leaving the weight
    /// gradients in [`gradients`](Self::gradients).
    pub fn backward(&mut self, dlogits: &[f32]) -> Result<(), TrainError> {
        let out = self.graph.output().expect("checked in new");
        if dlogits.len() != self.values[out].len() {
            return Err(TrainError::Data(format!(
                "{} logit gradients for {} logits",
                dlogits.len(),
                self.values[out].len()
            )));
        }
        for g in &mut self.grads {
            g.fill(0.0);
        }
        self.touched.fill(false);
        self.flowing.fill(false);
        self.dvalues[out].clear();
        self.dvalues[out].extend_from_slice(dlogits);
        self.flowing[out] = true;
        for i in (0..self.graph.layers().len()).rev() {
            if self.flowing[i + 2] {
                self.backward_layer(i);
            }
        }
        Ok(())
    }

    /// The gradient buffer of value `v`, zeroed the first time a backward pass reaches it.
    fn dvalue(&mut self, v: usize) -> Option<Vec<f32>> {
        if v < 2 {
            return None; // the inputs need no gradient
        }
        let mut d = std::mem::take(&mut self.dvalues[v]);
        if !self.flowing[v] {
            d.clear();
            d.resize(self.values[v].len(), 0.0);
            self.flowing[v] = true;
        }
        Some(d)
    }

    fn backward_layer(&mut self, i: usize) {
        let out = i + 2;
        let batch = self.batch;
        let layer = self.graph.layers()[i].clone();
        let window = self.window(i);
        let dy = std::mem::take(&mut self.dvalues[out]);
        match layer {
            Layer::Conv1d {
                input,
                weight,
                bias,
                ..
            } => {
                let w = window.expect("a convolution has a window");
                let c_out = self.graph.weights()[weight].shape[0];
                let cols = batch * w.length_out;
                if let Some(b) = bias {
                    let gb = &mut self.grads[b];
                    for (c, row) in dy.chunks(cols).enumerate() {
                        gb[c] += kernels::sum(row) as f32;
                    }
                    self.touched[b] = true;
                }
                self.touched[weight] = true;
                let mut dx = self.dvalue(input);
                let conv = Conv {
                    window: w,
                    weights: &self.graph.weights()[weight].values,
                    c_out,
                };
                conv.backward(
                    &dy,
                    &self.saved[i].col,
                    &mut self.scratch,
                    &mut self.grads[weight],
                    dx.as_deref_mut(),
                );
                if let Some(dx) = dx {
                    self.dvalues[input] = dx;
                }
            }
            Layer::BatchNorm {
                input, gamma, beta, ..
            } => {
                let channels = self.graph.weights()[gamma].values.len();
                let n = dy.len() / channels;
                let mut dgamma = std::mem::take(&mut self.grads[gamma]);
                let mut dbeta = std::mem::take(&mut self.grads[beta]);
                let mut dx = self.dvalue(input);
                kernels::batch_norm_backward(
                    &self.values[input],
                    &dy,
                    n,
                    &self.saved[i].mean,
                    &self.saved[i].inv_std,
                    &self.graph.weights()[gamma].values,
                    &mut dgamma,
                    &mut dbeta,
                    dx.as_deref_mut(),
                );
                self.grads[gamma] = dgamma;
                self.grads[beta] = dbeta;
                self.touched[gamma] = true;
                self.touched[beta] = true;
                if let Some(dx) = dx {
                    self.dvalues[input] = dx;
                }
            }
            Layer::Relu { input } => {
                if let Some(mut dx) = self.dvalue(input) {
                    let y = &self.values[out];
                    dx.par_chunks_mut(ELEMENT_PIECE)
                        .zip(
                            dy.par_chunks(ELEMENT_PIECE)
                                .zip(y.par_chunks(ELEMENT_PIECE)),
                        )
                        .for_each(|(d, (g, y))| {
                            for ((d, &g), &v) in d.iter_mut().zip(g).zip(y) {
                                *d += if v > 0.0 { g } else { 0.0 };
                            }
                        });
                    self.dvalues[input] = dx;
                }
            }
            Layer::AvgPool1d { input, .. } => {
                let w = window.expect("a pool has a window");
                if let Some(mut dx) = self.dvalue(input) {
                    kernels::avg_pool_backward_add(&dy, &w, &mut dx);
                    self.dvalues[input] = dx;
                }
            }
            Layer::MaxPool1d { input, .. } => {
                let w = window.expect("a pool has a window");
                if let Some(mut dx) = self.dvalue(input) {
                    kernels::max_pool_backward_add(&dy, &self.saved[i].arg, &w, &mut dx);
                    self.dvalues[input] = dx;
                }
            }
            Layer::Linear {
                input,
                weight,
                bias,
            } => {
                let shape = self.graph.weights()[weight].shape.clone();
                let (d_in, d_out) = (shape[0], shape[1]);
                sgemm(
                    d_in,
                    batch,
                    d_out,
                    &self.values[input],
                    true,
                    &dy,
                    false,
                    &mut self.grads[weight],
                    true,
                );
                self.touched[weight] = true;
                if let Some(b) = bias {
                    let gb = &mut self.grads[b];
                    for row in dy.chunks(d_out) {
                        gb.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
                    }
                    self.touched[b] = true;
                }
                if let Some(mut dx) = self.dvalue(input) {
                    let wv = &self.graph.weights()[weight].values;
                    sgemm(batch, d_out, d_in, &dy, false, wv, true, &mut dx, true);
                    self.dvalues[input] = dx;
                }
            }
            Layer::Add { a, b } => {
                for v in [a, b] {
                    if let Some(mut dx) = self.dvalue(v) {
                        dx.par_chunks_mut(ELEMENT_PIECE)
                            .zip(dy.par_chunks(ELEMENT_PIECE))
                            .for_each(|(d, g)| d.iter_mut().zip(g).for_each(|(d, &g)| *d += g));
                        self.dvalues[v] = dx;
                    }
                }
            }
            Layer::Concat { a, b } => match (self.graph.shape(a), self.graph.shape(b)) {
                (
                    Some(ValueShape::Vector { width: wa }),
                    Some(ValueShape::Vector { width: wb }),
                ) => {
                    for (v, offset, width) in [(a, 0, wa), (b, wa, wb)] {
                        if let Some(mut dx) = self.dvalue(v) {
                            for r in 0..batch {
                                let src = &dy[r * (wa + wb) + offset..][..width];
                                dx[r * width..][..width]
                                    .iter_mut()
                                    .zip(src)
                                    .for_each(|(d, &g)| *d += g);
                            }
                            self.dvalues[v] = dx;
                        }
                    }
                }
                _ => {
                    let na = self.values[a].len();
                    for (v, range) in [(a, 0..na), (b, na..dy.len())] {
                        if let Some(mut dx) = self.dvalue(v) {
                            dx.iter_mut().zip(&dy[range]).for_each(|(d, &g)| *d += g);
                            self.dvalues[v] = dx;
                        }
                    }
                }
            },
            Layer::Expand { input, length } => {
                let width = self.graph.shape(input).map_or(0, ValueShape::size);
                if let Some(mut dx) = self.dvalue(input) {
                    for f in 0..width {
                        for b in 0..batch {
                            dx[b * width + f] +=
                                dy[(f * batch + b) * length..][..length].iter().sum::<f32>();
                        }
                    }
                    self.dvalues[input] = dx;
                }
            }
            Layer::Flatten { input } => {
                let (c, l) = map_dims(self.graph.shape(input));
                if let Some(mut dx) = self.dvalue(input) {
                    for ch in 0..c {
                        for b in 0..batch {
                            let src = &dy[b * c * l + ch * l..][..l];
                            dx[(ch * batch + b) * l..][..l]
                                .iter_mut()
                                .zip(src)
                                .for_each(|(d, &g)| *d += g);
                        }
                    }
                    self.dvalues[input] = dx;
                }
            }
            Layer::MeanLength { input } => {
                let (c, l) = map_dims(self.graph.shape(input));
                if let Some(mut dx) = self.dvalue(input) {
                    for ch in 0..c {
                        for b in 0..batch {
                            let g = dy[b * c + ch] / l as f32;
                            dx[(ch * batch + b) * l..][..l]
                                .iter_mut()
                                .for_each(|d| *d += g);
                        }
                    }
                    self.dvalues[input] = dx;
                }
            }
            Layer::Zeros { .. } => {}
        }
        self.dvalues[out] = dy;
    }

    /// One optimiser step at learning rate `lr` on the weights the last backward pass
    /// reached, as burn's optimisers take it (L2 weight decay added to the gradient; Adam with
    /// betas 0.9/0.999 and epsilon 1e-5; SGD's velocity starting at the first gradient).
    pub fn optimizer_step(&mut self, optimizer: OptimizerKind, lr: f64) {
        let lr = lr as f32;
        let weights = self.graph.weights_mut();
        weights
            .par_iter_mut()
            .zip(self.grads.par_iter_mut())
            .zip(self.moments.par_iter_mut())
            .zip(self.touched.par_iter())
            .for_each(|(((w, g), state), &touched)| {
                if !touched || !w.trainable {
                    return;
                }
                let p = &mut w.values;
                match optimizer {
                    OptimizerKind::Adam { weight_decay, .. } => {
                        if weight_decay > 0.0 {
                            g.iter_mut()
                                .zip(p.iter())
                                .for_each(|(g, &x)| *g += x * weight_decay);
                        }
                        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-5f32);
                        let time = match state {
                            Moments::Adam { m, v, time } => {
                                for ((m, v), &g) in m.iter_mut().zip(v.iter_mut()).zip(g.iter()) {
                                    *m = *m * b1 + g * (1.0 - b1);
                                    *v = *v * b2 + g * g * (1.0 - b2);
                                }
                                *time += 1;
                                *time
                            }
                            _ => {
                                *state = Moments::Adam {
                                    m: g.iter().map(|&g| g * (1.0 - b1)).collect(),
                                    v: g.iter().map(|&g| g * g * (1.0 - b2)).collect(),
                                    time: 1,
                                };
                                1
                            }
                        };
                        let Moments::Adam { m, v, .. } = state else {
                            unreachable!()
                        };
                        let bc2 = (1.0 - b2.powi(time)).sqrt();
                        let factor = bc2 / (1.0 - b1.powi(time));
                        for ((x, &m), &v) in p.iter_mut().zip(m.iter()).zip(v.iter()) {
                            *x -= m * factor / (v.sqrt() + eps * bc2) * lr;
                        }
                    }
                    OptimizerKind::Sgd {
                        momentum,
                        weight_decay,
                        ..
                    } => {
                        if weight_decay > 0.0 {
                            g.iter_mut()
                                .zip(p.iter())
                                .for_each(|(g, &x)| *g += x * weight_decay);
                        }
                        let momentum = momentum as f32;
                        match state {
                            Moments::Sgd { velocity } => {
                                for (v, &g) in velocity.iter_mut().zip(g.iter()) {
                                    *v = g + *v * momentum;
                                }
                            }
                            _ => {
                                *state = Moments::Sgd {
                                    velocity: g.clone(),
                                }
                            }
                        }
                        let Moments::Sgd { velocity } = state else {
                            unreachable!()
                        };
                        for (x, &v) in p.iter_mut().zip(velocity.iter()) {
                            *x -= v * lr;
                        }
                    }
                }
            });
    }

    /// One training step: forward in training mode, class-weighted cross-entropy
    /// (`class_weights[c]` per sample of class `c`, normalised by their sum), backward, an
    /// optimiser step. Returns the loss before the step.
    pub fn train_step(
        &mut self,
        signals: &[f32],
        features: &[f32],
        targets: &[u8],
        class_weights: &[f32],
        optimizer: OptimizerKind,
        lr: f64,
    ) -> Result<f32, TrainError> {
        let k = self.graph.input().n_classes;
        let logits = self.forward(signals, features, true)?;
        if logits.len() != targets.len() * k
            || targets
                .iter()
                .any(|&t| usize::from(t) >= k.min(class_weights.len()))
        {
            return Err(TrainError::Data(format!(
                "{} targets for {} logits of {k} classes",
                targets.len(),
                logits.len()
            )));
        }
        let (loss, dlogits) = weighted_cross_entropy(logits, targets, class_weights, k);
        if !loss.is_finite() {
            return Ok(loss);
        }
        self.backward(&dlogits)?;
        self.optimizer_step(optimizer, lr);
        Ok(loss)
    }
}

/// `sum_i w[t_i] (logsumexp(z_i) - z_i[t_i]) / sum_i w[t_i]` and its gradient.
fn weighted_cross_entropy(
    logits: &[f32],
    targets: &[u8],
    class_weights: &[f32],
    k: usize,
) -> (f32, Vec<f32>) {
    let total: f32 = targets.iter().map(|&t| class_weights[usize::from(t)]).sum();
    let total = total.max(f32::MIN_POSITIVE);
    let mut loss = 0.0f64;
    let mut grad = vec![0.0f32; logits.len()];
    for (i, &t) in targets.iter().enumerate() {
        let z = &logits[i * k..(i + 1) * k];
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = z.iter().map(|&v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        let w = class_weights[usize::from(t)];
        loss += f64::from(w * (lse - z[usize::from(t)]));
        for (c, g) in grad[i * k..(i + 1) * k].iter_mut().enumerate() {
            let p = (z[c] - lse).exp();
            *g = w * (p - if c == usize::from(t) { 1.0 } else { 0.0 }) / total;
        }
    }
    ((loss / f64::from(total)) as f32, grad)
}

fn map_dims(shape: Option<ValueShape>) -> (usize, usize) {
    match shape {
        Some(ValueShape::Map { channels, length }) => (channels, length),
        _ => unreachable!("checked by the graph builder"),
    }
}
