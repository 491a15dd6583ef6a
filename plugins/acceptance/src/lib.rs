//! Test step `acceptance`: runs a scenario file of HTTP requests against the deployed
//! environment; each step, with its assertions, is one test case.
//!
//! See README.md for the configuration and the scenario format.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lockgate_sdk::http::{Request, Url};
use lockgate_sdk::{
    Description, Error, IoResultExt, Outcome, TestReport, TestStep, TestSuite, input_file,
    parse_json,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// How much of a body a failure message quotes.
const PREVIEW_CHARS: usize = 200;

/// The test step.
pub struct Acceptance;

/// `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the suite in the report.
    #[serde(default = "default_suite")]
    suite: String,
    /// `"<input>/<path>"` of the scenario file (JSON).
    scenario: String,
    /// Base URL that relative request URLs (`/path`) are joined to.
    base_url: Option<String>,
    /// Deadline of one request.
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_suite() -> String {
    "acceptance".to_string()
}
fn default_timeout_ms() -> u64 {
    10_000
}

/// One step of a scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Case name.
    name: String,
    /// The request.
    request: StepRequest,
    /// The assertions on the response.
    #[serde(default)]
    expect: Expect,
}

/// The request of a step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// HTTP method.
    #[serde(default = "default_method")]
    method: String,
    /// `http://host:port/path`, or `/path` joined to `config.base_url`.
    url: String,
    /// Request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Body: a string is sent as it is; any other JSON value is sent as JSON.
    body: Option<Value>,
}

fn default_method() -> String {
    "GET".to_string()
}

/// What the response must look like.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Expected status.
    #[serde(default = "default_status")]
    status: u16,
    /// A string the body must contain.
    body_contains: Option<String>,
    /// JSON pointer (`/items/0/name`) → expected JSON value in the body.
    #[serde(default)]
    json: BTreeMap<String, Value>,
}

impl Default for Expect {
    fn default() -> Self {
        Self {
            status: default_status(),
            body_contains: None,
            json: BTreeMap::new(),
        }
    }
}

fn default_status() -> u16 {
    200
}

/// A validated step.
#[derive(Debug)]
struct Check {
    name: String,
    request: Request,
    expect: Expect,
}

fn preview(text: &str) -> String {
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((i, _)) => format!("{:?}... ({} bytes)", &text[..i], text.len()),
        None => format!("{text:?}"),
    }
}

/// Parses and validates a scenario; `reference` names the file in errors.
fn parse_scenario(
    text: &str,
    reference: &str,
    base_url: Option<&str>,
    timeout: Duration,
) -> Result<Vec<Check>, Error> {
    // `parse_json` names the document `steps`; say which file and step instead.
    let steps: Vec<Step> = parse_json("steps", text).map_err(|e| {
        let message = e.message();
        let rest = message
            .strip_prefix("steps.")
            .or_else(|| message.strip_prefix("steps: "))
            .map(|rest| format!(": {rest}"))
            .or_else(|| message.strip_prefix("steps").map(str::to_string))
            .unwrap_or_else(|| format!(": {message}"));
        Error::invalid_config(format!("scenario `{reference}`{rest}"))
    })?;
    if steps.is_empty() {
        return Err(Error::invalid_config(format!(
            "scenario `{reference}`: no step"
        )));
    }
    let mut names = BTreeSet::new();
    let mut checks = Vec::with_capacity(steps.len());
    for (i, step) in steps.into_iter().enumerate() {
        let field = format!("scenario `{reference}`: [{i}]");
        if !names.insert(step.name.clone()) {
            return Err(Error::invalid_config(format!(
                "{field}.name: `{}` is used by an earlier step",
                step.name
            )));
        }
        let url = match (step.request.url.starts_with('/'), base_url) {
            (true, Some(base)) => format!("{}{}", base.trim_end_matches('/'), step.request.url),
            (true, None) => {
                return Err(Error::invalid_config(format!(
                    "{field}.request.url: `{}` is relative but config.base_url is not set",
                    step.request.url
                )));
            }
            (false, _) => step.request.url.clone(),
        };
        Url::parse(&url).map_err(|e| Error::invalid_config(format!("{field}.request.url: {e}")))?;
        let mut request = Request::new(&step.request.method, &url)
            .map_err(|e| Error::invalid_config(format!("{field}.request.method: {e}")))?
            .timeout(timeout);
        for (name, value) in &step.request.headers {
            request = request.header(name, value);
        }
        request = match step.request.body {
            None => request,
            Some(Value::String(text)) => request.body(text),
            Some(value) => request.json(&value),
        };
        if !(100..=599).contains(&step.expect.status) {
            return Err(Error::invalid_config(format!(
                "{field}.expect.status: {} is not an HTTP status (100-599)",
                step.expect.status
            )));
        }
        for pointer in step.expect.json.keys() {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(Error::invalid_config(format!(
                    "{field}.expect.json: `{pointer}` is not a JSON pointer (write `/{pointer}`)"
                )));
            }
        }
        checks.push(Check {
            name: step.name,
            request,
            expect: step.expect,
        });
    }
    Ok(checks)
}

