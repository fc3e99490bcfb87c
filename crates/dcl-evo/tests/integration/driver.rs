//! The ask/tell strategies under the batch driver: batch 1 is the old `run`, a journal resumes
//! to the same history from any cut, a journal of another run is refused, failures are retried
//! and recorded, and no interleaving of batch sizes pays for a key twice or overspends.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use dcl_evo::{
    DclEnas, DclEnasConfig, Driver, Evaluator, FailureKind, JOURNAL_FILE, Journal, JournalError,
    JournalHeader, RandomSearch, RegularizedEvolution, SearchError, SearchHistory, Strategy,
    Surrogate,
};
use dcl_graph::{Attempt, GraphSpace, Nb201Cell, Nb201Op, Nb201Space, SearchSpace};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn toy(cell: &Nb201Cell) -> f64 {
    cell.ops()
        .iter()
        .enumerate()
        .map(|(i, op)| match op {
            Nb201Op::NorConv3x3 => 2.0 + 0.1 * i as f64,
            Nb201Op::NorConv1x1 => 1.5,
            Nb201Op::SkipConnect if i == 3 => 4.0,
            Nb201Op::SkipConnect => 0.5,
            _ => 0.0,
        })
        .sum()
}

#[derive(Debug, thiserror::Error)]
#[error("evaluator broke on cell {0}")]
struct Broke(usize);

/// The toy fitness; fails the calls `fail_calls` says, and counts calls per cell.
#[derive(Default)]
struct Toy {
    calls: usize,
    per_cell: HashMap<usize, usize>,
    fail: Option<fn(usize, usize, usize) -> bool>,
}

impl Evaluator<Nb201Space> for Toy {
    type Error = Broke;
    fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Broke> {
        self.calls += 1;
        let n = self.per_cell.entry(a.ordinal()).or_default();
        *n += 1;
        if self.fail.is_some_and(|f| f(a.ordinal(), self.calls, *n)) {
            return Err(Broke(a.ordinal()));
        }
        Ok(toy(a))
    }
}

/// A surrogate whose ranking depends on what it learnt, so a wrong replay shows.
struct Learning {
    bias: usize,
}

impl<S: SearchSpace<Arch = Nb201Cell>> Surrogate<S> for Learning {
    type Error = Broke;
    fn score(&mut self, _: &S, archs: &[S::Arch]) -> Result<Vec<f64>, Broke> {
        Ok(archs
            .iter()
            .map(|a| toy(a) + ((a.ordinal() * 31 + self.bias) % 7) as f64 * 0.3)
            .collect())
    }
    fn learn(&mut self, _: &S, labelled: &[(S::Arch, f64)]) -> Result<(), Broke> {
        self.bias = labelled.iter().map(|(a, _)| a.ordinal()).sum::<usize>() % 101;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Random,
    Re,
    Dcl { infill: usize },
}

fn strategy(kind: Kind, space: &Nb201Space, seed: u64) -> Box<dyn Strategy<Nb201Space> + '_> {
    let rng = ChaCha8Rng::seed_from_u64(seed);
    match kind {
        Kind::Random => Box::new(RandomSearch.start(space, rng)),
        Kind::Re => Box::new(RegularizedEvolution::default().start(space, rng).unwrap()),
        Kind::Dcl { infill } => Box::new(
            DclEnas::new(config(infill))
                .start(space, Learning { bias: 0 }, rng)
                .unwrap(),
        ),
    }
}

fn config(infill: usize) -> DclEnasConfig {
    DclEnasConfig {
        infill,
        offspring: 30,
        generations: 2,
        ..Default::default()
    }
}

