//! [`CellSpace`]: NAS-Bench-201-style cells declared by their size and op names, so that a new
//! space of this kind needs no code.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::{ArchGraph, GraphError, GraphSpace, NodeOp, OpVocab, SearchSpace};

/// Most feature maps a [`CellSpace`] cell may have (120 edges).
pub const CELL_MAX_NODES: usize = 16;

/// Most op names a [`CellSpace`] may have.
pub const CELL_MAX_OPS: usize = 64;

/// Largest space [`CellSpace::enumerate`] lists.
pub const CELL_ENUMERATE_LIMIT: usize = 1_000_000;

/// A cell of a [`CellSpace`]: the op of every edge `to ← from` between its feature maps, in
/// arch-string order (`1←0`, `2←0`, `2←1`, `3←0`, ...). Written and read as NAS-Bench-201's
/// arch string, generalised to any number of feature maps:
/// `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
///
/// ```
/// use dcl_graph::CellArch;
/// let cell: CellArch = "|conv~0|+|skip~0|none~1|".parse().unwrap();
/// assert_eq!(cell.nodes(), 3);
/// assert_eq!(cell.ops(), ["conv", "skip", "none"]);
/// assert_eq!(cell.to_string(), "|conv~0|+|skip~0|none~1|");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CellArch {
    ops: Vec<String>,
}

impl CellArch {
    /// The cell with `ops` on its edges, in arch-string order; an error unless their number
    /// is that of a cell's edges (1, 3, 6, 10, ...) and every name is a plain word (no `|`,
    /// `~`, `+` or white space).
    pub fn new(ops: Vec<String>) -> Result<Self, GraphError> {
        let cell = Self { ops };
        if nodes_of(cell.ops.len()).is_none() {
            return Err(GraphError::parse(
                "cell",
                &cell.ops.join(","),
                "the number of edge ops is not that of a cell (1, 3, 6, 10, ...)",
            ));
        }
        if let Some(bad) = cell.ops.iter().find(|o| !plain_name(o)) {
            return Err(GraphError::parse(
                "cell",
                bad,
                "an op name must be a non-empty word without '|', '~', '+' or spaces",
            ));
        }
        Ok(cell)
    }

    /// The ops of its edges, in arch-string order.
    pub fn ops(&self) -> &[String] {
        &self.ops
    }

    /// Its feature maps, the input included.
    pub fn nodes(&self) -> usize {
        nodes_of(self.ops.len()).unwrap_or(0)
    }
}

/// The feature maps of a cell with `edges` edges (`n (n - 1) / 2 = edges`, `n >= 2`).
fn nodes_of(edges: usize) -> Option<usize> {
    (2..=CELL_MAX_NODES).find(|n| n * (n - 1) / 2 == edges)
}

/// Whether `name` can be an op name of an arch string.
pub(crate) fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '|' | '~' | '+'))
}

impl fmt::Display for CellArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut k = 0;
        for node in 1..self.nodes() {
            f.write_str(if node == 1 { "|" } else { "+|" })?;
            for from in 0..node {
                write!(f, "{}~{}|", self.ops[k], from)?;
                k += 1;
            }
        }
        Ok(())
    }
}

impl FromStr for CellArch {
    type Err = GraphError;

    /// Parses the arch string [`Display`](fmt::Display) prints.
    fn from_str(s: &str) -> Result<Self, GraphError> {
        const WHAT: &str = "cell arch string";
        let groups: Vec<&str> = s.split('+').collect();
        if groups.len() > CELL_MAX_NODES - 1 {
            return Err(GraphError::parse(WHAT, s, "too many node groups"));
        }
        let mut ops = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            let inner = group
                .strip_prefix('|')
                .and_then(|g| g.strip_suffix('|'))
                .ok_or_else(|| {
                    GraphError::parse(WHAT, s, "each group must start and end with '|'")
                })?;
            let edges: Vec<&str> = inner.split('|').collect();
            if edges.len() != i + 1 {
                return Err(GraphError::parse(
                    WHAT,
                    s,
                    format!("node {} needs {} incoming edges", i + 1, i + 1),
                ));
            }
            for (from, edge) in edges.iter().enumerate() {
                let (name, src) = edge.split_once('~').ok_or_else(|| {
                    GraphError::parse(WHAT, s, format!("edge {edge:?} lacks '~'"))
                })?;
                if src != from.to_string() {
                    return Err(GraphError::parse(
                        WHAT,
                        s,
                        format!("edge {edge:?} should come from node {from}"),
                    ));
                }
                ops.push(name.to_owned());
            }
        }
        Self::new(ops).map_err(|e| GraphError::parse(WHAT, s, e.to_string()))
    }
}

