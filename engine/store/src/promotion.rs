//! Promotion records written in the transactions that make them true (docs/promotion.md): a
//! build's context when it is claimed; the environment's state, `deployed`/`tested` and
//! `qualified` when it succeeds; a rollback with the builds it queues. The rules (which
//! resources, which gate jobs, how each is judged) come from the engine's plan as a
//! [`PromotionRules`]; this module only applies them, under a per-environment lock.

use std::collections::BTreeMap;
use std::pin::Pin;

use sqlx::AnyConnection;

use super::builds::{build_by_id, insert_build};
use super::candidates::{candidate_in, candidate_where, event_from_row, insert_event};
use super::error::DbContext;
use super::pipeline::{job_by_name, resource_by_name};
use super::{
    Backend, Build, BuildStatus, Candidate, CandidateEvent, NewCandidateEvent, ResolvedInput,
    Result, Store, StoredCandidateEvent, col, now_ms,
};

/// How a build of one job takes part in its environment's promotion, from the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromotionRules {
    /// The job's environment.
    pub environment: String,
    /// The promoted resources the environment's jobs get: what its state and candidates hold.
    pub resources: Vec<String>,
    /// The resources whose state a success of this job sets.
    pub sets_state: Vec<String>,
    /// Whether the job deploys (puts): its success records `deployed`, and a build of it older
    /// than one that already succeeded is aborted instead of run.
    pub deploys: bool,
    /// The environment's gate jobs, each with how it is judged.
    pub gates: Vec<GateRule>,
}

/// How the builds of a gate job are judged (docs/promotion.md): a build counts for candidate
/// C when it got C's versions of `promoted`, and each version it got of a resource of
/// `produced` was put by a succeeded build of one of that resource's producing jobs that
/// itself counts for C (the deployment it tested).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateRule {
    /// The job.
    pub job: String,
    /// The promoted resources it gets.
    pub promoted: Vec<String>,
    /// The resources it gets that jobs of its environment put, with those jobs' rules.
    pub produced: Vec<Produced>,
}

/// A resource a job gets that jobs of its environment put.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produced {
    /// The resource.
    pub resource: String,
    /// The jobs of the environment that put it, each with its own rule.
    pub by: Vec<GateRule>,
}

/// What claiming a build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Claimed and started, judged against this candidate (if its environment has promoted
    /// resources).
    Started(Option<Candidate>),
    /// Not claimed: limits forbid it now, or another node claimed it, or it is not pending.
    NotNow,
    /// Aborted: a newer build of the same deploying job already succeeded.
    Superseded,
}

/// A build to queue with a rollback.
#[derive(Debug, Clone)]
pub struct NewBuild {
    /// The job.
    pub job: String,
    /// Why.
    pub reason: String,
    /// Its inputs.
    pub inputs: Vec<ResolvedInput>,
}

