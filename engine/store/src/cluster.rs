//! Several engine nodes on one database: the scheduler lease (one node schedules at a time,
//! another takes over once the lease expires), the node table (role, capacity, heartbeat) and
//! claiming a pending build under its job's `max_in_flight` and serial groups, atomically
//! across nodes.

use super::error::DbContext;
use super::{Backend, Result, Store, col, now_ms};

/// The holder of a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Lease name (`scheduler`).
    pub name: String,
    /// The node holding it.
    pub holder: String,
    /// When the holder acquired it (Unix ms).
    pub acquired_at: i64,
    /// When it expires unless renewed (Unix ms).
    pub expires_at: i64,
}

/// One engine node, as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeInfo {
    /// `host:pid`.
    pub name: String,
    /// `scheduler`, `standby` (may become the scheduler) or `worker` (`--worker-only`).
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

/// What may keep a pending build from starting: its job's limit and its serial groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimLimits {
    /// At most this many started builds of the job (serial jobs: 1).
    pub max_in_flight: Option<u32>,
    /// Jobs sharing a serial group with it (itself excluded): none of them may be running.
    pub exclusive_with: Vec<String>,
}

impl Store {
    /// Acquires or renews lease `name` for `holder` until `now + ttl_ms`. `Ok(true)` when
    /// `holder` holds it now: it was free, expired, or already `holder`'s.
    pub async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET
                 acquired_at = CASE WHEN leases.holder = excluded.holder
                                    THEN leases.acquired_at ELSE excluded.acquired_at END,
                 holder = excluded.holder,
                 expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < $3",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&self.pool)
        .await
        .op_for("acquire lease", || format!("lease `{name}` for `{holder}`"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives lease `name` up if `holder` holds it (a clean shutdown: another node takes over
    /// at once instead of after the expiry).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .op_for("release lease", || format!("lease `{name}`"))?;
        Ok(())
    }

    /// The current holder of lease `name`, if it is held and not expired.
    pub async fn lease(&self, name: &str) -> Result<Option<Lease>> {
        let row = sqlx::query(
            "SELECT name, holder, acquired_at, expires_at FROM leases
             WHERE name = $1 AND expires_at >= $2",
        )
        .bind(name)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .op_for("read lease", || format!("lease `{name}`"))?;
        row.map(|r| {
            Ok(Lease {
                name: col(&r, "name")?,
                holder: col(&r, "holder")?,
                acquired_at: col(&r, "acquired_at")?,
                expires_at: col(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Records that node `name` is alive with `role`, `capacity` and `running` builds.
    pub async fn node_heartbeat(
        &self,
        name: &str,
        role: &str,
        capacity: i64,
        running: i64,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO nodes (name, role, capacity, running, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, capacity = excluded.capacity,
                 running = excluded.running, heartbeat_at = excluded.heartbeat_at",
        )
        .bind(name)
        .bind(role)
        .bind(capacity)
        .bind(running)
        .bind(now)
        .execute(&self.pool)
        .await
        .op_for("node heartbeat", || format!("node `{name}`"))?;
        Ok(())
    }

    /// Removes node `name` (a clean shutdown).
    pub async fn remove_node(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM nodes WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .op_for("remove node", || format!("node `{name}`"))?;
        Ok(())
    }

    /// Every node that reported itself, by name.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>> {
        let rows = sqlx::query(
            "SELECT name, role, capacity, running, started_at, heartbeat_at FROM nodes ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .op("list nodes")?;
        rows.iter()
            .map(|r| {
                Ok(NodeInfo {
                    name: col(r, "name")?,
                    role: col(r, "role")?,
                    capacity: col(r, "capacity")?,
                    running: col(r, "running")?,
                    started_at: col(r, "started_at")?,
                    heartbeat_at: col(r, "heartbeat_at")?,
                })
            })
            .collect()
    }

    /// Claims pending build `build_id` of `job` for `node` and marks it started, unless
    /// `limits` forbid it now. One transaction: on PostgreSQL the rows of the job and of the
    /// jobs it excludes are locked (`FOR UPDATE SKIP LOCKED`: when another node is claiming a
    /// build of one of them right now, this claim gives way instead of waiting); on SQLite the
    /// write transaction itself is exclusive. `Ok(false)`: not claimed (limits, or it is no
    /// longer pending).
    pub async fn claim_build(
        &self,
        build_id: i64,
        job: &str,
        node: &str,
        limits: &ClaimLimits,
    ) -> Result<bool> {
        let op = "claim build";
        let ctx = || format!("build {build_id} of job `{job}`");
        let mut tx = self.write_tx().await.op_for(op, ctx)?;
        if !self.claim_in(&mut tx, build_id, job, node, limits).await? {
            return Ok(false);
        }
        tx.commit().await.op_for(op, ctx)?;
        Ok(true)
    }

    /// [`Store::claim_build`] inside the caller's transaction (not committed).
    pub(super) async fn claim_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        build_id: i64,
        job: &str,
        node: &str,
        limits: &ClaimLimits,
    ) -> Result<bool> {
        let op = "claim build";
        let ctx = || format!("build {build_id} of job `{job}`");
        let mut jobs: Vec<&str> = std::iter::once(job)
            .chain(limits.exclusive_with.iter().map(String::as_str))
            .collect();
        jobs.sort_unstable();
        jobs.dedup();
        let mut ids = Vec::with_capacity(jobs.len());
        for name in &jobs {
            let sql = match self.backend {
                Backend::Postgres => "SELECT id FROM jobs WHERE name = $1 FOR UPDATE SKIP LOCKED",
                Backend::Sqlite => "SELECT id FROM jobs WHERE name = $1",
            };
            let row = sqlx::query(sql)
                .bind(*name)
                .fetch_optional(&mut *tx)
                .await
                .op_for(op, ctx)?;
            match row {
                Some(r) => ids.push((*name, col::<i64>(&r, "id")?)),
                // Locked by another claimer (or gone): try again at the next pass.
                None => return Ok(false),
            }
        }
        for (name, id) in &ids {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM builds WHERE job_id = $1 AND status = 'started'",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .op_for(op, ctx)?;
            let running: i64 = col(&row, "n")?;
            let blocked = if *name == job {
                limits
                    .max_in_flight
                    .is_some_and(|max| running >= i64::from(max))
            } else {
                running > 0
            };
            if blocked {
                return Ok(false);
            }
        }
        super::builds::mark_started(&mut *tx, build_id, node).await
    }
}
