//! `dcl-enas ecg compare REPORT...`: the DS2 results of several runs side by side, in the
//! inter-patient literature's scores ([`dcl_ecg::AamiScores`]) and ours.
//!
//! Each file is one search seed of one or two models: an `ecg search` run's `report.json` gives
//! its baseline (`baseline-ENTRY`) and the network its strategy found (`dcl-enas`,
//! `random-search`, `regularized-evolution`); an `ecg baseline --out` or `ecg cell --out` file
//! gives its one network. Per file, each score is the mean over the final-training seeds; per
//! model, the mean ± sample std of those over the files. The output ends with one line per
//! model:
//! `ecg model=NAME balanced_acc=M±S macro_f1=M±S mean_se=M±S acc=M±S jk=M±S seeds=K`
//! (percentages but jκ, which is a fraction as published).

use std::path::{Path, PathBuf};

use clap::Args;
use dcl_ecg::AamiScores;
use serde::Deserialize;

use dcl_cli::{CliError, invalid};

use crate::command::{SingleReport, baseline_name, found_name};
use crate::{EcgSearchReport, FinalRun};

/// `ecg compare`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Reports, one per search seed: `report.json` of `ecg search` runs, or files written by
    /// `ecg baseline --out` / `ecg cell --out`.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Paired differences `A:B` (model names as in the table, e.g. `dcl-enas:random-search`):
    /// per search seed both reports share, A's balanced accuracy and macro-F1 minus B's, their
    /// mean and a 95 % t-interval (n - 1 degrees of freedom). Repeatable.
    #[arg(long, value_parser = parse_pair)]
    pub paired: Vec<(String, String)>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() && a != b => {
            Ok((a.to_string(), b.to_string()))
        }
        _ => Err(format!("{s:?}: a pair is A:B, two different model names")),
    }
}

/// The 97.5th percentile of Student's t with `df` degrees of freedom (two-sided 95 %
/// intervals), to three decimals: the table for 1 to 30, then 40, 60, 120 and the normal's.
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Paired differences of one metric: the per-seed differences, their mean and the 95 %
/// t-interval of the mean (`None` with fewer than two pairs).
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// (seed, A − B) per seed both have, in seed order.
    pub per_seed: Vec<(u64, f64)>,
    /// Mean difference.
    pub mean: f64,
    /// 95 % t-interval of the mean.
    pub interval: Option<(f64, f64)>,
}

impl Paired {
    /// The differences `a - b` of the seeds both give.
    pub fn of(a: &[(u64, f64)], b: &[(u64, f64)]) -> Self {
        let mut per_seed: Vec<(u64, f64)> = a
            .iter()
            .filter_map(|&(seed, x)| {
                b.iter()
                    .find(|(s, _)| *s == seed)
                    .map(|&(_, y)| (seed, x - y))
            })
            .collect();
        per_seed.sort_by_key(|&(s, _)| s);
        let d: Vec<f64> = per_seed.iter().map(|&(_, d)| d).collect();
        let (mean, sd) = dcl_evo::mean_std(&d);
        let interval = (d.len() >= 2).then(|| {
            let half = t_975(d.len() - 1) * sd / (d.len() as f64).sqrt();
            (mean - half, mean + half)
        });
        Self {
            per_seed,
            mean,
            interval,
        }
    }
}

/// The DS2 scores of one model in one report, each the mean over its final runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelScores {
    /// The model's name (`baseline-head`, `dcl-enas`, ...).
    pub model: String,
    /// The report it came from.
    pub file: PathBuf,
    /// The report's search seed, when it records one.
    pub seed: Option<u64>,
    /// Final-training runs averaged.
    pub runs: usize,
    /// Balanced accuracy, macro-F1, mean sensitivity over N/S/V/F, accuracy (all %), jκ.
    pub headline: [f64; 5],
    /// Sensitivity of N, S, V, F (%).
    pub sensitivity: [f64; 4],
    /// Positive predictive value of N, S, V, F (%, AAMI's rule for V).
    pub ppv: [f64; 4],
}

/// A report's search seed (when it records one) and its models with their final runs.
type ReportModels = (Option<u64>, Vec<(String, Vec<FinalRun>)>);

