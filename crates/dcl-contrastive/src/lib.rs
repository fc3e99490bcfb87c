//! # dcl-contrastive
//!
//! The losses of DCL-ENAS, as pure functions generic over burn's [`Backend`]:
//!
//! * [`info_nce`]: stage 1, label-free. InfoNCE / NT-Xent between two batches of view
//!   embeddings: each view must pick its sibling out of all other views of the batch.
//! * [`pairwise_logistic`]: stage 2. Over every ordered pair of a batch whose targets differ,
//!   the better architecture must score higher (a logistic loss on the score difference).
//! * [`pairwise_logistic_soft`]: the same with soft targets, `sigmoid` of the target gap, so
//!   that near-ties (within the label noise) barely count.
//! * [`rank_n_contrast`]: stage 2, in embedding space. Rank-N-Contrast (Zha et al., NeurIPS
//!   2023): for anchor `i` and sample `j`, the negatives are the samples whose target is further
//!   from `i`'s than `j`'s is, so embeddings come to be ordered like the targets.
//!
//! All are numerically stable (log-sum-exp, stable softplus), return a finite zero where no
//! pair exists (a batch of one, all targets tied), and return a typed [`LossError`] for
//! mismatched shapes, empty batches and bad temperatures. They read no data back from the
//! device, so they add no synchronisation to a training step.
//!
//! ## Exact, reproducible gradients
//!
//! burn's autodiff differentiates `log`, `log1p` and tensor division through `recip`, and
//! burn-ndarray 0.21 computes `recip` with the CPU's reciprocal *estimate* (`rcp_ps`, 12 bits)
//! on the SIMD-aligned part of a buffer and exactly on the rest. Gradients through those
//! operations are then off by up to 4e-4 and depend on where the allocator put the buffer, so
//! the same seed does not give the same model. These losses never differentiate through them:
//! [`logsumexp`], [`log_softmax`], [`l2_normalize`] and the softplus of
//! [`pairwise_logistic`] compute their value without a graph and attach the exact derivative
//! (softmax, sigmoid) as a detached slope, so training is bit-for-bit repeatable on every
//! backend.
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::Tensor;
//! use dcl_contrastive::pairwise_logistic;
//!
//! type B = NdArray<f32>;
//! let device = Default::default();
//! let scores = Tensor::<B, 1>::from_floats([2.0, 0.0], &device);
//! let targets = Tensor::<B, 1>::from_floats([90.0, 80.0], &device);
//! // One ordered pair, scored in the right order with margin 2: softplus(-2) = 0.1269...
//! let loss = pairwise_logistic(scores, targets, 1.0).unwrap().into_scalar();
//! assert!((loss - (1.0f32 + (-2.0f32).exp()).ln()).abs() < 1e-6);
//! ```
#![warn(missing_docs)]

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use thiserror::Error;

/// Why a loss could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LossError {
    /// The inputs' shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A batch with no rows.
    #[error("empty batch")]
    Empty,
    /// A temperature that is not a finite positive number.
    #[error("temperature must be finite and positive, got {0}")]
    Temperature(f64),
}

/// Added where a logit must vanish from a softmax: exp(-1e9) is exactly 0 in f32, and unlike
/// -inf it cannot turn a fully masked row into NaN.
const MASKED: f64 = -1e9;

fn check_temperature(t: f64) -> Result<(), LossError> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(LossError::Temperature(t))
    }
}

/// Rows scaled to unit length (a zero row stays zero). Differentiable without a division.
pub fn l2_normalize<B: Backend>(z: Tensor<B, 2>) -> Tensor<B, 2> {
    let inv_norm = z
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .add_scalar(1e-12)
        .powf_scalar(-0.5);
    z * inv_norm
}

