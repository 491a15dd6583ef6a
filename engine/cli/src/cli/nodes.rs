//! `lockgate nodes`: the engine nodes serving the pipeline's store and the scheduler.

use std::process::ExitCode;

use super::backend::{Backend, Result};

/// `lockgate nodes [--json]`: the scheduler lease's holder and each node.
pub(super) async fn nodes(backend: &impl Backend, json: bool) -> Result<ExitCode> {
    let n = backend.nodes().await?;
    if json {
        let out = serde_json::json!({
            "scheduler": n.scheduler,
            "nodes": n.nodes,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    match &n.scheduler {
        Some(holder) => println!("scheduler  {holder}"),
        None => println!("scheduler  none (no server holds the lease)"),
    }
    if n.nodes.is_empty() {
        println!("no server nodes");
    }
    let now = lockgate_store::now_ms();
    for node in &n.nodes {
        println!(
            "{:32} {:9} {}/{} builds  heartbeat {:.1} s ago",
            node.name,
            node.role,
            node.running,
            node.capacity,
            (now - node.heartbeat_at) as f64 / 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
