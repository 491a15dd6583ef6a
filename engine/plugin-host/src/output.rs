//! Where a plugin's words go: the `log` import, stdout and stderr, streamed line by line into a
//! [`LogSink`] and capped in size per invocation.
//!
//! Past the cap, output is dropped (the guest is not told, so a chatty plugin still finishes)
//! and one notice says how much was lost. The tail of stderr is always kept so that a guest
//! panic can be reported with its message.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Very detailed.
    Trace,
    /// For plugin authors.
    Debug,
    /// Progress.
    Info,
    /// Suspicious.
    Warn,
    /// Failing.
    Error,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "stream", content = "level")]
pub enum LogSource {
    /// The plugin called the `log` import.
    Plugin(Level),
    /// The plugin wrote to stdout.
    Stdout,
    /// The plugin wrote to stderr.
    Stderr,
    /// The engine itself, about this invocation (a refused connection, dropped output, ...).
    Engine,
}

/// One line of an invocation's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Origin.
    pub source: LogSource,
    /// Text, without the trailing newline.
    pub message: String,
    /// The line goes on in the next one: it was longer than [`MAX_LINE`] and split there
    /// (a sink that redacts joins the pieces first, so no secret is cut in two).
    pub continues: bool,
}

/// Receives log lines as a plugin produces them. Implementations must be cheap and must not
/// block: they are called from the plugin's thread.
///
/// A sink that stores lines somewhere slower than a plugin can write says so with
/// [`LogSink::is_full`]: the plugin's stdout and stderr then accept nothing more and its `log`
/// calls wait until [`LogSink::ready`] resolves — back-pressure on the guest, which awaits in
/// the host call (its deadline still runs), never a blocked thread.
pub trait LogSink: Send + Sync {
    /// One line, in order.
    fn line(&self, line: LogLine);

    /// Whether the sink is behind and writers should wait for [`LogSink::ready`].
    fn is_full(&self) -> bool {
        false
    }

    /// Resolves once the sink has room again (at once when it is not full).
    fn ready(&self) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// A sink that discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl LogSink for NullSink {
    fn line(&self, _line: LogLine) {}
}

