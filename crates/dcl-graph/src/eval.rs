//! The two small traits a search talks to: an [`Evaluator`] that truly evaluates architectures
//! (a benchmark table, a trainer) and a [`Surrogate`] that cheaply ranks them (a predictor),
//! and [`Failure`], how one failed evaluation is described once it leaves its evaluator.
//!
//! They live here, in the crate every other crate already uses, so that the predictor and the
//! benchmark tables can implement them without depending on the search crate, and a user's
//! own predictor or trainer plugs into the search the same way.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::SearchSpace;

/// Truly evaluates architectures: trains them, or looks them up in a benchmark table. Search
/// budgets are counted in true evaluations.
///
/// Only [`evaluate`](Evaluator::evaluate) must be written. An evaluator that can run several
/// evaluations at once (worker threads, cluster jobs) also overrides
/// [`evaluate_batch`](Evaluator::evaluate_batch), whose default runs them one after the other.
pub trait Evaluator<S: SearchSpace> {
    /// Why an evaluation failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The fitness of `arch`: higher is better (an accuracy, say).
    fn evaluate(&mut self, space: &S, arch: &S::Arch) -> Result<f64, Self::Error>;

    /// The fitness of `arch` and the further [`Objectives`] measured while evaluating it (a
    /// measured latency, a parameter count), which a search journal stores beside the fitness
    /// and never measures again on replay.
    ///
    /// The default measures nothing more than [`evaluate`](Evaluator::evaluate).
    fn evaluate_with_objectives(
        &mut self,
        space: &S,
        arch: &S::Arch,
    ) -> Result<(f64, Objectives), Self::Error> {
        self.evaluate(space, arch).map(|f| (f, Objectives::new()))
    }

    /// Evaluates every architecture of `archs`, calling `done(i, outcome, attempt)` exactly
    /// once for each index `i` of `archs` as soon as its evaluation ends, in any order;
    /// `attempt` says how long it took and, for a cluster executor, which job ran it. Returns
    /// when all are done.
    ///
    /// The default evaluates them in order with
    /// [`evaluate_with_objectives`](Evaluator::evaluate_with_objectives), the objectives in
    /// the attempt.
    fn evaluate_batch(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        done: &mut dyn FnMut(usize, Result<f64, Self::Error>, Attempt),
    ) {
        for (i, arch) in archs.iter().enumerate() {
            let t = Instant::now();
            let (outcome, objectives) = match self.evaluate_with_objectives(space, arch) {
                Ok((f, o)) => (Ok(f), o),
                Err(e) => (Err(e), Objectives::new()),
            };
            let attempt = Attempt {
                objectives,
                ..Attempt::timed(t.elapsed().as_secs_f64())
            };
            done(i, outcome, attempt);
        }
    }
}

/// Further objectives measured with a fitness, by name (`params`, `latency_ms`, ...).
pub type Objectives = BTreeMap<String, f64>;

impl<S: SearchSpace, E: Evaluator<S> + ?Sized> Evaluator<S> for &mut E {
    type Error = E::Error;

    fn evaluate(&mut self, space: &S, arch: &S::Arch) -> Result<f64, Self::Error> {
        (**self).evaluate(space, arch)
    }

    fn evaluate_with_objectives(
        &mut self,
        space: &S,
        arch: &S::Arch,
    ) -> Result<(f64, Objectives), Self::Error> {
        (**self).evaluate_with_objectives(space, arch)
    }

    fn evaluate_batch(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        done: &mut dyn FnMut(usize, Result<f64, Self::Error>, Attempt),
    ) {
        (**self).evaluate_batch(space, archs, done)
    }
}

/// What an executor says about one finished evaluation besides its outcome: how long it took,
/// when a scheduler ran it the job's id, the objectives measured with the fitness, and where
/// its output went (the search journal keeps all four).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attempt {
    /// Wall time of the evaluation, in seconds.
    pub seconds: f64,
    /// The scheduler's id of the job that ran it (Slurm's `JOBID_TASK`), if any.
    pub job_id: Option<String>,
    /// Objectives measured with the fitness ([`Evaluator::evaluate_with_objectives`]).
    pub objectives: Objectives,
    /// The file holding the evaluation's output (relative to the run directory where it lies
    /// inside it), where the executor kept one.
    pub log: Option<String>,
}

impl Attempt {
    /// An attempt that took `seconds`, run by no scheduler, measuring nothing more.
    pub fn timed(seconds: f64) -> Self {
        Self {
            seconds,
            ..Self::default()
        }
    }
}

/// An [`Evaluator`] backed by a function of the architecture that cannot fail: a table
/// column, a synthetic benchmark, a closure over data the caller holds.
///
/// ```
/// use dcl_graph::{Evaluator, FnEvaluator, Nb201Op, Nb201Space};
///
/// let space = Nb201Space::new();
/// let mut convs = FnEvaluator::new(|cell: &dcl_graph::Nb201Cell| {
///     cell.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count() as f64
/// });
/// let cell: dcl_graph::Nb201Cell = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
///     .parse()
///     .unwrap();
/// assert_eq!(convs.evaluate(&space, &cell).unwrap(), 2.0);
/// ```
pub struct FnEvaluator<F>(F);

