//! The ensemble: member 0 is the single model, members differ, scores rank, bad input is typed.

use crate::common::{SMALL, sample};
use dcl_predictor::metrics::kendall_tau;
use dcl_predictor::{
    Ensemble, FinetuneConfig, MEMBER_SEED_STRIDE, Nb101Space, Nb201Cell, Nb201Space, Predictor,
    PredictorError, SearchSpace,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A toy target: 3x3 convolutions count 2, 1x1 convolutions 1.
fn label(cell: &Nb201Cell) -> f64 {
    use dcl_predictor::dcl_graph::Nb201Op::*;
    cell.ops()
        .iter()
        .map(|o| match o {
            NorConv3x3 => 2.0,
            NorConv1x1 => 1.0,
            _ => 0.0,
        })
        .sum()
}

fn order(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[j].total_cmp(&v[i]).then(i.cmp(&j)));
    idx
}

const CFG: FinetuneConfig = FinetuneConfig {
    epochs: 20,
    batch_size: 32,
    learning_rate: 3e-3,
    weight_decay: 1e-4,
    loss: dcl_predictor::RankingLoss::Pairwise,
    temperature: 1.0,
    rnc_temperature: 0.5,
    target_temperature: None,
    info_nce_weight: 0.0,
    max_steps: None,
};

#[test]
fn ensemble_ranks_and_its_first_member_is_the_single_model() {
    let space = Nb201Space::new();
    let train = sample(&space, 96, 1);
    let test = sample(&space, 300, 2);
    let labelled: Vec<_> = train.iter().map(|c| (*c, label(c))).collect();
    let base: Predictor = Predictor::new(&space, SMALL, 3).unwrap();

    let ensemble = Ensemble::finetune(&base, &space, &labelled, &CFG, 3, 11).unwrap();
    assert_eq!(ensemble.members().len(), 3);
    let scores = ensemble.score(&space, &test).unwrap();
    let truth: Vec<f64> = test.iter().map(label).collect();
    let tau = kendall_tau(&truth, &scores).unwrap();
    assert!(tau > 0.6, "ensemble tau {tau}");

    // Member 0 is exactly what forking with the seed and fine-tuning gives.
    let mut single = base.fork(11);
    single.finetune(&space, &labelled, &CFG).unwrap();
    let single_scores = single.score(&space, &test).unwrap();
    assert_eq!(
        ensemble.members()[0].score(&space, &test).unwrap(),
        single_scores
    );
    // A one-member ensemble orders like that model.
    let one = Ensemble::finetune(&base, &space, &labelled, &CFG, 1, 11).unwrap();
    let single_f64: Vec<f64> = single_scores.iter().map(|&s| f64::from(s)).collect();
    assert_eq!(
        order(&one.score(&space, &test).unwrap()),
        order(&single_f64)
    );

    // With three batches per epoch the members see different orders and differ.
    let m1 = ensemble.members()[1].score(&space, &test).unwrap();
    assert_ne!(m1, single_scores);

    // Same seed, same ensemble.
    let again = Ensemble::finetune(&base, &space, &labelled, &CFG, 3, 11).unwrap();
    assert_eq!(again.score(&space, &test).unwrap(), scores);
}

#[test]
fn members_cycle_through_the_bases() {
    let space = Nb201Space::new();
    let labelled: Vec<_> = sample(&space, 48, 1)
        .into_iter()
        .map(|c| (c, label(&c)))
        .collect();
    let test = sample(&space, 50, 2);
    let bases: Vec<Predictor> = (0..2)
        .map(|s| Predictor::new(&space, SMALL, 100 + s).unwrap())
        .collect();
    let cfg = FinetuneConfig { epochs: 3, ..CFG };
    let ensemble = Ensemble::finetune_from(&bases, &space, &labelled, &cfg, 3, 5).unwrap();
    for (m, base) in [(0u64, &bases[0]), (1, &bases[1]), (2, &bases[0])] {
        let mut p = base.fork(5 + m * MEMBER_SEED_STRIDE);
        p.finetune(&space, &labelled, &cfg).unwrap();
        assert_eq!(
            ensemble.members()[m as usize].score(&space, &test).unwrap(),
            p.score(&space, &test).unwrap(),
            "member {m}"
        );
    }
    assert!(matches!(
        Ensemble::<dcl_predictor::CpuBackend>::finetune_from(&[], &space, &labelled, &cfg, 2, 0),
        Err(PredictorError::Config(_))
    ));
}

#[test]
fn ensemble_bad_input_is_a_typed_error() {
    let space = Nb201Space::new();
    let base: Predictor = Predictor::new(&space, SMALL, 3).unwrap();
    let labelled: Vec<_> = sample(&space, 8, 1)
        .into_iter()
        .map(|c| (c, label(&c)))
        .collect();
    assert!(matches!(
        Ensemble::finetune(&base, &space, &labelled, &CFG, 0, 0),
        Err(PredictorError::Config(_))
    ));
    assert!(matches!(
        Ensemble::finetune(&base, &space, &[], &CFG, 2, 0),
        Err(PredictorError::Empty(_))
    ));
    assert!(matches!(
        Ensemble::<dcl_predictor::CpuBackend>::from_members(Vec::new()),
        Err(PredictorError::Empty(_))
    ));
    let nb101: Predictor = Predictor::new(&Nb101Space::new(), SMALL, 3).unwrap();
    assert!(matches!(
        Ensemble::from_members(vec![base.fork(0), nb101]),
        Err(PredictorError::SpaceMismatch { .. })
    ));
    // Scoring with another space is refused by the members.
    let ensemble = Ensemble::from_members(vec![base.fork(0)]).unwrap();
    let cells = Nb101Space::new().sample(&mut ChaCha8Rng::seed_from_u64(0));
    assert!(ensemble.score(&Nb101Space::new(), &[cells]).is_err());
}
