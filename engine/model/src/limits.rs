//! Resource limits of one plugin invocation: memory, deadlines per operation, output size.

use std::time::Duration;

/// Which plugin operation was invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `describe`.
    Describe,
    /// `check`.
    Check,
    /// `get`.
    Get,
    /// `put`.
    Put,
    /// A test step's `run`.
    Run,
    /// A task step's program (its deadline is `run`'s).
    Task,
}

impl Operation {
    /// The operation's name as in the WIT.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Describe => "describe",
            Operation::Check => "check",
            Operation::Get => "get",
            Operation::Put => "put",
            Operation::Run => "run",
            Operation::Task => "task",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Limits applied to one invocation. Defaults: 256 MiB of memory; deadlines of 60 s for
/// `check`, 10 min for `get`/`put`, 30 min for a test `run`, 10 s for `describe`; 4 MiB of
/// log output; what a plugin hands back: 10,000 versions per check (the newest kept), 64
/// fields per version, 256 metadata entries, 16 KiB per field, 16 KiB of error message, a
/// test report of 10,000 suites and cases and 1 MiB of names and messages; on
/// disk: 8 GiB written and 100,000 files created per invocation, 1 GiB kept in a resource's
/// cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the plugin may grow to, in bytes.
    pub memory_bytes: u64,
    /// Deadline of `check`.
    pub check: Duration,
    /// Deadline of `get`.
    pub get: Duration,
    /// Deadline of `put`.
    pub put: Duration,
    /// Deadline of a test step's `run`.
    pub run: Duration,
    /// Deadline of `describe`.
    pub describe: Duration,
    /// Bytes of log output (log import, stdout, stderr) passed to the sink.
    pub output_bytes: usize,
    /// Versions one `check` may return: past it, the newest are kept, with a warning.
    pub versions_per_check: usize,
    /// Fields of one version.
    pub version_fields: usize,
    /// Metadata entries of one `get` or `put`.
    pub metadata_entries: usize,
    /// Bytes of one field (name plus value) of a version or of metadata.
    pub field_bytes: usize,
    /// Bytes of a plugin's error message kept (the rest is cut, saying how much).
    pub message_bytes: usize,
    /// Bytes one invocation may write into its writable grants (`/output`, `/cache`,
    /// writable `/dirs`); past it the invocation is stopped.
    pub disk_bytes: u64,
    /// Files and directories one invocation may create; past it the invocation is stopped.
    pub files: u64,
    /// Bytes a resource's `/cache` may keep between invocations; past it the cache is emptied.
    pub cache_bytes: u64,
    /// Suites plus cases of one test report.
    pub report_cases: usize,
    /// Bytes of one test report's names and messages together.
    pub report_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 * 1024 * 1024,
            check: Duration::from_secs(60),
            get: Duration::from_secs(600),
            put: Duration::from_secs(600),
            run: Duration::from_secs(1800),
            describe: Duration::from_secs(10),
            output_bytes: 4 * 1024 * 1024,
            versions_per_check: 10_000,
            version_fields: 64,
            metadata_entries: 256,
            field_bytes: 16 * 1024,
            message_bytes: 16 * 1024,
            disk_bytes: 8 << 30,
            files: 100_000,
            cache_bytes: 1 << 30,
            report_cases: 10_000,
            report_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// The deadline of `op`.
    pub fn deadline(&self, op: Operation) -> Duration {
        match op {
            Operation::Describe => self.describe,
            Operation::Check => self.check,
            Operation::Get => self.get,
            Operation::Put => self.put,
            Operation::Run | Operation::Task => self.run,
        }
    }

    /// The same limits with every operation's deadline set to `d` (a step's `timeout`).
    pub fn with_deadline(mut self, d: Duration) -> Self {
        self.check = d;
        self.get = d;
        self.put = d;
        self.run = d;
        self
    }

    /// The same limits with a memory cap of `bytes`.
    pub fn with_memory(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_figures() {
        let l = Limits::default();
        assert_eq!(l.deadline(Operation::Check), Duration::from_secs(60));
        assert_eq!(l.deadline(Operation::Get), Duration::from_secs(600));
        assert_eq!(l.deadline(Operation::Put), Duration::from_secs(600));
        assert_eq!(l.deadline(Operation::Run), Duration::from_secs(1800));
        assert_eq!(l.memory_bytes, 256 << 20);
        let short = l.with_deadline(Duration::from_secs(5));
        assert_eq!(short.deadline(Operation::Run), Duration::from_secs(5));
        assert_eq!(short.deadline(Operation::Describe), Duration::from_secs(10));
    }
}
