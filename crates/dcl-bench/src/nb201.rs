//! The NAS-Bench-201 table: all 15,625 cells.

use std::fmt;
use std::io::Read;
use std::sync::OnceLock;

use dcl_graph::{NB201_NUM_CELLS, Nb201Cell};
use serde::{Deserialize, Serialize};

use crate::csvutil::{for_each_row, read_maybe_gz};
use crate::{BenchError, BenchmarkTable};

const TABLE: &str = "nb201.csv";

const HEADER: [&str; 12] = [
    "index",
    "arch_str",
    "edge_ops",
    "cifar10_test_200",
    "cifar100_test_200",
    "imagenet16_test_200",
    "cifar10valid_valid_12",
    "cifar10_test_12",
    "cifar100_valid_12",
    "cifar100_test_12",
    "imagenet16_valid_12",
    "imagenet16_test_12",
];

/// A NAS-Bench-201 dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Nb201Dataset {
    /// CIFAR-10.
    Cifar10,
    /// CIFAR-100.
    Cifar100,
    /// ImageNet16-120.
    ImageNet16,
}

impl Nb201Dataset {
    /// All three.
    pub const ALL: [Nb201Dataset; 3] = [Self::Cifar10, Self::Cifar100, Self::ImageNet16];

    /// `cifar10`, `cifar100` or `imagenet16`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar10",
            Self::Cifar100 => "cifar100",
            Self::ImageNet16 => "imagenet16",
        }
    }

    /// The dataset named `name` (also accepts `imagenet16-120`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "cifar10" => Some(Self::Cifar10),
            "cifar100" => Some(Self::Cifar100),
            "imagenet16" | "imagenet16-120" | "ImageNet16-120" => Some(Self::ImageNet16),
            _ => None,
        }
    }
}

/// Which accuracy of a NAS-Bench-201 cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Nb201Column {
    /// Test accuracy after the full 200-epoch schedule (mean over seeds): the usual target.
    Test200,
    /// Validation accuracy after the 12-epoch schedule. For CIFAR-10 this is the
    /// `cifar10-valid` run (trained on the train split) on `x-valid`.
    Valid12,
    /// Test accuracy after the 12-epoch schedule.
    Test12,
}

impl Nb201Column {
    /// All three.
    pub const ALL: [Nb201Column; 3] = [Self::Test200, Self::Valid12, Self::Test12];

    /// `test200`, `valid12` or `test12`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Test200 => "test200",
            Self::Valid12 => "valid12",
            Self::Test12 => "test12",
        }
    }

    /// The column named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A metric of the NAS-Bench-201 table: a dataset and a column, all accuracies in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nb201Metric {
    /// The dataset.
    pub dataset: Nb201Dataset,
    /// The column.
    pub column: Nb201Column,
}

impl Nb201Metric {
    /// The metric for `dataset` and `column`.
    pub fn new(dataset: Nb201Dataset, column: Nb201Column) -> Self {
        Self { dataset, column }
    }

    /// Position in [`Nb201Record::accuracies`].
    fn slot(self) -> usize {
        let d = self.dataset as usize;
        match self.column {
            Nb201Column::Test200 => d,
            Nb201Column::Valid12 => 3 + 2 * d,
            Nb201Column::Test12 => 4 + 2 * d,
        }
    }
}

impl fmt::Display for Nb201Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.dataset.name(), self.column.name())
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nb201Record {
    /// The official NAS-Bench-201 / NATS-Bench topology index.
    pub index: u32,
    /// The cell.
    pub cell: Nb201Cell,
    /// The nine accuracy columns in file order (percent).
    pub accuracies: [f64; 9],
}

impl Nb201Record {
    /// The accuracy for `metric`, in percent.
    pub fn accuracy(&self, metric: Nb201Metric) -> f64 {
        self.accuracies[metric.slot()]
    }
}

/// The NAS-Bench-201 table, indexed by cell.
///
/// ```
/// use dcl_bench::{Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
/// let table = Nb201Table::embedded().unwrap();
/// assert_eq!(table.len(), 15_625);
/// let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
/// let best = table.best(metric);
/// assert_eq!(best.index, 6111);
/// assert!((best.accuracy(metric) - 94.373333).abs() < 1e-9);
/// assert_eq!(table.rank(&best.cell, metric).unwrap(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Nb201Table {
    records: Vec<Nb201Record>,
    /// Record position by cell ordinal.
    by_ordinal: Vec<Option<u32>>,
}

static EMBEDDED: &[u8] = include_bytes!("../data/nb201.csv.gz");

