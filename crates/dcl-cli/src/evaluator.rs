//! The `[evaluator]` table of `search`: the user's own program evaluates each architecture
//! ([`dcl_exec::command::CommandEvaluator`], locally or as the Slurm tasks' worker).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use dcl_exec::command::CommandConfig;
use serde::{Deserialize, Serialize};

use crate::{CliError, invalid};

/// An `[evaluator]` table.
///
/// ```toml
/// [evaluator]
/// command = ["python3", "train.py"]   # run as: python3 train.py SPEC RESULT
/// timeout = 600                       # seconds per attempt [default: none]
/// env = { OMP_NUM_THREADS = "1" }     # set for the program
/// gpus = ["0", "1"]                   # CUDA_VISIBLE_DEVICES of each local worker, in turn
///
/// [evaluator.args]                    # anything: the spec's config.args
/// epochs = 20
/// data = "/data/digits"
/// ```
///
/// The program runs in its attempt's directory (`RUN_DIR/evals/KEYHASH-aN/`); a relative path
/// in `command` naming a file that exists where `dcl-enas` was started is made absolute when
/// the run is created, so that the saved config resumes from anywhere. The spec's `config`
/// holds the whole table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluatorSetting {
    /// The program and its first arguments; the spec's and the result's paths follow.
    pub command: Vec<String>,
    /// Longest an attempt may run, in seconds; past it the program's process group is killed
    /// and the attempt fails with `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Environment variables set for the program.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `CUDA_VISIBLE_DEVICES` of each local worker slot, in turn (with `workers` equal to its
    /// length, one GPU per worker); on Slurm, ask for GPUs with `slurm.gres` instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
    /// Passed through to the program (the spec's `config.args`).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub args: toml::Table,
}

impl EvaluatorSetting {
    /// Checks the table before any work; the error names the key.
    pub fn validate(&self) -> Result<(), CliError> {
        if self.command.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(invalid(
                "key `evaluator.command` must name a program, as a list: \
                 command = [\"python3\", \"train.py\"]"
                    .into(),
            ));
        }
        if let Some(t) = self.timeout
            && !(t.is_finite() && t > 0.0)
        {
            return Err(invalid(format!(
                "key `evaluator.timeout` must be a positive number of seconds, got {t}"
            )));
        }
        if self.gpus.iter().any(|g| g.trim().is_empty()) {
            return Err(invalid(
                "key `evaluator.gpus`: each entry names a device (\"0\", \"1\", ...)".into(),
            ));
        }
        self.command_config(1).validate().map_err(|e| {
            invalid(format!(
                "key `evaluator`: {}",
                e.to_string().trim_start_matches("invalid configuration: ")
            ))
        })
    }

    /// The executor's configuration, `workers` at a time.
    pub fn command_config(&self, workers: usize) -> CommandConfig {
        CommandConfig {
            command: self.command.clone(),
            workers,
            timeout: self.timeout.map(Duration::from_secs_f64),
            env: self.env.clone(),
            gpus: self.gpus.clone(),
            config: self.spec_config(),
        }
    }

    /// The spec's `config`: the whole table, `args` and `env` present even when empty.
    fn spec_config(&self) -> serde_json::Value {
        let mut config = serde_json::to_value(self).unwrap_or_default();
        if let Some(table) = config.as_object_mut() {
            for key in ["args", "env"] {
                table.entry(key).or_insert_with(|| serde_json::json!({}));
            }
        }
        config
    }

    /// The command with each relative path that names an existing file under `base` made
    /// absolute (the program runs in its attempt's directory).
    pub fn resolved(&self, base: &Path) -> Self {
        let command = self
            .command
            .iter()
            .map(|part| {
                let path = Path::new(part);
                let file = base.join(path);
                if path.is_relative() && part.contains(['/', '.']) && file.is_file() {
                    std::path::absolute(&file)
                        .map_or_else(|_| part.clone(), |p| p.to_string_lossy().into_owned())
                } else {
                    part.clone()
                }
            })
            .collect();
        Self {
            command,
            ..self.clone()
        }
    }

    /// What of the table decides the outcome, for the journal's header: the command and its
    /// arguments and environment (the timeout and the GPUs may change on resume).
    pub fn journal_settings(&self) -> serde_json::Value {
        serde_json::json!({
            "command": self.command,
            "env": self.env,
            "args": self.args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(text: &str) -> Result<EvaluatorSetting, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_table_is_checked_by_key_and_passes_its_args_through() {
        let e = setting(
            "command = [\"python3\", \"t.py\"]\ntimeout = 5\n[args]\nepochs = 3\ndata = \"d\"",
        )
        .unwrap();
        e.validate().unwrap();
        let c = e.command_config(2);
        assert_eq!(c.workers, 2);
        assert_eq!(c.timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.config["args"]["epochs"], 3);
        assert_eq!(c.config["args"]["data"], "d");
        let refused = |text: &str, key: &str| {
            let e = setting(text).unwrap().validate().unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        };
        let bare = setting("command = [\"p\"]")
            .unwrap()
            .command_config(1)
            .config;
        assert_eq!(bare["args"], serde_json::json!({}));
        assert_eq!(bare["env"], serde_json::json!({}));
        refused("command = []", "evaluator.command");
        refused("command = [\"\"]", "evaluator.command");
        refused("command = [\"p\"]\ntimeout = 0", "evaluator.timeout");
        refused("command = [\"p\"]\ntimeout = -1", "evaluator.timeout");
        refused("command = [\"p\"]\ngpus = [\"\"]", "evaluator.gpus");
        refused(
            "command = [\"p\"]\nenv = { \"A=B\" = \"1\" }",
            "key `evaluator`",
        );
        let e = setting("command = [\"p\"]\ntimout = 3").unwrap_err();
        assert!(e.contains("timout"), "{e}");
    }

    #[test]
    fn relative_paths_of_existing_files_are_made_absolute() {
        let dir = std::env::temp_dir().join(format!("dcl-cli-eval-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/train.py"), "").unwrap();
        let e = setting("command = [\"python3\", \"sub/train.py\", \"--fast\", \"missing.py\"]")
            .unwrap();
        let r = e.resolved(&dir);
        assert_eq!(r.command[0], "python3");
        assert_eq!(
            Path::new(&r.command[1]),
            std::path::absolute(dir.join("sub/train.py")).unwrap()
        );
        assert_eq!(r.command[2..], ["--fast", "missing.py"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
