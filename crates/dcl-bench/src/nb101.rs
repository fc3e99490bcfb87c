//! NAS-Bench-101 tables: the 20,001-cell subset (single-run validation accuracies) and 100
//! fully described cells (3-run means of train / validation / test accuracy).

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::OnceLock;

use dcl_graph::{ModuleHash, Nb101Cell};
use serde::{Deserialize, Serialize};

use crate::csvutil::{Row, for_each_row, read_maybe_gz, reader};
use crate::{BenchError, BenchmarkTable};

/// A NAS-Bench-101 training budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Nb101Epochs {
    /// 4 epochs.
    E4,
    /// 12 epochs.
    E12,
    /// 36 epochs.
    E36,
    /// 108 epochs (the full budget).
    E108,
}

impl Nb101Epochs {
    /// All four, shortest first.
    pub const ALL: [Nb101Epochs; 4] = [Self::E4, Self::E12, Self::E36, Self::E108];

    /// The number of epochs.
    pub fn epochs(self) -> u32 {
        match self {
            Self::E4 => 4,
            Self::E12 => 12,
            Self::E36 => 36,
            Self::E108 => 108,
        }
    }
}

/// A metric of a NAS-Bench-101 table. Accuracies in percent, times in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Nb101Metric {
    /// Final training accuracy.
    TrainAcc(Nb101Epochs),
    /// Final validation accuracy.
    ValAcc(Nb101Epochs),
    /// Final test accuracy.
    TestAcc(Nb101Epochs),
    /// Training time.
    TrainTime(Nb101Epochs),
    /// Trainable parameters.
    Params,
}

impl Nb101Metric {
    /// The usual search target: validation accuracy after 108 epochs.
    pub const VAL_108: Nb101Metric = Nb101Metric::ValAcc(Nb101Epochs::E108);

    fn slot(self) -> usize {
        let e = |e: Nb101Epochs| e as usize;
        match self {
            Self::TrainAcc(x) => e(x),
            Self::ValAcc(x) => 4 + e(x),
            Self::TestAcc(x) => 8 + e(x),
            Self::TrainTime(x) => 12 + e(x),
            Self::Params => 16,
        }
    }
}

impl fmt::Display for Nb101Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TrainAcc(e) => write!(f, "train_acc_{}", e.epochs()),
            Self::ValAcc(e) => write!(f, "val_acc_{}", e.epochs()),
            Self::TestAcc(e) => write!(f, "test_acc_{}", e.epochs()),
            Self::TrainTime(e) => write!(f, "train_time_{}_s", e.epochs()),
            Self::Params => f.write_str("params"),
        }
    }
}

const SLOTS: usize = 17;

/// One row of a NAS-Bench-101 table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nb101Record {
    /// The official module hash (the table's key).
    pub hash: ModuleHash,
    /// The cell, as stored (the canonical representative of its hash).
    pub cell: Nb101Cell,
    values: [Option<f64>; SLOTS],
}

impl Nb101Record {
    /// The value of `metric`, if this table has it.
    pub fn get(&self, metric: Nb101Metric) -> Option<f64> {
        self.values[metric.slot()]
    }
}

/// A NAS-Bench-101 table, indexed by module hash.
///
/// ```
/// use dcl_bench::{Nb101Metric, Nb101Table};
/// let table = Nb101Table::subset20k().unwrap();
/// assert_eq!(table.len(), 20_001);
/// let row = &table.records()[0];
/// // Look-ups go through the module hash, so any isomorphic cell finds the row.
/// let acc = table.value(&row.cell, Nb101Metric::VAL_108).unwrap();
/// assert!((acc - 93.0489).abs() < 1e-9);
/// // The 20k subset has no test accuracies.
/// assert!(table.value(&row.cell, Nb101Metric::TestAcc(dcl_bench::Nb101Epochs::E108)).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Nb101Table {
    name: &'static str,
    records: Vec<Nb101Record>,
    by_hash: HashMap<ModuleHash, u32>,
}