/// `slope * x` plus a constant, so that the result equals `value` and its gradient with respect
/// to `x` is `slope` (both `value` and `slope` are taken as constants).
fn with_slope<B: Backend, const D: usize>(
    value: Tensor<B, D>,
    slope: Tensor<B, D>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    let linear = slope.detach() * x;
    linear.clone() + (value.detach() - linear.detach())
}

/// `log(sum(exp(x)))` along `dim` (kept, of size 1), stable for any finite input. Its gradient
/// is the softmax along `dim`, computed exactly (see the crate docs for why this matters).
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// let x = Tensor::<NdArray, 2>::from_floats([[0.0, 0.0], [1000.0, 1000.0]], &Default::default());
/// let lse: Vec<f32> = dcl_contrastive::logsumexp(x, 1).into_data().to_vec().unwrap();
/// assert!((lse[0] - 2f32.ln()).abs() < 1e-6 && (lse[1] - 1000.0 - 2f32.ln()).abs() < 1e-3);
/// ```
pub fn logsumexp<B: Backend, const D: usize>(x: Tensor<B, D>, dim: usize) -> Tensor<B, D> {
    let max = x.clone().detach().max_dim(dim);
    let shifted = x - max.clone();
    let plain = shifted.clone().detach();
    let lse = plain.clone().exp().sum_dim(dim).log(); // no graph: a constant
    let softmax = (plain - lse.clone()).exp();
    let linear = (softmax * shifted).sum_dim(dim);
    linear.clone() + (lse - linear.detach()) + max
}

/// `x - logsumexp(x)` along `dim`: log-probabilities, with exact gradients.
pub fn log_softmax<B: Backend, const D: usize>(x: Tensor<B, D>, dim: usize) -> Tensor<B, D> {
    x.clone() - logsumexp(x, dim)
}

/// InfoNCE / NT-Xent (SimCLR) between two batches of view embeddings `[n, d]`: row `i` of
/// `z1` and row `i` of `z2` are views of one architecture. Over the `2n` views, each one's
/// positive is its sibling and its negatives are the other `2n - 2`; similarity is cosine
/// divided by `temperature`. Returns the mean cross-entropy as a one-element tensor.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// type B = NdArray<f32>;
/// let d = Default::default();
/// // Two architectures whose views agree perfectly and are orthogonal to each other.
/// let z1 = Tensor::<B, 2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &d);
/// let z2 = z1.clone();
/// let loss = dcl_contrastive::info_nce(z1, z2, 1.0).unwrap().into_scalar();
/// // Each view: positive logit 1, two negatives at 0: -log(e / (e + 2)).
/// let e = std::f32::consts::E;
/// assert!((loss - (-(e / (e + 2.0)).ln())).abs() < 1e-5);
/// ```
pub fn info_nce<B: Backend>(
    z1: Tensor<B, 2>,
    z2: Tensor<B, 2>,
    temperature: f64,
) -> Result<Tensor<B, 1>, LossError> {
    check_temperature(temperature)?;
    let [n, d] = z1.dims();
    if z2.dims() != [n, d] {
        return Err(LossError::Shape(format!(
            "views have shapes {:?} and {:?}",
            z1.dims(),
            z2.dims()
        )));
    }
    if n == 0 || d == 0 {
        return Err(LossError::Empty);
    }
    let device = z1.device();
    let z = l2_normalize(Tensor::cat(vec![z1, z2], 0));
    let sim = z.clone().matmul(z.transpose()).div_scalar(temperature);
    let self_mask = Tensor::<B, 2, Int>::eye(2 * n, &device).equal_elem(1);
    let log_prob = log_softmax(sim.mask_fill(self_mask, MASKED), 1);
    let positives: Vec<i64> = (0..2 * n).map(|i| ((i + n) % (2 * n)) as i64).collect();
    let idx = Tensor::<B, 1, Int>::from_ints(positives.as_slice(), &device).reshape([2 * n, 1]);
    Ok(log_prob.gather(1, idx).mean().neg())
}

