//! Throughput of the graph layer: NB101 hashing, sampling + mutation, and GNN encoding.
//!
//! ```text
//! cargo bench --bench graph
//! ```

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dcl_graph::augment::{Augmentation, Compose, EdgeDrop, NodeShuffle, OpSubstitution};
use dcl_graph::{
    EncodingShape, GraphBatch, GraphSpace, Nb101Space, Nb201Space, SearchSpace, module_hash,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn hashing(c: &mut Criterion) {
    let space = Nb101Space::new();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let cells: Vec<_> = (0..256).map(|_| space.sample(&mut rng)).collect();
    let graphs: Vec<_> = cells.iter().map(|c| c.to_graph().unwrap()).collect();
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Elements(cells.len() as u64));
    g.bench_function("nb101_cell_module_hash", |b| {
        b.iter(|| {
            cells.iter().for_each(|c| {
                black_box(c.module_hash());
            })
        })
    });
    g.bench_function("arch_graph_module_hash", |b| {
        b.iter(|| {
            graphs.iter().for_each(|g| {
                black_box(module_hash(g));
            })
        })
    });
    g.finish();
}

fn sampling(c: &mut Criterion) {
    let mut g = c.benchmark_group("sample_mutate");
    g.throughput(Throughput::Elements(256));
    let nb101 = Nb101Space::new();
    let nb201 = Nb201Space::new();
    g.bench_function("nb101", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        b.iter(|| {
            for _ in 0..256 {
                let a = nb101.sample(&mut rng);
                black_box(nb101.mutate(&a, &mut rng));
            }
        })
    });
    g.bench_function("nb201", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        b.iter(|| {
            for _ in 0..256 {
                let a = nb201.sample(&mut rng);
                black_box(nb201.mutate(&a, &mut rng));
            }
        })
    });
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let space = Nb201Space::new();
    let shape = EncodingShape::of(&space);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let graphs: Vec<_> = (0..256)
        .map(|_| space.to_graph(&space.sample(&mut rng)).unwrap())
        .collect();
    let aug = Compose::new(vec![
        Box::new(OpSubstitution::new(0.2)),
        Box::new(EdgeDrop::new(0.2)),
        Box::new(NodeShuffle),
    ]);
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(graphs.len() as u64));
    g.bench_function("nb201_batch_256", |b| {
        b.iter_batched_ref(
            || GraphBatch::with_capacity(shape, graphs.len()),
            |batch| {
                for gr in &graphs {
                    batch.push_graph(gr).unwrap();
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("nb201_augment_and_encode_256", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        b.iter_batched_ref(
            || GraphBatch::with_capacity(shape, graphs.len()),
            |batch| {
                for gr in &graphs {
                    batch.push(&aug.augment(gr, &mut rng)).unwrap();
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, hashing, sampling, encoding);
criterion_main!(benches);
