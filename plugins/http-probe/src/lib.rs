//! Test step `http-probe`: one smoke-test case per HTTP check (status, body regex, latency),
//! each retried with exponential backoff.
//!
//! See README.md for the configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use lockgate_sdk::http::{HttpError, HttpErrorKind, Request, Response, Url};
use lockgate_sdk::serde_json::json;
use lockgate_sdk::{Description, Error, Outcome, TestReport, TestStep, TestSuite};
use regex::Regex;
use serde::Deserialize;

/// How much of a body a failure message quotes.
const PREVIEW_CHARS: usize = 200;
/// Upper bound of `retries`.
const MAX_RETRIES: u32 = 20;
/// Upper bound of one backoff sleep, whatever `backoff_ms` and the attempt number.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The test step.
pub struct HttpProbe;

/// `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the suite in the report.
    #[serde(default = "default_suite")]
    suite: String,
    /// The checks, one test case each, run in order.
    checks: Vec<CheckConfig>,
    /// Attempts after the first one when a check fails.
    #[serde(default = "default_retries")]
    retries: u32,
    /// Sleep before the first retry; doubled before each next one.
    #[serde(default = "default_backoff_ms")]
    backoff_ms: u64,
    /// Deadline of one request (connect, send, receive).
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_suite() -> String {
    "smoke".to_string()
}
fn default_retries() -> u32 {
    3
}
fn default_backoff_ms() -> u64 {
    500
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_method() -> String {
    "GET".to_string()
}
fn default_status() -> u16 {
    200
}

/// One check of one URL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Case name; defaults to `<METHOD> <url>`.
    name: Option<String>,
    /// `http(s)://host[:port]/path`.
    url: String,
    /// HTTP method.
    #[serde(default = "default_method")]
    method: String,
    /// Expected status code.
    #[serde(default = "default_status")]
    expect_status: u16,
    /// A regular expression the body must match (anywhere).
    body_regex: Option<String>,
    /// The slowest acceptable answer, in milliseconds.
    max_latency_ms: Option<u64>,
    /// Request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Request body.
    body: Option<String>,
    /// Redirects followed before judging the answer (0: a `3xx` is judged as it is).
    #[serde(default)]
    max_redirects: u32,
}

/// A check after validation.
#[derive(Debug)]
struct Check {
    name: String,
    request: Request,
    expect_status: u16,
    body_regex: Option<Regex>,
    max_latency: Option<Duration>,
}

/// The retry policy.
#[derive(Debug, Clone, Copy)]
struct Retry {
    retries: u32,
    backoff: Duration,
}

impl Retry {
    /// The sleep before retry number `n` (1-based): `backoff * 2^(n-1)`, capped.
    fn delay(self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.backoff
            .checked_mul(factor)
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
    }
}

fn validate(config: Config) -> Result<(String, Retry, Vec<Check>), Error> {
    if config.checks.is_empty() {
        return Err(Error::invalid_config(
            "config.checks: expected at least one check",
        ));
    }
    if config.retries > MAX_RETRIES {
        return Err(Error::invalid_config(format!(
            "config.retries: {} is more than the maximum of {MAX_RETRIES}",
            config.retries
        )));
    }
    if config.timeout_ms == 0 {
        return Err(Error::invalid_config(
            "config.timeout_ms: must be at least 1",
        ));
    }
    let timeout = Duration::from_millis(config.timeout_ms);
    let mut names = BTreeSet::new();
    let mut checks = Vec::with_capacity(config.checks.len());
    for (i, c) in config.checks.into_iter().enumerate() {
        let field = format!("config.checks[{i}]");
        Url::parse(&c.url).map_err(|e| Error::invalid_config(format!("{field}.url: {e}")))?;
        let mut request = Request::new(&c.method, &c.url)
            .map_err(|e| Error::invalid_config(format!("{field}.method: {e}")))?
            .timeout(timeout)
            .max_redirects(c.max_redirects);
        for (name, value) in &c.headers {
            request = request.header(name, value);
        }
        if let Some(body) = c.body {
            request = request.body(body);
        }
        if !(100..=599).contains(&c.expect_status) {
            return Err(Error::invalid_config(format!(
                "{field}.expect_status: {} is not an HTTP status (100-599)",
                c.expect_status
            )));
        }
        let body_regex = c
            .body_regex
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| Error::invalid_config(format!("{field}.body_regex: {e}")))?;
        // Case names are unique within a suite: number repeated ones.
        let base = c
            .name
            .unwrap_or_else(|| format!("{} {}", request.method(), c.url));
        let mut name = base.clone();
        let mut n = 1;
        while !names.insert(name.clone()) {
            n += 1;
            name = format!("{base} #{n}");
        }
        checks.push(Check {
            name,
            request,
            expect_status: c.expect_status,
            body_regex,
            max_latency: c.max_latency_ms.map(Duration::from_millis),
        });
    }
    let retry = Retry {
        retries: config.retries,
        backoff: Duration::from_millis(config.backoff_ms),
    };
    Ok((config.suite, retry, checks))
}

