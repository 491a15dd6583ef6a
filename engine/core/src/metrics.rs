//! Figures the engine records through the `metrics` facade; whoever installs a recorder (the
//! API server) exports them.

use lockgate_model::BuildStatus;

/// Counter of resource checks run.
pub const CHECKS_TOTAL: &str = "lockgate_checks_total";
/// Counter of resource checks that failed.
pub const CHECKS_FAILED_TOTAL: &str = "lockgate_checks_failed_total";
/// Counter of builds that reached a final status, labelled `status`.
pub const BUILDS_FINISHED_TOTAL: &str = "lockgate_builds_finished_total";

/// Counts a resource check by its outcome and hands the outcome back unchanged.
pub fn checked<T, E>(outcome: Result<T, E>) -> Result<T, E> {
    metrics::counter!(CHECKS_TOTAL).increment(1);
    if outcome.is_err() {
        metrics::counter!(CHECKS_FAILED_TOTAL).increment(1);
    }
    outcome
}

/// Counts a build that reached its final status.
pub fn build_finished(status: BuildStatus) {
    metrics::counter!(BUILDS_FINISHED_TOTAL, "status" => status.as_str()).increment(1);
}
