//! The predictor's speed beside a PyTorch mirror of the same model, on the same machine and
//! thread count.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench --bench predictor_speed -- --torch benches/predictor_torch.py
//! ```
//!
//! The default ranker (hidden 64, 4 GIN layers) on 1,024 sampled NAS-Bench-201 cells (seed 0):
//! `score` scores them all, `finetune_step` is one stage-2 step on 128 of them with the
//! pairwise loss (the search's refit), `finetune_default_step` the same with the default loss
//! (Rank-N-Contrast + pairwise), `pretrain_step` one stage-1 step on 256 architectures × 2
//! augmented views. Each is timed through the public API (`score_graphs`, `finetune`,
//! `pretrain` with one step), so ours includes building batches and augmenting views; the
//! median of `--reps` runs after `--warmup` is reported.
//!
//! With `--torch SCRIPT` the weights, graphs, views and our scores are exported to JSON and the
//! script (`benches/predictor_torch.py`; needs `pip install torch`) is run with the same thread
//! count. It refuses to time a model whose scores differ from ours by more than 1e-4, and this
//! program then fails too. It ends with one line per work item:
//! `speed work=.. ours_ms=.. torch_ms=.. ratio=.. threads=..` (ratio = ours / torch).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use dcl_predictor::augment::Augmentation;
use dcl_predictor::{
    Engine, FinetuneConfig, GraphBatch, GraphSpace, ModelConfig, Nb201Space, Predictor,
    PretrainConfig, RankingLoss, SearchSpace,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Parser, Debug)]
#[command(about = "Times the predictor, and a PyTorch mirror of it with --torch")]
struct Args {
    /// Timed runs per work item (the median is reported).
    #[arg(long, default_value_t = 20)]
    reps: usize,
    /// Untimed runs first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// The PyTorch mirror to run beside ours (benches/predictor_torch.py).
    #[arg(long)]
    torch: Option<PathBuf>,
    /// Python interpreter for the mirror.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Where the export for the mirror is written.
    #[arg(long, default_value = "target/predictor_speed_export.json")]
    export: PathBuf,
    /// What runs the encoder: native (this crate's CPU kernels, for scoring and training) or
    /// burn (the backend, for both).
    #[arg(long, default_value = "native")]
    engine: Engine,
    /// Time only these work items (comma-separated; all by default).
    #[arg(long, value_delimiter = ',')]
    work: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

const GRAPHS: usize = 1024;
const LABELLED: usize = 128;
const PRETRAIN: usize = 256;
/// Extra steps whose cost is measured.
const STEPS: usize = 5;

fn median_ms(warmup: usize, reps: usize, mut run: impl FnMut() -> f64) -> f64 {
    for _ in 0..warmup {
        run();
    }
    let mut t: Vec<f64> = (0..reps.max(1)).map(|_| run()).collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn batch_json(batch: &GraphBatch) -> serde_json::Value {
    serde_json::json!({
        "graphs": batch.len(),
        "adjacency": batch.adjacency(),
        "features": batch.features(),
        "mask": batch.node_mask(),
    })
}

/// Times every work item on backend `B` (burn-ndarray here); with `export`, writes what the
/// mirror needs.
fn measure<B: AutodiffBackend>(
    args: &Args,
    export: Option<&PathBuf>,
) -> Result<Vec<(&'static str, f64)>, Box<dyn std::error::Error>> {
    let space = Nb201Space::new();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let cells: Vec<_> = (0..GRAPHS).map(|_| space.sample(&mut rng)).collect();
    let graphs = cells
        .iter()
        .map(|a| space.to_graph(a))
        .collect::<Result<Vec<_>, _>>()?;
    // Targets: a fixed permutation of 0..128, so every pair is ordered.
    let labelled: Vec<_> = cells[..LABELLED]
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, ((i * 37) % LABELLED) as f64))
        .collect();
    let mut p: Predictor<B> = Predictor::new(&space, ModelConfig::default(), 0)?;
    p.set_engine(args.engine);
    p.set_training_engine(args.engine);
    let pairwise = FinetuneConfig {
        epochs: 1,
        batch_size: LABELLED,
        loss: RankingLoss::Pairwise,
        ..FinetuneConfig::default()
    };
    let default_loss = FinetuneConfig {
        epochs: 1,
        batch_size: LABELLED,
        ..FinetuneConfig::default()
    };
    let pretrain = PretrainConfig {
        epochs: 1,
        batch_size: PRETRAIN,
        ..PretrainConfig::default()
    };

