//! [`RunLock`]: one process at a time writes a run directory.
//!
//! Two processes appending to one journal would each pay for the same architectures and leave
//! two results for one of them. A process that writes a run directory therefore holds an
//! advisory lock on the file [`LOCK_FILE`] inside it for as long as it runs; the operating
//! system releases the lock when the process ends, however it ends, so a crash or a `kill -9`
//! never leaves a directory locked. The file also says who holds (or last held) the lock, so
//! that a refused process can name the holder.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = "run.lock";

/// Who holds (or last held) a run directory's lock, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The process id.
    pub pid: u32,
    /// The machine's host name.
    pub host: String,
    /// When the process took the lock (RFC 3339, UTC).
    pub since: String,
}

impl LockHolder {
    /// This process, now.
    fn this_process() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "an unknown host".to_owned());
        let since = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "an unknown time".to_owned());
        Self {
            pid: std::process::id(),
            host,
            since,
        }
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {} on {} since {}",
            self.pid, self.host, self.since
        )
    }
}

/// Why a run directory could not be locked.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds the lock.
    #[error("{dir} is in use by {}: wait for it to end, or use another directory", holder_text(.holder))]
    Held {
        /// The run directory.
        dir: PathBuf,
        /// The holder, when its lock file says (it writes it right after locking).
        holder: Option<LockHolder>,
    },
    /// The file system refused to lock at all (some network file systems cannot).
    #[error("{dir}: its file system cannot lock files ({source})")]
    Unsupported {
        /// The run directory.
        dir: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// Opening or writing the lock file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The lock of a run directory, held until dropped (or until the process ends).
///
/// ```
/// use dcl_evo::{LockError, RunLock};
///
/// let dir = std::env::temp_dir().join(format!("dcl-evo-lock-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let lock = RunLock::acquire(&dir).unwrap();
/// // A second lock on the same directory is refused, naming the holder.
/// match RunLock::acquire(&dir) {
///     Err(LockError::Held { holder: Some(h), .. }) => assert_eq!(h.pid, std::process::id()),
///     other => panic!("{other:?}"),
/// }
/// drop(lock);
/// let _again = RunLock::acquire(&dir).unwrap();
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug)]
pub struct RunLock {
    dir: PathBuf,
    // Held open for the lock's lifetime: closing it releases the lock.
    _file: File,
}

impl RunLock {
    /// Locks the existing directory `dir` without waiting: refused with [`LockError::Held`]
    /// while another holder (another process, or another `RunLock` of this one) has it.
    pub fn acquire(dir: impl AsRef<Path>) -> Result<Self, LockError> {
        let dir = dir.as_ref();
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Never replaced by a rename (the lock belongs to the file, not to its name), so the
        // holder's line is written in place; a reader that catches it half written names no
        // holder.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: dir.to_owned(),
                    holder: read_holder(&mut file),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LockError::Unsupported {
                    dir: dir.to_owned(),
                    source,
                });
            }
        }
        let mut line = serde_json::to_string(&LockHolder::this_process())
            .map_err(|e| io(std::io::Error::other(e)))?;
        line.push('\n');
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(Self {
            dir: dir.to_owned(),
            _file: file,
        })
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Who holds (or last held) the lock of `dir`, as its lock file says; `None` when there is
    /// no readable lock file.
    pub fn holder(dir: impl AsRef<Path>) -> Option<LockHolder> {
        let mut file = File::open(dir.as_ref().join(LOCK_FILE)).ok()?;
        read_holder(&mut file)
    }
}

fn holder_text(holder: &Option<LockHolder>) -> String {
    holder
        .as_ref()
        .map_or_else(|| "another process".to_owned(), LockHolder::to_string)
}

fn read_holder(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dcl-evo-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_held_directory_is_refused_naming_the_holder_until_released() {
        let dir = temp("held");
        let lock = RunLock::acquire(&dir).unwrap();
        assert_eq!(lock.dir(), dir);
        let e = RunLock::acquire(&dir).unwrap_err();
        let LockError::Held {
            dir: d,
            holder: Some(h),
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(d, &dir);
        assert_eq!(h.pid, std::process::id());
        assert!(h.since.ends_with('Z') && h.since.len() == 20, "{}", h.since);
        let message = e.to_string();
        assert!(
            message.contains(&dir.display().to_string())
                && message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        drop(lock);
        // Released: the next holder takes it, and the file names the last holder.
        let again = RunLock::acquire(&dir).unwrap();
        assert_eq!(RunLock::holder(&dir).unwrap().pid, std::process::id());
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_or_a_garbled_lock_file_is_no_panic() {
        let dir = temp("garbled");
        assert!(matches!(
            RunLock::acquire(dir.join("missing")),
            Err(LockError::Io { .. })
        ));
        assert!(RunLock::holder(dir.join("missing")).is_none());
        std::fs::write(dir.join(LOCK_FILE), b"\xff not json").unwrap();
        assert!(RunLock::holder(&dir).is_none());
        // A garbled file from an earlier holder is simply overwritten.
        let lock = RunLock::acquire(&dir).unwrap();
        assert_eq!(RunLock::holder(&dir).unwrap().pid, std::process::id());
        drop(lock);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
