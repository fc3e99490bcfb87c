//! The pipeline and its stages, and the parts of it that run alone (the baseline, one cell,
//! the proxy fitness of given cells).

use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use dcl_cli::search::StrategyName;
use dcl_ecg::{BeatConfig, MitBih};
use dcl_evo::{
    DclEnas, Driver, Journal, JournalHeader, RandomSearch, SearchHistory, Strategy, SurrogateClock,
    TimedSurrogate,
};
use dcl_exec::LocalPool;
use dcl_graph::{Evaluator, SearchSpace};
use dcl_predictor::{Predictor, PredictorSurrogate};
use dcl_train::{
    CandidateRecord, CellNet, ClassMetrics, Classifier, InputShape, NetArch, NetSpace, SignalData,
    TrainConfig, predict, train,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::baseline::kachuee_net;
use crate::evaluator::{CandidateLog, FoldEvaluator, TrainedCandidate, slurm_task};
use crate::folds::{ProxyFold, Selection, TestSet, load_test, prepare_selection, test_set_name};
use crate::{
    EcgSearchConfig, EcgSearchError, EcgSearchReport, Execution, FinalRun, FrontMember, Rescore,
    RescoredCell,
};

/// Timed single-beat passes per latency measurement of a final network.
const LATENCY_REPEATS: usize = 21;

/// `arch`'s network as `config` builds it (its skeleton and kernels, or `config`'s), with
/// initial weights from `seed`.
pub(crate) fn cell_net<B: burn::tensor::backend::Backend>(
    config: &EcgSearchConfig,
    arch: &NetArch,
    shape: InputShape,
    seed: u64,
    device: &B::Device,
) -> Result<CellNet<B>, dcl_train::TrainError> {
    CellNet::<B>::new(
        &arch.spec(config.kernels),
        &arch.net_config(&config.net),
        shape,
        seed,
        device,
    )
}

/// What the final trainings train on, stop early on and are tested on.
#[derive(Clone, Copy)]
pub(crate) struct FinalData<'a> {
    pub(crate) train: &'a SignalData,
    pub(crate) valid: &'a SignalData,
    pub(crate) test: &'a TestSet,
}

pub(crate) fn final_runs<B, M>(
    build: &dyn Fn(u64) -> Result<M, dcl_train::TrainError>,
    data: FinalData<'_>,
    config: &EcgSearchConfig,
    device: &B::Device,
    name: &str,
) -> Result<Vec<FinalRun>, EcgSearchError>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    final_runs_timed::<B, M>(build, data, config, device, name, false)
}

/// [`final_runs`], measuring each trained network's latency per beat when `timed`.
fn final_runs_timed<B, M>(
    build: &dyn Fn(u64) -> Result<M, dcl_train::TrainError>,
    data: FinalData<'_>,
    config: &EcgSearchConfig,
    device: &B::Device,
    name: &str,
    timed: bool,
) -> Result<Vec<FinalRun>, EcgSearchError>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    let FinalData {
        train: tr,
        valid: va,
        test,
    } = data;
    let te = &test.data;
    let mut runs = Vec::new();
    for &seed in &config.final_seeds {
        let train_config = TrainConfig {
            seed,
            ..config.full_train.clone()
        };
        let trained = train(build(seed)?, tr, va, &train_config, device, &mut |e| {
            tracing::info!(
                "    {name} seed {seed} epoch {:>3}: loss {:.4} valid {:.4} ({:.0} s)",
                e.epoch,
                e.loss,
                e.valid_score,
                e.seconds
            )
        })?;
        // Tested and timed on the engine that trained it.
        let engine = trained.report.engine;
        let predicted = predict(&trained.model, te, 512, device, engine)?;
        let per_record = test.per_record(&predicted);
        let test = ClassMetrics::new(&te.labels, &predicted, te.n_classes)?;
        tracing::info!(
            "  {name} seed {seed}: test acc {:.4} balanced {:.4} macro-F1 {:.4} (epoch {}, {:.0} s)",
            test.accuracy,
            test.balanced_accuracy,
            test.macro_f1,
            trained.report.best_epoch,
            trained.report.seconds
        );
        let latency_ms = if timed {
            Some(dcl_train::latency_ms(
                &trained.model,
                te,
                LATENCY_REPEATS,
                device,
                engine,
            )?)
        } else {
            None
        };
        runs.push(FinalRun {
            seed,
            valid: trained.report.valid,
            test,
            best_epoch: trained.report.best_epoch,
            seconds: trained.report.seconds,
            latency_ms,
            per_record,
        });
    }
    Ok(runs)
}

