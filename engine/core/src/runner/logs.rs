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
        /// Which try of the step this is.
        attempt: Attempt,
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
        /// Which try of the step this was.
        attempt: Attempt,
        /// How long it took.
        took: std::time::Duration,
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

/// Which try of a step (its `attempts`): the first of one unless it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// This try, from 1.
    pub number: u32,
    /// How many tries the step has.
    pub of: u32,
}

impl Attempt {
    /// The only try of a step without `attempts`.
    pub const ONLY: Attempt = Attempt { number: 1, of: 1 };
}

impl std::fmt::Display for Attempt {
    /// Nothing for a step tried once; `(attempt 2 of 3)` otherwise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.of > 1 {
            write!(f, " (attempt {} of {})", self.number, self.of)?;
        }
        Ok(())
    }
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
    /// Lines sent and not yet stored: past [`HIGH_WATER`] the sink is full and the plugin's
    /// output waits (see [`LogSink::is_full`]).
    backlog: Arc<Backlog>,
    redactor: Redactor,
    /// Per stream, the pieces of a line split by the plugin host, joined before redaction so
    /// that no secret is cut in two.
    pending: Mutex<std::collections::HashMap<String, String>>,
}

/// A split line is joined up to this many bytes; past it, the part so far is redacted and
/// stored (a secret straddling exactly that point would be cut, at 64 pieces of 16 KiB).
const MAX_JOINED: usize = 64 * lockgate_plugin_host::MAX_LINE;

/// Lines written in one transaction at most.
const BATCH: usize = 256;

/// Lines waiting to be stored past which the plugin's output waits for the store.
const HIGH_WATER: usize = 8 * BATCH;

/// Lines sent to the writer task and not yet stored, and a wake-up when it stored some.
#[derive(Default)]
struct Backlog {
    lines: std::sync::atomic::AtomicUsize,
    stored: tokio::sync::Notify,
}

impl Backlog {
    fn is_full(&self) -> bool {
        self.lines.load(std::sync::atomic::Ordering::Acquire) >= HIGH_WATER
    }

    async fn ready(&self) {
        loop {
            let stored = self.stored.notified();
            if !self.is_full() {
                return;
            }
            stored.await;
        }
    }
}

impl StepLog {
    pub(crate) fn start(
        store: Store,
        build_id: i64,
        step_id: Option<i64>,
        redactor: Redactor,
        observer: Arc<dyn BuildObserver>,
    ) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<NewLogLine>();
        let backlog = Arc::new(Backlog::default());
        let drained = backlog.clone();
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
                drained
                    .lines
                    .fetch_sub(batch.len(), std::sync::atomic::Ordering::AcqRel);
                drained.stored.notify_waiters();
                batch.clear();
            }
        });
        Arc::new(Self {
            tx: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            backlog,
            redactor,
            pending: Mutex::default(),
        })
    }

    fn send(&self, stream: &str, text: &str) {
        let line = NewLogLine {
            at: now_ms(),
            stream: stream.to_owned(),
            text: self.redactor.redact(text),
        };
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            self.backlog
                .lines
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            if tx.send(line).is_err() {
                self.backlog
                    .lines
                    .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            }
        }
    }

    /// A whole line, redacted, then stored in pieces of the host's line length again.
    fn send_whole(&self, stream: &str, whole: &str) {
        let redacted = self.redactor.redact(whole);
        let mut rest = redacted.as_str();
        while rest.len() > lockgate_plugin_host::MAX_LINE {
            let mut cut = lockgate_plugin_host::MAX_LINE;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            self.send(stream, &rest[..cut]);
            rest = &rest[cut..];
        }
        self.send(stream, rest);
    }

    /// A line from the engine about this step.
    pub(crate) fn engine(&self, text: &str) {
        self.send("engine", text);
    }

    /// Flushes every line to the store.
    pub(crate) async fn close(&self) {
        let rest: Vec<(String, String)> = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .filter(|(_, text)| !text.is_empty())
            .collect();
        for (stream, text) in rest {
            self.send_whole(&stream, &text);
        }
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
        let whole = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let joined = pending.entry(stream.clone()).or_default();
            joined.push_str(&line.message);
            if line.continues && joined.len() < MAX_JOINED {
                return;
            }
            std::mem::take(joined)
        };
        self.send_whole(&stream, &whole);
    }

    fn is_full(&self) -> bool {
        self.backlog.is_full()
    }

    fn ready(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.backlog.ready())
    }
}

#[cfg(test)]
mod tests {
    use lockgate_plugin_host::{LogLine, LogSink, LogSource, MAX_LINE};
    use lockgate_store::{JobConfig, Store};

    use super::*;

    #[tokio::test]
    async fn a_full_backlog_holds_writers_until_lines_are_stored() {
        let backlog = Arc::new(Backlog::default());
        backlog
            .lines
            .store(HIGH_WATER, std::sync::atomic::Ordering::Release);
        assert!(backlog.is_full());
        let waiting = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.ready().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "a writer waits while the backlog is full"
        );
        backlog
            .lines
            .fetch_sub(BATCH, std::sync::atomic::Ordering::AcqRel);
        backlog.stored.notify_waiters();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the writer goes on once lines are stored")
            .unwrap();
        assert!(!backlog.is_full());
    }

    const SECRET: &str = "0123456789abcdef-very-secret";

    async fn step_log() -> (Store, i64, Arc<StepLog>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path().join("s.db")).await.unwrap();
        store
            .sync_pipeline(
                &[],
                &[JobConfig {
                    name: "j".into(),
                    environment: None,
                }],
            )
            .await
            .unwrap();
        let build = store.create_build("j", "test", &[]).await.unwrap();
        let log = StepLog::start(
            store.clone(),
            build.id,
            None,
            Redactor::new([SECRET.to_owned()]),
            Arc::new(NoObserver),
        );
        (store, build.id, log, dir)
    }

    fn piece(text: &str, continues: bool) -> LogLine {
        LogLine {
            source: LogSource::Stdout,
            message: text.to_owned(),
            continues,
        }
    }

    #[tokio::test]
    async fn a_secret_cut_by_the_hosts_line_split_is_redacted_whole() {
        let (store, build, log, _dir) = step_log().await;
        // The plugin host split a long line right inside the secret.
        let first = format!("{}{}", "x".repeat(MAX_LINE - 10), &SECRET[..10]);
        log.line(piece(&first, true));
        log.line(piece(&format!("{} and more", &SECRET[10..]), false));
        // A split line whose last piece never comes is flushed, redacted, at the end.
        log.line(piece(
            &format!("{}{}", "y".repeat(MAX_LINE - 4), SECRET),
            true,
        ));
        log.close().await;
        let lines = store.logs(build, 0, 100).await.unwrap();
        let all: String = lines.iter().map(|l| l.text.as_str()).collect();
        assert!(
            !all.contains("0123456789"),
            "a piece of the secret was stored"
        );
        assert!(
            !all.contains("very-secret"),
            "a piece of the secret was stored"
        );
        assert_eq!(all.matches("((redacted))").count(), 2);
        assert!(all.contains("((redacted)) and more"));
        assert!(
            lines.iter().all(|l| l.text.len() <= MAX_LINE),
            "pieces stay short"
        );
    }
}
