//! NAS-Bench-101: cells of up to 7 vertices and 9 edges, ops conv3x3 / conv1x1 / maxpool.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::hash::module_hash_raw;
use crate::{
    ArchGraph, DagArch, DagSpace, GraphError, GraphLimits, GraphSpace, ModuleHash, OpVocab,
    SearchSpace,
};

/// Most vertices of a cell, input and output included.
pub const NB101_MAX_VERTICES: usize = 7;
/// Most edges of a cell.
pub const NB101_MAX_EDGES: usize = 9;
/// Number of distinct cells (module hashes) in the space, as published.
pub const NB101_NUM_CELLS: usize = 423_624;

const V: usize = NB101_MAX_VERTICES;

/// The ops of an intermediate NAS-Bench-101 vertex; the discriminant is the label of the
/// NB101 hash and the op id in [`Nb101Space::ops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum Nb101Op {
    /// 3x3 convolution, batch norm, ReLU.
    Conv3x3 = 0,
    /// 1x1 convolution, batch norm, ReLU.
    Conv1x1 = 1,
    /// 3x3 max pooling.
    MaxPool3x3 = 2,
}

impl Nb101Op {
    /// The three ops, in id order.
    pub const ALL: [Nb101Op; 3] = [Nb101Op::Conv3x3, Nb101Op::Conv1x1, Nb101Op::MaxPool3x3];

    /// The official name (`conv3x3-bn-relu`, `conv1x1-bn-relu`, `maxpool3x3`).
    pub fn name(self) -> &'static str {
        match self {
            Nb101Op::Conv3x3 => "conv3x3-bn-relu",
            Nb101Op::Conv1x1 => "conv1x1-bn-relu",
            Nb101Op::MaxPool3x3 => "maxpool3x3",
        }
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

/// A NAS-Bench-101 cell: an upper-triangular DAG from vertex 0 (input) to vertex `n-1`
/// (output), pruned so that every vertex is on an input→output path, with at most 9 edges.
///
/// Two cells that differ only by a renumbering of their vertices are the same architecture:
/// compare [`Nb101Cell::module_hash`]es (the key of [`Nb101Space`]), not the cells.
///
/// ```
/// use dcl_graph::Nb101Cell;
/// // The first row of the 20k table: 7 vertices, upper triangle row-major, ops.
/// let cell = Nb101Cell::from_table(
///     7,
///     "100110100001001010101",
///     "input|conv3x3-bn-relu|maxpool3x3|conv3x3-bn-relu|conv3x3-bn-relu|conv1x1-bn-relu|output",
/// ).unwrap();
/// assert_eq!(cell.num_edges(), 9);
/// assert_eq!(cell.module_hash().to_string(), "00005c142e6f48ac74fdcf73e3439874");
/// // Its text form, which journals and printed lines use, reads back as the same cell.
/// let text = cell.to_string();
/// assert_eq!(
///     text,
///     "100110100001001010101:input|conv3x3-bn-relu|maxpool3x3|conv3x3-bn-relu|conv3x3-bn-relu|conv1x1-bn-relu|output"
/// );
/// assert_eq!(text.parse::<Nb101Cell>().unwrap(), cell);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "Nb101CellForm")]
pub struct Nb101Cell {
    n: u8,
    /// `rows[i]` has bit `j` set for an edge `i → j` (`j > i`).
    rows: [u8; V],
    /// Op ids of vertices `1..n-1`; other slots are 0.
    ops: [u8; V],
}

/// What an [`Nb101Cell`] is read from: its text form, which it is written as, or the fields
/// that format-1 journals and specs hold.
#[derive(Deserialize)]
#[serde(untagged)]
enum Nb101CellForm {
    Text(String),
    Fields(RawNb101Cell),
}

impl TryFrom<Nb101CellForm> for Nb101Cell {
    type Error = GraphError;

    fn try_from(form: Nb101CellForm) -> Result<Self, GraphError> {
        match form {
            Nb101CellForm::Text(text) => text.parse(),
            Nb101CellForm::Fields(raw) => raw.try_into(),
        }
    }
}

impl From<Nb101Cell> for String {
    fn from(cell: Nb101Cell) -> String {
        cell.to_string()
    }
}

/// The fields of an [`Nb101Cell`], checked before they become one.
#[derive(Deserialize)]
struct RawNb101Cell {
    n: u8,
    rows: [u8; V],
    ops: [u8; V],
}

impl TryFrom<RawNb101Cell> for Nb101Cell {
    type Error = GraphError;

