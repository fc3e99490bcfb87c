//! `ecg signals` and `ecg signals-report`: the signal study's run directory
//! ([`crate::signals`]). `DIR/plan.json` holds the settings and the architectures (written
//! once; a later run must bring the same settings), `DIR/archs/NNN.json` each architecture's
//! measurements, written atomically as each finishes: a killed run resumes by running the same
//! command again, and `--part I/N` splits the list between processes.

use std::path::{Path, PathBuf};

use clap::Args;
use dcl_train::NetArch;
use serde::{Deserialize, Serialize};

use dcl_cli::{CliError, invalid};

use super::{EcgArgs, EcgConfig, write_json};
use crate::signals::{ArchSignals, NamedSignal, SignalSummary, summarize};

/// The study's plan file in its run directory.
pub const PLAN_FILE: &str = "plan.json";
/// The folder of the per-architecture files.
pub const ARCHS_DIR: &str = "archs";

/// `ecg signals`' arguments.
#[derive(Debug, Clone, Args)]
pub struct SignalsArgs {
    /// Run directory (plan.json, archs/); running the same command again resumes it.
    #[arg(long)]
    pub out: PathBuf,
    /// Architectures drawn from the space [default: 40].
    #[arg(long, default_value_t = 40)]
    pub archs: usize,
    /// Seed of the draw [default: 0].
    #[arg(long, default_value_t = 0)]
    pub archs_seed: u64,
    /// The proxy trainings alone, no final training: a selection signal measured beside a
    /// finished study (`signals-report --signal NAME=DIR`); --rescore-repeats may be 0.
    #[arg(long)]
    pub proxy_only: bool,
    /// Confirmation only: the same architectures' final trainings on all of DS1 (no
    /// pseudo-test), tested on DS2 once, to report a signal chosen on the pseudo-test against
    /// DS2. Without --pseudo-test.
    #[arg(long, conflicts_with = "proxy_only")]
    pub confirm_on_ds2: bool,
    /// This process's share of the list, `I/N`: the architectures whose position is I modulo
    /// N [default: 0/1].
    #[arg(long, default_value = "0/1", value_parser = parse_part)]
    pub part: (usize, usize),
    /// The settings (with --pseudo-test).
    #[command(flatten)]
    pub args: EcgArgs,
}

/// `ecg signals-report`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct SignalsReportArgs {
    /// The study's run directory.
    pub dir: PathBuf,
    /// Bootstrap resamples of the architectures [default: 2000].
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// Another selection signal, `NAME=STUDY`: the mean proxy fitness of each architecture in
    /// the study STUDY (usually `ecg signals --proxy-only` with other proxy settings; its
    /// architectures must be DIR's). Repeatable.
    #[arg(long = "signal", value_parser = parse_signal)]
    pub signals: Vec<(String, PathBuf)>,
    /// Where to write the scatter plot [default: DIR/signals.svg].
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

fn parse_part(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{s:?}: a part is I/N with 0 <= I < N");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn parse_signal(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, dir)) if !name.is_empty() && !dir.is_empty() && !name.contains(' ') => {
            Ok((name.to_string(), PathBuf::from(dir)))
        }
        _ => Err(format!(
            "{s:?}: a signal is NAME=STUDY_DIR (a name without spaces)"
        )),
    }
}

/// What `plan.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalsPlan {
    /// The settings every architecture is measured with.
    pub config: EcgConfig,
    /// Seed of the draw.
    pub archs_seed: u64,
    /// The architectures, in study order.
    pub archs: Vec<NetArch>,
    /// Proxy trainings alone (`--proxy-only`).
    #[serde(default)]
    pub proxy_only: bool,
    /// Final trainings tested on DS2 (`--confirm-on-ds2`).
    #[serde(default)]
    pub confirm_on_ds2: bool,
}

