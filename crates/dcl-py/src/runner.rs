//! Long work run outside the interpreter: on the module's thread pool, with the interpreter
//! released, Ctrl-C honoured, and log records handed to Python as it goes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcl_graph::progress::CancelToken;
use pyo3::prelude::*;

use crate::errors::{Error, Kind};

static POOL: Mutex<Option<Arc<rayon::ThreadPool>>> = Mutex::new(None);

/// The pool the work runs on: [`set_threads`]'s, else one with rayon's default size (the
/// `RAYON_NUM_THREADS` variable, else one thread per core).
fn pool() -> Result<Arc<rayon::ThreadPool>, Error> {
    let mut slot = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(p) = &*slot {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(build(0)?);
    *slot = Some(Arc::clone(&p));
    Ok(p)
}

fn build(threads: usize) -> Result<rayon::ThreadPool, Error> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("dcl-enas-{i}"))
        .build()
        .map_err(|e| Error::new(Kind::Base, format!("cannot start threads: {e}")))
}

/// Sets the number of threads the library's work uses (0: rayon's default).
pub fn set_threads(threads: usize) -> Result<(), Error> {
    let p = Arc::new(build(threads)?);
    *POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(p);
    Ok(())
}

/// The number of threads the library's work uses.
pub fn threads() -> Result<usize, Error> {
    Ok(pool()?.current_num_threads())
}

/// Runs `work` on the pool with the interpreter released, checking for signals (Ctrl-C) every
/// few milliseconds: on one, the work is asked to stop ([`CancelToken`]: the predictor's
/// training loops stop at their next step), awaited, and the signal's exception (a
/// `KeyboardInterrupt`) raised. Log records are handed to Python as the work goes.
pub fn run<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    let pool = pool()?;
    let token = CancelToken::new();
    let outcome = std::thread::scope(|s| {
        let task = s.spawn(|| pool.install(|| token.run(work)));
        let mut wait = Duration::from_micros(200);
        while !task.is_finished() {
            py.detach(|| std::thread::sleep(wait));
            wait = (wait * 2).min(Duration::from_millis(20));
            // Logging runs Python code, which runs the handlers of signals received meanwhile.
            if let Err(signal) = crate::logs::flush(py).and_then(|()| py.check_signals()) {
                token.cancel();
                let _ = py.detach(|| task.join());
                return Err(signal);
            }
        }
        task.join()
            .map_err(|_| PyErr::from(Error::new(Kind::Base, "the work panicked")))
    })?;
    crate::logs::flush(py)?;
    Ok(outcome)
}

/// Locks `mutex` if no other thread holds it: a thread that waited would hold the interpreter
/// the holder's work needs to report, so a second thread is refused instead.
pub fn try_lock<'a, T>(
    mutex: &'a Mutex<T>,
    what: &str,
) -> Result<std::sync::MutexGuard<'a, T>, Error> {
    match mutex.try_lock() {
        Ok(g) => Ok(g),
        Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => Err(Error::new(
            Kind::Base,
            format!("the {what} is in use by another thread"),
        )),
    }
}
