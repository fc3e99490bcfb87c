//! `dcl-enas ecg signals` and `ecg signals-report`, run for real on tiny trainings: the study
//! split into parts and killed with SIGKILL mid-run resumes to the measurements of a run
//! never killed; a run directory refuses other settings; the study refuses to run without the
//! pseudo-test; the report refuses an unfinished study and summarises a finished one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, BIN, run, text};

/// Tiny trainings on real beats: 8 beats per class, one epoch, two channels.
const TINY: &[&str] = &[
    "ecg",
    "signals",
    "--pseudo-test",
    "--channels",
    "2",
    "--proxy-per-class",
    "8",
    "--proxy-valid-per-class",
    "8",
    "--full-per-class",
    "8",
    "--eval-per-class",
    "60",
    "--proxy-epochs",
    "1",
    "--full-epochs",
    "1",
    "--final-seeds",
    "0,1",
    "--rescore-repeats",
    "1",
    "--proxy-folds",
    "2",
    "--feature-entries",
    "head,stem",
    "--archs",
    "4",
];

fn study(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = TINY.to_vec();
    let dir = dir.to_str().unwrap();
    args.extend(["--out", dir]);
    args.extend(extra);
    run(&args)
}

/// Every architecture's measurements, without the wall times.
fn measurements(dir: &Path) -> Vec<serde_json::Value> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                o.retain(|k, _| !k.ends_with("seconds"));
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    (0..4)
        .map(|i| {
            let path = dir.join("archs").join(format!("{i:03}.json"));
            let mut v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            strip(&mut v);
            v
        })
        .collect()
}

