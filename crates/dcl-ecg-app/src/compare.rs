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
}

/// The DS2 scores of one model in one report, each the mean over its final runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelScores {
    /// The model's name (`baseline-head`, `dcl-enas`, ...).
    pub model: String,
    /// The report it came from.
    pub file: PathBuf,
    /// Final-training runs averaged.
    pub runs: usize,
    /// Balanced accuracy, macro-F1, mean sensitivity over N/S/V/F, accuracy (all %), jκ.
    pub headline: [f64; 5],
    /// Sensitivity of N, S, V, F (%).
    pub sensitivity: [f64; 4],
    /// Positive predictive value of N, S, V, F (%, AAMI's rule for V).
    pub ppv: [f64; 4],
}

/// The models of one report file with their final runs.
fn models_of(path: &Path) -> Result<Vec<(String, Vec<FinalRun>)>, CliError> {
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
        Ok(vec![(r.model, r.runs)])
    } else {
        let r: EcgSearchReport = serde_json::from_str(&text).map_err(bad)?;
        if r.test_set != "DS2" {
            return Err(pseudo());
        }
        Ok(vec![
            (baseline_name(r.baseline_entry), r.baseline),
            (found_name(&r.strategy), r.found),
        ])
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
        for (model, runs) in models_of(path)? {
            let scores = model_scores(&model, path, &runs)?;
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
    Ok(())
}