    /// Accepts exactly the cells the constructors make: 2 to 7 vertices, edges only forward
    /// between existing vertices, known ops on the intermediate vertices and zeros elsewhere,
    /// every vertex on an input→output path, at most 9 edges.
    fn try_from(raw: RawNb101Cell) -> Result<Self, GraphError> {
        const WHAT: &str = "NAS-Bench-101 cell";
        let text = format!("n {} rows {:?} ops {:?}", raw.n, raw.rows, raw.ops);
        let n = raw.n as usize;
        if !(2..=V).contains(&n) {
            return Err(GraphError::parse(WHAT, &text, "n must be 2..=7"));
        }
        for (i, &row) in raw.rows.iter().enumerate() {
            // Bits j with i < j < n only.
            let allowed = if i + 1 < n {
                (((1u16 << n) - 1) as u8) & !(((1u16 << (i + 1)) - 1) as u8)
            } else {
                0
            };
            if row & !allowed != 0 {
                return Err(GraphError::parse(
                    WHAT,
                    &text,
                    format!("row {i} has an edge that is not forward between the {n} vertices"),
                ));
            }
        }
        for (v, &op) in raw.ops.iter().enumerate() {
            let intermediate = v >= 1 && v + 1 < n;
            if (intermediate && op as usize >= Nb101Op::ALL.len()) || (!intermediate && op != 0) {
                return Err(GraphError::parse(
                    WHAT,
                    &text,
                    format!("op {op} at vertex {v} is not a known op of an intermediate vertex"),
                ));
            }
        }
        let cell = Self::pruned(n, raw.rows, raw.ops)?;
        if cell.n != raw.n || cell.rows != raw.rows || cell.ops != raw.ops {
            return Err(GraphError::parse(
                WHAT,
                &text,
                "a vertex is off every input→output path",
            ));
        }
        Ok(cell)
    }
}

impl fmt::Display for Nb101Cell {
    /// `adj_upper:ops`: the tables' two text columns joined by `:` (the number of vertices is
    /// the number of ops), for example `111:input|maxpool3x3|output` for input → maxpool →
    /// output with a skip edge from input to output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.adj_upper(), self.ops_string())
    }
}

impl FromStr for Nb101Cell {
    type Err = GraphError;

    /// Parses exactly what [`Display`](fmt::Display) prints: a cell with a vertex off every
    /// input→output path (which the constructors would prune away) is refused, so the text of a
    /// cell always reads back as that cell.
    fn from_str(s: &str) -> Result<Self, GraphError> {
        const WHAT: &str = "NAS-Bench-101 cell text";
        let (adj, ops) = s
            .split_once(':')
            .ok_or_else(|| GraphError::parse(WHAT, s, "expected adj_upper:ops"))?;
        let n = ops.split('|').count();
        let cell = Self::from_table(n, adj, ops)?;
        if cell.adj_upper() != adj || cell.ops_string() != ops {
            return Err(GraphError::parse(
                WHAT,
                s,
                "a vertex is off every input→output path",
            ));
        }
        Ok(cell)
    }
}

impl fmt::Debug for Nb101Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Nb101Cell {{ n: {}, adj_upper: {}, ops: {} }}",
            self.n,
            self.adj_upper(),
            self.ops_string()
        )
    }
}

