//! Cells as lists of operation edges between the nodes of a small DAG, the form a network is
//! built from, independent of the signal's dimension.

use dcl_graph::{Nb201Cell, Nb201Op};
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// What an edge of a cell computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EdgeOp {
    /// Nothing: the edge is absent.
    Zero,
    /// The input, unchanged.
    Identity,
    /// ReLU, then a same-padded convolution of this width, then batch norm.
    Conv {
        /// Kernel width.
        kernel: usize,
    },
    /// Same-padded average pooling of this width, stride 1.
    AvgPool {
        /// Window width.
        kernel: usize,
    },
}

/// One edge: `to` receives `op(from)`; node 0 is the cell input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CellEdge {
    /// Source node.
    pub from: usize,
    /// Target node, greater than `from`.
    pub to: usize,
    /// The operation.
    pub op: EdgeOp,
}

/// A cell: nodes `0..nodes`, node 0 the input, the last node the output, every other node the
/// sum of its incoming edges (NAS-Bench-201 style: operations on edges).
///
/// ```
/// use dcl_train::{CellSpec, Kernels};
/// let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
///     .parse()
///     .unwrap();
/// let spec = CellSpec::from_nb201(&cell, Kernels::default());
/// assert_eq!(spec.nodes, 4);
/// assert_eq!(spec.edges.len(), 6);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CellSpec {
    /// Number of nodes, at least 2.
    pub nodes: usize,
    /// The edges.
    pub edges: Vec<CellEdge>,
}

/// How NAS-Bench-201's 2-D operations become 1-D ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Kernels {
    /// Width of `nor_conv_1x1`. Default 1.
    pub conv_1x1: usize,
    /// Width of `nor_conv_3x3`. Default 5: a 3x3 kernel covers 9 inputs in 2-D, and a 1-D
    /// signal of a few hundred samples needs a wider field than 3.
    pub conv_3x3: usize,
    /// Width of `avg_pool_3x3`. Default 3.
    pub avg_pool: usize,
}

impl Default for Kernels {
    fn default() -> Self {
        Self {
            conv_1x1: 1,
            conv_3x3: 5,
            avg_pool: 3,
        }
    }
}

impl CellSpec {
    /// The 1-D reading of a NAS-Bench-201 cell.
    pub fn from_nb201(cell: &Nb201Cell, kernels: Kernels) -> Self {
        // NB201's edge order: (0→1), (0→2), (1→2), (0→3), (1→3), (2→3).
        const EDGES: [(usize, usize); 6] = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)];
        let edges = EDGES
            .iter()
            .zip(cell.ops())
            .map(|(&(from, to), op)| CellEdge {
                from,
                to,
                op: match op {
                    Nb201Op::None => EdgeOp::Zero,
                    Nb201Op::SkipConnect => EdgeOp::Identity,
                    Nb201Op::NorConv1x1 => EdgeOp::Conv {
                        kernel: kernels.conv_1x1,
                    },
                    Nb201Op::NorConv3x3 => EdgeOp::Conv {
                        kernel: kernels.conv_3x3,
                    },
                    Nb201Op::AvgPool3x3 => EdgeOp::AvgPool {
                        kernel: kernels.avg_pool,
                    },
                },
            })
            .collect();
        Self { nodes: 4, edges }
    }

    /// Checks the nodes, the edge directions and the kernel widths (odd, so that "same"
    /// padding is symmetric).
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.nodes < 2 {
            return Err(TrainError::Cell(format!("{} nodes", self.nodes)));
        }
        for e in &self.edges {
            if e.from >= e.to || e.to >= self.nodes {
                return Err(TrainError::Cell(format!(
                    "edge {} -> {} in a cell of {} nodes",
                    e.from, e.to, self.nodes
                )));
            }
            if let EdgeOp::Conv { kernel } | EdgeOp::AvgPool { kernel } = e.op
                && kernel.is_multiple_of(2)
            {
                return Err(TrainError::Cell(format!("even kernel width {kernel}")));
            }
        }
        Ok(())
    }
}