/// A sink that keeps every line in memory (tests, `plugin inspect`, short invocations).
#[derive(Debug, Default, Clone)]
pub struct MemorySink(Arc<Mutex<Vec<LogLine>>>);

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines received so far.
    pub fn lines(&self) -> Vec<LogLine> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// All messages joined with newlines.
    pub fn text(&self) -> String {
        self.lines()
            .iter()
            .map(|l| l.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl LogSink for MemorySink {
    fn line(&self, line: LogLine) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

/// The least a line costs against the output cap, in bytes: what storing a row costs.
pub const LINE_COST: usize = 64;

/// Longest line passed on whole; longer lines are split.
pub const MAX_LINE: usize = 16 * 1024;
/// How much of stderr is kept for crash reports, whatever the cap.
const STDERR_TAIL: usize = 4096;

/// Per-invocation capture state shared by the `log` import and the stdio streams.
pub(crate) struct Capture {
    sink: Arc<dyn LogSink>,
    state: Mutex<CaptureState>,
    /// Whose output: a plugin's, or a task step's program (for the notices).
    task: bool,
}

struct CaptureState {
    remaining: usize,
    cap: usize,
    dropped: u64,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stderr_tail: VecDeque<u8>,
}

impl Capture {
    /// A capture passing at most `cap` bytes of a plugin's output to `sink`.
    pub(crate) fn new(sink: Arc<dyn LogSink>, cap: usize) -> Arc<Self> {
        Self::with_owner(sink, cap, false)
    }

    /// [`Capture::new`] for a task step's program: its notices speak of the task.
    pub(crate) fn for_task(sink: Arc<dyn LogSink>, cap: usize) -> Arc<Self> {
        Self::with_owner(sink, cap, true)
    }

    fn with_owner(sink: Arc<dyn LogSink>, cap: usize, task: bool) -> Arc<Self> {
        Arc::new(Self {
            task,
            sink,
            state: Mutex::new(CaptureState {
                remaining: cap,
                cap,
                dropped: 0,
                stdout: Vec::new(),
                stderr: Vec::new(),
                stderr_tail: VecDeque::new(),
            }),
        })
    }

    /// Waits while the sink is behind (back-pressure on the plugin's output).
    pub(crate) async fn ready(&self) {
        self.sink.ready().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CaptureState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A line from the `log` import.
    pub(crate) fn log(&self, level: Level, message: &str) {
        let mut st = self.lock();
        for line in message.trim_end_matches('\n').split('\n') {
            self.emit(&mut st, LogSource::Plugin(level), line.as_bytes(), false);
        }
    }

    /// A notice from the engine about this invocation (a refused connection, a dropped
    /// version). Counted against the cap like the plugin's own output, since a plugin can cause
    /// as many as it likes.
    pub(crate) fn engine(&self, message: impl Into<String>) {
        let message = message.into();
        let mut st = self.lock();
        self.emit(&mut st, LogSource::Engine, message.as_bytes(), false);
    }

    /// Bytes written to stdout or stderr.
    fn write(&self, source: LogSource, bytes: &[u8]) {
        let mut st = self.lock();
        if source == LogSource::Stderr {
            for &b in bytes.iter().rev().take(STDERR_TAIL).rev() {
                if st.stderr_tail.len() == STDERR_TAIL {
                    st.stderr_tail.pop_front();
                }
                st.stderr_tail.push_back(b);
            }
        }
        let mut buf = std::mem::take(match source {
            LogSource::Stderr => &mut st.stderr,
            _ => &mut st.stdout,
        });
        buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            self.emit(&mut st, source, &buf[start..end], false);
            start = end + 1;
        }
        while buf.len() - start >= MAX_LINE {
            self.emit(&mut st, source, &buf[start..start + MAX_LINE], true);
            start += MAX_LINE;
        }
        buf.drain(..start);
        match source {
            LogSource::Stderr => st.stderr = buf,
            _ => st.stdout = buf,
        }
    }

    fn emit(&self, st: &mut CaptureState, source: LogSource, bytes: &[u8], continues: bool) {
        // Every line costs at least a stored row's overhead: a flood of empty lines is capped
        // like a flood of text.
        let cost = (bytes.len() + 1).max(LINE_COST);
        if cost > st.remaining {
            st.dropped += cost as u64;
            // Once a line is dropped, so is every later one (even a shorter one that would fit),
            // and the reader is told once.
            let first = st.remaining > 0 || st.dropped == cost as u64;
            st.remaining = 0;
            if !first {
                return;
            }
            self.sink.line(LogLine {
                source: LogSource::Engine,
                message: format!(
                    "output limit of {} bytes for this invocation reached; further output is dropped ({} can raise it with `limits: {{log_size: …}}`)",
                    st.cap,
                    if self.task { "the task step" } else { "the plugin's type" }
                ),
                continues: false,
            });
            return;
        }
        st.remaining -= cost;
        let text = String::from_utf8_lossy(bytes);
        let message = text.strip_suffix('\r').unwrap_or(&text).to_owned();
        self.sink.line(LogLine {
            source,
            message,
            continues,
        });
    }

    /// Flushes partial lines and reports dropped output. Called once when the invocation ends.
    pub(crate) fn finish(&self) {
        let mut st = self.lock();
        for source in [LogSource::Stdout, LogSource::Stderr] {
            let buf = std::mem::take(match source {
                LogSource::Stderr => &mut st.stderr,
                _ => &mut st.stdout,
            });
            if !buf.is_empty() {
                self.emit(&mut st, source, &buf, false);
            }
        }
        if st.dropped > 0 {
            let dropped = st.dropped;
            st.dropped = 0;
            self.sink.line(LogLine {
                source: LogSource::Engine,
                message: format!(
                    "{dropped} bytes of {} output were dropped (limit {} bytes)",
                    if self.task { "task" } else { "plugin" },
                    st.cap
                ),
                continues: false,
            });
        }
    }

    /// The last few KiB of stderr, for crash reports.
    pub(crate) fn stderr_tail(&self) -> String {
        let st = self.lock();
        let bytes: Vec<u8> = st.stderr_tail.iter().copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// A guest stdout or stderr stream feeding a [`Capture`].
#[derive(Clone)]
pub(crate) struct CaptureStream {
    capture: Arc<Capture>,
    source: LogSource,
}

impl CaptureStream {
    pub(crate) fn stdout(capture: &Arc<Capture>) -> Self {
        Self {
            capture: capture.clone(),
            source: LogSource::Stdout,
        }
    }

    pub(crate) fn stderr(capture: &Arc<Capture>) -> Self {
        Self {
            capture: capture.clone(),
            source: LogSource::Stderr,
        }
    }
}

impl IsTerminal for CaptureStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CaptureStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CaptureStream {
    async fn ready(&mut self) {
        self.capture.ready().await;
    }
}

impl OutputStream for CaptureStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.capture.write(self.source, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Nothing while the sink is behind: the guest waits on `ready` (a write in flight
        // still passes whole, so the sink's backlog stays within one write of its mark).
        if self.capture.sink.is_full() {
            return Ok(0);
        }
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CaptureStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.capture.write(self.source, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_partial_lines_flushed_at_the_end() {
        let sink = MemorySink::new();
        let cap = Capture::new(Arc::new(sink.clone()), 1024);
        cap.write(LogSource::Stdout, b"hello\nwor");
        cap.write(LogSource::Stdout, b"ld\r\npartial");
        cap.finish();
        let msgs: Vec<_> = sink.lines().into_iter().map(|l| l.message).collect();
        assert_eq!(msgs, ["hello", "world", "partial"]);
    }

    #[test]
    fn output_past_the_cap_is_dropped_with_one_notice() {
        let sink = MemorySink::new();
        let limit = 2 * LINE_COST + 10;
        let cap = Capture::new(Arc::new(sink.clone()), limit);
        cap.write(LogSource::Stdout, b"12345\n");
        cap.write(LogSource::Stdout, b"67890\nmore\nand more\n");
        cap.finish();
        let lines = sink.lines();
        assert_eq!(lines[0].message, "12345");
        assert_eq!(lines[1].message, "67890");
        assert_eq!(lines[2].source, LogSource::Engine);
        assert!(
            lines[2]
                .message
                .contains(&format!("output limit of {limit} bytes"))
        );
        assert_eq!(
            lines[3].message,
            format!(
                "{} bytes of plugin output were dropped (limit {limit} bytes)",
                2 * LINE_COST
            )
        );
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn empty_lines_and_engine_notices_count_against_the_cap() {
        let sink = MemorySink::new();
        let cap = Capture::new(Arc::new(sink.clone()), 100 * LINE_COST);
        cap.write(LogSource::Stdout, &[b'\n'; 10_000]);
        for _ in 0..10_000 {
            cap.engine("connection to 10.0.0.1:80 refused");
        }
        cap.finish();
        let lines = sink.lines();
        // 100 lines fit; then one notice that the limit was reached and one total.
        assert_eq!(lines.len(), 102, "{:?}", &lines[..3]);
        assert!(lines[100].message.starts_with("output limit of"));
        assert!(lines[101].message.contains("were dropped"));
    }

    /// A sink that is full until released.
    struct Gate(std::sync::atomic::AtomicBool, tokio::sync::Notify);

    impl LogSink for Gate {
        fn line(&self, _line: LogLine) {}

        fn is_full(&self) -> bool {
            !self.0.load(std::sync::atomic::Ordering::Acquire)
        }

        fn ready(&self) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
            Box::pin(async move {
                while self.is_full() {
                    self.1.notified().await;
                }
            })
        }
    }

    #[tokio::test]
    async fn a_full_sink_holds_the_plugins_stdout_until_it_has_room() {
        let gate = Arc::new(Gate(
            std::sync::atomic::AtomicBool::new(false),
            tokio::sync::Notify::new(),
        ));
        let capture = Capture::new(gate.clone(), 1 << 20);
        let mut stdout = CaptureStream::stdout(&capture);
        assert_eq!(
            stdout.check_write().unwrap(),
            0,
            "no room while the sink is full"
        );
        let waiting = tokio::spawn(async move {
            Pollable::ready(&mut stdout).await;
            stdout.check_write().unwrap()
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the guest waits");
        gate.0.store(true, std::sync::atomic::Ordering::Release);
        gate.1.notify_waiters();
        let room = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("released")
            .unwrap();
        assert_eq!(room, 64 * 1024);
    }

    #[test]
    fn stderr_tail_survives_the_cap() {
        let cap = Capture::new(Arc::new(NullSink), 4);
        cap.write(
            LogSource::Stderr,
            b"thread panicked at src/lib.rs:1:1:\nboom\n",
        );
        assert!(cap.stderr_tail().contains("boom"));
    }

    #[test]
    fn overlong_lines_are_split() {
        let sink = MemorySink::new();
        let cap = Capture::new(Arc::new(sink.clone()), 1 << 20);
        cap.write(LogSource::Stderr, &vec![b'x'; MAX_LINE * 2 + 5]);
        cap.finish();
        let lens: Vec<_> = sink.lines().iter().map(|l| l.message.len()).collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, 5]);
    }
}