/// The models of one report file with their final runs, and its search seed.
fn models_of(path: &Path) -> Result<ReportModels, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    #[derive(Deserialize)]
    struct Probe {
        runs: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{}: not a JSON report: {e}", path.display())))?;
    let bad = |e: serde_json::Error| invalid(format!("{}: {e}", path.display()));
    // The literature's scores are DS2's: a design-mode run's are the pseudo-test's.
    let pseudo = || {
        invalid(format!(
            "{}: tested on the pseudo-test (design mode), not DS2: ecg compare tabulates DS2 \
             results",
            path.display()
        ))
    };
    if probe.runs.is_some() {
        let r: SingleReport = serde_json::from_str(&text).map_err(bad)?;
        if r.config.pseudo_test {
            return Err(pseudo());
        }
        Ok((Some(r.config.seed), vec![(r.model, r.runs)]))
    } else {
        let r: EcgSearchReport = serde_json::from_str(&text).map_err(bad)?;
        if r.test_set != "DS2" {
            return Err(pseudo());
        }
        Ok((
            r.seed,
            vec![
                (baseline_name(r.baseline_entry), r.baseline),
                (found_name(&r.strategy), r.found),
            ],
        ))
    }
}

/// The scores of `runs` (one model in one report), means over the runs.
pub fn model_scores(model: &str, file: &Path, runs: &[FinalRun]) -> Result<ModelScores, CliError> {
    if runs.is_empty() {
        return Err(invalid(format!(
            "{}: {model} has no final run",
            file.display()
        )));
    }
    let mut sum = ModelScores {
        model: model.into(),
        file: file.into(),
        seed: None,
        runs: runs.len(),
        headline: [0.0; 5],
        sensitivity: [0.0; 4],
        ppv: [0.0; 4],
    };
    for r in runs {
        let s = AamiScores::from_confusion(&r.test.confusion)
            .map_err(|e| invalid(format!("{}: {model} seed {}: {e}", file.display(), r.seed)))?;
        let jk = s.jk_index.ok_or_else(|| {
            invalid(format!(
                "{}: {model} seed {}: jκ is undefined (S or V absent from the test beats)",
                file.display(),
                r.seed
            ))
        })?;
        let values = [
            100.0 * r.test.balanced_accuracy,
            100.0 * r.test.macro_f1,
            100.0 * s.mean_sensitivity,
            100.0 * s.accuracy,
            jk,
        ];
        for (acc, v) in sum.headline.iter_mut().zip(values) {
            *acc += v;
        }
        for k in 0..4 {
            sum.sensitivity[k] += 100.0 * s.sensitivity[k].unwrap_or(0.0);
            sum.ppv[k] += 100.0 * s.ppv[k].unwrap_or(0.0);
        }
    }
    let n = runs.len() as f64;
    for v in sum
        .headline
        .iter_mut()
        .chain(&mut sum.sensitivity)
        .chain(&mut sum.ppv)
    {
        *v /= n;
    }
    Ok(sum)
}

/// Where a model's lines go: the baselines first, the searches after, as the issue lists them.
fn order(model: &str) -> usize {
    [
        "baseline-head",
        "baseline-stem",
        "baseline-logits",
        "random-search",
        "regularized-evolution",
        "dcl-enas",
    ]
    .iter()
    .position(|m| *m == model)
    .unwrap_or(usize::MAX)
}

/// Every model of every report, grouped by model: the baselines (head, stem, logits), then
/// random search, regularized evolution, DCL-ENAS, then any other; files in the given order.
pub fn compare(reports: &[PathBuf]) -> Result<Vec<Vec<ModelScores>>, CliError> {
    let mut groups: Vec<Vec<ModelScores>> = Vec::new();
    for path in reports {
        let (seed, models) = models_of(path)?;
        for (model, runs) in models {
            let scores = ModelScores {
                seed,
                ..model_scores(&model, path, &runs)?
            };
            match groups.iter_mut().find(|g| g[0].model == model) {
                Some(g) => g.push(scores),
                None => groups.push(vec![scores]),
            }
        }
    }
    groups.sort_by_key(|g| order(&g[0].model));
    Ok(groups)
}

/// The summary line of one model over its reports.
pub fn summary_line(group: &[ModelScores]) -> String {
    let stat = |i: usize, digits: usize| {
        let (m, s) = dcl_evo::mean_std(&group.iter().map(|g| g.headline[i]).collect::<Vec<_>>());
        format!("{m:.digits$}±{s:.digits$}")
    };
    format!(
        "ecg model={} balanced_acc={} macro_f1={} mean_se={} acc={} jk={} seeds={}",
        group[0].model,
        stat(0, 2),
        stat(1, 2),
        stat(2, 2),
        stat(3, 2),
        stat(4, 4),
        group.len()
    )
}

