//! Pipeline resources and jobs by name, upserted from the configuration.

use std::collections::{HashMap, HashSet};

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::error::DbContext;
use super::{
    Job, JobConfig, Resource, ResourceConfig, Result, Store, StoreError, SyncReport, col, flag,
    now_ms,
};

/// Most values bound in one `IN (…)` list.
pub(super) const IN_LIST_CHUNK: usize = 100;

/// The tables of named pipeline objects that are deactivated rather than deleted.
#[derive(Clone, Copy)]
enum Table {
    Resources,
    Jobs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Resources => "resources",
            Table::Jobs => "jobs",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Table::Resources => "resource",
            Table::Jobs => "job",
        }
    }
}

/// Marks inactive every active row of `table` whose name is not in `keep`; returns their names.
async fn deactivate_missing(
    conn: &mut AnyConnection,
    table: Table,
    keep: &HashSet<&str>,
    now: i64,
) -> Result<Vec<String>> {
    let list = format!(
        "SELECT name FROM {} WHERE active = 1 ORDER BY name",
        table.name()
    );
    let update = format!(
        "UPDATE {} SET active = 0, updated_at = $2 WHERE name = $1",
        table.name()
    );
    let mut deactivated = Vec::new();
    for row in sqlx::query(sqlx::AssertSqlSafe(list))
        .fetch_all(&mut *conn)
        .await
        .op_for("list", || table.name().to_owned())?
    {
        let name: String = col(&row, "name")?;
        if !keep.contains(name.as_str()) {
            sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                .bind(&name)
                .bind(now)
                .execute(&mut *conn)
                .await
                .op_for("deactivate", || format!("{} `{name}`", table.noun()))?;
            deactivated.push(name);
        }
    }
    Ok(deactivated)
}

const RESOURCE_COLUMNS: &str = "id, name, type, config_digest, scope_id, pinned_version_id, active";