impl Nb101Cell {
    /// A cell from a square 0/1 adjacency matrix (upper triangular, at most 7x7) and one op
    /// name per vertex (`input` first, `output` last), as NAS-Bench-101's `ModelSpec` takes them.
    /// Vertices off every input→output path are pruned, as `ModelSpec` does.
    ///
    /// ```
    /// use dcl_graph::{Nb101Cell, GraphError};
    /// let m = vec![vec![0, 1, 1], vec![0, 0, 1], vec![0, 0, 0]];
    /// let cell = Nb101Cell::new(&m, &["input", "maxpool3x3", "output"]).unwrap();
    /// assert_eq!(cell.num_vertices(), 3);
    /// // A vertex with no path to the output is pruned away.
    /// let m = vec![vec![0, 1, 1], vec![0, 0, 0], vec![0, 0, 0]];
    /// assert_eq!(Nb101Cell::new(&m, &["input", "maxpool3x3", "output"]).unwrap().num_vertices(), 2);
    /// // No input→output path at all is an error.
    /// let m = vec![vec![0, 1, 0], vec![0, 0, 0], vec![0, 0, 0]];
    /// assert_eq!(Nb101Cell::new(&m, &["input", "maxpool3x3", "output"]), Err(GraphError::Disconnected));
    /// ```
    pub fn new<S: AsRef<str>>(matrix: &[Vec<u8>], ops: &[S]) -> Result<Self, GraphError> {
        let n = matrix.len();
        if n < 2 {
            return Err(GraphError::parse(
                "NAS-Bench-101 spec",
                &format!("{matrix:?}"),
                "needs at least the input and output vertices",
            ));
        }
        if n > V {
            return Err(GraphError::TooManyNodes { found: n, max: V });
        }
        if ops.len() != n {
            return Err(GraphError::parse(
                "NAS-Bench-101 spec",
                &format!("{} ops", ops.len()),
                format!("expected one op per vertex ({n})"),
            ));
        }
        let mut rows = [0u8; V];
        for (i, row) in matrix.iter().enumerate() {
            if row.len() != n {
                return Err(GraphError::parse(
                    "NAS-Bench-101 spec",
                    &format!("{row:?}"),
                    format!("row {i} has {} entries, expected {n}", row.len()),
                ));
            }
            for (j, &x) in row.iter().enumerate() {
                match (x, j > i) {
                    (0, _) => {}
                    (1, true) => rows[i] |= 1 << j,
                    (1, false) => {
                        return Err(GraphError::parse(
                            "NAS-Bench-101 spec",
                            &format!("{matrix:?}"),
                            format!(
                                "entry ({i}, {j}) is below the diagonal: the matrix must be upper triangular"
                            ),
                        ));
                    }
                    _ => {
                        return Err(GraphError::parse(
                            "NAS-Bench-101 spec",
                            &format!("{matrix:?}"),
                            format!("entry ({i}, {j}) is {x}, not 0 or 1"),
                        ));
                    }
                }
            }
        }
        let op_ids = parse_ops(ops.iter().map(AsRef::as_ref), n)?;
        Self::pruned(n, rows, op_ids)
    }

