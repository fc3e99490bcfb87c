//! [`DagSpace`]: NAS-Bench-101-style spaces declared by their size and op names.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::cell::plain_name;
use crate::hash::module_hash_raw;
use crate::{
    ArchGraph, GraphError, GraphLimits, GraphSpace, ModuleHash, NodeOp, OpVocab, SearchSpace,
};

/// Most vertices a [`DagSpace`] allows, input and output included.
pub const DAG_MAX_NODES: usize = 16;
/// Most op names a [`DagSpace`] allows.
pub const DAG_MAX_OPS: usize = 64;

/// An architecture of a [`DagSpace`]: an upper-triangular DAG from vertex 0 (`input`) to the
/// last vertex (`output`), every vertex on an input→output path, each intermediate vertex
/// carrying an op name.
///
/// Its text form is NAS-Bench-101's `adj_upper:ops` (the upper triangle row-major, then the op
/// names joined by `|`), which reads back as the same architecture; isomorphic DAGs are the
/// same architecture of a space (compare [`DagSpace::key`]s).
///
/// ```
/// use dcl_graph::DagArch;
/// let dag: DagArch = "111:input|sep5|output".parse().unwrap();
/// assert_eq!(dag.num_vertices(), 3);
/// assert_eq!(dag.num_edges(), 3);
/// assert_eq!(dag.to_string(), "111:input|sep5|output");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DagArch {
    /// `rows[i]` has bit `j` set for an edge `i → j` (`j > i`).
    rows: Vec<u32>,
    /// One name per vertex, `input` first and `output` last.
    ops: Vec<String>,
}

impl DagArch {
    /// A DAG from its rows and op names, as the space's operators make them (pruned, names
    /// valid).
    pub(crate) fn from_parts(rows: Vec<u32>, ops: Vec<String>) -> Self {
        Self { rows, ops }
    }

    /// Number of vertices, input and output included.
    pub fn num_vertices(&self) -> usize {
        self.rows.len()
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.rows.iter().map(|r| r.count_ones() as usize).sum()
    }

    /// Whether there is an edge `i → j`.
    pub fn has_edge(&self, i: usize, j: usize) -> bool {
        j < 32 && self.rows.get(i).is_some_and(|r| r >> j & 1 == 1)
    }

    /// Op names per vertex, `input` first and `output` last.
    pub fn op_names(&self) -> &[String] {
        &self.ops
    }

    /// The upper triangle as `0`/`1` characters, row-major.
    pub fn adj_upper(&self) -> String {
        let n = self.num_vertices();
        let mut s = String::with_capacity(n * (n - 1) / 2);
        for i in 0..n {
            for j in i + 1..n {
                s.push(if self.has_edge(i, j) { '1' } else { '0' });
            }
        }
        s
    }
}

impl fmt::Display for DagArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.adj_upper(), self.ops.join("|"))
    }
}

impl fmt::Debug for DagArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DagArch({self})")
    }
}

impl FromStr for DagArch {
    type Err = GraphError;

    /// Parses exactly what [`Display`](fmt::Display) prints; a DAG with a vertex off every
    /// input→output path is refused, so a text always reads back as its architecture.
    fn from_str(s: &str) -> Result<Self, GraphError> {
        const WHAT: &str = "DAG text";
        let bad = |reason: String| GraphError::parse(WHAT, s, reason);
        let (adj, ops) = s
            .split_once(':')
            .ok_or_else(|| bad("expected adj_upper:ops".into()))?;
        let names: Vec<&str> = ops.split('|').collect();
        let n = names.len();
        if !(2..=DAG_MAX_NODES).contains(&n) {
            return Err(bad(format!("2 to {DAG_MAX_NODES} vertices, got {n}")));
        }
        if names[0] != "input" || names[n - 1] != "output" {
            return Err(bad("the first op must be input and the last output".into()));
        }
        if let Some(o) = names[1..n - 1]
            .iter()
            .find(|o| !plain_name(o) || matches!(**o, "input" | "output"))
        {
            return Err(bad(format!("op name {o:?}")));
        }
        let bits = adj.as_bytes();
        if bits.len() != n * (n - 1) / 2 {
            return Err(bad(format!(
                "expected {} adjacency bits for {n} vertices",
                n * (n - 1) / 2
            )));
        }
        let mut rows = vec![0u32; n];
        let mut k = 0;
        for (i, row) in rows.iter_mut().enumerate() {
            for j in i + 1..n {
                match bits[k] {
                    b'0' => {}
                    b'1' => *row |= 1 << j,
                    _ => return Err(bad("adjacency bits must be 0 or 1".into())),
                }
                k += 1;
            }
        }
        // Pruning must change nothing: the text names only vertices on input→output paths.
        let pruned = prune(n, &rows, &vec![0; n])?;
        if pruned.rows != rows {
            return Err(bad("a vertex is off every input→output path".into()));
        }
        Ok(DagArch {
            rows,
            ops: names.into_iter().map(str::to_owned).collect(),
        })
    }
}

