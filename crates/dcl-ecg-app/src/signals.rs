//! The signal study: how well each selection signal the search can compute from DS1 alone
//! predicts how a network does on patients no training or choice has seen (the pseudo-test,
//! [`dcl_ecg::PSEUDO_TEST_RECORDS`]).
//!
//! For architectures drawn at random from the space ([`draw_archs`]), [`study_archs`] measures
//! the signals, each exactly as the pipeline computes it: the search's proxy fitness (one
//! training per fold), the rescoring fitness (the mean over the search's training and
//! [`crate::Rescore::repeats`] more), and the final trainings' DS1 validation score; and the
//! target, the pseudo-test score of the same final trainings ([`dcl_ecg::pseudo_test_score`]),
//! once per final seed. [`summarize`] gives Kendall's τ and Spearman's ρ of each signal
//! against the target with bootstrap intervals, the regret of each signal's pick, and the
//! spread between architectures against the spread of one architecture across seeds.

use burn::tensor::backend::AutodiffBackend;
use dcl_ecg::{MitBih, pseudo_test_score};
use dcl_graph::SearchSpace;
use dcl_train::{CandidateRecord, NetArch, NetSpace};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::folds::{load_test, prepare_selection};
use crate::pipeline::{FinalData, cell_net, final_runs, fold_fitness};
use crate::{EcgSearchConfig, EcgSearchError, FinalRun, Rescore};

/// What the study measured of one architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchSignals {
    /// Position in the study's list.
    pub index: usize,
    /// The architecture.
    pub arch: NetArch,
    /// Proxy fitness of each proxy training seed: the search's (`proxy_train.seed`) first,
    /// then the rescoring's ([`Rescore::seed`]).
    pub proxy: Vec<f64>,
    /// Every proxy training, seed by seed, fold by fold.
    pub proxy_records: Vec<CandidateRecord>,
    /// The final trainings, one per final seed, tested on the pseudo-test.
    pub finals: Vec<FinalRun>,
    /// Wall time of the proxy trainings.
    pub proxy_seconds: f64,
    /// Wall time of the final trainings.
    pub final_seconds: f64,
}

impl ArchSignals {
    /// The search's proxy fitness (its first proxy training).
    pub fn proxy_fitness(&self) -> f64 {
        self.proxy.first().copied().unwrap_or(f64::NAN)
    }

    /// The rescoring fitness: the mean over every proxy training seed.
    pub fn rescore_fitness(&self) -> f64 {
        mean(&self.proxy)
    }

    /// The final trainings' DS1 validation balanced accuracy, in percent, mean over seeds.
    pub fn final_valid(&self) -> f64 {
        mean(
            &self
                .finals
                .iter()
                .map(|r| 100.0 * r.valid.balanced_accuracy)
                .collect::<Vec<_>>(),
        )
    }

    /// The pseudo-test score of each final training, in percent.
    pub fn pseudo_test_scores(&self) -> Vec<f64> {
        self.finals
            .iter()
            .map(|r| 100.0 * pseudo_test_score(&r.test.confusion).unwrap_or(f64::NAN))
            .collect()
    }

    /// The pseudo-test score, mean over final seeds: the target.
    pub fn pseudo_test(&self) -> f64 {
        mean(&self.pseudo_test_scores())
    }

    /// Proxy trainings per proxy training seed (the folds).
    fn folds(&self) -> usize {
        (self.proxy_records.len() / self.proxy.len().max(1)).max(1)
    }

    /// The search's proxy trainings scored as the pseudo-test is, by mean sensitivity over N,
    /// S and V ([`mean_se_nsv`], %), mean over the folds.
    pub fn proxy_nsv(&self) -> f64 {
        let folds = self.folds().min(self.proxy_records.len());
        nsv_of_records(&self.proxy_records[..folds])
    }

    /// Every proxy training (all seeds, all folds) scored by mean sensitivity over N, S, V.
    pub fn rescore_nsv(&self) -> f64 {
        nsv_of_records(&self.proxy_records)
    }

