//! The Prometheus exposition of `GET /api/v1/metrics` (and `/metrics`): the figures the plugin
//! host and the engine record through the `metrics` facade, plus gauges read from the store at
//! scrape time.
//!
//! [`recorder`] installs one process-wide Prometheus recorder (the first caller wins; a recorder
//! installed by someone else is kept and this process then renders only the gauges).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use lockgate_engine::metrics::{BUILDS_FINISHED_TOTAL, CHECKS_FAILED_TOTAL, CHECKS_TOTAL};
use lockgate_model::BuildStatus;
use lockgate_plugin_host::metrics::{INVOCATION_SECONDS, INVOCATIONS_TOTAL};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds (seconds) of the plugin latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

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

/// The process's Prometheus recorder, installed on first use; `None` when another recorder
/// was installed first.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(INVOCATION_SECONDS.to_owned()),
                    &LATENCY_BUCKETS,
                )
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// Help texts, and zeros for the counters so a scrape shows every series from the start.
fn describe() {
    metrics::describe_counter!(CHECKS_TOTAL, "Resource checks run by this process.");
    metrics::describe_counter!(CHECKS_FAILED_TOTAL, "Resource checks that failed.");
    metrics::describe_counter!(
        BUILDS_FINISHED_TOTAL,
        "Builds this process ran to a final status."
    );
    metrics::describe_histogram!(
        INVOCATION_SECONDS,
        metrics::Unit::Seconds,
        "Latency of plugin invocations (check, get, put, run, describe)."
    );
    metrics::describe_counter!(INVOCATIONS_TOTAL, "Plugin invocations by this process.");
    metrics::describe_gauge!(
        "lockgate_pending_builds",
        "Builds waiting to start (queue depth)."
    );
    metrics::describe_gauge!("lockgate_running_builds", "Builds running now.");
    metrics::describe_gauge!(
        "lockgate_nodes",
        "Engine nodes with a recent heartbeat, by role."
    );
    for name in [CHECKS_TOTAL, CHECKS_FAILED_TOTAL, INVOCATIONS_TOTAL] {
        metrics::counter!(name).increment(0);
    }
    for status in BuildStatus::ALL.iter().filter(|s| s.is_finished()) {
        metrics::counter!(BUILDS_FINISHED_TOTAL, "status" => status.as_str()).increment(0);
    }
}

/// Everything, in the Prometheus text exposition format (version 0.0.4), with `gauges` as
/// read from the store now.
pub fn render(gauges: &Gauges) -> String {
    let Some(handle) = recorder() else {
        return String::new();
    };
    metrics::gauge!("lockgate_pending_builds").set(gauges.pending_builds as f64);
    metrics::gauge!("lockgate_running_builds").set(gauges.running_builds as f64);
    for role in ["scheduler", "standby", "worker"] {
        let n = gauges.nodes.get(role).copied().unwrap_or(0);
        metrics::gauge!("lockgate_nodes", "role" => role).set(n as f64);
    }
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        recorder().expect("no other recorder in this test binary");
        let _ = lockgate_engine::metrics::checked::<(), ()>(Err(()));
        lockgate_engine::metrics::build_finished(BuildStatus::Succeeded);
        metrics::histogram!(INVOCATION_SECONDS).record(0.002);
        let text = render(&Gauges {
            pending_builds: 3,
            ..Gauges::default()
        });
        for needle in [
            "lockgate_checks_failed_total 1",
            "lockgate_pending_builds 3",
            "lockgate_plugin_invocation_seconds_bucket{le=\"+Inf\"} 1",
            "lockgate_plugin_invocation_seconds_bucket{le=\"0.0025\"} 1",
            "lockgate_builds_finished_total{status=\"succeeded\"} 1",
            "lockgate_builds_finished_total{status=\"failed\"} 0",
            "lockgate_nodes{role=\"scheduler\"} 0",
            "# HELP lockgate_checks_total Resource checks run by this process.",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }
}
