//! Values read from and written to the store. Times are Unix milliseconds (UTC).

use std::fmt;

use serde::{Deserialize, Serialize};

pub use lockgate_model::{BuildStatus, CandidateEvent, StepStatus};
use lockgate_model::{Metadata, TestReport, Version, VersionPolicy};

use super::digest;

/// Which database a [`Store`](super::Store) runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server (several engine nodes).
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A resource as declared by the pipeline, for [`Store::sync_pipeline`](super::Store::sync_pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceConfig {
    /// Resource name, unique in the pipeline.
    pub name: String,
    /// Resource type name.
    pub type_name: String,
    /// Digest of (type, source); see [`config_digest`]. A new digest starts a new version
    /// history; resources with equal digests share one.
    pub config_digest: String,
}

impl ResourceConfig {
    /// A resource of type `type_name` with the (interpolated) `source`.
    pub fn new(
        name: impl Into<String>,
        type_name: impl Into<String>,
        source: &serde_json::Value,
    ) -> Self {
        let type_name = type_name.into();
        Self {
            name: name.into(),
            config_digest: config_digest(&type_name, source),
            type_name,
        }
    }
}

/// SHA-256 (hex) of a resource's type and canonical source JSON (object keys sorted at every
/// level, whatever the JSON map implementation preserves).
pub fn config_digest(type_name: &str, source: &serde_json::Value) -> String {
    let mut text = String::new();
    digest::canonical_json(source, &mut text);
    digest::sha256_hex([type_name.as_bytes(), b"\0", text.as_bytes()])
}

/// A job as declared by the pipeline, for [`Store::sync_pipeline`](super::Store::sync_pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfig {
    /// Job name, unique in the pipeline.
    pub name: String,
    /// The environment the job belongs to, if any.
    pub environment: Option<String>,
}

/// What [`Store::sync_pipeline`](super::Store::sync_pipeline) changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Resources seen for the first time.
    pub added_resources: Vec<String>,
    /// Existing resources whose configuration digest changed: they now have a new (possibly
    /// empty) version history.
    pub new_histories: Vec<String>,
    /// Resources no longer in the pipeline (kept, marked inactive, history intact).
    pub deactivated_resources: Vec<String>,
    /// Jobs seen for the first time.
    pub added_jobs: Vec<String>,
    /// Jobs no longer in the pipeline (kept, marked inactive, builds intact).
    pub deactivated_jobs: Vec<String>,
}

/// A stored resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Type name.
    pub type_name: String,
    /// Digest of its current configuration.
    pub config_digest: String,
    /// The version history its current configuration uses.
    pub scope_id: i64,
    /// The pinned version, if pinned.
    pub pinned_version_id: Option<i64>,
    /// Still in the pipeline.
    pub active: bool,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Environment, if any.
    pub environment: Option<String>,
    /// Still in the pipeline.
    pub active: bool,
}

/// A version of a resource as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Row id (grows with `check_order` within a history).
    pub id: i64,
    /// The version history it belongs to.
    pub scope_id: i64,
    /// The version map.
    pub version: Version,
    /// SHA-256 of the canonical JSON of `version`.
    pub digest: String,
    /// Facts about it, in the plugin's order.
    pub metadata: Metadata,
    /// Position in its history: larger is newer.
    pub check_order: i64,
    /// When it was first stored.
    pub first_seen_at: i64,
    /// Disabled versions are never picked as inputs.
    pub disabled: bool,
}

/// What [`Store::save_versions`](super::Store::save_versions) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaveOutcome {
    /// Versions that were not stored before, in the order given.
    pub new_versions: Vec<StoredVersion>,
    /// Already stored versions whose metadata was replaced (non-empty and different).
    pub updated_metadata: usize,
}

/// Keyset paging, newest first: at most `limit` items older than `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Maximum number of items.
    pub limit: u32,
    /// Exclusive upper bound of the ordering key (`check_order` for versions, `id` for builds
    /// and events); `None` starts at the newest.
    pub before: Option<i64>,
}

impl Page {
    /// The newest `limit` items.
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            before: None,
        }
    }

    /// The `limit` items older than `before`.
    pub fn before(before: i64, limit: u32) -> Self {
        Self {
            limit,
            before: Some(before),
        }
    }
}

/// A stored build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// Row id (unique across jobs).
    pub id: i64,
    /// Job row id.
    pub job_id: i64,
    /// Job name.
    pub job: String,
    /// Number within the job, from 1.
    pub number: i64,
    /// Status.
    pub status: BuildStatus,
    /// Why it was created (`trigger`, `manual`, `re-queued after interruption of #3`, ...).
    pub reason: String,
    /// The interrupted build this one re-runs.
    pub retry_of: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Start time.
    pub started_at: Option<i64>,
    /// End time.
    pub finished_at: Option<i64>,
    /// The node that claimed it.
    pub claimed_by: Option<String>,
    /// Last heartbeat of that node.
    pub heartbeat_at: Option<i64>,
    /// The candidate it is judged against (set when claimed; see docs/promotion.md).
    pub candidate_id: Option<i64>,
    /// Its place in its job's order: its id, or the order of the build it re-runs.
    pub order: i64,
}