impl SignalsPlan {
    /// What the study measures.
    pub fn target(&self) -> crate::signals::StudyTarget {
        use crate::signals::StudyTarget;
        if self.proxy_only {
            StudyTarget::ProxyOnly
        } else if self.confirm_on_ds2 {
            StudyTarget::Ds2Confirmation
        } else {
            StudyTarget::PseudoTest
        }
    }
}

fn arch_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(ARCHS_DIR).join(format!("{index:03}.json"))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// The settings and the plan of `ecg signals`: the plan found in the run directory, which
/// the settings must equal, or a new one written there. Returns the plan (the settings in
/// it), and the architectures of this part not measured yet.
pub(super) fn plan(args: &SignalsArgs) -> Result<(SignalsPlan, Vec<(usize, NetArch)>), CliError> {
    let cfg = args.args.resolve(None)?;
    if cfg.pseudo_test == args.confirm_on_ds2 {
        return Err(invalid(
            if args.confirm_on_ds2 {
                "--confirm-on-ds2 tests on DS2 the networks trained on all of DS1: without \
             --pseudo-test"
            } else {
                "ecg signals judges on the pseudo-test and never reads DS2: give --pseudo-test \
             (key `pseudo_test`), or --confirm-on-ds2 for the one confirmation on DS2"
            }
            .into(),
        ));
    }
    let search = cfg.search_config()?;
    if search.rescore.repeats == 0 && !args.proxy_only {
        return Err(invalid(
            "--rescore-repeats (key `rescore_repeats`) must be at least 1: the rescoring \
             signal is the mean over the search's training and the repeats"
                .into(),
        ));
    }
    let space = search
        .space()
        .map_err(|e| invalid(format!("the space: {e}")))?;
    let archs = crate::signals::draw_archs(&space, args.archs, args.archs_seed)
        .map_err(|e| invalid(format!("--archs: {e}")))?;
    let plan = SignalsPlan {
        config: cfg.clone(),
        archs_seed: args.archs_seed,
        archs,
        proxy_only: args.proxy_only,
        confirm_on_ds2: args.confirm_on_ds2,
    };
    let path = args.out.join(PLAN_FILE);
    if path.exists() {
        let found: SignalsPlan = read_json(&path)?;
        if found != plan {
            return Err(invalid(format!(
                "--out {}: its plan.json was written with other settings or architectures; \
                 run with the same flags to resume, or start another directory",
                args.out.display()
            )));
        }
    } else {
        std::fs::create_dir_all(&args.out)?;
        write_json(&path, &plan)?;
    }
    std::fs::create_dir_all(args.out.join(ARCHS_DIR))?;
    let (part, parts) = args.part;
    let todo = plan
        .archs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % parts == part && !arch_path(&args.out, *i).exists())
        .map(|(i, a)| (i, *a))
        .collect();
    Ok((plan, todo))
}

/// Writes one architecture's measurements.
pub(super) fn save(dir: &Path, signals: &ArchSignals) -> Result<(), CliError> {
    write_json(&arch_path(dir, signals.index), signals)
}

/// The measurements in the run directory, in study order, and how many the plan lists.
fn load(dir: &Path) -> Result<(Vec<ArchSignals>, SignalsPlan), CliError> {
    let plan: SignalsPlan = read_json(&dir.join(PLAN_FILE))?;
    let mut results = Vec::new();
    for (i, arch) in plan.archs.iter().enumerate() {
        let path = arch_path(dir, i);
        if path.exists() {
            let r: ArchSignals = read_json(&path)?;
            if r.index != i || r.arch != *arch {
                return Err(invalid(format!(
                    "{}: holds #{} {}, the plan's #{i} is {arch}",
                    path.display(),
                    r.index,
                    r.arch
                )));
            }
            results.push(r);
        }
    }
    Ok((results, plan))
}