impl<F> FnEvaluator<F> {
    /// The evaluator whose fitness of an architecture is `f(arch)`.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> std::fmt::Debug for FnEvaluator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnEvaluator")
    }
}

impl<S: SearchSpace, F: FnMut(&S::Arch) -> f64> Evaluator<S> for FnEvaluator<F> {
    type Error = std::convert::Infallible;

    fn evaluate(&mut self, _space: &S, arch: &S::Arch) -> Result<f64, Self::Error> {
        Ok((self.0)(arch))
    }
}

/// A cheap stand-in for the evaluator that ranks candidates before any is truly evaluated.
///
/// The DCL-ENAS predictor is one (`dcl_predictor::PredictorSurrogate`); any model that learns
/// from labelled architectures and ranks others can be. A surrogate that scores NB201 cells by
/// how often each op appeared in the best labelled cell:
///
/// ```
/// use dcl_graph::{Nb201Cell, Nb201Space, SearchSpace, Surrogate};
///
/// #[derive(Default)]
/// struct LikeTheBest(Option<Nb201Cell>);
///
/// impl Surrogate<Nb201Space> for LikeTheBest {
///     type Error = std::convert::Infallible;
///     fn score(&mut self, _: &Nb201Space, archs: &[Nb201Cell]) -> Result<Vec<f64>, Self::Error> {
///         Ok(archs
///             .iter()
///             .map(|a| match &self.0 {
///                 Some(best) => a.ops().iter().zip(best.ops().iter()).filter(|(x, y)| x == y).count() as f64,
///                 None => 0.0,
///             })
///             .collect())
///     }
///     fn learn(&mut self, _: &Nb201Space, labelled: &[(Nb201Cell, f64)]) -> Result<(), Self::Error> {
///         self.0 = labelled.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(a, _)| *a);
///         Ok(())
///     }
/// }
///
/// let space = Nb201Space::new();
/// let cells = space.enumerate().unwrap();
/// let mut s = LikeTheBest::default();
/// s.learn(&space, &[(cells[7], 1.0), (cells[9], 0.5)]).unwrap();
/// let scores = s.score(&space, &cells[..10]).unwrap();
/// assert_eq!(scores[7], 6.0); // the best labelled cell matches itself on all six edges
/// ```
pub trait Surrogate<S: SearchSpace> {
    /// Why scoring or learning failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// One score per architecture, higher meaning predicted better. Only the order matters.
    fn score(&mut self, space: &S, archs: &[S::Arch]) -> Result<Vec<f64>, Self::Error>;

    /// Learns from every architecture truly evaluated so far, with its fitness. Called after
    /// each batch of true evaluations, always with the whole labelled set.
    fn learn(&mut self, space: &S, labelled: &[(S::Arch, f64)]) -> Result<(), Self::Error>;

    /// The fewest labelled architectures [`learn`](Self::learn) accepts (a ranking loss needs
    /// two); a search checks its initial sample against it before any evaluation.
    fn min_labels(&self) -> usize {
        1
    }
}

impl<S: SearchSpace, P: Surrogate<S> + ?Sized> Surrogate<S> for &mut P {
    type Error = P::Error;

    fn score(&mut self, space: &S, archs: &[S::Arch]) -> Result<Vec<f64>, Self::Error> {
        (**self).score(space, archs)
    }

    fn learn(&mut self, space: &S, labelled: &[(S::Arch, f64)]) -> Result<(), Self::Error> {
        (**self).learn(space, labelled)
    }

    fn min_labels(&self) -> usize {
        (**self).min_labels()
    }
}

/// What kind of failure ended an evaluation; a search driver retries any kind alike, and the
/// kind is kept in the search's journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The evaluator returned an error (a training that diverged, bad data).
    Error,
    /// The evaluator returned NaN or an infinity as the fitness.
    NonFinite,
    /// The worker running the evaluation died (a panic in a worker thread, a killed process).
    Crash,
    /// The evaluation ran past its time limit.
    Timeout,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureKind::Error => "error",
            FailureKind::NonFinite => "non-finite fitness",
            FailureKind::Crash => "worker crash",
            FailureKind::Timeout => "timeout",
        })
    }
}

/// One failed evaluation, as a search records it: its kind and a message for people.
///
/// An evaluator whose `Error` type *is* `Failure` (worker pools, cluster executors) says the
/// kind itself; any other error becomes [`FailureKind::Error`] with its message
/// ([`Failure::from_error`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What went wrong, for people.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// `error` as a failure: itself if it is a [`Failure`], else a [`FailureKind::Error`]
    /// carrying its message and the messages of its sources.
    ///
    /// ```
    /// use dcl_graph::{Failure, FailureKind};
    /// let timeout = Failure::new(FailureKind::Timeout, "ran past 60 s");
    /// assert_eq!(Failure::from_error(&timeout), timeout);
    /// let io = std::io::Error::other("disk full");
    /// assert_eq!(Failure::from_error(&io).kind, FailureKind::Error);
    /// ```
    pub fn from_error<E: std::error::Error + 'static>(error: &E) -> Self {
        if let Some(f) = (error as &dyn std::any::Any).downcast_ref::<Failure>() {
            return f.clone();
        }
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Self::new(FailureKind::Error, message)
    }
}