/// How many cells [`Nb101Table::subset20k`] holds.
pub const NB101_SUBSET_CELLS: usize = 20_001;

const SUBSET: &str = "nb101_subset20k.csv";
const CLUE: &str = "nb101_clue100.csv";

const SUBSET_HEADER: [&str; 11] = [
    "hash",
    "n_vertices",
    "n_edges",
    "adj_upper",
    "ops",
    "val_acc_4",
    "val_acc_12",
    "val_acc_36",
    "val_acc_108",
    "train_time_108_s",
    "params",
];

const CLUE_HEADER: [&str; 23] = [
    "hash",
    "clue_nas_id",
    "n_vertices",
    "n_edges",
    "adj_upper",
    "ops",
    "params",
    "train_acc_4",
    "val_acc_4",
    "test_acc_4",
    "train_time_4_s",
    "train_acc_12",
    "val_acc_12",
    "test_acc_12",
    "train_time_12_s",
    "train_acc_36",
    "val_acc_36",
    "test_acc_36",
    "train_time_36_s",
    "train_acc_108",
    "val_acc_108",
    "test_acc_108",
    "train_time_108_s",
];

static SUBSET_BYTES: &[u8] = include_bytes!("../data/nb101_subset20k.csv.gz");
static CLUE_BYTES: &[u8] = include_bytes!("../data/nb101_clue100.csv");

fn cached(
    cell: &'static OnceLock<Result<Nb101Table, String>>,
    name: &'static str,
    load: impl FnOnce() -> Result<Nb101Table, BenchError>,
) -> Result<&'static Nb101Table, BenchError> {
    cell.get_or_init(|| load().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| BenchError::Csv {
            table: name,
            message: e.clone(),
        })
}

