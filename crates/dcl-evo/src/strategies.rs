//! The search strategies: their settings, their ask/tell states, and the one-at-a-time
//! drivers (`run`): ask one, evaluate it, tell it, with the caller's RNG.

use std::collections::{HashSet, VecDeque};

use dcl_graph::{Evaluator, SearchSpace, Surrogate};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::multiobjective::{BoxedCost, Calibration, Cost, InfillReference, MultiObjective};
use crate::pareto::{crowded_fitness, hypervolume_2d, nsga2_order, pareto_front};
use crate::strategy::{Outcome, Proposals, SpaceRef};
use crate::{Driver, SearchError, SearchHistory, Strategy};

/// The largest population, tournament, offspring or generation count a strategy accepts: far
/// above any useful setting, low enough that a typo (or `usize::MAX`) is refused up front
/// instead of exhausting memory or looping for ever.
pub const MAX_COUNT: usize = 1_000_000;

fn check_count(name: &str, value: usize) -> Result<(), SearchError> {
    if value > MAX_COUNT {
        return Err(SearchError::Config(format!(
            "{name} is {value}, more than the {MAX_COUNT} allowed"
        )));
    }
    Ok(())
}

/// `value` must be in `1..=MAX_COUNT`.
fn check_positive_count(name: &str, value: usize) -> Result<(), SearchError> {
    if value == 0 {
        return Err(SearchError::Config(format!(
            "{name} must be at least 1 (at most {MAX_COUNT}), got 0"
        )));
    }
    check_count(name, value)
}

/// Uniform random search: the baseline every strategy must beat.
///
/// ```
/// use dcl_evo::{RandomSearch, Evaluator};
/// use dcl_graph::{Nb201Cell, Nb201Space, Nb201Op};
/// use rand::SeedableRng;
///
/// /// Fitness: the number of 3x3 convolutions (a toy evaluator).
/// struct Convs;
/// impl Evaluator<Nb201Space> for Convs {
///     type Error = std::convert::Infallible;
///     fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Self::Error> {
///         Ok(a.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count() as f64)
///     }
/// }
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let h = RandomSearch.run(&Nb201Space::new(), &mut Convs, 30, &mut rng).unwrap();
/// assert_eq!(h.len(), 30);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomSearch;

impl RandomSearch {
    /// Evaluates `budget` distinct random architectures (fewer if the space runs out) with
    /// [`Driver::new`]`(budget)`'s settings, one at a time; a zero budget is a
    /// [`SearchError::Config`].
    pub fn run<S, E, R>(
        &self,
        space: &S,
        evaluator: &mut E,
        budget: usize,
        rng: &mut R,
    ) -> Result<SearchHistory<S::Arch>, SearchError>
    where
        S: SearchSpace,
        S::Arch: Serialize,
        E: Evaluator<S>,
        R: Rng + ?Sized,
    {
        let mut state = self.start(space, rng);
        Driver::new(budget).run(&mut state, space, evaluator, None, &mut |_| {})
    }

    /// The search as an ask/tell [`Strategy`] drawing from `rng`.
    pub fn start<'s, S: SearchSpace, R: Rng>(
        &self,
        space: impl Into<SpaceRef<'s, S>>,
        rng: R,
    ) -> RandomSearchState<'s, S, R> {
        RandomSearchState {
            proposals: Proposals::new(space.into()),
            rng,
        }
    }
}

/// [`RandomSearch`] in progress, as an ask/tell [`Strategy`].
pub struct RandomSearchState<'s, S: SearchSpace, R: Rng> {
    proposals: Proposals<'s, S>,
    rng: R,
}

impl<S: SearchSpace, R: Rng> std::fmt::Debug for RandomSearchState<'_, S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomSearchState")
            .field("proposals", &self.proposals)
            .finish_non_exhaustive()
    }
}

impl<S: SearchSpace, R: Rng> Strategy<S> for RandomSearchState<'_, S, R> {
    fn name(&self) -> &str {
        "random"
    }

    fn ask(&mut self, n: usize) -> Result<Vec<S::Arch>, SearchError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && !self.proposals.finished {
            let next = self.proposals.sample_unseen(&mut self.rng);
            self.proposals.offer(next, &mut out);
        }
        Ok(out)
    }

    fn tell(&mut self, outcomes: &[(S::Arch, Outcome)]) -> Result<(), SearchError> {
        self.proposals.take(outcomes).map(|_| ())
    }

    fn best(&self) -> Option<(&S::Arch, f64)> {
        self.proposals.best()
    }

    fn is_finished(&self) -> bool {
        self.proposals.finished
    }
}

