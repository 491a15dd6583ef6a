//! Build steps, build logs (with retention) and test reports.

use sqlx::any::AnyRow;

use lockgate_model::TestReport;

use super::error::DbContext;
use super::{
    LogEntry, NewLogLine, Result, Step, StepStatus, Store, StoreError, StoredTestReport, col, flag,
    now_ms,
};

const STEP_COLUMNS: &str = "id, build_id, path, kind, name, status, started_at, finished_at, error";

impl Store {
    /// Marks the step at `path` of build `build_id` running (creating it; a retried attempt
    /// restarts the same row) and returns it. Refused (`BuildNotRunning`) unless the build is
    /// started.
    pub async fn begin_step(
        &self,
        build_id: i64,
        path: &str,
        kind: &str,
        name: &str,
    ) -> Result<Step> {
        let ctx = || format!("build {build_id}, step `{path}`");
        // Only in a started build: once a build was declared interrupted (its node's claim
        // taken over), its node starts no further step.
        let row = sqlx::query(
            "INSERT INTO build_steps (build_id, path, kind, name, status, started_at)
             SELECT $1, $2, $3, $4, 'running', $5
             WHERE EXISTS (SELECT 1 FROM builds WHERE id = $1 AND status = 'started')
             ON CONFLICT (build_id, path) DO UPDATE SET
                kind = excluded.kind, name = excluded.name, status = 'running',
                started_at = excluded.started_at, finished_at = NULL, error = NULL
             RETURNING id",
        )
        .bind(build_id)
        .bind(path)
        .bind(kind)
        .bind(name)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .op_for("begin step", ctx)?;
        let Some(row) = row else {
            let build = self.build(build_id).await?;
            return Err(StoreError::BuildNotRunning {
                build: build_id,
                status: build.status,
                op: "begin step",
            });
        };
        self.step(col(&row, "id")?).await
    }