/// [`load`], refused while architectures are missing.
fn load_finished(dir: &Path) -> Result<(Vec<ArchSignals>, SignalsPlan), CliError> {
    let (results, plan) = load(dir)?;
    if results.len() < plan.archs.len() {
        return Err(invalid(format!(
            "{}: {} of {} architectures measured; run ecg signals --out {} again to finish",
            dir.display(),
            results.len(),
            plan.archs.len(),
            dir.display()
        )));
    }
    Ok((results, plan))
}

/// The study's lines: one per signal, then the spread.
pub fn summary_lines(s: &SignalSummary) -> Vec<String> {
    let mut lines: Vec<String> = s
        .signals
        .iter()
        .map(|f| {
            format!(
                "ecg signal={} tau={} rho={} tau_top={} rho_top={} tau_within_entry={:.3} regret={:.2} seconds={:.0} pick={} archs={}",
                f.name,
                f.tau,
                f.rho,
                f.tau_top,
                f.rho_top,
                f.tau_within_entry,
                f.regret,
                f.seconds,
                f.pick,
                s.archs
            )
        })
        .collect();
    for t in &s.two_stage {
        lines.push(format!(
            "ecg two-stage first={} then=final-valid k={} regret={:.2} seconds={:.0} pick={} archs={}",
            t.first, t.k, t.regret, t.seconds, t.pick, s.archs
        ));
    }
    lines.push(format!(
        "ecg spread between_sd={:.2} within_sd={:.2} ratio={:.2} best={:.2} best_arch={} archs={} seeds={}",
        s.between_sd,
        s.within_sd,
        s.between_sd / s.within_sd,
        s.best,
        s.best_arch,
        s.archs,
        s.seeds
    ));
    lines
}

