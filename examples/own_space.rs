//! Bring your own search space, and search it with DCL-ENAS and your own evaluator: the space
//! (chains of one to four ops between input and output, `Chains`) is implemented in
//! `examples/predictor-only/src/lib.rs`, a crate that depends on dcl-predictor alone (both
//! traits, `SearchSpace` for the search operators and `GraphSpace` for the graph the predictor
//! reads); here the predictor is pre-trained on it without labels and drives the search.
//!
//! ```text
//! cargo run --release --example own_space
//! ```
//!
//! The "true" fitness is made up (3x3 convolutions help, length costs); put a training run
//! there.

use dcl_evo::{DclEnas, DclEnasConfig, Driver, RandomSearch};
use dcl_example_predictor_only::{Chains, fitness};
use dcl_graph::{FnEvaluator, SearchSpace};
use dcl_predictor::{FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let space = Chains::new()?;
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
