//! The ranker on the CPU without burn: plain buffers, SGEMM for the dense layers, message
//! passing as sparse sums over each graph's edges, the heads and the stage-1/stage-2 losses
//! with their gradients.
//!
//! Why: at this model's size (8-node graphs, width 64) burn-ndarray spends most of a forward
//! pass allocating and walking small intermediate tensors, not multiplying. Here each chunk of
//! graphs reuses a few buffers and the chunks run in parallel.
//!
//! Scoring and embedding ([`Kernel::Exact`]) compute every value in the order burn-ndarray does
//! (the same matrixmultiply calls with the same inner dimensions, biases added after the
//! product, node sums taken node by node from zero, adjacency products as in-order sums of the
//! 0/1-weighted rows), so scores are bit-for-bit those of the burn model; a test checks it.
//! Training ([`Kernel::Fast`] forward, [`Encoder::backward`], [`loss`]) is the exact gradient
//! summed in another order than burn's autodiff, so it gives a slightly different (equally
//! valid) model.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use dcl_graph::GraphBatch;
use gemm_common::Parallelism;
use rayon::prelude::*;

use crate::model::RankerModel;

mod head;
pub(crate) mod loss;

pub(crate) use head::{Head, HeadGrads};

/// Graphs per parallel work item: small enough that a chunk's buffers stay in cache, large
/// enough that each SGEMM call has rows to fill its kernel. Fixed, not derived from the thread
/// count: gradients are summed chunk by chunk, so the same chunks give the same bits on any
/// number of threads.
const CHUNK: usize = 32;

/// A dense layer: `y = x W + b`, `W` `[d_in, d_out]` row-major.
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    pub d_in: usize,
    pub d_out: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

fn values<B: Backend, const D: usize>(p: &Param<burn::tensor::Tensor<B, D>>) -> Vec<f32> {
    // `* 1.0` (exact) makes a tensor nothing else shares: burn-ndarray then hands its buffer
    // over, where a shared one is copied element by element (most of a step's host time).
    p.val()
        .detach()
        .mul_scalar(1.0)
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 weights")
}

impl Dense {
    fn of<B: Backend>(lin: &Linear<B>) -> Self {
        let [d_in, d_out] = lin.weight.dims();
        Self {
            d_in,
            d_out,
            w: values(&lin.weight),
            b: lin
                .bias
                .as_ref()
                .map(values)
                .unwrap_or_else(|| vec![0.0; d_out]),
        }
    }

    /// `out = x W + b` for `rows` rows of `x` (`out` is overwritten).
    pub fn forward(&self, x: &[f32], rows: usize, out: &mut [f32], kernel: Kernel) {
        debug_assert_eq!(x.len(), rows * self.d_in);
        debug_assert_eq!(out.len(), rows * self.d_out);
        sgemm(
            kernel, rows, self.d_in, self.d_out, x, false, &self.w, false, out, false,
        );
        for row in out.chunks_exact_mut(self.d_out) {
            for (o, b) in row.iter_mut().zip(&self.b) {
                *o += b;
            }
        }
    }
}

/// Where matrixmultiply starts threading a call (`m k + k n`). Our chunks already run in
/// parallel on rayon's pool; matrixmultiply would split a larger call over its own threads as
/// well (once `m k + k n` reaches 2^15), and the two pools then spend their time yielding to
/// each other. So [`Kernel::Exact`] cuts a product into calls of fewer rows, which changes no
/// value (each element's inner sum is the same).
const THREADING_THRESHOLD: usize = 1 << 15;

/// Which SGEMM computes a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// matrixmultiply, called with the inner dimensions burn-ndarray uses: scores and
    /// embeddings come out bit for bit as burn's.
    Exact,
    /// The `gemm` crate's f32 kernels, one thread per call: faster on these shapes (larger
    /// micro-kernel, less packing) but summed in another order, so only training, whose
    /// rounding is its own anyway, uses them.
    Fast,
}

