//! `wasi:http/outgoing-handler` in the sandbox: a plugin (the `http-client` fixture, a GET
//! through wasi:http rather than wasi:sockets) reaches a local HTTP server only under a network
//! grant for its `host:port`, and every refusal is logged for the operator.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::load;
use lockgate::plugin_host::{
    CaseStatus, Grants, Invocation, InvokeError, Limits, LogSource, MemorySink, NetworkGrant,
    TestReport,
};
use lockgate_test_artifacts as artifacts;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const BODY: &str = "lockgate wasi-http fixture body\n";

/// A local HTTP/1.1 server: `GET /missing` answers 404, anything else 200 with [`BODY`].
/// Every request head it receives is kept, in order.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let (status, body) = if head.starts_with("GET /missing ") {
                        ("404 Not Found", "no such page\n")
                    } else {
                        ("200 OK", BODY)
                    };
                    seen.lock().unwrap().push(head);
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(response.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        Self {
            port,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn grant(s: &str) -> NetworkGrant {
    s.parse().unwrap()
}

/// Runs the fixture's GET of `url` with `grants`; returns the report and the log.
async fn get(url: &str, grants: Grants) -> (TestReport, MemorySink) {
    let sink = MemorySink::new();
    let inv = Invocation::new(grants).log(Arc::new(sink.clone()));
    let report = load(artifacts::HTTP_CLIENT)
        .await
        .run(&inv, &json!({ "url": url }))
        .await
        .unwrap_or_else(|e| panic!("running the http-client fixture: {e}"));
    (report, sink)
}

/// The one case of the fixture's report: its status and message.
fn case(report: &TestReport) -> (CaseStatus, String) {
    let cases: Vec<_> = report.cases().collect();
    assert_eq!(cases.len(), 1, "one case expected: {report:?}");
    (
        cases[0].status,
        cases[0].message.clone().unwrap_or_default(),
    )
}

fn engine_notices(sink: &MemorySink) -> Vec<String> {
    sink.lines()
        .into_iter()
        .filter(|l| l.source == LogSource::Engine)
        .map(|l| l.message)
        .collect()
}

/// Asserts the request was refused by the host: a failed report naming the wasi:http error,
/// the notice in the log, and nothing reached the server.
fn assert_refused(report: &TestReport, sink: &MemorySink, server: &Server, target: &str) {
    assert!(!report.passed(), "the request must be refused: {report:?}");
    let (status, message) = case(report);
    assert_eq!(status, CaseStatus::Failed);
    assert_eq!(message, "request failed: ErrorCode::HttpRequestDenied");
    let notice =
        format!("network: refused to let the plugin send an HTTP request to {target}: not granted");
    assert!(
        engine_notices(sink).contains(&notice),
        "the log should hold `{notice}`: {:?}",
        sink.lines()
    );
    assert_eq!(
        server.requests(),
        Vec::<String>::new(),
        "nothing may reach the server"
    );
}

#[tokio::test]
async fn a_granted_address_is_reachable_through_wasi_http() {
    let server = Server::start().await;
    let port = server.port;
    let url = format!("http://127.0.0.1:{port}/hello?x=1");
    let (report, sink) = get(
        &url,
        Grants::none().network(grant(&format!("127.0.0.1:{port}"))),
    )
    .await;

    assert!(report.passed(), "{report:?} / log {:?}", sink.lines());
    assert_eq!(report.suites[0].name, "http-client");
    assert_eq!(report.suites[0].cases[0].name, format!("GET {url}"));
    assert_eq!(
        case(&report),
        (CaseStatus::Passed, format!("status 200: {BODY}"))
    );
    assert!(engine_notices(&sink).is_empty(), "{:?}", sink.lines());

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /hello?x=1 HTTP/1.1\r\n"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
        "{}",
        requests[0]
    );

    // The status reaches the plugin as it is.
    let (report, _) = get(
        &format!("http://127.0.0.1:{port}/missing"),
        Grants::none().network(grant(&format!("127.0.0.1:{port}"))),
    )
    .await;
    assert_eq!(
        case(&report),
        (CaseStatus::Failed, "status 404: no such page\n".into())
    );
}

#[tokio::test]
async fn without_a_grant_there_is_no_http_at_all() {
    let server = Server::start().await;
    let port = server.port;
    let (report, sink) = get(&format!("http://127.0.0.1:{port}/"), Grants::none()).await;
    assert_refused(&report, &sink, &server, &format!("127.0.0.1:{port}"));
}

#[tokio::test]
async fn a_grant_for_another_port_or_host_does_not_open_this_one() {
    let server = Server::start().await;
    let other = Server::start().await;
    let port = server.port;
    let grants = Grants::none().network(grant(&format!("127.0.0.1:{}", other.port)));

    let (report, sink) = get(&format!("http://127.0.0.1:{port}/"), grants.clone()).await;
    assert_refused(&report, &sink, &server, &format!("127.0.0.1:{port}"));

    // No port in the URL means 80 for http, which is not granted either.
    let (report, sink) = get("http://127.0.0.1/", grants.clone()).await;
    assert_refused(&report, &sink, &server, "127.0.0.1:80");

    // A grant of the address does not grant a name, even one that resolves to it: the sender
    // would resolve the name again when it connects.
    let grants = Grants::none().network(grant(&format!("127.0.0.1:{port}")));
    let (report, sink) = get(&format!("http://localhost:{port}/"), grants).await;
    assert_refused(&report, &sink, &server, &format!("localhost:{port}"));
    assert_eq!(other.requests(), Vec::<String>::new());
}

#[tokio::test]
async fn a_grant_by_host_name_allows_that_name_and_its_addresses() {
    let server = Server::start().await;
    let port = server.port;
    let grants = Grants::none().network(grant(&format!("localhost:{port}")));

    let (report, sink) = get(&format!("http://localhost:{port}/"), grants.clone()).await;
    assert_eq!(
        case(&report),
        (CaseStatus::Passed, format!("status 200: {BODY}")),
        "log {:?}",
        sink.lines()
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains(&format!("\r\nhost: localhost:{port}\r\n")),
        "{}",
        requests[0]
    );

    // An address the granted name resolved to is reachable too, as over TCP.
    let (report, _) = get(&format!("http://127.0.0.1:{port}/"), grants).await;
    assert_eq!(
        case(&report),
        (CaseStatus::Passed, format!("status 200: {BODY}"))
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_that_never_answers_cannot_outlast_the_deadline() {
    // Accepts and reads, never answers (the crate's own first-byte timeout is 10 minutes).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            open.push(conn);
        }
    });
    let inv = Invocation::new(Grants::none().network(grant(&format!("127.0.0.1:{port}"))))
        .limits(Limits::default().with_deadline(Duration::from_secs(1)));
    let started = Instant::now();
    let result = load(artifacts::HTTP_CLIENT)
        .await
        .run(&inv, &json!({ "url": format!("http://127.0.0.1:{port}/") }))
        .await;
    let took = started.elapsed();
    silent.abort();
    assert!(took < Duration::from_secs(3), "took {took:?}: {result:?}");
    match result {
        Err(InvokeError::Deadline { limit, .. }) => assert_eq!(limit, Duration::from_secs(1)),
        other => panic!("expected the 1 s deadline to end the run, got {other:?}"),
    }
}
