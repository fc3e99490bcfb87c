//! Candidate training speed, side by side with a PyTorch mirror of the same networks
//! (`benches/train_torch.py`): a typical searched cell network (NAS-Bench-201 skeleton, 16
//! channels, 3 stages, 1 cell per stage) and the Kachuee et al. baseline, on 128-sample
//! signals with 4 features and 4 classes, batch 128.
//!
//! Work items, both sides timing the same span:
//! * `iteration`: build the network (each side's own initialiser), 3 Adam steps, one
//!   128-sample validation pass; ours through `dcl_train::train` exactly as a search calls it
//!   (conversions to and from burn included);
//! * `step`: (time of 4 steps − time of 1 step) / 3, each run built and trained as above.
//!
//! Before timing, the mirror loads our initial weights, trains 3 steps on our batches and
//! must reproduce our losses (first step and after three) within 1e-4 relative, or it refuses.
//!
//! ```text
//! taskset -c 0   cargo bench --bench train -- --threads 1
//! taskset -c 0,1 cargo bench --bench train -- --threads 2
//! cargo bench --bench train -- --threads 2 --burn      # also burn-ndarray, for reference
//! ```
//! Options: `--threads T` (default 1), `--repeats N` (default 10), `--python PATH` (default
//! `python3`; without PyTorch only our side is timed), `--net cell_net|kachuee` (one network). Ends with one line per network and work
//! item: `train_speed net=NAME work=iteration|step ours_ms=X torch_ms=Y ratio=R threads=T`.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use dcl_train::{
    CellNet, CellSpec, Classifier, FeatureEntry, InputShape, Kernels, Layer, LayerGraph,
    NdArrayBackend, NetConfig, OptimizerKind, SignalData, TrainConfig, TrainEngine, ValueShape,
    train,
};
use serde_json::{Value as Json, json};

const BATCH: usize = 128;
const LENGTH: usize = 128;

fn data(n: usize, offset: usize) -> SignalData {
    let mut d = SignalData {
        length: LENGTH,
        n_features: 4,
        n_classes: 4,
        ..SignalData::default()
    };
    // Unbalanced classes, so that the inverse-frequency weights matter.
    const LABELS: [u8; 8] = [0, 0, 0, 1, 0, 2, 3, 1];
    for i in offset..offset + n {
        d.signals
            .extend((0..LENGTH).map(|t| ((t * (i % 7 + 1)) as f32 * 0.05).sin()));
        d.features.extend([1.0, 0.5, -0.5, (i % 3) as f32]);
        d.labels.push(LABELS[i % 8]);
    }
    d
}

fn class_weights(d: &SignalData) -> Vec<f32> {
    let counts = d.class_counts();
    let k = counts.iter().filter(|&&c| c > 0).count() as f64;
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                (d.len() as f64 / (k * c as f64)) as f32
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Net {
    Cell,
    Kachuee,
}

impl Net {
    fn name(self) -> &'static str {
        match self {
            Net::Cell => "cell_net",
            Net::Kachuee => "kachuee",
        }
    }
}

fn cell_spec() -> CellSpec {
    let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
        .parse()
        .unwrap();
    CellSpec::from_nb201(&cell, Kernels::default())
}

/// Builds the network and trains it `steps` steps (one epoch) and one validation pass, as a
/// search does; returns milliseconds.
fn ours_ms(net: Net, steps: usize, engine: TrainEngine, tr: &SignalData, va: &SignalData) -> f64 {
    let device = Default::default();
    let shape = InputShape::of(tr);
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: BATCH,
        steps_per_epoch: Some(steps),
        engine,
        ..TrainConfig::default()
    };
    let t = Instant::now();
    let report = match net {
        Net::Cell => {
            let m = CellNet::<NdArrayBackend>::new(
                &cell_spec(),
                &NetConfig::default(),
                shape,
                0,
                &device,
            )
            .unwrap();
            train(m, tr, va, &cfg, &device, &mut |_| {}).unwrap().report
        }
        Net::Kachuee => {
            let m =
                dcl_ecg_app::kachuee_net::<NdArrayBackend>(shape, FeatureEntry::Head, 0, &device)
                    .unwrap();
            train(m, tr, va, &cfg, &device, &mut |_| {}).unwrap().report
        }
    };
    black_box(report);
    t.elapsed().as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timed(repeats: usize, warmup: usize, mut f: impl FnMut() -> f64) -> f64 {
    for _ in 0..warmup {
        f();
    }
    median((0..repeats).map(|_| f()).collect())
}