    /// A cell in the tables' text form: `n_vertices`, `adj_upper` (the upper triangle row-major,
    /// `(0,1),(0,2)..(0,n-1),(1,2)..`) and `ops` joined by `|`.
    pub fn from_table(n_vertices: usize, adj_upper: &str, ops: &str) -> Result<Self, GraphError> {
        const WHAT: &str = "NAS-Bench-101 adj_upper";
        if !(2..=V).contains(&n_vertices) {
            return Err(GraphError::parse(
                "NAS-Bench-101 n_vertices",
                &n_vertices.to_string(),
                "must be 2..=7",
            ));
        }
        let n = n_vertices;
        let bits = adj_upper.as_bytes();
        if bits.len() != n * (n - 1) / 2 {
            return Err(GraphError::parse(
                WHAT,
                adj_upper,
                format!("expected {} bits for {n} vertices", n * (n - 1) / 2),
            ));
        }
        let mut rows = [0u8; V];
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                match bits[k] {
                    b'0' => {}
                    b'1' => rows[i] |= 1 << j,
                    _ => return Err(GraphError::parse(WHAT, adj_upper, "bits must be 0 or 1")),
                }
                k += 1;
            }
        }
        let op_ids = parse_ops(ops.split('|'), n)?;
        Self::pruned(n, rows, op_ids)
    }

    /// Prunes vertices off the input→output paths and checks the edge limit.
    fn pruned(n: usize, rows: [u8; V], ops: [u8; V]) -> Result<Self, GraphError> {
        let pruned = crate::dag::prune(n, &rows.map(u32::from), &ops)?;
        let edges = pruned.num_edges();
        if edges > NB101_MAX_EDGES {
            return Err(GraphError::TooManyEdges {
                found: edges,
                max: NB101_MAX_EDGES,
            });
        }
        let mut cell = Nb101Cell {
            n: pruned.rows.len() as u8,
            rows: [0; V],
            ops: [0; V],
        };
        for (v, (&row, &op)) in pruned.rows.iter().zip(&pruned.ops).enumerate() {
            // At most 7 vertices: every row fits a u8.
            cell.rows[v] = row as u8;
            cell.ops[v] = op;
        }
        Ok(cell)
    }

    /// The cell as an architecture of [`DagSpace::nb101`].
    fn to_dag(self) -> DagArch {
        let ops = self.op_names().into_iter().map(str::to_owned).collect();
        DagArch::from_parts(self.wide_rows(), ops)
    }

    /// An architecture of [`DagSpace::nb101`] as a cell.
    fn from_dag(dag: &DagArch) -> Self {
        let n = dag.num_vertices().min(V);
        let mut cell = Nb101Cell {
            n: n as u8,
            rows: [0; V],
            ops: [0; V],
        };
        for i in 0..n {
            for j in i + 1..n {
                if dag.has_edge(i, j) {
                    cell.rows[i] |= 1 << j;
                }
            }
            if i > 0 && i + 1 < n {
                cell.ops[i] = Nb101Op::from_name(&dag.op_names()[i]).map_or(0, |o| o as u8);
            }
        }
        cell
    }

    /// Number of vertices, input and output included.
    pub fn num_vertices(&self) -> usize {
        self.n as usize
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.rows.iter().map(|r| r.count_ones() as usize).sum()
    }

    /// Whether there is an edge `i → j`.
    pub fn has_edge(&self, i: usize, j: usize) -> bool {
        i < V && j < 8 && self.rows[i] >> j & 1 == 1
    }

    /// The op of intermediate vertex `v` (`None` for the input, the output, or past the end).
    pub fn op(&self, v: usize) -> Option<Nb101Op> {
        if v == 0 || v + 1 >= self.num_vertices() {
            return None;
        }
        Nb101Op::ALL.get(self.ops[v] as usize).copied()
    }

    /// The adjacency matrix as 0/1 rows.
    pub fn matrix(&self) -> Vec<Vec<u8>> {
        let n = self.num_vertices();
        (0..n)
            .map(|i| (0..n).map(|j| u8::from(self.has_edge(i, j))).collect())
            .collect()
    }

    /// Op names per vertex, `input` first and `output` last.
    pub fn op_names(&self) -> Vec<&'static str> {
        let n = self.num_vertices();
        (0..n)
            .map(|v| match v {
                0 => "input",
                _ if v == n - 1 => "output",
                _ => Nb101Op::ALL[self.ops[v] as usize].name(),
            })
            .collect()
    }

    /// The upper triangle in the tables' text form.
    pub fn adj_upper(&self) -> String {
        self.to_dag().adj_upper()
    }

    /// The ops in the tables' text form (names joined by `|`).
    pub fn ops_string(&self) -> String {
        self.op_names().join("|")
    }

    /// The NAS-Bench-101 module hash: the key of the published tables.
    pub fn module_hash(&self) -> ModuleHash {
        let n = self.num_vertices();
        crate::dag::hash_of(&self.wide_rows(), &self.ops[..n])
    }

    /// The cell as a graph of [`Nb101Space`].
    pub fn to_graph(&self) -> Result<ArchGraph, GraphError> {
        let n = self.num_vertices();
        crate::dag::graph_of(&self.wide_rows(), &self.ops[..n], nb101_limits())
    }

    /// The rows as the DAG space's bitmasks.
    fn wide_rows(&self) -> Vec<u32> {
        self.rows[..self.num_vertices()]
            .iter()
            .map(|&r| u32::from(r))
            .collect()
    }
}

fn parse_ops<'a>(names: impl Iterator<Item = &'a str>, n: usize) -> Result<[u8; V], GraphError> {
    let names: Vec<&str> = names.collect();
    if names.len() != n {
        return Err(GraphError::parse(
            "NAS-Bench-101 ops",
            &names.join("|"),
            format!("expected {n} ops"),
        ));
    }
    if names[0] != "input" || names[n - 1] != "output" {
        return Err(GraphError::parse(
            "NAS-Bench-101 ops",
            &names.join("|"),
            "the first op must be input and the last output",
        ));
    }
    let mut ops = [0u8; V];
    for v in 1..n - 1 {
        ops[v] = Nb101Op::from_name(names[v])
            .ok_or_else(|| GraphError::UnknownOpName(names[v].to_owned()))? as u8;
    }
    Ok(ops)
}

fn nb101_limits() -> GraphLimits {
    GraphLimits {
        num_ops: 3,
        max_nodes: V,
        max_edges: NB101_MAX_EDGES,
    }
}

