//! The trainer learns toy signals, is seeded, selects by validation, and refuses bad input.

use burn::backend::NdArray;
use burn::module::Module;
use burn::tensor::Tensor;
use dcl_graph::{Evaluator, Nb201Cell, Nb201Space, SearchSpace};
use dcl_train::{
    Augment, CellEvaluator, CellNet, CellSpec, ClassWeighting, Classifier, FeatureEntry,
    InputShape, Kernels, Monitor, NdArrayBackend, NetArch, NetConfig, NetSpace, OptimizerKind,
    ResNet1d, ResNetConfig, SignalData, TrainConfig, TrainEngine, TrainError, evaluate, train,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod native;

/// A small residual baseline: quick to train here, with every layer kind of a hand-designed
/// residual CNN (max-pooling, residual additions, flattening, hidden layers).
const RES: ResNetConfig = ResNetConfig {
    filters: 16,
    blocks: 3,
    kernel: 5,
    pool: 5,
    hidden_layers: 2,
    hidden: 16,
};

/// Every perturbation but signal dropout, in amounts that suit unit-variance signals.
const SOME_AUGMENT: Augment = Augment {
    scale: 0.2,
    noise: 0.05,
    wander: 0.3,
    shift: 5,
    feature_jitter: 0.05,
    signal_dropout: 0.0,
};

/// Three classes of noisy toy signals: a positive bump, a negative bump, a wide positive bump;
/// one feature that carries no information.
fn toy(n: usize, seed: u64) -> SignalData {
    use rand::RngExt;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let length = 128;
    let mut data = SignalData {
        length,
        n_features: 1,
        n_classes: 3,
        ..SignalData::default()
    };
    for i in 0..n {
        let class = i % 3;
        let (sign, width) = [(1.0, 3.0), (-1.0, 3.0), (1.0, 12.0)][class];
        let centre = 64.0 + rng.random_range(-6.0..6.0);
        data.signals.extend((0..length).map(|t| {
            sign * (-((t as f32 - centre) / width).powi(2)).exp() + rng.random_range(-0.2..0.2)
        }));
        data.features.push(rng.random_range(-1.0..1.0));
        data.labels.push(class as u8);
    }
    data
}

fn shape(data: &SignalData) -> InputShape {
    InputShape::of(data)
}

fn small_net() -> NetConfig {
    NetConfig {
        channels: 4,
        stages: 2,
        ..NetConfig::default()
    }
}

fn quick() -> TrainConfig {
    TrainConfig {
        epochs: 6,
        batch_size: 32,
        optimizer: OptimizerKind::Adam {
            lr: 1e-2,
            weight_decay: 0.0,
        },
        ..TrainConfig::default()
    }
}

fn cell(s: &str) -> Nb201Cell {
    s.parse().unwrap()
}

const GOOD: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";

#[test]
fn cell_net_learns_toy_signals() {
    let (tr, va) = (toy(240, 1), toy(96, 2));
    let device = Default::default();
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let model =
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 3, &device).unwrap();
    let mut seen = Vec::new();
    let trained = train(model, &tr, &va, &quick(), &device, &mut |e| {
        seen.push(e.epoch)
    })
    .unwrap();
    assert_eq!(seen.len(), trained.report.epochs.len());
    assert!(
        trained.report.valid.balanced_accuracy > 0.85,
        "{:?}",
        trained.report
    );
    // The returned model is the best epoch's, and scores what the report says.
    let best = &trained.report.epochs[trained.report.best_epoch - 1];
    assert!(
        trained
            .report
            .epochs
            .iter()
            .all(|e| e.valid_score <= best.valid_score)
    );
    // The returned model is a snapshot of the best epoch: it still scores what the report says
    // after the later epochs trained on.
    let again = evaluate(&trained.model, &va, 64, &device, TrainEngine::Auto).unwrap();
    assert_eq!(again, trained.report.valid);
}

/// `toy`'s signals as the second channel of two, the first channel noise that carries nothing.
fn two_channel_toy(n: usize, seed: u64) -> SignalData {
    use rand::RngExt;
    let one = toy(n, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
    let mut data = SignalData {
        channels: 2,
        signals: Vec::with_capacity(2 * one.signals.len()),
        ..one.clone()
    };
    for signal in one.signals.chunks_exact(one.length) {
        data.signals
            .extend((0..one.length).map(|_| rng.random_range(-0.3f32..0.3)));
        data.signals.extend_from_slice(signal);
    }
    data
}

#[test]
fn both_networks_learn_from_a_second_channel() {
    let (tr, va) = (two_channel_toy(240, 1), two_channel_toy(96, 2));
    tr.validate().unwrap();
    assert_eq!(shape(&tr).channels, 2);
    let device = Default::default();
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let config = TrainConfig {
        augment: SOME_AUGMENT,
        ..quick()
    };
    let model =
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 3, &device).unwrap();
    let trained = train(model, &tr, &va, &config, &device, &mut |_| {}).unwrap();
    assert!(
        trained.report.valid.balanced_accuracy > 0.85,
        "{:?}",
        trained.report.valid
    );
    // The baseline is larger: fewer samples and epochs, as in its one-channel test.
    let (small_tr, small_va) = (two_channel_toy(64, 3), two_channel_toy(48, 4));
    let small = TrainConfig {
        epochs: 4,
        batch_size: 16,
        optimizer: OptimizerKind::Adam {
            lr: 3e-3,
            weight_decay: 0.0,
        },
        class_weighting: ClassWeighting::Uniform,
        ..config.clone()
    };
    let model =
        ResNet1d::<NdArrayBackend>::new(&RES, shape(&small_tr), FeatureEntry::Head, 5, &device)
            .unwrap();
    let trained = train(model, &small_tr, &small_va, &small, &device, &mut |_| {}).unwrap();
    // Chance is 1/3.
    assert!(
        trained.report.valid.balanced_accuracy > 0.6,
        "{:?}",
        trained.report.valid
    );
    // The information is in the second channel only: with it replaced by the noise channel,
    // the same network learns nothing.
    let noise_only = |d: &SignalData| {
        let mut out = d.clone();
        for sample in out.signals.chunks_exact_mut(2 * d.length) {
            let (noise, signal) = sample.split_at_mut(d.length);
            signal.copy_from_slice(noise);
        }
        out
    };
    let model =
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 3, &device).unwrap();
    let blind = train(
        model,
        &noise_only(&tr),
        &noise_only(&va),
        &config,
        &device,
        &mut |_| {},
    )
    .unwrap();
    assert!(
        blind.report.valid.balanced_accuracy < 0.6,
        "{:?}",
        blind.report.valid
    );
    // Channels must agree with the values and between training and validation.
    let short = SignalData {
        channels: 3,
        ..tr.clone()
    };
    assert!(matches!(short.validate(), Err(TrainError::Data(_))));
    let none = SignalData {
        channels: 0,
        ..tr.clone()
    };
    assert!(matches!(none.validate(), Err(TrainError::Data(_))));
    let model =
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 3, &device).unwrap();
    assert!(matches!(
        train(model, &tr, &toy(96, 2), &config, &device, &mut |_| {}),
        Err(TrainError::Data(_))
    ));
    let zero_channels = InputShape {
        channels: 0,
        ..shape(&tr)
    };
    assert!(matches!(
        ResNet1d::<NdArrayBackend>::new(&RES, zero_channels, FeatureEntry::Head, 0, &device),
        Err(TrainError::Config(_))
    ));
    assert!(matches!(
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), zero_channels, 0, &device),
        Err(TrainError::Config(_))
    ));
    // Shapes written before channels existed read as one channel.
    let old: InputShape =
        serde_json::from_str(r#"{"length": 128, "n_features": 4, "n_classes": 4}"#).unwrap();
    assert_eq!(old.channels, 1);
}