impl From<DagArch> for String {
    fn from(dag: DagArch) -> String {
        dag.to_string()
    }
}

impl TryFrom<String> for DagArch {
    type Error = GraphError;
    fn try_from(text: String) -> Result<Self, GraphError> {
        text.parse()
    }
}

/// A DAG as op ids: what sampling, mutation and crossover work on.
pub(crate) struct Ids {
    pub(crate) rows: Vec<u32>,
    /// Op id per vertex (the input's and the output's are 0).
    pub(crate) ops: Vec<u8>,
}

impl Ids {
    pub(crate) fn num_edges(&self) -> usize {
        self.rows.iter().map(|r| r.count_ones() as usize).sum()
    }
}

/// The module hash of the DAG with row bitmasks `rows` and op ids `ops` (input and output
/// labelled -1 and -2, as NAS-Bench-101 does).
pub(crate) fn hash_of(rows: &[u32], ops: &[u8]) -> ModuleHash {
    let n = rows.len();
    let labels: Vec<i64> = (0..n)
        .map(|v| match v {
            0 => -1,
            _ if v == n - 1 => -2,
            _ => i64::from(ops[v]),
        })
        .collect();
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for (i, row) in rows.iter().enumerate() {
        for j in i + 1..n {
            if row >> j & 1 == 1 {
                succs[i].push(j);
                preds[j].push(i);
            }
        }
    }
    module_hash_raw(&labels, &preds, &succs)
}

/// The DAG with row bitmasks `rows` and op ids `ops` as a validated graph.
pub(crate) fn graph_of(
    rows: &[u32],
    ops: &[u8],
    limits: GraphLimits,
) -> Result<ArchGraph, GraphError> {
    let n = rows.len();
    let nodes = (0..n)
        .map(|v| match v {
            0 => NodeOp::Input,
            _ if v == n - 1 => NodeOp::Output,
            _ => NodeOp::Op(usize::from(ops[v])),
        })
        .collect();
    let edges: Vec<_> = (0..n)
        .flat_map(|i| {
            (i + 1..n)
                .filter(move |&j| rows[i] >> j & 1 == 1)
                .map(move |j| (i, j))
        })
        .collect();
    ArchGraph::new(nodes, &edges, limits)
}

/// Keeps the vertices of the first `n` that lie on an input→output path (renumbered in order),
/// with their ops; the input's and the output's ops become 0.
pub(crate) fn prune(n: usize, rows: &[u32], ops: &[u8]) -> Result<Ids, GraphError> {
    let mut fwd = 1u32;
    for (i, &row) in rows.iter().enumerate().take(n) {
        if fwd >> i & 1 == 1 {
            fwd |= row;
        }
    }
    let mut bwd = 1u32 << (n - 1);
    for i in (0..n).rev() {
        if rows[i] & bwd != 0 {
            bwd |= 1 << i;
        }
    }
    let keep = fwd & bwd & ((1u64 << n) - 1) as u32;
    if keep & 1 == 0 || keep >> (n - 1) & 1 == 0 {
        return Err(GraphError::Disconnected);
    }
    let mut new_id = vec![usize::MAX; n];
    let mut m = 0;
    for (v, id) in new_id.iter_mut().enumerate() {
        if keep >> v & 1 == 1 {
            *id = m;
            m += 1;
        }
    }
    let mut out = Ids {
        rows: vec![0; m],
        ops: vec![0; m],
    };
    for i in 0..n {
        if keep >> i & 1 == 0 {
            continue;
        }
        if new_id[i] != 0 && new_id[i] != m - 1 {
            out.ops[new_id[i]] = ops[i];
        }
        for j in i + 1..n {
            if rows[i] >> j & 1 == 1 && keep >> j & 1 == 1 {
                out.rows[new_id[i]] |= 1 << new_id[j];
            }
        }
    }
    Ok(out)
}

