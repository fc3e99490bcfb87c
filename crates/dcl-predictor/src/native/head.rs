//! The two-layer heads on embeddings: `second(relu(first(relu(emb))))`, the stage-2 score
//! head and the stage-1 projection head.

use burn::nn::Linear;
use burn::tensor::backend::Backend;

use super::{Dense, Kernel, dense_grads, dense_input_grad, relu, relu_backward, zeros_like};

/// A head's two dense layers.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub first: Dense,
    pub second: Dense,
}

/// What a head's forward pass keeps for its backward pass.
pub(crate) struct HeadTrace {
    /// `relu(emb)` `[g, hidden]`.
    act: Vec<f32>,
    /// The first layer's pre-activation `[g, first.d_out]`.
    pre: Vec<f32>,
}

/// Gradients (weight, bias) of a head's first and second layers.
pub(crate) type HeadGrads = [(Vec<f32>, Vec<f32>); 2];

impl Head {
    /// The weights of burn's two layers.
    pub fn of<B: Backend>(first: &Linear<B>, second: &Linear<B>) -> Self {
        Self {
            first: Dense::of(first),
            second: Dense::of(second),
        }
    }

    /// Outputs `[count, second.d_out]` of embeddings `[count, hidden]`, with what
    /// [`backward`](Self::backward) needs.
    pub fn forward(&self, emb: &[f32], count: usize, kernel: Kernel) -> (Vec<f32>, HeadTrace) {
        let mut act = emb.to_vec();
        relu(&mut act);
        let mut pre = vec![0.0; count * self.first.d_out];
        self.first.forward(&act, count, &mut pre, kernel);
        let mut hidden = pre.clone();
        relu(&mut hidden);
        let mut out = vec![0.0; count * self.second.d_out];
        self.second.forward(&hidden, count, &mut out, kernel);
        (out, HeadTrace { act, pre })
    }

    /// The head's gradients and the embeddings' gradient `[count, hidden]`, given the outputs'
    /// gradient `d_out` and the embeddings `emb` the forward pass saw.
    pub fn backward(&self, emb: &[f32], trace: &HeadTrace, d_out: &[f32]) -> (HeadGrads, Vec<f32>) {
        let count = d_out.len() / self.second.d_out;
        let mut grads = [zeros_like(&self.first), zeros_like(&self.second)];
        let mut hidden = trace.pre.clone();
        relu(&mut hidden);
        dense_grads(&self.second, &hidden, d_out, count, &mut grads[1]);
        let mut d_pre = dense_input_grad(&self.second, d_out, count);
        relu_backward(&mut d_pre, &trace.pre);
        dense_grads(&self.first, &trace.act, &d_pre, count, &mut grads[0]);
        let mut d_emb = dense_input_grad(&self.first, &d_pre, count);
        relu_backward(&mut d_emb, emb);
        (grads, d_emb)
    }
}
