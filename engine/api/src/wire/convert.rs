//! The server side of the contract: the store's and the scheduler's types into the
//! [wire](super) types the API answers with (and `lockgate`'s local commands print).

use lockgate_engine::scheduler as sched;
use lockgate_model as model;
use lockgate_store as store;

use super::*;

impl From<&store::StoredVersion> for VersionInfo {
    fn from(v: &store::StoredVersion) -> Self {
        Self {
            id: v.id,
            version: v.version.clone(),
            digest: v.digest.clone(),
            metadata: v
                .metadata
                .iter()
                .map(|(name, value)| MetadataField {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            check_order: v.check_order,
            first_seen_at: v.first_seen_at,
            disabled: v.disabled,
        }
    }
}

impl From<&store::Build> for Build {
    fn from(b: &store::Build) -> Self {
        Self {
            id: b.id,
            job: b.job.clone(),
            number: b.number,
            status: b.status,
            finished: b.status.is_finished(),
            reason: b.reason.clone(),
            retry_of: b.retry_of,
            node: b.claimed_by.clone(),
            created_at: b.created_at,
            started_at: b.started_at,
            finished_at: b.finished_at,
        }
    }
}

impl From<&sched::Blocker> for Blocker {
    fn from(b: &sched::Blocker) -> Self {
        match b {
            sched::Blocker::ManualOnly => Self::ManualOnly,
            sched::Blocker::NoInputs => Self::NoInputs,
            sched::Blocker::Approval {
                environment,
                candidate,
            } => Self::Approval {
                environment: environment.clone(),
                candidate: *candidate,
            },
            sched::Blocker::Soak {
                environment,
                candidate,
                remaining_ms,
            } => Self::Soak {
                environment: environment.clone(),
                candidate: *candidate,
                remaining_ms: *remaining_ms,
            },
        }
    }
}

impl From<&sched::Blocker> for Blocked {
    fn from(b: &sched::Blocker) -> Self {
        Self {
            detail: b.into(),
            message: b.to_string(),
        }
    }
}

impl From<&store::BuildInput> for BuildInput {
    fn from(i: &store::BuildInput) -> Self {
        Self {
            name: i.name.clone(),
            resource: i.resource.clone(),
            version_id: i.version_id,
            version: i.version.clone(),
        }
    }
}

impl From<&store::BuildOutput> for BuildOutput {
    fn from(o: &store::BuildOutput) -> Self {
        Self {
            resource: o.resource.clone(),
            version_id: o.version_id,
            version: o.version.clone(),
        }
    }
}

impl From<&store::Step> for Step {
    fn from(s: &store::Step) -> Self {
        Self {
            id: s.id,
            build_id: s.build_id,
            path: s.path.clone(),
            kind: s.kind.clone(),
            name: s.name.clone(),
            status: s.status,
            started_at: s.started_at,
            finished_at: s.finished_at,
            error: s.error.clone(),
        }
    }
}

impl From<&store::LogEntry> for LogLine {
    fn from(l: &store::LogEntry) -> Self {
        Self {
            seq: l.seq,
            step_id: l.step_id,
            at: l.at,
            stream: l.stream.clone(),
            text: l.text.clone(),
        }
    }
}

impl From<&store::StoredTestReport> for StepReport {
    fn from(r: &store::StoredTestReport) -> Self {
        Self {
            step_id: r.step_id,
            build_id: r.build_id,
            passed: r.passed,
            created_at: r.created_at,
            report: (&r.report).into(),
        }
    }
}

impl From<&model::TestReport> for TestReport {
    fn from(r: &model::TestReport) -> Self {
        Self {
            suites: r
                .suites
                .iter()
                .map(|s| TestSuite {
                    name: s.name.clone(),
                    cases: s
                        .cases
                        .iter()
                        .map(|c| TestCase {
                            name: c.name.clone(),
                            status: c.status.into(),
                            duration_ms: c.duration_ms,
                            message: c.message.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl From<model::CaseStatus> for CaseStatus {
    fn from(s: model::CaseStatus) -> Self {
        match s {
            model::CaseStatus::Passed => Self::Passed,
            model::CaseStatus::Failed => Self::Failed,
            model::CaseStatus::Skipped => Self::Skipped,
            model::CaseStatus::Errored => Self::Errored,
        }
    }
}

impl From<&sched::EnvironmentStatus> for EnvironmentStatus {
    fn from(s: &sched::EnvironmentStatus) -> Self {
        // The scheduler's summary type is not nameable here: one macro for its three uses.
        macro_rules! summary {
            ($c:expr) => {
                $c.as_ref().map(|c| CandidateSummary {
                    id: c.id,
                    versions: c.versions.clone(),
                })
            };
        }
        Self {
            environment: s.environment.clone(),
            upstream: s.upstream.clone(),
            current: summary!(s.current),
            qualified: summary!(s.qualified),
            next: summary!(s.next),
            blockers: s.blockers.clone(),
        }
    }
}

impl From<&store::Candidate> for Candidate {
    fn from(c: &store::Candidate) -> Self {
        Self {
            id: c.id,
            digest: c.digest.clone(),
            created_at: c.created_at,
            versions: c
                .versions
                .iter()
                .map(|v| CandidateVersion {
                    resource: v.resource.clone(),
                    version_id: v.version_id,
                    version: v.version.clone(),
                })
                .collect(),
        }
    }
}

impl From<&store::Lease> for Lease {
    fn from(l: &store::Lease) -> Self {
        Self {
            holder: l.holder.clone(),
            acquired_at: l.acquired_at,
            expires_at: l.expires_at,
        }
    }
}

impl From<&store::NodeInfo> for Node {
    fn from(n: &store::NodeInfo) -> Self {
        Self {
            name: n.name.clone(),
            role: n.role.clone(),
            capacity: n.capacity,
            running: n.running,
            started_at: n.started_at,
            heartbeat_at: n.heartbeat_at,
        }
    }
}
