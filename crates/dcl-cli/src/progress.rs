//! Shows the libraries' progress events ([`dcl_graph::progress`]) and log events: bars with
//! rate and ETA on a terminal, plain log lines (no escape codes) anywhere else (CI, Slurm
//! logs, pipes).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Log lines of a task that is not done are at least this far apart when not on a terminal.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Installs the global subscriber: progress bars when stderr is a terminal (or `DCL_PROGRESS=bars`),
/// log lines otherwise (or `DCL_PROGRESS=lines`); log events at INFO and above on stderr.
pub fn init() {
    let bars = match std::env::var("DCL_PROGRESS").as_deref() {
        Ok("bars") => true,
        Ok("lines") => false,
        _ => std::io::stderr().is_terminal(),
    };
    let multi = bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    let progress = ProgressLayer {
        multi: multi.clone(),
        tasks: Mutex::new(HashMap::new()),
    }
    .with_filter(Targets::new().with_target(dcl_graph::progress::TARGET, LevelFilter::INFO));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(StderrLines(multi))
        .with_target(false)
        .with_ansi(bars)
        .without_time()
        .with_filter(
            Targets::new()
                .with_default(LevelFilter::INFO)
                .with_target(dcl_graph::progress::TARGET, LevelFilter::OFF),
        );
    let _ = tracing_subscriber::registry()
        .with(progress)
        .with(logs)
        .try_init();
}

/// Writes each log line to stderr, above the bars when there are bars.
#[derive(Clone)]
struct StderrLines(Option<MultiProgress>);

/// One log line on its way to stderr.
struct LineWriter {
    multi: Option<MultiProgress>,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let write = || {
            let _ = std::io::stderr().write_all(&buf);
        };
        match &self.multi {
            Some(m) => m.suspend(write),
            None => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrLines {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            multi: self.0.clone(),
            buf: Vec::new(),
        }
    }
}

/// A task's progress so far.
struct Task {
    bar: Option<ProgressBar>,
    started: Instant,
    first_done: u64,
    last_done: u64,
    last_line: Instant,
    /// Runs of this task so far (a refit per round runs "finetune" many times).
    runs: u32,
}

struct ProgressLayer {
    multi: Option<MultiProgress>,
    tasks: Mutex<HashMap<String, Task>>,
}

#[derive(Default)]
struct Fields {
    task: String,
    done: u64,
    total: u64,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "task" {
            self.task = value.to_owned();
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "done" => self.done = value,
            "total" => self.total = value,
            _ => {}
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "task" {
            self.task = format!("{value:?}").trim_matches('"').to_owned();
        }
    }
}

/// `done` steps of `total` in `seconds`, as a log line.
pub fn progress_line(task: &str, done: u64, total: u64, steps: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 {
        steps as f64 / seconds
    } else {
        0.0
    };
    if total == 0 {
        return format!("{task}: {done} ({rate:.1}/s)");
    }
    let eta = if rate > 0.0 {
        format!(", eta {:.0} s", total.saturating_sub(done) as f64 / rate)
    } else {
        String::new()
    };
    format!(
        "{task}: {done}/{total} ({:.0} %, {rate:.1}/s{eta})",
        100.0 * done as f64 / total as f64
    )
}

impl<S: Subscriber> Layer<S> for ProgressLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        if f.task.is_empty() {
            return;
        }
        let Ok(mut tasks) = self.tasks.lock() else {
            return;
        };
        let now = Instant::now();
        let restart = tasks.get(&f.task).is_none_or(|t| f.done <= t.last_done);
        if restart {
            let bar = self.multi.as_ref().map(|m| {
                let old = tasks.get(&f.task).and_then(|t| t.bar.clone());
                let bar = old.unwrap_or_else(|| {
                    let b = m.add(ProgressBar::new(f.total));
                    b.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>9} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    b.set_prefix(f.task.clone());
                    b
                });
                bar.reset();
                bar.set_length(f.total);
                bar
            });
            let runs = tasks.get(&f.task).map_or(0, |t| t.runs) + 1;
            tasks.insert(
                f.task.clone(),
                Task {
                    bar,
                    started: now,
                    first_done: f.done.saturating_sub(1),
                    last_done: 0,
                    last_line: now,
                    runs,
                },
            );
        }
        let Some(t) = tasks.get_mut(&f.task) else {
            return;
        };
        t.last_done = f.done;
        let finished = f.total > 0 && f.done >= f.total;
        match &t.bar {
            Some(bar) => {
                bar.set_position(f.done);
                if finished {
                    bar.finish();
                }
            }
            None => {
                // A task that runs again and again (a refit each round) writes a line only
                // when a run is slow enough to need one.
                let took = now.duration_since(t.started);
                let show_end = finished && (t.runs == 1 || took >= LOG_EVERY);
                if show_end || (!finished && now.duration_since(t.last_line) >= LOG_EVERY) {
                    t.last_line = now;
                    let line = progress_line(
                        &f.task,
                        f.done,
                        f.total,
                        f.done - t.first_done,
                        now.duration_since(t.started).as_secs_f64(),
                    );
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_gives_share_rate_and_eta() {
        assert_eq!(
            progress_line("pretrain", 31, 124, 31, 2.0),
            "pretrain: 31/124 (25 %, 15.5/s, eta 6 s)"
        );
        assert_eq!(progress_line("queries", 3, 0, 3, 1.0), "queries: 3 (3.0/s)");
        assert_eq!(
            progress_line("epochs", 0, 10, 0, 0.0),
            "epochs: 0/10 (0 %, 0.0/s)"
        );
    }
}
