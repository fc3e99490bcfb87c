//! [`Subspace`]: a search space restricted to a given list of its architectures.

use std::collections::HashMap;

use rand::{Rng, RngExt};

use crate::{ArchGraph, GraphError, GraphSpace, OpVocab, SearchSpace};

/// A space restricted to a list of its architectures, for example the cells a benchmark table
/// covers: sampling is uniform over the list, and mutation and crossover only return members.
///
/// ```
/// use dcl_graph::{Nb201Cell, Nb201Space, GraphSpace, SearchSpace, Subspace};
/// use rand::SeedableRng;
/// let base = Nb201Space::new();
/// let members: Vec<_> = (0..100).filter_map(Nb201Cell::from_ordinal).collect();
/// let sub = Subspace::new(base, members.clone()).unwrap();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let child = sub.mutate(&members[0], &mut rng);
/// assert!(sub.contains(&child) && child != members[0]);
/// ```
#[derive(Debug, Clone)]
pub struct Subspace<S: SearchSpace> {
    base: S,
    members: Vec<S::Arch>,
    index: HashMap<S::Key, usize>,
}

/// Mutation attempts through the base space before a random member is drawn instead.
const MUTATION_TRIES: usize = 2_000;

impl<S: SearchSpace> Subspace<S> {
    /// `base` restricted to `members` (duplicates by key are dropped). Fails on an empty list.
    pub fn new(base: S, members: Vec<S::Arch>) -> Result<Self, GraphError> {
        let mut index = HashMap::with_capacity(members.len());
        let mut kept = Vec::with_capacity(members.len());
        for a in members {
            if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(base.key(&a)) {
                slot.insert(kept.len());
                kept.push(a);
            }
        }
        if kept.is_empty() {
            return Err(GraphError::Empty);
        }
        Ok(Self {
            base,
            members: kept,
            index,
        })
    }

    /// The unrestricted space.
    pub fn base(&self) -> &S {
        &self.base
    }

    /// The members, in the order given (duplicates removed).
    pub fn members(&self) -> &[S::Arch] {
        &self.members
    }

    /// Whether `arch` (or an architecture with its key) is a member.
    pub fn contains(&self, arch: &S::Arch) -> bool {
        self.index.contains_key(&self.base.key(arch))
    }
}

impl<S: SearchSpace> SearchSpace for Subspace<S> {
    type Arch = S::Arch;
    type Key = S::Key;

    /// The base space's name: the encoding and a predictor trained on the base space fit.
    fn name(&self) -> &str {
        self.base.name()
    }

    /// Uniform over the members.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> S::Arch {
        self.members[rng.random_range(0..self.members.len())].clone()
    }

    /// The base mutation, redrawn until it lands on a member with another key; after many
    /// misses, a uniformly drawn other member. With a single member, that member.
    fn mutate<R: Rng + ?Sized>(&self, arch: &S::Arch, rng: &mut R) -> S::Arch {
        let parent = self.base.key(arch);
        for _ in 0..MUTATION_TRIES {
            let child = self.base.mutate(arch, rng);
            let k = self.base.key(&child);
            if k != parent && self.index.contains_key(&k) {
                return child;
            }
        }
        if self.members.len() == 1 {
            return self.members[0].clone();
        }
        loop {
            let c = self.sample(rng);
            if self.base.key(&c) != parent {
                return c;
            }
        }
    }

    /// The base crossover, if its child is a member.
    fn crossover<R: Rng + ?Sized>(&self, a: &S::Arch, b: &S::Arch, rng: &mut R) -> Option<S::Arch> {
        self.base.crossover(a, b, rng).filter(|c| self.contains(c))
    }

    fn key(&self, arch: &S::Arch) -> S::Key {
        self.base.key(arch)
    }

    fn arch_text(&self, arch: &S::Arch) -> String {
        self.base.arch_text(arch)
    }

    fn key_text(&self, key: &S::Key) -> String {
        self.base.key_text(key)
    }

    fn enumerate(&self) -> Option<Vec<S::Arch>> {
        Some(self.members.clone())
    }
}

/// The base space's graph form, so a predictor trained on the base space ranks the members.
impl<S: GraphSpace> GraphSpace for Subspace<S> {
    fn ops(&self) -> &OpVocab {
        self.base.ops()
    }

    fn max_nodes(&self) -> usize {
        self.base.max_nodes()
    }

    fn max_edges(&self) -> usize {
        self.base.max_edges()
    }

    fn to_graph(&self, arch: &S::Arch) -> Result<ArchGraph, GraphError> {
        self.base.to_graph(arch)
    }
}
