//! The engine's CPU kernels. Maps are stored channel-major, `[channels, batch, length]`, so
//! that a convolution over the whole batch is one product and a channel's batch-norm
//! statistics are one contiguous run.
//!
//! Determinism: every parallel loop splits its work into pieces fixed by the shapes alone
//! (never by the thread count) and each piece sums in a fixed order, so the results are the
//! same bit for bit on any number of threads.

use gemm_common::Parallelism;
use rayon::prelude::*;

/// Products below this many multiply-adds run as one call on the calling thread.
const SMALL_PRODUCT: usize = 1 << 16;
/// Columns per piece of a wide product.
const COLUMN_PIECE: usize = 256;
/// Inner-dimension terms per piece of a deep, narrow product (weight gradients).
const DEPTH_PIECE: usize = 2048;
/// Rows per piece of a tall, narrow product.
const ROW_PIECE: usize = 256;

/// A raw pointer that pieces of one output share; each piece writes its own elements.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: the pieces that receive it write disjoint elements (see `sgemm`).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// One `gemm` call: `c (+)= op(a) op(b)` through raw strides, on the calling thread.
///
/// # Safety
/// The strides must address `op(a)` `[m, k]`, `op(b)` `[k, n]` and `c` `[m, n]` (row stride
/// `rsc`, column stride 1) inside live allocations, and no other thread may write those `c`
/// elements meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    c: *mut f32,
    rsc: isize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    let gemm = gemm_f32::gemm::f32::get_gemm_fn();
    // The kernel takes column strides before row strides and prefers a column-major
    // destination, so a row-major `c` is computed as `cᵀ = op(b)ᵀ op(a)ᵀ`, as the `gemm`
    // crate's generic entry point would arrange it.
    let (rows, cols, c_cs, c_rs, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs) = if rsc > 1 {
        (n, m, rsc, 1, b, rsb, csb, a, rsa, csa)
    } else {
        (m, n, 1, rsc, a, csa, rsa, b, csb, rsb)
    };
    // SAFETY: as the caller promised.
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
}

/// A read-only matrix inside a slice: element `(i, j)` at `offset + i rs + j cs`. Rows may
/// overlap (a convolution's input read as its unfolded matrix without copying it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    data: &'a [f32],
    offset: usize,
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    /// Element `(i, j)` at `offset + i rs + j cs` of `data`.
    pub fn new(data: &'a [f32], offset: usize, rs: usize, cs: usize) -> Self {
        Self {
            data,
            offset,
            rs,
            cs,
        }
    }

    /// A `[rows, cols]` matrix stored row-major, or, if `transposed`, the transpose of a
    /// row-major `[cols, rows]` one.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize, transposed: bool) -> Self {
        if transposed {
            Self::new(data, 0, 1, rows)
        } else {
            Self::new(data, 0, cols, 1)
        }
    }

    /// Whether every element of a `[rows, cols]` matrix lies inside the slice.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || self.offset + (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// `c (+)= op(a) op(b)`, all row-major, `op(a)` `[m, k]`, `op(b)` `[k, n]`, `c` `[m, n]`;
/// `ta`/`tb` read `a`/`b` transposed. See [`sgemm_view`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
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
    assert!(a.len() >= m * k && b.len() >= k * n);
    sgemm_view(
        m,
        k,
        n,
        View::row_major(a, m, k, ta),
        View::row_major(b, k, n, tb),
        c,
        accumulate,
    );
}

