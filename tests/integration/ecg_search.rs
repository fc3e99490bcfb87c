//! A tiny configuration of the whole ECG pipeline (`dcl-enas ecg search`'s): real MIT-BIH
//! beats, the inter-patient split, stage-1 pre-training, a DCL-ENAS search that trains every
//! candidate, and the final training and DS2 test of the found and the baseline networks.
//! Each test checks one property; runs that several tests read are made once.

use dcl_cli::search::StrategyName;
use dcl_ecg::{BeatConfig, DEFAULT_VALID_RECORDS, MitBih};
use dcl_ecg_app::{
    CANDIDATES_FILE, EcgSearchConfig, EcgSearchReport, Execution, Rescore, proxy_fitness, run,
    run_baseline, run_cell, run_with,
};
use dcl_evo::{DclEnasConfig, RegularizedEvolution};
use std::sync::OnceLock;

use dcl_predictor::{Engine, FinetuneConfig, ModelConfig, PretrainConfig};
use dcl_train::{
    CandidateRecord, FeatureEntry, Kernels, Monitor, NdArrayBackend, NetArch, NetConfig,
    TrainConfig,
};

/// Each query of a two-fold search: its cell, its fitness and its two proxy trainings.
fn two_fold_queries(report: &EcgSearchReport) -> Vec<(NetArch, f64, &[CandidateRecord])> {
    report
        .history
        .queries
        .iter()
        .zip(report.candidates.chunks(2))
        .map(|(q, pair)| (q.arch, q.fitness, pair))
        .collect()
}

/// The tiny configuration: 16 beats per class, one-epoch trainings of two steps, budget 3.
fn tiny_config() -> EcgSearchConfig {
    let tiny_train = TrainConfig {
        epochs: 1,
        batch_size: 32,
        steps_per_epoch: Some(2),
        ..TrainConfig::default()
    };
    EcgSearchConfig {
        beats: BeatConfig::default(),
        valid_records: DEFAULT_VALID_RECORDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        proxy_train_per_class: 16,
        proxy_valid_per_class: 16,
        full_train_per_class: Some(16),
        eval_per_class: Some(16),
        net: NetConfig {
            channels: 2,
            stages: 2,
            ..NetConfig::default()
        },
        feature_entries: vec![FeatureEntry::Head],
        baseline_entry: FeatureEntry::Head,
        kernels: Kernels::default(),
        proxy_train: tiny_train.clone(),
        full_train: tiny_train,
        strategy: StrategyName::DclEnas,
        evolution: RegularizedEvolution::default(),
        search: DclEnasConfig {
            initial: 2,
            infill: 1,
            population: 4,
            offspring: 8,
            generations: 1,
            // One candidate per round: let the predictor pick it.
            explore: 0,
            ..DclEnasConfig::default()
        },
        budget: 3,
        model: ModelConfig {
            hidden: 8,
            layers: 2,
            projection: 4,
        },
        pretrain: PretrainConfig {
            epochs: 1,
            max_steps: Some(2),
            ..PretrainConfig::default()
        },
        finetune: FinetuneConfig {
            epochs: 2,
            ..FinetuneConfig::search_default()
        },
        training_engine: Engine::Burn,
        final_seeds: vec![0],
        seed: 1,
        proxy_folds: 0,
        rr_only: false,
        rescore: Rescore::default(),
        proxy_class_mix: false,
        f_within_patients: false,
        multiobjective: None,
        pseudo_test: false,
        skeletons: None,
    }
}

/// One run of the pipeline per configuration, shared by the tests that read it.
struct Shared {
    report: EcgSearchReport,
    log_lines: usize,
}

fn shared(
    cell: &'static OnceLock<Shared>,
    config: impl FnOnce() -> EcgSearchConfig,
) -> &'static EcgSearchReport {
    &cell
        .get_or_init(|| {
            let db = MitBih::bundled().unwrap();
            let (report, log_lines) =
                counting_logs(|| run::<NdArrayBackend>(&db, &config(), &Default::default()));
            Shared {
                report: report.unwrap(),
                log_lines,
            }
        })
        .report
}

