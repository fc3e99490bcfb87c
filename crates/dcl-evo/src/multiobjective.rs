//! Multi-objective search: fitness (maximised) against a cost computed exactly from the
//! architecture (parameters, FLOPs; minimised). [`Nsga2`] is the evolutionary baseline; the
//! multi-objective DCL-ENAS is [`DclEnas::start_multiobjective`](crate::DclEnas::start_multiobjective).

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use dcl_graph::SearchSpace;

use crate::pareto::{crowded_fitness, nsga2_order};
use crate::strategy::{Outcome, Proposals, SpaceRef};
use crate::{SearchError, Strategy};

/// How many breedings [`Nsga2`] tries for an unseen child before mutating a parent until one
/// turns up.
const BREED_TRIES: usize = 100;

/// The second objective of a multi-objective search: a cost of an architecture, computed
/// exactly and cheaply from the architecture itself (a parameter count, FLOPs), minimised.
/// NaN counts as the worst cost.
///
/// Every `Fn(&A) -> f64 + Send` closure is a cost (annotate its argument's type, so that it
/// takes any borrow): `|cell: &Nb201Cell| params(cell)`. `Send`, so that a strategy holding
/// one can move to another thread.
pub trait Cost<A>: Send {
    /// The cost of `arch`.
    fn cost(&self, arch: &A) -> f64;
}

impl<A, F: Fn(&A) -> f64 + Send> Cost<A> for F {
    fn cost(&self, arch: &A) -> f64 {
        self(arch)
    }
}

/// A strategy's cost, boxed.
pub(crate) struct BoxedCost<'a, A>(Box<dyn Cost<A> + 'a>);

impl<'a, A> BoxedCost<'a, A> {
    pub(crate) fn new(cost: impl Cost<A> + 'a) -> Self {
        Self(Box::new(cost))
    }

    /// The cost of `arch` (NaN as +infinity).
    pub(crate) fn of(&self, arch: &A) -> f64 {
        let c = self.0.cost(arch);
        if c.is_nan() { f64::INFINITY } else { c }
    }

    /// The point `[-fitness, cost]` of `arch`, both minimised.
    pub(crate) fn point(&self, arch: &A, fitness: f64) -> [f64; 2] {
        [-fitness, self.of(arch)]
    }
}

impl<A> std::fmt::Debug for BoxedCost<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cost")
    }
}

/// Where the multi-objective DCL-ENAS measures the hypervolume its infill improves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InfillReference {
    /// A tenth of the range beyond the worst fitness and cost of the labelled architectures
    /// and the round's candidates: the whole front counts, its extremes included.
    Nadir,
    /// The labelled architectures' median fitness and median cost: only trade-offs better
    /// than the typical architecture evaluated so far in both objectives count.
    #[default]
    Median,
}

/// The multi-objective DCL-ENAS's own settings, beside [`DclEnasConfig`](crate::DclEnasConfig).
///
/// The default, the median reference and 1,000 sampled candidates, was the best of six
/// settings on NB201 CIFAR-10 (accuracy against parameters, seeds 100-109, mean hypervolume
/// over 50, 100 and 150 queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MultiObjective {
    /// The infill's hypervolume reference point.
    pub reference: InfillReference,
    /// Unseen random architectures scored each round beside the evolved offspring, as
    /// further infill candidates (0: offspring only).
    pub sampled: usize,
}

impl Default for MultiObjective {
    fn default() -> Self {
        Self {
            reference: InfillReference::Median,
            sampled: 1000,
        }
    }
}

impl MultiObjective {
    /// Checks the settings: `sampled` at most [`MAX_COUNT`](crate::MAX_COUNT).
    pub fn validate(&self) -> Result<(), SearchError> {
        if self.sampled > crate::MAX_COUNT {
            return Err(SearchError::Config(format!(
                "sampled is {}, more than the {} allowed",
                self.sampled,
                crate::MAX_COUNT
            )));
        }
        Ok(())
    }
}

