//! Build logs: plugin output streamed into the store in batches (redacted), and live build
//! events for whoever watches (the terminal progress of `lockgate run`).

use lockgate_model::ErrorReport;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::Outcome;
use lockgate_config::Redactor;
use lockgate_plugin_host::{LogLine, LogSink, LogSource};
use lockgate_store::{Build, NewLogLine, Store, now_ms};

/// Something that happened in a build, as it happens.
#[derive(Debug)]
pub enum BuildEvent<'a> {
    /// The build started running.
    Started {
        /// The build.
        build: &'a Build,
    },
    /// A step started.
    StepStarted {
        /// Its build.
        build: &'a Build,
        /// Position in the plan.
        path: &'a str,
        /// `get`, `put` or `test`.
        kind: &'a str,
        /// Step name.
        name: &'a str,
    },
    /// A step finished.
    StepFinished {
        /// Its build.
        build: &'a Build,
        /// Position in the plan.
        path: &'a str,
        /// `get`, `put` or `test`.
        kind: &'a str,
        /// Step name.
        name: &'a str,
        /// How it ended.
        outcome: &'a Outcome,
    },
    /// A log line (already redacted).
    Log {
        /// Build id.
        build_id: i64,
        /// Stream name.
        stream: &'a str,
        /// Text.
        text: &'a str,
    },
    /// The build finished.
    Finished {
        /// The build, with its final status.
        build: &'a Build,
        /// How it ended.
        outcome: &'a Outcome,
    },
}

/// Receives [`BuildEvent`]s. Must not block.
pub trait BuildObserver: Send + Sync {
    /// One event.
    fn event(&self, event: BuildEvent<'_>);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl BuildObserver for NoObserver {
    fn event(&self, _event: BuildEvent<'_>) {}
}

/// The log of one step (or of the build itself): a [`LogSink`] whose lines are redacted and
/// written to the store by a background task, in batches.
pub(crate) struct StepLog {
    tx: Mutex<Option<mpsc::UnboundedSender<NewLogLine>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    redactor: Redactor,
}

/// Lines written in one transaction at most.
const BATCH: usize = 256;

impl StepLog {
    pub(crate) fn start(
        store: Store,
        build_id: i64,
        step_id: Option<i64>,
        redactor: Redactor,
        observer: Arc<dyn BuildObserver>,
    ) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<NewLogLine>();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(line) => batch.push(line),
                        Err(_) => break,
                    }
                }
                for line in &batch {
                    observer.event(BuildEvent::Log {
                        build_id,
                        stream: &line.stream,
                        text: &line.text,
                    });
                }
                if let Err(e) = store.append_logs(build_id, step_id, &batch).await {
                    tracing::error!(
                        build = build_id,
                        "cannot store {} log lines: {}",
                        batch.len(),
                        e.report()
                    );
                }
                batch.clear();
            }
        });
        Arc::new(Self {
            tx: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            redactor,
        })
    }

    fn send(&self, stream: &str, text: &str) {
        let line = NewLogLine {
            at: now_ms(),
            stream: stream.to_owned(),
            text: self.redactor.redact(text),
        };
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(line);
        }
    }

    /// A line from the engine about this step.
    pub(crate) fn engine(&self, text: &str) {
        self.send("engine", text);
    }

    /// Flushes every line to the store.
    pub(crate) async fn close(&self) {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl LogSink for StepLog {
    fn line(&self, line: LogLine) {
        let stream = match line.source {
            LogSource::Plugin(level) => format!("plugin:{level}"),
            LogSource::Stdout => "stdout".to_owned(),
            LogSource::Stderr => "stderr".to_owned(),
            LogSource::Engine => "engine".to_owned(),
        };
        self.send(&stream, &line.message);
    }
}
