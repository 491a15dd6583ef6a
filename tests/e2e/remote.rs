//! `lockgate --server URL …` through the binary, against a real `lockgate server` on the
//! cloud-gov example: the same text and JSON as the local commands on the same state, tokens
//! and roles, following a live log, approving and rolling back, and the errors a user can act
//! on (no server there, not a lockgate server, a command that only runs locally).

use std::path::PathBuf;
use std::time::Duration;

use lockgate_e2e::{
    APPROVER_TOKEN, CloudGov, OPERATOR_TOKEN, ReverseProxy, Run, VIEWER_TOKEN, http, run, wait_for,
};

const VIEWER: &str = VIEWER_TOKEN;
const OPERATOR: &str = OPERATOR_TOKEN;
const APPROVER: &str = APPROVER_TOKEN;

/// `lockgate --server URL ARGS` with the token (if any) in `LOCKGATE_TOKEN`.
fn remote(ex: &CloudGov, url: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = ex.command();
    cmd.arg("--server").arg(url).args(args);
    if let Some(t) = token {
        cmd.env("LOCKGATE_TOKEN", t);
    }
    run(&mut cmd)
}

/// Asserts that `r` failed and said `needle` on stderr.
fn refused(r: Run, needle: &str) {
    assert_ne!(r.code, 0, "expected a refusal: {}", r.stdout);
    assert!(
        r.stderr.contains(needle),
        "expected `{needle}` in: {}",
        r.stderr
    );
}

fn ok(r: Run, what: &str) -> String {
    assert_eq!(r.code, 0, "{what}: {}\n{}", r.stdout, r.stderr);
    r.stdout
}