/// Runs `f`, counting the pipeline's log events (`tracing`, target `dcl_ecg_app`) it emits
/// on this thread.
fn counting_logs<T>(f: impl FnOnce() -> T) -> (T, usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing_subscriber::layer::SubscriberExt;
    struct Count(Arc<AtomicUsize>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
        fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            if e.metadata().target().starts_with("dcl_ecg_app") {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let n = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(Count(n.clone()));
    let out = tracing::subscriber::with_default(subscriber, f);
    (out, n.load(Ordering::Relaxed))
}

static TINY: OnceLock<Shared> = OnceLock::new();
static FOLDED: OnceLock<Shared> = OnceLock::new();

fn tiny() -> &'static EcgSearchReport {
    shared(&TINY, tiny_config)
}

/// Fitness over two patient folds, budget 2.
fn folded_config() -> EcgSearchConfig {
    EcgSearchConfig {
        proxy_folds: 2,
        budget: 2,
        ..tiny_config()
    }
}

fn folded() -> &'static EcgSearchReport {
    shared(&FOLDED, folded_config)
}

#[test]
fn the_search_spends_its_budget_and_finds_a_cell_it_trained() {
    let report = tiny();
    assert_eq!(report.candidates.len(), 3);
    assert_eq!(report.history.queries.len(), 3);
    // Each candidate record is its query's cell and fitness, in query order.
    for (q, c) in report.history.queries.iter().zip(&report.candidates) {
        assert_eq!(c.cell, q.arch.to_string());
        assert_eq!(c.fitness, q.fitness);
    }
    // The found cell is the best queried one.
    let best = report.history.best().unwrap();
    assert_eq!(report.best_cell, best.arch);
    assert!(TINY.get().unwrap().log_lines >= 5);
}

#[test]
fn both_networks_are_tested_on_the_capped_ds2_set() {
    let report = tiny();
    // Capped at 16 beats per class: the confusion counts every test beat once.
    for runs in [&report.baseline, &report.found] {
        assert_eq!(runs.len(), 1);
        let test = &runs[0].test;
        let n: usize = test.confusion.iter().flatten().sum();
        assert_eq!(n, 4 * 16);
        for row in &test.confusion {
            assert_eq!(row.iter().sum::<usize>(), 16);
        }
        // Balanced accuracy is the mean recall of the confusion, not something else.
        let recall: f64 = (0..4)
            .map(|c| test.confusion[c][c] as f64 / 16.0)
            .sum::<f64>()
            / 4.0;
        assert!((test.balanced_accuracy - recall).abs() < 1e-9);
    }
    assert_eq!(report.class_counts[0], vec![16; 4]);
    assert_eq!(report.test_set, "DS2");
}

/// In the wide space DCL-ENAS pre-trains on a sample (the space is too large to list), every
/// candidate carries a skeleton of the menu, and the found network is built with its own.
#[test]
fn a_wide_space_search_gives_every_candidate_its_own_skeleton() {
    let db = MitBih::bundled().unwrap();
    let config = EcgSearchConfig {
        skeletons: Some(dcl_train::SkeletonMenu::wide()),
        ..tiny_config()
    };
    let dev = Default::default();
    let report = run::<NdArrayBackend>(&db, &config, &dev).unwrap();
    let space = config.space().unwrap();
    assert!(dcl_graph::SearchSpace::enumerate(&space).is_none());
    assert_eq!(report.history.queries.len(), 3);
    for q in &report.history.queries {
        assert!(
            q.arch.skeleton.is_some() && space.contains(&q.arch),
            "{}",
            q.arch
        );
    }
    let best = report.best_cell;
    let built = dcl_train::CellNet::<NdArrayBackend>::new(
        &best.spec(config.kernels),
        &best.net_config(&config.net),
        dcl_train::InputShape::of(&dcl_ecg_app::signal_data(
            dcl_ecg::extract_beats(&db, &["101"], &config.beats).unwrap(),
        )),
        0,
        &dev,
    )
    .unwrap();
    use burn::module::Module;
    assert_eq!(report.params[1], built.num_params());
}