/// Regularized (aging) evolution, Real et al., AAAI 2019: a queue-shaped population; each step
/// the best of `sample_size` random members is mutated, the child evaluated and appended, and
/// the oldest member removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegularizedEvolution {
    /// Population size (the first this many queries are random).
    pub population_size: usize,
    /// Tournament size.
    pub sample_size: usize,
}

impl Default for RegularizedEvolution {
    /// Population 20, tournament 5: tuned for budgets of 50 to 150 queries.
    fn default() -> Self {
        Self {
            population_size: 20,
            sample_size: 5,
        }
    }
}

impl RegularizedEvolution {
    /// Runs for `budget` true evaluations with [`Driver::new`]`(budget)`'s settings, one
    /// architecture at a time (a zero budget is a [`SearchError::Config`]).
    pub fn run<S, E, R>(
        &self,
        space: &S,
        evaluator: &mut E,
        budget: usize,
        rng: &mut R,
    ) -> Result<SearchHistory<S::Arch>, SearchError>
    where
        S: SearchSpace,
        S::Arch: Serialize,
        E: Evaluator<S>,
        R: Rng + ?Sized,
    {
        let mut state = self.start(space, rng)?;
        Driver::new(budget).run(&mut state, space, evaluator, None, &mut |_| {})
    }

    /// Checks the settings before any work: both sizes positive and at most [`MAX_COUNT`].
    pub fn validate(&self) -> Result<(), SearchError> {
        check_positive_count("population_size", self.population_size)?;
        check_positive_count("sample_size", self.sample_size)
    }

    /// The search as an ask/tell [`Strategy`] drawing from `rng`. The first `population_size`
    /// asks are random; after that each asked architecture is an unseen mutation of the best
    /// of `sample_size` members drawn from the population as last told (so a batch of `k`
    /// children is bred from the same population).
    pub fn start<'s, S: SearchSpace, R: Rng>(
        &self,
        space: impl Into<SpaceRef<'s, S>>,
        rng: R,
    ) -> Result<RegularizedEvolutionState<'s, S, R>, SearchError> {
        self.validate()?;
        Ok(RegularizedEvolutionState {
            config: *self,
            proposals: Proposals::new(space.into()),
            population: VecDeque::new(),
            rng,
        })
    }
}

/// [`RegularizedEvolution`] in progress, as an ask/tell [`Strategy`].
pub struct RegularizedEvolutionState<'s, S: SearchSpace, R: Rng> {
    config: RegularizedEvolution,
    proposals: Proposals<'s, S>,
    population: VecDeque<(S::Arch, f64)>,
    rng: R,
}

impl<S: SearchSpace, R: Rng> std::fmt::Debug for RegularizedEvolutionState<'_, S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegularizedEvolutionState")
            .field("config", &self.config)
            .field("proposals", &self.proposals)
            .field("population", &self.population.len())
            .finish_non_exhaustive()
    }
}

impl<S: SearchSpace, R: Rng> Strategy<S> for RegularizedEvolutionState<'_, S, R> {
    fn name(&self) -> &str {
        "regularized-evolution"
    }

    fn ask(&mut self, n: usize) -> Result<Vec<S::Arch>, SearchError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && !self.proposals.finished {
            let filling =
                self.population.len() + self.proposals.pending() < self.config.population_size;
            let next = if filling {
                self.proposals.sample_unseen(&mut self.rng)
            } else if self.population.is_empty() {
                // A batch as large as the population is still out: tell before asking more.
                break;
            } else {
                let population = &self.population;
                let rng = &mut self.rng;
                let parent = (0..self.config.sample_size)
                    .map(|_| &population[rng.random_range(0..population.len())])
                    .reduce(|b, c| if c.1 > b.1 { c } else { b })
                    .map(|(a, _)| a.clone());
                parent.and_then(|p| self.proposals.unseen_child(&p, rng))
            };
            self.proposals.offer(next, &mut out);
        }
        Ok(out)
    }

    fn tell(&mut self, outcomes: &[(S::Arch, Outcome)]) -> Result<(), SearchError> {
        for good in self.proposals.take(outcomes)? {
            self.population.push_back(good);
            if self.population.len() > self.config.population_size {
                self.population.pop_front();
            }
        }
        Ok(())
    }

    fn best(&self) -> Option<(&S::Arch, f64)> {
        self.proposals.best()
    }

    fn is_finished(&self) -> bool {
        self.proposals.finished
    }
}