/// The NAS-Bench-101 search space.
///
/// * Sampling is NAS-Bench-101's `random_spec`: each of the 21 upper-triangle edges of a 7x7
///   matrix with probability 1/2 and each op uniformly, redrawn until the pruned cell is valid.
///   It is uniform over valid *specs*, not over the 423,624 isomorphism classes (cells with
///   more symmetries are drawn less often), as in the NAS literature.
/// * Mutation is the one of the NAS-Bench-101 regularized-evolution example (mutation rate 1):
///   on the 7-vertex padded cell, flip each edge with probability 1/7 and change each op with
///   probability 1/5; redrawn until valid and of a different module hash.
/// * Crossover is uniform over the padded matrices and ops.
/// * Keys are module hashes, so isomorphic cells are one architecture.
/// * [`enumerate`](SearchSpace::enumerate) lists all 423,624 cells (see [`enumerate_nb101`]).
#[derive(Debug, Clone)]
pub struct Nb101Space {
    /// The operators' one implementation, on the same space declared.
    dag: DagSpace,
}

impl Default for Nb101Space {
    fn default() -> Self {
        Self::new()
    }
}

impl Nb101Space {
    /// The space.
    pub fn new() -> Self {
        Self {
            dag: DagSpace::nb101(),
        }
    }
}

impl SearchSpace for Nb101Space {
    type Arch = Nb101Cell;
    type Key = ModuleHash;

    fn name(&self) -> &str {
        "nb101"
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Nb101Cell {
        Nb101Cell::from_dag(&self.dag.sample(rng))
    }

    fn mutate<R: Rng + ?Sized>(&self, arch: &Nb101Cell, rng: &mut R) -> Nb101Cell {
        Nb101Cell::from_dag(&self.dag.mutate(&arch.to_dag(), rng))
    }

    fn crossover<R: Rng + ?Sized>(
        &self,
        a: &Nb101Cell,
        b: &Nb101Cell,
        rng: &mut R,
    ) -> Option<Nb101Cell> {
        self.dag
            .crossover(&a.to_dag(), &b.to_dag(), rng)
            .map(|c| Nb101Cell::from_dag(&c))
    }

    fn key(&self, arch: &Nb101Cell) -> ModuleHash {
        arch.module_hash()
    }

    /// The cell's text form (see [`Nb101Cell`]'s `Display`), `adj_upper:ops`.
    fn arch_text(&self, arch: &Nb101Cell) -> String {
        arch.to_string()
    }

    /// The module hash in hex, as the tables write it.
    fn key_text(&self, key: &ModuleHash) -> String {
        key.to_string()
    }

    /// All 423,624 cells (a few seconds; see [`enumerate_nb101`]).
    fn enumerate(&self) -> Option<Vec<Nb101Cell>> {
        Some(enumerate_nb101().into_iter().map(|(_, c)| c).collect())
    }
}

impl GraphSpace for Nb101Space {
    fn ops(&self) -> &OpVocab {
        self.dag.ops()
    }

    fn max_nodes(&self) -> usize {
        V
    }

    fn max_edges(&self) -> usize {
        NB101_MAX_EDGES
    }

    fn to_graph(&self, arch: &Nb101Cell) -> Result<ArchGraph, GraphError> {
        arch.to_graph()
    }
}

/// Every NAS-Bench-101 cell, one per module hash, with its hash.
///
/// This is the enumeration of google-research/nasbench's `generate_graphs.py`: for 2..=7
/// vertices, every upper-triangular matrix (bit `x + y(y-1)/2` for edge `x → y`) with at most 9
/// edges and no dangling vertex, times every labelling in `itertools.product` order; each hash
/// keeps the first cell that produced it. So the cells are the same representatives the
/// official generator (and our tables) keep, in the same order. The md5 work is spread over
/// all available cores; the result does not depend on their number.
pub fn enumerate_nb101() -> Vec<(ModuleHash, Nb101Cell)> {
    // Full DAGs in generator order.
    let mut shapes: Vec<(usize, [u8; V])> = Vec::new();
    for n in 2..=V {
        let m = n * (n - 1) / 2;
        for bits in 0u32..(1 << m) {
            if bits.count_ones() as usize > NB101_MAX_EDGES {
                continue;
            }
            let mut rows = [0u8; V];
            let mut has_in = 0u8;
            for y in 1..n {
                for x in 0..y {
                    if bits >> (x + y * (y - 1) / 2) & 1 == 1 {
                        rows[x] |= 1 << y;
                        has_in |= 1 << y;
                    }
                }
            }
            let full = (0..n - 1).all(|x| rows[x] != 0) && (1..n).all(|y| has_in >> y & 1 == 1);
            if full {
                shapes.push((n, rows));
            }
        }
    }

    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(shapes.len());
    let mut per_shape: Vec<Vec<ModuleHash>> = vec![Vec::new(); shapes.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let shapes = &shapes;
                scope.spawn(move || {
                    (t..shapes.len())
                        .step_by(threads)
                        .map(|s| (s, shape_hashes(shapes[s].0, &shapes[s].1)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A panicking worker would be a bug in this function, not bad input.
            for (s, hashes) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                per_shape[s] = hashes;
            }
        }
    });

    let mut seen = HashSet::with_capacity(NB101_NUM_CELLS);
    let mut cells = Vec::with_capacity(NB101_NUM_CELLS);
    for ((n, rows), hashes) in shapes.iter().zip(per_shape) {
        for (l, hash) in hashes.into_iter().enumerate() {
            if seen.insert(hash) {
                cells.push((
                    hash,
                    Nb101Cell {
                        n: *n as u8,
                        rows: *rows,
                        ops: labelling(*n, l),
                    },
                ));
            }
        }
    }
    cells
}

/// The `l`-th labelling of the `n - 2` intermediate vertices in `itertools.product` order
/// (the last vertex varies fastest).
fn labelling(n: usize, mut l: usize) -> [u8; V] {
    let mut ops = [0u8; V];
    for v in (1..n - 1).rev() {
        ops[v] = (l % 3) as u8;
        l /= 3;
    }
    ops
}

/// Predecessor and successor lists of the first `n` vertices of row-bitmask adjacency.
fn neighbour_lists(n: usize, rows: &[u8; V]) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            if rows[i] >> j & 1 == 1 {
                succs[i].push(j);
                preds[j].push(i);
            }
        }
    }
    (preds, succs)
}