#[test]
fn class_mix_scores_validation_and_picks_the_epoch_by_it() {
    let (tr, va) = (toy(96, 5), toy(48, 6));
    let device = Default::default();
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let mix = vec![20.0, 1.0, 0.5];
    let config = TrainConfig {
        epochs: 3,
        monitor: Monitor::MacroF1,
        valid_class_mix: Some(mix.clone()),
        ..quick()
    };
    let model =
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 3, &device).unwrap();
    let trained = train(model, &tr, &va, &config, &device, &mut |_| {}).unwrap();
    // The report's validation metrics are the returned model's, at the class mix.
    let predicted =
        dcl_train::predict(&trained.model, &va, 64, &device, TrainEngine::Auto).unwrap();
    let expected = dcl_train::ClassMetrics::at_class_mix(&va.labels, &predicted, 3, &mix).unwrap();
    assert_eq!(trained.report.valid, expected);
    let best = &trained.report.epochs[trained.report.best_epoch - 1];
    assert_eq!(best.valid_score, expected.macro_f1);
    // Same seed and data without the mix: the same training, scored differently.
    let plain_config = TrainConfig {
        valid_class_mix: None,
        ..config
    };
    let model =
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 3, &device).unwrap();
    let plain = train(model, &tr, &va, &plain_config, &device, &mut |_| {}).unwrap();
    for (a, b) in plain.report.epochs.iter().zip(&trained.report.epochs) {
        assert_eq!(a.loss, b.loss);
    }
}

#[test]
fn residual_baseline_learns_toy_signals() {
    let (tr, va) = (toy(64, 3), toy(48, 4));
    let device = Default::default();
    let model =
        ResNet1d::<NdArrayBackend>::new(&RES, shape(&tr), FeatureEntry::Head, 5, &device).unwrap();
    let config = TrainConfig {
        epochs: 4,
        batch_size: 16,
        optimizer: OptimizerKind::Adam {
            lr: 3e-3,
            weight_decay: 0.0,
        },
        monitor: Monitor::MacroF1,
        class_weighting: ClassWeighting::Uniform,
        ..quick()
    };
    let trained = train(model, &tr, &va, &config, &device, &mut |_| {}).unwrap();
    // Chance is 1/3.
    assert!(
        trained.report.valid.balanced_accuracy > 0.6,
        "{:?}",
        trained.report
    );
}

/// Inference on the native engine (the default on the CPU backends) and on burn's forward
/// pass: the same predictions from the same trained weights, running statistics included,
/// for both networks, and a latency from either engine.
#[test]
fn inference_runs_on_either_engine_with_the_same_predictions() {
    use dcl_train::{latency_ms, predict};
    let (tr, va) = (toy(96, 5), toy(60, 6));
    let device = Default::default();
    let config = TrainConfig {
        epochs: 2,
        ..quick()
    };
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let net = NetConfig {
        features: FeatureEntry::Stem,
        ..small_net()
    };
    let cell_net = CellNet::<NdArrayBackend>::new(&spec, &net, shape(&tr), 1, &device).unwrap();
    let cell_net = train(cell_net, &tr, &va, &config, &device, &mut |_| {}).unwrap();
    let resnet =
        ResNet1d::<NdArrayBackend>::new(&RES, shape(&tr), FeatureEntry::Head, 2, &device).unwrap();
    let resnet = train(resnet, &tr, &va, &config, &device, &mut |_| {}).unwrap();
    assert_eq!(cell_net.report.engine, TrainEngine::Native);
    let check = |name: &str, native: Vec<u8>, burn: Vec<u8>| {
        assert_eq!(native.len(), va.len(), "{name}");
        assert_eq!(native, burn, "{name}");
        // Not a constant prediction: the comparison says something.
        assert!(native.iter().any(|&p| p != native[0]), "{name}: {native:?}");
    };
    for batch in [7, 64] {
        let on = |engine| predict(&cell_net.model, &va, batch, &device, engine).unwrap();
        check("cell_net", on(TrainEngine::Native), on(TrainEngine::Burn));
        assert_eq!(on(TrainEngine::Auto), on(TrainEngine::Native));
        let on = |engine| predict(&resnet.model, &va, batch, &device, engine).unwrap();
        check("resnet", on(TrainEngine::Native), on(TrainEngine::Burn));
    }
    for engine in [TrainEngine::Native, TrainEngine::Burn] {
        let ms = latency_ms(&resnet.model, &va, 3, &device, engine).unwrap();
        assert!(ms > 0.0 && ms < 1e4, "{engine}: {ms}");
        assert!(matches!(
            latency_ms(&resnet.model, &va, 0, &device, engine),
            Err(TrainError::Data(_))
        ));
    }
}

