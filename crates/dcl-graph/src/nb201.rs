//! NAS-Bench-201: cells of 4 feature maps joined by 6 edges, each one of 5 ops.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::{ArchGraph, GraphError, GraphSpace, NodeOp, OpVocab, SearchSpace};

/// The ops of a NAS-Bench-201 edge; the discriminant is the op id used by the benchmark
/// tables (`edge_ops` digits) and by [`Nb201Space::ops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum Nb201Op {
    /// Zero: the edge carries nothing.
    None = 0,
    /// Identity.
    SkipConnect = 1,
    /// ReLU-conv1x1-BN.
    NorConv1x1 = 2,
    /// ReLU-conv3x3-BN.
    NorConv3x3 = 3,
    /// 3x3 average pooling.
    AvgPool3x3 = 4,
}

impl Nb201Op {
    /// All five ops, in id order.
    pub const ALL: [Nb201Op; 5] = [
        Nb201Op::None,
        Nb201Op::SkipConnect,
        Nb201Op::NorConv1x1,
        Nb201Op::NorConv3x3,
        Nb201Op::AvgPool3x3,
    ];

    /// The official name, as in arch strings.
    pub fn name(self) -> &'static str {
        match self {
            Nb201Op::None => "none",
            Nb201Op::SkipConnect => "skip_connect",
            Nb201Op::NorConv1x1 => "nor_conv_1x1",
            Nb201Op::NorConv3x3 => "nor_conv_3x3",
            Nb201Op::AvgPool3x3 => "avg_pool_3x3",
        }
    }

    /// The op with id `id` (0..5).
    pub fn from_id(id: usize) -> Option<Self> {
        Self::ALL.get(id).copied()
    }

    /// The op called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Its id.
    pub fn id(self) -> usize {
        self as usize
    }
}

/// The six edges of a cell as `(to, from)` feature-map pairs, in arch-string order.
pub const NB201_EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// Number of cells in the space: 5^6.
pub const NB201_NUM_CELLS: usize = 15_625;

/// A NAS-Bench-201 cell: the op of each of the six edges of [`NB201_EDGES`].
///
/// ```
/// use dcl_graph::{Nb201Cell, Nb201Op};
/// let s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|";
/// let cell: Nb201Cell = s.parse().unwrap();
/// assert_eq!(cell.ops()[3], Nb201Op::SkipConnect);
/// assert_eq!(cell.to_string(), s);
/// assert_eq!(cell.digits(), "333132");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "Nb201CellForm")]
pub struct Nb201Cell {
    ops: [Nb201Op; 6],
}

/// What an [`Nb201Cell`] is read from: its arch string, which it is written as, or the fields
/// that format-1 journals and specs hold.
#[derive(Deserialize)]
#[serde(untagged)]
enum Nb201CellForm {
    Text(String),
    Fields { ops: [Nb201Op; 6] },
}

impl TryFrom<Nb201CellForm> for Nb201Cell {
    type Error = GraphError;

    fn try_from(form: Nb201CellForm) -> Result<Self, GraphError> {
        match form {
            Nb201CellForm::Text(text) => text.parse(),
            Nb201CellForm::Fields { ops } => Ok(Self { ops }),
        }
    }
}

impl From<Nb201Cell> for String {
    fn from(cell: Nb201Cell) -> String {
        cell.to_string()
    }
}

impl Nb201Cell {
    /// A cell from its six edge ops.
    pub fn new(ops: [Nb201Op; 6]) -> Self {
        Self { ops }
    }

    /// The six edge ops.
    pub fn ops(&self) -> [Nb201Op; 6] {
        self.ops
    }

    /// Our ordinal of the cell, 0..15625: the edge-op ids as a base-5 number, first edge most
    /// significant. (Not the official NAS-Bench-201 index, which the tables carry.)
    pub fn ordinal(&self) -> usize {
        self.ops.iter().fold(0, |acc, o| acc * 5 + o.id())
    }

    /// The cell with ordinal `ordinal`, or `None` past 15,624.
    pub fn from_ordinal(ordinal: usize) -> Option<Self> {
        if ordinal >= NB201_NUM_CELLS {
            return None;
        }
        let mut ops = [Nb201Op::None; 6];
        let mut rest = ordinal;
        for slot in ops.iter_mut().rev() {
            *slot = Nb201Op::ALL[rest % 5];
            rest /= 5;
        }
        Some(Self { ops })
    }

    /// The six op ids as digits, e.g. `"421211"` (the tables' `edge_ops` column).
    pub fn digits(&self) -> String {
        self.ops
            .iter()
            .map(|o| char::from(b'0' + *o as u8))
            .collect()
    }

