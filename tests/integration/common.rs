//! What the tests that run the `dcl-enas` program share.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The program under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_dcl-enas");

/// A fresh path `dcl-PREFIX-PID-NAME` in the temporary directory (removed if there, not
/// created).
pub fn temp(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcl-{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs the program to its end, progress as plain lines.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DCL_PROGRESS", "lines")
        .output()
        .expect("the binary starts")
}

/// Runs a shell command line (one the program printed), progress as plain lines.
pub fn run_shell(line: &str) -> Output {
    Command::new("sh")
        .args(["-c", line])
        .env("DCL_PROGRESS", "lines")
        .output()
        .expect("sh starts")
}

/// Bytes of an output stream as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