impl Nb101Table {
    /// The embedded 20,001-cell subset (single-run validation accuracies at 4/12/36/108
    /// epochs, 108-epoch training time, parameters), parsed on first use.
    pub fn subset20k() -> Result<&'static Nb101Table, BenchError> {
        static T: OnceLock<Result<Nb101Table, String>> = OnceLock::new();
        cached(&T, SUBSET, || Self::subset_from_reader(SUBSET_BYTES))
    }

    /// The embedded 100 fully described cells (3-run means), parsed on first use.
    pub fn clue100() -> Result<&'static Nb101Table, BenchError> {
        static T: OnceLock<Result<Nb101Table, String>> = OnceLock::new();
        cached(&T, CLUE, || Self::clue_from_reader(CLUE_BYTES))
    }

    /// Parses a table in the format of `nb101_subset20k.csv(.gz)`.
    pub fn subset_from_reader(reader: impl Read) -> Result<Self, BenchError> {
        let data = read_maybe_gz(reader, SUBSET)?;
        Self::parse(&data, SUBSET, &SUBSET_HEADER, |row| {
            let mut v = [None; SLOTS];
            for (k, e) in Nb101Epochs::ALL.into_iter().enumerate() {
                v[Nb101Metric::ValAcc(e).slot()] = Some(row.percent(5 + k)?);
            }
            v[Nb101Metric::TrainTime(Nb101Epochs::E108).slot()] = Some(row.non_negative(9)?);
            v[Nb101Metric::Params.slot()] = Some(row.u64(10)? as f64);
            Ok((1, v))
        })
    }

    /// Parses a table in the format of `nb101_clue100.csv(.gz)`.
    pub fn clue_from_reader(reader: impl Read) -> Result<Self, BenchError> {
        let data = read_maybe_gz(reader, CLUE)?;
        Self::parse(&data, CLUE, &CLUE_HEADER, |row| {
            row.u64(1)?; // clue_nas_id: checked, not kept
            let mut v = [None; SLOTS];
            v[Nb101Metric::Params.slot()] = Some(row.u64(6)? as f64);
            for (k, e) in Nb101Epochs::ALL.into_iter().enumerate() {
                let c = 7 + 4 * k;
                v[Nb101Metric::TrainAcc(e).slot()] = Some(row.percent(c)?);
                v[Nb101Metric::ValAcc(e).slot()] = Some(row.percent(c + 1)?);
                v[Nb101Metric::TestAcc(e).slot()] = Some(row.percent(c + 2)?);
                v[Nb101Metric::TrainTime(e).slot()] = Some(row.non_negative(c + 3)?);
            }
            Ok((2, v))
        })
    }

    /// Shared row loop: `values` reads the metric columns and says where the cell columns
    /// (`n_vertices`, `n_edges`, `adj_upper`, `ops`) start.
    fn parse(
        data: &[u8],
        name: &'static str,
        header: &[&'static str],
        values: impl Fn(&Row<'_>) -> Result<(usize, [Option<f64>; SLOTS]), BenchError>,
    ) -> Result<Self, BenchError> {
        let mut rdr = reader(data, name, header)?;
        let mut records = Vec::new();
        let mut by_hash = HashMap::new();
        let mut lines = Vec::new();
        for_each_row(&mut rdr, name, header, |row| {
            let hash: ModuleHash = row.text(0).parse().map_err(|e| row.arch_err(e))?;
            let (c, values) = values(row)?;
            let n = row.u64(c)? as usize;
            let cell = Nb101Cell::from_table(n, row.text(c + 2), row.text(c + 3))
                .map_err(|e| row.arch_err(e))?;
            if cell.num_vertices() != n {
                return Err(row.mismatch(c, "the cell has vertices off every input→output path"));
            }
            if row.u64(c + 1)? as usize != cell.num_edges() {
                return Err(row.mismatch(c + 1, "n_edges disagrees with adj_upper"));
            }
            // A wrong hash would load, and then every look-up of the cell would miss.
            if cell.module_hash() != hash {
                return Err(row.mismatch(0, "the cell's module hash is another"));
            }
            if let Some(&first) = by_hash.get(&hash) {
                return Err(BenchError::Duplicate {
                    table: name,
                    line: row.line,
                    first_line: lines[first as usize],
                    key: hash.to_string(),
                });
            }
            by_hash.insert(hash, records.len() as u32);
            lines.push(row.line);
            records.push(Nb101Record { hash, cell, values });
            Ok(())
        })?;
        Ok(Self {
            name,
            records,
            by_hash,
        })
    }

    /// The table's name (its file name).
    pub fn name(&self) -> &'static str {
        self.name
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
    pub fn records(&self) -> &[Nb101Record] {
        &self.records
    }

    /// The row with module hash `hash`.
    pub fn get_by_hash(&self, hash: &ModuleHash) -> Result<&Nb101Record, BenchError> {
        self.by_hash
            .get(hash)
            .map(|&i| &self.records[i as usize])
            .ok_or_else(|| BenchError::NotInTable(hash.to_string()))
    }

    /// The row of `cell` (or of any cell isomorphic to it).
    pub fn get(&self, cell: &Nb101Cell) -> Result<&Nb101Record, BenchError> {
        self.get_by_hash(&cell.module_hash())
    }

    /// Whether the table holds `cell` (or a cell isomorphic to it).
    pub fn contains(&self, cell: &Nb101Cell) -> bool {
        self.by_hash.contains_key(&cell.module_hash())
    }

    /// The value of `metric` for `cell`.
    pub fn value(&self, cell: &Nb101Cell, metric: Nb101Metric) -> Result<f64, BenchError> {
        self.get(cell)?
            .get(metric)
            .ok_or_else(|| BenchError::MetricUnavailable {
                table: self.name,
                metric: metric.to_string(),
            })
    }
}

impl BenchmarkTable for Nb101Table {
    type Arch = Nb101Cell;
    type Metric = Nb101Metric;

    fn lookup(&self, arch: &Nb101Cell, metric: Nb101Metric) -> Result<f64, BenchError> {
        self.value(arch, metric)
    }

    fn num_rows(&self) -> usize {
        self.len()
    }
}
