//! The strategies in the ask/tell shape: `RandomSearch`, `RegularizedEvolution`, `DclEnas`,
//! each a `Search` (a [`dcl_evo::Session`]), optionally journalled in a locked run directory.

// One macro-expanded body serves every space, whose architectures are `Copy` for some and not
// for others.
#![allow(clippy::clone_on_copy)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use dcl_cli::search::SearchConfig;
use dcl_cli::space::{PRETRAIN_WHOLE_LIMIT, pretrain_set, sample_stage1};
use dcl_evo::{
    DclEnas, Driver, Failure, FailureKind, JOURNAL_FILE, Journal, JournalHeader, RandomSearch,
    RegularizedEvolution, RunLock, Session, Strategy,
};
use dcl_graph::SearchSpace;
use dcl_predictor::{Predictor, PredictorSurrogate};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::{Error, Kind};
use crate::predictor::PyPredictor;
use crate::space::{AnyArch, FrontSpace, Nb101Subset, PyArch, PySpace, arch_of, on_space, wrap_of};

/// A session on one of the spaces.
enum AnySession {
    Nb201(Session<'static, dcl_graph::Nb201Space>),
    Nb101(Session<'static, Nb101Subset>),
    Cell(Session<'static, dcl_graph::CellSpace>),
    Dag(Session<'static, dcl_graph::DagSpace>),
}

macro_rules! on_session {
    ($session:expr, $s:ident => $body:expr) => {
        match $session {
            AnySession::Nb201($s) => $body,
            AnySession::Nb101($s) => $body,
            AnySession::Cell($s) => $body,
            AnySession::Dag($s) => $body,
        }
    };
}

/// A space's session as an [`AnySession`].
trait IntoAny: FrontSpace + Sized
where
    Self::Arch: Serialize + DeserializeOwned,
{
    fn any(session: Session<'static, Self>) -> AnySession;
}

impl IntoAny for dcl_graph::Nb201Space {
    fn any(session: Session<'static, Self>) -> AnySession {
        AnySession::Nb201(session)
    }
}
impl IntoAny for Nb101Subset {
    fn any(session: Session<'static, Self>) -> AnySession {
        AnySession::Nb101(session)
    }
}
impl IntoAny for dcl_graph::CellSpace {
    fn any(session: Session<'static, Self>) -> AnySession {
        AnySession::Cell(session)
    }
}
impl IntoAny for dcl_graph::DagSpace {
    fn any(session: Session<'static, Self>) -> AnySession {
        AnySession::Dag(session)
    }
}

/// Which strategy, with its settings.
enum Plan {
    Random,
    Evolution(RegularizedEvolution),
    DclEnas {
        cfg: Box<SearchConfig>,
        predictor: Option<Box<Predictor>>,
    },
}

impl Plan {
    fn name(&self) -> &'static str {
        match self {
            Plan::Random => "random",
            Plan::Evolution(_) => "regularized-evolution",
            Plan::DclEnas { .. } => "dcl-enas",
        }
    }

    /// The header's strategy settings and the other settings that decide the asks.
    fn header(&self, space: &PySpace, seed: u64) -> JournalHeader {
        let driver = Driver {
            budget: 0,
            batch_size: 1,
            max_attempts: 1,
            count_failures: true,
        };
        let space_setting = serde_json::to_value(&space.setting).unwrap_or_default();
        let (config, settings) = match self {
            Plan::Random => (serde_json::Value::Null, serde_json::json!({})),
            Plan::Evolution(e) => (
                serde_json::to_value(e).unwrap_or_default(),
                serde_json::json!({}),
            ),
            Plan::DclEnas { cfg, predictor } => (
                serde_json::to_value(&cfg.dcl_enas).unwrap_or_default(),
                serde_json::json!({
                    "pretrain": cfg.pretrain,
                    "pretrain_sample": cfg.pretrain_sample,
                    "finetune": cfg.finetune,
                    "model": cfg.model,
                    "training_engine": cfg.training_engine.to_string(),
                    "predictor": predictor.as_ref().map(|p| p.lineage().clone()),
                }),
            ),
        };
        let mut settings = settings;
        settings["front"] = "python ask/tell".into();
        settings["space"] = space_setting;
        JournalHeader::new(self.name(), &config, &space.space.name(), seed, driver)
            .with_settings(&settings)
    }
}

/// Starts `plan` on `space` (pre-training the predictor for DCL-ENAS), opens or resumes the
/// journal, and replays it.
fn start<S: IntoAny>(
    space: &Arc<S>,
    plan: Plan,
    seed: u64,
    journal: Option<(Journal<S::Arch>, bool)>,
) -> Result<AnySession, Error>
where
    S::Arch: Serialize + DeserializeOwned,
{
    let rng = ChaCha8Rng::seed_from_u64(seed);
    let shared = || dcl_evo::SpaceRef::from(Arc::clone(space));
    let strategy: Box<dyn Strategy<S> + Send> = match plan {
        Plan::Random => Box::new(RandomSearch.start(shared(), rng)),
        Plan::Evolution(e) => Box::new(e.start(shared(), rng)?),
        Plan::DclEnas { cfg, predictor } => {
            let predictor = match predictor {
                Some(p) => p.fork(seed),
                None => pretrained(space.as_ref(), &cfg, seed)?,
            };
            let surrogate = PredictorSurrogate::new(predictor, cfg.finetune.clone(), seed);
            Box::new(DclEnas::new(cfg.dcl_enas.clone()).start(shared(), surrogate, rng)?)
        }
    };
    let session = match journal {
        Some((j, _)) => Session::with_journal(shared(), strategy, j)?,
        None => Session::new(shared(), strategy),
    };
    Ok(S::any(session))
}

/// Stage 1 as `dcl-enas search` runs it: on the table's cells in the table's order for the
/// presets, else on the whole space when it lists at most 20,000 architectures, else on a
/// sample of `pretrain_sample` for the steps the sample rule gives.
pub fn pretrained<S: FrontSpace>(
    space: &S,
    cfg: &SearchConfig,
    seed: u64,
) -> Result<Predictor, Error>
where
    S::Arch: Serialize + DeserializeOwned,
{
    let (archs, whole) = stage1_set(space, cfg.pretrain_sample, seed)?;
    let mut stage1 = cfg.pretrain.clone();
    if !whole {
        stage1 = sample_stage1(&stage1, archs.len());
    }
    let mut predictor: Predictor = Predictor::new(space, cfg.model, seed)?;
    predictor.set_training_engine(cfg.training_engine);
    let r = predictor.pretrain(space, &archs, &stage1)?;
    tracing::info!(
        "stage 1: {} steps on {} architectures, InfoNCE {:.3}, {:.1} s",
        r.steps,
        archs.len(),
        r.final_loss,
        r.seconds
    );
    Ok(predictor)
}

/// The architectures stage 1 pre-trains on, and whether they are the whole space.
pub fn stage1_set<S: FrontSpace>(
    space: &S,
    sample: usize,
    seed: u64,
) -> Result<(Vec<S::Arch>, bool), Error>
where
    S::Arch: Serialize + DeserializeOwned,
{
    // The presets: the table's cells in its order, as the program pre-trains.
    if space.name() == "nb201" {
        let table = dcl_bench::Nb201Table::embedded()?;
        let cells: Vec<AnyArch> = table
            .records()
            .iter()
            .map(|r| AnyArch::Nb201(r.cell))
            .collect();
        return Ok((
            cells.iter().filter_map(|a| S::unwrap(a).cloned()).collect(),
            true,
        ));
    }
    if space.name() == "nb101" {
        let table = dcl_bench::Nb101Table::subset20k()?;
        let cells: Vec<AnyArch> = table
            .records()
            .iter()
            .map(|r| AnyArch::Nb101(r.cell.clone()))
            .collect();
        return Ok((
            cells.iter().filter_map(|a| S::unwrap(a).cloned()).collect(),
            true,
        ));
    }
    let size = space.size().filter(|&n| n <= PRETRAIN_WHOLE_LIMIT);
    let set = pretrain_set(space, size, sample, seed);
    Ok((set.archs, set.whole))
}

/// What a search holds while open.
struct Open {
    session: AnySession,
    /// The run directory's lock, held while the search is open.
    _lock: Option<RunLock>,
}

/// A search in the ask/tell shape, as `RandomSearch`, `RegularizedEvolution` and `DclEnas`
/// build it: ask architectures, evaluate them however you like, tell their fitness (higher is
/// better) or their failure.
///
/// With `journal="DIR"` every outcome is written to `DIR/journal.jsonl` (the program's
/// journal format) before the strategy learns it, and the directory is locked while the
/// search is open (`close()`, or the end of a `with` block, releases it). Building the same
/// search on a directory that holds a journal replays it: the search comes back in the state
/// the journalled loop left it in and, given the same outcomes, asks what that loop would have
/// asked. A journal written with other settings, seed or space is refused, naming the first
/// difference.
#[pyclass(module = "dcl_enas", name = "Search", subclass, frozen)]
pub struct PySearch {
    space: Py<PySpace>,
    journal: Option<PathBuf>,
    open: Mutex<Option<Open>>,
}

impl PySearch {
    /// Builds the search (the work runs with the interpreter released).
    fn build(
        py: Python<'_>,
        space: Py<PySpace>,
        plan: Plan,
        seed: u64,
        journal: Option<PathBuf>,
    ) -> PyResult<Self> {
        let sp = space.get();
        let header = plan.header(sp, seed);
        let lock = match &journal {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::new(Kind::File, format!("{}: {e}", dir.display())))?;
                Some(RunLock::acquire(dir).map_err(Error::from)?)
            }
            None => None,
        };
        let any = sp.space.clone();
        let dir = journal.clone();
        let session = crate::runner::run(py, move || -> Result<AnySession, Error> {
            on_space!(&any, s => {
                let j = match &dir {
                    Some(d) => Some(open_journal(d, header, s.as_ref())?),
                    None => None,
                };
                start(s, plan, seed, j)
            })
        })??;
        if let Some(d) = &journal {
            tracing::info!("journal {}", d.display());
        }
        crate::logs::flush(py)?;
        Ok(Self {
            space,
            journal,
            open: Mutex::new(Some(Open {
                session,
                _lock: lock,
            })),
        })
    }

    fn open(&self) -> Result<MutexGuard<'_, Option<Open>>, Error> {
        let guard = crate::runner::try_lock(&self.open, "search")?;
        if guard.is_none() {
            return Err(Error::new(
                Kind::Base,
                "the search is closed (by close(), or by an interruption in the middle of an \
                 ask: build it again on its journal to go on)",
            ));
        }
        Ok(guard)
    }

    fn wrap(&self, py: Python<'_>, arch: AnyArch) -> PyArch {
        PySpace::arch(self.space.bind(py), arch)
    }

    fn tell_outcome(
        &self,
        arch: &PyArch,
        outcome: Result<f64, Failure>,
        seconds: f64,
    ) -> PyResult<()> {
        let mut guard = self.open()?;
        let open = guard.as_mut().expect("checked open");
        let space = &self.space.get().space;
        on_session!(&mut open.session, s => {
            let a = arch_of(s.space(), arch, space)?.clone();
            s.tell(&a, outcome, seconds).map_err(Error::from)?;
        });
        Ok(())
    }
}

/// Opens the journal in `dir`: resumes it when there is one, else creates it.
fn open_journal<S: SearchSpace>(
    dir: &Path,
    header: JournalHeader,
    space: &S,
) -> Result<(Journal<S::Arch>, bool), Error>
where
    S::Arch: Serialize + DeserializeOwned,
{
    if dir.join(JOURNAL_FILE).exists() {
        let j = Journal::resume(dir, header, space)?;
        tracing::info!(
            "{}: replaying {} journalled outcomes",
            dir.display(),
            j.records().len()
        );
        Ok((j, true))
    } else {
        Ok((Journal::create(dir, header)?, false))
    }
}

#[pymethods]
impl PySearch {
    /// Up to `n` architectures never asked before. Fewer, or none, come back when the
    /// strategy must first be told outcomes (DCL-ENAS at the end of a round: tell what is
    /// pending, then ask again), or when the space is used up (`finished`). Ctrl-C during a
    /// DCL-ENAS refit raises `KeyboardInterrupt` and closes the search (build it again on its
    /// journal to go on).
    #[pyo3(signature = (n = 1))]
    fn ask(&self, py: Python<'_>, n: usize) -> PyResult<Vec<PyArch>> {
        let mut guard = self.open()?;
        let open = guard.as_mut().expect("checked open");
        let session = &mut open.session;
        let asked = crate::runner::run(py, || -> Result<Vec<AnyArch>, Error> {
            on_session!(session, s => Ok(s.ask(n)?.into_iter().map(|a| wrap_of(s.space(), a)).collect()))
        });
        let archs = match asked {
            Ok(archs) => archs?,
            Err(interrupted) => {
                // Stopped mid-refit, the strategy may have drawn from its RNG: going on would
                // ask what no replay of the journal asks. The journal holds every outcome
                // told, so building the search again on it goes on exactly.
                *guard = None;
                return Err(interrupted);
            }
        };
        Ok(archs.into_iter().map(|a| self.wrap(py, a)).collect())
    }