#[test]
fn sgd_with_momentum_learns_too() {
    let (tr, va) = (toy(144, 5), toy(48, 6));
    let device = Default::default();
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let model =
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 3, &device).unwrap();
    let config = TrainConfig {
        optimizer: OptimizerKind::Sgd {
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 1e-4,
        },
        ..quick()
    };
    let trained = train(model, &tr, &va, &config, &device, &mut |_| {}).unwrap();
    // Chance is 1/3.
    assert!(
        trained.report.valid.balanced_accuracy > 0.6,
        "{:?}",
        trained.report
    );
}

#[test]
fn same_seed_same_result() {
    let (tr, va) = (toy(96, 5), toy(48, 6));
    let device = Default::default();
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let run = |seed: u64, augment: Augment| {
        let model =
            CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), seed, &device).unwrap();
        let config = TrainConfig {
            epochs: 2,
            seed,
            augment,
            ..quick()
        };
        let report = train(model, &tr, &va, &config, &device, &mut |_| {})
            .unwrap()
            .report;
        report.epochs.iter().map(|e| e.loss).collect::<Vec<_>>()
    };
    // Bit for bit, whatever the thread count: the trainer avoids burn-ndarray's approximate,
    // alignment-dependent reciprocal (see dcl-contrastive's crate docs).
    let (a, b, c) = (
        run(11, Augment::NONE),
        run(11, Augment::NONE),
        run(12, Augment::NONE),
    );
    assert_eq!(a, b);
    assert!(
        a.iter().zip(&c).any(|(x, y)| (x - y).abs() > 1e-3),
        "{a:?} vs {c:?}"
    );
    // Augmentation draws from the seeded trainer too: repeatable, and it changes the run.
    let (d, e) = (run(11, SOME_AUGMENT), run(11, SOME_AUGMENT));
    assert_eq!(d, e);
    assert_ne!(a, d);
}

/// Per-epoch training losses of the same small network from the same seed on backend `B`,
/// trained by burn's own engine there.
fn losses_on<B: burn::tensor::backend::AutodiffBackend>(device: &B::Device) -> Vec<f64> {
    losses_with::<B>(device, TrainEngine::Burn)
}

/// Per-epoch training losses of the same small network from the same seed on backend `B`,
/// trained by `engine`.
fn losses_with<B: burn::tensor::backend::AutodiffBackend>(
    device: &B::Device,
    engine: TrainEngine,
) -> Vec<f64> {
    let (tr, va) = (toy(96, 5), toy(48, 6));
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let model = CellNet::<B>::new(&spec, &small_net(), shape(&tr), 11, device).unwrap();
    let config = TrainConfig {
        epochs: 3,
        seed: 11,
        engine,
        ..quick()
    };
    let report = train(model, &tr, &va, &config, device, &mut |_| {})
        .unwrap()
        .report;
    assert_eq!(report.engine, engine, "no fallback");
    report.epochs.iter().map(|e| e.loss).collect()
}

/// Two backends' losses agree: the first epoch's within `first` (relative), every later one
/// within `later` (float sums run in another order, and the difference grows with the steps).
fn assert_losses_agree(reference: &[f64], other: &[f64], name: &str, first: f64, later: f64) {
    assert_eq!(reference.len(), other.len());
    eprintln!("ndarray {reference:?}\n{name} {other:?}");
    for (epoch, (a, b)) in reference.iter().zip(other).enumerate() {
        let tolerance = if epoch == 0 { first } else { later };
        assert!(
            (a - b).abs() <= tolerance * a.abs(),
            "epoch {epoch}: ndarray {a}, {name} {b}"
        );
    }
}

#[test]
fn native_training_follows_ndarray_from_the_same_seed() {
    let reference = losses_on::<NdArrayBackend>(&Default::default());
    let native = losses_with::<NdArrayBackend>(&Default::default(), TrainEngine::Native);
    assert_losses_agree(&reference, &native, "native", 1e-5, 1e-4);
}

/// Two channels, every feature entry, a hidden head layer, augmentation and the class mix of a
/// balanced validation sample (the ECG application's configuration), for cell networks and the
/// residual baseline: both train on the native engine, with Adam and SGD; no fallback.
#[test]
fn a_two_channel_configuration_with_every_entry_trains_natively() {
    let (tr, va) = (
        feature_toy_of_length(48, 1, 128),
        feature_toy_of_length(24, 2, 128),
    );
    let two = |d: &SignalData| SignalData {
        channels: 2,
        signals: d.signals.iter().flat_map(|&v| [v, 0.5 * v]).collect(),
        ..d.clone()
    };
    let (tr, va) = (two(&tr), two(&va));
    let shape = shape(&tr);
    let device = Default::default();
    for optimizer in [
        OptimizerKind::Adam {
            lr: 1e-3,
            weight_decay: 1e-4,
        },
        OptimizerKind::Sgd {
            lr: 1e-2,
            momentum: 0.9,
            weight_decay: 1e-4,
        },
    ] {
        let config = TrainConfig {
            epochs: 1,
            batch_size: 16,
            optimizer,
            augment: SOME_AUGMENT,
            valid_class_mix: Some(vec![1.0; tr.n_classes]),
            ..TrainConfig::default()
        };
        for entry in FeatureEntry::ALL {
            let net = NetConfig {
                head_hidden: 32,
                features: entry,
                ..NetConfig::default()
            };
            let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
            let model = CellNet::<NdArrayBackend>::new(&spec, &net, shape, 0, &device).unwrap();
            let report = train(model, &tr, &va, &config, &device, &mut |_| {})
                .unwrap()
                .report;
            assert_eq!(report.engine, TrainEngine::Native, "{entry} {optimizer:?}");
            let model = ResNet1d::<NdArrayBackend>::new(&RES, shape, entry, 0, &device).unwrap();
            let report = train(model, &tr, &va, &config, &device, &mut |_| {})
                .unwrap()
                .report;
            assert_eq!(
                report.engine,
                TrainEngine::Native,
                "baseline {entry} {optimizer:?}"
            );
        }
    }
}

