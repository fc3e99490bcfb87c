//! [`TimedSurrogate`]: a surrogate that keeps count of the time spent in it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dcl_graph::{SearchSpace, Surrogate};

/// Wraps a surrogate and adds the wall time of every `score` and `learn` call to a
/// [`SurrogateClock`] that the caller keeps, so that an application can report where a
/// search's time went while the strategy owns the surrogate.
///
/// ```
/// use dcl_evo::{DclEnas, DclEnasConfig, Driver, FnEvaluator, TimedSurrogate};
/// use dcl_graph::{Nb201Cell, Nb201Op, Nb201Space, Surrogate};
/// use rand::SeedableRng;
///
/// struct Convs;
/// impl Surrogate<Nb201Space> for Convs {
///     type Error = std::convert::Infallible;
///     fn score(&mut self, _: &Nb201Space, archs: &[Nb201Cell]) -> Result<Vec<f64>, Self::Error> {
///         Ok(archs.iter().map(|a| a.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count() as f64).collect())
///     }
///     fn learn(&mut self, _: &Nb201Space, _: &[(Nb201Cell, f64)]) -> Result<(), Self::Error> {
///         Ok(())
///     }
/// }
///
/// let space = Nb201Space::new();
/// let (surrogate, clock) = TimedSurrogate::new(Convs);
/// let config = DclEnasConfig { initial: 4, offspring: 20, generations: 1, ..Default::default() };
/// let mut search = DclEnas::new(config)
///     .start(&space, surrogate, rand_chacha::ChaCha8Rng::seed_from_u64(0))
///     .unwrap();
/// let mut evaluator = FnEvaluator::new(|_: &Nb201Cell| 1.0);
/// Driver::new(12).run(&mut search, &space, &mut evaluator, None, &mut |_| {}).unwrap();
/// assert!(clock.seconds() > 0.0);
/// ```
#[derive(Debug)]
pub struct TimedSurrogate<P> {
    inner: P,
    clock: SurrogateClock,
}

/// The time a [`TimedSurrogate`] has spent, shared with it (clones read the same clock).
#[derive(Debug, Clone, Default)]
pub struct SurrogateClock(Arc<AtomicU64>);

impl SurrogateClock {
    /// Seconds spent in the surrogate so far.
    pub fn seconds(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 * 1e-9
    }

    fn add(&self, since: Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl<P> TimedSurrogate<P> {
    /// `inner`, timed, and the clock it adds to.
    pub fn new(inner: P) -> (Self, SurrogateClock) {
        let clock = SurrogateClock::default();
        (
            Self {
                inner,
                clock: clock.clone(),
            },
            clock,
        )
    }

    /// The wrapped surrogate.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<S: SearchSpace, P: Surrogate<S>> Surrogate<S> for TimedSurrogate<P> {
    type Error = P::Error;

    fn score(&mut self, space: &S, archs: &[S::Arch]) -> Result<Vec<f64>, Self::Error> {
        let t = Instant::now();
        let scores = self.inner.score(space, archs);
        self.clock.add(t);
        scores
    }

    fn learn(&mut self, space: &S, labelled: &[(S::Arch, f64)]) -> Result<(), Self::Error> {
        let t = Instant::now();
        let learnt = self.inner.learn(space, labelled);
        self.clock.add(t);
        learnt
    }

    fn min_labels(&self) -> usize {
        self.inner.min_labels()
    }
}