    /// Tells the fitness of `arch` (asked, not told yet; higher is better; a finite number),
    /// measured in `seconds` (journalled, for people). `InvalidValue` for an architecture
    /// never asked or already told, or a fitness that is NaN or infinite (tell a failure).
    #[pyo3(signature = (arch, fitness, seconds = 0.0))]
    fn tell(&self, arch: PyRef<'_, PyArch>, fitness: f64, seconds: f64) -> PyResult<()> {
        self.tell_outcome(&arch, Ok(fitness), seconds)
    }

    /// Tells that `arch` could not be evaluated: it is remembered (never asked again) and
    /// never learnt from. `kind` is `"error"` (the default), `"crash"` or `"timeout"`.
    #[pyo3(signature = (arch, message, kind = "error", seconds = 0.0))]
    fn tell_failure(
        &self,
        arch: PyRef<'_, PyArch>,
        message: &str,
        kind: &str,
        seconds: f64,
    ) -> PyResult<()> {
        let kind = match kind {
            "error" => FailureKind::Error,
            "crash" => FailureKind::Crash,
            "timeout" => FailureKind::Timeout,
            other => {
                return Err(Error::value(format!(
                    "unknown failure kind {other:?}: error, crash or timeout"
                ))
                .into());
            }
        };
        self.tell_outcome(&arch, Err(Failure::new(kind, message)), seconds)
    }

