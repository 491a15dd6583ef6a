//! The SDK's HTTP client (`lockgate_sdk::http`) through the real host's `wasi:http`: the
//! `sdk-http` fixture sends one request as its `config` says, against local HTTP/1.1 servers
//! each test starts. Methods, headers and bodies; chunked responses; redirects (relative,
//! absolute, 303 and 307, loops, `Authorization` across origins, a target that is not
//! granted); the deadline of the whole exchange against servers that never answer or drip;
//! the body cap; refusals of ungranted hosts; `https://` to a plain-HTTP server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{load, plugin_failure};
use crate::test_server::{Received, Reply, Server};
use lockgate::plugin_host::{CaseStatus, Grants, Invocation, LogSource, MemorySink, PluginFailure};
use lockgate_test_artifacts as artifacts;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// An echo of the request: `METHOD target body`, and `authorization: <value or none>` for
/// `/auth`.
fn echo(r: &Received) -> Reply {
    if r.target.starts_with("/auth") {
        let auth = r.header("authorization").unwrap_or("none");
        return Reply::text(200, &format!("authorization: {auth}"));
    }
    Reply::text(200, &format!("{} {} {}", r.method, r.target, r.body))
}

/// What the fixture reported: the case's status and message, and the log.
struct Outcome {
    status: CaseStatus,
    message: String,
    log: MemorySink,
}

impl Outcome {
    fn engine_notices(&self) -> Vec<String> {
        self.log
            .lines()
            .into_iter()
            .filter(|l| l.source == LogSource::Engine)
            .map(|l| l.message)
            .collect()
    }
}

/// Runs the fixture with `config` (merged into `{"url": url}`) and `grants`.
async fn send(url: &str, config: Value, grants: Grants) -> Outcome {
    let mut full = json!({ "url": url });
    for (k, v) in config.as_object().cloned().unwrap_or_default() {
        full[k] = v;
    }
    let log = MemorySink::new();
    let inv = Invocation::new(grants).log(Arc::new(log.clone()));
    let report = load(artifacts::SDK_HTTP)
        .await
        .run(&inv, &full)
        .await
        .unwrap_or_else(|e| panic!("running the sdk-http fixture with {full}: {e}"));
    let cases: Vec<_> = report.cases().collect();
    assert_eq!(cases.len(), 1, "one case expected: {report:?}");
    Outcome {
        status: cases[0].status,
        message: cases[0].message.clone().unwrap_or_default(),
        log,
    }
}

fn granted(servers: &[&Server]) -> Grants {
    servers
        .iter()
        .fold(Grants::none(), |g, s| g.network(s.grant()))
}

