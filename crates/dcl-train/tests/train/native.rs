//! The native engine against burn-ndarray's autodiff: the same logits, the same gradients,
//! the same running statistics, and the same weights on any number of threads.

use std::collections::HashMap;

use burn::backend::{Autodiff, NdArray};
use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};

use crate::RES;
use dcl_train::{
    CellNet, CellSpec, Classifier, FeatureEntry, InputShape, Kernels, NativeNet, NetConfig,
    OptimizerKind, ResNet1d, ResNetConfig, weighted_cross_entropy,
};

type AD = Autodiff<NdArray>;

/// A deterministic batch: smooth signals, features, labels of every class.
fn batch(shape: &InputShape, b: usize) -> (Vec<f32>, Vec<f32>, Vec<u8>) {
    let signals = (0..b * shape.channels * shape.length)
        .map(|i| ((i * 37 % 101) as f32 * 0.13).sin() + 0.3 * ((i % 17) as f32 * 0.4).cos())
        .collect();
    let features = (0..b * shape.n_features)
        .map(|i| ((i % 5) as f32 - 2.0) * 0.4)
        .collect();
    let labels = (0..b).map(|i| (i % shape.n_classes) as u8).collect();
    (signals, features, labels)
}

/// Every float parameter's gradient (and, for running statistics, the value) by id.
struct Grads<'a> {
    grads: &'a <AD as AutodiffBackend>::Gradients,
    out: HashMap<ParamId, Vec<f32>>,
}

impl ModuleVisitor<AD> for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AD, D>>) {
        let tensor = param.val();
        if let Some(g) = tensor.grad(self.grads) {
            self.out.insert(param.id, g.into_data().to_vec().unwrap());
        }
    }
}

