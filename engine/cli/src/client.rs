//! A typed client of the `/api/v1` HTTP API of `lockgate server` (see docs/api.md), used by
//! `lockgate --server URL …`: one async method per endpoint, answers in the API's
//! [wire](lockgate_api::wire) types (the ones its handlers answer with), the live log as
//! typed events, and errors that say what to do (start the server, give a token, fix the
//! URL).

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use lockgate_api::wire::{self, BuildStatus, ErrorBody, Version};

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take, the live log stream aside (it has no limit).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the live log stream may stay silent: the server sends a keep-alive every 15 s, so
/// a longer silence means a dead connection (reconnect).
pub const STREAM_IDLE: Duration = Duration::from_secs(45);

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is malformed or not `http(s)://`.
    #[error("`{url}` is not a lockgate server URL: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection (refused, unknown host, TLS failure, timeout).
    #[error(
        "cannot reach the lockgate server at {url}: {cause} (is `lockgate server` running? --server / LOCKGATE_SERVER)"
    )]
    Unreachable {
        /// The server URL.
        url: String,
        /// Why, from the innermost error.
        cause: String,
    },
    /// The server's TLS certificate does not verify against the trusted roots.
    #[error(
        "the TLS certificate of the lockgate server at {url} does not verify: {cause} (trusted: the system's roots and --ca-cert / LOCKGATE_CA_CERT)"
    )]
    Certificate {
        /// The server URL.
        url: String,
        /// Why, from the innermost error.
        cause: String,
    },
    /// A CA certificate file given with `--ca-cert` is unusable.
    #[error(transparent)]
    CaFile(#[from] lockgate_plugin_host::tls::CaFileError),
    /// 401 without a token.
    #[error(
        "the lockgate server at {url} needs a token: give one with --token or LOCKGATE_TOKEN ({message})"
    )]
    TokenNeeded {
        /// The server URL.
        url: String,
        /// The server's message.
        message: String,
    },
    /// 401 with a token: the server does not know it.
    #[error(
        "the lockgate server at {url} does not accept this token (check --token / LOCKGATE_TOKEN): {message}"
    )]
    TokenRejected {
        /// The server URL.
        url: String,
        /// The server's message.
        message: String,
    },
    /// 403: the token's role is too low.
    #[error("{message} (HTTP 403)")]
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// Any other error status, with the API's `{"error": …}` message.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// An answer that is not the API's JSON (a wrong URL, a proxy's page).
    #[error(
        "{url} answered HTTP {status} with {what}, not the lockgate API: is --server the URL of `lockgate server`?"
    )]
    NotApi {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
        /// What came instead (content type, or what failed to parse).
        what: String,
    },
    /// The connection broke while reading an answer.
    #[error("the answer of {url} broke off: {cause}")]
    Read {
        /// The URL requested.
        url: String,
        /// Why.
        cause: String,
    },
}

/// What the live log stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// A log line.
    Line(wire::LogLine),
    /// The build finished with this status and every line was sent.
    End(BuildStatus),
    /// The server is shutting down.
    Shutdown,
    /// The server failed to read the build or its logs.
    Error(String),
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    shown: String,
    token: Option<String>,
}

impl Client {
    /// A client of the server at `url` (`http(s)://host[:port][/prefix]`, a trailing `/api/v1`
    /// allowed), sending `token` as a bearer token.
    pub fn new(url: &str, token: Option<&str>) -> Result<Self, ClientError> {
        Self::with_ca_certificates(url, token, &[])
    }

    /// [`Client::new`] trusting, besides the system's roots, the CA certificates of the PEM
    /// files `ca_files` (a server with a certificate of a private CA).
    pub fn with_ca_certificates(
        url: &str,
        token: Option<&str>,
        ca_files: &[std::path::PathBuf],
    ) -> Result<Self, ClientError> {
        let base = base_url(url)?;
        let mut builder = reqwest::Client::builder();
        for path in ca_files {
            for der in lockgate_plugin_host::tls::read_ca_file(path)? {
                let cert = reqwest::Certificate::from_der(&der).map_err(|e| {
                    lockgate_plugin_host::tls::CaFileError::Invalid {
                        path: path.clone(),
                        index: 1,
                        reason: e.to_string(),
                    }
                })?;
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("lockgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: url.to_owned(),
                cause: cause(&e),
            })?;
        let shown = base.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            base,
            shown,
            token: token.filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }

    /// The server URL, as shown in messages.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The URL of `/api/v1/<segments…>` (each segment percent-encoded).
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req
    }

