//! A run directory owned by this process: its lock ([`dcl_evo::RunLock`]), taken before any
//! work, and what SIGINT (Ctrl-C) and SIGTERM do to a search writing it: evaluations in flight
//! are abandoned at once (cleanups such as `scancel` run first), the journal is left complete
//! (no line cut in half: [`dcl_evo::hold_journal_writes`]), and one line says how many
//! evaluations it keeps and the exact command that resumes the run; exit status 130 (SIGINT)
//! or 143 (SIGTERM). A second signal ends the process at once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use dcl_evo::{LockError, LockHolder, RunLock};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::{CliError, invalid};

/// The environment variable that lets a run go on without its directory's lock, where the
/// file system cannot lock (some NFS mounts).
pub const NO_LOCK_ENV: &str = "DCL_ENAS_NO_LOCK";

/// Locks `dir` (created if missing) for the rest of the process, before any work; `flag` is
/// the option that named it, for the message. Refused while another process holds it
/// (naming it). `None` when [`NO_LOCK_ENV`] is `1`.
pub fn lock(dir: &Path, flag: &str) -> Result<Option<RunLock>, CliError> {
    acquire(dir, flag)?.map_err(|e| refusal(e, dir, flag))
}

/// [`lock`], except that a directory another process holds is `Ok(Err(holder))` (the holder
/// as its lock file names it), for a command that can go on without writing it.
pub(crate) fn try_lock(
    dir: &Path,
    flag: &str,
) -> Result<Result<Option<RunLock>, Option<LockHolder>>, CliError> {
    match acquire(dir, flag)? {
        Ok(lock) => Ok(Ok(lock)),
        Err(LockError::Held { holder, .. }) => Ok(Err(holder)),
        Err(e) => Err(refusal(e, dir, flag)),
    }
}

/// Makes `dir` and tries its lock: `Ok(None)` under the override, the lock's own error
/// otherwise.
fn acquire(dir: &Path, flag: &str) -> Result<Result<Option<RunLock>, LockError>, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| invalid(format!("{flag} {}: {e}", dir.display())))?;
    if std::env::var_os(NO_LOCK_ENV).is_some_and(|v| v == "1") {
        tracing::warn!(
            "{NO_LOCK_ENV}=1: {} is not locked; make sure no other process writes it",
            dir.display()
        );
        return Ok(Ok(None));
    }
    Ok(RunLock::acquire(dir).map(Some))
}

/// The message of a lock refused: the holder, or the override where locks are unsupported.
fn refusal(e: LockError, dir: &Path, flag: &str) -> CliError {
    match e {
        e @ LockError::Unsupported { .. } => invalid(format!(
            "{flag} {e}; to run without the lock, set {NO_LOCK_ENV}=1 (and make sure no other \
             process writes {})",
            dir.display()
        )),
        e => invalid(format!("{flag} {e}")),
    }
}

/// Something to do when a signal ends the process (cancel cluster jobs, kill processes); it
/// may return a few words for the line (`cancelled Slurm job 12`).
type Cleanup = Box<dyn Fn() -> Option<String> + Send>;

/// The run a signal interrupts: its directory and the command that resumes it.
struct Watched {
    dir: PathBuf,
    resume: String,
}

static WATCHED: Mutex<Option<Watched>> = Mutex::new(None);
static CLEANUPS: Mutex<Vec<Cleanup>> = Mutex::new(Vec::new());
static HANDLER: OnceLock<Result<(), String>> = OnceLock::new();

/// From now on, SIGINT and SIGTERM end this process with a line about the run in `dir`,
/// resumed by `dcl-enas SUBCOMMAND --resume DIR` (`subcommand`: `search`, `ecg search`).
pub fn report_on_signal(dir: &Path, subcommand: &str) {
    let resume = format!(
        "{} {subcommand} --resume {}",
        shell_word(&program()),
        shell_word(&dir.as_os_str().to_owned())
    );
    *WATCHED.lock().unwrap_or_else(PoisonError::into_inner) = Some(Watched {
        dir: dir.to_owned(),
        resume,
    });
    install();
}

/// From now on, a signal runs `cleanup` before the process ends.
pub fn cleanup_on_signal(cleanup: impl Fn() -> Option<String> + Send + 'static) {
    CLEANUPS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Box::new(cleanup));
    install();
}

