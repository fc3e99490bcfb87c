//! The hand-designed reference and the ECG training settings it shares with the search.

use burn::tensor::backend::Backend;
use dcl_train::{Augment, FeatureEntry, InputShape, ResNet1d, ResNetConfig, TrainError};

/// The residual 1-D CNN of Kachuee, Fazeli and Sarrafzadeh, *ECG Heartbeat Classification:
/// A Deep Transferable Representation* (IEEE ICHI 2018): a width-5 convolution to 32
/// channels, five residual blocks (two width-5 convolutions with 32 filters, a skip
/// connection, max-pooling of width 5 and stride 2), then two fully-connected layers of 32
/// units and the classifier.
pub const KACHUEE: ResNetConfig = ResNetConfig {
    filters: 32,
    blocks: 5,
    kernel: 5,
    pool: 5,
    hidden_layers: 2,
    hidden: 32,
};

/// The [`KACHUEE`] network for beats of `shape`, the RR features entering at `entry`
/// (`Head`, joined before the fully-connected layers, is the network as published; `Stem`
/// and `Logits` give it the entries a search may choose), its weights drawn from `seed`.
/// Fails when a beat is too short for five poolings (at least 125 samples).
///
/// ```
/// use burn::backend::NdArray;
/// use burn::module::Module;
/// use dcl_ecg_app::kachuee_net;
/// use dcl_train::{FeatureEntry, InputShape};
/// let shape = InputShape { length: 256, channels: 1, n_features: 4, n_classes: 4 };
/// let net = kachuee_net::<NdArray>(shape, FeatureEntry::Head, 0, &Default::default()).unwrap();
/// assert_eq!(net.num_params(), 58_180);
/// ```
pub fn kachuee_net<B: Backend>(
    shape: InputShape,
    entry: FeatureEntry,
    seed: u64,
    device: &B::Device,
) -> Result<ResNet1d<B>, TrainError> {
    ResNet1d::new(&KACHUEE, shape, entry, seed, device)
}

/// Augmentation for per-record normalised beat windows (unit standard deviation), imitating
/// what differs between patients and recordings: gain ±20 %, electrode noise 0.05, baseline
/// wander up to 0.3, the R peak moved up to 5 samples, RR features ±5 %.
pub const ECG_AUGMENT: Augment = Augment {
    scale: 0.2,
    noise: 0.05,
    wander: 0.3,
    shift: 5,
    feature_jitter: 0.05,
    signal_dropout: 0.0,
};

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::module::Module;

    /// The published sizes, counted by hand: five poolings take 186 samples to 2, so the first
    /// fully-connected layer reads 32 x 2 maps and the 4 RR features.
    #[test]
    fn the_kachuee_network_has_the_published_layers() {
        let shape = InputShape {
            length: 186,
            channels: 1,
            n_features: 4,
            n_classes: 4,
        };
        assert_eq!(KACHUEE.pooled_length(186), Some(2));
        let conv = |c_in: usize| c_in * 32 * 5 + 32;
        let expected = conv(1) + 10 * conv(32) + (64 + 4) * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4;
        let device = Default::default();
        let net = kachuee_net::<NdArray>(shape, FeatureEntry::Head, 0, &device).unwrap();
        assert_eq!(net.num_params(), expected);
        assert!(
            kachuee_net::<NdArray>(
                InputShape {
                    length: 124,
                    ..shape
                },
                FeatureEntry::Head,
                0,
                &device
            )
            .is_err()
        );
        ECG_AUGMENT.validate().unwrap();
    }
}
