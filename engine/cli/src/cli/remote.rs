//! The commands of `lockgate --server URL …`: the local ones, answered by a running
//! `lockgate server` through its HTTP API ([`crate::client`]) and printed by the same printers
//! ([`super::pipeline`]), so they print the same text and JSON.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::pipeline::{self, BuildRef};
use super::{Cli, Command};
use crate::client::{BuildInfo, Client, ClientError, LogEvent};

/// How long `logs --follow` keeps reconnecting to a server that went away.
const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// Largest page the API serves.
const PAGE: u32 = 500;

/// Runs `cli.command` against the server at `url`.
pub async fn run(cli: &Cli, url: &str) -> anyhow::Result<ExitCode> {
    let client = Client::new(url, cli.token.as_deref())?;
    match &cli.command {
        Command::Status { json, .. } => {
            let statuses = client.environments().await?;
            let jobs = if *json {
                Vec::new()
            } else {
                client.jobs().await?
            };
            pipeline::print_status(&statuses, &jobs, *json)?;
        }
        Command::Builds {
            job, limit, json, ..
        } => {
            let builds = builds(&client, job.as_deref(), *limit).await?;
            pipeline::print_builds(&builds, *json)?;
        }
        Command::Logs { build, follow, .. } => logs(&client, build, *follow).await?,
        Command::Trigger { job, .. } => pipeline::print_queued(&client.trigger(job).await?),
        Command::Check { resource, .. } => {
            let new = client.check(resource).await?;
            let latest = client
                .resources()
                .await?
                .into_iter()
                .find(|r| &r.name == resource)
                .and_then(|r| r.latest);
            pipeline::print_checked(resource, new, latest.as_ref().map(|v| &v.version));
        }
        Command::Pin {
            resource, version, ..
        } => {
            let version = pipeline::parse_version(version)?;
            let pinned = client.pin(resource, &version).await?;
            pipeline::print_pinned(resource, Some(&pinned));
        }
        Command::Unpin { resource, .. } => {
            client.unpin(resource).await?;
            pipeline::print_pinned(resource, None);
        }
        Command::Disable {
            resource, version, ..
        }
        | Command::Enable {
            resource, version, ..
        } => {
            let disabled = matches!(cli.command, Command::Disable { .. });
            let version = pipeline::parse_version(version)?;
            client.set_disabled(resource, &version, disabled).await?;
            pipeline::print_disabled(resource, &version, disabled);
        }
        Command::Approve {
            environment,
            candidate,
            approver,
            comment,
            ..
        } => {
            if let Some(name) = approver {
                eprintln!(
                    "note: the server records the name of the token (--token / LOCKGATE_TOKEN) as the approver, not `{name}` (--as)"
                );
            }
            let a = client
                .approve(environment, *candidate, comment.as_deref())
                .await?;
            pipeline::print_approved(
                environment,
                a.candidate.id,
                &a.candidate.version_lines(),
                &a.approved_by,
                a.first_approval,
            );
        }
        Command::Rollback {
            environment, by, ..
        } => {
            if !cli.given_on_command_line(&["by"]).is_empty() {
                eprintln!(
                    "note: the server records the name of the token (--token / LOCKGATE_TOKEN) as who rolled back, not `{by}` (--as)"
                );
            }
            let r = client.rollback(environment).await?;
            pipeline::print_rollback(environment, r.candidate.id, &r.builds);
        }
        Command::Why {
            environment, json, ..
        } => pipeline::print_why(&client.why(environment).await?, *json)?,
        Command::Nodes { json, .. } => {
            let n = client.nodes().await?;
            pipeline::print_nodes(n.scheduler.as_deref(), &n.nodes, *json)?;
        }
        Command::Plugin(_)
        | Command::Validate(_)
        | Command::Run { .. }
        | Command::Server { .. } => {
            bail!(
                "`lockgate {}` cannot run against a server",
                cli.command.name()
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The newest `limit` builds (of `job`), in pages of at most [`PAGE`].
async fn builds(client: &Client, job: Option<&str>, limit: u32) -> anyhow::Result<Vec<BuildInfo>> {
    let mut out: Vec<BuildInfo> = Vec::new();
    let mut before = None;
    while (out.len() as u32) < limit {
        let want = (limit - out.len() as u32).min(PAGE);
        let page = client.builds(job, want, before).await?;
        let full = page.builds.len() as u32 == want;
        out.extend(page.builds);
        match page.next_before {
            Some(b) if full => before = Some(b),
            _ => break,
        }
    }
    Ok(out)
}

/// `lockgate logs BUILD [--follow]` against the server.
async fn logs(client: &Client, spec: &str, follow: bool) -> anyhow::Result<()> {
    let build = match BuildRef::parse(spec)? {
        BuildRef::Id(id) => client.build(id).await?,
        BuildRef::Number(job, number) => client.build_by_number(&job, number).await?,
    };
    if follow {
        return follow_logs(client, &build).await;
    }
    let mut after = 0;
    loop {
        let page = client.logs(build.id, after, PAGE).await?;
        if page.lines.is_empty() {
            return Ok(());
        }
        for l in &page.lines {
            pipeline::print_log_line(&l.stream, &l.text);
        }
        after = page.next_after;
    }
}

/// Prints the live log (the server's event stream) until the build ends, reconnecting from the
/// last line seen when the connection drops or the server restarts.
async fn follow_logs(client: &Client, build: &BuildInfo) -> anyhow::Result<()> {
    let mut after = 0;
    let mut last_contact = Instant::now();
    loop {
        match client.log_stream(build.id, after).await {
            Ok(mut stream) => {
                last_contact = Instant::now();
                loop {
                    match stream.next().await {
                        Ok(Some(LogEvent::Line(l))) => {
                            pipeline::print_log_line(&l.stream, &l.text);
                            after = l.seq;
                            last_contact = Instant::now();
                        }
                        Ok(Some(LogEvent::End(status))) => {
                            pipeline::print_log_end(&build.job, build.number, status);
                            return Ok(());
                        }
                        Ok(Some(LogEvent::Shutdown)) => {
                            eprintln!(
                                "lockgate: the server at {} is shutting down; reconnecting when it is back",
                                client.url()
                            );
                            break;
                        }
                        Ok(Some(LogEvent::Error(m))) => {
                            bail!(
                                "the server cannot stream the log of build {}: {m}",
                                build.id
                            )
                        }
                        // The connection dropped: reconnect from the last line.
                        Ok(None) | Err(ClientError::Read { .. }) => break,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e @ ClientError::Unreachable { .. }) => {
                if last_contact.elapsed() > RECONNECT_FOR {
                    return Err(e.into());
                }
            }
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_store::BuildStatus;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers one connection after another with the next event stream, then closes it;
    /// returns the server URL and, at the end, the request heads it received.
    async fn event_server(bodies: Vec<String>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut heads = Vec::new();
            for body in bodies {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap();
                heads.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{body}"
                );
                s.write_all(answer.as_bytes()).await.unwrap();
            }
            heads
        });
        (url, task)
    }

    fn line(seq: i64) -> String {
        format!(
            "event: log\nid: {seq}\ndata: {{\"seq\":{seq},\"step_id\":null,\"at\":0,\"stream\":\"stdout\",\"text\":\"line {seq}\"}}\n\n"
        )
    }

    #[tokio::test]
    async fn following_reconnects_from_the_last_line_when_the_stream_drops() {
        let (url, server) = event_server(vec![
            format!("{}{}", line(1), line(2)),
            "event: shutdown\ndata: {\"build_id\":7}\n\n".to_owned(),
            format!(
                "{}event: end\ndata: {{\"build_id\":7,\"status\":\"succeeded\"}}\n\n",
                line(3)
            ),
        ])
        .await;
        let client = Client::new(&url, Some("secret-token")).unwrap();
        let build = BuildInfo {
            id: 7,
            job: "deploy".into(),
            number: 2,
            status: BuildStatus::Started,
            reason: "trigger".into(),
            retry_of: None,
            node: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
        };
        follow_logs(&client, &build).await.unwrap();
        let heads = server.await.unwrap();
        assert_eq!(heads.len(), 3);
        assert!(
            heads[0].starts_with("GET /api/v1/builds/7/logs/stream?after=0 "),
            "{}",
            heads[0]
        );
        assert!(!heads[0].to_ascii_lowercase().contains("last-event-id"));
        for head in &heads[1..] {
            let head = head.to_ascii_lowercase();
            assert!(
                head.starts_with("get /api/v1/builds/7/logs/stream?after=2 "),
                "{head}"
            );
            assert!(head.contains("\r\nlast-event-id: 2\r\n"), "{head}");
            assert!(
                head.contains("\r\nauthorization: bearer secret-token\r\n"),
                "{head}"
            );
        }
    }
}