    /// The final trainings' DS1 validation scored by mean sensitivity over N, S, V (%), mean
    /// over seeds.
    pub fn final_valid_nsv(&self) -> f64 {
        mean(
            &self
                .finals
                .iter()
                .map(|r| 100.0 * mean_se_nsv(&r.valid.confusion))
                .collect::<Vec<_>>(),
        )
    }

    /// Mean sensitivity over N, S, V (%) of every proxy training's validation confusion,
    /// summed over folds and seeds.
    pub fn pooled_nsv(&self) -> f64 {
        let mut sum = Vec::new();
        for r in &self.proxy_records {
            add_confusion(&mut sum, &r.report.valid.confusion);
        }
        100.0 * mean_se_nsv(&sum)
    }
}

/// Adds the confusion matrix `c` to `sum` (an empty `sum` takes `c`'s shape).
pub fn add_confusion(sum: &mut Vec<Vec<usize>>, c: &[Vec<usize>]) {
    if sum.is_empty() {
        *sum = vec![vec![0; c.len()]; c.len()];
    }
    for (row, add) in sum.iter_mut().zip(c) {
        for (x, y) in row.iter_mut().zip(add) {
            *x += y;
        }
    }
}

fn nsv_of_records(records: &[CandidateRecord]) -> f64 {
    mean(
        &records
            .iter()
            .map(|r| 100.0 * mean_se_nsv(&r.report.valid.confusion))
            .collect::<Vec<_>>(),
    )
}

/// Mean sensitivity over N, S and V of `confusion[t][p]` (a class without beats left out):
/// the classes the pseudo-test is scored on, F being too few there.
pub fn mean_se_nsv(confusion: &[Vec<usize>]) -> f64 {
    dcl_ecg::mean_sensitivity_where(confusion, |t, _| t < 3).unwrap_or(f64::NAN)
}

/// The mean of `v` (NaN for none).
fn mean(v: &[f64]) -> f64 {
    dcl_evo::mean_std(v).0
}