#[cfg(feature = "flex")]
#[test]
fn flex_training_follows_ndarray_from_the_same_seed() {
    let reference = losses_on::<NdArrayBackend>(&Default::default());
    let flex = losses_on::<dcl_train::FlexBackend>(&Default::default());
    // Both run on the CPU in f32: they agreed to 1e-7 when written.
    assert_losses_agree(&reference, &flex, "flex", 1e-5, 1e-4);
}

#[test]
#[ignore = "needs a CUDA GPU and the `cuda` feature: cargo test -p dcl-train --features cuda -- --ignored cuda"]
fn cuda_training_follows_ndarray_from_the_same_seed() {
    #[cfg(not(feature = "cuda"))]
    panic!("built without the `cuda` feature");
    #[cfg(feature = "cuda")]
    {
        dcl_train::DeviceKind::Cuda(0)
            .check()
            .expect("no usable CUDA device");
        let reference = losses_on::<NdArrayBackend>(&Default::default());
        let cuda = losses_on::<dcl_train::CudaBackend>(&Default::default());
        assert_losses_agree(&reference, &cuda, "cuda", 0.01, 0.05);
    }
}

/// Whether NB201 cell `ops` carries the input to the output (edges (0→1), (0→2), (1→2),
/// (0→3), (1→3), (2→3); `none` carries nothing).
fn output_reachable(ops: &[dcl_graph::Nb201Op; 6]) -> bool {
    use dcl_graph::Nb201Op::None;
    let n1 = ops[0] != None;
    let n2 = ops[1] != None || (n1 && ops[2] != None);
    ops[3] != None || (n1 && ops[4] != None) || (n2 && ops[5] != None)
}

#[test]
fn every_wiring_of_an_nb201_cell_builds_runs_and_reads_its_input_only_through_live_edges() {
    // Every one of the 64 patterns of `none` edges (what decides a cell's wiring), each with
    // its other edges' ops chosen in turn from the four that carry something, and the four
    // cells with one op on every edge: 68 cells, every op on every edge.
    use dcl_graph::Nb201Op;
    let live = [
        Nb201Op::SkipConnect,
        Nb201Op::NorConv1x1,
        Nb201Op::NorConv3x3,
        Nb201Op::AvgPool3x3,
    ];
    let mut cells: Vec<[Nb201Op; 6]> = (0..64usize)
        .map(|pattern| {
            std::array::from_fn(|e| {
                if pattern >> e & 1 == 1 {
                    Nb201Op::None
                } else {
                    live[(pattern + e) % 4]
                }
            })
        })
        .collect();
    cells.extend(live.iter().map(|&op| [op; 6]));
    let device = Default::default();
    let shape = InputShape {
        length: 33,
        channels: 1,
        n_features: 2,
        n_classes: 4,
    };
    let with_hidden = NetConfig {
        head_hidden: 8,
        ..NetConfig::default()
    };
    let features = Tensor::<NdArray, 2>::ones([3, 2], &device);
    let flat = Tensor::<NdArray, 3>::ones([3, 1, 33], &device);
    let wave = Tensor::<NdArray, 3>::from_data(
        burn::tensor::TensorData::new(
            (0..3 * 33)
                .map(|i| (i as f32 * 0.3).sin())
                .collect::<Vec<f32>>(),
            [3, 1, 33],
        ),
        &device,
    );
    let (mut reachable, mut dead) = (0, 0);
    for ops in &cells {
        let c = Nb201Cell::new(*ops);
        let spec = CellSpec::from_nb201(&c, Kernels::default());
        for config in [NetConfig::default(), with_hidden] {
            let net = CellNet::<NdArray>::new(&spec, &config, shape, 0, &device).unwrap();
            let run = |x: &Tensor<NdArray, 3>| -> Vec<f32> {
                let out = net.forward(x.clone(), features.clone());
                assert_eq!(out.dims(), [3, 4]);
                out.into_data().to_vec().unwrap()
            };
            let (a, b) = (run(&flat), run(&wave));
            assert!(a.iter().chain(&b).all(|v| v.is_finite()), "{c}");
            let differ = a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-6);
            // The output depends on the signal exactly when a live path joins input and output:
            // a dead cell passes zeros, so the class scores come from the features alone.
            assert_eq!(differ, output_reachable(ops), "{c}");
            if differ {
                reachable += 1;
            } else {
                dead += 1;
            }
        }
    }
    assert!(reachable > 0 && dead > 0, "{reachable} live, {dead} dead");
    let cells: Vec<Nb201Cell> = cells.into_iter().map(Nb201Cell::new).collect();
    // The hidden layer adds (64 + 2) * 8 + 8 weights and shrinks the classifier to 8 inputs.
    let spec = CellSpec::from_nb201(&cells[0], Kernels::default());
    let params = |config: &NetConfig| {
        use burn::module::Module;
        CellNet::<NdArray>::new(&spec, config, shape, 0, &device)
            .unwrap()
            .num_params()
    };
    assert_eq!(
        params(&with_hidden),
        params(&NetConfig::default()) + 66 * 8 + 8 + 9 * 4 - 67 * 4
    );
}

