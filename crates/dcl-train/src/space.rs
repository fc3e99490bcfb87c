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
use crate::cell::{CellSpec, Kernels};
use crate::net::{FeatureEntry, NetConfig};
use crate::skeleton::{Skeleton, SkeletonMenu};

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
    /// The skeleton around the cell, in a wide space ([`NetSpace::with_skeletons`]);
    /// `None`: the trainer's own [`NetConfig`] and [`Kernels`]. Written after `#`.
    pub skeleton: Option<Skeleton>,
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
                skeleton: None,
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
        Self::with_entry(cell, FeatureEntry::Head)
    }

    /// `cell` with the features entering at `features`, no skeleton of its own.
    pub fn with_entry(cell: Nb201Cell, features: FeatureEntry) -> Self {
        Self {
            cell,
            features,
            skeleton: None,
        }
    }

    /// The network's skeleton: `base` with this candidate's feature entry and, in a wide
    /// space, its [`Skeleton`].
    pub fn net_config(&self, base: &NetConfig) -> NetConfig {
        let net = NetConfig {
            features: self.features,
            ..*base
        };
        match &self.skeleton {
            Some(s) => s.net_config(&net),
            None => net,
        }
    }

    /// The cell's 1-D operations: `kernels`, with the [`Skeleton`]'s conv width in a wide
    /// space.
    pub fn spec(&self, kernels: Kernels) -> CellSpec {
        let kernels = self.skeleton.map_or(kernels, |s| s.kernels(kernels));
        CellSpec::from_nb201(&self.cell, kernels)
    }
}

impl fmt::Display for NetArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.features {
            FeatureEntry::Head => write!(f, "{}", self.cell)?,
            entry => write!(f, "{}@{entry}", self.cell)?,
        }
        match &self.skeleton {
            Some(s) => write!(f, "#{s}"),
            None => Ok(()),
        }
    }
}

impl FromStr for NetArch {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, TrainError> {
        let (rest, skeleton) = match s.rsplit_once('#') {
            Some((rest, skeleton)) => (rest, Some(skeleton.parse()?)),
            None => (s, None),
        };
        let (cell, features) = match rest.rsplit_once('@') {
            Some((cell, entry)) => (cell, entry.parse()?),
            None => (rest, FeatureEntry::Head),
        };
        let cell = cell
            .parse()
            .map_err(|e: GraphError| TrainError::Config(format!("{s:?}: {e}")))?;
        Ok(Self {
            cell,
            features,
            skeleton,
        })
    }
}

/// NAS-Bench-201's 15,625 cells, each with one of a set of [`FeatureEntry`]s and, in a wide
/// space ([`NetSpace::with_skeletons`]), one of the [`SkeletonMenu`]'s skeletons.
///
/// With the single entry [`FeatureEntry::Head`] ([`NetSpace::cells`]) it is
/// [`Nb201Space`] exactly: the same graphs, operations, random draws and enumeration order, so
/// a search over it repeats a search over `Nb201Space` with the same seed. Every further
/// choice (the entry, when there are several; each skeleton choice with more than one value)
/// is one more node of the graph, labelled by the value chosen, between the input and the
/// output (nodes 7, 8, ...; the output moves after them): the predictor sees each choice as
/// one more operation. Sampling draws the cell, then the entry, then each skeleton choice,
/// uniformly; mutation changes one choice (one of the six edges, the entry, a skeleton
/// choice; the six edges weigh one each) to another value uniformly; crossover takes the
/// cell's crossover and each other choice from either parent.
///
/// ```
/// use dcl_graph::{GraphSpace, SearchSpace};
/// use dcl_train::{FeatureEntry, NetSpace, SkeletonMenu};
/// let space = NetSpace::new(FeatureEntry::ALL.to_vec()).unwrap();
/// assert_eq!(space.enumerate().unwrap().len(), 3 * 15_625);
/// let graph = space.to_graph(&space.enumerate().unwrap()[1]).unwrap();
/// assert_eq!((graph.num_nodes(), graph.num_edges()), (9, 12));
/// assert_eq!(NetSpace::cells().max_nodes(), 8);
/// let wide = NetSpace::with_skeletons(FeatureEntry::ALL.to_vec(), SkeletonMenu::wide()).unwrap();
/// assert_eq!(wide.max_nodes(), 8 + 1 + 6);
/// assert!(wide.enumerate().is_none()); // 22.8 million candidates
/// ```
#[derive(Debug, Clone)]
pub struct NetSpace {
    cells: Nb201Space,
    entries: Vec<FeatureEntry>,
    menu: Option<SkeletonMenu>,
    vocab: OpVocab,
}

/// A space is enumerated up to this many candidates.
const MAX_ENUMERATED: usize = 1_000_000;