/// `c (+)= a b`, `a` `[m, k]` and `b` `[k, n]` strided views, `c` row-major `[m, n]`. Large
/// products are cut into pieces fixed by the shapes (columns of a wide product, the inner
/// dimension of a deep one, rows of a tall one) that run in parallel.
pub(crate) fn sgemm_view(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: View<'_>,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(a.fits(m, k) && b.fits(k, n) && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let (rsa, csa) = (a.rs as isize, a.cs as isize);
    let (rsb, csb) = (b.rs as isize, b.cs as isize);
    // SAFETY (of every use below): `fits` checked that the views' elements lie in their slices.
    let (ap, bp) = (
        a.data[a.offset..].as_ptr() as usize,
        b.data[b.offset..].as_ptr() as usize,
    );
    let cp = Shared(c.as_mut_ptr());
    let whole = m * k * n < SMALL_PRODUCT;
    if !whole && n >= 2 * COLUMN_PIECE {
        (0..n.div_ceil(COLUMN_PIECE))
            .into_par_iter()
            .for_each(|piece| {
                let j0 = piece * COLUMN_PIECE;
                let cols = COLUMN_PIECE.min(n - j0);
                // SAFETY: columns j0..j0+cols of op(b) and of c, inside the slices; pieces write
                // disjoint columns of c.
                unsafe {
                    gemm_raw(
                        m,
                        k,
                        cols,
                        ap as *const f32,
                        rsa,
                        csa,
                        (bp as *const f32).offset(j0 as isize * csb),
                        rsb,
                        csb,
                        cp.get().add(j0),
                        n as isize,
                        accumulate,
                    )
                };
            });
    } else if !whole && k >= 2 * DEPTH_PIECE {
        // Partial products over fixed runs of the inner dimension, summed in order.
        let pieces = k.div_ceil(DEPTH_PIECE);
        let partial: Vec<Vec<f32>> = (0..pieces)
            .into_par_iter()
            .map(|piece| {
                let p0 = piece * DEPTH_PIECE;
                let depth = DEPTH_PIECE.min(k - p0);
                let mut out = vec![0.0f32; m * n];
                // SAFETY: inner indices p0..p0+depth of op(a) and op(b), inside the slices;
                // `out` is this piece's own.
                unsafe {
                    gemm_raw(
                        m,
                        depth,
                        n,
                        (ap as *const f32).offset(p0 as isize * csa),
                        rsa,
                        csa,
                        (bp as *const f32).offset(p0 as isize * rsb),
                        rsb,
                        csb,
                        out.as_mut_ptr(),
                        n as isize,
                        false,
                    )
                };
                out
            })
            .collect();
        let c = &mut c[..m * n];
        if !accumulate {
            c.fill(0.0);
        }
        for part in &partial {
            for (x, p) in c.iter_mut().zip(part) {
                *x += p;
            }
        }
    } else if !whole && m >= 2 * ROW_PIECE {
        (0..m.div_ceil(ROW_PIECE))
            .into_par_iter()
            .for_each(|piece| {
                let i0 = piece * ROW_PIECE;
                let rows = ROW_PIECE.min(m - i0);
                // SAFETY: rows i0..i0+rows of op(a) and of c; pieces write disjoint rows.
                unsafe {
                    gemm_raw(
                        rows,
                        k,
                        n,
                        (ap as *const f32).offset(i0 as isize * rsa),
                        rsa,
                        csa,
                        bp as *const f32,
                        rsb,
                        csb,
                        cp.get().add(i0 * n),
                        n as isize,
                        accumulate,
                    )
                };
            });
    } else {
        // SAFETY: the strides address the checked slices; one call, this thread.
        unsafe {
            gemm_raw(
                m,
                k,
                n,
                ap as *const f32,
                rsa,
                csa,
                bp as *const f32,
                rsb,
                csb,
                c.as_mut_ptr(),
                n as isize,
                accumulate,
            )
        };
    }
}

/// Geometry of a 1-D window over a map: `[channels, batch, length]` in, `length_out` windows
/// of `kernel` samples at `stride`, starting `padding` samples before the signal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub channels: usize,
    pub batch: usize,
    pub length: usize,
    pub length_out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Window {
    /// The channels-last layout a stride-1 convolution reads its input from, or `None` where
    /// it unfolds it (a stride above 1, or padding as wide as the kernel).
    pub fn lanes(&self) -> Option<Lanes> {
        (self.stride == 1 && self.padding < self.kernel).then(|| Lanes {
            channels: self.channels,
            batch: self.batch,
            length: self.length,
            // Wide enough for the forward pass's windows (`padding` before a sample) and
            // the input gradient's (`kernel - 1 - padding` after it).
            pad: self.padding.max(self.kernel - 1 - self.padding),
        })
    }

    /// The outputs `t` whose tap `j` falls inside the signal: `t0..t1`.
    fn valid_outputs(&self, j: usize) -> (usize, usize) {
        let (s, p, l) = (self.stride, self.padding, self.length);
        // t s + j - p >= 0  and  t s + j - p < l
        let t0 = if j >= p { 0 } else { (p - j).div_ceil(s) };
        let t1 = if l + p > j {
            (l + p - j).div_ceil(s)
        } else {
            0
        };
        (
            t0.min(self.length_out),
            t1.min(self.length_out).max(t0.min(self.length_out)),
        )
    }
}

