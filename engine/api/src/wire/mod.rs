//! The contract of `/api/v1`: every request and response body as a plain serde type, written
//! once. The handlers answer with these types, the `lockgate` client reads them, and
//! `docs/openapi.json` is generated from them (see [`crate::openapi`]).
//!
//! The types hold only plain data (strings, numbers, and the shared values of
//! `lockgate-model`: [`Version`], [`BuildStatus`], [`StepStatus`]); the server converts its
//! store and scheduler types into them ([`convert`]). Field names are what the dashboard
//! (`engine/api/web/js`) reads: renaming one is a change of the API.

pub mod convert;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use lockgate_model::{BuildStatus, StepStatus, Version};

/// Names of the events of the live log stream (`GET /builds/{id}/logs/stream`).
pub mod event {
    /// A log line: `data` is a [`LogLine`](super::LogLine), `id` its sequence number.
    pub const LOG: &str = "log";
    /// The build finished and every line was sent: `data` is a
    /// [`StreamEnd`](super::StreamEnd).
    pub const END: &str = "end";
    /// The server is stopping: `data` is a [`StreamShutdown`](super::StreamShutdown).
    pub const SHUTDOWN: &str = "shutdown";
    /// The server could not read the build or its logs: `data` is an
    /// [`ErrorBody`](super::ErrorBody).
    pub const ERROR: &str = "error";
}

/// Every error answer: `{"error": "…"}`, with a status code that says whose fault it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, naming it.
    pub error: String,
}

/// A version: a map of string fields, e.g. `{"number": "3"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = VersionMap)]
pub struct VersionMapSchema(pub BTreeMap<String, String>);

fn build_status() -> utoipa::openapi::schema::Object {
    string_enum(BuildStatus::ALL.iter().map(|s| s.as_str()))
}

fn step_status() -> utoipa::openapi::schema::Object {
    string_enum(StepStatus::ALL.iter().map(|s| s.as_str()))
}

fn string_enum<'a>(values: impl Iterator<Item = &'a str>) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.map(str::to_owned)))
        .build()
}

// ---- The pipeline graph -------------------------------------------------------------------

/// `GET /pipeline`: environments in promotion order, resources, jobs, and the `passed` edges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PipelineGraph {
    /// Environments, in promotion order.
    pub environments: Vec<GraphEnvironment>,
    /// Resources.
    pub resources: Vec<ResourceFacts>,
    /// Jobs.
    pub jobs: Vec<GraphJob>,
    /// One edge per `passed` constraint: `resource` must pass job `from` before job `to`
    /// gets it.
    pub edges: Vec<GraphEdge>,
}

/// Whether a candidate enters an environment by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Promoted as soon as it qualified upstream (and soaked).
    Automatic,
    /// Waits for an approval.
    Required,
}

/// An environment of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphEnvironment {
    /// Its name.
    pub name: String,
    /// Whether candidates need an approval to enter it.
    pub approval: Approval,
    /// How long a candidate must have qualified upstream before entering it (ms).
    pub soak_ms: Option<u64>,
    /// The jobs that qualify a candidate in it (`None`: all of them).
    pub gate: Option<Vec<String>>,
    /// The promoted resources its jobs get: what its candidates hold.
    pub resources: Vec<String>,
    /// Its jobs.
    pub jobs: Vec<String>,
}

/// A resource as the pipeline declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceFacts {
    /// Its name.
    pub name: String,
    /// Its resource type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `never`, or an interval in milliseconds like `60000ms`.
    pub check_every: String,
    /// Whether it has a `webhook_token` (webhooks can trigger a check).
    pub webhook: bool,
    /// How it takes part in promotion.
    pub role: ResourceRole,
}

/// How a resource takes part in promotion (docs/promotion.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceRole {
    /// Gotten in two or more environments: its versions walk through them inside candidates.
    Promoted,
    /// `shared: true`: serves every environment without being promoted.
    Shared,
    /// Used in one environment only (an environment's deployment target, a test fixture).
    Local,
}

/// A job of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphJob {
    /// Its name.
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// Whether at most one build runs at a time.
    pub serial: bool,
    /// Its `get` steps.
    pub inputs: Vec<GraphInput>,
    /// The resources it `put`s.
    pub outputs: Vec<String>,
}

