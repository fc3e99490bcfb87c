//! Classification metrics: accuracy, balanced accuracy, macro-F1, per-class sensitivity and
//! positive predictive value, and the confusion matrix.

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// The metrics of a set of predictions against the truth.
///
/// Balanced accuracy and macro-F1 average over the classes that occur in the truth, so a
/// class absent from a test set neither helps nor hurts.
///
/// ```
/// use dcl_train::ClassMetrics;
/// let m = ClassMetrics::new(&[0, 0, 0, 1], &[0, 0, 1, 1], 2).unwrap();
/// assert_eq!(m.accuracy, 0.75);
/// assert!((m.balanced_accuracy - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
/// assert_eq!(m.confusion, vec![vec![2, 1], vec![0, 1]]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// `confusion[t][p]`: samples of true class `t` predicted as `p`.
    pub confusion: Vec<Vec<usize>>,
    /// Fraction correct.
    pub accuracy: f64,
    /// Mean per-class sensitivity (recall) over the classes present in the truth.
    pub balanced_accuracy: f64,
    /// Mean per-class F1 over the classes present in the truth (F1 = 0 for a present class never
    /// predicted correctly).
    pub macro_f1: f64,
    /// Per-class sensitivity (recall); `None` for a class absent from the truth.
    pub sensitivity: Vec<Option<f64>>,
    /// Per-class positive predictive value (precision); `None` for a class never predicted.
    pub ppv: Vec<Option<f64>>,
}

impl ClassMetrics {
    /// Computes the metrics. Fails on empty or mismatched inputs and out-of-range labels.
    pub fn new(truth: &[u8], predicted: &[u8], n_classes: usize) -> Result<Self, TrainError> {
        let confusion = confusion(truth, predicted, n_classes)?;
        Ok(Self::from_confusion(confusion, &vec![1.0; n_classes]))
    }

    /// The metrics at another class mix: each sample of true class `c` counts `weights[c]`
    /// times, as if the set held `weights[c]` times as many of that class. Scoring a
    /// class-balanced sample with `weights[c]` = (samples of class `c` in the population) /
    /// (samples of class `c` in the sample) gives the positive predictive values, accuracy and
    /// macro-F1 the whole population would get in expectation, where the plain metrics would
    /// count a rare class's false positives as if it were as common as the others.
    /// Sensitivity and balanced accuracy do not change; `confusion` keeps the plain counts.
    /// Fails on what [`ClassMetrics::new`] fails on and on `weights` that are not one finite
    /// positive number per class.
    ///
    /// ```
    /// use dcl_train::ClassMetrics;
    /// // Two of each class; one class-0 sample mistaken for class 1.
    /// let truth = [0, 0, 1, 1];
    /// let predicted = [0, 1, 1, 1];
    /// let plain = ClassMetrics::new(&truth, &predicted, 2).unwrap();
    /// assert!((plain.ppv[1].unwrap() - 2.0 / 3.0).abs() < 1e-12);
    /// // Class 0 is really 100 times as common: its one mistake is 50 false positives.
    /// let mixed = ClassMetrics::at_class_mix(&truth, &predicted, 2, &[50.0, 0.5]).unwrap();
    /// assert!((mixed.ppv[1].unwrap() - 1.0 / 51.0).abs() < 1e-12);
    /// assert_eq!(mixed.balanced_accuracy, plain.balanced_accuracy);
    /// assert_eq!(mixed.confusion, plain.confusion);
    /// ```
    pub fn at_class_mix(
        truth: &[u8],
        predicted: &[u8],
        n_classes: usize,
        weights: &[f64],
    ) -> Result<Self, TrainError> {
        check_class_mix(weights, n_classes)?;
        Ok(Self::from_confusion(
            confusion(truth, predicted, n_classes)?,
            weights,
        ))
    }

