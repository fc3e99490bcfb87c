//! The real-world case: DCL-ENAS over 1-D cells on MIT-BIH heartbeat classification (AAMI
//! N/S/V/F, de Chazal inter-patient split), every queried candidate really trained, against the
//! hand-designed Kachuee et al. (2018) residual CNN trained by the same trainer with the same
//! budget. Results: docs/results/ecg.md.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release --features flex --example ecg_search -- --device flex
//! ```
//!
//! Ends with one line per network:
//! `ecg model=baseline acc=... balanced_acc=... macro_f1=... seeds=...` (mean ± std over the
//! final-training seeds) and the same for `model=dcl-enas`.
//! Every search keeps a journal in its run directory (`--run-dir DIR`, by default a new one
//! under `runs/`): `--run-dir DIR` keeps a journal of the search there (every trained candidate, synced as it
//! ends); after a crash or a kill, the same command with `--resume DIR` instead of
//! `--run-dir DIR` reads back what was trained and goes on. `--workers N --batch N` trains N
//! candidates at once in worker threads.
//! With `--proxy-cells`, only the search fitness of the given cells, one
//! `ecg proxy_fitness=... seed=... proxy_train_seed=... cell=...` line each.

use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use dcl_ecg::{BeatConfig, DEFAULT_VALID_RECORDS, MitBih};
use dcl_enas::ecg_search::{
    EcgSearchConfig, EcgSearchReport, Execution, FinalRun, Rescore, proxy_fitness, run_baseline,
    run_cell, run_with,
};
use dcl_evo::DclEnasConfig;
use dcl_predictor::{FinetuneConfig, ModelConfig, PretrainConfig};
use dcl_train::{
    Augment, DeviceKind, FeatureEntry, Kernels, Monitor, NetArch, NetConfig, OptimizerKind,
    TrainConfig,
};

