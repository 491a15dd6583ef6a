//! Durable state of pipelines behind one API: resources and their version histories, jobs,
//! builds with their inputs, outputs, steps, logs and test reports, candidates and their
//! events per environment, approvals; and the input resolution under `passed` constraints.
//!
//! One [`Store`] runs on SQLite (embedded, the default: one file, WAL mode) or PostgreSQL
//! (several engine nodes). Both run the same SQL text (`$1` placeholders, `ON CONFLICT`,
//! `RETURNING`, window functions: all supported by SQLite ≥ 3.35 and PostgreSQL ≥ 10) through
//! `sqlx`'s `Any` driver; the few differences (the auto-increment column type, how a write
//! transaction starts, the migration lock, connection settings) live in [`Backend`]-matching
//! functions of this module.
//!
//! Migrations are the `.sql` files of `engine/store/migrations/`, embedded in the binary and applied
//! at open in one transaction, recorded in `schema_migrations` with a checksum.
//!
//! Every operation that writes more than one row runs in one transaction. On SQLite, write
//! transactions start with `BEGIN IMMEDIATE`, so concurrent writers (a server and a CLI
//! command) queue on the 5 s busy timeout instead of failing; on PostgreSQL, races between
//! nodes are settled by row locks (`UPDATE … RETURNING` counters) and unique constraints with
//! `ON CONFLICT DO NOTHING`.

mod audit;
mod builds;
mod candidates;
mod cluster;
mod digest;
mod error;
mod logs;
mod model;
mod pipeline;
mod promotion;
mod resolve;
mod versions;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row, Transaction};

pub use cluster::{ClaimLimits, Lease, NodeInfo};
pub use error::{Context, Result, StoreError};
pub use model::{
    Approval, Backend, Build, BuildInput, BuildOutput, BuildStatus, Candidate, CandidateEvent,
    CandidateVersion, InputSpec, Job, JobConfig, LogEntry, NewCandidateEvent, NewLogLine, Page,
    Recovered, ResolvedInput, Resource, ResourceConfig, SaveOutcome, Step, StepStatus,
    StoredCandidateEvent, StoredTestReport, StoredVersion, SyncReport, config_digest,
};
pub use promotion::{Claim, GateRule, NewBuild, Produced, PromotionRules};
pub use versions::SAVE_BATCH;

use error::DbContext;

/// How long a connection waits for another writer before giving up (SQLite busy timeout).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for a pooled connection unless [`StoreOptions::acquire_timeout`] says.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for [`Store::open_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Pool size; default 4 for SQLite, 8 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long opening, and later each operation, waits for a connection (retrying while the
    /// server refuses them); default 30 s.
    pub acquire_timeout: Option<Duration>,
    /// PostgreSQL only: keep every table in this schema (created if missing; `search_path` is
    /// set on every pooled connection). Lets several pipelines, or parallel tests, share one
    /// database. Letters, digits and `_` only.
    pub pg_schema: Option<String>,
}

/// The durable state of one pipeline. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// An embedded migration.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// The schema, in order. Files are never edited once released: add a new one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "cluster",
        sql: include_str!("../migrations/0002_cluster.sql"),
    },
    Migration {
        version: 3,
        name: "promotion",
        sql: include_str!("../migrations/0003_promotion.sql"),
    },
];

/// Arbitrary constant key of the PostgreSQL advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x4c6f_636b_6761_7465; // "Lockgate"

impl Store {
    /// Opens the store named by `spec`: a `postgres://` or `postgresql://` URL connects to
    /// PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or a plain path opens (creating) a SQLite file.
    pub async fn open(spec: &str) -> Result<Store> {
        Self::open_with(spec, StoreOptions::default()).await
    }