/// Parameters of [`DclEnas`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DclEnasConfig {
    /// `N_init`: random architectures truly evaluated before the surrogate is first fitted.
    pub initial: usize,
    /// Size of the population evolved with predicted fitness.
    pub population: usize,
    /// `t_gap`: generations evolved between two rounds of true evaluations.
    pub generations: usize,
    /// Offspring bred per generation.
    pub offspring: usize,
    /// `N_infill`: architectures truly evaluated per round.
    pub infill: usize,
    /// How many of each round's `infill` queries explore instead of trusting the surrogate:
    /// each is an unseen single mutation of the best architecture evaluated so far (a step of
    /// local search around the incumbent), not ranked by the surrogate. A surrogate fitted on a
    /// handful of labels can rank a whole region low and then never query it: on NB201, ten
    /// random cells teach it that skip connections hurt, the search settles on the best cell
    /// without one (71.91 % on CIFAR-100 against the optimum's 73.51 %), and the optimum, one
    /// edit away, is never tried. These steps try every neighbour of the incumbent in turn,
    /// whatever the surrogate says (and once they are all evaluated, an unseen random
    /// architecture). Must not exceed `infill`. Default 1 (0 is the paper's loop); a
    /// serialized configuration without the field reads as 0.
    #[serde(default)]
    pub explore: usize,
    /// Probability that an offspring comes from crossover (then mutation if the space has none).
    pub crossover_rate: f64,
    /// Tournament size for parent selection.
    pub tournament: usize,
}

impl Default for DclEnasConfig {
    fn default() -> Self {
        Self {
            initial: 10,
            population: 20,
            generations: 5,
            offspring: 100,
            infill: 5,
            explore: 1,
            crossover_rate: 0.3,
            tournament: 3,
        }
    }
}

/// The DCL-ENAS search loop (Zhang et al., arXiv 2512.20112).
///
/// 1. Truly evaluate `initial` random architectures and fit the surrogate.
/// 2. Until the budget is spent: take the best truly evaluated architectures as the population;
///    for `generations` generations breed `offspring` unseen children by tournament selection,
///    crossover and mutation, score them with the surrogate, and keep the `population` best by
///    predicted score (environmental selection); then truly evaluate the `infill - explore`
///    unevaluated children with the highest predicted scores and `explore` unseen single
///    mutations of the best architecture evaluated so far, and refit the surrogate on
///    everything evaluated so far.
///
/// `explore` is our addition to the paper's loop (default 1 of 5 queries per round; 0 gives
/// the paper's loop exactly): it rescues the searches that a surrogate misled by its first
/// labels would otherwise leave trapped.
///
/// The surrogate arrives ready to learn: with the DCL-ENAS predictor, pre-train it label-free
/// before the search.
///
/// ```
/// use dcl_evo::{DclEnas, DclEnasConfig, Driver, FnEvaluator};
/// use dcl_graph::{Nb201Cell, Nb201Op, Nb201Space, Surrogate};
/// use rand::SeedableRng;
///
/// // Any surrogate will do; this one ranks by the number of 3x3 convolutions.
/// struct Convs;
/// impl Surrogate<Nb201Space> for Convs {
///     type Error = std::convert::Infallible;
///     fn score(&mut self, _: &Nb201Space, a: &[Nb201Cell]) -> Result<Vec<f64>, Self::Error> {
///         Ok(a.iter().map(|c| c.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count() as f64).collect())
///     }
///     fn learn(&mut self, _: &Nb201Space, _: &[(Nb201Cell, f64)]) -> Result<(), Self::Error> {
///         Ok(())
///     }
/// }
///
/// let space = Nb201Space::new();
/// let mut truth = FnEvaluator::new(|c: &Nb201Cell| {
///     c.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count() as f64
/// });
/// let rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let mut search = DclEnas::new(DclEnasConfig::default()).start(&space, Convs, rng).unwrap();
/// let history = Driver::new(30).run(&mut search, &space, &mut truth, None, &mut |_| {}).unwrap();
/// assert_eq!(history.best().unwrap().fitness, 6.0); // the all-3x3 cell, found by the ranking
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DclEnas {
    /// The parameters.
    pub config: DclEnasConfig,
}