/// Runs `ecg compare`.
pub fn run(args: &CompareArgs) -> Result<(), CliError> {
    let groups = compare(&args.reports)?;
    println!(
        "| model | report | final runs | balanced acc | macro-F1 | mean Se | acc | jκ | Se N / S / V / F | +P N / S / V / F |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
    let four = |v: &[f64; 4]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    for g in &groups {
        for m in g {
            println!(
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.4} | {} | {} |",
                m.model,
                m.file.display(),
                m.runs,
                m.headline[0],
                m.headline[1],
                m.headline[2],
                m.headline[3],
                m.headline[4],
                four(&m.sensitivity),
                four(&m.ppv)
            );
        }
    }
    println!();
    println!("per class, mean over reports (%):");
    println!("| model | Se N | Se S | Se V | Se F | +P N | +P S | +P V | +P F |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for g in &groups {
        let mean = |f: &dyn Fn(&ModelScores) -> f64| g.iter().map(f).sum::<f64>() / g.len() as f64;
        let cells: Vec<String> = (0..4)
            .map(|k| format!("{:.1}", mean(&|m| m.sensitivity[k])))
            .chain((0..4).map(|k| format!("{:.1}", mean(&|m| m.ppv[k]))))
            .collect();
        println!("| {} | {} |", g[0].model, cells.join(" | "));
    }
    println!();
    for g in &groups {
        println!("{}", summary_line(g));
    }
    for (a, b) in &args.paired {
        for line in paired_lines(&groups, a, b)? {
            println!("{line}");
        }
    }
    Ok(())
}

/// The `ecg paired a=A b=B metric=... mean=... ci=[...] per_seed=... seeds=N` lines of one
/// pair: balanced accuracy and macro-F1, A minus B, per search seed both have.
pub fn paired_lines(
    groups: &[Vec<ModelScores>],
    a: &str,
    b: &str,
) -> Result<Vec<String>, CliError> {
    let group = |name: &str| {
        groups.iter().find(|g| g[0].model == name).ok_or_else(|| {
            invalid(format!(
                "--paired: no model {name:?} among {:?}",
                groups
                    .iter()
                    .map(|g| g[0].model.as_str())
                    .collect::<Vec<_>>()
            ))
        })
    };
    let (ga, gb) = (group(a)?, group(b)?);
    let mut lines = Vec::new();
    for (metric, i) in [("balanced_acc", 0), ("macro_f1", 1)] {
        let values = |g: &[ModelScores]| -> Result<Vec<(u64, f64)>, CliError> {
            g.iter()
                .map(|m| {
                    m.seed.map(|s| (s, m.headline[i])).ok_or_else(|| {
                        invalid(format!(
                            "--paired: {} records no search seed (written before seeds were \
                             recorded)",
                            m.file.display()
                        ))
                    })
                })
                .collect()
        };
        let p = Paired::of(&values(ga)?, &values(gb)?);
        if p.per_seed.is_empty() {
            return Err(invalid(format!(
                "--paired {a}:{b}: no search seed in common"
            )));
        }
        let ci = p
            .interval
            .map_or("none".to_string(), |(l, u)| format!("[{l:.2},{u:.2}]"));
        let per_seed: Vec<String> = p
            .per_seed
            .iter()
            .map(|(s, d)| format!("{s}:{d:+.2}"))
            .collect();
        lines.push(format!(
            "ecg paired a={a} b={b} metric={metric} mean={:+.2} ci={ci} per_seed={} seeds={}",
            p.mean,
            per_seed.join(","),
            p.per_seed.len()
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_are_the_tables() {
        assert_eq!(t_975(1), 12.706);
        assert_eq!(t_975(4), 2.776);
        assert_eq!(t_975(30), 2.042);
        assert_eq!(t_975(1000), 1.960);
        assert!(t_975(0).is_nan());
    }

    /// Differences over the seeds both sides have, their mean and the t-interval.
    #[test]
    fn paired_differences_match_seeds_and_give_a_t_interval() {
        let a = [(0, 75.0), (1, 76.0), (2, 74.0), (9, 80.0)];
        let b = [(2, 73.0), (1, 75.0), (0, 72.0), (5, 1.0)];
        let p = Paired::of(&a, &b);
        assert_eq!(p.per_seed, vec![(0, 3.0), (1, 1.0), (2, 1.0)]);
        let mean = 5.0 / 3.0;
        assert!((p.mean - mean).abs() < 1e-12);
        // sd of (3, 1, 1) = sqrt(4/3); half width t(2) sd / sqrt 3.
        let half = 4.303 * (4.0f64 / 3.0).sqrt() / 3.0f64.sqrt();
        let (l, u) = p.interval.unwrap();
        assert!((l - (mean - half)).abs() < 1e-9 && (u - (mean + half)).abs() < 1e-9);
        assert_eq!(Paired::of(&a[..1], &b).interval, None);
        assert_eq!(
            parse_pair("dcl-enas:random-search"),
            Ok(("dcl-enas".into(), "random-search".into()))
        );
        for bad in ["x", "a:", ":b", "a:a"] {
            assert!(parse_pair(bad).is_err(), "{bad}");
        }
    }
}
