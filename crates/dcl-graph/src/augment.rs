//! Augmentations for the label-free contrastive stage.
//!
//! Each augmentation rewrites a [`GraphView`], a labelled digraph that, unlike an
//! [`ArchGraph`], may be invalid (an edge drop can strand a node) or partly masked. Every
//! augmentation documents whether it keeps a valid graph valid ([`Augmentation::keeps_valid`]);
//! [`GraphView::to_graph`] tells the truth about any particular result.
//!
//! ```
//! use dcl_graph::augment::{Augmentation, Compose, EdgeDrop, GraphView, NodeShuffle, OpSubstitution};
//! use dcl_graph::{Nb201Space, GraphSpace, SearchSpace};
//! use rand::SeedableRng;
//!
//! let space = Nb201Space::new();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let graph = space.to_graph(&space.sample(&mut rng)).unwrap();
//! let aug = Compose::new(vec![
//!     Box::new(OpSubstitution::new(0.2)),
//!     Box::new(EdgeDrop::new(0.2).keeping_valid()),
//!     Box::new(NodeShuffle),
//! ]);
//! assert!(aug.keeps_valid());
//! let mut view = GraphView::from(&graph);
//! aug.apply(&mut view, &mut rng);
//! assert!(view.to_graph().is_ok());
//! ```

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::{ArchGraph, GraphError, GraphLimits, NodeOp};

/// A labelled digraph as augmentations see it: possibly invalid, possibly with masked ops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphView {
    /// Node labels; `None` is a masked op.
    ops: Vec<Option<NodeOp>>,
    /// Row-major `n x n` adjacency: `adj[i * n + j]` for an edge `i → j`.
    adj: Vec<bool>,
    limits: GraphLimits,
}

impl From<&ArchGraph> for GraphView {
    fn from(g: &ArchGraph) -> Self {
        let n = g.num_nodes();
        let mut adj = vec![false; n * n];
        for (a, b) in g.edges() {
            adj[a * n + b] = true;
        }
        Self {
            ops: g.ops().into_iter().map(Some).collect(),
            adj,
            limits: g.limits(),
        }
    }
}

impl GraphView {
    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.ops.len()
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.adj.iter().filter(|&&e| e).count()
    }

    /// The label of node `v`; `Some(None)` for a masked node.
    pub fn op(&self, v: usize) -> Option<Option<NodeOp>> {
        self.ops.get(v).copied()
    }

    /// All labels in node order (`None` = masked).
    pub fn ops(&self) -> &[Option<NodeOp>] {
        &self.ops
    }

    /// Whether there is an edge `i → j`.
    pub fn has_edge(&self, i: usize, j: usize) -> bool {
        let n = self.num_nodes();
        i < n && j < n && self.adj[i * n + j]
    }

    /// All edges, by source then target.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let n = self.num_nodes();
        (0..n * n)
            .filter(|&k| self.adj[k])
            .map(|k| (k / n, k % n))
            .collect()
    }

    /// The limits of the graph this view came from.
    pub fn limits(&self) -> GraphLimits {
        self.limits
    }

    /// Number of masked nodes.
    pub fn num_masked(&self) -> usize {
        self.ops.iter().filter(|o| o.is_none()).count()
    }

    /// The view as a validated graph, or why it is not one ([`GraphError::Masked`] for a
    /// masked node, otherwise the error [`ArchGraph::new`] gives).
    pub fn to_graph(&self) -> Result<ArchGraph, GraphError> {
        let ops = self
            .ops
            .iter()
            .enumerate()
            .map(|(v, o)| o.ok_or(GraphError::Masked(v)))
            .collect::<Result<Vec<_>, _>>()?;
        ArchGraph::new(ops, &self.edges(), self.limits)
    }

    /// Whether [`to_graph`](Self::to_graph) succeeds.
    pub fn is_valid(&self) -> bool {
        self.to_graph().is_ok()
    }

    fn set_edge(&mut self, i: usize, j: usize, on: bool) {
        let n = self.num_nodes();
        self.adj[i * n + j] = on;
    }

    fn find(&self, op: NodeOp) -> Option<usize> {
        self.ops.iter().position(|o| *o == Some(op))
    }

    /// Whether every node lies on an input→output path (the connectivity part of validity).
    fn all_on_paths(&self) -> bool {
        let (Some(input), Some(output)) = (self.find(NodeOp::Input), self.find(NodeOp::Output))
        else {
            return false;
        };
        let fwd = self.reach(input, true);
        let bwd = self.reach(output, false);
        fwd.iter().zip(&bwd).all(|(a, b)| *a && *b)
    }

    fn reach(&self, start: usize, forward: bool) -> Vec<bool> {
        let n = self.num_nodes();
        let mut seen = vec![false; n];
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(v) = stack.pop() {
            for w in 0..n {
                let e = if forward {
                    self.adj[v * n + w]
                } else {
                    self.adj[w * n + v]
                };
                if e && !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        seen
    }

    /// A topological order, or `None` if the view has a cycle (Kahn's algorithm).
    fn topological_order(&self) -> Option<Vec<usize>> {
        let n = self.num_nodes();
        let mut indeg: Vec<usize> = (0..n)
            .map(|j| (0..n).filter(|&i| self.adj[i * n + j]).count())
            .collect();
        let mut ready: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).rev().collect();
        let mut order = Vec::with_capacity(n);
        while let Some(v) = ready.pop() {
            order.push(v);
            for w in (0..n).rev() {
                if self.adj[v * n + w] {
                    indeg[w] -= 1;
                    if indeg[w] == 0 {
                        ready.push(w);
                    }
                }
            }
        }
        (order.len() == n).then_some(order)
    }
}