/// NSGA-II (Deb et al., IEEE TEC 2002) over a search space: a population of `population`
/// architectures; each generation breeds `population` unseen children (binary tournaments on
/// rank and crowding distance, crossover with probability `crossover_rate`, mutation with
/// probability `mutation_rate`, and always when the child would equal a parent), evaluates
/// them, and keeps the best `population` of parents and children by non-dominated sorting and
/// crowding distance. The first generation is random.
///
/// ```
/// use dcl_evo::{Driver, FnEvaluator, Nsga2};
/// use dcl_graph::{Nb201Cell, Nb201Op, Nb201Space};
/// use rand::SeedableRng;
///
/// let convs = |c: &Nb201Cell| c.ops().iter().filter(|o| **o == Nb201Op::NorConv3x3).count() as f64;
/// let space = Nb201Space::new();
/// // Maximise 3x3 convolutions, minimise the cell's operations other than `none`.
/// let ops = |c: &Nb201Cell| c.ops().iter().filter(|o| **o != Nb201Op::None).count() as f64;
/// let rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// // Any `Fn(&Arch) -> f64 + Send` closure is a `Cost`.
/// let mut search = Nsga2::default().start(&space, ops, rng).unwrap();
/// let history = Driver::new(60).run(&mut search, &space, &mut FnEvaluator::new(convs), None, &mut |_| {}).unwrap();
/// assert_eq!(history.len(), 60);
/// // The 20 parents, each with its fitness and cost.
/// assert_eq!(search.population().count(), 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nsga2 {
    /// Population size, and children per generation.
    pub population: usize,
    /// Probability that a child comes from crossover of two parents.
    pub crossover_rate: f64,
    /// Probability that a child is mutated (a child equal to a parent always is).
    pub mutation_rate: f64,
}

impl Default for Nsga2 {
    /// Population 20, crossover 0.9, mutation 1.0: the best of six settings tried on NB201
    /// CIFAR-10 (accuracy against parameters, mean hypervolume over 50, 100 and 150 queries).
    fn default() -> Self {
        Self {
            population: 20,
            crossover_rate: 0.9,
            mutation_rate: 1.0,
        }
    }
}

impl Nsga2 {
    /// Checks the settings: population in `2..=MAX_COUNT`, both rates probabilities.
    pub fn validate(&self) -> Result<(), SearchError> {
        if self.population < 2 || self.population > crate::MAX_COUNT {
            return Err(SearchError::Config(format!(
                "population must be in 2..={}, got {}",
                crate::MAX_COUNT,
                self.population
            )));
        }
        for (name, p) in [
            ("crossover_rate", self.crossover_rate),
            ("mutation_rate", self.mutation_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(SearchError::Config(format!(
                    "{name} must be a probability in [0, 1], not {p}"
                )));
            }
        }
        Ok(())
    }

    /// The search as an ask/tell [`Strategy`], `cost` as the second objective, drawing from
    /// `rng`. Asks come a generation at a time: a generation's children are all asked before
    /// the next generation is bred, which waits until they are all told.
    pub fn start<'s, S: SearchSpace, R: Rng>(
        &self,
        space: impl Into<SpaceRef<'s, S>>,
        cost: impl Cost<S::Arch> + 's,
        rng: R,
    ) -> Result<Nsga2State<'s, S, R>, SearchError> {
        self.validate()?;
        Ok(Nsga2State {
            config: *self,
            proposals: Proposals::new(space.into()),
            cost: BoxedCost::new(cost),
            population: Vec::new(),
            fitness_key: Vec::new(),
            told: Vec::new(),
            asked_in_generation: 0,
            rng,
        })
    }
}

/// [`Nsga2`] in progress, as an ask/tell [`Strategy`].
pub struct Nsga2State<'s, S: SearchSpace, R> {
    config: Nsga2,
    proposals: Proposals<'s, S>,
    cost: BoxedCost<'s, S::Arch>,
    /// The parents: architectures with their points `[-fitness, cost]`.
    population: Vec<(S::Arch, [f64; 2])>,
    /// The parents' crowded-comparison keys (higher is better), for the tournaments.
    fitness_key: Vec<f64>,
    /// Successes told since the last selection.
    told: Vec<(S::Arch, [f64; 2])>,
    asked_in_generation: usize,
    rng: R,
}

impl<S: SearchSpace, R> std::fmt::Debug for Nsga2State<'_, S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nsga2State")
            .field("config", &self.config)
            .field("proposals", &self.proposals)
            .field("population", &self.population.len())
            .finish_non_exhaustive()
    }
}