/// In design mode the networks are tested on the pseudo-test patients (DS2 is not read):
/// the capped confusion holds 16 beats of N, S and V and the pseudo-test's few F beats.
#[test]
fn a_pseudo_test_run_tests_on_the_pseudo_test_patients() {
    let db = MitBih::bundled().unwrap();
    let config = EcgSearchConfig {
        pseudo_test: true,
        ..tiny_config()
    };
    let f = dcl_ecg::extract_beats(&db, &dcl_ecg::PSEUDO_TEST_RECORDS, &config.beats)
        .unwrap()
        .class_counts()[3];
    assert!(f > 0 && f < 16, "{f}");
    let runs = run_baseline::<NdArrayBackend>(&db, &config, &Default::default()).unwrap();
    let rows: Vec<usize> = runs[0]
        .test
        .confusion
        .iter()
        .map(|r| r.iter().sum())
        .collect();
    assert_eq!(rows, vec![16, 16, 16, f]);
    // Each pseudo-test patient's confusion, summing to the whole.
    let per_record = &runs[0].per_record;
    assert!(
        per_record
            .keys()
            .all(|r| dcl_ecg::PSEUDO_TEST_RECORDS.contains(&r.as_str()))
    );
    let mut sum = vec![vec![0; 4]; 4];
    for c in per_record.values() {
        for (t, row) in c.iter().enumerate() {
            for (p, n) in row.iter().enumerate() {
                sum[t][p] += n;
            }
        }
    }
    assert_eq!(sum, runs[0].test.confusion);
}

#[test]
fn the_found_cells_reported_metrics_are_that_cells_test_metrics() {
    // The final trainings alone, of the found cell and of the baseline, repeat the full run's:
    // the report does not mix up which network its numbers belong to.
    let report = tiny();
    let db = &MitBih::bundled().unwrap();
    let config = tiny_config();
    let dev = Default::default();
    let cell = run_cell::<NdArrayBackend>(db, &config, &report.best_cell, &dev);
    let baseline = run_baseline::<NdArrayBackend>(db, &config, &dev);
    for (alone, full) in [
        (cell.unwrap(), &report.found),
        (baseline.unwrap(), &report.baseline),
    ] {
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].test.confusion, full[0].test.confusion);
        assert_eq!(alone[0].valid.confusion, full[0].valid.confusion);
        assert_eq!(alone[0].best_epoch, full[0].best_epoch);
    }
}

#[test]
fn a_two_fold_fitness_is_the_mean_of_its_two_fold_trainings() {
    let report = folded();
    assert_eq!(report.history.queries.len(), 2);
    assert_eq!(report.candidates.len(), 4);
    for (cell, fitness, pair) in two_fold_queries(report) {
        assert_eq!(pair[0].cell, cell.to_string());
        assert_eq!(pair[1].cell, cell.to_string());
        let mean = (pair[0].fitness + pair[1].fitness) / 2.0;
        assert!((fitness - mean).abs() < 1e-9, "{fitness} vs {mean}");
    }
    assert!(report.rescored.is_empty());
}

#[test]
fn proxy_fitness_alone_repeats_the_searchs_fitness() {
    let report = folded();
    let db = &MitBih::bundled().unwrap();
    let cells: Vec<_> = report.history.queries.iter().map(|q| q.arch).collect();
    let alone =
        proxy_fitness::<NdArrayBackend>(db, &folded_config(), &cells, &Default::default()).unwrap();
    assert_eq!(alone.len(), cells.len());
    for (q, f) in report.history.queries.iter().zip(&alone) {
        assert_eq!(q.fitness, *f);
    }
}

