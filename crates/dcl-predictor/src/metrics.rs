//! Ranking metrics: Kendall τ-b in O(n log n), Spearman ρ, precision@k, top-k hit.
//!
//! ```
//! use dcl_predictor::metrics::{kendall_tau, spearman_rho, precision_at_k};
//! let truth = [1.0, 2.0, 3.0, 4.0];
//! assert_eq!(kendall_tau(&truth, &[10.0, 20.0, 30.0, 40.0]).unwrap(), 1.0);
//! assert_eq!(kendall_tau(&truth, &[4.0, 3.0, 2.0, 1.0]).unwrap(), -1.0);
//! assert_eq!(spearman_rho(&truth, &[1.0, 3.0, 2.0, 4.0]).unwrap(), 0.8);
//! assert_eq!(precision_at_k(&truth, &[0.0, 0.0, 9.0, 8.0], 2).unwrap(), 1.0);
//! ```

use crate::PredictorError;

fn check(a: &[f64], b: &[f64]) -> Result<(), PredictorError> {
    if a.len() != b.len() {
        return Err(PredictorError::ShapeMismatch(format!(
            "{} values against {}",
            a.len(),
            b.len()
        )));
    }
    if a.len() < 2 {
        return Err(PredictorError::Empty(
            "a rank correlation needs at least two values",
        ));
    }
    if let Some((i, v)) = a.iter().chain(b).enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(PredictorError::NonFiniteLabel {
            index: i % a.len(),
            value: *v,
        });
    }
    Ok(())
}

/// `v` with every -0.0 made 0.0: the sorts order by `total_cmp`, which puts -0.0 before 0.0,
/// while ties are found with `==`, which calls them equal; both must see one zero.
fn signless_zeros(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&a| if a == 0.0 { 0.0 } else { a }).collect()
}

/// Kendall's τ-b (ties handled as in scipy's default), by Knight's O(n log n) algorithm.
/// Returns 0 when either side is constant.
pub fn kendall_tau(x: &[f64], y: &[f64]) -> Result<f64, PredictorError> {
    check(x, y)?;
    let (x, y) = (&signless_zeros(x), &signless_zeros(y));
    let n = x.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]).then(y[i].total_cmp(&y[j])));
    let pairs = |len: u64| len * len.saturating_sub(1) / 2;
    let n0 = pairs(n as u64);
    // Ties in x, and joint ties in (x, y).
    let (mut tx, mut txy) = (0u64, 0u64);
    let (mut run_x, mut run_xy) = (1u64, 1u64);
    for w in 1..=n {
        let same_x = w < n && x[idx[w]] == x[idx[w - 1]];
        let same_xy = same_x && y[idx[w]] == y[idx[w - 1]];
        if same_xy {
            run_xy += 1;
        } else {
            txy += pairs(run_xy);
            run_xy = 1;
        }
        if same_x {
            run_x += 1;
        } else {
            tx += pairs(run_x);
            run_x = 1;
        }
    }
    // Discordant pairs = swaps a merge sort on y needs.
    let mut ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
    let mut buf = ys.clone();
    let swaps = merge_count(&mut ys, &mut buf);
    let mut ty = 0u64;
    let mut run = 1u64;
    for w in 1..=n {
        if w < n && ys[w] == ys[w - 1] {
            run += 1;
        } else {
            ty += pairs(run);
            run = 1;
        }
    }
    let denom = ((n0 - tx) as f64 * (n0 - ty) as f64).sqrt();
    if denom == 0.0 {
        return Ok(0.0);
    }
    let concordant_minus_discordant =
        n0 as f64 - tx as f64 - ty as f64 + txy as f64 - 2.0 * swaps as f64;
    Ok(concordant_minus_discordant / denom)
}

/// Sorts `v` ascending and returns the number of inversions (pairs out of order, ties not counted).
fn merge_count(v: &mut [f64], buf: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut swaps = {
        let (l, r) = v.split_at_mut(mid);
        let (bl, br) = buf.split_at_mut(mid);
        merge_count(l, bl) + merge_count(r, br)
    };
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if v[j] < v[i] {
            buf[k] = v[j];
            swaps += (mid - i) as u64;
            j += 1;
        } else {
            buf[k] = v[i];
            i += 1;
        }
        k += 1;
    }
    buf[k..k + mid - i].copy_from_slice(&v[i..mid]);
    k += mid - i;
    buf[k..k + n - j].copy_from_slice(&v[j..n]);
    v.copy_from_slice(&buf[..n]);
    swaps
}

/// Ranks from 1, ties sharing their average rank.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    let v = &signless_zeros(v);
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut ranks = vec![0.0; v.len()];
    let mut s = 0;
    while s < idx.len() {
        let mut e = s + 1;
        while e < idx.len() && v[idx[e]] == v[idx[s]] {
            e += 1;
        }
        let avg = (s + e + 1) as f64 / 2.0; // mean of ranks s+1 ..= e
        for &i in &idx[s..e] {
            ranks[i] = avg;
        }
        s = e;
    }
    ranks
}

/// Spearman's ρ: the Pearson correlation of average ranks. 0 when either side is constant.
pub fn spearman_rho(x: &[f64], y: &[f64]) -> Result<f64, PredictorError> {
    check(x, y)?;
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return Ok(0.0);
    }
    Ok(sxy / (sxx * syy).sqrt())
}

/// Indices of the `k` largest values, best first (ties broken by index).
pub fn top_k(values: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&i, &j| values[j].total_cmp(&values[i]).then(i.cmp(&j)));
    idx.truncate(k);
    idx
}

