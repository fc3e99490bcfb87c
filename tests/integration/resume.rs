//! Crash-safe resume, for real: a search runs as a child process (this test binary started
//! again on its `child_search` test), is killed with SIGKILL from outside at moments picked by
//! watching it (its journal's lines, its "refit" lines on stderr), resumed, and must end with
//! the history of an uninterrupted run, record for record (timings aside).
//!
//! * NB201 table, DCL-ENAS with the real predictor (loaded from a file the parent pre-trains),
//!   budget 60, one at a time: three kill points on seed 0 (right after a journal append,
//!   during a predictor refit, later in the search), three more on seed 1.
//! * A tiny real-training search: `CellEvaluator` on synthetic signals, two local workers,
//!   batches of two, killed during a refit and right after a journal append.
//!
//! All three take about 20 s together in the test profile, one at a time on one core.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dcl_bench::{CountingOracle, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
use dcl_evo::{DclEnas, DclEnasConfig, Driver, Journal, JournalHeader, SearchHistory, Surrogate};
use dcl_exec::LocalPool;
use dcl_graph::{Nb201Cell, Nb201Space, SearchSpace};
use dcl_predictor::{
    Engine, FinetuneConfig, ModelConfig, Predictor, PredictorSurrogate, PretrainConfig,
};
use dcl_train::{CellEvaluator, Kernels, NdArrayBackend, NetConfig, SignalData, TrainConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which search the child runs: `nb201` or `cells`.
const CHILD_KIND: &str = "DCL_RESUME_CHILD_KIND";
const CHILD_DIR: &str = "DCL_RESUME_CHILD_DIR";
const CHILD_SEED: &str = "DCL_RESUME_CHILD_SEED";
const CHILD_RESUME: &str = "DCL_RESUME_CHILD_RESUME";
const CHILD_PREDICTOR: &str = "DCL_RESUME_CHILD_PREDICTOR";

/// Says on stderr when each refit starts and ends, so the parent can kill the child inside one.
struct Loud<P>(P, usize);

impl<S: SearchSpace, P: Surrogate<S>> Surrogate<S> for Loud<P> {
    type Error = P::Error;
    fn score(&mut self, space: &S, archs: &[S::Arch]) -> Result<Vec<f64>, P::Error> {
        self.0.score(space, archs)
    }
    fn learn(&mut self, space: &S, labelled: &[(S::Arch, f64)]) -> Result<(), P::Error> {
        self.1 += 1;
        eprintln!("refit {} start", self.1);
        let r = self.0.learn(space, labelled);
        // The refit takes tens of milliseconds here; staying inside `learn` a little longer
        // lets a parent slowed by a loaded machine still kill the child before it returns.
        std::thread::sleep(std::time::Duration::from_millis(50));
        eprintln!("refit {} end", self.1);
        r
    }
}

fn surrogate(predictor_file: &Path, seed: u64) -> Loud<PredictorSurrogate> {
    let mut predictor: Predictor =
        Predictor::load(predictor_file, &Nb201Space::new(), Default::default()).unwrap();
    // The native engine: resumption does not depend on the engine, and it refits several
    // times faster than burn's autodiff at the test profile's opt-level.
    predictor.set_training_engine(Engine::Native);
    let finetune = FinetuneConfig {
        epochs: 20,
        ..FinetuneConfig::search_default()
    };
    Loud(PredictorSurrogate::new(predictor, finetune, seed), 0)
}

fn journal(dir: &Path, header: JournalHeader, resume: bool) -> Journal<Nb201Cell> {
    if resume {
        Journal::resume(dir, header, &Nb201Space::new()).unwrap()
    } else {
        Journal::create(dir, header).unwrap()
    }
}

/// The NB201 table search: DCL-ENAS with the predictor, budget 60, one at a time.
fn nb201_search(
    dir: &Path,
    seed: u64,
    resume: bool,
    predictor_file: &Path,
) -> SearchHistory<Nb201Cell> {
    let space = Nb201Space::new();
    let table = Nb201Table::embedded().unwrap();
    let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
    let search = DclEnas::new(DclEnasConfig::default());
    let driver = Driver::new(60);
    let header = JournalHeader::new("dcl-enas", &search.config, "nb201", seed, driver);
    let mut journal = journal(dir, header, resume);
    let rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = search
        .start(&space, surrogate(predictor_file, seed), rng)
        .unwrap();
    let mut oracle = CountingOracle::new(table, metric);
    driver
        .run(
            &mut state,
            &space,
            &mut oracle,
            Some(&mut journal),
            &mut |_| {},
        )
        .unwrap()
}

/// Two classes of synthetic signals: a bump up or down, somewhere near the middle.
fn signals(n: usize, seed: u64) -> SignalData {
    use rand::RngExt;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let length = 32;
    let mut data = SignalData {
        length,
        n_features: 1,
        n_classes: 2,
        ..SignalData::default()
    };
    for i in 0..n {
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        let centre = 16.0 + rng.random_range(-4.0..4.0);
        data.signals.extend((0..length).map(|t| {
            sign * (-((t as f32 - centre) / 3.0).powi(2)).exp() + rng.random_range(-0.3..0.3)
        }));
        data.features.push(rng.random_range(-1.0..1.0));
        data.labels.push((i % 2) as u8);
    }
    data
}

/// The real-training search: each query trains a tiny network, two workers, batches of two.
fn cell_search(
    dir: &Path,
    seed: u64,
    resume: bool,
    predictor_file: &Path,
) -> SearchHistory<Nb201Cell> {
    let space = Nb201Space::new();
    let search = DclEnas::new(DclEnasConfig {
        initial: 4,
        infill: 2,
        explore: 1,
        offspring: 30,
        generations: 2,
        ..DclEnasConfig::default()
    });
    let driver = Driver {
        batch_size: 2,
        ..Driver::new(10)
    };
    let header = JournalHeader::new("dcl-enas", &search.config, "nb201", seed, driver);
    let mut journal = journal(dir, header, resume);
    let config = TrainConfig {
        epochs: 2,
        batch_size: 16,
        ..TrainConfig::default()
    };
    let net = NetConfig {
        channels: 4,
        stages: 1,
        ..NetConfig::default()
    };
    let workers = (0..2)
        .map(|_| {
            CellEvaluator::<NdArrayBackend>::new(
                signals(48, 1),
                signals(24, 2),
                net,
                Kernels::default(),
                config.clone(),
                Default::default(),
            )
            .unwrap()
        })
        .collect();
    let mut pool = LocalPool::new(workers, 1).unwrap();
    let rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = search
        .start(&space, surrogate(predictor_file, seed), rng)
        .unwrap();
    driver
        .run(
            &mut state,
            &space,
            &mut pool,
            Some(&mut journal),
            &mut |_| {},
        )
        .unwrap()
}

#[test]
#[ignore = "the child process of the kill tests, which start it themselves"]
fn child_search() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let dir = PathBuf::from(var(CHILD_DIR));
    let seed: u64 = var(CHILD_SEED).parse().unwrap();
    let resume = var(CHILD_RESUME) == "1";
    let predictor = PathBuf::from(var(CHILD_PREDICTOR));
    let history = match var(CHILD_KIND).as_str() {
        "nb201" => nb201_search(&dir, seed, resume, &predictor),
        "cells" => cell_search(&dir, seed, resume, &predictor),
        other => panic!("unknown child kind {other}"),
    };
    history.save_json(dir.join("history.json")).unwrap();
    eprintln!("child done");
}

