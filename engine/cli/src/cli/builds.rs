//! `lockgate builds` and `lockgate trigger`: the newest builds, and queueing one.

use std::process::ExitCode;

use super::backend::{Backend, Result};
use lockgate_api::wire;

/// `lockgate builds [--job JOB] [--limit N] [--json]`: the newest `limit` builds, read in
/// pages.
pub(super) async fn builds(
    backend: &impl Backend,
    job: Option<&str>,
    limit: u32,
    json: bool,
) -> Result<ExitCode> {
    let mut builds: Vec<wire::Build> = Vec::new();
    let mut before = None;
    while (builds.len() as u32) < limit {
        let want = limit - builds.len() as u32;
        let page = backend.builds(job, want, before).await?;
        let got = page.builds.len();
        builds.extend(page.builds);
        match page.next_before {
            Some(b) if got > 0 => before = Some(b),
            _ => break,
        }
    }
    builds.truncate(limit as usize);
    print_builds(&builds, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints builds: one line per build, or a JSON array.
fn print_builds(builds: &[wire::Build], json: bool) -> Result<()> {
    if json {
        let list: Vec<serde_json::Value> = builds
            .iter()
            .map(|b| {
                serde_json::json!({
                    "id": b.id,
                    "job": b.job,
                    "number": b.number,
                    "status": b.status.as_str(),
                    "reason": b.reason,
                    "retry_of": b.retry_of,
                    "node": b.node,
                    "created_at": b.created_at,
                    "started_at": b.started_at,
                    "finished_at": b.finished_at,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    // Columns as wide as their longest entry: long job names do not push the next column.
    let width = |f: &dyn Fn(&wire::Build) -> usize| builds.iter().map(f).max().unwrap_or(0);
    let id_w = width(&|b| b.id.to_string().len());
    let job_w = width(&|b| b.job.chars().count());
    let number_w = width(&|b| b.number.to_string().len()) + 1;
    let status_w = width(&|b| b.status.as_str().len());
    for b in builds {
        println!(
            "{:>id_w$}  {:<job_w$}  {:<number_w$}  {:<status_w$}  {}",
            b.id,
            b.job,
            format!("#{}", b.number),
            b.status.as_str(),
            b.reason
        );
    }
    Ok(())
}

/// `lockgate trigger JOB`: queues a build with the newest inputs.
pub(super) async fn trigger(backend: &impl Backend, job: &str) -> Result<ExitCode> {
    let build = backend.trigger(job).await?;
    println!(
        "queued {} #{} (build {}); `lockgate run` or a running server executes it",
        build.job, build.number, build.id
    );
    Ok(ExitCode::SUCCESS)
}