/// `c (+)= op(a) op(b)` with `op(a)` `[m, k]` and `op(b)` `[k, n]`, all row-major; `ta`/`tb`
/// read `a`/`b` transposed, `accumulate` adds to `c` instead of overwriting it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    kernel: Kernel,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (rsa, csa) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (rsb, csb) = if tb { (1, k as isize) } else { (n as isize, 1) };
    if kernel == Kernel::Fast {
        if m == 0 || n == 0 {
            return;
        }
        let gemm = gemm_f32::gemm::f32::get_gemm_fn();
        let (c, rsc) = (c.as_mut_ptr(), n as isize);
        let (a, b) = (a.as_ptr(), b.as_ptr());
        // The kernel takes column strides before row strides and prefers a column-major
        // destination, so a row-major `c` is computed as `cᵀ = op(b)ᵀ op(a)ᵀ`, as the `gemm`
        // crate's generic entry point would arrange it.
        let (rows, cols, c_cs, c_rs, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs) = if rsc > 1 {
            (n, m, rsc, 1, b, rsb, csb, a, rsa, csa)
        } else {
            (m, n, 1, rsc, a, csa, rsa, b, csb, rsb)
        };
        // SAFETY: the strides address `op(a)` `[m, k]`, `op(b)` `[k, n]` and `c` `[m, n]`
        // inside the slices checked above.
        unsafe {
            gemm(
                rows,
                cols,
                k,
                c,
                c_cs,
                c_rs,
                accumulate,
                lhs,
                lhs_cs,
                lhs_rs,
                rhs,
                rhs_cs,
                rhs_rs,
                1.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
        return;
    }
    // The most rows (a multiple of the kernel's 8) that keep `rows k + k n` under the threshold.
    let depth = k.max(1);
    let per_call = ((THREADING_THRESHOLD - 1).saturating_sub(depth * n) / depth / 8 * 8).max(8);
    let beta = if accumulate { 1.0 } else { 0.0 };
    for r0 in (0..m).step_by(per_call) {
        let rows = per_call.min(m - r0);
        // SAFETY: the offsets and strides address elements inside the slices checked above:
        // rows r0..r0+rows of op(a) and c.
        unsafe {
            matrixmultiply::sgemm(
                rows,
                k,
                n,
                1.0,
                a.as_ptr().offset(r0 as isize * rsa),
                rsa,
                csa,
                b.as_ptr(),
                rsb,
                csb,
                beta,
                c.as_mut_ptr().add(r0 * n),
                n as isize,
                1,
            );
        }
    }
}

/// `relu(x)` in place, as burn-ndarray computes it (`max(x, 0)`, zero for -0 and NaN).
fn relu(x: &mut [f32]) {
    for v in x {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// The encoder's and heads' weights, copied out of a burn model.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    pub embed: Dense,
    pub layers: Vec<(Dense, Dense)>,
    pub readout: Dense,
    /// The stage-2 score head.
    pub score: Head,
    /// The stage-1 projection head.
    pub project: Head,
}

/// One chunk of graphs as flat arrays: adjacency `[g, n, n]`, features `[g, n, f]`, mask
/// `[g, n]`, and one over each graph's node count.
pub(crate) struct Graphs<'a> {
    pub n: usize,
    pub adjacency: &'a [f32],
    pub features: &'a [f32],
    pub mask: &'a [f32],
    pub inv_count: Vec<f32>,
}

impl<'a> Graphs<'a> {
    pub fn of(batch: &'a GraphBatch) -> Self {
        Self {
            n: batch.shape().max_nodes,
            adjacency: batch.adjacency(),
            features: batch.features(),
            mask: batch.node_mask(),
            inv_count: crate::model::inv_node_counts(batch),
        }
    }

    fn len(&self) -> usize {
        self.inv_count.len()
    }

    /// Graphs `range` of this chunk.
    fn slice(&self, start: usize, end: usize) -> Graphs<'a> {
        let (n, f) = (self.n, self.features.len() / (self.len() * self.n).max(1));
        Graphs {
            n,
            adjacency: &self.adjacency[start * n * n..end * n * n],
            features: &self.features[start * n * f..end * n * f],
            mask: &self.mask[start * n..end * n],
            inv_count: self.inv_count[start..end].to_vec(),
        }
    }
}