impl Store {
    /// The state of `environment`: for each promoted resource, its version id.
    pub async fn environment_state(&self, environment: &str) -> Result<BTreeMap<String, i64>> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        state(&mut conn, environment).await
    }

    /// The `qualified` events of `environment`, newest first, at most `limit` (load each
    /// candidate with [`Store::candidate_by_id`] as needed).
    pub async fn qualified_events(
        &self,
        environment: &str,
        limit: u32,
    ) -> Result<Vec<StoredCandidateEvent>> {
        sqlx::query(
            "SELECT id, candidate_id, environment, event, at, by_name, build_id, detail
             FROM candidate_events WHERE environment = $1 AND event = 'qualified'
             ORDER BY id DESC LIMIT $2",
        )
        .bind(environment)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .op_for("read qualified candidates", || {
            format!("environment `{environment}`")
        })?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// Claims pending build `build_id` like [`Store::claim_build`] and, in the same
    /// transaction, records the candidate it is judged against (its environment's state with
    /// its promoted inputs laid over it) and that this candidate entered the environment
    /// (`promoted`). A build of a deploying job older than one of the same job that already
    /// succeeded is aborted instead ([`Claim::Superseded`]).
    pub async fn claim_build_promoting(
        &self,
        build_id: i64,
        job: &str,
        node: &str,
        limits: &super::ClaimLimits,
        rules: &PromotionRules,
    ) -> Result<Claim> {
        let op = "claim build";
        let ctx = || format!("build {build_id} of job `{job}`");
        let mut tx = self.write_tx().await.op_for(op, ctx)?;
        if rules.deploys {
            let build = build_by_id(&mut tx, build_id).await?;
            if build.status == BuildStatus::Pending
                && newer_build(&mut tx, &build, Later::Succeeded).await?
            {
                let aborted = sqlx::query(
                    "UPDATE builds SET status = 'aborted', finished_at = $2
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(build_id)
                .bind(now_ms())
                .execute(&mut *tx)
                .await
                .op_for(op, ctx)?
                .rows_affected();
                tx.commit().await.op_for(op, ctx)?;
                return Ok(if aborted == 1 {
                    Claim::Superseded
                } else {
                    Claim::NotNow
                });
            }
        }
        if !self.claim_in(&mut tx, build_id, job, node, limits).await? {
            return Ok(Claim::NotNow);
        }
        let candidate = if rules.resources.is_empty() {
            None
        } else {
            self.lock_environment(&mut tx, &rules.environment).await?;
            let mut versions = state(&mut tx, &rules.environment).await?;
            for (resource, version_id) in build_input_versions(&mut tx, build_id).await? {
                if rules.resources.contains(&resource) {
                    versions.insert(resource, version_id);
                }
            }
            if versions.is_empty() {
                None
            } else {
                let pairs: Vec<(&str, i64)> =
                    versions.iter().map(|(r, v)| (r.as_str(), *v)).collect();
                let candidate = candidate_in(&mut tx, &pairs).await?;
                sqlx::query("UPDATE builds SET candidate_id = $2 WHERE id = $1")
                    .bind(build_id)
                    .bind(candidate.id)
                    .execute(&mut *tx)
                    .await
                    .op_for(op, ctx)?;
                insert_event(
                    &mut tx,
                    &NewCandidateEvent {
                        candidate_id: candidate.id,
                        environment: rules.environment.clone(),
                        event: CandidateEvent::Promoted,
                        by: Some(job.to_string()),
                        build_id: Some(build_id),
                        detail: None,
                    },
                    now_ms(),
                )
                .await?;
                Some(candidate)
            }
        };
        crash_point("claim_build.before_commit");
        tx.commit().await.op_for(op, ctx)?;
        Ok(Claim::Started(candidate))
    }

    /// Finishes build `build_id` like [`Store::finish_build`] and records, in the same
    /// transaction, what it means for its environment: a build whose `put` succeeded deployed
    /// (whatever its later steps did: the environment runs what it put), which moves the
    /// environment's state (only forward in build order) and records `deployed`; a succeeded
    /// build that deployed nothing records `tested`; and a success records `qualified` for each
    /// candidate whose gate jobs now all count for it. `node`, when given, must still hold the
    /// build's claim.
    pub async fn finish_build_promoting(
        &self,
        build_id: i64,
        status: BuildStatus,
        node: Option<&str>,
        rules: &PromotionRules,
    ) -> Result<Build> {
        let ctx = || format!("build {build_id}");
        let mut tx = self.write_tx().await.op_for("begin finishing build", ctx)?;
        self.finish_in(&mut tx, build_id, status, node).await?;
        crash_point("finish_build.after_status");
        if !rules.resources.is_empty() {
            self.lock_environment(&mut tx, &rules.environment).await?;
            record_finish(&mut tx, build_id, status, rules).await?;
        }
        let build = build_by_id(&mut tx, build_id).await?;
        crash_point("finish_build.before_commit");
        tx.commit().await.op_for("commit finished build", ctx)?;
        crash_point("finish_build.after_commit");
        Ok(build)
    }

    /// Queues `builds` and records that `by` rolled `environment` back to `candidate_id`, in
    /// one transaction: no rollback runs without its record, no record without its builds.
    pub async fn rollback(
        &self,
        environment: &str,
        candidate_id: i64,
        by: &str,
        builds: &[NewBuild],
    ) -> Result<Vec<Build>> {
        let ctx = || format!("environment `{environment}`, candidate {candidate_id}");
        let mut tx = self.write_tx().await.op_for("begin rollback", ctx)?;
        let mut created = Vec::with_capacity(builds.len());
        for b in builds {
            let job_id = job_by_name(&mut tx, &b.job).await?.id;
            let mut rows = Vec::with_capacity(b.inputs.len());
            for input in &b.inputs {
                let resource = resource_by_name(&mut tx, &input.resource).await?;
                rows.push((input.name.clone(), resource.id, input.version_id));
            }
            let id = insert_build(&mut tx, job_id, &b.reason, &rows, None, None).await?;
            created.push(build_by_id(&mut tx, id).await?);
        }
        crash_point("rollback.before_event");
        insert_event(
            &mut tx,
            &NewCandidateEvent {
                candidate_id,
                environment: environment.to_string(),
                event: CandidateEvent::RolledBack,
                by: Some(by.to_string()),
                build_id: created.first().map(|b| b.id),
                detail: None,
            },
            now_ms(),
        )
        .await?;
        tx.commit().await.op_for("commit rollback", ctx)?;
        Ok(created)
    }

    /// Serialises promotion records of `environment` across connections and nodes.
    async fn lock_environment(&self, conn: &mut AnyConnection, environment: &str) -> Result<()> {
        let ctx = || format!("environment `{environment}`");
        sqlx::query("INSERT INTO environment_locks (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(environment)
            .execute(&mut *conn)
            .await
            .op_for("lock environment", ctx)?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT name FROM environment_locks WHERE name = $1 FOR UPDATE")
                .bind(environment)
                .fetch_one(&mut *conn)
                .await
                .op_for("lock environment", ctx)?;
        }
        Ok(())
    }
}

/// A named crash point: when armed ([`super::arm_crash_point`]), the process aborts there the
/// K-th time it passes, as under `kill -9` (the tests of crash atomicity arm one through
/// `LOCKGATE_CRASH_POINT`).
pub(crate) fn crash_point(name: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static PASSES: AtomicU32 = AtomicU32::new(0);
    fail::fail_point!(name, |nth: Option<String>| {
        let nth: u32 = nth.and_then(|n| n.parse().ok()).unwrap_or(1);
        if PASSES.fetch_add(1, Ordering::SeqCst) + 1 >= nth {
            eprintln!("lockgate: crash point `{name}` reached: aborting");
            std::process::abort();
        }
    });
}

/// The state of `environment` (resource → version id).
async fn state(conn: &mut AnyConnection, environment: &str) -> Result<BTreeMap<String, i64>> {
    sqlx::query("SELECT resource, version_id FROM environment_state WHERE environment = $1")
        .bind(environment)
        .fetch_all(&mut *conn)
        .await
        .op_for("read environment state", || {
            format!("environment `{environment}`")
        })?
        .iter()
        .map(|r| Ok((col(r, "resource")?, col(r, "version_id")?)))
        .collect()
}

/// The (resource name, version id) of each input of build `build_id`.
async fn build_input_versions(
    conn: &mut AnyConnection,
    build_id: i64,
) -> Result<Vec<(String, i64)>> {
    sqlx::query(
        "SELECT r.name AS resource, i.version_id FROM build_inputs i
         JOIN resources r ON r.id = i.resource_id WHERE i.build_id = $1",
    )
    .bind(build_id)
    .fetch_all(&mut *conn)
    .await
    .op_for("read build inputs", || format!("build {build_id}"))?
    .iter()
    .map(|r| Ok((col(r, "resource")?, col(r, "version_id")?)))
    .collect()
}

/// Whether build `build_id` put a version (it deployed).
async fn has_outputs(conn: &mut AnyConnection, build_id: i64) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM build_outputs WHERE build_id = $1 LIMIT 1")
            .bind(build_id)
            .fetch_optional(&mut *conn)
            .await
            .op_for("read build outputs", || format!("build {build_id}"))?
            .is_some(),
    )
}