/// What decides the search's asks and outcomes, as the journal header's settings: a journal is
/// resumed only by a run whose settings are the same. The final trainings and the rescoring
/// come after the search and may change between a run and its resumption.
fn search_settings(config: &EcgSearchConfig) -> serde_json::Value {
    let mut settings = serde_json::json!({
        "beats": config.beats,
        "valid_records": config.valid_records,
        "proxy_train_per_class": config.proxy_train_per_class,
        "proxy_valid_per_class": config.proxy_valid_per_class,
        "net": config.net,
        "feature_entries": config.feature_entries,
        "kernels": config.kernels,
        "proxy_train": config.proxy_train,
        "model": config.model,
        "pretrain": config.pretrain,
        "finetune": config.finetune,
        "proxy_folds": config.proxy_folds,
        "rr_only": config.rr_only,
        "proxy_class_mix": config.proxy_class_mix,
        "f_within_patients": config.f_within_patients,
        "training_engine": config.training_engine,
    });
    // Only a multi-objective search names it, so that earlier journals still resume.
    if let Some(mo) = &config.multiobjective {
        settings["multiobjective"] = serde_json::json!(mo);
    }
    // Likewise the pseudo-test, which changes the search's patients, and the wide space.
    if config.pseudo_test {
        settings["pseudo_test"] = serde_json::json!(true);
    }
    if let Some(menu) = &config.skeletons {
        settings["skeletons"] = serde_json::json!(menu);
    }
    settings
}

/// [`dcl_cli::run_dir::upgrade_header`], and `beats` read from the text form headers gave it
/// before it was recorded as a table: a header whose `beats` is the text of this run's
/// `beats` reads as them.
fn upgrade_header(header: &mut JournalHeader, beats: &BeatConfig) {
    dcl_cli::run_dir::upgrade_header(header);
    if let Some(found) = header.settings.get_mut("beats")
        && found.as_str() == Some(format!("{beats:?}").as_str())
    {
        *found = serde_json::json!(beats);
    }
}

/// Only the hand-designed baseline's final trainings (no search): a quick check of data and
/// trainer settings, with the same data and budget as [`run`] gives it.
pub fn run_baseline<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    device: &B::Device,
) -> Result<Vec<FinalRun>, EcgSearchError> {
    let p = prepare_selection(db, config)?;
    let test = load_test(db, config)?;
    let shape = p.shape;
    final_runs::<B, _>(
        &|seed| kachuee_net::<B>(shape, config.baseline_entry, seed, device),
        FinalData {
            train: &p.train,
            valid: &p.valid,
            test: &test,
        },
        config,
        device,
        "baseline",
    )
}

/// Only the final trainings of a given cell (no search), with the data, trainer and budget
/// [`run`] gives the found cell: to retrain a cell a search found under other final-training
/// settings, or to train a cell of one's own choosing.
pub fn run_cell<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    cell: &NetArch,
    device: &B::Device,
) -> Result<Vec<FinalRun>, EcgSearchError> {
    let p = prepare_selection(db, config)?;
    let test = load_test(db, config)?;
    let shape = p.shape;
    final_runs::<B, _>(
        &|seed| cell_net::<B>(config, cell, shape, seed, device),
        FinalData {
            train: &p.train,
            valid: &p.valid,
            test: &test,
        },
        config,
        device,
        "cell",
    )
}

/// Only the search's fitness of the given cells (no search, no final trainings): each cell
/// trained on the proxy, fold by fold, exactly as a query of [`run`] with this configuration
/// trains it. With another `proxy_train.seed` and the same `seed` (same data), it measures how
/// much of a fitness difference is the proxy training's noise.
pub fn proxy_fitness<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    cells: &[NetArch],
    device: &B::Device,
) -> Result<Vec<f64>, EcgSearchError> {
    let p = prepare_selection(db, config)?;
    let (fitness, _) = fold_fitness::<B>(p.proxy, config, cells, device, &mut |f, cell| {
        tracing::info!("proxy fitness {f:.2} {cell}")
    })?;
    Ok(fitness)
}

