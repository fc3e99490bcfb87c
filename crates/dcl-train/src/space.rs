//! [`NetSpace`]: NAS-Bench-201 cells together with where a [`CellNet`](crate::CellNet)'s extra
//! features enter it ([`FeatureEntry`]), as one search space.

use std::fmt;
use std::str::FromStr;

use dcl_graph::{
    ArchGraph, GraphError, GraphSpace, Nb201Cell, Nb201Op, Nb201Space, NodeOp, OpVocab, SearchSpace,
};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::net::FeatureEntry;

/// A candidate of a [`NetSpace`]: a cell and where the extra features enter.
///
/// Written as the cell's NAS-Bench-201 string followed by `@` and the entry
/// (`|nor_conv_3x3~0|+...|@logits`); the `@head` of [`FeatureEntry::Head`] is left out, so a
/// plain cell string reads as a `Head` candidate and a `Head` candidate prints as the cell alone.
/// Serialized as the cell's fields and `features`, which may be missing (`Head`), so that a
/// serialized [`Nb201Cell`] reads as a `Head` candidate.
///
/// ```
/// use dcl_train::{FeatureEntry, NetArch};
/// let cell = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|";
/// let arch: NetArch = format!("{cell}@stem").parse().unwrap();
/// assert_eq!(arch.features, FeatureEntry::Stem);
/// assert_eq!(arch.to_string(), format!("{cell}@stem"));
/// let plain: NetArch = cell.parse().unwrap();
/// assert_eq!((plain.features, plain.to_string()), (FeatureEntry::Head, cell.to_string()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "NetArchForm")]
pub struct NetArch {
    /// The cell.
    pub cell: Nb201Cell,
    /// Where the extra features enter.
    pub features: FeatureEntry,
}

/// What a [`NetArch`] is read from: its text, which it is written as, or the fields that
/// format-1 journals and specs hold (the cell's ops beside the entry).
#[derive(Deserialize)]
#[serde(untagged)]
enum NetArchForm {
    Text(String),
    Fields {
        ops: [Nb201Op; 6],
        #[serde(default)]
        features: FeatureEntry,
    },
}

impl TryFrom<NetArchForm> for NetArch {
    type Error = TrainError;

    fn try_from(form: NetArchForm) -> Result<Self, TrainError> {
        match form {
            NetArchForm::Text(text) => text.parse(),
            NetArchForm::Fields { ops, features } => Ok(Self {
                cell: Nb201Cell::new(ops),
                features,
            }),
        }
    }
}

impl From<NetArch> for String {
    fn from(arch: NetArch) -> String {
        arch.to_string()
    }
}

impl NetArch {
    /// `cell` with the features at the head, as every network before [`FeatureEntry`].
    pub fn head(cell: Nb201Cell) -> Self {
        Self {
            cell,
            features: FeatureEntry::Head,
        }
    }
}

impl fmt::Display for NetArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.features {
            FeatureEntry::Head => write!(f, "{}", self.cell),
            entry => write!(f, "{}@{entry}", self.cell),
        }
    }
}

impl FromStr for NetArch {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, TrainError> {
        let (cell, features) = match s.rsplit_once('@') {
            Some((cell, entry)) => (cell, entry.parse()?),
            None => (s, FeatureEntry::Head),
        };
        let cell = cell
            .parse()
            .map_err(|e: GraphError| TrainError::Config(format!("{s:?}: {e}")))?;
        Ok(Self { cell, features })
    }
}

/// NAS-Bench-201's 15,625 cells, each with one of a set of [`FeatureEntry`]s.
///
/// With the single entry [`FeatureEntry::Head`] ([`NetSpace::cells`]) it is
/// [`Nb201Space`] exactly: the same graphs, operations, random draws and enumeration order, so
/// a search over it repeats a search over `Nb201Space` with the same seed. With several entries
/// the graph form is `Nb201Space`'s with one more node, labelled by the entry, between the
/// input and the output (node 7; the output moves to node 8): the predictor sees the choice as
/// one more operation. Sampling draws the entry uniformly after the cell; mutation changes one
/// of the seven choices (six edges, the entry) uniformly; crossover takes the entry from either
/// parent.
///
/// ```
/// use dcl_graph::{GraphSpace, SearchSpace};
/// use dcl_train::{FeatureEntry, NetSpace};
/// let space = NetSpace::new(FeatureEntry::ALL.to_vec()).unwrap();
/// assert_eq!(space.enumerate().unwrap().len(), 3 * 15_625);
/// let graph = space.to_graph(&space.enumerate().unwrap()[1]).unwrap();
/// assert_eq!((graph.num_nodes(), graph.num_edges()), (9, 12));
/// assert_eq!(NetSpace::cells().max_nodes(), 8);
/// ```
#[derive(Debug, Clone)]
pub struct NetSpace {
    cells: Nb201Space,
    entries: Vec<FeatureEntry>,
    vocab: OpVocab,
}