/// Row `r` of a row-major matrix read as `d` values at column `offset` of rows `stride` wide.
#[derive(Clone, Copy)]
struct Rows {
    stride: usize,
    offset: usize,
}

impl Rows {
    const fn dense(d: usize) -> Self {
        Self {
            stride: d,
            offset: 0,
        }
    }

    fn range(self, r: usize, d: usize) -> std::ops::Range<usize> {
        r * self.stride + self.offset..r * self.stride + self.offset + d
    }
}

/// `out[i] = Σ_j adj[j, i] h[j]` (`transpose`) or `Σ_j adj[i, j] h[j]`, per graph, `j` in
/// order from zero: the sums a dense product with a 0/1 matrix makes, in the same order.
/// `h` and `out` are `d`-wide row blocks of larger matrices (`h_at`, `out_at`); `add` adds to
/// `out` instead of overwriting it.
#[allow(clippy::too_many_arguments)]
fn propagate(
    g: &Graphs<'_>,
    h: &[f32],
    h_at: Rows,
    d: usize,
    transpose: bool,
    out: &mut [f32],
    out_at: Rows,
    add: bool,
) {
    let n = g.n;
    let mut acc = vec![0.0f32; d];
    for (gi, adj) in g.adjacency.chunks_exact(n * n).enumerate() {
        let base = gi * n;
        for i in 0..n {
            acc.fill(0.0);
            for j in 0..n {
                let a = if transpose {
                    adj[j * n + i]
                } else {
                    adj[i * n + j]
                };
                if a != 0.0 {
                    let src = &h[h_at.range(base + j, d)];
                    for (o, s) in acc.iter_mut().zip(src) {
                        *o += a * s;
                    }
                }
            }
            let dst = &mut out[out_at.range(base + i, d)];
            if add {
                for (o, s) in dst.iter_mut().zip(&acc) {
                    *o += s;
                }
            } else {
                dst.copy_from_slice(&acc);
            }
        }
    }
}

/// Per-graph masked mean of node states `h` `[g * n, d]`, written to column block `col` of
/// `pooled` `[g, width]`.
fn pool(g: &Graphs<'_>, h: &[f32], d: usize, pooled: &mut [f32], width: usize, col: usize) {
    let n = g.n;
    for (gi, inv) in g.inv_count.iter().enumerate() {
        let dst = &mut pooled[gi * width + col..gi * width + col + d];
        dst.fill(0.0);
        for i in 0..n {
            let src = &h[(gi * n + i) * d..(gi * n + i + 1) * d];
            for (o, s) in dst.iter_mut().zip(src) {
                *o += s;
            }
        }
        for o in dst.iter_mut() {
            *o *= inv;
        }
    }
}

/// What the forward pass keeps for the backward pass, per chunk. Its buffers are written in
/// place, so a trace kept from one step to the next is reused without allocating.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// Each layer's input `[h, A^T h, A h]` `[g * n, 3d]`.
    z: Vec<Vec<f32>>,
    /// Each layer's first activation `relu(z W1 + b1)` `[g * n, d]`.
    u: Vec<Vec<f32>>,
    /// Each layer's second activation `relu(u W2 + b2)` `[g * n, d]`.
    v: Vec<Vec<f32>>,
    /// The embedding's pre-activation `[g * n, d]`.
    embed_pre: Vec<f32>,
    /// Concatenated pooled states `[g, d * (layers + 1)]`.
    pooled: Vec<f32>,
}