/// Hashes of every labelling of one shape, in labelling order.
fn shape_hashes(n: usize, rows: &[u8; V]) -> Vec<ModuleHash> {
    let (preds, succs) = neighbour_lists(n, rows);
    let count = 3usize.pow((n - 2) as u32);
    let mut labels = vec![0i64; n];
    labels[0] = -1;
    labels[n - 1] = -2;
    (0..count)
        .map(|l| {
            let ops = labelling(n, l);
            for v in 1..n - 1 {
                labels[v] = i64::from(ops[v]);
            }
            module_hash_raw(&labels, &preds, &succs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_serde_forms_are_refused() {
        for bad in [
            // Op id 7 does not exist, and vertex 1 has edges to vertex 2 only... off the path.
            r#"{"n":3,"rows":[2,4,0,0,0,0,0],"ops":[0,7,0,0,0,0,0]}"#,
            r#"{"n":9,"rows":[0,0,0,0,0,0,0],"ops":[0,0,0,0,0,0,0]}"#,
            r#"{"n":1,"rows":[0,0,0,0,0,0,0],"ops":[0,0,0,0,0,0,0]}"#,
            // A backward edge 2 → 1.
            r#"{"n":3,"rows":[6,4,2,0,0,0,0],"ops":[0,0,0,0,0,0,0]}"#,
            // An edge past the output.
            r#"{"n":3,"rows":[6,12,0,0,0,0,0],"ops":[0,0,0,0,0,0,0]}"#,
            // A vertex off every input→output path (no edge into vertex 1).
            r#"{"n":3,"rows":[4,4,0,0,0,0,0],"ops":[0,0,0,0,0,0,0]}"#,
            // An op on the output slot.
            r#"{"n":3,"rows":[6,4,0,0,0,0,0],"ops":[0,0,1,0,0,0,0]}"#,
            // Text forms: too few bits, an unknown op, vertex 1 unreachable (it would be
            // pruned, so the text would not read back as the cell), no separator.
            r#""11:input|maxpool3x3|output""#,
            r#""111:input|maxpool5x5|output""#,
            r#""011:input|maxpool3x3|output""#,
            r#""111 input|maxpool3x3|output""#,
        ] {
            assert!(serde_json::from_str::<Nb101Cell>(bad).is_err(), "{bad}");
        }
        // The field form of format-1 journals reads; a cell is written as its text form.
        let fields = r#"{"n":3,"rows":[6,4,0,0,0,0,0],"ops":[0,2,0,0,0,0,0]}"#;
        let cell: Nb101Cell = serde_json::from_str(fields).unwrap();
        assert_eq!(
            serde_json::to_string(&cell).unwrap(),
            r#""111:input|maxpool3x3|output""#
        );
        assert_eq!(cell.op_names(), ["input", "maxpool3x3", "output"]);
        // Every cell the space makes reads back as itself.
        let space = Nb101Space::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..500 {
            let c = space.sample(&mut rng);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Nb101Cell>(&json).unwrap(), c);
        }
    }

    proptest::proptest! {
        /// 512 cases of arbitrary raw fields: a typed error, or a cell that prints, hashes and
        /// round-trips.
        #[test]
        fn arbitrary_serde_forms_never_panic(
            n in 0u8..12,
            rows in proptest::array::uniform7(proptest::prelude::any::<u8>()),
            ops in proptest::array::uniform7(0u8..5),
        ) {
            let json = serde_json::json!({"n": n, "rows": rows, "ops": ops}).to_string();
            if let Ok(cell) = serde_json::from_str::<Nb101Cell>(&json) {
                let _ = format!("{cell:?}");
                let _ = cell.module_hash();
                let again = serde_json::to_string(&cell).unwrap();
                proptest::prop_assert_eq!(serde_json::from_str::<Nb101Cell>(&again).unwrap(), cell);
                proptest::prop_assert_eq!(again, serde_json::json!(cell.to_string()).to_string());
            }
        }

        /// Arbitrary text, and text shaped like a cell's: a typed error, or a cell whose text is
        /// the input.
        #[test]
        fn arbitrary_texts_never_panic(
            text in proptest::prop_oneof![
                ".*",
                "[01]{0,22}:(input|output|conv3x3-bn-relu|conv1x1-bn-relu|maxpool3x3|x)(\\|(input|output|conv3x3-bn-relu|conv1x1-bn-relu|maxpool3x3)){0,7}",
            ],
        ) {
            if let Ok(cell) = text.parse::<Nb101Cell>() {
                proptest::prop_assert_eq!(cell.to_string(), text);
                let _ = cell.module_hash();
            }
        }
    }
    use rand::SeedableRng;

    /// Two numberings of one cell: different texts, one canonical text.
    #[test]
    fn isomorphic_cells_share_their_canonical_text() {
        let a: Nb101Cell = "110011:input|conv3x3-bn-relu|conv1x1-bn-relu|output"
            .parse()
            .unwrap();
        let b: Nb101Cell = "110011:input|conv1x1-bn-relu|conv3x3-bn-relu|output"
            .parse()
            .unwrap();
        let space = Nb101Space::new();
        assert_ne!(space.arch_text(&a), space.arch_text(&b));
        assert_eq!(space.canonical_text(&a), space.canonical_text(&b));
        assert_eq!(space.canonical_text(&a), space.key_text(&space.key(&a)));
        let c: Nb101Cell = "110011:input|conv3x3-bn-relu|conv3x3-bn-relu|output"
            .parse()
            .unwrap();
        assert_ne!(space.canonical_text(&a), space.canonical_text(&c));
    }

    #[test]
    fn table_text_round_trips() {
        let adj = "100010100101000101101";
        let ops =
            "input|conv3x3-bn-relu|maxpool3x3|conv1x1-bn-relu|maxpool3x3|conv1x1-bn-relu|output";
        let c = Nb101Cell::from_table(7, adj, ops).unwrap();
        assert_eq!(c.adj_upper(), adj);
        assert_eq!(c.ops_string(), ops);
        assert_eq!(
            c.module_hash().to_string(),
            "0000cb5372fad9d62c470df699ac6d52"
        );
        assert_eq!(Nb101Cell::new(&c.matrix(), &c.op_names()).unwrap(), c);
    }

    #[test]
    fn bad_table_rows_are_errors() {
        let ops3 = "input|conv3x3-bn-relu|output";
        assert!(Nb101Cell::from_table(8, "1", ops3).is_err());
        assert!(Nb101Cell::from_table(3, "11", ops3).is_err());
        assert!(Nb101Cell::from_table(3, "1x1", ops3).is_err());
        assert!(Nb101Cell::from_table(3, "111", "input|conv9|output").is_err());
        assert!(Nb101Cell::from_table(3, "111", "conv3x3-bn-relu|input|output").is_err());
        assert!(Nb101Cell::from_table(3, "111", "input|output").is_err());
        assert_eq!(
            Nb101Cell::from_table(3, "100", ops3),
            Err(GraphError::Disconnected)
        );
        // Eleven edges on 7 vertices: the full first row plus the chain 1→2→…→6.
        let too_many = "111111100001000100101";
        assert!(matches!(
            Nb101Cell::from_table(
                7,
                too_many,
                "input|conv3x3-bn-relu|conv3x3-bn-relu|conv3x3-bn-relu|conv3x3-bn-relu|conv3x3-bn-relu|output"
            ),
            Err(GraphError::TooManyEdges { .. })
        ));
    }

    #[test]
    fn spec_errors() {
        let ops = ["input", "conv3x3-bn-relu", "output"];
        let lower = vec![vec![0, 1, 1], vec![1, 0, 1], vec![0, 0, 0]];
        assert!(Nb101Cell::new(&lower, &ops).is_err());
        let two = vec![vec![0, 2, 1], vec![0, 0, 1], vec![0, 0, 0]];
        assert!(Nb101Cell::new(&two, &ops).is_err());
        let ragged = vec![vec![0, 1, 1], vec![0, 0], vec![0, 0, 0]];
        assert!(Nb101Cell::new(&ragged, &ops).is_err());
        let big = vec![vec![0; 8]; 8];
        assert!(matches!(
            Nb101Cell::new(&big, &["x"; 8]),
            Err(GraphError::TooManyNodes { .. })
        ));
        assert!(Nb101Cell::new(&[vec![0]], &["input"]).is_err());
    }

    #[test]
    fn labelling_follows_itertools_product() {
        assert_eq!(&labelling(4, 0)[..4], &[0, 0, 0, 0]);
        assert_eq!(&labelling(4, 1)[..4], &[0, 0, 1, 0]);
        assert_eq!(&labelling(4, 3)[..4], &[0, 1, 0, 0]);
        assert_eq!(&labelling(4, 8)[..4], &[0, 2, 2, 0]);
    }

    #[test]
    fn sample_mutate_crossover_give_valid_cells() {
        let space = Nb101Space::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..100 {
            let a = space.sample(&mut rng);
            let b = space.mutate(&a, &mut rng);
            assert_ne!(a.module_hash(), b.module_hash());
            assert!(a.to_graph().is_ok() && b.to_graph().is_ok());
            if let Some(c) = space.crossover(&a, &b, &mut rng) {
                assert!(c.to_graph().is_ok());
                assert!(c.num_edges() <= NB101_MAX_EDGES);
            }
        }
        let bare = Nb101Cell::new(&[vec![0, 1], vec![0, 0]], &["input", "output"]).unwrap();
        assert_ne!(
            space.mutate(&bare, &mut rng).module_hash(),
            bare.module_hash()
        );
    }

    /// NAS-Bench-101's operators draw what they drew before they became `DagSpace`'s: lines of
    /// the stream (sample, its mutation, the mutation's key, a crossover with the previous
    /// mutation, whether the graph builds) recorded from the earlier implementation (4715054).
    #[test]
    fn the_operators_draw_the_stream_recorded_before_they_moved_to_the_dag_space() {
        let s = Nb101Space::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut prev = s.sample(&mut rng);
        let mut lines = Vec::new();
        for _ in 0..1000 {
            let a = s.sample(&mut rng);
            let m = s.mutate(&a, &mut rng);
            let c = s.crossover(&m, &prev, &mut rng);
            lines.push(format!(
                "{a} {m} {} {:?} {}",
                s.canonical_text(&m),
                c.map(|c| c.to_string()),
                s.to_graph(&m).is_ok()
            ));
            prev = m;
        }
        for (line, expected) in [
            (
                1,
                r#"101:input|maxpool3x3|output 111:input|conv3x3-bn-relu|output d32d0b26d534203b48d866facd98cc3e Some("1:input|output") true"#,
            ),
            (
                2,
                r#"1110010101:input|conv1x1-bn-relu|conv3x3-bn-relu|maxpool3x3|output 1110010101:input|conv1x1-bn-relu|conv1x1-bn-relu|maxpool3x3|output cd1d5ecee2acf20816616c6bcf708dac Some("101:input|conv1x1-bn-relu|output") true"#,
            ),
            (
                3,
                r#"110111:input|conv3x3-bn-relu|maxpool3x3|output 101:input|conv1x1-bn-relu|output d1269d9156ddc027c40473008192958a Some("101:input|conv1x1-bn-relu|output") true"#,
            ),
            (
                1000,
                r#"111:input|conv1x1-bn-relu|output 101:input|conv1x1-bn-relu|output d1269d9156ddc027c40473008192958a Some("111:input|conv1x1-bn-relu|output") true"#,
            ),
        ] {
            assert_eq!(lines[line - 1], expected, "line {line}");
        }
    }
}
