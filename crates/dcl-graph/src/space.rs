//! The two traits a user implements to bring their own space: [`SearchSpace`] (the search
//! operators every strategy needs) and [`GraphSpace`] (the graph form the predictor encodes).

use std::hash::Hash;

use rand::Rng;

use crate::{ArchGraph, GraphError, GraphLimits, OpVocab};

/// A space of neural architectures, as a search sees it: sampling, mutation, crossover, the
/// canonical key that tells two architectures apart, and the text form of both.
///
/// Random search and evolution need only this trait; the predictor also needs the graph form
/// of [`GraphSpace`]. All randomness comes from the caller's RNG, so a seeded
/// `rand_chacha::ChaCha8Rng` makes every run repeatable.
///
/// The text forms are what journals, printed lines and reports show: they must be stable
/// across versions of the program, and two architectures with equal keys must have equal key
/// texts (replaying a journal matches on them).
///
/// # Example: a small custom space
///
/// Chains of one to three ops between input and output, where `a→b` and `b→a` are different
/// architectures (a chain has no non-trivial isomorphism, so the op list itself is canonical).
///
/// ```
/// use dcl_graph::{ArchGraph, GraphError, GraphSpace, NodeOp, OpVocab, SearchSpace};
/// use rand::{Rng, RngExt, SeedableRng};
///
/// struct ChainSpace { vocab: OpVocab }
///
/// impl SearchSpace for ChainSpace {
///     type Arch = Vec<usize>;
///     type Key = Vec<usize>;
///
///     fn name(&self) -> &str { "chain" }
///
///     fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<usize> {
///         let len = rng.random_range(1..=3);
///         (0..len).map(|_| rng.random_range(0..self.vocab.len())).collect()
///     }
///
///     fn mutate<R: Rng + ?Sized>(&self, arch: &Vec<usize>, rng: &mut R) -> Vec<usize> {
///         let mut child = arch.clone();
///         let i = rng.random_range(0..child.len());
///         // Any op but the current one, so the child always differs.
///         child[i] = (child[i] + rng.random_range(1..self.vocab.len())) % self.vocab.len();
///         child
///     }
///
///     fn key(&self, arch: &Vec<usize>) -> Vec<usize> { arch.clone() }
///
///     // "conv>pool>conv": the op names in order.
///     fn arch_text(&self, arch: &Vec<usize>) -> String {
///         let names: Vec<&str> = arch.iter().map(|&o| self.vocab.name(o).unwrap_or("?")).collect();
///         names.join(">")
///     }
///
///     fn key_text(&self, key: &Vec<usize>) -> String { self.arch_text(key) }
/// }
///
/// impl GraphSpace for ChainSpace {
///     fn ops(&self) -> &OpVocab { &self.vocab }
///     fn max_nodes(&self) -> usize { 5 }
///
///     fn to_graph(&self, arch: &Vec<usize>) -> Result<ArchGraph, GraphError> {
///         let mut ops = vec![NodeOp::Input];
///         ops.extend(arch.iter().map(|&o| NodeOp::Op(o)));
///         ops.push(NodeOp::Output);
///         let edges: Vec<_> = (1..ops.len()).map(|v| (v - 1, v)).collect();
///         ArchGraph::new(ops, &edges, self.limits())
///     }
/// }
///
/// let space = ChainSpace { vocab: OpVocab::new(["conv", "pool"]).unwrap() };
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let a = space.sample(&mut rng);
/// let b = space.mutate(&a, &mut rng);
/// assert_ne!(space.key(&a), space.key(&b));
/// assert!(space.to_graph(&b).is_ok());
/// assert_eq!(space.arch_text(&vec![0, 1]), "conv>pool");
/// ```
pub trait SearchSpace {
    /// One architecture of the space.
    type Arch: Clone + Send + Sync;
    /// The canonical key: two architectures with equal keys are the same architecture
    /// (for example isomorphic cells), and are never evaluated twice.
    type Key: Clone + Eq + Hash + Ord + Send + Sync;

    /// A short name ("nb201", "nb101"); journals and saved predictors record it.
    fn name(&self) -> &str;

    /// A random architecture; see each space for how "uniform" is defined there.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Arch;

    /// A random valid neighbour of `arch`, with a different key.
    fn mutate<R: Rng + ?Sized>(&self, arch: &Self::Arch, rng: &mut R) -> Self::Arch;

    /// A child mixing two parents, where the space defines one. `None` by default, or when no
    /// valid child was found.
    fn crossover<R: Rng + ?Sized>(
        &self,
        _a: &Self::Arch,
        _b: &Self::Arch,
        _rng: &mut R,
    ) -> Option<Self::Arch> {
        None
    }

    /// The canonical key of `arch`.
    fn key(&self, arch: &Self::Arch) -> Self::Key;

    /// `arch` as one line of text (no line breaks; NAS-Bench-201's arch string, for example):
    /// what printed lines, reports and error messages show.
    fn arch_text(&self, arch: &Self::Arch) -> String;

    /// `key` as one line of text; equal keys give equal texts and different keys different
    /// texts. Journals record it, and resuming matches on it.
    fn key_text(&self, key: &Self::Key) -> String;

    /// The text of `arch`'s canonical key: [`key_text`](Self::key_text) of [`key`](Self::key).
    fn canonical_text(&self, arch: &Self::Arch) -> String {
        self.key_text(&self.key(arch))
    }

    /// Every architecture of the space, one per key, where the space is small enough to list.
    fn enumerate(&self) -> Option<Vec<Self::Arch>> {
        None
    }
}

/// A space whose architectures are labelled DAGs: what the predictor encodes, augments and
/// ranks. See [`SearchSpace`] for an example of both traits.
pub trait GraphSpace: SearchSpace {
    /// The op vocabulary of the nodes.
    fn ops(&self) -> &OpVocab;

    /// Most nodes a graph of this space has, input and output included.
    fn max_nodes(&self) -> usize;

    /// Most edges a graph of this space has. Defaults to a DAG's maximum.
    fn max_edges(&self) -> usize {
        let n = self.max_nodes();
        n * n.saturating_sub(1) / 2
    }

    /// The limits graphs of this space are validated against.
    fn limits(&self) -> GraphLimits {
        GraphLimits {
            num_ops: self.ops().len(),
            max_nodes: self.max_nodes(),
            max_edges: self.max_edges(),
        }
    }

    /// The architecture as a validated graph.
    fn to_graph(&self, arch: &Self::Arch) -> Result<ArchGraph, GraphError>;
}
