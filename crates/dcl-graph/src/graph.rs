//! [`ArchGraph`]: a validated, labelled architecture DAG.

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use crate::{GraphError, NodeOp};

/// The structural limits a graph is checked against: op vocabulary size, nodes, edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GraphLimits {
    /// Size of the op vocabulary: op ids must be below it.
    pub num_ops: usize,
    /// Most nodes, input and output included.
    pub max_nodes: usize,
    /// Most edges.
    pub max_edges: usize,
}

impl GraphLimits {
    /// Limits with at most `max_nodes` nodes and no edge limit beyond a DAG's own
    /// (`max_nodes * (max_nodes - 1) / 2`).
    pub fn new(num_ops: usize, max_nodes: usize) -> Self {
        Self {
            num_ops,
            max_nodes,
            max_edges: max_nodes * max_nodes.saturating_sub(1) / 2,
        }
    }
}

/// A labelled DAG with one input and one output, every node on an input→output path,
/// every op label from the space's vocabulary.
///
/// Node ids are `0..num_nodes()` in the order given to [`ArchGraph::new`]; that order carries
/// no meaning (augmentations may shuffle it) and the input need not be node 0.
///
/// ```
/// use dcl_graph::{ArchGraph, GraphLimits, NodeOp, GraphError};
/// let limits = GraphLimits::new(2, 4);
/// let g = ArchGraph::new(
///     vec![NodeOp::Input, NodeOp::Op(1), NodeOp::Output],
///     &[(0, 1), (1, 2), (0, 2)],
///     limits,
/// ).unwrap();
/// assert_eq!((g.num_nodes(), g.num_edges()), (3, 3));
///
/// // A cycle is refused with a typed error, not a panic.
/// let err = ArchGraph::new(
///     vec![NodeOp::Input, NodeOp::Op(0), NodeOp::Op(1), NodeOp::Output],
///     &[(0, 1), (1, 2), (2, 1), (2, 3)],
///     limits,
/// );
/// assert!(matches!(err, Err(GraphError::Cycle(_))));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawGraph", into = "RawGraph")]
pub struct ArchGraph {
    graph: DiGraph<NodeOp, ()>,
    input: usize,
    output: usize,
    limits: GraphLimits,
}

impl PartialEq for ArchGraph {
    /// Equal as labelled graphs with the same node numbering (not isomorphism: for that,
    /// compare [`module_hash`](crate::module_hash)es).
    fn eq(&self, other: &Self) -> bool {
        self.ops() == other.ops() && self.sorted_edges() == other.sorted_edges()
    }
}

impl Eq for ArchGraph {}

impl ArchGraph {
    /// Builds and validates a graph from node labels and `(from, to)` edges.
    pub fn new(
        ops: Vec<NodeOp>,
        edges: &[(usize, usize)],
        limits: GraphLimits,
    ) -> Result<Self, GraphError> {
        let n = ops.len();
        check_nodes(&ops, limits)?;
        check_edges(n, edges, limits)?;
        let mut graph = DiGraph::with_capacity(n, edges.len());
        for op in &ops {
            graph.add_node(*op);
        }
        for &(a, b) in edges {
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
        let input = ops.iter().position(|o| *o == NodeOp::Input).unwrap_or(0);
        let output = ops.iter().position(|o| *o == NodeOp::Output).unwrap_or(0);
        check_dag(&graph, input, output)?;
        Ok(Self {
            graph,
            input,
            output,
            limits,
        })
    }

    /// Number of nodes, input and output included.
    pub fn num_nodes(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.graph.edge_count()
    }

    /// The input node.
    pub fn input(&self) -> usize {
        self.input
    }

    /// The output node.
    pub fn output(&self) -> usize {
        self.output
    }

    /// The limits the graph was validated against.
    pub fn limits(&self) -> GraphLimits {
        self.limits
    }

    /// The label of node `v`.
    pub fn op(&self, v: usize) -> Option<NodeOp> {
        self.graph.node_weight(NodeIndex::new(v)).copied()
    }

    /// All labels, in node order.
    pub fn ops(&self) -> Vec<NodeOp> {
        self.graph.node_weights().copied().collect()
    }

    /// All edges as `(from, to)`, in insertion order.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.graph
            .raw_edges()
            .iter()
            .map(|e| (e.source().index(), e.target().index()))
    }

    /// All edges, sorted.
    pub fn sorted_edges(&self) -> Vec<(usize, usize)> {
        let mut e: Vec<_> = self.edges().collect();
        e.sort_unstable();
        e
    }

