//! The predictor as a search surrogate.

use burn::tensor::backend::AutodiffBackend;
use dcl_graph::{GraphSpace, Surrogate};

use crate::{CpuBackend, FinetuneConfig, Predictor, PredictorError};

/// A [`Predictor`] as the [`Surrogate`] of a search: every refit fine-tunes a fresh copy of
/// the (pre-trained) base predictor on all architectures evaluated so far, so the ranking
/// never drifts with the number of refits, and the label-free pre-training is never lost.
///
/// ```
/// use dcl_predictor::{FinetuneConfig, ModelConfig, Nb201Space, Predictor, PredictorSurrogate, SearchSpace, Surrogate};
/// use rand::SeedableRng;
///
/// let space = Nb201Space::new();
/// let model = ModelConfig { hidden: 16, layers: 2, projection: 8 };
/// let predictor: Predictor = Predictor::new(&space, model, 0).unwrap(); // pre-train it first
/// let mut surrogate = PredictorSurrogate::new(
///     predictor,
///     FinetuneConfig { epochs: 3, ..FinetuneConfig::search_default() },
///     0,
/// );
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let labelled: Vec<_> = (0..8).map(|i| (space.sample(&mut rng), i as f64)).collect();
/// surrogate.learn(&space, &labelled).unwrap();
/// let scores = surrogate.score(&space, &[labelled[0].0, labelled[7].0]).unwrap();
/// assert_eq!(scores.len(), 2);
/// assert_eq!(surrogate.refits(), 1);
/// ```
#[derive(Debug)]
pub struct PredictorSurrogate<B: AutodiffBackend = CpuBackend> {
    base: Predictor<B>,
    current: Predictor<B>,
    finetune: FinetuneConfig,
    seed: u64,
    refits: u64,
}

impl<B: AutodiffBackend> PredictorSurrogate<B> {
    /// A surrogate from a (pre-trained) predictor; refits use `finetune` and seeds derived from
    /// `seed`.
    pub fn new(base: Predictor<B>, finetune: FinetuneConfig, seed: u64) -> Self {
        let current = base.fork(seed);
        Self {
            base,
            current,
            finetune,
            seed,
            refits: 0,
        }
    }

    /// The predictor as last fitted.
    pub fn current(&self) -> &Predictor<B> {
        &self.current
    }

    /// Number of refits so far.
    pub fn refits(&self) -> u64 {
        self.refits
    }
}

impl<S: GraphSpace, B: AutodiffBackend> Surrogate<S> for PredictorSurrogate<B> {
    type Error = PredictorError;

    fn score(&mut self, space: &S, archs: &[S::Arch]) -> Result<Vec<f64>, PredictorError> {
        Ok(self
            .current
            .score(space, archs)?
            .into_iter()
            .map(f64::from)
            .collect())
    }

    fn learn(&mut self, space: &S, labelled: &[(S::Arch, f64)]) -> Result<(), PredictorError> {
        self.refits += 1;
        let mut p = self.base.fork(
            self.seed
                .wrapping_add(self.refits.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        );
        p.finetune(space, labelled, &self.finetune)?;
        self.current = p;
        Ok(())
    }

    /// Fine-tuning ranks pairs: it needs two labelled architectures.
    fn min_labels(&self) -> usize {
        2
    }
}
