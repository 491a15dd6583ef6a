//! Candidates, their events per environment, and approvals.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::digest::candidate_digest;
use super::error::DbContext;
use super::pipeline::resource_by_name;
use super::versions::version_by_id;
use super::{
    Approval, Candidate, CandidateEvent, CandidateVersion, NewCandidateEvent, Page, ResolvedInput,
    Result, Store, StoreError, StoredCandidateEvent, col, now_ms,
};

const EVENT_COLUMNS: &str = "id, candidate_id, environment, event, at, by_name, build_id, detail";

/// The event that says what an environment runs: its newest successful deployment.
const RUNNING_EVENTS: &str = "('deployed')";

impl Store {
    /// The candidate made of these `(resource, version id)` pairs, recorded if new. Its identity
    /// is the digest of the sorted `(resource, version digest)` pairs, so the same set always
    /// gives the same candidate, whatever the order or the node.
    pub async fn candidate(&self, pairs: &[(&str, i64)]) -> Result<Candidate> {
        let op = "record candidate";
        let mut tx = self.write_tx().await.op(op)?;
        let candidate = candidate_in(&mut tx, pairs).await?;
        tx.commit().await.op(op)?;
        Ok(candidate)
    }

    /// The candidate of a resolved input set (each input's resource and version).
    pub async fn candidate_of_inputs(&self, inputs: &[ResolvedInput]) -> Result<Candidate> {
        let pairs: Vec<(&str, i64)> = inputs
            .iter()
            .map(|i| (i.resource.as_str(), i.version_id))
            .collect();
        self.candidate(&pairs).await
    }