/// A space of NAS-Bench-101-style cells declared by its size and op names: DAGs of at most
/// `max_nodes` vertices (input and output included) and `max_edges` edges, each intermediate
/// vertex carrying one of the ops. Sampling, mutation and crossover are NAS-Bench-101's (see
/// [`Nb101Space`](crate::Nb101Space)) with these sizes; keys are module hashes, so isomorphic
/// DAGs are one architecture. [`DagSpace::nb101`] is NAS-Bench-101's space, draw for draw.
///
/// ```
/// use dcl_graph::{DagSpace, GraphSpace, SearchSpace};
/// use rand::SeedableRng;
/// let space = DagSpace::new("mine", 5, 6, ["conv3", "sep5", "maxpool"]).unwrap();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let dag = space.sample(&mut rng);
/// assert!(dag.num_vertices() <= 5 && dag.num_edges() <= 6);
/// let text = space.arch_text(&dag);
/// assert_eq!(text.parse::<dcl_graph::DagArch>().unwrap(), dag);
/// assert!(space.to_graph(&dag).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct DagSpace {
    name: String,
    max_nodes: usize,
    max_edges: usize,
    vocab: OpVocab,
}

/// How often sampling, mutation and crossover redraw before giving up on a candidate.
const MAX_TRIES: usize = 10_000;

