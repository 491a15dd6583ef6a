//! Issue 15 §1 end to end: a pipeline whose test step (`http-probe`) checks an HTTPS endpoint
//! with a certificate of a private CA, through the `lockgate` binary. Trusted through the
//! step's `grants.ca_certs` or the engine's `--ca-cert`, the build passes; trusted by neither,
//! it fails and its log names the host and why.

use super::*;
use lockgate_test_tls::{Behaviour, HttpsServer, TestCa};

fn pipeline(port: u16, ca_certs: &str) -> String {
    format!(
        "\
environments: [development]
resource_types:
  counter: ((counter_wasm))
test_types:
  http-probe: ((http_probe_wasm))
resources:
  - name: release
    type: counter
    source: {{path: /dirs/state/counter}}
    grants: {{dirs: {{state: state}}}}
jobs:
  - name: smoke
    environment: development
    plan:
      - get: release
        trigger: true
      - test: health
        type: http-probe
        config:
          checks: [{{name: health, url: 'https://localhost:{port}/health', body_regex: ok}}]
          retries: 0
        grants: {{network: ['localhost:{port}']{ca_certs}}}
"
    )
}

#[test]
fn a_test_step_trusts_a_private_ca_from_its_grants_or_the_engine() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ca = TestCa::new("Lockgate e2e CA");
    let server = runtime.block_on(HttpsServer::start(
        ca.server_config(&["localhost"]),
        Behaviour::Reply("ok".into()),
    ));
    let port = server.port();
    let runs = [
        ("the step's grants", ", ca_certs: [certs/ca.pem]", false, 0),
        ("the engine's --ca-cert", "", true, 0),
        ("nothing", "", false, 1),
    ];
    for (trusted_by, ca_certs, flag, code) in runs {
        let p = Project::new(&pipeline(port, ca_certs), &["state", "certs"]);
        p.write("state/counter", "1");
        let ca_file = ca.write_pem(&p.path("certs"), "ca.pem");
        let mut cmd = p.command();
        cmd.env("LOCKGATE_VAR_HTTP_PROBE_WASM", artifacts::HTTP_PROBE);
        if flag {
            cmd.arg("--ca-cert").arg(&ca_file);
        }
        let r = run(cmd.args(["run", "pipeline.yml"]));
        assert_eq!(
            r.code, code,
            "trusted by {trusted_by}:\n--- stdout\n{}--- stderr\n{}",
            r.stdout, r.stderr
        );
        if code != 0 {
            let logs = p.lg(&["logs", "smoke/1"]);
            assert!(
                logs.stdout.contains(&format!(
                    "TLS: the certificate of localhost:{port} does not verify (issued by a certificate authority the engine does not trust)"
                )),
                "{}",
                logs.stdout
            );
        }
    }
}
