//! Process-wide counters of the engine, rendered in the Prometheus text format
//! (`GET /api/v1/metrics`): checks run and failed, builds by final status, plugin invocations
//! and their latency (a histogram). Gauges that live in the store (pending builds, nodes) are
//! passed to [`render`] by the caller.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Upper bounds (seconds) of the plugin latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

static CHECKS: AtomicU64 = AtomicU64::new(0);
static CHECKS_FAILED: AtomicU64 = AtomicU64::new(0);
static PLUGIN_CALLS: AtomicU64 = AtomicU64::new(0);
/// Sum of plugin latencies in microseconds.
static PLUGIN_MICROS: AtomicU64 = AtomicU64::new(0);
static PLUGIN_BUCKETS: [AtomicU64; LATENCY_BUCKETS.len()] =
    [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len()];
static BUILDS: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// Counts a resource check by its outcome and hands the outcome back unchanged.
pub fn checked<T, E>(outcome: Result<T, E>) -> Result<T, E> {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    if outcome.is_err() {
        CHECKS_FAILED.fetch_add(1, Ordering::Relaxed);
    }
    outcome
}

/// Counts a build that reached its final status.
pub fn build_finished(status: crate::store::BuildStatus) {
    let mut builds = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    *builds.entry(status.as_str()).or_insert(0) += 1;
}

/// Measures one plugin invocation from its creation until it is dropped.
#[must_use = "the invocation is measured until the timer is dropped"]
pub struct PluginTimer(Instant);

impl PluginTimer {
    /// Starts measuring.
    pub fn start() -> Self {
        Self(Instant::now())
    }
}

impl Drop for PluginTimer {
    fn drop(&mut self) {
        let elapsed = self.0.elapsed();
        PLUGIN_CALLS.fetch_add(1, Ordering::Relaxed);
        PLUGIN_MICROS.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            PLUGIN_BUCKETS[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Values read from the store at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Builds waiting to start.
    pub pending_builds: u64,
    /// Builds running.
    pub running_builds: u64,
    /// Engine nodes by role (`scheduler`, `standby`, `worker`).
    pub nodes: BTreeMap<String, u64>,
}

/// Everything, in the Prometheus text exposition format (version 0.0.4).
pub fn render(gauges: &Gauges) -> String {
    let mut out = String::new();
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        &mut out,
        "lockgate_checks_total",
        "Resource checks run by this process.",
        CHECKS.load(Ordering::Relaxed),
    );
    counter(
        &mut out,
        "lockgate_checks_failed_total",
        "Resource checks that failed.",
        CHECKS_FAILED.load(Ordering::Relaxed),
    );

    let _ = writeln!(
        out,
        "# HELP lockgate_builds_finished_total Builds this process ran to a final status.\n# TYPE lockgate_builds_finished_total counter"
    );
    {
        let builds = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
        for status in crate::store::BuildStatus::ALL
            .iter()
            .filter(|s| s.is_finished())
        {
            let n = builds.get(status.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "lockgate_builds_finished_total{{status=\"{status}\"}} {n}"
            );
        }
    }

    let name = "lockgate_plugin_invocation_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Latency of plugin invocations (check, get, put, run, describe).\n# TYPE {name} histogram"
    );
    let mut cumulative = 0;
    for (bound, count) in LATENCY_BUCKETS.iter().zip(&PLUGIN_BUCKETS) {
        cumulative += count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let calls = PLUGIN_CALLS.load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {calls}");
    let _ = writeln!(
        out,
        "{name}_sum {}",
        PLUGIN_MICROS.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "{name}_count {calls}");
    counter(
        &mut out,
        "lockgate_plugin_invocations_total",
        "Plugin invocations by this process.",
        calls,
    );

    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    gauge(
        &mut out,
        "lockgate_pending_builds",
        "Builds waiting to start (queue depth).",
    );
    let _ = writeln!(out, "lockgate_pending_builds {}", gauges.pending_builds);
    gauge(&mut out, "lockgate_running_builds", "Builds running now.");
    let _ = writeln!(out, "lockgate_running_builds {}", gauges.running_builds);
    gauge(
        &mut out,
        "lockgate_nodes",
        "Engine nodes with a recent heartbeat, by role.",
    );
    for role in ["scheduler", "standby", "worker"] {
        let n = gauges.nodes.get(role).copied().unwrap_or(0);
        let _ = writeln!(out, "lockgate_nodes{{role=\"{role}\"}} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let _ = checked::<(), ()>(Err(()));
        drop(PluginTimer::start());
        build_finished(crate::store::BuildStatus::Succeeded);
        let text = render(&Gauges {
            pending_builds: 3,
            ..Gauges::default()
        });
        assert!(text.contains("lockgate_checks_failed_total "), "{text}");
        assert!(text.contains("lockgate_pending_builds 3"), "{text}");
        assert!(
            text.contains("lockgate_plugin_invocation_seconds_bucket{le=\"+Inf\"}"),
            "{text}"
        );
        assert!(
            text.contains("lockgate_builds_finished_total{status=\"succeeded\"}"),
            "{text}"
        );
        assert!(
            text.contains("lockgate_nodes{role=\"scheduler\"} 0"),
            "{text}"
        );
    }
}