    /// The cell from six op-id digits.
    pub fn from_digits(digits: &str) -> Result<Self, GraphError> {
        let b = digits.as_bytes();
        if b.len() != 6 {
            return Err(GraphError::parse(
                "NAS-Bench-201 edge_ops",
                digits,
                "expected 6 digits",
            ));
        }
        let mut ops = [Nb201Op::None; 6];
        for (slot, &c) in ops.iter_mut().zip(b) {
            *slot = c
                .checked_sub(b'0')
                .and_then(|d| Nb201Op::from_id(d as usize))
                .ok_or_else(|| {
                    GraphError::parse("NAS-Bench-201 edge_ops", digits, "digits must be 0..=4")
                })?;
        }
        Ok(Self { ops })
    }
}

impl fmt::Display for Nb201Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut k = 0;
        for node in 1..=3 {
            f.write_str(if node == 1 { "|" } else { "+|" })?;
            for from in 0..node {
                write!(f, "{}~{}|", self.ops[k].name(), from)?;
                k += 1;
            }
        }
        Ok(())
    }
}

impl FromStr for Nb201Cell {
    type Err = GraphError;

    /// Parses the official arch string; exactly the format [`Display`](fmt::Display) prints
    /// (a [`CellArch`](crate::CellArch) of 4 nodes whose ops are NAS-Bench-201's).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "NAS-Bench-201 arch string";
        let cell: crate::CellArch = s.parse().map_err(|e: GraphError| match e {
            GraphError::Parse { reason, .. } => GraphError::parse(WHAT, s, reason),
            other => other,
        })?;
        if cell.nodes() != 4 {
            return Err(GraphError::parse(
                WHAT,
                s,
                "expected 3 node groups joined by '+'",
            ));
        }
        let mut ops = [Nb201Op::None; 6];
        for (slot, name) in ops.iter_mut().zip(cell.ops()) {
            *slot =
                Nb201Op::from_name(name).ok_or_else(|| GraphError::UnknownOpName(name.clone()))?;
        }
        Ok(Self { ops })
    }
}

/// The NAS-Bench-201 search space: 15,625 cells.
///
/// Graph form: ops on nodes, as in arch2vec / TNASP. Node 0 is the input, nodes 1..=6 the six
/// edge ops in arch-string order, node 7 the output; an op node feeds every op node leaving the
/// feature map it writes to (and the output for feature map 3). `none` stays a node like any
/// other op, so every cell has exactly 8 nodes and 10 edges.
///
/// Keys are the cells themselves: the benchmark trained each of the 15,625 cells separately,
/// and their graph forms are pairwise non-isomorphic (a test checks this), so no two cells are
/// the same architecture.
///
/// ```
/// use dcl_graph::{Nb201Space, GraphSpace, SearchSpace};
/// use rand::SeedableRng;
/// let space = Nb201Space::new();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let cell = space.sample(&mut rng);
/// let graph = space.to_graph(&cell).unwrap();
/// assert_eq!((graph.num_nodes(), graph.num_edges()), (8, 10));
/// assert_eq!(space.enumerate().unwrap().len(), 15_625);
/// ```
#[derive(Debug, Clone)]
pub struct Nb201Space {
    vocab: OpVocab,
}

impl Default for Nb201Space {
    fn default() -> Self {
        Self::new()
    }
}

/// The 10 edges of the graph form (node ids as documented on [`Nb201Space`]).
const GRAPH_EDGES: [(usize, usize); 10] = [
    (0, 1),
    (0, 2),
    (0, 4),
    (1, 3),
    (1, 5),
    (2, 6),
    (3, 6),
    (4, 7),
    (5, 7),
    (6, 7),
];

impl Nb201Space {
    /// The space.
    pub fn new() -> Self {
        let vocab = OpVocab::new(Nb201Op::ALL.map(Nb201Op::name))
            .unwrap_or_else(|_| unreachable!("the five NB201 op names are distinct"));
        Self { vocab }
    }
}

impl SearchSpace for Nb201Space {
    type Arch = Nb201Cell;
    type Key = Nb201Cell;

    fn name(&self) -> &str {
        "nb201"
    }