    /// Finishes step `step_id` with `status` and, for failures, an error text.
    pub async fn finish_step(
        &self,
        step_id: i64,
        status: StepStatus,
        error: Option<&str>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE build_steps SET status = $2, finished_at = $3, error = $4 WHERE id = $1",
        )
        .bind(step_id)
        .bind(status.as_str())
        .bind(now_ms())
        .bind(error)
        .execute(&self.pool)
        .await
        .op_for("finish step", || format!("step {step_id}"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownStep(step_id));
        }
        Ok(())
    }

    /// Step `step_id`.
    pub async fn step(&self, step_id: i64) -> Result<Step> {
        let sql = format!("SELECT {STEP_COLUMNS} FROM build_steps WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(step_id)
            .fetch_optional(&self.pool)
            .await
            .op_for("read step", || format!("step {step_id}"))?
            .ok_or(StoreError::UnknownStep(step_id))?;
        step_from_row(&row)
    }

    /// The steps of build `build_id`, in the order they began.
    pub async fn steps(&self, build_id: i64) -> Result<Vec<Step>> {
        let sql = format!("SELECT {STEP_COLUMNS} FROM build_steps WHERE build_id = $1 ORDER BY id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(build_id)
            .fetch_all(&self.pool)
            .await
            .op_for("list steps", || format!("build {build_id}"))?
            .iter()
            .map(step_from_row)
            .collect()
    }

    /// Appends `lines` to the log of build `build_id` (from step `step_id`, if any) in one
    /// transaction, numbering them after the build's last line. Returns the last sequence
    /// number (the previous one when `lines` is empty).
    pub async fn append_logs(
        &self,
        build_id: i64,
        step_id: Option<i64>,
        lines: &[NewLogLine],
    ) -> Result<i64> {
        let ctx = || format!("build {build_id}");
        let mut tx = self.write_tx().await.op_for("begin appending logs", ctx)?;
        let count = i64::try_from(lines.len()).expect("a slice length fits in i64");
        let last: i64 = col(
            &sqlx::query(
                "UPDATE builds SET log_seq = log_seq + $2 WHERE id = $1 RETURNING log_seq",
            )
            .bind(build_id)
            .bind(count)
            .fetch_optional(&mut *tx)
            .await
            .op_for("number log lines", ctx)?
            .ok_or_else(|| StoreError::UnknownBuild(build_id.to_string()))?,
            "log_seq",
        )?;
        for (seq, line) in (last - count + 1..).zip(lines) {
            sqlx::query(
                "INSERT INTO build_logs (build_id, seq, step_id, at, stream, text)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(build_id)
            .bind(seq)
            .bind(step_id)
            .bind(line.at)
            .bind(&line.stream)
            .bind(&line.text)
            .execute(&mut *tx)
            .await
            .op_for("append log line", ctx)?;
        }
        tx.commit().await.op_for("commit log lines", ctx)?;
        Ok(last)
    }

    /// Up to `limit` log lines of build `build_id` with a sequence number above `after_seq`, in
    /// order (0 reads from the start; `logs --follow` passes the last number it printed).
    pub async fn logs(&self, build_id: i64, after_seq: i64, limit: u32) -> Result<Vec<LogEntry>> {
        sqlx::query(
            "SELECT build_id, seq, step_id, at, stream, text FROM build_logs
             WHERE build_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(build_id)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .op_for("read logs", || format!("build {build_id}"))?
        .iter()
        .map(|row| {
            Ok(LogEntry {
                build_id: col(row, "build_id")?,
                seq: col(row, "seq")?,
                step_id: col(row, "step_id")?,
                at: col(row, "at")?,
                stream: col(row, "stream")?,
                text: col(row, "text")?,
            })
        })
        .collect()
    }

    /// Log retention: deletes the log lines of every finished build that is not among the
    /// `keep_builds_per_job` newest builds of its job (steps and test reports are kept).
    /// Returns the number of lines deleted.
    pub async fn prune_logs(&self, keep_builds_per_job: u32) -> Result<u64> {
        let op = "prune logs";
        let mut tx = self.write_tx().await.op(op)?;
        const PRUNABLE: &str = "SELECT id FROM (
                SELECT id, status, logs_pruned,
                       ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY number DESC) AS rn
                FROM builds
            ) ranked
            WHERE rn > $1 AND logs_pruned = 0 AND status NOT IN ('pending', 'started')";
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM build_logs WHERE build_id IN ({PRUNABLE})"
        )))
        .bind(i64::from(keep_builds_per_job))
        .execute(&mut *tx)
        .await
        .op(op)?
        .rows_affected();
        // Only builds whose logs are really gone are marked, whatever ran concurrently.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE builds SET logs_pruned = 1 WHERE id IN ({PRUNABLE})
             AND NOT EXISTS (SELECT 1 FROM build_logs l WHERE l.build_id = builds.id)"
        )))
        .bind(i64::from(keep_builds_per_job))
        .execute(&mut *tx)
        .await
        .op(op)?;
        tx.commit().await.op(op)?;
        Ok(deleted)
    }

    /// Stores the report of test step `step_id` (once: `Ok(false)` if it already had one).
    pub async fn save_test_report(&self, step_id: i64, report: &TestReport) -> Result<bool> {
        let ctx = || format!("step {step_id}");
        let json = serde_json::to_string(report).map_err(|e| StoreError::Corrupt {
            what: "test report",
            detail: e.to_string(),
        })?;
        let step = self.step(step_id).await?;
        let done = sqlx::query(
            "INSERT INTO test_reports (step_id, build_id, report, passed, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (step_id) DO NOTHING",
        )
        .bind(step_id)
        .bind(step.build_id)
        .bind(&json)
        .bind(i64::from(report.passed()))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .op_for("save test report", ctx)?;
        Ok(done.rows_affected() == 1)
    }

    /// The test reports of build `build_id`, by step.
    pub async fn test_reports(&self, build_id: i64) -> Result<Vec<StoredTestReport>> {
        sqlx::query(
            "SELECT step_id, build_id, report, passed, created_at FROM test_reports
             WHERE build_id = $1 ORDER BY step_id",
        )
        .bind(build_id)
        .fetch_all(&self.pool)
        .await
        .op_for("read test reports", || format!("build {build_id}"))?
        .iter()
        .map(report_from_row)
        .collect()
    }
}

fn report_from_row(row: &AnyRow) -> Result<StoredTestReport> {
    let json: String = col(row, "report")?;
    Ok(StoredTestReport {
        step_id: col(row, "step_id")?,
        build_id: col(row, "build_id")?,
        report: serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            what: "test report",
            detail: e.to_string(),
        })?,
        passed: flag(row, "passed")?,
        created_at: col(row, "created_at")?,
    })
}

fn step_from_row(row: &AnyRow) -> Result<Step> {
    let status: String = col(row, "status")?;
    Ok(Step {
        id: col(row, "id")?,
        build_id: col(row, "build_id")?,
        path: col(row, "path")?,
        kind: col(row, "kind")?,
        name: col(row, "name")?,
        status: status
            .parse()
            .map_err(|e: lockgate_model::ParseNameError| StoreError::Corrupt {
                what: "step status",
                detail: e.to_string(),
            })?,
        started_at: col(row, "started_at")?,
        finished_at: col(row, "finished_at")?,
        error: col(row, "error")?,
    })
}
