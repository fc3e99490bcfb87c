//! The local pool: real threads, real concurrency, failures and panics reported as outcomes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dcl_exec::{Evaluator, ExecError, Failure, FailureKind, LocalPool};
use dcl_graph::{Nb201Cell, Nb201Space};

#[derive(Debug, thiserror::Error)]
#[error("refused cell {0}")]
struct Refused(usize);

/// Waits (up to 5 s) until `want` evaluations run at once, and records the most seen.
struct Meeting {
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    want: usize,
    threads_seen: Arc<AtomicUsize>,
}

impl Evaluator<Nb201Space> for Meeting {
    type Error = Refused;
    fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Refused> {
        self.threads_seen
            .fetch_max(rayon::current_num_threads(), Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.running.load(Ordering::SeqCst) < self.want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Stay a moment so that the other worker sees us running too.
        std::thread::sleep(Duration::from_millis(20));
        self.running.fetch_sub(1, Ordering::SeqCst);
        Ok(a.ordinal() as f64)
    }
}

fn cells(n: usize) -> Vec<Nb201Cell> {
    (0..n)
        .map(|i| Nb201Cell::from_ordinal(i * 11).unwrap())
        .collect()
}

#[test]
fn two_workers_evaluate_at_once_each_in_its_own_thread_budget() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads_seen = Arc::new(AtomicUsize::new(0));
    let make = || Meeting {
        running: running.clone(),
        most: most.clone(),
        want: 2,
        threads_seen: threads_seen.clone(),
    };
    let mut pool = LocalPool::new(vec![make(), make()], 3).unwrap();
    let archs = cells(4);
    let mut got = vec![Vec::new(); 4];
    pool.evaluate_batch(&Nb201Space::new(), &archs, &mut |i, o, run| {
        assert!(run.seconds > 0.0);
        assert_eq!(run.job_id, None);
        got[i].push(o)
    });
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g, &vec![Ok(archs[i].ordinal() as f64)], "index {i}");
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "the two workers never overlapped"
    );
    // Inside an evaluation, rayon's pool is the worker's own: 3 threads, not the machine's.
    assert_eq!(threads_seen.load(Ordering::SeqCst), 3);
}

/// Fails on some cells, panics on others.
struct Flaky;

impl Evaluator<Nb201Space> for Flaky {
    type Error = Refused;
    fn evaluate(&mut self, _: &Nb201Space, a: &Nb201Cell) -> Result<f64, Refused> {
        match a.ordinal() % 3 {
            0 => Ok(a.ordinal() as f64),
            1 => Err(Refused(a.ordinal())),
            _ => panic!("worker blew up on {}", a.ordinal()),
        }
    }
}

#[test]
fn errors_and_panics_become_failures_and_every_index_is_reported_once() {
    let mut pool = LocalPool::new(vec![Flaky, Flaky], 1).unwrap();
    let archs: Vec<_> = (0..9)
        .map(|i| Nb201Cell::from_ordinal(i).unwrap())
        .collect();
    let mut got: Vec<Vec<Result<f64, Failure>>> = vec![Vec::new(); 9];
    pool.evaluate_batch(&Nb201Space::new(), &archs, &mut |i, o, _| got[i].push(o));
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.len(), 1, "index {i} reported {} times", g.len());
        match (i % 3, &g[0]) {
            (0, Ok(f)) => assert_eq!(*f, i as f64),
            (1, Err(f)) => {
                assert_eq!(f.kind, FailureKind::Error);
                assert_eq!(f.message, format!("refused cell {i}"));
            }
            (2, Err(f)) => {
                assert_eq!(f.kind, FailureKind::Crash);
                assert!(
                    f.message.contains(&format!("worker blew up on {i}")),
                    "{}",
                    f.message
                );
            }
            (_, other) => panic!("index {i}: unexpected {other:?}"),
        }
    }
    // The pool survives its panics: a later batch still runs on both workers.
    let mut ok = 0;
    pool.evaluate_batch(&Nb201Space::new(), &archs[..1], &mut |_, o, _| {
        ok += usize::from(o.is_ok())
    });
    assert_eq!(ok, 1);
    assert_eq!(pool.evaluate(&Nb201Space::new(), &archs[3]), Ok(3.0));
}

#[test]
fn a_pool_without_workers_or_threads_is_refused() {
    assert!(matches!(
        LocalPool::<Flaky>::new(Vec::new(), 1),
        Err(ExecError::Config(_))
    ));
    assert!(matches!(
        LocalPool::new(vec![Flaky], 0),
        Err(ExecError::Config(_))
    ));
}
