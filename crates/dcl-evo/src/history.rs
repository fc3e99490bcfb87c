//! [`SearchHistory`]: every true evaluation of a search, in order.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use dcl_graph::{Failure, Objectives};

use crate::journal::{EvaluationRecord, JournalHeader};
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
    /// Objectives measured with the fitness (a latency, a parameter count), as the journal
    /// holds them; empty when the evaluator measures none.
    #[serde(default, skip_serializing_if = "Objectives::is_empty")]
    pub objectives: Objectives,
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
            total_seconds: 0.0,
        }
    }

    /// Appends a successful evaluation as the next query and returns its record.
    pub(crate) fn push_query(
        &mut self,
        arch: A,
        fitness: f64,
        seconds: f64,
        objectives: Objectives,
    ) -> &QueryRecord<A> {
        let query = self.queries.len() + 1;
        self.queries.push(QueryRecord {
            query,
            arch,
            fitness,
            seconds,
            objectives,
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

impl<A: Clone> SearchHistory<A> {
    /// The history a journal records, rebuilt without running anything: each architecture's
    /// final outcome (its last success, or its failure once `header.driver.max_attempts`
    /// attempts are journalled; an architecture still being retried is left out), in the order
    /// the run asked them. Equal to the history the run returned, timings aside: only
    /// `evaluator_seconds` (the sum of the final attempts' times) is known, the others are 0.
    /// At most `header.driver.budget` evaluations are counted, as the driver counts them.
    pub fn from_journal(header: &JournalHeader, records: &[EvaluationRecord<A>]) -> Self {
        let max_attempts = header.driver.max_attempts;
        /// What the journal says of one key so far.
        struct Final<'r, A> {
            slot: u64,
            line: usize,
            outcome: Option<&'r EvaluationRecord<A>>,
            attempts: u32,
        }
        let mut finals: HashMap<&str, Final<'_, A>> = HashMap::new();
        for (line, r) in records.iter().enumerate() {
            let e = finals.entry(r.key.as_str()).or_insert(Final {
                slot: r.slot.unwrap_or(u64::MAX),
                line,
                outcome: None,
                attempts: 0,
            });
            e.attempts = e.attempts.max(r.attempt);
            let succeeded = e.outcome.is_some_and(|f| f.fitness.is_some());
            if r.fitness.is_some() || (!succeeded && e.attempts >= max_attempts) {
                e.outcome = Some(r);
            }
        }
        let mut ordered: Vec<_> = finals
            .into_values()
            .filter_map(|f| f.outcome.map(|r| (f.slot, f.line, r, f.attempts)))
            .collect();
        ordered.sort_by_key(|&(slot, line, _, _)| (slot, line));
        let mut history = Self::new(&header.strategy);
        let mut spent = 0;
        for (_, _, r, attempts) in ordered {
            if spent >= header.driver.budget {
                break;
            }
            history.evaluator_seconds += r.seconds;
            match (r.fitness, &r.failure) {
                (Some(fitness), _) => {
                    spent += 1;
                    history.push_query(r.arch.clone(), fitness, r.seconds, r.objectives.clone());
                }
                (None, failure) => {
                    spent += usize::from(header.driver.count_failures);
                    history.failures.push(FailureRecord {
                        arch: r.arch.clone(),
                        failure: failure.clone().unwrap_or_else(|| {
                            Failure::new(dcl_graph::FailureKind::Error, "no outcome recorded")
                        }),
                        attempts,
                        seconds: r.seconds,
                    });
                }
            }
        }
        history
    }

    /// The curve of a column reported beside the searched fitness: after each query, `report`
    /// of the architecture that is best by fitness so far (the earliest among equals),
    /// padded with its last value to `len` points (a search that ran out of architectures),
    /// cut to `len` when longer. With `report` the fitness itself this is
    /// [`best_so_far`](Self::best_so_far).
    pub fn reported_curve(&self, report: impl Fn(&A) -> f64, len: usize) -> Vec<f64> {
        let mut best: Option<&QueryRecord<A>> = None;
        let mut out = Vec::with_capacity(len);
        for q in self.queries.iter().take(len) {
            if best.is_none_or(|b| q.fitness > b.fitness) {
                best = Some(q);
            }
            out.push(best.map_or(f64::NAN, |b| report(&b.arch)));
        }
        while out.len() < len {
            out.push(out.last().copied().unwrap_or(f64::NAN));
        }
        out
    }
}

/// Mean and sample standard deviation (`n - 1`; 0 for one value; NaN for none).
///
/// ```
/// let (m, s) = dcl_evo::mean_std(&[1.0, 2.0, 3.0]);
/// assert_eq!((m, s), (2.0, 1.0));
/// ```
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// The median (the mean of the middle two for an even count; NaN for none); infinities
/// count as values, so "never reached" can be `f64::INFINITY`.
///
/// ```
/// assert_eq!(dcl_evo::median(&[3.0, 1.0, f64::INFINITY, 2.0]), 2.5);
/// ```
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
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