fn header(kind: Kind, seed: u64, driver: Driver) -> JournalHeader {
    match kind {
        Kind::Random => JournalHeader::new("random", &RandomSearch, "nb201", seed, driver),
        Kind::Re => JournalHeader::new(
            "regularized-evolution",
            &RegularizedEvolution::default(),
            "nb201",
            seed,
            driver,
        ),
        Kind::Dcl { infill } => {
            JournalHeader::new("dcl-enas", &config(infill), "nb201", seed, driver)
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcl-evo-driver-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Queries and failures without their timings.
fn untimed(h: &SearchHistory<Nb201Cell>) -> (Vec<(usize, Nb201Cell, f64)>, Vec<String>) {
    (
        h.queries
            .iter()
            .map(|q| (q.query, q.arch, q.fitness))
            .collect(),
        h.failures
            .iter()
            .map(|f| format!("{} {:?} {}", f.arch, f.failure, f.attempts))
            .collect(),
    )
}

/// `kind` from `seed` under a plain `Driver::new(budget)` on the toy fitness.
fn driven(kind: Kind, seed: u64, budget: usize) -> SearchHistory<Nb201Cell> {
    let space = Nb201Space::new();
    Driver::new(budget)
        .run(
            strategy(kind, &space, seed).as_mut(),
            &space,
            &mut Toy::default(),
            None,
            &mut |_| {},
        )
        .unwrap()
}

#[test]
fn batch_one_under_the_driver_is_the_old_run() {
    let space = Nb201Space::new();
    for seed in 0..5 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let old = RandomSearch
            .run(&space, &mut Toy::default(), 40, &mut rng)
            .unwrap();
        let new = driven(Kind::Random, seed, 40);
        assert_eq!(untimed(&old), untimed(&new));

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let old = RegularizedEvolution::default()
            .run(&space, &mut Toy::default(), 60, &mut rng)
            .unwrap();
        let new = driven(Kind::Re, seed, 60);
        assert_eq!(untimed(&old), untimed(&new));

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let old = DclEnas::new(config(5))
            .run(
                &space,
                &mut Toy::default(),
                &mut Learning { bias: 0 },
                50,
                &mut rng,
            )
            .unwrap();
        let new = driven(Kind::Dcl { infill: 5 }, seed, 50);
        assert_eq!(untimed(&old), untimed(&new));
        assert_eq!(new.strategy, "dcl-enas");
    }
}

/// The journal's lines.
fn lines(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(JOURNAL_FILE))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn journalled(
    kind: Kind,
    driver: Driver,
    seed: u64,
    dir: &std::path::Path,
    evaluator: &mut Toy,
    resume: bool,
) -> Result<SearchHistory<Nb201Cell>, SearchError> {
    let space = Nb201Space::new();
    let h = header(kind, seed, driver);
    let mut journal = if resume {
        Journal::resume(dir, h, &space)?
    } else {
        Journal::create(dir, h)?
    };
    driver.run(
        strategy(kind, &space, seed).as_mut(),
        &space,
        evaluator,
        Some(&mut journal),
        &mut |_| {},
    )
}

#[test]
fn a_journal_cut_anywhere_resumes_to_the_uninterrupted_history() {
    for (kind, batch) in [
        (Kind::Dcl { infill: 5 }, 1),
        (Kind::Dcl { infill: 5 }, 5),
        (Kind::Dcl { infill: 4 }, 3),
        (Kind::Re, 4),
        (Kind::Random, 7),
    ] {
        let driver = Driver {
            batch_size: batch,
            max_attempts: 2,
            ..Driver::new(36)
        };
        // One cell in seven fails every attempt, so failed attempts and retries are journalled
        // too (the same cells in a resumed process: the failure depends on the cell alone).
        let fail: fn(usize, usize, usize) -> bool = |cell, _, _| cell % 7 == 0;
        let dir = temp_dir(&format!("cut-{kind:?}-{batch}"));
        let full = journalled(
            kind,
            driver,
            3,
            &dir,
            &mut Toy {
                fail: Some(fail),
                ..Toy::default()
            },
            false,
        )
        .unwrap();
        assert_eq!(full.len() + full.failures.len(), 36);
        let all = lines(&dir);
        // The header, one line per success, two per failed cell (both attempts).
        assert!(!full.failures.is_empty());
        assert_eq!(all.len(), 1 + full.len() + 2 * full.failures.len());
        for cut in 1..all.len() {
            // Whole lines, and a line torn in the middle.
            for torn in [false, true] {
                let mut text: String = all[..cut].iter().map(|l| format!("{l}\n")).collect();
                if torn {
                    let next = &all[cut];
                    text.push_str(&next[..next.len() / 2]);
                }
                let part = temp_dir(&format!("cut-{kind:?}-{batch}-{cut}-{torn}"));
                std::fs::create_dir_all(&part).unwrap();
                std::fs::write(part.join(JOURNAL_FILE), &text).unwrap();
                let mut e = Toy {
                    fail: Some(fail),
                    ..Toy::default()
                };
                let resumed = journalled(kind, driver, 3, &part, &mut e, true).unwrap();
                assert_eq!(
                    untimed(&resumed),
                    untimed(&full),
                    "{kind:?} batch {batch} cut at line {cut} (torn {torn})"
                );
                // The resumed run wrote exactly the lines still missing.
                let after = lines(&part);
                assert_eq!(after.len(), all.len(), "{kind:?} cut {cut}");
                std::fs::remove_dir_all(&part).unwrap();
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_journal_of_another_run_is_refused_and_a_used_directory_is_not_overwritten() {
    let dir = temp_dir("refuse");
    let kind = Kind::Dcl { infill: 5 };
    let driver = Driver::new(20);
    journalled(kind, driver, 1, &dir, &mut Toy::default(), false).unwrap();
    let before = lines(&dir);

    // A new run in the same directory is refused, and the journal is untouched.
    assert!(matches!(
        journalled(kind, driver, 1, &dir, &mut Toy::default(), false),
        Err(SearchError::Journal(JournalError::Exists(_)))
    ));
    assert_eq!(lines(&dir), before);

    let field = |r: Result<SearchHistory<Nb201Cell>, SearchError>| match r {
        Err(SearchError::Journal(JournalError::Mismatch { field, .. })) => field,
        other => panic!("expected a mismatch, got {other:?}"),
    };
    let space = Nb201Space::new();
    assert_eq!(
        field(journalled(kind, driver, 2, &dir, &mut Toy::default(), true)),
        "seed"
    );
    assert_eq!(
        field(journalled(
            Kind::Dcl { infill: 4 },
            driver,
            1,
            &dir,
            &mut Toy::default(),
            true
        )),
        "strategy_config.infill"
    );
    assert_eq!(
        field(journalled(
            kind,
            Driver {
                batch_size: 2,
                ..driver
            },
            1,
            &dir,
            &mut Toy::default(),
            true
        )),
        "driver.batch_size"
    );
    let with_settings = header(kind, 1, driver).with_settings(&serde_json::json!({"epochs": 3}));
    assert!(matches!(
        Journal::resume(&dir, with_settings, &Nb201Space::new()),
        Err(JournalError::Mismatch { field, .. }) if field == "settings"
    ));

    // The same header, but the application built the strategy from another seed: the replay
    // asks what the journal never evaluated, and says so instead of mixing two runs.
    let mut journal = Journal::resume(&dir, header(kind, 1, driver), &Nb201Space::new()).unwrap();
    let r = driver.run(
        strategy(kind, &space, 99).as_mut(),
        &space,
        &mut Toy::default(),
        Some(&mut journal),
        &mut |_| {},
    );
    assert!(
        matches!(r, Err(SearchError::Journal(JournalError::Diverged { .. }))),
        "{r:?}"
    );

    // Resuming a directory without a journal, or a corrupt middle line, are typed errors.
    assert!(matches!(
        Journal::resume(
            temp_dir("nothing"),
            header(kind, 1, driver),
            &Nb201Space::new()
        ),
        Err(JournalError::Missing(_))
    ));
    let mut text = before.clone();
    text[3] = "{not json".into();
    std::fs::write(dir.join(JOURNAL_FILE), text.join("\n") + "\n").unwrap();
    assert!(matches!(
        Journal::resume(&dir, header(kind, 1, driver), &Nb201Space::new()),
        Err(JournalError::Corrupt { line: 4, .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failures_are_retried_then_recorded_and_the_search_finishes() {
    let space = Nb201Space::new();
    // Every third call fails: with two attempts, a cell fails for good only if both of its
    // attempts land on a multiple of three, which cannot happen for consecutive calls; with
    // one attempt, every third cell fails.
    let every_third: fn(usize, usize, usize) -> bool = |_, calls, _| calls % 3 == 0;
    for (attempts, count_failures) in [(1, true), (1, false), (2, true)] {
        let driver = Driver {
            max_attempts: attempts,
            count_failures,
            ..Driver::new(30)
        };
        let mut e = Toy {
            fail: Some(every_third),
            ..Toy::default()
        };
        let h = driver
            .run(
                strategy(Kind::Dcl { infill: 5 }, &space, 4).as_mut(),
                &space,
                &mut e,
                None,
                &mut |_| {},
            )
            .unwrap();
        for f in &h.failures {
            assert_eq!(f.failure.kind, FailureKind::Error);
            assert_eq!(f.attempts, attempts);
            assert_eq!(
                f.failure.message,
                format!("evaluator broke on cell {}", f.arch.ordinal())
            );
        }
        if attempts == 1 {
            assert!(!h.failures.is_empty());
        } else {
            assert!(
                h.failures.is_empty(),
                "a retry after a failure always succeeds here"
            );
        }
        let spent = h.len() + if count_failures { h.failures.len() } else { 0 };
        assert_eq!(
            spent, 30,
            "attempts {attempts} count_failures {count_failures}"
        );
        // No failed cell is ever evaluated again, nor learnt as a fitness.
        let ok: HashSet<_> = h.queries.iter().map(|q| q.arch).collect();
        assert!(h.failures.iter().all(|f| !ok.contains(&f.arch)));
        if attempts == 1 {
            assert_eq!(e.calls, h.len() + h.failures.len());
        }
        assert!(e.per_cell.values().all(|&n| n <= attempts as usize));
    }

    // The first two attempts of one cell fail: with three attempts it succeeds on the third.
    let driver = Driver {
        max_attempts: 3,
        ..Driver::new(12)
    };
    let first_cell = strategy(Kind::Random, &space, 8).ask(1).unwrap()[0];
    let e = Toy::default();
    struct TwiceBroken(Toy, usize);
    impl Evaluator<Nb201Space> for TwiceBroken {
        type Error = Broke;
        fn evaluate(&mut self, s: &Nb201Space, a: &Nb201Cell) -> Result<f64, Broke> {
            let r = self.0.evaluate(s, a)?;
            if a.ordinal() == self.1 && self.0.per_cell[&a.ordinal()] <= 2 {
                return Err(Broke(a.ordinal()));
            }
            Ok(r)
        }
    }
    let mut twice = TwiceBroken(e, first_cell.ordinal());
    let h = driver
        .run(
            strategy(Kind::Random, &space, 8).as_mut(),
            &space,
            &mut twice,
            None,
            &mut |_| {},
        )
        .unwrap();
    assert!(h.failures.is_empty());
    assert_eq!(h.queries[0].arch, first_cell);
    assert_eq!(twice.0.per_cell[&first_cell.ordinal()], 3);
    assert_eq!(h.len(), 12);
}

#[test]
fn a_non_finite_fitness_is_a_failure_not_a_fitness() {
    struct NanOnOdd;
    impl Evaluator<Nb201Space> for NanOnOdd {
        type Error = std::convert::Infallible;
        fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Self::Error> {
            Ok(if a.ordinal() % 2 == 1 { f64::NAN } else { 1.0 })
        }
    }
    let space = Nb201Space::new();
    let driver = Driver {
        max_attempts: 1,
        ..Driver::new(20)
    };
    let h = driver
        .run(
            strategy(Kind::Re, &space, 0).as_mut(),
            &space,
            &mut NanOnOdd,
            None,
            &mut |_| {},
        )
        .unwrap();
    assert!(!h.failures.is_empty());
    assert!(
        h.failures
            .iter()
            .all(|f| f.failure.kind == FailureKind::NonFinite)
    );
    assert!(h.queries.iter().all(|q| q.fitness == 1.0));
    assert_eq!(h.len() + h.failures.len(), 20);
}

#[test]
fn bad_driver_settings_are_refused_before_any_evaluation() {
    let space = Nb201Space::new();
    for bad in [
        Driver::new(0),
        Driver {
            batch_size: 0,
            ..Driver::new(5)
        },
        Driver {
            max_attempts: 0,
            ..Driver::new(5)
        },
    ] {
        let mut e = Toy::default();
        let r = bad.run(
            strategy(Kind::Random, &space, 0).as_mut(),
            &space,
            &mut e,
            None,
            &mut |_| {},
        );
        assert!(matches!(r, Err(SearchError::Config(_))), "{bad:?}");
        assert_eq!(e.calls, 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// 48 cases: random batch sizes, budgets, seeds and failure patterns, under the driver and
    /// under a hand-written loop whose ask sizes change at every step.
    #[test]
    fn no_interleaving_of_batches_pays_twice_or_overspends(
        kind in 0usize..3,
        batch in 1usize..12,
        budget in 1usize..70,
        seed in 0u64..1000,
        fail_mod in 2usize..9,
        sizes in proptest::collection::vec(1usize..9, 1..40),
    ) {
        let space = Nb201Space::new();
        let kind = [Kind::Random, Kind::Re, Kind::Dcl { infill: 5 }][kind];
        static FAIL_MOD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(3);
        FAIL_MOD.store(fail_mod, std::sync::atomic::Ordering::SeqCst);
        let fail: fn(usize, usize, usize) -> bool =
            |_, calls, _| calls % FAIL_MOD.load(std::sync::atomic::Ordering::SeqCst) == 0;
        let driver = Driver { batch_size: batch, max_attempts: 2, ..Driver::new(budget) };
        let mut e = Toy { fail: Some(fail), ..Toy::default() };
        let h = driver
            .run(strategy(kind, &space, seed).as_mut(), &space, &mut e, None, &mut |_| {})
            .unwrap();
        prop_assert!(h.len() + h.failures.len() <= budget);
        prop_assert_eq!(h.len() + h.failures.len(), budget);
        prop_assert!(e.per_cell.values().all(|&n| n <= 2), "a key paid for more than its attempts");
        let keys: HashSet<_> = h.queries.iter().map(|q| space.key(&q.arch)).chain(h.failures.iter().map(|f| space.key(&f.arch))).collect();
        prop_assert_eq!(keys.len(), h.len() + h.failures.len());

        // A hand-written loop with changing ask sizes: never a repeated key, never more than
        // asked for.
        let mut s = strategy(kind, &space, seed);
        let mut seen = HashSet::new();
        let mut spent = 0;
        for &n in sizes.iter().cycle().take(200) {
            if spent >= budget {
                break;
            }
            let n = n.min(budget - spent);
            let asked = s.ask(n).unwrap();
            prop_assert!(asked.len() <= n);
            if asked.is_empty() {
                prop_assert!(s.is_finished());
                break;
            }
            let told: Vec<_> = asked
                .into_iter()
                .map(|a| {
                    let outcome = if a.ordinal() % fail_mod == 0 {
                        Err(dcl_graph::Failure::new(FailureKind::Crash, "test"))
                    } else {
                        Ok(toy(&a))
                    };
                    (a, outcome)
                })
                .collect();
            for (a, _) in &told {
                prop_assert!(seen.insert(space.key(a)), "asked {} twice", a);
            }
            spent += told.len();
            s.tell(&told).unwrap();
        }
    }
}

#[test]
fn telling_what_was_not_asked_is_an_error() {
    let space = Nb201Space::new();
    let mut s = strategy(Kind::Random, &space, 0);
    let a = s.ask(1).unwrap()[0];
    let other = Nb201Cell::from_ordinal((a.ordinal() + 1) % 15625).unwrap();
    assert!(matches!(
        s.tell(&[(other, Ok(1.0))]),
        Err(SearchError::NotAsked(_))
    ));
    s.tell(&[(a, Ok(1.0))]).unwrap();
    assert!(matches!(
        s.tell(&[(a, Ok(1.0))]),
        Err(SearchError::NotAsked(_))
    ));
    assert_eq!(s.best(), Some((&a, 1.0)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// 200 cases: a real journal cut, with a byte flipped and arbitrary bytes appended. Reading
    /// it never panics: a typed error, or records that are a prefix-with-edits of the file.
    #[test]
    fn a_damaged_journal_is_a_typed_error_or_readable(
        cut in 0usize..4000,
        flip in 0usize..4000,
        bit in 0u8..8,
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        static ORIGINAL: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let original = ORIGINAL.get_or_init(|| {
            let dir = temp_dir("damage-original");
            journalled(Kind::Re, Driver::new(25), 5, &dir, &mut Toy::default(), false).unwrap();
            let bytes = std::fs::read(dir.join(JOURNAL_FILE)).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            bytes
        });
        let mut bytes = original[..cut.min(original.len())].to_vec();
        if !bytes.is_empty() {
            let i = flip % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        bytes.extend_from_slice(&tail);
        let dir = temp_dir(&format!("damage-{cut}-{flip}-{bit}-{}", tail.len()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(JOURNAL_FILE), &bytes).unwrap();
        match Journal::<Nb201Cell>::read(&dir) {
            Ok((_, records)) => prop_assert!(records.len() <= 25),
            Err(JournalError::Corrupt { .. } | JournalError::Format { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A finished 12-query journal (with failures and retries), written once; its bytes.
fn valid_journal() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = temp_dir("fuzz-source");
        let _ = std::fs::remove_dir_all(&dir);
        let driver = Driver {
            batch_size: 3,
            max_attempts: 2,
            ..Driver::new(12)
        };
        let mut toy = Toy {
            calls: 0,
            per_cell: HashMap::new(),
            fail: Some(|cell, _, _| cell % 5 == 0),
        };
        journalled(Kind::Dcl { infill: 3 }, driver, 3, &dir, &mut toy, false).unwrap();
        let bytes = std::fs::read(dir.join(JOURNAL_FILE)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        bytes
    })
}

static FUZZ_CASE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Reads `bytes` as a journal; if it reads, every record is of a valid cell, and resuming the
/// journal under its own header also opens it (a second reader agrees with the first).
fn read_journal(bytes: &[u8]) -> Result<(), TestCaseError> {
    let n = FUZZ_CASE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = temp_dir(&format!("fuzz-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(JOURNAL_FILE), bytes).unwrap();
    if let Ok((header, records)) = Journal::<Nb201Cell>::read(&dir) {
        for r in &records {
            prop_assert!(Nb201Space::new().to_graph(&r.arch).is_ok());
        }
        let resumed = Journal::resume(&dir, header, &Nb201Space::new());
        prop_assert!(resumed.is_ok(), "{:?}", resumed.err());
        prop_assert_eq!(resumed.unwrap().records().len(), records.len());
    }
    std::fs::remove_dir_all(&dir).unwrap();
    Ok(())
}

proptest! {
    // 256 cases each: a journal and a history JSON as arbitrary bytes, and valid ones
    // truncated, bit-flipped, with a byte overwritten or two lines swapped. Each reads to a
    // typed error or to records of valid cells.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn journals_of_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        read_journal(&bytes)?;
    }

    #[test]
    fn journals_mutated(how in 0u8..4, at: prop::sample::Index, bit in 0u8..8, byte: u8, other: prop::sample::Index) {
        let mut bytes = valid_journal().to_vec();
        let i = at.index(bytes.len());
        match how {
            0 => bytes.truncate(i),
            1 => bytes[i] ^= 1 << bit,
            2 => bytes[i] = byte,
            _ => {
                let text = String::from_utf8(bytes.clone()).unwrap();
                let mut lines: Vec<&str> = text.lines().collect();
                let (a, b) = (at.index(lines.len()), other.index(lines.len()));
                lines.swap(a, b);
                bytes = (lines.join("\n") + "\n").into_bytes();
            }
        }
        read_journal(&bytes)?;
    }

    #[test]
    fn history_json_mutated(how in 0u8..3, at: prop::sample::Index, bit in 0u8..8, byte: u8) {
        let space = Nb201Space::new();
        let h = RandomSearch
            .run(&space, &mut Toy { calls: 0, per_cell: HashMap::new(), fail: None }, 4, &mut ChaCha8Rng::seed_from_u64(1))
            .unwrap();
        let mut json = h.to_json().unwrap().into_bytes();
        let i = at.index(json.len());
        match how {
            0 => json.truncate(i),
            1 => json[i] ^= 1 << bit,
            _ => json[i] = byte,
        }
        if let Ok(back) = serde_json::from_slice::<SearchHistory<Nb201Cell>>(&json) {
            for q in &back.queries {
                prop_assert!(space.to_graph(&q.arch).is_ok());
            }
            let again = back.to_json().unwrap();
            prop_assert_eq!(serde_json::from_str::<SearchHistory<Nb201Cell>>(&again).unwrap(), back);
        }
    }

    #[test]
    fn history_json_of_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(h) = serde_json::from_slice::<SearchHistory<Nb201Cell>>(&bytes) {
            for q in &h.queries {
                prop_assert!(Nb201Space::new().to_graph(&q.arch).is_ok());
            }
        }
    }
}

/// The toy evaluator, but a batch's outcomes arrive last first (as workers may finish).
struct Reversed(Toy);

impl Evaluator<Nb201Space> for Reversed {
    type Error = Broke;
    fn evaluate(&mut self, s: &Nb201Space, a: &Nb201Cell) -> Result<f64, Broke> {
        self.0.evaluate(s, a)
    }
    fn evaluate_batch(
        &mut self,
        s: &Nb201Space,
        archs: &[Nb201Cell],
        done: &mut dyn FnMut(usize, Result<f64, Broke>, Attempt),
    ) {
        for (i, a) in archs.iter().enumerate().rev() {
            let r = self.0.evaluate(s, a);
            done(
                i,
                r,
                Attempt {
                    seconds: 0.5,
                    job_id: Some(format!("7_{i}")),
                    ..Attempt::default()
                },
            );
        }
    }
}

#[test]
fn the_history_rebuilt_from_a_journal_is_the_runs() {
    let space = Nb201Space::new();
    let every_fourth: fn(usize, usize, usize) -> bool = |_, calls, _| calls % 4 == 0;
    for (kind, batch, attempts) in [
        (Kind::Dcl { infill: 5 }, 3, 1),
        (Kind::Re, 4, 2),
        (Kind::Random, 1, 1),
    ] {
        let driver = Driver {
            batch_size: batch,
            max_attempts: attempts,
            ..Driver::new(25)
        };
        let dir = temp_dir(&format!("rebuilt-{batch}"));
        let mut journal = Journal::create(&dir, header(kind, 3, driver)).unwrap();
        let mut e = Reversed(Toy {
            fail: Some(every_fourth),
            ..Toy::default()
        });
        let ran = driver
            .run(
                strategy(kind, &space, 3).as_mut(),
                &space,
                &mut e,
                Some(&mut journal),
                &mut |_| {},
            )
            .unwrap();
        if attempts == 1 {
            assert!(
                !ran.failures.is_empty(),
                "{kind:?}: the test needs failures"
            );
        }
        let (h, records) = Journal::<Nb201Cell>::read(&dir).unwrap();
        // The executor's job ids reach the journal, one per attempt.
        assert!(
            records
                .iter()
                .all(|r| r.job_id.as_deref().is_some_and(|j| j.starts_with("7_")))
        );
        if batch > 1 {
            // Completion order is not ask order, so the slots are what restores it.
            let first: Vec<_> = records.iter().map(|r| r.arch).take(batch).collect();
            assert_ne!(
                first,
                ran.queries
                    .iter()
                    .map(|q| q.arch)
                    .take(batch)
                    .collect::<Vec<_>>()
            );
        }
        let rebuilt = SearchHistory::from_journal(&h, &records);
        assert_eq!(untimed(&rebuilt), untimed(&ran), "{kind:?} batch {batch}");
        assert_eq!(rebuilt.strategy, ran.strategy);
        assert!((rebuilt.evaluator_seconds - ran.evaluator_seconds).abs() < 1e-9);

        // Without slots (an older journal) a batch of one is still in order.
        if batch == 1 {
            let unslotted: Vec<_> = records
                .iter()
                .cloned()
                .map(|mut r| {
                    r.slot = None;
                    r
                })
                .collect();
            assert_eq!(
                untimed(&SearchHistory::from_journal(&h, &unslotted)),
                untimed(&ran)
            );
        }
        // A journal cut short gives the history so far: a prefix of the run's.
        let cut = SearchHistory::from_journal(&h, &records[..records.len() / 2]);
        assert!(cut.len() < ran.len());
        let (q, _) = untimed(&cut);
        let (all, _) = untimed(&ran);
        assert_eq!(
            q[..q.len().saturating_sub(batch)],
            all[..q.len().saturating_sub(batch)]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn curves_and_statistics() {
    let h = driven(Kind::Random, 2, 20);
    let best = h.best_so_far();
    assert_eq!(h.reported_curve(toy, 20), best);
    // A reported column follows the best by fitness, not its own best.
    let other = h.reported_curve(|a| -toy(a), 25);
    assert_eq!(other.len(), 25);
    assert_eq!(other[..20], best.iter().map(|b| -b).collect::<Vec<_>>()[..]);
    assert!(other[20..].iter().all(|&x| x == other[19]));
    assert_eq!(h.reported_curve(toy, 5), best[..5]);
    let (m, s) = dcl_evo::mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_eq!(m, 5.0);
    assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    assert_eq!(dcl_evo::mean_std(&[3.0]), (3.0, 0.0));
    assert!(dcl_evo::mean_std(&[]).0.is_nan());
    assert_eq!(dcl_evo::median(&[5.0, 1.0, 3.0]), 3.0);
    assert_eq!(dcl_evo::median(&[f64::INFINITY, 1.0]), f64::INFINITY);
    assert!(dcl_evo::median(&[]).is_nan());
}

/// Measures a "latency" that grows with every call, so a second measurement of the same
/// architecture would give another value.
struct Timed {
    calls: usize,
}

impl Evaluator<Nb201Space> for Timed {
    type Error = std::convert::Infallible;

    fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Self::Error> {
        Ok(toy(a))
    }

    fn evaluate_with_objectives(
        &mut self,
        s: &Nb201Space,
        a: &Nb201Cell,
    ) -> Result<(f64, dcl_graph::Objectives), Self::Error> {
        self.calls += 1;
        let objectives = [("latency_ms".to_owned(), self.calls as f64)].into();
        Ok((self.evaluate(s, a)?, objectives))
    }
}

#[test]
fn measured_objectives_are_journalled_and_replayed_never_measured_again() {
    let space = Nb201Space::new();
    let dir = temp_dir("objectives");
    let kind = Kind::Re;
    let first = Driver {
        batch_size: 2,
        ..Driver::new(10)
    };
    let mut timed = Timed { calls: 0 };
    let mut journal = Journal::create(&dir, header(kind, 5, first)).unwrap();
    let ran = first
        .run(
            strategy(kind, &space, 5).as_mut(),
            &space,
            &mut timed,
            Some(&mut journal),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(timed.calls, 10);
    let measured: Vec<f64> = ran
        .queries
        .iter()
        .map(|q| q.objectives["latency_ms"])
        .collect();
    let mut sorted = measured.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, (1..=10).map(f64::from).collect::<Vec<_>>());
    let (h, records) = Journal::<Nb201Cell>::read(&dir).unwrap();
    assert!(
        records
            .iter()
            .all(|r| r.objectives.contains_key("latency_ms"))
    );
    assert!(lines(&dir)[1].contains("\"objectives\":{\"latency_ms\":"));
    let rebuilt = SearchHistory::from_journal(&h, &records);
    assert_eq!(
        rebuilt
            .queries
            .iter()
            .map(|q| q.objectives["latency_ms"])
            .collect::<Vec<_>>(),
        measured
    );
    drop(journal);

    // Killed after six evaluations (the journal cut there), resumed on an evaluator whose
    // clock has moved on: the six journalled architectures keep their latencies, only the
    // four others are measured.
    let kept: Vec<String> = lines(&dir).into_iter().take(7).collect();
    std::fs::write(dir.join(JOURNAL_FILE), kept.join("\n") + "\n").unwrap();
    let mut later = Timed { calls: 1000 };
    let mut journal = Journal::resume(&dir, header(kind, 5, first), &Nb201Space::new()).unwrap();
    let resumed = first
        .run(
            strategy(kind, &space, 5).as_mut(),
            &space,
            &mut later,
            Some(&mut journal),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(later.calls, 1004);
    assert_eq!(untimed(&resumed), untimed(&ran));
    let latencies: Vec<f64> = resumed
        .queries
        .iter()
        .map(|q| q.objectives["latency_ms"])
        .collect();
    let journalled: Vec<f64> = records[..6]
        .iter()
        .map(|r| r.objectives["latency_ms"])
        .collect();
    for r in &records[..6] {
        let q = resumed.queries.iter().find(|q| q.arch == r.arch).unwrap();
        assert_eq!(q.objectives["latency_ms"], r.objectives["latency_ms"]);
    }
    assert_eq!(
        latencies.iter().filter(|&&l| l > 1000.0).count(),
        4,
        "{latencies:?} {journalled:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a test's tracing lines say, captured while `f` runs on this thread.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[test]
fn every_strategy_ends_a_search_that_uses_up_a_tiny_space_with_a_line() {
    use dcl_evo::{FnEvaluator, MultiObjective, Nsga2};
    use dcl_graph::Subspace;
    // 36 cells spread over the table, so that few mutations of one land on another.
    let cells: Vec<Nb201Cell> = (0..36)
        .map(|i| Nb201Cell::from_ordinal(i * 433).unwrap())
        .collect();
    let space = Subspace::new(Nb201Space::new(), cells).unwrap();
    let names = ["random", "re", "dcl-enas", "nsga2", "dcl-enas-mo"];
    for batch in [1, 2, 3, 5, 8, 40] {
        for (k, name) in names.iter().enumerate() {
            let rng = ChaCha8Rng::seed_from_u64(batch as u64);
            let cost = || |a: &Nb201Cell| a.ordinal() as f64;
            let mut strategy: Box<dyn Strategy<Subspace<Nb201Space>> + '_> = match k {
                0 => Box::new(RandomSearch.start(&space, rng)),
                1 => Box::new(RegularizedEvolution::default().start(&space, rng).unwrap()),
                2 => Box::new(
                    DclEnas::new(config(5))
                        .start(&space, Learning { bias: 0 }, rng)
                        .unwrap(),
                ),
                3 => Box::new(Nsga2::default().start(&space, cost(), rng).unwrap()),
                _ => Box::new(
                    DclEnas::new(config(5))
                        .start_multiobjective(
                            &space,
                            Learning { bias: 0 },
                            cost(),
                            MultiObjective::default(),
                            rng,
                        )
                        .unwrap(),
                ),
            };
            let dir = temp_dir(&format!("used-up-{name}-{batch}"));
            let driver = Driver {
                batch_size: batch,
                ..Driver::new(100)
            };
            let header = JournalHeader::new(name, &(), "tiny", 0, driver);
            let mut journal = Journal::create(&dir, header).unwrap();
            let (history, log) = logged(|| {
                driver
                    .run(
                        strategy.as_mut(),
                        &space,
                        &mut FnEvaluator::new(|a: &Nb201Cell| toy(a)),
                        Some(&mut journal),
                        &mut |_| {},
                    )
                    .unwrap()
            });
            let case = format!("{name}, batch {batch}");
            assert_eq!(history.len(), 36, "{case}");
            let keys: HashSet<_> = history.queries.iter().map(|q| q.arch).collect();
            assert_eq!(keys.len(), 36, "{case}: an architecture asked twice");
            assert!(strategy.is_finished(), "{case}");
            assert!(strategy.ask(4).unwrap().is_empty(), "{case}");
            assert_eq!(
                log.matches("the search space is used up").count(),
                1,
                "{case}: {log}"
            );
            assert!(
                log.contains("after 36 of its budget of 100"),
                "{case}: {log}"
            );
            // The run directory is complete: its journal rebuilds the same history.
            let (h, records) = Journal::<Nb201Cell>::read(&dir).unwrap();
            assert_eq!(
                untimed(&SearchHistory::from_journal(&h, &records)),
                untimed(&history),
                "{case}"
            );
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
    // A budget the space holds exactly is spent with no such line.
    let mut search = RandomSearch.start(&space, ChaCha8Rng::seed_from_u64(0));
    let (history, log) = logged(|| {
        Driver::new(36)
            .run(
                &mut search,
                &space,
                &mut FnEvaluator::new(|a: &Nb201Cell| toy(a)),
                None,
                &mut |_| {},
            )
            .unwrap()
    });
    assert_eq!(history.len(), 36);
    assert!(!log.contains("used up"), "{log}");
}
