//! The [`Strategy`] trait: a search in the ask/tell shape, and [`Proposals`], the book-keeping
//! every strategy shares (what was asked, what was learnt).

use std::collections::HashSet;
use std::sync::Arc;

use dcl_graph::{Failure, SearchSpace};
use rand::{Rng, RngExt};

use crate::SearchError;

/// How many draws [`Proposals::sample_unseen`] tries before concluding the space is used up.
const SAMPLE_TRIES: usize = 10_000;
/// How many mutations of one parent are tried for an unseen child.
const MUTATION_TRIES: usize = 100;

/// What became of one asked architecture: its fitness, or why it could not be evaluated.
pub type Outcome = Result<f64, Failure>;

/// A search in the ask/tell shape (as Optuna's and Nevergrad's): the strategy proposes
/// architectures, someone else evaluates them however they like, and tells it the outcomes.
///
/// * [`ask`](Strategy::ask)`(n)` proposes up to `n` architectures never asked before (by
///   canonical key). Fewer, or none, come back when the strategy must first be told the
///   outcomes of what it asked (a round-based strategy at the end of a round), or when the
///   space is used up ([`is_finished`](Strategy::is_finished) then says so).
/// * [`tell`](Strategy::tell) takes outcomes of asked architectures, in any grouping. A failure
///   is remembered (never asked again) but never learnt from as a fitness.
/// * The strategy holds its RNG and draws all its randomness from it, so the same tells
///   replayed in the same order give the same asks: that is what makes a journalled search
///   resumable.
///
/// Budgets are not the strategy's business: the driver decides how many to ask and when to
/// stop ([`Driver`](crate::Driver) does that with batches, a journal and retries; the `run`
/// methods of [`RandomSearch`](crate::RandomSearch), [`RegularizedEvolution`](crate::RegularizedEvolution)
/// and [`DclEnas`](crate::DclEnas) are shorthands for [`Driver::new`](crate::Driver::new)).
///
/// # Driving a strategy from your own loop
///
/// Embedding a strategy in another framework takes only `ask` and `tell`:
///
/// ```
/// use dcl_evo::{RegularizedEvolution, Strategy};
/// use dcl_graph::{Nb201Op, Nb201Space};
/// use rand::SeedableRng;
///
/// let space = Nb201Space::new();
/// let rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let mut search = RegularizedEvolution::default().start(&space, rng).unwrap();
/// for _ in 0..10 {
///     // Ask for four candidates, evaluate them (here: count 3x3 convolutions), tell.
///     let asked = search.ask(4).unwrap();
///     let told: Vec<_> = asked
///         .into_iter()
///         .map(|cell| {
///             let convs = cell.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count();
///             (cell, Ok(convs as f64))
///         })
///         .collect();
///     search.tell(&told).unwrap();
/// }
/// let (best, fitness) = search.best().unwrap();
/// assert!(fitness >= 4.0, "{best} has {fitness} convolutions");
/// ```
pub trait Strategy<S: SearchSpace> {
    /// A short name of the strategy ("random", "regularized-evolution", "dcl-enas").
    fn name(&self) -> &str;

    /// Up to `n` architectures never asked before.
    fn ask(&mut self, n: usize) -> Result<Vec<S::Arch>, SearchError>;

    /// The outcomes of asked architectures. Telling an architecture that was not asked, or
    /// twice, is an error ([`SearchError::NotAsked`]).
    fn tell(&mut self, outcomes: &[(S::Arch, Outcome)]) -> Result<(), SearchError>;

    /// The best architecture told so far with its fitness (the earliest among equals).
    fn best(&self) -> Option<(&S::Arch, f64)>;

    /// Whether the strategy has nothing more to propose (the space is used up). A driver stops
    /// when this is true, or when its budget is spent.
    fn is_finished(&self) -> bool;
}

/// The space a strategy searches: borrowed for as long as the strategy lives, or shared
/// through an [`Arc`], so that a long-lived object (a framework's study, a Python object) can
/// hold a strategy without holding the space's owner too. Every `start` takes either:
///
/// ```
/// use std::sync::Arc;
/// use dcl_evo::{RandomSearch, RandomSearchState, Strategy};
/// use dcl_graph::Nb201Space;
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// // Borrowed: the state lives no longer than `space`.
/// let space = Nb201Space::new();
/// let mut borrowed = RandomSearch.start(&space, ChaCha8Rng::seed_from_u64(0));
/// // Shared: the state owns its share and can be kept anywhere ('static).
/// let mut shared: RandomSearchState<'static, Nb201Space, ChaCha8Rng> =
///     RandomSearch.start(Arc::new(Nb201Space::new()), ChaCha8Rng::seed_from_u64(0));
/// assert_eq!(borrowed.ask(3).unwrap(), shared.ask(3).unwrap());
/// ```
pub enum SpaceRef<'s, S> {
    /// A borrowed space.
    Borrowed(&'s S),
    /// A shared space.
    Shared(Arc<S>),
}