#[derive(Parser, Debug)]
struct Args {
    /// ndarray (cpu), flex (needs --features flex), cuda or cuda:N (needs --features cuda).
    #[arg(long, default_value = "ndarray")]
    device: String,
    /// Candidates trained during the search.
    #[arg(long, default_value_t = 30)]
    budget: usize,
    /// Search seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seeds of the final trainings (comma list), one run per seed per network.
    #[arg(long, default_value = "0,1,2", value_delimiter = ',')]
    final_seeds: Vec<u64>,
    /// Proxy: training beats per class during the search.
    #[arg(long, default_value_t = 400)]
    proxy_per_class: usize,
    /// Proxy: epochs per candidate.
    #[arg(long, default_value_t = 6)]
    proxy_epochs: usize,
    /// Final training: beats per class (0 = all of DS1's training patients).
    #[arg(long, default_value_t = 2000)]
    full_per_class: usize,
    /// Final training: epochs (with early stopping, patience 5).
    #[arg(long, default_value_t = 15)]
    full_epochs: usize,
    /// Channels of the first stage of the searched skeleton.
    #[arg(long, default_value_t = 16)]
    channels: usize,
    /// DCL-ENAS: initial random candidates.
    #[arg(long, default_value_t = 10)]
    initial: usize,
    /// DCL-ENAS: candidates trained per round.
    #[arg(long, default_value_t = 5)]
    infill: usize,
    /// DCL-ENAS: candidates per round that explore (single mutations of the best trained
    /// one, not ranked by the predictor); the first two runs recorded in docs/results/ecg.md
    /// predate it (none), the later ones used the default (1).
    #[arg(long, default_value_t = DclEnasConfig::default().explore)]
    explore: usize,
    /// Stage-1 epochs over the 15,625 cells.
    #[arg(long, default_value_t = 2)]
    pretrain_epochs: usize,
    /// Write the whole report (history, candidates, metrics) as JSON here.
    #[arg(long)]
    out: Option<String>,
    /// Run directory of the search: its journal (every trained candidate, synced as it ends),
    /// the candidates' trainings, the history, and `report.json` at the end. Must not hold a
    /// journal already. By default a new one under `runs/`.
    #[arg(long, conflicts_with = "resume")]
    run_dir: Option<std::path::PathBuf>,
    /// Resume the search whose run directory this is (same flags as the run that wrote it):
    /// the candidates it trained are read back, not retrained.
    #[arg(long)]
    resume: Option<std::path::PathBuf>,
    /// Candidates asked and trained together (synchronous batches).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Worker threads training candidates at once (set --batch to at least this).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Rayon threads per worker (workers x threads should not exceed the cores).
    #[arg(long, default_value_t = 1)]
    threads_per_worker: usize,
    /// Attempts per candidate before it is recorded as failed and the search goes on.
    #[arg(long, default_value_t = 2)]
    max_attempts: u32,
    /// Augmentation of training beats, proxy and final trainings alike: `none` or `ecg`
    /// (`dcl_train::Augment::ecg()`: gain, noise, baseline wander, shift, RR jitter).
    #[arg(long, default_value = "none")]
    augment: String,
    /// Adam's L2 weight decay, proxy and final trainings alike.
    #[arg(long, default_value_t = 1e-4)]
    weight_decay: f32,
    /// Units of a hidden layer in the cell network's head (0: NAS-Bench-201's linear classifier).
    #[arg(long, default_value_t = 0)]
    head_hidden: usize,
    /// Only train and test the baseline (no search): a quick check of data and trainer settings.
    #[arg(long)]
    baseline_only: bool,
    /// Probability that a training beat's signal is zeroed, so the network sees it through its
    /// RR features alone (`dcl_train::Augment::signal_dropout`), on top of `--augment`.
    #[arg(long, default_value_t = 0.0)]
    signal_dropout: f32,
    /// Search fitness over this many patient folds of DS1 (0: the validation patients only);
    /// see `EcgSearchConfig::proxy_folds`.
    #[arg(long, default_value_t = 0)]
    proxy_folds: usize,
    /// Ablation: zero every beat window, so both networks see the RR features alone.
    #[arg(long)]
    rr_only: bool,
    /// Add the two local-rhythm RR features (previous and next RR over the mean of the last ten)
    #[arg(long)]
    local_rr: bool,
    /// Subtract each record's median beat from its windows (`BeatConfig::subtract_median_beat`).
    #[arg(long)]
    median_beat: bool,
    /// Give each beat a second input channel, its window minus the record's median beat, beside
    /// the plain window (`BeatConfig::median_beat_channel`; not with --median-beat). Worse than
    /// --median-beat on DS2 for both networks (docs/results/ecg.md, eighth run).
    #[arg(long)]
    median_channel: bool,
    /// Where the RR features may enter the searched networks (comma list of head, stem,
    /// logits; `FeatureEntry`): the search space is the cells with each of these
    /// (`EcgSearchConfig::feature_entries`). Default head alone, the cell space of every earlier
    /// run. The baseline takes them at its head whatever this says.
    #[arg(long, default_value = "head", value_delimiter = ',')]
    feature_entries: Vec<String>,
    /// Only train and test this cell (no search), e.g. a cell an earlier run found, in
    /// NAS-Bench-201's string form: `|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|`, with
    /// `@stem` or `@logits` after it for a network whose features enter there (`NetArch`).
    #[arg(long)]
    cell: Option<String>,
    /// Only the search fitness of these cells (comma list, no search, no final trainings):
    /// each trained on the proxy folds as a query of the search with these settings is.
    #[arg(long, value_delimiter = ',')]
    proxy_cells: Vec<String>,
    /// Before the final pick, retrain this many of the search's best cells on the proxy folds
    /// (`--rescore-repeats` times each, with the proxy training seed + 1, + 2, ...: by default
    /// --seed + 1, ...; see --proxy-train-seed) and train
    /// fully the best on the mean fitness; 0: the search's best (`EcgSearchConfig::rescore`).
    #[arg(long, default_value_t = 0)]
    rescore_top: usize,
    /// Extra proxy trainings of each rescored cell.
    #[arg(long, default_value_t = 2)]
    rescore_repeats: usize,
    /// Seed of the proxy trainings (default: --seed, as in the search). With --proxy-cells and
    /// the same --seed (same data), other values measure the proxy training's noise.
    #[arg(long)]
    proxy_train_seed: Option<u64>,
    /// Search fitness: the proxy validation's `balanced-accuracy` or `macro-f1` (final
    /// trainings keep balanced accuracy for early stopping, both networks alike).
    #[arg(long, default_value = "balanced-accuracy")]
    fitness: String,
    /// Score proxy validation at the held-out patients' class mix, not at the class-balanced
    /// subsample's (`EcgSearchConfig::proxy_class_mix`); changes macro-F1, not balanced accuracy.
    #[arg(long)]
    proxy_class_mix: bool,
    /// Deal F beats into the proxy folds by time within each patient, N/S/V by patient
    /// (`EcgSearchConfig::f_within_patients`; needs --proxy-folds 2 or more).
    #[arg(long)]
    f_within_patients: bool,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64;
    (m, var.sqrt())
}