impl DagSpace {
    /// The space called `name` of DAGs with at most `max_nodes` vertices (3 to
    /// [`DAG_MAX_NODES`]) and `max_edges` edges (at least 1), their intermediate vertices
    /// carrying the ops `ops` (1 to [`DAG_MAX_OPS`] distinct plain names, none of them
    /// `input` or `output`).
    pub fn new<I, O>(
        name: &str,
        max_nodes: usize,
        max_edges: usize,
        ops: I,
    ) -> Result<Self, GraphError>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let ops: Vec<String> = ops.into_iter().map(|o| o.as_ref().to_owned()).collect();
        let bad = |reason: String| GraphError::parse("DAG space", name, reason);
        if name.is_empty() {
            return Err(bad("a space needs a name".into()));
        }
        if !(3..=DAG_MAX_NODES).contains(&max_nodes) {
            return Err(bad(format!(
                "nodes must be in 3..={DAG_MAX_NODES}, got {max_nodes}"
            )));
        }
        let most = max_nodes * (max_nodes - 1) / 2;
        if !(1..=most).contains(&max_edges) {
            return Err(bad(format!(
                "max_edges must be in 1..={most} for {max_nodes} nodes, got {max_edges}"
            )));
        }
        if ops.is_empty() || ops.len() > DAG_MAX_OPS {
            return Err(bad(format!(
                "a space needs 1 to {DAG_MAX_OPS} ops, got {}",
                ops.len()
            )));
        }
        if let Some(o) = ops
            .iter()
            .find(|o| !plain_name(o) || matches!(o.as_str(), "input" | "output"))
        {
            return Err(bad(format!(
                "op name {o:?}: a non-empty word without '|', '~', '+' or spaces, not input \
                 or output"
            )));
        }
        let vocab = OpVocab::new(ops.iter().map(String::as_str))?;
        Ok(Self {
            name: name.to_owned(),
            max_nodes,
            max_edges,
            vocab,
        })
    }

    /// NAS-Bench-101's space as a [`DagSpace`]: 7 vertices, 9 edges, its three ops.
    pub fn nb101() -> Self {
        let ops = crate::Nb101Op::ALL.map(crate::Nb101Op::name);
        Self::new(
            "nb101",
            crate::NB101_MAX_VERTICES,
            crate::NB101_MAX_EDGES,
            ops,
        )
        .unwrap_or_else(|_| unreachable!("NB101's space is valid"))
    }

    fn k(&self) -> u8 {
        // At most DAG_MAX_OPS (64) ops.
        self.vocab.len() as u8
    }

    /// The architecture of `ids`, if it is within the edge limit.
    fn arch(&self, ids: Ids) -> Result<DagArch, GraphError> {
        let edges = ids.num_edges();
        if edges > self.max_edges {
            return Err(GraphError::TooManyEdges {
                found: edges,
                max: self.max_edges,
            });
        }
        let n = ids.rows.len();
        let ops = (0..n)
            .map(|v| match v {
                0 => "input".to_owned(),
                _ if v == n - 1 => "output".to_owned(),
                _ => self
                    .vocab
                    .name(ids.ops[v] as usize)
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect();
        Ok(DagArch {
            rows: ids.rows,
            ops,
        })
    }

    /// `dag`'s op ids in this space (an unknown name reads as op 0).
    fn ids(&self, dag: &DagArch) -> Vec<u8> {
        let n = dag.num_vertices();
        (0..n)
            .map(|v| {
                if v == 0 || v == n - 1 {
                    0
                } else {
                    self.vocab.index_of(&dag.ops[v]).unwrap_or(0) as u8
                }
            })
            .collect()
    }

    /// `dag` spread over `max_nodes` vertices (extra vertices isolated, with the given ops),
    /// output last: the form in which mutation and crossover work.
    fn padded(&self, dag: &DagArch, filler: Vec<u8>) -> (Vec<u32>, Vec<u8>) {
        let v_max = self.max_nodes;
        let n = dag.num_vertices();
        let ids = self.ids(dag);
        let mut rows = vec![0u32; v_max];
        let mut ops = filler;
        let remap = |j: usize| if j == n - 1 { v_max - 1 } else { j };
        for i in 0..n - 1 {
            for j in i + 1..n {
                if dag.has_edge(i, j) {
                    rows[i] |= 1 << remap(j);
                }
            }
            ops[i] = ids[i];
        }
        ops[0] = 0;
        ops[v_max - 1] = 0;
        (rows, ops)
    }

    /// input → op → output.
    fn chain(&self, op: u8) -> DagArch {
        DagArch {
            rows: vec![0b10, 0b100, 0],
            ops: vec![
                "input".into(),
                self.vocab
                    .name(usize::from(op % self.k()))
                    .unwrap_or_default()
                    .into(),
                "output".into(),
            ],
        }
    }

    /// Whether `dag` is an architecture of this space: its size, edges and op names.
    pub fn check(&self, dag: &DagArch) -> Result<(), GraphError> {
        if dag.num_vertices() > self.max_nodes {
            return Err(GraphError::TooManyNodes {
                found: dag.num_vertices(),
                max: self.max_nodes,
            });
        }
        if dag.num_edges() > self.max_edges {
            return Err(GraphError::TooManyEdges {
                found: dag.num_edges(),
                max: self.max_edges,
            });
        }
        let n = dag.num_vertices();
        match dag.ops[1..n - 1]
            .iter()
            .find(|o| self.vocab.index_of(o).is_none())
        {
            Some(o) => Err(GraphError::UnknownOpName(o.clone())),
            None => Ok(()),
        }
    }
}

impl SearchSpace for DagSpace {
    type Arch = DagArch;
    type Key = ModuleHash;

    fn name(&self) -> &str {
        &self.name
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> DagArch {
        let v_max = self.max_nodes;
        for _ in 0..MAX_TRIES {
            let mut rows = vec![0u32; v_max];
            for (i, row) in rows.iter_mut().enumerate() {
                for j in i + 1..v_max {
                    if rng.random_bool(0.5) {
                        *row |= 1 << j;
                    }
                }
            }
            let ops: Vec<u8> = (0..v_max).map(|_| rng.random_range(0..self.k())).collect();
            if let Ok(dag) = prune(v_max, &rows, &ops).and_then(|ids| self.arch(ids)) {
                return dag;
            }
        }
        self.chain(rng.random_range(0..self.k()))
    }

    fn mutate<R: Rng + ?Sized>(&self, arch: &DagArch, rng: &mut R) -> DagArch {
        let v_max = self.max_nodes;
        let k = self.k();
        let parent = self.key(arch);
        for _ in 0..MAX_TRIES {
            let filler = (0..v_max).map(|_| rng.random_range(0..k)).collect();
            let (mut rows, mut ops) = self.padded(arch, filler);
            for (i, row) in rows.iter_mut().enumerate() {
                for j in i + 1..v_max {
                    if rng.random_bool(1.0 / v_max as f64) {
                        *row ^= 1 << j;
                    }
                }
            }
            for op in ops.iter_mut().take(v_max - 1).skip(1) {
                if rng.random_bool(1.0 / (v_max - 2) as f64) && k > 1 {
                    *op = (*op + rng.random_range(1..k)) % k;
                }
            }
            if let Ok(child) = prune(v_max, &rows, &ops).and_then(|ids| self.arch(ids))
                && self.key(&child) != parent
            {
                return child;
            }
        }
        // Changing the op of one vertex always changes the hash; a bare input→output DAG
        // grows a vertex instead.
        let n = arch.num_vertices();
        if n > 2 && k > 1 {
            let mut ids = self.ids(arch);
            let v = rng.random_range(1..n - 1);
            ids[v] = (ids[v] + rng.random_range(1..k)) % k;
            let ids = Ids {
                rows: arch.rows.clone(),
                ops: ids,
            };
            self.arch(ids).unwrap_or_else(|_| arch.clone())
        } else {
            self.chain(rng.random_range(0..k))
        }
    }

    fn crossover<R: Rng + ?Sized>(&self, a: &DagArch, b: &DagArch, rng: &mut R) -> Option<DagArch> {
        let v_max = self.max_nodes;
        let (ra, oa) = self.padded(a, vec![0; v_max]);
        let (rb, ob) = self.padded(b, vec![0; v_max]);
        for _ in 0..100 {
            let mut rows = vec![0u32; v_max];
            for (i, row) in rows.iter_mut().enumerate() {
                for j in i + 1..v_max {
                    let src = if rng.random_bool(0.5) { ra[i] } else { rb[i] };
                    *row |= src & (1 << j);
                }
            }
            let ops: Vec<u8> = (0..v_max)
                .map(|v| if rng.random_bool(0.5) { oa[v] } else { ob[v] })
                .collect();
            if let Ok(child) = prune(v_max, &rows, &ops).and_then(|ids| self.arch(ids)) {
                return Some(child);
            }
        }
        None
    }

    /// The module hash (NAS-Bench-101's): isomorphic DAGs share it.
    fn key(&self, arch: &DagArch) -> ModuleHash {
        hash_of(&arch.rows, &self.ids(arch))
    }

    /// The `adj_upper:ops` text.
    fn arch_text(&self, arch: &DagArch) -> String {
        arch.to_string()
    }

    /// The module hash in hex.
    fn key_text(&self, key: &ModuleHash) -> String {
        key.to_string()
    }
}

impl GraphSpace for DagSpace {
    fn ops(&self) -> &OpVocab {
        &self.vocab
    }

    fn max_nodes(&self) -> usize {
        self.max_nodes
    }

    fn max_edges(&self) -> usize {
        self.max_edges
    }

    fn to_graph(&self, arch: &DagArch) -> Result<ArchGraph, GraphError> {
        self.check(arch)?;
        let limits = GraphLimits {
            num_ops: self.vocab.len(),
            max_nodes: self.max_nodes,
            max_edges: self.max_edges,
        };
        graph_of(&arch.rows, &self.ids(arch), limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Nb101Cell, Nb101Space};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// `Nb101Space` runs on `DagSpace::nb101()`: what this pins is the conversion between the
    /// two forms (texts, keys, graphs, serde); the NAS-Bench-101 stream itself is pinned in
    /// nb101.rs against the earlier implementation.
    #[test]
    fn the_nb101_preset_is_nb101_draw_for_draw() {
        let (dag, nb101) = (DagSpace::nb101(), Nb101Space::new());
        let mut r1 = ChaCha8Rng::seed_from_u64(3);
        let mut r2 = ChaCha8Rng::seed_from_u64(3);
        let mut parents: Vec<(DagArch, Nb101Cell)> = Vec::new();
        for i in 0..600 {
            let (a, b) = (dag.sample(&mut r1), nb101.sample(&mut r2));
            assert_eq!(dag.arch_text(&a), nb101.arch_text(&b), "draw {i}");
            assert_eq!(dag.canonical_text(&a), nb101.canonical_text(&b));
            assert_eq!(dag.to_graph(&a).unwrap(), nb101.to_graph(&b).unwrap());
            let (ma, mb) = (dag.mutate(&a, &mut r1), nb101.mutate(&b, &mut r2));
            assert_eq!(ma.to_string(), mb.to_string(), "mutation {i}");
            if let Some((pa, pb)) = parents.last() {
                let ca = dag.crossover(&ma, pa, &mut r1);
                let cb = nb101.crossover(&mb, pb, &mut r2);
                assert_eq!(ca.map(|c| c.to_string()), cb.map(|c| c.to_string()));
            }
            parents.push((ma, mb));
        }
        // Serde writes the same JSON (what journals hold), which reads back.
        let (a, b) = &parents[5];
        let json = serde_json::to_string(a).unwrap();
        assert_eq!(json, serde_json::to_string(b).unwrap());
        assert_eq!(&serde_json::from_str::<DagArch>(&json).unwrap(), a);
    }

    #[test]
    fn declared_spaces_keep_their_limits_and_refuse_bad_declarations_and_texts() {
        let space = DagSpace::new("s", 5, 4, ["a", "b"]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut keys = std::collections::HashSet::new();
        for _ in 0..300 {
            let d = space.sample(&mut rng);
            assert!(d.num_vertices() <= 5 && d.num_edges() <= 4, "{d}");
            let m = space.mutate(&d, &mut rng);
            assert_ne!(space.key(&m), space.key(&d));
            space.check(&m).unwrap();
            keys.insert(space.canonical_text(&d));
        }
        assert!(keys.len() > 20);
        // One op: mutation changes the shape only.
        let one = DagSpace::new("one", 4, 6, ["conv"]).unwrap();
        let d = one.sample(&mut rng);
        assert_ne!(one.key(&one.mutate(&d, &mut rng)), one.key(&d));
        for (nodes, edges, ops) in [
            (2, 1, vec!["a"]),
            (17, 9, vec!["a"]),
            (4, 0, vec!["a"]),
            (4, 7, vec!["a"]),
            (4, 3, vec![]),
            (4, 3, vec!["a b"]),
            (4, 3, vec!["input"]),
            (4, 3, vec!["a", "a"]),
        ] {
            assert!(
                DagSpace::new("x", nodes, edges, &ops).is_err(),
                "{nodes} {edges} {ops:?}"
            );
        }
        for text in [
            "1:input|output|x",
            "11:input|a|output",
            "100:input|a|output",
            "111:input|a b|output",
            "111:output|a|input",
            "121:input|a|output",
            "111",
        ] {
            assert!(text.parse::<DagArch>().is_err(), "{text}");
        }
        let foreign: DagArch = "111:input|zzz|output".parse().unwrap();
        assert!(matches!(
            space.check(&foreign),
            Err(GraphError::UnknownOpName(_))
        ));
        assert!(space.to_graph(&foreign).is_err());
    }
}