impl NetSpace {
    /// The cells with each of `entries`. Fails on no entry or a repeated one.
    pub fn new(entries: Vec<FeatureEntry>) -> Result<Self, TrainError> {
        let mut sorted = entries.clone();
        sorted.sort();
        sorted.dedup();
        if entries.is_empty() || sorted.len() != entries.len() {
            return Err(TrainError::Config(format!(
                "feature entries {entries:?}: give at least one, each once"
            )));
        }
        let cells = Nb201Space::new();
        let vocab = if entries.len() == 1 {
            cells.ops().clone()
        } else {
            let names: Vec<String> = cells
                .ops()
                .names()
                .map(str::to_owned)
                .chain(entries.iter().map(|e| format!("features_{e}")))
                .collect();
            OpVocab::new(names).map_err(|e| TrainError::Config(e.to_string()))?
        };
        Ok(Self {
            cells,
            entries,
            vocab,
        })
    }

    /// NAS-Bench-201's cells with the features at the head: [`Nb201Space`] exactly.
    pub fn cells() -> Self {
        Self {
            cells: Nb201Space::new(),
            entries: vec![FeatureEntry::Head],
            vocab: Nb201Space::new().ops().clone(),
        }
    }

    /// The entries a candidate may have.
    pub fn entries(&self) -> &[FeatureEntry] {
        &self.entries
    }

    fn chooses_entry(&self) -> bool {
        self.entries.len() > 1
    }

    fn entry_op(&self, entry: FeatureEntry) -> Result<usize, GraphError> {
        self.entries
            .iter()
            .position(|e| *e == entry)
            .map(|i| self.cells.ops().len() + i)
            .ok_or_else(|| GraphError::UnknownOpName(format!("features_{entry}")))
    }
}

impl SearchSpace for NetSpace {
    type Arch = NetArch;
    type Key = NetArch;

    fn name(&self) -> &str {
        if self.chooses_entry() {
            "nb201+features"
        } else {
            self.cells.name()
        }
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> NetArch {
        let cell = self.cells.sample(rng);
        let features = if self.chooses_entry() {
            self.entries[rng.random_range(0..self.entries.len())]
        } else {
            self.entries[0]
        };
        NetArch { cell, features }
    }

    fn mutate<R: Rng + ?Sized>(&self, arch: &NetArch, rng: &mut R) -> NetArch {
        if !self.chooses_entry() {
            return NetArch {
                cell: self.cells.mutate(&arch.cell, rng),
                features: arch.features,
            };
        }
        let mut child = *arch;
        if rng.random_range(0..7) < 6 {
            child.cell = self.cells.mutate(&arch.cell, rng);
        } else {
            let others: Vec<FeatureEntry> = self
                .entries
                .iter()
                .copied()
                .filter(|e| *e != arch.features)
                .collect();
            if !others.is_empty() {
                child.features = others[rng.random_range(0..others.len())];
            }
        }
        child
    }

    fn crossover<R: Rng + ?Sized>(&self, a: &NetArch, b: &NetArch, rng: &mut R) -> Option<NetArch> {
        let cell = self.cells.crossover(&a.cell, &b.cell, rng)?;
        let features = if self.chooses_entry() && rng.random_bool(0.5) {
            b.features
        } else {
            a.features
        };
        Some(NetArch { cell, features })
    }

    fn key(&self, arch: &NetArch) -> NetArch {
        *arch
    }

    /// The cell's arch string, followed by `@entry` unless the entry is `head`.
    fn arch_text(&self, arch: &NetArch) -> String {
        arch.to_string()
    }

    fn key_text(&self, key: &NetArch) -> String {
        key.to_string()
    }

    /// Every cell (in [`Nb201Space`]'s order) with each entry (in the given order).
    fn enumerate(&self) -> Option<Vec<NetArch>> {
        let cells = self.cells.enumerate()?;
        Some(
            cells
                .into_iter()
                .flat_map(|cell| {
                    self.entries
                        .iter()
                        .map(move |&features| NetArch { cell, features })
                })
                .collect(),
        )
    }
}

impl GraphSpace for NetSpace {
    fn ops(&self) -> &OpVocab {
        &self.vocab
    }

    fn max_nodes(&self) -> usize {
        self.cells.max_nodes() + usize::from(self.chooses_entry())
    }

