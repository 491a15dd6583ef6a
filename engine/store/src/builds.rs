//! Builds: creation with inputs, numbering, start, heartbeat, outputs, finish, recovery.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use lockgate_model::Fetched;

use super::digest::inputs_digest;
use super::error::DbContext;
use super::pipeline::{job_by_name, resource_by_name};
use super::versions::{save_in_scope, version_by_id};
use super::{
    Build, BuildInput, BuildOutput, BuildStatus, Page, Recovered, ResolvedInput, Result, Store,
    StoreError, StoredVersion, col, now_ms, parse_version,
};

const BUILD_COLUMNS: &str = "b.id, b.job_id, j.name AS job_name, b.number, b.status, b.reason, \
     b.retry_of, b.created_at, b.started_at, b.finished_at, b.claimed_by, b.heartbeat_at, \
     b.candidate_id, COALESCE(b.build_order, b.id) AS build_order";

/// One input of a build to create: (name, resource id, version id).
type InputRow = (String, i64, i64);

impl Store {
    /// Creates a pending build of `job` with its inputs, atomically, numbered after the job's
    /// previous build (numbers are handed out under the job's row lock, so concurrent creators
    /// never share a number).
    pub async fn create_build(
        &self,
        job: &str,
        reason: &str,
        inputs: &[ResolvedInput],
    ) -> Result<Build> {
        let mut tx = self
            .write_tx()
            .await
            .op_for("begin creating build", || format!("job `{job}`"))?;
        let job_id = job_by_name(&mut tx, job).await?.id;
        let mut rows = Vec::with_capacity(inputs.len());
        for input in inputs {
            let resource = resource_by_name(&mut tx, &input.resource).await?;
            rows.push((input.name.clone(), resource.id, input.version_id));
        }
        let build_id = insert_build(&mut tx, job_id, reason, &rows, None, None).await?;
        let build = build_by_id(&mut tx, build_id).await?;
        tx.commit()
            .await
            .op_for("commit build", || format!("job `{job}`"))?;
        Ok(build)
    }

