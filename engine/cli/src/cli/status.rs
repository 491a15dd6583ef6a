//! `lockgate status` and `lockgate why`: where each environment stands, what holds its next
//! candidate back, and the last build of every job.

use std::process::ExitCode;

use super::backend::{Backend, Result};
use lockgate_api::wire;

/// Prints where an environment stands (`status`, `why`, `run`).
pub(super) fn print_environment(status: &wire::EnvironmentStatus) {
    println!("{}", status.environment);
    match &status.current {
        Some(c) => println!(
            "  runs       candidate #{}: {}",
            c.id,
            crate::terminal::safe(&c.versions.join(", "))
        ),
        None => println!("  runs       nothing yet"),
    }
    if let Some(q) = &status.qualified {
        println!(
            "  qualified  candidate #{}: {}",
            q.id,
            crate::terminal::safe(&q.versions.join(", "))
        );
    }
    if let Some(n) = &status.next {
        println!(
            "  next       candidate #{}: {}",
            n.id,
            crate::terminal::safe(&n.versions.join(", "))
        );
    }
    for b in &status.blockers {
        // Indented lines detail the line above them (the gate jobs of an unqualified change).
        // Failing test cases are on lines of their own inside one blocker.
        for (i, line) in b.split('\n').enumerate() {
            let line = crate::terminal::safe(line);
            match (i, line.strip_prefix("  ")) {
                (0, Some(detail)) => println!("             {detail}"),
                (0, None) => println!("  blocked    {line}"),
                (_, _) => println!("             {line}"),
            }
        }
    }
}

/// `lockgate status [--json]`: the environments (only them, as JSON, with `--json`), then
/// each job's last build.
pub(super) async fn status(backend: &impl Backend, json: bool) -> Result<ExitCode> {
    let statuses = backend.environments().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
        return Ok(ExitCode::SUCCESS);
    }
    let jobs = backend.jobs().await?;
    for s in &statuses {
        print_environment(s);
    }
    let shared: Vec<String> = backend
        .resources()
        .await?
        .into_iter()
        .filter(|r| r.role == wire::ResourceRole::Shared)
        .map(|r| r.name)
        .collect();
    if !shared.is_empty() {
        println!();
        println!(
            "shared by every environment, not promoted: {}",
            shared.join(", ")
        );
    }
    println!();
    println!("jobs");
    // Columns as wide as their longest entry: long names do not push the next column.
    let name_w = jobs
        .iter()
        .map(|j| j.name.chars().count())
        .max()
        .unwrap_or(0);
    let env_w = jobs
        .iter()
        .map(|j| j.environment.chars().count())
        .max()
        .unwrap_or(0);
    for job in &jobs {
        let state = job.last_build.as_ref().map_or("no builds".to_owned(), |b| {
            format!("#{} {}", b.number, b.status)
        });
        println!(
            "  {:<name_w$}  {:<env_w$}  {state}",
            job.name, job.environment
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `lockgate why ENVIRONMENT [--json]`: where it stands and what blocks its next candidate.
pub(super) async fn why(backend: &impl Backend, environment: &str, json: bool) -> Result<ExitCode> {
    let status = backend.why(environment).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_environment(&status);
        if status.blockers.is_empty() {
            match &status.upstream {
                Some(upstream) => println!(
                    "  nothing waits: its jobs have taken the newest candidate qualified in `{upstream}`, and nothing newer is in progress there"
                ),
                None => println!(
                    "  nothing waits: `{}` is the first environment; its newest change qualified, and new versions of its resources enter as checks find them",
                    status.environment
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