    /// Candidate `id`.
    pub async fn candidate_by_id(&self, id: i64) -> Result<Candidate> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        candidate_where(&mut conn, "id = $1", id).await
    }

    /// The candidate with this digest.
    pub async fn candidate_by_digest(&self, digest: &str) -> Result<Candidate> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        candidate_where(&mut conn, "digest = $1", digest.to_string()).await
    }

    /// Records an event. `qualified`, `approved` and `promoted` are recorded at most once per
    /// candidate and environment, even when several nodes race (a unique index and
    /// `ON CONFLICT DO NOTHING`): `Ok(true)` tells the one caller whose insert counted.
    pub async fn record_event(&self, event: &NewCandidateEvent) -> Result<bool> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        insert_event(&mut conn, event, now_ms()).await
    }

    /// The newest candidate qualified in `environment`, with that event.
    pub async fn newest_qualified(
        &self,
        environment: &str,
    ) -> Result<Option<(Candidate, StoredCandidateEvent)>> {
        self.newest_event_where(environment, "event = 'qualified'")
            .await
    }

    /// What `environment` runs: the candidate of its newest `deployed` event (its state after
    /// its newest successful deployment), with that event.
    pub async fn current_candidate(
        &self,
        environment: &str,
    ) -> Result<Option<(Candidate, StoredCandidateEvent)>> {
        self.newest_event_where(environment, &format!("event IN {RUNNING_EVENTS}"))
            .await
    }

    /// The newest candidate that entered `environment` (its newest `promoted` event).
    pub async fn newest_entered(
        &self,
        environment: &str,
    ) -> Result<Option<(Candidate, StoredCandidateEvent)>> {
        self.newest_event_where(environment, "event = 'promoted'")
            .await
    }

    async fn newest_event_where(
        &self,
        environment: &str,
        filter: &str,
    ) -> Result<Option<(Candidate, StoredCandidateEvent)>> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM candidate_events
             WHERE environment = $1 AND {filter} ORDER BY id DESC LIMIT 1"
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(environment)
            .fetch_optional(&mut *conn)
            .await
            .op_for("read candidate events", || {
                format!("environment `{environment}`")
            })?
        else {
            return Ok(None);
        };
        let event = event_from_row(&row)?;
        let candidate = candidate_where(&mut conn, "id = $1", event.candidate_id).await?;
        Ok(Some((candidate, event)))
    }

    /// The events of `environment`, newest first (cursor: event id).
    pub async fn environment_history(
        &self,
        environment: &str,
        page: Page,
    ) -> Result<Vec<StoredCandidateEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM candidate_events
             WHERE environment = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(environment)
            .bind(page.before.unwrap_or(i64::MAX))
            .bind(i64::from(page.limit))
            .fetch_all(&self.pool)
            .await
            .op_for("read environment history", || {
                format!("environment `{environment}`")
            })?
            .iter()
            .map(event_from_row)
            .collect()
    }

    /// Every event of candidate `candidate_id`, oldest first (what `lockgate why` reads).
    pub async fn candidate_events(&self, candidate_id: i64) -> Result<Vec<StoredCandidateEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM candidate_events WHERE candidate_id = $1 ORDER BY id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(candidate_id)
            .fetch_all(&self.pool)
            .await
            .op_for("read candidate events", || {
                format!("candidate {candidate_id}")
            })?
            .iter()
            .map(event_from_row)
            .collect()
    }

    /// Records that `approver` approved candidate `candidate_id` for `environment`, with the
    /// `approved` event, in one transaction. Recorded once: `Ok(false)` if it already was.
    pub async fn approve(
        &self,
        environment: &str,
        candidate_id: i64,
        approver: &str,
        comment: Option<&str>,
    ) -> Result<bool> {
        let ctx = || format!("environment `{environment}`, candidate {candidate_id}");
        let mut tx = self.write_tx().await.op_for("begin approval", ctx)?;
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO approvals (environment, candidate_id, approver, at, comment)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (environment, candidate_id) DO NOTHING",
        )
        .bind(environment)
        .bind(candidate_id)
        .bind(approver)
        .bind(now)
        .bind(comment)
        .execute(&mut *tx)
        .await
        .op_for("record approval", ctx)?
        .rows_affected()
            == 1;
        if inserted {
            let event = NewCandidateEvent {
                candidate_id,
                environment: environment.to_string(),
                event: CandidateEvent::Approved,
                by: Some(approver.to_string()),
                build_id: None,
                detail: comment.map(|c| serde_json::json!({ "comment": c })),
            };
            insert_event(&mut tx, &event, now).await?;
        }
        tx.commit().await.op_for("commit approval", ctx)?;
        Ok(inserted)
    }

    /// The approval of candidate `candidate_id` for `environment`, if any.
    pub async fn approval(&self, environment: &str, candidate_id: i64) -> Result<Option<Approval>> {
        let row = sqlx::query(
            "SELECT environment, candidate_id, approver, at, comment FROM approvals
             WHERE environment = $1 AND candidate_id = $2",
        )
        .bind(environment)
        .bind(candidate_id)
        .fetch_optional(&self.pool)
        .await
        .op_for("read approval", || {
            format!("environment `{environment}`, candidate {candidate_id}")
        })?;
        row.map(|row| {
            Ok(Approval {
                environment: col(&row, "environment")?,
                candidate_id: col(&row, "candidate_id")?,
                approver: col(&row, "approver")?,
                at: col(&row, "at")?,
                comment: col(&row, "comment")?,
            })
        })
        .transpose()
    }
}

