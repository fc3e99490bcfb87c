//! Op vocabularies and node labels.

use serde::{Deserialize, Serialize};

use crate::GraphError;

/// The operations a search space may place on a node, by name.
///
/// Op ids are positions in this list. The input and output nodes are not ops: they are
/// labelled [`NodeOp::Input`] and [`NodeOp::Output`].
///
/// ```
/// use dcl_graph::OpVocab;
/// let vocab = OpVocab::new(["conv3x3", "maxpool"]).unwrap();
/// assert_eq!(vocab.len(), 2);
/// assert_eq!(vocab.index_of("maxpool"), Some(1));
/// assert_eq!(vocab.name(0), Some("conv3x3"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpVocab {
    names: Vec<String>,
}

impl OpVocab {
    /// A vocabulary from distinct, non-empty names.
    pub fn new<I, S>(names: I) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Err(GraphError::parse("op vocabulary", "", "it is empty"));
        }
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() || names[..i].contains(name) {
                return Err(GraphError::parse(
                    "op vocabulary",
                    name,
                    "op names must be distinct and non-empty",
                ));
            }
        }
        Ok(Self { names })
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: a vocabulary has at least one op.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of op `id`.
    pub fn name(&self, id: usize) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    /// The id of the op called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// All names, in id order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

/// The label of a node of an [`ArchGraph`](crate::ArchGraph).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NodeOp {
    /// The cell's single input.
    Input,
    /// The cell's single output.
    Output,
    /// An op of the space's vocabulary, by id.
    Op(usize),
}

impl NodeOp {
    /// The integer label of the NAS-Bench-101 hash: input −1, output −2, op `i` → `i`.
    pub fn hash_label(self) -> i64 {
        match self {
            NodeOp::Input => -1,
            NodeOp::Output => -2,
            NodeOp::Op(i) => i as i64,
        }
    }
}
