//! Resource type `http-deploy`: a deployment target behind a platform HTTP API.
//!
//! `put` sends a manifest and the resolved versions to the platform, waits until the platform
//! reports the deployment finished and returns it as the version `{deployment, digest}`;
//! `check` reports what is deployed; `get` writes the deployment record to
//! `/output/deployment.json`. See README.md for the API the platform must serve.

use std::fmt::Write as _;
use std::thread;
use std::time::{Duration, Instant};

use lockgate_sdk::http::{Request, Response, Url};
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, ResourceType, Version, input_file,
    output_path,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// How many failed polls in a row (connection errors, 5xx) are tolerated while waiting.
const MAX_POLL_ERRORS: u32 = 5;
/// Cap on one platform answer.
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// Deadline of one request to the platform.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The resource type.
pub struct HttpDeploy;

/// `source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Base URL of the platform API, `http(s)://host[:port]` (optionally with a path prefix).
    api: String,
    /// Name of the application on the platform.
    app: String,
    /// Bearer token (pass it as a `((secret))`).
    token: String,
    /// Interval between two status polls while waiting for a deployment.
    #[serde(default = "default_poll_ms")]
    poll_ms: u64,
    /// How long `put` waits for the deployment to finish.
    #[serde(default = "default_timeout_s")]
    timeout_s: u64,
}

fn default_poll_ms() -> u64 {
    200
}
fn default_timeout_s() -> u64 {
    60
}

/// `params` of `put`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// `"<input>/<path>"` of the manifest, sent as text.
    manifest: String,
    /// The resolved versions: an object sent as it is, or `"<input>/<path>"` of a JSON file
    /// holding that object.
    versions: Option<Value>,
}

/// A validated `source`.
#[derive(Debug)]
struct Platform {
    base: String,
    app: String,
    token: String,
    poll: Duration,
    timeout: Duration,
}

impl Platform {
    fn new(source: Source) -> Result<Self, Error> {
        let url = Url::parse(&source.api)
            .map_err(|e| Error::invalid_config(format!("source.api: {e}")))?;
        if url.target().contains('?') {
            return Err(Error::invalid_config(format!(
                "source.api: `{}` must not have a query",
                source.api
            )));
        }
        let valid_app = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if source.app.is_empty()
            || !source.app.chars().all(valid_app)
            || source.app.starts_with('.')
        {
            return Err(Error::invalid_config(format!(
                "source.app: {:?} must be a non-empty name of letters, digits, `-`, `_` and `.`",
                source.app
            )));
        }
        if source.token.trim().is_empty() {
            return Err(Error::invalid_config("source.token: must not be empty"));
        }
        if source.token.contains(['\r', '\n']) {
            return Err(Error::invalid_config("source.token: must be a single line"));
        }
        if source.poll_ms == 0 {
            return Err(Error::invalid_config("source.poll_ms: must be at least 1"));
        }
        if source.timeout_s == 0 {
            return Err(Error::invalid_config(
                "source.timeout_s: must be at least 1",
            ));
        }
        let path = url.target().trim_end_matches('/');
        Ok(Self {
            base: format!("{}{path}", url.origin()),
            app: source.app,
            token: source.token,
            poll: Duration::from_millis(source.poll_ms),
            timeout: Duration::from_secs(source.timeout_s),
        })
    }

    fn app_url(&self) -> String {
        format!("{}/v1/apps/{}", self.base, self.app)
    }

    fn deployments_url(&self) -> String {
        format!("{}/deployments", self.app_url())
    }

    fn deployment_url(&self, id: &str) -> String {
        format!("{}/{}", self.deployments_url(), encode_segment(id))
    }

    fn request(&self, method: &str, url: &str) -> Result<Request, Error> {
        Ok(Request::new(method, url)?
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Accept", "application/json")
            .timeout(REQUEST_TIMEOUT)
            .max_response_bytes(MAX_RESPONSE_BYTES))
    }

