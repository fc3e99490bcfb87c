//! # dcl-exec
//!
//! Executors: where a search's true evaluations run. An executor is an
//! [`Evaluator`] whose [`evaluate_batch`](Evaluator::evaluate_batch) runs several evaluations
//! at once, so a search driver (`dcl_evo::Driver`) with a batch size above one keeps them all
//! busy.
//!
//! * [`LocalPool`]: worker threads on this machine, each with its own evaluator and its own
//!   rayon thread pool.
//! * [`command::CommandEvaluator`]: the user's own program, in any language, run as a process
//!   per architecture with a spec file in and a result file out.
//!
//! Data flows one way: graph → encoding → predictor → evolution → **executors** →
//! applications. Of the workspace's crates this one depends on `dcl-graph` alone.
#![warn(missing_docs)]

pub mod command;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

pub use dcl_graph::{Attempt, Evaluator, Failure, FailureKind, Objectives, SearchSpace};

/// Why an executor could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// No worker, or a worker with no thread.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A worker's thread pool could not be started.
    #[error("could not start a worker's thread pool: {0}")]
    ThreadPool(#[from] rayon::ThreadPoolBuildError),
}

struct Worker<E> {
    evaluator: E,
    threads: rayon::ThreadPool,
}

/// Evaluates a batch on `N` worker threads at once, each with its own evaluator.
///
/// # Threads and memory
///
/// Each worker runs its evaluations inside a rayon thread pool of its own with
/// `threads_per_worker` threads, so the parallel kernels of the evaluation (burn-ndarray's and
/// burn-flex's CPU kernels use rayon) stay within that budget instead of every worker
/// spreading over every core: two workers of one thread each on a 2-core machine each get a
/// core. Choose `workers × threads_per_worker` ≤ the cores you mean to use. Memory grows
/// with the workers: each holds its own evaluator (for a trainer, its own copy of the
/// training data) and runs one evaluation (one network, its gradients and optimizer state)
/// at a time.
///
/// # Outcomes
///
/// The architectures of a batch are handed out in order to whichever worker is free; each
/// outcome is reported as soon as it ends. An evaluator error becomes a
/// [`FailureKind::Error`]; a panic inside an evaluation is caught and becomes a
/// [`FailureKind::Crash`] (the worker then goes on with the next architecture). Deterministic
/// evaluators give the same outcome whichever worker runs them, so a search's result does not
/// depend on the number of workers.
///
/// ```
/// use dcl_exec::{Evaluator, LocalPool};
/// use dcl_graph::{Nb201Cell, Nb201Space};
///
/// struct Ordinal;
/// impl Evaluator<Nb201Space> for Ordinal {
///     type Error = std::convert::Infallible;
///     fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Self::Error> {
///         Ok(a.ordinal() as f64)
///     }
/// }
///
/// let mut pool = LocalPool::new(vec![Ordinal, Ordinal], 1).unwrap();
/// let cells: Vec<_> = (0..6).map(|i| Nb201Cell::from_ordinal(i).unwrap()).collect();
/// let mut got = vec![None; 6];
/// pool.evaluate_batch(&Nb201Space::new(), &cells, &mut |i, outcome, _| got[i] = outcome.ok());
/// assert_eq!(got, (0..6).map(|i| Some(i as f64)).collect::<Vec<_>>());
/// ```
pub struct LocalPool<E> {
    workers: Vec<Worker<E>>,
}

impl<E> std::fmt::Debug for LocalPool<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPool")
            .field("workers", &self.workers.len())
            .field(
                "threads_per_worker",
                &self
                    .workers
                    .first()
                    .map(|w| w.threads.current_num_threads()),
            )
            .finish()
    }
}

impl<E> LocalPool<E> {
    /// One worker per evaluator, each with `threads_per_worker` rayon threads.
    pub fn new(evaluators: Vec<E>, threads_per_worker: usize) -> Result<Self, ExecError> {
        if evaluators.is_empty() {
            return Err(ExecError::Config("a pool needs at least one worker".into()));
        }
        if threads_per_worker == 0 {
            return Err(ExecError::Config(
                "threads_per_worker must be positive".into(),
            ));
        }
        let workers = evaluators
            .into_iter()
            .enumerate()
            .map(|(i, evaluator)| {
                let threads = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads_per_worker)
                    .thread_name(move |t| format!("dcl-worker-{i}-{t}"))
                    .build()?;
                Ok(Worker { evaluator, threads })
            })
            .collect::<Result<Vec<_>, ExecError>>()?;
        Ok(Self { workers })
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The workers' evaluators, in worker order.
    pub fn evaluators(&self) -> impl Iterator<Item = &E> {
        self.workers.iter().map(|w| &w.evaluator)
    }

    /// The evaluators back, in worker order.
    pub fn into_evaluators(self) -> Vec<E> {
        self.workers.into_iter().map(|w| w.evaluator).collect()
    }
}

/// One evaluation on a worker: its outcome with the objectives measured, a panic caught as a
/// crash.
fn evaluate_on<S, E>(
    evaluator: &mut E,
    space: &S,
    arch: &S::Arch,
) -> Result<(f64, Objectives), Failure>
where
    S: SearchSpace,
    E: Evaluator<S>,
{
    match catch_unwind(AssertUnwindSafe(|| {
        evaluator.evaluate_with_objectives(space, arch)
    })) {
        Ok(Ok(f)) => Ok(f),
        Ok(Err(e)) => Err(Failure::from_error(&e)),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            Err(Failure::new(
                FailureKind::Crash,
                format!("the evaluation panicked: {message}"),
            ))
        }
    }
}

impl<S, E> Evaluator<S> for LocalPool<E>
where
    S: SearchSpace + Sync,
    E: Evaluator<S> + Send,
{
    type Error = Failure;

    /// One evaluation, on the first worker (inside its thread pool).
    fn evaluate(&mut self, space: &S, arch: &S::Arch) -> Result<f64, Failure> {
        let w = &mut self.workers[0];
        let evaluator = &mut w.evaluator;
        w.threads
            .install(|| evaluate_on(evaluator, space, arch))
            .map(|(f, _)| f)
    }

    fn evaluate_with_objectives(
        &mut self,
        space: &S,
        arch: &S::Arch,
    ) -> Result<(f64, Objectives), Failure> {
        let w = &mut self.workers[0];
        let evaluator = &mut w.evaluator;
        w.threads.install(|| evaluate_on(evaluator, space, arch))
    }

    fn evaluate_batch(
        &mut self,
        space: &S,
        archs: &[S::Arch],
        done: &mut dyn FnMut(usize, Result<f64, Failure>, Attempt),
    ) {
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|scope| {
            for w in self.workers.iter_mut().take(archs.len()) {
                let tx = tx.clone();
                let next = &next;
                let evaluator = &mut w.evaluator;
                let threads = &w.threads;
                scope.spawn(move || {
                    threads.install(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(arch) = archs.get(i) else {
                                break;
                            };
                            let t = Instant::now();
                            let outcome = evaluate_on(evaluator, space, arch);
                            if tx.send((i, outcome, t.elapsed().as_secs_f64())).is_err() {
                                break;
                            }
                        }
                    })
                });
            }
            drop(tx);
            for (i, outcome, seconds) in rx {
                let (outcome, objectives) = match outcome {
                    Ok((f, o)) => (Ok(f), o),
                    Err(e) => (Err(e), Objectives::new()),
                };
                let attempt = Attempt {
                    objectives,
                    ..Attempt::timed(seconds)
                };
                done(i, outcome, attempt);
            }
        });
    }
}
