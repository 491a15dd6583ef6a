//! The [`Backend`] of a running `lockgate server`: its HTTP API through the typed client
//! ([`crate::client`]), which reads the same wire types the server answers with.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::backend::{Backend, Result};
use super::logs::BuildRef;
use crate::client::{Client, ClientError, LogEvent};
use lockgate_api::wire::{self, BuildStatus, Version};

/// How long `logs --follow` keeps reconnecting to a server that went away.
const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// Largest page the API serves.
const PAGE: u32 = 500;

/// A server's API.
pub(crate) struct Remote {
    client: Client,
}

impl Remote {
    /// The server at `url`, called with `token`.
    pub(crate) fn new(url: &str, token: Option<&str>, ca_files: &[PathBuf]) -> Result<Self> {
        Ok(Self {
            client: Client::with_ca_certificates(url, token, ca_files)?,
        })
    }
}

impl Backend for Remote {
    async fn environments(&self) -> Result<Vec<wire::EnvironmentStatus>> {
        Ok(self.client.environments().await?)
    }

    async fn why(&self, environment: &str) -> Result<wire::EnvironmentStatus> {
        Ok(self.client.why(environment).await?)
    }

    async fn jobs(&self) -> Result<Vec<wire::JobSummary>> {
        Ok(self.client.jobs().await?)
    }

    async fn builds(
        &self,
        job: Option<&str>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<wire::BuildPage> {
        Ok(self
            .client
            .builds(job, Some(limit.min(PAGE)), before)
            .await?)
    }

    async fn build(&self, build: &BuildRef) -> Result<wire::Build> {
        Ok(match build {
            BuildRef::Id(id) => self.client.build(*id).await?.build,
            BuildRef::Number(job, number) => self.client.build_by_number(job, *number).await?,
        })
    }

    async fn logs(&self, id: i64, after: i64) -> Result<wire::LogPage> {
        Ok(self.client.logs(id, after, Some(PAGE)).await?)
    }

    /// Follows the server's event stream until the build ends, reconnecting from the last
    /// line seen (`Last-Event-ID`) when the connection drops or the server restarts.
    async fn follow(
        &self,
        build: &wire::Build,
        line: &mut dyn FnMut(&wire::LogLine),
    ) -> Result<BuildStatus> {
        let client = &self.client;
        let mut after = 0;
        let mut last_contact = Instant::now();
        loop {
            match client.log_stream(build.id, after).await {
                Ok(mut stream) => {
                    last_contact = Instant::now();
                    loop {
                        match stream.next().await {
                            Ok(Some(LogEvent::Line(l))) => {
                                line(&l);
                                after = l.seq;
                                last_contact = Instant::now();
                            }
                            Ok(Some(LogEvent::End(status))) => return Ok(status),
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

    async fn resources(&self) -> Result<Vec<wire::ResourceSummary>> {
        Ok(self.client.resources().await?)
    }

    async fn check(&self, resource: &str) -> Result<wire::CheckAnswer> {
        Ok(self.client.check(resource).await?)
    }

    async fn pin(&self, resource: &str, version: &Version) -> Result<wire::PinAnswer> {
        Ok(self.client.pin(resource, version).await?)
    }

    async fn unpin(&self, resource: &str) -> Result<wire::PinAnswer> {
        Ok(self.client.unpin(resource).await?)
    }

    async fn set_disabled(
        &self,
        resource: &str,
        version: &Version,
        disabled: bool,
    ) -> Result<wire::DisabledAnswer> {
        Ok(self
            .client
            .set_disabled(resource, version, disabled)
            .await?)
    }

    async fn trigger(&self, job: &str) -> Result<wire::Build> {
        Ok(self.client.trigger(job).await?)
    }

    async fn approve(
        &self,
        environment: &str,
        body: &wire::ApproveBody,
        approver: Option<&str>,
    ) -> Result<wire::ApproveAnswer> {
        if let Some(name) = approver {
            eprintln!(
                "note: the server records the name of the token (--token / LOCKGATE_TOKEN) as the approver, not `{name}` (--as)"
            );
        }
        Ok(self.client.approve(environment, body).await?)
    }

    async fn rollback(&self, environment: &str, by: Option<&str>) -> Result<wire::RollbackAnswer> {
        if let Some(by) = by {
            eprintln!(
                "note: the server records the name of the token (--token / LOCKGATE_TOKEN) as who rolled back, not `{by}` (--as)"
            );
        }
        Ok(self.client.rollback(environment).await?)
    }

    async fn nodes(&self) -> Result<wire::Nodes> {
        Ok(self.client.nodes().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let remote = Remote::new(&url, Some("secret-token"), &[]).unwrap();
        let build = wire::Build {
            id: 7,
            job: "deploy".into(),
            number: 2,
            status: BuildStatus::Started,
            finished: false,
            reason: "trigger".into(),
            retry_of: None,
            node: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
        };
        let mut seen = Vec::new();
        let status = remote
            .follow(&build, &mut |l| seen.push(l.seq))
            .await
            .unwrap();
        assert_eq!(status, BuildStatus::Succeeded);
        assert_eq!(seen, [1, 2, 3]);
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