impl Store {
    /// Upserts the pipeline's resources and jobs by name, in one transaction. A resource whose
    /// configuration digest changed moves to the version history of the new digest (a new one,
    /// or the one it had before under that configuration) and loses its pin; resources and jobs
    /// missing from the configuration are marked inactive, never deleted.
    pub async fn sync_pipeline(
        &self,
        resources: &[ResourceConfig],
        jobs: &[JobConfig],
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let now = now_ms();
        let mut tx = self.write_tx().await.op("begin pipeline sync")?;
        for r in resources {
            let op = "sync resource";
            let ctx = || format!("resource `{}`", r.name);
            sqlx::query(
                "INSERT INTO resource_scopes (config_digest, created_at) VALUES ($1, $2)
                 ON CONFLICT (config_digest) DO NOTHING",
            )
            .bind(&r.config_digest)
            .bind(now)
            .execute(&mut *tx)
            .await
            .op_for(op, ctx)?;
            let scope_id: i64 = col(
                &sqlx::query("SELECT id FROM resource_scopes WHERE config_digest = $1")
                    .bind(&r.config_digest)
                    .fetch_one(&mut *tx)
                    .await
                    .op_for(op, ctx)?,
                "id",
            )?;
            let existing = sqlx::query("SELECT config_digest FROM resources WHERE name = $1")
                .bind(&r.name)
                .fetch_optional(&mut *tx)
                .await
                .op_for(op, ctx)?;
            match existing {
                None => {
                    sqlx::query(
                        "INSERT INTO resources
                            (name, type, config_digest, scope_id, active, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, 1, $5, $5)",
                    )
                    .bind(&r.name)
                    .bind(&r.type_name)
                    .bind(&r.config_digest)
                    .bind(scope_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .op_for(op, ctx)?;
                    report.added_resources.push(r.name.clone());
                }
                Some(row) => {
                    let old: String = col(&row, "config_digest")?;
                    if old != r.config_digest {
                        sqlx::query(
                            "UPDATE resources SET type = $2, config_digest = $3, scope_id = $4,
                                pinned_version_id = NULL, active = 1, updated_at = $5
                             WHERE name = $1",
                        )
                        .bind(&r.name)
                        .bind(&r.type_name)
                        .bind(&r.config_digest)
                        .bind(scope_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .op_for(op, ctx)?;
                        report.new_histories.push(r.name.clone());
                    } else {
                        sqlx::query(
                            "UPDATE resources SET type = $2, active = 1, updated_at = $3
                             WHERE name = $1 AND (type <> $2 OR active = 0)",
                        )
                        .bind(&r.name)
                        .bind(&r.type_name)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .op_for(op, ctx)?;
                    }
                }
            }
        }
        let keep: HashSet<&str> = resources.iter().map(|r| r.name.as_str()).collect();
        report.deactivated_resources =
            deactivate_missing(&mut tx, Table::Resources, &keep, now).await?;

        for j in jobs {
            let inserted = sqlx::query(
                "INSERT INTO jobs (name, environment, active, created_at, updated_at)
                 VALUES ($1, $2, 1, $3, $3)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&j.name)
            .bind(j.environment.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await
            .op_for("sync job", || format!("job `{}`", j.name))?;
            if inserted.rows_affected() == 1 {
                report.added_jobs.push(j.name.clone());
            } else {
                sqlx::query(
                    "UPDATE jobs SET environment = $2, active = 1, updated_at = $3 WHERE name = $1",
                )
                .bind(&j.name)
                .bind(j.environment.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await
                .op_for("sync job", || format!("job `{}`", j.name))?;
            }
        }
        let keep: HashSet<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        report.deactivated_jobs = deactivate_missing(&mut tx, Table::Jobs, &keep, now).await?;
        tx.commit().await.op("commit pipeline sync")?;
        Ok(report)
    }

    /// The resource named `name`.
    pub async fn resource(&self, name: &str) -> Result<Resource> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        resource_by_name(&mut conn, name).await
    }

    /// Every resource, active or not, by name.
    pub async fn resources(&self) -> Result<Vec<Resource>> {
        let sql = format!("SELECT {RESOURCE_COLUMNS} FROM resources ORDER BY name");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .op("list resources")?
            .iter()
            .map(resource_from_row)
            .collect()
    }

    /// The job named `name`.
    pub async fn job(&self, name: &str) -> Result<Job> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        job_by_name(&mut conn, name).await
    }

    /// Every job, active or not, by name.
    pub async fn jobs(&self) -> Result<Vec<Job>> {
        sqlx::query("SELECT id, name, environment, active FROM jobs ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .op("list jobs")?
            .iter()
            .map(job_from_row)
            .collect()
    }
}

pub(super) async fn resource_by_name(conn: &mut AnyConnection, name: &str) -> Result<Resource> {
    let sql = format!("SELECT {RESOURCE_COLUMNS} FROM resources WHERE name = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .op_for("read resource", || format!("resource `{name}`"))?
        .ok_or_else(|| StoreError::UnknownResource(name.to_string()))?;
    resource_from_row(&row)
}

/// The resources named `names` (deduplicated), in as few queries as possible; the first
/// unknown name is an error.
pub(super) async fn resources_by_names(
    conn: &mut AnyConnection,
    names: &[&str],
) -> Result<HashMap<String, Resource>> {
    let mut unique: Vec<&str> = names.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut found = HashMap::with_capacity(unique.len());
    for chunk in unique.chunks(IN_LIST_CHUNK) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM resources WHERE name IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for name in chunk {
            query = query.bind(*name);
        }
        for row in query
            .fetch_all(&mut *conn)
            .await
            .op_for("read resources", || format!("resources {chunk:?}"))?
        {
            let r = resource_from_row(&row)?;
            found.insert(r.name.clone(), r);
        }
    }
    if let Some(missing) = names.iter().find(|n| !found.contains_key(**n)) {
        return Err(StoreError::UnknownResource(missing.to_string()));
    }
    Ok(found)
}

pub(super) async fn job_by_name(conn: &mut AnyConnection, name: &str) -> Result<Job> {
    let row = sqlx::query("SELECT id, name, environment, active FROM jobs WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .op_for("read job", || format!("job `{name}`"))?
        .ok_or_else(|| StoreError::UnknownJob(name.to_string()))?;
    job_from_row(&row)
}

fn resource_from_row(row: &AnyRow) -> Result<Resource> {
    Ok(Resource {
        id: col(row, "id")?,
        name: col(row, "name")?,
        type_name: col(row, "type")?,
        config_digest: col(row, "config_digest")?,
        scope_id: col(row, "scope_id")?,
        pinned_version_id: col(row, "pinned_version_id")?,
        active: flag(row, "active")?,
    })
}

fn job_from_row(row: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: col(row, "id")?,
        name: col(row, "name")?,
        environment: col(row, "environment")?,
        active: flag(row, "active")?,
    })
}