    /// The best architecture told so far and its fitness, or `None` before any success.
    fn best(&self, py: Python<'_>) -> PyResult<Option<(PyArch, f64)>> {
        let guard = self.open()?;
        let open = guard.as_ref().expect("checked open");
        let best = on_session!(&open.session, s => s.best().map(|(a, f)| (wrap_of(s.space(), a.clone()), f)));
        Ok(best.map(|(a, f)| (self.wrap(py, a), f)))
    }

    /// Every outcome told, in the order told (the replayed ones first): pairs of an
    /// architecture and its fitness, `None` for a failure.
    #[getter]
    fn history(&self, py: Python<'_>) -> PyResult<Vec<(PyArch, Option<f64>)>> {
        let guard = self.open()?;
        let open = guard.as_ref().expect("checked open");
        let told: Vec<(AnyArch, Option<f64>)> = on_session!(&open.session, s => s
            .told()
            .iter()
            .map(|(a, o)| (wrap_of(s.space(), a.clone()), o.as_ref().ok().copied()))
            .collect());
        Ok(told
            .into_iter()
            .map(|(a, f)| (self.wrap(py, a), f))
            .collect())
    }

    /// Architectures asked and not told yet, in the order asked.
    #[getter]
    fn pending(&self, py: Python<'_>) -> PyResult<Vec<PyArch>> {
        let guard = self.open()?;
        let open = guard.as_ref().expect("checked open");
        let p: Vec<AnyArch> = on_session!(&open.session, s => s
            .pending()
            .into_iter()
            .map(|a| wrap_of(s.space(), a.clone()))
            .collect());
        Ok(p.into_iter().map(|a| self.wrap(py, a)).collect())
    }