impl From<CellArch> for String {
    fn from(cell: CellArch) -> String {
        cell.to_string()
    }
}

impl TryFrom<String> for CellArch {
    type Error = GraphError;

    fn try_from(text: String) -> Result<Self, GraphError> {
        text.parse()
    }
}

/// A space of NAS-Bench-201-style cells: `nodes` feature maps, every pair `to ← from`
/// (`from < to`) joined by an edge carrying one of the space's ops. Every cell is a different
/// architecture (as in NAS-Bench-201, where every cell was trained on its own), so keys are
/// the cells. With 4 nodes and NAS-Bench-201's five ops it is [`Nb201Space`](crate::Nb201Space)
/// draw for draw: the same samples, mutations, crossovers, texts, graphs and enumeration order.
///
/// Graph form, as NAS-Bench-201's: ops on nodes. Node 0 is the input, then one node per edge
/// in arch-string order, then the output; an edge's node feeds every edge leaving the feature
/// map it writes, or the output for the last map, and the input feeds the edges leaving map 0.
///
/// ```
/// use dcl_graph::{CellSpace, GraphSpace, SearchSpace};
/// use rand::SeedableRng;
/// let space = CellSpace::new("tiny", 3, ["none", "skip", "conv3", "conv5"]).unwrap();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let cell = space.sample(&mut rng);
/// let graph = space.to_graph(&cell).unwrap();
/// assert_eq!(graph.num_nodes(), 5);
/// assert_eq!(space.enumerate().unwrap().len(), 64);
/// ```
#[derive(Debug, Clone)]
pub struct CellSpace {
    name: String,
    nodes: usize,
    vocab: OpVocab,
    /// The graph form's edges (node ids as documented on the type).
    graph_edges: Vec<(usize, usize)>,
}

