//! The [`Driver`]: what asks a [`Strategy`], pays for the evaluations, and tells the outcomes
//! (the one loop every search runs in: the strategies' `run` shorthands call it too).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use dcl_graph::{Evaluator, Failure, FailureKind, Objectives, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::QueryRecord;
use crate::journal::{EvaluationRecord, Journal, JournalError};
use crate::strategy::Outcome;
use crate::{FailureRecord, SearchError, SearchHistory, Strategy};

/// Drives a [`Strategy`] in synchronous batches: asks up to `batch_size` architectures,
/// evaluates them together ([`Evaluator::evaluate_batch`]: worker threads, cluster jobs),
/// retries each failed one up to `max_attempts` attempts in all, tells all outcomes in the
/// order asked, and repeats until `budget` evaluations are spent or the strategy has nothing
/// more to ask.
///
/// **The failure rule**, the same for every search: an attempt fails when the evaluator
/// returns an error, reports no outcome, panics in a pool's worker, runs out of time, or
/// returns a non-finite fitness. A failed architecture is evaluated again, up to
/// `max_attempts` attempts in all; one that failed every attempt is recorded in
/// [`SearchHistory::failures`] with its last failure, counts against the budget when
/// `count_failures` is set, and is told to the strategy as a failure (never asked again,
/// never learnt from). The search goes on either way; only the strategy's own errors (a
/// surrogate that fails, a bad setting), a journal that cannot be written and a journal that
/// does not replay end it with an error.
///
/// With a [`Journal`], every attempt is appended and synced to disk as soon as it ends, and a
/// resumed journal is replayed: the same asks come back, and their journalled outcomes are
/// told instead of evaluating again (an architecture whose attempts were cut short is
/// evaluated again from the next attempt). The history of a resumed run equals the history of
/// an uninterrupted one, timings aside.
///
/// ```
/// use dcl_evo::{Driver, RandomSearch, Strategy};
/// use dcl_graph::{Evaluator, Nb201Cell, Nb201Op, Nb201Space};
/// use rand::SeedableRng;
///
/// struct Convs;
/// impl Evaluator<Nb201Space> for Convs {
///     type Error = std::convert::Infallible;
///     fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Self::Error> {
///         Ok(a.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count() as f64)
///     }
/// }
///
/// let space = Nb201Space::new();
/// let mut search = RandomSearch.start(&space, rand_chacha::ChaCha8Rng::seed_from_u64(1));
/// let driver = Driver { batch_size: 4, ..Driver::new(30) };
/// let history = driver.run(&mut search, &space, &mut Convs, None, &mut |_| {}).unwrap();
/// assert_eq!(history.len(), 30);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    /// True evaluations allowed (each architecture's final outcome counts once, however many
    /// attempts it took).
    pub budget: usize,
    /// Architectures asked and evaluated together.
    pub batch_size: usize,
    /// Attempts per architecture before it is recorded as failed (1: no retry).
    pub max_attempts: u32,
    /// Whether an architecture that failed every attempt counts against the budget.
    pub count_failures: bool,
}