/// A channel-major map laid out channels-last for a stride-1 convolution: each sample's
/// `length` positions padded with `pad` zero rows on both sides (a sample takes
/// `length + 2 pad` rows of `channels` values), and `pad` zero rows more before the first
/// sample and after the last. Read through a [`View`] with row stride `channels`, a run of
/// `kernel` consecutive rows is one window of the convolution: no unfolded copy is needed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lanes {
    pub channels: usize,
    pub batch: usize,
    pub length: usize,
    pub pad: usize,
}

impl Lanes {
    /// Rows per sample.
    pub fn sample_rows(&self) -> usize {
        self.length + 2 * self.pad
    }

    /// Rows the products run over: every sample's, pads included.
    pub fn rows(&self) -> usize {
        self.batch * self.sample_rows()
    }

    /// Values of the whole buffer, margins included.
    pub fn len(&self) -> usize {
        (self.rows() + 2 * self.pad) * self.channels
    }

    /// Writes channel-major `x` (`[channels, batch, valid]`, `valid <= length`) into the
    /// first [`len`](Self::len) values of `out` (grown if shorter); every other row is zero.
    pub fn fill(&self, x: &[f32], valid: usize, out: &mut Vec<f32>) {
        let (c, b, p) = (self.channels, self.batch, self.pad);
        let per = self.sample_rows() * c;
        if out.len() < self.len() {
            out.resize(self.len(), 0.0);
        }
        let (margin, rest) = out[..self.len()].split_at_mut(p * c);
        margin.fill(0.0);
        let (samples, margin) = rest.split_at_mut(b * per);
        margin.fill(0.0);
        samples
            .par_chunks_mut(per)
            .enumerate()
            .for_each(|(s, rows)| {
                rows[..p * c].fill(0.0);
                rows[(p + valid) * c..].fill(0.0);
                for ch in 0..c {
                    let src = &x[(ch * b + s) * valid..][..valid];
                    for (j, &v) in src.iter().enumerate() {
                        rows[(p + j) * c + ch] = v;
                    }
                }
            });
    }

    /// Reads the rows of product rows `y` (`[rows(), channels]`, without the margins) back
    /// into channel-major `out` (`[channels, batch, valid]`), adding if `add`.
    pub fn read(&self, y: &[f32], valid: usize, out: &mut [f32], add: bool) {
        // Channels in groups, samples in order within a group: a sample's rows stay in cache
        // while the group's channels are read from them.
        const GROUP: usize = 8;
        let (c, b, p, lp) = (self.channels, self.batch, self.pad, self.sample_rows());
        out[..c * b * valid]
            .par_chunks_mut(GROUP * b * valid)
            .enumerate()
            .for_each(|(g, dst)| {
                let channels = dst.len() / (b * valid);
                for s in 0..b {
                    let rows = &y[(s * lp + p) * c..][..valid * c];
                    for k in 0..channels {
                        let ch = g * GROUP + k;
                        let d = &mut dst[(k * b + s) * valid..][..valid];
                        let column = rows.iter().skip(ch).step_by(c);
                        if add {
                            d.iter_mut().zip(column).for_each(|(v, &r)| *v += r);
                        } else {
                            d.iter_mut().zip(column).for_each(|(v, &r)| *v = r);
                        }
                    }
                }
            });
    }
}

/// Buffers the convolutions reuse from layer to layer.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConvScratch {
    /// A product's rows, channels-last, or an unfolded input gradient.
    rows: Vec<f32>,
    /// An output gradient, channels-last ([`Lanes`]).
    grad: Vec<f32>,
    /// Weights or their gradient, reordered for a channels-last product.
    weights: Vec<f32>,
}

/// Makes `buf` hold at least `n` values; a scratch buffer shared by layers of different
/// sizes only grows, so it is not zeroed again at every layer.
fn grow(buf: &mut Vec<f32>, n: usize) {
    if buf.len() < n {
        buf.resize(n, 0.0);
    }
}

/// A convolution without bias: `weights` `[c_out, channels, kernel]` over `window`.
/// Stride 1 reads the input channels-last ([`Lanes`]); other strides unfold it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv<'a> {
    pub window: Window,
    pub weights: &'a [f32],
    pub c_out: usize,
}

