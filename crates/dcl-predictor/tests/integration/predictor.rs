//! The predictor learns, is seeded, is permutation-invariant, and saves and loads safely.

use crate::common::{SMALL, sample};
use dcl_predictor::augment::{Augmentation, NodeShuffle};
use dcl_predictor::metrics::kendall_tau;
use dcl_predictor::{
    Engine, FinetuneConfig, GraphBatch, GraphSpace, ModelConfig, Nb101Space, Nb201Cell, Nb201Space,
    Predictor, PredictorError, PretrainConfig, RankingLoss, SearchSpace,
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
    // A step cap cuts the epochs short (mid-epoch too), and a cap of 0 is refused.
    for cap in [1, 7, 80, 500] {
        let cfg = FinetuneConfig {
            epochs: 40,
            batch_size: 64,
            max_steps: Some(cap),
            ..FinetuneConfig::search_default()
        };
        let report = p.fork(4).finetune(&space, &labelled, &cfg).unwrap();
        assert_eq!(report.steps, cap.min(40 * 2), "cap {cap}");
    }
    let zero = FinetuneConfig {
        max_steps: Some(0),
        ..FinetuneConfig::search_default()
    };
    assert!(p.fork(4).finetune(&space, &labelled, &zero).is_err());
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

/// Top-1 retrieval accuracy of stage 1's task: for each of `cells`, two augmented views are
/// drawn; view 2 of cell i is retrieved for view 1 when, among all the view 2s, it has the
/// highest cosine similarity to view 1's embedding.
fn view_retrieval(p: &Predictor, cells: &[Nb201Cell], cfg: &PretrainConfig, seed: u64) -> f64 {
    let space = Nb201Space::new();
    let aug = cfg.augmentation();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = p.encoding_shape();
    let (mut v1, mut v2) = (GraphBatch::new(shape), GraphBatch::new(shape));
    for c in cells {
        let g = space.to_graph(c).unwrap();
        v1.push(&aug.augment(&g, &mut rng)).unwrap();
        v2.push(&aug.augment(&g, &mut rng)).unwrap();
    }
    let unit = |v: Vec<f32>| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let e1: Vec<_> = p.embed_batch(&v1).unwrap().into_iter().map(unit).collect();
    let e2: Vec<_> = p.embed_batch(&v2).unwrap().into_iter().map(unit).collect();
    let hits = e1
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            let sim = |b: &Vec<f32>| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
            let best = (0..e2.len())
                .max_by(|&j, &k| sim(&e2[j]).total_cmp(&sim(&e2[k])).then(k.cmp(&j)))
                .unwrap();
            best == *i
        })
        .count();
    hits as f64 / cells.len() as f64
}

/// Stage 1 with every augmentation at `rate`, batches of 256, Adam at 3e-3.
fn retrieval_config(rate: f64, epochs: usize) -> PretrainConfig {
    PretrainConfig {
        epochs,
        batch_size: 256,
        learning_rate: 3e-3,
        op_substitution: rate,
        edge_drop: rate,
        node_mask: rate,
        ..Default::default()
    }
}

// Why augmentations at 0.05 and not the default 0.1 in the two tests below: at 0.1, two views
// of an NB201 cell disagree on so many of its six ops that even a matcher told every view's
// op labels (masked ops as wildcards, edge drops ignored) retrieves only about 40 % top-1
// among 256 random cells; at 0.05 it retrieves about 72 % (docs/results/predictor/
// view_retrieval_bound.py, 40 x 256 queries).
// A threshold of 0.5 is only meaningful where it is reachable.

// One test per engine, so that the test harness runs them side by side.
#[test]
fn stage_1_brings_the_two_views_of_an_architecture_together_under_burn() {
    stage_1_brings_the_two_views_together(Engine::Burn);
}

#[test]
fn stage_1_brings_the_two_views_of_an_architecture_together_natively() {
    stage_1_brings_the_two_views_together(Engine::Native);
}