impl Trace {
    /// Layer `l`'s buffers `(z, u, v)` for `rows` nodes of width `d`. Their old contents are
    /// stale: every value is overwritten before it is read.
    fn layer(&mut self, l: usize, rows: usize, d: usize) -> (&mut [f32], &mut [f32], &mut [f32]) {
        for (bufs, width) in [(&mut self.z, 3 * d), (&mut self.u, d), (&mut self.v, d)] {
            if bufs.len() <= l {
                bufs.resize_with(l + 1, Vec::new);
            }
            bufs[l].resize(rows * width, 0.0);
        }
        (&mut self.z[l], &mut self.u[l], &mut self.v[l])
    }
}

impl Encoder {
    /// The weights of `model`.
    pub fn of<B: Backend>(model: &RankerModel<B>) -> Self {
        let (embed, layers, readout) = model.encoder_parts();
        let (score1, score2) = model.score_parts();
        let (proj1, proj2) = model.projection_parts();
        Self {
            embed: Dense::of(embed),
            layers: layers
                .iter()
                .map(|(a, b)| (Dense::of(a), Dense::of(b)))
                .collect(),
            readout: Dense::of(readout),
            score: Head::of(score1, score2),
            project: Head::of(proj1, proj2),
        }
    }

    fn hidden(&self) -> usize {
        self.embed.d_out
    }

    /// Embeddings `[g, hidden]` of one chunk, keeping what the backward pass needs when `trace`
    /// is given.
    pub fn embed_chunk(
        &self,
        g: &Graphs<'_>,
        mut trace: Option<&mut Trace>,
        kernel: Kernel,
    ) -> Vec<f32> {
        let (d, n, count) = (self.hidden(), g.n, g.len());
        let rows = count * n;
        let width = d * (self.layers.len() + 1);
        let mut pooled = vec![0.0; count * width];
        let mut h = vec![0.0; rows * d];
        self.embed.forward(g.features, rows, &mut h, kernel);
        if let Some(t) = trace.as_deref_mut() {
            t.embed_pre.clear();
            t.embed_pre.extend_from_slice(&h);
        }
        relu(&mut h);
        mask_rows(&mut h, g.mask, d);
        pool(g, &h, d, &mut pooled, width, 0);
        // Without a trace one set of layer buffers serves every layer.
        let mut scratch = Trace::default();
        let part = |k: usize| Rows {
            stride: 3 * d,
            offset: k * d,
        };
        for (l, (lin1, lin2)) in self.layers.iter().enumerate() {
            let (z, u, v) = match trace.as_deref_mut() {
                Some(t) => t.layer(l, rows, d),
                None => scratch.layer(0, rows, d),
            };
            for (r, row) in z.chunks_exact_mut(3 * d).enumerate() {
                row[..d].copy_from_slice(&h[r * d..(r + 1) * d]);
            }
            propagate(g, &h, Rows::dense(d), d, true, z, part(1), false);
            propagate(g, &h, Rows::dense(d), d, false, z, part(2), false);
            lin1.forward(z, rows, u, kernel);
            relu(u);
            lin2.forward(u, rows, v, kernel);
            relu(v);
            for ((hv, zv), m) in h
                .chunks_exact_mut(d)
                .zip(v.chunks_exact(d))
                .zip(g.mask.iter())
            {
                for (a, b) in hv.iter_mut().zip(zv) {
                    *a = (*a + b) * m;
                }
            }
            pool(g, &h, d, &mut pooled, width, (l + 1) * d);
        }
        let mut emb = vec![0.0; count * d];
        self.readout.forward(&pooled, count, &mut emb, kernel);
        if let Some(t) = trace {
            t.pooled = pooled;
        }
        emb
    }

    /// Scores `[g]` of embeddings `[g, hidden]`, as burn computes them.
    pub fn score(&self, emb: &[f32], count: usize) -> Vec<f32> {
        self.score.forward(emb, count, Kernel::Exact).0
    }

