//! `lockgate approve` and `lockgate rollback`: letting a candidate into an environment, and
//! re-deploying the previous one.

use std::process::ExitCode;

use super::backend::{Backend, Result};
use lockgate_api::wire;

/// `lockgate approve ENVIRONMENT [CANDIDATE] [--as NAME] [--comment TEXT]`.
pub(super) async fn approve(
    backend: &impl Backend,
    environment: &str,
    candidate: Option<i64>,
    approver: Option<&str>,
    comment: Option<&str>,
) -> Result<ExitCode> {
    let body = wire::ApproveBody {
        candidate,
        comment: comment.map(str::to_owned),
    };
    let a = backend.approve(environment, &body, approver).await?;
    let id = a.candidate.id;
    if a.first_approval {
        println!(
            "approved candidate #{id} for `{environment}` as {}: {}",
            a.approved_by,
            a.candidate.version_lines().join(", ")
        );
    } else {
        println!("candidate #{id} was already approved for `{environment}`");
    }
    Ok(ExitCode::SUCCESS)
}

/// `lockgate rollback ENVIRONMENT [--as NAME]`.
pub(super) async fn rollback(
    backend: &impl Backend,
    environment: &str,
    by: Option<&str>,
) -> Result<ExitCode> {
    let r = backend.rollback(environment, by).await?;
    println!(
        "rolling `{environment}` back to candidate #{}:",
        r.candidate.id
    );
    for b in &r.builds {
        println!("  queued {} #{} (build {})", b.job, b.number, b.id);
    }
    println!("`lockgate run` or a running server executes the builds");
    Ok(ExitCode::SUCCESS)
}
