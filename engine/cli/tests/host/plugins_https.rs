//! HTTPS from plugins (`wasi:http`) against a TLS server with a certificate of a test CA: the
//! CA trusted through the step's grants or through the engine refuses nothing; without it, or
//! for a certificate of another name, the request fails with `TLS-certificate-error` and the
//! log says which host and why.

use std::sync::Arc;

use crate::common::{cache_dir, load};
use lockgate::plugin_host::{
    CaseStatus, Grants, HostConfig, Invocation, LogSource, MemorySink, PluginHost, TestReport,
};
use lockgate_test_artifacts as artifacts;
use lockgate_test_tls::{Behaviour, HttpsServer, TestCa};
use serde_json::json;

const BODY: &str = "hello over TLS";

/// The fixture's one case: status and message.
fn case(report: &TestReport) -> (CaseStatus, String) {
    let cases: Vec<_> = report.cases().collect();
    assert_eq!(cases.len(), 1, "{report:?}");
    (
        cases[0].status,
        cases[0].message.clone().unwrap_or_default(),
    )
}

fn notices(sink: &MemorySink) -> Vec<String> {
    sink.lines()
        .into_iter()
        .filter(|l| l.source == LogSource::Engine)
        .map(|l| l.message)
        .collect()
}

/// GETs `url` through the raw wasi:http fixture, loaded by `host`.
async fn get(host: &PluginHost, url: &str, grants: Grants) -> (TestReport, MemorySink) {
    let sink = MemorySink::new();
    let inv = Invocation::new(grants).log(Arc::new(sink.clone()));
    let plugin = host
        .load(artifacts::HTTP_CLIENT)
        .await
        .unwrap_or_else(|e| panic!("loading the http-client fixture: {e}"));
    let report = plugin
        .run(&inv, &json!({ "url": url }))
        .await
        .unwrap_or_else(|e| panic!("running the http-client fixture: {e}"));
    (report, sink)
}

fn granted(server: &HttpsServer) -> Grants {
    Grants::none().network(format!("localhost:{}", server.port()).parse().unwrap())
}

#[tokio::test]
async fn a_certificate_of_a_ca_in_the_steps_grants_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lockgate test CA");
    let ca_file = ca.write_pem(dir.path(), "ca.pem");
    let server = HttpsServer::start(
        ca.server_config(&["localhost"]),
        Behaviour::Reply(BODY.into()),
    )
    .await;
    let url = server.url("localhost", "/");
    let host = crate::common::host();

    // Not trusted: refused, and the log names the host and the reason.
    let (report, sink) = get(&host, &url, granted(&server)).await;
    assert_eq!(
        case(&report),
        (
            CaseStatus::Failed,
            "request failed: ErrorCode::TlsCertificateError".into()
        )
    );
    let expected = format!(
        "TLS: the certificate of localhost:{} does not verify (issued by a certificate authority the engine does not trust); the engine trusts the system's roots, `lockgate --ca-cert` and the step's `grants.ca_certs`",
        server.port()
    );
    assert_eq!(notices(&sink), vec![expected]);

    // Trusted by the step's grants.
    let (report, sink) = get(&host, &url, granted(&server).ca_certificate(&ca_file)).await;
    assert_eq!(
        case(&report),
        (CaseStatus::Passed, format!("status 200: {BODY}")),
        "{:?}",
        sink.lines()
    );
    assert!(notices(&sink).is_empty(), "{:?}", sink.lines());
}

