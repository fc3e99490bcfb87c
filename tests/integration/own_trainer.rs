//! A space declared by its size and op names (`CellSpace`), searched by DCL-ENAS (the
//! predictor pre-trained on the whole space) with the user's own program as the evaluator
//! (`CommandEvaluator`, a Python script of the standard library), two programs at a time,
//! journalled; the same seed gives the same search, and a resumed run reads every journalled
//! evaluation back without running the program again.

use std::path::Path;

use dcl_evo::{DclEnas, DclEnasConfig, Driver, Journal, JournalHeader, SearchHistory};
use dcl_exec::command::{CommandConfig, CommandEvaluator};
use dcl_graph::{CellArch, CellSpace, SearchSpace};
use dcl_predictor::{FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::common;

/// The user's trainer: 3x3 convolutions help, skips a little, a seed-dependent jitter.
const TRAINER: &str = "import sys; sys.path.insert(0, sys.argv[1]); import dcl_enas_result as r; \
s = r.read_spec(); n = s['graph']['nodes']; \
r.write_result(fitness=n.count('conv3') + 0.25 * n.count('skip') + (s['seed'] % 7) / 100.0, \
objectives={'convs': n.count('conv1') + n.count('conv3')})";

fn space() -> CellSpace {
    CellSpace::new("toy", 4, ["none", "skip", "conv1", "conv3"]).unwrap()
}

fn search(dir: &Path, resume: bool) -> (SearchHistory<CellArch>, usize) {
    let space = space();
    let cells = space.enumerate().unwrap();
    assert_eq!(cells.len(), 4096);
    let model = ModelConfig {
        hidden: 16,
        layers: 2,
        projection: 8,
    };
    let mut predictor: Predictor = Predictor::new(&space, model, 3).unwrap();
    let pretrain = PretrainConfig {
        epochs: 1,
        max_steps: Some(8),
        ..PretrainConfig::default()
    };
    predictor.pretrain(&space, &cells, &pretrain).unwrap();
    let finetune = FinetuneConfig {
        epochs: 5,
        ..FinetuneConfig::search_default()
    };
    let surrogate = PredictorSurrogate::new(predictor, finetune, 3);
    let config = DclEnasConfig {
        initial: 6,
        infill: 4,
        offspring: 40,
        generations: 2,
        ..DclEnasConfig::default()
    };
    let driver = Driver {
        batch_size: 2,
        ..Driver::new(14)
    };
    let header = JournalHeader::new("dcl-enas", &config, space.name(), 3, driver);
    let mut journal = if resume {
        Journal::resume(dir, header, &space).unwrap()
    } else {
        Journal::create(dir, header).unwrap()
    };
    let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/dcl-exec/python");
    let program = CommandConfig {
        workers: 2,
        ..CommandConfig::new(vec![
            "python3".into(),
            "-c".into(),
            TRAINER.into(),
            helper.into(),
        ])
    };
    let mut evaluator = CommandEvaluator::new(program, dir, 3).unwrap();
    let mut state = DclEnas::new(config)
        .start(&space, surrogate, ChaCha8Rng::seed_from_u64(3))
        .unwrap();
    let history = driver
        .run(
            &mut state,
            &space,
            &mut evaluator,
            Some(&mut journal),
            &mut |_| {},
        )
        .unwrap();
    let attempts = std::fs::read_dir(dir.join("evals")).unwrap().count();
    (history, attempts)
}

fn texts(h: &SearchHistory<CellArch>) -> Vec<(String, f64)> {
    h.queries
        .iter()
        .map(|q| (q.arch.to_string(), q.fitness))
        .collect()
}

#[test]
fn a_declared_space_is_searched_with_the_users_program_and_resumes_without_rerunning_it() {
    let (a, b) = (common::temp("own", "a"), common::temp("own", "b"));
    let (first, ran) = search(&a, false);
    assert_eq!(first.queries.len(), 14);
    assert_eq!(ran, 14, "one program per query");
    let space = space();
    let seeds = CommandEvaluator::new(CommandConfig::new(vec!["true".into()]), &b, 3).unwrap();
    for q in &first.queries {
        space.check(&q.arch).unwrap();
        // The program's answer, read back: its fitness from the spec's graph and seed, its
        // objectives.
        let count = |op: &str| q.arch.ops().iter().filter(|o| *o == op).count() as f64;
        let seed = seeds.seed_of(&space.canonical_text(&q.arch));
        let expected = count("conv3") + 0.25 * count("skip") + (seed % 7) as f64 / 100.0;
        assert!(
            (q.fitness - expected).abs() < 1e-9,
            "{} {expected}",
            q.fitness
        );
        assert_eq!(
            q.objectives.get("convs"),
            Some(&(count("conv1") + count("conv3")))
        );
    }
    let _ = std::fs::remove_dir_all(&b);
    // The same seed, another run directory: the same search.
    let (second, _) = search(&b, false);
    assert_eq!(texts(&first), texts(&second));
    // Resumed: everything journalled is read back, no program runs again.
    let (resumed, ran_after) = search(&a, true);
    assert_eq!(texts(&resumed), texts(&first));
    assert_eq!(ran_after, 14);
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}
