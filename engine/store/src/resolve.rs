//! Input resolution under `passed` constraints, with Concourse's semantics, in bounded memory.
//!
//! An input without `passed` takes the newest non-disabled version of its resource (the pinned
//! one if the resource is pinned; for `version: every`, the oldest one no build of the job used
//! yet). An input with `passed: [A, B]` takes a version that was an input or output of a
//! succeeded build of A *and* of a succeeded build of B; inputs that share an upstream job take
//! versions that appeared together in *one* succeeded build of it. Among the valid combinations
//! the newest wins, input by input in the order given (the first input's newest acceptable
//! version, then the second's given the first, ..., backtracking when a choice leaves a later
//! input without a version), where newer means a newer upstream build.
//!
//! The search walks `successful_build_versions` with keyset-paged, indexed queries (at most
//! [`PAGE`] rows at a time per level); it holds one upstream build per shared job and one page
//! per recursion level, so its memory does not grow with the history, only with the number of
//! inputs.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use sqlx::AnyConnection;

use super::error::DbContext;
use super::pipeline::{IN_LIST_CHUNK, job_by_name, resources_by_names};
use super::versions::{find_in_scope, version_by_id};
use super::{InputSpec, ResolvedInput, Result, Store, StoreError, col, parse_version};
use lockgate_model::VersionPolicy;

/// Rows fetched per query while walking upstream builds or versions (the first page of a walk
/// is smaller: the newest build usually fits).
pub(super) const PAGE: i64 = 100;
const FIRST_PAGE: i64 = 8;

/// Bound of the cache of upstream build contents (cleared when full).
const CONTENTS_CAP: usize = 64;

/// Bound of the set of versions already rejected for an input (an optimisation only: the set is
/// cleared when full, so memory stays constant).
const REJECTED_CAP: usize = 4096;

type Fut<'a> = Pin<Box<dyn Future<Output = Result<bool>> + Send + 'a>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Latest,
    Every,
    Pinned(i64),
}

#[derive(Debug)]
struct Prepared {
    resource: String,
    resource_id: i64,
    scope_id: i64,
    passed: Vec<i64>,
    policy: Policy,
}

struct Search<'c> {
    conn: &'c mut AnyConnection,
    job_id: i64,
    inputs: Vec<Prepared>,
    /// Input indexes: those with `passed` first (in the given order), then the others.
    order: Vec<usize>,
    /// The upstream build chosen for each shared job so far (a stack).
    builds: Vec<(i64, i64)>,
    /// The version chosen for each input.
    chosen: Vec<Option<i64>>,
    /// Inputs and outputs of recently examined upstream builds, by (job, build).
    contents: HashMap<(i64, i64), Vec<Content>>,
    /// Newest non-disabled version per history, for inputs without `passed`, fetched at once.
    latest: HashMap<i64, Option<i64>>,
}

/// One (resource, version) of a succeeded upstream build.
#[derive(Debug, Clone, Copy)]
struct Content {
    resource_id: i64,
    version_id: i64,
    scope_id: i64,
    disabled: bool,
}

