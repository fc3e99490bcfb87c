//! Encoder throughput of the DCL-ENAS predictor (default model: hidden 64, 4 GIN layers) on
//! NAS-Bench-201 graphs: inference, a stage-2 training step (batch 128) and a stage-1 step
//! (256 architectures, two views each).
//!
//! ```text
//! cargo bench --bench predictor
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dcl_predictor::{
    FinetuneConfig, GraphSpace, ModelConfig, Nb201Space, Predictor, PretrainConfig, SearchSpace,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn encoder(c: &mut Criterion) {
    let space = Nb201Space::new();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let cells: Vec<_> = (0..1024).map(|_| space.sample(&mut rng)).collect();
    let graphs: Vec<_> = cells.iter().map(|a| space.to_graph(a).unwrap()).collect();
    let labelled: Vec<_> = cells[..128]
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i as f64))
        .collect();
    let p: Predictor = Predictor::new(&space, ModelConfig::default(), 0).unwrap();

    let mut g = c.benchmark_group("predictor");
    g.sample_size(10);
    g.throughput(Throughput::Elements(graphs.len() as u64));
    g.bench_function("inference_1024_graphs", |b| {
        b.iter(|| black_box(p.score_graphs(&graphs).unwrap()))
    });
    g.throughput(Throughput::Elements(128));
    g.bench_function("finetune_step_batch_128", |b| {
        let cfg = FinetuneConfig {
            epochs: 1,
            batch_size: 128,
            ..Default::default()
        };
        b.iter_batched(
            || p.fork(1),
            |mut q| black_box(q.finetune(&space, &labelled, &cfg).unwrap()),
            criterion::BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(256));
    g.bench_function("pretrain_step_batch_256", |b| {
        let cfg = PretrainConfig {
            epochs: 1,
            batch_size: 256,
            ..Default::default()
        };
        b.iter_batched(
            || p.fork(2),
            |mut q| black_box(q.pretrain(&space, &cells[..256], &cfg).unwrap()),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, encoder);
criterion_main!(benches);