impl DclEnas {
    /// The search with `config`.
    pub fn new(config: DclEnasConfig) -> Self {
        Self { config }
    }

    /// Runs for `budget` true evaluations with [`Driver::new`]`(budget)`'s settings, one
    /// architecture at a time (a zero budget is a [`SearchError::Config`]).
    pub fn run<S, E, P, R>(
        &self,
        space: &S,
        evaluator: &mut E,
        surrogate: &mut P,
        budget: usize,
        rng: &mut R,
    ) -> Result<SearchHistory<S::Arch>, SearchError>
    where
        S: SearchSpace,
        S::Arch: Serialize,
        E: Evaluator<S>,
        P: Surrogate<S>,
        R: Rng + ?Sized,
    {
        let mut state = self.start(space, surrogate, rng)?;
        Driver::new(budget).run(&mut state, space, evaluator, None, &mut |_| {})
    }

    /// Checks the settings before any work: `initial`, `population`, `infill` and
    /// `tournament` positive, each count at most [`MAX_COUNT`], `explore <= infill`, and
    /// `crossover_rate` a probability (NaN refused). The error names the field.
    pub fn validate(&self) -> Result<(), SearchError> {
        let c = &self.config;
        for (name, value) in [
            ("initial", c.initial),
            ("population", c.population),
            ("infill", c.infill),
            ("tournament", c.tournament),
        ] {
            check_positive_count(name, value)?;
        }
        check_count("generations", c.generations)?;
        check_count("offspring", c.offspring)?;
        if !(0.0..=1.0).contains(&c.crossover_rate) {
            return Err(SearchError::Config(format!(
                "crossover_rate must be a probability in [0, 1], not {}",
                c.crossover_rate
            )));
        }
        if c.explore > c.infill {
            return Err(SearchError::Config(format!(
                "explore ({}) must not exceed infill ({})",
                c.explore, c.infill
            )));
        }
        Ok(())
    }