impl Conv<'_> {
    /// `y` (`[c_out, batch, length_out]`) from `x`; `input` keeps what
    /// [`backward`](Self::backward) needs.
    pub fn forward(
        &self,
        x: &[f32],
        input: &mut Vec<f32>,
        scratch: &mut ConvScratch,
        y: &mut [f32],
    ) {
        match self.window.lanes() {
            Some(lanes) => self.lanes_forward(lanes, x, input, scratch, y),
            None => self.unfold_forward(x, input, y),
        }
    }

    /// Adds the weight gradient into `dweights` and, if given, the input gradient into `dx`;
    /// `input` is what the forward pass kept.
    pub fn backward(
        &self,
        dy: &[f32],
        input: &[f32],
        scratch: &mut ConvScratch,
        dweights: &mut [f32],
        dx: Option<&mut [f32]>,
    ) {
        match self.window.lanes() {
            Some(lanes) => self.lanes_backward(lanes, dy, input, scratch, dweights, dx),
            None => self.unfold_backward(dy, input, scratch, dweights, dx),
        }
    }

    fn lanes_forward(
        &self,
        lanes: Lanes,
        x: &[f32],
        input: &mut Vec<f32>,
        scratch: &mut ConvScratch,
        y: &mut [f32],
    ) {
        let (w, weights, c_out) = (&self.window, self.weights, self.c_out);
        let (c_in, kernel) = (w.channels, w.kernel);
        lanes.fill(x, w.length, input);
        // Weights as [(tap, input channel), output channel].
        let ws = &mut scratch.weights;
        grow(ws, kernel * c_in * c_out);
        for o in 0..c_out {
            for c in 0..c_in {
                for t in 0..kernel {
                    ws[(t * c_in + c) * c_out + o] = weights[(o * c_in + c) * kernel + t];
                }
            }
        }
        // Output row r reads input rows r - padding .. r - padding + kernel.
        let rows = lanes.rows();
        grow(&mut scratch.rows, rows * c_out);
        sgemm_view(
            rows,
            kernel * c_in,
            c_out,
            View::new(input, (lanes.pad - w.padding) * c_in, c_in, 1),
            View::new(ws, 0, c_out, 1),
            &mut scratch.rows,
            false,
        );
        let out = Lanes {
            channels: c_out,
            ..lanes
        };
        out.read(&scratch.rows, w.length_out, y, false);
    }

    fn lanes_backward(
        &self,
        lanes: Lanes,
        dy: &[f32],
        input: &[f32],
        scratch: &mut ConvScratch,
        dweights: &mut [f32],
        dx: Option<&mut [f32]>,
    ) {
        let (w, weights, c_out) = (&self.window, self.weights, self.c_out);
        let (c_in, kernel) = (w.channels, w.kernel);
        let (p, rows) = (lanes.pad, lanes.rows());
        let out = Lanes {
            channels: c_out,
            ..lanes
        };
        out.fill(dy, w.length_out, &mut scratch.grad);
        // The weight gradient as [(tap, input channel), output channel]: the input's windows,
        // transposed, times the output gradient's rows.
        grow(&mut scratch.weights, kernel * c_in * c_out);
        sgemm_view(
            kernel * c_in,
            rows,
            c_out,
            View::new(input, (p - w.padding) * c_in, 1, c_in),
            View::new(&scratch.grad, p * c_out, c_out, 1),
            &mut scratch.weights,
            false,
        );
        for o in 0..c_out {
            for c in 0..c_in {
                for t in 0..kernel {
                    dweights[(o * c_in + c) * kernel + t] +=
                        scratch.weights[(t * c_in + c) * c_out + o];
                }
            }
        }
        if let Some(dx) = dx {
            // A convolution of the output gradient with the flipped kernel: input row r reads
            // output rows r + padding + 1 - kernel .. r + padding + 1.
            for t in 0..kernel {
                for o in 0..c_out {
                    for c in 0..c_in {
                        scratch.weights[(t * c_out + o) * c_in + c] =
                            weights[(o * c_in + c) * kernel + kernel - 1 - t];
                    }
                }
            }
            grow(&mut scratch.rows, rows * c_in);
            sgemm_view(
                rows,
                kernel * c_out,
                c_in,
                View::new(
                    &scratch.grad,
                    (p + w.padding + 1 - kernel) * c_out,
                    c_out,
                    1,
                ),
                View::new(&scratch.weights, 0, c_in, 1),
                &mut scratch.rows,
                false,
            );
            lanes.read(&scratch.rows, w.length, dx, true);
        }
    }

    fn unfold_forward(&self, x: &[f32], input: &mut Vec<f32>, y: &mut [f32]) {
        let (w, weights, c_out) = (&self.window, self.weights, self.c_out);
        let cols = w.batch * w.length_out;
        let depth = w.channels * w.kernel;
        input.resize(depth * cols, 0.0);
        im2col(x, w, input);
        sgemm(c_out, depth, cols, weights, false, input, false, y, false);
    }

    fn unfold_backward(
        &self,
        dy: &[f32],
        input: &[f32],
        scratch: &mut ConvScratch,
        dweights: &mut [f32],
        dx: Option<&mut [f32]>,
    ) {
        let (w, weights, c_out) = (&self.window, self.weights, self.c_out);
        let cols = w.batch * w.length_out;
        let depth = w.channels * w.kernel;
        sgemm(c_out, cols, depth, dy, false, input, true, dweights, true);
        if let Some(dx) = dx {
            grow(&mut scratch.rows, depth * cols);
            sgemm(
                depth,
                c_out,
                cols,
                weights,
                true,
                dy,
                false,
                &mut scratch.rows,
                false,
            );
            col2im_add(&scratch.rows, w, dx);
        }
    }
}