// ---------------------------------------------------------------- requests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_headers_and_bodies_reach_the_server() {
    let server = Server::start_with_port(|r, _| {
        if r.target == "/missing" {
            Reply::text(404, "no such page")
        } else {
            echo(r)
        }
    })
    .await;
    let grants = || granted(&[&server]);

    // GET with headers; the ones wasi:http forbids (and Content-Length) are skipped, not a trap.
    let o = send(
        &server.url("/echo?x=1"),
        json!({"headers": [["X-Trace", "abc"], ["Host", "evil.example"], ["Connection", "upgrade"],
                           ["Transfer-Encoding", "chunked"], ["Content-Length", "99"], ["Keep-Alive", "1"]]}),
        grants(),
    )
    .await;
    assert_eq!(
        (o.status, o.message.as_str()),
        (
            CaseStatus::Passed,
            format!(
                "status 200 from {}: GET /echo?x=1 ",
                server.url("/echo?x=1")
            )
            .as_str()
        ),
        "log {:?}",
        o.log.lines()
    );
    let r = &server.requests()[0];
    assert_eq!(r.header("x-trace"), Some("abc"));
    assert_eq!(r.header("host"), Some(server.addr().as_str()));
    assert_eq!(r.header("user-agent"), Some("lockgate-sdk"));
    assert_eq!(r.header("content-length"), None, "{r:?}");
    assert_eq!(r.header("transfer-encoding"), None, "{r:?}");
    assert_ne!(r.header("connection"), Some("upgrade"), "{r:?}");
    assert_eq!(r.header("keep-alive"), None, "{r:?}");

    // POST with a body, sent with its length.
    let o = send(
        &server.url("/echo"),
        json!({"method": "POST", "body": "payload", "headers": [["Content-Type", "text/plain"]]}),
        grants(),
    )
    .await;
    assert_eq!(o.status, CaseStatus::Passed, "{}", o.message);
    assert!(o.message.ends_with(": POST /echo payload"), "{}", o.message);
    let r = &server.requests()[1];
    assert_eq!(
        (r.header("content-length"), r.header("content-type")),
        (Some("7"), Some("text/plain"))
    );

    // A body far larger than one write (4 KiB) or the stream's buffer arrives whole.
    let big = "0123456789abcdef".repeat(16 * 1024);
    let o = send(
        &server.url("/echo"),
        json!({"method": "PUT", "body": big}),
        grants(),
    )
    .await;
    assert_eq!(o.status, CaseStatus::Passed);
    let r = &server.requests()[2];
    assert_eq!(r.method, "PUT");
    assert_eq!(r.header("content-length"), Some("262144"));
    assert!(
        r.body == big,
        "the body arrived with {} bytes",
        r.body.len()
    );

    // Any method; a non-2xx status is returned as it is.
    let o = send(&server.url("/echo"), json!({"method": "delete"}), grants()).await;
    assert!(o.message.ends_with(": DELETE /echo "), "{}", o.message);
    let o = send(&server.url("/missing"), json!({}), grants()).await;
    assert_eq!(
        (o.status, o.message),
        (
            CaseStatus::Failed,
            format!("status 404 from {}: no such page", server.url("/missing"))
        )
    );

    // A URL the SDK refuses is the step's invalid config.
    let err = load(artifacts::SDK_HTTP)
        .await
        .run(
            &Invocation::new(grants()),
            &json!({"url": "ftp://127.0.0.1/"}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(err), PluginFailure::InvalidConfig(m) if m.contains("only `http://` and `https://`"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_response_is_read_whole() {
    let body = "lockgate chunked body, ".repeat(40);
    let expected = body.clone();
    let server = Server::start_with_port(move |_, _| Reply::Answer {
        status: 200,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: expected.as_bytes().to_vec(),
        chunked: true,
    })
    .await;
    let o = send(&server.url("/"), json!({}), granted(&[&server])).await;
    assert_eq!(
        (o.status, o.message),
        (
            CaseStatus::Passed,
            format!("status 200 from {}: {body}", server.url("/"))
        )
    );
    assert!(
        o.log.text().contains("200 OK headers")
            && o.log.text().contains("\"content-type\": \"text/plain\""),
        "{}",
        o.log.text()
    );
}

// ---------------------------------------------------------------- redirects

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_as_browsers_do() {
    let server = Server::start_with_port(|r, port| match (r.method.as_str(), r.target.as_str()) {
        (_, "/dir/start") => Reply::redirect(302, "next?y=2"),
        (_, "/dir/next?y=2") => Reply::text(200, "arrived"),
        (_, "/absolute") => {
            Reply::redirect(301, &format!("http://127.0.0.1:{port}/dir/next?y=2#frag"))
        }
        ("POST", "/see-other") => Reply::redirect(303, "/echo"),
        ("POST", "/moved") => Reply::redirect(301, "/echo"),
        ("POST", "/temporary") => Reply::redirect(307, "/echo"),
        ("PUT", "/permanent") => Reply::redirect(308, "/echo"),
        (_, "/loop") => Reply::redirect(302, "/loop"),
        _ => echo(r),
    })
    .await;
    let grants = || granted(&[&server]);
    let arrived = format!("status 200 from {}: arrived", server.url("/dir/next?y=2"));

    // Relative, then absolute on the same server.
    let o = send(&server.url("/dir/start"), json!({}), grants()).await;
    assert_eq!(
        (o.status, o.message.as_str()),
        (CaseStatus::Passed, arrived.as_str())
    );
    assert_eq!(server.lines(), ["GET /dir/start", "GET /dir/next?y=2"]);
    let o = send(&server.url("/absolute"), json!({}), grants()).await;
    assert_eq!(o.message, arrived);

    // 303 and 301 after a POST: a GET without the body (or its headers); 307 and 308 send
    // the method and the body again.
    let post = |method: &str| json!({"method": method, "body": "data", "headers": [["Content-Type", "text/plain"]]});
    for (path, method, expected) in [
        ("/see-other", "POST", "GET /echo "),
        ("/moved", "POST", "GET /echo "),
        ("/temporary", "POST", "POST /echo data"),
        ("/permanent", "PUT", "PUT /echo data"),
    ] {
        let before = server.requests().len();
        let o = send(&server.url(path), post(method), grants()).await;
        assert_eq!(
            o.message,
            format!("status 200 from {}: {expected}", server.url("/echo")),
            "{path}"
        );
        let second = &server.requests()[before + 1];
        if expected.starts_with("GET") {
            assert_eq!(
                (
                    second.header("content-length"),
                    second.header("content-type")
                ),
                (None, None),
                "{path}: {second:?}"
            );
        } else {
            assert_eq!(second.header("content-length"), Some("4"), "{path}");
        }
    }

    // A loop stops at the limit, after limit + 1 requests.
    let before = server.requests().len();
    let o = send(&server.url("/loop"), json!({"max_redirects": 3}), grants()).await;
    assert_eq!(o.status, CaseStatus::Failed);
    assert!(
        o.message.starts_with(&format!(
            "error Protocol: GET {} (reached by a redirect from {}): too many redirects: 302 Found to `/loop` after 3 redirect(s) followed",
            server.url("/loop"),
            server.url("/loop")
        )),
        "{}",
        o.message
    );
    assert_eq!(server.requests().len() - before, 4);

    // max_redirects 0: the 3xx as it is.
    let o = send(
        &server.url("/dir/start"),
        json!({"max_redirects": 0}),
        grants(),
    )
    .await;
    assert_eq!(
        (o.status, o.message),
        (
            CaseStatus::Failed,
            format!("status 302 from {}: moved", server.url("/dir/start"))
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_is_not_sent_to_another_origin() {
    let other = Server::start_with_port(|r, _| echo(r)).await;
    let elsewhere = other.url("/auth");
    let server = Server::start_with_port(move |r, _| match r.target.as_str() {
        "/same" => Reply::redirect(302, "/auth"),
        "/cross" => Reply::redirect(302, &elsewhere),
        _ => echo(r),
    })
    .await;
    let config = json!({"headers": [["Authorization", "Bearer s3cret"]]});
    let grants = granted(&[&server, &other]);

    let o = send(&server.url("/same"), config.clone(), grants.clone()).await;
    assert!(
        o.message.ends_with(": authorization: Bearer s3cret"),
        "{}",
        o.message
    );
    let o = send(&server.url("/cross"), config, grants).await;
    assert_eq!(
        o.message,
        format!(
            "status 200 from {}: authorization: none",
            other.url("/auth")
        )
    );
    assert_eq!(other.lines(), ["GET /auth"]);
    assert_eq!(
        server.requests()[1].header("authorization"),
        Some("Bearer s3cret"),
        "the first request carries it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_host_that_is_not_granted_is_refused() {
    let other = Server::start_with_port(|r, _| echo(r)).await;
    let target = other.url("/x");
    let server = Server::start_with_port(move |_, _| Reply::redirect(302, &target)).await;
    let o = send(&server.url("/away"), json!({}), granted(&[&server])).await;
    assert_eq!(o.status, CaseStatus::Failed);
    assert_eq!(
        o.message,
        format!(
            "error Refused: GET {} (reached by a redirect from {}): the sandbox refused the connection to {}: it is not granted to this step; grant `{}` in `grants.network`",
            other.url("/x"),
            server.url("/away"),
            other.addr(),
            other.addr()
        )
    );
    let notice = format!(
        "network: refused to let the plugin send an HTTP request to {}: not granted",
        other.addr()
    );
    assert!(
        o.engine_notices().contains(&notice),
        "the log should hold `{notice}`: {:?}",
        o.log.lines()
    );
    assert_eq!(server.lines(), ["GET /away"]);
    assert!(
        other.requests().is_empty(),
        "nothing may reach the other server"
    );
}

// ---------------------------------------------------------------- limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_covers_the_whole_exchange() {
    let server = Server::start_with_port(|r, _| match r.target.as_str() {
        "/drip" => Reply::Drip,
        _ => Reply::Silent,
    })
    .await;
    let plugin = load(artifacts::SDK_HTTP).await;
    for (target, method) in [("/silent", "GET"), ("/silent", "POST"), ("/drip", "GET")] {
        let url = server.url(target);
        let log = MemorySink::new();
        let inv = Invocation::new(granted(&[&server])).log(Arc::new(log.clone()));
        let config = json!({"url": url, "method": method, "body": "x", "timeout_ms": 1000});
        let started = Instant::now();
        let report = plugin.run(&inv, &config).await.unwrap();
        let took = started.elapsed();
        let case = report.cases().next().unwrap();
        let message = case.message.clone().unwrap_or_default();
        assert_eq!(case.status, CaseStatus::Failed, "{message}");
        assert!(
            message.starts_with(&format!("error Timeout: {method} {url}: "))
                && message.contains("1 s"),
            "{target}: {message}"
        );
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(10),
            "{target}: took {took:?}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_cap_is_too_large() {
    let server = Server::start_with_port(|r, _| Reply::Answer {
        status: 200,
        headers: Vec::new(),
        body: vec![b'x'; 1000],
        chunked: r.target == "/chunked",
    })
    .await;
    let grants = || granted(&[&server]);
    let o = send(
        &server.url("/length"),
        json!({"max_response_bytes": 100}),
        grants(),
    )
    .await;
    assert_eq!(
        o.message,
        format!(
            "error TooLarge: GET {}: the response body (1000 bytes by its Content-Length) is larger than the cap of 100 bytes",
            server.url("/length")
        )
    );
    let o = send(
        &server.url("/chunked"),
        json!({"max_response_bytes": 999}),
        grants(),
    )
    .await;
    assert_eq!(
        o.message,
        format!(
            "error TooLarge: GET {}: the response body is larger than the cap of 999 bytes",
            server.url("/chunked")
        )
    );
    for target in ["/length", "/chunked"] {
        let o = send(
            &server.url(target),
            json!({"max_response_bytes": 1000}),
            grants(),
        )
        .await;
        assert_eq!(o.status, CaseStatus::Passed, "{target}: {}", o.message);
    }
}

// ---------------------------------------------------------------- refusals and failures

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_not_granted_is_refused() {
    let server = Server::start_with_port(|r, _| echo(r)).await;
    let other = Server::start_with_port(|r, _| echo(r)).await;
    let o = send(&server.url("/"), json!({}), granted(&[&other])).await;
    assert_eq!(
        o.message,
        format!(
            "error Refused: GET {}: the sandbox refused the connection to {}: it is not granted to this step; grant `{}` in `grants.network`",
            server.url("/"),
            server.addr(),
            server.addr()
        )
    );
    assert!(
        o.engine_notices().contains(&format!(
            "network: refused to let the plugin send an HTTP request to {}: not granted",
            server.addr()
        )),
        "{:?}",
        o.log.lines()
    );
    assert!(server.requests().is_empty());

    // https without a port is port 443.
    let o = send("https://127.0.0.1/", json!({}), granted(&[&other])).await;
    assert!(
        o.message.starts_with("error Refused: GET https://127.0.0.1/: the sandbox refused the connection to 127.0.0.1:443"),
        "{}",
        o.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_tls_failures_are_clean_errors() {
    // Nothing listens any more on a granted port.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let o = send(
        &format!("http://{addr}/"),
        json!({}),
        Grants::none().network(addr.parse().unwrap()),
    )
    .await;
    assert_eq!(
        o.message,
        format!("error Connect: GET http://{addr}/: cannot connect to {addr}: connection refused")
    );

    // https:// to a server that speaks plain HTTP: a TLS error naming host:port, not a trap.
    let server = Server::start_with_port(|r, _| echo(r)).await;
    let url = format!("https://{}/", server.addr());
    let o = send(&url, json!({"timeout_ms": 5000}), granted(&[&server])).await;
    assert_eq!(o.status, CaseStatus::Failed);
    assert!(
        o.message.starts_with(&format!("error Tls: GET {url}: "))
            && o.message.contains(&format!(" {} ", server.addr()))
            && o.message.contains("`lockgate --ca-cert`"),
        "{}",
        o.message
    );
    assert!(server.requests().is_empty(), "no HTTP request was read");
}