    /// Embeddings `[len, hidden]` of a whole batch, chunks in parallel.
    pub fn embed_all(&self, batch: &GraphBatch) -> Vec<f32> {
        let g = Graphs::of(batch);
        let parts: Vec<Vec<f32>> = chunks(g.len())
            .par_iter()
            .map(|&(s, e)| self.embed_chunk(&g.slice(s, e), None, Kernel::Exact))
            .collect();
        parts.concat()
    }

    /// Scores of a whole batch, chunks in parallel.
    pub fn score_all(&self, batch: &GraphBatch) -> Vec<f32> {
        let g = Graphs::of(batch);
        let parts: Vec<Vec<f32>> = chunks(g.len())
            .par_iter()
            .map(|&(s, e)| {
                let emb = self.embed_chunk(&g.slice(s, e), None, Kernel::Exact);
                self.score(&emb, e - s)
            })
            .collect();
        parts.concat()
    }
}

/// Zeroes the rows of padding nodes (`x *= mask`, row by row).
fn mask_rows(x: &mut [f32], mask: &[f32], d: usize) {
    for (row, m) in x.chunks_exact_mut(d).zip(mask) {
        for v in row {
            *v *= m;
        }
    }
}

/// Gradients of the encoder's weights, laid out like [`Encoder`]'s (`[d_in, d_out]` and
/// `[d_out]` per layer).
#[derive(Debug, Clone)]
pub(crate) struct Grads {
    pub embed: (Vec<f32>, Vec<f32>),
    pub layers: Vec<[(Vec<f32>, Vec<f32>); 2]>,
    pub readout: (Vec<f32>, Vec<f32>),
}

fn zeros_like(l: &Dense) -> (Vec<f32>, Vec<f32>) {
    (vec![0.0; l.w.len()], vec![0.0; l.b.len()])
}

fn add_into(a: &mut (Vec<f32>, Vec<f32>), b: &(Vec<f32>, Vec<f32>)) {
    for (x, y) in a.0.iter_mut().zip(&b.0) {
        *x += y;
    }
    for (x, y) in a.1.iter_mut().zip(&b.1) {
        *x += y;
    }
}

impl Grads {
    fn zeros(e: &Encoder) -> Self {
        Self {
            embed: zeros_like(&e.embed),
            layers: e
                .layers
                .iter()
                .map(|(a, b)| [zeros_like(a), zeros_like(b)])
                .collect(),
            readout: zeros_like(&e.readout),
        }
    }

    /// Adds `other` (chunk by chunk, in a fixed order, so the sum does not depend on threads).
    pub fn add(&mut self, other: &Grads) {
        add_into(&mut self.embed, &other.embed);
        for (a, b) in self.layers.iter_mut().zip(&other.layers) {
            add_into(&mut a[0], &b[0]);
            add_into(&mut a[1], &b[1]);
        }
        add_into(&mut self.readout, &other.readout);
    }
}

/// `dW += x^T dy`, `db += Σ_rows dy` for a dense layer fed `x` `[rows, d_in]`.
fn dense_grads(l: &Dense, x: &[f32], dy: &[f32], rows: usize, g: &mut (Vec<f32>, Vec<f32>)) {
    sgemm(
        Kernel::Fast,
        l.d_in,
        rows,
        l.d_out,
        x,
        true,
        dy,
        false,
        &mut g.0,
        true,
    );
    for row in dy.chunks_exact(l.d_out) {
        for (b, v) in g.1.iter_mut().zip(row) {
            *b += v;
        }
    }
}

/// `dx = dy W^T` `[rows, d_in]`.
fn dense_input_grad(l: &Dense, dy: &[f32], rows: usize) -> Vec<f32> {
    let mut dx = vec![0.0; rows * l.d_in];
    sgemm(
        Kernel::Fast,
        rows,
        l.d_out,
        l.d_in,
        dy,
        false,
        &l.w,
        true,
        &mut dx,
        false,
    );
    dx
}