/// Unfolds a map into columns: `col[(c k + j), (b L_out + t)] = x[c, b, t s + j - p]`, zero
/// outside the signal.
pub(crate) fn im2col(x: &[f32], w: &Window, col: &mut [f32]) {
    let (lo, l, k) = (w.length_out, w.length, w.kernel);
    let row = w.batch * lo;
    col[..w.channels * k * row]
        .par_chunks_mut(row)
        .enumerate()
        .for_each(|(r, out)| {
            let (c, j) = (r / k, r % k);
            let (t0, t1) = w.valid_outputs(j);
            for b in 0..w.batch {
                let src = &x[(c * w.batch + b) * l..(c * w.batch + b + 1) * l];
                let dst = &mut out[b * lo..(b + 1) * lo];
                dst[..t0].fill(0.0);
                dst[t1..].fill(0.0);
                if w.stride == 1 {
                    let p0 = t0 + j - w.padding;
                    dst[t0..t1].copy_from_slice(&src[p0..p0 + (t1 - t0)]);
                } else {
                    for t in t0..t1 {
                        dst[t] = src[t * w.stride + j - w.padding];
                    }
                }
            }
        });
}

/// Folds columns back, adding: the adjoint of [`im2col`], `dx[c, b, t s + j - p] +=
/// dcol[(c k + j), (b L_out + t)]`.
pub(crate) fn col2im_add(dcol: &[f32], w: &Window, dx: &mut [f32]) {
    let (lo, l, k) = (w.length_out, w.length, w.kernel);
    let row = w.batch * lo;
    dx[..w.channels * w.batch * l]
        .par_chunks_mut(w.batch * l)
        .enumerate()
        .for_each(|(c, dxc)| {
            for j in 0..k {
                let (t0, t1) = w.valid_outputs(j);
                let src = &dcol[(c * k + j) * row..(c * k + j + 1) * row];
                for b in 0..w.batch {
                    let d = &mut dxc[b * l..(b + 1) * l];
                    let s = &src[b * lo..(b + 1) * lo];
                    if w.stride == 1 {
                        let p0 = t0 + j - w.padding;
                        for (x, g) in d[p0..p0 + (t1 - t0)].iter_mut().zip(&s[t0..t1]) {
                            *x += g;
                        }
                    } else {
                        for t in t0..t1 {
                            d[t * w.stride + j - w.padding] += s[t];
                        }
                    }
                }
            }
        });
}

impl Window {
    /// How many taps of each output window fall inside the signal (at least 1).
    fn taps_inside(&self) -> Vec<f32> {
        let mut n = vec![0u32; self.length_out];
        for j in 0..self.kernel {
            let (t0, t1) = self.valid_outputs(j);
            n[t0..t1].iter_mut().for_each(|n| *n += 1);
        }
        n.into_iter().map(|n| n.max(1) as f32).collect()
    }
}