/// Which later builds of a job [`newer_build`] looks for.
#[derive(Clone, Copy)]
enum Later {
    /// Succeeded.
    Succeeded,
    /// Finished having deployed (a `put` succeeded).
    Deployed,
}

/// Whether a build of `build`'s job later in build order already `later`.
async fn newer_build(conn: &mut AnyConnection, build: &Build, later: Later) -> Result<bool> {
    let filter = match later {
        Later::Succeeded => "b.status = 'succeeded'",
        Later::Deployed => {
            "b.finished_at IS NOT NULL
             AND EXISTS (SELECT 1 FROM build_outputs o WHERE o.build_id = b.id)"
        }
    };
    let sql = format!(
        "SELECT 1 AS one FROM builds b
         WHERE b.job_id = $1 AND COALESCE(b.build_order, b.id) > $2 AND {filter} LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(build.job_id)
        .bind(build.order)
        .fetch_optional(&mut *conn)
        .await
        .op_for("read newer builds", || format!("build {}", build.id))?;
    Ok(row.is_some())
}

/// The records of a finished build (see [`Store::finish_build_promoting`]); the environment
/// is locked.
async fn record_finish(
    conn: &mut AnyConnection,
    build_id: i64,
    status: BuildStatus,
    rules: &PromotionRules,
) -> Result<()> {
    let op = "record promotion";
    let ctx = || format!("build {build_id}");
    let build = build_by_id(conn, build_id).await?;
    let env = rules.environment.as_str();
    let deployed = rules.deploys && has_outputs(conn, build_id).await?;
    if !deployed && status != BuildStatus::Succeeded {
        return Ok(());
    }
    for (resource, version_id) in build_input_versions(conn, build_id).await? {
        if !rules.sets_state.contains(&resource) {
            continue;
        }
        // Only forward in build order: a late build leaves a newer build's state alone.
        let existing = sqlx::query(
            "SELECT version_id, build_order FROM environment_state
             WHERE environment = $1 AND resource = $2",
        )
        .bind(env)
        .bind(&resource)
        .fetch_optional(&mut *conn)
        .await
        .op_for(op, ctx)?;
        let write = match &existing {
            None => true,
            Some(row) => col::<i64>(row, "build_order")? < build.order,
        };
        if !write {
            continue;
        }
        sqlx::query(
            "INSERT INTO environment_state (environment, resource, version_id, build_id, build_order)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (environment, resource)
             DO UPDATE SET version_id = $3, build_id = $4, build_order = $5",
        )
        .bind(env)
        .bind(&resource)
        .bind(version_id)
        .bind(build_id)
        .bind(build.order)
        .execute(&mut *conn)
        .await
        .op_for(op, ctx)?;
    }
    let now = now_ms();
    let versions = state(conn, env).await?;
    let state_candidate = if versions.is_empty() {
        None
    } else {
        let pairs: Vec<(&str, i64)> = versions.iter().map(|(r, v)| (r.as_str(), *v)).collect();
        Some(candidate_in(conn, &pairs).await?)
    };
    let detail = serde_json::json!({ "job": build.job, "build": build.number });
    if deployed {
        // What the environment runs after this deployment: its state — unless a later build
        // of the same job already deployed (this one is late: it moved nothing back).
        let current_is_newer = newer_build(conn, &build, Later::Deployed).await?;
        if let Some(c) = &state_candidate
            && !current_is_newer
        {
            insert_event(
                conn,
                &NewCandidateEvent {
                    candidate_id: c.id,
                    environment: env.to_string(),
                    event: CandidateEvent::Deployed,
                    by: Some(build.job.clone()),
                    build_id: Some(build_id),
                    detail: Some(detail.clone()),
                },
                now,
            )
            .await?;
        }
    } else if let Some(id) = build.candidate_id
        && status == BuildStatus::Succeeded
    {
        insert_event(
            conn,
            &NewCandidateEvent {
                candidate_id: id,
                environment: env.to_string(),
                event: CandidateEvent::Tested,
                by: Some(build.job.clone()),
                build_id: Some(build_id),
                detail: Some(detail),
            },
            now,
        )
        .await?;
    }
    if status != BuildStatus::Succeeded {
        return Ok(());
    }
    // Qualification: of the candidate this build was judged against, and of the new state.
    let mut judged = Vec::new();
    if let Some(id) = build.candidate_id {
        judged.push(candidate_where(conn, "id = $1", id).await?);
    }
    if let Some(c) = state_candidate
        && !judged.iter().any(|j| j.id == c.id)
    {
        judged.push(c);
    }
    for candidate in judged {
        if qualifies(conn, &candidate, rules).await? {
            insert_event(
                conn,
                &NewCandidateEvent {
                    candidate_id: candidate.id,
                    environment: env.to_string(),
                    event: CandidateEvent::Qualified,
                    by: Some(build.job.clone()),
                    build_id: Some(build_id),
                    detail: None,
                },
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// How many of a job's newest builds are looked at when judging a candidate.
const JUDGED_BUILDS: i64 = 100;

/// Whether every gate job has a succeeded build that counts for `candidate`.
async fn qualifies(
    conn: &mut AnyConnection,
    candidate: &Candidate,
    rules: &PromotionRules,
) -> Result<bool> {
    let wanted = versions_of(candidate);
    for gate in &rules.gates {
        let attempts = attempts_for(conn, &wanted, gate).await?;
        if !attempts.iter().any(|b| b.status == BuildStatus::Succeeded) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn versions_of(candidate: &Candidate) -> BTreeMap<String, i64> {
    candidate
        .versions
        .iter()
        .map(|v| (v.resource.clone(), v.version_id))
        .collect()
}

/// The builds of `rule`'s job made for `wanted` (any status), newest first.
async fn attempts_for(
    conn: &mut AnyConnection,
    wanted: &BTreeMap<String, i64>,
    rule: &GateRule,
) -> Result<Vec<Build>> {
    let rows = sqlx::query(
        "SELECT b.id FROM builds b JOIN jobs j ON j.id = b.job_id
         WHERE j.name = $1 ORDER BY b.id DESC LIMIT $2",
    )
    .bind(&rule.job)
    .bind(JUDGED_BUILDS)
    .fetch_all(&mut *conn)
    .await
    .op_for("judge qualification", || format!("job `{}`", rule.job))?;
    let mut out = Vec::new();
    for row in &rows {
        let id: i64 = col(row, "id")?;
        if made_for(conn, id, wanted, rule, 0).await? {
            out.push(build_by_id(conn, id).await?);
        }
    }
    Ok(out)
}

/// Whether build `build_id` of `rule`'s job was made for the candidate `wanted`: it got the
/// candidate's versions of its promoted resources, and the deployments it got were put by
/// succeeded builds made for the candidate.
fn made_for<'a>(
    conn: &'a mut AnyConnection,
    build_id: i64,
    wanted: &'a BTreeMap<String, i64>,
    rule: &'a GateRule,
    depth: usize,
) -> Pin<Box<dyn Future<Output = Result<bool>> + Send + 'a>> {
    Box::pin(async move {
        let inputs: BTreeMap<String, i64> = build_input_versions(conn, build_id)
            .await?
            .into_iter()
            .collect();
        for r in &rule.promoted {
            if inputs.get(r) != wanted.get(r) {
                return Ok(false);
            }
        }
        // The plan builds rules without cycles; the depth only bounds a corrupt one.
        if depth > 8 {
            return Ok(false);
        }
        for produced in &rule.produced {
            let Some(&version) = inputs.get(&produced.resource) else {
                continue;
            };
            let mut found = false;
            'producers: for producer in &produced.by {
                let rows = sqlx::query(
                    "SELECT b.id FROM build_outputs o JOIN builds b ON b.id = o.build_id
                     JOIN jobs j ON j.id = b.job_id
                     WHERE j.name = $1 AND o.version_id = $2 AND b.status = 'succeeded'
                     ORDER BY b.id DESC LIMIT $3",
                )
                .bind(&producer.job)
                .bind(version)
                .bind(JUDGED_BUILDS)
                .fetch_all(&mut *conn)
                .await
                .op_for("judge qualification", || format!("job `{}`", producer.job))?;
                for row in &rows {
                    let id: i64 = col(row, "id")?;
                    if made_for(conn, id, wanted, producer, depth + 1).await? {
                        found = true;
                        break 'producers;
                    }
                }
            }
            if !found {
                return Ok(false);
            }
        }
        Ok(true)
    })
}

impl Store {
    /// The builds of the job of `rule` made for candidate `candidate_id` (any status), newest
    /// first: what `lockgate why` reports for a gate job that does not count for it yet.
    pub async fn gate_attempts(&self, candidate_id: i64, rule: &GateRule) -> Result<Vec<Build>> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let candidate = candidate_where(&mut conn, "id = $1", candidate_id).await?;
        attempts_for(&mut conn, &versions_of(&candidate), rule).await
    }
}