fn install() {
    let installed = HANDLER.get_or_init(|| {
        let mut signals =
            signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut first = true;
                for signal in signals.forever() {
                    if !std::mem::replace(&mut first, false) {
                        std::process::exit(128 + signal);
                    }
                    // Another thread, so that a second signal still ends a slow cleanup.
                    std::thread::spawn(move || interrupted(signal));
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(())
    });
    if let Err(e) = installed {
        tracing::warn!(
            "no SIGINT/SIGTERM handler ({e}): an interrupted search ends without a word and \
             leaves any cluster jobs running"
        );
    }
}

/// Runs the cleanups, waits for a journal line being written, says what is kept and how to
/// resume, and ends the process.
fn interrupted(signal: i32) -> ! {
    let name = if signal == SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    let mut words: Vec<String> = CLEANUPS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(|cleanup| cleanup())
        .collect();
    let writes = dcl_evo::hold_journal_writes();
    if let Some(w) = WATCHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        match dcl_evo::Journal::<serde_json::Value>::read(&w.dir) {
            Ok((_, records)) => {
                let n = records.len();
                words.push(format!(
                    "{n} journalled evaluation{} kept in {}",
                    if n == 1 { "" } else { "s" },
                    w.dir.join(dcl_evo::JOURNAL_FILE).display()
                ));
                words.push(format!("resume with: {}", w.resume));
            }
            Err(_) => words.push(format!(
                "{} holds no journal yet: nothing to resume, start the run again",
                w.dir.display()
            )),
        }
    }
    let line = if words.is_empty() {
        format!("interrupted by {name}")
    } else {
        format!("interrupted by {name}: {}", words.join("; "))
    };
    eprintln!("{line}");
    drop(writes);
    std::process::exit(128 + signal)
}

/// This program as it was started (`dcl-enas`, `target/release/dcl-enas`).
fn program() -> OsString {
    std::env::args_os()
        .next()
        .unwrap_or_else(|| "dcl-enas".into())
}

/// `word` as one shell word: as it is when it holds no character a shell treats specially,
/// else single-quoted.
fn shell_word(word: &OsString) -> String {
    let s = word.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The journal-header upgrade of the program's searches ([`dcl_evo::Journal::resume_upgrading`]):
/// a header whose settings do not name `training_engine` was written by runs that trained
/// the predictor with burn, and reads as `"training_engine": "burn"`.
pub fn upgrade_header(header: &mut dcl_evo::JournalHeader) {
    if let Some(settings) = header.settings.as_object_mut() {
        settings
            .entry("training_engine")
            .or_insert_with(|| "burn".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_system_that_cannot_lock_is_refused_naming_the_override() {
        let dir = Path::new("/mnt/nfs/run");
        let e = LockError::Unsupported {
            dir: dir.to_owned(),
            source: std::io::Error::from_raw_os_error(37), // ENOLCK
        };
        let message = refusal(e, dir, "--out").to_string();
        assert!(
            message.starts_with("--out /mnt/nfs/run: its file system cannot lock files (")
                && message.contains("DCL_ENAS_NO_LOCK=1"),
            "{message}"
        );
        let held = LockError::Held {
            dir: dir.to_owned(),
            holder: None,
        };
        assert_eq!(
            refusal(held, dir, "--resume").to_string(),
            "--resume /mnt/nfs/run is in use by another process: wait for it to end, or use \
             another directory"
        );
    }

    #[test]
    fn a_word_with_shell_characters_is_quoted_so_the_shell_gives_it_back() {
        assert_eq!(shell_word(&"runs/a-1_b.c".into()), "runs/a-1_b.c");
        assert_eq!(shell_word(&"my runs/x".into()), "'my runs/x'");
        assert_eq!(shell_word(&"it's".into()), r"'it'\''s'");
        assert_eq!(shell_word(&"$HOME".into()), "'$HOME'");
        assert_eq!(shell_word(&"".into()), "''");
        // What sh makes of the quoted words.
        for word in ["my runs/x", "it's", "$HOME", "a\"b", "*"] {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("printf %s {}", shell_word(&word.into()))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), word);
        }
    }
}