/// A `get` of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphInput {
    /// The input's name in the job.
    pub name: String,
    /// The resource.
    pub resource: String,
    /// Jobs a version must have passed.
    pub passed: Vec<String>,
    /// Whether a new version starts a build.
    pub trigger: bool,
}

/// A `passed` edge between two jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphEdge {
    /// The upstream job.
    pub from: String,
    /// The downstream job.
    pub to: String,
    /// The resource that flows.
    pub resource: String,
}

// ---- Resources and versions ---------------------------------------------------------------

/// `GET /resources`: a resource with its newest and pinned version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceSummary {
    /// Its name.
    pub name: String,
    /// Its resource type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `never`, or an interval in milliseconds like `60000ms`.
    pub check_every: String,
    /// Whether it has a `webhook_token`.
    pub webhook: bool,
    /// How it takes part in promotion.
    pub role: ResourceRole,
    /// Its newest version.
    pub latest: Option<VersionInfo>,
    /// The version it is pinned to.
    pub pinned: Option<VersionInfo>,
}

/// A stored version of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    /// Version row id.
    pub id: i64,
    /// The version.
    #[schema(value_type = VersionMapSchema)]
    pub version: Version,
    /// SHA-256 of its canonical JSON.
    pub digest: String,
    /// Facts the plugin reported about it, in its order.
    pub metadata: Vec<MetadataField>,
    /// Position in the resource's history: larger is newer (the paging cursor).
    pub check_order: i64,
    /// When it was first seen (Unix ms).
    pub first_seen_at: i64,
    /// Disabled versions are never given to jobs.
    pub disabled: bool,
}

/// One metadata field of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MetadataField {
    /// Field name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// `GET /resources/{name}/versions`: a page of versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionPage {
    /// The resource.
    pub resource: String,
    /// The versions.
    pub versions: Vec<VersionInfo>,
    /// Pass as `before` for the next page; `null` on the last one.
    pub next_before: Option<i64>,
}

/// A version in a request body: `{"version": {...}}` (the server also accepts the version
/// map itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionBody {
    /// The version.
    #[schema(value_type = VersionMapSchema)]
    pub version: Version,
}

/// `POST` / `DELETE /resources/{name}/pin`: the pin now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PinAnswer {
    /// The resource.
    pub resource: String,
    /// The version it is pinned to; `null` once unpinned.
    pub pinned: Option<VersionInfo>,
}

/// `POST /resources/{name}/versions/disable` (or `enable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisabledAnswer {
    /// The resource.
    pub resource: String,
    /// The version.
    #[schema(value_type = VersionMapSchema)]
    pub version: Version,
    /// Whether it is disabled now.
    pub disabled: bool,
}

/// `POST /resources/{name}/check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckAnswer {
    /// The resource.
    pub resource: String,
    /// How many versions were new.
    pub new_versions: u64,
}

// ---- Jobs and builds ----------------------------------------------------------------------

/// A build (also the rows of `lockgate builds`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Build {
    /// Build id, unique across jobs.
    pub id: i64,
    /// Its job.
    pub job: String,
    /// Its number within the job, from 1.
    pub number: i64,
    /// Its status.
    #[schema(schema_with = build_status)]
    pub status: BuildStatus,
    /// Whether the status is final.
    pub finished: bool,
    /// Why it was created (`trigger`, `manual`, `rollback to candidate #3`, …).
    pub reason: String,
    /// The interrupted build it re-runs.
    pub retry_of: Option<i64>,
    /// The node that ran (or runs) it.
    pub node: Option<String>,
    /// Creation time (Unix ms).
    pub created_at: i64,
    /// Start time (Unix ms).
    pub started_at: Option<i64>,
    /// End time (Unix ms).
    pub finished_at: Option<i64>,
}

/// `GET /jobs`: a job with its environment, last build, and what blocked it at the
/// scheduler's last pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobSummary {
    /// Its name.
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// Its newest build.
    pub last_build: Option<Build>,
    /// Why it did not start a build at the last scheduling pass.
    pub blocked: Option<Blocked>,
}

