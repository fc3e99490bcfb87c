//! Beat windows cut around annotated R peaks, RR-interval features, and the inter-patient split.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::aami::ClassSet;
use crate::db::{MitBih, Split};
use crate::error::{EcgError, Result};

/// Number of RR-interval features per beat (see [`BeatConfig::rr_features`]).
pub const RR_FEATURES: usize = 4;

/// Number of extra local-rhythm features per beat (see [`BeatConfig::local_rr`]).
pub const LOCAL_RR_FEATURES: usize = 2;

/// How beats are cut and described.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BeatConfig {
    /// Samples (at 360 Hz) kept before the R peak. Default 96 (0.27 s).
    pub before: usize,
    /// Samples kept from the R peak on. Default 160 (0.44 s).
    pub after: usize,
    /// Keep every `downsample`-th sample (after averaging each group, a box filter).
    /// Default 2: 256 samples at 360 Hz become 128 at 180 Hz.
    pub downsample: usize,
    /// Add the four RR-interval features of de Chazal et al.: the previous and next RR
    /// intervals and the mean of the last ten, each divided by the record's mean RR interval,
    /// and the previous-to-next ratio. Morphology alone cannot tell most S beats from N beats
    /// across patients; the rhythm can. Default true.
    pub rr_features: bool,
    /// With `rr_features`, add two features relative to the local rhythm: the previous and
    /// next RR intervals divided by the mean of the last ten. A premature beat is premature
    /// against the rhythm around it, which drifts within a record (bradycardia with pauses,
    /// exercise); dividing by the record's mean, as the four features above do, cannot see
    /// that, and a linear layer cannot form the ratio from them. Default false.
    pub local_rr: bool,
    /// Subtract the record's median beat from every window, sample by sample, so the window
    /// says how a beat differs from the patient's usual beat rather than what the patient's
    /// beats look like. The median is taken over all the record's beats the window keeps, with
    /// no use of labels (a patient's whole recording is at hand at test time too). Beat shapes
    /// differ between patients more than between N and S beats of one patient; a network
    /// trained on the shapes of DS1's patients fits them and does not transfer to new ones.
    /// Default false.
    pub subtract_median_beat: bool,
    /// Give every beat a second channel beside its window: the window minus the record's
    /// median beat (computed as for [`BeatConfig::subtract_median_beat`], which must then be
    /// off). The subtracted window alone says how a beat differs from the patient's usual
    /// beat but no longer what it looks like (a V beat's wide QRS, a missing P wave); with
    /// both channels the network sees the shape and the deviation. In the inter-patient
    /// search both networks did worse with the two channels than with the subtracted window
    /// alone: the shape lets them fit the training patients again.
    /// Default false.
    pub median_beat_channel: bool,
    /// Which classes are kept. Default [`ClassSet::Aami4`].
    pub classes: ClassSet,
}

impl Default for BeatConfig {
    fn default() -> Self {
        Self {
            before: 96,
            after: 160,
            downsample: 2,
            rr_features: true,
            local_rr: false,
            subtract_median_beat: false,
            median_beat_channel: false,
            classes: ClassSet::Aami4,
        }
    }
}

impl BeatConfig {
    /// Samples per beat window after downsampling.
    pub fn window(&self) -> usize {
        (self.before + self.after) / self.downsample.max(1)
    }

    /// Channels per beat: 2 with [`BeatConfig::median_beat_channel`], else 1.
    pub fn channels(&self) -> usize {
        if self.median_beat_channel { 2 } else { 1 }
    }

