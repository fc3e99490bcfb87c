//! [`Ensemble`]: several fine-tuned copies of one predictor, their scores averaged.

use burn::tensor::backend::AutodiffBackend;
use dcl_graph::GraphSpace;

use crate::PredictorError;
use crate::predictor::{CpuBackend, FinetuneConfig, Predictor};

/// Seed offset between members: member `m` is forked with `seed + m * MEMBER_SEED_STRIDE`, so
/// member 0 is exactly the single model `base.fork(seed)` would give.
pub const MEMBER_SEED_STRIDE: u64 = 1_000_000;

/// Copies of one (usually pre-trained) predictor, each fine-tuned on the same labels with its
/// own shuffles, whose standardised scores are averaged.
///
/// The copies differ only in the order they see the labelled architectures, so an ensemble
/// only helps when there is more than one batch per epoch (`batch_size` smaller than the
/// labelled set); with one batch per epoch the members are nearly identical.
///
/// ```
/// use dcl_predictor::{Ensemble, FinetuneConfig, ModelConfig, Nb201Space, Predictor, SearchSpace};
/// use rand::SeedableRng;
///
/// let space = Nb201Space::new();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let archs: Vec<_> = (0..32).map(|_| space.sample(&mut rng)).collect();
/// let labelled: Vec<_> = archs.iter().map(|a| {
///     (*a, a.ops().iter().filter(|o| **o == dcl_graph::Nb201Op::NorConv3x3).count() as f64)
/// }).collect();
/// let small = ModelConfig { hidden: 16, layers: 2, projection: 8 };
/// let base: Predictor = Predictor::new(&space, small, 7).unwrap();
/// let cfg = FinetuneConfig { epochs: 3, batch_size: 16, ..Default::default() };
/// let ensemble = Ensemble::finetune(&base, &space, &labelled, &cfg, 3, 0).unwrap();
/// assert_eq!(ensemble.members().len(), 3);
/// assert_eq!(ensemble.score(&space, &archs).unwrap().len(), 32);
/// ```
#[derive(Debug)]
pub struct Ensemble<B: AutodiffBackend = CpuBackend> {
    members: Vec<Predictor<B>>,
}

impl<B: AutodiffBackend> Ensemble<B> {
    /// Fine-tunes `members` copies of `base` on `labelled`, member `m` forked with seed
    /// `seed + m * MEMBER_SEED_STRIDE`. Fails on `members == 0` and on anything
    /// [`Predictor::finetune`] refuses.
    pub fn finetune<S: GraphSpace>(
        base: &Predictor<B>,
        space: &S,
        labelled: &[(S::Arch, f64)],
        cfg: &FinetuneConfig,
        members: usize,
        seed: u64,
    ) -> Result<Self, PredictorError> {
        Self::finetune_from(
            std::slice::from_ref(base),
            space,
            labelled,
            cfg,
            members,
            seed,
        )
    }

    /// Like [`finetune`](Self::finetune), but member `m` starts from `bases[m % bases.len()]`:
    /// with encoders pre-trained from different seeds the members also differ in what stage 1
    /// taught them, not only in their batches. Fails on `members == 0` or no base.
    pub fn finetune_from<S: GraphSpace>(
        bases: &[Predictor<B>],
        space: &S,
        labelled: &[(S::Arch, f64)],
        cfg: &FinetuneConfig,
        members: usize,
        seed: u64,
    ) -> Result<Self, PredictorError> {
        if members == 0 || bases.is_empty() {
            return Err(PredictorError::Config(
                "an ensemble needs at least one member and one base".into(),
            ));
        }
        let members = (0..members as u64)
            .map(|m| {
                let base = &bases[m as usize % bases.len()];
                let mut p = base.fork(seed.wrapping_add(m.wrapping_mul(MEMBER_SEED_STRIDE)));
                p.finetune(space, labelled, cfg)?;
                Ok(p)
            })
            .collect::<Result<Vec<_>, PredictorError>>()?;
        Ok(Self { members })
    }

    /// An ensemble of already fine-tuned predictors (at least one, all for one space).
    pub fn from_members(members: Vec<Predictor<B>>) -> Result<Self, PredictorError> {
        let first = members.first().ok_or(PredictorError::Empty(
            "an ensemble needs at least one member",
        ))?;
        if let Some(other) = members
            .iter()
            .find(|p| p.space_name() != first.space_name())
        {
            return Err(PredictorError::SpaceMismatch {
                expected: first.space_name().to_owned(),
                found: other.space_name().to_owned(),
            });
        }
        Ok(Self { members })
    }

    /// The fine-tuned members.
    pub fn members(&self) -> &[Predictor<B>] {
        &self.members
    }

    /// Scores `archs`: each member's scores standardised over `archs` (members' score scales
    /// differ), then averaged. Higher means better; only the order is meaningful, and it
    /// depends on the whole batch through the standardisation.
    pub fn score<S: GraphSpace>(
        &self,
        space: &S,
        archs: &[S::Arch],
    ) -> Result<Vec<f64>, PredictorError> {
        let mut total = vec![0.0; archs.len()];
        for member in &self.members {
            let s: Vec<f64> = member
                .score(space, archs)?
                .into_iter()
                .map(f64::from)
                .collect();
            for (acc, z) in total.iter_mut().zip(standardise(&s)) {
                *acc += z;
            }
        }
        let n = self.members.len() as f64;
        Ok(total.into_iter().map(|v| v / n).collect())
    }
}

/// `(v - mean) / std` (sample standard deviation); constant or single scores become zeros.
fn standardise(v: &[f64]) -> impl Iterator<Item = f64> + '_ {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n.max(1.0);
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0).max(1.0);
    let sd = var.sqrt().max(1e-12);
    v.iter().map(move |x| (x - mean) / sd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardise_centres_and_scales() {
        let z: Vec<f64> = standardise(&[1.0, 2.0, 3.0]).collect();
        assert_eq!(z, vec![-1.0, 0.0, 1.0]);
        let flat: Vec<f64> = standardise(&[5.0, 5.0]).collect();
        assert_eq!(flat, vec![0.0, 0.0]);
        assert_eq!(standardise(&[]).count(), 0);
    }
}
