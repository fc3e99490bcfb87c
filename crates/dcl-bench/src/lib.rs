//! # dcl-bench
//!
//! Real NAS benchmark tables, embedded in the crate so that no download is needed, serving
//! as true-fitness oracles for search:
//!
//! * [`Nb201Table`]: all 15,625 NAS-Bench-201 cells, 200-epoch test and 12-epoch
//!   validation/test accuracies on CIFAR-10, CIFAR-100 and ImageNet16-120.
//! * [`Nb101Table::subset20k`]: 20,001 NAS-Bench-101 cells with **single-run** validation
//!   accuracies at 4/12/36/108 epochs (noisier than the 3-run means papers use).
//! * [`Nb101Table::clue100`]: 100 NAS-Bench-101 cells with 3-run mean train/val/test accuracies.
//! * [`Nb201Cost`]: the exact parameter count and FLOPs of a NAS-Bench-201 network, computed
//!   from its cell (NB101's parameter count is a column of its table, [`Nb101Metric::Params`]).
//!
//! Tables are parsed once, lazily, on first use. Loaders for files of the same format return
//! typed [`BenchError`]s for truncated gzip, wrong headers, non-numeric or NaN values and
//! duplicate architectures. Sources, licenses and attribution: `data/README.md`.
//!
//! ```
//! use dcl_bench::{Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
//! let table = Nb201Table::embedded().unwrap();
//! let cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
//!     .parse()
//!     .unwrap();
//! let acc = table.accuracy(&cell, Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200)).unwrap();
//! assert!((acc - 94.373333).abs() < 1e-9);
//! ```
#![warn(missing_docs)]

mod csvutil;
mod error;
mod nb101;
mod nb201;
mod nb201_cost;
mod oracle;

pub use error::BenchError;
pub use nb101::{NB101_SUBSET_CELLS, Nb101Epochs, Nb101Metric, Nb101Record, Nb101Table};
pub use nb201::{Nb201Column, Nb201Dataset, Nb201Metric, Nb201Record, Nb201Table};
pub use nb201_cost::Nb201Cost;
pub use oracle::{BenchmarkTable, CountingOracle};