/// `n` distinct architectures (by canonical key) of `space`, drawn uniformly from a
/// generator seeded with `seed`.
pub fn draw_archs(space: &NetSpace, n: usize, seed: u64) -> Result<Vec<NetArch>, EcgSearchError> {
    let size = space.size();
    if n == 0 || n > size / 2 {
        return Err(EcgSearchError::Config(format!(
            "{n} architectures to study: at least 1 and at most half the space ({})",
            size / 2
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = std::collections::HashSet::new();
    let mut archs = Vec::with_capacity(n);
    while archs.len() < n {
        let arch = space.sample(&mut rng);
        if seen.insert(space.key(&arch)) {
            archs.push(arch);
        }
    }
    Ok(archs)
}

/// What a study measures besides the proxy signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StudyTarget {
    /// Final trainings tested on the pseudo-test (design mode, the default).
    #[default]
    PseudoTest,
    /// No final training: the proxy signals alone (a signal measured beside a study).
    ProxyOnly,
    /// Final trainings on all of DS1 tested on DS2, once: the confirmation of a signal chosen
    /// on the pseudo-test, never an input to a choice.
    Ds2Confirmation,
}

/// Measures the signals and the target of each `(index, architecture)` of `archs`, one after
/// the other, handing each result to `each` as it comes (to be written before the next
/// starts). The data are cut once: the search's from DS1 (less the pseudo-test in design
/// mode), the test set after them. `target` must agree with
/// [`EcgSearchConfig::pseudo_test`]: design mode for the pseudo-test and proxy-only studies,
/// the plain protocol for a DS2 confirmation.
pub fn study_archs<B: AutodiffBackend>(
    db: &MitBih,
    config: &EcgSearchConfig,
    archs: &[(usize, NetArch)],
    target: StudyTarget,
    device: &B::Device,
    each: &mut dyn FnMut(ArchSignals) -> Result<(), EcgSearchError>,
) -> Result<(), EcgSearchError> {
    let final_trainings = target != StudyTarget::ProxyOnly;
    if config.pseudo_test != (target != StudyTarget::Ds2Confirmation) {
        return Err(EcgSearchError::Config(
            "a signal study judges on the pseudo-test (pseudo_test, --pseudo-test); only a DS2 \
             confirmation (--confirm-on-ds2) runs without it"
                .into(),
        ));
    }
    let space = config.space()?;
    for (_, arch) in archs {
        if !space.contains(arch) {
            return Err(EcgSearchError::Config(format!(
                "{arch} is not in the space (feature entries {:?}, skeletons {:?})",
                config.feature_entries, config.skeletons
            )));
        }
    }
    let selection = prepare_selection(db, config)?;
    let test = if final_trainings {
        load_test(db, config)?
    } else {
        Default::default()
    };
    let shape = selection.shape;
    for &(index, arch) in archs {
        let t = std::time::Instant::now();
        let mut proxy = Vec::new();
        let mut proxy_records = Vec::new();
        let seeds = std::iter::once(config.proxy_train.seed)
            .chain((0..config.rescore.repeats).map(|r| Rescore::seed(config.proxy_train.seed, r)));
        for seed in seeds {
            let (fitness, records) = fold_fitness::<B>(
                selection.proxy.clone(),
                &config.with_proxy_seed(seed),
                &[arch],
                device,
                &mut |f, cell| {
                    tracing::info!("#{index} proxy (training seed {seed}): {f:.2} {cell}")
                },
            )?;
            proxy.extend(fitness);
            proxy_records.extend(records);
        }
        let proxy_seconds = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let finals = if final_trainings {
            final_runs::<B, _>(
                &|seed| cell_net::<B>(config, &arch, shape, seed, device),
                FinalData {
                    train: &selection.train,
                    valid: &selection.valid,
                    test: &test,
                },
                config,
                device,
                &format!("#{index}"),
            )?
        } else {
            Vec::new()
        };
        let signals = ArchSignals {
            index,
            arch,
            proxy,
            proxy_records,
            finals,
            proxy_seconds,
            final_seconds: t.elapsed().as_secs_f64(),
        };
        tracing::info!(
            "#{index} {arch}: proxy {:.2} rescore {:.2} final valid {:.2} pseudo-test {:.2} ({:.0} + {:.0} s)",
            signals.proxy_fitness(),
            signals.rescore_fitness(),
            signals.final_valid(),
            signals.pseudo_test(),
            signals.proxy_seconds,
            signals.final_seconds
        );
        each(signals)?;
    }
    Ok(())
}

/// A selection signal's value for each architecture of a study, and what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedSignal {
    /// Its name in the summary.
    pub name: String,
    /// One value per architecture, in study order.
    pub values: Vec<f64>,
    /// Mean wall time of its trainings per architecture.
    pub seconds: f64,
}

impl NamedSignal {
    /// The signals every study measures: the search's proxy fitness, the rescoring fitness,
    /// the final trainings' DS1 validation score, and each of them scored as the pseudo-test
    /// is (mean sensitivity over N, S, V: `-nsv`); those some result cannot give (a
    /// proxy-only study's final ones) are left out.
    pub fn built_in(results: &[ArchSignals]) -> Vec<Self> {
        let n = results.len().max(1) as f64;
        let proxy_seconds = results.iter().map(|r| r.proxy_seconds).sum::<f64>() / n;
        let seeds = results
            .iter()
            .map(|r| r.proxy.len())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let signal = |name: &str, f: fn(&ArchSignals) -> f64, seconds: f64| Self {
            name: name.into(),
            values: results.iter().map(f).collect(),
            seconds,
        };
        let final_seconds = results.iter().map(|r| r.final_seconds).sum::<f64>() / n;
        let signals = vec![
            signal("proxy", ArchSignals::proxy_fitness, proxy_seconds / seeds),
            signal("rescore", ArchSignals::rescore_fitness, proxy_seconds),
            signal("final-valid", ArchSignals::final_valid, final_seconds),
            signal("proxy-nsv", ArchSignals::proxy_nsv, proxy_seconds / seeds),
            signal("rescore-nsv", ArchSignals::rescore_nsv, proxy_seconds),
            signal(
                "final-valid-nsv",
                ArchSignals::final_valid_nsv,
                final_seconds,
            ),
        ];
        // A signal some result cannot give (no proxy record, no final training) ranks nothing.
        signals
            .into_iter()
            .filter(|s| s.values.iter().all(|v| v.is_finite()))
            .collect()
    }

    /// A proxy-only study's signals: `name`, its rescoring fitness (the mean fitness over its
    /// proxy trainings, as a search with those settings would rank), and `name-pooled-nsv`, the
    /// mean sensitivity over N, S, V of its proxy trainings' validation confusions summed over
    /// folds and seeds (with one patient per fold, leave-one-patient-out cross-validation
    /// pooled over the patients).
    pub fn from_proxy_study(name: &str, results: &[ArchSignals]) -> Vec<Self> {
        let n = results.len().max(1) as f64;
        let seconds = results.iter().map(|r| r.proxy_seconds).sum::<f64>() / n;
        vec![
            Self {
                name: name.into(),
                values: results.iter().map(ArchSignals::rescore_fitness).collect(),
                seconds,
            },
            Self {
                name: format!("{name}-pooled-nsv"),
                values: results.iter().map(ArchSignals::pooled_nsv).collect(),
                seconds,
            },
        ]
    }
}

/// A statistic and its bootstrap 95 % percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The statistic on the sample.
    pub value: f64,
    /// 2.5th percentile over the resamples.
    pub low: f64,
    /// 97.5th percentile over the resamples.
    pub high: f64,
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3}[{:.3},{:.3}]", self.value, self.low, self.high)
    }
}