    /// Nodes with an edge into `v`.
    pub fn predecessors(&self, v: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(v), Direction::Incoming)
            .map(NodeIndex::index)
    }

    /// Nodes with an edge from `v`.
    pub fn successors(&self, v: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(v), Direction::Outgoing)
            .map(NodeIndex::index)
    }

    /// The underlying petgraph graph, for algorithms this crate does not wrap.
    pub fn as_petgraph(&self) -> &DiGraph<NodeOp, ()> {
        &self.graph
    }

    /// Node ids in a topological order (input first, output last).
    pub fn topological_order(&self) -> Vec<usize> {
        // Validated acyclic at construction, so toposort cannot fail; fall back to node order
        // rather than panic all the same.
        petgraph::algo::toposort(&self.graph, None)
            .map(|o| o.into_iter().map(NodeIndex::index).collect())
            .unwrap_or_else(|_| (0..self.num_nodes()).collect())
    }

    /// The same graph with nodes renumbered: node `v` becomes `perm[v]`.
    pub fn permuted(&self, perm: &[usize]) -> Result<Self, GraphError> {
        let n = self.num_nodes();
        let mut seen = vec![false; n];
        if perm.len() != n
            || perm
                .iter()
                .any(|&p| p >= n || std::mem::replace(&mut seen[p], true))
        {
            return Err(GraphError::parse(
                "node permutation",
                &format!("{perm:?}"),
                format!("not a permutation of 0..{n}"),
            ));
        }
        let mut ops = vec![NodeOp::Input; n];
        for (v, op) in self.graph.node_weights().enumerate() {
            ops[perm[v]] = *op;
        }
        let edges: Vec<_> = self.edges().map(|(a, b)| (perm[a], perm[b])).collect();
        Self::new(ops, &edges, self.limits)
    }
}

/// The serialized form of an [`ArchGraph`]; deserializing validates it again.
#[derive(Serialize, Deserialize)]
struct RawGraph {
    ops: Vec<NodeOp>,
    edges: Vec<(usize, usize)>,
    limits: GraphLimits,
}

impl From<ArchGraph> for RawGraph {
    fn from(g: ArchGraph) -> Self {
        RawGraph {
            ops: g.ops(),
            edges: g.edges().collect(),
            limits: g.limits,
        }
    }
}

impl TryFrom<RawGraph> for ArchGraph {
    type Error = GraphError;

    fn try_from(raw: RawGraph) -> Result<Self, GraphError> {
        ArchGraph::new(raw.ops, &raw.edges, raw.limits)
    }
}

fn check_nodes(ops: &[NodeOp], limits: GraphLimits) -> Result<(), GraphError> {
    let n = ops.len();
    if n == 0 {
        return Err(GraphError::Empty);
    }
    if n > limits.max_nodes {
        return Err(GraphError::TooManyNodes {
            found: n,
            max: limits.max_nodes,
        });
    }
    let (mut inputs, mut outputs) = (0, 0);
    for (node, op) in ops.iter().enumerate() {
        match *op {
            NodeOp::Input => inputs += 1,
            NodeOp::Output => outputs += 1,
            NodeOp::Op(op) if op >= limits.num_ops => {
                return Err(GraphError::UnknownOp {
                    node,
                    op,
                    vocab_size: limits.num_ops,
                });
            }
            NodeOp::Op(_) => {}
        }
    }
    if inputs != 1 {
        return Err(GraphError::InputCount(inputs));
    }
    if outputs != 1 {
        return Err(GraphError::OutputCount(outputs));
    }
    Ok(())
}