impl NetSpace {
    /// The cells with each of `entries`. Fails on no entry or a repeated one.
    pub fn new(entries: Vec<FeatureEntry>) -> Result<Self, TrainError> {
        Self::build(entries, None)
    }

    /// The wide space: the cells with each of `entries` and each skeleton of `menu`. Fails
    /// as [`NetSpace::new`] does, and on a menu [`SkeletonMenu::validate`] refuses.
    pub fn with_skeletons(
        entries: Vec<FeatureEntry>,
        menu: SkeletonMenu,
    ) -> Result<Self, TrainError> {
        menu.validate()?;
        Self::build(entries, Some(menu))
    }

    fn build(entries: Vec<FeatureEntry>, menu: Option<SkeletonMenu>) -> Result<Self, TrainError> {
        let mut sorted = entries.clone();
        sorted.sort();
        sorted.dedup();
        if entries.is_empty() || sorted.len() != entries.len() {
            return Err(TrainError::Config(format!(
                "feature entries {entries:?}: give at least one, each once"
            )));
        }
        let cells = Nb201Space::new();
        let mut names: Vec<String> = cells.ops().names().map(str::to_owned).collect();
        if entries.len() > 1 {
            names.extend(entries.iter().map(|e| format!("features_{e}")));
        }
        if let Some(menu) = &menu {
            for (name, values) in menu.choices() {
                if values.len() > 1 {
                    names.extend(values.iter().map(|v| format!("{name}_{v}")));
                }
            }
        }
        let vocab = OpVocab::new(names).map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(Self {
            cells,
            entries,
            menu,
            vocab,
        })
    }

    /// NAS-Bench-201's cells with the features at the head: [`Nb201Space`] exactly.
    pub fn cells() -> Self {
        Self {
            cells: Nb201Space::new(),
            entries: vec![FeatureEntry::Head],
            menu: None,
            vocab: Nb201Space::new().ops().clone(),
        }
    }

    /// The entries a candidate may have.
    pub fn entries(&self) -> &[FeatureEntry] {
        &self.entries
    }

    /// The skeletons a candidate may have, in a wide space.
    pub fn menu(&self) -> Option<&SkeletonMenu> {
        self.menu.as_ref()
    }

    /// Candidates the space holds.
    pub fn size(&self) -> usize {
        dcl_graph::NB201_NUM_CELLS
            .saturating_mul(self.entries.len())
            .saturating_mul(self.menu.as_ref().map_or(1, SkeletonMenu::size))
    }

    /// Whether `arch` is one of the space's candidates (its entry and skeleton are on offer).
    pub fn contains(&self, arch: &NetArch) -> bool {
        self.entries.contains(&arch.features)
            && match (&self.menu, &arch.skeleton) {
                (None, None) => true,
                (Some(menu), Some(s)) => menu.picks(s).is_some(),
                _ => false,
            }
    }

    fn chooses_entry(&self) -> bool {
        self.entries.len() > 1
    }