    /// Features per beat besides the window: 0 without `rr_features`, else [`RR_FEATURES`],
    /// plus [`LOCAL_RR_FEATURES`] with `local_rr`.
    pub fn n_features(&self) -> usize {
        match (self.rr_features, self.local_rr) {
            (false, _) => 0,
            (true, false) => RR_FEATURES,
            (true, true) => RR_FEATURES + LOCAL_RR_FEATURES,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.downsample == 0 || self.window() == 0 {
            return Err(EcgError::Config(
                "the beat window must hold at least one sample and downsample must be >= 1".into(),
            ));
        }
        if self.subtract_median_beat && self.median_beat_channel {
            return Err(EcgError::Config(
                "subtract_median_beat and median_beat_channel exclude each other: the second \
                 channel is the first minus the median beat"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A set of labelled beats, stored flat: beat `i`'s channels are
/// `signals[i * channels * window .. (i + 1) * channels * window]`, one window after another,
/// its features `features[i * n_features ..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatSet {
    /// Samples per window (per channel).
    pub window: usize,
    /// Channels per beat (see [`BeatConfig::median_beat_channel`]).
    pub channels: usize,
    /// Extra features per beat.
    pub n_features: usize,
    /// Number of classes labels are drawn from.
    pub n_classes: usize,
    /// Windows, one after another. Each is in millivolts, minus its own mean (baseline wander),
    /// divided by its record's signal standard deviation (amplitude differs between patients);
    /// with [`BeatConfig::subtract_median_beat`], minus its record's median beat after that.
    /// With [`BeatConfig::median_beat_channel`] each beat's window is followed by that window
    /// minus the median beat.
    pub signals: Vec<f32>,
    /// Features, one beat after another.
    pub features: Vec<f32>,
    /// Class label of each beat, `0..n_classes`.
    pub labels: Vec<u8>,
    /// Record name of each beat.
    pub records: Vec<String>,
}

impl Default for BeatSet {
    /// An empty set of one-channel beats.
    fn default() -> Self {
        Self {
            window: 0,
            channels: 1,
            n_features: 0,
            n_classes: 0,
            signals: Vec::new(),
            features: Vec::new(),
            labels: Vec::new(),
            records: Vec::new(),
        }
    }
}

impl BeatSet {
    /// Number of beats.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no beat.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Beats per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The beats at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let mut out = Self {
            window: self.window,
            channels: self.channels,
            n_features: self.n_features,
            n_classes: self.n_classes,
            ..Self::default()
        };
        let per_beat = self.channels * self.window;
        for &i in indices {
            out.signals
                .extend_from_slice(&self.signals[i * per_beat..(i + 1) * per_beat]);
            out.features
                .extend_from_slice(&self.features[i * self.n_features..(i + 1) * self.n_features]);
            out.labels.push(self.labels[i]);
            out.records.push(self.records[i].clone());
        }
        out
    }

    /// At most `per_class` beats of each class, drawn without replacement with a seeded RNG
    /// (a class with fewer beats keeps all of them), shuffled.
    pub fn balanced_subsample(&self, per_class: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut chosen = Vec::new();
        for class in 0..self.n_classes {
            let mut members: Vec<usize> = (0..self.len())
                .filter(|&i| self.labels[i] as usize == class)
                .collect();
            members.shuffle(&mut rng);
            members.truncate(per_class);
            chosen.extend(members);
        }
        chosen.shuffle(&mut rng);
        self.subset(&chosen)
    }

    /// Fails with [`EcgError::EmptyClass`] when a class has no beat.
    pub fn require_all_classes(&self, set: &str, classes: ClassSet) -> Result<()> {
        for (label, count) in self.class_counts().into_iter().enumerate() {
            if count == 0 {
                return Err(EcgError::EmptyClass {
                    set: set.to_string(),
                    class: classes.classes()[label].to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Cuts the beats of `records` out of the database. Beats whose window would cross the
/// signal's edges, and the first and last beat of each record (they lack an RR interval), are
/// skipped; beats of classes left out by `config.classes` are dropped.
pub fn extract_beats(db: &MitBih, records: &[&str], config: &BeatConfig) -> Result<BeatSet> {
    config.validate()?;
    let window = config.window();
    let n_features = config.n_features();
    let mut set = BeatSet {
        window,
        channels: config.channels(),
        n_features,
        n_classes: config.classes.len(),
        ..BeatSet::default()
    };
    for &name in records {
        let info = db.record(name)?;
        let signal = db.signal(name)?;
        let beats: Vec<_> = db
            .annotations(name)?
            .iter()
            .filter_map(|a| a.class.map(|c| (a.sample, c)))
            .collect();
        if beats.len() < 3 {
            continue;
        }
        let fs = info.fs_hz as f32;
        let mv: Vec<f32> = signal
            .iter()
            .map(|&s| (s as i32 - info.zero) as f32 / info.gain)
            .collect();
        let mean = mv.iter().sum::<f32>() / mv.len() as f32;
        let std = (mv.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / mv.len() as f32)
            .sqrt()
            .max(1e-3);
        let rr: Vec<f32> = beats
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) as f32 / fs)
            .collect();
        let mean_rr = rr.iter().sum::<f32>() / rr.len() as f32;
        // This record's windows, one channel; the median beat needs them all.
        let mut windows = Vec::new();
        for k in 1..beats.len() - 1 {
            let (sample, class) = beats[k];
            let Some(label) = config.classes.label(class) else {
                continue;
            };
            if sample < config.before || sample + config.after > signal.len() {
                continue;
            }
            let raw = &mv[sample - config.before..sample + config.after];
            let down: Vec<f32> = raw
                .chunks_exact(config.downsample)
                .map(|c| c.iter().sum::<f32>() / c.len() as f32)
                .take(window)
                .collect();
            let w_mean = down.iter().sum::<f32>() / down.len() as f32;
            windows.extend(down.iter().map(|v| (v - w_mean) / std));
            if config.rr_features {
                let (pre, post) = (rr[k - 1], rr[k]);
                let local = rr[k.saturating_sub(10)..k].iter().sum::<f32>()
                    / (k - k.saturating_sub(10)) as f32;
                set.features.extend([
                    pre / mean_rr,
                    post / mean_rr,
                    local / mean_rr,
                    pre / post.max(1e-3),
                ]);
                if config.local_rr {
                    let local = local.max(1e-3);
                    set.features.extend([pre / local, post / local]);
                }
            }
            set.labels.push(label as u8);
            set.records.push(name.to_string());
        }
        if config.subtract_median_beat {
            subtract_median(&mut windows, window);
        }
        if config.median_beat_channel {
            let mut deviations = windows.clone();
            subtract_median(&mut deviations, window);
            for (plain, deviation) in windows
                .chunks_exact(window)
                .zip(deviations.chunks_exact(window))
            {
                set.signals.extend_from_slice(plain);
                set.signals.extend_from_slice(deviation);
            }
        } else {
            set.signals.extend_from_slice(&windows);
        }
    }
    Ok(set)
}

/// Subtracts, sample by sample, the median over `windows` (laid out one after another, each
/// `window` long) from every one of them.
fn subtract_median(windows: &mut [f32], window: usize) {
    let n = windows.len() / window;
    if n == 0 {
        return;
    }
    let mut column = vec![0.0f32; n];
    for t in 0..window {
        for (i, c) in column.iter_mut().enumerate() {
            *c = windows[i * window + t];
        }
        column.sort_by(f32::total_cmp);
        let median = if n % 2 == 1 {
            column[n / 2]
        } else {
            0.5 * (column[n / 2 - 1] + column[n / 2])
        };
        for i in 0..n {
            windows[i * window + t] -= median;
        }
    }
}

/// DS1 records held out for validation (early stopping, search fitness) by default: five
/// patients that together hold beats of all four classes N, S, V, F, so that the validation
/// split is by patient, like the test split.
pub const DEFAULT_VALID_RECORDS: [&str; 5] = ["118", "124", "205", "207", "223"];

/// The inter-patient protocol: train on DS1 minus the validation patients, validate on those,
/// test on DS2. Paced records are in none of them.
#[derive(Debug, Clone)]
pub struct InterPatientSplit {
    /// DS1 beats of the training patients.
    pub train: BeatSet,
    /// DS1 beats of the validation patients.
    pub valid: BeatSet,
    /// DS2 beats.
    pub test: BeatSet,
}

impl InterPatientSplit {
    /// Builds the three sets. `valid_records` must be DS1 records; every class of
    /// `config.classes` must have beats in each set, or an [`EcgError::EmptyClass`] says which.
    ///
    /// ```no_run
    /// use dcl_ecg::{BeatConfig, DEFAULT_VALID_RECORDS, InterPatientSplit, MitBih};
    /// let db = MitBih::bundled()?;
    /// let split = InterPatientSplit::new(&db, &BeatConfig::default(), &DEFAULT_VALID_RECORDS)?;
    /// println!("train {} valid {} test {}", split.train.len(), split.valid.len(), split.test.len());
    /// # Ok::<(), dcl_ecg::EcgError>(())
    /// ```
    pub fn new(db: &MitBih, config: &BeatConfig, valid_records: &[&str]) -> Result<Self> {
        let ds1 = db.records_in(Split::Ds1);
        for &v in valid_records {
            if !ds1.contains(&v) {
                return Err(EcgError::Config(format!(
                    "validation record {v:?} is not a DS1 record"
                )));
            }
        }
        let train_records: Vec<&str> = ds1
            .iter()
            .copied()
            .filter(|r| !valid_records.contains(r))
            .collect();
        let split = Self {
            train: extract_beats(db, &train_records, config)?,
            valid: extract_beats(db, valid_records, config)?,
            test: extract_beats(db, &db.records_in(Split::Ds2), config)?,
        };
        split.train.require_all_classes("train", config.classes)?;
        split.valid.require_all_classes("valid", config.classes)?;
        split.test.require_all_classes("test", config.classes)?;
        Ok(split)
    }
}

#[cfg(test)]
mod tests {
    use super::subtract_median;

    #[test]
    fn subtract_median_takes_each_samples_median_off() {
        // Three windows of two samples: medians 2 and 10.
        let mut w = vec![1.0, 10.0, 2.0, 30.0, 5.0, -4.0];
        subtract_median(&mut w, 2);
        assert_eq!(w, vec![-1.0, 0.0, 0.0, 20.0, 3.0, -14.0]);
        // Two windows: the median is their mean.
        let mut w = vec![1.0, 3.0];
        subtract_median(&mut w, 1);
        assert_eq!(w, vec![-1.0, 1.0]);
        let mut empty: Vec<f32> = Vec::new();
        subtract_median(&mut empty, 4);
        assert!(empty.is_empty());
    }
}
