//! Ranking quality of the DCL-ENAS predictor (TNASP / PINAT protocol): fine-tune on `k`
//! random labelled architectures, measure Kendall τ on all the others.
//!
//! ```text
//! cargo run --release --example predictor_eval -- --space nb201 --seeds 5
//! cargo run --release --example predictor_eval -- --space nb101 --seeds 5
//! ```
//!
//! Stage 1 is label-free, so one encoder per space is pre-trained once (on every cell of
//! NB201, or on the whole 423,624-cell NB101 enumeration) and serves every `k` and seed; its
//! time is reported once. Each seed then draws its own labelled set and fine-tunes its own copy.
//! Labels: NB201 CIFAR-10 200-epoch test accuracy; NB101 108-epoch validation accuracy of the
//! 20,001-cell subset (single training runs: noisier than the 3-run means papers used).
//!
//! Ends with one line per configuration:
//! `tau space=nb201 k=156 variant=dcl mean=0.712 std=0.015 seeds=5 seconds=3.1`
//! (`seconds`: mean fine-tune + scoring time per seed).

use std::time::Instant;

use clap::Parser;
use dcl_bench::{Nb101Metric, Nb101Table, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_predictor::metrics::{kendall_tau, precision_at_k, spearman_rho};
use dcl_predictor::{
    Ensemble, FinetuneConfig, ModelConfig, Nb101Cell, Nb101Space, Nb201Space, Predictor,
    PredictorError, PretrainConfig, RankingLoss, SearchSpace,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Parser, Debug)]
struct Args {
    /// nb201 or nb101.
    #[arg(long, default_value = "nb201")]
    space: String,
    /// Labelled set sizes (default: 78,156,469,781,1563 for nb201; 100,172,424,4236 for nb101).
    #[arg(long, value_delimiter = ',')]
    k: Vec<usize>,
    /// Seeds per configuration.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    seed_offset: u64,
    /// Variants: dcl (pre-trained, pairwise loss), rnc (pre-trained, Rank-N-Contrast +
    /// pairwise), no-pretrain (pairwise from scratch), mse (pre-trained, MSE regression).
    #[arg(long, value_delimiter = ',', default_value = "dcl,rnc,no-pretrain,mse")]
    variants: Vec<String>,
    /// Pre-training epochs over the space.
    #[arg(long, default_value_t = 10)]
    pretrain_epochs: usize,
    /// Cap on pre-training steps.
    #[arg(long)]
    pretrain_steps: Option<usize>,
    /// Fine-tuning epochs.
    #[arg(long, default_value_t = 100)]
    finetune_epochs: usize,
    /// Hidden width.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Message-passing layers.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Temperature of the pairwise loss.
    #[arg(long, default_value_t = FinetuneConfig::default().temperature)]
    temperature: f64,
    /// Fine-tuned copies per seed whose standardised scores are averaged (1: a single model).
    #[arg(long, default_value_t = 1)]
    ensemble: usize,
    /// Pre-trained encoder file: loaded when it exists (stage 1 is then skipped), written after
    /// pre-training when it does not. Only for runs with the same space, model and stage-1 flags.
    #[arg(long)]
    encoder: Option<std::path::PathBuf>,
    /// Soft pairwise targets with this target temperature (standardised accuracy units);
    /// without it the pairwise loss uses hard targets.
    #[arg(long)]
    target_temperature: Option<f64>,
    /// InfoNCE temperature of stage 1.
    #[arg(long, default_value_t = PretrainConfig::default().temperature)]
    pretrain_temperature: f64,
    /// Stage-1 augmentation: per-node probability of an op substitution.
    #[arg(long, default_value_t = PretrainConfig::default().op_substitution)]
    op_substitution: f64,
    /// Stage-1 augmentation: per-edge probability of an edge drop.
    #[arg(long, default_value_t = PretrainConfig::default().edge_drop)]
    edge_drop: f64,
    /// Stage-1 augmentation: per-node probability of masking an op.
    #[arg(long, default_value_t = PretrainConfig::default().node_mask)]
    node_mask: f64,
    /// Weight of the Rank-N-Contrast term (variant rnc).
    #[arg(long, default_value_t = 1.0)]
    rnc_weight: f64,
    /// Temperature of Rank-N-Contrast (variant rnc).
    #[arg(long, default_value_t = FinetuneConfig::default().rnc_temperature)]
    rnc_temperature: f64,
    /// Fine-tuning batch size.
    #[arg(long, default_value_t = FinetuneConfig::default().batch_size)]
    batch_size: usize,
    /// Encoders pre-trained from different seeds; ensemble member m starts from encoder
    /// m mod this (1: every member from the same encoder).
    #[arg(long, default_value_t = 1)]
    encoders: usize,
    /// Fine-tuning weight decay.
    #[arg(long, default_value_t = FinetuneConfig::default().weight_decay)]
    weight_decay: f64,
    /// Fine-tuning learning rate.
    #[arg(long, default_value_t = FinetuneConfig::default().learning_rate)]
    lr: f64,
    /// Weight of the stage-1 InfoNCE term kept on during fine-tuning (0: off).
    #[arg(long, default_value_t = FinetuneConfig::default().info_nce_weight)]
    info_nce_weight: f64,
}