/// The network's graph, data, settings and our losses on the mirror's batches, as JSON.
fn case(net: Net, tr: &SignalData, va: &SignalData) -> (Json, f64) {
    let device = Default::default();
    let shape = InputShape::of(tr);
    let graph = match net {
        Net::Cell => {
            let m = CellNet::<NdArrayBackend>::new(
                &cell_spec(),
                &NetConfig::default(),
                shape,
                0,
                &device,
            )
            .unwrap();
            m.layers(&shape).unwrap()
        }
        Net::Kachuee => {
            let m =
                dcl_ecg_app::kachuee_net::<NdArrayBackend>(shape, FeatureEntry::Head, 0, &device)
                    .unwrap();
            m.layers(&shape).unwrap()
        }
    };
    // Trainable parameters (burn's `num_params` also counts batch-norm running statistics).
    let params: usize = graph
        .weights()
        .iter()
        .filter(|w| w.trainable)
        .map(|w| w.values.len())
        .sum();
    let weights = class_weights(tr);
    let (lr, weight_decay) = match TrainConfig::default().optimizer {
        OptimizerKind::Adam { lr, weight_decay } => (lr, weight_decay),
        OptimizerKind::Sgd { .. } => unreachable!("the default is Adam"),
    };
    // Our losses: 3 steps on consecutive batches, cosine over 3 steps, then the loss after.
    let mut native = dcl_train::NativeNet::new(graph.clone()).unwrap();
    let per = tr.channels * tr.length;
    let slice = |s: usize| {
        let lo = s * BATCH;
        (
            &tr.signals[lo * per..(lo + BATCH) * per],
            &tr.features[lo * tr.n_features..(lo + BATCH) * tr.n_features],
            &tr.labels[lo..lo + BATCH],
        )
    };
    let mut losses = Vec::new();
    for s in 0..3 {
        let (x, f, y) = slice(s);
        let lr_s = lr * 0.5 * (1.0 + (std::f64::consts::PI * s as f64 / 3.0).cos());
        let adam = OptimizerKind::Adam { lr, weight_decay };
        losses.push(f64::from(
            native.train_step(x, f, y, &weights, adam, lr_s).unwrap(),
        ));
    }
    let (x, f, y) = slice(3);
    let logits = native.forward(x, f, true).unwrap();
    losses.push(cross_entropy(logits, y, &weights));
    let flops = step_flops(&graph, BATCH);
    let weights_json: Vec<Json> = graph
        .weights()
        .iter()
        .map(|w| json!({"shape": w.shape, "values": w.values}))
        .collect();
    let part = |d: &SignalData| {
        json!({"signals": d.signals, "features": d.features, "labels": d.labels,
               "channels": d.channels, "length": d.length, "n_features": d.n_features})
    };
    let case = json!({
        "layers": graph.layers(), "weights": weights_json,
        "output": graph.output().unwrap(), "params": params,
        "train": part(tr), "valid": part(va), "class_weights": weights,
        "lr": lr, "weight_decay": weight_decay, "batch_size": BATCH, "our_losses": losses,
    });
    (case, flops)
}

fn cross_entropy(logits: &[f32], targets: &[u8], w: &[f32]) -> f64 {
    let k = w.len();
    let (mut sum, mut total) = (0.0f64, 0.0f64);
    for (z, &t) in logits.chunks(k).zip(targets) {
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = f64::from(max)
            + z.iter()
                .map(|&v| f64::from(v - max).exp())
                .sum::<f64>()
                .ln();
        let wt = f64::from(w[usize::from(t)]);
        sum += wt * (lse - f64::from(z[usize::from(t)]));
        total += wt;
    }
    sum / total
}