/// Average pooling over windows, dividing by the taps inside the signal.
pub(crate) fn avg_pool(x: &[f32], w: &Window, y: &mut [f32]) {
    let (l, lo, s) = (w.length, w.length_out, w.stride);
    let taps = w.taps_inside();
    y[..w.channels * w.batch * lo]
        .par_chunks_mut(w.batch * lo)
        .zip(x.par_chunks(w.batch * l))
        .for_each(|(yc, xc)| {
            for b in 0..w.batch {
                let src = &xc[b * l..(b + 1) * l];
                let dst = &mut yc[b * lo..(b + 1) * lo];
                dst.fill(0.0);
                // Tap by tap over the outputs it reaches: a contiguous run at stride 1.
                for j in 0..w.kernel {
                    let (t0, t1) = w.valid_outputs(j);
                    if t0 >= t1 {
                        continue;
                    }
                    let p0 = t0 * s + j - w.padding;
                    for (k, d) in dst[t0..t1].iter_mut().enumerate() {
                        *d += src[p0 + k * s];
                    }
                }
                dst.iter_mut().zip(&taps).for_each(|(d, &n)| *d /= n);
            }
        });
}

/// The adjoint of [`avg_pool`], adding into `dx`.
pub(crate) fn avg_pool_backward_add(dy: &[f32], w: &Window, dx: &mut [f32]) {
    let (l, lo, s) = (w.length, w.length_out, w.stride);
    let taps = w.taps_inside();
    dx[..w.channels * w.batch * l]
        .par_chunks_mut(w.batch * l)
        .zip(dy.par_chunks(w.batch * lo))
        .for_each(|(dxc, dyc)| {
            let mut g = vec![0.0f32; lo];
            for b in 0..w.batch {
                let d = &mut dxc[b * l..(b + 1) * l];
                g.iter_mut()
                    .zip(&dyc[b * lo..(b + 1) * lo])
                    .zip(&taps)
                    .for_each(|((g, &dy), &n)| *g = dy / n);
                for j in 0..w.kernel {
                    let (t0, t1) = w.valid_outputs(j);
                    if t0 >= t1 {
                        continue;
                    }
                    let p0 = t0 * s + j - w.padding;
                    for (k, &g) in g[t0..t1].iter().enumerate() {
                        d[p0 + k * s] += g;
                    }
                }
            }
        });
}

/// Max pooling without padding; `arg` receives each window's first maximum's position.
pub(crate) fn max_pool(x: &[f32], w: &Window, y: &mut [f32], arg: &mut [u32]) {
    let (l, lo) = (w.length, w.length_out);
    y[..w.channels * w.batch * lo]
        .par_chunks_mut(w.batch * lo)
        .zip(arg.par_chunks_mut(w.batch * lo))
        .zip(x.par_chunks(w.batch * l))
        .for_each(|((yc, ac), xc)| {
            for b in 0..w.batch {
                let src = &xc[b * l..(b + 1) * l];
                for t in 0..lo {
                    let start = t * w.stride;
                    let mut best = start;
                    for p in start + 1..start + w.kernel {
                        if src[p] > src[best] {
                            best = p;
                        }
                    }
                    yc[b * lo + t] = src[best];
                    ac[b * lo + t] = best as u32;
                }
            }
        });
}

/// The adjoint of [`max_pool`], adding into `dx`.
pub(crate) fn max_pool_backward_add(dy: &[f32], arg: &[u32], w: &Window, dx: &mut [f32]) {
    let (l, lo) = (w.length, w.length_out);
    dx[..w.channels * w.batch * l]
        .par_chunks_mut(w.batch * l)
        .zip(
            dy.par_chunks(w.batch * lo)
                .zip(arg.par_chunks(w.batch * lo)),
        )
        .for_each(|(dxc, (dyc, ac))| {
            for b in 0..w.batch {
                for t in 0..lo {
                    dxc[b * l + ac[b * lo + t] as usize] += dyc[b * lo + t];
                }
            }
        });
}

/// `sum f(x_i)` in f64 over eight interleaved partial sums, added in a fixed order: it
/// vectorises, and the result does not depend on the thread count.
#[inline]
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += f(c[k]);
        }
    }
    rest.iter().fold(acc.iter().sum::<f64>(), |s, &v| s + f(v))
}

