//! Resource versions: saving check results, latest, paging, pinning, disabling.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use lockgate_model::{Fetched, Version};

use super::digest::version_json_and_digest;
use super::error::DbContext;
use super::pipeline::resource_by_name;
use super::{
    Page, Result, SaveOutcome, Store, StoreError, StoredVersion, col, flag, now_ms, parse_version,
};

pub(super) const VERSION_COLUMNS: &str =
    "id, scope_id, version, digest, metadata, check_order, first_seen_at, disabled";

/// Versions saved in one transaction at most.
pub const SAVE_BATCH: usize = 1000;

impl Store {
    /// Appends the versions of `resource` not stored yet, in the order given (oldest first, as
    /// `check` returns them), in transactions of at most [`SAVE_BATCH`] versions, so that a
    /// long list never holds the store's write lock for long (other writers — the scheduler's
    /// lease, heartbeats, builds — get their turn between batches). Idempotent: saving the same
    /// list again adds nothing and reorders nothing; a known version only has its metadata
    /// replaced when the new metadata is non-empty and different. Interrupted between batches,
    /// the oldest part is stored and the next check adds the rest in order.
    pub async fn save_versions(&self, resource: &str, versions: &[Fetched]) -> Result<SaveOutcome> {
        let mut outcome = SaveOutcome::default();
        for batch in versions.chunks(SAVE_BATCH).chain(
            // An empty list still checks that the resource exists.
            versions.is_empty().then_some(&[][..]),
        ) {
            let mut tx = self
                .write_tx()
                .await
                .op_for("begin saving versions", || format!("resource `{resource}`"))?;
            let r = resource_by_name(&mut tx, resource).await?;
            let saved = save_in_scope(&mut tx, r.scope_id, resource, batch).await?;
            tx.commit()
                .await
                .op_for("commit versions", || format!("resource `{resource}`"))?;
            outcome.new_versions.extend(saved.new_versions);
            outcome.updated_metadata += saved.updated_metadata;
        }
        Ok(outcome)
    }

    /// The newest version of `resource` that is not disabled, in its current history.
    pub async fn latest_version(&self, resource: &str) -> Result<Option<StoredVersion>> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let r = resource_by_name(&mut conn, resource).await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resource_versions
             WHERE scope_id = $1 AND disabled = 0 ORDER BY check_order DESC LIMIT 1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(r.scope_id)
            .fetch_optional(&mut *conn)
            .await
            .op_for("read latest version", || format!("resource `{resource}`"))?
            .as_ref()
            .map(version_from_row)
            .transpose()
    }

    /// A page of the versions of `resource` (disabled ones included), newest first; the cursor
    /// is `check_order`.
    pub async fn versions(&self, resource: &str, page: Page) -> Result<Vec<StoredVersion>> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let r = resource_by_name(&mut conn, resource).await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM resource_versions
             WHERE scope_id = $1 AND check_order < $2 ORDER BY check_order DESC LIMIT $3"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(r.scope_id)
            .bind(page.before.unwrap_or(i64::MAX))
            .bind(i64::from(page.limit))
            .fetch_all(&mut *conn)
            .await
            .op_for("list versions", || format!("resource `{resource}`"))?
            .iter()
            .map(version_from_row)
            .collect()
    }

    /// The version with row id `id`.
    pub async fn version_by_id(&self, id: i64) -> Result<StoredVersion> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        version_by_id(&mut conn, id).await
    }

    /// `version` of `resource` in its current history, if stored.
    pub async fn find_version(
        &self,
        resource: &str,
        version: &Version,
    ) -> Result<Option<StoredVersion>> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let r = resource_by_name(&mut conn, resource).await?;
        find_in_scope(&mut conn, r.scope_id, version, resource).await
    }

    /// Pins `resource` to `version` (which must be stored): every input of the resource then
    /// gets exactly that version.
    pub async fn pin_version(&self, resource: &str, version: &Version) -> Result<StoredVersion> {
        let mut tx = self
            .write_tx()
            .await
            .op_for("begin pinning", || format!("resource `{resource}`"))?;
        let r = resource_by_name(&mut tx, resource).await?;
        let v = find_in_scope(&mut tx, r.scope_id, version, resource)
            .await?
            .ok_or_else(|| StoreError::UnknownVersion {
                resource: resource.to_string(),
                version: version.to_string(),
            })?;
        sqlx::query("UPDATE resources SET pinned_version_id = $2, updated_at = $3 WHERE id = $1")
            .bind(r.id)
            .bind(v.id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .op_for("pin version", || format!("resource `{resource}`"))?;
        tx.commit()
            .await
            .op_for("commit pin", || format!("resource `{resource}`"))?;
        Ok(v)
    }

    /// Removes the pin of `resource`, if any.
    pub async fn unpin(&self, resource: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE resources SET pinned_version_id = NULL, updated_at = $2 WHERE name = $1",
        )
        .bind(resource)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .op_for("unpin", || format!("resource `{resource}`"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownResource(resource.to_string()));
        }
        Ok(())
    }

    /// The version `resource` is pinned to, if pinned.
    pub async fn pinned_version(&self, resource: &str) -> Result<Option<StoredVersion>> {
        let mut conn = self.pool.acquire().await.op("acquire connection")?;
        let r = resource_by_name(&mut conn, resource).await?;
        match r.pinned_version_id {
            Some(id) => Ok(Some(version_by_id(&mut conn, id).await?)),
            None => Ok(None),
        }
    }

    /// Disables (`true`) or enables (`false`) `version` of `resource`: disabled versions are
    /// never picked as inputs. (The flag belongs to the version history, which resources with
    /// identical configuration share.)
    pub async fn set_version_disabled(
        &self,
        resource: &str,
        version: &Version,
        disabled: bool,
    ) -> Result<()> {
        let mut tx = self
            .write_tx()
            .await
            .op_for("begin disabling", || format!("resource `{resource}`"))?;
        let r = resource_by_name(&mut tx, resource).await?;
        let (_, digest) = version_json_and_digest(version);
        let done = sqlx::query(
            "UPDATE resource_versions SET disabled = $3 WHERE scope_id = $1 AND digest = $2",
        )
        .bind(r.scope_id)
        .bind(&digest)
        .bind(i64::from(disabled))
        .execute(&mut *tx)
        .await
        .op_for("disable version", || format!("resource `{resource}`"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownVersion {
                resource: resource.to_string(),
                version: version.to_string(),
            });
        }
        tx.commit()
            .await
            .op_for("commit disabling", || format!("resource `{resource}`"))
    }
}

