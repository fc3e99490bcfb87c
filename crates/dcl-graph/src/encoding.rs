//! Fixed-size encodings for a GNN: padded adjacency, one-hot ops, node mask, as flat `f32`
//! buffers ready to become `[B, N, N]`, `[B, N, F]` and `[B, N]` tensors.
//!
//! Feature layout per node (`F = num_ops + 3`): `[input, output, masked, op_0 .. op_{k-1}]`.
//! Padding nodes are all zero, with node mask 0.
//!
//! ```
//! use dcl_graph::{EncodingShape, GraphBatch, Nb201Space, GraphSpace, SearchSpace};
//! use rand::SeedableRng;
//!
//! let space = Nb201Space::new();
//! let shape = EncodingShape::of(&space);
//! assert_eq!((shape.max_nodes, shape.feature_dim()), (8, 8));
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let mut batch = GraphBatch::new(shape);
//! for _ in 0..4 {
//!     batch.push_graph(&space.to_graph(&space.sample(&mut rng)).unwrap()).unwrap();
//! }
//! assert_eq!(batch.len(), 4);
//! assert_eq!(batch.adjacency().len(), 4 * 8 * 8);
//! assert_eq!(batch.features().len(), 4 * 8 * 8);
//! assert_eq!(batch.node_mask().iter().sum::<f32>(), 32.0);
//! ```

use serde::{Deserialize, Serialize};

use crate::augment::GraphView;
use crate::{ArchGraph, GraphError, GraphSpace, NodeOp};

/// The fixed size of an encoding: padded node count and op vocabulary size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EncodingShape {
    /// Nodes per graph after padding (`N`).
    pub max_nodes: usize,
    /// Ops in the vocabulary.
    pub num_ops: usize,
}

impl EncodingShape {
    /// Index of the "input" feature.
    pub const INPUT: usize = 0;
    /// Index of the "output" feature.
    pub const OUTPUT: usize = 1;
    /// Index of the "masked" feature.
    pub const MASKED: usize = 2;

    /// The shape for graphs of `space`.
    pub fn of<S: GraphSpace + ?Sized>(space: &S) -> Self {
        Self {
            max_nodes: space.max_nodes(),
            num_ops: space.ops().len(),
        }
    }

    /// Features per node (`F`): three role features plus one per op.
    pub fn feature_dim(&self) -> usize {
        self.num_ops + 3
    }

    /// The feature index of a label (`None` = masked).
    pub fn feature_index(&self, op: Option<NodeOp>) -> usize {
        match op {
            Some(NodeOp::Input) => Self::INPUT,
            Some(NodeOp::Output) => Self::OUTPUT,
            None => Self::MASKED,
            Some(NodeOp::Op(i)) => 3 + i,
        }
    }
}

/// A batch of encoded graphs in flat row-major buffers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphBatch {
    shape: EncodingShape,
    len: usize,
    adjacency: Vec<f32>,
    features: Vec<f32>,
    node_mask: Vec<f32>,
}

impl GraphBatch {
    /// An empty batch.
    pub fn new(shape: EncodingShape) -> Self {
        Self {
            shape,
            len: 0,
            adjacency: Vec::new(),
            features: Vec::new(),
            node_mask: Vec::new(),
        }
    }

    /// An empty batch with room for `capacity` graphs.
    pub fn with_capacity(shape: EncodingShape, capacity: usize) -> Self {
        let n = shape.max_nodes;
        Self {
            shape,
            len: 0,
            adjacency: Vec::with_capacity(capacity * n * n),
            features: Vec::with_capacity(capacity * n * shape.feature_dim()),
            node_mask: Vec::with_capacity(capacity * n),
        }
    }