/// One training step's logits, loss gradients and updated running statistics, burn vs native.
fn check_gradients<M>(model: M, shape: InputShape, what: &str)
where
    M: Classifier<AD> + AutodiffModule<AD>,
{
    // Small: burn-ndarray's kernels, compiled at the test profile's opt-level, are slow.
    let b = 8;
    let (signals, features, labels) = batch(&shape, b);
    let class_weights: Vec<f32> = (0..shape.n_classes)
        .map(|c| 0.5 + c as f32 * 0.25)
        .collect();
    let mut net = NativeNet::new(model.layers(&shape).unwrap()).unwrap();

    let device = Default::default();
    let x = Tensor::<AD, 3>::from_data(
        TensorData::new(signals.clone(), [b, shape.channels, shape.length]),
        &device,
    );
    let f = Tensor::<AD, 2>::from_data(
        TensorData::new(features.clone(), [b, shape.n_features]),
        &device,
    );
    let logits = model.forward(x, f);
    let want_logits: Vec<f32> = logits.to_data().to_vec().unwrap();
    let loss = weighted_cross_entropy(logits, &labels, &class_weights, &device);
    let grads = loss.backward();
    let mut visitor = Grads {
        grads: &grads,
        out: HashMap::new(),
    };
    model.visit(&mut visitor);
    // Lowered again after burn's training pass: its updated running statistics.
    let burn_after = model.layers(&shape).unwrap();

    let got_logits = net.forward(&signals, &features, true).unwrap().to_vec();
    let scale = want_logits.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (g, w) in got_logits.iter().zip(&want_logits) {
        assert!(
            (g - w).abs() <= 1e-4 * scale.max(1.0),
            "{what}: logit {g} vs {w}"
        );
    }
    let (_, dlogits) =
        crate::cross_entropy_reference(&got_logits, &labels, &class_weights, shape.n_classes);
    let dlogits: Vec<f32> = dlogits.iter().map(|&g| g as f32).collect();
    net.backward(&dlogits).unwrap();

    // A convolution's bias right before batch norm has a gradient of exactly zero; both
    // engines then return rounding noise, compared against the network's gradient scale.
    let largest = visitor
        .out
        .values()
        .flatten()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let mut compared = 0;
    for (i, weight) in net.weights().iter().enumerate() {
        let id = weight.id.unwrap();
        if weight.trainable {
            let want = visitor.out.get(&id);
            let got = &net.gradients()[i];
            match want {
                Some(want) => {
                    let max = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    let max = if max < 1e-5 * largest {
                        1e-1 * largest
                    } else {
                        max
                    };
                    for (g, w) in got.iter().zip(want) {
                        assert!(
                            (g - w).abs() <= 1e-4 * max.max(1e-6),
                            "{what}: weight {i} {:?}: gradient {g} vs {w} (largest {max})",
                            weight.shape
                        );
                    }
                    assert!(
                        net.touched()[i],
                        "{what}: weight {i} has a gradient in burn only"
                    );
                    compared += 1;
                }
                None => assert!(
                    !net.touched()[i],
                    "{what}: weight {i} has a gradient natively only"
                ),
            }
        } else {
            // Running statistics after one training pass: burn's forward updated its own.
            let want = &burn_after.weights()[i].values;
            for (g, w) in weight.values.iter().zip(want) {
                assert!(
                    (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{what}: running statistic {g} vs {w}"
                );
            }
        }
    }
    assert!(compared > 0, "{what}: no gradient compared");
}

fn nb201(s: &str) -> dcl_graph::Nb201Cell {
    s.parse().unwrap()
}

/// Cells that use every operation, each kernel set, every feature entry, 1 and 2 channels,
/// with and without a hidden head layer.
#[test]
fn cell_net_gradients_match_burn() {
    let cells = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        "|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
        // Node 1 is a dead end: its convolution runs (running statistics move) but gets no gradient.
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
        // No edge reaches the output: the cell outputs zeros. (One stage: a reduction after
        // it would see a constant, and the batch norm after that returns rounding noise
        // amplified by 1/sqrt(eps) on both engines: not comparable.)
        "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ];
    let kernels = [
        Kernels::default(),
        Kernels {
            conv_1x1: 1,
            conv_3x3: 3,
            avg_pool: 5,
        },
    ];
    let mut case = 0;
    for (c, cell) in cells.iter().enumerate() {
        for (ki, &k) in kernels.iter().enumerate() {
            for entry in FeatureEntry::ALL {
                let channels = 1 + case % 2;
                let hidden = if case % 3 == 0 { 6 } else { 0 };
                case += 1;
                if ki == 1 && c > 1 {
                    continue;
                }
                let shape = InputShape {
                    length: 19,
                    channels,
                    n_features: 3,
                    n_classes: 3,
                };
                let stages = if c == 3 { 1 } else { 2 };
                let config = NetConfig {
                    channels: 4,
                    stages,
                    head_hidden: hidden,
                    features: entry,
                    ..NetConfig::default()
                };
                let spec = CellSpec::from_nb201(&nb201(cell), k);
                let model =
                    CellNet::<AD>::new(&spec, &config, shape, case as u64, &Default::default())
                        .unwrap();
                check_gradients(
                    model,
                    shape,
                    &format!("{cell} {k:?} {entry} {channels} channels hidden {hidden}"),
                );
            }
        }
    }
}

#[test]
fn cell_net_without_features_matches_burn() {
    let shape = InputShape {
        length: 16,
        channels: 1,
        n_features: 0,
        n_classes: 2,
    };
    for entry in FeatureEntry::ALL {
        let config = NetConfig {
            channels: 4,
            stages: 3,
            features: entry,
            ..NetConfig::default()
        };
        let spec = CellSpec::from_nb201(
            &nb201(
                "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
            ),
            Kernels::default(),
        );
        let model = CellNet::<AD>::new(&spec, &config, shape, 3, &Default::default()).unwrap();
        check_gradients(model, shape, &format!("no features {entry}"));
    }
}

#[test]
fn residual_net_gradients_match_burn() {
    let no_hidden = ResNetConfig {
        hidden_layers: 0,
        ..RES
    };
    for (config, entry) in FeatureEntry::ALL
        .map(|e| (RES, e))
        .into_iter()
        .chain([(no_hidden, FeatureEntry::Logits)])
    {
        for channels in [1, 2] {
            let shape = InputShape {
                length: 128,
                channels,
                n_features: 4,
                n_classes: 4,
            };
            let model = ResNet1d::<AD>::new(&config, shape, entry, 5, &Default::default()).unwrap();
            let hidden = config.hidden_layers;
            check_gradients(
                model,
                shape,
                &format!("resnet {entry} {channels} channels {hidden} hidden layers"),
            );
        }
    }
}

/// The weights after a few Adam and SGD steps (batch norm, pooling, every parallel kernel)
/// are the same bit for bit on 1, 2 and 4 threads.
#[test]
fn training_is_bit_identical_on_any_thread_count() {
    let shape = InputShape {
        length: 128,
        channels: 1,
        n_features: 4,
        n_classes: 4,
    };
    let spec = CellSpec::from_nb201(
        &nb201(
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        ),
        Kernels::default(),
    );
    let run = |threads: usize, optimizer: OptimizerKind| -> Vec<Vec<f32>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let model = CellNet::<NdArray>::new(
                &spec,
                &NetConfig::default(),
                shape,
                1,
                &Default::default(),
            )
            .unwrap();
            let mut net = NativeNet::new(model.layers(&shape).unwrap()).unwrap();
            let res =
                ResNet1d::<NdArray>::new(&RES, shape, FeatureEntry::Head, 1, &Default::default())
                    .unwrap();
            let mut res = NativeNet::new(res.layers(&shape).unwrap()).unwrap();
            let (signals, features, labels) = batch(&shape, 128);
            for _ in 0..3 {
                net.train_step(
                    &signals,
                    &features,
                    &labels,
                    &[1.0, 2.0, 1.0, 0.5],
                    optimizer,
                    1e-2,
                )
                .unwrap();
                res.train_step(
                    &signals,
                    &features,
                    &labels,
                    &[1.0, 2.0, 1.0, 0.5],
                    optimizer,
                    1e-2,
                )
                .unwrap();
            }
            net.weights()
                .iter()
                .chain(res.weights())
                .map(|w| w.values.clone())
                .collect()
        })
    };
    for optimizer in [
        OptimizerKind::Adam {
            lr: 1e-2,
            weight_decay: 1e-4,
        },
        OptimizerKind::Sgd {
            lr: 1e-2,
            momentum: 0.9,
            weight_decay: 1e-4,
        },
    ] {
        let one = run(1, optimizer);
        assert_eq!(one, run(2, optimizer), "{optimizer:?}: 1 vs 2 threads");
        assert_eq!(one, run(4, optimizer), "{optimizer:?}: 1 vs 4 threads");
    }
}