struct Problem<S: SearchSpace> {
    space: S,
    archs: Vec<S::Arch>,
    labels: Vec<f64>,
    pretrain_pool: Vec<S::Arch>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

fn run<S: SearchSpace>(
    p: Problem<S>,
    args: &Args,
    ks: &[usize],
) -> Result<(), Box<dyn std::error::Error>> {
    let model = ModelConfig {
        hidden: args.hidden,
        layers: args.layers,
        projection: 32,
    };
    let name = p.space.name().to_owned();
    // Every labelled-set size leaves at least two architectures to rank, and needs two to learn.
    if let Some(&k) = ks.iter().find(|&&k| k < 2 || k + 2 > p.archs.len()) {
        return Err(format!(
            "--k {k}: the labelled set must hold 2 to {} of the {} architectures",
            p.archs.len() - 2,
            p.archs.len()
        )
        .into());
    }
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    let fresh: Predictor = Predictor::new(&p.space, model, 1_000_003)?;
    let pcfg = PretrainConfig {
        epochs: args.pretrain_epochs,
        max_steps: args.pretrain_steps,
        temperature: args.pretrain_temperature,
        op_substitution: args.op_substitution,
        edge_drop: args.edge_drop,
        node_mask: args.node_mask,
        ..Default::default()
    };
    let needs_pretrain = args.variants.iter().any(|v| v != "no-pretrain");
    let n_encoders = if needs_pretrain {
        args.encoders.max(1)
    } else {
        0
    };
    // Encoder i starts from seed 1_000_003 + i; encoder 0 is the one every recorded run used.
    let mut pretrained = Vec::new();
    for i in 0..n_encoders as u64 {
        let file = args.encoder.as_ref().map(|path| {
            if i == 0 {
                path.clone()
            } else {
                let mut name = path.clone().into_os_string();
                name.push(format!(".{i}"));
                std::path::PathBuf::from(name)
            }
        });
        // A cache that does not read as a predictor (a file cut short by a run killed before
        // saves were atomic) is pre-trained again and replaced; any other error stands.
        let cached = match file.as_ref().filter(|path| path.exists()) {
            Some(path) => match Predictor::load(path, &p.space, Default::default()) {
                Ok(enc) => Some((path, enc)),
                Err(PredictorError::Format(why)) => {
                    println!(
                        "pretrain space={name} unreadable={} ({why}): pre-training it again",
                        path.display()
                    );
                    None
                }
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let enc = match cached {
            Some((path, enc)) => {
                let enc: Predictor = enc;
                if enc.model_config() != model {
                    return Err(format!("{} holds another model shape", path.display()).into());
                }
                println!("pretrain space={name} loaded={}", path.display());
                enc
            }
            None => {
                let mut enc = if i == 0 {
                    fresh.fork(0)
                } else {
                    Predictor::new(&p.space, model, 1_000_003 + i)?.fork(0)
                };
                let r = enc.pretrain(&p.space, &p.pretrain_pool, &pcfg)?;
                if let Some(path) = &file {
                    enc.save(path)?;
                }
                println!(
                    "pretrain space={name} encoder={i} cells={} steps={} loss={:.4} seconds={:.1}",
                    p.pretrain_pool.len(),
                    r.steps,
                    r.final_loss,
                    r.seconds
                );
                enc
            }
        };
        pretrained.push(enc);
    }
    let mut summary = Vec::new();
    for &k in ks {
        for variant in &args.variants {
            let (base, loss) = match variant.as_str() {
                "dcl" => (&pretrained[..], RankingLoss::Pairwise),
                "rnc" => (
                    &pretrained[..],
                    RankingLoss::RankNContrast {
                        weight: args.rnc_weight,
                    },
                ),
                "no-pretrain" => (std::slice::from_ref(&fresh), RankingLoss::Pairwise),
                "mse" => (&pretrained[..], RankingLoss::Mse),
                other => return Err(format!("unknown variant {other}").into()),
            };
            let fcfg = FinetuneConfig {
                epochs: args.finetune_epochs,
                temperature: args.temperature,
                learning_rate: args.lr,
                weight_decay: args.weight_decay,
                batch_size: args.batch_size,
                rnc_temperature: args.rnc_temperature,
                target_temperature: args.target_temperature,
                info_nce_weight: args.info_nce_weight,
                loss,
            };
            let (mut taus, mut secs) = (Vec::new(), Vec::new());
            for seed in args.seed_offset..args.seed_offset + args.seeds {
                let start = Instant::now();
                // The labelled set: k distinct architectures drawn by this seed.
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut idx: Vec<usize> = (0..p.archs.len()).collect();
                for i in 0..k {
                    let j = rng.random_range(i..idx.len());
                    idx.swap(i, j);
                }
                let (train, test) = idx.split_at(k);
                let labelled: Vec<_> = train
                    .iter()
                    .map(|&i| (p.archs[i].clone(), p.labels[i]))
                    .collect();
                let test_archs: Vec<_> = test.iter().map(|&i| p.archs[i].clone()).collect();
                // Member 0 of the ensemble is the single model (same seed as without one).
                let ensemble =
                    Ensemble::finetune_from(base, &p.space, &labelled, &fcfg, args.ensemble, seed)?;
                let scores = ensemble.score(&p.space, &test_archs)?;
                let truth: Vec<f64> = test.iter().map(|&i| p.labels[i]).collect();
                let tau = kendall_tau(&truth, &scores)?;
                let rho = spearman_rho(&truth, &scores)?;
                let p50 = precision_at_k(&truth, &scores, 50.min(truth.len()))?;
                let s = start.elapsed().as_secs_f64();
                println!(
                    "  space={name} k={k} variant={variant} seed={seed} tau={tau:.4} rho={rho:.4} p@50={p50:.2} seconds={s:.1}"
                );
                taus.push(tau);
                secs.push(s);
            }
            let (m, sd) = mean_std(&taus);
            let (ms, _) = mean_std(&secs);
            summary.push(format!(
                "tau space={name} k={k} variant={variant} mean={m:.3} std={sd:.3} seeds={} seconds={ms:.1}",
                taus.len()
            ));
        }
    }
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    match args.space.as_str() {
        "nb201" => {
            let table = Nb201Table::embedded()?;
            let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
            let archs: Vec<_> = table.records().iter().map(|r| r.cell).collect();
            let labels = table.records().iter().map(|r| r.accuracy(metric)).collect();
            let ks = if args.k.is_empty() {
                vec![78, 156, 469, 781, 1563]
            } else {
                args.k.clone()
            };
            let space = Nb201Space::new();
            let pretrain_pool = archs.clone();
            run(
                Problem {
                    space,
                    archs,
                    labels,
                    pretrain_pool,
                },
                &args,
                &ks,
            )
        }
        "nb101" => {
            let table = Nb101Table::subset20k()?;
            let archs: Vec<Nb101Cell> = table.records().iter().map(|r| r.cell).collect();
            let labels = table
                .records()
                .iter()
                .map(|r| r.get(Nb101Metric::VAL_108).ok_or("missing val_acc_108"))
                .collect::<Result<_, _>>()?;
            let ks = if args.k.is_empty() {
                vec![100, 172, 424, 4236]
            } else {
                args.k.clone()
            };
            let space = Nb101Space::new();
            let pretrain_pool = space.enumerate().ok_or("NB101 enumerates")?;
            run(
                Problem {
                    space,
                    archs,
                    labels,
                    pretrain_pool,
                },
                &args,
                &ks,
            )
        }
        other => Err(format!("unknown space {other}; use nb201 or nb101").into()),
    }
}
