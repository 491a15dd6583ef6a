//! Figures the plugin host records through the `metrics` facade; whoever installs a recorder
//! (the API server) exports them.

use std::time::Duration;

/// Histogram of plugin invocation latencies, in seconds.
pub const INVOCATION_SECONDS: &str = "lockgate_plugin_invocation_seconds";
/// Counter of plugin invocations.
pub const INVOCATIONS_TOTAL: &str = "lockgate_plugin_invocations_total";

/// Records one invocation (check, get, put, run, describe) that took `elapsed`.
pub(crate) fn invocation(elapsed: Duration) {
    metrics::histogram!(INVOCATION_SECONDS).record(elapsed.as_secs_f64());
    metrics::counter!(INVOCATIONS_TOTAL).increment(1);
}