/// Each cell trained on the `proxy` folds with `config`'s proxy training, as a query of [`run`]
/// is; `each` sees every fitness as it comes. Returns the fitness of each cell and every
/// training's record (cell by cell, fold by fold).
pub(crate) fn fold_fitness<B: AutodiffBackend>(
    proxy: Vec<ProxyFold>,
    config: &EcgSearchConfig,
    cells: &[NetArch],
    device: &B::Device,
    each: &mut dyn FnMut(f64, &NetArch),
) -> Result<(Vec<f64>, Vec<CandidateRecord>), EcgSearchError> {
    let mut evaluator = FoldEvaluator::<B>::new(proxy, config, device)?;
    let space = config.space()?;
    let mut fitness = Vec::with_capacity(cells.len());
    for cell in cells {
        let f = evaluator.evaluate(&space, cell)?;
        each(f, cell);
        fitness.push(f);
    }
    Ok((fitness, evaluator.records()))
}

/// The [`EcgSearchConfig::rescore`] step: the best distinct cells of `history` (search fitness
/// order, the earliest among equals) retrained on the `proxy` folds with each repeat's seed.
fn rescore<B: AutodiffBackend>(
    history: &SearchHistory<NetArch>,
    proxy: Vec<ProxyFold>,
    config: &EcgSearchConfig,
    device: &B::Device,
) -> Result<Vec<RescoredCell>, EcgSearchError> {
    if !config.rescore.is_on() {
        return Ok(Vec::new());
    }
    let Rescore { top, repeats } = config.rescore;
    // NaN last; the sort is stable, so equals keep query order.
    let key = |f: f64| if f.is_nan() { f64::NEG_INFINITY } else { f };
    let mut ranked: Vec<_> = history.queries.iter().collect();
    ranked.sort_by(|a, b| key(b.fitness).total_cmp(&key(a.fitness)));
    let mut seen = std::collections::HashSet::new();
    let mut cells: Vec<RescoredCell> = ranked
        .into_iter()
        .filter(|q| seen.insert(q.arch))
        .take(top)
        .map(|q| RescoredCell {
            cell: q.arch,
            fitness: vec![q.fitness],
            mean: f64::NAN,
            records: Vec::new(),
        })
        .collect();
    let chosen: Vec<NetArch> = cells.iter().map(|c| c.cell).collect();
    for r in 0..repeats {
        let seed = Rescore::seed(config.proxy_train.seed, r);
        let repeat = config.with_proxy_seed(seed);
        let (fitness, records) =
            fold_fitness::<B>(proxy.clone(), &repeat, &chosen, device, &mut |f, cell| {
                tracing::info!(
                    "rescore {}/{repeats} (proxy training seed {seed}): {f:.2} {cell}",
                    r + 1
                )
            })?;
        let folds = proxy.len();
        for ((c, f), trainings) in cells.iter_mut().zip(fitness).zip(records.chunks(folds)) {
            c.fitness.push(f);
            c.records.extend_from_slice(trainings);
        }
    }
    for c in &mut cells {
        c.mean = c.fitness.iter().sum::<f64>() / c.fitness.len() as f64;
        tracing::info!(
            "rescored {} mean {:.2} over {:.2?}",
            c.cell,
            c.mean,
            c.fitness
        );
    }
    Ok(cells)
}

/// Runs the whole pipeline on `db` with backend `B`, one candidate at a time and nothing
/// written ([`Execution::default`]), reporting progress as `tracing` events.
pub fn run<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    device: &B::Device,
) -> Result<EcgSearchReport, EcgSearchError> {
    run_with::<B>(db, config, &Execution::default(), device)
}