    /// Uniform over the 15,625 cells.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Nb201Cell {
        Nb201Cell {
            ops: std::array::from_fn(|_| Nb201Op::ALL[rng.random_range(0..5)]),
        }
    }

    /// One edge, chosen uniformly, gets one of the four other ops.
    fn mutate<R: Rng + ?Sized>(&self, arch: &Nb201Cell, rng: &mut R) -> Nb201Cell {
        let mut child = *arch;
        let e = rng.random_range(0..6);
        let shift = rng.random_range(1..5);
        child.ops[e] = Nb201Op::ALL[(child.ops[e].id() + shift) % 5];
        child
    }

    /// Uniform crossover: each edge's op from either parent.
    fn crossover<R: Rng + ?Sized>(
        &self,
        a: &Nb201Cell,
        b: &Nb201Cell,
        rng: &mut R,
    ) -> Option<Nb201Cell> {
        Some(Nb201Cell {
            ops: std::array::from_fn(|i| {
                if rng.random_bool(0.5) {
                    a.ops[i]
                } else {
                    b.ops[i]
                }
            }),
        })
    }

    fn key(&self, arch: &Nb201Cell) -> Nb201Cell {
        *arch
    }

    /// The benchmark's arch string, `|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|`.
    fn arch_text(&self, arch: &Nb201Cell) -> String {
        arch.to_string()
    }

    /// The arch string: keys are cells.
    fn key_text(&self, key: &Nb201Cell) -> String {
        key.to_string()
    }

    /// All 15,625 cells, in ordinal order.
    fn enumerate(&self) -> Option<Vec<Nb201Cell>> {
        Some(
            (0..NB201_NUM_CELLS)
                .filter_map(Nb201Cell::from_ordinal)
                .collect(),
        )
    }
}

impl GraphSpace for Nb201Space {
    fn ops(&self) -> &OpVocab {
        &self.vocab
    }

    fn max_nodes(&self) -> usize {
        8
    }

    fn to_graph(&self, arch: &Nb201Cell) -> Result<ArchGraph, GraphError> {
        let mut ops = Vec::with_capacity(8);
        ops.push(NodeOp::Input);
        ops.extend(arch.ops.iter().map(|o| NodeOp::Op(o.id())));
        ops.push(NodeOp::Output);
        ArchGraph::new(ops, &GRAPH_EDGES, self.limits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module_hash;
    use rand::SeedableRng;

    #[test]
    fn graph_form_is_the_documented_one() {
        let space = Nb201Space::new();
        let cell: Nb201Cell = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
            .parse()
            .unwrap();
        let g = space.to_graph(&cell).unwrap();
        assert_eq!(g.op(0), Some(NodeOp::Input));
        assert_eq!(g.op(1), Some(NodeOp::Op(3)));
        assert_eq!(g.op(4), Some(NodeOp::Op(0)));
        assert_eq!(g.op(7), Some(NodeOp::Output));
        // Edge 2<-1 (node 3) reads feature map 1, written by edge 1<-0 (node 1), and writes
        // feature map 2, read by edge 3<-2 (node 6).
        assert_eq!(g.predecessors(3).collect::<Vec<_>>(), vec![1]);
        assert_eq!(g.successors(3).collect::<Vec<_>>(), vec![6]);
    }

    #[test]
    fn ordinal_and_digits_round_trip() {
        for o in [0, 1, 4, 5, 1234, 15_624] {
            let c = Nb201Cell::from_ordinal(o).unwrap();
            assert_eq!(c.ordinal(), o);
            assert_eq!(Nb201Cell::from_digits(&c.digits()).unwrap(), c);
        }
        assert!(Nb201Cell::from_ordinal(15_625).is_none());
        assert!(Nb201Cell::from_digits("12345").is_err());
        assert!(Nb201Cell::from_digits("123456").is_err());
        assert!(Nb201Cell::from_digits("1234a0").is_err());
    }

    #[test]
    fn malformed_strings_are_errors() {
        let good = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
        assert!(good.parse::<Nb201Cell>().is_ok());
        for bad in [
            "",
            "|none~0|",
            "|none~0|+|none~0|none~1|+|none~0|none~1|",
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~1|",
            "|none~0|+|none~0|none~1|+|none~0|none~1|conv~2|",
            "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|none0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|extra",
        ] {
            assert!(bad.parse::<Nb201Cell>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn enumeration_is_complete_and_graphs_are_pairwise_non_isomorphic() {
        let space = Nb201Space::new();
        let all = space.enumerate().unwrap();
        assert_eq!(all.len(), NB201_NUM_CELLS);
        let hashes: std::collections::HashSet<_> = all
            .iter()
            .map(|c| module_hash(&space.to_graph(c).unwrap()))
            .collect();
        assert_eq!(hashes.len(), NB201_NUM_CELLS);
    }

    #[test]
    fn mutation_changes_exactly_one_edge() {
        let space = Nb201Space::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let a = space.sample(&mut rng);
            let b = space.mutate(&a, &mut rng);
            let diff = a
                .ops()
                .iter()
                .zip(b.ops())
                .filter(|(x, y)| **x != *y)
                .count();
            assert_eq!(diff, 1);
        }
    }
}