/// A few Adam and SGD steps natively land on burn's weights (same optimiser arithmetic).
#[test]
fn optimiser_steps_follow_burns() {
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::momentum::MomentumConfig;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig};
    let shape = InputShape {
        length: 128,
        channels: 1,
        n_features: 4,
        n_classes: 4,
    };
    let b = 8;
    let (signals, features, labels) = batch(&shape, b);
    let weights = [1.0, 1.5, 0.5, 1.0];
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
        let model = ResNet1d::<AD>::new(&RES, shape, FeatureEntry::Head, 2, &device).unwrap();
        let mut net = NativeNet::new(model.layers(&shape).unwrap()).unwrap();
        let step_burn =
            |model: ResNet1d<AD>,
             optim: &mut dyn FnMut(ResNet1d<AD>, GradientsParams) -> ResNet1d<AD>| {
                let x = Tensor::<AD, 3>::from_data(
                    TensorData::new(signals.clone(), [b, 1, 128]),
                    &device,
                );
                let f =
                    Tensor::<AD, 2>::from_data(TensorData::new(features.clone(), [b, 4]), &device);
                let loss = weighted_cross_entropy(model.forward(x, f), &labels, &weights, &device);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                optim(model, grads)
            };
        let mut model = model;
        match optimizer {
            OptimizerKind::Adam { lr, weight_decay } => {
                let mut o = AdamConfig::new()
                    .with_weight_decay(Some(WeightDecayConfig::new(weight_decay)))
                    .init();
                for _ in 0..3 {
                    model = step_burn(model, &mut |m, g| o.step(lr, m, g));
                }
            }
            OptimizerKind::Sgd {
                lr,
                momentum,
                weight_decay,
            } => {
                let mut o = SgdConfig::new()
                    .with_momentum(Some(MomentumConfig {
                        momentum,
                        dampening: 0.0,
                        nesterov: false,
                    }))
                    .with_weight_decay(Some(WeightDecayConfig::new(weight_decay)))
                    .init();
                for _ in 0..3 {
                    model = step_burn(model, &mut |m, g| o.step(lr, m, g));
                }
            }
        }
        let lr = match optimizer {
            OptimizerKind::Adam { lr, .. } | OptimizerKind::Sgd { lr, .. } => lr,
        };
        for _ in 0..3 {
            net.train_step(&signals, &features, &labels, &weights, optimizer, lr)
                .unwrap();
        }
        let burn_graph = model.valid().layers(&shape).unwrap();
        for (i, (got, want)) in net.weights().iter().zip(burn_graph.weights()).enumerate() {
            let max = want.values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (g, w) in got.values.iter().zip(&want.values) {
                assert!(
                    (g - w).abs() <= 1e-4 * max,
                    "{optimizer:?} weight {i}: {g} vs {w}"
                );
            }
        }
    }
}