    /// Sends, and turns non-2xx answers into errors (404 → `None`).
    fn send(&self, request: Request) -> Result<Option<Response>, Error> {
        let what = format!("{} {}", request.method(), request.url());
        let response = request.send()?;
        match response.status {
            200..=299 => Ok(Some(response)),
            404 => Ok(None),
            401 | 403 => Err(Error::failed(format!(
                "{what}: the platform refused the token: {} {} {}",
                response.status,
                response.reason,
                preview(&response)
            ))),
            _ => Err(Error::failed(format!(
                "{what}: the platform answered {} {} {}",
                response.status,
                response.reason,
                preview(&response)
            ))),
        }
    }

    /// What is deployed now, if anything.
    fn current(&self) -> Result<Option<Version>, Error> {
        let url = self.app_url();
        let Some(response) = self.send(self.request("GET", &url)?)? else {
            return Ok(None);
        };
        let body: Value = response
            .json()
            .map_err(|e| Error::failed(format!("GET {url}: {e}")))?;
        let deployment = body.get("deployment").and_then(id_text);
        let Some(deployment) = deployment else {
            // An app that exists with nothing deployed yet.
            return Ok(None);
        };
        let digest = body.get("digest").and_then(Value::as_str).ok_or_else(|| {
            Error::failed(format!(
                "GET {url}: the answer has no string `digest`: {body}"
            ))
        })?;
        Ok(Some(
            Version::new()
                .with("deployment", deployment)
                .with("digest", digest),
        ))
    }

    /// The deployment record `id`, or `None` if the platform does not know it.
    fn deployment(&self, id: &str) -> Result<Option<Value>, Error> {
        let url = self.deployment_url(id);
        let Some(response) = self.send(self.request("GET", &url)?)? else {
            return Ok(None);
        };
        let body: Value = response
            .json()
            .map_err(|e| Error::failed(format!("GET {url}: {e}")))?;
        if !body.is_object() {
            return Err(Error::failed(format!(
                "GET {url}: expected a JSON object, got {body}"
            )));
        }
        Ok(Some(body))
    }

    /// Starts a deployment and waits for it; `sleep` waits between polls.
    fn deploy(
        &self,
        manifest: &str,
        versions: Value,
        sleep: impl Fn(Duration),
    ) -> Result<Fetched, Error> {
        let digest = sha256(manifest.as_bytes());
        let url = self.deployments_url();
        let body = json!({
            "app": self.app,
            "manifest": manifest,
            "versions": versions,
            "digest": digest,
        });
        let started = Instant::now();
        let response = self
            .send(self.request("POST", &url)?.json(&body))?
            .ok_or_else(|| {
                Error::failed(format!(
                    "POST {url}: 404: the platform does not know app `{}`",
                    self.app
                ))
            })?;
        let answer: Value = response
            .json()
            .map_err(|e| Error::failed(format!("POST {url}: {e}")))?;
        let id = answer.get("id").and_then(id_text).ok_or_else(|| {
            Error::failed(format!("POST {url}: the answer has no `id`: {answer}"))
        })?;
        note(&format!(
            "deployment {id} of `{}` started; waiting for it",
            self.app
        ));

        let mut polls = 0u32;
        let mut errors = 0u32;
        let mut last_state = String::from("(none yet)");
        loop {
            if started.elapsed() >= self.timeout {
                return Err(Error::failed(format!(
                    "deployment {id} of `{}` did not finish within {} s (last state: {last_state}, {polls} polls)",
                    self.app,
                    self.timeout.as_secs()
                )));
            }
            sleep(
                self.poll
                    .min(self.timeout.saturating_sub(started.elapsed())),
            );
            polls += 1;
            let record = match self.deployment(&id) {
                Ok(Some(record)) => {
                    errors = 0;
                    record
                }
                Ok(None) => {
                    return Err(Error::failed(format!(
                        "deployment {id} of `{}` vanished: the platform answered 404",
                        self.app
                    )));
                }
                Err(e) if refused(&e) => return Err(e),
                Err(e) => {
                    errors += 1;
                    if errors >= MAX_POLL_ERRORS {
                        return Err(
                            e.context(format!("deployment {id}: {errors} polls failed in a row"))
                        );
                    }
                    note(&format!("polling deployment {id}: {e}; retrying"));
                    continue;
                }
            };
            let state = record.get("state").and_then(Value::as_str).unwrap_or("");
            if state != last_state {
                note(&format!("deployment {id}: {state}"));
                last_state = state.to_string();
            }
            match state {
                "finished" => {
                    let digest = record
                        .get("digest")
                        .and_then(Value::as_str)
                        .unwrap_or(&digest)
                        .to_string();
                    return Ok(Fetched::new(
                        Version::new()
                            .with("deployment", &id)
                            .with("digest", digest),
                    )
                    .with_metadata("app", &self.app)
                    .with_metadata("api", &self.base)
                    .with_metadata("state", "finished")
                    .with_metadata("polls", polls)
                    .with_metadata("duration_ms", started.elapsed().as_millis()));
                }
                "failed" => {
                    let message = record
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(the platform gave no message)");
                    return Err(Error::failed(format!(
                        "deployment {id} of `{}` failed: {message}",
                        self.app
                    )));
                }
                _ => {}
            }
        }
    }
}

