//! Progress of long work, reported as [`tracing`] events.
//!
//! Libraries never draw progress bars or print: each step of a long task (a pre-training step,
//! a fine-tuning epoch, a true evaluation, a training epoch) emits one `INFO` event with target
//! [`TARGET`] and the fields `task` (what is progressing), `done` and `total` (steps so far
//! and in all; `total` 0 when unknown). An application shows them as it likes (the
//! `dcl-enas` program draws bars on a terminal and writes log lines elsewhere); without a
//! subscriber they cost a few nanoseconds each.
//!
//! ```
//! dcl_graph::progress::step("pretrain", 3, 124);
//! ```

/// The `tracing` target of progress events.
pub const TARGET: &str = "dcl_progress";

/// Reports that `done` of `total` steps of `task` are done.
pub fn step(task: &'static str, done: u64, total: u64) {
    tracing::info!(target: "dcl_progress", task, done, total);
}