    /// How many architectures were asked in all (replayed ones included).
    #[getter]
    fn asked(&self) -> PyResult<u64> {
        let guard = self.open()?;
        Ok(on_session!(&guard.as_ref().expect("checked open").session, s => s.asked()))
    }

    /// How many outcomes came from the journal when the search was built.
    #[getter]
    fn replayed(&self) -> PyResult<usize> {
        let guard = self.open()?;
        Ok(on_session!(&guard.as_ref().expect("checked open").session, s => s.replayed()))
    }

    /// Whether the space is used up.
    #[getter]
    fn finished(&self) -> PyResult<bool> {
        let guard = self.open()?;
        Ok(on_session!(&guard.as_ref().expect("checked open").session, s => s.is_finished()))
    }

    /// The strategy's name (as journals record it).
    #[getter]
    fn strategy(&self) -> PyResult<String> {
        let guard = self.open()?;
        Ok(
            on_session!(&guard.as_ref().expect("checked open").session, s => s.strategy_name().to_owned()),
        )
    }

    /// The space searched.
    #[getter]
    fn space(&self, py: Python<'_>) -> Py<PySpace> {
        self.space.clone_ref(py)
    }

    /// The run directory, when the search is journalled.
    #[getter]
    fn journal(&self) -> Option<String> {
        self.journal.as_ref().map(|p| p.display().to_string())
    }