    /// [`Store::open`] with options.
    pub async fn open_with(spec: &str, mut options: StoreOptions) -> Result<Store> {
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            let (url, schema) = split_schema_param(spec);
            if schema.is_some() {
                options.pg_schema = schema;
            }
            Self::connect_with(&url, options).await
        } else if let Some(path) = spec
            .strip_prefix("sqlite://")
            .or_else(|| spec.strip_prefix("sqlite:"))
        {
            Self::open_sqlite_with(path, options).await
        } else if spec.contains("://") {
            Err(StoreError::Config(format!(
                "`{}` is neither a file path nor a postgres:// URL",
                redact(spec)
            )))
        } else {
            Self::open_sqlite_with(spec, options).await
        }
    }

    /// Opens (creating it and its parent directories if needed) the SQLite file at `path`, in
    /// WAL mode with `synchronous=NORMAL`, foreign keys on and a 5 s busy timeout, and brings
    /// its schema up to date.
    pub async fn open_sqlite(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_sqlite_with(path, StoreOptions::default()).await
    }

    async fn open_sqlite_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref();
        if options.pg_schema.is_some() {
            return Err(StoreError::Config(
                "a PostgreSQL schema was given for a SQLite store".into(),
            ));
        }
        let path = std::path::absolute(path).map_err(|source| StoreError::CreateDir {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let url = sqlite_url(&path)?;
        sqlx::any::install_default_drivers();
        let spec = path.display().to_string();
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(4))
            .acquire_timeout(options.acquire_timeout.unwrap_or(DEFAULT_ACQUIRE_TIMEOUT))
            .after_connect(|conn, _meta| Box::pin(sqlite_session(conn)))
            .connect(&url)
            .await
            .map_err(|source| StoreError::Open { spec, source })?;
        Self::finish_open(pool, Backend::Sqlite).await
    }

    /// Connects to PostgreSQL at `url` (`postgres://user@host:port/database`) and brings the
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// [`Store::connect`] with options (a schema per pipeline or per test).
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let schema: Option<Arc<str>> = match options.pg_schema {
            Some(schema) => {
                if schema.is_empty()
                    || schema.len() > 63
                    || !schema
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(StoreError::Config(format!(
                        "invalid PostgreSQL schema name `{schema}` (letters, digits and `_`, at most 63)"
                    )));
                }
                Some(schema.into())
            }
            None => None,
        };
        let spec = redact(url);
        if let Some(schema) = &schema {
            // Create the schema on a plain connection before the pool sets search_path to it.
            let mut conn = <AnyConnection as sqlx::Connection>::connect(url)
                .await
                .map_err(|source| StoreError::Open {
                    spec: spec.clone(),
                    source,
                })?;
            // Nodes starting together race here: PostgreSQL's `IF NOT EXISTS` is not atomic,
            // and the loser of the race gets a unique violation on `pg_namespace` although
            // the schema now exists.
            let created = conn
                .execute(sqlx::AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
                )))
                .await;
            match created {
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
                other => {
                    other.op_for("create schema", || format!("schema `{schema}`"))?;
                }
            }
            sqlx::Connection::close(conn).await.op("close connection")?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(8))
            .acquire_timeout(options.acquire_timeout.unwrap_or(DEFAULT_ACQUIRE_TIMEOUT))
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    if let Some(schema) = schema {
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "SET search_path TO \"{schema}\""
                        )))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|source| StoreError::Open { spec, source })?;
        Self::finish_open(pool, Backend::Postgres).await
    }

    async fn finish_open(pool: AnyPool, backend: Backend) -> Result<Store> {
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// The database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The schema version of the database (the highest applied migration).
    pub async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .op("read schema version")?;
        col(&row, "v")
    }

    /// Closes every connection (waiting for those in use). Dropping the store also closes
    /// them, without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the embedded migrations that the database lacks, in one transaction.
    async fn migrate(&self) -> Result<()> {
        let mut tx = self.write_tx().await.op("begin migration")?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .execute(&mut *tx)
                .await
                .op("take the migration lock")?;
        }
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .await
        .op("create schema_migrations")?;
        let applied =
            sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
                .fetch_all(&mut *tx)
                .await
                .op("read schema_migrations")?;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        for row in &applied {
            let version: i64 = col(row, "version")?;
            let stored: String = col(row, "checksum")?;
            match MIGRATIONS.iter().find(|m| m.version == version) {
                None => {
                    return Err(StoreError::SchemaTooNew {
                        found: version,
                        known,
                    });
                }
                Some(m) => {
                    let embedded = digest::sha256_hex([m.sql.as_bytes()]);
                    if embedded != stored {
                        return Err(StoreError::MigrationChanged {
                            version,
                            name: m.name,
                            stored,
                            embedded,
                        });
                    }
                }
            }
        }
        for m in MIGRATIONS {
            if applied
                .iter()
                .any(|row| col::<i64>(row, "version").ok() == Some(m.version))
            {
                continue;
            }
            let sql = m.sql.replace("@ID@", self.id_column());
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(|source| StoreError::Migration {
                    version: m.version,
                    name: m.name,
                    source,
                })?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(digest::sha256_hex([m.sql.as_bytes()]))
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .op("record migration")?;
        }
        tx.commit().await.op("commit migration")
    }

    /// The auto-increment primary key column of this backend (`@ID@` in migrations).
    fn id_column(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        }
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting up to the busy timeout), so that a transaction that reads
    /// before it writes cannot fail with `SQLITE_BUSY` when another connection wrote meanwhile.
    async fn write_tx(&self) -> std::result::Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Starts a read-only transaction that sees one snapshot of the database.
    async fn read_tx(&self) -> std::result::Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin().await,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
        }
    }
}

/// Per-connection SQLite settings. `journal_mode` is persistent in the file; the others are
/// per connection.
async fn sqlite_session(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {}",
        BUSY_TIMEOUT.as_millis()
    )))
    .await?;
    Ok(())
}

