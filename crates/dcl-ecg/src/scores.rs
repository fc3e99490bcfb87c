//! The scores the inter-patient literature reports for N/S/V/F heartbeat classification, from a
//! confusion matrix: per-class sensitivity and positive predictive value under the AAMI EC57
//! rules, overall accuracy, their mean sensitivity, Cohen's κ, and the j and jκ indices of
//! Mar et al. (2011) as Mondéjar-Guerra et al. (2019) compute them.

use crate::{EcgError, Result};

/// Index of N, S, V, F in a confusion matrix (the order of [`crate::ClassSet::Nsvf`]).
const N_CLASSES: usize = 4;
const S: usize = 1;
const V: usize = 2;
const F: usize = 3;

/// Literature scores of one N/S/V/F confusion matrix.
///
/// * sensitivity `Se_k = TP_k / (TP_k + FN_k)`, positive predictive value
///   `+P_k = TP_k / (TP_k + FP_k)`; as AAMI EC57 recommends, a fusion (F) beat classified as V
///   is not a false positive of V (it neither rewards nor penalises the classifier);
/// * Cohen's `κ = (p_o − p_e) / (1 − p_e)`, `p_o` the accuracy, `p_e = Σ_k r_k c_k / n²` the
///   agreement expected by chance from the row sums `r_k` and column sums `c_k`;
/// * `j = Se_S + Se_V + +P_S + +P_V` (Mar et al. 2011; 0 to 4), and
///   `jκ = κ / 2 + j / 8` (Mondéjar-Guerra et al. 2019; at most 1).
///
/// ```
/// use dcl_ecg::AamiScores;
/// // rows: true N, S, V, F; columns: predicted N, S, V, F
/// let confusion = vec![vec![8, 1, 1, 0], vec![1, 3, 0, 0], vec![0, 0, 4, 0], vec![0, 0, 1, 1]];
/// let s = AamiScores::from_confusion(&confusion).unwrap();
/// assert_eq!(s.accuracy, 0.8);
/// assert_eq!(s.ppv[2], Some(0.8)); // the F beat called V is not counted against V
/// assert!((s.jk_index.unwrap() - (0.5 * 0.47 / 0.67 + 3.3 / 8.0)).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AamiScores {
    /// Sensitivity of N, S, V, F; `None` for a class absent from the truth.
    pub sensitivity: [Option<f64>; N_CLASSES],
    /// Positive predictive value of N, S, V, F; `None` for a class never predicted.
    pub ppv: [Option<f64>; N_CLASSES],
    /// Fraction of beats classified correctly.
    pub accuracy: f64,
    /// Mean sensitivity over the classes present in the truth.
    pub mean_sensitivity: f64,
    /// Cohen's κ; `None` when chance agreement is certain (one class, both in the truth and
    /// in the predictions).
    pub kappa: Option<f64>,
    /// The j index; `None` when S or V is absent from the truth. A class never predicted
    /// counts a positive predictive value of 0.
    pub j_index: Option<f64>,
    /// The jκ index; `None` when κ or j is.
    pub jk_index: Option<f64>,
}