    /// The search as an ask/tell [`Strategy`] with `surrogate` (pass `&mut p` to keep it),
    /// drawing from `rng`.
    ///
    /// Asks follow the rounds of the loop: first `initial` random architectures; then, once
    /// all of them are told, each round refits the surrogate, breeds, and offers its
    /// `infill - explore` best-ranked children and `explore` unseen single mutations of the
    /// incumbent (the best told so far). A round ends when all its architectures are asked;
    /// the next round starts at the first ask after they are all told.
    ///
    /// Asked one at a time, each exploring query mutates the incumbent as it stands after the
    /// round's earlier results. Asked `k >= infill` at a time, a whole round comes back at
    /// once, and its exploring queries mutate the incumbent from *before* the round's results:
    /// the price of evaluating the round in parallel.
    pub fn start<'s, S, P, R>(
        &self,
        space: impl Into<SpaceRef<'s, S>>,
        surrogate: P,
        rng: R,
    ) -> Result<DclEnasState<'s, S, P, R>, SearchError>
    where
        S: SearchSpace,
        P: Surrogate<S>,
        R: Rng,
    {
        self.validate()?;
        if self.config.initial < surrogate.min_labels() {
            return Err(SearchError::Config(format!(
                "initial ({}) must be at least the {} labelled architectures the surrogate needs to learn",
                self.config.initial,
                surrogate.min_labels()
            )));
        }
        Ok(DclEnasState {
            search: self.clone(),
            proposals: Proposals::new(space.into()),
            surrogate,
            rng,
            round: None,
            rounds_started: false,
            cost: None,
        })
    }

    /// Multi-objective DCL-ENAS: fitness (maximised) against `cost` (minimised, computed
    /// exactly from the architecture), asked in the same rounds as [`start`](Self::start).
    ///
    /// Each round refits the surrogate, maps its scores onto the fitness scale (by quantiles
    /// of the labelled architectures' scores and fitnesses, so the ranking is the
    /// surrogate's), and evolves `generations` generations of `offspring` children with
    /// NSGA-II's selection on (predicted fitness, cost), starting from the `population`
    /// labelled architectures first in NSGA-II's order of their true points. The round then
    /// offers, one by one, the `infill - explore` children that most increase the hypervolume
    /// of the labelled architectures' front together with the children already picked (all at
    /// their predicted points, so incumbents and children share one scale; when none increases
    /// it, the next child in NSGA-II order), and `explore` unseen mutations of members of the
    /// true front drawn at random.
    pub fn start_multiobjective<'s, S, P, R>(
        &self,
        space: impl Into<SpaceRef<'s, S>>,
        surrogate: P,
        cost: impl Cost<S::Arch> + 's,
        settings: MultiObjective,
        rng: R,
    ) -> Result<DclEnasState<'s, S, P, R>, SearchError>
    where
        S: SearchSpace,
        P: Surrogate<S>,
        R: Rng,
    {
        settings.validate()?;
        let mut state = self.start(space, surrogate, rng)?;
        state.cost = Some((BoxedCost::new(cost), settings));
        Ok(state)
    }

    fn breed<S: SearchSpace, R: Rng + ?Sized>(
        &self,
        space: &S,
        population: &[(S::Arch, f64)],
        rng: &mut R,
    ) -> S::Arch {
        let pick = |rng: &mut R| {
            (0..self.config.tournament)
                .map(|_| &population[rng.random_range(0..population.len())])
                .reduce(|b, c| if c.1 > b.1 { c } else { b })
                .map(|(a, _)| a)
                .unwrap_or(&population[0].0)
        };
        let p1 = pick(rng);
        if population.len() > 1 && rng.random_bool(self.config.crossover_rate.clamp(0.0, 1.0)) {
            let p2 = pick(rng);
            if let Some(child) = space.crossover(p1, p2, rng) {
                // A crossover child equal to a parent is still mutated, to move somewhere.
                if space.key(&child) != space.key(p1) && space.key(&child) != space.key(p2) {
                    return child;
                }
                return space.mutate(&child, rng);
            }
        }
        space.mutate(p1, rng)
    }
}

/// One round of [`DclEnas`]: what is left to ask of it.
#[derive(Debug)]
struct Round<A> {
    /// The best-ranked unseen children not asked yet, best first.
    ranked: VecDeque<A>,
    /// Exploring queries not asked yet.
    explore_left: usize,
    /// Architectures asked in this round.
    picked: usize,
}

/// [`DclEnas`] in progress, as an ask/tell [`Strategy`]; see [`DclEnas::start`].
pub struct DclEnasState<'s, S: SearchSpace, P, R> {
    search: DclEnas,
    proposals: Proposals<'s, S>,
    surrogate: P,
    rng: R,
    round: Option<Round<S::Arch>>,
    rounds_started: bool,
    /// The second objective and the settings of the multi-objective search, if this is one.
    cost: Option<(BoxedCost<'s, S::Arch>, MultiObjective)>,
}

