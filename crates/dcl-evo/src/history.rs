//! [`SearchHistory`]: every true evaluation of a search, in order.

use std::io::Write;
use std::path::Path;

use dcl_graph::Failure;
use serde::{Deserialize, Serialize};

/// One true evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord<A> {
    /// 1-based position in the search's queries.
    pub query: usize,
    /// The architecture.
    pub arch: A,
    /// Its fitness, as the evaluator returned it.
    pub fitness: f64,
    /// Wall time of this evaluation, seconds.
    pub seconds: f64,
}

/// An architecture that failed every attempt: recorded, never learnt from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord<A> {
    /// The architecture.
    pub arch: A,
    /// Why its last attempt failed.
    pub failure: Failure,
    /// Attempts made.
    pub attempts: u32,
    /// Wall time of the last attempt, seconds.
    pub seconds: f64,
}

/// What a search did: every query in order, and where the time went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHistory<A> {
    /// The strategy's name.
    pub strategy: String,
    /// Every true evaluation, in order.
    pub queries: Vec<QueryRecord<A>>,
    /// Architectures that failed every attempt, in the order told.
    #[serde(default = "Vec::new")]
    pub failures: Vec<FailureRecord<A>>,
    /// Time spent in true evaluations, seconds.
    pub evaluator_seconds: f64,
    /// Time spent scoring with and training the surrogate, seconds.
    pub surrogate_seconds: f64,
    /// Wall time of the whole search, seconds.
    pub total_seconds: f64,
}

impl<A> SearchHistory<A> {
    pub(crate) fn new(strategy: &str) -> Self {
        Self {
            strategy: strategy.to_owned(),
            queries: Vec::new(),
            failures: Vec::new(),
            evaluator_seconds: 0.0,
            surrogate_seconds: 0.0,
            total_seconds: 0.0,
        }
    }

    /// Appends a successful evaluation as the next query and returns its record.
    pub(crate) fn push_query(&mut self, arch: A, fitness: f64, seconds: f64) -> &QueryRecord<A> {
        let query = self.queries.len() + 1;
        self.queries.push(QueryRecord {
            query,
            arch,
            fitness,
            seconds,
        });
        &self.queries[query - 1]
    }

    /// Number of true evaluations.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether nothing was evaluated.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// The best evaluation (the earliest among equals).
    pub fn best(&self) -> Option<&QueryRecord<A>> {
        self.queries
            .iter()
            .reduce(|b, q| if q.fitness > b.fitness { q } else { b })
    }

    /// Best fitness after each query: `curve[i]` is the best of the first `i + 1`.
    pub fn best_so_far(&self) -> Vec<f64> {
        let mut best = f64::NEG_INFINITY;
        self.queries
            .iter()
            .map(|q| {
                best = best.max(q.fitness);
                best
            })
            .collect()
    }

    /// The best after the first `n` queries (all of them if fewer), the earliest among equals.
    pub fn best_within(&self, n: usize) -> Option<&QueryRecord<A>> {
        self.queries[..n.min(self.queries.len())]
            .iter()
            .reduce(|b, q| if q.fitness > b.fitness { q } else { b })
    }

    /// Writes the queries as CSV to `path` atomically ([`write_csv`](Self::write_csv)).
    pub fn save_csv(
        &self,
        path: impl AsRef<Path>,
        label: impl Fn(&A) -> String,
    ) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        self.write_csv(&mut bytes, label)?;
        dcl_graph::io::write_atomic(path, &bytes)
    }

    /// Writes the queries as CSV (`query,arch,fitness,seconds`), the architecture written by
    /// `label` (quoted as CSV needs).
    pub fn write_csv<W: Write>(
        &self,
        mut w: W,
        label: impl Fn(&A) -> String,
    ) -> std::io::Result<()> {
        writeln!(w, "query,arch,fitness,seconds")?;
        for q in &self.queries {
            let arch = label(&q.arch);
            let arch = if arch.contains([',', '"', '\n']) {
                format!("\"{}\"", arch.replace('"', "\"\""))
            } else {
                arch
            };
            writeln!(w, "{},{},{},{}", q.query, arch, q.fitness, q.seconds)?;
        }
        Ok(())
    }
}

impl<A: Serialize> SearchHistory<A> {
    /// The whole history as JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Writes the history as JSON to `path` atomically.
    pub fn save_json(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let json = self.to_json().map_err(std::io::Error::other)?;
        dcl_graph::io::write_atomic(path, json.as_bytes())
    }
}
