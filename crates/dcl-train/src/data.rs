//! Labelled fixed-length signals (plus optional per-sample features), the trainer's input.

use crate::TrainError;

/// Labelled signals stored flat: sample `i` is
/// `signals[i * channels * length .. (i + 1) * channels * length]`, its channels one after
/// another, with `n_features` extra scalars `features[i * n_features ..]` that the networks
/// concatenate after global pooling (RR intervals for ECG beats).
///
/// It serializes (serde) as these fields, so a data set can be written once and read by
/// training workers on other machines; [`validate`](SignalData::validate) what you read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SignalData {
    /// Samples per signal (per channel).
    pub length: usize,
    /// Channels per sample (1 unless the data says otherwise: an ECG beat with its
    /// median-beat difference as a second channel, say).
    pub channels: usize,
    /// Extra features per sample.
    pub n_features: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// The signals, one after another.
    pub signals: Vec<f32>,
    /// The features, one sample after another.
    pub features: Vec<f32>,
    /// One label per sample, in `0..n_classes`.
    pub labels: Vec<u8>,
}

impl Default for SignalData {
    /// No samples, one channel.
    fn default() -> Self {
        Self {
            length: 0,
            channels: 1,
            n_features: 0,
            n_classes: 0,
            signals: Vec::new(),
            features: Vec::new(),
            labels: Vec::new(),
        }
    }
}

impl SignalData {
    /// Checks sizes, labels and values: typed errors for empty data, mismatched lengths, labels
    /// out of range and NaN or infinite values.
    pub fn validate(&self) -> Result<(), TrainError> {
        let n = self.labels.len();
        if n == 0 || self.length == 0 || self.channels == 0 || self.n_classes < 2 {
            return Err(TrainError::Data(format!(
                "{n} samples of {} channels of length {} with {} classes",
                self.channels, self.length, self.n_classes
            )));
        }
        if self.signals.len() != n * self.channels * self.length
            || self.features.len() != n * self.n_features
        {
            return Err(TrainError::Data(format!(
                "{n} labels but {} signal values ({} channels of length {}) and {} feature \
                 values ({} per sample)",
                self.signals.len(),
                self.channels,
                self.length,
                self.features.len(),
                self.n_features
            )));
        }
        if let Some(&l) = self.labels.iter().find(|&&l| l as usize >= self.n_classes) {
            return Err(TrainError::Label {
                label: l as usize,
                n_classes: self.n_classes,
            });
        }
        if self
            .signals
            .iter()
            .chain(&self.features)
            .any(|v| !v.is_finite())
        {
            return Err(TrainError::Data("NaN or infinite value".into()));
        }
        Ok(())
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }
}
