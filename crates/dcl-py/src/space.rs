//! Spaces and architectures: `nb201()`, `nb101()`, `cell(...)`, `dag(...)`, and `Arch`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use dcl_cli::search::SpaceName;
use dcl_cli::space::{DeclaredSpace, SpaceKind, SpaceSetting};
use dcl_graph::{
    CellArch, CellSpace, DagArch, DagSpace, GraphSpace, Nb101Cell, Nb101Space, Nb201Cell,
    Nb201Space, NodeOp, SearchSpace, Subspace,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::Error;

/// NAS-Bench-101 as the Python front searches it: the 20,001 cells of the table that ships
/// with the library, as `dcl-enas search --space nb101` does.
pub type Nb101Subset = Subspace<Nb101Space>;

/// One of the spaces the Python front knows, shared.
#[derive(Clone)]
pub enum AnySpace {
    /// NAS-Bench-201.
    Nb201(Arc<Nb201Space>),
    /// NAS-Bench-101's 20,001-cell subset.
    Nb101(Arc<Nb101Subset>),
    /// A declared cell space.
    Cell(Arc<CellSpace>),
    /// A declared DAG space.
    Dag(Arc<DagSpace>),
}

/// An architecture of one of those spaces.
#[derive(Clone, PartialEq)]
pub enum AnyArch {
    /// A NAS-Bench-201 cell.
    Nb201(Nb201Cell),
    /// A NAS-Bench-101 cell.
    Nb101(Nb101Cell),
    /// A cell of a declared cell space.
    Cell(CellArch),
    /// A DAG of a declared DAG space.
    Dag(DagArch),
}

/// Runs `$body` with `$s` bound to the space inside an [`AnySpace`] (an `Arc` of its type).
macro_rules! on_space {
    ($space:expr, $s:ident => $body:expr) => {
        match $space {
            $crate::space::AnySpace::Nb201($s) => $body,
            $crate::space::AnySpace::Nb101($s) => $body,
            $crate::space::AnySpace::Cell($s) => $body,
            $crate::space::AnySpace::Dag($s) => $body,
        }
    };
}
pub(crate) use on_space;

/// A space the Python front knows: how its architectures enter and leave [`AnyArch`].
pub trait FrontSpace: GraphSpace + Send + Sync + 'static
where
    Self::Arch: Serialize + DeserializeOwned,
{
    /// `arch` as an [`AnyArch`].
    fn wrap(arch: Self::Arch) -> AnyArch;
    /// The architecture inside `arch`, when it is of this space's type.
    fn unwrap(arch: &AnyArch) -> Option<&Self::Arch>;
    /// The architecture written `text` (its `str()`), checked to be in the space.
    fn parse(&self, text: &str) -> Result<Self::Arch, Error>;
    /// How many architectures the space holds, when known.
    fn size(&self) -> Option<usize>;
}

impl FrontSpace for Nb201Space {
    fn wrap(arch: Nb201Cell) -> AnyArch {
        AnyArch::Nb201(arch)
    }
    fn unwrap(arch: &AnyArch) -> Option<&Nb201Cell> {
        match arch {
            AnyArch::Nb201(a) => Some(a),
            _ => None,
        }
    }
    fn parse(&self, text: &str) -> Result<Nb201Cell, Error> {
        Ok(text.parse()?)
    }
    fn size(&self) -> Option<usize> {
        Some(dcl_graph::NB201_NUM_CELLS)
    }
}

impl FrontSpace for Nb101Subset {
    fn wrap(arch: Nb101Cell) -> AnyArch {
        AnyArch::Nb101(arch)
    }
    fn unwrap(arch: &AnyArch) -> Option<&Nb101Cell> {
        match arch {
            AnyArch::Nb101(a) => Some(a),
            _ => None,
        }
    }
    fn parse(&self, text: &str) -> Result<Nb101Cell, Error> {
        let cell: Nb101Cell = text.parse()?;
        if !self.contains(&cell) {
            return Err(Error::value(format!(
                "{text} is a NAS-Bench-101 cell, but not one of the {} cells of the table this space searches",
                self.members().len()
            )));
        }
        Ok(cell)
    }
    fn size(&self) -> Option<usize> {
        Some(self.members().len())
    }
}

impl FrontSpace for CellSpace {
    fn wrap(arch: CellArch) -> AnyArch {
        AnyArch::Cell(arch)
    }
    fn unwrap(arch: &AnyArch) -> Option<&CellArch> {
        match arch {
            AnyArch::Cell(a) => Some(a),
            _ => None,
        }
    }
    fn parse(&self, text: &str) -> Result<CellArch, Error> {
        let arch: CellArch = text.parse()?;
        self.check(&arch)?;
        Ok(arch)
    }
    fn size(&self) -> Option<usize> {
        CellSpace::size(self)
    }
}

impl FrontSpace for DagSpace {
    fn wrap(arch: DagArch) -> AnyArch {
        AnyArch::Dag(arch)
    }
    fn unwrap(arch: &AnyArch) -> Option<&DagArch> {
        match arch {
            AnyArch::Dag(a) => Some(a),
            _ => None,
        }
    }
    fn parse(&self, text: &str) -> Result<DagArch, Error> {
        let arch: DagArch = text.parse()?;
        self.check(&arch)?;
        Ok(arch)
    }
    fn size(&self) -> Option<usize> {
        None
    }
}

/// The NAS-Bench-101 subset space, built once per process.
fn nb101_subset() -> Result<Arc<Nb101Subset>, Error> {
    static SPACE: std::sync::OnceLock<Arc<Nb101Subset>> = std::sync::OnceLock::new();
    if let Some(s) = SPACE.get() {
        return Ok(Arc::clone(s));
    }
    let table = dcl_bench::Nb101Table::subset20k()?;
    let cells = table.records().iter().map(|r| r.cell).collect();
    let space = Arc::new(Subspace::new(Nb101Space::new(), cells)?);
    Ok(Arc::clone(SPACE.get_or_init(|| space)))
}

impl AnySpace {
    /// The space a setting names (the `space` setting of `dcl-enas search`).
    pub fn from_setting(setting: &SpaceSetting) -> Result<Self, Error> {
        Ok(match setting {
            SpaceSetting::Preset(SpaceName::Nb201) => AnySpace::Nb201(Arc::new(Nb201Space::new())),
            SpaceSetting::Preset(SpaceName::Nb101) => AnySpace::Nb101(nb101_subset()?),
            SpaceSetting::Declared(d) => match d.kind {
                SpaceKind::Cell => {
                    if d.max_edges.is_some() {
                        return Err(Error::value(
                            "max_edges is for a dag space: a cell has every edge",
                        ));
                    }
                    AnySpace::Cell(Arc::new(CellSpace::new(d.name(), d.nodes, &d.ops)?))
                }
                SpaceKind::Dag => {
                    let max_edges = d
                        .max_edges
                        .ok_or_else(|| Error::value("a dag space needs max_edges"))?;
                    AnySpace::Dag(Arc::new(DagSpace::new(
                        d.name(),
                        d.nodes,
                        max_edges,
                        &d.ops,
                    )?))
                }
            },
        })
    }

    /// The space's name.
    pub fn name(&self) -> String {
        on_space!(self, s => s.name().to_owned())
    }
}

/// A search space. Build one with `nb201()`, `nb101()`, `cell(...)` or `dag(...)`.
///
/// Spaces compare equal when they are built from the same settings, and pickle as those
/// settings.
#[pyclass(module = "dcl_enas", name = "Space", frozen)]
pub struct PySpace {
    /// What the space is built from (as `dcl-enas search` writes it).
    pub setting: SpaceSetting,
    /// The space.
    pub space: AnySpace,
}

impl PySpace {
    fn new(setting: SpaceSetting) -> Result<Self, Error> {
        let space = AnySpace::from_setting(&setting)?;
        Ok(Self { setting, space })
    }

    /// The setting as JSON text (pickling, journal headers).
    pub fn setting_json(&self) -> String {
        serde_json::to_string(&self.setting).expect("a space setting serializes")
    }

    /// `arch` as a Python `Arch` of this space.
    pub fn arch(slf: &Bound<'_, Self>, arch: AnyArch) -> PyArch {
        PyArch {
            space: slf.clone().unbind(),
            arch,
        }
    }
}

#[pymethods]
impl PySpace {
    /// The space's name (journals and summaries use it).
    #[getter]
    fn name(&self) -> String {
        self.space.name()
    }

    /// How many architectures the space holds; `None` when not known (a DAG space).
    #[getter]
    fn size(&self) -> Option<usize> {
        on_space!(&self.space, s => FrontSpace::size(s.as_ref()))
    }

    /// The names of the operations the space's architectures are built from.
    #[getter]
    fn ops(&self) -> Vec<String> {
        on_space!(&self.space, s => s.ops().names().map(str::to_owned).collect())
    }

    /// `n` architectures drawn uniformly at random with `seed` (repeats possible).
    #[pyo3(signature = (n = 1, seed = 0))]
    fn sample(slf: &Bound<'_, Self>, n: usize, seed: u64) -> Vec<PyArch> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let this = slf.get();
        on_space!(&this.space, s => (0..n)
            .map(|_| Self::arch(slf, wrap_of(s.as_ref(), s.sample(&mut rng))))
            .collect())
    }

    /// A random single-edit neighbour of `arch` (drawn with `seed`).
    #[pyo3(signature = (arch, seed = 0))]
    fn mutate(slf: &Bound<'_, Self>, arch: &PyArch, seed: u64) -> PyResult<PyArch> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let this = slf.get();
        let child = on_space!(&this.space, s => {
            let a = arch_of(s.as_ref(), arch, &this.space)?;
            wrap_of(s.as_ref(), s.mutate(a, &mut rng))
        });
        Ok(Self::arch(slf, child))
    }

    /// The architecture written `text` (what `str(arch)` gives); `InvalidValue` when it is
    /// not one, or not in this space.
    fn parse(slf: &Bound<'_, Self>, text: &str) -> PyResult<PyArch> {
        let this = slf.get();
        let arch = on_space!(&this.space, s => wrap_of(s.as_ref(), s.parse(text)?));
        Ok(Self::arch(slf, arch))
    }

    fn __repr__(&self) -> String {
        match &self.setting {
            SpaceSetting::Preset(p) => format!("dcl_enas.{}()", p.name()),
            SpaceSetting::Declared(d) => {
                let ops = format!("{:?}", d.ops);
                match d.kind {
                    SpaceKind::Cell => format!(
                        "dcl_enas.cell(nodes={}, ops={ops}, name={:?})",
                        d.nodes,
                        d.name()
                    ),
                    SpaceKind::Dag => format!(
                        "dcl_enas.dag(nodes={}, max_edges={}, ops={ops}, name={:?})",
                        d.nodes,
                        d.max_edges.unwrap_or(0),
                        d.name()
                    ),
                }
            }
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PySpace>()
            .is_ok_and(|o| o.get().setting == self.setting)
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.setting_json().hash(&mut h);
        h.finish()
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let from = py.import("dcl_enas._native")?.getattr("_space_from_json")?;
        let args = PyTuple::new(py, [self.setting_json()])?;
        PyTuple::new(py, [from, args.into_any()])
    }
}

/// `arch` as an [`AnyArch`], typed by the space `_s`.
pub fn wrap_of<S: FrontSpace>(_s: &S, arch: S::Arch) -> AnyArch
where
    S::Arch: Serialize + DeserializeOwned,
{
    S::wrap(arch)
}

/// The architecture inside the Python `arch`, checked to belong to `space` (the space `s`).
pub fn arch_of<'a, S: FrontSpace>(
    _s: &S,
    arch: &'a PyArch,
    space: &AnySpace,
) -> Result<&'a S::Arch, Error>
where
    S::Arch: Serialize + DeserializeOwned,
{
    let own = arch.space.get();
    if own.space.name() != space.name() {
        return Err(Error::value(format!(
            "{} is an architecture of space {:?}, not of {:?}",
            arch.text(),
            own.space.name(),
            space.name()
        )));
    }
    S::unwrap(&arch.arch).ok_or_else(|| {
        Error::value(format!(
            "{} is not an architecture of space {:?}",
            arch.text(),
            space.name()
        ))
    })
}

/// The Python `archs` as architectures of `space`.
pub fn archs_of<S: FrontSpace>(
    s: &S,
    archs: &[PyRef<'_, PyArch>],
    space: &AnySpace,
) -> Result<Vec<S::Arch>, Error>
where
    S::Arch: Serialize + DeserializeOwned,
{
    archs
        .iter()
        .map(|a| arch_of(s, a, space).cloned())
        .collect()
}

/// An architecture of a space: `str(arch)` is its text form (what `Space.parse` reads),
/// `arch.key` its canonical key (equal for architectures that build the same network), and
/// equality and hashing go by space and key. Architectures pickle as their space and text.
#[pyclass(module = "dcl_enas", name = "Arch", frozen)]
pub struct PyArch {
    /// Its space.
    pub space: Py<PySpace>,
    /// The architecture.
    pub arch: AnyArch,
}

/// Runs `$body` with `$s` bound to the space (an `Arc` of its type) and `$a` to the
/// architecture of an architecture's own space.
macro_rules! on_arch {
    ($space:expr, $arch:expr, |$s:ident, $a:ident| $body:expr) => {
        match ($space, $arch) {
            (AnySpace::Nb201($s), AnyArch::Nb201($a)) => $body,
            (AnySpace::Nb101($s), AnyArch::Nb101($a)) => $body,
            (AnySpace::Cell($s), AnyArch::Cell($a)) => $body,
            (AnySpace::Dag($s), AnyArch::Dag($a)) => $body,
            _ => unreachable!("an architecture is built with its own space"),
        }
    };
}

impl PyArch {
    /// The text form.
    pub fn text(&self) -> String {
        on_arch!(&self.space.get().space, &self.arch, |s, a| s.arch_text(a))
    }

    /// The canonical key's text.
    pub fn key_text(&self) -> String {
        on_arch!(&self.space.get().space, &self.arch, |s, a| s
            .canonical_text(a))
    }
}

#[pymethods]
impl PyArch {
    /// The canonical key: equal for two architectures exactly when they build the same
    /// network (NAS-Bench-101 and DAG spaces: the module hash).
    #[getter]
    fn key(&self) -> String {
        self.key_text()
    }

    /// The space the architecture belongs to.
    #[getter]
    fn space(&self, py: Python<'_>) -> Py<PySpace> {
        self.space.clone_ref(py)
    }

    /// The architecture as the graph the predictor reads: a dict with `nodes` (each node's
    /// operation: `"input"`, `"output"` or an op name), `edges` (pairs `(from, to)`), and the
    /// `input` and `output` node indices.
    fn to_graph<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (graph, names) = on_arch!(&self.space.get().space, &self.arch, |s, a| (
            s.to_graph(a).map_err(Error::from)?,
            op_names(s.as_ref())
        ));
        let nodes: Vec<String> = graph
            .ops()
            .into_iter()
            .map(|op| match op {
                NodeOp::Input => "input".to_owned(),
                NodeOp::Output => "output".to_owned(),
                NodeOp::Op(i) => names.get(i).cloned().unwrap_or_else(|| format!("op{i}")),
            })
            .collect();
        let d = PyDict::new(py);
        d.set_item("nodes", PyList::new(py, nodes)?)?;
        d.set_item("edges", PyList::new(py, graph.sorted_edges())?)?;
        d.set_item("input", graph.input())?;
        d.set_item("output", graph.output())?;
        Ok(d)
    }

    fn __str__(&self) -> String {
        self.text()
    }

    fn __repr__(&self) -> String {
        format!(
            "Arch({:?}, {:?})",
            self.space.get().space.name(),
            self.text()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyArch>().is_ok_and(|o| {
            let o = o.get();
            o.space.get().setting == self.space.get().setting && o.key_text() == self.key_text()
        })
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.space.get().space.name().hash(&mut h);
        self.key_text().hash(&mut h);
        h.finish()
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let from = py.import("dcl_enas._native")?.getattr("_arch_from")?;
        let args = PyTuple::new(
            py,
            [
                self.space.clone_ref(py).into_bound(py).into_any(),
                self.text().into_pyobject(py)?.into_any(),
            ],
        )?;
        PyTuple::new(py, [from, args.into_any()])
    }
}

fn op_names<S: GraphSpace>(s: &S) -> Vec<String> {
    s.ops().names().map(str::to_owned).collect()
}

/// NAS-Bench-201: all 15,625 cells (6 edges, 5 operations each).
#[pyfunction]
pub fn nb201(py: Python<'_>) -> PyResult<Py<PySpace>> {
    Py::new(py, PySpace::new(SpaceSetting::Preset(SpaceName::Nb201))?)
}

/// NAS-Bench-101: the 20,001 cells of the table that ships with the library (the space
/// `dcl-enas search --space nb101` searches).
#[pyfunction]
pub fn nb101(py: Python<'_>) -> PyResult<Py<PySpace>> {
    Py::new(py, PySpace::new(SpaceSetting::Preset(SpaceName::Nb101))?)
}

/// A NAS-Bench-201-style cell space: `nodes` feature maps (the input included), every pair
/// `i < j` joined by an edge carrying one of `ops` (`"none"` removes the edge, `"skip"` is the
/// identity).
#[pyfunction]
#[pyo3(signature = (nodes, ops, name = "cell"))]
pub fn cell(py: Python<'_>, nodes: usize, ops: Vec<String>, name: &str) -> PyResult<Py<PySpace>> {
    let d = DeclaredSpace {
        kind: SpaceKind::Cell,
        name: Some(name.to_owned()),
        nodes,
        max_edges: None,
        ops,
    };
    Py::new(py, PySpace::new(SpaceSetting::Declared(d))?)
}

/// A NAS-Bench-101-style DAG space: up to `nodes` vertices (input and output included) and
/// `max_edges` edges, each intermediate vertex carrying one of `ops`.
#[pyfunction]
#[pyo3(signature = (nodes, max_edges, ops, name = "dag"))]
pub fn dag(
    py: Python<'_>,
    nodes: usize,
    max_edges: usize,
    ops: Vec<String>,
    name: &str,
) -> PyResult<Py<PySpace>> {
    let d = DeclaredSpace {
        kind: SpaceKind::Dag,
        name: Some(name.to_owned()),
        nodes,
        max_edges: Some(max_edges),
        ops,
    };
    Py::new(py, PySpace::new(SpaceSetting::Declared(d))?)
}

/// Unpickles a space.
#[pyfunction]
pub fn _space_from_json(py: Python<'_>, json: &str) -> PyResult<Py<PySpace>> {
    let setting: SpaceSetting = serde_json::from_str(json)
        .map_err(|e| Error::value(format!("not a space setting: {e}")))?;
    Py::new(py, PySpace::new(setting)?)
}

/// Unpickles an architecture.
#[pyfunction]
pub fn _arch_from(space: &Bound<'_, PySpace>, text: &str) -> PyResult<PyArch> {
    PySpace::parse(space, text)
}