impl<S: SearchSpace, R: Rng> Nsga2State<'_, S, R> {
    /// The current parents with their fitness and cost.
    pub fn population(&self) -> impl Iterator<Item = (&S::Arch, f64, f64)> {
        self.population.iter().map(|(a, p)| (a, -p[0], p[1]))
    }

    /// Environmental selection of the parents and everything told since the last.
    fn select(&mut self) {
        let mut pool = std::mem::take(&mut self.population);
        pool.append(&mut self.told);
        let points: Vec<[f64; 2]> = pool.iter().map(|p| p.1).collect();
        let keep: Vec<usize> = nsga2_order(&points)
            .into_iter()
            .take(self.config.population)
            .collect();
        let mut pool: Vec<Option<(S::Arch, [f64; 2])>> = pool.into_iter().map(Some).collect();
        self.population = keep.iter().filter_map(|&i| pool[i].take()).collect();
        let points: Vec<[f64; 2]> = self.population.iter().map(|p| p.1).collect();
        self.fitness_key = crowded_fitness(&points);
    }

    fn tournament(&mut self) -> usize {
        let n = self.population.len();
        let a = self.rng.random_range(0..n);
        let b = self.rng.random_range(0..n);
        if self.fitness_key[b] > self.fitness_key[a] {
            b
        } else {
            a
        }
    }

    fn breed(&mut self) -> Option<S::Arch> {
        let space = self.proposals.space.clone();
        let space = &*space;
        let mut first = None;
        for _ in 0..BREED_TRIES {
            let i = self.tournament();
            let p1 = self.population[i].0.clone();
            first.get_or_insert_with(|| p1.clone());
            let mut child = p1.clone();
            let mut parents = vec![space.key(&p1)];
            if self.population.len() > 1 && self.rng.random_bool(self.config.crossover_rate) {
                let j = self.tournament();
                let p2 = &self.population[j].0;
                parents.push(space.key(p2));
                if let Some(c) = space.crossover(&p1, p2, &mut self.rng) {
                    child = c;
                }
            }
            if self.rng.random_bool(self.config.mutation_rate)
                || parents.contains(&space.key(&child))
            {
                child = space.mutate(&child, &mut self.rng);
            }
            if !self.proposals.is_asked(&child) {
                return Some(child);
            }
        }
        let parent = first?;
        self.proposals.unseen_child(&parent, &mut self.rng)
    }
}