impl Store {
    /// Resolves the inputs of a new build of `job` (see the module documentation of
    /// `store::resolve` for the rules). `Ok(None)` when some input has no acceptable version
    /// yet; otherwise one [`ResolvedInput`] per spec, in the order given.
    pub async fn resolve_inputs(
        &self,
        job: &str,
        specs: &[InputSpec],
    ) -> Result<Option<Vec<ResolvedInput>>> {
        let mut tx = self
            .read_tx()
            .await
            .op_for("begin input resolution", || format!("job `{job}`"))?;
        let job_id = job_by_name(&mut tx, job).await?.id;
        let names: Vec<&str> = specs.iter().map(|s| s.resource.as_str()).collect();
        let resources = resources_by_names(&mut tx, &names).await?;
        let mut upstream_ids: HashMap<&str, i64> = HashMap::new();
        let mut inputs = Vec::with_capacity(specs.len());
        for spec in specs {
            let r = &resources[&spec.resource];
            let mut passed = Vec::with_capacity(spec.passed.len());
            for upstream in &spec.passed {
                let id = match upstream_ids.get(upstream.as_str()) {
                    Some(id) => *id,
                    None => {
                        let id = job_by_name(&mut tx, upstream).await?.id;
                        upstream_ids.insert(upstream, id);
                        id
                    }
                };
                if !passed.contains(&id) {
                    passed.push(id);
                }
            }
            let policy = if let Some(pinned) = r.pinned_version_id {
                Policy::Pinned(pinned)
            } else {
                match &spec.version {
                    VersionPolicy::Latest => Policy::Latest,
                    VersionPolicy::Every => Policy::Every,
                    VersionPolicy::Pinned(version) => {
                        match find_in_scope(&mut tx, r.scope_id, version, &spec.resource).await? {
                            Some(v) => Policy::Pinned(v.id),
                            None => return Ok(None),
                        }
                    }
                }
            };
            if let Policy::Pinned(id) = policy {
                let v = version_by_id(&mut tx, id).await?;
                if v.disabled || v.scope_id != r.scope_id {
                    return Ok(None);
                }
            }
            inputs.push(Prepared {
                resource: spec.resource.clone(),
                resource_id: r.id,
                scope_id: r.scope_id,
                passed,
                policy,
            });
        }
        let order: Vec<usize> = (0..inputs.len())
            .filter(|&i| !inputs[i].passed.is_empty())
            .chain((0..inputs.len()).filter(|&i| inputs[i].passed.is_empty()))
            .collect();
        let latest_scopes: Vec<i64> = inputs
            .iter()
            .filter(|i| i.passed.is_empty() && i.policy == Policy::Latest)
            .map(|i| i.scope_id)
            .collect();
        let latest = latest_of_scopes(&mut tx, &latest_scopes).await?;
        let mut search = Search {
            conn: &mut tx,
            job_id,
            chosen: vec![None; inputs.len()],
            inputs,
            order,
            builds: Vec::new(),
            contents: HashMap::new(),
            latest,
        };
        if !search.resolve_from(0).await? {
            return Ok(None);
        }
        let chosen: Vec<i64> = std::mem::take(&mut search.chosen)
            .into_iter()
            .map(|v| v.expect("a successful search chose every input"))
            .collect();
        drop(search);
        let versions = versions_of_ids(&mut tx, &chosen).await?;
        let mut resolved = Vec::with_capacity(specs.len());
        for (spec, version_id) in specs.iter().zip(chosen) {
            let version =
                versions
                    .get(&version_id)
                    .cloned()
                    .ok_or_else(|| StoreError::UnknownVersion {
                        resource: spec.resource.clone(),
                        version: format!("id {version_id}"),
                    })?;
            resolved.push(ResolvedInput {
                name: spec.name.clone(),
                resource: spec.resource.clone(),
                version_id,
                version,
            });
        }
        tx.commit()
            .await
            .op_for("end input resolution", || format!("job `{job}`"))?;
        Ok(Some(resolved))
    }
}