/// Why one attempt failed, and whether another attempt may help.
struct AttemptFailure {
    message: String,
    retry: bool,
}

fn preview(body: &str) -> String {
    match body.char_indices().nth(PREVIEW_CHARS) {
        Some((i, _)) => format!("{:?}... ({} bytes)", &body[..i], body.len()),
        None => format!("{body:?}"),
    }
}

/// One attempt, the request sent by `send`: what was found on success.
fn attempt(check: &Check, send: &SendFn<'_>) -> Result<String, AttemptFailure> {
    let start = Instant::now();
    let response = send(&check.request).map_err(|e| AttemptFailure {
        retry: e.kind != HttpErrorKind::Refused,
        message: e.message,
    })?;
    judge(check, &response, start.elapsed())
}

/// Judges a response that took `latency`: what was found, or why the check failed.
fn judge(check: &Check, response: &Response, latency: Duration) -> Result<String, AttemptFailure> {
    let fail = |message: String| AttemptFailure {
        message,
        retry: true,
    };
    if response.status != check.expect_status {
        return Err(fail(format!(
            "expected status {}, got {} {} (body {})",
            check.expect_status,
            response.status,
            response.reason,
            preview(&response.text())
        )));
    }
    let mut found = vec![format!("status {}", response.status)];
    if let Some(re) = &check.body_regex {
        let body = response.text();
        if !re.is_match(&body) {
            return Err(fail(format!(
                "expected the body to match /{re}/, got {}",
                preview(&body)
            )));
        }
        found.push(format!("body matches /{re}/"));
    }
    if let Some(max) = check.max_latency
        && latency > max
    {
        return Err(fail(format!(
            "expected an answer within {} ms, took {} ms",
            max.as_millis(),
            latency.as_millis()
        )));
    }
    found.push(format!("in {} ms", latency.as_millis()));
    Ok(found.join(", "))
}

/// Writes a progress line to the build log (to stderr in unit tests, where the SDK is built
/// with its `testing` feature).
fn note(message: &str) {
    lockgate_sdk::log::info(message);
}

/// How a request is sent: [`Request::send`], or a fake in unit tests.
type SendFn<'a> = dyn Fn(&Request) -> Result<Response, HttpError> + 'a;

/// Runs a check with retries: `send` sends each attempt, `sleep` waits between attempts.
fn run_check(check: &Check, retry: Retry, send: &SendFn<'_>, sleep: impl Fn(Duration)) -> Outcome {
    let attempts = retry.retries + 1;
    let mut errors = Vec::new();
    for n in 1..=attempts {
        if n > 1 {
            let delay = retry.delay(n - 1);
            note(&format!(
                "{}: retrying in {} ms",
                check.name,
                delay.as_millis()
            ));
            sleep(delay);
        }
        match attempt(check, send) {
            Ok(found) if n == 1 => return Outcome::passed_with(found),
            Ok(found) => {
                return Outcome::passed_with(format!(
                    "{found} (attempt {n} of {attempts}; before: {})",
                    errors.join("; ")
                ));
            }
            Err(failure) if !failure.retry => {
                return Outcome::failed(if errors.is_empty() {
                    failure.message
                } else {
                    format!("{} (after: {})", failure.message, errors.join("; "))
                });
            }
            Err(failure) => {
                note(&format!(
                    "{}: attempt {n} of {attempts}: {}",
                    check.name, failure.message
                ));
                errors.push(format!("attempt {n}: {}", failure.message));
            }
        }
    }
    Outcome::failed(format!(
        "failed after {attempts} attempt(s): {}",
        errors.join("; ")
    ))
}