    /// The build with row id `id`.
    pub async fn build(&self, id: i64) -> Result<Build> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        build_by_id(&mut conn, id).await
    }

    /// Build number `number` of `job`.
    pub async fn build_by_number(&self, job: &str, number: i64) -> Result<Build> {
        let sql = format!(
            "SELECT {BUILD_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id
             WHERE j.name = $1 AND b.number = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .bind(number)
            .fetch_optional(&self.pool)
            .await
            .op_for("read build", || format!("job `{job}` build #{number}"))?
            .ok_or_else(|| StoreError::UnknownBuild(format!("{job} #{number}")))?;
        build_from_row(&row)
    }

    /// A page of builds, newest first (cursor: build id), of one job or of all jobs.
    pub async fn builds(&self, job: Option<&str>, page: Page) -> Result<Vec<Build>> {
        let before = page.before.unwrap_or(i64::MAX);
        let limit = i64::from(page.limit);
        let rows = match job {
            Some(job) => {
                let mut conn = self.pool.acquire().await.op("acquire connection")?;
                let job_id = job_by_name(&mut conn, job).await?.id;
                // Within a job, numbers grow with ids: the (job_id, number) index serves.
                let sql = format!(
                    "SELECT {BUILD_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id
                     WHERE b.job_id = $1 AND b.id < $2 ORDER BY b.number DESC LIMIT $3"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(job_id)
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&mut *conn)
                    .await
            }
            None => {
                let sql = format!(
                    "SELECT {BUILD_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id
                     WHERE b.id < $1 ORDER BY b.id DESC LIMIT $2"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .op("list builds")?;
        rows.iter().map(build_from_row).collect()
    }

    /// Up to `limit` builds with `status`, oldest first (e.g. the pending queue).
    pub async fn builds_with_status(&self, status: BuildStatus, limit: u32) -> Result<Vec<Build>> {
        let sql = format!(
            "SELECT {BUILD_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id
             WHERE b.status = $1 ORDER BY b.id LIMIT $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .op_for("list builds", || format!("status {status}"))?
            .iter()
            .map(build_from_row)
            .collect()
    }

    /// How many builds of `job` have `status` (e.g. how many run now, for `serial` and
    /// `max_in_flight`).
    pub async fn builds_of_job_with_status(&self, job: &str, status: BuildStatus) -> Result<i64> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let job_id = job_by_name(&mut conn, job).await?.id;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM builds WHERE job_id = $1 AND status = $2")
            .bind(job_id)
            .bind(status.as_str())
            .fetch_one(&mut *conn)
            .await
            .op_for("count builds", || format!("job `{job}`, status {status}"))?;
        col(&row, "n")
    }

    /// The builds of `job` whose inputs include every `(resource, version id)` pair (a
    /// candidate's versions), oldest first: did this gate job run with this candidate, and how
    /// did it end?
    pub async fn builds_with_versions(
        &self,
        job: &str,
        pairs: &[(&str, i64)],
    ) -> Result<Vec<Build>> {
        let ctx = || format!("job `{job}`");
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let job_id = job_by_name(&mut conn, job).await?.id;
        let mut resolved = Vec::with_capacity(pairs.len());
        for (resource, version_id) in pairs {
            resolved.push((resource_by_name(&mut conn, resource).await?.id, *version_id));
        }
        let mut sql = format!(
            "SELECT {BUILD_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id WHERE b.job_id = $1"
        );
        for k in 0..resolved.len() {
            let (r, v) = (2 + 2 * k, 3 + 2 * k);
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM build_inputs i WHERE i.build_id = b.id \
                 AND i.resource_id = ${r} AND i.version_id = ${v})"
            ));
        }
        sql.push_str(" ORDER BY b.id");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job_id);
        for (resource_id, version_id) in resolved {
            query = query.bind(resource_id).bind(version_id);
        }
        query
            .fetch_all(&mut *conn)
            .await
            .op_for("find builds with versions", ctx)?
            .iter()
            .map(build_from_row)
            .collect()
    }

    /// The inputs of build `build_id`, by name.
    pub async fn build_inputs(&self, build_id: i64) -> Result<Vec<BuildInput>> {
        let rows = sqlx::query(
            "SELECT i.name, r.name AS resource, i.version_id, v.version
             FROM build_inputs i
             JOIN resources r ON r.id = i.resource_id
             JOIN resource_versions v ON v.id = i.version_id
             WHERE i.build_id = $1 ORDER BY i.name",
        )
        .bind(build_id)
        .fetch_all(&self.pool)
        .await
        .op_for("read build inputs", || format!("build {build_id}"))?;
        rows.iter()
            .map(|row| {
                Ok(BuildInput {
                    name: col(row, "name")?,
                    resource: col(row, "resource")?,
                    version_id: col(row, "version_id")?,
                    version: parse_version(&col::<String>(row, "version")?)?,
                })
            })
            .collect()
    }

    /// The versions build `build_id` created with `put`, in order.
    pub async fn build_outputs(&self, build_id: i64) -> Result<Vec<BuildOutput>> {
        let rows = sqlx::query(
            "SELECT r.name AS resource, o.version_id, v.version
             FROM build_outputs o
             JOIN resources r ON r.id = o.resource_id
             JOIN resource_versions v ON v.id = o.version_id
             WHERE o.build_id = $1 ORDER BY o.created_at, o.version_id",
        )
        .bind(build_id)
        .fetch_all(&self.pool)
        .await
        .op_for("read build outputs", || format!("build {build_id}"))?;
        rows.iter()
            .map(|row| {
                Ok(BuildOutput {
                    resource: col(row, "resource")?,
                    version_id: col(row, "version_id")?,
                    version: parse_version(&col::<String>(row, "version")?)?,
                })
            })
            .collect()
    }

    /// Claims pending build `build_id` for `node` and marks it started. `Ok(false)` when it is
    /// no longer pending (another node claimed it, or it was aborted).
    pub async fn start_build(&self, build_id: i64, node: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        if mark_started(&mut conn, build_id, node).await? {
            return Ok(true);
        }
        self.build(build_id).await?;
        Ok(false)
    }

    /// Records that `node` is still running build `build_id`. `Ok(false)` when the build is no
    /// longer started by this node (it was recovered as interrupted, or finished).
    pub async fn heartbeat(&self, build_id: i64, node: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE builds SET heartbeat_at = $3
             WHERE id = $1 AND status = 'started' AND claimed_by = $2",
        )
        .bind(build_id)
        .bind(node)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .op_for("heartbeat", || format!("build {build_id}"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that started build `build_id` created `fetched` of `resource` with a `put`: the
    /// version joins the resource's history (appended if new) and the build's outputs, in one
    /// transaction.
    pub async fn save_output(
        &self,
        build_id: i64,
        resource: &str,
        fetched: &Fetched,
    ) -> Result<StoredVersion> {
        let ctx = || format!("build {build_id}, resource `{resource}`");
        let mut tx = self.write_tx().await.op_for("begin saving output", ctx)?;
        let build = build_by_id(&mut tx, build_id).await?;
        if build.status != BuildStatus::Started {
            return Err(StoreError::BuildNotRunning {
                build: build_id,
                status: build.status,
                op: "save output",
            });
        }
        let r = resource_by_name(&mut tx, resource).await?;
        save_in_scope(&mut tx, r.scope_id, resource, std::slice::from_ref(fetched)).await?;
        let version =
            super::versions::find_in_scope(&mut tx, r.scope_id, &fetched.version, resource)
                .await?
                .ok_or_else(|| StoreError::UnknownVersion {
                    resource: resource.to_string(),
                    version: fetched.version.to_string(),
                })?;
        sqlx::query(
            "INSERT INTO build_outputs (build_id, job_id, resource_id, version_id, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(build_id)
        .bind(build.job_id)
        .bind(r.id)
        .bind(version.id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .op_for("save output", ctx)?;
        tx.commit().await.op_for("commit output", ctx)?;
        Ok(version)
    }

    /// Finishes build `build_id` with `status`. A started build may take any final status; a
    /// pending one only `aborted` or `errored`. On success its inputs and outputs become
    /// available to `passed` constraints, in the same transaction.
    pub async fn finish_build(&self, build_id: i64, status: BuildStatus) -> Result<Build> {
        let ctx = || format!("build {build_id}");
        let mut tx = self.write_tx().await.op_for("begin finishing build", ctx)?;
        self.finish_in(&mut tx, build_id, status, None).await?;
        let build = build_by_id(&mut tx, build_id).await?;
        tx.commit().await.op_for("commit finished build", ctx)?;
        Ok(build)
    }

    /// [`Store::finish_build`] inside the caller's transaction (not committed). With `node`, a
    /// started build must still be claimed by it: a node whose claim was taken over (the build
    /// was re-queued as interrupted) records nothing.
    pub(super) async fn finish_in(
        &self,
        tx: &mut AnyConnection,
        build_id: i64,
        status: BuildStatus,
        node: Option<&str>,
    ) -> Result<()> {
        let ctx = || format!("build {build_id}");
        let from_pending = matches!(status, BuildStatus::Aborted | BuildStatus::Errored);
        let done = if status.is_finished() {
            sqlx::query(
                "UPDATE builds SET status = $2, finished_at = $3
                 WHERE id = $1 AND ((status = 'started' AND ($5 = '' OR claimed_by = $5))
                                    OR (status = 'pending' AND $4 = 1))",
            )
            .bind(build_id)
            .bind(status.as_str())
            .bind(now_ms())
            .bind(i64::from(from_pending))
            .bind(node.unwrap_or(""))
            .execute(&mut *tx)
            .await
            .op_for("finish build", ctx)?
            .rows_affected()
        } else {
            0
        };
        if done == 0 {
            let current = build_by_id(tx, build_id).await?;
            if let Some(node) = node
                && current.status == BuildStatus::Started
            {
                return Err(StoreError::ClaimLost {
                    build: build_id,
                    node: node.to_string(),
                    holder: current.claimed_by.unwrap_or_default(),
                });
            }
            return Err(StoreError::InvalidTransition {
                build: build_id,
                from: current.status,
                to: status,
            });
        }
        if status == BuildStatus::Succeeded {
            for sql in [
                "INSERT INTO successful_build_versions (job_id, resource_id, build_id, version_id)
                 SELECT job_id, resource_id, build_id, version_id FROM build_inputs WHERE build_id = $1
                 ON CONFLICT DO NOTHING",
                "INSERT INTO successful_build_versions (job_id, resource_id, build_id, version_id)
                 SELECT job_id, resource_id, build_id, version_id FROM build_outputs WHERE build_id = $1
                 ON CONFLICT DO NOTHING",
            ] {
                sqlx::query(sql)
                    .bind(build_id)
                    .execute(&mut *tx)
                    .await
                    .op_for("record succeeded versions", ctx)?;
            }
        }
        Ok(())
    }

    /// After a crash or `kill -9`: marks every `started` build `interrupted` (and its running
    /// steps) and creates one pending build with the same inputs for each, in one transaction.
    /// Idempotent: a second call finds nothing to do. Returns what it did.
    pub async fn recover_interrupted(&self) -> Result<Vec<Recovered>> {
        self.recover(i64::MAX, None).await
    }

    /// Like [`Store::recover_interrupted`], for the started builds claimed by `node` only (a
    /// node known to be dead, e.g. a process of this host that no longer exists).
    pub async fn recover_claimed_by(&self, node: &str) -> Result<Vec<Recovered>> {
        self.recover(i64::MAX, Some(node)).await
    }

    /// The nodes that claim started builds, with their newest heartbeat (Unix ms, 0 if none).
    pub async fn running_nodes(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT claimed_by, MAX(COALESCE(heartbeat_at, 0)) AS beat FROM builds
             WHERE status = 'started' AND claimed_by IS NOT NULL GROUP BY claimed_by",
        )
        .fetch_all(&self.pool)
        .await
        .op("list running nodes")?;
        rows.iter()
            .map(|r| Ok((col(r, "claimed_by")?, col(r, "beat")?)))
            .collect()
    }

    /// Like [`Store::recover_interrupted`], for the started builds whose last heartbeat is older
    /// than `heartbeat_before` (Unix ms): those of a node that stopped, while other nodes run on.
    pub async fn recover_stale_builds(&self, heartbeat_before: i64) -> Result<Vec<Recovered>> {
        self.recover(heartbeat_before, None).await
    }

    async fn recover(&self, heartbeat_before: i64, node: Option<&str>) -> Result<Vec<Recovered>> {
        let op = "recover interrupted builds";
        let mut tx = self.write_tx().await.op(op)?;
        let rows = sqlx::query(
            "SELECT id FROM builds
             WHERE status = 'started' AND COALESCE(heartbeat_at, 0) < $1
               AND ($2 = '' OR claimed_by = $2)
             ORDER BY id",
        )
        .bind(heartbeat_before)
        .bind(node.unwrap_or(""))
        .fetch_all(&mut *tx)
        .await
        .op(op)?;
        let now = now_ms();
        let mut recovered = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = col(&row, "id")?;
            let ctx = || format!("build {id}");
            // Guarded by the status: a concurrent recovery on another node re-queues once.
            let done = sqlx::query(
                "UPDATE builds SET status = 'interrupted', finished_at = $2
                 WHERE id = $1 AND status = 'started'",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .op_for(op, ctx)?;
            if done.rows_affected() == 0 {
                continue;
            }
            sqlx::query(
                "UPDATE build_steps SET status = 'interrupted', finished_at = $2
                 WHERE build_id = $1 AND status IN ('pending', 'running')",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .op_for(op, ctx)?;
            let interrupted = build_by_id(&mut tx, id).await?;
            let inputs: Vec<InputRow> = sqlx::query(
                "SELECT name, resource_id, version_id FROM build_inputs WHERE build_id = $1 ORDER BY name",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .op_for(op, ctx)?
            .iter()
            .map(|r| Ok((col(r, "name")?, col(r, "resource_id")?, col(r, "version_id")?)))
            .collect::<Result<_>>()?;
            let reason = format!("re-queued: build #{} was interrupted", interrupted.number);
            let new_id = insert_build(
                &mut tx,
                interrupted.job_id,
                &reason,
                &inputs,
                Some(id),
                Some(interrupted.order),
            )
            .await?;
            let requeued = build_by_id(&mut tx, new_id).await?;
            recovered.push(Recovered {
                interrupted,
                requeued,
            });
        }
        tx.commit().await.op(op)?;
        Ok(recovered)
    }

    /// Whether some build of `job` (whatever its status) had exactly these inputs: the
    /// scheduler creates no second build for the same input set.
    pub async fn has_build_with_inputs(&self, job: &str, inputs: &[ResolvedInput]) -> Result<bool> {
        let digest = inputs_digest(inputs.iter().map(|i| (i.name.as_str(), i.version_id)));
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let job_id = job_by_name(&mut conn, job).await?.id;
        let found = sqlx::query(
            "SELECT 1 AS one FROM builds WHERE job_id = $1 AND inputs_digest = $2 LIMIT 1",
        )
        .bind(job_id)
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await
        .op_for("look up builds by inputs", || format!("job `{job}`"))?;
        Ok(found.is_some())
    }

    /// Whether some build of `job` used version `version_id` as an input. A `trigger: true`
    /// input whose resolved version no build used is what starts a new build.
    pub async fn version_used_by_job(&self, job: &str, version_id: i64) -> Result<bool> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let job_id = job_by_name(&mut conn, job).await?.id;
        let found = sqlx::query(
            "SELECT 1 AS one FROM build_inputs WHERE job_id = $1 AND version_id = $2 LIMIT 1",
        )
        .bind(job_id)
        .bind(version_id)
        .fetch_optional(&mut *conn)
        .await
        .op_for("look up used versions", || format!("job `{job}`"))?;
        Ok(found.is_some())
    }

    /// The version with id `version_id`, for callers holding an input row.
    pub async fn input_version(&self, version_id: i64) -> Result<StoredVersion> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        version_by_id(&mut conn, version_id).await
    }
}

/// Inserts a pending build numbered under the job's row lock, and its inputs.
pub(super) async fn insert_build(
    conn: &mut AnyConnection,
    job_id: i64,
    reason: &str,
    inputs: &[InputRow],
    retry_of: Option<i64>,
    order: Option<i64>,
) -> Result<i64> {
    let op = "create build";
    let ctx = || format!("job id {job_id}");
    let number: i64 = col(
        &sqlx::query(
            "UPDATE jobs SET build_number_seq = build_number_seq + 1 WHERE id = $1
             RETURNING build_number_seq",
        )
        .bind(job_id)
        .fetch_one(&mut *conn)
        .await
        .op_for(op, ctx)?,
        "build_number_seq",
    )?;
    let digest = inputs_digest(inputs.iter().map(|(name, _, v)| (name.as_str(), *v)));
    let build_id: i64 = col(
        &sqlx::query(
            "INSERT INTO builds (job_id, number, status, reason, inputs_digest, retry_of, created_at, build_order)
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(job_id)
        .bind(number)
        .bind(reason)
        .bind(&digest)
        .bind(retry_of)
        .bind(now_ms())
        .bind(order)
        .fetch_one(&mut *conn)
        .await
        .op_for(op, ctx)?,
        "id",
    )?;
    for (name, resource_id, version_id) in inputs {
        sqlx::query(
            "INSERT INTO build_inputs (build_id, job_id, name, resource_id, version_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(build_id)
        .bind(job_id)
        .bind(name)
        .bind(resource_id)
        .bind(version_id)
        .execute(&mut *conn)
        .await
        .op_for("save build input", || {
            format!("job id {job_id}, input `{name}`")
        })?;
    }
    Ok(build_id)
}

pub(super) async fn build_by_id(conn: &mut AnyConnection, id: i64) -> Result<Build> {
    let sql = format!(
        "SELECT {BUILD_COLUMNS} FROM builds b JOIN jobs j ON j.id = b.job_id WHERE b.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .op_for("read build", || format!("build {id}"))?
        .ok_or_else(|| StoreError::UnknownBuild(id.to_string()))?;
    build_from_row(&row)
}

fn build_from_row(row: &AnyRow) -> Result<Build> {
    let status: String = col(row, "status")?;
    Ok(Build {
        id: col(row, "id")?,
        job_id: col(row, "job_id")?,
        job: col(row, "job_name")?,
        number: col(row, "number")?,
        status: status
            .parse()
            .map_err(|e: lockgate_model::ParseNameError| StoreError::Corrupt {
                what: "build status",
                detail: e.to_string(),
            })?,
        reason: col(row, "reason")?,
        retry_of: col(row, "retry_of")?,
        created_at: col(row, "created_at")?,
        started_at: col(row, "started_at")?,
        finished_at: col(row, "finished_at")?,
        claimed_by: col(row, "claimed_by")?,
        heartbeat_at: col(row, "heartbeat_at")?,
        candidate_id: col(row, "candidate_id")?,
        order: col(row, "build_order")?,
    })
}

/// Marks pending build `build_id` started by `node` (claimed, heartbeat now); `false` when it
/// is no longer pending.
pub(super) async fn mark_started(
    conn: &mut AnyConnection,
    build_id: i64,
    node: &str,
) -> Result<bool> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE builds SET status = 'started', started_at = $2, claimed_by = $3, heartbeat_at = $2
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(build_id)
    .bind(now)
    .bind(node)
    .execute(&mut *conn)
    .await
    .op_for("start build", || format!("build {build_id}"))?;
    Ok(done.rows_affected() == 1)
}