#[test]
fn a_signal_study_killed_and_resumed_in_parts_measures_what_one_run_does() {
    let whole = common::temp("signals", "whole");
    let out = study(&whole, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ecg signals part=0/1 measured=4"));
    let reference = measurements(&whole);
    // Every architecture was trained and tested on the pseudo-test: N, S, V capped at 60,
    // F the pseudo-test patients' few.
    for m in &reference {
        assert_eq!(m["proxy"].as_array().unwrap().len(), 2);
        for run in m["finals"].as_array().unwrap() {
            let confusion = run["test"]["confusion"].as_array().unwrap();
            let rows: Vec<u64> = confusion
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_u64().unwrap())
                        .sum()
                })
                .collect();
            assert_eq!(&rows[..3], &[60, 60, 60]);
            assert!(rows[3] < 10, "{rows:?}");
        }
    }

    // Part 1 of 2 killed once its first architecture is written, then both parts.
    let split = common::temp("signals", "split");
    let mut args = TINY.to_vec();
    args.extend(["--out", split.to_str().unwrap(), "--part", "1/2"]);
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = split.join("archs").join("001.json");
    let t = Instant::now();
    while !first.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no architecture written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!split.join("archs").join("003.json").exists());
    let report = run(&["ecg", "signals-report", split.to_str().unwrap()]);
    assert!(!report.status.success());
    assert!(text(&report.stderr).contains("1 of 4 architectures measured"));
    for part in ["1/2", "0/2"] {
        let out = study(&split, &["--part", part]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert!(text(&study(&split, &["--part", "0/2"]).stdout).contains("measured=0"));
    let resumed = measurements(&split);
    for (i, (a, b)) in resumed.iter().zip(&reference).enumerate() {
        assert!(a == b, "architecture {i} differs from the run never killed");
    }

    // Other settings, or no pseudo-test, are refused before any training.
    let other = study(&split, &["--head-hidden", "4"]);
    assert!(!other.status.success());
    assert!(text(&other.stderr).contains("plan.json"));
    let no_pseudo: Vec<&str> = TINY
        .iter()
        .copied()
        .filter(|a| *a != "--pseudo-test")
        .collect();
    let refused = run(&[&no_pseudo[..], &["--out", split.to_str().unwrap()]].concat());
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("--pseudo-test"));

    // The summary: one line per signal, the spread, the plot.
    let report = run(&["ecg", "signals-report", split.to_str().unwrap()]);
    let stdout = text(&report.stdout);
    assert!(report.status.success(), "{}", text(&report.stderr));
    for signal in ["proxy", "rescore", "final-valid"] {
        assert!(
            stdout.contains(&format!("ecg signal={signal} tau=")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("ecg spread between_sd="));
    // Each pseudo-test patient's sensitivities per entry.
    for record in dcl_ecg::PSEUDO_TEST_RECORDS {
        assert!(
            stdout.contains(&format!(" record={record} se_N=")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("archs=4 seeds=2"));
    assert!(split.join("signals.svg").exists() && split.join("summary.json").exists());

    // A signal measured beside the study: three folds, proxy trainings alone, no repeat.
    let folds3 = common::temp("signals", "folds3");
    let proxy_only = ["--proxy-only", "--rescore-repeats", "0"];
    let mut args = TINY.to_vec();
    let at = args.iter().position(|a| *a == "--rescore-repeats").unwrap();
    args.drain(at..at + 2);
    args.extend(proxy_only);
    args.extend(["--out", folds3.to_str().unwrap()]);
    let mut three = args.clone();
    let at = three.iter().position(|a| *a == "--proxy-folds").unwrap();
    three[at + 1] = "3";
    assert!(three.windows(2).any(|w| w == ["--proxy-folds", "3"]));
    let out = run(&three);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let m = measurements(&folds3);
    assert!(m.iter().all(|m| m["finals"].as_array().unwrap().is_empty()
        && m["proxy_records"].as_array().unwrap().len() == 3));
    let signal = format!("folds3={}", folds3.display());
    let report = run(&[
        "ecg",
        "signals-report",
        split.to_str().unwrap(),
        "--signal",
        &signal,
    ]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert!(text(&report.stdout).contains("ecg signal=folds3 tau="));
    assert!(text(&report.stdout).contains("ecg signal=folds3-pooled-nsv tau="));
    // A proxy-only study has no target; another draw of architectures is no signal of this one.
    let alone = run(&["ecg", "signals-report", folds3.to_str().unwrap()]);
    assert!(text(&alone.stderr).contains("proxy-only"));
    let other_draw = common::temp("signals", "other");
    let mut args = three.clone();
    let at = args
        .iter()
        .position(|a| *a == folds3.to_str().unwrap())
        .unwrap();
    args[at] = other_draw.to_str().unwrap();
    args.extend(["--archs-seed", "1"]);
    assert!(run(&args).status.success());
    let signal = format!("other={}", other_draw.display());
    let refused = run(&[
        "ecg",
        "signals-report",
        split.to_str().unwrap(),
        "--signal",
        &signal,
    ]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("architectures are not"));
    // The wide space through the program: each drawn candidate carries a skeleton.
    let wide = common::temp("signals", "wide");
    let mut args = three.clone();
    let at = args
        .iter()
        .position(|a| *a == folds3.to_str().unwrap())
        .unwrap();
    args[at] = wide.to_str().unwrap();
    args.push("--wide-space");
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wide.join("plan.json")).unwrap()).unwrap();
    assert_eq!(
        plan["config"]["skeletons"]["channels"],
        serde_json::json!([8, 16, 32])
    );
    for arch in plan["archs"].as_array().unwrap() {
        let arch: dcl_train::NetArch = serde_json::from_value(arch.clone()).unwrap();
        assert!(arch.skeleton.is_some(), "{arch}");
    }
    let _ = std::fs::remove_dir_all(&wide);

    // The one confirmation on DS2: the same architectures trained on all of DS1 and tested on
    // DS2 (every DS2 record in the per-record results), each line marked; it takes no
    // --pseudo-test, and a design study takes no DS2.
    let confirm = common::temp("signals", "confirm");
    let mut args: Vec<&str> = TINY
        .iter()
        .copied()
        .filter(|a| *a != "--pseudo-test")
        .collect();
    args.extend(["--confirm-on-ds2", "--out", confirm.to_str().unwrap()]);
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(confirm.join("archs").join("000.json")).unwrap(),
    )
    .unwrap();
    let records: Vec<&str> = m["finals"][0]["per_record"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(records.iter().all(|r| dcl_ecg::DS2_RECORDS.contains(r)));
    let report = run(&["ecg", "signals-report", confirm.to_str().unwrap()]);
    let stdout = text(&report.stdout);
    assert!(
        stdout.contains("ecg signal=proxy tau=")
            && stdout
                .lines()
                .filter(|l| l.starts_with("ecg signal="))
                .all(|l| l.ends_with(" target=ds2")),
        "{stdout}"
    );
    let both = run(&[
        TINY,
        &["--confirm-on-ds2", "--out", confirm.to_str().unwrap()],
    ]
    .concat());
    assert!(!both.status.success());
    assert!(text(&both.stderr).contains("without --pseudo-test"));
    let _ = std::fs::remove_dir_all(&confirm);
    let _ = std::fs::remove_dir_all(&folds3);
    let _ = std::fs::remove_dir_all(&other_draw);
    let _ = std::fs::remove_dir_all(&whole);
    let _ = std::fs::remove_dir_all(&split);
}