impl<S: SearchSpace> std::fmt::Debug for SpaceRef<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self {
            Self::Borrowed(_) => "Borrowed",
            Self::Shared(_) => "Shared",
        };
        f.debug_tuple(how).field(&self.name()).finish()
    }
}

impl<S> Clone for SpaceRef<'_, S> {
    fn clone(&self) -> Self {
        match self {
            Self::Borrowed(s) => Self::Borrowed(s),
            Self::Shared(s) => Self::Shared(Arc::clone(s)),
        }
    }
}

impl<S> std::ops::Deref for SpaceRef<'_, S> {
    type Target = S;

    fn deref(&self) -> &S {
        match self {
            Self::Borrowed(s) => s,
            Self::Shared(s) => s,
        }
    }
}

impl<'s, S> From<&'s S> for SpaceRef<'s, S> {
    fn from(space: &'s S) -> Self {
        Self::Borrowed(space)
    }
}

impl<S> From<Arc<S>> for SpaceRef<'_, S> {
    fn from(space: Arc<S>) -> Self {
        Self::Shared(space)
    }
}

/// The book-keeping every strategy shares: which keys were asked, which are still out, and
/// every architecture learnt with its fitness, in the order told.
pub(crate) struct Proposals<'s, S: SearchSpace> {
    pub space: SpaceRef<'s, S>,
    asked: HashSet<S::Key>,
    pending: HashSet<S::Key>,
    /// Successful evaluations in the order told.
    pub labelled: Vec<(S::Arch, f64)>,
    pub finished: bool,
}

/// Counts, not architectures: an architecture need not implement `Debug`.
impl<S: SearchSpace> std::fmt::Debug for Proposals<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposals")
            .field("space", &self.space.name())
            .field("asked", &self.asked.len())
            .field("pending", &self.pending.len())
            .field("labelled", &self.labelled.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl<'s, S: SearchSpace> Proposals<'s, S> {
    pub fn new(space: SpaceRef<'s, S>) -> Self {
        Self {
            space,
            asked: HashSet::new(),
            pending: HashSet::new(),
            labelled: Vec::new(),
            finished: false,
        }
    }

    pub fn is_asked(&self, arch: &S::Arch) -> bool {
        self.asked.contains(&self.space.key(arch))
    }

    /// Asked but not told yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Marks `arch` as asked.
    pub fn mark(&mut self, arch: &S::Arch) {
        let key = self.space.key(arch);
        self.asked.insert(key.clone());
        self.pending.insert(key);
    }

    /// Asks `next` (marks it and adds it to `out`); no architecture means the space is used up.
    pub fn offer(&mut self, next: Option<S::Arch>, out: &mut Vec<S::Arch>) {
        match next {
            Some(a) => {
                self.mark(&a);
                out.push(a);
            }
            None => self.finished = true,
        }
    }

    /// Takes the outcomes: each must be pending. Returns the successes, in order.
    pub fn take(
        &mut self,
        outcomes: &[(S::Arch, Outcome)],
    ) -> Result<Vec<(S::Arch, f64)>, SearchError> {
        let mut good = Vec::new();
        for (arch, outcome) in outcomes {
            if !self.pending.remove(&self.space.key(arch)) {
                return Err(SearchError::NotAsked(self.space.arch_text(arch)));
            }
            if let Ok(f) = outcome {
                self.labelled.push((arch.clone(), *f));
                good.push((arch.clone(), *f));
            }
        }
        Ok(good)
    }

    pub fn best(&self) -> Option<(&S::Arch, f64)> {
        self.labelled
            .iter()
            .reduce(|b, q| if q.1 > b.1 { q } else { b })
            .map(|(a, f)| (a, *f))
    }

    /// A uniformly sampled architecture never asked, or `None` if none turns up. Where
    /// random draws keep missing and the space can list its architectures, one of those not
    /// asked is drawn from the list, so that `None` then means the space is used up.
    pub fn sample_unseen<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<S::Arch> {
        (0..SAMPLE_TRIES)
            .map(|_| self.space.sample(rng))
            .find(|a| !self.is_asked(a))
            .or_else(|| {
                let left: Vec<S::Arch> = self
                    .space
                    .enumerate()?
                    .into_iter()
                    .filter(|a| !self.is_asked(a))
                    .collect();
                (!left.is_empty()).then(|| left[rng.random_range(0..left.len())].clone())
            })
    }

    /// A mutation of `parent` never asked, else an unseen random architecture.
    pub fn unseen_child<R: Rng + ?Sized>(&self, parent: &S::Arch, rng: &mut R) -> Option<S::Arch> {
        (0..MUTATION_TRIES)
            .map(|_| self.space.mutate(parent, rng))
            .find(|a| !self.is_asked(a))
            .or_else(|| self.sample_unseen(rng))
    }
}