/// When to kill the child.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// As soon as the journal has this many lines (header included).
    JournalLines(usize),
    /// As soon as refit `n` of this process starts (and, checked, before it ends).
    InRefit(usize),
}

/// The child's stderr lines, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn journal_lines(dir: &Path) -> usize {
    std::fs::read(dir.join(dcl_evo::JOURNAL_FILE))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn spawn(kind: &str, dir: &Path, seed: u64, resume: bool, predictor: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "resume::child_search",
            "--nocapture",
        ])
        .env(CHILD_KIND, kind)
        .env(CHILD_DIR, dir)
        .env(CHILD_SEED, seed.to_string())
        .env(CHILD_RESUME, if resume { "1" } else { "0" })
        .env(CHILD_PREDICTOR, predictor)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs the child until `kill` says, kills it with SIGKILL, and returns whether the kill
/// landed where it was meant to (inside the refit; after the journal line).
fn run_and_kill(
    kind: &str,
    dir: &Path,
    seed: u64,
    resume: bool,
    predictor: &Path,
    kill: Kill,
) -> bool {
    let mut child = spawn(kind, dir, seed, resume, predictor);
    let lines = stderr_lines(&mut child);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut seen = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "the child never reached {kill:?}"
        );
        while let Ok(l) = lines.try_recv() {
            seen.push(l);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended ({status}) before {kill:?}: {seen:?}");
        }
        let hit = match kill {
            Kill::JournalLines(n) => journal_lines(dir) >= n,
            Kill::InRefit(n) => seen.iter().any(|l| *l == format!("refit {n} start")),
        };
        if hit {
            child.kill().unwrap();
            child.wait().unwrap();
            while let Ok(l) = lines.recv_timeout(Duration::from_millis(200)) {
                seen.push(l);
            }
            return match kill {
                Kill::JournalLines(_) => true,
                Kill::InRefit(n) => !seen.iter().any(|l| *l == format!("refit {n} end")),
            };
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn finish(kind: &str, dir: &Path, seed: u64, predictor: &Path) -> SearchHistory<Nb201Cell> {
    let mut child = spawn(kind, dir, seed, true, predictor);
    let lines = stderr_lines(&mut child);
    let status = child.wait().unwrap();
    let seen: Vec<String> = lines.try_iter().collect();
    assert!(status.success(), "the resumed child failed: {seen:?}");
    let json = std::fs::read_to_string(dir.join("history.json")).unwrap();
    serde_json::from_str(&json).unwrap()
}

fn untimed(h: &SearchHistory<Nb201Cell>) -> Vec<(usize, Nb201Cell, f64)> {
    h.queries
        .iter()
        .map(|q| (q.query, q.arch, q.fitness))
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcl-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A predictor pre-trained label-free on 2,000 NB201 cells (quick, but a real stage 1).
fn predictor_file(dir: &Path) -> PathBuf {
    let space = Nb201Space::new();
    let cells: Vec<_> = (0..2000)
        .map(|i| Nb201Cell::from_ordinal(i * 7).unwrap())
        .collect();
    let mut p: Predictor = Predictor::new(&space, ModelConfig::default(), 0).unwrap();
    p.set_training_engine(Engine::Native);
    p.pretrain(
        &space,
        &cells,
        &PretrainConfig {
            epochs: 1,
            ..PretrainConfig::default()
        },
    )
    .unwrap();
    let file = dir.join("predictor.bin");
    p.save(&file).unwrap();
    file
}

/// Kills a search at each point of `kills` in turn (resuming after each), lets the last
/// resumption finish, and compares with an uninterrupted run in this process.
fn kill_and_resume(kind: &str, seed: u64, kills: &[Kill]) {
    let root = temp(&format!("{kind}-{seed}"));
    let predictor = predictor_file(&root);
    let reference_dir = root.join("reference");
    let reference = match kind {
        "nb201" => nb201_search(&reference_dir, seed, false, &predictor),
        _ => cell_search(&reference_dir, seed, false, &predictor),
    };
    let dir = root.join("killed");
    let mut in_refit = 0;
    for (i, &kill) in kills.iter().enumerate() {
        let before = journal_lines(&dir);
        if run_and_kill(kind, &dir, seed, i > 0, &predictor, kill) {
            in_refit += usize::from(matches!(kill, Kill::InRefit(_)));
        }
        assert!(journal_lines(&dir) >= before, "a kill lost journal lines");
    }
    let resumed = finish(kind, &dir, seed, &predictor);
    assert_eq!(untimed(&resumed), untimed(&reference), "{kind} seed {seed}");
    assert_eq!(resumed.len(), reference.len());
    // Nothing journalled was evaluated again: the killed run's journal has exactly the lines of
    // the uninterrupted one (an evaluation cut short by a kill left no line, and was redone).
    assert_eq!(journal_lines(&dir), journal_lines(&reference_dir));
    let refits = kills
        .iter()
        .filter(|k| matches!(k, Kill::InRefit(_)))
        .count();
    assert!(
        refits == 0 || in_refit > 0,
        "no kill landed inside a refit ({refits} tried)"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_table_search_killed_three_times_resumes_to_the_same_history() {
    // Right after the 6th evaluation's line; during the first refit of the resumed process
    // (its replay refits too); after 34 evaluations.
    kill_and_resume(
        "nb201",
        0,
        &[
            Kill::JournalLines(7),
            Kill::InRefit(1),
            Kill::JournalLines(35),
        ],
    );
}

#[test]
fn a_table_search_killed_on_another_seed_resumes_to_the_same_history() {
    kill_and_resume(
        "nb201",
        1,
        &[Kill::InRefit(3), Kill::JournalLines(48), Kill::InRefit(4)],
    );
}

#[test]
fn a_training_search_on_two_workers_killed_twice_resumes_to_the_same_history() {
    kill_and_resume("cells", 2, &[Kill::InRefit(2), Kill::JournalLines(8)]);
}