/// Stable `log(1 + exp(x))`, its gradient the exact sigmoid.
fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let plain = x.clone().detach();
    let value = plain.clone().clamp_min(0.0) + plain.clone().abs().neg().exp().log1p();
    // sigmoid(x) = exp(x - softplus(x)); the exponent is never positive.
    let sigmoid = (plain - value.clone()).exp();
    with_slope(value, sigmoid, x)
}

fn check_scores<B: Backend>(
    scores: &Tensor<B, 1>,
    targets: &Tensor<B, 1>,
) -> Result<usize, LossError> {
    let [n] = scores.dims();
    if targets.dims() != [n] {
        return Err(LossError::Shape(format!(
            "{n} scores but {} targets",
            targets.dims()[0]
        )));
    }
    if n == 0 {
        return Err(LossError::Empty);
    }
    Ok(n)
}

/// `better[i, j] = 1.0` where `targets[i] > targets[j]`.
fn better_mask<B: Backend>(targets: Tensor<B, 1>, n: usize) -> Tensor<B, 2> {
    let col = targets.clone().reshape([n, 1]);
    let row = targets.reshape([1, n]);
    col.greater(row).float()
}

/// Pairwise logistic ranking loss (RankNet-style): the mean of
/// `softplus(-(s_i - s_j) / temperature)` over the ordered pairs with `targets[i] > targets[j]`.
/// Ties are not pairs. With no pair at all the loss is zero (and its gradient too).
pub fn pairwise_logistic<B: Backend>(
    scores: Tensor<B, 1>,
    targets: Tensor<B, 1>,
    temperature: f64,
) -> Result<Tensor<B, 1>, LossError> {
    check_temperature(temperature)?;
    let n = check_scores(&scores, &targets)?;
    let better = better_mask(targets, n);
    let diff = scores.clone().reshape([n, 1]) - scores.reshape([1, n]);
    let per_pair = softplus(diff.div_scalar(temperature).neg()) * better.clone();
    let pairs = better.sum().clamp_min(1.0);
    Ok(per_pair.sum() / pairs)
}

/// Pairwise logistic ranking loss with soft targets (RankNet with probabilistic labels, Burges
/// et al. 2005): over the ordered pairs with `targets[i] > targets[j]`, the predicted probability
/// `sigmoid((s_i - s_j) / temperature)` that `i` is better is pulled towards
/// `p_ij = sigmoid((y_i - y_j) / target_temperature)` by a binary cross-entropy, and the loss is
/// the mean over those pairs of `p_ij softplus(-d_ij) + (1 - p_ij) softplus(d_ij)`, with
/// `d_ij = (s_i - s_j) / temperature`.
///
/// Why: labels from a single training run carry noise, and a pair whose targets differ by less
/// than that noise is a coin toss. Hard targets ([`pairwise_logistic`]) push such a pair apart as
/// hard as any other; soft ones ask for a margin in proportion to the target gap, so near-ties
/// barely count. As `target_temperature` goes to zero this becomes [`pairwise_logistic`].
pub fn pairwise_logistic_soft<B: Backend>(
    scores: Tensor<B, 1>,
    targets: Tensor<B, 1>,
    temperature: f64,
    target_temperature: f64,
) -> Result<Tensor<B, 1>, LossError> {
    check_temperature(temperature)?;
    check_temperature(target_temperature)?;
    let n = check_scores(&scores, &targets)?;
    let targets = targets.detach();
    let better = better_mask(targets.clone(), n);
    let gap = (targets.clone().reshape([n, 1]) - targets.reshape([1, n]))
        .mul_scalar(1.0 / target_temperature);
    // sigmoid(x) = exp(x - softplus(x)): no division, so no approximate reciprocal.
    let p = (gap.clone() - softplus(gap)).exp();
    let diff = (scores.clone().reshape([n, 1]) - scores.reshape([1, n])).div_scalar(temperature);
    let per_pair = (softplus(diff.clone().neg()) * p.clone()
        + softplus(diff) * p.neg().add_scalar(1.0))
        * better.clone();
    let pairs = better.sum().clamp_min(1.0);
    Ok(per_pair.sum() / pairs)
}

