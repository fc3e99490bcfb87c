//! [`Session`]: a strategy driven by someone else's loop (ask, evaluate however you like,
//! tell), with every outcome journalled so that the search resumes where it stopped.

use std::collections::{BTreeMap, HashMap};

use dcl_graph::SearchSpace;
use serde::Serialize;

use crate::SearchError;
use crate::journal::{EvaluationRecord, Journal, JournalError};
use crate::strategy::{Outcome, SpaceRef, Strategy};

/// An ask/tell search held by an application's own loop (a notebook, another framework, a
/// Python front): [`ask`](Self::ask) and [`tell`](Self::tell) as the [`Strategy`]'s, plus
/// the book-keeping such a loop needs. Outcomes may be told one at a time, in any order, with
/// asks in between; a fitness must be finite ([`SearchError::NotFinite`]) and only an asked,
/// untold architecture may be told ([`SearchError::NotAsked`]), both refused before anything
/// is written.
///
/// With a [`Journal`] every outcome is appended and synced before the strategy learns it,
/// with how many architectures had been asked at that moment
/// ([`EvaluationRecord::asks_before`]). Opening a session on a journal that holds records
/// replays them: the strategy is asked one architecture at a time up to each record's count
/// and told the record's outcome, so the session comes back in the state the journalled loop
/// left it in and asks, from then on, what that loop would have asked. This rests on two
/// properties every strategy of this crate has: `ask(n)` equals `n` calls of `ask(1)` when
/// nothing is told in between, and telling outcomes together equals telling them one by one
/// in the same order. Architectures asked after the last outcome told are not replayed: the
/// next `ask` proposes them again (those asked before it are [`pending`](Self::pending)).
///
/// ```
/// use dcl_evo::{RegularizedEvolution, Session};
/// use dcl_graph::{Nb201Op, Nb201Space};
/// use rand::SeedableRng;
///
/// let space = Nb201Space::new();
/// let rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
/// let strategy = RegularizedEvolution::default().start(&space, rng).unwrap();
/// let mut session = Session::new(&space, Box::new(strategy));
/// for _ in 0..5 {
///     for cell in session.ask(2).unwrap() {
///         let convs = cell.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count();
///         session.tell(&cell, Ok(convs as f64), 0.0).unwrap();
///     }
/// }
/// assert_eq!(session.told().len(), 10);
/// assert!(session.best().unwrap().1 >= 0.0);
/// ```
pub struct Session<'s, S: SearchSpace> {
    space: SpaceRef<'s, S>,
    strategy: Box<dyn Strategy<S> + Send + 's>,
    journal: Option<Journal<S::Arch>>,
    asked: u64,
    /// Asked and not told yet: each architecture with its 0-based position among the asks.
    pending: HashMap<S::Key, (u64, S::Arch)>,
    told: Vec<(S::Arch, Outcome)>,
    replayed: usize,
}

impl<S: SearchSpace> std::fmt::Debug for Session<'_, S>
where
    S::Arch: Serialize,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("space", &self.space.name())
            .field("strategy", &self.strategy.name())
            .field(
                "journal",
                &self.journal.as_ref().map(|j| j.path().to_owned()),
            )
            .field("asked", &self.asked)
            .field("pending", &self.pending.len())
            .field("told", &self.told.len())
            .field("replayed", &self.replayed)
            .finish()
    }
}