/// A random rewrite of a [`GraphView`].
///
/// Implementations draw all randomness from the given RNG, never panic, and say truthfully
/// whether they keep a valid graph valid.
pub trait Augmentation: Send + Sync {
    /// Rewrites `view` in place.
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng);

    /// Whether a valid view always stays valid under [`apply`](Self::apply).
    fn keeps_valid(&self) -> bool;

    /// The augmented copy of a graph.
    fn augment(&self, graph: &ArchGraph, rng: &mut dyn Rng) -> GraphView {
        let mut view = GraphView::from(graph);
        self.apply(&mut view, rng);
        view
    }
}

/// Drops each edge with probability `rate`.
///
/// Plain, it can strand nodes and so does **not** keep validity. With
/// [`keeping_valid`](Self::keeping_valid) it skips any drop that would leave a node off every
/// input→output path, and then it does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EdgeDrop {
    /// Probability of dropping each edge.
    pub rate: f64,
    /// Skip drops that would break validity.
    pub keep_valid: bool,
}

impl EdgeDrop {
    /// Drops each edge with probability `rate` (clamped to 0..=1; NaN counts as 0).
    pub fn new(rate: f64) -> Self {
        Self {
            rate: clamp_rate(rate),
            keep_valid: false,
        }
    }

    /// The same, skipping drops that would break validity.
    pub fn keeping_valid(mut self) -> Self {
        self.keep_valid = true;
        self
    }
}

impl Augmentation for EdgeDrop {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        let mut edges = view.edges();
        shuffle(&mut edges, rng);
        let rate = clamp_rate(self.rate);
        for (a, b) in edges {
            if !rng.random_bool(rate) {
                continue;
            }
            view.set_edge(a, b, false);
            if self.keep_valid && !view.all_on_paths() {
                view.set_edge(a, b, true);
            }
        }
    }

    fn keeps_valid(&self) -> bool {
        self.keep_valid
    }
}

/// Adds up to `count` new edges, each from a node to a later node of a topological order, so
/// the graph stays acyclic and every node stays on an input→output path. Stops at the edge
/// limit. Keeps validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeAdd {
    /// Most edges added.
    pub count: usize,
}

impl EdgeAdd {
    /// Adds up to `count` edges.
    pub fn new(count: usize) -> Self {
        Self { count }
    }
}

impl Augmentation for EdgeAdd {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        let Some(order) = view.topological_order() else {
            return; // a cyclic (already invalid) view: adding edges cannot help
        };
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        for (p, &a) in order.iter().enumerate() {
            for &b in &order[p + 1..] {
                let from_output = view.ops[a] == Some(NodeOp::Output);
                let into_input = view.ops[b] == Some(NodeOp::Input);
                if !view.has_edge(a, b) && !from_output && !into_input {
                    candidates.push((a, b));
                }
            }
        }
        shuffle(&mut candidates, rng);
        let room = view.limits.max_edges.saturating_sub(view.num_edges());
        for &(a, b) in candidates.iter().take(self.count.min(room)) {
            view.set_edge(a, b, true);
        }
    }

    fn keeps_valid(&self) -> bool {
        true
    }
}