/// Three classes carried by the two features alone (class means −2, 0, 2 in the first, the
/// second noise); the signals are weak noise.
fn feature_toy(n: usize, seed: u64) -> SignalData {
    feature_toy_of_length(n, seed, 64)
}

/// [`feature_toy`] with signals of `length` samples.
fn feature_toy_of_length(n: usize, seed: u64, length: usize) -> SignalData {
    use rand::RngExt;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = SignalData {
        length,
        n_features: 2,
        n_classes: 3,
        ..SignalData::default()
    };
    for i in 0..n {
        let class = i % 3;
        data.signals
            .extend((0..length).map(|_| rng.random_range(-0.1f32..0.1)));
        data.features
            .push(2.0 * (class as f32 - 1.0) + rng.random_range(-0.5..0.5));
        data.features.push(rng.random_range(-1.0..1.0));
        data.labels.push(class as u8);
    }
    data
}

#[test]
fn every_feature_entry_learns_classes_carried_by_the_features() {
    let (tr, va) = (feature_toy(240, 1), feature_toy(96, 2));
    let device = Default::default();
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let mut params = Vec::new();
    // Every entry without a hidden head layer, and the head entry with one as well.
    let variants = FeatureEntry::ALL
        .iter()
        .map(|&f| (f, 0))
        .chain([(FeatureEntry::Head, 8)]);
    for (features, head_hidden) in variants {
        {
            let net = NetConfig {
                features,
                head_hidden,
                ..small_net()
            };
            let model =
                CellNet::<NdArrayBackend>::new(&spec, &net, shape(&tr), 3, &device).unwrap();
            assert!(model.accepts(&shape(&tr)));
            let wrong = InputShape {
                n_features: 3,
                ..shape(&tr)
            };
            assert!(!model.accepts(&wrong), "{features} {head_hidden}");
            let trained = train(model, &tr, &va, &quick(), &device, &mut |_| {}).unwrap();
            assert!(
                trained.report.valid.balanced_accuracy > 0.85,
                "{features} {head_hidden}: {:?}",
                trained.report.valid
            );
            params.push(trained.model.num_params());
        }
    }
    // Stem adds one stem input channel per feature; Logits moves the features to a head of
    // their own; the hidden layer adds weights: four different networks.
    params.sort();
    params.dedup();
    assert_eq!(params.len(), 4, "{params:?}");
    // Data with other features than the network was built for: a typed error, not a panic.
    let net = NetConfig {
        features: FeatureEntry::Stem,
        ..small_net()
    };
    let model = CellNet::<NdArrayBackend>::new(&spec, &net, shape(&tr), 3, &device).unwrap();
    assert!(matches!(
        train(
            model,
            &toy(30, 1),
            &toy(30, 2),
            &quick(),
            &device,
            &mut |_| {}
        ),
        Err(TrainError::Data(_))
    ));
}

#[test]
fn every_residual_feature_entry_builds_the_network_it_names_and_reads_the_features() {
    let data = feature_toy_of_length(8, 1, 128);
    let device = Default::default();
    let x = || {
        Tensor::<NdArrayBackend, 3>::from_data(
            burn::tensor::TensorData::new(data.signals.clone(), [8, 1, 128]),
            &device,
        )
    };
    let f = |scale: f32| {
        let v: Vec<f32> = data.features.iter().map(|v| v * scale).collect();
        Tensor::<NdArrayBackend, 2>::from_data(burn::tensor::TensorData::new(v, [8, 2]), &device)
    };
    let mut params = Vec::new();
    for entry in FeatureEntry::ALL {
        let model = ResNet1d::<NdArrayBackend>::new(&RES, shape(&data), entry, 3, &device).unwrap();
        assert_eq!(model.entry(), entry);
        assert!(model.accepts(&shape(&data)));
        let wrong = InputShape {
            n_features: 3,
            ..shape(&data)
        };
        assert!(!model.accepts(&wrong), "{entry}");
        params.push(model.num_params());
        // Every entry's logits move with the features.
        let a: Vec<f32> = model.forward(x(), f(1.0)).into_data().to_vec().unwrap();
        let b: Vec<f32> = model.forward(x(), f(-3.0)).into_data().to_vec().unwrap();
        assert_ne!(a, b, "{entry}");
    }
    // Stem: one more stem input channel per feature (kernel x filters weights each); Logits:
    // the features leave the first fully-connected layer (hidden weights each) for a head of
    // their own (2 x hidden + hidden, then hidden x 3 + 3).
    let (filters, k, h) = (RES.filters, RES.kernel, RES.hidden);
    assert_eq!(params[1], params[0] + 2 * k * filters);
    assert_eq!(params[2], params[0] - 2 * h + (2 * h + h) + (h * 3 + 3));
    // The same seed draws the same weights whatever the entry.
    let logits = |m: ResNet1d<NdArrayBackend>| -> Vec<f32> {
        m.forward(x(), f(1.0)).into_data().to_vec().unwrap()
    };
    let first = ResNet1d::<NdArrayBackend>::new(&RES, shape(&data), FeatureEntry::Head, 7, &device);
    let again = ResNet1d::new(&RES, shape(&data), FeatureEntry::Head, 7, &device);
    assert_eq!(logits(first.unwrap()), logits(again.unwrap()));
    // Without features every entry is that network.
    let plain = InputShape {
        n_features: 0,
        ..shape(&data)
    };
    let none = |entry| -> Vec<f32> {
        let m = ResNet1d::<NdArrayBackend>::new(&RES, plain, entry, 7, &device).unwrap();
        assert!(m.accepts(&plain));
        m.forward(x(), Tensor::zeros([8, 0], &device))
            .into_data()
            .to_vec()
            .unwrap()
    };
    assert_eq!(none(FeatureEntry::Head), none(FeatureEntry::Stem));
    assert_eq!(none(FeatureEntry::Head), none(FeatureEntry::Logits));
}