impl TestStep for HttpProbe {
    type Config = Config;

    fn describe() -> Description {
        Description::new("http-probe", env!("CARGO_PKG_VERSION"))
            .summary("Smoke-tests HTTP endpoints: status, body regex and latency, with retries")
            .network("*", 0, "the URLs of config.checks")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "suite": { "type": "string", "default": "smoke" },
                    "checks": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": { "type": "string", "description": "Case name; defaults to `<METHOD> <url>`" },
                                "url": { "type": "string", "pattern": "^https?://", "description": "http(s)://host[:port]/path" },
                                "method": { "type": "string", "default": "GET" },
                                "expect_status": { "type": "integer", "minimum": 100, "maximum": 599, "default": 200 },
                                "body_regex": { "type": "string", "description": "Regular expression the body must match" },
                                "max_latency_ms": { "type": "integer", "minimum": 0 },
                                "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                                "body": { "type": "string" },
                                "max_redirects": { "type": "integer", "minimum": 0, "default": 0, "description": "Redirects followed before judging the answer; 0: a 3xx is judged as it is" }
                            },
                            "required": ["url"],
                            "additionalProperties": false
                        }
                    },
                    "retries": { "type": "integer", "minimum": 0, "maximum": MAX_RETRIES, "default": 3 },
                    "backoff_ms": { "type": "integer", "minimum": 0, "default": 500 },
                    "timeout_ms": { "type": "integer", "minimum": 1, "default": 10000 }
                },
                "required": ["checks"],
                "additionalProperties": false
            }))
    }

    fn run(config: Config) -> Result<TestReport, Error> {
        let (suite_name, retry, checks) = validate(config)?;
        let mut suite = TestSuite::new(suite_name);
        for check in &checks {
            suite.case(check.name.as_str(), || {
                run_check(check, retry, &Request::send, std::thread::sleep)
            });
        }
        Ok(suite.into())
    }
}