/// Runs the whole pipeline on `db` with backend `B`, the search's trainings run and kept as
/// `execution` says (batches, workers, a resumable run directory): the settings checked, the
/// journal opened (or resumed), the data prepared, the strategy started (stage 1 for
/// DCL-ENAS), the search, the rescoring, the final trainings and, for a multi-objective
/// search, the front's.
pub fn run_with<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    execution: &Execution,
    device: &B::Device,
) -> Result<EcgSearchReport, EcgSearchError> {
    let start = Instant::now();
    check(config, execution)?;
    let driver = Driver {
        budget: config.budget,
        batch_size: execution.batch_size,
        max_attempts: execution.max_attempts,
        count_failures: true,
    };
    let (strategy_name, header) = journal_header(config, driver);
    let space = config.space()?;
    // The journal is opened (or refused) before hours of work, not after.
    let mut journal = open_journal(execution, header, &space, config)?;
    // The search, the rescoring and the choice see DS1 beats only; the test set is read after.
    let data = prepare_selection(db, config)?;
    tracing::info!(
        "the search reads records {}",
        data.records.iter().cloned().collect::<Vec<_>>().join(" ")
    );
    let params = ParamCounts::<B> {
        config,
        shape: data.shape,
        device,
        counts: Default::default(),
    };

    let t = Instant::now();
    let (mut strategy, surrogate_clock) = start_strategy(config, &space, &params)?;
    let pretrain_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    // Rescoring trains on the same folds again.
    let rescore_proxy = if config.rescore.is_on() {
        data.proxy.clone()
    } else {
        Vec::new()
    };
    let Selection {
        train,
        valid,
        proxy,
        class_counts: [train_counts, valid_counts],
        shape,
        ..
    } = data;
    let (history, candidates) = search::<B>(
        config,
        execution,
        driver,
        strategy.as_mut(),
        &space,
        journal.as_mut(),
        proxy,
        device,
    )?;
    let best = history
        .best()
        .ok_or_else(|| EcgSearchError::Config("the search made no query".into()))?;
    tracing::info!(
        "search: {} candidates trained in {:.0} s (predictor {:.1} s); best {} (proxy fitness {:.2})",
        history.queries.len(),
        t.elapsed().as_secs_f64(),
        surrogate_clock
            .as_ref()
            .map_or(0.0, SurrogateClock::seconds),
        best.arch,
        best.fitness
    );
    let t_rescore = Instant::now();
    let rescored = rescore::<B>(&history, rescore_proxy, config, device)?;
    let rescore_seconds = t_rescore.elapsed().as_secs_f64();
    let best_cell = choose(best.arch, &rescored, rescore_seconds, config);
    let search_seconds = t.elapsed().as_secs_f64();

    // Final training of both networks with the same trainer, data and budget, tested once.
    let test = load_test(db, config)?;
    let class_counts = [train_counts, valid_counts, test.class_counts.clone()];
    let data = FinalData {
        train: &train,
        valid: &valid,
        test: &test,
    };
    let finals = final_trainings::<B>(config, shape, data, best_cell, strategy_name, device)?;
    let front = if config.multiobjective.is_some() {
        train_front::<B>(config, &history, &params, best_cell, &finals, data, device)?
    } else {
        Vec::new()
    };
    Ok(EcgSearchReport {
        seed: Some(config.seed),
        test_set: test_set_name(config).into(),
        class_counts,
        history,
        candidates,
        strategy: strategy_name.into(),
        best_cell,
        rescored,
        rescore_seconds,
        pretrain_seconds,
        search_seconds,
        params: finals.params,
        baseline_entry: config.baseline_entry,
        baseline: finals.baseline,
        found: finals.found,
        front,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Checks the experiment and its execution before any work.
fn check(config: &EcgSearchConfig, execution: &Execution) -> Result<(), EcgSearchError> {
    config.validate()?;
    execution.validate()?;
    if config.multiobjective.is_some() && execution.slurm.is_some() {
        // The workers' result files carry the fitness, not the measured latency.
        return Err(EcgSearchError::Config(
            "a multi-objective search trains its candidates here, not on Slurm (the Slurm tasks do not report the latency they would measure)".into(),
        ));
    }
    Ok(())
}

/// The strategy's journal name (`dcl-enas-mo` for a multi-objective DCL-ENAS) and the header
/// a journal of this search carries.
fn journal_header(config: &EcgSearchConfig, driver: Driver) -> (&'static str, JournalHeader) {
    let (strategy_name, strategy_config) = match (
        config.strategy.journal(&config.evolution, &config.search),
        &config.multiobjective,
    ) {
        (("dcl-enas", settings), Some(_)) => ("dcl-enas-mo", settings),
        (journal, _) => journal,
    };
    let header = JournalHeader::new(
        strategy_name,
        &strategy_config,
        "netspace",
        config.seed,
        driver,
    )
    .with_settings(&search_settings(config));
    (strategy_name, header)
}

/// The run directory's journal, created or (with `execution.resume`) resumed after checking
/// that it is this search's; `None` without a run directory.
fn open_journal(
    execution: &Execution,
    header: JournalHeader,
    space: &NetSpace,
    config: &EcgSearchConfig,
) -> Result<Option<Journal<NetArch>>, EcgSearchError> {
    Ok(match &execution.run_dir {
        Some(dir) if execution.resume => {
            let j =
                Journal::resume_upgrading(dir, header, space, |h| upgrade_header(h, &config.beats))
                    .map_err(dcl_evo::SearchError::from)?;
            tracing::info!(
                "resuming {}: {} journalled trainings are read back, not retrained{}",
                dir.display(),
                j.records().len(),
                if j.dropped_torn_line() {
                    " (a torn last line, cut by the kill, was dropped)"
                } else {
                    ""
                }
            );
            Some(j)
        }
        Some(dir) => Some(Journal::create(dir, header).map_err(dcl_evo::SearchError::from)?),
        None => None,
    })
}

/// Candidates' exact parameter counts (the multi-objective search's cost): each network
/// built, not trained, and counted once.
struct ParamCounts<'a, B: AutodiffBackend> {
    config: &'a EcgSearchConfig,
    shape: InputShape,
    device: &'a B::Device,
    counts: std::sync::Mutex<std::collections::HashMap<NetArch, f64>>,
}

impl<B: AutodiffBackend> ParamCounts<'_, B> {
    /// The parameters of `arch`'s network (NaN when it cannot be built).
    fn of(&self, arch: &NetArch) -> f64 {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(*arch).or_insert_with(|| {
            cell_net::<B>(self.config, arch, self.shape, 0, self.device)
                .map_or(f64::NAN, |n| n.num_params() as f64)
        })
    }
}

/// A started strategy over the ECG space, borrowing it (and the parameter counts).
type BoxedStrategy<'a> = Box<dyn Strategy<NetSpace> + 'a>;

/// The strategy, started from the search's seed: for DCL-ENAS, stage 1 over the whole cell
/// space (label-free) first, and the clock of its predictor's time.
fn start_strategy<'a, B: AutodiffBackend>(
    config: &EcgSearchConfig,
    space: &'a NetSpace,
    params: &'a ParamCounts<'a, B>,
) -> Result<(BoxedStrategy<'a>, Option<SurrogateClock>), EcgSearchError> {
    let rng = ChaCha8Rng::seed_from_u64(config.seed);
    Ok(match config.strategy {
        StrategyName::Random => (Box::new(RandomSearch.start(space, rng)), None),
        StrategyName::Re => (Box::new(config.evolution.start(space, rng)?), None),
        StrategyName::DclEnas => {
            let t = Instant::now();
            // The whole space when it lists itself; else (a wide space) the sample rule of
            // the program's own spaces, for the steps measured with it.
            let (cells, stage1) = match space.enumerate() {
                Some(all) => (all, config.pretrain.clone()),
                None => {
                    let sample = dcl_cli::space::pretrain_set(
                        space,
                        Some(space.size()),
                        dcl_cli::space::PRETRAIN_SAMPLE,
                        config.seed,
                    )
                    .archs;
                    let stage1 = dcl_cli::space::sample_stage1(&config.pretrain, sample.len());
                    (sample, stage1)
                }
            };
            let mut predictor: Predictor = Predictor::new(space, config.model, config.seed)?;
            predictor.set_training_engine(config.training_engine);
            let pre = predictor.pretrain(space, &cells, &stage1)?;
            tracing::info!(
                "stage 1: {} cells, {} steps, InfoNCE {:.3}, {:.1} s",
                cells.len(),
                pre.steps,
                pre.final_loss,
                t.elapsed().as_secs_f64()
            );
            let (surrogate, clock) = TimedSurrogate::new(PredictorSurrogate::new(
                predictor,
                config.finetune.clone(),
                config.seed,
            ));
            let search = DclEnas::new(config.search.clone());
            let strategy: BoxedStrategy<'a> = match config.multiobjective {
                Some(mo) => Box::new(search.start_multiobjective(
                    space,
                    surrogate,
                    |a: &NetArch| params.of(a),
                    mo,
                    rng,
                )?),
                None => Box::new(search.start(space, surrogate, rng)?),
            };
            (strategy, Some(clock))
        }
    })
}

