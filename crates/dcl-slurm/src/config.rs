//! The `[slurm]` table: everything a cluster user sets for the jobs of a search.

use serde::{Deserialize, Serialize};

use crate::SlurmError;

/// How the jobs of a search are submitted. Every field is optional in a config file; a field
/// left out keeps its default (and `sbatch` its cluster's default where ours is `None`).
///
/// ```
/// use dcl_slurm::SlurmConfig;
/// let cfg = SlurmConfig {
///     partition: Some("gpu".into()),
///     time_limit: Some("2:00:00".into()),
///     gres: Some("gpu:1".into()),
///     command_prefix: Some("module load cuda/12.4 &&".into()),
///     ..SlurmConfig::default()
/// };
/// cfg.validate().unwrap();
/// assert!(cfg.directives().contains(&"#SBATCH --gres=gpu:1".to_string()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlurmConfig {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--time`, per task, in a Slurm time format (`MM`, `HH:MM:SS`, `D-HH`, ...); Slurm
    /// enforces it in whole minutes, and a task past it ends `TIMEOUT`.
    pub time_limit: Option<String>,
    /// `--cpus-per-task`. Default 1.
    pub cpus_per_task: u32,
    /// `--mem` per task (`4G`, `500M`, ...).
    pub mem: Option<String>,
    /// `--gres` per task (`gpu:1` for a training on a GPU node).
    pub gres: Option<String>,
    /// Further `sbatch` options, one per entry (`--qos=long`, `--constraint=a100`), written
    /// into the batch script as `#SBATCH` lines.
    pub sbatch_extra: Vec<String>,
    /// Shell text put before the worker command in each task: a container runtime
    /// (`apptainer exec image.sif`) or an environment (`module load cuda &&`).
    pub command_prefix: Option<String>,
    /// Resubmissions of an architecture whose task failed, before it is recorded as failed
    /// (so `retries + 1` attempts in all). Default 2.
    pub retries: u32,
    /// Seconds between two looks at the tasks' states and result files. Default 5.
    pub poll_seconds: f64,
    /// `--job-name`. Default `dcl-enas`.
    pub job_name: String,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        Self {
            partition: None,
            account: None,
            time_limit: None,
            cpus_per_task: 1,
            mem: None,
            gres: None,
            sbatch_extra: Vec::new(),
            command_prefix: None,
            retries: 2,
            poll_seconds: 5.0,
            job_name: "dcl-enas".into(),
        }
    }
}

fn bad(key: &str, message: String) -> SlurmError {
    SlurmError::Config {
        key: key.to_owned(),
        message,
    }
}

/// A value that goes into one `#SBATCH` line: no line breaks, no NUL, not empty.
fn one_line(key: &str, value: &str) -> Result<(), SlurmError> {
    if value.trim().is_empty() || value.contains(['\n', '\r', '\0']) {
        return Err(bad(
            key,
            format!("must be one non-empty line, got {value:?}"),
        ));
    }
    Ok(())
}

/// Minutes in a Slurm time limit: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`, or
/// `UNLIMITED`/`INFINITE` (`None`). Seconds round up to a minute, as Slurm does.
///
/// ```
/// use dcl_slurm::parse_time_limit;
/// assert_eq!(parse_time_limit("90").unwrap(), Some(90));
/// assert_eq!(parse_time_limit("1:30:00").unwrap(), Some(90));
/// assert_eq!(parse_time_limit("1-0").unwrap(), Some(1440));
/// assert_eq!(parse_time_limit("0:30").unwrap(), Some(1));
/// assert!(parse_time_limit("1h").is_err());
/// ```
pub fn parse_time_limit(text: &str) -> Result<Option<u64>, SlurmError> {
    let err = || {
        bad(
            "time_limit",
            format!(
                "{text:?} is not a Slurm time (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)"
            ),
        )
    };
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("infinite") {
        return Ok(None);
    }
    let num = |s: &str| -> Result<u64, SlurmError> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        s.parse().map_err(|_| err())
    };
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(num(d)?), r),
        None => (None, t),
    };
    let parts: Vec<u64> = rest.split(':').map(num).collect::<Result<_, _>>()?;
    let seconds = match (days, parts.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(d), [h]) => d * 86400 + h * 3600,
        (Some(d), [h, m]) => d * 86400 + h * 3600 + m * 60,
        (Some(d), [h, m, s]) => d * 86400 + h * 3600 + m * 60 + s,
        _ => return Err(err()),
    };
    Ok(Some(seconds.div_ceil(60)))
}

