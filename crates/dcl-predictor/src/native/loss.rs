//! The training losses with their gradients, as `dcl_contrastive` defines them.

use rayon::prelude::*;

use super::{Kernel, sgemm};

/// Rows per parallel work item of the `[2n, 2n]` similarity matrix: fixed, so the values do
/// not depend on the thread count (rows are independent; sums over rows run in row order).
const ROWS: usize = 64;

/// The pairwise logistic ranking loss (as `dcl_contrastive::pairwise_logistic` defines it)
/// and its gradient with respect to the scores: the mean of `softplus(-(s_i - s_j) / t)` over
/// the ordered pairs with `targets[i] > targets[j]`, zero without pairs.
pub(crate) fn pairwise_logistic(scores: &[f32], targets: &[f32], t: f64) -> (f64, Vec<f32>) {
    let n = scores.len();
    let mut grad = vec![0.0f64; n];
    let (mut total, mut pairs) = (0.0f64, 0usize);
    for i in 0..n {
        for j in 0..n {
            if targets[i] > targets[j] {
                let x = -(f64::from(scores[i]) - f64::from(scores[j])) / t;
                total += x.max(0.0) + (-x.abs()).exp().ln_1p();
                // d softplus(x) / dx = sigmoid(x); dx/ds_i = -1/t, dx/ds_j = 1/t.
                let sigmoid = 1.0 / (1.0 + (-x).exp());
                grad[i] -= sigmoid / t;
                grad[j] += sigmoid / t;
                pairs += 1;
            }
        }
    }
    let pairs = pairs.max(1) as f64;
    (
        total / pairs,
        grad.into_iter().map(|g| (g / pairs) as f32).collect(),
    )
}

/// `c = a op(b)` for `a` `[m, k]`, rows in parallel blocks of [`ROWS`].
fn sgemm_rows(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], tb: bool, c: &mut [f32]) {
    debug_assert_eq!(c.len(), m * n);
    c.par_chunks_mut(ROWS * n)
        .enumerate()
        .for_each(|(block, out)| {
            let rows = out.len() / n;
            let a = &a[block * ROWS * k..(block * ROWS + rows) * k];
            sgemm(Kernel::Fast, rows, k, n, a, false, b, tb, out, false);
        });
}