/// Precision@k: the fraction of the predicted top `k` that is in the true top `k`.
pub fn precision_at_k(truth: &[f64], predicted: &[f64], k: usize) -> Result<f64, PredictorError> {
    check(truth, predicted)?;
    if k == 0 || k > truth.len() {
        return Err(PredictorError::Config(format!(
            "k = {k} must be in 1..={}",
            truth.len()
        )));
    }
    let t: std::collections::HashSet<usize> = top_k(truth, k).into_iter().collect();
    Ok(top_k(predicted, k).iter().filter(|i| t.contains(i)).count() as f64 / k as f64)
}

/// Top-k hit: whether the truly best architecture is among the predicted top `k`.
/// Averaged over runs, it is the top-k hit rate.
pub fn top_k_hit(truth: &[f64], predicted: &[f64], k: usize) -> Result<bool, PredictorError> {
    check(truth, predicted)?;
    let best = top_k(truth, 1)[0];
    Ok(top_k(predicted, k).contains(&best))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kendall_naive(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len();
        let (mut c, mut d, mut tx, mut ty) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            for j in i + 1..n {
                let a = (x[i] - x[j]).signum();
                let b = (y[i] - y[j]).signum();
                if x[i] == x[j] && y[i] == y[j] {
                    continue;
                } else if x[i] == x[j] {
                    tx += 1.0;
                } else if y[i] == y[j] {
                    ty += 1.0;
                } else if a == b {
                    c += 1.0;
                } else {
                    d += 1.0;
                }
            }
        }
        let den = ((c + d + tx) * (c + d + ty)).sqrt();
        if den == 0.0 { 0.0 } else { (c - d) / den }
    }

    /// Small values with many ties, both signed zeros, and a few fractions.
    fn tied_floats() -> impl Strategy<Value = f64> {
        prop_oneof![
            (0i32..6).prop_map(f64::from),
            Just(0.0),
            Just(-0.0),
            (-3i32..3).prop_map(|i| f64::from(i) / 2.0),
        ]
    }

    proptest! {
        /// 256 cases of up to 60 float pairs with signed zeros and ties: the fast τ equals
        /// the quadratic one and stays in [-1, 1].
        #[test]
        fn kendall_on_floats_with_signed_zeros_matches_the_definition(
            pairs in proptest::collection::vec((tied_floats(), tied_floats()), 2..60)
        ) {
            let x: Vec<f64> = pairs.iter().map(|p| p.0).collect();
            let y: Vec<f64> = pairs.iter().map(|p| p.1).collect();
            let fast = kendall_tau(&x, &y).unwrap();
            prop_assert!((-1.0..=1.0).contains(&fast), "{}", fast);
            prop_assert!((fast - kendall_naive(&x, &y)).abs() < 1e-12);
            let rho = spearman_rho(&x, &y).unwrap();
            prop_assert!((-1.0 - 1e-12..=1.0 + 1e-12).contains(&rho), "{}", rho);
            // A NaN anywhere is a typed error, never a number.
            let mut bad = x.clone();
            bad[pairs.len() / 2] = f64::NAN;
            prop_assert!(kendall_tau(&bad, &y).is_err());
            prop_assert!(spearman_rho(&x, &bad).is_err());
        }

        #[test]
        fn kendall_matches_the_quadratic_definition(
            pairs in proptest::collection::vec((0i32..6, 0i32..6), 2..60)
        ) {
            let x: Vec<f64> = pairs.iter().map(|p| p.0 as f64).collect();
            let y: Vec<f64> = pairs.iter().map(|p| p.1 as f64).collect();
            let fast = kendall_tau(&x, &y).unwrap();
            let slow = kendall_naive(&x, &y);
            prop_assert!((fast - slow).abs() < 1e-12, "{} vs {}", fast, slow);
        }
    }

    #[test]
    fn known_values() {
        // scipy.stats.kendalltau([1,2,3,4,5],[3,1,2,5,4]) = 0.4 ; spearmanr = 0.6
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [3.0, 1.0, 2.0, 5.0, 4.0];
        assert!((kendall_tau(&x, &y).unwrap() - 0.4).abs() < 1e-12);
        assert!((spearman_rho(&x, &y).unwrap() - 0.6).abs() < 1e-12);
        // Ties: spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486832980505138
        let r = spearman_rho(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.9486832980505138).abs() < 1e-12);
        assert_eq!(kendall_tau(&[1.0, 1.0], &[1.0, 2.0]).unwrap(), 0.0);
        // -0.0 and 0.0 are a tie: one concordant pair, one discordant, one tie in x.
        assert_eq!(
            kendall_tau(&[1.0, 0.0, -0.0], &[1.0, 0.0, 2.0]).unwrap(),
            0.0
        );
        assert_eq!(
            spearman_rho(&[-0.0, 0.0, 1.0], &[1.0, 2.0, 3.0]).unwrap(),
            spearman_rho(&[0.0, 0.0, 1.0], &[1.0, 2.0, 3.0]).unwrap()
        );
    }

    #[test]
    fn top_k_metrics() {
        let truth = [5.0, 1.0, 4.0, 3.0];
        let pred = [0.9, 0.8, 0.1, 0.7];
        assert_eq!(top_k(&pred, 2), vec![0, 1]);
        assert_eq!(precision_at_k(&truth, &pred, 2).unwrap(), 0.5);
        assert!(top_k_hit(&truth, &pred, 1).unwrap());
        assert!(!top_k_hit(&truth, &[0.0, 1.0, 0.5, 0.2], 2).unwrap());
        assert!(precision_at_k(&truth, &pred, 0).is_err());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(kendall_tau(&[1.0], &[1.0]).is_err());
        assert!(kendall_tau(&[1.0, 2.0], &[1.0]).is_err());
        assert!(spearman_rho(&[1.0, f64::NAN], &[1.0, 2.0]).is_err());
    }
}
