//! Errors of the state store.
//!
//! A driver's or the file system's error is the [`source`](std::error::Error::source) of a
//! [`StoreError`], never repeated in its message: show errors with their causes
//! ([`lockgate_model::Report`], `anyhow`'s `{:#}`).

use std::fmt;
use std::path::PathBuf;

use super::model::BuildStatus;

/// Everything that can go wrong in [`Store`](super::Store), with the operation and the object
/// (resource, job, build, ...) it concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or connected to.
    #[error("cannot open the state store `{spec}`")]
    Open {
        /// The path or URL given (without password).
        spec: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The directory that holds the SQLite file could not be created.
    #[error("cannot create the state directory `{}`", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state spec is neither a path nor a supported URL, or an option is invalid.
    #[error("invalid state store setting: {0}")]
    Config(String),
    /// Applying a schema migration failed.
    #[error("schema migration {version} ({name}) failed")]
    Migration {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration that was applied earlier no longer matches the embedded file.
    #[error(
        "schema migration {version} ({name}) was changed after it was applied \
         (stored checksum {stored}, embedded {embedded})"
    )]
    MigrationChanged {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: &'static str,
        /// Checksum recorded in the database.
        stored: String,
        /// Checksum of the embedded file.
        embedded: String,
    },
    /// The database was migrated by a newer Lockgate.
    #[error("the state store has schema version {found}; this lockgate knows up to {known}")]
    SchemaTooNew {
        /// Highest version recorded in the database.
        found: i64,
        /// Highest version this build embeds.
        known: i64,
    },
    /// A query failed.
    #[error("{op} failed{context}")]
    Database {
        /// The store operation, e.g. `save versions`.
        op: &'static str,
        /// What it concerned, e.g. ` for resource `repo``, or empty.
        context: Context,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// No resource has this name.
    #[error("unknown resource `{0}`")]
    UnknownResource(String),
    /// No job has this name.
    #[error("unknown job `{0}`")]
    UnknownJob(String),
    /// No build has this id (or job/number).
    #[error("unknown build {0}")]
    UnknownBuild(String),
    /// No step has this id.
    #[error("unknown build step {0}")]
    UnknownStep(i64),
    /// The resource has no such version in its current history.
    #[error("resource `{resource}` has no version {version}")]
    UnknownVersion {
        /// Resource name.
        resource: String,
        /// The version looked for (display form or id).
        version: String,
    },
    /// No candidate has this id or digest.
    #[error("unknown candidate {0}")]
    UnknownCandidate(String),
    /// A build cannot move from its status to the requested one.
    #[error("build {build} is {from}; it cannot become {to}")]
    InvalidTransition {
        /// Build id.
        build: i64,
        /// Current status.
        from: BuildStatus,
        /// Requested status.
        to: BuildStatus,
    },
    /// A node tried to finish a build whose claim another node took over (it was declared
    /// interrupted and re-queued): the result is not recorded.
    #[error(
        "build {build} is no longer claimed by `{node}` (now `{holder}`): its result is not recorded"
    )]
    ClaimLost {
        /// Build id.
        build: i64,
        /// The node that tried.
        node: String,
        /// The node holding the claim now (empty if none).
        holder: String,
    },
    /// The operation needs a started build.
    #[error("build {build} is {status}, not started: {op} refused")]
    BuildNotRunning {
        /// Build id.
        build: i64,
        /// Its status.
        status: BuildStatus,
        /// The refused operation.
        op: &'static str,
    },
    /// A stored value could not be decoded (hand-edited or corrupt database).
    #[error("corrupt {what} in the state store: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it is not valid.
        detail: String,
    },
}

/// What a failed operation concerned; rendered as ` for …` (or nothing).
#[derive(Debug, Clone, Default)]
pub struct Context(pub String);

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " for {}", self.0)
        }
    }
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches an operation name and context to driver errors.
pub(crate) trait DbContext<T> {
    /// Maps a driver error to [`StoreError::Database`] with `op` and no context.
    fn op(self, op: &'static str) -> Result<T>;
    /// Maps a driver error to [`StoreError::Database`] with `op` and a lazily built context.
    fn op_for(self, op: &'static str, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> DbContext<T> for std::result::Result<T, sqlx::Error> {
    fn op(self, op: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Database {
            op,
            context: Context::default(),
            source,
        })
    }

    fn op_for(self, op: &'static str, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| StoreError::Database {
            op,
            context: Context(context()),
            source,
        })
    }
}