fn stage_1_brings_the_two_views_together(engine: Engine) {
    let space = Nb201Space::new();
    let train = sample(&space, 4096, 31);
    let held_out = sample(&space, 256, 32);
    let cfg = retrieval_config(0.05, 20);
    let model = ModelConfig {
        hidden: 32,
        layers: 3,
        projection: 16,
    };
    // Burn's autodiff, or the native engine's own projection head, InfoNCE and gradients.
    let mut p: Predictor = Predictor::new(&space, model, 33).unwrap();
    p.set_training_engine(engine);
    let before = view_retrieval(&p, &held_out, &cfg, 34);
    let r = p.pretrain(&space, &train, &cfg).unwrap();
    let after = view_retrieval(&p, &held_out, &cfg, 34);
    eprintln!(
        "{engine}: top-1 view retrieval among 256 held-out cells: {before:.3} -> {after:.3}; \
         InfoNCE {:.3} -> {:.3} in {} steps",
        r.first_loss, r.final_loss, r.steps
    );
    // 320 steps of a small model (when written: retrieval 0.26 -> 0.32, loss 6.24 -> 4.24).
    // Chance is 1/256; an untrained encoder already maps similar graphs to similar
    // embeddings, so the gain, not the level, is what stage 1 is tested on here.
    assert!(r.final_loss < 0.7 * r.first_loss, "{engine}: {r:?}");
    assert!(
        after >= before + 0.05,
        "{engine}: retrieval {before} -> {after}"
    );
    // Without augmentation the two views are one graph renumbered: a permutation-invariant
    // encoder retrieves (almost) every one; only the few duplicate cells can be confused.
    let plain = retrieval_config(0.0, 1);
    assert!(
        view_retrieval(&p, &held_out, &plain, 35) >= 0.95,
        "{engine}"
    );
}