/// How well one signal predicts the pseudo-test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalFit {
    /// The signal's name ([`NamedSignal::name`]).
    pub name: String,
    /// Kendall's τ-b against the pseudo-test, all architectures.
    pub tau: Interval,
    /// Spearman's ρ, all architectures.
    pub rho: Interval,
    /// τ over the better half by pseudo-test score.
    pub tau_top: Interval,
    /// ρ over the better half.
    pub rho_top: Interval,
    /// Pseudo-test points between the best architecture and the signal's pick.
    pub regret: f64,
    /// Kendall's τ within each feature entry's architectures (entries with at least 4),
    /// averaged over those entries: how well the signal ranks once the entry is fixed; NaN
    /// when no entry has 4.
    pub tau_within_entry: f64,
    /// The signal's pick.
    pub pick: NetArch,
    /// Mean wall time of the signal's trainings per architecture.
    pub seconds: f64,
}

/// A two-stage pick: the `k` best by the signal `first`, then the best of those by the final
/// trainings' DS1 validation score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoStage {
    /// The first stage's signal.
    pub first: String,
    /// Architectures trained fully.
    pub k: usize,
    /// Pseudo-test points between the best architecture and the pick.
    pub regret: f64,
    /// Mean wall time per architecture: the first signal's for every one, plus the final
    /// trainings of `k` of them spread over all.
    pub seconds: f64,
    /// The pick.
    pub pick: NetArch,
}

/// What [`summarize`] finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalSummary {
    /// Architectures measured.
    pub archs: usize,
    /// Final seeds per architecture.
    pub seeds: usize,
    /// One entry per signal.
    pub signals: Vec<SignalFit>,
    /// Standard deviation of the architectures' pseudo-test scores (mean over seeds).
    pub between_sd: f64,
    /// Standard deviation of one architecture's pseudo-test score across final seeds, pooled
    /// over the architectures (root of the mean within-architecture variance).
    pub within_sd: f64,
    /// Cheap signal for all, final training for the top: each `first` signal's best `k`
    /// architectures, the pick among them by the final trainings' DS1 validation.
    pub two_stage: Vec<TwoStage>,
    /// The best architecture's pseudo-test score (mean over seeds).
    pub best: f64,
    /// Its architecture.
    pub best_arch: NetArch,
}

