//! The predictor as a search surrogate.

use burn::tensor::backend::AutodiffBackend;
use dcl_graph::{SearchSpace, Surrogate};

use crate::{CpuBackend, FinetuneConfig, Predictor, PredictorError};

/// A [`Predictor`] as the [`Surrogate`] of a search: every refit fine-tunes a fresh copy of
/// the (pre-trained) base predictor on all architectures evaluated so far, so the ranking
/// never drifts with the number of refits, and the label-free pre-training is never lost.
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

impl<S: SearchSpace, B: AutodiffBackend> Surrogate<S> for PredictorSurrogate<B> {
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