    fn to_graph(&self, arch: &NetArch) -> Result<ArchGraph, GraphError> {
        if !self.chooses_entry() {
            if arch.features != self.entries[0] {
                return Err(GraphError::UnknownOpName(format!(
                    "features_{}",
                    arch.features
                )));
            }
            return self.cells.to_graph(&arch.cell);
        }
        // The cell's graph with the output moved one node on and the entry's node in its place.
        let cell = self.cells.to_graph(&arch.cell)?;
        let (entry, output) = (cell.output(), cell.output() + 1);
        let mut ops = cell.ops();
        ops.insert(entry, NodeOp::Op(self.entry_op(arch.features)?));
        let moved = |v: usize| if v >= entry { v + 1 } else { v };
        let mut edges: Vec<(usize, usize)> =
            cell.edges().map(|(a, b)| (moved(a), moved(b))).collect();
        edges.extend([(cell.input(), entry), (entry, output)]);
        ArchGraph::new(ops, &edges, self.limits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn one_entry_is_nb201_exactly() {
        let space = NetSpace::cells();
        let nb201 = Nb201Space::new();
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(3), ChaCha8Rng::seed_from_u64(3));
        for _ in 0..50 {
            let x = space.sample(&mut a);
            let y = nb201.sample(&mut b);
            assert_eq!(x, NetArch::head(y));
            let x2 = space.mutate(&x, &mut a);
            let y2 = nb201.mutate(&y, &mut b);
            assert_eq!(x2, NetArch::head(y2));
            let x3 = space.crossover(&x, &x2, &mut a).unwrap();
            let y3 = nb201.crossover(&y, &y2, &mut b).unwrap();
            assert_eq!(x3, NetArch::head(y3));
            assert_eq!(space.to_graph(&x3).unwrap(), nb201.to_graph(&y3).unwrap());
        }
        assert_eq!(space.limits(), nb201.limits());
        assert_eq!(space.name(), nb201.name());
        let all: Vec<NetArch> = nb201
            .enumerate()
            .unwrap()
            .into_iter()
            .map(NetArch::head)
            .collect();
        assert_eq!(space.enumerate().unwrap(), all);
        let stem = NetArch {
            features: FeatureEntry::Stem,
            ..all[0]
        };
        assert!(space.to_graph(&stem).is_err());
    }

    #[test]
    fn several_entries_label_one_node_and_are_all_reached() {
        let space = NetSpace::new(FeatureEntry::ALL.to_vec()).unwrap();
        assert_eq!(space.ops().len(), 8);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut seen = std::collections::BTreeSet::new();
        let mut arch = space.sample(&mut rng);
        for _ in 0..300 {
            let child = space.mutate(&arch, &mut rng);
            assert_ne!(child, arch, "a mutation changes something");
            let differs = child
                .cell
                .ops()
                .iter()
                .zip(arch.cell.ops())
                .filter(|(a, b)| **a != *b)
                .count()
                + usize::from(child.features != arch.features);
            assert_eq!(differs, 1);
            let graph = space.to_graph(&child).unwrap();
            assert_eq!(
                graph.op(7),
                Some(NodeOp::Op(
                    5 + FeatureEntry::ALL
                        .iter()
                        .position(|e| *e == child.features)
                        .unwrap()
                ))
            );
            seen.insert(child.features);
            arch = child;
        }
        assert_eq!(seen.len(), 3);
        // Graphs of different entries differ; the same cell's graph is Nb201's plus the node.
        let cell = arch.cell;
        let graphs: Vec<ArchGraph> = FeatureEntry::ALL
            .iter()
            .map(|&features| space.to_graph(&NetArch { cell, features }).unwrap())
            .collect();
        // Nb201Space's ten edges with its output (7) moved to 8, and input -> entry -> output.
        assert_eq!(graphs[0].output(), 8);
        assert_eq!(
            graphs[0].sorted_edges(),
            vec![
                (0, 1),
                (0, 2),
                (0, 4),
                (0, 7),
                (1, 3),
                (1, 5),
                (2, 6),
                (3, 6),
                (4, 8),
                (5, 8),
                (6, 8),
                (7, 8)
            ]
        );
        assert_ne!(graphs[0], graphs[1]);
        assert_ne!(graphs[1], graphs[2]);
        let hashes: std::collections::HashSet<_> =
            graphs.iter().map(dcl_graph::module_hash).collect();
        assert_eq!(hashes.len(), 3);
    }

    #[test]
    fn bad_entry_lists_and_strings_are_typed_errors() {
        assert!(NetSpace::new(vec![]).is_err());
        assert!(NetSpace::new(vec![FeatureEntry::Stem, FeatureEntry::Stem]).is_err());
        assert!(
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|@tail"
                .parse::<NetArch>()
                .is_err()
        );
        assert!("|none~0|+|none~0|none~1|@stem".parse::<NetArch>().is_err());
        let arch: NetArch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|@logits"
            .parse()
            .unwrap();
        let json = serde_json::to_string(&arch).unwrap();
        assert_eq!(serde_json::from_str::<NetArch>(&json).unwrap(), arch);
        let old = serde_json::to_string(&arch.cell).unwrap();
        assert_eq!(
            serde_json::from_str::<NetArch>(&old).unwrap(),
            NetArch::head(arch.cell)
        );
    }
}