impl AamiScores {
    /// The scores of `confusion[t][p]` (beats of true class `t` predicted as `p`, classes N, S,
    /// V, F). Fails on a matrix that is not 4 x 4 or holds no beat.
    pub fn from_confusion(confusion: &[Vec<usize>]) -> Result<Self> {
        if confusion.len() != N_CLASSES || confusion.iter().any(|r| r.len() != N_CLASSES) {
            return Err(EcgError::Config(format!(
                "a confusion matrix of N, S, V, F must be 4 x 4, got {} rows of lengths {:?}",
                confusion.len(),
                confusion.iter().map(Vec::len).collect::<Vec<_>>()
            )));
        }
        let c = |t: usize, p: usize| confusion[t][p] as f64;
        let rows: Vec<f64> = (0..N_CLASSES)
            .map(|t| (0..N_CLASSES).map(|p| c(t, p)).sum())
            .collect();
        let cols: Vec<f64> = (0..N_CLASSES)
            .map(|p| (0..N_CLASSES).map(|t| c(t, p)).sum())
            .collect();
        let total: f64 = rows.iter().sum();
        if total == 0.0 {
            return Err(EcgError::Config(
                "the confusion matrix holds no beat".into(),
            ));
        }
        let ratio = |num: f64, den: f64| (den > 0.0).then(|| num / den);
        let sensitivity: [Option<f64>; N_CLASSES] =
            std::array::from_fn(|k| ratio(c(k, k), rows[k]));
        let ppv: [Option<f64>; N_CLASSES] = std::array::from_fn(|k| {
            let fused = if k == V { c(F, V) } else { 0.0 };
            ratio(c(k, k), cols[k] - fused)
        });
        let present: Vec<f64> = sensitivity.iter().flatten().copied().collect();
        let mean_sensitivity = present.iter().sum::<f64>() / present.len() as f64;
        let accuracy = (0..N_CLASSES).map(|k| c(k, k)).sum::<f64>() / total;
        let chance = (0..N_CLASSES).map(|k| rows[k] * cols[k]).sum::<f64>() / (total * total);
        let kappa = (chance < 1.0).then(|| (accuracy - chance) / (1.0 - chance));
        let j_index = match (sensitivity[S], sensitivity[V]) {
            (Some(se_s), Some(se_v)) => {
                Some(se_s + se_v + ppv[S].unwrap_or(0.0) + ppv[V].unwrap_or(0.0))
            }
            _ => None,
        };
        let jk_index = kappa.zip(j_index).map(|(k, j)| k / 2.0 + j / 8.0);
        Ok(Self {
            sensitivity,
            ppv,
            accuracy,
            mean_sensitivity,
            kappa,
            j_index,
            jk_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_matrix() {
        // rows N 10, S 4, V 4, F 2; columns N 9, S 4, V 6 (one of them an F beat), F 1
        let m = vec![
            vec![8, 1, 1, 0],
            vec![1, 3, 0, 0],
            vec![0, 0, 4, 0],
            vec![0, 0, 1, 1],
        ];
        let s = AamiScores::from_confusion(&m).unwrap();
        assert_eq!(s.sensitivity, [Some(0.8), Some(0.75), Some(1.0), Some(0.5)]);
        assert_eq!(s.ppv, [Some(8.0 / 9.0), Some(0.75), Some(0.8), Some(1.0)]);
        assert!((s.mean_sensitivity - 0.7625).abs() < 1e-12);
        // p_e = (10 * 9 + 4 * 4 + 4 * 6 + 2 * 1) / 400 = 0.33
        let kappa = (0.8 - 0.33) / (1.0 - 0.33);
        assert!((s.kappa.unwrap() - kappa).abs() < 1e-12);
        assert!((s.j_index.unwrap() - 3.3).abs() < 1e-12);
        assert!((s.jk_index.unwrap() - (kappa / 2.0 + 3.3 / 8.0)).abs() < 1e-12);
    }

    #[test]
    fn never_predicting_s_counts_its_ppv_as_zero() {
        let m = vec![
            vec![10, 0, 0, 0],
            vec![2, 0, 0, 0],
            vec![0, 0, 3, 0],
            vec![0, 0, 0, 1],
        ];
        let s = AamiScores::from_confusion(&m).unwrap();
        assert_eq!(s.ppv[1], None);
        assert_eq!(s.sensitivity[1], Some(0.0));
        assert!((s.j_index.unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn absent_classes_and_bad_shapes() {
        let no_s = vec![
            vec![5, 0, 0, 0],
            vec![0, 0, 0, 0],
            vec![0, 0, 5, 0],
            vec![0, 0, 0, 0],
        ];
        let s = AamiScores::from_confusion(&no_s).unwrap();
        assert_eq!(s.sensitivity[1], None);
        assert_eq!(s.j_index, None);
        assert_eq!(s.jk_index, None);
        assert_eq!(s.kappa, Some(1.0));
        assert_eq!(s.mean_sensitivity, 1.0);
        let only_n = vec![vec![5, 0, 0, 0], vec![0; 4], vec![0; 4], vec![0; 4]];
        assert_eq!(AamiScores::from_confusion(&only_n).unwrap().kappa, None);
        assert!(
            AamiScores::from_confusion(&[vec![0; 4], vec![0; 4], vec![0; 4], vec![0; 4]]).is_err()
        );
        assert!(AamiScores::from_confusion(&[vec![1; 4], vec![1; 4], vec![1; 4]]).is_err());
        assert!(
            AamiScores::from_confusion(&[vec![1; 4], vec![1; 3], vec![1; 4], vec![1; 4]]).is_err()
        );
    }

    /// κ from the beats one by one (observed and chance agreement over every pair of a true
    /// and a predicted label), against the closed form of the row and column sums.
    fn kappa_by_beats(m: &[Vec<usize>]) -> Option<f64> {
        let mut truth = Vec::new();
        let mut predicted = Vec::new();
        for (t, row) in m.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                truth.extend(std::iter::repeat_n(t, n));
                predicted.extend(std::iter::repeat_n(p, n));
            }
        }
        let n = truth.len() as f64;
        let observed = truth.iter().zip(&predicted).filter(|(t, p)| t == p).count() as f64 / n;
        let mut agree = 0usize;
        for t in &truth {
            agree += predicted.iter().filter(|p| *p == t).count();
        }
        let chance = agree as f64 / (n * n);
        (chance < 1.0).then(|| (observed - chance) / (1.0 - chance))
    }

    proptest! {
        #[test]
        fn scores_stay_in_range_and_kappa_matches_the_beats(
            cells in proptest::collection::vec(0usize..12, 16)
        ) {
            let m: Vec<Vec<usize>> = cells.chunks(4).map(<[usize]>::to_vec).collect();
            let total: usize = cells.iter().sum();
            let scores = AamiScores::from_confusion(&m);
            prop_assert_eq!(scores.is_ok(), total > 0);
            let Ok(s) = scores else { return Ok(()) };
            prop_assert!((0.0..=1.0).contains(&s.accuracy));
            prop_assert!((0.0..=1.0).contains(&s.mean_sensitivity));
            for v in s.sensitivity.iter().chain(&s.ppv).flatten() {
                prop_assert!((0.0..=1.0).contains(v));
            }
            match (s.kappa, kappa_by_beats(&m)) {
                (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-9),
                (a, b) => prop_assert_eq!(a, b),
            }
            if let Some(jk) = s.jk_index {
                prop_assert!(jk <= 1.0 + 1e-12);
                let diagonal = (0..4).all(|t| (0..4).all(|p| t == p || m[t][p] == 0));
                prop_assert_eq!(jk == 1.0, diagonal);
            }
        }
    }
}