impl SlurmConfig {
    /// Checks every field; the error names the key.
    pub fn validate(&self) -> Result<(), SlurmError> {
        for (key, value) in [
            ("partition", &self.partition),
            ("account", &self.account),
            ("mem", &self.mem),
            ("gres", &self.gres),
            ("command_prefix", &self.command_prefix),
        ] {
            if let Some(v) = value {
                one_line(key, v)?;
            }
        }
        one_line("job_name", &self.job_name)?;
        if let Some(t) = &self.time_limit
            && parse_time_limit(t)? == Some(0)
        {
            return Err(bad("time_limit", "must be at least one minute".into()));
        }
        if let Some(m) = &self.mem {
            let digits = m.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(
                    "mem",
                    format!("{m:?} is not a Slurm size (a number, optionally K, M, G or T)"),
                ));
            }
        }
        if self.cpus_per_task == 0 || self.cpus_per_task > 4096 {
            return Err(bad(
                "cpus_per_task",
                format!("must be in 1..=4096, got {}", self.cpus_per_task),
            ));
        }
        for line in &self.sbatch_extra {
            one_line("sbatch_extra", line)?;
            if !line.starts_with('-') {
                return Err(bad(
                    "sbatch_extra",
                    format!("each entry is one sbatch option such as --qos=long, got {line:?}"),
                ));
            }
            if line.starts_with("--array") || line.starts_with("--output") {
                return Err(bad(
                    "sbatch_extra",
                    format!("{line:?}: the executor sets --array and --output itself"),
                ));
            }
        }
        if self.retries > 100 {
            return Err(bad(
                "retries",
                format!("must be in 0..=100, got {}", self.retries),
            ));
        }
        if !(self.poll_seconds.is_finite()
            && self.poll_seconds > 0.0
            && self.poll_seconds <= 3600.0)
        {
            return Err(bad(
                "poll_seconds",
                format!("must be in (0, 3600], got {}", self.poll_seconds),
            ));
        }
        Ok(())
    }

    /// The `#SBATCH` lines of these settings (the array and output options aside).
    pub fn directives(&self) -> Vec<String> {
        let mut lines = vec![format!("#SBATCH --job-name={}", self.job_name)];
        let mut opt = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                lines.push(format!("#SBATCH --{name}={v}"));
            }
        };
        opt("partition", &self.partition);
        opt("account", &self.account);
        opt("time", &self.time_limit);
        opt("mem", &self.mem);
        opt("gres", &self.gres);
        lines.push(format!("#SBATCH --cpus-per-task={}", self.cpus_per_task));
        // Retries are the driver's: a task Slurm would requeue by itself would run twice.
        lines.push("#SBATCH --no-requeue".into());
        lines.extend(self.sbatch_extra.iter().map(|l| format!("#SBATCH {l}")));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_parse_as_slurm_reads_them() {
        for (text, minutes) in [
            ("1", Some(1)),
            ("59:59", Some(60)),
            ("2:00:00", Some(120)),
            ("2-0", Some(2880)),
            ("0-1:30", Some(90)),
            ("1-00:00:01", Some(1441)),
            ("UNLIMITED", None),
        ] {
            assert_eq!(parse_time_limit(text).unwrap(), minutes, "{text}");
        }
        for text in ["", "1h", "-1", "1:2:3:4", "a-1", "1-", ":", "99999999999"] {
            assert!(parse_time_limit(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn every_bad_setting_is_refused_naming_its_key() {
        let ok = SlurmConfig::default();
        ok.validate().unwrap();
        let cases: Vec<(&str, SlurmConfig)> = vec![
            (
                "partition",
                SlurmConfig {
                    partition: Some("a\nb".into()),
                    ..ok.clone()
                },
            ),
            (
                "account",
                SlurmConfig {
                    account: Some(" ".into()),
                    ..ok.clone()
                },
            ),
            (
                "time_limit",
                SlurmConfig {
                    time_limit: Some("0".into()),
                    ..ok.clone()
                },
            ),
            (
                "time_limit",
                SlurmConfig {
                    time_limit: Some("soon".into()),
                    ..ok.clone()
                },
            ),
            (
                "mem",
                SlurmConfig {
                    mem: Some("4GB".into()),
                    ..ok.clone()
                },
            ),
            (
                "cpus_per_task",
                SlurmConfig {
                    cpus_per_task: 0,
                    ..ok.clone()
                },
            ),
            (
                "sbatch_extra",
                SlurmConfig {
                    sbatch_extra: vec!["qos=long".into()],
                    ..ok.clone()
                },
            ),
            (
                "sbatch_extra",
                SlurmConfig {
                    sbatch_extra: vec!["--array=0-3".into()],
                    ..ok.clone()
                },
            ),
            (
                "retries",
                SlurmConfig {
                    retries: 1000,
                    ..ok.clone()
                },
            ),
            (
                "poll_seconds",
                SlurmConfig {
                    poll_seconds: 0.0,
                    ..ok.clone()
                },
            ),
            (
                "poll_seconds",
                SlurmConfig {
                    poll_seconds: f64::NAN,
                    ..ok.clone()
                },
            ),
            (
                "job_name",
                SlurmConfig {
                    job_name: String::new(),
                    ..ok.clone()
                },
            ),
        ];
        for (key, cfg) in cases {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn directives_carry_every_setting() {
        let cfg = SlurmConfig {
            partition: Some("gpu".into()),
            account: Some("lab".into()),
            time_limit: Some("10".into()),
            cpus_per_task: 4,
            mem: Some("8G".into()),
            gres: Some("gpu:1".into()),
            sbatch_extra: vec!["--qos=long".into()],
            ..SlurmConfig::default()
        };
        let d = cfg.directives();
        for line in [
            "#SBATCH --job-name=dcl-enas",
            "#SBATCH --partition=gpu",
            "#SBATCH --account=lab",
            "#SBATCH --time=10",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --mem=8G",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --qos=long",
            "#SBATCH --no-requeue",
        ] {
            assert!(d.contains(&line.to_string()), "{line} missing from {d:?}");
        }
    }
}