#[tokio::test]
async fn a_ca_given_to_the_engine_is_trusted_by_every_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lockgate engine CA");
    let ca_file = ca.write_pem(dir.path(), "engine-ca.pem");
    let server = HttpsServer::start(
        ca.server_config(&["localhost", "127.0.0.1"]),
        Behaviour::Reply(BODY.into()),
    )
    .await;
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache_dir()),
        ca_certificates: vec![ca_file],
        ..HostConfig::default()
    })
    .unwrap();
    let (report, sink) = get(&host, &server.url("localhost", "/"), granted(&server)).await;
    assert_eq!(
        case(&report),
        (CaseStatus::Passed, format!("status 200: {BODY}")),
        "{:?}",
        sink.lines()
    );
    // An IP address in the certificate verifies too.
    let grants = Grants::none().network(format!("127.0.0.1:{}", server.port()).parse().unwrap());
    let (report, sink) = get(&host, &server.url("127.0.0.1", "/"), grants).await;
    assert_eq!(case(&report).0, CaseStatus::Passed, "{:?}", sink.lines());
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_even_from_a_trusted_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lockgate test CA");
    let ca_file = ca.write_pem(dir.path(), "ca.pem");
    let server = HttpsServer::start(
        ca.server_config(&["registry.example"]),
        Behaviour::Reply(BODY.into()),
    )
    .await;
    let (report, sink) = get(
        &crate::common::host(),
        &server.url("localhost", "/"),
        granted(&server).ca_certificate(&ca_file),
    )
    .await;
    assert_eq!(
        case(&report),
        (
            CaseStatus::Failed,
            "request failed: ErrorCode::TlsCertificateError".into()
        )
    );
    let notice = notices(&sink).join("\n");
    assert!(
        notice.starts_with(&format!(
            "TLS: the certificate of localhost:{} does not verify (",
            server.port()
        )) && notice.contains("certificate not valid for name \"localhost\""),
        "{notice}"
    );
}

#[tokio::test]
async fn an_unusable_ca_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let e = PluginHost::new(HostConfig {
        cache_dir: Some(cache_dir()),
        ca_certificates: vec![missing.clone()],
        ..HostConfig::default()
    })
    .err()
    .expect("a missing CA file is refused");
    assert_eq!(
        e.to_string(),
        format!(
            "cannot read CA certificate file `{}`: No such file or directory (os error 2)",
            missing.display()
        )
    );

    // Given to one step: its HTTPS requests fail and say why; nothing is sent.
    let ca = TestCa::new("Lockgate test CA");
    let server = HttpsServer::start(
        ca.server_config(&["localhost"]),
        Behaviour::Reply(BODY.into()),
    )
    .await;
    let (report, sink) = get(
        &crate::common::host(),
        &server.url("localhost", "/"),
        granted(&server).ca_certificate(&missing),
    )
    .await;
    assert_eq!(case(&report).0, CaseStatus::Failed);
    assert_eq!(
        notices(&sink),
        vec![format!(
            "TLS: cannot verify localhost:{}: cannot read CA certificate file `{}`: No such file or directory (os error 2)",
            server.port(),
            missing.display()
        )]
    );
}

/// `http-probe` and `acceptance` (on the SDK's client) against an HTTPS endpoint whose CA the
/// step's grants hold; without it each check fails naming the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_test_steps_speak_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lockgate test CA");
    let ca_file = ca.write_pem(dir.path(), "ca.pem");
    let server = HttpsServer::start(
        ca.server_config(&["localhost"]),
        Behaviour::Reply("ok version 1.2.3".into()),
    )
    .await;
    let url = server.url("localhost", "/health");

    let probe = load(artifacts::HTTP_PROBE).await;
    let config = json!({
        "checks": [{"name": "health", "url": url, "body_regex": "version \\d+\\.\\d+"}],
        "retries": 0
    });
    let report = probe
        .run(
            &Invocation::new(granted(&server).ca_certificate(&ca_file)),
            &config,
        )
        .await
        .unwrap();
    assert!(report.passed(), "{report:?}");

    let sink = MemorySink::new();
    let inv = Invocation::new(granted(&server)).log(Arc::new(sink.clone()));
    let report = probe.run(&inv, &config).await.unwrap();
    assert!(!report.passed(), "{report:?}");
    let message = report.cases().next().unwrap().message.clone().unwrap();
    assert!(message.contains("certificate"), "{message}");
    assert!(
        notices(&sink)
            .iter()
            .any(|n| n.starts_with("TLS: the certificate of localhost:")),
        "{:?}",
        sink.lines()
    );

    let scenario = json!([
        {"name": "health", "request": {"url": "/health"}, "expect": {"status": 200, "body_contains": "1.2.3"}}
    ]);
    let input = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("scenario.json"), scenario.to_string()).unwrap();
    let acceptance = load(artifacts::ACCEPTANCE).await;
    let inv = Invocation::new(
        granted(&server)
            .ca_certificate(&ca_file)
            .input("tests", input.path()),
    );
    let config =
        json!({"scenario": "tests/scenario.json", "base_url": server.url("localhost", "")});
    let report = acceptance.run(&inv, &config).await.unwrap();
    assert!(report.passed(), "{report:?}");
}