/// `sum f(x_i, y_i)`, as [`lane_sum`].
#[inline]
fn lane_sum2(x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for k in 0..8 {
            acc[k] += f(a[k], b[k]);
        }
    }
    xr.iter()
        .zip(yr)
        .fold(acc.iter().sum::<f64>(), |s, (&a, &b)| s + f(a, b))
}

/// The sum of `x` in f64 (see [`lane_sum`]).
pub(crate) fn sum(x: &[f32]) -> f64 {
    lane_sum(x, f64::from)
}

/// Per-channel batch statistics of a map `[channels, n]`: mean and biased variance.
pub(crate) fn channel_stats(x: &[f32], n: usize, mean: &mut [f32], var: &mut [f32]) {
    mean.par_iter_mut()
        .zip(var.par_iter_mut())
        .zip(x.par_chunks(n))
        .for_each(|((m, v), xc)| {
            let mu = sum(xc) / n as f64;
            let var = lane_sum(xc, |a| (f64::from(a) - mu).powi(2)) / n as f64;
            *m = mu as f32;
            *v = var as f32;
        });
}

/// `y = (x - mean) scale + beta` per channel, `scale = gamma / sqrt(var + eps)`.
pub(crate) fn normalize(
    x: &[f32],
    n: usize,
    mean: &[f32],
    scale: &[f32],
    beta: &[f32],
    y: &mut [f32],
) {
    y.par_chunks_mut(n)
        .zip(x.par_chunks(n))
        .enumerate()
        .for_each(|(c, (yc, xc))| {
            let (m, s, b) = (mean[c], scale[c], beta[c]);
            for (o, &a) in yc.iter_mut().zip(xc) {
                *o = (a - m) * s + b;
            }
        });
}

