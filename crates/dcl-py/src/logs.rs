//! The library's `tracing` events as records of Python's `logging`.
//!
//! Events are queued by whichever thread emits them and handed to Python by the thread that
//! holds the interpreter, between and after pieces of work ([`flush`]): a worker thread
//! never waits for the interpreter, so nothing can deadlock on it. Messages go to the logger
//! `dcl_enas`, progress steps (`dcl_graph::progress`) to `dcl_enas.progress`, both at the
//! event's level.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// At most this many records wait for [`flush`]; older ones are dropped first.
const QUEUE_LIMIT: usize = 10_000;

struct Record {
    level: Level,
    progress: bool,
    message: String,
}

static QUEUE: Mutex<VecDeque<Record>> = Mutex::new(VecDeque::new());

/// Formats an event's message and fields as `message key=value ...`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

/// Queues every event at `INFO` or above.
struct Forward;

impl<S: Subscriber> Layer<S> for Forward {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let progress = event.metadata().target() == dcl_graph::progress::TARGET;
        let message = if progress {
            text.fields.trim_start().to_owned()
        } else {
            format!("{}{}", text.message, text.fields)
        };
        let mut queue = QUEUE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if queue.len() >= QUEUE_LIMIT {
            queue.pop_front();
        }
        queue.push_back(Record {
            level: *event.metadata().level(),
            progress,
            message,
        });
    }
}

/// Installs the forwarding subscriber as this module's global one (once).
pub fn install() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry()
        .with(Forward.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Hands the queued records to Python's `logging`. Running Python code runs the signal
/// handlers of signals received meanwhile: their exception (a `KeyboardInterrupt`) is
/// returned, as is any error the logging calls raise.
pub fn flush(py: Python<'_>) -> PyResult<()> {
    let records: Vec<Record> = {
        let mut queue = QUEUE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queue.drain(..).collect()
    };
    if records.is_empty() {
        return Ok(());
    }
    let logging = py.import("logging")?;
    for r in records {
        let name = if r.progress {
            "dcl_enas.progress"
        } else {
            "dcl_enas"
        };
        let level = match r.level {
            Level::ERROR => 40,
            Level::WARN => 30,
            Level::INFO => 20,
            _ => 10,
        };
        logging
            .call_method1("getLogger", (name,))?
            .call_method1("log", (level, r.message))?;
    }
    Ok(())
}