impl Search<'_> {
    /// Chooses versions for the inputs at positions `k..` of `order`.
    fn resolve_from(&mut self, k: usize) -> Fut<'_> {
        Box::pin(async move {
            let Some(&i) = self.order.get(k) else {
                return Ok(true);
            };
            if self.inputs[i].passed.is_empty() {
                return match self.unconstrained(i).await? {
                    Some(v) => {
                        self.chosen[i] = Some(v);
                        self.resolve_from(k + 1).await
                    }
                    None => Ok(false),
                };
            }
            let later: HashSet<i64> = self.order[k + 1..]
                .iter()
                .flat_map(|&l| self.inputs[l].passed.iter().copied())
                .collect();
            let passed = self.inputs[i].passed.clone();
            let fixed: Vec<(i64, i64)> = passed
                .iter()
                .filter_map(|j| self.build_of(*j).map(|b| (*j, b)))
                .collect();
            let branch: Vec<i64> = passed
                .iter()
                .copied()
                .filter(|j| self.build_of(*j).is_none() && later.contains(j))
                .collect();
            let (r, scope) = (self.inputs[i].resource_id, self.inputs[i].scope_id);
            match self.inputs[i].policy {
                Policy::Pinned(v) => self.try_version(k, v, None, &branch).await,
                policy if !fixed.is_empty() => {
                    // Only the versions of the shared build qualify: a handful.
                    let (j, b) = fixed[0];
                    let newest_first = self.versions_in_build(j, r, b, scope).await?;
                    let mut candidates = Vec::with_capacity(newest_first.len() * 2);
                    if policy == Policy::Every {
                        for &v in newest_first.iter().rev() {
                            if !self.used_by_job(v).await? {
                                candidates.push(v);
                            }
                        }
                    }
                    candidates.extend(newest_first);
                    for v in candidates {
                        if self.try_version(k, v, None, &branch).await? {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                }
                policy => {
                    if policy == Policy::Every && self.walk_every(k, &branch).await? {
                        return Ok(true);
                    }
                    self.walk_latest(k, &branch).await
                }
            }
        })
    }

    /// Tries upstream builds of the input's first `passed` job newest first, and each version
    /// of the resource in them.
    async fn walk_latest(&mut self, k: usize, branch: &[i64]) -> Result<bool> {
        let i = self.order[k];
        let (r, scope) = (self.inputs[i].resource_id, self.inputs[i].scope_id);
        let j0 = branch.first().copied().unwrap_or(self.inputs[i].passed[0]);
        let hinted = branch.contains(&j0);
        let rest: Vec<i64> = branch.iter().copied().filter(|&j| j != j0).collect();
        let mut rejected: HashSet<i64> = HashSet::new();
        let mut cursor = (i64::MAX, i64::MAX);
        let mut limit = FIRST_PAGE;
        loop {
            let page = sqlx::query(
                "SELECT s.build_id, s.version_id FROM successful_build_versions s
                 JOIN resource_versions v ON v.id = s.version_id
                 WHERE s.job_id = $1 AND s.resource_id = $2 AND v.scope_id = $3 AND v.disabled = 0
                   AND s.build_id <= $4 AND (s.build_id < $4 OR s.version_id < $5)
                 ORDER BY s.build_id DESC, s.version_id DESC LIMIT $6",
            )
            .bind(j0)
            .bind(r)
            .bind(scope)
            .bind(cursor.0)
            .bind(cursor.1)
            .bind(limit)
            .fetch_all(&mut *self.conn)
            .await
            .op_for("walk upstream builds", || {
                format!("resource `{}`", self.inputs[i].resource)
            })?;
            let full = page.len() as i64 == limit;
            limit = (limit * 4).min(PAGE);
            for row in &page {
                let (b, v): (i64, i64) = (col(row, "build_id")?, col(row, "version_id")?);
                cursor = (b, v);
                if !hinted && rejected.contains(&v) {
                    continue;
                }
                let hint = hinted.then_some((j0, b));
                if self.try_version(k, v, hint, &rest).await? {
                    return Ok(true);
                }
                if !hinted {
                    if rejected.len() >= REJECTED_CAP {
                        rejected.clear();
                    }
                    rejected.insert(v);
                }
            }
            if !full {
                return Ok(false);
            }
        }
    }

    /// `version: every` with `passed`: versions that passed the first job and that no build of
    /// this job used, oldest first.
    async fn walk_every(&mut self, k: usize, branch: &[i64]) -> Result<bool> {
        let i = self.order[k];
        let (r, scope) = (self.inputs[i].resource_id, self.inputs[i].scope_id);
        let j0 = self.inputs[i].passed[0];
        let mut after = 0_i64;
        loop {
            let page = sqlx::query(
                "SELECT v.id, v.check_order FROM resource_versions v
                 WHERE v.scope_id = $1 AND v.disabled = 0 AND v.check_order > $2
                   AND EXISTS (SELECT 1 FROM successful_build_versions s
                               WHERE s.job_id = $3 AND s.resource_id = $4 AND s.version_id = v.id)
                   AND NOT EXISTS (SELECT 1 FROM build_inputs bi
                                   WHERE bi.job_id = $5 AND bi.version_id = v.id)
                 ORDER BY v.check_order LIMIT $6",
            )
            .bind(scope)
            .bind(after)
            .bind(j0)
            .bind(r)
            .bind(self.job_id)
            .bind(PAGE)
            .fetch_all(&mut *self.conn)
            .await
            .op_for("walk unused versions", || {
                format!("resource `{}`", self.inputs[i].resource)
            })?;
            let full = page.len() as i64 == PAGE;
            for row in &page {
                let v: i64 = col(row, "id")?;
                after = col(row, "check_order")?;
                if self.try_version(k, v, None, branch).await? {
                    return Ok(true);
                }
            }
            if !full {
                return Ok(false);
            }
        }
    }

    /// Whether version `v` for the input at position `k` fits: it is in the builds already
    /// chosen for its shared jobs, passed every other listed job, and the later inputs still resolve. `hint`
    /// is the upstream build `v` was found in, for a shared job.
    fn try_version<'a>(
        &'a mut self,
        k: usize,
        v: i64,
        hint: Option<(i64, i64)>,
        branch: &'a [i64],
    ) -> Fut<'a> {
        Box::pin(async move {
            let i = self.order[k];
            let r = self.inputs[i].resource_id;
            let fixed: Vec<(i64, i64)> = self.inputs[i]
                .passed
                .iter()
                .filter_map(|&j| self.build_of(j).map(|b| (j, b)))
                .collect();
            for &(j, b) in &fixed {
                if !self.in_build(j, r, b, v).await? {
                    return Ok(false);
                }
            }
            let hinted_job = hint.map(|(j, _)| j);
            for j in self.inputs[i].passed.clone() {
                let free = self.build_of(j).is_none();
                if free
                    && !branch.contains(&j)
                    && Some(j) != hinted_job
                    && !self.passed_any(j, r, v).await?
                {
                    return Ok(false);
                }
            }
            if let Some(h) = hint {
                self.builds.push(h);
            }
            let rest: Vec<i64> = branch
                .iter()
                .copied()
                .filter(|&j| Some(j) != hinted_job)
                .collect();
            let found = self.assign(k, v, rest, 0).await;
            if hint.is_some() {
                self.builds.pop();
            }
            found
        })
    }

    /// Chooses, newest first, a build containing `v` for each shared job in `rest[idx..]`, then
    /// resolves the later inputs.
    fn assign(&mut self, k: usize, v: i64, rest: Vec<i64>, idx: usize) -> Fut<'_> {
        Box::pin(async move {
            let i = self.order[k];
            let Some(&j) = rest.get(idx) else {
                self.chosen[i] = Some(v);
                if self.resolve_from(k + 1).await? {
                    return Ok(true);
                }
                self.chosen[i] = None;
                return Ok(false);
            };
            let r = self.inputs[i].resource_id;
            let mut before = i64::MAX;
            loop {
                let page = sqlx::query(
                    "SELECT build_id FROM successful_build_versions
                     WHERE job_id = $1 AND resource_id = $2 AND version_id = $3 AND build_id < $4
                     ORDER BY build_id DESC LIMIT $5",
                )
                .bind(j)
                .bind(r)
                .bind(v)
                .bind(before)
                .bind(PAGE)
                .fetch_all(&mut *self.conn)
                .await
                .op_for("walk upstream builds of a version", || {
                    format!("resource `{}`", self.inputs[i].resource)
                })?;
                let full = page.len() as i64 == PAGE;
                for row in &page {
                    let b: i64 = col(row, "build_id")?;
                    before = b;
                    self.builds.push((j, b));
                    let found = self.assign(k, v, rest.clone(), idx + 1).await;
                    self.builds.pop();
                    if found? {
                        return Ok(true);
                    }
                }
                if !full {
                    return Ok(false);
                }
            }
        })
    }

    /// A version for an input without `passed`.
    async fn unconstrained(&mut self, i: usize) -> Result<Option<i64>> {
        let input = &self.inputs[i];
        let (scope, resource) = (input.scope_id, input.resource.clone());
        let ctx = || format!("resource `{resource}`");
        if let Policy::Pinned(v) = input.policy {
            return Ok(Some(v));
        }
        if input.policy == Policy::Every {
            let row = sqlx::query(
                "SELECT v.id FROM resource_versions v
                 WHERE v.scope_id = $1 AND v.disabled = 0
                   AND NOT EXISTS (SELECT 1 FROM build_inputs bi
                                   WHERE bi.job_id = $2 AND bi.version_id = v.id)
                 ORDER BY v.check_order LIMIT 1",
            )
            .bind(scope)
            .bind(self.job_id)
            .fetch_optional(&mut *self.conn)
            .await
            .op_for("find the oldest unused version", ctx)?;
            if let Some(row) = row {
                return Ok(Some(col(&row, "id")?));
            }
        }
        if let Some(latest) = self.latest.get(&scope) {
            return Ok(*latest);
        }
        let latest = latest_of_scopes(&mut *self.conn, &[scope]).await?;
        Ok(latest.get(&scope).copied().flatten())
    }

    fn build_of(&self, job: i64) -> Option<i64> {
        self.builds
            .iter()
            .rev()
            .find(|(j, _)| *j == job)
            .map(|(_, b)| *b)
    }

    /// The inputs and outputs of succeeded build `b` of job `j` (cached; one query per build).
    async fn contents(&mut self, j: i64, b: i64) -> Result<&[Content]> {
        if !self.contents.contains_key(&(j, b)) {
            if self.contents.len() >= CONTENTS_CAP {
                self.contents.clear();
            }
            let rows = sqlx::query(
                "SELECT s.resource_id, s.version_id, v.scope_id, v.disabled
                 FROM successful_build_versions s
                 JOIN resource_versions v ON v.id = s.version_id
                 WHERE s.job_id = $1 AND s.build_id = $2",
            )
            .bind(j)
            .bind(b)
            .fetch_all(&mut *self.conn)
            .await
            .op_for("read an upstream build", || format!("build {b}"))?;
            let mut contents = Vec::with_capacity(rows.len());
            for row in &rows {
                contents.push(Content {
                    resource_id: col(row, "resource_id")?,
                    version_id: col(row, "version_id")?,
                    scope_id: col(row, "scope_id")?,
                    disabled: col::<i64>(row, "disabled")? != 0,
                });
            }
            self.contents.insert((j, b), contents);
        }
        Ok(&self.contents[&(j, b)])
    }

    /// The usable versions of resource `r` (history `scope`) in build `b` of job `j`, newest
    /// first.
    async fn versions_in_build(&mut self, j: i64, r: i64, b: i64, scope: i64) -> Result<Vec<i64>> {
        let mut versions: Vec<i64> = self
            .contents(j, b)
            .await?
            .iter()
            .filter(|c| c.resource_id == r && c.scope_id == scope && !c.disabled)
            .map(|c| c.version_id)
            .collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        Ok(versions)
    }

    async fn in_build(&mut self, j: i64, r: i64, b: i64, v: i64) -> Result<bool> {
        Ok(self
            .contents(j, b)
            .await?
            .iter()
            .any(|c| c.resource_id == r && c.version_id == v))
    }

    async fn passed_any(&mut self, j: i64, r: i64, v: i64) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM successful_build_versions
             WHERE job_id = $1 AND resource_id = $2 AND version_id = $3 LIMIT 1",
        )
        .bind(j)
        .bind(r)
        .bind(v)
        .fetch_optional(&mut *self.conn)
        .await
        .op_for("check an upstream job", || format!("job id {j}"))?;
        Ok(row.is_some())
    }

    async fn used_by_job(&mut self, v: i64) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM build_inputs WHERE job_id = $1 AND version_id = $2 LIMIT 1",
        )
        .bind(self.job_id)
        .bind(v)
        .fetch_optional(&mut *self.conn)
        .await
        .op_for("check used versions", || format!("job id {}", self.job_id))?;
        Ok(row.is_some())
    }
}