/// Batch norm's backward in training mode, adding into `dx` and the parameter gradients:
/// with `xhat = (x - mean) inv_std`, `dgamma = sum dy xhat`, `dbeta = sum dy`,
/// `dx = gamma inv_std (dy - mean(dy) - xhat mean(dy xhat))`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_norm_backward(
    x: &[f32],
    dy: &[f32],
    n: usize,
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    dx: Option<&mut [f32]>,
) {
    let sums: Vec<(f64, f64)> = x
        .par_chunks(n)
        .zip(dy.par_chunks(n))
        .enumerate()
        .map(|(c, (xc, dyc))| {
            let (m, is) = (mean[c], inv_std[c]);
            let sd = sum(dyc);
            let sdx = lane_sum2(xc, dyc, |a, g| f64::from(g) * f64::from((a - m) * is));
            (sd, sdx)
        })
        .collect();
    for (c, &(sd, sdx)) in sums.iter().enumerate() {
        dgamma[c] += sdx as f32;
        dbeta[c] += sd as f32;
    }
    if let Some(dx) = dx {
        dx.par_chunks_mut(n)
            .zip(x.par_chunks(n).zip(dy.par_chunks(n)))
            .enumerate()
            .for_each(|(c, (dxc, (xc, dyc)))| {
                let (m, is) = (mean[c], inv_std[c]);
                let k = gamma[c] * is;
                let md = (sums[c].0 / n as f64) as f32;
                let mdx = (sums[c].1 / n as f64) as f32;
                for ((d, &a), &g) in dxc.iter_mut().zip(xc).zip(dyc) {
                    *d += k * (g - md - (a - m) * is * mdx);
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], ta: bool, b: &[f32], tb: bool) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let av = if ta { a[p * m + i] } else { a[i * k + p] };
                    let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                    c[i * n + j] += f64::from(av) * f64::from(bv);
                }
            }
        }
        c
    }

    /// Every branch of the piece rule: small, wide, deep, tall, and the plain fallback.
    #[test]
    fn sgemm_agrees_with_a_naive_product_in_every_branch() {
        let shapes = [
            (3, 5, 7),
            (8, 40, 700),
            (9, 5000, 20),
            (200, 30, 20),
            (40, 60, 50),
        ];
        for &(m, k, n) in &shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
                    .collect();
                let b: Vec<f32> = (0..k * n)
                    .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.1)
                    .collect();
                let want = naive(m, k, n, &a, ta, &b, tb);
                let mut c = vec![1.0f32; m * n];
                sgemm(m, k, n, &a, ta, &b, tb, &mut c, true);
                for (i, (&got, &w)) in c.iter().zip(&want).enumerate() {
                    let err = (f64::from(got) - 1.0 - w).abs();
                    assert!(
                        err <= 1e-4 * (1.0 + w.abs()),
                        "{m}x{k}x{n} {ta} {tb} [{i}]: {got} vs {w}"
                    );
                }
            }
        }
    }

    /// im2col and col2im are adjoint: <im2col(x), y> = <x, col2im(y)>.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for &(kernel, stride, padding, length) in &[
            (3, 1, 1, 9),
            (5, 1, 2, 7),
            (3, 2, 1, 10),
            (1, 2, 0, 9),
            (7, 1, 3, 4),
        ] {
            let w = Window {
                channels: 2,
                batch: 3,
                length,
                length_out: (length + 2 * padding - kernel) / stride + 1,
                kernel,
                stride,
                padding,
            };
            let x: Vec<f32> = (0..2 * 3 * length)
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let rows = 2 * kernel * 3 * w.length_out;
            let y: Vec<f32> = (0..rows).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut col = vec![f32::NAN; rows];
            im2col(&x, &w, &mut col);
            let mut dx = vec![0.0; x.len()];
            col2im_add(&y, &w, &mut dx);
            let lhs: f64 = col
                .iter()
                .zip(&y)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            let rhs: f64 = x
                .iter()
                .zip(&dx)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            assert!(
                (lhs - rhs).abs() < 1e-4,
                "{kernel}/{stride}/{padding}: {lhs} vs {rhs}"
            );
        }
    }

    /// A stride-1 convolution read channels-last (without unfolding) gives the unfolded
    /// product's output, weight gradient and input gradient, for every padding below the
    /// kernel's width, odd and even kernels, and a scratch shared with a larger layer.
    #[test]
    fn channels_last_convolution_matches_the_unfolded_one() {
        for &(kernel, padding, length) in &[
            (3, 1, 9),
            (5, 2, 7),
            (1, 0, 6),
            (3, 0, 8),
            (3, 2, 5),
            (2, 1, 6),
            (4, 1, 7),
            (7, 3, 4),
        ] {
            let (c_in, c_out, batch) = (3, 4, 5);
            let w = Window {
                channels: c_in,
                batch,
                length,
                length_out: length + 2 * padding + 1 - kernel,
                kernel,
                stride: 1,
                padding,
            };
            let lanes = w.lanes().expect("stride 1, padding below the kernel");
            let x: Vec<f32> = (0..c_in * batch * length)
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let weights: Vec<f32> = (0..c_out * c_in * kernel)
                .map(|i| (i as f32 * 0.23).cos())
                .collect();
            let out = c_out * batch * w.length_out;
            let dy: Vec<f32> = (0..out).map(|i| (i as f32 * 0.11).cos()).collect();
            // A scratch left large and dirty by an earlier layer.
            let mut scratch = ConvScratch {
                rows: vec![f32::NAN; 4096],
                grad: vec![f32::NAN; 4096],
                weights: vec![f32::NAN; 512],
            };
            let conv = Conv {
                window: w,
                weights: &weights,
                c_out,
            };
            let (mut kept, mut y) = (vec![f32::NAN; 4096], vec![0.0; out]);
            conv.lanes_forward(lanes, &x, &mut kept, &mut scratch, &mut y);
            let (mut dw, mut dx) = (vec![0.5; weights.len()], vec![0.25; x.len()]);
            let dxr = Some(&mut dx[..]);
            conv.lanes_backward(lanes, &dy, &kept, &mut scratch, &mut dw, dxr);

            let mut scratch = ConvScratch::default();
            let (mut kept, mut y_want) = (Vec::new(), vec![0.0; out]);
            conv.unfold_forward(&x, &mut kept, &mut y_want);
            let (mut dw_want, mut dx_want) = (vec![0.5; weights.len()], vec![0.25; x.len()]);
            let dxr = Some(&mut dx_want[..]);
            conv.unfold_backward(&dy, &kept, &mut scratch, &mut dw_want, dxr);
            for (what, got, want) in [
                ("y", &y, &y_want),
                ("dw", &dw, &dw_want),
                ("dx", &dx, &dx_want),
            ] {
                for (i, (g, e)) in got.iter().zip(want.iter()).enumerate() {
                    assert!(
                        (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "kernel {kernel} padding {padding}: {what}[{i}] {g} vs {e}"
                    );
                }
            }
        }
    }
}
