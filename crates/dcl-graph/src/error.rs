//! The one error type of this crate.

use thiserror::Error;

/// Why a graph, a cell or an architecture string was rejected.
///
/// Every constructor that takes user input returns this instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The graph has no nodes at all.
    #[error("the graph has no nodes")]
    Empty,
    /// More nodes than the space allows.
    #[error("the graph has {found} nodes, more than the maximum of {max}")]
    TooManyNodes {
        /// Nodes in the graph.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// More edges than the space allows.
    #[error("the graph has {found} edges, more than the maximum of {max}")]
    TooManyEdges {
        /// Edges in the graph.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// An edge names a node that does not exist.
    #[error("edge ({from}, {to}) names a node outside 0..{num_nodes}")]
    EdgeOutOfRange {
        /// Source node.
        from: usize,
        /// Target node.
        to: usize,
        /// Number of nodes in the graph.
        num_nodes: usize,
    },
    /// An edge from a node to itself.
    #[error("self-loop on node {0}")]
    SelfLoop(usize),
    /// The same edge given twice.
    #[error("edge ({0}, {1}) is given twice")]
    DuplicateEdge(usize, usize),
    /// The graph is not acyclic.
    #[error("the graph has a cycle through node {0}")]
    Cycle(usize),
    /// Not exactly one input node.
    #[error("a graph needs exactly one input node, found {0}")]
    InputCount(usize),
    /// Not exactly one output node.
    #[error("a graph needs exactly one output node, found {0}")]
    OutputCount(usize),
    /// A node that is not on any input→output path.
    #[error("node {0} is not on a path from the input to the output")]
    Dangling(usize),
    /// An op id outside the space's vocabulary.
    #[error("node {node} has op id {op}, but the vocabulary has only {vocab_size} ops")]
    UnknownOp {
        /// The node.
        node: usize,
        /// Its op id.
        op: usize,
        /// Size of the vocabulary.
        vocab_size: usize,
    },
    /// An op name that is not in the vocabulary.
    #[error("unknown op name {0:?}")]
    UnknownOpName(String),
    /// A node whose op was masked by an augmentation: the structure may be fine, but
    /// the graph is no longer an architecture of the space.
    #[error("node {0} is masked")]
    Masked(usize),
    /// A cell or architecture string that could not be parsed.
    #[error("malformed {what} {text:?}: {reason}")]
    Parse {
        /// What was being parsed ("NAS-Bench-201 arch string", ...).
        what: &'static str,
        /// The offending text (possibly shortened).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The input and output are not connected (NAS-Bench-101 specs).
    #[error("the output is not reachable from the input")]
    Disconnected,
    /// An encoding was asked for a graph that does not fit its fixed size.
    #[error("cannot encode: {0}")]
    Encoding(String),
}

impl GraphError {
    pub(crate) fn parse(what: &'static str, text: &str, reason: impl Into<String>) -> Self {
        let mut text = text.to_owned();
        if text.len() > 200 {
            let mut cut = 200;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        GraphError::Parse {
            what,
            text,
            reason: reason.into(),
        }
    }
}