impl Nb201Table {
    /// The embedded table of all 15,625 cells, parsed on first use.
    pub fn embedded() -> Result<&'static Nb201Table, BenchError> {
        static TABLE_CELL: OnceLock<Result<Nb201Table, String>> = OnceLock::new();
        TABLE_CELL
            .get_or_init(|| Nb201Table::parse(EMBEDDED, None).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| BenchError::Csv {
                table: TABLE,
                message: e.clone(),
            })
    }

    /// Parses a table in the format of `nb201.csv(.gz)` (gzip detected by its magic bytes).
    /// Rows may be any subset of the space; each cell at most once. The `index` column is the
    /// official NAS-Bench-201 index, which the cell alone does not determine: every row's index
    /// is checked against the embedded table's index for that cell.
    pub fn from_reader(reader: impl Read) -> Result<Self, BenchError> {
        Self::parse(reader, Some(Self::embedded()?))
    }

    /// Parses a table; with `official`, every row's index must be that cell's index there.
    fn parse(reader: impl Read, official: Option<&Nb201Table>) -> Result<Self, BenchError> {
        let data = read_maybe_gz(reader, TABLE)?;
        let mut rdr = crate::csvutil::reader(&data, TABLE, &HEADER)?;
        let mut records = Vec::with_capacity(NB201_NUM_CELLS);
        let mut by_ordinal = vec![None; NB201_NUM_CELLS];
        let mut lines = vec![0u64; NB201_NUM_CELLS];
        let mut index_seen = std::collections::HashMap::new();
        for_each_row(&mut rdr, TABLE, &HEADER, |row| {
            let index = row.u64(0)?;
            let index = u32::try_from(index)
                .ok()
                .filter(|&i| (i as usize) < NB201_NUM_CELLS)
                .ok_or_else(|| row.mismatch(0, "index must be below 15625"))?;
            let cell: Nb201Cell = row.text(1).parse().map_err(|e| row.arch_err(e))?;
            let digits = Nb201Cell::from_digits(row.text(2)).map_err(|e| row.arch_err(e))?;
            if digits != cell {
                return Err(row.mismatch(2, "edge_ops disagrees with arch_str"));
            }
            let mut accuracies = [0.0; 9];
            for (k, a) in accuracies.iter_mut().enumerate() {
                *a = row.percent(3 + k)?;
            }
            if let Some(official) = official
                && official.get(&cell)?.index != index
            {
                return Err(row.mismatch(0, "NAS-Bench-201 gives this cell another index"));
            }
            let ord = cell.ordinal();
            if by_ordinal[ord].is_some() {
                return Err(BenchError::Duplicate {
                    table: TABLE,
                    line: row.line,
                    first_line: lines[ord],
                    key: cell.to_string(),
                });
            }
            if let Some(first_line) = index_seen.insert(index, row.line) {
                return Err(BenchError::Duplicate {
                    table: TABLE,
                    line: row.line,
                    first_line,
                    key: format!("index {index}"),
                });
            }
            by_ordinal[ord] = Some(records.len() as u32);
            lines[ord] = row.line;
            records.push(Nb201Record {
                index,
                cell,
                accuracies,
            });
            Ok(())
        })?;
        Ok(Self {
            records,
            by_ordinal,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Always false: a table has rows.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// All rows, in file order.
    pub fn records(&self) -> &[Nb201Record] {
        &self.records
    }

    /// The row of `cell`.
    pub fn get(&self, cell: &Nb201Cell) -> Result<&Nb201Record, BenchError> {
        self.by_ordinal[cell.ordinal()]
            .map(|i| &self.records[i as usize])
            .ok_or_else(|| BenchError::NotInTable(cell.to_string()))
    }

    /// The accuracy of `cell` for `metric` (percent).
    pub fn accuracy(&self, cell: &Nb201Cell, metric: Nb201Metric) -> Result<f64, BenchError> {
        Ok(self.get(cell)?.accuracy(metric))
    }

    /// The best row for `metric` (the first in file order on ties).
    pub fn best(&self, metric: Nb201Metric) -> &Nb201Record {
        let mut best = &self.records[0];
        for r in &self.records[1..] {
            if r.accuracy(metric) > best.accuracy(metric) {
                best = r;
            }
        }
        best
    }

    /// The 1-based rank of `cell` for `metric`: one plus the number of cells strictly better.
    pub fn rank(&self, cell: &Nb201Cell, metric: Nb201Metric) -> Result<usize, BenchError> {
        let acc = self.accuracy(cell, metric)?;
        Ok(1 + self
            .records
            .iter()
            .filter(|r| r.accuracy(metric) > acc)
            .count())
    }
}

impl BenchmarkTable for Nb201Table {
    type Arch = Nb201Cell;
    type Metric = Nb201Metric;

    fn lookup(&self, arch: &Nb201Cell, metric: Nb201Metric) -> Result<f64, BenchError> {
        self.accuracy(arch, metric)
    }

    fn num_rows(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_header() {
        for d in Nb201Dataset::ALL {
            for c in Nb201Column::ALL {
                let m = Nb201Metric::new(d, c);
                let col = HEADER[3 + m.slot()];
                assert!(col.starts_with(d.name()), "{m} -> {col}");
                let suffix = match c {
                    Nb201Column::Test200 => "_test_200",
                    Nb201Column::Valid12 => "_valid_12",
                    Nb201Column::Test12 => "_test_12",
                };
                assert!(col.ends_with(suffix), "{m} -> {col}");
                // CIFAR-10's test column is cifar10_test_*, not cifar100_test_*.
                assert_eq!(
                    col.starts_with("cifar100"),
                    d == Nb201Dataset::Cifar100,
                    "{m} -> {col}"
                );
            }
        }
    }
}