/// What blocks a job, as data and in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Blocked {
    /// What it is.
    pub detail: Blocker,
    /// In plain words.
    pub message: String,
}

/// Why a job did not start a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// No input is `trigger: true`: only a trigger starts it.
    ManualOnly,
    /// No set of versions satisfies its inputs yet.
    NoInputs,
    /// The environment requires approval of this candidate.
    Approval {
        /// The environment.
        environment: String,
        /// The candidate.
        candidate: i64,
    },
    /// The candidate soaks before entering the environment.
    Soak {
        /// The environment.
        environment: String,
        /// The candidate.
        candidate: i64,
        /// Milliseconds left.
        remaining_ms: u64,
    },
}

/// A page of builds, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BuildPage {
    /// The job, for `GET /jobs/{name}/builds` (absent for `GET /builds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The builds.
    pub builds: Vec<Build>,
    /// Pass as `before` for the next page; `null` on the last one.
    pub next_before: Option<i64>,
}

/// `GET /builds/{id}`: a build with its inputs and outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BuildDetail {
    /// The build.
    #[serde(flatten)]
    pub build: Build,
    /// The versions it got.
    pub inputs: Vec<BuildInput>,
    /// The versions its `put`s created.
    pub outputs: Vec<BuildOutput>,
}

/// A version a build got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BuildInput {
    /// The input's name in the job.
    pub name: String,
    /// The resource.
    pub resource: String,
    /// Version row id.
    pub version_id: i64,
    /// The version.
    #[schema(value_type = VersionMapSchema)]
    pub version: Version,
}

/// A version a build's `put` created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BuildOutput {
    /// The resource.
    pub resource: String,
    /// Version row id.
    pub version_id: i64,
    /// The version.
    #[schema(value_type = VersionMapSchema)]
    pub version: Version,
}

/// A step of a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Step {
    /// Step id.
    pub id: i64,
    /// Its build.
    pub build_id: i64,
    /// Position in the plan, e.g. `plan.2.in_parallel.0`.
    pub path: String,
    /// `get`, `put`, `test`, …
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its status.
    #[schema(schema_with = step_status)]
    pub status: StepStatus,
    /// Start time (Unix ms).
    pub started_at: Option<i64>,
    /// End time (Unix ms).
    pub finished_at: Option<i64>,
    /// Why it failed or errored.
    pub error: Option<String>,
}

/// A log line (also the `data` of a `log` event of the live stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    /// Sequence number within the build, from 1, without gaps.
    pub seq: i64,
    /// The step that wrote it.
    pub step_id: Option<i64>,
    /// Time (Unix ms).
    pub at: i64,
    /// `stdout`, `stderr`, `plugin`, `engine`, …
    pub stream: String,
    /// The text, without a trailing newline.
    pub text: String,
}

/// `GET /builds/{id}/logs`: lines after a sequence number, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// The build.
    pub build_id: i64,
    /// Its status when the page was read.
    #[schema(schema_with = build_status)]
    pub status: BuildStatus,
    /// Whether that status is final.
    pub finished: bool,
    /// The lines.
    pub lines: Vec<LogLine>,
    /// The last sequence number returned: pass it back as `after`.
    pub next_after: i64,
    /// Whether a full page came back (more may follow).
    pub more: bool,
}

/// The `data` of the `end` event of the live stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StreamEnd {
    /// The build.
    pub build_id: i64,
    /// Its final status.
    #[schema(schema_with = build_status)]
    pub status: BuildStatus,
}

/// The `data` of the `shutdown` event of the live stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StreamShutdown {
    /// The build.
    pub build_id: i64,
}

/// `GET /builds/{id}/reports`: the report of one test step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StepReport {
    /// The test step.
    pub step_id: i64,
    /// Its build.
    pub build_id: i64,
    /// Whether no case failed or errored.
    pub passed: bool,
    /// When it was stored (Unix ms).
    pub created_at: i64,
    /// The report.
    pub report: TestReport,
}

/// A test report: suites of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestReport {
    /// Suites in run order.
    pub suites: Vec<TestSuite>,
}