    if let Some(path) = export {
        let shape = p.encoding_shape();
        let aug = pretrain.augmentation();
        let mut view_rng = ChaCha8Rng::seed_from_u64(1);
        let mut v1 = GraphBatch::with_capacity(shape, PRETRAIN);
        let mut v2 = GraphBatch::with_capacity(shape, PRETRAIN);
        for g in &graphs[..PRETRAIN] {
            v1.push(&aug.augment(g, &mut view_rng))?;
            v2.push(&aug.augment(g, &mut view_rng))?;
        }
        let export = serde_json::json!({
            "model": p.model_config(),
            "max_nodes": shape.max_nodes,
            "features": shape.feature_dim(),
            "weights": p.export_weights()?,
            "graphs": batch_json(&GraphBatch::from_graphs(shape, &graphs)?),
            "scores": p.score_graphs(&graphs)?,
            "targets": labelled.iter().map(|(_, y)| *y).collect::<Vec<_>>(),
            "view1": batch_json(&v1),
            "view2": batch_json(&v2),
            "finetune": {
                "temperature": default_loss.temperature,
                "rnc_temperature": default_loss.rnc_temperature,
                "rnc_weight": 1.0,
                "weight_decay": default_loss.weight_decay,
            },
            "pretrain": {"temperature": pretrain.temperature},
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        dcl_graph::io::write_atomic(path, serde_json::to_string(&export)?.as_bytes())?;
    }

    let wanted = |work: &str| args.work.is_empty() || args.work.iter().any(|x| x == work);
    let (w, r) = (args.warmup, args.reps);
    let mut out = Vec::new();
    if wanted("score") {
        let ms = median_ms(w, r, || {
            let t = Instant::now();
            std::hint::black_box(p.score_graphs(&graphs).expect("scores"));
            t.elapsed().as_secs_f64() * 1e3
        });
        out.push(("score", ms));
    }
    // A step's cost is the difference between runs of 1 + STEPS and of 1 step over STEPS: the
    // conversion of architectures to graphs, the optimiser's set-up and the model's copy happen
    // once per call (once per refit in a search, whatever its epochs) and are not a step's.
    let marginal = |run: &dyn Fn(usize) -> usize| {
        let time = |epochs: usize| {
            median_ms(w, r, || {
                let t = Instant::now();
                assert_eq!(run(epochs), epochs, "one step per epoch");
                t.elapsed().as_secs_f64() * 1e3
            })
        };
        let (one, many) = (time(1), time(1 + STEPS));
        ((many - one) / STEPS as f64, one)
    };
    for (work, cfg) in [
        ("finetune_step", &pairwise),
        ("finetune_default_step", &default_loss),
    ] {
        if wanted(work) {
            let (step, call) = marginal(&|epochs| {
                let cfg = FinetuneConfig {
                    epochs,
                    ..cfg.clone()
                };
                let mut q = p.fork(1);
                q.finetune(&space, &labelled, &cfg)
                    .expect("fine-tunes")
                    .steps
            });
            println!("ours work={work} one_step_call_ms={call:.3}");
            out.push((work, step));
        }
    }
    if wanted("pretrain_step") {
        let (step, call) = marginal(&|epochs| {
            let cfg = PretrainConfig {
                epochs,
                ..pretrain.clone()
            };
            let mut q = p.fork(2);
            q.pretrain(&space, &cells[..PRETRAIN], &cfg)
                .expect("pre-trains")
                .steps
        });
        println!("ours work=pretrain_step one_step_call_ms={call:.3}");
        out.push(("pretrain_step", step));
    }
    Ok(out)
}

/// Runs the mirror and reads its `torch work=.. ms=..` lines.
fn run_torch(
    args: &Args,
    script: &PathBuf,
    threads: usize,
) -> Result<BTreeMap<String, f64>, Box<dyn std::error::Error>> {
    let output = Command::new(&args.python)
        .arg(script)
        .arg(&args.export)
        .args(["--threads", &threads.to_string()])
        .args(["--reps", &args.reps.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .output()
        .map_err(|e| format!("cannot run {} {}: {e}", args.python, script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        return Err(format!(
            "the PyTorch mirror failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let mut times = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("torch ")) {
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .map(str::to_owned)
        };
        if let (Some(work), Some(ms)) = (field("work="), field("ms=")) {
            times.insert(work, ms.parse::<f64>()?);
        }
    }
    Ok(times)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let threads = rayon::current_num_threads();
    let export = args.torch.as_ref().map(|_| &args.export);
    let ours = measure::<dcl_predictor::CpuBackend>(&args, export)?;
    let torch = match &args.torch {
        Some(script) => run_torch(&args, script, threads)?,
        None => BTreeMap::new(),
    };
    for (work, ms) in &ours {
        match torch.get(*work) {
            Some(t) => println!(
                "speed work={work} ours_ms={ms:.3} torch_ms={t:.3} ratio={:.3} threads={threads} engine={}",
                ms / t,
                args.engine
            ),
            None => println!(
                "speed work={work} ours_ms={ms:.3} torch_ms=NA ratio=NA threads={threads} engine={}",
                args.engine
            ),
        }
    }
    Ok(())
}