impl<'s, S: SearchSpace> Session<'s, S>
where
    S::Arch: Serialize,
{
    /// A session of `strategy` on `space` (the space the strategy was started on), without a
    /// journal.
    pub fn new(
        space: impl Into<SpaceRef<'s, S>>,
        strategy: Box<dyn Strategy<S> + Send + 's>,
    ) -> Self {
        Self {
            space: space.into(),
            strategy,
            journal: None,
            asked: 0,
            pending: HashMap::new(),
            told: Vec::new(),
            replayed: 0,
        }
    }

    /// A session whose outcomes go to `journal`; the records it already holds (a resumed
    /// journal) are replayed first. `strategy` must be freshly started, with the settings and
    /// seed of the run that wrote the journal (its header says which: compare it before).
    ///
    /// # Errors
    /// [`JournalError::NoAskCount`] for a journal a [`Driver`](crate::Driver) wrote,
    /// [`JournalError::Unasked`] when the replayed strategy does not ask what a record tells
    /// (other settings or code), and the strategy's own errors.
    pub fn with_journal(
        space: impl Into<SpaceRef<'s, S>>,
        strategy: Box<dyn Strategy<S> + Send + 's>,
        journal: Journal<S::Arch>,
    ) -> Result<Self, SearchError> {
        let mut session = Self::new(space, strategy);
        let records = journal.records().to_vec();
        for (i, r) in records.into_iter().enumerate() {
            let asks_before = r
                .asks_before
                .ok_or(JournalError::NoAskCount { record: i + 1 })?;
            while session.asked < asks_before {
                if session.ask(1)?.is_empty() {
                    break;
                }
            }
            let outcome = match (r.fitness, r.failure) {
                (Some(f), _) => Ok(f),
                (None, Some(failure)) => Err(failure),
                (None, None) => {
                    return Err(JournalError::Corrupt {
                        path: journal.path().to_owned(),
                        line: i + 2,
                        message: "a record with neither fitness nor failure".into(),
                    }
                    .into());
                }
            };
            let key = session.space.key(&r.arch);
            if !session.pending.contains_key(&key) {
                return Err(JournalError::Unasked {
                    record: i + 1,
                    arch: session.space.arch_text(&r.arch),
                }
                .into());
            }
            session.learn(&key, outcome)?;
        }
        session.replayed = session.told.len();
        session.journal = Some(journal);
        Ok(session)
    }

    /// Up to `n` architectures never asked before (fewer, or none, when the strategy must
    /// first be told outcomes, or when the space is used up: [`is_finished`](Self::is_finished)).
    pub fn ask(&mut self, n: usize) -> Result<Vec<S::Arch>, SearchError> {
        let archs = self.strategy.ask(n)?;
        for a in &archs {
            self.pending
                .insert(self.space.key(a), (self.asked, a.clone()));
            self.asked += 1;
        }
        Ok(archs)
    }

    /// Tells the outcome of `arch` (asked, not told yet), after `seconds` of evaluation:
    /// journalled first, then learnt by the strategy.
    pub fn tell(
        &mut self,
        arch: &S::Arch,
        outcome: Outcome,
        seconds: f64,
    ) -> Result<(), SearchError> {
        let key = self.space.key(arch);
        let Some((slot, asked)) = self.pending.get(&key) else {
            return Err(SearchError::NotAsked(self.space.arch_text(arch)));
        };
        if let Ok(f) = outcome
            && !f.is_finite()
        {
            return Err(SearchError::NotFinite {
                arch: self.space.arch_text(arch),
                fitness: f,
            });
        }
        if let Some(journal) = &mut self.journal {
            journal.append(EvaluationRecord {
                arch: asked.clone(),
                key: self.space.key_text(&key),
                attempt: 1,
                fitness: outcome.as_ref().ok().copied(),
                failure: outcome.as_ref().err().cloned(),
                seconds: if seconds.is_finite() { seconds } else { 0.0 },
                objectives: BTreeMap::new(),
                job_id: None,
                log: None,
                slot: Some(*slot),
                asks_before: Some(self.asked),
            })?;
        }
        self.learn(&key, outcome)
    }

    /// Tells the strategy the outcome of the pending architecture with `key`.
    fn learn(&mut self, key: &S::Key, outcome: Outcome) -> Result<(), SearchError> {
        let (_, arch) = self
            .pending
            .remove(key)
            .expect("the caller checked the architecture is pending");
        self.strategy.tell(&[(arch.clone(), outcome.clone())])?;
        self.told.push((arch, outcome));
        Ok(())
    }

    /// The best architecture told so far, with its fitness.
    pub fn best(&self) -> Option<(&S::Arch, f64)> {
        self.strategy.best()
    }

    /// Every outcome told, in the order told (the replayed ones first).
    pub fn told(&self) -> &[(S::Arch, Outcome)] {
        &self.told
    }

    /// How many of [`told`](Self::told) came from the journal.
    pub fn replayed(&self) -> usize {
        self.replayed
    }

    /// Architectures asked and not told yet, in the order asked.
    pub fn pending(&self) -> Vec<&S::Arch> {
        let mut p: Vec<_> = self.pending.values().collect();
        p.sort_by_key(|(slot, _)| *slot);
        p.into_iter().map(|(_, a)| a).collect()
    }

    /// How many architectures were asked in all (the replayed ones included).
    pub fn asked(&self) -> u64 {
        self.asked
    }

    /// Whether the strategy has nothing more to ask (the space is used up).
    pub fn is_finished(&self) -> bool {
        self.strategy.is_finished()
    }

    /// The strategy's name.
    pub fn strategy_name(&self) -> &str {
        self.strategy.name()
    }

    /// The space.
    pub fn space(&self) -> &S {
        &self.space
    }

    /// The journal, when there is one.
    pub fn journal(&self) -> Option<&Journal<S::Arch>> {
        self.journal.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        DclEnas, DclEnasConfig, Driver, JournalHeader, RandomSearch, RegularizedEvolution,
    };
    use dcl_graph::{Failure, FailureKind, Nb201Cell, Nb201Op, Nb201Space, Surrogate};
    use proptest::prelude::{ProptestConfig, prop, prop_assert_eq, prop_oneof, proptest};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn fitness(c: &Nb201Cell) -> f64 {
        c.ops()
            .iter()
            .enumerate()
            .map(|(i, o)| (i as f64 + 1.0) * f64::from(*o == Nb201Op::NorConv3x3))
            .sum()
    }

    /// Scores by the number of 1x1 convolutions: cheap, deterministic, learns nothing.
    struct Conv1;
    impl Surrogate<Nb201Space> for Conv1 {
        type Error = std::convert::Infallible;
        fn score(&mut self, _: &Nb201Space, a: &[Nb201Cell]) -> Result<Vec<f64>, Self::Error> {
            Ok(a.iter()
                .map(|c| {
                    c.ops()
                        .iter()
                        .filter(|o| **o == Nb201Op::NorConv1x1)
                        .count() as f64
                })
                .collect())
        }
        fn learn(&mut self, _: &Nb201Space, _: &[(Nb201Cell, f64)]) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    fn strategy(which: u8, space: &Nb201Space) -> Box<dyn Strategy<Nb201Space> + Send + '_> {
        let rng = ChaCha8Rng::seed_from_u64(11);
        match which {
            0 => Box::new(RandomSearch.start(space, rng)),
            1 => Box::new(
                RegularizedEvolution {
                    population_size: 6,
                    sample_size: 3,
                }
                .start(space, rng)
                .unwrap(),
            ),
            _ => Box::new(
                DclEnas::new(DclEnasConfig {
                    initial: 5,
                    population: 8,
                    generations: 2,
                    offspring: 4,
                    infill: 3,
                    explore: 1,
                    ..DclEnasConfig::default()
                })
                .start(space, Conv1, rng)
                .unwrap(),
            ),
        }
    }

    fn header() -> JournalHeader {
        JournalHeader::new("test", &(), "nb201", 11, Driver::new(0))
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let d = std::env::temp_dir().join(format!(
            "dcl-evo-session-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// One step of a user's loop: ask `n`, or tell the pending architecture at `i` (modulo
    /// the pending count), a failure when `fail`.
    #[derive(Debug, Clone)]
    enum Step {
        Ask(usize),
        Tell { i: usize, fail: bool },
    }

    fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
        prop::collection::vec(
            prop_oneof![
                proptest::strategy::Strategy::prop_map(1usize..5, Step::Ask),
                proptest::strategy::Strategy::prop_map(
                    (0usize..8, prop::bool::weighted(0.15)),
                    |(i, fail)| Step::Tell { i, fail },
                ),
            ],
            1..40,
        )
    }

    fn play(session: &mut Session<'_, Nb201Space>, steps: &[Step]) {
        for s in steps {
            match s {
                Step::Ask(n) => {
                    session.ask(*n).unwrap();
                }
                Step::Tell { i, fail } => {
                    let pending: Vec<Nb201Cell> = session.pending().into_iter().copied().collect();
                    if pending.is_empty() {
                        continue;
                    }
                    let a = pending[i % pending.len()];
                    let outcome = if *fail {
                        Err(Failure::new(FailureKind::Crash, "boom"))
                    } else {
                        Ok(fitness(&a))
                    };
                    session.tell(&a, outcome, 0.5).unwrap();
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Whatever the loop (ask sizes, tell order, failures), a session reopened on its
        /// journal asks next what the uninterrupted session asks next, for all three
        /// strategies.
        #[test]
        fn a_reopened_session_asks_what_the_uninterrupted_one_asks(
            which in 0u8..3,
            before in steps(),
            after in steps(),
        ) {
            let space = Nb201Space::new();
            let dir = temp_dir("replay");
            let mut whole = Session::new(&space, strategy(which, &space));
            play(&mut whole, &before);

            let mut first = Session::with_journal(
                &space, strategy(which, &space), Journal::create(&dir, header()).unwrap()
            ).unwrap();
            play(&mut first, &before);
            prop_assert_eq!(first.told(), whole.told());
            drop(first);

            let journal = Journal::resume(&dir, header(), &space).unwrap();
            let mut resumed = Session::with_journal(&space, strategy(which, &space), journal).unwrap();
            prop_assert_eq!(resumed.told(), whole.told());
            prop_assert_eq!(resumed.replayed(), whole.told().len());
            // Asks after the last tell are not replayed: the resumed session asks them again.
            let missing = whole.asked() - resumed.asked();
            prop_assert_eq!(resumed.ask(missing as usize).unwrap().len() as u64, missing);
            prop_assert_eq!(resumed.pending(), whole.pending());
            play(&mut resumed, &after);
            play(&mut whole, &after);
            prop_assert_eq!(resumed.told(), whole.told());
            prop_assert_eq!(resumed.pending(), whole.pending());
            std::fs::remove_dir_all(&dir).unwrap();
        }

        /// `ask(n)` is `n` calls of `ask(1)` when nothing is told in between, and telling
        /// together is telling one by one: the properties replay rests on.
        #[test]
        fn asking_in_one_call_or_one_at_a_time_is_the_same(which in 0u8..3, sizes in prop::collection::vec(1usize..6, 1..8)) {
            let space = Nb201Space::new();
            let mut together = strategy(which, &space);
            let mut singly = strategy(which, &space);
            for n in sizes {
                let a = together.ask(n).unwrap();
                let mut b = Vec::new();
                for _ in 0..n {
                    b.extend(singly.ask(1).unwrap());
                }
                prop_assert_eq!(&a, &b);
                let outcomes: Vec<_> = a.iter().map(|c| (*c, Ok(fitness(c)))).collect();
                together.tell(&outcomes).unwrap();
                for o in &outcomes {
                    singly.tell(std::slice::from_ref(o)).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_bad_tell_is_refused_before_anything_is_written() {
        let space = Nb201Space::new();
        let dir = temp_dir("bad");
        let mut s = Session::with_journal(
            &space,
            strategy(1, &space),
            Journal::create(&dir, header()).unwrap(),
        )
        .unwrap();
        let a = s.ask(2).unwrap();
        let never: Nb201Cell = space.mutate(&a[0], &mut ChaCha8Rng::seed_from_u64(0));
        assert!(!a.contains(&never));
        assert!(matches!(
            s.tell(&never, Ok(1.0), 0.0),
            Err(SearchError::NotAsked(_))
        ));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                s.tell(&a[0], Ok(bad), 0.0),
                Err(SearchError::NotFinite { .. })
            ));
        }
        assert!(s.journal().unwrap().records().is_empty());
        s.tell(&a[0], Ok(2.0), 0.0).unwrap();
        // Told twice: refused.
        assert!(matches!(
            s.tell(&a[0], Ok(2.0), 0.0),
            Err(SearchError::NotAsked(_))
        ));
        assert_eq!(s.journal().unwrap().records().len(), 1);
        assert_eq!(s.pending(), vec![&a[1]]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_driven_journal_or_another_seed_does_not_replay() {
        let space = Nb201Space::new();
        // A driver's journal: no ask counts.
        let dir = temp_dir("driven");
        let mut search = RandomSearch.start(&space, ChaCha8Rng::seed_from_u64(11));
        let mut journal = Journal::create(&dir, header()).unwrap();
        Driver::new(3)
            .run(
                &mut search,
                &space,
                &mut dcl_graph::FnEvaluator::new(|c: &Nb201Cell| fitness(c)),
                Some(&mut journal),
                &mut |_| {},
            )
            .unwrap();
        drop(journal);
        let journal = Journal::resume(&dir, header(), &space).unwrap();
        let err = Session::with_journal(&space, strategy(0, &space), journal).unwrap_err();
        assert!(
            matches!(
                err,
                SearchError::Journal(JournalError::NoAskCount { record: 1 })
            ),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();

        // A session's journal replayed by a strategy with another seed.
        let dir = temp_dir("seed");
        let mut s = Session::with_journal(
            &space,
            strategy(0, &space),
            Journal::create(&dir, header()).unwrap(),
        )
        .unwrap();
        for a in s.ask(3).unwrap() {
            s.tell(&a, Ok(fitness(&a)), 0.0).unwrap();
        }
        drop(s);
        let other = Box::new(RandomSearch.start(&space, ChaCha8Rng::seed_from_u64(12)));
        let journal = Journal::resume(&dir, header(), &space).unwrap();
        let err = Session::with_journal(&space, other, journal).unwrap_err();
        assert!(
            matches!(
                err,
                SearchError::Journal(JournalError::Unasked { record: 1, .. })
            ),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
