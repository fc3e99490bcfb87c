//! The NAS-Bench-101 module hash, usable on any [`ArchGraph`].
//!
//! The algorithm is `graph_util.hash_module` of google-research/nasbench, reproduced byte for
//! byte so that our hashes are the keys of the published NB101 tables: Weisfeiler–Lehman-style
//! refinement of md5 hex digests, `V` rounds, then the md5 of the sorted list. Isomorphic graphs
//! (same labels, nodes renumbered) always get the same hash, which makes it a canonical key.

use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::{ArchGraph, GraphError};

/// A 128-bit NAS-Bench-101 module hash; prints as the usual 32 lowercase hex digits.
///
/// ```
/// use dcl_graph::ModuleHash;
/// let h: ModuleHash = "00005c142e6f48ac74fdcf73e3439874".parse().unwrap();
/// assert_eq!(h.to_string(), "00005c142e6f48ac74fdcf73e3439874");
/// assert!("not a hash".parse::<ModuleHash>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ModuleHash(pub [u8; 16]);

impl fmt::Display for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = hex32(&self.0);
        // hex32 only writes ASCII hex digits.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModuleHash({self})")
    }
}

impl FromStr for ModuleHash {
    type Err = GraphError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 32 {
            return Err(GraphError::parse(
                "module hash",
                s,
                "expected 32 hex digits",
            ));
        }
        let mut out = [0u8; 16];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]);
            let lo = hex_val(pair[1]);
            match (hi, lo) {
                (Some(h), Some(l)) => out[i] = h << 4 | l,
                _ => return Err(GraphError::parse("module hash", s, "not a hex digit")),
            }
        }
        Ok(ModuleHash(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex32(d: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

fn md5_hex(data: &[u8]) -> [u8; 32] {
    let d: [u8; 16] = Md5::digest(data).into();
    hex32(&d)
}

/// The NAS-Bench-101 module hash of a graph.
///
/// ```
/// use dcl_graph::{module_hash, ArchGraph, GraphLimits, NodeOp};
/// let g = ArchGraph::new(
///     vec![NodeOp::Input, NodeOp::Op(0), NodeOp::Op(2), NodeOp::Output],
///     &[(0, 1), (0, 2), (1, 3), (2, 3)],
///     GraphLimits::new(3, 7),
/// ).unwrap();
/// // Swapping the two middle nodes gives the same hash.
/// let h = module_hash(&g);
/// assert_eq!(h, module_hash(&g.permuted(&[0, 2, 1, 3]).unwrap()));
/// ```
pub fn module_hash(graph: &ArchGraph) -> ModuleHash {
    let n = graph.num_nodes();
    let labels: Vec<i64> = graph.ops().iter().map(|o| o.hash_label()).collect();
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for (a, b) in graph.edges() {
        succs[a].push(b);
        preds[b].push(a);
    }
    module_hash_raw(&labels, &preds, &succs)
}

/// The hash from labels and adjacency lists; `preds[v]` / `succs[v]` list `v`'s neighbours.
pub(crate) fn module_hash_raw(
    labels: &[i64],
    preds: &[Vec<usize>],
    succs: &[Vec<usize>],
) -> ModuleHash {
    let n = labels.len();
    let mut hashes: Vec<[u8; 32]> = (0..n)
        .map(|v| {
            // Python's str((out_degree, in_degree, label)).
            let s = format!("({}, {}, {})", succs[v].len(), preds[v].len(), labels[v]);
            md5_hex(s.as_bytes())
        })
        .collect();
    let mut next = hashes.clone();
    let mut buf: Vec<u8> = Vec::with_capacity(32 * (2 * n + 1) + 2);
    let mut nbr: Vec<[u8; 32]> = Vec::with_capacity(n);
    for _ in 0..n {
        for v in 0..n {
            buf.clear();
            nbr.clear();
            nbr.extend(preds[v].iter().map(|&w| hashes[w]));
            nbr.sort_unstable();
            nbr.iter().for_each(|h| buf.extend_from_slice(h));
            buf.push(b'|');
            nbr.clear();
            nbr.extend(succs[v].iter().map(|&w| hashes[w]));
            nbr.sort_unstable();
            nbr.iter().for_each(|h| buf.extend_from_slice(h));
            buf.push(b'|');
            buf.extend_from_slice(&hashes[v]);
            next[v] = md5_hex(&buf);
        }
        std::mem::swap(&mut hashes, &mut next);
    }
    hashes.sort_unstable();
    // Python's str(sorted(hashes)): ['h1', 'h2', ...]
    buf.clear();
    buf.push(b'[');
    for (i, h) in hashes.iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(b", ");
        }
        buf.push(b'\'');
        buf.extend_from_slice(h);
        buf.push(b'\'');
    }
    buf.push(b']');
    ModuleHash(Md5::digest(&buf).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_known_digest() {
        // md5("") and md5("abc") from RFC 1321.
        assert_eq!(&md5_hex(b""), b"d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(&md5_hex(b"abc"), b"900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn hash_round_trips_through_text() {
        let h = ModuleHash([0xab; 16]);
        assert_eq!(h.to_string().parse::<ModuleHash>().unwrap(), h);
        assert!("zz".repeat(16).parse::<ModuleHash>().is_err());
    }
}
