//! [`Engine`]: what runs the encoder.

use super::*;

/// What computes a predictor's scores and embeddings on the CPU.
///
/// For scoring and embedding ([`Predictor::set_engine`]) both give the same values bit for bit
/// (a test checks it on both spaces); the choice is one of speed. For training
/// ([`Predictor::set_training_engine`]) the native engine computes the same gradients as burn's
/// autodiff, rounded differently and several times faster, so the two train slightly different
/// models; the native engine is the default for both.
///
/// ```
/// use dcl_predictor::Engine;
/// assert_eq!("native".parse::<Engine>().unwrap(), Engine::Native);
/// assert_eq!(Engine::Burn.to_string(), "burn");
/// assert!("torch".parse::<Engine>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// This crate's CPU kernels (SGEMM for the dense layers, sparse message passing, buffers
    /// reused within a chunk of graphs, chunks in parallel on rayon's pool): several times
    /// faster than burn-ndarray at this model's size.
    #[default]
    Native,
    /// burn's forward pass on the predictor's backend `B`, without autodiff.
    Burn,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Native => "native",
            Self::Burn => "burn",
        })
    }
}

impl std::str::FromStr for Engine {
    type Err = PredictorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" => Ok(Self::Native),
            "burn" => Ok(Self::Burn),
            _ => Err(PredictorError::Config(format!(
                "unknown predictor engine {s:?} (native, burn)"
            ))),
        }
    }
}
