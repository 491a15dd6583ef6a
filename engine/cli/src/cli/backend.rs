//! What the pipeline commands talk to: [`Backend`], answering in the API's wire types, with a
//! local implementation ([`super::local::Local`]: the state store and the engine's
//! operations, as `lockgate server` answers) and a remote one ([`super::remote::Remote`]: a
//! running server's HTTP API). Each command is written once against it, so it prints the
//! same text and JSON either way.

use lockgate_api::wire::{self, BuildStatus, Version};

use super::logs::BuildRef;

/// Result alias of the commands.
pub(crate) type Result<T> = anyhow::Result<T>;

/// The state a pipeline command reads and changes.
pub(crate) trait Backend {
    /// Where each environment stands, in promotion order.
    async fn environments(&self) -> Result<Vec<wire::EnvironmentStatus>>;

    /// Where `environment` stands and what holds its next candidate back.
    async fn why(&self, environment: &str) -> Result<wire::EnvironmentStatus>;

    /// Each job with its last build.
    async fn jobs(&self) -> Result<Vec<wire::JobSummary>>;

    /// A page of at most `limit` builds (of `job`, or of every job) with an id below
    /// `before`, newest first.
    async fn builds(
        &self,
        job: Option<&str>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<wire::BuildPage>;

    /// The build named on the command line.
    async fn build(&self, build: &BuildRef) -> Result<wire::Build>;

    /// A page of the log of build `id`: lines after sequence number `after`, oldest first.
    async fn logs(&self, id: i64, after: i64) -> Result<wire::LogPage>;

    /// Hands each line of `build`'s log to `line` as it is written, until the build finished;
    /// returns its final status.
    async fn follow(
        &self,
        build: &wire::Build,
        line: &mut dyn FnMut(&wire::LogLine),
    ) -> Result<BuildStatus>;

    /// Each resource with its newest and pinned version.
    async fn resources(&self) -> Result<Vec<wire::ResourceSummary>>;

    /// Checks `resource` for new versions now.
    async fn check(&self, resource: &str) -> Result<wire::CheckAnswer>;

    /// Pins `resource` to `version`.
    async fn pin(&self, resource: &str, version: &Version) -> Result<wire::PinAnswer>;

    /// Removes the pin of `resource`.
    async fn unpin(&self, resource: &str) -> Result<wire::PinAnswer>;

    /// Disables (`true`) or enables `version` of `resource`.
    async fn set_disabled(
        &self,
        resource: &str,
        version: &Version,
        disabled: bool,
    ) -> Result<wire::DisabledAnswer>;

    /// Queues a build of `job`.
    async fn trigger(&self, job: &str) -> Result<wire::Build>;

    /// Approves a candidate for `environment`; `approver` is who `--as` names (required
    /// locally; a server records its token's name instead).
    async fn approve(
        &self,
        environment: &str,
        body: &wire::ApproveBody,
        approver: Option<&str>,
    ) -> Result<wire::ApproveAnswer>;

    /// Rolls `environment` back; `by` is who `--as` names (locally `cli` by default; a server
    /// records its token's name instead).
    async fn rollback(&self, environment: &str, by: Option<&str>) -> Result<wire::RollbackAnswer>;

    /// The engine nodes and the scheduler lease.
    async fn nodes(&self) -> Result<wire::Nodes>;
}