#[test]
fn features_without_features_build_the_plain_network() {
    // No extra features: every entry gives the network `Head` gives, weight for weight.
    let data = SignalData {
        n_features: 0,
        features: Vec::new(),
        ..toy(12, 3)
    };
    let device = Default::default();
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let logits: Vec<Vec<f32>> = FeatureEntry::ALL
        .iter()
        .map(|&features| {
            let net = NetConfig {
                features,
                head_hidden: 8,
                ..small_net()
            };
            let model =
                CellNet::<NdArrayBackend>::new(&spec, &net, shape(&data), 5, &device).unwrap();
            let x = Tensor::<NdArrayBackend, 3>::from_data(
                burn::tensor::TensorData::new(data.signals.clone(), [12, 1, data.length]),
                &device,
            );
            model
                .forward(x, Tensor::zeros([12, 0], &device))
                .into_data()
                .to_vec()
                .unwrap()
        })
        .collect();
    assert_eq!(logits[0], logits[1]);
    assert_eq!(logits[0], logits[2]);
}

#[test]
fn evaluator_trains_net_space_candidates() {
    let (tr, va) = (feature_toy(96, 7), feature_toy(48, 8));
    let config = TrainConfig {
        epochs: 1,
        ..quick()
    };
    let mut eval = CellEvaluator::<NdArrayBackend>::new(
        tr,
        va,
        small_net(),
        Kernels::default(),
        config,
        Default::default(),
    )
    .unwrap();
    let space = NetSpace::new(FeatureEntry::ALL.to_vec()).unwrap();
    let arch: NetArch = format!("{GOOD}@logits").parse().unwrap();
    let fitness = eval.evaluate(&space, &arch).unwrap();
    assert!((0.0..=100.0).contains(&fitness));
    assert_eq!(eval.log()[0].cell, format!("{GOOD}@logits"));
    // The same cell through the NB201 evaluator: the evaluator's own entry (Head).
    eval.evaluate(&Nb201Space::new(), &cell(GOOD)).unwrap();
    assert_eq!(eval.log()[1].cell, GOOD);
}

#[test]
fn evaluator_trains_each_query() {
    let (tr, va) = (toy(96, 7), toy(48, 8));
    let config = TrainConfig {
        epochs: 1,
        ..quick()
    };
    let mut eval = CellEvaluator::<NdArrayBackend>::new(
        tr,
        va,
        small_net(),
        Kernels::default(),
        config,
        Default::default(),
    )
    .unwrap();
    let space = Nb201Space::new();
    let fitness = eval.evaluate(&space, &cell(GOOD)).unwrap();
    assert!((0.0..=100.0).contains(&fitness));
    assert_eq!(eval.log().len(), 1);
    assert_eq!(eval.log()[0].fitness, fitness);
    assert!(eval.seconds() > 0.0);
}

#[test]
fn bad_input_is_a_typed_error() {
    let device = Default::default();
    let tr = toy(30, 1);
    let spec = CellSpec::from_nb201(&cell(GOOD), Kernels::default());
    let model =
        || CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 0, &device).unwrap();
    let run = |data: &SignalData, valid: &SignalData, config: &TrainConfig| {
        train(model(), data, valid, config, &device, &mut |_| {}).map(|_| ())
    };
    let mut nan = tr.clone();
    nan.signals[5] = f32::NAN;
    assert!(matches!(run(&nan, &tr, &quick()), Err(TrainError::Data(_))));
    let mut bad_label = tr.clone();
    bad_label.labels[0] = 7;
    assert!(matches!(
        run(&bad_label, &tr, &quick()),
        Err(TrainError::Label { label: 7, .. })
    ));
    assert!(matches!(
        run(&SignalData::default(), &tr, &quick()),
        Err(TrainError::Data(_))
    ));
    let mut short = tr.clone();
    short.signals.pop();
    assert!(matches!(
        run(&short, &tr, &quick()),
        Err(TrainError::Data(_))
    ));
    // Data the network was not built for: a typed error where burn would panic.
    let two_channels = two_channel_toy(30, 1);
    assert!(matches!(
        run(&two_channels, &two_channels, &quick()),
        Err(TrainError::Data(_))
    ));
    let more_features = SignalData {
        n_features: 2,
        features: tr.features.iter().flat_map(|&f| [f, f]).collect(),
        ..tr.clone()
    };
    assert!(matches!(
        run(&more_features, &more_features, &quick()),
        Err(TrainError::Data(_))
    ));
    let more_classes = SignalData {
        n_classes: 4,
        ..tr.clone()
    };
    assert!(matches!(
        run(&more_classes, &more_classes, &quick()),
        Err(TrainError::Data(_))
    ));
    assert!(matches!(
        evaluate(&model(), &two_channels, 16, &device, TrainEngine::Auto),
        Err(TrainError::Data(_))
    ));
    let resnet =
        ResNet1d::<NdArrayBackend>::new(&RES, shape(&tr), FeatureEntry::Head, 0, &device).unwrap();
    assert!(evaluate(&resnet, &tr, 16, &device, TrainEngine::Auto).is_ok());
    let shorter = SignalData {
        length: 64,
        signals: tr
            .signals
            .chunks_exact(128)
            .flat_map(|s| &s[..64])
            .copied()
            .collect(),
        ..tr.clone()
    };
    for data in [&shorter, &two_channels, &more_features, &more_classes] {
        assert!(matches!(
            evaluate(&resnet, data, 16, &device, TrainEngine::Auto),
            Err(TrainError::Data(_))
        ));
    }
    let zero_epochs = TrainConfig {
        epochs: 0,
        ..quick()
    };
    assert!(matches!(
        run(&tr, &tr, &zero_epochs),
        Err(TrainError::Config(_))
    ));
    let bad_mix = TrainConfig {
        valid_class_mix: Some(vec![1.0, 2.0]), // three classes
        ..quick()
    };
    assert!(matches!(
        run(&tr, &tr, &bad_mix),
        Err(TrainError::Config(_))
    ));
    let negative_noise = TrainConfig {
        augment: Augment {
            noise: -1.0,
            ..Augment::NONE
        },
        ..quick()
    };
    assert!(matches!(
        run(&tr, &tr, &negative_noise),
        Err(TrainError::Config(_))
    ));
    let mut other = toy(30, 2);
    other.n_features = 0;
    other.features.clear();
    assert!(matches!(
        run(&tr, &other, &quick()),
        Err(TrainError::Data(_))
    ));
    // Networks refuse shapes they cannot handle.
    let tiny = InputShape {
        length: 20,
        channels: 1,
        n_features: 0,
        n_classes: 2,
    };
    assert!(matches!(
        ResNet1d::<NdArray>::new(&RES, tiny, FeatureEntry::Head, 0, &device),
        Err(TrainError::Config(_))
    ));
    let backwards = CellSpec {
        nodes: 3,
        edges: vec![dcl_train::CellEdge {
            from: 2,
            to: 1,
            op: dcl_train::EdgeOp::Identity,
        }],
    };
    assert!(matches!(
        CellNet::<NdArray>::new(&backwards, &NetConfig::default(), tiny, 0, &device),
        Err(TrainError::Cell(_))
    ));
}