impl Driver {
    /// `budget` evaluations one at a time, three attempts each, failures counted.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            batch_size: 1,
            max_attempts: 3,
            count_failures: true,
        }
    }

    /// Checks the settings: budget, batch size and attempts positive.
    pub fn validate(&self) -> Result<(), SearchError> {
        if self.budget == 0 {
            return Err(SearchError::Config(
                "budget must be at least 1, got 0".into(),
            ));
        }
        if self.batch_size == 0 {
            return Err(SearchError::Config(
                "batch_size must be at least 1, got 0".into(),
            ));
        }
        if self.max_attempts == 0 {
            return Err(SearchError::Config(
                "max_attempts must be at least 1, got 0".into(),
            ));
        }
        Ok(())
    }

    /// Runs `strategy` to the end, evaluating with `evaluator`, journalling to `journal` (and
    /// replaying what it already holds), calling `observer` for every successful evaluation
    /// in history order.
    pub fn run<S, St, E>(
        &self,
        strategy: &mut St,
        space: &S,
        evaluator: &mut E,
        mut journal: Option<&mut Journal<S::Arch>>,
        observer: &mut dyn FnMut(&QueryRecord<S::Arch>),
    ) -> Result<SearchHistory<S::Arch>, SearchError>
    where
        S: SearchSpace,
        S::Arch: Serialize,
        St: Strategy<S> + ?Sized,
        E: Evaluator<S> + ?Sized,
    {
        self.validate()?;
        let start = Instant::now();
        let mut history = SearchHistory::new(strategy.name());
        // Journalled attempts by key, and the keys not replayed yet.
        let mut stored: HashMap<String, Vec<EvaluationRecord<S::Arch>>> = HashMap::new();
        if let Some(j) = journal.as_deref() {
            for r in j.records() {
                stored.entry(r.key.clone()).or_default().push(r.clone());
            }
        }
        let mut unread: HashSet<String> = stored.keys().cloned().collect();
        let mut spent = 0;
        let mut slots_asked: u64 = 0;
        while spent < self.budget && !strategy.is_finished() {
            let asked = strategy.ask(self.batch_size.min(self.budget - spent))?;
            if asked.is_empty() {
                break;
            }
            let keys: Vec<String> = asked.iter().map(|a| space.canonical_text(a)).collect();
            let first_slot = slots_asked;
            slots_asked += asked.len() as u64;
            let mut outcomes: Vec<Option<(Outcome, f64, Objectives)>> = vec![None; asked.len()];
            let mut attempts = vec![0u32; asked.len()];
            for (i, key) in keys.iter().enumerate() {
                let Some(records) = stored.get(key) else {
                    continue;
                };
                unread.remove(key);
                for r in records {
                    attempts[i] = attempts[i].max(r.attempt);
                    match (&r.fitness, &r.failure) {
                        // Journalled objectives are told as they were measured, never again.
                        (Some(f), _) => {
                            outcomes[i] = Some((Ok(*f), r.seconds, r.objectives.clone()))
                        }
                        (None, Some(fail))
                            if outcomes[i].is_none() && attempts[i] >= self.max_attempts =>
                        {
                            outcomes[i] = Some((Err(fail.clone()), r.seconds, Objectives::new()));
                        }
                        _ => {}
                    }
                }
            }
            loop {
                let todo: Vec<usize> = (0..asked.len())
                    .filter(|&i| outcomes[i].is_none())
                    .collect();
                let Some(&first) = todo.first() else {
                    break;
                };
                if !unread.is_empty() {
                    return Err(JournalError::Diverged {
                        arch: space.arch_text(&asked[first]),
                        unread: unread.len(),
                    }
                    .into());
                }
                let archs: Vec<S::Arch> = todo.iter().map(|&i| asked[i].clone()).collect();
                let mut reported = vec![false; todo.len()];
                let mut journal_error = None;
                let max_attempts = self.max_attempts;
                evaluator.evaluate_batch(space, &archs, &mut |j, result, run| {
                    let seconds = run.seconds;
                    let Some(&i) = todo.get(j) else {
                        return;
                    };
                    if std::mem::replace(&mut reported[j], true) {
                        return;
                    }
                    attempts[i] += 1;
                    let outcome = match result {
                        Ok(f) if f.is_finite() => Ok(f),
                        Ok(f) => Err(Failure::new(
                            FailureKind::NonFinite,
                            format!("the evaluator returned {f}"),
                        )),
                        Err(e) => Err(Failure::from_error(&e)),
                    };
                    if let Some(j) = journal.as_deref_mut() {
                        let record = EvaluationRecord {
                            arch: asked[i].clone(),
                            key: keys[i].clone(),
                            attempt: attempts[i],
                            fitness: outcome.as_ref().ok().copied(),
                            failure: outcome.as_ref().err().cloned(),
                            seconds,
                            objectives: if outcome.is_ok() {
                                run.objectives.clone()
                            } else {
                                Objectives::new()
                            },
                            job_id: run.job_id,
                            log: run.log,
                            slot: Some(first_slot + i as u64),
                            asks_before: None,
                        };
                        if let Err(e) = j.append(record) {
                            journal_error.get_or_insert(e);
                        }
                    }
                    match &outcome {
                        Err(f) if attempts[i] < max_attempts => tracing::warn!(
                            "attempt {} of {} failed ({f}); retrying",
                            attempts[i],
                            space.arch_text(&asked[i])
                        ),
                        _ => outcomes[i] = Some((outcome, seconds, run.objectives)),
                    }
                });
                if let Some(e) = journal_error {
                    return Err(e.into());
                }
                for (j, done) in reported.iter().enumerate() {
                    if !done {
                        // An evaluator that forgets an outcome must not loop the driver.
                        let i = todo[j];
                        attempts[i] += 1;
                        outcomes[i] = Some((
                            Err(Failure::new(
                                FailureKind::Crash,
                                "the evaluator reported no outcome",
                            )),
                            0.0,
                            Objectives::new(),
                        ));
                    }
                }
            }
            let mut told = Vec::with_capacity(asked.len());
            for (i, arch) in asked.into_iter().enumerate() {
                let (outcome, seconds, objectives) =
                    outcomes[i].take().expect("every outcome is set above");
                history.evaluator_seconds += seconds;
                match &outcome {
                    Ok(fitness) => {
                        spent += 1;
                        observer(history.push_query(arch.clone(), *fitness, seconds, objectives));
                    }
                    Err(failure) => {
                        spent += usize::from(self.count_failures);
                        history.failures.push(FailureRecord {
                            arch: arch.clone(),
                            failure: failure.clone(),
                            attempts: attempts[i],
                            seconds,
                        });
                    }
                }
                told.push((arch, outcome));
                dcl_graph::progress::step("queries", spent as u64, self.budget as u64);
            }
            strategy.tell(&told)?;
        }
        if spent < self.budget && strategy.is_finished() {
            tracing::warn!(
                "the search space is used up: the strategy has no architecture left to ask; \
                 the search ends after {spent} of its budget of {} evaluations",
                self.budget
            );
        }
        history.total_seconds = start.elapsed().as_secs_f64();
        Ok(history)
    }
}