/// Rank-N-Contrast (Zha et al., NeurIPS 2023) on embeddings `z` `[n, d]` with targets `[n]`.
///
/// With `s_ij` the cosine similarity over `temperature` and `d_ij = |y_i - y_j|`, the loss is
/// the mean over anchors `i` and samples `j != i` of
/// `-log( exp(s_ij) / sum_{k != i, d_ik >= d_ij} exp(s_ik) )`. With fewer than two samples the
/// loss is zero. Memory is `O(n^3)`: keep batches to a few hundred.
pub fn rank_n_contrast<B: Backend>(
    z: Tensor<B, 2>,
    targets: Tensor<B, 1>,
    temperature: f64,
) -> Result<Tensor<B, 1>, LossError> {
    check_temperature(temperature)?;
    let [n, d] = z.dims();
    if targets.dims() != [n] {
        return Err(LossError::Shape(format!(
            "{n} embeddings but {} targets",
            targets.dims()[0]
        )));
    }
    if n == 0 || d == 0 {
        return Err(LossError::Empty);
    }
    let device = z.device();
    if n < 2 {
        return Ok(z.sum().mul_scalar(0.0));
    }
    let z = l2_normalize(z);
    let sim = z.clone().matmul(z.transpose()).div_scalar(temperature); // [n, n]
    let dist = (targets.clone().reshape([n, 1]) - targets.reshape([1, n])).abs(); // [n, n]
    // keep[i, j, k] = d_ik >= d_ij and k != i
    let d_ik = dist.clone().reshape([n, 1, n]).expand([n, n, n]);
    let d_ij = dist.reshape([n, n, 1]).expand([n, n, n]);
    let not_self = Tensor::<B, 2, Int>::eye(n, &device)
        .equal_elem(0)
        .reshape([n, 1, n])
        .expand([n, n, n]);
    let keep = d_ik.greater_equal(d_ij).bool_and(not_self);
    let logits = sim.clone().reshape([n, 1, n]).expand([n, n, n]);
    let masked = logits.mask_fill(keep.bool_not(), MASKED);
    let lse = logsumexp(masked, 2); // [n, n, 1]
    let term = sim - lse.reshape([n, n]); // log-probability of j among its negatives
    let off_diag = Tensor::<B, 2, Int>::eye(n, &device).equal_elem(0).float();
    let total = (term * off_diag).sum();
    Ok(total.div_scalar(-((n * (n - 1)) as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};

    type B = NdArray<f32>;
    type AD = Autodiff<B>;

    fn t1(v: &[f32]) -> Tensor<B, 1> {
        Tensor::from_floats(v, &Default::default())
    }

    fn t2(rows: &[Vec<f32>]) -> Tensor<B, 2> {
        let n = rows.len();
        let d = rows[0].len();
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::<B, 1>::from_floats(flat.as_slice(), &Default::default()).reshape([n, d])
    }

    fn norm(v: &[f64]) -> Vec<f64> {
        let l = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        v.iter().map(|x| x / l).collect()
    }

    fn cos(a: &[f64], b: &[f64]) -> f64 {
        norm(a).iter().zip(norm(b)).map(|(x, y)| x * y).sum()
    }

    /// Straightforward f64 reference implementations, written from the definitions.
    fn info_nce_ref(z1: &[Vec<f64>], z2: &[Vec<f64>], t: f64) -> f64 {
        let z: Vec<&Vec<f64>> = z1.iter().chain(z2).collect();
        let m = z.len();
        let n = z1.len();
        let mut total = 0.0;
        for i in 0..m {
            let pos = (i + n) % m;
            let denom: f64 = (0..m)
                .filter(|&k| k != i)
                .map(|k| (cos(z[i], z[k]) / t).exp())
                .sum();
            total += -((cos(z[i], z[pos]) / t).exp() / denom).ln();
        }
        total / m as f64
    }

    fn rnc_ref(z: &[Vec<f64>], y: &[f64], t: f64) -> f64 {
        let n = z.len();
        let mut total = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let dij = (y[i] - y[j]).abs();
                let denom: f64 = (0..n)
                    .filter(|&k| k != i && (y[i] - y[k]).abs() >= dij)
                    .map(|k| (cos(&z[i], &z[k]) / t).exp())
                    .sum();
                total += -((cos(&z[i], &z[j]) / t).exp() / denom).ln();
            }
        }
        total / (n * (n - 1)) as f64
    }

    fn data() -> (Vec<Vec<f64>>, Vec<Vec<f64>>, Vec<f64>) {
        let z1 = vec![
            vec![1.0, 0.5, -0.2],
            vec![0.1, -1.0, 0.3],
            vec![-0.7, 0.2, 0.9],
            vec![0.3, 0.3, 0.3],
        ];
        let z2 = vec![
            vec![0.9, 0.4, 0.0],
            vec![0.2, -0.8, 0.1],
            vec![-0.5, 0.1, 1.0],
            vec![0.0, 0.5, 0.2],
        ];
        let y = vec![91.0, 85.5, 85.5, 70.0];
        (z1, z2, y)
    }

    fn f32s(v: &[Vec<f64>]) -> Vec<Vec<f32>> {
        v.iter()
            .map(|r| r.iter().map(|&x| x as f32).collect())
            .collect()
    }

    #[test]
    fn info_nce_matches_reference() {
        let (z1, z2, _) = data();
        for t in [0.1, 0.5, 2.0] {
            let got = info_nce(t2(&f32s(&z1)), t2(&f32s(&z2)), t)
                .unwrap()
                .into_scalar() as f64;
            let want = info_nce_ref(&z1, &z2, t);
            assert!(
                (got - want).abs() < 1e-4 * want.max(1.0),
                "t={t}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn info_nce_batch_of_one_is_zero() {
        let z = t2(&[vec![1.0, 2.0]]);
        assert_eq!(info_nce(z.clone(), z, 0.1).unwrap().into_scalar(), 0.0);
    }

    #[test]
    fn pairwise_matches_hand_computation() {
        // Targets 3 > 2 > 1 with scores 0, 1, 0.5: pairs (i better than j) and s_i - s_j:
        // (0,1): -1, (0,2): -0.5, (1,2): 0.5.
        let got = pairwise_logistic(t1(&[0.0, 1.0, 0.5]), t1(&[3.0, 2.0, 1.0]), 1.0)
            .unwrap()
            .into_scalar() as f64;
        let sp = |x: f64| (1.0 + x.exp()).ln();
        let want = (sp(1.0) + sp(0.5) + sp(-0.5)) / 3.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // Temperature scales the differences.
        let got = pairwise_logistic(t1(&[0.0, 1.0, 0.5]), t1(&[3.0, 2.0, 1.0]), 0.5)
            .unwrap()
            .into_scalar() as f64;
        let want = (sp(2.0) + sp(1.0) + sp(-1.0)) / 3.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    fn pairwise_soft_ref(s: &[f64], y: &[f64], t: f64, ty: f64) -> f64 {
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let (mut total, mut pairs) = (0.0, 0usize);
        for i in 0..s.len() {
            for j in 0..s.len() {
                if y[i] > y[j] {
                    let p = sig((y[i] - y[j]) / ty);
                    let q = sig((s[i] - s[j]) / t);
                    total += -(p * q.ln() + (1.0 - p) * (1.0 - q).ln());
                    pairs += 1;
                }
            }
        }
        total / pairs.max(1) as f64
    }

    #[test]
    fn pairwise_soft_matches_the_definition_and_tends_to_the_hard_loss() {
        let (s, y) = ([0.3, -1.0, 0.5, 2.0], [1.0, 0.2, 0.25, -0.7]);
        for (t, ty) in [(1.0, 1.0), (0.5, 0.1), (2.0, 3.0)] {
            let s32: Vec<f32> = s.iter().map(|&v| v as f32).collect();
            let y32: Vec<f32> = y.iter().map(|&v| v as f32).collect();
            let got = pairwise_logistic_soft(t1(&s32), t1(&y32), t, ty)
                .unwrap()
                .into_scalar();
            let want = pairwise_soft_ref(&s, &y, t, ty);
            assert!((f64::from(got) - want).abs() < 1e-5, "{got} vs {want}");
        }
        let hard = pairwise_logistic(t1(&[0.0, 1.0, 0.5]), t1(&[3.0, 2.0, 1.0]), 1.0)
            .unwrap()
            .into_scalar();
        let soft = pairwise_logistic_soft(t1(&[0.0, 1.0, 0.5]), t1(&[3.0, 2.0, 1.0]), 1.0, 1e-3)
            .unwrap()
            .into_scalar();
        assert!((hard - soft).abs() < 1e-5, "{hard} vs {soft}");
        // Ties, a singleton and huge margins stay finite; ties are no pairs.
        let tied = pairwise_logistic_soft(t1(&[1.0, -1.0]), t1(&[2.0, 2.0]), 1.0, 1.0)
            .unwrap()
            .into_scalar();
        assert_eq!(tied, 0.0);
        let one = pairwise_logistic_soft(t1(&[1.0]), t1(&[2.0]), 1.0, 1.0)
            .unwrap()
            .into_scalar();
        assert_eq!(one, 0.0);
        let huge = pairwise_logistic_soft(t1(&[1e4, -1e4]), t1(&[1e4, -1e4]), 0.1, 0.1)
            .unwrap()
            .into_scalar();
        assert!(huge.is_finite(), "{huge}");
        assert!(matches!(
            pairwise_logistic_soft(t1(&[1.0, 2.0]), t1(&[1.0, 0.0]), 1.0, 0.0),
            Err(LossError::Temperature(_))
        ));
        assert!(matches!(
            pairwise_logistic_soft(t1(&[1.0, 2.0]), t1(&[1.0]), 1.0, 1.0),
            Err(LossError::Shape(_))
        ));
    }

    #[test]
    fn pairwise_soft_gradient_vanishes_at_the_calibrated_margin() {
        // Two samples: the loss is minimal where (s_0 - s_1) / t = (y_0 - y_1) / ty.
        let d = Default::default();
        let grad = |s: [f32; 2]| -> Vec<f32> {
            let scores = Tensor::<AD, 1>::from_floats(s, &d).require_grad();
            let targets = Tensor::<AD, 1>::from_floats([0.3, 0.0], &d);
            let loss = pairwise_logistic_soft(scores.clone(), targets, 2.0, 1.0).unwrap();
            scores
                .grad(&loss.backward())
                .unwrap()
                .into_data()
                .to_vec()
                .unwrap()
        };
        let g = grad([0.6, 0.0]);
        assert!(g.iter().all(|x| x.abs() < 1e-6), "{g:?}");
        // Below the margin, descent still widens it.
        let g = grad([0.0, 0.0]);
        assert!(g[0] < 0.0 && g[1] > 0.0, "{g:?}");
    }

    #[test]
    fn pairwise_is_finite_for_ties_equal_scores_singletons_and_huge_margins() {
        let loss =
            |s: &[f32], y: &[f32]| pairwise_logistic(t1(s), t1(y), 0.1).unwrap().into_scalar();
        assert_eq!(loss(&[1.0, 1.0], &[5.0, 5.0]), 0.0);
        assert_eq!(loss(&[3.0], &[5.0]), 0.0);
        assert!((loss(&[0.0, 0.0], &[2.0, 1.0]) - 2f32.ln()).abs() < 1e-6);
        let big = loss(&[-1e4, 1e4], &[2.0, 1.0]);
        assert!(big.is_finite() && (big - 2e5).abs() < 1.0, "{big}");
        assert!(loss(&[1e4, -1e4], &[2.0, 1.0]).abs() < 1e-6);
    }

    #[test]
    fn rank_n_contrast_matches_reference() {
        let (z1, _, y) = data();
        for t in [0.1, 1.0] {
            let got = rank_n_contrast(
                t2(&f32s(&z1)),
                t1(&y.iter().map(|&v| v as f32).collect::<Vec<_>>()),
                t,
            )
            .unwrap()
            .into_scalar() as f64;
            let want = rnc_ref(&z1, &y, t);
            assert!(
                (got - want).abs() < 1e-4 * want.max(1.0),
                "t={t}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn rank_n_contrast_small_cases() {
        assert_eq!(
            rank_n_contrast(t2(&[vec![1.0, 0.0]]), t1(&[1.0]), 0.5)
                .unwrap()
                .into_scalar(),
            0.0
        );
        // Two samples: each anchor's only other sample is its own denominator: loss 0.
        let l = rank_n_contrast(t2(&[vec![1.0, 0.0], vec![0.0, 1.0]]), t1(&[1.0, 2.0]), 0.5)
            .unwrap()
            .into_scalar();
        assert!(l.abs() < 1e-6);
        // All tied: finite.
        let l = rank_n_contrast(
            t2(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]]),
            t1(&[1.0, 1.0, 1.0]),
            0.1,
        )
        .unwrap()
        .into_scalar();
        assert!(l.is_finite());
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let z = t2(&[vec![1.0, 0.0], vec![0.0, 1.0]]);
        let z3 = t2(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]]);
        assert!(matches!(
            info_nce(z.clone(), z3.clone(), 0.1),
            Err(LossError::Shape(_))
        ));
        assert!(matches!(
            info_nce(z.clone(), z.clone(), 0.0),
            Err(LossError::Temperature(_))
        ));
        assert!(matches!(
            info_nce(z.clone(), z.clone(), f64::NAN),
            Err(LossError::Temperature(_))
        ));
        assert!(matches!(
            pairwise_logistic(t1(&[1.0, 2.0]), t1(&[1.0]), 1.0),
            Err(LossError::Shape(_))
        ));
        assert!(matches!(
            pairwise_logistic(t1(&[]), t1(&[]), 1.0),
            Err(LossError::Empty)
        ));
        assert!(matches!(
            rank_n_contrast(z3, t1(&[1.0]), 1.0),
            Err(LossError::Shape(_))
        ));
        assert!(matches!(
            rank_n_contrast(z, t1(&[1.0, 2.0]), -1.0),
            Err(LossError::Temperature(_))
        ));
    }

    /// The gradient of log-sum-exp is the softmax, to f32 rounding. burn's own `log` backward
    /// on burn-ndarray is off by up to 4e-4 here: with 67 rows (at least 32 sums) it takes the
    /// approximate SIMD reciprocal.
    #[test]
    fn logsumexp_gradient_is_the_exact_softmax() {
        let d = Default::default();
        let (rows, cols) = (67, 3);
        let v: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37) % 11) as f32 * 0.3 - 1.0)
            .collect();
        let x = Tensor::<AD, 1>::from_floats(v.as_slice(), &d)
            .reshape([rows, cols])
            .require_grad();
        let lse = logsumexp(x.clone(), 1);
        let values: Vec<f32> = lse.clone().into_data().to_vec().unwrap();
        let g: Vec<f32> = x
            .grad(&lse.sum().backward())
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        for r in 0..rows {
            let row = &v[r * cols..(r + 1) * cols];
            let want = row.iter().map(|&x| f64::from(x).exp()).sum::<f64>().ln();
            assert!(
                (f64::from(values[r]) - want).abs() < 1e-5,
                "{r}: {} vs {want}",
                values[r]
            );
            for (c, &x) in row.iter().enumerate() {
                let p = (f64::from(x) - want).exp();
                let got = f64::from(g[r * cols + c]);
                assert!((got - p).abs() < 1e-6, "{r},{c}: {got} vs {p}");
            }
        }
    }

    #[test]
    fn softplus_gradient_is_the_exact_sigmoid() {
        let d = Default::default();
        let v: Vec<f32> = (0..40).map(|i| i as f32 * 0.5 - 10.0).collect();
        let x = Tensor::<AD, 1>::from_floats(v.as_slice(), &d).require_grad();
        let y = softplus(x.clone());
        let values: Vec<f32> = y.clone().into_data().to_vec().unwrap();
        let g: Vec<f32> = x
            .grad(&y.sum().backward())
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        for ((&xi, &yi), &gi) in v.iter().zip(&values).zip(&g) {
            let x = f64::from(xi);
            let (sp, sig) = ((1.0 + x.exp()).ln(), 1.0 / (1.0 + (-x).exp()));
            assert!(
                (f64::from(yi) - sp).abs() < 1e-5 * sp.max(1.0),
                "{yi} vs {sp}"
            );
            assert!(
                (f64::from(gi) - sig).abs() < 1e-6 * sig.max(1e-3),
                "{gi} vs {sig}"
            );
        }
    }

    #[test]
    fn l2_normalize_gradient_matches_the_analytic_one() {
        // d/dz_k of sum_j w_j z_j / |z| = (w_k - u_k (w . u)) / |z|, with u = z / |z|.
        let d = Default::default();
        let z: Vec<f32> = (0..24).map(|i| ((i * 7) % 5) as f32 - 1.7).collect();
        let w: Vec<f32> = (0..24).map(|i| ((i * 3) % 7) as f32 * 0.25 - 0.5).collect();
        let zt = Tensor::<AD, 1>::from_floats(z.as_slice(), &d)
            .reshape([1, 24])
            .require_grad();
        let wt = Tensor::<AD, 1>::from_floats(w.as_slice(), &d).reshape([1, 24]);
        let out = (l2_normalize(zt.clone()) * wt).sum();
        let g: Vec<f32> = zt
            .grad(&out.backward())
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        let norm = z.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        let u: Vec<f64> = z.iter().map(|&v| f64::from(v) / norm).collect();
        let wu: f64 = w.iter().zip(&u).map(|(&a, b)| f64::from(a) * b).sum();
        for k in 0..24 {
            let want = (f64::from(w[k]) - u[k] * wu) / norm;
            assert!(
                (f64::from(g[k]) - want).abs() < 1e-6,
                "{k}: {} vs {want}",
                g[k]
            );
        }
    }

    #[test]
    fn gradients_push_scores_into_order_and_stay_finite() {
        let d = Default::default();
        let scores = Tensor::<AD, 1>::from_floats([0.0, 0.0, 0.0], &d).require_grad();
        let targets = Tensor::<AD, 1>::from_floats([1.0, 3.0, 2.0], &d);
        let loss = pairwise_logistic(scores.clone(), targets, 1.0).unwrap();
        let grads = loss.backward();
        let g: Vec<f32> = scores.grad(&grads).unwrap().into_data().to_vec().unwrap();
        // Descent raises the best (index 1) and lowers the worst (index 0).
        assert!(
            g[1] < 0.0 && g[0] > 0.0 && g.iter().all(|x| x.is_finite()),
            "{g:?}"
        );

        let z =
            Tensor::<AD, 2>::from_floats([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], &d).require_grad();
        let loss =
            rank_n_contrast(z.clone(), Tensor::from_floats([1.0, 1.0, 1.0], &d), 0.1).unwrap();
        let g: Vec<f32> = z
            .grad(&loss.backward())
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
    }
}
