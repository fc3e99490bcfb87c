//! What a run returns and writes: [`EcgSearchReport`] and its parts.

use dcl_evo::SearchHistory;
use dcl_train::{CandidateRecord, ClassMetrics, FeatureEntry, NetArch};
use serde::{Deserialize, Serialize};

/// A candidate retrained before the final pick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoredCell {
    /// The candidate.
    pub cell: NetArch,
    /// Its fitness: the search's first, then one per repeat (seeds of [`crate::Rescore::seed`]).
    pub fitness: Vec<f64>,
    /// Mean of `fitness`, by which the final cell is chosen.
    pub mean: f64,
    /// The retrainings, repeat by repeat, fold by fold (validation metrics per class, epochs).
    #[serde(default)]
    pub records: Vec<CandidateRecord>,
}

/// One final training run, tested on DS2 (or on the pseudo-test in design mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalRun {
    /// Seed of the run.
    pub seed: u64,
    /// Validation metrics of the selected epoch.
    pub valid: ClassMetrics,
    /// Test metrics: DS2's, or the pseudo-test's in design mode
    /// ([`crate::EcgSearchConfig::pseudo_test`]).
    pub test: ClassMetrics,
    /// Selected epoch.
    pub best_epoch: usize,
    /// Wall time of the training.
    pub seconds: f64,
    /// Measured inference latency per beat in milliseconds ([`dcl_train::latency_ms`]), in a
    /// multi-objective search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The test confusion matrix of each test record (patient), summing to `test`'s.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub per_record: std::collections::BTreeMap<String, Vec<Vec<usize>>>,
}

/// A member of a multi-objective search's front, trained fully and tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontMember {
    /// The candidate.
    pub cell: NetArch,
    /// Its search (proxy) fitness.
    pub fitness: f64,
    /// Its parameter count.
    pub params: u64,
    /// Its inference latency per beat measured during the search (mean over the proxy folds'
    /// trained networks), in milliseconds, as journalled.
    pub latency_ms: Option<f64>,
    /// Its final runs (DS2 test).
    pub runs: Vec<FinalRun>,
}

/// What [`crate::run`] returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EcgSearchReport {
    /// The search seed (reports written before it was recorded have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What the final networks were tested on: `DS2`, or `pseudo-test` in design mode
    /// ([`crate::EcgSearchConfig::pseudo_test`]).
    #[serde(default = "ds2_name")]
    pub test_set: String,
    /// Beats per class: training, validation, test.
    pub class_counts: [Vec<usize>; 3],
    /// The search's query history.
    pub history: SearchHistory<NetArch>,
    /// Every proxy training of the search, in query order: one per candidate, or with
    /// [`crate::EcgSearchConfig::proxy_folds`] `k >= 2` one per candidate and fold (fold by fold).
    pub candidates: Vec<CandidateRecord>,
    /// The strategy that searched (`dcl-enas`, `random`, `regularized-evolution`).
    #[serde(default = "dcl_enas_name")]
    pub strategy: String,
    /// The cell chosen: best fitness on the proxy, or with [`crate::EcgSearchConfig::rescore`] best
    /// mean fitness among the rescored cells.
    pub best_cell: NetArch,
    /// The rescored cells in the search's fitness order (empty without rescoring).
    #[serde(default)]
    pub rescored: Vec<RescoredCell>,
    /// Seconds of the rescoring trainings (included in `search_seconds`).
    #[serde(default)]
    pub rescore_seconds: f64,
    /// Seconds of stage-1 pre-training.
    pub pretrain_seconds: f64,
    /// Seconds of the whole search (pre-training excluded).
    pub search_seconds: f64,
    /// Parameters of the baseline and of the found network.
    pub params: [usize; 2],
    /// Where the RR features enter the baseline.
    #[serde(default)]
    pub baseline_entry: FeatureEntry,
    /// Final runs of the baseline.
    pub baseline: Vec<FinalRun>,
    /// Final runs of the found network.
    pub found: Vec<FinalRun>,
    /// A multi-objective search's front (proxy fitness against parameters), by increasing
    /// parameters, each member trained fully; empty for a single-objective search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub front: Vec<FrontMember>,
    /// Wall time of everything.
    pub seconds: f64,
}

fn ds2_name() -> String {
    "DS2".into()
}

fn dcl_enas_name() -> String {
    "dcl-enas".into()
}