#[test]
fn rescoring_retrains_the_queried_cells_and_picks_the_best_mean() {
    // The two queried cells retrained with proxy training seeds 1 and 2 (the search's is 0
    // here); each retraining repeats `proxy_fitness` with that seed, and the cell trained
    // fully is the best on the mean.
    let folded_cfg = folded_config();
    let report = folded();
    let db = &MitBih::bundled().unwrap();
    let dev = Default::default();
    let rescoring = EcgSearchConfig {
        rescore: Rescore { top: 5, repeats: 2 },
        ..folded_cfg.clone()
    };
    let rescored = run::<NdArrayBackend>(db, &rescoring, &dev).unwrap();
    // The search itself is unchanged.
    let queried = |r: &EcgSearchReport| {
        r.history
            .queries
            .iter()
            .map(|q| (q.arch, q.fitness))
            .collect::<Vec<_>>()
    };
    assert_eq!(queried(&rescored), queried(report));
    assert_eq!(rescored.rescored.len(), 2);
    for (r, c) in rescored.rescored.iter().enumerate() {
        assert_eq!(c.fitness.len(), 3);
        assert!(queried(report).contains(&(c.cell, c.fitness[0])));
        if r > 0 {
            assert!(rescored.rescored[r - 1].fitness[0] >= c.fitness[0]);
        }
        assert!((c.mean - c.fitness.iter().sum::<f64>() / 3.0).abs() < 1e-12);
        // Two repeats of two folds, each repeat's fitness the mean of its folds'.
        assert_eq!(c.records.len(), 4);
        for (pair, f) in c.records.chunks(2).zip(&c.fitness[1..]) {
            assert!(pair.iter().all(|t| t.cell == c.cell.to_string()));
            assert!(((pair[0].fitness + pair[1].fitness) / 2.0 - f).abs() < 1e-9);
        }
    }
    // Each repeat equals `proxy_fitness` of the rescored cells with that repeat's seed.
    assert_eq!(folded_cfg.proxy_train.seed, 0);
    let rescored_cells: Vec<_> = rescored.rescored.iter().map(|c| c.cell).collect();
    for (k, seed) in [1, 2].into_iter().enumerate() {
        assert_eq!(Rescore::seed(0, k), seed);
        let cfg = EcgSearchConfig {
            proxy_train: TrainConfig {
                seed,
                ..folded_cfg.proxy_train.clone()
            },
            ..folded_cfg.clone()
        };
        let alone = proxy_fitness::<NdArrayBackend>(db, &cfg, &rescored_cells, &dev).unwrap();
        let repeat: Vec<f64> = rescored.rescored.iter().map(|c| c.fitness[k + 1]).collect();
        assert_eq!(alone, repeat);
    }
    let best = rescored
        .rescored
        .iter()
        .map(|c| c.mean)
        .fold(f64::NEG_INFINITY, f64::max);
    let chosen = rescored
        .rescored
        .iter()
        .find(|c| c.cell == rescored.best_cell);
    assert_eq!(chosen.map(|c| c.mean), Some(best));
}

