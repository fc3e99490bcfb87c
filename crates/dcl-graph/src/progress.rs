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

/// A request to stop long work early, shared between the thread that runs the work and the
/// one that decides to stop it (a Ctrl-C handler, a user interface).
///
/// Work run under [`CancelToken::run`] sees the request through [`cancelled`]; the loops of
/// this crate family that report progress (the predictor's pre-training and fine-tuning) check
/// it after every step and end with their crate's `Cancelled` error, leaving what they train
/// as it was before the call. Work that never checks runs to its end.
///
/// ```
/// use dcl_graph::progress::{CancelToken, cancelled};
///
/// let token = CancelToken::new();
/// assert!(!token.run(cancelled));
/// token.cancel();
/// assert!(token.run(cancelled));
/// assert!(!cancelled()); // outside `run`, nothing is cancelled
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(std::sync::Arc<std::sync::atomic::AtomicBool>);

thread_local! {
    static CURRENT: std::cell::RefCell<Option<CancelToken>> = const { std::cell::RefCell::new(None) };
}

impl CancelToken {
    /// A token nobody has cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the work running under this token (on any thread) to stop.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs `work` on this thread with this token as the one [`cancelled`] reads (the
    /// previous one comes back afterwards, however `work` ends).
    pub fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        struct Restore(Option<CancelToken>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(self.clone())));
        work()
    }
}

/// Whether the work running on this thread was asked to stop ([`CancelToken`]); `false` for
/// work not run under a token.
pub fn cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CancelToken::is_cancelled))
}