#[test]
fn unavailable_devices_say_so() {
    use dcl_train::DeviceKind;
    #[cfg(not(feature = "cuda"))]
    assert!(matches!(
        DeviceKind::Cuda(0).check(),
        Err(TrainError::DeviceUnavailable { .. })
    ));
    #[cfg(not(feature = "flex"))]
    assert!(matches!(
        DeviceKind::Flex.check(),
        Err(TrainError::DeviceUnavailable { .. })
    ));
    // With `cuda` built, the probe answers either way without panicking.
    #[cfg(feature = "cuda")]
    let _ = DeviceKind::Cuda(0).check();
    let message = DeviceKind::Cuda(0)
        .check()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.is_empty() || message.contains("cuda:0"));
}

/// A valid `NetArch` string, then mutated: truncated, a bit flipped, or `|`/`@` fields swapped.
/// A candidate to mutate: a cell with an entry, and with a skeleton of the wide menu for odd
/// seeds.
fn fuzzed_arch(seed: u64, rng: &mut ChaCha8Rng) -> NetArch {
    let entries = FeatureEntry::ALL.to_vec();
    let mut arch = NetArch::with_entry(
        Nb201Space::new().sample(rng),
        FeatureEntry::ALL[seed as usize % FeatureEntry::ALL.len()],
    );
    if seed % 2 == 1 {
        let wide =
            dcl_train::NetSpace::with_skeletons(entries, dcl_train::SkeletonMenu::wide()).unwrap();
        arch.skeleton = wide.sample(rng).skeleton;
    }
    arch
}

fn mutated_net_arch(seed: u64, how: u8, at: usize, bit: u8) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let arch = fuzzed_arch(seed, &mut rng);
    let mut bytes = arch.to_string().into_bytes();
    let i = at % bytes.len();
    match how % 3 {
        0 => bytes.truncate(i),
        1 => bytes[i] ^= 1 << (bit % 8),
        _ => {
            let text = String::from_utf8(bytes.clone()).unwrap();
            let mut fields: Vec<&str> = text.split(['|', '@']).collect();
            let n = fields.len();
            fields.swap(at % n, (at / n + 1) % n);
            bytes = fields.join("|").into_bytes();
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest::proptest! {
    // 1,024 cases each: `NetArch` strings and JSON as arbitrary text and as mutations of valid
    // ones; what parses prints back to itself and builds a network's spec.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

    #[test]
    fn net_arch_strings_of_arbitrary_text(text in "[|@a-z_0-9~+]{0,90}") {
        if let Ok(arch) = text.parse::<NetArch>() {
            proptest::prop_assert_eq!(arch.to_string().parse::<NetArch>().unwrap(), arch);
        }
    }

    #[test]
    fn net_arch_strings_mutated(seed: u64, how: u8, at: usize, bit: u8) {
        let text = mutated_net_arch(seed, how, at, bit);
        if let Ok(arch) = text.parse::<NetArch>() {
            proptest::prop_assert_eq!(arch.to_string().parse::<NetArch>().unwrap(), arch);
            proptest::prop_assert!(CellSpec::from_nb201(&arch.cell, Kernels::default()).validate().is_ok());
        }
    }

    #[test]
    fn net_arch_json_of_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
        if let Ok(arch) = serde_json::from_slice::<NetArch>(&bytes) {
            let json = serde_json::to_string(&arch).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<NetArch>(&json).unwrap(), arch);
        }
    }

    #[test]
    fn net_arch_json_mutated(seed: u64, how: u8, at: usize, bit: u8) {
        let valid = fuzzed_arch(seed, &mut ChaCha8Rng::seed_from_u64(seed));
        let mut json = serde_json::to_vec(&valid).unwrap();
        let i = at % json.len();
        match how % 3 {
            0 => json.truncate(i),
            1 => json[i] ^= 1 << (bit % 8),
            _ => json.reverse(),
        }
        if let Ok(arch) = serde_json::from_slice::<NetArch>(&json) {
            let back = serde_json::to_string(&arch).unwrap();
            proptest::prop_assert_eq!(serde_json::from_str::<NetArch>(&back).unwrap(), arch);
        }
    }
}

