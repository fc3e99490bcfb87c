//! Label-preserving random perturbations of training signals.
//!
//! A classifier trained on signals from a few sources (patients, sensors, recordings) tends to
//! learn the sources' shapes; these perturbations imitate what differs between sources (gain,
//! sensor noise, baseline wander, where the event sits in the window, jitter of the extra
//! features). The trainer applies them to training batches only, drawing from its own seeded
//! stream, so a run stays reproducible.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// How to perturb each training signal (and its extra features). All zero: no augmentation.
///
/// ```
/// use dcl_train::Augment;
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let mut signal = vec![0.0f32; 128];
/// signal[64] = 1.0;
/// let mut features = vec![1.0f32; 4];
/// let augment = Augment { scale: 0.2, noise: 0.05, feature_jitter: 0.05, ..Augment::NONE };
/// augment.validate().unwrap();
/// augment.apply(&mut signal, &mut features, &mut rng);
/// assert!(signal.iter().all(|v| v.is_finite()));
/// assert!(features.iter().all(|&f| (f - 1.0).abs() <= 0.05 + 1e-6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// The signal is multiplied by a factor drawn from `[1 - scale, 1 + scale]`.
    pub scale: f32,
    /// Standard deviation of white Gaussian noise added to every sample.
    pub noise: f32,
    /// Largest amplitude of a baseline wander: a sine with random amplitude in `[0, wander]`,
    /// random phase, and a period of one to four windows.
    pub wander: f32,
    /// The signal moves by up to this many samples either way; the edge sample fills the gap.
    pub shift: usize,
    /// Each extra feature is multiplied by a factor drawn from
    /// `[1 - feature_jitter, 1 + feature_jitter]`.
    pub feature_jitter: f32,
    /// Probability that the whole signal is replaced by zeros (drawn last, per sample), so the
    /// network sees that sample through its extra features alone. Why: a network that can
    /// memorise the training sources' signal shapes learns little from features that transfer
    /// to new sources better than shapes do; dropping the signal now and then forces the head
    /// to use them.
    pub signal_dropout: f32,
}

impl Default for Augment {
    /// No augmentation.
    fn default() -> Self {
        Self::NONE
    }
}

impl Augment {
    /// No augmentation.
    pub const NONE: Self = Self {
        scale: 0.0,
        noise: 0.0,
        wander: 0.0,
        shift: 0,
        feature_jitter: 0.0,
        signal_dropout: 0.0,
    };

    /// Whether this changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// Typed error for negative or non-finite amounts and factors that could flip a sign.
    pub fn validate(&self) -> Result<(), TrainError> {
        let amounts = [
            self.scale,
            self.noise,
            self.wander,
            self.feature_jitter,
            self.signal_dropout,
        ];
        if amounts.iter().any(|a| !a.is_finite() || *a < 0.0)
            || self.scale >= 1.0
            || self.feature_jitter >= 1.0
            || self.signal_dropout > 1.0
        {
            return Err(TrainError::Config(format!(
                "augmentation amounts must be finite and non-negative, scale and feature jitter \
                 below 1, signal dropout at most 1: {self:?}"
            )));
        }
        Ok(())
    }

    /// Perturbs one signal and its features in place.
    pub fn apply(&self, signal: &mut [f32], features: &mut [f32], rng: &mut dyn Rng) {
        self.apply_channels(signal, 1, features, rng);
    }

    /// Perturbs one sample of `channels` signals laid one after another in `signal`, and its
    /// features, in place. The channels are views of one recording, so they share the shift,
    /// the gain and the wander; the noise is drawn for every value. With one channel this is
    /// [`Augment::apply`]. Does nothing when the signal's length is not a multiple of
    /// `channels`.
    pub fn apply_channels(
        &self,
        signal: &mut [f32],
        channels: usize,
        features: &mut [f32],
        rng: &mut dyn Rng,
    ) {
        if channels == 0 || !signal.len().is_multiple_of(channels) {
            return;
        }
        let n = signal.len() / channels;
        if n == 0 {
            return;
        }
        if self.shift > 0 {
            let s = self.shift.min(n - 1) as i64;
            let by = rng.random_range(-s..=s);
            for channel in signal.chunks_exact_mut(n) {
                shift(channel, by);
            }
        }
        let gain = if self.scale > 0.0 {
            rng.random_range(1.0 - self.scale..=1.0 + self.scale)
        } else {
            1.0
        };
        let (amplitude, phase, period) = if self.wander > 0.0 {
            (
                rng.random_range(0.0..=self.wander),
                rng.random_range(0.0..std::f32::consts::TAU),
                rng.random_range(1.0f32..=4.0) * n as f32,
            )
        } else {
            (0.0, 0.0, 1.0)
        };
        for channel in signal.chunks_exact_mut(n) {
            for (t, v) in channel.iter_mut().enumerate() {
                let mut x = *v * gain;
                if amplitude > 0.0 {
                    x += amplitude * (std::f32::consts::TAU * t as f32 / period + phase).sin();
                }
                if self.noise > 0.0 {
                    x += self.noise * standard_normal(rng);
                }
                *v = x;
            }
        }
        if self.feature_jitter > 0.0 {
            for f in features {
                *f *= rng.random_range(1.0 - self.feature_jitter..=1.0 + self.feature_jitter);
            }
        }
        // Drawn only when asked for, so that settings without it keep their random stream.
        if self.signal_dropout > 0.0 && rng.random_range(0.0f32..1.0) < self.signal_dropout {
            signal.fill(0.0);
        }
    }
}