/// InfoNCE / NT-Xent as `dcl_contrastive::info_nce` defines it, on projections `z`
/// `[2n, p]` whose rows `i` and `i + n` are two views of one architecture, and its gradient
/// with respect to `z`. Each view's positive is its sibling, its negatives the other `2n - 2`
/// views; similarity is cosine over `t`; the loss is the mean cross-entropy over the `2n`
/// views.
pub(crate) fn info_nce(z: &[f32], n: usize, p: usize, t: f64) -> (f64, Vec<f32>) {
    let m = 2 * n;
    debug_assert_eq!(z.len(), m * p);
    // Unit rows `u = z r`, `r = (|z|^2 + 1e-12)^(-1/2)`, as `dcl_contrastive::l2_normalize`.
    let mut inv_norm = vec![0.0f32; m];
    let mut u = vec![0.0f32; m * p];
    for ((row, out), r) in z
        .chunks_exact(p)
        .zip(u.chunks_exact_mut(p))
        .zip(&mut inv_norm)
    {
        let sq: f32 = row.iter().map(|v| v * v).sum();
        *r = (sq + 1e-12).powf(-0.5);
        for (o, v) in out.iter_mut().zip(row) {
            *o = v * *r;
        }
    }
    // Cosine similarities; each row becomes its part of d loss / d sim in place.
    let mut sim = vec![0.0f32; m * m];
    sgemm_rows(m, p, m, &u, &u, true, &mut sim);
    let inv_t = (1.0 / t) as f32;
    let losses: Vec<f64> = sim
        .par_chunks_mut(m)
        .enumerate()
        .map(|(i, row)| {
            let positive = (i + n) % m;
            for v in row.iter_mut() {
                *v *= inv_t;
            }
            let logit_positive = row[positive];
            // The view itself is no candidate: exp(-inf) = 0 (m >= 4, so others remain).
            row[i] = f32::NEG_INFINITY;
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f64;
            for v in row.iter_mut() {
                *v = (*v - max).exp();
                sum += f64::from(*v);
            }
            // d loss_i / d logit_ij = softmax_ij - [j = positive]; the mean over 2n rows.
            let scale = 1.0 / (sum * m as f64);
            for v in row.iter_mut() {
                *v = (f64::from(*v) * scale) as f32;
            }
            row[positive] -= 1.0 / m as f32;
            f64::from(max) + sum.ln() - f64::from(logit_positive)
        })
        .collect();
    let loss = losses.iter().sum::<f64>() / m as f64;
    // logits = u u^T / t, so d u = (G + G^T) u / t.
    let mut sym = vec![0.0f32; m * m];
    for i in 0..m {
        for j in 0..m {
            sym[i * m + j] = (sim[i * m + j] + sim[j * m + i]) * inv_t;
        }
    }
    let mut du = vec![0.0f32; m * p];
    sgemm_rows(m, m, p, &sym, &u, false, &mut du);
    // Back through the normalisation: dz = r du - r^3 (z . du) z.
    let mut dz = du;
    for ((d, row), &r) in dz.chunks_exact_mut(p).zip(z.chunks_exact(p)).zip(&inv_norm) {
        let dot: f32 = d.iter().zip(row).map(|(a, b)| a * b).sum();
        let k = r * r * r * dot;
        for (g, v) in d.iter_mut().zip(row) {
            *g = r * *g - k * v;
        }
    }
    (loss, dz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;
    use burn::tensor::{Tensor, TensorData};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    type B = CpuBackend;

    #[test]
    fn info_nce_gives_the_contrastive_crates_value_and_gradient() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let device = Default::default();
        // More rows than one parallel block, and one zero row (its norm is the epsilon's).
        let (n, p) = (70, 32);
        let mut z: Vec<f32> = (0..2 * n * p)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        z[3 * p..4 * p].fill(0.0);
        for t in [0.1, 0.5, 2.0] {
            let leaf = Tensor::<B, 2>::from_data(TensorData::new(z.clone(), [2 * n, p]), &device)
                .require_grad();
            let z1 = leaf.clone().narrow(0, 0, n);
            let z2 = leaf.clone().narrow(0, n, n);
            let loss = dcl_contrastive::info_nce(z1, z2, t).unwrap();
            let theirs = f64::from(loss.clone().into_scalar());
            let grads = loss.backward();
            let their_grad: Vec<f32> = leaf.grad(&grads).unwrap().into_data().to_vec().unwrap();

            let (ours, grad) = info_nce(&z, n, p, t);
            assert!(
                (ours - theirs).abs() < 1e-4 * theirs.abs().max(1.0),
                "t={t}: {ours} vs {theirs}"
            );
            let scale = their_grad.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0);
            for (i, (a, b)) in grad.iter().zip(&their_grad).enumerate() {
                assert!((a - b).abs() <= 1e-4 * scale, "t={t} [{i}]: {a} vs {b}");
            }
        }
    }

    #[test]
    fn info_nce_is_low_when_views_agree_and_high_when_they_do_not() {
        let (n, p) = (4, 4);
        // Orthogonal architectures whose views agree: the positive is the nearest neighbour.
        let mut z = vec![0.0f32; 2 * n * p];
        for i in 0..2 * n {
            z[i * p + i % n] = 1.0;
        }
        let (agree, _) = info_nce(&z, n, p, 0.1);
        // Each second view turned to another architecture's first view.
        let mut w = z.clone();
        for i in 0..n {
            let row = &mut w[(i + n) * p..(i + n + 1) * p];
            row.fill(0.0);
            row[(i + 1) % n] = 1.0;
        }
        let (disagree, _) = info_nce(&w, n, p, 0.1);
        assert!(agree < 1e-3 && disagree > 5.0, "{agree} {disagree}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// Cosine similarity ignores each row's length: scaling row `i` by `c > 0` keeps the
        /// loss and divides that row's gradient by `c`; the gradient is orthogonal to its row.
        #[test]
        fn info_nce_sees_directions_only(
            seed in 0u64..1000,
            n in 2usize..12,
            scales in proptest::collection::vec(0.25f32..8.0, 24),
        ) {
            let p = 6;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let z: Vec<f32> = (0..2 * n * p).map(|_| rng.random_range(-1.0..1.0)).collect();
            let scaled: Vec<f32> = z
                .chunks_exact(p)
                .zip(&scales)
                .flat_map(|(row, c)| row.iter().map(move |v| v * c))
                .collect();
            let (loss, grad) = info_nce(&z, n, p, 0.5);
            let (loss_scaled, grad_scaled) = info_nce(&scaled, n, p, 0.5);
            proptest::prop_assert!((loss - loss_scaled).abs() < 1e-4, "{} vs {}", loss, loss_scaled);
            for (i, c) in scales.iter().take(2 * n).enumerate() {
                let (row, g, gs) = (&z[i * p..(i + 1) * p], &grad[i * p..(i + 1) * p], &grad_scaled[i * p..(i + 1) * p]);
                let norm = g.iter().map(|v| v.abs()).fold(1e-6f32, f32::max);
                for (a, b) in g.iter().zip(gs) {
                    proptest::prop_assert!((a - b * c).abs() <= 1e-3 * norm, "row {}: {} vs {} * {}", i, a, b, c);
                }
                let along: f32 = row.iter().zip(g).map(|(x, y)| x * y).sum();
                let len = row.iter().map(|v| v * v).sum::<f32>().sqrt();
                proptest::prop_assert!(along.abs() <= 1e-3 * norm * len.max(1.0), "row {}: {}", i, along);
            }
        }
    }
}