/// `sqlite://` URL of an absolute path, percent-encoded, creating the file if missing.
fn sqlite_url(path: &Path) -> Result<String> {
    let text = path.to_str().ok_or_else(|| {
        StoreError::Config(format!(
            "the state path `{}` is not valid UTF-8",
            path.display()
        ))
    })?;
    let mut url = String::from("sqlite://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

/// The URL without its password, for messages.
/// Takes a `schema=NAME` query parameter out of a PostgreSQL URL (it is Lockgate's, not
/// libpq's): the store keeps its tables in that schema, so that several pipelines share a
/// database.
fn split_schema_param(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("schema=") {
            Some(name) => {
                schema = Some(name.to_owned());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, schema)
}

/// `url` with its password replaced by `***` (for messages and logs).
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _password)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

/// The crash points of the store, at the transaction boundaries of promotion: claiming a build,
/// finishing it (after its status, before and after the commit), a rollback.
pub const CRASH_POINTS: &[&str] = &[
    "claim_build.before_commit",
    "finish_build.after_status",
    "finish_build.before_commit",
    "finish_build.after_commit",
    "rollback.before_event",
];

/// Why `LOCKGATE_CRASH_POINT` could not be armed.
#[derive(Debug, thiserror::Error)]
pub enum CrashPointError {
    /// The count after `:` is not a positive whole number.
    #[error("crash point `{spec}`: `{count}` is not a positive count")]
    BadCount {
        /// The whole spec.
        spec: String,
        /// What came after `:`.
        count: String,
    },
    /// No crash point has that name.
    #[error("no crash point `{name}` (crash points: {})", CRASH_POINTS.join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The `fail` crate refused the configuration.
    #[error("crash point `{spec}`: {reason}")]
    Config {
        /// The whole spec.
        spec: String,
        /// What `fail` said.
        reason: String,
    },
}

/// Arms a crash point from `spec`, `NAME` or `NAME:K` ([`CRASH_POINTS`]): the process aborts,
/// as under `kill -9`, the K-th time (default the first) it reaches that point.
pub fn arm_crash_point(spec: &str) -> std::result::Result<(), CrashPointError> {
    let (name, nth) = match spec.split_once(':') {
        Some((name, k)) => (
            name,
            k.parse::<u32>()
                .ok()
                .filter(|k| *k > 0)
                .ok_or_else(|| CrashPointError::BadCount {
                    spec: spec.to_owned(),
                    count: k.to_owned(),
                })?,
        ),
        None => (spec, 1),
    };
    if !CRASH_POINTS.contains(&name) {
        return Err(CrashPointError::Unknown {
            name: name.to_owned(),
        });
    }
    fail::cfg(name, &format!("return({nth})")).map_err(|reason| CrashPointError::Config {
        spec: spec.to_owned(),
        reason,
    })
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Reads column `name` of `row`, reporting a type mismatch as corruption.
fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name).map_err(|e| StoreError::Corrupt {
        what: "column",
        detail: format!("`{name}`: {e}"),
    })
}

/// Reads a 0/1 flag column.
fn flag(row: &AnyRow, name: &str) -> Result<bool> {
    Ok(col::<i64>(row, name)? != 0)
}

/// Parses a stored version map.
fn parse_version(json: &str) -> Result<lockgate_model::Version> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "version",
        detail: format!("{e}: {json}"),
    })
}

/// The path of a SQLite store beside a pipeline file: `.lockgate/state.db` in its directory.
pub fn default_sqlite_path(pipeline: &Path) -> PathBuf {
    pipeline
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(".lockgate")
        .join("state.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_percent_encodes_the_path() {
        let url = sqlite_url(Path::new("/tmp/a b/state?#.db")).unwrap();
        assert_eq!(url, "sqlite:///tmp/a%20b/state%3F%23.db?mode=rwc");
    }

    #[test]
    fn the_schema_parameter_is_lockgates() {
        assert_eq!(
            split_schema_param("postgres://u@h/db?schema=p1"),
            ("postgres://u@h/db".to_owned(), Some("p1".to_owned()))
        );
        assert_eq!(
            split_schema_param("postgres://u@h/db?sslmode=disable&schema=p1&x=y"),
            (
                "postgres://u@h/db?sslmode=disable&x=y".to_owned(),
                Some("p1".to_owned())
            )
        );
        assert_eq!(
            split_schema_param("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), None)
        );
    }

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn default_path_is_beside_the_pipeline() {
        assert_eq!(
            default_sqlite_path(Path::new("ci/pipeline.yml")),
            Path::new("ci/.lockgate/state.db")
        );
    }

    #[tokio::test]
    async fn open_creates_directories_and_applies_the_schema_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir with space/state.db");
        let store = Store::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        assert_eq!(store.schema_version().await.unwrap(), 3);
        let mode = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(col::<String>(&mode, "journal_mode").unwrap(), "wal");
        store.close().await;
        // Reopening finds the migration applied and its checksum unchanged.
        let again = Store::open(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        assert_eq!(again.schema_version().await.unwrap(), 3);
    }

    #[tokio::test]
    async fn open_rejects_unknown_schemes() {
        let err = Store::open("mysql://u:pw@h/db").await.unwrap_err();
        assert!(err.to_string().contains("mysql://u:***@h/db"), "{err}");
    }
}