impl CellSpace {
    /// The space called `name` of cells with `nodes` feature maps (2 to
    /// [`CELL_MAX_NODES`]) and edges carrying the ops `ops` (1 to [`CELL_MAX_OPS`] distinct
    /// plain names).
    pub fn new<I, O>(name: &str, nodes: usize, ops: I) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let ops: Vec<String> = ops.into_iter().map(|o| o.as_ref().to_owned()).collect();
        let bad = |reason: String| GraphError::parse("cell space", name, reason);
        if name.is_empty() {
            return Err(bad("a space needs a name".into()));
        }
        if !(2..=CELL_MAX_NODES).contains(&nodes) {
            return Err(bad(format!(
                "nodes must be in 2..={CELL_MAX_NODES}, got {nodes}"
            )));
        }
        if ops.is_empty() || ops.len() > CELL_MAX_OPS {
            return Err(bad(format!(
                "a space needs 1 to {CELL_MAX_OPS} ops, got {}",
                ops.len()
            )));
        }
        if let Some(o) = ops.iter().find(|o| !plain_name(o)) {
            return Err(bad(format!(
                "op name {o:?}: a non-empty word without '|', '~', '+' or spaces"
            )));
        }
        let vocab = OpVocab::new(ops.iter().map(String::as_str))?;
        let edges: Vec<(usize, usize)> = (1..nodes)
            .flat_map(|to| (0..to).map(move |from| (to, from)))
            .collect();
        let output = edges.len() + 1;
        let mut graph_edges = Vec::new();
        for (k, &(_, from)) in edges.iter().enumerate() {
            if from == 0 {
                graph_edges.push((0, k + 1));
            }
        }
        for (k, &(to, _)) in edges.iter().enumerate() {
            if to == nodes - 1 {
                graph_edges.push((k + 1, output));
            } else {
                for (j, &(_, from)) in edges.iter().enumerate() {
                    if from == to {
                        graph_edges.push((k + 1, j + 1));
                    }
                }
            }
        }
        graph_edges.sort_unstable();
        Ok(Self {
            name: name.to_owned(),
            nodes,
            vocab,
            graph_edges,
        })
    }

    /// NAS-Bench-201's space as a [`CellSpace`]: 4 nodes, its five ops.
    pub fn nb201() -> Self {
        let ops = crate::Nb201Op::ALL.map(crate::Nb201Op::name);
        Self::new("nb201", 4, ops).unwrap_or_else(|_| unreachable!("NB201's space is valid"))
    }

    /// Feature maps per cell, the input included.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Edges per cell.
    pub fn edges(&self) -> usize {
        self.nodes * (self.nodes - 1) / 2
    }

    /// Cells in the space (`ops ^ edges`), or `None` past `usize`.
    pub fn size(&self) -> Option<usize> {
        let edges = u32::try_from(self.edges()).ok()?;
        self.vocab.len().checked_pow(edges)
    }

    /// The id of op `name`; an unknown name (a cell from another space) reads as op 0.
    fn id(&self, name: &str) -> usize {
        self.vocab.index_of(name).unwrap_or(0)
    }

    fn op(&self, id: usize) -> String {
        self.vocab.name(id).unwrap_or_default().to_owned()
    }

    /// The cell with ordinal `ordinal` (the op ids as a base-`ops` number, first edge most
    /// significant), or `None` past the space.
    pub fn from_ordinal(&self, ordinal: usize) -> Option<CellArch> {
        if self.size().is_none_or(|s| ordinal >= s) {
            return None;
        }
        let k = self.vocab.len();
        let mut ids = vec![0; self.edges()];
        let mut rest = ordinal;
        for slot in ids.iter_mut().rev() {
            *slot = rest % k;
            rest /= k;
        }
        Some(CellArch {
            ops: ids.into_iter().map(|i| self.op(i)).collect(),
        })
    }

    /// Whether `cell` is a cell of this space: its number of nodes and every op name.
    pub fn check(&self, cell: &CellArch) -> Result<(), GraphError> {
        if cell.nodes() != self.nodes {
            return Err(GraphError::parse(
                "cell",
                &cell.to_string(),
                format!("the space's cells have {} nodes", self.nodes),
            ));
        }
        match cell.ops.iter().find(|o| self.vocab.index_of(o).is_none()) {
            Some(o) => Err(GraphError::UnknownOpName(o.clone())),
            None => Ok(()),
        }
    }
}

impl SearchSpace for CellSpace {
    type Arch = CellArch;
    type Key = CellArch;

    fn name(&self) -> &str {
        &self.name
    }

    /// Each edge's op uniform over the space's ops.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> CellArch {
        let k = self.vocab.len();
        CellArch {
            ops: (0..self.edges())
                .map(|_| self.op(rng.random_range(0..k)))
                .collect(),
        }
    }

    /// One edge, chosen uniformly, gets one of the other ops (with a single op, the cell
    /// itself).
    fn mutate<R: Rng + ?Sized>(&self, arch: &CellArch, rng: &mut R) -> CellArch {
        let k = self.vocab.len();
        let mut child = arch.clone();
        if k < 2 || child.ops.is_empty() {
            return child;
        }
        let e = rng.random_range(0..child.ops.len());
        let shift = rng.random_range(1..k);
        child.ops[e] = self.op((self.id(&child.ops[e]) + shift) % k);
        child
    }

    /// Uniform crossover: each edge's op from either parent.
    fn crossover<R: Rng + ?Sized>(
        &self,
        a: &CellArch,
        b: &CellArch,
        rng: &mut R,
    ) -> Option<CellArch> {
        if a.ops.len() != b.ops.len() {
            return None;
        }
        Some(CellArch {
            ops: a
                .ops
                .iter()
                .zip(&b.ops)
                .map(|(x, y)| if rng.random_bool(0.5) { x } else { y }.clone())
                .collect(),
        })
    }

    fn key(&self, arch: &CellArch) -> CellArch {
        arch.clone()
    }

    fn arch_text(&self, arch: &CellArch) -> String {
        arch.to_string()
    }

    fn key_text(&self, key: &CellArch) -> String {
        key.to_string()
    }

    /// Every cell in ordinal order, when there are at most [`CELL_ENUMERATE_LIMIT`].
    fn enumerate(&self) -> Option<Vec<CellArch>> {
        let size = self.size().filter(|&s| s <= CELL_ENUMERATE_LIMIT)?;
        Some((0..size).filter_map(|i| self.from_ordinal(i)).collect())
    }
}