/// The search: every query trains a candidate on the `proxy` folds, here (one evaluator, or
/// a pool of workers) or as Slurm job arrays, journalled when there is a run directory.
/// Returns the history and every candidate's proxy trainings in query order (on a resumed
/// run, those of the earlier processes too, read back from the run directory); writes
/// `history.json` to the run directory.
#[allow(clippy::too_many_arguments)]
fn search<B: AutodiffBackend>(
    config: &EcgSearchConfig,
    execution: &Execution,
    driver: Driver,
    strategy: &mut dyn Strategy<NetSpace>,
    space: &NetSpace,
    mut journal: Option<&mut Journal<NetArch>>,
    proxy: Vec<ProxyFold>,
    device: &B::Device,
) -> Result<(SearchHistory<NetArch>, Vec<CandidateRecord>), EcgSearchError> {
    let (history, trained) = match (&execution.slurm, &execution.run_dir) {
        (Some(slurm), Some(dir)) => {
            let task = slurm_task(dir, &proxy, config, &slurm.device)?;
            drop(proxy);
            let mut executor = dcl_cli::search::slurm_executor(&slurm.config, dir, "net", task)?;
            let h = driver.run(strategy, space, &mut executor, journal, &mut |_| {})?;
            // The fold trainings of every candidate a task trained, from its result file.
            let trained = executor
                .results()
                .into_iter()
                .filter_map(|(spec, result)| {
                    Some(TrainedCandidate {
                        arch: serde_json::from_value(spec.arch).ok()?,
                        records: serde_json::from_value(result.details).ok()?,
                    })
                })
                .collect();
            (h, trained)
        }
        _ => {
            let candidate_log = match &execution.run_dir {
                Some(dir) => Some(CandidateLog::open(dir)?),
                None => None,
            };
            let workers = (0..execution.workers)
                .map(|_| {
                    let mut e = FoldEvaluator::<B>::new(proxy.clone(), config, device)?;
                    e.candidate_log = candidate_log.clone();
                    Ok(e)
                })
                .collect::<Result<Vec<_>, EcgSearchError>>()?;
            drop(proxy);
            if execution.workers == 1 {
                let mut evaluator = workers.into_iter().next().expect("one worker");
                let h = driver.run(
                    strategy,
                    space,
                    &mut evaluator,
                    journal.as_deref_mut(),
                    &mut |_| {},
                )?;
                (h, evaluator.trained)
            } else {
                let mut pool = LocalPool::new(workers, execution.threads_per_worker)?;
                let h = driver.run(strategy, space, &mut pool, journal, &mut |_| {})?;
                let trained = pool
                    .into_evaluators()
                    .into_iter()
                    .flat_map(|e| e.trained)
                    .collect();
                (h, trained)
            }
        }
    };
    let mut by_arch: std::collections::HashMap<NetArch, Vec<CandidateRecord>> =
        std::collections::HashMap::new();
    if let Some(dir) = &execution.run_dir {
        for c in CandidateLog::read(dir) {
            by_arch.insert(c.arch, c.records);
        }
    }
    for c in trained {
        by_arch.insert(c.arch, c.records);
    }
    let candidates: Vec<CandidateRecord> = history
        .queries
        .iter()
        .filter_map(|q| by_arch.get(&q.arch))
        .flat_map(|r| r.iter().cloned())
        .collect();
    if let Some(dir) = &execution.run_dir {
        history
            .save_json(dir.join("history.json"))
            .map_err(|e| EcgSearchError::Io(e.to_string()))?;
    }
    Ok((history, candidates))
}