/// `dx *= [pre > 0]` (the derivative of ReLU, zero at zero as burn's is).
fn relu_backward(dx: &mut [f32], pre: &[f32]) {
    for (d, p) in dx.iter_mut().zip(pre) {
        *d = if *p > 0.0 { *d } else { 0.0 };
    }
}

/// `dh[node] += d_pooled[graph, col..col + d] * inv_count[graph]` for every node.
fn unpool(g: &Graphs<'_>, d_pooled: &[f32], width: usize, col: usize, d: usize, dh: &mut [f32]) {
    let n = g.n;
    for (gi, inv) in g.inv_count.iter().enumerate() {
        let src = &d_pooled[gi * width + col..gi * width + col + d];
        for i in 0..n {
            let dst = &mut dh[(gi * n + i) * d..(gi * n + i + 1) * d];
            for (o, s) in dst.iter_mut().zip(src) {
                *o += s * inv;
            }
        }
    }
}

impl Encoder {
    /// The gradient of the encoder's weights for one chunk, given the gradient `d_emb`
    /// `[g, hidden]` of its embeddings and the trace of its forward pass.
    pub fn backward_chunk(&self, g: &Graphs<'_>, trace: &Trace, d_emb: &[f32]) -> Grads {
        let (d, n, count) = (self.hidden(), g.n, g.len());
        let rows = count * n;
        let layers = self.layers.len();
        let width = d * (layers + 1);
        let mut grads = Grads::zeros(self);
        dense_grads(
            &self.readout,
            &trace.pooled,
            d_emb,
            count,
            &mut grads.readout,
        );
        let d_pooled = dense_input_grad(&self.readout, d_emb, count);
        let mut dh = vec![0.0; rows * d];
        unpool(g, &d_pooled, width, layers * d, d, &mut dh);
        let part = |k: usize| Rows {
            stride: 3 * d,
            offset: k * d,
        };
        for l in (0..layers).rev() {
            let (lin1, lin2) = &self.layers[l];
            // h_{l+1} = (h_l + relu(v)) * mask, v = relu(u) W2 + b2, u = z W1 + b1.
            mask_rows(&mut dh, g.mask, d);
            // relu's derivative from its output: positive exactly where its input was.
            let mut dv = dh.clone();
            relu_backward(&mut dv, &trace.v[l]);
            dense_grads(lin2, &trace.u[l], &dv, rows, &mut grads.layers[l][1]);
            let mut du = dense_input_grad(lin2, &dv, rows);
            relu_backward(&mut du, &trace.u[l]);
            dense_grads(lin1, &trace.z[l], &du, rows, &mut grads.layers[l][0]);
            let dz = dense_input_grad(lin1, &du, rows);
            // z = [h, A^T h, A h]: the residual, then each message's way back.
            for (r, row) in dz.chunks_exact(3 * d).enumerate() {
                for (o, s) in dh[r * d..(r + 1) * d].iter_mut().zip(&row[..d]) {
                    *o += s;
                }
            }
            propagate(g, &dz, part(1), d, false, &mut dh, Rows::dense(d), true);
            propagate(g, &dz, part(2), d, true, &mut dh, Rows::dense(d), true);
            unpool(g, &d_pooled, width, l * d, d, &mut dh);
        }
        // h_0 = relu(x We + be) * mask.
        mask_rows(&mut dh, g.mask, d);
        relu_backward(&mut dh, &trace.embed_pre);
        dense_grads(&self.embed, g.features, &dh, rows, &mut grads.embed);
        grads
    }

