//! Training throughput of candidate networks on each CPU backend built: a typical searched
//! cell network (NAS-Bench-201 skeleton, 16 channels, 3 stages, 1 cell per stage) and the
//! Kachuee et al. baseline, on 128-sample beats with 4 RR features, batch 128. Each iteration
//! is 3 optimisation steps plus a 128-beat validation pass (the trainer's real loop).
//!
//! ```text
//! cargo bench --bench train                    # burn-ndarray
//! cargo bench --bench train --features flex    # burn-ndarray and burn-flex
//! ```

use std::hint::black_box;

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dcl_train::{
    CellNet, CellSpec, Classifier, InputShape, KachueeNet, Kernels, NdArrayBackend, NetConfig,
    SignalData, TrainConfig, train,
};

const STEPS: usize = 3;
const BATCH: usize = 128;

fn data(n: usize) -> SignalData {
    let length = 128;
    let mut d = SignalData {
        length,
        n_features: 4,
        n_classes: 4,
        ..SignalData::default()
    };
    for i in 0..n {
        d.signals
            .extend((0..length).map(|t| ((t * (i % 7 + 1)) as f32 * 0.05).sin()));
        d.features.extend([1.0, 1.0, 1.0, (i % 3) as f32]);
        d.labels.push((i % 4) as u8);
    }
    d
}

fn bench_backend<B: AutodiffBackend>(c: &mut Criterion, name: &str)
where
    CellNet<B>: Classifier<B> + AutodiffModule<B>,
    <CellNet<B> as AutodiffModule<B>>::InnerModule: Classifier<B::InnerBackend>,
    KachueeNet<B>: Classifier<B> + AutodiffModule<B>,
    <KachueeNet<B> as AutodiffModule<B>>::InnerModule: Classifier<B::InnerBackend>,
{
    let device = B::Device::default();
    let (tr, va) = (data(STEPS * BATCH), data(BATCH));
    let shape = InputShape::of(&tr);
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: BATCH,
        steps_per_epoch: Some(STEPS),
        ..TrainConfig::default()
    };
    let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
        .parse()
        .unwrap();
    let spec = CellSpec::from_nb201(&cell, Kernels::default());
    let mut g = c.benchmark_group(format!("train_{name}"));
    g.sample_size(10);
    g.throughput(Throughput::Elements((STEPS * BATCH) as u64));
    g.bench_function("cell_net_3_steps_batch_128", |b| {
        b.iter(|| {
            let m = CellNet::<B>::new(&spec, &NetConfig::default(), shape, 0, &device).unwrap();
            black_box(
                train(m, &tr, &va, &cfg, &device, &mut |_| {})
                    .unwrap()
                    .report,
            )
        })
    });
    g.bench_function("kachuee_3_steps_batch_128", |b| {
        b.iter(|| {
            let m = KachueeNet::<B>::new(shape, 0, &device).unwrap();
            black_box(
                train(m, &tr, &va, &cfg, &device, &mut |_| {})
                    .unwrap()
                    .report,
            )
        })
    });
    g.finish();
}

fn backends(c: &mut Criterion) {
    bench_backend::<NdArrayBackend>(c, "ndarray");
    #[cfg(feature = "flex")]
    bench_backend::<dcl_train::FlexBackend>(c, "flex");
}

criterion_group!(benches, backends);
criterion_main!(benches);