#[test]
fn a_class_mix_fitness_is_macro_f1_of_validation_at_the_patients_mix() {
    // A fitness that sees all four classes at the patients' class mix: macro-F1, F beats dealt
    // into the folds within patients, validation scored at the held-out beats' class mix.
    let folded_cfg = folded_config();
    let mixed = EcgSearchConfig {
        proxy_train: TrainConfig {
            monitor: Monitor::MacroF1,
            ..folded_cfg.proxy_train.clone()
        },
        proxy_class_mix: true,
        f_within_patients: true,
        ..folded_cfg
    };
    let db = &MitBih::bundled().unwrap();
    let report = run::<NdArrayBackend>(db, &mixed, &Default::default()).unwrap();
    assert_eq!(report.candidates.len(), 4);
    for (_, fitness, pair) in two_fold_queries(&report) {
        let mean = pair.iter().map(|t| t.report.valid.macro_f1).sum::<f64>() * 50.0;
        assert!((fitness - mean).abs() < 1e-9, "{fitness} vs {mean}");
        for t in pair {
            let valid = &t.report.valid;
            // Both folds validate on 16 F beats (with patient folds one has 12 in all of it).
            assert_eq!(valid.confusion[3].iter().sum::<usize>(), 16);
            // Sensitivities are the confusion's; accuracy is not the balanced sample's, as N
            // counts ~40 times at DS1's mix.
            for (c, row) in valid.confusion.iter().enumerate() {
                let se = row[c] as f64 / row.iter().sum::<usize>() as f64;
                assert_eq!(valid.sensitivity[c], Some(se));
            }
            let plain = (0..4).map(|c| valid.confusion[c][c]).sum::<usize>() as f64 / 64.0;
            assert!((valid.accuracy - plain).abs() > 1e-9, "{valid:?}");
        }
    }
}

#[test]
fn two_input_channels_go_through_both_networks() {
    // The window and its deviation from the record's median beat.
    let config = tiny_config();
    let db = &MitBih::bundled().unwrap();
    let dev = Default::default();
    let two_channels = EcgSearchConfig {
        beats: BeatConfig {
            median_beat_channel: true,
            ..BeatConfig::default()
        },
        ..config.clone()
    };
    let cell = run_cell::<NdArrayBackend>(db, &two_channels, &tiny().best_cell, &dev).unwrap();
    let baseline = run_baseline::<NdArrayBackend>(db, &two_channels, &dev).unwrap();
    for runs in [&cell, &baseline] {
        let n: usize = runs[0].test.confusion.iter().flatten().sum();
        assert_eq!(n, 4 * 16);
    }
    // Both median options at once: a typed error, not a panic.
    let twice = EcgSearchConfig {
        beats: BeatConfig {
            subtract_median_beat: true,
            ..two_channels.beats.clone()
        },
        ..config
    };
    assert!(matches!(
        run_baseline::<NdArrayBackend>(db, &twice, &dev),
        Err(dcl_ecg_app::EcgSearchError::Ecg(_))
    ));
}

#[test]
fn feature_entries_are_searched_and_each_network_trains() {
    // The search space with the RR features' entry as one more choice.
    let entries = EcgSearchConfig {
        feature_entries: FeatureEntry::ALL.to_vec(),
        budget: 4,
        ..tiny_config()
    };
    let db = &MitBih::bundled().unwrap();
    let dev = Default::default();
    let report = run::<NdArrayBackend>(db, &entries, &dev).unwrap();
    assert_eq!(report.candidates.len(), 4);
    for (q, c) in report.history.queries.iter().zip(&report.candidates) {
        assert_eq!(c.cell, q.arch.to_string());
        assert_eq!(c.cell.parse::<NetArch>().unwrap(), q.arch);
    }
    // The report reads back.
    let json = serde_json::to_string(&report).unwrap();
    let back: EcgSearchReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.best_cell, report.best_cell);
    // Each entry's network trains and tests end to end.
    for features in FeatureEntry::ALL {
        let arch = NetArch {
            features,
            ..report.best_cell
        };
        let runs = run_cell::<NdArrayBackend>(db, &entries, &arch, &dev).unwrap();
        let n: usize = runs[0].test.confusion.iter().flatten().sum();
        assert_eq!(n, 4 * 16);
    }
}