#[test]
#[ignore = "heavy: full stage 1 on all 15,625 NB201 cells (~2 min in release, more in the test profile); .ci/run runs it"]
fn full_stage_1_retrieves_most_views_among_256() {
    let space = Nb201Space::new();
    let all = space.enumerate().unwrap();
    let held_out = sample(&space, 256, 32);
    let cfg = retrieval_config(0.05, 30);
    let mut p: Predictor = Predictor::new(&space, ModelConfig::default(), 33).unwrap();
    let before = view_retrieval(&p, &held_out, &cfg, 34);
    let r = p.pretrain(&space, &all, &cfg).unwrap();
    let after = view_retrieval(&p, &held_out, &cfg, 34);
    eprintln!(
        "top-1 view retrieval among 256 cells: {before:.3} -> {after:.3}; \
         InfoNCE {:.3} -> {:.3} in {} steps",
        r.first_loss, r.final_loss, r.steps
    );
    assert!(after >= 0.5, "top-1 retrieval after stage 1: {after}");
    assert!(after >= 2.0 * before, "retrieval {before} -> {after}");
    assert!(r.final_loss < 0.7 * r.first_loss, "{r:?}");
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

/// Scores and embeddings of `graphs` through both engines, as bits.
fn both_engines(p: &mut Predictor, graphs: &[dcl_predictor::ArchGraph]) -> [Vec<u32>; 4] {
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    let batch = GraphBatch::from_graphs(p.encoding_shape(), graphs).unwrap();
    let mut out = Vec::new();
    for engine in [Engine::Native, Engine::Burn] {
        p.set_engine(engine);
        out.push(bits(p.score_graphs(graphs).unwrap()));
        out.push(bits(p.embed_batch(&batch).unwrap().concat()));
    }
    out.try_into().unwrap()
}

#[test]
fn the_native_engine_scores_and_embeds_bit_for_bit_as_burn_does() {
    // The default model on NB201 (8 nodes, no padding) and NB101 (padded graphs of 2-7 nodes),
    // freshly drawn and after training moved its weights; 150 graphs, so a partial chunk too.
    let nb201 = Nb201Space::new();
    let cells = sample(&nb201, 150, 4);
    let graphs: Vec<_> = cells.iter().map(|c| nb201.to_graph(c).unwrap()).collect();
    let mut p: Predictor = Predictor::new(&nb201, ModelConfig::default(), 3).unwrap();
    assert_eq!(p.engine(), Engine::Native);
    for trained in [false, true] {
        if trained {
            let labelled: Vec<_> = cells.iter().map(|c| (*c, toy_label(c))).collect();
            let cfg = FinetuneConfig {
                epochs: 2,
                batch_size: 64,
                ..Default::default()
            };
            p.finetune(&nb201, &labelled, &cfg).unwrap();
        }
        let [native_scores, native_emb, burn_scores, burn_emb] = both_engines(&mut p, &graphs);
        assert_eq!(
            native_scores, burn_scores,
            "NB201 scores, trained: {trained}"
        );
        assert_eq!(native_emb, burn_emb, "NB201 embeddings, trained: {trained}");
    }
    let nb101 = Nb101Space::new();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let archs: Vec<_> = (0..150).map(|_| nb101.sample(&mut rng)).collect();
    let graphs: Vec<_> = archs.iter().map(|a| nb101.to_graph(a).unwrap()).collect();
    assert!(
        graphs.iter().any(|g| g.num_nodes() < 7),
        "padding is exercised"
    );
    let mut p: Predictor = Predictor::new(&nb101, ModelConfig::default(), 8).unwrap();
    let cfg = PretrainConfig {
        epochs: 1,
        batch_size: 64,
        ..Default::default()
    };
    p.pretrain(&nb101, &archs, &cfg).unwrap();
    let [native_scores, native_emb, burn_scores, burn_emb] = both_engines(&mut p, &graphs);
    assert_eq!(native_scores, burn_scores, "NB101 scores");
    assert_eq!(native_emb, burn_emb, "NB101 embeddings");
}

#[test]
fn native_training_learns_and_is_the_same_at_any_thread_count() {
    // Every loss path: the pairwise loss, Rank-N-Contrast on the embeddings, and the stage-1
    // term whose two views share one native pass; then stage 1 itself.
    let space = Nb201Space::new();
    let train = sample(&space, 120, 1);
    let test = sample(&space, 200, 2);
    let labelled: Vec<_> = train.iter().map(|c| (*c, toy_label(c))).collect();
    let truth: Vec<f64> = test.iter().map(toy_label).collect();
    let run = |threads: usize, loss: RankingLoss, info_nce_weight: f64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut p: Predictor = Predictor::new(&space, SMALL, 7).unwrap();
            p.set_training_engine(Engine::Native);
            let pre = PretrainConfig {
                epochs: 1,
                batch_size: 40,
                ..Default::default()
            };
            p.pretrain(&space, &train, &pre).unwrap();
            let cfg = FinetuneConfig {
                epochs: 30,
                batch_size: 40,
                loss,
                info_nce_weight,
                ..Default::default()
            };
            p.finetune(&space, &labelled, &cfg).unwrap();
            p.score(&space, &test).unwrap()
        })
    };
    for (loss, info_nce_weight) in [
        (RankingLoss::Pairwise, 0.0),
        (RankingLoss::RankNContrast { weight: 1.0 }, 0.2),
    ] {
        let one = run(1, loss, info_nce_weight);
        let two = run(2, loss, info_nce_weight);
        assert_eq!(one, two, "{loss:?}: bit for bit at 1 and 2 threads");
        let scores: Vec<f64> = one.iter().map(|&s| f64::from(s)).collect();
        let tau = kendall_tau(&scores, &truth).unwrap();
        assert!(
            tau > 0.6,
            "{loss:?}: the natively trained ranker learns (tau {tau:.3})"
        );
    }
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
fn a_cached_encoder_is_reused_only_by_the_run_that_made_it() {
    let space = Nb201Space::new();
    let cells = sample(&space, 64, 3);
    let probe = sample(&space, 16, 4);
    let cfg = PretrainConfig {
        epochs: 1,
        batch_size: 16,
        max_steps: Some(3),
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("dcl-predictor-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("enc.dclpred");
    let fresh = |seed| -> Predictor { Predictor::new(&space, SMALL, seed).unwrap().fork(0) };
    let burn = |mut p: Predictor| {
        p.set_training_engine(Engine::Burn);
        p
    };

    // Missing: pre-trained and saved, with its lineage.
    let mut a = fresh(7);
    let report = a.pretrain_cached(&path, &space, &cells, &cfg).unwrap();
    assert_eq!(report.unwrap().steps, 3);
    assert_eq!(a.lineage().init_seed, Some(7));
    assert_eq!(a.lineage().pretraining.len(), 1);
    assert_eq!(a.lineage().pretraining[0].config, cfg);
    assert_eq!(a.lineage().pretraining[0].architectures, 64);

    // The same run again: loaded, not trained, the same scores as a fresh pre-training.
    let mut b = fresh(7);
    assert!(
        b.pretrain_cached(&path, &space, &cells, &cfg)
            .unwrap()
            .is_none()
    );
    let mut c = fresh(7);
    c.pretrain(&space, &cells, &cfg).unwrap();
    assert_eq!(
        b.score(&space, &probe).unwrap(),
        c.score(&space, &probe).unwrap()
    );
    assert_eq!(b.lineage(), c.lineage());
    assert_eq!(b.training_engine(), Engine::Native);

    // An encoder pre-trained by burn is cached as such, and loading it keeps the caller's
    // engine for the training that follows.
    let burn_path = dir.join("burn.dclpred");
    burn(fresh(7))
        .pretrain_cached(&burn_path, &space, &cells, &cfg)
        .unwrap();
    let mut d = burn(fresh(7));
    assert!(
        d.pretrain_cached(&burn_path, &space, &cells, &cfg)
            .unwrap()
            .is_none()
    );
    assert_eq!(d.training_engine(), Engine::Burn);
    assert_eq!(d.lineage().pretraining[0].engine, Engine::Burn);

    // Anything else is refused, naming the difference, and the cache is left alone.
    let before = std::fs::read(&path).unwrap();
    let reversed: Vec<_> = cells.iter().rev().copied().collect();
    let other_cfg = PretrainConfig {
        edge_drop: 0.2,
        ..cfg.clone()
    };
    for (what, mut p, archs, config, needle) in [
        (
            "settings",
            fresh(7),
            &cells[..],
            &other_cfg,
            "config.edge_drop",
        ),
        ("seed", fresh(8), &cells[..], &cfg, "init_seed"),
        (
            "architectures",
            fresh(7),
            &cells[..32],
            &cfg,
            "architectures",
        ),
        ("order", fresh(7), &reversed[..], &cfg, "digest"),
        ("engine", burn(fresh(7)), &cells[..], &cfg, "engine"),
        (
            "stream",
            Predictor::new(&space, SMALL, 7).unwrap().fork(1),
            &cells[..],
            &cfg,
            "rng_seed",
        ),
    ] {
        match p.pretrain_cached(&path, &space, archs, config) {
            Err(PredictorError::CacheMismatch { field, .. }) => {
                assert!(field.contains(needle), "{what}: {field}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    let wider = ModelConfig {
        hidden: SMALL.hidden * 2,
        ..SMALL
    };
    let mut w: Predictor = Predictor::new(&space, wider, 7).unwrap().fork(0);
    assert!(matches!(
        w.pretrain_cached(&path, &space, &cells, &cfg),
        Err(PredictorError::CacheMismatch { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // A file of unknown lineage (saved before lineages existed) is refused too.
    let old = with_header(&before, |h| {
        h.as_object_mut().unwrap().remove("lineage");
    });
    std::fs::write(&path, old).unwrap();
    assert!(matches!(
        fresh(7).pretrain_cached(&path, &space, &cells, &cfg),
        Err(PredictorError::CacheMismatch { .. })
    ));
    // A damaged cache is made again.
    std::fs::write(&path, b"DCLPRED\ncut").unwrap();
    let mut d = fresh(7);
    assert!(
        d.pretrain_cached(&path, &space, &cells, &cfg)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        d.score(&space, &probe).unwrap(),
        c.score(&space, &probe).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A saved file with its JSON header edited by `edit` (the weights untouched).
fn with_header(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let magic = b"DCLPRED\n".len();
    let len = u32::from_le_bytes(bytes[magic..magic + 4].try_into().unwrap()) as usize;
    let mut header: serde_json::Value =
        serde_json::from_slice(&bytes[magic + 4..magic + 4 + len]).unwrap();
    edit(&mut header);
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = bytes[..magic].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[magic + 4 + len..]);
    out
}

fn load_bytes(bytes: &[u8], name: &str) -> Result<Predictor, PredictorError> {
    let path = std::env::temp_dir().join(format!(
        "dcl-predictor-load-{}-{:?}-{name}.dclpred",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let r = Predictor::load(&path, &Nb201Space::new(), Default::default());
    std::fs::remove_file(&path).unwrap();
    r
}

fn saved_bytes() -> Vec<u8> {
    let space = Nb201Space::new();
    let p: Predictor = Predictor::new(&space, SMALL, 5).unwrap();
    let path = std::env::temp_dir().join(format!(
        "dcl-predictor-saved-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    p.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

#[test]
fn a_header_that_disagrees_with_the_weights_is_refused_before_any_model_is_built() {
    let bytes = saved_bytes();
    assert!(load_bytes(&bytes, "ok").is_ok());
    // One layer more or less than the weights hold.
    for layers in [SMALL.layers + 1, SMALL.layers - 1] {
        let bad = with_header(&bytes, |h| h["model"]["layers"] = layers.into());
        let r = load_bytes(&bad, "layers");
        assert!(
            matches!(&r, Err(PredictorError::ShapeMismatch(m)) if m.contains("layers")),
            "layers {layers}: {r:?}"
        );
    }
    // Other widths than the weights': the first tensor checked names itself.
    for (field, value) in [
        ("hidden", SMALL.hidden * 2),
        ("projection", SMALL.projection + 1),
    ] {
        let bad = with_header(&bytes, |h| h["model"][field] = value.into());
        let r = load_bytes(&bad, field);
        assert!(
            matches!(&r, Err(PredictorError::ShapeMismatch(_))),
            "{field}: {r:?}"
        );
    }
    // Widths no predictor has: refused from the header alone, never allocated. 2^40 hidden
    // units would abort the process on allocation if the model were built first.
    for (field, value) in [
        ("hidden", 1u64 << 40),
        ("projection", 1 << 40),
        ("layers", 1 << 40),
        ("hidden", 0),
    ] {
        let bad = with_header(&bytes, |h| h["model"][field] = value.into());
        let r = load_bytes(&bad, "huge");
        assert!(
            matches!(&r, Err(PredictorError::Format(m)) if m.contains("out of range")),
            "{field}={value}: {r:?}"
        );
    }
    // The largest allowed shape with small weights: a shape error, not a 4096-wide model.
    let bad =
        with_header(
            &bytes,
            |h| h["model"] = serde_json::json!({"hidden": 4096, "layers": 64, "projection": 4096}),
        );
    assert!(matches!(
        load_bytes(&bad, "largest"),
        Err(PredictorError::ShapeMismatch(_))
    ));
}

proptest! {
    // 256 damaged files per run: random truncations, bit flips and byte overwrites of a
    // valid saved predictor, and arbitrary bytes after a valid magic line.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn damaged_predictor_files_give_a_typed_error_or_a_working_predictor(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..4),
        overwrite in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        truncate: bool,
        tail in prop::collection::vec(any::<u8>(), 0..64),
        garbage_body: bool,
    ) {
        use std::sync::OnceLock;
        static SAVED: OnceLock<Vec<u8>> = OnceLock::new();
        let mut bytes = SAVED.get_or_init(saved_bytes).clone();
        if garbage_body {
            bytes.truncate(b"DCLPRED\n".len());
            bytes.extend_from_slice(&tail);
        } else {
            for (at, bit) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            if let Some((at, byte)) = overwrite {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len()));
            }
        }
        match load_bytes(&bytes, "fuzz") {
            // Whatever loaded is a usable predictor: it scores, and finitely.
            Ok(p) => {
                let space = Nb201Space::new();
                match p.score(&space, &sample(&space, 8, 3)) {
                    Ok(scores) => prop_assert!(scores.iter().all(|s| s.is_finite())),
                    Err(PredictorError::NonFiniteScore { .. }) => {}
                    Err(e) => prop_assert!(false, "scoring failed: {e:?}"),
                }
            }
            Err(
                PredictorError::Format(_)
                | PredictorError::ShapeMismatch(_)
                | PredictorError::SpaceMismatch { .. },
            ) => {}
            Err(e) => prop_assert!(false, "unexpected error kind: {e:?}"),
        }
    }
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

/// A cancelled pre-training or fine-tuning stops at its next step with `Cancelled` and leaves
/// the weights as they were; cancelled from another thread, it stops long before its end.
#[test]
fn cancelled_training_stops_and_leaves_the_weights() {
    use dcl_predictor::dcl_graph::progress::CancelToken;
    let space = Nb201Space::new();
    let cells = sample(&space, 64, 3);
    let labelled: Vec<_> = cells.iter().map(|c| (*c, toy_label(c))).collect();
    let mut p: Predictor = Predictor::new(&space, SMALL, 1).unwrap();
    let before = scores(&p, &space, &cells);
    let token = CancelToken::new();
    token.cancel();
    let stage1 = PretrainConfig {
        epochs: 2,
        batch_size: 16,
        ..Default::default()
    };
    let err = token
        .run(|| p.pretrain(&space, &cells, &stage1))
        .unwrap_err();
    assert!(matches!(err, PredictorError::Cancelled), "{err}");
    let cfg = FinetuneConfig {
        epochs: 2,
        batch_size: 16,
        ..Default::default()
    };
    let err = token
        .run(|| p.finetune(&space, &labelled, &cfg))
        .unwrap_err();
    assert!(matches!(err, PredictorError::Cancelled), "{err}");
    assert_eq!(scores(&p, &space, &cells), before);
    assert!(p.lineage().pretraining.is_empty());

    // From another thread, mid-way through a long pre-training.
    let long = PretrainConfig {
        epochs: 100_000,
        batch_size: 16,
        ..Default::default()
    };
    let token = CancelToken::new();
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        let work = s.spawn(|| token.run(|| p.pretrain(&space, &cells, &long)));
        std::thread::sleep(std::time::Duration::from_millis(200));
        token.cancel();
        let err = work.join().unwrap().unwrap_err();
        assert!(matches!(err, PredictorError::Cancelled), "{err}");
    });
    assert!(started.elapsed().as_secs() < 60);
    assert_eq!(scores(&p, &space, &cells), before);
    // Without a token the same call trains.
    p.finetune(&space, &labelled, &cfg).unwrap();
    assert_ne!(scores(&p, &space, &cells), before);
}