    /// Forward pass of a whole batch, chunk by chunk in parallel, keeping each chunk's trace in
    /// `traces` (reusing the buffers of the traces it holds).
    pub fn embed_traced(&self, batch: &GraphBatch, traces: &mut Vec<Trace>) -> Vec<f32> {
        let g = Graphs::of(batch);
        let ranges = chunks(g.len());
        traces.resize_with(ranges.len(), Trace::default);
        let parts: Vec<Vec<f32>> = ranges
            .par_iter()
            .zip(traces.par_iter_mut())
            .map(|(&(s, e), trace)| self.embed_chunk(&g.slice(s, e), Some(trace), Kernel::Fast))
            .collect();
        parts.concat()
    }

    /// The weights' gradient for a whole batch given `d_emb` `[len, hidden]`, chunks in
    /// parallel, summed in chunk order.
    pub fn backward(&self, batch: &GraphBatch, traces: &[Trace], d_emb: &[f32]) -> Grads {
        let g = Graphs::of(batch);
        let d = self.hidden();
        let parts: Vec<Grads> = chunks(g.len())
            .par_iter()
            .zip(traces)
            .map(|(&(s, e), t)| self.backward_chunk(&g.slice(s, e), t, &d_emb[s * d..e * d]))
            .collect();
        let mut total = Grads::zeros(self);
        for p in &parts {
            total.add(p);
        }
        total
    }
}