/// Multiply-adds ×2 of one training step's products (forward, and the two products of each
/// backward: weight and input gradients).
fn step_flops(graph: &LayerGraph, batch: usize) -> f64 {
    let mut f = 0.0;
    for (i, layer) in graph.layers().iter().enumerate() {
        let out = graph.shape(i + 2).unwrap();
        match *layer {
            Layer::Conv1d { weight, .. } => {
                let s = &graph.weights()[weight].shape;
                let ValueShape::Map { length, .. } = out else {
                    continue;
                };
                f += 3.0 * 2.0 * (s[0] * s[1] * s[2] * length * batch) as f64;
            }
            Layer::Linear { weight, .. } => {
                let s = &graph.weights()[weight].shape;
                f += 3.0 * 2.0 * (s[0] * s[1] * batch) as f64;
            }
            _ => {}
        }
    }
    f
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let threads: usize = opt("--threads").map_or(1, |t| t.parse().expect("--threads N"));
    let repeats: usize = opt("--repeats").map_or(10, |t| t.parse().expect("--repeats N"));
    let python = opt("--python").unwrap_or_else(|| "python3".into());
    let with_burn = args.iter().any(|a| a == "--burn");
    let only = opt("--net");
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("the bench sets the global pool first");
    let tr = data(4 * BATCH, 0);
    let va = data(BATCH, 4 * BATCH);
    let tr3 = data(3 * BATCH, 0);
    let dir = std::env::temp_dir().join(format!("dcl-train-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut lines = Vec::new();
    for net in [Net::Cell, Net::Kachuee] {
        if only.as_deref().is_some_and(|n| n != net.name()) {
            continue;
        }
        let (case, flops) = case(net, &tr, &va);
        let path = dir.join(format!("{}.json", net.name()));
        std::fs::write(&path, serde_json::to_vec(&case).unwrap()).unwrap();
        let native = TrainEngine::Auto;
        let iteration = timed(repeats, 2, || ours_ms(net, 3, native, &tr3, &va));
        let one = timed(repeats, 2, || ours_ms(net, 1, native, &tr, &va));
        let four = timed(repeats, 2, || ours_ms(net, 4, native, &tr, &va));
        let step = (four - one) / 3.0;
        println!(
            "ours {}: params {} iteration {iteration:.1} ms, 1 step {one:.1} ms, 4 steps {four:.1} ms, step {step:.2} ms = {:.1} GFLOP/s",
            net.name(),
            case["params"],
            flops / (step * 1e-3) / 1e9
        );
        if with_burn {
            let burn = timed(repeats.min(5), 1, || {
                ours_ms(net, 3, TrainEngine::Burn, &tr3, &va)
            });
            println!("burn-ndarray {}: iteration {burn:.1} ms", net.name());
        }
        let out = Command::new(&python)
            .arg("benches/train_torch.py")
            .arg(&path)
            .args([
                "--threads",
                &threads.to_string(),
                "--repeats",
                &repeats.to_string(),
            ])
            .output();
        let torch: Option<Json> = match out {
            Ok(o) if o.status.success() => {
                let stdout = String::from_utf8_lossy(&o.stdout);
                stdout
                    .lines()
                    .last()
                    .and_then(|l| serde_json::from_str(l).ok())
            }
            Ok(o) => {
                eprintln!(
                    "the PyTorch mirror failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                None
            }
            Err(e) => {
                eprintln!("no PyTorch mirror ({python}: {e}); timing ours only");
                None
            }
        };
        match torch {
            Some(t) => {
                let (ti, t1, t4) = (
                    t["iteration_ms"].as_f64().unwrap(),
                    t["steps1_ms"].as_f64().unwrap(),
                    t["steps4_ms"].as_f64().unwrap(),
                );
                let tstep = (t4 - t1) / 3.0;
                println!(
                    "torch {} {}: threads {} mkldnn {} params {} loss agreement {:.2e}; iteration {ti:.1} ms, step {tstep:.2} ms = {:.1} GFLOP/s; SGEMM peak {:.1} GFLOP/s",
                    net.name(),
                    t["torch"],
                    t["threads"],
                    t["mkldnn"],
                    t["params"],
                    t["loss_rel_diff"].as_f64().unwrap(),
                    flops / (tstep * 1e-3) / 1e9,
                    t["sgemm_peak_gflops"].as_f64().unwrap()
                );
                for (work, ours, theirs) in [("iteration", iteration, ti), ("step", step, tstep)] {
                    lines.push(format!(
                        "train_speed net={} work={work} ours_ms={ours:.2} torch_ms={theirs:.2} ratio={:.3} threads={threads}",
                        net.name(),
                        ours / theirs
                    ));
                }
            }
            None => {
                for (work, ours) in [("iteration", iteration), ("step", step)] {
                    lines.push(format!(
                        "train_speed net={} work={work} ours_ms={ours:.2} torch_ms=NA ratio=NA threads={threads}",
                        net.name()
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    for l in lines {
        println!("{l}");
    }
}