/// A build input as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInput {
    /// Input name in the job's plan.
    pub name: String,
    /// Resource name.
    pub resource: String,
    /// Version row id.
    pub version_id: i64,
    /// The version.
    pub version: Version,
}

/// A version created by a build's `put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutput {
    /// Resource name.
    pub resource: String,
    /// Version row id.
    pub version_id: i64,
    /// The version.
    pub version: Version,
}

/// One started build that [`Store::recover_interrupted`](super::Store::recover_interrupted)
/// marked interrupted, with the pending build that re-runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The build, now `interrupted`.
    pub interrupted: Build,
    /// Its replacement, `pending`, with the same inputs.
    pub requeued: Build,
}

/// One input of a job, for [`Store::resolve_inputs`](super::Store::resolve_inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// Input name (the `get` name).
    pub name: String,
    /// Resource name.
    pub resource: String,
    /// Upstream jobs the version must have passed (each in a succeeded build).
    pub passed: Vec<String>,
    /// Version selection.
    pub version: VersionPolicy,
}

/// A resolved input: the version a new build of the job would get.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolvedInput {
    /// Input name.
    pub name: String,
    /// Resource name.
    pub resource: String,
    /// Version row id.
    pub version_id: i64,
    /// The version.
    pub version: Version,
}

/// A stored build step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Row id.
    pub id: i64,
    /// Build id.
    pub build_id: i64,
    /// Position in the plan, e.g. `plan.2.in_parallel.0`.
    pub path: String,
    /// Step kind (`get`, `put`, `test`, ...).
    pub kind: String,
    /// Step name.
    pub name: String,
    /// Status.
    pub status: StepStatus,
    /// Start time.
    pub started_at: Option<i64>,
    /// End time.
    pub finished_at: Option<i64>,
    /// Why it failed or errored.
    pub error: Option<String>,
}

/// A log line to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogLine {
    /// Time of the line.
    pub at: i64,
    /// Stream name (`stdout`, `stderr`, `plugin`, `engine`, ...).
    pub stream: String,
    /// Text without trailing newline.
    pub text: String,
}

/// A stored log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Build id.
    pub build_id: i64,
    /// Sequence number within the build, from 1, without gaps.
    pub seq: i64,
    /// The step that wrote it, if any.
    pub step_id: Option<i64>,
    /// Time.
    pub at: i64,
    /// Stream name.
    pub stream: String,
    /// Text.
    pub text: String,
}

/// A stored test report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTestReport {
    /// The test step.
    pub step_id: i64,
    /// Its build.
    pub build_id: i64,
    /// The report.
    pub report: TestReport,
    /// Whether it passed (no failed or errored case).
    pub passed: bool,
    /// When it was stored.
    pub created_at: i64,
}

/// One (resource, version) pair of a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateVersion {
    /// Resource name.
    pub resource: String,
    /// Version row id.
    pub version_id: i64,
    /// Version digest.
    pub digest: String,
    /// The version.
    pub version: Version,
}

/// A candidate: the versions that went through an environment together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Row id.
    pub id: i64,
    /// SHA-256 of the sorted (resource, version digest) pairs.
    pub digest: String,
    /// The pairs, sorted by resource then version digest.
    pub versions: Vec<CandidateVersion>,
    /// When it was first recorded.
    pub created_at: i64,
}

/// An event to record for a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCandidateEvent {
    /// Candidate id.
    pub candidate_id: i64,
    /// Environment name.
    pub environment: String,
    /// What happened.
    pub event: CandidateEvent,
    /// Who did it (a person for approvals, a node or job otherwise).
    pub by: Option<String>,
    /// The build involved.
    pub build_id: Option<i64>,
    /// Free-form JSON detail (test summary, reason, ...).
    pub detail: Option<serde_json::Value>,
}

/// A stored candidate event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCandidateEvent {
    /// Row id (newer events have larger ids).
    pub id: i64,
    /// Candidate id.
    pub candidate_id: i64,
    /// Environment name.
    pub environment: String,
    /// What happened.
    pub event: CandidateEvent,
    /// When.
    pub at: i64,
    /// Who.
    pub by: Option<String>,
    /// The build involved.
    pub build_id: Option<i64>,
    /// Detail JSON.
    pub detail: Option<serde_json::Value>,
}

/// A stored approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// Environment name.
    pub environment: String,
    /// Candidate id.
    pub candidate_id: i64,
    /// Who approved.
    pub approver: String,
    /// When.
    pub at: i64,
    /// Their comment.
    pub comment: Option<String>,
}