    /// Closes the search: the journal is closed and the run directory unlocked. Any later
    /// call but `close` raises `DclError`.
    fn close(&self) {
        *self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let Ok(guard) = self.open.try_lock() else {
            return "Search(busy)".into();
        };
        match guard.as_ref() {
            None => "Search(closed)".into(),
            Some(open) => on_session!(&open.session, s => format!(
                "Search(strategy={:?}, space={:?}, asked={}, told={}, journal={:?})",
                s.strategy_name(),
                s.space().name(),
                s.asked(),
                s.told().len(),
                self.journal.as_ref().map(|p| p.display().to_string()),
            )),
        }
    }
}

fn journal_path(journal: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PathBuf>> {
    journal
        .filter(|j| !j.is_none())
        .map(|j| j.extract::<PathBuf>())
        .transpose()
}

/// Random search: every architecture drawn uniformly among those not asked yet.
#[pyclass(module = "dcl_enas", name = "RandomSearch", extends = PySearch, frozen)]
pub struct PyRandomSearch;

#[pymethods]
impl PyRandomSearch {
    /// A random search of `space` drawing from `seed`, journalled in the directory `journal`
    /// when given.
    #[new]
    #[pyo3(signature = (space, seed = 0, journal = None))]
    fn new(
        py: Python<'_>,
        space: Py<PySpace>,
        seed: u64,
        journal: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let base = PySearch::build(py, space, Plan::Random, seed, journal_path(journal)?)?;
        Ok(PyClassInitializer::from(base).add_subclass(Self))
    }
}

/// Regularized (aging) evolution (Real et al., 2019): the first `population_size`
/// architectures are random; then each ask mutates the best of `sample_size` random members
/// of the population, and each told success joins it, the oldest member leaving.
#[pyclass(module = "dcl_enas", name = "RegularizedEvolution", extends = PySearch, frozen)]
pub struct PyRegularizedEvolution;

#[pymethods]
impl PyRegularizedEvolution {
    /// Regularized evolution on `space` drawing from `seed` (defaults: population 20,
    /// tournament 5), journalled in the directory `journal` when given.
    #[new]
    #[pyo3(signature = (space, seed = 0, journal = None, population_size = 20, sample_size = 5))]
    fn new(
        py: Python<'_>,
        space: Py<PySpace>,
        seed: u64,
        journal: Option<&Bound<'_, PyAny>>,
        population_size: usize,
        sample_size: usize,
    ) -> PyResult<PyClassInitializer<Self>> {
        let plan = Plan::Evolution(RegularizedEvolution {
            population_size,
            sample_size,
        });
        let base = PySearch::build(py, space, plan, seed, journal_path(journal)?)?;
        Ok(PyClassInitializer::from(base).add_subclass(Self))
    }
}

/// DCL-ENAS: the predictor pre-trained on the space without labels (stage 1), then rounds
/// of evolution ranked by the predictor, each refitting it on every outcome told (stage 2)
/// and offering the best few children (and one exploring mutation of the incumbent) for
/// true evaluation.
///
/// Settings, as the program's config file names them (each a dict laid over the defaults):
/// `dcl_enas` (`initial`, `population`, `generations`, `offspring`, `infill`, `explore`,
/// `crossover_rate`, `tournament`), `pretrain`, `finetune`, `model`, and `pretrain_sample`,
/// `training_engine`. With the defaults and the same seed, the search asks what
/// `dcl-enas search --seed SEED` asks.
#[pyclass(module = "dcl_enas", name = "DclEnas", extends = PySearch, frozen)]
pub struct PyDclEnas;

#[pymethods]
impl PyDclEnas {
    /// DCL-ENAS on `space` drawing from `seed`, journalled in the directory `journal` when
    /// given. Without `predictor`, stage 1 pre-trains one as the program does (minutes on a
    /// large space; Ctrl-C stops it); with one (a `Predictor`), a copy of it is the
    /// surrogate.
    #[new]
    #[pyo3(signature = (space, seed = 0, journal = None, predictor = None, **settings))]
    fn new(
        py: Python<'_>,
        space: Py<PySpace>,
        seed: u64,
        journal: Option<&Bound<'_, PyAny>>,
        predictor: Option<PyRef<'_, PyPredictor>>,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut cfg: SearchConfig = crate::settings::overlay(&SearchConfig::default(), settings)?;
        cfg.seed = seed;
        // Every setting is checked before stage 1 spends minutes.
        DclEnas::new(cfg.dcl_enas.clone())
            .validate()
            .map_err(Error::from)?;
        let min_labels = 2;
        if cfg.dcl_enas.initial < min_labels {
            return Err(Error::value(format!(
                "dcl_enas.initial ({}) must be at least the {min_labels} labelled architectures \
                 the predictor needs to learn",
                cfg.dcl_enas.initial
            ))
            .into());
        }
        cfg.pretrain.validate().map_err(Error::from)?;
        cfg.finetune.validate().map_err(Error::from)?;
        let predictor = match predictor {
            Some(p) => Some(Box::new(p.fork_for(&space.get().space, seed)?)),
            None => None,
        };
        let plan = Plan::DclEnas {
            cfg: Box::new(cfg),
            predictor,
        };
        let base = PySearch::build(py, space, plan, seed, journal_path(journal)?)?;
        Ok(PyClassInitializer::from(base).add_subclass(Self))
    }
}

/// The architectures a DCL-ENAS search on `space` pre-trains on by default (the table's
/// cells for the presets, the whole space up to 20,000 architectures, else a sample drawn
/// with `seed`), as a list.
#[pyfunction]
#[pyo3(signature = (space, seed = 0, sample = dcl_cli::space::PRETRAIN_SAMPLE))]
pub fn stage1_architectures(
    py: Python<'_>,
    space: &Bound<'_, PySpace>,
    seed: u64,
    sample: usize,
) -> PyResult<Vec<PyArch>> {
    let sp = space.get();
    let archs: Vec<AnyArch> = on_space!(&sp.space, s => stage1_set(s.as_ref(), sample, seed)?
        .0
        .into_iter()
        .map(|a| wrap_of(s.as_ref(), a))
        .collect());
    let _ = py;
    Ok(archs.into_iter().map(|a| PySpace::arch(space, a)).collect())
}