/// Whether an error is the sandbox refusing the connection (retrying cannot help); the SDK's
/// HTTP client words that refusal this way.
fn refused(e: &Error) -> bool {
    e.message().contains("the sandbox refused the connection")
}

/// An id as the platform sends it: a string or a number.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Percent-encodes everything but unreserved characters, for one path segment.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn sha256(bytes: &[u8]) -> String {
    let mut hex = String::from("sha256:");
    for b in Sha256::digest(bytes) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

fn preview(response: &Response) -> String {
    let text = response.text();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{:?}...", &text[..i]),
        None => format!("{text:?}"),
    }
}

/// Writes a progress line to the build log (to stderr in native unit tests, where the host
/// import does not exist).
fn note(message: &str) {
    #[cfg(target_arch = "wasm32")]
    lockgate_sdk::log::info(message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}

/// Resolves `params.versions`: an object, or a JSON file holding one.
fn load_versions(versions: Option<Value>) -> Result<Value, Error> {
    match versions {
        None => Ok(Value::Object(Map::new())),
        Some(Value::Object(map)) => Ok(Value::Object(map)),
        Some(Value::String(reference)) => {
            let path = input_file(&reference).map_err(|e| e.context("params.versions"))?;
            let text = std::fs::read_to_string(&path).with_path(&path)?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => Ok(Value::Object(map)),
                Ok(other) => Err(Error::failed(format!(
                    "`{reference}` (params.versions) must hold a JSON object, found {other}"
                ))),
                Err(e) => Err(Error::failed(format!(
                    "`{reference}` (params.versions) is not valid JSON: {e}"
                ))),
            }
        }
        Some(other) => Err(Error::invalid_config(format!(
            "params.versions: expected an object or an `<input>/<path>` string, found {other}"
        ))),
    }
}

impl ResourceType for HttpDeploy {
    type Source = Source;
    type GetParams = NoParams;
    type PutParams = PutParams;

    fn describe() -> Description {
        Description::new("http-deploy", env!("CARGO_PKG_VERSION"))
            .summary("Deploys a manifest through a platform HTTP API and reports what is deployed")
            .network("*", 0, "the platform API host (source.api)")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "api": { "type": "string", "pattern": "^https?://", "description": "Base URL of the platform API, http(s)://host[:port][/prefix]" },
                    "app": { "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]*$" },
                    "token": { "type": "string", "minLength": 1, "description": "Bearer token; pass a ((secret))" },
                    "poll_ms": { "type": "integer", "minimum": 1, "default": 200 },
                    "timeout_s": { "type": "integer", "minimum": 1, "default": 60 }
                },
                "required": ["api", "app", "token"],
                "additionalProperties": false
            }))
            .get_params_schema(json!({ "type": "object" }))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "manifest": { "type": "string", "description": "<input>/<path> of the manifest" },
                    "versions": {
                        "description": "The resolved versions: an object, or <input>/<path> of a JSON file holding one",
                        "type": ["object", "string"]
                    }
                },
                "required": ["manifest"],
                "additionalProperties": false
            }))
    }

    /// Only what is deployed now: the platform does not list past deployments, so `from`
    /// is not needed to answer (the engine keeps the history it has seen).
    fn check(source: Source, _from: Option<Version>) -> Result<Vec<Version>, Error> {
        let platform = Platform::new(source)?;
        Ok(platform.current()?.into_iter().collect())
    }

    fn get(source: Source, version: Version, _: NoParams) -> Result<Fetched, Error> {
        let platform = Platform::new(source)?;
        let id = version
            .get("deployment")
            .ok_or_else(|| Error::not_found(format!("version {version} has no `deployment`")))?;
        let record = platform.deployment(id)?.ok_or_else(|| {
            Error::not_found(format!(
                "deployment {id} of `{}` is unknown to the platform",
                platform.app
            ))
        })?;
        let out = output_path("deployment.json");
        let text = serde_json::to_string_pretty(&record)?;
        std::fs::write(&out, text).with_path(&out)?;
        let state = record
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        Ok(Fetched::new(version)
            .with_metadata("app", &platform.app)
            .with_metadata("state", state))
    }

    fn put(source: Source, params: PutParams) -> Result<Fetched, Error> {
        let platform = Platform::new(source)?;
        let path = input_file(&params.manifest).map_err(|e| e.context("params.manifest"))?;
        let versions = load_versions(params.versions)?;
        let manifest = std::fs::read_to_string(&path).with_path(&path)?;
        platform.deploy(&manifest, versions, thread::sleep)
    }
}

