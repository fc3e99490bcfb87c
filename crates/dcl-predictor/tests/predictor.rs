//! The predictor learns, is seeded, is permutation-invariant, and saves and loads safely.

mod common;

use common::{SMALL, sample};
use dcl_predictor::augment::{Augmentation, NodeShuffle};
use dcl_predictor::metrics::kendall_tau;
use dcl_predictor::{
    FinetuneConfig, ModelConfig, Nb101Space, Nb201Cell, Nb201Space, Predictor, PredictorError,
    PretrainConfig, RankingLoss, SearchSpace,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A synthetic, structure-dependent target: 3x3 convs count 2, 1x1 convs 1, but only on edges
/// that can reach the output (an edge into a node whose every way out is `none` is dead).
fn toy_label(cell: &Nb201Cell) -> f64 {
    use dcl_predictor::dcl_graph::Nb201Op::*;
    let ops = cell.ops();
    let w = |o| match o {
        NorConv3x3 => 2.0,
        NorConv1x1 => 1.0,
        _ => 0.0,
    };
    // Feature map 1 reaches the output through edges 2<-1 (then 3<-2) or 3<-1.
    let node1_alive = ops[4] != None || (ops[2] != None && ops[5] != None);
    let node2_alive = ops[5] != None;
    let mut y = w(ops[3]) + w(ops[4]) + w(ops[5]);
    if node1_alive {
        y += w(ops[0]);
    }
    if node2_alive {
        y += w(ops[1]) + w(ops[2]);
    }
    y
}

#[test]
fn fine_tuning_learns_a_ranking() {
    let space = Nb201Space::new();
    let train = sample(&space, 120, 1);
    let test = sample(&space, 400, 2);
    let labelled: Vec<_> = train.iter().map(|c| (*c, toy_label(c))).collect();
    let truth: Vec<f64> = test.iter().map(toy_label).collect();
    let mut p: Predictor = Predictor::new(&space, SMALL, 3).unwrap();
    let before = kendall_tau(&truth, &scores(&p, &space, &test)).unwrap();
    for (loss, target_temperature, info_nce_weight) in [
        (RankingLoss::Pairwise, None, 0.0),
        (RankingLoss::Pairwise, Some(0.3), 0.0),
        (RankingLoss::RankNContrast { weight: 0.5 }, None, 0.0),
        (RankingLoss::RankNContrast { weight: 0.5 }, None, 0.2),
        (RankingLoss::Mse, None, 0.0),
    ] {
        let mut q = p.fork(4);
        let cfg = FinetuneConfig {
            epochs: 40,
            batch_size: 64,
            learning_rate: 3e-3,
            loss,
            target_temperature,
            info_nce_weight,
            ..Default::default()
        };
        let report = q.finetune(&space, &labelled, &cfg).unwrap();
        assert_eq!(report.steps, 40 * 2);
        let tau = kendall_tau(&truth, &scores(&q, &space, &test)).unwrap();
        assert!(
            tau > 0.6 && tau > before + 0.2,
            "{loss:?} {target_temperature:?} {info_nce_weight}: tau {tau} (untrained {before})"
        );
    }
    // Pre-training runs and leaves a working predictor.
    let r = p
        .pretrain(
            &space,
            &test,
            &PretrainConfig {
                epochs: 1,
                batch_size: 64,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(r.steps > 0 && r.final_loss.is_finite());
    // A step cap inside the first epoch still reports the loss of the steps taken.
    let capped = PretrainConfig {
        epochs: 3,
        batch_size: 32,
        max_steps: Some(2),
        ..Default::default()
    };
    let r = p.pretrain(&space, &test, &capped).unwrap();
    assert_eq!(r.steps, 2);
    assert!(r.final_loss > 0.0, "{r:?}");
}

fn scores(p: &Predictor, space: &Nb201Space, cells: &[Nb201Cell]) -> Vec<f64> {
    p.score(space, cells)
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

#[test]
fn same_seed_same_predictor() {
    let space = Nb201Space::new();
    let cells = sample(&space, 50, 9);
    let labelled: Vec<_> = cells.iter().map(|c| (*c, toy_label(c))).collect();
    // With the InfoNCE term the augmented views come from the predictor's RNG too.
    let mut by_weight = Vec::new();
    for info_nce_weight in [0.0, 0.2] {
        let cfg = FinetuneConfig {
            epochs: 3,
            batch_size: 16,
            info_nce_weight,
            ..Default::default()
        };
        let run = |seed| {
            let mut p: Predictor = Predictor::new(&space, SMALL, seed).unwrap();
            p.finetune(&space, &labelled, &cfg).unwrap();
            p.score(&space, &cells).unwrap()
        };
        let (a, b, c) = (run(5), run(5), run(6));
        // Bit for bit: the losses avoid burn-ndarray's approximate, alignment-dependent
        // reciprocal.
        assert_eq!(a, b);
        assert!(a.iter().zip(&c).any(|(x, y)| (x - y).abs() > 1e-3));
        by_weight.push(a);
    }
    // The term is applied: same seed, other weight, other predictor.
    assert!(
        by_weight[0]
            .iter()
            .zip(&by_weight[1])
            .any(|(x, y)| (x - y).abs() > 1e-3)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn scores_ignore_node_numbering(seed: u64) {
        let space = Nb101Space::new();
        let p: Predictor = Predictor::new(&space, SMALL, seed).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let graphs: Vec<_> = (0..8).map(|_| space.to_graph(&space.sample(&mut rng)).unwrap()).collect();
        let shuffled: Vec<_> = graphs
            .iter()
            .map(|g| NodeShuffle.augment(g, &mut rng).to_graph().unwrap())
            .collect();
        let a = p.score_graphs(&graphs).unwrap();
        let b = p.score_graphs(&shuffled).unwrap();
        for (x, y) in a.iter().zip(&b) {
            prop_assert!((x - y).abs() < 1e-4 * x.abs().max(1.0), "{} vs {}", x, y);
        }
    }
}

#[test]
fn save_and_load_round_trip_and_refuse_other_spaces() {
    let space = Nb201Space::new();
    let cells = sample(&space, 20, 11);
    let p: Predictor = Predictor::new(&space, SMALL, 12).unwrap();
    let dir = std::env::temp_dir().join(format!("dcl-predictor-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.dclpred");
    p.save(&path).unwrap();
    let q: Predictor = Predictor::load(&path, &space, Default::default()).unwrap();
    assert_eq!(
        p.score(&space, &cells).unwrap(),
        q.score(&space, &cells).unwrap()
    );
    assert_eq!(q.model_config(), SMALL);

    let other = Nb101Space::new();
    assert!(matches!(
        Predictor::<dcl_predictor::CpuBackend>::load(&path, &other, Default::default()),
        Err(PredictorError::SpaceMismatch { .. })
    ));
    let bytes = std::fs::read(&path).unwrap();
    for (name, data) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("header only", bytes[..20].to_vec()),
        ("garbage", b"not a predictor at all".to_vec()),
        ("empty", Vec::new()),
    ] {
        let bad = dir.join(name);
        std::fs::write(&bad, data).unwrap();
        let r = Predictor::<dcl_predictor::CpuBackend>::load(&bad, &space, Default::default());
        assert!(matches!(r, Err(PredictorError::Format(_))), "{name}: {r:?}");
    }
    assert!(matches!(
        Predictor::<dcl_predictor::CpuBackend>::load(
            dir.join("missing"),
            &space,
            Default::default()
        ),
        Err(PredictorError::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_typed_errors() {
    let space = Nb201Space::new();
    let cells = sample(&space, 4, 13);
    let mut p: Predictor = Predictor::new(&space, SMALL, 14).unwrap();
    let nan: Vec<_> = cells.iter().map(|c| (*c, f64::NAN)).collect();
    assert!(matches!(
        p.finetune(&space, &nan, &FinetuneConfig::default()),
        Err(PredictorError::NonFiniteLabel { index: 0, .. })
    ));
    assert!(matches!(
        p.finetune(&space, &[], &FinetuneConfig::default()),
        Err(PredictorError::Empty(_))
    ));
    assert!(matches!(
        p.pretrain(&space, &cells[..1], &PretrainConfig::default()),
        Err(PredictorError::Empty(_))
    ));
    let ok: Vec<_> = cells.iter().map(|c| (*c, 1.0)).collect();
    assert!(matches!(
        p.finetune(
            &space,
            &ok,
            &FinetuneConfig {
                batch_size: 1,
                ..Default::default()
            }
        ),
        Err(PredictorError::Config(_))
    ));
    assert!(matches!(
        p.finetune(
            &space,
            &ok,
            &FinetuneConfig {
                target_temperature: Some(0.0),
                ..Default::default()
            }
        ),
        Err(PredictorError::Config(m)) if m.contains("target_temperature")
    ));
    // Every out-of-range setting is refused before any work, naming the field.
    let bad_finetune = [
        (
            "learning_rate",
            FinetuneConfig {
                learning_rate: f64::NAN,
                ..Default::default()
            },
        ),
        (
            "weight_decay",
            FinetuneConfig {
                weight_decay: f64::NAN,
                ..Default::default()
            },
        ),
        (
            "weight_decay",
            FinetuneConfig {
                weight_decay: -1.0,
                ..Default::default()
            },
        ),
        (
            "temperature",
            FinetuneConfig {
                temperature: 0.0,
                ..Default::default()
            },
        ),
        (
            "rnc_temperature",
            FinetuneConfig {
                rnc_temperature: f64::INFINITY,
                ..Default::default()
            },
        ),
        (
            "Rank-N-Contrast",
            FinetuneConfig {
                loss: RankingLoss::RankNContrast { weight: f64::NAN },
                ..Default::default()
            },
        ),
    ];
    for (field, cfg) in bad_finetune {
        match p.finetune(&space, &ok, &cfg) {
            Err(PredictorError::Config(m)) => assert!(m.contains(field), "{field}: {m}"),
            other => panic!("{field}: expected a config error, got {other:?}"),
        }
    }
    let bad_pretrain = [
        (
            "learning_rate",
            PretrainConfig {
                learning_rate: -1e-3,
                ..Default::default()
            },
        ),
        (
            "temperature",
            PretrainConfig {
                temperature: f64::NAN,
                ..Default::default()
            },
        ),
        (
            "edge_drop",
            PretrainConfig {
                edge_drop: 2.0,
                ..Default::default()
            },
        ),
        (
            "op_substitution",
            PretrainConfig {
                op_substitution: f64::NAN,
                ..Default::default()
            },
        ),
        (
            "node_mask",
            PretrainConfig {
                node_mask: -0.5,
                ..Default::default()
            },
        ),
    ];
    for (field, cfg) in bad_pretrain {
        match p.pretrain(&space, &cells, &cfg) {
            Err(PredictorError::Config(m)) => assert!(m.contains(field), "{field}: {m}"),
            other => panic!("{field}: expected a config error, got {other:?}"),
        }
    }
    for info_nce_weight in [-0.1, f64::NAN] {
        assert!(matches!(
            p.finetune(
                &space,
                &ok,
                &FinetuneConfig {
                    info_nce_weight,
                    ..Default::default()
                }
            ),
            Err(PredictorError::Config(_))
        ));
    }
    assert!(matches!(
        p.score(
            &Nb101Space::new(),
            &[Nb101Space::new().sample(&mut ChaCha8Rng::seed_from_u64(0))]
        ),
        Err(PredictorError::SpaceMismatch { .. })
    ));
    assert!(matches!(
        Predictor::<dcl_predictor::CpuBackend>::new(&space, ModelConfig { hidden: 0, ..SMALL }, 0),
        Err(PredictorError::Config(_))
    ));
}