/// Sends the request of a step and judges the response.
fn run_check(check: &Check) -> Outcome {
    let what = format!("{} {}", check.request.method(), check.request.url());
    let response = match check.request.send() {
        Ok(response) => response,
        Err(e) => return Outcome::failed(e.message),
    };
    let body = response.text();
    let expect = &check.expect;
    if response.status != expect.status {
        return Outcome::failed(format!(
            "{what}: expected status {}, got {} {} (body {})",
            expect.status,
            response.status,
            response.reason,
            preview(&body)
        ));
    }
    let mut found = vec![format!("{what} → {}", response.status)];
    if let Some(needle) = &expect.body_contains {
        if !body.contains(needle.as_str()) {
            return Outcome::failed(format!(
                "{what}: expected the body to contain {needle:?}, got {}",
                preview(&body)
            ));
        }
        found.push(format!("body contains {needle:?}"));
    }
    if !expect.json.is_empty() {
        let document: Value = match serde_json::from_str(&body) {
            Ok(document) => document,
            Err(e) => {
                return Outcome::failed(format!(
                    "{what}: expected a JSON body ({e}), got {}",
                    preview(&body)
                ));
            }
        };
        let mut wrong = Vec::new();
        for (pointer, expected) in &expect.json {
            match document.pointer(pointer) {
                Some(actual) if actual == expected => {}
                Some(actual) => {
                    wrong.push(format!("`{pointer}`: expected {expected}, found {actual}"))
                }
                None => wrong.push(format!("`{pointer}`: expected {expected}, found nothing")),
            }
        }
        if !wrong.is_empty() {
            return Outcome::failed(format!("{what}: {}", wrong.join("; ")));
        }
        found.push(format!("{} JSON value(s) as expected", expect.json.len()));
    }
    Outcome::passed_with(found.join(", "))
}

impl TestStep for Acceptance {
    type Config = Config;

    fn describe() -> Description {
        Description::new("acceptance", env!("CARGO_PKG_VERSION"))
            .summary("Runs a scenario of HTTP requests and assertions against an environment")
            .network("*", 0, "the hosts of the scenario's URLs (and config.base_url)")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "suite": { "type": "string", "default": "acceptance" },
                    "scenario": { "type": "string", "description": "<input>/<path> of the scenario file (JSON)" },
                    "base_url": { "type": "string", "pattern": "^http://", "description": "Joined to relative request URLs (/path); no TLS" },
                    "timeout_ms": { "type": "integer", "minimum": 1, "default": 10000 }
                },
                "required": ["scenario"],
                "additionalProperties": false
            }))
    }

    fn run(config: Config) -> Result<TestReport, Error> {
        if let Some(base) = &config.base_url {
            Url::parse(base).map_err(|e| Error::invalid_config(format!("config.base_url: {e}")))?;
        }
        if config.timeout_ms == 0 {
            return Err(Error::invalid_config(
                "config.timeout_ms: must be at least 1",
            ));
        }
        let path = input_file(&config.scenario).map_err(|e| e.context("config.scenario"))?;
        let text = std::fs::read_to_string(&path).with_path(&path)?;
        let checks = parse_scenario(
            &text,
            &config.scenario,
            config.base_url.as_deref(),
            Duration::from_millis(config.timeout_ms),
        )?;
        let mut suite = TestSuite::new(config.suite);
        for check in &checks {
            suite.case(check.name.as_str(), || run_check(check));
        }
        Ok(suite.into())
    }
}