impl<S: SearchSpace, P, R> std::fmt::Debug for DclEnasState<'_, S, P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DclEnasState")
            .field("search", &self.search)
            .field("proposals", &self.proposals)
            .field("rounds_started", &self.rounds_started)
            .field("multiobjective", &self.cost.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: SearchSpace, P: Surrogate<S>, R: Rng> DclEnasState<'_, S, P, R> {
    /// Up to `offspring` children of `parents` (architecture, fitness for the tournaments),
    /// none asked before and none already in play (`in_play` gains their keys); at most
    /// four breedings per child.
    /// (An associated function of the fields it needs, so a round can call it while it
    /// borrows others.)
    fn breed_unseen(
        (search, proposals, rng): (&DclEnas, &Proposals<S>, &mut R),
        space: &S,
        parents: &[(S::Arch, f64)],
        in_play: &mut HashSet<S::Key>,
    ) -> Vec<S::Arch> {
        let offspring = search.config.offspring;
        let mut children = Vec::with_capacity(offspring);
        for _ in 0..offspring * 4 {
            if children.len() == offspring {
                break;
            }
            let child = search.breed(space, parents, rng);
            let key = space.key(&child);
            if !proposals.is_asked(&child) && in_play.insert(key) {
                children.push(child);
            }
        }
        children
    }

    /// The surrogate.
    pub fn surrogate(&self) -> &P {
        &self.surrogate
    }

    /// Refits the surrogate on everything told, breeds `generations` generations on predicted
    /// fitness, and returns the round's offer.
    fn new_round(&mut self) -> Result<Round<S::Arch>, SearchError> {
        if self.cost.is_some() {
            return self.new_multiobjective_round();
        }
        let c = &self.search.config;
        let space = self.proposals.space.clone();
        let space = &*space;
        self.surrogate
            .learn(space, &self.proposals.labelled)
            .map_err(|e| SearchError::Surrogate(Box::new(e)))?;

        // The population: the best truly evaluated architectures, scored like offspring.
        let mut parents: Vec<(S::Arch, f64)> = self.proposals.labelled.clone();
        parents.sort_by(|a, b| b.1.total_cmp(&a.1));
        parents.truncate(c.population);
        let archs: Vec<S::Arch> = parents.iter().map(|p| p.0.clone()).collect();
        let scores = score(&mut self.surrogate, space, &archs)?;
        let mut population: Vec<(S::Arch, f64)> = archs.into_iter().zip(scores).collect();
        let mut candidates: Vec<(S::Arch, f64)> = Vec::new();
        let mut in_play: HashSet<S::Key> = population.iter().map(|p| space.key(&p.0)).collect();
        for _ in 0..c.generations {
            let children = Self::breed_unseen(
                (&self.search, &self.proposals, &mut self.rng),
                space,
                &population,
                &mut in_play,
            );
            if children.is_empty() {
                break;
            }
            let scores = score(&mut self.surrogate, space, &children)?;
            let scored: Vec<(S::Arch, f64)> = children.into_iter().zip(scores).collect();
            candidates.extend(scored.iter().cloned());
            population.extend(scored);
            population.sort_by(|a, b| b.1.total_cmp(&a.1));
            population.truncate(c.population);
        }

        candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Round {
            ranked: candidates
                .into_iter()
                .take(c.infill - c.explore)
                .map(|(a, _)| a)
                .collect(),
            explore_left: c.explore,
            picked: 0,
        })
    }

    /// The multi-objective round of [`DclEnas::start_multiobjective`].
    fn new_multiobjective_round(&mut self) -> Result<Round<S::Arch>, SearchError> {
        let c = self.search.config.clone();
        let space = self.proposals.space.clone();
        let space = &*space;
        self.surrogate
            .learn(space, &self.proposals.labelled)
            .map_err(|e| SearchError::Surrogate(Box::new(e)))?;
        let Some((cost, settings)) = self.cost.as_ref() else {
            return Err(SearchError::Config(
                "no cost for a multi-objective round".into(),
            ));
        };
        let labelled = self.proposals.labelled.clone();
        let archs: Vec<S::Arch> = labelled.iter().map(|(a, _)| a.clone()).collect();
        let fitness: Vec<f64> = labelled.iter().map(|(_, f)| *f).collect();
        let truth: Vec<[f64; 2]> = labelled.iter().map(|(a, f)| cost.point(a, *f)).collect();
        let scores = score(&mut self.surrogate, space, &archs)?;
        let calibration = Calibration::new(&scores, &fitness);
        let predicted = |a: &S::Arch, s: f64| cost.point(a, calibration.fitness(s));

        // The population: the labelled architectures first in NSGA-II's order of their true
        // points, placed at their predicted points like the children they compete with.
        let mut population: Vec<(S::Arch, [f64; 2])> = nsga2_order(&truth)
            .into_iter()
            .take(c.population)
            .map(|i| (archs[i].clone(), predicted(&archs[i], scores[i])))
            .collect();
        let mut candidates: Vec<(S::Arch, [f64; 2])> = Vec::new();
        let mut in_play: HashSet<S::Key> = population.iter().map(|p| space.key(&p.0)).collect();
        for _ in 0..c.generations {
            let points: Vec<[f64; 2]> = population.iter().map(|p| p.1).collect();
            let parents: Vec<(S::Arch, f64)> = population
                .iter()
                .map(|p| p.0.clone())
                .zip(crowded_fitness(&points))
                .collect();
            let children = Self::breed_unseen(
                (&self.search, &self.proposals, &mut self.rng),
                space,
                &parents,
                &mut in_play,
            );
            if children.is_empty() {
                break;
            }
            let scores = score(&mut self.surrogate, space, &children)?;
            let scored: Vec<(S::Arch, [f64; 2])> = children
                .into_iter()
                .zip(scores)
                .map(|(a, s)| {
                    let p = predicted(&a, s);
                    (a, p)
                })
                .collect();
            candidates.extend(scored.iter().cloned());
            population.extend(scored);
            let points: Vec<[f64; 2]> = population.iter().map(|p| p.1).collect();
            let keep = nsga2_order(&points);
            let mut pool: Vec<Option<(S::Arch, [f64; 2])>> =
                population.into_iter().map(Some).collect();
            population = keep
                .into_iter()
                .take(c.population)
                .filter_map(|i| pool[i].take())
                .collect();
        }

        let mut sampled = Vec::with_capacity(settings.sampled);
        for _ in 0..settings.sampled {
            match self.proposals.sample_unseen(&mut self.rng) {
                Some(a) if in_play.insert(space.key(&a)) => sampled.push(a),
                Some(_) => {}
                None => break,
            }
        }
        if !sampled.is_empty() {
            let scores = score(&mut self.surrogate, space, &sampled)?;
            candidates.extend(sampled.into_iter().zip(scores).map(|(a, s)| {
                let p = predicted(&a, s);
                (a, p)
            }));
        }

        // Infill: greedy hypervolume improvement over the true front.
        let reference = match settings.reference {
            // A tenth of the range beyond the worst fitness and cost in play, so the front's
            // extremes count too.
            InfillReference::Nadir => [0, 1].map(|d| {
                let values = truth
                    .iter()
                    .chain(candidates.iter().map(|p| &p.1))
                    .map(|p| p[d])
                    .filter(|v| v.is_finite());
                let (lo, hi) =
                    values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
                hi + 0.1 * (hi - lo).max(0.0) + 1e-9 * (1.0 + hi.abs())
            }),
            InfillReference::Median => {
                [0, 1].map(|d| crate::median(&truth.iter().map(|p| p[d]).collect::<Vec<_>>()))
            }
        };
        // The front the children must improve: the labelled architectures at their predicted
        // points, on the same scale as the children's, so a child the surrogate ranks above
        // an evaluated architecture of the same cost is an improvement even where the
        // calibration understates both. (The quantile calibration gives the labelled
        // architectures their own fitnesses, permuted by the surrogate's ranking.)
        let mut front: Vec<[f64; 2]> = archs
            .iter()
            .zip(&scores)
            .map(|(a, &s)| predicted(a, s))
            .collect();
        let mut fallback: VecDeque<usize> =
            nsga2_order(&candidates.iter().map(|p| p.1).collect::<Vec<_>>()).into();
        let mut taken = vec![false; candidates.len()];
        let mut ranked = VecDeque::new();
        for _ in 0..c.infill - c.explore {
            let base = hypervolume_2d(&front, reference);
            let mut best: Option<(usize, f64)> = None;
            for (i, cand) in candidates.iter().enumerate() {
                if taken[i] {
                    continue;
                }
                front.push(cand.1);
                let gain = hypervolume_2d(&front, reference) - base;
                front.pop();
                if gain > 0.0 && best.is_none_or(|b| gain > b.1) {
                    best = Some((i, gain));
                }
            }
            let pick = match best {
                Some((i, _)) => Some(i),
                None => std::iter::from_fn(|| fallback.pop_front()).find(|&i| !taken[i]),
            };
            let Some(i) = pick else {
                break;
            };
            taken[i] = true;
            front.push(candidates[i].1);
            ranked.push_back(candidates[i].0.clone());
        }
        Ok(Round {
            ranked,
            explore_left: c.explore,
            picked: 0,
        })
    }

    /// The next architecture of the current round, or `None` when the round is over.
    fn next_of_round(&mut self) -> Option<S::Arch> {
        let round = self.round.as_mut()?;
        if let Some(a) = round.ranked.pop_front() {
            round.picked += 1;
            return Some(a);
        }
        if round.explore_left > 0 {
            // Local search around the incumbent: its unseen neighbours are asked one by one,
            // so every single edit of the best architecture is eventually tried.
            let incumbent = match &self.cost {
                Some((cost, settings)) => {
                    // A member of the true front drawn at random; with the median reference,
                    // one better than both medians when there is one.
                    let labelled = &self.proposals.labelled;
                    let points: Vec<[f64; 2]> =
                        labelled.iter().map(|(a, f)| cost.point(a, *f)).collect();
                    let mut front = pareto_front(&points);
                    if settings.reference == InfillReference::Median {
                        let median = [0, 1].map(|d| {
                            crate::median(&points.iter().map(|p| p[d]).collect::<Vec<_>>())
                        });
                        let inside: Vec<usize> = front
                            .iter()
                            .copied()
                            .filter(|&i| points[i][0] < median[0] && points[i][1] < median[1])
                            .collect();
                        if !inside.is_empty() {
                            front = inside;
                        }
                    }
                    (!front.is_empty()).then(|| {
                        labelled[front[self.rng.random_range(0..front.len())]]
                            .0
                            .clone()
                    })
                }
                None => self
                    .proposals
                    .labelled
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(a, _)| a.clone()),
            };
            let child = incumbent.and_then(|p| self.proposals.unseen_child(&p, &mut self.rng));
            match child {
                Some(child) => {
                    round.explore_left -= 1;
                    round.picked += 1;
                    return Some(child);
                }
                None => round.explore_left = 0,
            }
        }
        if round.picked == 0 {
            // Nothing new was bred (a tiny or exhausted space): fall back to a random query.
            round.picked = 1;
            match self.proposals.sample_unseen(&mut self.rng) {
                Some(a) => return Some(a),
                None => self.proposals.finished = true,
            }
        }
        self.round = None;
        None
    }
}