#[test]
fn an_evaluator_with_objectives_counts_the_parameters_and_times_one_sample() {
    let (tr, va) = (toy(60, 1), toy(30, 2));
    let config = TrainConfig {
        epochs: 1,
        ..quick()
    };
    let new = |on: bool| {
        CellEvaluator::<NdArrayBackend>::new(
            tr.clone(),
            va.clone(),
            small_net(),
            Kernels::default(),
            config.clone(),
            Default::default(),
        )
        .unwrap()
        .with_objectives(on)
    };
    let space = Nb201Space::new();
    let small = cell("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|");
    let mut plain = new(false);
    let (fitness, objectives) = plain.evaluate_with_objectives(&space, &cell(GOOD)).unwrap();
    assert!(objectives.is_empty());
    let mut measuring = new(true);
    let (same, objectives) = measuring
        .evaluate_with_objectives(&space, &cell(GOOD))
        .unwrap();
    // Measuring changes nothing of the training.
    assert_eq!(same, fitness);
    let device = Default::default();
    let built = |c: &str| {
        let spec = CellSpec::from_nb201(&cell(c), Kernels::default());
        CellNet::<NdArrayBackend>::new(&spec, &small_net(), shape(&tr), 0, &device)
            .unwrap()
            .num_params() as f64
    };
    assert_eq!(objectives["params"], built(GOOD));
    let latency = objectives["latency_ms"];
    assert!(latency > 0.0 && latency < 1e4, "{latency}");
    let (_, small_objectives) = measuring.evaluate_with_objectives(&space, &small).unwrap();
    assert!(small_objectives["params"] < objectives["params"]);
    // The records keep both.
    let log = measuring.log();
    assert_eq!(log[0].params, Some(built(GOOD) as u64));
    assert_eq!(log[0].latency_ms, Some(latency));
    assert_eq!(log[0].objectives(), objectives);
    assert!(plain.log()[0].params.is_none());
}

/// A wide-space candidate trains the network of its own skeleton (width, depth, kernels,
/// head), not the evaluator's.
#[test]
fn an_evaluator_trains_each_candidates_skeleton() {
    let (tr, va) = (toy(60, 1), toy(30, 2));
    let config = TrainConfig {
        epochs: 1,
        ..quick()
    };
    let mut evaluator = CellEvaluator::<NdArrayBackend>::new(
        tr.clone(),
        va.clone(),
        small_net(),
        Kernels::default(),
        config,
        Default::default(),
    )
    .unwrap()
    .with_objectives(true);
    let device = Default::default();
    let mut params = Vec::new();
    for skeleton in [None, Some("c4s2n1k5w3h0"), Some("c8s3n2k11w9h16")] {
        let mut arch = NetArch::head(cell(GOOD));
        arch.skeleton = skeleton.map(|s| s.parse().unwrap());
        let record = evaluator.train_arch(&arch).unwrap();
        assert_eq!(record.cell, arch.to_string());
        let built = CellNet::<NdArrayBackend>::new(
            &arch.spec(Kernels::default()),
            &arch.net_config(&small_net()),
            shape(&tr),
            0,
            &device,
        )
        .unwrap()
        .num_params() as u64;
        assert_eq!(record.params, Some(built));
        params.push(built);
    }
    assert!(
        params[0] != params[1] && params[1] < params[2],
        "{params:?}"
    );
}

/// `sum_i w[t_i] (logsumexp(z_i) - z_i[t_i]) / sum_i w[t_i]` and its gradient by the
/// logits (`k` classes a row), in f64, written from the definition.
fn cross_entropy_reference(
    logits: &[f32],
    targets: &[u8],
    weights: &[f32],
    k: usize,
) -> (f64, Vec<f64>) {
    let total: f64 = targets
        .iter()
        .map(|&t| f64::from(weights[t as usize]))
        .sum();
    let mut value = 0.0;
    let mut grad = Vec::with_capacity(logits.len());
    for (i, &t) in targets.iter().enumerate() {
        let row: Vec<f64> = logits[i * k..(i + 1) * k]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        let (t, w) = (t as usize, f64::from(weights[t as usize]));
        value += w * (lse - row[t]) / total;
        for (c, v) in row.iter().enumerate() {
            let p = (v - lse).exp() - if c == t { 1.0 } else { 0.0 };
            grad.push(w * p / total);
        }
    }
    (value, grad)
}

/// Value and gradient against an f64 reference; 40 rows, so burn-ndarray would take its
/// approximate SIMD reciprocal had the loss differentiated `log`.
#[test]
fn weighted_cross_entropy_is_exact() {
    use burn::backend::{Autodiff, NdArray};
    type AD = Autodiff<NdArray>;
    let device = Default::default();
    let (b, c) = (40, 3);
    let z: Vec<f32> = (0..b * c)
        .map(|i| ((i * 13) % 7) as f32 * 0.4 - 1.2)
        .collect();
    let targets: Vec<u8> = (0..b).map(|i| (i % c) as u8).collect();
    let weights = [0.5f32, 2.0, 1.0];
    let logits = Tensor::<AD, 1>::from_floats(z.as_slice(), &device)
        .reshape([b, c])
        .require_grad();
    let loss = dcl_train::weighted_cross_entropy(logits.clone(), &targets, &weights, &device);
    let value = f64::from(loss.clone().into_scalar());
    let grad: Vec<f32> = logits
        .grad(&loss.backward())
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    let (want, want_grad) = cross_entropy_reference(&z, &targets, &weights, c);
    for (i, (&g, &w)) in grad.iter().zip(&want_grad).enumerate() {
        assert!(
            (f64::from(g) - w).abs() < 1e-7,
            "{},{}: {g} vs {w}",
            i / c,
            i % c
        );
    }
    assert!((value - want).abs() < 1e-5, "{value} vs {want}");
}

/// In this integration test, not a unit test: running a task instantiates the whole training
/// on burn-ndarray, which the crate's own unit-test build would compile a second time.
#[test]
fn a_task_without_folds_or_with_an_unknown_device_is_refused_before_any_training() {
    let arch = NetArch::head(Nb201Cell::from_ordinal(0).unwrap());
    let task = dcl_train::TrainTask {
        folds: Vec::new(),
        net: NetConfig::default(),
        kernels: Kernels::default(),
        config: TrainConfig::default(),
        device: "native".into(),
    };
    assert!(matches!(task.run(&arch), Err(TrainError::Config(_))));
    let tpu = dcl_train::TrainTask {
        device: "tpu".into(),
        ..task
    };
    assert!(tpu.run(&arch).is_err());
}