/// Appends unknown versions to history `scope_id` (inside the caller's write transaction),
/// after taking the history's row lock so that two nodes saving at once cannot interleave
/// their check orders.
pub(super) async fn save_in_scope(
    conn: &mut AnyConnection,
    scope_id: i64,
    resource: &str,
    versions: &[Fetched],
) -> Result<SaveOutcome> {
    let op = "save versions";
    let ctx = || format!("resource `{resource}`");
    sqlx::query("UPDATE resource_scopes SET created_at = created_at WHERE id = $1")
        .bind(scope_id)
        .execute(&mut *conn)
        .await
        .op_for(op, ctx)?;
    let mut next: i64 = col(
        &sqlx::query(
            "SELECT COALESCE(MAX(check_order), 0) AS n FROM resource_versions WHERE scope_id = $1",
        )
        .bind(scope_id)
        .fetch_one(&mut *conn)
        .await
        .op_for(op, ctx)?,
        "n",
    )?;
    let now = now_ms();
    let mut outcome = SaveOutcome::default();
    for fetched in versions {
        let (json, digest) = version_json_and_digest(&fetched.version);
        let metadata =
            serde_json::to_string(&fetched.metadata).expect("string pairs always serialize");
        let existing = sqlx::query(
            "SELECT id, metadata FROM resource_versions WHERE scope_id = $1 AND digest = $2",
        )
        .bind(scope_id)
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await
        .op_for(op, ctx)?;
        match existing {
            Some(row) => {
                let stored: String = col(&row, "metadata")?;
                if !fetched.metadata.is_empty() && stored != metadata {
                    sqlx::query("UPDATE resource_versions SET metadata = $2 WHERE id = $1")
                        .bind(col::<i64>(&row, "id")?)
                        .bind(&metadata)
                        .execute(&mut *conn)
                        .await
                        .op_for(op, ctx)?;
                    outcome.updated_metadata += 1;
                }
            }
            None => {
                next += 1;
                let row = sqlx::query(
                    "INSERT INTO resource_versions
                        (scope_id, version, digest, metadata, check_order, first_seen_at, disabled)
                     VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id",
                )
                .bind(scope_id)
                .bind(&json)
                .bind(&digest)
                .bind(&metadata)
                .bind(next)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .op_for(op, ctx)?;
                outcome.new_versions.push(StoredVersion {
                    id: col(&row, "id")?,
                    scope_id,
                    version: fetched.version.clone(),
                    digest,
                    metadata: fetched.metadata.clone(),
                    check_order: next,
                    first_seen_at: now,
                    disabled: false,
                });
            }
        }
    }
    Ok(outcome)
}

pub(super) async fn find_in_scope(
    conn: &mut AnyConnection,
    scope_id: i64,
    version: &Version,
    resource: &str,
) -> Result<Option<StoredVersion>> {
    let (_, digest) = version_json_and_digest(version);
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM resource_versions WHERE scope_id = $1 AND digest = $2"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(scope_id)
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await
        .op_for("find version", || format!("resource `{resource}`"))?
        .as_ref()
        .map(version_from_row)
        .transpose()
}

pub(super) async fn version_by_id(conn: &mut AnyConnection, id: i64) -> Result<StoredVersion> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM resource_versions WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .op_for("read version", || format!("version id {id}"))?
        .ok_or_else(|| StoreError::UnknownVersion {
            resource: "?".into(),
            version: format!("id {id}"),
        })?;
    version_from_row(&row)
}

pub(super) fn version_from_row(row: &AnyRow) -> Result<StoredVersion> {
    let metadata: String = col(row, "metadata")?;
    Ok(StoredVersion {
        id: col(row, "id")?,
        scope_id: col(row, "scope_id")?,
        version: parse_version(&col::<String>(row, "version")?)?,
        digest: col(row, "digest")?,
        metadata: serde_json::from_str(&metadata).map_err(|e| StoreError::Corrupt {
            what: "version metadata",
            detail: format!("{e}: {metadata}"),
        })?,
        check_order: col(row, "check_order")?,
        first_seen_at: col(row, "first_seen_at")?,
        disabled: flag(row, "disabled")?,
    })
}