/// The newest non-disabled version of each history in `scopes`: one indexed seek per history,
/// one round trip per [`IN_LIST_CHUNK`] histories.
async fn latest_of_scopes(
    conn: &mut AnyConnection,
    scopes: &[i64],
) -> Result<HashMap<i64, Option<i64>>> {
    let mut unique = scopes.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut latest: HashMap<i64, Option<i64>> = unique.iter().map(|s| (*s, None)).collect();
    for chunk in unique.chunks(IN_LIST_CHUNK) {
        let sql = (1..=chunk.len())
            .map(|k| {
                format!(
                    "SELECT * FROM (SELECT id, scope_id FROM resource_versions \
                     WHERE scope_id = ${k} AND disabled = 0 \
                     ORDER BY check_order DESC LIMIT 1) AS q{k}"
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for scope in chunk {
            query = query.bind(*scope);
        }
        for row in query
            .fetch_all(&mut *conn)
            .await
            .op("find the latest versions")?
        {
            latest.insert(col(&row, "scope_id")?, Some(col(&row, "id")?));
        }
    }
    Ok(latest)
}

/// The version maps of `ids`, by id: one round trip per [`IN_LIST_CHUNK`] ids.
async fn versions_of_ids(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<HashMap<i64, lockgate_model::Version>> {
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut versions = HashMap::with_capacity(unique.len());
    for chunk in unique.chunks(IN_LIST_CHUNK) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "SELECT id, version FROM resource_versions WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query
            .fetch_all(&mut *conn)
            .await
            .op("read the resolved versions")?
        {
            versions.insert(
                col(&row, "id")?,
                parse_version(&col::<String>(&row, "version")?)?,
            );
        }
    }
    Ok(versions)
}