/// The fits to the pseudo-test of the [built-in](NamedSignal::built_in) signals and of the
/// `extra` ones (a value per result, in order), with `resamples` bootstrap resamples of the
/// architectures (a generator seeded with `seed`). Fails on fewer than 4 architectures or on
/// a result without a finite pseudo-test score.
pub fn summarize(
    results: &[ArchSignals],
    extra: &[NamedSignal],
    resamples: usize,
    seed: u64,
) -> Result<SignalSummary, EcgSearchError> {
    if results.len() < 4 {
        return Err(EcgSearchError::Config(format!(
            "{} architectures: the study's summary needs at least 4",
            results.len()
        )));
    }
    let target: Vec<f64> = results.iter().map(ArchSignals::pseudo_test).collect();
    if let Some(r) = results.iter().find(|r| !r.pseudo_test().is_finite()) {
        return Err(EcgSearchError::Config(format!(
            "#{} {} has no pseudo-test score",
            r.index, r.arch
        )));
    }
    let (best_i, &best) = target
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("at least 4");
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| target[b].total_cmp(&target[a]));
    let top: Vec<usize> = order[..results.len() / 2].to_vec();
    let mut signals = NamedSignal::built_in(results);
    for signal in extra {
        if signal.values.len() != results.len() {
            return Err(EcgSearchError::Config(format!(
                "signal {}: {} values for {} architectures",
                signal.name,
                signal.values.len(),
                results.len()
            )));
        }
        signals.push(signal.clone());
    }
    let mut fits = Vec::new();
    for (
        k,
        NamedSignal {
            name,
            values: x,
            seconds,
        },
    ) in signals.iter().enumerate()
    {
        let pick = first_best(0..results.len(), x);
        let stat = |which: &[usize], f: fn(&[f64], &[f64]) -> f64, s: u64| {
            bootstrap(x, &target, which, f, resamples, s)
        };
        let base = seed.wrapping_add(4 * k as u64);
        let all: Vec<usize> = (0..results.len()).collect();
        fits.push(SignalFit {
            name: name.clone(),
            tau: stat(&all, tau, base)?,
            rho: stat(&all, rho, base + 1)?,
            tau_top: stat(&top, tau, base + 2)?,
            rho_top: stat(&top, rho, base + 3)?,
            regret: best - target[pick],
            tau_within_entry: within_entry(results, x, &target),
            pick: results[pick].arch,
            seconds: *seconds,
        });
    }
    let final_valid: Vec<f64> = results.iter().map(ArchSignals::final_valid).collect();
    let final_seconds = signals
        .iter()
        .find(|s| s.name == "final-valid")
        .map_or(0.0, |s| s.seconds);
    let mut two_stage = Vec::new();
    for first in signals
        .iter()
        .filter(|s| !s.name.starts_with("final-valid"))
    {
        for k in [3, 5, 10] {
            if k >= results.len() {
                continue;
            }
            let mut by_first: Vec<usize> = (0..results.len()).collect();
            by_first.sort_by(|&a, &b| first.values[b].total_cmp(&first.values[a]).then(a.cmp(&b)));
            let pick = first_best(by_first[..k].iter().copied(), &final_valid);
            two_stage.push(TwoStage {
                first: first.name.clone(),
                k,
                regret: best - target[pick],
                seconds: first.seconds + k as f64 / results.len() as f64 * final_seconds,
                pick: results[pick].arch,
            });
        }
    }
    let within_var: Vec<f64> = results
        .iter()
        .map(|r| {
            let s = dcl_evo::mean_std(&r.pseudo_test_scores()).1;
            s * s
        })
        .collect();
    Ok(SignalSummary {
        archs: results.len(),
        seeds: results.iter().map(|r| r.finals.len()).min().unwrap_or(0),
        signals: fits,
        two_stage,
        between_sd: dcl_evo::mean_std(&target).1,
        within_sd: mean(&within_var).sqrt(),
        best,
        best_arch: results[best_i].arch,
    })
}