    /// Sends `req` (to `url`) and decodes the JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        url: Url,
        req: RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = req
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let response = self.checked(response).await?;
        let status = response.status().as_u16();
        let json = is_json(&response);
        let body = response.bytes().await.map_err(|e| ClientError::Read {
            url: url.to_string(),
            cause: cause(&e),
        })?;
        if !json {
            return Err(ClientError::NotApi {
                url: url.to_string(),
                status,
                what: "an answer that is not JSON".to_owned(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::NotApi {
            url: url.to_string(),
            status,
            what: format!("JSON of another shape ({e})"),
        })
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        let req = self.request(Method::GET, url.clone());
        self.call(url, req).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut req = self.request(method, url.clone());
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.call(url, req).await
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        let cause = if e.is_timeout() {
            format!(
                "no answer within {} s ({})",
                REQUEST_TIMEOUT.as_secs(),
                cause(e)
            )
        } else {
            cause(e)
        };
        if is_certificate_error(e) {
            return ClientError::Certificate {
                url: self.shown.clone(),
                cause,
            };
        }
        ClientError::Unreachable {
            url: self.shown.clone(),
            cause,
        }
    }

    /// Passes a success through; maps an error status to its [`ClientError`].
    async fn checked(&self, response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let url = response.url().to_string();
        let json = is_json(&response);
        let content_type = content_type(&response);
        let body = response.bytes().await.unwrap_or_default();
        Err(self.error_of(&url, status, json, &content_type, &body))
    }

    fn error_of(
        &self,
        url: &str,
        status: StatusCode,
        json: bool,
        content_type: &str,
        body: &[u8],
    ) -> ClientError {
        let message = json
            .then(|| serde_json::from_slice::<ErrorBody>(body).ok())
            .flatten()
            .map(|b| b.error);
        let Some(message) = message else {
            let what = if content_type.is_empty() {
                "an answer that is not JSON".to_owned()
            } else {
                format!("a `{content_type}` answer")
            };
            return ClientError::NotApi {
                url: url.to_owned(),
                status: status.as_u16(),
                what,
            };
        };
        match status {
            StatusCode::UNAUTHORIZED if self.token.is_none() => ClientError::TokenNeeded {
                url: self.shown.clone(),
                message,
            },
            StatusCode::UNAUTHORIZED => ClientError::TokenRejected {
                url: self.shown.clone(),
                message,
            },
            StatusCode::FORBIDDEN => ClientError::Forbidden { message },
            _ => ClientError::Api {
                status: status.as_u16(),
                message,
            },
        }
    }

    /// `GET url` and the text of a successful answer (the endpoints that are not JSON).
    async fn text(&self, url: Url) -> Result<String, ClientError> {
        let response = self
            .request(Method::GET, url.clone())
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let response = self.checked(response).await?;
        response.text().await.map_err(|e| ClientError::Read {
            url: url.to_string(),
            cause: cause(&e),
        })
    }

    /// `GET /healthz`: `ok`.
    pub async fn health(&self) -> Result<String, ClientError> {
        let mut url = self.base.clone();
        url.set_path(&format!("{}healthz", self.base.path()));
        self.text(url).await
    }

    /// `GET /api/v1/openapi.json`: the OpenAPI document.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.get(self.endpoint(&["openapi.json"])).await
    }

    /// `GET /api/v1/metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        self.text(self.endpoint(&["metrics"])).await
    }

    /// `GET /api/v1/pipeline`: the graph.
    pub async fn pipeline(&self) -> Result<wire::PipelineGraph, ClientError> {
        self.get(self.endpoint(&["pipeline"])).await
    }

    /// `GET /api/v1/environments`: where each environment stands.
    pub async fn environments(&self) -> Result<Vec<wire::EnvironmentStatus>, ClientError> {
        self.get(self.endpoint(&["environments"])).await
    }

    /// `GET /api/v1/environments/{env}/why`.
    pub async fn why(&self, environment: &str) -> Result<wire::EnvironmentStatus, ClientError> {
        self.get(self.endpoint(&["environments", environment, "why"]))
            .await
    }

