//! Helpers shared by this crate's integration tests.

use dcl_predictor::{ModelConfig, Nb201Cell, Nb201Space, SearchSpace};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A model small enough for tests to train in seconds.
pub const SMALL: ModelConfig = ModelConfig {
    hidden: 16,
    layers: 2,
    projection: 8,
};

/// `n` NB201 cells drawn by `seed`.
pub fn sample(space: &Nb201Space, n: usize, seed: u64) -> Vec<Nb201Cell> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| space.sample(&mut rng)).collect()
}
