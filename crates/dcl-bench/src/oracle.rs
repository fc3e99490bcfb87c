//! Benchmark tables as true-fitness oracles, with query counting.

use std::collections::HashSet;

use crate::BenchError;

/// A table that answers "how good is this architecture" by look-up.
pub trait BenchmarkTable {
    /// The architecture type of the table's space.
    type Arch;
    /// Which value to read.
    type Metric: Copy;

    /// The value of `metric` for `arch`.
    fn lookup(&self, arch: &Self::Arch, metric: Self::Metric) -> Result<f64, BenchError>;

    /// Number of architectures in the table.
    fn num_rows(&self) -> usize;
}

/// A table fixed to one metric that counts its queries: search budgets are counted in true
/// evaluations, and this is where they are paid.
///
/// Every successful [`query`](Self::query) counts, repeats included (so that a search that
/// re-queries an architecture is seen to waste budget); [`unique_queries`](Self::unique_queries)
/// counts distinct architectures. A failed look-up costs nothing.
///
/// ```
/// use dcl_bench::{CountingOracle, Nb201Column, Nb201Dataset, Nb201Metric, Nb201Table};
/// use dcl_graph::Nb201Cell;
/// let table = Nb201Table::embedded().unwrap();
/// let metric = Nb201Metric::new(Nb201Dataset::Cifar10, Nb201Column::Test200);
/// let mut oracle = CountingOracle::new(table, metric);
/// let cell = Nb201Cell::from_ordinal(0).unwrap();
/// oracle.query(&cell).unwrap();
/// oracle.query(&cell).unwrap();
/// assert_eq!((oracle.queries(), oracle.unique_queries()), (2, 1));
/// ```
#[derive(Debug)]
pub struct CountingOracle<'t, T: BenchmarkTable>
where
    T::Arch: Clone + Eq + std::hash::Hash,
{
    table: &'t T,
    metric: T::Metric,
    queries: usize,
    seen: HashSet<T::Arch>,
}

impl<'t, T: BenchmarkTable> CountingOracle<'t, T>
where
    T::Arch: Clone + Eq + std::hash::Hash,
{
    /// An oracle answering `metric` from `table`, with no queries yet.
    pub fn new(table: &'t T, metric: T::Metric) -> Self {
        Self {
            table,
            metric,
            queries: 0,
            seen: HashSet::new(),
        }
    }

    /// The value of the oracle's metric for `arch`, counted as one query.
    pub fn query(&mut self, arch: &T::Arch) -> Result<f64, BenchError> {
        let v = self.table.lookup(arch, self.metric)?;
        self.queries += 1;
        if !self.seen.contains(arch) {
            self.seen.insert(arch.clone());
        }
        Ok(v)
    }

    /// A look-up of any metric that is *not* counted: for reporting (the test accuracy of what
    /// a search found), never for guiding a search.
    pub fn peek(&self, arch: &T::Arch, metric: T::Metric) -> Result<f64, BenchError> {
        self.table.lookup(arch, metric)
    }

    /// Queries so far, repeats included.
    pub fn queries(&self) -> usize {
        self.queries
    }

    /// Distinct architectures queried so far.
    pub fn unique_queries(&self) -> usize {
        self.seen.len()
    }

    /// The metric.
    pub fn metric(&self) -> T::Metric {
        self.metric
    }

    /// The table.
    pub fn table(&self) -> &'t T {
        self.table
    }

    /// Forgets all queries.
    pub fn reset(&mut self) {
        self.queries = 0;
        self.seen.clear();
    }
}

impl<S, T> dcl_graph::Evaluator<S> for CountingOracle<'_, T>
where
    S: dcl_graph::SearchSpace<Arch = T::Arch>,
    T: BenchmarkTable,
    T::Arch: Clone + Eq + std::hash::Hash,
{
    type Error = BenchError;

    /// A counted [`query`](CountingOracle::query).
    fn evaluate(&mut self, _space: &S, arch: &T::Arch) -> Result<f64, BenchError> {
        self.query(arch)
    }
}