lockgate_sdk::export_test_step!(Acceptance);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::CaseStatus;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::thread;

    /// Answers `replies` in order, one per connection; returns the base URL and a handle
    /// giving the request bodies.
    fn server(replies: Vec<&'static str>) -> (String, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = thread::spawn(move || {
            let mut bodies = Vec::new();
            for reply in replies {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(&stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                bodies.push(String::from_utf8(body).unwrap());
                (&stream).write_all(reply.as_bytes()).unwrap();
            }
            bodies
        });
        (base, handle)
    }

    fn checks(scenario: &str, base: Option<&str>) -> Result<Vec<Check>, Error> {
        parse_scenario(scenario, "t/scenario.json", base, Duration::from_secs(5))
    }

    #[test]
    #[cfg_attr(
        target_arch = "wasm32",
        ignore = "needs a server thread: runs natively"
    )]
    fn steps_pass_and_fail() {
        let (base, srv) = server(vec![
            "HTTP/1.1 201 Created\r\nContent-Length: 27\r\n\r\n{\"id\": 3, \"name\": \"widget\"}",
            "HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n{\"id\": 3, \"name\": \"gadget\"}",
            "HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nboom",
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!",
        ]);
        let scenario = r#"[
            {"name": "create", "request": {"method": "POST", "url": "/items", "body": {"name": "widget"}},
             "expect": {"status": 201, "body_contains": "widget", "json": {"/id": 3, "/name": "widget"}}},
            {"name": "read", "request": {"url": "/items/3"}, "expect": {"json": {"/name": "widget", "/size": 1}}},
            {"name": "health", "request": {"url": "/health"}},
            {"name": "json body", "request": {"url": "/x"}, "expect": {"json": {"": 1}}}
        ]"#;
        let checks = checks(scenario, Some(&format!("{base}/"))).unwrap();
        let outcomes: Vec<Outcome> = checks.iter().map(run_check).collect();
        let bodies = srv.join().unwrap();
        assert_eq!(bodies[0], r#"{"name":"widget"}"#);
        let statuses: Vec<CaseStatus> = outcomes.iter().map(|o| o.status).collect();
        assert_eq!(
            statuses,
            [
                CaseStatus::Passed,
                CaseStatus::Failed,
                CaseStatus::Failed,
                CaseStatus::Failed
            ]
        );
        let message = |i: usize| outcomes[i].message.clone().unwrap();
        assert_eq!(
            message(0),
            format!(
                "POST {base}/items → 201, body contains \"widget\", 2 JSON value(s) as expected"
            )
        );
        assert_eq!(
            message(1),
            format!(
                "GET {base}/items/3: `/name`: expected \"widget\", found \"gadget\"; `/size`: expected 1, found nothing"
            )
        );
        assert!(message(2).contains("expected status 200, got 500 Oops (body \"boom\")"));
        assert!(message(3).contains("expected a JSON body"));
    }

    #[test]
    fn unreachable_host_is_a_failed_case() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let checks = checks(
            &format!(r#"[{{"name": "a", "request": {{"url": "http://127.0.0.1:{port}/"}}}}]"#),
            None,
        )
        .unwrap();
        let o = run_check(&checks[0]);
        assert_eq!(o.status, CaseStatus::Failed);
        let message = o.message.unwrap();
        assert!(message.contains("cannot connect"), "{message}");
    }

    #[test]
    fn scenario_errors_name_the_step_and_field() {
        let bad = |text: &str| match checks(text, None) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(bad("[]").contains("no step"));
        assert!(bad(r#"[{"name": "a", "request": {"url": "/x"}}]"#).starts_with("scenario `t/scenario.json`: [0].request.url: `/x` is relative but config.base_url is not set"));
        assert!(
            bad(r#"[{"name": "a", "request": {"url": "https://x/"}}]"#)
                .contains("[0].request.url: `https://x/`: https is not supported")
        );
        assert!(bad(r#"[{"name": "a", "request": {"url": "http://x/"}}, {"name": "a", "request": {"url": "http://x/"}}]"#).contains("[1].name: `a` is used"));
        assert!(
            bad(
                r#"[{"name": "a", "request": {"url": "http://x/"}, "expect": {"json": {"id": 1}}}]"#
            )
            .contains("[0].expect.json: `id` is not a JSON pointer")
        );
        assert!(
            bad(r#"[{"name": "a", "request": {"url": "http://x/"}, "expect": {"code": 1}}]"#)
                .starts_with("scenario `t/scenario.json`: [0].expect.code: unknown field")
        );
        assert!(bad(r#"{"name": "a"}"#).starts_with("scenario `t/scenario.json`: invalid type"));
        assert!(bad(r#"[{"#).starts_with("scenario `t/scenario.json` is not valid JSON: "));
    }
}