/// `ecg signals-report`: the summary of a finished study (its lines, `summary.json`, the
/// plot); refused while architectures are missing.
pub(super) fn report(args: &SignalsReportArgs) -> Result<(), CliError> {
    let (results, plan) = load_finished(&args.dir)?;
    if plan.proxy_only {
        return Err(invalid(format!(
            "{}: a proxy-only study has no pseudo-test score; give it as --signal NAME={} to \
             the report of a study with final trainings",
            args.dir.display(),
            args.dir.display()
        )));
    }
    let mut extra = Vec::new();
    for (name, dir) in &args.signals {
        let (other, other_plan) = load_finished(dir)?;
        if other_plan.archs != plan.archs {
            return Err(invalid(format!(
                "--signal {name}={}: its architectures are not {}'s",
                dir.display(),
                args.dir.display()
            )));
        }
        extra.extend(NamedSignal::from_proxy_study(name, &other));
    }
    let s = summarize(&results, &extra, args.resamples, 0).map_err(|e| invalid(e.to_string()))?;
    let mut table = String::from(
        "| # | architecture | proxy | rescore | final valid | pseudo-test (mean ± sd over seeds) |\n| ---: | --- | ---: | ---: | ---: | ---: |\n",
    );
    for r in &results {
        let (m, sd) = dcl_evo::mean_std(&r.pseudo_test_scores());
        table.push_str(&format!(
            "| {} | `{}` | {:.2} | {:.2} | {:.2} | {m:.2} ± {sd:.2} |\n",
            r.index,
            r.arch,
            r.proxy_fitness(),
            r.rescore_fitness(),
            r.final_valid()
        ));
    }
    print!("{table}");
    let seconds: f64 = results
        .iter()
        .map(|r| r.proxy_seconds + r.final_seconds)
        .sum();
    println!(
        "trainings: {:.0} s in all, {:.0} s per architecture (proxy {:.0} s, final {:.0} s)",
        seconds,
        seconds / results.len() as f64,
        results.iter().map(|r| r.proxy_seconds).sum::<f64>() / results.len() as f64,
        results.iter().map(|r| r.final_seconds).sum::<f64>() / results.len() as f64
    );
    for entry in dcl_train::FeatureEntry::ALL {
        let group: Vec<&ArchSignals> = results
            .iter()
            .filter(|r| r.arch.features == entry)
            .collect();
        if group.is_empty() {
            continue;
        }
        let stat = |f: fn(&ArchSignals) -> f64| {
            dcl_evo::mean_std(&group.iter().map(|r| f(r)).collect::<Vec<_>>())
        };
        let (pt, pt_sd) = stat(ArchSignals::pseudo_test);
        let (proxy, proxy_sd) = stat(ArchSignals::proxy_fitness);
        let (valid, valid_sd) = stat(ArchSignals::final_valid);
        println!(
            "ecg entry={entry} archs={} pseudo_test={pt:.2}±{pt_sd:.2} proxy={proxy:.2}±{proxy_sd:.2} final_valid={valid:.2}±{valid_sd:.2}",
            group.len()
        );
        // Each test record's sensitivities, its confusions summed over the entry's
        // architectures and seeds (final runs that kept them).
        let mut per_record: std::collections::BTreeMap<&str, Vec<Vec<usize>>> = Default::default();
        for run in group.iter().flat_map(|r| &r.finals) {
            for (record, c) in &run.per_record {
                crate::signals::add_confusion(per_record.entry(record).or_default(), c);
            }
        }
        for (record, c) in per_record {
            let se: Vec<String> = ["N", "S", "V", "F"]
                .iter()
                .enumerate()
                .filter_map(|(t, name)| {
                    let n: usize = c.get(t)?.iter().sum();
                    (n > 0).then(|| format!("se_{name}={:.1}", 100.0 * c[t][t] as f64 / n as f64))
                })
                .collect();
            println!("ecg entry={entry} record={record} {}", se.join(" "));
        }
    }
    write_json(&args.dir.join("summary.json"), &s)?;
    let target: Vec<f64> = results.iter().map(ArchSignals::pseudo_test).collect();
    let sd: Vec<f64> = results
        .iter()
        .map(|r| dcl_evo::mean_std(&r.pseudo_test_scores()).1)
        .collect();
    let panel = |name: &str, f: fn(&ArchSignals) -> f64| {
        (
            name.to_string(),
            results.iter().map(f).zip(target.iter().copied()).collect(),
        )
    };
    let svg = dcl_cli::plot::scatters(
        if plan.confirm_on_ds2 {
            "ECG: DS1-only selection signals against DS2, confirmation only (mean Se over its classes; bars: sd over final seeds)"
        } else {
            "ECG: DS1-only selection signals against the pseudo-test (mean Se N, S, V; bars: sd over final seeds)"
        },
        if plan.confirm_on_ds2 {
            "DS2 score (%)"
        } else {
            "pseudo-test score (%)"
        },
        &[
            panel("proxy fitness (%)", ArchSignals::proxy_fitness),
            panel("rescoring fitness (%)", ArchSignals::rescore_fitness),
            panel(
                "final-training DS1 validation (%)",
                ArchSignals::final_valid,
            ),
        ],
        Some(&sd),
    )?;
    let plot = args
        .plot
        .clone()
        .unwrap_or_else(|| args.dir.join("signals.svg"));
    dcl_graph::io::write_atomic(&plot, svg.as_bytes())?;
    println!("plotted in {}", plot.display());
    for line in summary_lines(&s) {
        if plan.confirm_on_ds2 {
            // Marked on every line: DS2's scores confirm a choice, never make one.
            println!("{} target=ds2", line);
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_i_of_n() {
        assert_eq!(parse_part("1/2"), Ok((1, 2)));
        assert_eq!(parse_part("0/1"), Ok((0, 1)));
        assert_eq!(
            parse_signal("folds4=runs/x"),
            Ok(("folds4".to_string(), PathBuf::from("runs/x")))
        );
        for bad in ["x", "=d", "x=", "a b=d"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
        for bad in ["2/2", "1/0", "x/2", "1", "-1/2", ""] {
            assert!(parse_part(bad).is_err(), "{bad}");
        }
    }
}