lockgate_sdk::export_test_step!(HttpProbe);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::{CaseStatus, parse_json};
    use std::cell::RefCell;

    fn checks(json: &str) -> (Retry, Vec<Check>) {
        let config: Config = parse_json("config", json).unwrap();
        let (_, retry, checks) = validate(config).unwrap();
        (retry, checks)
    }

    fn response(request: &Request, status: u16, body: &str) -> Response {
        Response {
            status,
            reason: String::new(),
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            url: request.url().clone(),
        }
    }

    /// A fake `send` answering `(status, body)` in order, counting the requests.
    fn answers(
        replies: Vec<(u16, &'static str)>,
    ) -> (
        impl Fn(&Request) -> Result<Response, HttpError>,
        std::rc::Rc<RefCell<usize>>,
    ) {
        let sent = std::rc::Rc::new(RefCell::new(0));
        let count = sent.clone();
        let send = move |request: &Request| {
            let mut n = count.borrow_mut();
            let (status, body) = replies[*n];
            *n += 1;
            Ok(response(request, status, body))
        };
        (send, sent)
    }

    const OK: (u16, &str) = (200, "{\"ok\": \"1.2\"}\n");
    const DOWN: (u16, &str) = (503, "down");

    #[test]
    fn passes_after_retries_with_exponential_backoff() {
        let (send, sent) = answers(vec![DOWN, DOWN, OK]);
        let (retry, checks) = checks(
            r#"{"checks": [{"url": "https://h/health", "body_regex": "\"ok\": \"\\d+\\.\\d+\""}], "backoff_ms": 10}"#,
        );
        let slept = RefCell::new(Vec::new());
        let o = run_check(&checks[0], retry, &send, |d| slept.borrow_mut().push(d));
        assert_eq!(o.status, CaseStatus::Passed, "{o:?}");
        let message = o.message.unwrap();
        assert!(message.contains("attempt 3 of 4"), "{message}");
        assert!(
            message.contains("expected status 200, got 503"),
            "{message}"
        );
        assert_eq!(
            *slept.borrow(),
            [Duration::from_millis(10), Duration::from_millis(20)]
        );
        assert_eq!(*sent.borrow(), 3);
        assert_eq!(checks[0].name, "GET https://h/health");
    }

    #[test]
    fn fails_on_body_and_status_after_all_attempts() {
        let (send, _) = answers(vec![OK, OK]);
        let (retry, checks) = checks(
            r#"{"checks": [{"url": "http://h/", "body_regex": "^nope"}], "retries": 1, "backoff_ms": 0}"#,
        );
        let o = run_check(&checks[0], retry, &send, |_| {});
        assert_eq!(o.status, CaseStatus::Failed);
        let message = o.message.unwrap();
        assert!(
            message.starts_with(
                "failed after 2 attempt(s): attempt 1: expected the body to match /^nope/"
            ),
            "{message}"
        );
    }

    #[test]
    fn latency_is_judged() {
        let (_, checks) = checks(r#"{"checks": [{"url": "http://h/", "max_latency_ms": 5}]}"#);
        let ok = response(&checks[0].request, 200, "");
        assert!(judge(&checks[0], &ok, Duration::from_millis(4)).is_ok());
        let slow = judge(&checks[0], &ok, Duration::from_millis(6)).unwrap_err();
        assert_eq!(slow.message, "expected an answer within 5 ms, took 6 ms");
    }

    #[test]
    fn a_refusal_is_not_retried_and_errors_are_failed_cases() {
        let refused = |_: &Request| -> Result<Response, HttpError> {
            Err(HttpError {
                kind: HttpErrorKind::Refused,
                message: "GET http://h/: the sandbox refused the connection to h:80".into(),
            })
        };
        let (retry, probes) = checks(r#"{"checks": [{"url": "http://h/"}], "backoff_ms": 0}"#);
        let o = run_check(&probes[0], retry, &refused, |_| panic!("no retry"));
        assert_eq!(o.status, CaseStatus::Failed);
        assert_eq!(
            o.message.unwrap(),
            "GET http://h/: the sandbox refused the connection to h:80"
        );

        // Outside the sandbox (a native build) every request fails, saying why; through the
        // test runner on wasm32 nothing listens on port 9 of 127.0.0.1 (discard).
        let (retry, checks) = checks(
            r#"{"checks": [{"url": "http://127.0.0.1:9/", "max_latency_ms": 5}], "retries": 0}"#,
        );
        let o = run_check(&checks[0], retry, &Request::send, |_| {});
        assert_eq!(o.status, CaseStatus::Failed);
        let message = o.message.unwrap();
        assert!(
            message.starts_with("failed after 1 attempt(s): attempt 1: GET http://127.0.0.1:9/: "),
            "{message}"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let r = Retry {
            retries: 5,
            backoff: Duration::from_millis(500),
        };
        assert_eq!(r.delay(1), Duration::from_millis(500));
        assert_eq!(r.delay(3), Duration::from_millis(2000));
        assert_eq!(r.delay(40), MAX_BACKOFF);
    }

    #[test]
    fn config_errors_name_the_field() {
        let bad = |json: &str| match parse_json::<Config>("config", json).and_then(validate) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            bad(r#"{"checks": [{"url": "ftp://x/"}]}"#)
                .starts_with("config.checks[0].url: `ftp://x/`: only `http://` and `https://`")
        );
        assert!(
            bad(r#"{"checks": [{"url": "http://x/", "body_regex": "("}]}"#)
                .starts_with("config.checks[0].body_regex: ")
        );
        assert!(
            bad(r#"{"checks": [{"url": "http://x/", "method": "G T"}]}"#)
                .starts_with("config.checks[0].method: ")
        );
        assert!(
            bad(r#"{"checks": [{"url": "http://x/", "expect_status": 42}]}"#)
                .starts_with("config.checks[0].expect_status: ")
        );
        assert!(
            bad(r#"{"checks": [{"url": "http://x/", "expect": 200}]}"#)
                .starts_with("config.checks[0].expect: unknown field")
        );
        assert!(bad(r#"{"checks": []}"#).starts_with("config.checks: "));
        assert!(
            bad(r#"{"checks": [{"url": "http://x/"}], "retries": 99}"#)
                .starts_with("config.retries: ")
        );
        let (_, checks) = checks(
            r#"{"checks": [{"url": "http://x/"}, {"url": "http://x/"}, {"url": "https://x/", "max_redirects": 3}]}"#,
        );
        assert_eq!(checks[1].name, "GET http://x/ #2");
        assert_eq!(checks[2].request.url().port(), 443);
    }
}
