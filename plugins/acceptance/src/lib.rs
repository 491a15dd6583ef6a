//! Test step `acceptance`: runs a scenario file of HTTP requests against the deployed
//! environment; each step, with its assertions, is one test case.
//!
//! See README.md for the configuration and the scenario format.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lockgate_sdk::http::{HttpError, Request, Response, Url};
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
    /// `http(s)://host[:port]/path`, or `/path` joined to `config.base_url`.
    url: String,
    /// Request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Body: a string is sent as it is; any other JSON value is sent as JSON.
    body: Option<Value>,
    /// Redirects followed before the response is judged (0: a `3xx` is judged as it is).
    #[serde(default)]
    max_redirects: u32,
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
            .timeout(timeout)
            .max_redirects(step.request.max_redirects);
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

/// How a request is sent: [`Request::send`], or a fake in unit tests.
type SendFn<'a> = dyn Fn(&Request) -> Result<Response, HttpError> + 'a;

/// Sends the request of a step with `send` and judges the response.
fn run_check(check: &Check, send: &SendFn<'_>) -> Outcome {
    let what = format!("{} {}", check.request.method(), check.request.url());
    let response = match send(&check.request) {
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
                    "base_url": { "type": "string", "pattern": "^https?://", "description": "Joined to relative request URLs (/path): http(s)://host[:port][/prefix]" },
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
            suite.case(check.name.as_str(), || run_check(check, &Request::send));
        }
        Ok(suite.into())
    }
}

lockgate_sdk::export_test_step!(Acceptance);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::CaseStatus;
    use std::cell::RefCell;

    fn checks(scenario: &str, base: Option<&str>) -> Result<Vec<Check>, Error> {
        parse_scenario(scenario, "t/scenario.json", base, Duration::from_secs(5))
    }

    #[test]
    fn steps_pass_and_fail() {
        let replies = RefCell::new(vec![
            (201, "{\"id\": 3, \"name\": \"widget\"}"),
            (200, "{\"id\": 3, \"name\": \"gadget\"}"),
            (500, "boom"),
            (200, "not json!"),
        ]);
        let sent = RefCell::new(Vec::new());
        let send = |request: &Request| -> Result<Response, HttpError> {
            sent.borrow_mut()
                .push(format!("{} {}", request.method(), request.url()));
            let (status, body) = replies.borrow_mut().remove(0);
            Ok(Response {
                status,
                reason: if status == 500 {
                    "Internal Server Error"
                } else {
                    ""
                }
                .into(),
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
                url: request.url().clone(),
            })
        };
        let scenario = r#"[
            {"name": "create", "request": {"method": "POST", "url": "/items", "body": {"name": "widget"}},
             "expect": {"status": 201, "body_contains": "widget", "json": {"/id": 3, "/name": "widget"}}},
            {"name": "read", "request": {"url": "/items/3"}, "expect": {"json": {"/name": "widget", "/size": 1}}},
            {"name": "health", "request": {"url": "https://status.example/health", "max_redirects": 2}},
            {"name": "json body", "request": {"url": "/x"}, "expect": {"json": {"": 1}}}
        ]"#;
        let base = "https://app.example:8443/api";
        let checks = checks(scenario, Some(&format!("{base}/"))).unwrap();
        let outcomes: Vec<Outcome> = checks.iter().map(|c| run_check(c, &send)).collect();
        assert_eq!(
            *sent.borrow(),
            [
                format!("POST {base}/items"),
                format!("GET {base}/items/3"),
                "GET https://status.example/health".to_string(),
                format!("GET {base}/x"),
            ]
        );
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
        assert!(
            message(2)
                .contains("expected status 200, got 500 Internal Server Error (body \"boom\")"),
            "{}",
            message(2)
        );
        assert!(message(3).contains("expected a JSON body"));
    }

    /// Outside the sandbox (a native build) a request fails, saying why; through the test
    /// runner on wasm32 nothing listens on port 9 of 127.0.0.1 (discard).
    #[test]
    fn unreachable_host_is_a_failed_case() {
        let checks = checks(
            r#"[{"name": "a", "request": {"url": "http://127.0.0.1:9/"}}]"#,
            None,
        )
        .unwrap();
        let o = run_check(&checks[0], &Request::send);
        assert_eq!(o.status, CaseStatus::Failed);
        let message = o.message.unwrap();
        assert!(
            message.starts_with("GET http://127.0.0.1:9/: "),
            "{message}"
        );
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
            bad(r#"[{"name": "a", "request": {"url": "ftp://x/"}}]"#)
                .contains("[0].request.url: `ftp://x/`: only `http://` and `https://`")
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