    /// The metrics of a confusion matrix whose row `t` counts `weights[t]` times.
    fn from_confusion(confusion: Vec<Vec<usize>>, weights: &[f64]) -> Self {
        let n_classes = confusion.len();
        let cell = |t: usize, p: usize| confusion[t][p] as f64 * weights[t];
        let row = |c: usize| confusion[c].iter().sum::<usize>();
        let weighted_row = |c: usize| row(c) as f64 * weights[c];
        let weighted_col = |c: usize| (0..n_classes).map(|t| cell(t, c)).sum::<f64>();
        let sensitivity: Vec<Option<f64>> = (0..n_classes)
            .map(|c| (row(c) > 0).then(|| confusion[c][c] as f64 / row(c) as f64))
            .collect();
        let ppv: Vec<Option<f64>> = (0..n_classes)
            .map(|c| (weighted_col(c) > 0.0).then(|| cell(c, c) / weighted_col(c)))
            .collect();
        let present: Vec<usize> = (0..n_classes).filter(|&c| row(c) > 0).collect();
        let balanced_accuracy = present
            .iter()
            .map(|&c| sensitivity[c].unwrap_or(0.0))
            .sum::<f64>()
            / present.len() as f64;
        let macro_f1 = present
            .iter()
            .map(|&c| {
                let (se, pp) = (sensitivity[c].unwrap_or(0.0), ppv[c].unwrap_or(0.0));
                if se + pp > 0.0 {
                    2.0 * se * pp / (se + pp)
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            / present.len() as f64;
        let correct: f64 = (0..n_classes).map(|c| cell(c, c)).sum();
        let total: f64 = (0..n_classes).map(weighted_row).sum();
        Self {
            confusion,
            accuracy: correct / total,
            balanced_accuracy,
            macro_f1,
            sensitivity,
            ppv,
        }
    }
}

/// `confusion[t][p]`: samples of true class `t` predicted as `p`; typed errors for empty or
/// mismatched inputs and out-of-range labels.
fn confusion(
    truth: &[u8],
    predicted: &[u8],
    n_classes: usize,
) -> Result<Vec<Vec<usize>>, TrainError> {
    if truth.is_empty() || truth.len() != predicted.len() {
        return Err(TrainError::Data(format!(
            "{} true labels and {} predictions",
            truth.len(),
            predicted.len()
        )));
    }
    let mut confusion = vec![vec![0usize; n_classes]; n_classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        for label in [t, p] {
            if label as usize >= n_classes {
                return Err(TrainError::Label {
                    label: label as usize,
                    n_classes,
                });
            }
        }
        confusion[t as usize][p as usize] += 1;
    }
    Ok(confusion)
}

/// Typed error unless `weights` holds one finite positive weight per class.
pub(crate) fn check_class_mix(weights: &[f64], n_classes: usize) -> Result<(), TrainError> {
    if weights.len() != n_classes || weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
        return Err(TrainError::Config(format!(
            "class-mix weights must be one finite positive number per class ({n_classes}): {weights:?}"
        )));
    }
    Ok(())
}

/// Which validation metric model selection (early stopping, search fitness) maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Monitor {
    /// [`ClassMetrics::balanced_accuracy`].
    BalancedAccuracy,
    /// [`ClassMetrics::macro_f1`].
    MacroF1,
    /// [`ClassMetrics::accuracy`].
    Accuracy,
}

impl Monitor {
    /// The monitored value of `metrics`.
    pub fn value(self, metrics: &ClassMetrics) -> f64 {
        match self {
            Self::BalancedAccuracy => metrics.balanced_accuracy,
            Self::MacroF1 => metrics.macro_f1,
            Self::Accuracy => metrics.accuracy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_three_classes() {
        // truth 0 0 0 1 1 2, predicted 0 1 0 1 2 2
        let m = ClassMetrics::new(&[0, 0, 0, 1, 1, 2], &[0, 1, 0, 1, 2, 2], 3).unwrap();
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let se = [2.0 / 3.0, 0.5, 1.0];
        let pp = [1.0, 0.5, 0.5];
        for c in 0..3 {
            assert!((m.sensitivity[c].unwrap() - se[c]).abs() < 1e-12);
            assert!((m.ppv[c].unwrap() - pp[c]).abs() < 1e-12);
        }
        let f1: f64 = (0..3)
            .map(|c| 2.0 * se[c] * pp[c] / (se[c] + pp[c]))
            .sum::<f64>()
            / 3.0;
        assert!((m.macro_f1 - f1).abs() < 1e-12);
        assert!((m.balanced_accuracy - se.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    }

    #[test]
    fn absent_and_never_predicted_classes() {
        // Class 2 never occurs in the truth; class 1 is never predicted.
        let m = ClassMetrics::new(&[0, 1, 1], &[0, 0, 2], 3).unwrap();
        assert_eq!(m.sensitivity[2], None);
        assert_eq!(m.ppv[1], None);
        assert_eq!(m.balanced_accuracy, 0.5);
        // F1(0) = 2 * 1 * 0.5 / 1.5, F1(1) = 0.
        assert!((m.macro_f1 - (2.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn class_mix_matches_a_set_with_the_samples_repeated() {
        // Weighting by 3 and 1 equals repeating every class-0 sample three times.
        let (truth, predicted) = ([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 0]);
        let mixed = ClassMetrics::at_class_mix(&truth, &predicted, 3, &[3.0, 1.0, 1.0]).unwrap();
        let mut t3 = truth.to_vec();
        let mut p3 = predicted.to_vec();
        for _ in 0..2 {
            t3.extend([0, 0]);
            p3.extend([0, 1]);
        }
        let repeated = ClassMetrics::new(&t3, &p3, 3).unwrap();
        assert!((mixed.accuracy - repeated.accuracy).abs() < 1e-12);
        assert!((mixed.macro_f1 - repeated.macro_f1).abs() < 1e-12);
        assert!((mixed.balanced_accuracy - repeated.balanced_accuracy).abs() < 1e-12);
        for c in 0..3 {
            assert!((mixed.ppv[c].unwrap() - repeated.ppv[c].unwrap()).abs() < 1e-12);
        }
        // Unit weights are the plain metrics.
        let plain = ClassMetrics::new(&truth, &predicted, 3).unwrap();
        let unit = ClassMetrics::at_class_mix(&truth, &predicted, 3, &[1.0; 3]).unwrap();
        assert_eq!(unit, plain);
    }

    #[test]
    fn bad_class_mix_is_an_error() {
        for weights in [&[1.0][..], &[1.0, 0.0], &[1.0, f64::NAN], &[1.0, -2.0]] {
            assert!(matches!(
                ClassMetrics::at_class_mix(&[0, 1], &[0, 1], 2, weights),
                Err(TrainError::Config(_))
            ));
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(ClassMetrics::new(&[], &[], 2).is_err());
        assert!(ClassMetrics::new(&[0], &[0, 1], 2).is_err());
        assert!(matches!(
            ClassMetrics::new(&[0, 3], &[0, 1], 2),
            Err(TrainError::Label { label: 3, .. })
        ));
    }
}