/// Gives each op node, with probability `rate`, a different op of the vocabulary. Input,
/// output and masked nodes are left alone. Keeps validity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpSubstitution {
    /// Probability of substituting each op.
    pub rate: f64,
}

impl OpSubstitution {
    /// Substitutes each op with probability `rate` (clamped to 0..=1).
    pub fn new(rate: f64) -> Self {
        Self {
            rate: clamp_rate(rate),
        }
    }
}

impl Augmentation for OpSubstitution {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        let k = view.limits.num_ops;
        if k < 2 {
            return;
        }
        let rate = clamp_rate(self.rate);
        for op in view.ops.iter_mut() {
            if let Some(NodeOp::Op(id)) = *op
                && rng.random_bool(rate)
            {
                *op = Some(NodeOp::Op((id + rng.random_range(1..k)) % k));
            }
        }
    }

    fn keeps_valid(&self) -> bool {
        true
    }
}

/// Renumbers the nodes by a uniform random permutation: the same graph in another order, which
/// teaches the encoder that node order carries no meaning. Keeps validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeShuffle;

impl Augmentation for NodeShuffle {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        let n = view.num_nodes();
        let mut perm: Vec<usize> = (0..n).collect();
        shuffle(&mut perm, rng);
        let mut ops = vec![None; n];
        let mut adj = vec![false; n * n];
        for v in 0..n {
            ops[perm[v]] = view.ops[v];
            for w in 0..n {
                adj[perm[v] * n + perm[w]] = view.adj[v * n + w];
            }
        }
        view.ops = ops;
        view.adj = adj;
    }

    fn keeps_valid(&self) -> bool {
        true
    }
}

/// Masks each op node with probability `rate` (its op becomes unknown to the encoder). The
/// structure stays valid but a masked graph is no longer an architecture of the space, so it
/// does **not** keep validity in the sense of [`GraphView::to_graph`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeMask {
    /// Probability of masking each op node.
    pub rate: f64,
}

impl NodeMask {
    /// Masks each op node with probability `rate` (clamped to 0..=1).
    pub fn new(rate: f64) -> Self {
        Self {
            rate: clamp_rate(rate),
        }
    }
}

impl Augmentation for NodeMask {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        let rate = clamp_rate(self.rate);
        for op in view.ops.iter_mut() {
            if matches!(op, Some(NodeOp::Op(_))) && rng.random_bool(rate) {
                *op = None;
            }
        }
    }

    fn keeps_valid(&self) -> bool {
        false
    }
}

/// Masks a connected group of up to `size` op nodes, grown breadth-first from a random op
/// node, ignoring edge direction (the search passes through the input and output, which are
/// never masked). Like [`NodeMask`], it does **not** keep validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubgraphMask {
    /// Most nodes masked.
    pub size: usize,
}

impl SubgraphMask {
    /// Masks up to `size` connected op nodes.
    pub fn new(size: usize) -> Self {
        Self { size }
    }
}

impl Augmentation for SubgraphMask {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        let n = view.num_nodes();
        let starts: Vec<usize> = (0..n)
            .filter(|&v| matches!(view.ops[v], Some(NodeOp::Op(_))))
            .collect();
        if starts.is_empty() || self.size == 0 {
            return;
        }
        let start = starts[rng.random_range(0..starts.len())];
        let mut queue = std::collections::VecDeque::from([start]);
        let mut seen = vec![false; n];
        seen[start] = true;
        let mut masked = 0;
        while let Some(v) = queue.pop_front() {
            if matches!(view.ops[v], Some(NodeOp::Op(_))) {
                view.ops[v] = None;
                masked += 1;
                if masked == self.size {
                    break;
                }
            }
            for w in 0..n {
                let linked = view.adj[v * n + w] || view.adj[w * n + v];
                if linked && !seen[w] {
                    seen[w] = true;
                    queue.push_back(w);
                }
            }
        }
    }

    fn keeps_valid(&self) -> bool {
        false
    }
}

/// Applies augmentations one after another. Keeps validity if all of them do.
pub struct Compose {
    parts: Vec<Box<dyn Augmentation>>,
}

impl Compose {
    /// The sequence `parts[0]`, then `parts[1]`, ...
    pub fn new(parts: Vec<Box<dyn Augmentation>>) -> Self {
        Self { parts }
    }
}

impl Augmentation for Compose {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        for p in &self.parts {
            p.apply(view, rng);
        }
    }

    fn keeps_valid(&self) -> bool {
        self.parts.iter().all(|p| p.keeps_valid())
    }
}