fn check_edges(n: usize, edges: &[(usize, usize)], limits: GraphLimits) -> Result<(), GraphError> {
    if edges.len() > limits.max_edges {
        return Err(GraphError::TooManyEdges {
            found: edges.len(),
            max: limits.max_edges,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(edges.len());
    for &(from, to) in edges {
        if from >= n || to >= n {
            return Err(GraphError::EdgeOutOfRange {
                from,
                to,
                num_nodes: n,
            });
        }
        if from == to {
            return Err(GraphError::SelfLoop(from));
        }
        if !seen.insert((from, to)) {
            return Err(GraphError::DuplicateEdge(from, to));
        }
    }
    Ok(())
}

fn check_dag(graph: &DiGraph<NodeOp, ()>, input: usize, output: usize) -> Result<(), GraphError> {
    if let Err(cycle) = petgraph::algo::toposort(graph, None) {
        return Err(GraphError::Cycle(cycle.node_id().index()));
    }
    let forward = reachable(graph, input, Direction::Outgoing);
    let backward = reachable(graph, output, Direction::Incoming);
    if let Some(v) = (0..graph.node_count()).find(|&v| !(forward[v] && backward[v])) {
        return Err(GraphError::Dangling(v));
    }
    Ok(())
}

/// Which nodes can be reached from `start` following edges in `dir`.
pub(crate) fn reachable<N, E>(graph: &DiGraph<N, E>, start: usize, dir: Direction) -> Vec<bool> {
    let mut seen = vec![false; graph.node_count()];
    let mut stack = vec![start];
    seen[start] = true;
    while let Some(v) = stack.pop() {
        for w in graph.neighbors_directed(NodeIndex::new(v), dir) {
            if !seen[w.index()] {
                seen[w.index()] = true;
                stack.push(w.index());
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> GraphLimits {
        GraphLimits {
            num_ops: 3,
            max_nodes: 5,
            max_edges: 5,
        }
    }

    fn chain() -> Vec<NodeOp> {
        vec![NodeOp::Input, NodeOp::Op(0), NodeOp::Output]
    }

    #[test]
    fn accepts_valid_and_reports_structure() {
        let g = ArchGraph::new(chain(), &[(0, 1), (1, 2)], lim()).unwrap();
        assert_eq!(g.input(), 0);
        assert_eq!(g.output(), 2);
        assert_eq!(g.topological_order(), vec![0, 1, 2]);
        assert_eq!(g.predecessors(2).collect::<Vec<_>>(), vec![1]);
        assert_eq!(g.successors(0).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn rejects_each_kind_of_bad_graph() {
        let l = lim();
        assert_eq!(ArchGraph::new(vec![], &[], l), Err(GraphError::Empty));
        assert!(matches!(
            ArchGraph::new(vec![NodeOp::Op(0); 6], &[], l),
            Err(GraphError::TooManyNodes { found: 6, max: 5 })
        ));
        assert!(matches!(
            ArchGraph::new(vec![NodeOp::Input, NodeOp::Op(7), NodeOp::Output], &[], l),
            Err(GraphError::UnknownOp { node: 1, op: 7, .. })
        ));
        assert_eq!(
            ArchGraph::new(vec![NodeOp::Op(0), NodeOp::Output], &[(0, 1)], l),
            Err(GraphError::InputCount(0))
        );
        assert_eq!(
            ArchGraph::new(vec![NodeOp::Input, NodeOp::Input, NodeOp::Output], &[], l),
            Err(GraphError::InputCount(2))
        );
        assert_eq!(
            ArchGraph::new(vec![NodeOp::Input, NodeOp::Op(1)], &[(0, 1)], l),
            Err(GraphError::OutputCount(0))
        );
        assert!(matches!(
            ArchGraph::new(chain(), &[(0, 3)], l),
            Err(GraphError::EdgeOutOfRange { .. })
        ));
        assert_eq!(
            ArchGraph::new(chain(), &[(1, 1)], l),
            Err(GraphError::SelfLoop(1))
        );
        assert_eq!(
            ArchGraph::new(chain(), &[(0, 1), (0, 1), (1, 2)], l),
            Err(GraphError::DuplicateEdge(0, 1))
        );
        assert!(matches!(
            ArchGraph::new(chain(), &[(0, 1), (1, 2), (2, 0)], l),
            Err(GraphError::Cycle(_))
        ));
        assert_eq!(
            ArchGraph::new(chain(), &[(0, 2)], l),
            Err(GraphError::Dangling(1))
        );
        let many: Vec<_> = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)].into();
        assert!(matches!(
            ArchGraph::new(
                vec![NodeOp::Input, NodeOp::Op(0), NodeOp::Op(1), NodeOp::Output],
                &many,
                l
            ),
            Err(GraphError::TooManyEdges { found: 6, max: 5 })
        ));
    }

    #[test]
    fn permuted_keeps_structure() {
        let g = ArchGraph::new(chain(), &[(0, 1), (1, 2), (0, 2)], lim()).unwrap();
        let p = g.permuted(&[2, 0, 1]).unwrap();
        assert_eq!(p.input(), 2);
        assert_eq!(p.output(), 1);
        assert_eq!(p.op(0), Some(NodeOp::Op(0)));
        assert_eq!(p.sorted_edges(), vec![(0, 1), (2, 0), (2, 1)]);
        assert!(g.permuted(&[0, 0, 1]).is_err());
        assert!(g.permuted(&[0, 1]).is_err());
    }
}
