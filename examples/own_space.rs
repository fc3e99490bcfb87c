//! Bring your own search space: implement `SearchSpace` (the search operators) and `GraphSpace`
//! (the graph the predictor reads), pre-train the predictor on it without labels, and search it
//! with DCL-ENAS and your own evaluator.
//!
//! ```text
//! cargo run --release --example own_space
//! ```
//!
//! The space: chains of one to four ops between input and output. The "true" fitness is made
//! up (3x3 convolutions help, length costs); put a training run there.

use dcl_evo::{DclEnas, DclEnasConfig, Driver, RandomSearch};
use dcl_graph::{ArchGraph, FnEvaluator, GraphError, GraphSpace, NodeOp, OpVocab, SearchSpace};
use dcl_predictor::{FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Chains {
    vocab: OpVocab,
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
    /// The op names joined by `>`: what journals and printed lines show.
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

/// The made-up true fitness.
fn fitness(arch: &[usize]) -> f64 {
    let convs = arch.iter().filter(|&&op| op == 0).count() as f64;
    let pools = arch.iter().filter(|&&op| op == 2).count() as f64;
    convs + 0.3 * pools - 0.4 * arch.len() as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let space = Chains {
        vocab: OpVocab::new(["conv3x3", "conv1x1", "pool", "skip"])?,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let unlabelled: Vec<_> = (0..2000).map(|_| space.sample(&mut rng)).collect();
    let model = ModelConfig {
        hidden: 32,
        layers: 2,
        projection: 16,
    };
    let mut predictor: Predictor = Predictor::new(&space, model, 0)?;
    let pretrain = PretrainConfig {
        epochs: 3,
        batch_size: 128,
        ..Default::default()
    };
    let r = predictor.pretrain(&space, &unlabelled, &pretrain)?;
    println!("stage 1: {} steps, InfoNCE {:.3}", r.steps, r.final_loss);

    let budget = 30;
    let surrogate = PredictorSurrogate::new(predictor, FinetuneConfig::search_default(), 0);
    let mut search = DclEnas::new(DclEnasConfig::default()).start(&space, surrogate, rng)?;
    let dcl = Driver::new(budget).run(
        &mut search,
        &space,
        &mut FnEvaluator::new(|a: &Vec<usize>| fitness(a)),
        None,
        &mut |_| {},
    )?;
    let mut random = RandomSearch.start(&space, ChaCha8Rng::seed_from_u64(0));
    let baseline = Driver::new(budget).run(
        &mut random,
        &space,
        &mut FnEvaluator::new(|a: &Vec<usize>| fitness(a)),
        None,
        &mut |_| {},
    )?;
    for (name, h) in [("dcl-enas", &dcl), ("random", &baseline)] {
        let best = h.best().ok_or("no query")?;
        println!(
            "{name}: best {} fitness {:.2} in {budget} queries",
            space.arch_text(&best.arch),
            best.fitness
        );
    }
    Ok(())
}
