//! The benchmark tables that ship with the library.

use dcl_bench::{
    Nb101Epochs, Nb101Metric, Nb101Table, Nb201Column, Nb201Cost, Nb201Dataset, Nb201Metric,
    Nb201Table,
};
use pyo3::prelude::*;

use crate::errors::Error;
use crate::space::{AnyArch, PyArch};

fn nb201_cell(arch: &PyArch) -> Result<&dcl_graph::Nb201Cell, Error> {
    match &arch.arch {
        AnyArch::Nb201(c) => Ok(c),
        _ => Err(Error::value(format!(
            "{} is not a NAS-Bench-201 cell (space {:?})",
            arch.text(),
            arch.space.get().space.name()
        ))),
    }
}

fn dataset(name: &str) -> Result<Nb201Dataset, Error> {
    Nb201Dataset::from_name(name).ok_or_else(|| {
        Error::value(format!(
            "unknown NAS-Bench-201 dataset {name:?}: cifar10, cifar100 or imagenet16"
        ))
    })
}

fn column(name: &str) -> Result<Nb201Column, Error> {
    Nb201Column::from_name(name).ok_or_else(|| {
        Error::value(format!(
            "unknown NAS-Bench-201 column {name:?}: test200, valid12 or test12"
        ))
    })
}

/// The NAS-Bench-201 table: every cell's accuracy (percent, mean over the benchmark's
/// seeds) on three datasets and three columns, and each network's parameters and FLOPs.
///
/// `dataset` is `"cifar10"`, `"cifar100"` or `"imagenet16"`; `column` is `"test200"` (test
/// accuracy after 200 epochs, the usual target), `"valid12"` or `"test12"` (after 12 epochs).
#[pyclass(module = "dcl_enas", name = "Nb201Table", frozen)]
pub struct PyNb201Table {
    table: &'static Nb201Table,
}

#[pymethods]
impl PyNb201Table {
    /// The table that ships with the library (read once per process).
    #[new]
    fn new() -> PyResult<Self> {
        Ok(Self {
            table: Nb201Table::embedded().map_err(Error::from)?,
        })
    }

    /// The accuracy of `arch` (percent).
    #[pyo3(signature = (arch, dataset = "cifar10", column = "test200"))]
    fn accuracy(&self, arch: &PyArch, dataset: &str, column: &str) -> PyResult<f64> {
        let metric = Nb201Metric::new(self::dataset(dataset)?, self::column(column)?);
        Ok(self
            .table
            .accuracy(nb201_cell(arch)?, metric)
            .map_err(Error::from)?)
    }

    /// The rank of `arch` by that accuracy (1 = the best of the 15,625).
    #[pyo3(signature = (arch, dataset = "cifar10", column = "test200"))]
    fn rank(&self, arch: &PyArch, dataset: &str, column: &str) -> PyResult<usize> {
        let metric = Nb201Metric::new(self::dataset(dataset)?, self::column(column)?);
        Ok(self
            .table
            .rank(nb201_cell(arch)?, metric)
            .map_err(Error::from)?)
    }

    /// The benchmark's topology index of `arch` (0 to 15,624).
    fn index(&self, arch: &PyArch) -> PyResult<u32> {
        Ok(self
            .table
            .get(nb201_cell(arch)?)
            .map_err(Error::from)?
            .index)
    }

    /// The best accuracy in the table for that dataset and column.
    #[pyo3(signature = (dataset = "cifar10", column = "test200"))]
    fn best_accuracy(&self, dataset: &str, column: &str) -> PyResult<f64> {
        let metric = Nb201Metric::new(self::dataset(dataset)?, self::column(column)?);
        Ok(self.table.best(metric).accuracy(metric))
    }

    /// Trainable parameters of the network built from `arch` for `dataset`.
    #[pyo3(signature = (arch, dataset = "cifar10"))]
    fn params(&self, arch: &PyArch, dataset: &str) -> PyResult<u64> {
        Ok(Nb201Cost::of(nb201_cell(arch)?, self::dataset(dataset)?).params)
    }

    /// Multiply-accumulates of one forward pass of one image through that network.
    #[pyo3(signature = (arch, dataset = "cifar10"))]
    fn flops(&self, arch: &PyArch, dataset: &str) -> PyResult<u64> {
        Ok(Nb201Cost::of(nb201_cell(arch)?, self::dataset(dataset)?).flops)
    }

    fn __len__(&self) -> usize {
        self.table.len()
    }

    fn __repr__(&self) -> String {
        format!("Nb201Table({} cells)", self.table.len())
    }
}

fn nb101_metric(name: &str) -> Result<Nb101Metric, Error> {
    let epochs = |e: &str| match e {
        "4" => Some(Nb101Epochs::E4),
        "12" => Some(Nb101Epochs::E12),
        "36" => Some(Nb101Epochs::E36),
        "108" => Some(Nb101Epochs::E108),
        _ => None,
    };
    let metric = match name {
        "params" => Some(Nb101Metric::Params),
        _ => name.rsplit_once('_').and_then(|(kind, e)| {
            let e = epochs(e)?;
            match kind {
                "train_acc" => Some(Nb101Metric::TrainAcc(e)),
                "val_acc" => Some(Nb101Metric::ValAcc(e)),
                "test_acc" => Some(Nb101Metric::TestAcc(e)),
                "train_time" => Some(Nb101Metric::TrainTime(e)),
                _ => None,
            }
        }),
    };
    metric.ok_or_else(|| {
        Error::value(format!(
            "unknown NAS-Bench-101 column {name:?}: train_acc_E, val_acc_E, test_acc_E, \
             train_time_E (E = 4, 12, 36 or 108) or params"
        ))
    })
}

/// The NAS-Bench-101 table that ships with the library: 20,001 cells (the space `nb101()`
/// searches), with single-run accuracies in percent.
///
/// `column` is `"val_acc_108"` (the usual target), `"test_acc_108"`, `"train_acc_108"`,
/// `"train_time_108"` (seconds), the same at 4, 12 or 36 epochs where the table has them,
/// or `"params"`.
#[pyclass(module = "dcl_enas", name = "Nb101Table", frozen)]
pub struct PyNb101Table {
    table: &'static Nb101Table,
}

#[pymethods]
impl PyNb101Table {
    /// The table (read once per process).
    #[new]
    fn new() -> PyResult<Self> {
        Ok(Self {
            table: Nb101Table::subset20k().map_err(Error::from)?,
        })
    }

    /// The value of `column` for `arch`; `NotInTable` when the table has no row for it.
    #[pyo3(signature = (arch, column = "val_acc_108"))]
    fn value(&self, arch: &PyArch, column: &str) -> PyResult<f64> {
        let metric = nb101_metric(column)?;
        let AnyArch::Nb101(cell) = &arch.arch else {
            return Err(Error::value(format!(
                "{} is not a NAS-Bench-101 cell (space {:?})",
                arch.text(),
                arch.space.get().space.name()
            ))
            .into());
        };
        Ok(self.table.value(cell, metric).map_err(Error::from)?)
    }

    /// Whether the table has a row for `arch`.
    fn __contains__(&self, arch: &PyArch) -> bool {
        matches!(&arch.arch, AnyArch::Nb101(c) if self.table.contains(c))
    }

    fn __len__(&self) -> usize {
        self.table.len()
    }

    fn __repr__(&self) -> String {
        format!("Nb101Table({} cells)", self.table.len())
    }
}
