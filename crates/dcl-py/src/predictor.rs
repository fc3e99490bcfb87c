//! The predictor alone: pre-train, fine-tune, score, save and load.

use std::path::PathBuf;
use std::sync::Mutex;

use dcl_cli::search::SearchConfig;
use dcl_predictor::{FinetuneConfig, ModelConfig, Predictor, PretrainConfig, TrainReport};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Error;
use crate::space::{AnySpace, PyArch, PySpace, archs_of, on_space};

/// The GNN ranker of DCL-ENAS on one space: stage 1 (`pretrain`, label-free contrastive
/// learning on architectures alone), stage 2 (`finetune` on architectures with their
/// accuracies, to rank), then `score` (higher = predicted better; only the order means
/// anything).
///
/// Training runs on the library's threads (`set_threads`) with the interpreter released;
/// Ctrl-C stops it at its next step and leaves the weights as they were.
#[pyclass(module = "dcl_enas", name = "Predictor", frozen)]
pub struct PyPredictor {
    space: Py<PySpace>,
    inner: Mutex<Predictor>,
}

fn report(py: Python<'_>, r: &TrainReport) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    d.set_item("steps", r.steps)?;
    d.set_item("first_loss", r.first_loss)?;
    d.set_item("final_loss", r.final_loss)?;
    d.set_item("seconds", r.seconds)?;
    Ok(d.unbind())
}

impl PyPredictor {
    /// The predictor; refused while another thread uses it (waiting would hold the
    /// interpreter that thread's work needs to report).
    fn predictor(&self) -> Result<std::sync::MutexGuard<'_, Predictor>, Error> {
        crate::runner::try_lock(&self.inner, "predictor")
    }

    /// A copy of the weights for a search on `space` whose refits draw from `seed`.
    pub fn fork_for(&self, space: &AnySpace, seed: u64) -> Result<Predictor, Error> {
        let p = self.predictor()?;
        if p.space_name() != space.name() {
            return Err(Error::value(format!(
                "the predictor is for space {:?}, not {:?}",
                p.space_name(),
                space.name()
            )));
        }
        Ok(p.fork(seed))
    }
}

#[pymethods]
impl PyPredictor {
    /// A predictor for `space` with weights drawn from `seed`; `model` sets its shape
    /// (`hidden` 64, `layers` 4, `projection` 32 by default).
    #[new]
    #[pyo3(signature = (space, seed = 0, model = None))]
    fn new(space: Py<PySpace>, seed: u64, model: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let model: ModelConfig = crate::settings::overlay(&ModelConfig::default(), model)?;
        let p = on_space!(&space.get().space, s => Predictor::new(s.as_ref(), model, seed))
            .map_err(Error::from)?;
        Ok(Self {
            space,
            inner: Mutex::new(p),
        })
    }

    /// Stage 1 on `archs` (by default what a DCL-ENAS search pre-trains on:
    /// `stage1_architectures(space)`). `settings` are laid over the search's stage 1 (2
    /// epochs, batch 256, ...): `epochs`, `batch_size`, `max_steps`, `learning_rate`,
    /// `temperature`, `op_substitution`, `edge_drop`, `node_mask`. Returns the report
    /// (`steps`, `first_loss`, `final_loss`, `seconds`).
    #[pyo3(signature = (archs = None, **settings))]
    fn pretrain(
        &self,
        py: Python<'_>,
        archs: Option<Vec<PyRef<'_, PyArch>>>,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyDict>> {
        let cfg: PretrainConfig =
            crate::settings::overlay(&SearchConfig::default().pretrain, settings)?;
        cfg.validate().map_err(Error::from)?;
        let space = &self.space.get().space;
        let mut p = self.predictor()?;
        let r = on_space!(space, s => {
            let archs = match &archs {
                Some(a) => archs_of(s.as_ref(), a, space)?,
                None => crate::search::stage1_set(s.as_ref(), dcl_cli::space::PRETRAIN_SAMPLE, 0)?.0,
            };
            let predictor = &mut *p;
            crate::runner::run(py, || predictor.pretrain(s.as_ref(), &archs, &cfg))?
        })
        .map_err(Error::from)?;
        report(py, &r)
    }

    /// Stage 2 on `archs` with their `accuracies` (the same length; finite numbers; higher
    /// is better). `settings` are laid over the search's refit (50 epochs, the pairwise
    /// ranking loss, ...): `epochs`, `batch_size`, `learning_rate`, `weight_decay`,
    /// `temperature`, `max_steps`, .... Returns the report.
    #[pyo3(signature = (archs, accuracies, **settings))]
    fn finetune(
        &self,
        py: Python<'_>,
        archs: Vec<PyRef<'_, PyArch>>,
        accuracies: Vec<f64>,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyDict>> {
        if archs.len() != accuracies.len() {
            return Err(Error::value(format!(
                "{} architectures but {} accuracies",
                archs.len(),
                accuracies.len()
            ))
            .into());
        }
        let cfg: FinetuneConfig =
            crate::settings::overlay(&FinetuneConfig::search_default(), settings)?;
        cfg.validate().map_err(Error::from)?;
        let space = &self.space.get().space;
        let mut p = self.predictor()?;
        let r = on_space!(space, s => {
            let labelled: Vec<_> = archs_of(s.as_ref(), &archs, space)?
                .into_iter()
                .zip(accuracies.iter().copied())
                .collect();
            let predictor = &mut *p;
            crate::runner::run(py, || predictor.finetune(s.as_ref(), &labelled, &cfg))?
        })
        .map_err(Error::from)?;
        report(py, &r)
    }

    /// The scores of `archs` as a NumPy array (float64, input order; higher = predicted
    /// better).
    fn score<'py>(
        &self,
        py: Python<'py>,
        archs: Vec<PyRef<'_, PyArch>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let space = &self.space.get().space;
        let p = self.predictor()?;
        let scores: Vec<f64> = on_space!(space, s => {
            let archs = archs_of(s.as_ref(), &archs, space)?;
            let predictor = &*p;
            crate::runner::run(py, || predictor.score(s.as_ref(), &archs))?
        })
        .map_err(Error::from)?
        .into_iter()
        .map(f64::from)
        .collect();
        py.import("numpy")?
            .call_method1("asarray", (scores, "float64"))
    }

    /// Saves the predictor to `path` (atomically: an interrupted save leaves the old file).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        Ok(self.predictor()?.save(&path).map_err(Error::from)?)
    }

    /// A predictor saved with `save`, for `space` (refused, with `InvalidValue`, when the
    /// file is for another space or shape, or is damaged).
    #[staticmethod]
    fn load(space: Py<PySpace>, path: PathBuf) -> PyResult<Self> {
        let p = on_space!(&space.get().space, s => Predictor::load(&path, s.as_ref(), Default::default()))
            .map_err(Error::from)?;
        Ok(Self {
            space,
            inner: Mutex::new(p),
        })
    }

    /// The space.
    #[getter]
    fn space(&self, py: Python<'_>) -> Py<PySpace> {
        self.space.clone_ref(py)
    }

    /// Trainable parameters.
    #[getter]
    fn num_params(&self) -> PyResult<usize> {
        Ok(self.predictor()?.num_params())
    }

    fn __repr__(&self) -> String {
        let Ok(p) = self.predictor() else {
            return "Predictor(busy)".into();
        };
        let m = p.model_config();
        format!(
            "Predictor(space={:?}, hidden={}, layers={}, projection={}, pretrainings={})",
            p.space_name(),
            m.hidden,
            m.layers,
            m.projection,
            p.lineage().pretraining.len()
        )
    }
}