#[test]
fn other_strategies_search_the_same_space_without_a_predictor() {
    let db = &MitBih::bundled().unwrap();
    let dev = Default::default();
    let dir = std::env::temp_dir().join(format!("dcl-ecg-random-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let random = EcgSearchConfig {
        feature_entries: FeatureEntry::ALL.to_vec(),
        strategy: StrategyName::Random,
        baseline_entry: FeatureEntry::Logits,
        budget: 3,
        // DCL-ENAS's settings do not apply (a predictor would refuse one initial candidate).
        search: DclEnasConfig {
            initial: 1,
            ..tiny_config().search
        },
        ..tiny_config()
    };
    let execution = Execution {
        run_dir: Some(dir.clone()),
        ..Execution::default()
    };
    let report = run_with::<NdArrayBackend>(db, &random, &execution, &dev).unwrap();
    assert_eq!(report.strategy, "random");
    assert_eq!(report.baseline_entry, FeatureEntry::Logits);
    assert_eq!(report.candidates.len(), 3);
    let mut seen: Vec<NetArch> = report.history.queries.iter().map(|q| q.arch).collect();
    seen.sort_by_key(|a| a.to_string());
    seen.dedup();
    assert_eq!(seen.len(), 3, "random search asks distinct candidates");
    assert!(
        report
            .history
            .queries
            .iter()
            .any(|q| report.best_cell == q.arch)
    );
    // The baseline was built with its features' own head, and the report says so.
    let beats = &random.beats;
    let shape = dcl_train::InputShape {
        length: beats.window(),
        channels: beats.channels(),
        n_features: beats.n_features(),
        n_classes: 4,
    };
    let params = |entry| {
        use burn::module::Module;
        dcl_ecg_app::kachuee_net::<NdArrayBackend>(shape, entry, 0, &dev)
            .unwrap()
            .num_params()
    };
    assert_eq!(report.params[0], params(FeatureEntry::Logits));
    assert_ne!(report.params[0], params(FeatureEntry::Head));
    // The journal names the strategy: a DCL-ENAS run cannot resume it.
    let journal = std::fs::read_to_string(dir.join(dcl_evo::JOURNAL_FILE)).unwrap();
    assert!(
        journal.lines().next().unwrap().contains("\"random\""),
        "{journal}"
    );
    let as_dcl_enas = EcgSearchConfig {
        strategy: StrategyName::DclEnas,
        ..random.clone()
    };
    let resume = Execution {
        resume: true,
        ..execution
    };
    assert!(run_with::<NdArrayBackend>(db, &as_dcl_enas, &resume, &dev).is_err());
    let _ = std::fs::remove_dir_all(&dir);

    // Regularized evolution takes the same path (a boxed `Strategy`); its settings are
    // checked before any work.
    let refused = EcgSearchConfig {
        strategy: StrategyName::Re,
        evolution: RegularizedEvolution {
            population_size: 0,
            sample_size: 2,
        },
        ..random
    };
    assert!(matches!(
        run::<NdArrayBackend>(db, &refused, &dev),
        Err(dcl_ecg_app::EcgSearchError::Search(_))
    ));
}

#[test]
fn a_report_written_before_feature_entries_existed_still_reads() {
    // Its cells are `Head` candidates.
    let old: EcgSearchReport = serde_json::from_str(include_str!(
        "../../docs/results/ecg/report_median_folds2_rescore5x2_seed0.json"
    ))
    .unwrap();
    assert_eq!(old.best_cell.features, FeatureEntry::Head);
    assert_eq!(
        old.best_cell.to_string(),
        "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_1x1~2|"
    );
}

#[test]
fn a_journalled_search_on_two_workers_matches_the_plain_one_and_resumes_without_training() {
    let db = MitBih::bundled().unwrap();
    let config = EcgSearchConfig {
        budget: 5,
        ..tiny_config()
    };
    let dev = Default::default();
    let plain = run::<NdArrayBackend>(&db, &config, &dev).unwrap();
    let dir = std::env::temp_dir().join(format!("dcl-ecg-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Batches of two: the two initial random candidates train at once; with one candidate per
    // round after them, the asks are the plain run's.
    let execution = Execution {
        batch_size: 2,
        workers: 2,
        run_dir: Some(dir.clone()),
        ..Execution::default()
    };
    let untimed = |r: &EcgSearchReport| {
        r.history
            .queries
            .iter()
            .map(|q| (q.arch, q.fitness))
            .collect::<Vec<_>>()
    };
    let journalled = run_with::<NdArrayBackend>(&db, &config, &execution, &dev).unwrap();
    // Workers and a journal change nothing in the search or its records.
    assert_eq!(untimed(&journalled), untimed(&plain));
    let cells = |r: &EcgSearchReport| {
        r.candidates
            .iter()
            .map(|c| (c.cell.clone(), c.fitness, c.report.valid.confusion.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(cells(&journalled), cells(&plain));
    let journal = std::fs::read_to_string(dir.join(dcl_evo::JOURNAL_FILE)).unwrap();
    assert_eq!(journal.lines().count(), 1 + 5);
    assert_eq!(
        std::fs::read_to_string(dir.join(CANDIDATES_FILE))
            .unwrap()
            .lines()
            .count(),
        5
    );
    // A second start in the same directory is refused before any work.
    let again = run_with::<NdArrayBackend>(&db, &config, &execution, &dev);
    assert!(again.is_err());

    // Resuming the finished run trains nothing: the candidates come back from the run
    // directory, and neither file grows.
    let resume = Execution {
        resume: true,
        ..execution.clone()
    };
    let resumed = run_with::<NdArrayBackend>(&db, &config, &resume, &dev).unwrap();
    assert_eq!(untimed(&resumed), untimed(&plain));
    assert_eq!(cells(&resumed), cells(&plain));
    assert_eq!(
        std::fs::read_to_string(dir.join(dcl_evo::JOURNAL_FILE)).unwrap(),
        journal
    );
    // Resuming with another search seed is refused, naming the field.
    let other = EcgSearchConfig {
        seed: 2,
        ..config.clone()
    };
    let err = run_with::<NdArrayBackend>(&db, &other, &resume, &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("seed"), "{err}");

    // `dcl-enas report` rebuilds the search's history and best from this journal alone.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dcl-enas"))
        .args(["report", dir.to_str().unwrap()])
        .env("DCL_PROGRESS", "lines")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let best = plain.history.best().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.trim_end().starts_with(&format!(
            "best arch={} fitness={:.4} queries=5 failures=0",
            best.arch, best.fitness
        )),
        "{line}"
    );
    let csv = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    let rows: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
        .collect();
    let expected: Vec<String> = plain
        .history
        .queries
        .iter()
        .map(|q| format!("{},{},{}", q.query, q.arch, q.fitness))
        .collect();
    assert_eq!(rows, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_multiobjective_search_journals_parameters_and_latency_and_tests_its_front() {
    let db = &MitBih::bundled().unwrap();
    let dev = Default::default();
    let dir = std::env::temp_dir().join(format!("dcl-ecg-mo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = EcgSearchConfig {
        budget: 4,
        multiobjective: Some(dcl_evo::MultiObjective {
            reference: dcl_evo::InfillReference::Median,
            sampled: 8,
        }),
        ..tiny_config()
    };
    let execution = Execution {
        run_dir: Some(dir.clone()),
        ..Execution::default()
    };
    let report = run_with::<NdArrayBackend>(db, &config, &execution, &dev).unwrap();
    assert_eq!(report.strategy, "dcl-enas-mo");
    // Every query carries its network's parameter count and a measured latency, in the
    // history and in the journal.
    let (_, records) = dcl_evo::Journal::<NetArch>::read(&dir).unwrap();
    assert_eq!(records.len(), 4);
    for (q, r) in report.history.queries.iter().zip(&records) {
        assert_eq!(q.objectives, r.objectives);
        assert!(q.objectives["latency_ms"] > 0.0);
        let spec = dcl_train::CellSpec::from_nb201(&q.arch.cell, config.kernels);
        let shape = dcl_train::InputShape {
            length: config.beats.window(),
            channels: config.beats.channels(),
            n_features: config.beats.n_features(),
            n_classes: 4,
        };
        let built = {
            use burn::module::Module;
            dcl_train::CellNet::<NdArrayBackend>::new(&spec, &config.net, shape, 0, &dev)
                .unwrap()
                .num_params()
        };
        assert_eq!(q.objectives["params"], built as f64);
    }
    // The front: no member dominated by any query, every non-dominated query a member, by
    // increasing parameters; each trained and tested with its latency.
    assert!(!report.front.is_empty());
    let dominated = |f: f64, p: f64| {
        report.history.queries.iter().any(|q| {
            let (qf, qp) = (q.fitness, q.objectives["params"]);
            qf >= f && qp <= p && (qf > f || qp < p)
        })
    };
    for m in &report.front {
        assert!(
            !dominated(m.fitness, m.params as f64),
            "{} is dominated",
            m.cell
        );
        assert_eq!(m.runs.len(), 1);
        assert!(m.runs[0].latency_ms.is_some_and(|l| l > 0.0));
        assert!(m.latency_ms.is_some());
    }
    let members = report
        .history
        .queries
        .iter()
        .filter(|q| !dominated(q.fitness, q.objectives["params"]))
        .count();
    assert_eq!(report.front.len(), members);
    assert!(report.front.windows(2).all(|w| w[0].params <= w[1].params));
    assert!(report.baseline[0].latency_ms.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_settings_are_refused_before_any_work() {
    let db = MitBih::bundled().unwrap();
    let base = tiny_config();
    let mut cases: Vec<(&str, EcgSearchConfig)> = Vec::new();
    let mut c = base.clone();
    c.full_train.epochs = 0;
    cases.push(("full_train.epochs 0", c));
    let mut c = base.clone();
    c.proxy_train.optimizer = dcl_train::OptimizerKind::Adam {
        lr: 1e-3,
        weight_decay: f32::NAN,
    };
    cases.push(("weight_decay NaN", c));
    let mut c = base.clone();
    c.net.channels = 0;
    cases.push(("channels 0", c));
    let mut c = base.clone();
    c.search.explore = c.search.infill + 1;
    cases.push(("explore > infill", c));
    let mut c = base.clone();
    c.full_train.augment.signal_dropout = 2.0;
    cases.push(("signal_dropout 2", c));
    let mut c = base.clone();
    c.finetune.learning_rate = f64::NAN;
    cases.push(("finetune learning_rate NaN", c));
    let mut c = base.clone();
    c.budget = 0;
    cases.push(("budget 0", c));
    let mut c = base.clone();
    c.search.initial = 1;
    cases.push(("initial 1 (the predictor fine-tunes on pairs)", c));
    let mut c = base.clone();
    c.feature_entries.clear();
    cases.push(("no feature entries", c));
    let mut c = base.clone();
    c.strategy = StrategyName::Re;
    c.multiobjective = Some(dcl_evo::MultiObjective::default());
    cases.push(("regularized evolution, multi-objective", c));
    let mut c = base;
    c.final_seeds.clear();
    cases.push(("no final seeds", c));
    for (what, config) in cases {
        let (r, lines) = counting_logs(|| run::<NdArrayBackend>(&db, &config, &Default::default()));
        assert!(r.is_err(), "{what}: accepted");
        // Refused before the beats were cut (the first thing that logs).
        assert_eq!(lines, 0, "{what}: work was done before the refusal");
        let (b, lines) =
            counting_logs(|| run_baseline::<NdArrayBackend>(&db, &config, &Default::default()));
        assert!(
            b.is_err() && lines == 0,
            "{what}: the baseline run was not refused first"
        );
    }
}