impl<S: SearchSpace, P: Surrogate<S>, R: Rng> Strategy<S> for DclEnasState<'_, S, P, R> {
    fn name(&self) -> &str {
        if self.cost.is_some() {
            "dcl-enas-mo"
        } else {
            "dcl-enas"
        }
    }

    fn ask(&mut self, n: usize) -> Result<Vec<S::Arch>, SearchError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && !self.proposals.finished {
            let next = if !self.rounds_started {
                if self.proposals.labelled.len() + self.proposals.pending()
                    >= self.search.config.initial
                {
                    if self.proposals.pending() > 0 {
                        break;
                    }
                    self.rounds_started = true;
                    continue;
                }
                match self.proposals.sample_unseen(&mut self.rng) {
                    Some(a) => Some(a),
                    None => {
                        self.proposals.finished = true;
                        None
                    }
                }
            } else {
                if self.round.is_none() {
                    if self.proposals.pending() > 0 {
                        // The round's outcomes are still out: the next round needs them.
                        break;
                    }
                    self.round = Some(self.new_round()?);
                }
                match self.next_of_round() {
                    Some(a) => Some(a),
                    None if self.proposals.finished => None,
                    // The round is over; the next starts once its outcomes are told.
                    None => continue,
                }
            };
            if let Some(a) = next {
                self.proposals.mark(&a);
                out.push(a);
            }
        }
        Ok(out)
    }

    fn tell(&mut self, outcomes: &[(S::Arch, Outcome)]) -> Result<(), SearchError> {
        self.proposals.take(outcomes).map(|_| ())
    }

    fn best(&self) -> Option<(&S::Arch, f64)> {
        self.proposals.best()
    }

    fn is_finished(&self) -> bool {
        self.proposals.finished
    }
}

fn score<S: SearchSpace, P: Surrogate<S>>(
    surrogate: &mut P,
    space: &S,
    archs: &[S::Arch],
) -> Result<Vec<f64>, SearchError> {
    let s = surrogate
        .score(space, archs)
        .map_err(|e| SearchError::Surrogate(Box::new(e)))?;
    if s.len() != archs.len() {
        return Err(SearchError::ScoreCount {
            expected: archs.len(),
            found: s.len(),
        });
    }
    // A NaN score would poison every sort: treat it as the worst.
    Ok(s.into_iter()
        .map(|x| if x.is_nan() { f64::NEG_INFINITY } else { x })
        .collect())
}