/// The cell trained fully: the search's best, or with rescoring the best mean fitness among
/// the `rescored` cells (the first among equals).
fn choose(
    search_best: NetArch,
    rescored: &[RescoredCell],
    rescore_seconds: f64,
    config: &EcgSearchConfig,
) -> NetArch {
    let best_cell = rescored
        .iter()
        .reduce(|b, c| if c.mean > b.mean { c } else { b })
        .map_or(search_best, |c| c.cell);
    if !rescored.is_empty() {
        tracing::info!(
            "rescoring: {} cells x {} repeats in {rescore_seconds:.0} s; chosen {best_cell}",
            rescored.len(),
            config.rescore.repeats
        );
    }
    best_cell
}

/// The final trainings of the baseline and of the chosen cell.
struct Finals {
    /// Parameters of the baseline and of the found network.
    params: [usize; 2],
    baseline: Vec<FinalRun>,
    found: Vec<FinalRun>,
}

/// The baseline and the chosen cell trained with the same trainer, data and budget, once per
/// final seed, and tested (timed too in a multi-objective search).
fn final_trainings<B: AutodiffBackend>(
    config: &EcgSearchConfig,
    shape: InputShape,
    data: FinalData<'_>,
    best_cell: NetArch,
    strategy_name: &str,
    device: &B::Device,
) -> Result<Finals, EcgSearchError> {
    let params = [
        kachuee_net::<B>(shape, config.baseline_entry, 0, device)?.num_params(),
        cell_net::<B>(config, &best_cell, shape, 0, device)?.num_params(),
    ];
    tracing::info!(
        "final training: baseline ({} parameters) and found ({} parameters), seeds {:?}",
        params[0],
        params[1],
        config.final_seeds
    );
    let timed = config.multiobjective.is_some();
    let baseline = final_runs_timed::<B, _>(
        &|seed| kachuee_net::<B>(shape, config.baseline_entry, seed, device),
        data,
        config,
        device,
        "baseline",
        timed,
    )?;
    let found = final_runs_timed::<B, _>(
        &|seed| cell_net::<B>(config, &best_cell, shape, seed, device),
        data,
        config,
        device,
        strategy_name,
        timed,
    )?;
    Ok(Finals {
        params,
        baseline,
        found,
    })
}