/// The position among `at` whose value in `x` is largest, the lowest position among equals
/// (`at` must not be empty).
fn first_best(at: impl Iterator<Item = usize>, x: &[f64]) -> usize {
    at.max_by(|&a, &b| x[a].total_cmp(&x[b]).then(b.cmp(&a)))
        .expect("at least one position")
}

/// Kendall's τ of `x` against `y` within each feature entry's results (4 or more), averaged.
fn within_entry(results: &[ArchSignals], x: &[f64], y: &[f64]) -> f64 {
    let mut taus = Vec::new();
    for entry in dcl_train::FeatureEntry::ALL {
        let at: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].arch.features == entry)
            .collect();
        if at.len() >= 4 {
            let pick = |v: &[f64]| at.iter().map(|&i| v[i]).collect::<Vec<_>>();
            taus.push(tau(&pick(x), &pick(y)));
        }
    }
    mean(&taus)
}

fn tau(x: &[f64], y: &[f64]) -> f64 {
    dcl_predictor::metrics::kendall_tau(x, y).unwrap_or(f64::NAN)
}

fn rho(x: &[f64], y: &[f64]) -> f64 {
    dcl_predictor::metrics::spearman_rho(x, y).unwrap_or(f64::NAN)
}

/// `f` over the pairs at `which`, and its percentile interval over `resamples` resamples of
/// those pairs with replacement.
fn bootstrap(
    x: &[f64],
    y: &[f64],
    which: &[usize],
    f: fn(&[f64], &[f64]) -> f64,
    resamples: usize,
    seed: u64,
) -> Result<Interval, EcgSearchError> {
    let pick = |idx: &[usize]| -> (Vec<f64>, Vec<f64>) {
        (
            idx.iter().map(|&i| x[i]).collect(),
            idx.iter().map(|&i| y[i]).collect(),
        )
    };
    let (px, py) = pick(which);
    let value = f(&px, &py);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| {
            let idx: Vec<usize> = (0..which.len())
                .map(|_| which[rng.random_range(0..which.len())])
                .collect();
            let (bx, by) = pick(&idx);
            f(&bx, &by)
        })
        .filter(|v| v.is_finite())
        .collect();
    if stats.is_empty() {
        return Err(EcgSearchError::Config(
            "no bootstrap resample gave a finite statistic".into(),
        ));
    }
    stats.sort_by(f64::total_cmp);
    let at = |q: f64| stats[((q * (stats.len() - 1) as f64).round() as usize).min(stats.len() - 1)];
    Ok(Interval {
        value,
        low: at(0.025),
        high: at(0.975),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcl_train::{ClassMetrics, FeatureEntry};

    fn metrics(confusion: Vec<Vec<usize>>) -> ClassMetrics {
        let (mut truth, mut predicted) = (Vec::new(), Vec::new());
        for (t, row) in confusion.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                truth.extend(std::iter::repeat_n(t as u8, n));
                predicted.extend(std::iter::repeat_n(p as u8, n));
            }
        }
        let m = ClassMetrics::new(&truth, &predicted, 4).unwrap();
        assert_eq!(m.confusion, confusion);
        m
    }

    /// A result whose pseudo-test confusion gets `right` of 100 S beats right (N and V all
    /// right), with the given proxy fitnesses and validation balanced accuracy.
    fn result(index: usize, proxy: Vec<f64>, valid: f64, right: &[usize]) -> ArchSignals {
        let arch = draw_archs(&NetSpace::cells(), 40, 3).unwrap()[index];
        let finals = right
            .iter()
            .enumerate()
            .map(|(seed, &r)| {
                let mut v = metrics(vec![vec![1; 4]; 4]);
                v.balanced_accuracy = valid;
                FinalRun {
                    seed: seed as u64,
                    valid: v,
                    test: metrics(vec![
                        vec![100, 0, 0, 0],
                        vec![100 - r, r, 0, 0],
                        vec![0, 0, 100, 0],
                        vec![0, 0, 0, 4],
                    ]),
                    best_epoch: 1,
                    seconds: 0.0,
                    latency_ms: None,
                    per_record: Default::default(),
                }
            })
            .collect();
        ArchSignals {
            index,
            arch,
            proxy,
            proxy_records: Vec::new(),
            finals,
            proxy_seconds: 0.0,
            final_seconds: 0.0,
        }
    }

    /// The proxy's N, S, V scores: the search's first seed fold by fold, every training, and
    /// the confusions pooled (a patient with few beats weighs little).
    #[test]
    fn proxy_scores_per_fold_and_pooled() {
        let record = |confusion: Vec<Vec<usize>>| CandidateRecord {
            cell: String::new(),
            fitness: 0.0,
            report: dcl_train::TrainReport {
                epochs: Vec::new(),
                best_epoch: 1,
                valid: metrics(confusion),
                steps: 1,
                seconds: 0.0,
                engine: dcl_train::TrainEngine::Auto,
            },
            params: None,
            latency_ms: None,
        };
        let mut r = result(0, vec![50.0, 70.0], 0.5, &[50]);
        // Seed 0: folds of Se (1, 1/2, 1) and (1/2, 0, 1); seed 1: (1, 1, 1) and (1, 1, 1).
        r.proxy_records = vec![
            record(vec![
                vec![2, 0, 0, 0],
                vec![1, 1, 0, 0],
                vec![0, 0, 2, 0],
                vec![0; 4],
            ]),
            record(vec![
                vec![1, 1, 0, 0],
                vec![8, 0, 0, 0],
                vec![0, 0, 2, 0],
                vec![0; 4],
            ]),
            record(vec![
                vec![2, 0, 0, 0],
                vec![0, 2, 0, 0],
                vec![0, 0, 2, 0],
                vec![0; 4],
            ]),
            record(vec![
                vec![2, 0, 0, 0],
                vec![0, 2, 0, 0],
                vec![0, 0, 2, 0],
                vec![0; 4],
            ]),
        ];
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} {b}");
        close(r.proxy_nsv(), 100.0 * (2.5 / 3.0 + 1.5 / 3.0) / 2.0);
        close(r.rescore_nsv(), 100.0 * (2.5 / 3.0 + 1.5 / 3.0 + 2.0) / 4.0);
        // Pooled: N 7 of 8, S 5 of 14, V 8 of 8.
        close(r.pooled_nsv(), 100.0 * (7.0 / 8.0 + 5.0 / 14.0 + 1.0) / 3.0);
        let signals = NamedSignal::from_proxy_study("x", &[r.clone(), r]);
        assert_eq!(signals[0].values, vec![60.0, 60.0]);
        assert_eq!(signals[1].name, "x-pooled-nsv");
    }

    #[test]
    fn mean_se_over_n_s_v_leaves_out_f_and_empty_classes() {
        let c = vec![
            vec![8, 2, 0, 0],
            vec![0, 0, 0, 0],
            vec![1, 0, 3, 0],
            vec![0, 0, 0, 9],
        ];
        assert!((mean_se_nsv(&c) - (0.8 + 0.75) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn draws_are_distinct_seeded_and_in_the_space() {
        let space = NetSpace::new(FeatureEntry::ALL.to_vec()).unwrap();
        let a = draw_archs(&space, 40, 7).unwrap();
        assert_eq!(a, draw_archs(&space, 40, 7).unwrap());
        assert_ne!(a, draw_archs(&space, 40, 8).unwrap());
        let keys: std::collections::HashSet<_> = a.iter().map(|x| space.key(x)).collect();
        assert_eq!(keys.len(), 40);
        assert!(a.iter().all(|x| space.contains(x)));
        assert!(draw_archs(&space, 0, 7).is_err());
        assert!(draw_archs(&NetSpace::cells(), 10_000, 7).is_err());
        let wide =
            NetSpace::with_skeletons(FeatureEntry::ALL.to_vec(), dcl_train::SkeletonMenu::wide())
                .unwrap();
        let w = draw_archs(&wide, 40, 7).unwrap();
        assert!(w.iter().all(|x| wide.contains(x) && x.skeleton.is_some()));
    }

    /// A signal that orders the architectures as the pseudo-test does has τ = ρ = 1 and no
    /// regret; a reversed one τ = -1 and the largest regret; the spreads are the sample's.
    #[test]
    fn the_summary_measures_each_signal_against_the_pseudo_test() {
        // S right: 10, 30, 50, 70, 90 (+-2 across seeds); the proxy agrees, the validation
        // score is reversed, the rescoring is noise around the proxy.
        let results: Vec<ArchSignals> = (0..5)
            .map(|i| {
                let r = 10 + 20 * i;
                result(
                    i,
                    vec![i as f64, i as f64 + [3.0, -3.0][i % 2]],
                    1.0 - 0.1 * i as f64,
                    &[r - 2, r, r + 2],
                )
            })
            .collect();
        let s = summarize(&results, &[], 200, 0).unwrap();
        let by = |name: &str| s.signals.iter().find(|f| f.name == name).unwrap();
        let proxy = by("proxy");
        assert_eq!((proxy.tau.value, proxy.rho.value), (1.0, 1.0));
        // Every architecture here has its features at the head: one group, the same τ.
        assert_eq!(proxy.tau_within_entry, 1.0);
        assert_eq!(proxy.regret, 0.0);
        assert_eq!(proxy.pick, results[4].arch);
        assert!(proxy.tau.low <= proxy.tau.value && proxy.tau.high >= proxy.tau.value);
        let valid = by("final-valid");
        assert_eq!((valid.tau.value, valid.rho.value), (-1.0, -1.0));
        // The pseudo-test score is mean Se over N, S, V (F has 4 beats): S's 80-point range
        // is a third of it.
        let points = 80.0 / 3.0 * 100.0 / 100.0;
        assert!((valid.regret - points).abs() < 1e-9, "{}", valid.regret);
        assert_eq!(s.best_arch, results[4].arch);
        // Between: sd of 10..90 step 20 on S, over three classes; within: sd of (-2, 0, 2).
        let between = dcl_evo::mean_std(&[10.0, 30.0, 50.0, 70.0, 90.0]).1 / 3.0;
        assert!((s.between_sd - between).abs() < 1e-9);
        assert!((s.within_sd - 2.0 / 3.0).abs() < 1e-9, "{}", s.within_sd);
        assert_eq!((s.archs, s.seeds), (5, 3));
        // The better half is the two best by pseudo-test.
        assert_eq!(proxy.tau_top.value, 1.0);
        assert!(summarize(&results[..3], &[], 10, 0).is_err());
        // No proxy record here: the proxy's N, S, V scores are left out, the final trainings'
        // are there (validation confusion of ones: each class a quarter right).
        assert!(s.signals.iter().all(|f| f.name != "proxy-nsv"));
        assert_eq!(by("final-valid-nsv").tau.value, 0.0);
        assert_eq!(results[0].final_valid_nsv(), 25.0);
        // Two-stage picks: the proxy's best k, then the (reversed) validation's best of those.
        let t = s
            .two_stage
            .iter()
            .find(|t| t.first == "proxy" && t.k == 3)
            .unwrap();
        assert_eq!(t.pick, results[2].arch);
        assert!((t.regret - 40.0 / 3.0).abs() < 1e-9, "{}", t.regret);
        assert!(s.two_stage.iter().all(|t| t.k < 5));
        let extra = NamedSignal {
            name: "mine".into(),
            values: vec![1.0, 2.0],
            seconds: 0.0,
        };
        assert!(summarize(&results, &[extra], 10, 0).is_err());
    }
}