    /// `GET /api/v1/jobs`: each job with its last build.
    pub async fn jobs(&self) -> Result<Vec<wire::JobSummary>, ClientError> {
        self.get(self.endpoint(&["jobs"])).await
    }

    /// `GET /api/v1/builds` (every job) or `/api/v1/jobs/{job}/builds`: a page of builds,
    /// newest first, `limit` (1 to 500; the server's default without) of them with an id
    /// below `before`.
    pub async fn builds(
        &self,
        job: Option<&str>,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<wire::BuildPage, ClientError> {
        let mut url = match job {
            Some(job) => self.endpoint(&["jobs", job, "builds"]),
            None => self.endpoint(&["builds"]),
        };
        page_query(&mut url, limit, before);
        self.get(url).await
    }

    /// `GET /api/v1/builds/{id}`: the build with its inputs and outputs.
    pub async fn build(&self, id: i64) -> Result<wire::BuildDetail, ClientError> {
        self.get(self.endpoint(&["builds", &id.to_string()])).await
    }

    /// `GET /api/v1/jobs/{job}/builds/{number}`.
    pub async fn build_by_number(
        &self,
        job: &str,
        number: i64,
    ) -> Result<wire::Build, ClientError> {
        self.get(self.endpoint(&["jobs", job, "builds", &number.to_string()]))
            .await
    }

    /// `GET /api/v1/builds/{id}/steps`.
    pub async fn steps(&self, id: i64) -> Result<Vec<wire::Step>, ClientError> {
        self.get(self.endpoint(&["builds", &id.to_string(), "steps"]))
            .await
    }

    /// `GET /api/v1/builds/{id}/reports`.
    pub async fn reports(&self, id: i64) -> Result<Vec<wire::StepReport>, ClientError> {
        self.get(self.endpoint(&["builds", &id.to_string(), "reports"]))
            .await
    }

    /// `GET /api/v1/builds/{id}/logs?after=&limit=`: lines after sequence number `after`.
    pub async fn logs(
        &self,
        id: i64,
        after: i64,
        limit: Option<u32>,
    ) -> Result<wire::LogPage, ClientError> {
        let mut url = self.endpoint(&["builds", &id.to_string(), "logs"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("after", &after.to_string());
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
        }
        self.get(url).await
    }

    /// `GET /api/v1/builds/{id}/logs/stream`: the live log from sequence number `after` on
    /// (sent as `Last-Event-ID` too, for a reconnection); no time limit.
    pub async fn log_stream(&self, id: i64, after: i64) -> Result<LogStream, ClientError> {
        let mut url = self.endpoint(&["builds", &id.to_string(), "logs", "stream"]);
        url.query_pairs_mut()
            .append_pair("after", &after.to_string());
        let mut req = self
            .request(Method::GET, url.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if after > 0 {
            req = req.header("Last-Event-ID", after.to_string());
        }
        let response = req.send().await.map_err(|e| self.unreachable(&e))?;
        let response = self.checked(response).await?;
        let content = content_type(&response);
        if !content.starts_with("text/event-stream") {
            return Err(ClientError::NotApi {
                url: url.to_string(),
                status: response.status().as_u16(),
                what: format!("a `{content}` answer instead of an event stream"),
            });
        }
        Ok(LogStream::new(url.to_string(), response.bytes_stream()))
    }

    /// `POST /api/v1/jobs/{job}/trigger`: queues a build.
    pub async fn trigger(&self, job: &str) -> Result<wire::Build, ClientError> {
        self.send(
            Method::POST,
            self.endpoint(&["jobs", job, "trigger"]),
            None::<()>,
        )
        .await
    }

    /// `POST /api/v1/resources/{name}/check` with the token: how many versions were new.
    pub async fn check(&self, resource: &str) -> Result<wire::CheckAnswer, ClientError> {
        self.send(
            Method::POST,
            self.endpoint(&["resources", resource, "check"]),
            None::<()>,
        )
        .await
    }

    /// `POST /api/v1/resources/{name}/check?webhook_token=TOKEN`: a webhook (no bearer token
    /// is sent).
    pub async fn webhook(
        &self,
        resource: &str,
        webhook_token: &str,
    ) -> Result<wire::CheckAnswer, ClientError> {
        let mut url = self.endpoint(&["resources", resource, "check"]);
        url.query_pairs_mut()
            .append_pair("webhook_token", webhook_token);
        let req = self.http.request(Method::POST, url.clone());
        self.call(url, req).await
    }

    /// `GET /api/v1/resources`.
    pub async fn resources(&self) -> Result<Vec<wire::ResourceSummary>, ClientError> {
        self.get(self.endpoint(&["resources"])).await
    }

    /// `GET /api/v1/resources/{name}/versions?limit=&before=`: a page of versions, newest
    /// first.
    pub async fn versions(
        &self,
        resource: &str,
        limit: Option<u32>,
        before: Option<i64>,
    ) -> Result<wire::VersionPage, ClientError> {
        let mut url = self.endpoint(&["resources", resource, "versions"]);
        page_query(&mut url, limit, before);
        self.get(url).await
    }

    /// `POST /api/v1/resources/{name}/pin`: pins the resource to a stored version.
    pub async fn pin(
        &self,
        resource: &str,
        version: &Version,
    ) -> Result<wire::PinAnswer, ClientError> {
        self.send(
            Method::POST,
            self.endpoint(&["resources", resource, "pin"]),
            Some(wire::VersionBody {
                version: version.clone(),
            }),
        )
        .await
    }

    /// `DELETE /api/v1/resources/{name}/pin`.
    pub async fn unpin(&self, resource: &str) -> Result<wire::PinAnswer, ClientError> {
        self.send(
            Method::DELETE,
            self.endpoint(&["resources", resource, "pin"]),
            None::<()>,
        )
        .await
    }

    /// `POST /api/v1/resources/{name}/versions/disable` (or `enable`).
    pub async fn set_disabled(
        &self,
        resource: &str,
        version: &Version,
        disabled: bool,
    ) -> Result<wire::DisabledAnswer, ClientError> {
        let action = if disabled { "disable" } else { "enable" };
        self.send(
            Method::POST,
            self.endpoint(&["resources", resource, "versions", action]),
            Some(wire::VersionBody {
                version: version.clone(),
            }),
        )
        .await
    }

    /// `POST /api/v1/environments/{env}/approve`: approves `body.candidate` (default: the one
    /// at the gate) as the token's name.
    pub async fn approve(
        &self,
        environment: &str,
        body: &wire::ApproveBody,
    ) -> Result<wire::ApproveAnswer, ClientError> {
        self.send(
            Method::POST,
            self.endpoint(&["environments", environment, "approve"]),
            Some(body),
        )
        .await
    }

    /// `POST /api/v1/environments/{env}/rollback`.
    pub async fn rollback(&self, environment: &str) -> Result<wire::RollbackAnswer, ClientError> {
        self.send(
            Method::POST,
            self.endpoint(&["environments", environment, "rollback"]),
            None::<()>,
        )
        .await
    }

    /// `GET /api/v1/nodes`.
    pub async fn nodes(&self) -> Result<wire::Nodes, ClientError> {
        self.get(self.endpoint(&["nodes"])).await
    }
}

/// Appends `?limit=&before=` when given.
fn page_query(url: &mut Url, limit: Option<u32>, before: Option<i64>) {
    if limit.is_none() && before.is_none() {
        return;
    }
    let mut q = url.query_pairs_mut();
    if let Some(l) = limit {
        q.append_pair("limit", &l.to_string());
    }
    if let Some(b) = before {
        q.append_pair("before", &b.to_string());
    }
}

/// Server-Sent Events, parsed by `eventsource-stream`; errors as their cause.
type Events = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

/// The live log of a build ([`Client::log_stream`]).
pub struct LogStream {
    url: String,
    events: Events,
}

impl LogStream {
    /// The events of the byte stream `body` (the answer of `url`).
    fn new<B, E>(url: String, body: impl Stream<Item = Result<B, E>> + Send + 'static) -> Self
    where
        B: AsRef<[u8]> + Send + 'static,
        E: std::error::Error + Send + 'static,
    {
        let events = body.eventsource().map(|e| {
            e.map_err(|e| match e {
                eventsource_stream::EventStreamError::Transport(e) => cause(&e),
                e => e.to_string(),
            })
        });
        Self {
            url,
            events: Box::pin(events),
        }
    }

    /// The next event; `None` when the connection closed, [`ClientError::Read`] when it broke
    /// or stayed silent for [`STREAM_IDLE`] (reconnect from the last line's sequence number).
    pub async fn next(&mut self) -> Result<Option<LogEvent>, ClientError> {
        loop {
            let next = tokio::time::timeout(STREAM_IDLE, self.events.next()).await;
            let Ok(next) = next else {
                return Err(ClientError::Read {
                    url: self.url.clone(),
                    cause: format!("nothing came for {} s", STREAM_IDLE.as_secs()),
                });
            };
            let Some(event) = next else {
                return Ok(None);
            };
            let event = event.map_err(|cause| ClientError::Read {
                url: self.url.clone(),
                cause,
            })?;
            if let Some(e) = log_event(&event).map_err(|what| ClientError::NotApi {
                url: self.url.clone(),
                status: 200,
                what,
            })? {
                return Ok(Some(e));
            }
        }
    }
}

/// A typed event from a Server-Sent Event; `None` for events it does not know.
fn log_event(e: &eventsource_stream::Event) -> Result<Option<LogEvent>, String> {
    let bad = |err: serde_json::Error| format!("a malformed `{}` event ({err})", e.event);
    Ok(Some(match e.event.as_str() {
        wire::event::LOG => LogEvent::Line(serde_json::from_str(&e.data).map_err(bad)?),
        wire::event::END => LogEvent::End(
            serde_json::from_str::<wire::StreamEnd>(&e.data)
                .map_err(bad)?
                .status,
        ),
        wire::event::SHUTDOWN => LogEvent::Shutdown,
        wire::event::ERROR => LogEvent::Error(
            serde_json::from_str::<ErrorBody>(&e.data)
                .map(|b| b.error)
                .unwrap_or_else(|_| e.data.clone()),
        ),
        _ => return Ok(None),
    }))
}

/// The base URL of a server: `http(s)` only, path ending in `/`, a trailing `api/v1` dropped.
fn base_url(text: &str) -> Result<Url, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    let mut url = Url::parse(trimmed).map_err(|e| {
        let hint = if trimmed.contains("://") {
            String::new()
        } else {
            format!(" (did you mean http://{trimmed}?)")
        };
        invalid(&format!("{e}{hint}"))
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other if !trimmed.contains("://") => {
            return Err(invalid(&format!(
                "give it as http://HOST:PORT (`{other}:` was read as a scheme)"
            )));
        }
        other => {
            return Err(invalid(&format!(
                "the scheme must be http or https, not `{other}`"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    let mut path = url.path().trim_end_matches('/').to_owned();
    if let Some(prefix) = path.strip_suffix("/api/v1") {
        path = prefix.to_owned();
    }
    path.push('/');
    url.set_path(&path);
    Ok(url)
}

fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(["api", "v1"]).extend(segments);
    }
    url
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn is_json(response: &reqwest::Response) -> bool {
    let ct = content_type(response).to_ascii_lowercase();
    ct.starts_with("application/json") || ct.contains("+json")
}

/// An error and its causes, without repeats (reqwest's top level names only the URL).
/// Whether rustls refused the server's certificate somewhere in `e`'s chain. The text is what
/// survives: rustls's error travels inside an `io::Error`, whose `source` skips it, and
/// hyper-util keeps only its message.
fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.to_string().starts_with("invalid peer certificate: ") {
            return true;
        }
        next = err.source();
    }
    false
}

fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = e.source();
    while let Some(err) = next {
        let text = err.to_string();
        // hyper's "client error (Connect)" only says which stage failed; its cause says why.
        if !text.starts_with("client error (") && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    if parts.is_empty() {
        return e.to_string();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(base: &str, segments: &[&str]) -> String {
        endpoint(&base_url(base).unwrap(), segments).to_string()
    }

    #[test]
    fn urls_join_with_or_without_slash_and_with_a_prefix() {
        for base in ["http://h:7080", "http://h:7080/", " http://h:7080/api/v1/ "] {
            assert_eq!(
                url(base, &["environments"]),
                "http://h:7080/api/v1/environments"
            );
        }
        for base in [
            "https://ci.example/lockgate/",
            "https://ci.example/lockgate",
        ] {
            assert_eq!(
                url(base, &["jobs", "deploy", "trigger"]),
                "https://ci.example/lockgate/api/v1/jobs/deploy/trigger"
            );
        }
        assert_eq!(
            url("http://h/", &["jobs", "a b/c", "builds"]),
            "http://h/api/v1/jobs/a%20b%2Fc/builds"
        );
    }

    #[test]
    fn other_schemes_and_malformed_urls_are_refused() {
        let reason = |u: &str| match base_url(u) {
            Err(ClientError::InvalidUrl { reason, .. }) => reason,
            other => panic!("{u}: {other:?}"),
        };
        assert!(reason("ftp://h/").contains("http or https, not `ftp`"));
        assert!(
            reason("127.0.0.1:7080").contains("http://"),
            "{}",
            reason("127.0.0.1:7080")
        );
        assert!(reason("localhost:7080").contains("http://HOST:PORT"));
        assert!(reason("http://h/?x=1").contains("query"));
        assert!(reason("").contains("empty"));
    }

    fn client(token: Option<&str>) -> Client {
        Client::new("http://127.0.0.1:1", token).unwrap()
    }

    #[test]
    fn error_statuses_map_to_what_the_user_can_do() {
        let body = br#"{"error": "token `v` has role `viewer`; this needs `operator`"}"#;
        let e =
            client(Some("t")).error_of("u", StatusCode::FORBIDDEN, true, "application/json", body);
        assert!(matches!(&e, ClientError::Forbidden { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "token `v` has role `viewer`; this needs `operator` (HTTP 403)"
        );

        let body = br#"{"error": "triggering a job needs a bearer token"}"#;
        let e = client(None).error_of(
            "u",
            StatusCode::UNAUTHORIZED,
            true,
            "application/json",
            body,
        );
        assert!(
            e.to_string()
                .contains("needs a token: give one with --token or LOCKGATE_TOKEN"),
            "{e}"
        );
        let e = client(Some("t")).error_of(
            "u",
            StatusCode::UNAUTHORIZED,
            true,
            "application/json",
            br#"{"error":"unknown bearer token"}"#,
        );
        assert!(e.to_string().contains("does not accept this token"), "{e}");

        let e = client(None).error_of(
            "u",
            StatusCode::CONFLICT,
            true,
            "application/json",
            br#"{"error":"nothing waits"}"#,
        );
        assert_eq!(e.to_string(), "nothing waits (HTTP 409)");

        let e = client(None).error_of(
            "http://h/x",
            StatusCode::NOT_FOUND,
            false,
            "text/html",
            b"<html>",
        );
        assert_eq!(
            e.to_string(),
            "http://h/x answered HTTP 404 with a `text/html` answer, not the lockgate API: is --server the URL of `lockgate server`?"
        );
        // JSON of another shape (a proxy's JSON error) is not the API either.
        let e = client(None).error_of(
            "u",
            StatusCode::BAD_GATEWAY,
            true,
            "application/json",
            br#"{"message":"x"}"#,
        );
        assert!(
            matches!(e, ClientError::NotApi { status: 502, .. }),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_with_a_hint() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = Client::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
        let e = c.environments().await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot reach the lockgate server at http://127.0.0.1:{port}: "
            )),
            "{text}"
        );
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert!(text.ends_with("(is `lockgate server` running? --server / LOCKGATE_SERVER)"));
    }

    #[tokio::test]
    async fn server_sent_events_parse_across_chunks() {
        let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
            Ok(b": keep-alive\n\nevent: log\nid: 3\nda"),
            Ok(b"ta: {\"seq\":3,\"step_id\":null,\"at\":5,\"stream\":\"stdout\",\"text\":\"hi\"}\r\n\r\nevent: end\ndata: {\"build_id\":1,\"status\":\"failed\"}\n\n"),
            Ok(b"event: other\ndata: {}\n\nevent: shutdown\ndata: {\"build_id\":1}\n\n"),
        ];
        let mut s = LogStream::new("u".into(), futures::stream::iter(chunks));
        assert_eq!(
            s.next().await.unwrap(),
            Some(LogEvent::Line(wire::LogLine {
                seq: 3,
                step_id: None,
                at: 5,
                stream: "stdout".into(),
                text: "hi".into()
            }))
        );
        assert_eq!(
            s.next().await.unwrap(),
            Some(LogEvent::End(BuildStatus::Failed))
        );
        assert_eq!(s.next().await.unwrap(), Some(LogEvent::Shutdown));
        assert_eq!(s.next().await.unwrap(), None);
    }
}