/// A named group of test cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestSuite {
    /// Its name.
    pub name: String,
    /// Cases in run order.
    pub cases: Vec<TestCase>,
}

/// One test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestCase {
    /// Its name within the suite.
    pub name: String,
    /// Its outcome.
    pub status: CaseStatus,
    /// How long it took (ms).
    pub duration_ms: u64,
    /// Why it failed, or other explanation.
    pub message: Option<String>,
}

/// The outcome of a test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// The assertion held.
    Passed,
    /// The assertion did not hold.
    Failed,
    /// Not run.
    Skipped,
    /// The test itself broke.
    Errored,
}

// ---- Environments -------------------------------------------------------------------------

/// Where an environment stands (`GET /environments`, `GET /environments/{env}/why`, and
/// `lockgate status --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentStatus {
    /// The environment.
    pub environment: String,
    /// The environment before it in promotion order (`null`: the first, whose candidates come
    /// from resource checks).
    #[serde(default)]
    pub upstream: Option<String>,
    /// The candidate it runs now.
    pub current: Option<CandidateSummary>,
    /// The newest candidate qualified in it.
    pub qualified: Option<CandidateSummary>,
    /// The newest candidate qualified upstream that has not entered it yet.
    pub next: Option<CandidateSummary>,
    /// What holds `next` back, in plain words (empty when nothing does).
    pub blockers: Vec<String>,
}

/// A candidate for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CandidateSummary {
    /// Candidate id.
    pub id: i64,
    /// `resource version` for each of its versions.
    pub versions: Vec<String>,
}

/// A candidate: one version of every promotable resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    /// Candidate id.
    pub id: i64,
    /// SHA-256 of its (resource, version digest) pairs.
    pub digest: String,
    /// When it was first recorded (Unix ms).
    pub created_at: i64,
    /// Its versions.
    pub versions: Vec<CandidateVersion>,
}

impl Candidate {
    /// `resource version` for each of its versions.
    pub fn version_lines(&self) -> Vec<String> {
        self.versions
            .iter()
            .map(|v| format!("{} {}", v.resource, v.version))
            .collect()
    }
}

/// One version of a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CandidateVersion {
    /// The resource.
    pub resource: String,
    /// Version row id.
    pub version_id: i64,
    /// The version.
    #[schema(value_type = VersionMapSchema)]
    pub version: Version,
}

/// The body of `POST /environments/{env}/approve` (optional: by default the candidate
/// waiting at the gate is approved).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The candidate to approve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<i64>,
    /// A comment recorded with the approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `POST /environments/{env}/approve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApproveAnswer {
    /// The environment.
    pub environment: String,
    /// The candidate approved.
    pub candidate: Candidate,
    /// Who approved: the token's name.
    pub approved_by: String,
    /// False when it had been approved already.
    pub first_approval: bool,
}

/// `POST /environments/{env}/rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RollbackAnswer {
    /// The environment.
    pub environment: String,
    /// The candidate re-deployed.
    pub candidate: Candidate,
    /// The builds queued to re-deploy it.
    pub builds: Vec<Build>,
    /// Who asked: the token's name.
    pub by: String,
}

// ---- Nodes --------------------------------------------------------------------------------

/// `GET /nodes`: the engine nodes and the holder of the scheduler lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Nodes {
    /// The node that schedules (holds the lease).
    pub scheduler: Option<String>,
    /// The scheduler lease.
    pub lease: Option<Lease>,
    /// The nodes with a recent heartbeat.
    pub nodes: Vec<Node>,
}

/// The scheduler lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lease {
    /// The node holding it.
    pub holder: String,
    /// When it acquired it (Unix ms).
    pub acquired_at: i64,
    /// When it expires unless renewed (Unix ms).
    pub expires_at: i64,
}

/// An engine node, as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    /// `host:pid`.
    pub name: String,
    /// `scheduler`, `standby` or `worker`.
    pub role: String,
    /// Builds it may run at once.
    pub capacity: i64,
    /// Builds it runs now.
    pub running: i64,
    /// When it started (Unix ms).
    pub started_at: i64,
    /// Its last heartbeat (Unix ms).
    pub heartbeat_at: i64,
}