    /// Encodes a batch of graphs.
    pub fn from_graphs<'a>(
        shape: EncodingShape,
        graphs: impl IntoIterator<Item = &'a ArchGraph>,
    ) -> Result<Self, GraphError> {
        let mut b = Self::new(shape);
        for g in graphs {
            b.push_graph(g)?;
        }
        Ok(b)
    }

    /// Appends a (possibly augmented) view. Fails, leaving the batch unchanged, if the view has
    /// more nodes than the shape or an op outside the vocabulary.
    pub fn push(&mut self, view: &GraphView) -> Result<(), GraphError> {
        let n = view.num_nodes();
        let (max, f) = (self.shape.max_nodes, self.shape.feature_dim());
        if n > max {
            return Err(GraphError::Encoding(format!(
                "the graph has {n} nodes, the encoding only {max}"
            )));
        }
        if let Some((v, op)) = view.ops().iter().enumerate().find_map(|(v, o)| match o {
            Some(NodeOp::Op(i)) if *i >= self.shape.num_ops => Some((v, *i)),
            _ => None,
        }) {
            return Err(GraphError::UnknownOp {
                node: v,
                op,
                vocab_size: self.shape.num_ops,
            });
        }
        let a0 = self.adjacency.len();
        self.adjacency.resize(a0 + max * max, 0.0);
        for (i, j) in view.edges() {
            self.adjacency[a0 + i * max + j] = 1.0;
        }
        let f0 = self.features.len();
        self.features.resize(f0 + max * f, 0.0);
        for (v, op) in view.ops().iter().enumerate() {
            self.features[f0 + v * f + self.shape.feature_index(*op)] = 1.0;
        }
        let m0 = self.node_mask.len();
        self.node_mask.resize(m0 + max, 0.0);
        self.node_mask[m0..m0 + n].fill(1.0);
        self.len += 1;
        Ok(())
    }

    /// Appends a graph.
    pub fn push_graph(&mut self, graph: &ArchGraph) -> Result<(), GraphError> {
        self.push(&GraphView::from(graph))
    }

    /// Appends every graph of `other`, which must have the same shape.
    ///
    /// ```
    /// use dcl_graph::{EncodingShape, GraphBatch, Nb201Space, GraphSpace, SearchSpace};
    /// use rand::SeedableRng;
    /// let space = Nb201Space::new();
    /// let shape = EncodingShape::of(&space);
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let g: Vec<_> = (0..3).map(|_| space.to_graph(&space.sample(&mut rng)).unwrap()).collect();
    /// let mut a = GraphBatch::from_graphs(shape, &g[..1]).unwrap();
    /// a.extend_from(&GraphBatch::from_graphs(shape, &g[1..]).unwrap()).unwrap();
    /// assert_eq!(a, GraphBatch::from_graphs(shape, &g).unwrap());
    /// ```
    pub fn extend_from(&mut self, other: &GraphBatch) -> Result<(), GraphError> {
        if other.shape != self.shape {
            return Err(GraphError::Encoding(format!(
                "cannot append a batch encoded as {:?} to one encoded as {:?}",
                other.shape, self.shape
            )));
        }
        self.adjacency.extend_from_slice(&other.adjacency);
        self.features.extend_from_slice(&other.features);
        self.node_mask.extend_from_slice(&other.node_mask);
        self.len += other.len;
        Ok(())
    }

    /// Removes every graph, keeping the buffers' memory.
    pub fn clear(&mut self) {
        self.len = 0;
        self.adjacency.clear();
        self.features.clear();
        self.node_mask.clear();
    }

    /// The shape.
    pub fn shape(&self) -> EncodingShape {
        self.shape
    }

    /// Number of graphs (`B`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `[B, N, N]`: 1.0 where node `i` feeds node `j`.
    pub fn adjacency(&self) -> &[f32] {
        &self.adjacency
    }

    /// `[B, N, F]`: one-hot node features.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// `[B, N]`: 1.0 for real nodes, 0.0 for padding.
    pub fn node_mask(&self) -> &[f32] {
        &self.node_mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Nb101Cell, Nb101Space, SearchSpace, augment::Augmentation, augment::NodeMask};
    use rand::SeedableRng;

    #[test]
    fn small_cell_is_padded() {
        let space = Nb101Space::new();
        let shape = EncodingShape::of(&space);
        let cell = Nb101Cell::new(
            &[vec![0, 1, 0], vec![0, 0, 1], vec![0, 0, 0]],
            &["input", "maxpool3x3", "output"],
        )
        .unwrap();
        let mut b = GraphBatch::new(shape);
        b.push_graph(&cell.to_graph().unwrap()).unwrap();
        let n = 7;
        let f = shape.feature_dim();
        assert_eq!(f, 6);
        assert_eq!(b.node_mask(), &[1., 1., 1., 0., 0., 0., 0.]);
        assert_eq!(b.adjacency()[1], 1.0); // 0 -> 1
        assert_eq!(b.adjacency()[n + 2], 1.0); // 1 -> 2
        assert_eq!(b.adjacency().iter().sum::<f32>(), 2.0);
        assert_eq!(
            &b.features()[..3 * f],
            &[
                1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1., 0., 1., 0., 0., 0., 0.
            ]
        );
        assert!(b.features()[3 * f..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn masked_nodes_use_the_mask_feature() {
        let space = crate::Nb201Space::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let g = space.to_graph(&space.sample(&mut rng)).unwrap();
        let v = NodeMask::new(1.0).augment(&g, &mut rng);
        let mut b = GraphBatch::new(EncodingShape::of(&space));
        b.push(&v).unwrap();
        let f = 8;
        let masked: f32 = (0..8)
            .map(|v| b.features()[v * f + EncodingShape::MASKED])
            .sum();
        assert_eq!(masked, 6.0);
    }

    #[test]
    fn oversize_or_unknown_ops_are_errors_and_leave_batch_unchanged() {
        let space = crate::Nb201Space::new();
        let g = space.to_graph(&space.enumerate().unwrap()[77]).unwrap();
        let mut small = GraphBatch::new(EncodingShape {
            max_nodes: 7,
            num_ops: 5,
        });
        assert!(matches!(small.push_graph(&g), Err(GraphError::Encoding(_))));
        let mut few_ops = GraphBatch::new(EncodingShape {
            max_nodes: 8,
            num_ops: 1,
        });
        assert!(matches!(
            few_ops.push_graph(&g),
            Err(GraphError::UnknownOp { .. })
        ));
        assert!(small.is_empty() && few_ops.is_empty() && few_ops.features().is_empty());
    }
}