/// The `[start, end)` graph ranges of a batch of `len` graphs.
fn chunks(len: usize) -> Vec<(usize, usize)> {
    (0..len)
        .step_by(CHUNK)
        .map(|s| (s, (s + CHUNK).min(len)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;
    use crate::model::{BatchTensors, ModelConfig};
    use burn::tensor::{Tensor, TensorData};
    use dcl_graph::{EncodingShape, GraphSpace, Nb101Space, SearchSpace};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    type B = CpuBackend;

    #[test]
    fn the_native_pairwise_loss_and_score_head_give_burns_values_and_gradients() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let device = Default::default();
        let model = RankerModel::<B>::new(8, ModelConfig::default(), &mut rng, &device);
        let n = 50;
        let emb: Vec<f32> = (0..n * 64).map(|_| rng.random_range(-1.0..1.0)).collect();
        // Ties included: they are not pairs.
        let y: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
        let leaf = Tensor::<B, 2>::from_data(TensorData::new(emb.clone(), [n, 64]), &device)
            .require_grad();
        let yt = Tensor::<B, 1>::from_data(TensorData::new(y.clone(), [n]), &device);
        let loss = dcl_contrastive::pairwise_logistic(model.score(leaf.clone()), yt, 0.7).unwrap();
        let burn_loss = f64::from(loss.clone().into_scalar());
        let grads = loss.backward();
        let burn_d_emb: Vec<f32> = leaf.grad(&grads).unwrap().into_data().to_vec().unwrap();

        let encoder = Encoder::of(&model);
        let (scores, trace) = encoder.score.forward(&emb, n, Kernel::Fast);
        let (value, d_scores) = loss::pairwise_logistic(&scores, &y, 0.7);
        assert!((value - burn_loss).abs() < 1e-5, "{value} vs {burn_loss}");
        let (head, d_emb) = encoder.score.backward(&emb, &trace, &d_scores);
        // The score2 bias's true gradient is zero (the loss depends on score differences
        // only): both sides hold rounding noise there, hence the absolute floor.
        let close = |ours: &[f32], theirs: &[f32], what: &str| {
            let scale = theirs.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (a, b) in ours.iter().zip(theirs) {
                assert!((a - b).abs() <= 1e-4 * scale, "{what}: {a} vs {b}");
            }
        };
        close(&d_emb, &burn_d_emb, "embeddings");
        let (s1, s2) = model.score_parts();
        for (lin, (gw, gb), what) in [(s1, &head[0], "score1"), (s2, &head[1], "score2")] {
            let bw: Vec<f32> = lin
                .weight
                .val()
                .grad(&grads)
                .unwrap()
                .into_data()
                .to_vec()
                .unwrap();
            let bias = lin.bias.as_ref().unwrap().val();
            let bb: Vec<f32> = bias.grad(&grads).unwrap().into_data().to_vec().unwrap();
            close(gw, &bw, what);
            close(gb, &bb, what);
        }
    }

    /// Gradients of every encoder weight under burn's autodiff and under the native backward
    /// pass, for the loss `Σ w_i score_i + Σ c_ij emb_ij` (random `w`, `c`) on padded NB101
    /// graphs spanning three chunks.
    #[test]
    fn the_native_backward_pass_gives_burns_gradients() {
        let space = Nb101Space::new();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let graphs: Vec<_> = (0..150)
            .map(|_| space.to_graph(&space.sample(&mut rng)).unwrap())
            .collect();
        let batch = GraphBatch::from_graphs(EncodingShape::of(&space), &graphs).unwrap();
        let cfg = ModelConfig::default();
        let device = Default::default();
        let model = RankerModel::<B>::new(batch.shape().feature_dim(), cfg, &mut rng, &device);
        let w: Vec<f32> = (0..150).map(|_| rng.random_range(-1.0..1.0)).collect();
        let c: Vec<f32> = (0..150 * cfg.hidden)
            .map(|_| rng.random_range(-0.1..0.1))
            .collect();
        let loss = |emb: Tensor<B, 2>| {
            let wt = Tensor::<B, 1>::from_data(TensorData::new(w.clone(), [150]), &device);
            let ct = Tensor::<B, 2>::from_data(TensorData::new(c.clone(), [150, 64]), &device);
            (model.score(emb.clone()) * wt).sum() + (emb * ct).sum()
        };

        let emb = model.embed(&BatchTensors::new(&batch, &device));
        let burn_emb: Vec<f32> = emb.clone().into_data().to_vec().unwrap();
        let burn_grads = loss(emb).backward();

        let encoder = Encoder::of(&model);
        let mut traces = Vec::new();
        let native_emb = encoder.embed_traced(&batch, &mut traces);
        // Training's kernels sum in another order than burn's: equal up to rounding.
        for (a, b) in native_emb.iter().zip(&burn_emb) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
        assert_eq!(
            encoder.embed_all(&batch),
            burn_emb,
            "scoring's kernels: the same bits"
        );
        let leaf = Tensor::<B, 2>::from_data(TensorData::new(native_emb, [150, 64]), &device)
            .require_grad();
        let mut grads = loss(leaf.clone()).backward();
        let d_emb: Vec<f32> = leaf
            .grad_remove(&mut grads)
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        let native = encoder.backward(&batch, &traces, &d_emb);

        let (embed, layers, readout) = model.encoder_parts();
        let mut pairs = vec![(embed, &native.embed, "embed".to_string())];
        for (i, ((l1, l2), [g1, g2])) in layers.into_iter().zip(&native.layers).enumerate() {
            pairs.push((l1, g1, format!("layers[{i}].lin1")));
            pairs.push((l2, g2, format!("layers[{i}].lin2")));
        }
        pairs.push((readout, &native.readout, "readout".into()));
        for (lin, (gw, gb), name) in pairs {
            let bw: Vec<f32> = lin
                .weight
                .val()
                .grad(&burn_grads)
                .unwrap()
                .into_data()
                .to_vec()
                .unwrap();
            let bias = lin.bias.as_ref().unwrap().val();
            let bb: Vec<f32> = bias
                .grad(&burn_grads)
                .unwrap()
                .into_data()
                .to_vec()
                .unwrap();
            for (what, ours, theirs) in [("weight", gw, &bw), ("bias", gb, &bb)] {
                let scale = theirs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert!(scale > 0.0, "{name}.{what} has a gradient");
                for (i, (a, b)) in ours.iter().zip(theirs.iter()).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-4 * scale,
                        "{name}.{what}[{i}]: native {a}, burn {b} (scale {scale})"
                    );
                }
            }
        }
    }
}