impl<S: SearchSpace, R: Rng> Strategy<S> for Nsga2State<'_, S, R> {
    fn name(&self) -> &str {
        "nsga2"
    }

    fn ask(&mut self, n: usize) -> Result<Vec<S::Arch>, SearchError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && !self.proposals.finished {
            if self.asked_in_generation == self.config.population {
                if self.proposals.pending() > 0 {
                    break;
                }
                self.select();
                self.asked_in_generation = 0;
            }
            let next = if self.population.is_empty() {
                self.proposals.sample_unseen(&mut self.rng)
            } else {
                self.breed()
            };
            self.asked_in_generation += 1;
            self.proposals.offer(next, &mut out);
        }
        Ok(out)
    }

    fn tell(&mut self, outcomes: &[(S::Arch, Outcome)]) -> Result<(), SearchError> {
        for (arch, fitness) in self.proposals.take(outcomes)? {
            let point = self.cost.point(&arch, fitness);
            self.told.push((arch, point));
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

/// Maps surrogate scores onto the fitness scale by quantiles: a score at quantile `q` of the
/// labelled architectures' scores is given the fitness at quantile `q` of their fitnesses.
/// Monotone, so it keeps the surrogate's ranking, and in fitness units, so predicted points
/// can be set against truly evaluated ones. Beyond the labelled scores it goes on along the
/// line through the lowest and highest (a child ranked above every labelled architecture
/// must be predicted fitter than all of them, or it could never lie beyond the front).
#[derive(Debug, Clone)]
pub(crate) struct Calibration {
    scores: Vec<f64>,
    fitness: Vec<f64>,
}

impl Calibration {
    pub fn new(scores: &[f64], fitness: &[f64]) -> Self {
        let mut scores = scores.to_vec();
        let mut fitness = fitness.to_vec();
        scores.sort_by(f64::total_cmp);
        fitness.sort_by(f64::total_cmp);
        Self { scores, fitness }
    }

    pub fn fitness(&self, score: f64) -> f64 {
        let n = self.scores.len();
        if n == 0 {
            return score;
        }
        let (s0, s1) = (self.scores[0], self.scores[n - 1]);
        let (f0, f1) = (self.fitness[0], self.fitness[n - 1]);
        let slope = if s1 > s0 { (f1 - f0) / (s1 - s0) } else { 0.0 };
        if score <= s0 {
            return f0 - slope * (s0 - score);
        }
        if score >= s1 {
            return f1 + slope * (score - s1);
        }
        let hi = self.scores.partition_point(|&s| s <= score).min(n - 1);
        let lo = hi - 1;
        let span = self.scores[hi] - self.scores[lo];
        let t = if span > 0.0 {
            (score - self.scores[lo]) / span
        } else {
            0.0
        };
        self.fitness[lo] + t * (self.fitness[hi] - self.fitness[lo])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Driver, FnEvaluator};
    use dcl_graph::{Nb201Cell, Nb201Op, Nb201Space};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn count(c: &Nb201Cell, op: Nb201Op) -> f64 {
        c.ops().iter().filter(|o| **o == op).count() as f64
    }

    #[test]
    fn calibration_is_monotone_and_in_fitness_units() {
        let c = Calibration::new(&[0.3, -1.0, 2.0], &[90.0, 10.0, 50.0]);
        // The line through (-1, 10) and (2, 90) has slope 80 / 3.
        assert!((c.fitness(-4.0) - (10.0 - 80.0)).abs() < 1e-9);
        assert_eq!(c.fitness(-1.0), 10.0);
        assert_eq!(c.fitness(0.3), 50.0);
        assert_eq!(c.fitness(2.0), 90.0);
        assert!((c.fitness(5.0) - 170.0).abs() < 1e-9);
        assert_eq!(Calibration::new(&[1.0], &[7.0]).fitness(3.0), 7.0);
        assert!((c.fitness(1.15) - 70.0).abs() < 1e-12);
        let mut last = f64::MIN;
        for k in -30..30 {
            let f = c.fitness(k as f64 / 10.0);
            assert!(f >= last);
            last = f;
        }
    }

    #[test]
    fn nsga2_settings_are_checked() {
        let space = Nb201Space::new();
        for bad in [
            Nsga2 {
                population: 1,
                ..Nsga2::default()
            },
            Nsga2 {
                crossover_rate: 1.5,
                ..Nsga2::default()
            },
            Nsga2 {
                mutation_rate: f64::NAN,
                ..Nsga2::default()
            },
        ] {
            let err = bad
                .start(&space, |_: &Nb201Cell| 0.0, ChaCha8Rng::seed_from_u64(0))
                .unwrap_err();
            assert!(matches!(err, SearchError::Config(_)), "{err}");
        }
    }

    // The toy problem of the tests below. Fitness: 3x3 convolutions, half a point per 1x1;
    // cost: their weights (9 and 1). The objectives conflict, so the front is a trade-off from
    // the empty cell to six 3x3s.
    fn fitness(c: &Nb201Cell) -> f64 {
        count(c, Nb201Op::NorConv3x3) + 0.5 * count(c, Nb201Op::NorConv1x1)
    }

    fn weights(c: &Nb201Cell) -> f64 {
        9.0 * count(c, Nb201Op::NorConv3x3) + count(c, Nb201Op::NorConv1x1)
    }

    #[test]
    fn nsga2_is_generational_deterministic_and_never_repeats() {
        let space = Nb201Space::new();
        let cfg = Nsga2 {
            population: 10,
            ..Nsga2::default()
        };
        let mut s = cfg
            .start(&space, weights, ChaCha8Rng::seed_from_u64(3))
            .unwrap();
        // The first generation is asked whole; the second waits for its outcomes.
        assert_eq!(s.ask(15).unwrap().len(), 10);
        assert!(s.ask(1).unwrap().is_empty());
        let run = |seed| {
            let mut s = cfg
                .start(&space, weights, ChaCha8Rng::seed_from_u64(seed))
                .unwrap();
            let h = Driver {
                batch_size: 3,
                ..Driver::new(80)
            }
            .run(
                &mut s,
                &space,
                &mut FnEvaluator::new(fitness),
                None,
                &mut |_| {},
            )
            .unwrap();
            let pop: Vec<[f64; 2]> = s.population().map(|(_, f, c)| [-f, c]).collect();
            (h, pop)
        };
        let (h, pop) = run(3);
        let archs: Vec<Nb201Cell> = h.queries.iter().map(|q| q.arch).collect();
        assert_eq!(
            archs.iter().collect::<std::collections::HashSet<_>>().len(),
            80
        );
        assert_eq!(
            run(3).0.queries.iter().map(|q| q.arch).collect::<Vec<_>>(),
            archs
        );
        assert_ne!(
            run(4).0.queries.iter().map(|q| q.arch).collect::<Vec<_>>(),
            archs
        );
        // Elitism: no evaluated architecture dominates a parent, and the parents spread over
        // the front rather than piling on one point.
        assert_eq!(pop.len(), 10);
        let points: Vec<[f64; 2]> = archs.iter().map(|a| [-fitness(a), weights(a)]).collect();
        for p in &pop {
            assert!(
                !points.iter().any(|q| crate::pareto::dominates(q, p)),
                "{p:?} is dominated"
            );
        }
        let distinct: std::collections::HashSet<u64> = pop.iter().map(|p| p[1].to_bits()).collect();
        assert!(distinct.len() >= 5, "{pop:?}");
    }

    /// A surrogate that knows the fitness up to a monotone distortion (scores are cubed).
    struct Oracle<F>(F);
    impl<F: Fn(&Nb201Cell) -> f64> dcl_graph::Surrogate<Nb201Space> for Oracle<F> {
        type Error = std::convert::Infallible;
        fn score(&mut self, _: &Nb201Space, a: &[Nb201Cell]) -> Result<Vec<f64>, Self::Error> {
            Ok(a.iter().map(|c| (self.0)(c).powi(3)).collect())
        }
        fn learn(&mut self, _: &Nb201Space, _: &[(Nb201Cell, f64)]) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn multiobjective_dcl_enas_with_a_good_surrogate_covers_the_front_better_than_random() {
        let space = Nb201Space::new();
        let hv = |h: &crate::SearchHistory<Nb201Cell>| {
            let points: Vec<[f64; 2]> = h
                .queries
                .iter()
                .map(|q| [-q.fitness, weights(&q.arch)])
                .collect();
            crate::pareto::hypervolume_2d(&points, [0.5, 60.0])
        };
        let (mut ours, mut random) = (0.0, 0.0);
        for seed in 0..5 {
            let rng = ChaCha8Rng::seed_from_u64(seed);
            let mut s = crate::DclEnas::default()
                .start_multiobjective(
                    &space,
                    Oracle(fitness),
                    weights,
                    MultiObjective {
                        reference: InfillReference::Nadir,
                        sampled: 0,
                    },
                    rng,
                )
                .unwrap();
            assert_eq!(s.name(), "dcl-enas-mo");
            let h = Driver::new(40)
                .run(
                    &mut s,
                    &space,
                    &mut FnEvaluator::new(fitness),
                    None,
                    &mut |_| {},
                )
                .unwrap();
            assert_eq!(h.len(), 40);
            ours += hv(&h);
            let mut r = crate::RandomSearch.start(&space, ChaCha8Rng::seed_from_u64(seed));
            random += hv(&Driver::new(40)
                .run(
                    &mut r,
                    &space,
                    &mut FnEvaluator::new(fitness),
                    None,
                    &mut |_| {},
                )
                .unwrap());
        }
        // The search with a faithful surrogate gets close to the whole space's front; random
        // search does not.
        let all: Vec<[f64; 2]> = space
            .enumerate()
            .unwrap()
            .iter()
            .map(|c| [-fitness(c), weights(c)])
            .collect();
        let whole = crate::pareto::hypervolume_2d(&all, [0.5, 60.0]);
        assert_eq!(whole, 277.5);
        println!(
            "mean hypervolume: ours {} random {} whole {whole}",
            ours / 5.0,
            random / 5.0
        );
        assert!(ours > random, "ours {ours} random {random}");
        assert!(ours / 5.0 > 0.9 * whole, "{ours} vs 5 x {whole}");
    }
}