impl GraphSpace for CellSpace {
    fn ops(&self) -> &OpVocab {
        &self.vocab
    }

    fn max_nodes(&self) -> usize {
        self.edges() + 2
    }

    fn max_edges(&self) -> usize {
        self.graph_edges.len()
    }

    /// The graph form (see the type); an error for a cell of another space.
    fn to_graph(&self, arch: &CellArch) -> Result<ArchGraph, GraphError> {
        self.check(arch)?;
        let mut ops = Vec::with_capacity(self.max_nodes());
        ops.push(NodeOp::Input);
        ops.extend(arch.ops.iter().map(|o| NodeOp::Op(self.id(o))));
        ops.push(NodeOp::Output);
        ArchGraph::new(ops, &self.graph_edges, self.limits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Nb201Cell, Nb201Space};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn same(cell: &CellArch, nb: &Nb201Cell) -> bool {
        cell.to_string() == nb.to_string()
    }

    #[test]
    fn the_nb201_preset_is_nb201_draw_for_draw() {
        let (cells, nb) = (CellSpace::nb201(), Nb201Space::new());
        assert_eq!(cells.name(), nb.name());
        assert_eq!(cells.max_nodes(), nb.max_nodes());
        assert_eq!(cells.max_edges(), 10);
        let all = cells.enumerate().unwrap();
        let all_nb = nb.enumerate().unwrap();
        assert_eq!(all.len(), all_nb.len());
        for (c, n) in all.iter().zip(&all_nb) {
            assert!(same(c, n), "{c} {n}");
            let (gc, gn) = (cells.to_graph(c).unwrap(), nb.to_graph(n).unwrap());
            assert_eq!(gc.ops(), gn.ops());
            assert_eq!(
                gc.edges().collect::<Vec<_>>(),
                gn.edges().collect::<Vec<_>>()
            );
        }
        for seed in 0..50 {
            let (mut r1, mut r2) = (
                ChaCha8Rng::seed_from_u64(seed),
                ChaCha8Rng::seed_from_u64(seed),
            );
            let (mut c, mut n) = (cells.sample(&mut r1), nb.sample(&mut r2));
            assert!(same(&c, &n));
            for _ in 0..20 {
                let (c2, n2) = (cells.sample(&mut r1), nb.sample(&mut r2));
                let (x, y) = (
                    cells.crossover(&c, &c2, &mut r1).unwrap(),
                    nb.crossover(&n, &n2, &mut r2).unwrap(),
                );
                assert!(same(&x, &y));
                c = cells.mutate(&x, &mut r1);
                n = nb.mutate(&y, &mut r2);
                assert!(same(&c, &n), "seed {seed}: {c} {n}");
                assert_eq!(cells.key_text(&cells.key(&c)), nb.key_text(&nb.key(&n)));
            }
        }
        // The serde form is the arch string, as NB201's: journals read the same.
        let cell = cells.from_ordinal(1234).unwrap();
        let nb_cell = Nb201Cell::from_ordinal(1234).unwrap();
        assert_eq!(
            serde_json::to_string(&cell).unwrap(),
            serde_json::to_string(&nb_cell).unwrap()
        );
        let back: CellArch =
            serde_json::from_str(&serde_json::to_string(&nb_cell).unwrap()).unwrap();
        assert_eq!(back, cell);
    }

    #[test]
    fn other_sizes_build_connected_graphs_and_enumerate_in_order() {
        for nodes in 2..=6 {
            let space = CellSpace::new("s", nodes, ["a", "b", "c"]).unwrap();
            assert_eq!(space.edges(), nodes * (nodes - 1) / 2);
            let mut rng = ChaCha8Rng::seed_from_u64(nodes as u64);
            for _ in 0..20 {
                let cell = space.sample(&mut rng);
                let g = space.to_graph(&cell).unwrap();
                assert_eq!(g.num_nodes(), space.edges() + 2);
                assert_eq!(cell.nodes(), nodes);
                let text = cell.to_string();
                assert_eq!(text.parse::<CellArch>().unwrap(), cell);
                let child = space.mutate(&cell, &mut rng);
                assert_ne!(space.key(&child), space.key(&cell));
                let diff = child.ops().iter().zip(cell.ops()).filter(|(a, b)| a != b);
                assert_eq!(diff.count(), 1);
            }
        }
        let small = CellSpace::new("s", 3, ["x", "y"]).unwrap();
        let all = small.enumerate().unwrap();
        assert_eq!(all.len(), 8);
        assert_eq!(all[1].ops(), ["x", "x", "y"]);
        assert_eq!(small.from_ordinal(8), None);
        // Too large to list: 5^45.
        assert!(
            CellSpace::new("big", 10, ["a", "b", "c", "d", "e"])
                .unwrap()
                .enumerate()
                .is_none()
        );
        // A single op: the only cell mutates to itself.
        let one = CellSpace::new("one", 3, ["x"]).unwrap();
        let cell = one.sample(&mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(one.mutate(&cell, &mut ChaCha8Rng::seed_from_u64(0)), cell);
    }

    #[test]
    fn bad_spaces_and_cells_are_refused() {
        assert!(CellSpace::new("", 4, ["a"]).is_err());
        assert!(CellSpace::new("s", 1, ["a"]).is_err());
        assert!(CellSpace::new("s", CELL_MAX_NODES + 1, ["a"]).is_err());
        assert!(CellSpace::new("s", 4, Vec::<String>::new()).is_err());
        assert!(CellSpace::new("s", 4, ["a", "a"]).is_err());
        assert!(CellSpace::new("s", 4, ["a", "b|c"]).is_err());
        assert!(CellSpace::new("s", 4, ["a", "b c"]).is_err());
        let space = CellSpace::new("s", 3, ["a", "b"]).unwrap();
        let other: CellArch = "|a~0|+|a~0|z~1|".parse().unwrap();
        assert!(matches!(
            space.to_graph(&other),
            Err(GraphError::UnknownOpName(_))
        ));
        let bigger: CellArch = "|a~0|+|a~0|a~1|+|a~0|a~1|a~2|".parse().unwrap();
        assert!(space.to_graph(&bigger).is_err());
        for text in [
            "",
            "|a~0|+",
            "|a~1|",
            "|a~0|+|a~0|",
            "a~0|",
            "|a0|",
            "|~0|",
            "|a~0|+|a~0|a~1|+",
        ] {
            assert!(text.parse::<CellArch>().is_err(), "{text:?}");
        }
        assert!(CellArch::new(vec!["a".into(), "b".into()]).is_err());
        assert!(serde_json::from_str::<CellArch>("\"|a~0|+|b~0|\"").is_err());
    }

    proptest! {
        #[test]
        fn arch_strings_never_panic_and_round_trip(text in "[|+~ab0-3]{0,40}") {
            if let Ok(cell) = text.parse::<CellArch>() {
                prop_assert_eq!(cell.to_string(), text);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = text.parse::<CellArch>();
            let _ = serde_json::from_slice::<CellArch>(&bytes);
        }
    }
}