/// Moves the signal `by` samples later (earlier if negative), repeating the edge sample.
fn shift(signal: &mut [f32], by: i64) {
    let n = signal.len();
    let k = by.unsigned_abs() as usize;
    if k == 0 || k >= n {
        return;
    }
    if by > 0 {
        signal.copy_within(0..n - k, k);
        let edge = signal[k];
        signal[..k].fill(edge);
    } else {
        signal.copy_within(k..n, 0);
        let edge = signal[n - k - 1];
        signal[n - k..].fill(edge);
    }
}

/// One draw from N(0, 1) (Box–Muller).
fn standard_normal(rng: &mut dyn Rng) -> f32 {
    let u1: f32 = rng.random_range(f32::MIN_POSITIVE..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Every perturbation but signal dropout, in amounts that suit unit-variance signals.
    const SOME: Augment = Augment {
        scale: 0.2,
        noise: 0.05,
        wander: 0.3,
        shift: 5,
        feature_jitter: 0.05,
        signal_dropout: 0.0,
    };

    #[test]
    fn channels_share_shift_gain_and_wander() {
        let one: Vec<f32> = (0..64).map(|t| (t as f32 * 0.3).sin()).collect();
        let mut two = [one.clone(), one.clone()].concat();
        let mut single = one.clone();
        let no_noise = Augment { noise: 0.0, ..SOME };
        let (mut f1, mut f2) = (vec![1.0f32; 4], vec![1.0f32; 4]);
        no_noise.apply(&mut single, &mut f1, &mut ChaCha8Rng::seed_from_u64(3));
        no_noise.apply_channels(&mut two, 2, &mut f2, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(&two[..64], &single[..]);
        assert_eq!(&two[64..], &single[..]);
        assert_eq!(f1, f2);
        assert_ne!(single, one);
        // The noise differs between channels.
        let mut noisy = [one.clone(), one].concat();
        SOME.apply_channels(&mut noisy, 2, &mut f2, &mut ChaCha8Rng::seed_from_u64(3));
        assert_ne!(&noisy[..64], &noisy[64..]);
        // A length that does not split into the channels is left alone.
        let mut odd = vec![1.0f32; 7];
        SOME.apply_channels(&mut odd, 2, &mut f2, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(odd, vec![1.0f32; 7]);
    }

    #[test]
    fn shift_moves_and_repeats_the_edge() {
        let mut s = [1.0, 2.0, 3.0, 4.0, 5.0];
        shift(&mut s, 2);
        assert_eq!(s, [1.0, 1.0, 1.0, 2.0, 3.0]);
        let mut s = [1.0, 2.0, 3.0, 4.0, 5.0];
        shift(&mut s, -1);
        assert_eq!(s, [2.0, 3.0, 4.0, 5.0, 5.0]);
        let mut s = [1.0, 2.0];
        shift(&mut s, 9);
        assert_eq!(s, [1.0, 2.0]);
    }

    #[test]
    fn none_changes_nothing_and_each_part_changes_something() {
        let signal: Vec<f32> = (0..64).map(|t| (t as f32 * 0.3).sin()).collect();
        let run = |a: Augment| {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let (mut s, mut f) = (signal.clone(), vec![1.0, 2.0]);
            a.apply(&mut s, &mut f, &mut rng);
            (s, f)
        };
        assert_eq!(run(Augment::NONE), (signal.clone(), vec![1.0, 2.0]));
        for a in [
            Augment {
                scale: 0.2,
                ..Augment::NONE
            },
            Augment {
                noise: 0.1,
                ..Augment::NONE
            },
            Augment {
                wander: 0.3,
                ..Augment::NONE
            },
            Augment {
                shift: 3,
                ..Augment::NONE
            },
        ] {
            let (s, f) = run(a);
            assert_ne!(s, signal, "{a:?}");
            assert_eq!(f, vec![1.0, 2.0]);
        }
        let (s, f) = run(Augment {
            feature_jitter: 0.1,
            ..Augment::NONE
        });
        assert_eq!(s, signal);
        assert!(f[0] != 1.0 && (f[0] - 1.0).abs() <= 0.1 && (f[1] - 2.0).abs() <= 0.2);
        // Same seed, same perturbation.
        assert_eq!(run(SOME), run(SOME));
        // Signal dropout: always (p = 1) zeros the signal and keeps the features; p = 0.5
        // drops about half of many samples; neither touches the features.
        let (s, f) = run(Augment {
            signal_dropout: 1.0,
            ..Augment::NONE
        });
        assert!(s.iter().all(|&v| v == 0.0));
        assert_eq!(f, vec![1.0, 2.0]);
        let half = Augment {
            signal_dropout: 0.5,
            ..Augment::NONE
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let dropped = (0..1000)
            .filter(|_| {
                let mut s = signal.clone();
                half.apply(&mut s, &mut [1.0], &mut rng);
                s.iter().all(|&v| v == 0.0)
            })
            .count();
        assert!((430..570).contains(&dropped), "{dropped}");
    }

    #[test]
    fn noise_has_the_asked_spread() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let a = Augment {
            noise: 0.5,
            ..Augment::NONE
        };
        let mut s = vec![0.0f32; 20_000];
        a.apply(&mut s, &mut [], &mut rng);
        let mean = s.iter().sum::<f32>() / s.len() as f32;
        let sd = (s.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / s.len() as f32).sqrt();
        assert!(mean.abs() < 0.02 && (sd - 0.5).abs() < 0.02, "{mean} {sd}");
    }

    #[test]
    fn bad_amounts_are_errors() {
        assert!(SOME.validate().is_ok());
        for a in [
            Augment {
                scale: 1.0,
                ..Augment::NONE
            },
            Augment {
                noise: -0.1,
                ..Augment::NONE
            },
            Augment {
                wander: f32::NAN,
                ..Augment::NONE
            },
        ] {
            assert!(a.validate().is_err(), "{a:?}");
        }
    }
}