fn config(args: &Args) -> Result<EcgSearchConfig, String> {
    let adam = OptimizerKind::Adam {
        lr: 1e-3,
        weight_decay: args.weight_decay,
    };
    let augment = match args.augment.as_str() {
        "none" => Augment::NONE,
        "ecg" => Augment::ecg(),
        other => return Err(format!("--augment: `none` or `ecg`, not {other:?}")),
    };
    let feature_entries = args
        .feature_entries
        .iter()
        .map(|e| e.parse::<FeatureEntry>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--feature-entries: {e}"))?;
    let augment = Augment {
        signal_dropout: args.signal_dropout,
        ..augment
    };
    let monitor = match args.fitness.as_str() {
        "balanced-accuracy" => Monitor::BalancedAccuracy,
        "macro-f1" => Monitor::MacroF1,
        other => {
            return Err(format!(
                "--fitness: `balanced-accuracy` or `macro-f1`, not {other:?}"
            ));
        }
    };
    Ok(EcgSearchConfig {
        beats: BeatConfig {
            local_rr: args.local_rr,
            subtract_median_beat: args.median_beat,
            median_beat_channel: args.median_channel,
            ..BeatConfig::default()
        },
        valid_records: DEFAULT_VALID_RECORDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        proxy_train_per_class: args.proxy_per_class,
        proxy_valid_per_class: 500,
        full_train_per_class: (args.full_per_class > 0).then_some(args.full_per_class),
        eval_per_class: None,
        net: NetConfig {
            channels: args.channels,
            head_hidden: args.head_hidden,
            ..NetConfig::default()
        },
        feature_entries,
        kernels: Kernels::default(),
        proxy_train: TrainConfig {
            epochs: args.proxy_epochs,
            optimizer: adam,
            patience: None,
            seed: args.proxy_train_seed.unwrap_or(args.seed),
            augment,
            monitor,
            ..TrainConfig::default()
        },
        full_train: TrainConfig {
            epochs: args.full_epochs,
            optimizer: adam,
            patience: Some(5),
            augment,
            ..TrainConfig::default()
        },
        search: DclEnasConfig {
            initial: args.initial,
            infill: args.infill,
            explore: args.explore,
            ..DclEnasConfig::default()
        },
        budget: args.budget,
        model: ModelConfig::default(),
        pretrain: PretrainConfig {
            epochs: args.pretrain_epochs,
            ..PretrainConfig::default()
        },
        finetune: FinetuneConfig::search_default(),
        final_seeds: args.final_seeds.clone(),
        seed: args.seed,
        proxy_folds: args.proxy_folds,
        rr_only: args.rr_only,
        rescore: Rescore {
            top: args.rescore_top,
            repeats: args.rescore_repeats,
        },
        proxy_class_mix: args.proxy_class_mix,
        f_within_patients: args.f_within_patients,
    })
}

enum Outcome {
    Full(Box<EcgSearchReport>),
    /// Final trainings of one network only: its name in the summary line and its runs.
    Single(&'static str, Vec<FinalRun>),
    /// The search fitness of each given cell.
    Fitness(Vec<f64>),
}

/// What to run: the whole pipeline, the baseline alone, one given cell alone, or only the
/// search fitness of given cells.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Full,
    Baseline,
    Cell(&'a NetArch),
    Proxy(&'a [NetArch]),
}

fn go<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    execution: &Execution,
    device: &B::Device,
    mode: Mode,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut log = |line: &str| println!("{line}");
    Ok(match mode {
        Mode::Baseline => {
            Outcome::Single("baseline", run_baseline::<B>(db, config, device, &mut log)?)
        }
        Mode::Cell(cell) => {
            Outcome::Single("cell", run_cell::<B>(db, config, cell, device, &mut log)?)
        }
        Mode::Proxy(cells) => {
            Outcome::Fitness(proxy_fitness::<B>(db, config, cells, device, &mut log)?)
        }
        Mode::Full => Outcome::Full(Box::new(run_with::<B>(
            db, config, execution, device, &mut log,
        )?)),
    })
}

fn summary(name: &str, runs: &[FinalRun]) -> String {
    let pick = |f: &dyn Fn(&FinalRun) -> f64| mean_std(&runs.iter().map(f).collect::<Vec<_>>());
    let (acc, acc_sd) = pick(&|r| 100.0 * r.test.accuracy);
    let (bal, bal_sd) = pick(&|r| 100.0 * r.test.balanced_accuracy);
    let (f1, f1_sd) = pick(&|r| 100.0 * r.test.macro_f1);
    format!(
        "ecg model={name} acc={acc:.2}±{acc_sd:.2} balanced_acc={bal:.2}±{bal_sd:.2} macro_f1={f1:.2}±{f1_sd:.2} seeds={}",
        runs.len()
    )
}

fn per_class(name: &str, runs: &[FinalRun]) {
    println!(
        "{name}: DS2 per-class sensitivity / PPV (%, mean over seeds), confusion of seed {}:",
        runs[0].seed
    );
    for (c, class) in ["N", "S", "V", "F"].iter().enumerate() {
        let se: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.test.sensitivity.get(c).copied().flatten())
            .collect();
        let pp: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.test.ppv.get(c).copied().flatten())
            .collect();
        println!(
            "  {class}: Se {:6.2}  PPV {:6.2}   {:?}",
            100.0 * mean_std(&se).0,
            if pp.is_empty() {
                f64::NAN
            } else {
                100.0 * mean_std(&pp).0
            },
            runs[0].test.confusion.get(c).cloned().unwrap_or_default()
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let start = Instant::now();
    let device: DeviceKind = args.device.parse()?;
    device.check()?;
    let db = MitBih::bundled()?;
    let config = config(&args)?;
    println!("ecg_search on {device}: {args:?}");
    let cell: Option<NetArch> = args.cell.as_deref().map(str::parse).transpose()?;
    let proxy_cells = args
        .proxy_cells
        .iter()
        .map(|c| c.parse())
        .collect::<Result<Vec<NetArch>, _>>()?;
    let only = match (&cell, args.baseline_only, proxy_cells.is_empty()) {
        (None, false, false) => Mode::Proxy(&proxy_cells),
        (Some(cell), false, true) => Mode::Cell(cell),
        (None, true, true) => Mode::Baseline,
        (None, false, true) => Mode::Full,
        _ => return Err("--cell, --baseline-only and --proxy-cells exclude each other".into()),
    };
    let execution = Execution {
        batch_size: args.batch,
        workers: args.workers,
        threads_per_worker: args.threads_per_worker,
        max_attempts: args.max_attempts,
        run_dir: Some(
            args.resume
                .clone()
                .or_else(|| args.run_dir.clone())
                .unwrap_or_else(|| dcl_evo::fresh_run_dir("ecg_search", args.seed)),
        ),
        resume: args.resume.is_some(),
    };
    execution.validate()?;
    if let (Some(dir), None, Mode::Full) = (&execution.run_dir, &args.resume, only) {
        println!(
            "run directory: {} (if this run is killed, resume it with the same flags and --resume {})",
            dir.display(),
            dir.display()
        );
    }
    let ex = &execution;
    let outcome = match device {
        DeviceKind::NdArray => {
            go::<dcl_train::NdArrayBackend>(&db, &config, ex, &Default::default(), only)?
        }
        #[cfg(feature = "flex")]
        DeviceKind::Flex => {
            go::<dcl_train::FlexBackend>(&db, &config, ex, &Default::default(), only)?
        }
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(i) => {
            let device = burn::backend::cuda::CudaDevice::new(i);
            go::<dcl_train::CudaBackend>(&db, &config, ex, &device, only)?
        }
        #[allow(unreachable_patterns)]
        other => return Err(format!("{other} was not compiled in").into()),
    };
    let report = match outcome {
        Outcome::Full(report) => report,
        Outcome::Fitness(fitness) => {
            for (cell, f) in proxy_cells.iter().zip(fitness) {
                println!(
                    "ecg proxy_fitness={f:.6} seed={} proxy_train_seed={} cell={cell}",
                    config.seed, config.proxy_train.seed
                );
            }
            return Ok(());
        }
        Outcome::Single(name, runs) => {
            per_class(name, &runs);
            let cell = args
                .cell
                .as_ref()
                .map_or(String::new(), |c| format!(" cell={c}"));
            println!(
                "{}{cell} augment={} seconds={:.0}",
                summary(name, &runs),
                args.augment,
                start.elapsed().as_secs_f64()
            );
            return Ok(());
        }
    };
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.out {
        dcl_graph::io::write_atomic(path, json.as_bytes())?;
        println!("report written to {path}");
    }
    if let Some(dir) = &execution.run_dir {
        let path = dir.join("report.json");
        dcl_graph::io::write_atomic(&path, json.as_bytes())?;
        println!("report written to {}", path.display());
    }
    per_class("baseline", &report.baseline);
    per_class("dcl-enas", &report.found);
    let train_seconds = |runs: &[FinalRun]| runs.iter().map(|r| r.seconds).sum::<f64>();
    for c in &report.rescored {
        println!(
            "rescored: mean {:.2} over {:.2?} {}{}",
            c.mean,
            c.fitness,
            c.cell,
            if c.cell == report.best_cell {
                " (chosen)"
            } else {
                ""
            }
        );
    }
    let rescore_trainings: usize = report.rescored.iter().map(|c| c.records.len()).sum();
    println!(
        "time: pretrain {:.0} s, search {:.0} s ({} candidates, {} proxy trainings, {rescore_trainings} of them rescoring in {:.0} s), final baseline {:.0} s, final found {:.0} s, total {:.0} s",
        report.pretrain_seconds,
        report.search_seconds,
        report.history.queries.len(),
        report.candidates.len() + rescore_trainings,
        report.rescore_seconds,
        train_seconds(&report.baseline),
        train_seconds(&report.found),
        start.elapsed().as_secs_f64()
    );
    println!(
        "{} params={}",
        summary("baseline", &report.baseline),
        report.params[0]
    );
    println!(
        "{} params={} cell={} candidates={} proxy_trainings={} rescored={} search_seconds={:.0} total_seconds={:.0}",
        summary("dcl-enas", &report.found),
        report.params[1],
        report.best_cell,
        report.history.queries.len(),
        report.candidates.len() + rescore_trainings,
        report.rescored.len(),
        report.search_seconds,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