/// Applies one augmentation chosen uniformly at random. Keeps validity if all choices do.
/// With no choices it leaves the view unchanged.
pub struct OneOf {
    choices: Vec<Box<dyn Augmentation>>,
}

impl OneOf {
    /// One of `choices`, uniformly.
    pub fn new(choices: Vec<Box<dyn Augmentation>>) -> Self {
        Self { choices }
    }
}

impl Augmentation for OneOf {
    fn apply(&self, view: &mut GraphView, rng: &mut dyn Rng) {
        if !self.choices.is_empty() {
            let i = rng.random_range(0..self.choices.len());
            self.choices[i].apply(view, rng);
        }
    }

    fn keeps_valid(&self) -> bool {
        self.choices.iter().all(|p| p.keeps_valid())
    }
}

fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// Fisher–Yates, from our RNG (so it works on `dyn Rng`).
fn shuffle<T>(items: &mut [T], rng: &mut dyn Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GraphSpace, Nb201Space};
    use rand::SeedableRng;

    fn graph() -> ArchGraph {
        let space = Nb201Space::new();
        space.to_graph(&"|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|".parse().unwrap()).unwrap()
    }

    #[test]
    fn full_edge_drop_breaks_validity_and_says_so() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let v = EdgeDrop::new(1.0).augment(&graph(), &mut rng);
        assert_eq!(v.num_edges(), 0);
        assert!(matches!(v.to_graph(), Err(GraphError::Dangling(_))));
        let v = EdgeDrop::new(1.0)
            .keeping_valid()
            .augment(&graph(), &mut rng);
        assert!(v.is_valid());
        // In the NB201 graph form every edge is needed, so nothing can be dropped safely.
        assert_eq!(v.num_edges(), 10);
    }

    #[test]
    fn edge_add_respects_limits_and_order() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let v = EdgeAdd::new(5).augment(&graph(), &mut rng);
        assert_eq!(v.num_edges(), 15);
        assert!(v.is_valid());
        let v = EdgeAdd::new(100).augment(&graph(), &mut rng);
        // 8 nodes in a total order with input first and output last: 28 pairs, all forward.
        assert_eq!(v.num_edges(), 28);
        assert!(v.is_valid());
    }

    #[test]
    fn masks_mask_only_ops() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let v = NodeMask::new(1.0).augment(&graph(), &mut rng);
        assert_eq!(v.num_masked(), 6);
        assert!(matches!(v.to_graph(), Err(GraphError::Masked(_))));
        let v = SubgraphMask::new(3).augment(&graph(), &mut rng);
        assert_eq!(v.num_masked(), 3);
        let v = SubgraphMask::new(0).augment(&graph(), &mut rng);
        assert_eq!(v.num_masked(), 0);
    }

    #[test]
    fn substitution_changes_ops_but_not_structure() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let g = graph();
        let v = OpSubstitution::new(1.0).augment(&g, &mut rng);
        let h = v.to_graph().unwrap();
        assert_eq!(h.sorted_edges(), g.sorted_edges());
        for node in 1..7 {
            assert_ne!(h.op(node), g.op(node));
        }
    }

    #[test]
    fn shuffle_preserves_the_hash() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let g = graph();
        for _ in 0..10 {
            let h = NodeShuffle.augment(&g, &mut rng).to_graph().unwrap();
            assert_eq!(crate::module_hash(&h), crate::module_hash(&g));
        }
    }

    #[test]
    fn compose_and_one_of_report_validity() {
        let c = Compose::new(vec![Box::new(NodeShuffle), Box::new(NodeMask::new(0.5))]);
        assert!(!c.keeps_valid());
        let o = OneOf::new(vec![Box::new(NodeShuffle), Box::new(EdgeAdd::new(1))]);
        assert!(o.keeps_valid());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert!(o.augment(&graph(), &mut rng).is_valid());
        let empty = OneOf::new(vec![]);
        assert_eq!(empty.augment(&graph(), &mut rng), GraphView::from(&graph()));
    }

    #[test]
    fn nan_rates_do_nothing() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let g = graph();
        assert_eq!(
            EdgeDrop::new(f64::NAN).augment(&g, &mut rng),
            GraphView::from(&g)
        );
        assert_eq!(
            NodeMask::new(f64::NAN).augment(&g, &mut rng),
            GraphView::from(&g)
        );
    }
}