    /// The skeleton choices with more than one value: (position in the menu, op of the first
    /// value), in menu order.
    fn skeleton_choices(&self) -> Vec<(usize, usize)> {
        let Some(menu) = &self.menu else {
            return Vec::new();
        };
        let mut op = self.cells.ops().len()
            + if self.chooses_entry() {
                self.entries.len()
            } else {
                0
            };
        let mut out = Vec::new();
        for (i, (_, values)) in menu.choices().iter().enumerate() {
            if values.len() > 1 {
                out.push((i, op));
                op += values.len();
            }
        }
        out
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
        match (&self.menu, self.chooses_entry()) {
            (Some(_), _) => "nb201+features+skeleton",
            (None, true) => "nb201+features",
            (None, false) => self.cells.name(),
        }
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> NetArch {
        let cell = self.cells.sample(rng);
        let features = if self.chooses_entry() {
            self.entries[rng.random_range(0..self.entries.len())]
        } else {
            self.entries[0]
        };
        let skeleton = self.menu.as_ref().map(|menu| {
            let c = menu.choices();
            let picks = std::array::from_fn(|i| {
                if c[i].1.len() > 1 {
                    rng.random_range(0..c[i].1.len())
                } else {
                    0
                }
            });
            menu.skeleton(picks)
        });
        NetArch {
            cell,
            features,
            skeleton,
        }
    }

    fn mutate<R: Rng + ?Sized>(&self, arch: &NetArch, rng: &mut R) -> NetArch {
        let knobs = self.skeleton_choices();
        if !self.chooses_entry() && knobs.is_empty() {
            return NetArch {
                cell: self.cells.mutate(&arch.cell, rng),
                ..*arch
            };
        }
        let mut child = *arch;
        let entry = usize::from(self.chooses_entry());
        let r = rng.random_range(0..6 + entry + knobs.len());
        if r < 6 {
            child.cell = self.cells.mutate(&arch.cell, rng);
        } else if r < 6 + entry {
            let others: Vec<FeatureEntry> = self
                .entries
                .iter()
                .copied()
                .filter(|e| *e != arch.features)
                .collect();
            if !others.is_empty() {
                child.features = others[rng.random_range(0..others.len())];
            }
        } else if let (Some(menu), Some(skeleton)) = (&self.menu, &arch.skeleton) {
            let (choice, _) = knobs[r - 6 - entry];
            if let Some(mut picks) = menu.picks(skeleton) {
                let n = menu.choices()[choice].1.len();
                // Another value uniformly: one of the n - 1 others.
                let other = rng.random_range(0..n - 1);
                picks[choice] = if other >= picks[choice] {
                    other + 1
                } else {
                    other
                };
                child.skeleton = Some(menu.skeleton(picks));
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
        let skeleton = match (&self.menu, &a.skeleton, &b.skeleton) {
            (Some(menu), Some(sa), Some(sb)) => match (menu.picks(sa), menu.picks(sb)) {
                (Some(pa), Some(pb)) => {
                    let mut picks = pa;
                    for (choice, _) in self.skeleton_choices() {
                        if rng.random_bool(0.5) {
                            picks[choice] = pb[choice];
                        }
                    }
                    Some(menu.skeleton(picks))
                }
                _ => a.skeleton,
            },
            _ => a.skeleton,
        };
        Some(NetArch {
            cell,
            features,
            skeleton,
        })
    }

    fn key(&self, arch: &NetArch) -> NetArch {
        *arch
    }

    /// The cell's arch string, followed by `@entry` unless the entry is `head`, and by
    /// `#skeleton` in a wide space.
    fn arch_text(&self, arch: &NetArch) -> String {
        arch.to_string()
    }

    fn key_text(&self, key: &NetArch) -> String {
        key.to_string()
    }

    /// Every cell (in [`Nb201Space`]'s order) with each entry (in the given order) and each
    /// skeleton (the menu's lists in order, the last fastest); `None` above a million
    /// candidates.
    fn enumerate(&self) -> Option<Vec<NetArch>> {
        if self.size() > MAX_ENUMERATED {
            return None;
        }
        let skeletons: Vec<Option<Skeleton>> = match &self.menu {
            None => vec![None],
            Some(menu) => {
                let c = menu.choices();
                let mut all = vec![[0usize; 6]];
                for (i, (_, values)) in c.iter().enumerate() {
                    all = all
                        .into_iter()
                        .flat_map(|p| {
                            (0..values.len()).map(move |v| {
                                let mut q = p;
                                q[i] = v;
                                q
                            })
                        })
                        .collect();
                }
                all.into_iter().map(|p| Some(menu.skeleton(p))).collect()
            }
        };
        let cells = self.cells.enumerate()?;
        Some(
            cells
                .into_iter()
                .flat_map(|cell| {
                    let skeletons = &skeletons;
                    self.entries.iter().flat_map(move |&features| {
                        skeletons.iter().map(move |&skeleton| NetArch {
                            cell,
                            features,
                            skeleton,
                        })
                    })
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
        self.cells.max_nodes() + usize::from(self.chooses_entry()) + self.skeleton_choices().len()
    }

    fn to_graph(&self, arch: &NetArch) -> Result<ArchGraph, GraphError> {
        if !self.contains(arch) {
            return Err(GraphError::UnknownOpName(format!(
                "{arch}: its feature entry or skeleton is not in the space"
            )));
        }
        let mut extra = Vec::new();
        if self.chooses_entry() {
            extra.push(self.entry_op(arch.features)?);
        }
        if let (Some(menu), Some(skeleton)) = (&self.menu, &arch.skeleton) {
            let picks = menu.picks(skeleton).expect("contains checked it");
            for (choice, first_op) in self.skeleton_choices() {
                extra.push(first_op + picks[choice]);
            }
        }
        if extra.is_empty() {
            return self.cells.to_graph(&arch.cell);
        }
        // The cell's graph with the output moved on and one node per choice in its place, each
        // between the input and the output.
        let cell = self.cells.to_graph(&arch.cell)?;
        let first = cell.output();
        let output = first + extra.len();
        let mut ops = cell.ops();
        for (i, &op) in extra.iter().enumerate() {
            ops.insert(first + i, NodeOp::Op(op));
        }
        let moved = |v: usize| if v >= first { v + extra.len() } else { v };
        let mut edges: Vec<(usize, usize)> =
            cell.edges().map(|(a, b)| (moved(a), moved(b))).collect();
        for i in 0..extra.len() {
            edges.extend([(cell.input(), first + i), (first + i, output)]);
        }
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
            .map(|&features| {
                space
                    .to_graph(&NetArch::with_entry(cell, features))
                    .unwrap()
            })
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

    /// A wide space draws every value of every choice, mutates exactly one choice at a time,
    /// crosses choices over from the parents, labels one node per choice, and reads its own
    /// text back; a space without the menu refuses its candidates.
    #[test]
    fn a_wide_space_chooses_skeletons_as_one_more_node_each() {
        let menu = SkeletonMenu::wide();
        let space = NetSpace::with_skeletons(FeatureEntry::ALL.to_vec(), menu.clone()).unwrap();
        assert_eq!(space.size(), 15_625 * 3 * 486);
        assert_eq!(space.ops().len(), 5 + 3 + 3 + 3 + 2 + 3 + 3 + 3);
        assert_eq!(space.max_nodes(), 8 + 1 + 6);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut seen: Vec<std::collections::BTreeSet<usize>> = vec![Default::default(); 6];
        let mut arch = space.sample(&mut rng);
        for _ in 0..400 {
            let child = space.mutate(&arch, &mut rng);
            let (pa, pc) = (
                menu.picks(&arch.skeleton.unwrap()).unwrap(),
                menu.picks(&child.skeleton.unwrap()).unwrap(),
            );
            let differs = child
                .cell
                .ops()
                .iter()
                .zip(arch.cell.ops())
                .filter(|(a, b)| **a != *b)
                .count()
                + usize::from(child.features != arch.features)
                + pa.iter().zip(&pc).filter(|(a, b)| a != b).count();
            assert_eq!(differs, 1, "{arch} -> {child}");
            for (i, &p) in pc.iter().enumerate() {
                seen[i].insert(p);
            }
            let graph = space.to_graph(&child).unwrap();
            assert_eq!(graph.num_nodes(), 15);
            assert_eq!(graph.output(), 14);
            // Node 8 + i is choice i, labelled by its value's op.
            for (j, (choice, first)) in space.skeleton_choices().into_iter().enumerate() {
                assert_eq!(graph.op(8 + j), Some(NodeOp::Op(first + pc[choice])));
            }
            assert_eq!(child.to_string().parse::<NetArch>().unwrap(), child);
            let json = serde_json::to_string(&child).unwrap();
            assert_eq!(serde_json::from_str::<NetArch>(&json).unwrap(), child);
            arch = child;
        }
        for (i, (_, values)) in menu.choices().iter().enumerate() {
            assert_eq!(seen[i].len(), values.len(), "choice {i}");
        }
        // Crossover: each choice from one parent or the other.
        let (a, b) = (space.sample(&mut rng), space.sample(&mut rng));
        for _ in 0..20 {
            let c = space.crossover(&a, &b, &mut rng).unwrap();
            let [pa, pb, pc] = [a, b, c].map(|x| menu.picks(&x.skeleton.unwrap()).unwrap());
            assert!((0..6).all(|i| pc[i] == pa[i] || pc[i] == pb[i]));
            assert!(c.features == a.features || c.features == b.features);
        }
        // Different skeletons, different graphs; a skeleton off the menu is refused, as is a
        // candidate without one, and the narrow space refuses a wide candidate.
        let mut other = a;
        other.skeleton = Some(menu.skeleton([2, 2, 1, 2, 2, 2]));
        if other != a {
            assert_ne!(space.to_graph(&other).unwrap(), space.to_graph(&a).unwrap());
        }
        other.skeleton = Some("c12s3n1k7w5h32".parse().unwrap());
        assert!(!space.contains(&other) && space.to_graph(&other).is_err());
        let narrow = NetSpace::new(FeatureEntry::ALL.to_vec()).unwrap();
        assert!(!narrow.contains(&a) && narrow.to_graph(&a).is_err());
        assert!(!space.contains(&NetArch::head(a.cell)));
        // The skeleton reaches the network.
        let net = a.net_config(&crate::NetConfig::default());
        let s = a.skeleton.unwrap();
        assert_eq!(
            (net.channels, net.stages, net.features),
            (s.channels as usize, s.stages as usize, a.features)
        );
    }

    /// A menu with one open choice is enumerated: every cell, entry and value once.
    #[test]
    fn a_small_wide_space_enumerates_and_fixed_choices_add_no_node() {
        let mut menu = SkeletonMenu::wide();
        for (_, values) in [
            &mut menu.stages,
            &mut menu.cells_per_stage,
            &mut menu.stem_kernel,
            &mut menu.conv_kernel,
            &mut menu.head_hidden,
        ]
        .into_iter()
        .map(|v| ((), v))
        {
            values.truncate(1);
        }
        let space = NetSpace::with_skeletons(vec![FeatureEntry::Head], menu).unwrap();
        assert_eq!(space.max_nodes(), 9);
        let all = space.enumerate().unwrap();
        assert_eq!(all.len(), 15_625 * 3);
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        let graph = space.to_graph(&all[4]).unwrap();
        assert_eq!((graph.num_nodes(), graph.output()), (9, 8));
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