fn json(url: &str, path: &str) -> serde_json::Value {
    let (status, body) = http("GET", &format!("{url}/api/v1/{path}"), None, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Waits until no build is pending or running (twice in a row, 300 ms apart) and `ready`
/// holds on the environments.
fn idle(url: &str, what: &str, ready: impl Fn(&serde_json::Value) -> bool) {
    let busy = || {
        json(url, "builds?limit=100")["builds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["finished"] == false)
    };
    wait_for(what, Duration::from_secs(300), || {
        let envs = json(url, "environments");
        if busy() || !ready(&envs) {
            return Err(envs.to_string());
        }
        std::thread::sleep(Duration::from_millis(300));
        if busy() {
            return Err("a build started".into());
        }
        Ok(())
    });
}

fn env<'a>(envs: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    envs.as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == name)
        .unwrap()
}

#[test]
fn remote_commands_print_what_the_local_ones_print_and_act_through_the_api() {
    let ex = CloudGov::new();
    let server = ex.server(&[]);
    let url = server.url.clone();

    // 1. The server checks every resource once at start (the environments are `check_every:
    //    never`); development and staging pass; production waits for an approval.
    idle(&url, "production to wait for an approval", |envs| {
        env(envs, "staging")["current"].is_object() && env(envs, "production")["next"].is_object()
    });

    // 2. Reads print exactly what the local commands print on the same state.
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["why", "production"],
        &["why", "production", "--json"],
        &["why", "staging"],
        &["builds"],
        &["builds", "--json"],
        &["builds", "--job", "deploy-staging", "--limit", "1"],
        &["builds", "--limit", "2", "--json"],
    ] {
        let local = ok(ex.lg(args), &format!("local {args:?}"));
        let there = ok(remote(&ex, &url, None, args), &format!("remote {args:?}"));
        assert_eq!(there, local, "lockgate {args:?}: remote vs local");
        assert!(!there.trim().is_empty(), "{args:?} printed nothing");
    }
    let status = ok(remote(&ex, &url, None, &["status"]), "status");
    assert!(status.contains("production\n  runs "), "{status}");
    assert!(
        status.contains("waits for approval to enter `production`"),
        "{status}"
    );
    assert!(status.contains("deploy-staging"), "{status}");
    // The trailing `/api/v1/` of a pasted API URL, and LOCKGATE_SERVER, work too.
    let mut cmd = ex.command();
    cmd.env("LOCKGATE_SERVER", format!("{url}/api/v1/"))
        .args(["why", "production"]);
    assert_eq!(
        ok(run(&mut cmd), "why via LOCKGATE_SERVER"),
        ok(ex.lg(&["why", "production"]), "local why")
    );
    let nodes: serde_json::Value =
        serde_json::from_str(&ok(remote(&ex, &url, None, &["nodes", "--json"]), "nodes")).unwrap();
    assert_eq!(nodes["scheduler"], nodes["nodes"][0]["name"], "{nodes}");
    assert!(nodes.get("lease").is_none(), "the local shape: {nodes}");

    // 3. Logs by id and by JOB/NUMBER, as the local command prints them.
    let builds: serde_json::Value = serde_json::from_str(&ok(
        remote(
            &ex,
            &url,
            None,
            &["builds", "--job", "deploy-staging", "--json"],
        ),
        "builds",
    ))
    .unwrap();
    let id = builds[0]["id"].as_i64().unwrap().to_string();
    let by_number = format!("deploy-staging/{}", builds[0]["number"]);
    for spec in [id.as_str(), by_number.as_str()] {
        let local = ok(ex.lg(&["logs", spec]), "local logs");
        let there = ok(remote(&ex, &url, None, &["logs", spec]), "remote logs");
        assert_eq!(there, local, "logs {spec}");
        assert!(
            there.lines().count() > 1 && there.starts_with('['),
            "{there}"
        );
    }
    let r = remote(&ex, &url, None, &["logs", "deploy-staging/999"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("(HTTP 404)"), "{}", r.stderr);

    // 4. Triggering needs an operator token.
    let r = remote(&ex, &url, None, &["trigger", "deploy-development"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(&format!(
            "the lockgate server at {url} needs a token: give one with --token or LOCKGATE_TOKEN"
        )),
        "{}",
        r.stderr
    );
    refused(
        remote(
            &ex,
            &url,
            Some("not-a-known-token"),
            &["trigger", "deploy-development"],
        ),
        "does not accept this token",
    );
    refused(
        remote(&ex, &url, Some(VIEWER), &["trigger", "deploy-development"]),
        "token `grafana` has role `viewer`; this needs `operator` (HTTP 403)",
    );
    let r = run(ex
        .command()
        .args(["--server", &url, "--token", OPERATOR])
        .args(["trigger", "deploy-development"]));
    let queued = ok(r, "trigger as operator");
    let (number, build) = queued
        .strip_prefix("queued deploy-development #")
        .and_then(|rest| rest.split_once(" (build "))
        .unwrap_or_else(|| panic!("{queued}"));
    let build = build.split(')').next().unwrap().to_owned();
    assert!(queued.ends_with("; `lockgate run` or a running server executes it\n"));

    // 5. `logs -f` follows the queued build to its end, as the local command does.
    let followed = ok(
        remote(&ex, &url, None, &["logs", "-f", &build]),
        "remote logs -f",
    );
    let status = json(&url, &format!("builds/{build}"))["status"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        followed.lines().last().unwrap(),
        format!("build deploy-development #{number} {status}"),
        "{followed}"
    );
    assert_eq!(status, "succeeded");
    assert_eq!(
        followed,
        ok(ex.lg(&["logs", "-f", &build]), "local logs -f")
    );
    assert!(followed.lines().count() > 1, "{followed}");

    // 6. Approving production: approver only; the token's name is recorded.
    idle(&url, "the triggered build to settle", |envs| {
        env(envs, "production")["next"].is_object()
    });
    let candidate = json(&url, "environments/production/why")["next"]["id"]
        .as_i64()
        .unwrap();
    refused(
        remote(&ex, &url, Some(OPERATOR), &["approve", "production"]),
        "this needs `approver` (HTTP 403)",
    );
    let r = remote(
        &ex,
        &url,
        Some(APPROVER),
        &["approve", "production", "--as", "bob"],
    );
    assert!(
        r.stderr.contains("records the name of the token") && r.stderr.contains("not `bob`"),
        "{}",
        r.stderr
    );
    let approved = ok(r, "approve");
    assert!(
        approved.starts_with(&format!(
            "approved candidate #{candidate} for `production` as alice: "
        )),
        "{approved}"
    );
    assert!(
        approved.contains("app-release {file: app-1.0.0.tgz, version: 1.0.0}"),
        "{approved}"
    );
    wait_for(
        "production to run the candidate",
        Duration::from_secs(300),
        || {
            let envs = json(&url, "environments");
            (env(&envs, "production")["current"]["id"] == candidate)
                .then_some(())
                .ok_or(envs.to_string())
        },
    );
    assert!(
        ex.deployed_versions("production")
            .contains("\"app\": \"1.0.0\"")
    );
    let again = ok(
        remote(
            &ex,
            &url,
            Some(APPROVER),
            &["approve", "production", &candidate.to_string()],
        ),
        "approve again",
    );
    assert_eq!(
        again,
        format!("candidate #{candidate} was already approved for `production`\n")
    );
    // Locally, who approves must be named.
    let r = ex.lg(&["approve", "production"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("needs `--as NAME`"), "{}", r.stderr);

    // 7. A new release, checked through the server, approved, then rolled back.
    ex.release("1.1.0");
    let checked = ok(
        remote(&ex, &url, Some(OPERATOR), &["check", "app-release"]),
        "check",
    );
    assert_eq!(
        checked,
        "app-release: 1 new version(s); latest {file: app-1.1.0.tgz, version: 1.1.0}\n"
    );
    idle(&url, "1.1.0 to wait for production", |envs| {
        env(envs, "production")["next"]["versions"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v.as_str().unwrap().contains("1.1.0")))
    });
    let second = json(&url, "environments/production/why")["next"]["id"]
        .as_i64()
        .unwrap();
    ok(
        remote(&ex, &url, Some(APPROVER), &["approve", "production"]),
        "approve 1.1.0",
    );
    wait_for("production to run 1.1.0", Duration::from_secs(300), || {
        let deployed = ex.deployed_versions("production");
        deployed
            .contains("\"app\": \"1.1.0\"")
            .then_some(())
            .ok_or(deployed)
    });
    idle(&url, "production to settle", |envs| {
        env(envs, "production")["current"]["id"] == second
    });
    let r = remote(&ex, &url, Some(OPERATOR), &["rollback", "production"]);
    assert!(r.stderr.contains("this needs `approver`"), "{}", r.stderr);
    let rolled = ok(
        remote(&ex, &url, Some(APPROVER), &["rollback", "production"]),
        "rollback",
    );
    assert!(
        rolled.starts_with(&format!(
            "rolling `production` back to candidate #{candidate}:\n  queued deploy-production #"
        )),
        "{rolled}"
    );
    assert!(rolled.ends_with("`lockgate run` or a running server executes the builds\n"));
    wait_for(
        "production to run 1.0.0 again",
        Duration::from_secs(300),
        || {
            let deployed = ex.deployed_versions("production");
            deployed
                .contains("\"app\": \"1.0.0\"")
                .then_some(())
                .ok_or(deployed)
        },
    );

    // 8. Options of a local pipeline are refused with --server, not silently ignored.
    let r = remote(&ex, &url, None, &["status", "--state", "other.db"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--state names a local pipeline or state")
            && r.stderr.contains("drop it"),
        "{}",
        r.stderr
    );
    assert!(!ex.dir.path().join("other.db").exists());

    // 9. An unknown name is refused the same way locally and through the server, with the
    //    nearest name the pipeline has.
    let typo = &["pin", "app-relase", "version=1.0.0"];
    let message = "no resource `app-relase` in the pipeline; did you mean `app-release`?";
    refused(ex.lg(typo), message);
    refused(
        remote(&ex, &url, Some(OPERATOR), typo),
        &format!("{message} (HTTP 404)"),
    );
    refused(
        ex.lg(&["why", "prod"]),
        "no environment `prod` in the pipeline (it has `development`, `staging` and `production`); did you mean `production`?",
    );
    drop(server);
}

#[test]
fn errors_say_what_to_do() {
    let ex = CloudGov::new();
    // Nothing listens on a port just closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let r = remote(&ex, &url, None, &["status"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains(&format!("cannot reach the lockgate server at {url}: "))
            && r.stderr
                .contains("(is `lockgate server` running? --server / LOCKGATE_SERVER)"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    assert!(
        !ex.dir.path().join(".lockgate").exists(),
        "no local state is opened with --server"
    );

    // An HTTP server that is not lockgate's (the example's environments).
    let other = format!("http://127.0.0.1:{}/", ex.env_port);
    let r = remote(&ex, &other, None, &["why", "production"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("answered HTTP 404 with") && r.stderr.contains("not the lockgate API"),
        "{}",
        r.stderr
    );

    // Other schemes, and commands that only run locally.
    refused(
        remote(&ex, "ftp://127.0.0.1/", None, &["status"]),
        "the scheme must be http or https, not `ftp`",
    );
    refused(
        remote(&ex, &url, None, &["run", "pipeline.yml"]),
        "`lockgate run` cannot run against a server",
    );
    refused(
        ex.lg(&["status", "--token", OPERATOR]),
        "--token is sent to a server",
    );
}

/// A certificate authority and a certificate for 127.0.0.1 signed by it, made with `openssl`:
/// returns (CA certificate, server certificate, server key).
fn certificates(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let sh = |script: &str| {
        let out = std::process::Command::new("bash")
            .args(["-euc", script])
            .current_dir(dir)
            .output()
            .expect("running openssl (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
          -subj /CN=lockgate-test-ca 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
          -subj /CN=127.0.0.1 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
          -out server.pem -days 2 -extfile ext.cnf 2>/dev/null");
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[test]
fn works_through_an_https_reverse_proxy_with_a_path_prefix() {
    let ex = CloudGov::new();
    let server = ex.server(&[]);

    // TLS ends at a reverse proxy that serves the API under /lockgate/.
    let (ca, cert, key) = certificates(ex.dir.path());
    let proxy = ReverseProxy::start(&server.url, "/lockgate", Some((&cert, &key)));
    let https = format!("{}/", proxy.url);
    // The CA trusted as the system's (SSL_CERT_FILE) or given to lockgate (--ca-cert).
    enum Trust<'a> {
        System(&'a PathBuf),
        Flag(&'a PathBuf),
        Nothing,
    }
    let over_tls = |ca: Trust, token: Option<&str>, args: &[&str]| {
        let mut cmd = ex.command();
        cmd.env_remove("SSL_CERT_FILE")
            .env_remove("LOCKGATE_CA_CERT");
        match ca {
            Trust::System(ca) => {
                cmd.env("SSL_CERT_FILE", ca);
            }
            Trust::Flag(ca) => {
                cmd.arg("--ca-cert").arg(ca);
            }
            Trust::Nothing => {}
        }
        cmd.arg("--server").arg(&https).args(args);
        if let Some(t) = token {
            cmd.env("LOCKGATE_TOKEN", t);
        }
        run(&mut cmd)
    };

    // A certificate nothing trusts is refused, saying so (not "cannot reach").
    let r = over_tls(Trust::Nothing, None, &["status"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!(
            "the TLS certificate of the lockgate server at {} does not verify: ",
            https.trim_end_matches('/')
        )) && r.stderr.contains("UnknownIssuer")
            && r.stderr
                .contains("(trusted: the system's roots and --ca-cert / LOCKGATE_CA_CERT)"),
        "{}",
        r.stderr
    );
    // A CA file that is not one is named.
    let r = over_tls(
        Trust::Flag(&cert.with_extension("missing")),
        None,
        &["status"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("cannot read CA certificate file `")
            && r.stderr.contains("server.missing`"),
        "{}",
        r.stderr
    );

    // Trusted (SSL_CERT_FILE, as for the system's store): the same answers as locally.
    idle(&server.url, "production to wait for an approval", |envs| {
        env(envs, "production")["next"].is_object()
    });
    let remote_status = ok(
        over_tls(Trust::System(&ca), None, &["status"]),
        "status over TLS",
    );
    assert_eq!(remote_status, ok(ex.lg(&["status"]), "local status"));
    let remote_status = ok(
        over_tls(Trust::Flag(&ca), None, &["status"]),
        "with --ca-cert",
    );
    assert_eq!(remote_status, ok(ex.lg(&["status"]), "local status"));
    let approved = ok(
        over_tls(Trust::Flag(&ca), Some(APPROVER), &["approve", "production"]),
        "approve over TLS",
    );
    assert!(
        approved.starts_with("approved candidate #1 for `production` as alice"),
        "{approved}"
    );
    // The live log stream passes the proxy: following the production build ends with its status.
    let build = wait_for("production's build", Duration::from_secs(60), || {
        json(&server.url, "jobs/deploy-production/builds")["builds"][0]["id"]
            .as_i64()
            .ok_or_else(|| "no build yet".to_owned())
    });
    let followed = ok(
        over_tls(Trust::Flag(&ca), None, &["logs", "-f", &build.to_string()]),
        "logs -f over TLS",
    );
    assert!(
        followed
            .trim_end()
            .ends_with("build deploy-production #1 succeeded"),
        "{followed}"
    );
    // Production deployed it: a release after the one setup.sh put there.
    let current = ex.dir.path().join("work/envs/production/current");
    let deployed = std::fs::read_to_string(&current).unwrap_or_default();
    assert_ne!(
        deployed.trim(),
        "1",
        "production still runs setup's release"
    );
}