lockgate_sdk::export_resource_type!(HttpDeploy);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::parse_json;

    fn platform(json: &str) -> Platform {
        Platform::new(parse_json("source", json).unwrap()).unwrap()
    }

    #[test]
    fn source_errors_name_the_field() {
        let bad = |json: &str| match parse_json::<Source>("source", json).and_then(Platform::new) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            bad(r#"{"api": "ftp://p/", "app": "a", "token": "t"}"#)
                .starts_with("source.api: `ftp://p/`: only `http://` and `https://`")
        );
        assert!(
            bad(r#"{"api": "https://p/?x=1", "app": "a", "token": "t"}"#)
                .starts_with("source.api: `https://p/?x=1` must not have a query")
        );
        assert!(
            bad(r#"{"api": "http://p/", "app": "a/b", "token": "t"}"#).starts_with("source.app: ")
        );
        assert!(
            bad(r#"{"api": "http://p/", "app": "a", "token": " "}"#).starts_with("source.token: ")
        );
        assert!(
            bad(r#"{"api": "http://p/", "app": "a", "token": "t", "poll_ms": 0}"#)
                .starts_with("source.poll_ms: ")
        );
        assert!(
            bad(r#"{"api": "http://p/", "app": "a"}"#).starts_with("source: missing field `token`")
        );
        assert!(
            matches!(load_versions(Some(json!(3))), Err(Error::InvalidConfig(m)) if m.starts_with("params.versions: "))
        );
        assert_eq!(load_versions(None).unwrap(), json!({}));
    }

    #[test]
    fn urls_of_the_platform_api() {
        let p = platform(r#"{"api": "http://p:8/base/", "app": "a", "token": "t"}"#);
        assert_eq!(
            p.deployment_url("x y"),
            "http://p:8/base/v1/apps/a/deployments/x%20y"
        );
        let p = platform(r#"{"api": "https://platform.example", "app": "web", "token": "t"}"#);
        assert_eq!(p.app_url(), "https://platform.example/v1/apps/web");
        let p =
            platform(r#"{"api": "https://platform.example:8443/api", "app": "web", "token": "t"}"#);
        assert_eq!(
            p.deployments_url(),
            "https://platform.example:8443/api/v1/apps/web/deployments"
        );
    }

    /// Outside the sandbox (a native build) a request fails, saying why; through the test
    /// runner on wasm32 nothing listens on port 9 of 127.0.0.1 (discard). Neither leaks the
    /// token.
    #[test]
    fn an_unreachable_platform_is_a_failed_error() {
        let p = platform(r#"{"api": "http://127.0.0.1:9", "app": "web", "token": "s3cret"}"#);
        let e = p.current().unwrap_err();
        assert!(matches!(e, Error::Failed(_)), "{e:?}");
        assert!(
            e.message()
                .starts_with("GET http://127.0.0.1:9/v1/apps/web: "),
            "{e}"
        );
        assert!(!e.message().contains("s3cret"));
        assert!(!refused(&e));
    }
}