/// [`Store::candidate`] inside the caller's transaction.
pub(super) async fn candidate_in(
    conn: &mut AnyConnection,
    pairs: &[(&str, i64)],
) -> Result<Candidate> {
    let op = "record candidate";
    let mut versions = Vec::with_capacity(pairs.len());
    let mut resource_ids = Vec::with_capacity(pairs.len());
    for &(resource, version_id) in pairs {
        let r = resource_by_name(conn, resource).await?;
        let v = version_by_id(conn, version_id).await?;
        resource_ids.push((resource.to_string(), r.id));
        versions.push(CandidateVersion {
            resource: resource.to_string(),
            version_id,
            digest: v.digest,
            version: v.version,
        });
    }
    versions.sort_by(|a, b| (&a.resource, &a.digest).cmp(&(&b.resource, &b.digest)));
    versions.dedup_by(|a, b| a.resource == b.resource && a.digest == b.digest);
    let digest = candidate_digest(
        versions
            .iter()
            .map(|v| (v.resource.as_str(), v.digest.as_str())),
    );
    // Look first: a conflicting INSERT would still consume an id (sequences, and SQLite's
    // AUTOINCREMENT), making candidate numbers jump for operators.
    let known = sqlx::query("SELECT id FROM candidates WHERE digest = $1")
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await
        .op(op)?;
    if known.is_some() {
        return candidate_where(conn, "digest = $1", digest).await;
    }
    let json = serde_json::to_string(&versions).expect("candidate versions serialize");
    let inserted = sqlx::query(
        "INSERT INTO candidates (digest, versions, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&digest)
    .bind(&json)
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .op(op)?
    .rows_affected();
    let candidate = candidate_where(conn, "digest = $1", digest).await?;
    if inserted == 1 {
        for v in &candidate.versions {
            let resource_id = resource_ids
                .iter()
                .find(|(name, _)| *name == v.resource)
                .map(|(_, id)| *id)
                .expect("every pair's resource was looked up");
            sqlx::query(
                "INSERT INTO candidate_versions (candidate_id, resource_id, version_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(candidate.id)
            .bind(resource_id)
            .bind(v.version_id)
            .execute(&mut *conn)
            .await
            .op(op)?;
        }
    }
    Ok(candidate)
}

pub(super) async fn insert_event(
    conn: &mut AnyConnection,
    e: &NewCandidateEvent,
    at: i64,
) -> Result<bool> {
    let detail = e.detail.as_ref().map(|d| d.to_string());
    let done = sqlx::query(
        "INSERT INTO candidate_events (candidate_id, environment, event, at, by_name, build_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(e.candidate_id)
    .bind(&e.environment)
    .bind(e.event.as_str())
    .bind(at)
    .bind(e.by.as_deref())
    .bind(e.build_id)
    .bind(detail)
    .execute(&mut *conn)
    .await
    .op_for("record candidate event", || {
        format!(
            "candidate {}, environment `{}`, event {}",
            e.candidate_id, e.environment, e.event
        )
    })?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn candidate_where<T>(
    conn: &mut AnyConnection,
    filter: &str,
    key: T,
) -> Result<Candidate>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Any>
        + sqlx::Type<sqlx::Any>
        + Send
        + std::fmt::Display
        + Clone,
{
    let sql = format!("SELECT id, digest, versions, created_at FROM candidates WHERE {filter}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key.clone())
        .fetch_optional(&mut *conn)
        .await
        .op_for("read candidate", || format!("candidate {key}"))?
        .ok_or_else(|| StoreError::UnknownCandidate(key.to_string()))?;
    let json: String = col(&row, "versions")?;
    Ok(Candidate {
        id: col(&row, "id")?,
        digest: col(&row, "digest")?,
        versions: serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            what: "candidate versions",
            detail: e.to_string(),
        })?,
        created_at: col(&row, "created_at")?,
    })
}

pub(super) fn event_from_row(row: &AnyRow) -> Result<StoredCandidateEvent> {
    let event: String = col(row, "event")?;
    let detail: Option<String> = col(row, "detail")?;
    Ok(StoredCandidateEvent {
        id: col(row, "id")?,
        candidate_id: col(row, "candidate_id")?,
        environment: col(row, "environment")?,
        event: event
            .parse()
            .map_err(|e: lockgate_model::ParseNameError| StoreError::Corrupt {
                what: "candidate event",
                detail: e.to_string(),
            })?,
        at: col(row, "at")?,
        by: col(row, "by_name")?,
        build_id: col(row, "build_id")?,
        detail: detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| StoreError::Corrupt {
                what: "candidate event detail",
                detail: e.to_string(),
            })?,
    })
}