/// Every member of a multi-objective search's front (proxy fitness against parameters), by
/// increasing parameters, trained and tested like the found network `best_cell` (whose runs
/// it reuses).
fn train_front<B: AutodiffBackend>(
    config: &EcgSearchConfig,
    history: &SearchHistory<NetArch>,
    params: &ParamCounts<'_, B>,
    best_cell: NetArch,
    finals: &Finals,
    data: FinalData<'_>,
    device: &B::Device,
) -> Result<Vec<FrontMember>, EcgSearchError> {
    let points: Vec<[f64; 2]> = history
        .queries
        .iter()
        .map(|q| [-q.fitness, params.of(&q.arch)])
        .collect();
    let mut members = dcl_evo::pareto::pareto_front(&points);
    members.sort_by(|&a, &b| points[a][1].total_cmp(&points[b][1]).then(a.cmp(&b)));
    let mut front = Vec::with_capacity(members.len());
    for i in members {
        let q = &history.queries[i];
        let runs = if q.arch == best_cell {
            finals.found.clone()
        } else {
            final_runs_timed::<B, _>(
                &|seed| cell_net::<B>(config, &q.arch, params.shape, seed, device),
                data,
                config,
                device,
                &format!("front {}", q.arch),
                true,
            )?
        };
        front.push(FrontMember {
            cell: q.arch,
            fitness: q.fitness,
            params: points[i][1] as u64,
            latency_ms: q.objectives.get(dcl_train::LATENCY_MS).copied(),
            runs,
        });
    }
    Ok(front)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::test_config;
    use dcl_predictor::Engine;

    /// A journal written when `beats` was recorded as text and `training_engine` not at all
    /// resumes as the same run with burn's training; another `beats` or engine is refused.
    #[test]
    fn an_older_ecg_journal_header_reads_as_todays() {
        let mut config = test_config(false, 1);
        config.training_engine = Engine::Burn;
        let today = search_settings(&config);
        let header = |settings: &serde_json::Value| {
            JournalHeader::new("dcl-enas", &(), "netspace", 0, Driver::new(1))
                .with_settings(settings)
        };
        let mut older = today.clone();
        older["beats"] = serde_json::json!(format!("{:?}", config.beats));
        older.as_object_mut().unwrap().remove("training_engine");
        let mut found = header(&older);
        assert!(found.mismatch(&header(&today)).is_some());
        upgrade_header(&mut found, &config.beats);
        assert_eq!(found.mismatch(&header(&today)).map(|e| e.to_string()), None);

        let other_beats = BeatConfig {
            local_rr: true,
            ..BeatConfig::default()
        };
        let mut found = header(&older);
        upgrade_header(&mut found, &other_beats);
        assert!(found.settings["beats"].is_string());
        config.training_engine = Engine::Native;
        let mut found = header(&older);
        upgrade_header(&mut found, &config.beats);
        assert!(
            found
                .mismatch(&header(&search_settings(&config)))
                .unwrap()
                .to_string()
                .contains("training_engine")
        );
    }
}
