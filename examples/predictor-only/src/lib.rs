//! A user's own crate after `cargo add dcl-predictor` and nothing else: a search space
//! (chains of ops between input and output) implemented with the traits, types and RNG crates
//! that dcl-predictor re-exports, and the predictor ranking it. Its test trains the ranker on a
//! few labelled chains and checks that it orders unseen ones by their fitness. The `own_space`
//! example of the workspace searches this space with DCL-ENAS.

use dcl_predictor::rand::{Rng, RngExt};
use dcl_predictor::{ArchGraph, GraphError, GraphSpace, NodeOp, OpVocab, SearchSpace};

/// Chains of one to four ops between input and output.
pub struct Chains {
    vocab: OpVocab,
}

impl Chains {
    /// The space over the ops `conv3x3`, `conv1x1`, `pool` and `skip`.
    pub fn new() -> Result<Self, GraphError> {
        Ok(Self {
            vocab: OpVocab::new(["conv3x3", "conv1x1", "pool", "skip"])?,
        })
    }
}

impl SearchSpace for Chains {
    type Arch = Vec<usize>;
    type Key = Vec<usize>;

    fn name(&self) -> &str {
        "chains"
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<usize> {
        let len = rng.random_range(1..=4);
        (0..len)
            .map(|_| rng.random_range(0..self.vocab.len()))
            .collect()
    }

    fn mutate<R: Rng + ?Sized>(&self, arch: &Vec<usize>, rng: &mut R) -> Vec<usize> {
        let mut child = arch.clone();
        let i = rng.random_range(0..child.len());
        child[i] = (child[i] + rng.random_range(1..self.vocab.len())) % self.vocab.len();
        child
    }

    fn key(&self, arch: &Vec<usize>) -> Vec<usize> {
        arch.clone()
    }

    /// The op names joined by `>`.
    fn arch_text(&self, arch: &Vec<usize>) -> String {
        let names: Vec<&str> = arch.iter().filter_map(|&o| self.vocab.name(o)).collect();
        names.join(">")
    }

    fn key_text(&self, key: &Vec<usize>) -> String {
        self.arch_text(key)
    }
}

impl GraphSpace for Chains {
    fn ops(&self) -> &OpVocab {
        &self.vocab
    }

    fn max_nodes(&self) -> usize {
        6
    }

    fn to_graph(&self, arch: &Vec<usize>) -> Result<ArchGraph, GraphError> {
        let mut ops = vec![NodeOp::Input];
        ops.extend(arch.iter().map(|&o| NodeOp::Op(o)));
        ops.push(NodeOp::Output);
        let edges: Vec<_> = (1..ops.len()).map(|v| (v - 1, v)).collect();
        ArchGraph::new(ops, &edges, self.limits())
    }
}

/// A made-up true fitness: 3x3 convolutions help, length costs.
pub fn fitness(arch: &[usize]) -> f64 {
    let convs = arch.iter().filter(|&&op| op == 0).count() as f64;
    convs - 0.4 * arch.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcl_predictor::metrics::kendall_tau;
    use dcl_predictor::rand::SeedableRng;
    use dcl_predictor::rand_chacha::ChaCha8Rng;
    use dcl_predictor::{
        Engine, Evaluator, FinetuneConfig, FnEvaluator, ModelConfig, Predictor, PretrainConfig,
    };

    #[test]
    fn the_predictor_ranks_a_space_implemented_with_its_reexports_alone() {
        let space = Chains::new().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let model = ModelConfig {
            hidden: 16,
            layers: 2,
            projection: 8,
        };
        let mut predictor: Predictor = Predictor::new(&space, model, 0).unwrap();
        predictor.set_training_engine(Engine::Native);
        let unlabelled: Vec<_> = (0..256).map(|_| space.sample(&mut rng)).collect();
        let pretrain = PretrainConfig {
            epochs: 1,
            batch_size: 64,
            ..Default::default()
        };
        predictor.pretrain(&space, &unlabelled, &pretrain).unwrap();

        // Labels from an evaluator, as a search would get them.
        let mut evaluator = FnEvaluator::new(|a: &Vec<usize>| fitness(a));
        let labelled: Vec<_> = (0..128)
            .map(|_| {
                let a = space.sample(&mut rng);
                let f = evaluator.evaluate(&space, &a).unwrap();
                (a, f)
            })
            .collect();
        let finetune = FinetuneConfig {
            epochs: 20,
            learning_rate: 3e-3,
            ..Default::default()
        };
        predictor.finetune(&space, &labelled, &finetune).unwrap();

        let unseen: Vec<_> = (0..64).map(|_| space.sample(&mut rng)).collect();
        let scores: Vec<f64> = predictor
            .score(&space, &unseen)
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        let truth: Vec<f64> = unseen.iter().map(|a| fitness(a)).collect();
        let tau = kendall_tau(&scores, &truth).unwrap();
        assert!(tau > 0.6, "Kendall tau {tau} on unseen chains");
        assert_eq!(space.arch_text(&vec![0, 2, 3]), "conv3x3>pool>skip");
    }
}
