//! # dcl-graph
//!
//! The graph vocabulary of dcl-enas: architecture DAGs, the [`SearchSpace`] trait, the
//! NAS-Bench-101 and NAS-Bench-201 spaces, the NB101 canonical hash, augmentations for
//! contrastive pre-training, and fixed-size encodings for a GNN. No deep-learning
//! dependency: everything here is plain Rust on top of petgraph.
//!
//! Data flows one way through the workspace: graph → encoding → predictor → evolution.
//! This crate is the first step.
//!
//! ```
//! use dcl_graph::{module_hash, EncodingShape, GraphBatch, Nb101Space, GraphSpace, SearchSpace};
//! use rand::SeedableRng;
//!
//! let space = Nb101Space::new();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
//! let parent = space.sample(&mut rng);
//! let child = space.mutate(&parent, &mut rng);
//! assert_ne!(space.key(&parent), space.key(&child));
//!
//! let graph = space.to_graph(&child).unwrap();
//! assert_eq!(module_hash(&graph), child.module_hash());
//!
//! let batch = GraphBatch::from_graphs(EncodingShape::of(&space), [&graph]).unwrap();
//! assert_eq!(batch.len(), 1);
//! ```
//!
//! ## Determinism
//!
//! Nothing here touches a global RNG: every random function takes the caller's RNG, so the
//! same seed gives the same result on every platform (use `rand_chacha`).
#![warn(missing_docs)]
// Adjacency-matrix code indexes several arrays by the same vertex; index loops say that best.
#![allow(clippy::needless_range_loop)]

pub mod augment;
mod cell;
mod dag;
mod encoding;
mod error;
mod eval;
mod graph;
mod hash;
pub mod io;
mod nb101;
mod nb201;
mod ops;
pub mod progress;
mod space;
mod subspace;

pub use cell::{CELL_ENUMERATE_LIMIT, CELL_MAX_NODES, CELL_MAX_OPS, CellArch, CellSpace};
pub use dag::{DAG_MAX_NODES, DAG_MAX_OPS, DagArch, DagSpace};
pub use encoding::{EncodingShape, GraphBatch};
pub use error::GraphError;
pub use eval::{Attempt, Evaluator, Failure, FailureKind, FnEvaluator, Objectives, Surrogate};
pub use graph::{ArchGraph, GraphLimits};
pub use hash::{ModuleHash, module_hash};
pub use nb101::{
    NB101_MAX_EDGES, NB101_MAX_VERTICES, NB101_NUM_CELLS, Nb101Cell, Nb101Op, Nb101Space,
    enumerate_nb101,
};
pub use nb201::{NB201_EDGES, NB201_NUM_CELLS, Nb201Cell, Nb201Op, Nb201Space};
pub use ops::{NodeOp, OpVocab};
pub use space::{GraphSpace, SearchSpace};
pub use subspace::Subspace;
