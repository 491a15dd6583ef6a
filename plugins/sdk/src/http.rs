//! The SDK's HTTP client: `http://` and `https://` requests to granted hosts, sent by the
//! engine through `wasi:http/outgoing-handler` (the host speaks HTTP/1.1 and TLS; this module
//! never opens a socket).
//!
//! What this module owns:
//!
//! - [`Url`]: `http(s)://host[:port][/path][?query]` (ports default to 80 and 443, IPv6
//!   literals in brackets, `#fragment` dropped, `user@host` refused), and resolving a
//!   redirect's `Location` against it ([`Url::join`]).
//! - [`Request`]: any method, headers (the ones `wasi:http` forbids a guest to set, such as
//!   `Host`, `Connection` or `Transfer-Encoding`, are skipped: the host sets them), a body
//!   sent with its `Content-Length`.
//! - A deadline for the **whole** exchange, redirects and body included
//!   ([`Request::timeout`], default 30 s): the host's connect, first-byte and between-bytes
//!   timeouts never exceed the time left, and the client itself stops waiting when the
//!   deadline passes, whatever the host does.
//! - A cap on the response body ([`Request::max_response_bytes`], default 16 MiB); a
//!   `Content-Length` above it is refused before anything is read.
//! - Redirects (301, 302, 303, 307, 308) followed up to [`Request::max_redirects`] (default
//!   5; 0 returns the `3xx` as it is): 303, and 301/302 of anything but `GET`/`HEAD`, become a
//!   `GET` without body; 307 and 308 keep the method and the body. A redirect from `https` to
//!   `http` is refused; `Authorization` is not sent to another scheme, host or port.
//!   [`Response::url`] is the URL that answered.
//! - Errors ([`HttpError`]) whose message names the request and its URL, by kind
//!   ([`HttpErrorKind`]): a `host:port` the step was not granted is [`HttpErrorKind::Refused`]
//!   (the engine also logs the refusal), a certificate that does not verify is
//!   [`HttpErrorKind::Tls`], and so on.
//!
//! Outside the sandbox (a native build, such as a plugin's unit tests run on the build
//! machine) there is no `wasi:http`: [`Request::send`] fails with [`HttpErrorKind::Connect`]
//! saying so. Everything else (URLs, building requests) works the same.
//!
//! ```no_run
//! use lockgate_sdk::http::Request;
//!
//! let response = Request::get("https://status.example.org/healthz")?
//!     .header("Accept", "application/json")
//!     .send()?;
//! assert_eq!(response.status, 200);
//! println!("{} answered {}", response.url, response.text());
//! # Ok::<(), lockgate_sdk::http::HttpError>(())
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use wasip2::http::types::ErrorCode;

/// Default deadline of one exchange (connect, send, receive, redirects included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on the size of a response body: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// Default number of redirects a request follows.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;

/// Request headers a guest may not set through `wasi:http` (the host manages them), and
/// `Content-Length`, which the client sets from the body.
const MANAGED_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "http2-settings",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Headers that describe a request body: dropped with the body when a redirect turns the
/// request into a `GET`.
const BODY_HEADERS: &[&str] = &[
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
];

/// What kind of failure an [`HttpError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// The request cannot be made as written: the URL is not `http(s)://host[:port]/...`
    /// (another scheme, no host, a bad port, user information), or the method or a header is
    /// malformed.
    InvalidUrl,
    /// The request was refused before it left: the sandbox refused the `host:port` (not
    /// granted to the step), or the client refused to follow a redirect from `https` to
    /// `http`. Retrying cannot help.
    Refused,
    /// The host name could not be resolved, or the connection failed (nothing listening,
    /// unreachable); also every request outside the sandbox, where there is no `wasi:http`.
    Connect,
    /// The deadline passed ([`Request::timeout`]), or the server was too slow for the host.
    Timeout,
    /// TLS failed: the server's certificate did not verify, or the handshake failed.
    Tls,
    /// The connection broke while sending or receiving.
    Io,
    /// The server's answer is not valid HTTP, or the redirects went on for too long.
    Protocol,
    /// The response body is larger than the cap.
    TooLarge,
    /// The response body is not the JSON expected ([`Response::json`]).
    Decode,
}

/// Why a request failed. The message names the request and its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// What kind of failure.
    pub kind: HttpErrorKind,
    /// For people: what happened, naming the URL.
    pub message: String,
}

impl HttpError {
    fn new(kind: HttpErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for crate::Error {
    /// [`Error::Failed`](crate::Error::Failed) with the message, except an invalid URL which
    /// is [`Error::InvalidConfig`](crate::Error::InvalidConfig) (URLs come from the
    /// configuration).
    fn from(error: HttpError) -> Self {
        match error.kind {
            HttpErrorKind::InvalidUrl => crate::Error::InvalidConfig(error.message),
            _ => crate::Error::Failed(error.message),
        }
    }
}

// ---------------------------------------------------------------- URLs

/// A parsed `http://` or `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    https: bool,
    host: String,
    port: u16,
    target: String,
}

impl Url {
    /// Parses `http(s)://host[:port][/path][?query]`: the port defaults to 80 for `http` and
    /// 443 for `https`, the path to `/`; a `#fragment` is dropped. IPv6 literals go in
    /// brackets: `http://[::1]:8080/`. User information (`https://user@host/`) is refused.
    ///
    /// ```
    /// use lockgate_sdk::http::{HttpErrorKind, Url};
    ///
    /// let url = Url::parse("https://example.org/v1/apps?x=1#top").unwrap();
    /// assert_eq!(
    ///     (url.scheme(), url.host(), url.port(), url.target()),
    ///     ("https", "example.org", 443, "/v1/apps?x=1")
    /// );
    /// assert_eq!(url.authority(), "example.org:443");
    /// assert_eq!(url.to_string(), "https://example.org/v1/apps?x=1");
    ///
    /// let url = Url::parse("http://[::1]:8080").unwrap();
    /// assert_eq!((url.host(), url.authority()), ("::1", "[::1]:8080".to_string()));
    ///
    /// let e = Url::parse("https://user@example.org/").unwrap_err();
    /// assert_eq!(e.kind, HttpErrorKind::InvalidUrl);
    /// ```
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let bad = |why: &str| HttpError::new(HttpErrorKind::InvalidUrl, format!("`{url}`: {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("expected `http://host[:port]/path` or `https://…`"));
        };
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(bad("only `http://` and `https://` URLs are supported"));
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(bad("user information (`user@`) in URLs is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return Err(bad("unterminated `[` in the host"));
            };
            if !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return Err(bad("the host in brackets is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("unexpected text after `]`"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !authority.starts_with('[') && !host.bytes().all(is_host_byte) {
            return Err(bad("the host contains characters a host name cannot have"));
        }
        if !valid_target(&target) {
            return Err(bad("the path contains spaces or control characters"));
        }
        let port = match port {
            None if https => 443,
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
        };
        Ok(Self {
            https,
            host: host.to_string(),
            port,
            target,
        })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host name or IP address (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (80 or 443 when the URL has none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query, as sent in the request line: `/v1/apps?x=1`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `host:port`, always with the port (brackets around IPv6 literals), as the pipeline
    /// grants it.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    /// `scheme://host[:port]`, the port only when it is not the scheme's default:
    /// `https://example.org`, `http://10.0.0.5:8080`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme(), self.host_header())
    }

    /// Resolves `reference` (a redirect's `Location`, a link) against this URL, as a browser
    /// does: absolute (`https://other/x`), scheme-relative (`//other/x`), absolute-path
    /// (`/x`), relative (`x`, `../x`) or query-only (`?page=2`); `.` and `..` segments are
    /// removed and a `#fragment` dropped.
    ///
    /// ```
    /// use lockgate_sdk::http::Url;
    ///
    /// let base = Url::parse("http://10.0.0.5:8080/v1/apps/web?x=1").unwrap();
    /// assert_eq!(base.join("deployments").unwrap().to_string(), "http://10.0.0.5:8080/v1/apps/deployments");
    /// assert_eq!(base.join("../../health").unwrap().target(), "/health");
    /// assert_eq!(base.join("//other.example/").unwrap().to_string(), "http://other.example/");
    /// assert_eq!(base.join("https://other.example/a").unwrap().port(), 443);
    /// ```
    pub fn join(&self, reference: &str) -> Result<Url, HttpError> {
        let bad = |why: &str| {
            HttpError::new(
                HttpErrorKind::InvalidUrl,
                format!("`{reference}` (relative to `{self}`): {why}"),
            )
        };
        let reference = reference.trim_matches([' ', '\t']);
        if has_scheme(reference) {
            return Url::parse(reference);
        }
        if reference.starts_with("//") {
            return Url::parse(&format!("{}:{reference}", self.scheme()));
        }
        let reference = reference.split('#').next().unwrap_or_default();
        if !valid_target(reference) {
            return Err(bad("it contains spaces or control characters"));
        }
        let (base_path, _) = split_query(&self.target);
        let target = if reference.is_empty() {
            self.target.clone()
        } else if reference.starts_with('?') {
            format!("{base_path}{reference}")
        } else {
            let (path, query) = split_query(reference);
            let merged = if path.starts_with('/') {
                path.to_string()
            } else if path.is_empty() {
                base_path.to_string()
            } else {
                let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
                format!("{dir}{path}")
            };
            let mut target = remove_dot_segments(&merged);
            if target.is_empty() {
                target.push('/');
            }
            target.push_str(query);
            target
        };
        Ok(Url {
            target,
            ..self.clone()
        })
    }

    /// Whether `other` has the same scheme, host and port.
    fn same_origin(&self, other: &Url) -> bool {
        self.https == other.https
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(&other.host)
    }

    fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `host[:port]` as the `Host` header and `wasi:http` authority carry it: the port only
    /// when it is not the scheme's default.
    fn host_header(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.bracketed_host()
        } else {
            self.authority()
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.target)
    }
}

/// A byte a registered host name (or IPv4 address) may hold.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%')
}

/// Path and query: no whitespace, no control characters.
fn valid_target(target: &str) -> bool {
    !target
        .chars()
        .any(|c| c.is_ascii_whitespace() || c.is_control())
}

/// Whether `reference` starts with `scheme:` (RFC 3986: a letter, then letters, digits, `+`,
/// `-`, `.`).
fn has_scheme(reference: &str) -> bool {
    let Some((scheme, _)) = reference.split_once(':') else {
        return false;
    };
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `path?query` → (`path`, `?query`).
fn split_query(target: &str) -> (&str, &str) {
    match target.find('?') {
        Some(i) => target.split_at(i),
        None => (target, ""),
    }
}

/// RFC 3986 §5.2.4: removes `.` and `..` segments from an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut result = String::with_capacity(path.len());
    for segment in out {
        result.push('/');
        result.push_str(segment);
    }
    result
}

// ---------------------------------------------------------------- requests

/// An HTTP request being built; [`send`](Request::send) performs it.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: Url,
    headers: Vec<(String, String)>,
    /// The first malformed header given to [`Request::header`]; `send` reports it.
    bad_header: Option<String>,
    body: Vec<u8>,
    timeout: Duration,
    max_response_bytes: u64,
    max_redirects: u32,
}

impl Request {
    /// A request `method` (`GET`, `POST`, ...; upper-cased) to `url`.
    pub fn new(method: &str, url: &str) -> Result<Self, HttpError> {
        let url = Url::parse(url)?;
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(HttpError::new(
                HttpErrorKind::InvalidUrl,
                format!("`{method}` is not an HTTP method"),
            ));
        }
        Ok(Self {
            method: method.to_ascii_uppercase(),
            url,
            headers: Vec::new(),
            bad_header: None,
            body: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
        })
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Result<Self, HttpError> {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Result<Self, HttpError> {
        Self::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: &str) -> Result<Self, HttpError> {
        Self::new("PUT", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: &str) -> Result<Self, HttpError> {
        Self::new("DELETE", url)
    }

    /// Adds a header. CR and LF in names or values are removed. The headers the host
    /// manages are ignored: `Host`, `Connection`, `Keep-Alive`, `Transfer-Encoding`,
    /// `Upgrade`, `Proxy-*`, `HTTP2-Settings`, and `Content-Length` (set from the body). A
    /// name that is not an HTTP token, or a value with control characters, makes
    /// [`send`](Request::send) fail with [`HttpErrorKind::InvalidUrl`].
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let clean = |s: &str| s.replace(['\r', '\n'], "");
        let (name, value) = (clean(name), clean(value));
        match check_header(&name, &value) {
            HeaderCheck::Send => self.headers.push((name, value)),
            HeaderCheck::Managed => {}
            HeaderCheck::Invalid(why) => {
                self.bad_header.get_or_insert(why);
            }
        }
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, with `Content-Type: application/json`.
    #[must_use]
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(value.to_string())
    }

    /// Sets the deadline of the whole exchange: connect, send, receive, and every redirect.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the cap on the response body; a larger body is an [`HttpErrorKind::TooLarge`]
    /// error. In bytes, as a `u64`: a download streamed with [`Request::send_to`] may be
    /// larger than a 32-bit guest's address space.
    #[must_use]
    pub fn max_response_bytes(mut self, max: u64) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Sets how many redirects are followed (default [`DEFAULT_MAX_REDIRECTS`]). With 0, a
    /// `3xx` is returned as it is; otherwise a redirect beyond the limit is an
    /// [`HttpErrorKind::Protocol`] error.
    #[must_use]
    pub fn max_redirects(mut self, max: u32) -> Self {
        self.max_redirects = max;
        self
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The headers that will be sent, in the order given (without those the host manages).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The value of the first header named `name` that will be sent (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The method, upper-cased.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Sends the request through the host's `wasi:http`, follows redirects, and reads the
    /// whole response, all within [`Request::timeout`].
    pub fn send(&self) -> Result<Response, HttpError> {
        self.exchange(None)
    }

    /// [`Request::send`], streaming a successful (2xx) response's body into `out` instead of
    /// memory (a download of any size up to [`Request::max_response_bytes`]; the response's
    /// `body` is then empty). Another status's body is kept in `body`, at most 64 KiB, to say
    /// what went wrong. On an error, part of the body may have been written to `out`.
    pub fn send_to(&self, out: &mut dyn std::io::Write) -> Result<Response, HttpError> {
        self.exchange(Some(out))
    }

    fn exchange(&self, mut out: Option<&mut dyn std::io::Write>) -> Result<Response, HttpError> {
        if let Some(why) = &self.bad_header {
            return Err(HttpError::new(
                HttpErrorKind::InvalidUrl,
                format!("{} {}: {why}", self.method, self.url),
            ));
        }
        let deadline = transport::Deadline::after(self.timeout);
        let mut method = self.method.clone();
        let mut url = self.url.clone();
        let mut headers = self.headers.clone();
        let mut body: &[u8] = &self.body;
        let mut from: Option<Url> = None;
        let mut followed = 0;
        loop {
            let attempt = Attempt {
                method: &method,
                url: &url,
                from: from.as_ref(),
                timeout: self.timeout,
                max_body: self.max_response_bytes,
            };
            let wire = wire_headers(&headers, &method, body.len());
            let follow = self.max_redirects > 0;
            let exchange = transport::Exchange {
                method: &method,
                url: &url,
                headers: &wire,
                body,
                max_body: self.max_response_bytes,
            };
            let response = exchange
                .run(
                    &deadline,
                    |status, headers| !(follow && redirect_location(status, headers).is_some()),
                    out.as_deref_mut(),
                )
                .map_err(|failure| attempt.error(failure))?;
            let location = match redirect_location(response.status, &response.headers) {
                Some(location) if follow => location.to_string(),
                _ => return Ok(response),
            };
            if followed == self.max_redirects {
                return Err(attempt.fail(
                    HttpErrorKind::Protocol,
                    format!(
                        "too many redirects: {} {} to `{location}` after {followed} redirect(s) followed (the limit)",
                        response.status, response.reason
                    ),
                ));
            }
            let next = follow_redirect(response.status, &method, &url, &location)
                .map_err(|(kind, why)| attempt.fail(kind, why))?;
            if !next.same_origin {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
            }
            if !next.keep_body {
                body = &[];
                headers.retain(|(n, _)| !BODY_HEADERS.contains(&n.to_ascii_lowercase().as_str()));
            }
            method = next.method;
            from = Some(std::mem::replace(&mut url, next.url));
            followed += 1;
        }
    }
}

/// What [`Request::header`] does with a header.
#[derive(Debug, PartialEq, Eq)]
enum HeaderCheck {
    Send,
    /// One of [`MANAGED_HEADERS`]: skipped.
    Managed,
    /// Why the header cannot be sent.
    Invalid(String),
}

fn check_header(name: &str, value: &str) -> HeaderCheck {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return HeaderCheck::Invalid(format!("`{name}` is not a valid header name"));
    }
    if MANAGED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return HeaderCheck::Managed;
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return HeaderCheck::Invalid(format!(
            "the value of header `{name}` contains control characters"
        ));
    }
    HeaderCheck::Send
}

/// The headers as sent: the request's, `User-Agent` and `Accept` unless given, and
/// `Content-Length` when there is a body (or the method normally has one).
fn wire_headers(
    headers: &[(String, String)],
    method: &str,
    body_len: usize,
) -> Vec<(String, String)> {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut wire = Vec::with_capacity(headers.len() + 3);
    if !has("user-agent") {
        wire.push(("user-agent".to_string(), "lockgate-sdk".to_string()));
    }
    if !has("accept") {
        wire.push(("accept".to_string(), "*/*".to_string()));
    }
    wire.extend(headers.iter().cloned());
    if body_len > 0 || matches!(method, "POST" | "PUT" | "PATCH") {
        wire.push(("content-length".to_string(), body_len.to_string()));
    }
    wire
}

// ---------------------------------------------------------------- redirects

/// The `Location` of a response the client follows: a 301, 302, 303, 307 or 308 with one.
fn redirect_location(status: u16, headers: &[(String, String)]) -> Option<&str> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// The request a redirect leads to.
#[derive(Debug, PartialEq, Eq)]
struct Redirect {
    method: String,
    url: Url,
    /// 307 and 308 send the body again; the others become a `GET` without body.
    keep_body: bool,
    /// Same scheme, host and port: `Authorization` is sent again.
    same_origin: bool,
}

/// Where a `status` redirect of a `method` request to `current`, to `location`, leads; or
/// why it is not followed.
fn follow_redirect(
    status: u16,
    method: &str,
    current: &Url,
    location: &str,
) -> Result<Redirect, (HttpErrorKind, String)> {
    let url = current.join(location).map_err(|e| {
        (
            HttpErrorKind::Protocol,
            format!("{status} redirect to a bad location: {}", e.message),
        )
    })?;
    if current.is_https() && !url.is_https() {
        return Err((
            HttpErrorKind::Refused,
            format!(
                "{status} redirect from {current} to {url}: refusing to follow a redirect from https to plain http"
            ),
        ));
    }
    let to_get = match status {
        303 => method != "HEAD",
        301 | 302 => !matches!(method, "GET" | "HEAD"),
        _ => false,
    };
    Ok(Redirect {
        method: if to_get {
            "GET".to_string()
        } else {
            method.to_string()
        },
        keep_body: !to_get,
        same_origin: current.same_origin(&url),
        url,
    })
}

// ---------------------------------------------------------------- errors

/// Why one exchange failed, before it is worded for people by [`Attempt::error`].
#[derive(Debug)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
enum Failure {
    /// The host's `wasi:http` error.
    Code(ErrorCode),
    /// The deadline passed.
    Timeout,
    /// The body is larger than the cap; `Some` with the `Content-Length` announced.
    TooLarge(Option<u64>),
    /// The client cannot express the request in `wasi:http` (what).
    Invalid(String),
    /// A stream failed without a `wasi:http` error code (what happened).
    Io(String),
    /// No `wasi:http`: not running in the sandbox.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    NoSandbox,
}

/// One request of an exchange (the first, or one reached by a redirect), for messages.
struct Attempt<'a> {
    method: &'a str,
    url: &'a Url,
    /// The URL whose redirect led here.
    from: Option<&'a Url>,
    timeout: Duration,
    /// The cap on the response body.
    max_body: u64,
}

impl Attempt<'_> {
    /// `GET http://…` and, after a redirect, where it came from.
    fn what(&self) -> String {
        match self.from {
            Some(from) => format!(
                "{} {} (reached by a redirect from {from})",
                self.method, self.url
            ),
            None => format!("{} {}", self.method, self.url),
        }
    }

    fn fail(&self, kind: HttpErrorKind, detail: impl fmt::Display) -> HttpError {
        HttpError::new(kind, format!("{}: {detail}", self.what()))
    }

    /// The error for people: the kind, and a message naming the request, its URL and what to
    /// do about it.
    fn error(&self, failure: Failure) -> HttpError {
        use HttpErrorKind as K;
        let authority = self.url.authority();
        let timeout = human(self.timeout);
        match failure {
            Failure::Code(code) => self.code_error(&code),
            Failure::Timeout => self.fail(
                K::Timeout,
                format!("no complete response within the timeout of {timeout}"),
            ),
            Failure::TooLarge(Some(length)) => self.fail(
                K::TooLarge,
                format!(
                    "the response body ({length} bytes by its Content-Length) is larger than the cap of {} bytes",
                    self.max_body
                ),
            ),
            Failure::TooLarge(None) => self.fail(
                K::TooLarge,
                format!(
                    "the response body is larger than the cap of {} bytes",
                    self.max_body
                ),
            ),
            Failure::Invalid(why) => self.fail(K::InvalidUrl, why),
            Failure::Io(why) => self.fail(K::Io, format!("{why} ({authority})")),
            Failure::NoSandbox => self.fail(
                K::Connect,
                "HTTP needs the Lockgate sandbox (wasi:http/outgoing-handler): this is not a plugin running in the engine",
            ),
        }
    }

    /// A `wasi:http` error code as an [`HttpError`].
    fn code_error(&self, code: &ErrorCode) -> HttpError {
        use HttpErrorKind as K;
        let authority = self.url.authority();
        let host = self.url.host();
        let timeout = human(self.timeout);
        match code {
            ErrorCode::HttpRequestDenied => self.fail(
                K::Refused,
                format!(
                    "the sandbox refused the connection to {authority}: it is not granted to this step; grant `{authority}` in `grants.network`"
                ),
            ),
            ErrorCode::DnsTimeout => self.fail(
                K::Connect,
                format!("cannot resolve `{host}`: the name lookup timed out"),
            ),
            ErrorCode::DnsError(payload) => {
                let detail = payload
                    .rcode
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                self.fail(K::Connect, format!("cannot resolve `{host}`{detail}"))
            }
            ErrorCode::DestinationNotFound => {
                self.fail(K::Connect, format!("cannot resolve `{host}`"))
            }
            ErrorCode::ConnectionRefused => self.fail(
                K::Connect,
                format!("cannot connect to {authority}: connection refused"),
            ),
            ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionLimitReached => self.fail(
                K::Connect,
                format!("cannot connect to {authority}: {}", code_name(code)),
            ),
            ErrorCode::ConnectionTimeout => self.fail(
                K::Timeout,
                format!("connecting to {authority} timed out (the timeout is {timeout})"),
            ),
            ErrorCode::ConnectionReadTimeout
            | ErrorCode::HttpResponseTimeout
            | ErrorCode::ConnectionWriteTimeout => self.fail(
                K::Timeout,
                format!(
                    "{authority} did not answer in time ({}; the timeout is {timeout})",
                    code_name(code)
                ),
            ),
            ErrorCode::TlsCertificateError => self.fail(
                K::Tls,
                format!(
                    "the certificate of {authority} did not verify (TLS certificate error); {TLS_HINT}"
                ),
            ),
            ErrorCode::TlsProtocolError => self.fail(
                K::Tls,
                format!(
                    "the TLS handshake with {authority} failed: its certificate did not verify, or it does not speak TLS on that port; {TLS_HINT}"
                ),
            ),
            ErrorCode::TlsAlertReceived(payload) => {
                let alert = match (&payload.alert_message, payload.alert_id) {
                    (Some(message), _) => format!(" `{message}`"),
                    (None, Some(id)) => format!(" {id}"),
                    (None, None) => String::new(),
                };
                self.fail(
                    K::Tls,
                    format!(
                        "the TLS handshake with {authority} failed: the server sent the alert{alert}; {TLS_HINT}"
                    ),
                )
            }
            ErrorCode::HttpResponseBodySize(_) => self.fail(
                K::TooLarge,
                format!("the response body is larger than the host accepts ({})", code_name(code)),
            ),
            ErrorCode::ConnectionTerminated | ErrorCode::HttpResponseIncomplete => self.fail(
                K::Io,
                format!(
                    "the connection to {authority} closed before the whole response ({})",
                    code_name(code)
                ),
            ),
            ErrorCode::InternalError(message) => self.fail(
                K::Io,
                format!(
                    "the host failed to send the request to {authority}: {}",
                    message.as_deref().unwrap_or("internal error")
                ),
            ),
            ErrorCode::ConfigurationError => self.fail(
                K::Io,
                format!("the host cannot send requests to {authority} (configuration error)"),
            ),
            _ => self.fail(
                K::Protocol,
                format!("HTTP error talking to {authority}: {}", code_name(code)),
            ),
        }
    }
}

/// What a TLS error message says about private CAs.
const TLS_HINT: &str = "if the server's certificate comes from a private CA, give the engine that CA's certificate (`lockgate --ca-cert`, or the step's `grants.ca_certs`); the step's log says why it did not verify";

/// `ErrorCode::ConnectionRefused` → `connection-refused` (the WIT name).
fn code_name(code: &ErrorCode) -> String {
    let debug = format!("{code:?}");
    let name = debug.trim_start_matches("ErrorCode::");
    let name = name.split('(').next().unwrap_or(name);
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `30 s`, `1500 ms`.
fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

// ---------------------------------------------------------------- responses

/// An HTTP response: status, headers, the whole body, and the URL that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, for example 200.
    pub status: u16,
    /// The standard reason phrase of the status, for example `OK` (`wasi:http` does not
    /// carry the server's own); empty for an unknown status.
    pub reason: String,
    /// Headers in the order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The URL that answered: the request's, or where its redirects led.
    pub url: Url,
}

impl Response {
    /// Every value of the headers named `name` (case-insensitive), in the order received:
    /// a header may come several times (`Link`, `WWW-Authenticate`, `Set-Cookie`).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first header named `name` (case-insensitive); see
    /// [`Response::header_values`] for all of them.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into `T`; failures are [`HttpErrorKind::Decode`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let text = self.text();
            let preview: String = text.chars().take(200).collect();
            HttpError::new(
                HttpErrorKind::Decode,
                format!(
                    "{}: the response body is not the JSON expected ({e}): {preview:?}",
                    self.url
                ),
            )
        })
    }
}

/// The standard reason phrase of `status` (RFC 9110 and common extensions).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        511 => "Network Authentication Required",
        _ => "",
    }
}

// ---------------------------------------------------------------- transport

/// One request and its response through `wasi:http/outgoing-handler`.
#[cfg(target_arch = "wasm32")]
mod transport {
    use std::time::Duration;

    use wasip2::clocks::monotonic_clock;
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        Fields, HeaderError, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
        RequestOptions, Scheme, http_error_code,
    };
    use wasip2::io::poll::{Pollable, poll};
    use wasip2::io::streams::StreamError;

    use super::{Failure, Response, Url, reason_phrase};

    /// Most bytes one `write` sends (what `blocking-write-and-flush` accepts too).
    const WRITE_CHUNK: usize = 4096;
    /// Most bytes one `read` asks for.
    const READ_CHUNK: u64 = 64 * 1024;
    /// Most of a non-2xx body [`super::Request::send_to`] keeps.
    const ERROR_BODY: u64 = 64 * 1024;

    /// The end of an exchange, on the monotonic clock.
    pub(super) struct Deadline {
        at: u64,
    }

    impl Deadline {
        pub(super) fn after(timeout: Duration) -> Self {
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            Self {
                at: monotonic_clock::now().saturating_add(nanos),
            }
        }

        /// Nanoseconds left, at least 1 (a zero timeout may mean "none" to a host).
        fn left(&self) -> u64 {
            self.at.saturating_sub(monotonic_clock::now()).max(1)
        }

        fn passed(&self) -> bool {
            monotonic_clock::now() >= self.at
        }

        fn timer(&self) -> Pollable {
            monotonic_clock::subscribe_instant(self.at)
        }
    }

    /// One request as sent (headers final).
    pub(super) struct Exchange<'a> {
        pub(super) method: &'a str,
        pub(super) url: &'a Url,
        pub(super) headers: &'a [(String, String)],
        pub(super) body: &'a [u8],
        pub(super) max_body: u64,
    }

    /// What waiting for a stream ended with.
    enum Wake {
        /// The stream is ready.
        Stream,
        /// The response (or the request's failure) arrived first.
        Response,
    }

    /// Waits for `stream` (or `response`) within the deadline.
    fn wait(
        stream: &Pollable,
        response: Option<&Pollable>,
        timer: &Pollable,
    ) -> Result<Wake, Failure> {
        let ready = match response {
            Some(response) => poll(&[stream, timer, response]),
            None => poll(&[stream, timer]),
        };
        if ready.contains(&2) {
            Ok(Wake::Response)
        } else if ready.contains(&0) {
            Ok(Wake::Stream)
        } else {
            Err(Failure::Timeout)
        }
    }

    impl Exchange<'_> {
        /// Sends the request and reads the response; the body only when `wants_body`
        /// (given the status and the headers) says so.
        pub(super) fn run<'w>(
            &self,
            deadline: &Deadline,
            wants_body: impl FnOnce(u16, &[(String, String)]) -> bool,
            out: Option<&mut (dyn std::io::Write + 'w)>,
        ) -> Result<Response, Failure> {
            let timer = deadline.timer();
            let request = self.request()?;
            let options = RequestOptions::new();
            // A host may not support a timeout (an error); the deadline holds anyway.
            let left = Some(deadline.left());
            let _ = options.set_connect_timeout(left);
            let _ = options.set_first_byte_timeout(left);
            let _ = options.set_between_bytes_timeout(left);
            let outgoing =
                if self.body.is_empty() {
                    None
                } else {
                    Some(request.body().map_err(|()| {
                        Failure::Invalid("the request body was already taken".into())
                    })?)
                };
            let future = outgoing_handler::handle(request, Some(options)).map_err(Failure::Code)?;
            let arrived = future.subscribe();
            if let Some(outgoing) = outgoing {
                // A body that could not be written whole is dropped unfinished: the host then
                // fails the request, and the response says why.
                if write_body(&outgoing, self.body, &arrived, &timer)? {
                    let _ = OutgoingBody::finish(outgoing, None);
                }
            }
            let response = loop {
                if let Some(result) = future.get() {
                    break result
                        .map_err(|()| Failure::Io("the response was already taken".into()))?
                        .map_err(Failure::Code)?;
                }
                if timer.ready() {
                    return Err(Failure::Timeout);
                }
                poll(&[&arrived, &timer]);
            };
            self.read(response, deadline, &timer, wants_body, out)
        }

        /// The `wasi:http` request, without its body.
        fn request(&self) -> Result<OutgoingRequest, Failure> {
            let fields = Fields::new();
            for (name, value) in self.headers {
                match fields.append(name, value.as_bytes()) {
                    Ok(()) => {}
                    // A header this host manages itself: it sets it.
                    Err(HeaderError::Forbidden) => {}
                    Err(e) => {
                        return Err(Failure::Invalid(format!(
                            "the host refused header `{name}` ({e:?})"
                        )));
                    }
                }
            }
            let request = OutgoingRequest::new(fields);
            let method = match self.method {
                "GET" => Method::Get,
                "HEAD" => Method::Head,
                "POST" => Method::Post,
                "PUT" => Method::Put,
                "DELETE" => Method::Delete,
                "CONNECT" => Method::Connect,
                "OPTIONS" => Method::Options,
                "TRACE" => Method::Trace,
                "PATCH" => Method::Patch,
                other => Method::Other(other.to_string()),
            };
            let scheme = if self.url.is_https() {
                Scheme::Https
            } else {
                Scheme::Http
            };
            let invalid = |what: &str| Failure::Invalid(format!("the host refused the {what}"));
            request
                .set_method(&method)
                .map_err(|()| invalid("method"))?;
            request
                .set_scheme(Some(&scheme))
                .map_err(|()| invalid("scheme"))?;
            request
                .set_authority(Some(&self.url.host_header()))
                .map_err(|()| invalid("host and port"))?;
            request
                .set_path_with_query(Some(self.url.target()))
                .map_err(|()| invalid("path"))?;
            Ok(request)
        }

        /// Status, headers and (when wanted) the body of `response`.
        fn read<'w>(
            &self,
            response: IncomingResponse,
            deadline: &Deadline,
            timer: &Pollable,
            wants_body: impl FnOnce(u16, &[(String, String)]) -> bool,
            out: Option<&mut (dyn std::io::Write + 'w)>,
        ) -> Result<Response, Failure> {
            let status = response.status();
            let headers: Vec<(String, String)> = {
                let fields = response.headers();
                fields
                    .entries()
                    .into_iter()
                    .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                    .collect()
            };
            let no_body = self.method == "HEAD"
                || status == 204
                || status == 304
                || (100..200).contains(&status);
            let mut body = Vec::new();
            if !no_body && wants_body(status, &headers) {
                let length = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<u64>().ok());
                // Only a success is streamed; another status's body says what went wrong.
                let (out, max) = match out {
                    Some(out) if (200..300).contains(&status) => (Some(out), self.max_body),
                    Some(_) => (None, self.max_body.min(ERROR_BODY)),
                    None => (None, self.max_body),
                };
                if let Some(length) = length
                    && length > max
                {
                    return Err(Failure::TooLarge(Some(length)));
                }
                body = read_body(&response, max, deadline, timer, out)?;
            }
            Ok(Response {
                status,
                reason: reason_phrase(status).to_string(),
                headers,
                body,
                url: self.url.clone(),
            })
        }
    }

    /// Writes `bytes` to the request body in chunks the stream accepts, then flushes; `false`
    /// when the stream failed or the response arrived before the body was written.
    fn write_body(
        outgoing: &OutgoingBody,
        bytes: &[u8],
        arrived: &Pollable,
        timer: &Pollable,
    ) -> Result<bool, Failure> {
        let stream = outgoing
            .write()
            .map_err(|()| Failure::Invalid("the request body stream was already taken".into()))?;
        let ready = stream.subscribe();
        let mut rest = bytes;
        while !rest.is_empty() {
            match stream.check_write() {
                Ok(0) => {
                    if let Wake::Response = wait(&ready, Some(arrived), timer)? {
                        return Ok(false);
                    }
                }
                Ok(permitted) => {
                    let n = rest
                        .len()
                        .min(WRITE_CHUNK)
                        .min(usize::try_from(permitted).unwrap_or(usize::MAX));
                    if stream.write(&rest[..n]).is_err() {
                        return Ok(false);
                    }
                    rest = &rest[n..];
                }
                Err(_) => return Ok(false),
            }
        }
        if stream.flush().is_err() {
            return Ok(false);
        }
        loop {
            match stream.check_write() {
                Ok(0) => {
                    if let Wake::Response = wait(&ready, Some(arrived), timer)? {
                        return Ok(false);
                    }
                }
                Ok(_) => return Ok(true),
                Err(_) => return Ok(false),
            }
        }
    }

    /// Reads the whole body of `response`, at most `max` bytes, within the deadline.
    /// The body, at most `max` bytes: in the returned vector, or written to `out` (then the
    /// vector is empty).
    fn read_body<'w>(
        response: &IncomingResponse,
        max: u64,
        deadline: &Deadline,
        timer: &Pollable,
        mut out: Option<&mut (dyn std::io::Write + 'w)>,
    ) -> Result<Vec<u8>, Failure> {
        let incoming = response
            .consume()
            .map_err(|()| Failure::Io("the response body was already taken".into()))?;
        let stream = incoming
            .stream()
            .map_err(|()| Failure::Io("the response body stream was already taken".into()))?;
        let ready = stream.subscribe();
        let mut body = Vec::new();
        let mut written: u64 = 0;
        loop {
            if deadline.passed() {
                return Err(Failure::Timeout);
            }
            let room = max - body.len() as u64 - written;
            // One byte more than the room left tells a body over the cap.
            let want = READ_CHUNK.min(room.saturating_add(1));
            match stream.read(want) {
                Ok(chunk) if chunk.is_empty() => {
                    wait(&ready, None, timer)?;
                }
                Ok(chunk) => {
                    if chunk.len() as u64 > room {
                        return Err(Failure::TooLarge(None));
                    }
                    match out.as_deref_mut() {
                        Some(out) => {
                            out.write_all(&chunk).map_err(|e| {
                                Failure::Io(format!("writing the response body failed: {e}"))
                            })?;
                            written += chunk.len() as u64;
                        }
                        None => body.extend_from_slice(&chunk),
                    }
                }
                Err(StreamError::Closed) => return Ok(body),
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(match http_error_code(&e) {
                        Some(code) => Failure::Code(code),
                        None => Failure::Io(format!(
                            "reading the response body failed: {}",
                            e.to_debug_string()
                        )),
                    });
                }
            }
        }
    }
}

/// Outside the sandbox: no `wasi:http`, every request fails with [`Failure::NoSandbox`].
#[cfg(not(target_arch = "wasm32"))]
mod transport {
    use std::time::Duration;

    use super::{Failure, Response, Url};

    pub(super) struct Deadline;

    impl Deadline {
        pub(super) fn after(_timeout: Duration) -> Self {
            Self
        }
    }

    pub(super) struct Exchange<'a> {
        pub(super) method: &'a str,
        pub(super) url: &'a Url,
        pub(super) headers: &'a [(String, String)],
        pub(super) body: &'a [u8],
        pub(super) max_body: u64,
    }

    impl Exchange<'_> {
        pub(super) fn run<'w>(
            &self,
            _deadline: &Deadline,
            _wants_body: impl FnOnce(u16, &[(String, String)]) -> bool,
            _out: Option<&mut (dyn std::io::Write + 'w)>,
        ) -> Result<Response, Failure> {
            let _ = (
                self.method,
                self.url,
                self.headers,
                self.body,
                self.max_body,
            );
            Err(Failure::NoSandbox)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasip2::http::types::{DnsErrorPayload, TlsAlertReceivedPayload};

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn urls_http_and_https() {
        let u = url("http://example.org");
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.target()),
            ("http", "example.org", 80, "/")
        );
        let u = url("HTTPS://Example.org?q=1#frag");
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.target()),
            ("https", "Example.org", 443, "/?q=1")
        );
        assert!(u.is_https());
        assert_eq!(u.authority(), "Example.org:443");
        assert_eq!(u.to_string(), "https://Example.org/?q=1");
        let u = url("http://[::1]:9000/a/b");
        assert_eq!(
            (u.host(), u.port(), u.authority()),
            ("::1", 9000, "[::1]:9000".into())
        );
        assert_eq!(u.to_string(), "http://[::1]:9000/a/b");
        assert_eq!(url("https://[::1]/").to_string(), "https://[::1]/");
        assert_eq!(url("https://h:443/x").to_string(), "https://h/x");
        assert_eq!(url("http://h:443/x").to_string(), "http://h:443/x");
        assert_eq!(url("https://h:80/x").origin(), "https://h:80");
        assert_eq!(
            url("http://10.0.0.5:8080/x?y").origin(),
            "http://10.0.0.5:8080"
        );
        for (bad, why) in [
            ("ftp://example.org/", "only `http://` and `https://`"),
            ("example.org/", "expected `http://"),
            ("http:///x", "no host"),
            ("https://:8443/x", "no host"),
            ("http://h:0/", "port"),
            ("http://h:99999/", "port"),
            ("https://h:x/", "port"),
            ("http://u@h/", "user information"),
            ("https://user:pw@h/", "user information"),
            ("http://h/a b", "spaces"),
            ("http://h/a\u{7f}", "control"),
            ("http://h ost/", "host name cannot have"),
            ("http://[::1/", "unterminated"),
            ("http://[example.org]/", "not an IPv6 address"),
            ("http://[::1]x/", "after `]`"),
        ] {
            let e = Url::parse(bad).unwrap_err();
            assert_eq!(e.kind, HttpErrorKind::InvalidUrl, "{bad}");
            assert!(e.message.contains(why), "{bad}: {}", e.message);
            assert!(
                e.message.starts_with(&format!("`{bad}`: ")),
                "{}",
                e.message
            );
        }
        assert!(matches!(
            crate::Error::from(Url::parse("ftp://x/").unwrap_err()),
            crate::Error::InvalidConfig(_)
        ));
    }

    /// RFC 3986 §5.4, the examples that apply to HTTP URLs.
    #[test]
    fn references_resolve_as_in_rfc_3986() {
        let base = url("http://a/b/c/d;p?q");
        for (reference, expected) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("https://other:8443/x?1", "https://other:8443/x?1"),
            (" /padded ", "http://a/padded"),
        ] {
            assert_eq!(
                base.join(reference).map(|u| u.to_string()),
                Ok(expected.to_string()),
                "{reference:?}"
            );
        }
        let https = url("https://secure.example/a/b");
        assert_eq!(
            https.join("//cdn.example/x").unwrap().to_string(),
            "https://cdn.example/x"
        );
        assert_eq!(https.join("/x").unwrap().port(), 443);
        for bad in ["ftp://x/", "mailto:ops@example.org", "/a b", "http://u@h/"] {
            let e = base.join(bad).unwrap_err();
            assert_eq!(e.kind, HttpErrorKind::InvalidUrl, "{bad}: {e}");
        }
    }

    #[test]
    fn headers_the_host_manages_are_skipped_and_bad_ones_refused() {
        for managed in [
            "Host",
            "connection",
            "Content-Length",
            "Transfer-Encoding",
            "KEEP-ALIVE",
            "Upgrade",
            "Proxy-Authorization",
            "proxy-connection",
            "http2-settings",
        ] {
            assert_eq!(
                check_header(managed, "x"),
                HeaderCheck::Managed,
                "{managed}"
            );
        }
        assert_eq!(check_header("X-Trace", "a b\tc ü"), HeaderCheck::Send);
        assert!(
            matches!(check_header("X Bad", "1"), HeaderCheck::Invalid(m) if m.contains("`X Bad`"))
        );
        assert!(matches!(check_header("", "1"), HeaderCheck::Invalid(_)));
        assert!(
            matches!(check_header("X-A", "a\u{1}b"), HeaderCheck::Invalid(m) if m.contains("control"))
        );

        let request = Request::post("http://h/")
            .unwrap()
            .header("Host", "evil")
            .header("Connection", "keep-alive")
            .header("Transfer-Encoding", "chunked")
            .header("Content-Length", "99")
            .header("X-A\r\n", "v\r\nInjected: 1")
            .header("Authorization", "Bearer t");
        assert_eq!(
            request.headers,
            [
                ("X-A".to_string(), "vInjected: 1".to_string()),
                ("Authorization".to_string(), "Bearer t".to_string())
            ]
        );
        assert_eq!(request.bad_header, None);
        assert_eq!(request.headers(), &request.headers[..]);
        assert_eq!(request.header_value("authorization"), Some("Bearer t"));
        assert_eq!(request.header_value("host"), None, "managed: not sent");

        let e = Request::get("http://h/x")
            .unwrap()
            .header("Bad Name", "1")
            .header("Worse Name", "2")
            .send()
            .unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::InvalidUrl);
        assert_eq!(
            e.message,
            "GET http://h/x: `Bad Name` is not a valid header name"
        );
    }

    #[test]
    fn a_response_header_given_several_times_has_every_value() {
        let response = Response {
            status: 401,
            reason: "Unauthorized".into(),
            headers: vec![
                ("www-authenticate".into(), "Bearer realm=\"r\"".into()),
                ("content-type".into(), "text/plain".into()),
                ("WWW-Authenticate".into(), "Basic realm=\"git\"".into()),
            ],
            body: Vec::new(),
            url: Url::parse("http://h/").unwrap(),
        };
        assert_eq!(
            response.header("Www-Authenticate"),
            Some("Bearer realm=\"r\"")
        );
        assert_eq!(
            response
                .header_values("www-authenticate")
                .collect::<Vec<_>>(),
            ["Bearer realm=\"r\"", "Basic realm=\"git\""]
        );
        assert_eq!(response.header_values("link").count(), 0);
    }

    #[test]
    fn wire_headers_add_defaults_and_the_body_length() {
        let names = |wire: Vec<(String, String)>| -> Vec<String> {
            wire.into_iter().map(|(n, v)| format!("{n}: {v}")).collect()
        };
        assert_eq!(
            names(wire_headers(&[], "GET", 0)),
            ["user-agent: lockgate-sdk", "accept: */*"]
        );
        assert_eq!(
            names(wire_headers(
                &[
                    ("User-Agent".into(), "probe/1".into()),
                    ("X".into(), "1".into())
                ],
                "POST",
                0
            )),
            [
                "accept: */*",
                "User-Agent: probe/1",
                "X: 1",
                "content-length: 0"
            ]
        );
        assert_eq!(
            names(wire_headers(
                &[("Accept".into(), "text/plain".into())],
                "DELETE",
                5
            )),
            [
                "user-agent: lockgate-sdk",
                "Accept: text/plain",
                "content-length: 5"
            ]
        );
    }

    #[test]
    fn redirects_change_the_method_as_browsers_do() {
        let here = url("http://api.example:8080/v1/apps?x=1");
        let follow = |status, method: &str, location: &str| {
            follow_redirect(status, method, &here, location).unwrap()
        };
        let r = follow(302, "GET", "web");
        assert_eq!(
            (
                r.method.as_str(),
                r.url.to_string(),
                r.keep_body,
                r.same_origin
            ),
            (
                "GET",
                "http://api.example:8080/v1/web".to_string(),
                true,
                true
            )
        );
        let r = follow(303, "POST", "/status/7");
        assert_eq!((r.method.as_str(), r.keep_body), ("GET", false));
        assert_eq!(r.url.target(), "/status/7");
        assert_eq!(follow(303, "HEAD", "/s").method, "HEAD");
        for status in [301, 302] {
            let r = follow(status, "POST", "/moved");
            assert_eq!((r.method.as_str(), r.keep_body), ("GET", false), "{status}");
            let r = follow(status, "PUT", "/moved");
            assert_eq!((r.method.as_str(), r.keep_body), ("GET", false), "{status}");
            assert_eq!(follow(status, "HEAD", "/moved").method, "HEAD");
        }
        for status in [307, 308] {
            let r = follow(status, "POST", "/again");
            assert_eq!((r.method.as_str(), r.keep_body), ("POST", true), "{status}");
        }
        // Another port, host or scheme is another origin: Authorization is not sent there.
        assert!(!follow(302, "GET", "http://api.example:8081/").same_origin);
        assert!(!follow(302, "GET", "http://other.example:8080/").same_origin);
        assert!(!follow(302, "GET", "https://api.example:8080/").same_origin);
        assert!(follow(302, "GET", "http://API.example:8080/x").same_origin);
        // Upgrading to https is fine; downgrading is refused, naming both URLs.
        assert!(follow(301, "GET", "https://api.example/").url.is_https());
        let secure = url("https://api.example/login");
        let (kind, why) =
            follow_redirect(302, "GET", &secure, "http://api.example/login").unwrap_err();
        assert_eq!(kind, HttpErrorKind::Refused);
        assert!(
            why.contains("from https://api.example/login to http://api.example/login")
                && why.contains("refusing"),
            "{why}"
        );
        let (kind, why) = follow_redirect(302, "GET", &here, "ftp://files/").unwrap_err();
        assert_eq!(kind, HttpErrorKind::Protocol);
        assert!(
            why.contains("bad location") && why.contains("ftp://files/"),
            "{why}"
        );
    }

    #[test]
    fn only_redirects_with_a_location_are_followed() {
        let location = vec![("location".to_string(), "/next".to_string())];
        for status in [301, 302, 303, 307, 308] {
            assert_eq!(
                redirect_location(status, &location),
                Some("/next"),
                "{status}"
            );
        }
        for status in [200, 300, 304, 305, 404] {
            assert_eq!(redirect_location(status, &location), None, "{status}");
        }
        assert_eq!(redirect_location(302, &[]), None);
        assert_eq!(
            redirect_location(302, &[("Location".to_string(), " ".to_string())]),
            None
        );
    }

    fn attempt_error(failure: Failure, from: Option<&Url>) -> HttpError {
        let target = url("http://127.0.0.1:8080/x");
        Attempt {
            method: "GET",
            url: &target,
            from,
            timeout: Duration::from_millis(1500),
            max_body: 100,
        }
        .error(failure)
    }

    #[test]
    fn wasi_http_errors_map_to_kinds_with_messages_naming_the_url() {
        use HttpErrorKind as K;
        let cases: Vec<(ErrorCode, HttpErrorKind, &str)> = vec![
            (
                ErrorCode::HttpRequestDenied,
                K::Refused,
                "the sandbox refused the connection to 127.0.0.1:8080: it is not granted to this step; grant `127.0.0.1:8080` in `grants.network`",
            ),
            (
                ErrorCode::DnsTimeout,
                K::Connect,
                "cannot resolve `127.0.0.1`",
            ),
            (
                ErrorCode::DnsError(DnsErrorPayload {
                    rcode: Some("NXDOMAIN".into()),
                    info_code: None,
                }),
                K::Connect,
                "cannot resolve `127.0.0.1` (NXDOMAIN)",
            ),
            (ErrorCode::DestinationNotFound, K::Connect, "cannot resolve"),
            (
                ErrorCode::ConnectionRefused,
                K::Connect,
                "cannot connect to 127.0.0.1:8080: connection refused",
            ),
            (
                ErrorCode::DestinationUnavailable,
                K::Connect,
                "cannot connect to 127.0.0.1:8080: destination-unavailable",
            ),
            (
                ErrorCode::DestinationIpUnroutable,
                K::Connect,
                "cannot connect",
            ),
            (
                ErrorCode::ConnectionTimeout,
                K::Timeout,
                "connecting to 127.0.0.1:8080 timed out (the timeout is 1500 ms)",
            ),
            (
                ErrorCode::ConnectionReadTimeout,
                K::Timeout,
                "did not answer in time (connection-read-timeout; the timeout is 1500 ms)",
            ),
            (
                ErrorCode::HttpResponseTimeout,
                K::Timeout,
                "http-response-timeout",
            ),
            (
                ErrorCode::TlsCertificateError,
                K::Tls,
                "the certificate of 127.0.0.1:8080 did not verify",
            ),
            (
                ErrorCode::TlsProtocolError,
                K::Tls,
                "the TLS handshake with 127.0.0.1:8080 failed",
            ),
            (
                ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload {
                    alert_id: Some(48),
                    alert_message: Some("unknown ca".into()),
                }),
                K::Tls,
                "the server sent the alert `unknown ca`",
            ),
            (
                ErrorCode::HttpResponseBodySize(Some(1)),
                K::TooLarge,
                "larger than the host accepts",
            ),
            (
                ErrorCode::ConnectionTerminated,
                K::Io,
                "closed before the whole response (connection-terminated)",
            ),
            (
                ErrorCode::HttpResponseIncomplete,
                K::Io,
                "http-response-incomplete",
            ),
            (
                ErrorCode::InternalError(Some("boom".into())),
                K::Io,
                "the host failed to send the request to 127.0.0.1:8080: boom",
            ),
            (
                ErrorCode::HttpProtocolError,
                K::Protocol,
                "HTTP error talking to 127.0.0.1:8080: http-protocol-error",
            ),
            (
                ErrorCode::HttpRequestUriInvalid,
                K::Protocol,
                "http-request-uri-invalid",
            ),
        ];
        for (code, kind, text) in cases {
            let name = format!("{code:?}");
            let e = attempt_error(Failure::Code(code), None);
            assert_eq!(e.kind, kind, "{name}: {e}");
            assert!(
                e.message.starts_with("GET http://127.0.0.1:8080/x: "),
                "{name}: {e}"
            );
            assert!(e.message.contains(text), "{name}: {e}");
            if kind == K::Tls {
                assert!(e.message.contains("`lockgate --ca-cert`"), "{name}: {e}");
            }
        }
    }

    #[test]
    fn client_failures_are_worded_too() {
        let e = attempt_error(Failure::Timeout, None);
        assert_eq!(e.kind, HttpErrorKind::Timeout);
        assert_eq!(
            e.message,
            "GET http://127.0.0.1:8080/x: no complete response within the timeout of 1500 ms"
        );
        let e = attempt_error(Failure::TooLarge(Some(1000)), None);
        assert_eq!(e.kind, HttpErrorKind::TooLarge);
        assert!(
            e.message
                .contains("(1000 bytes by its Content-Length) is larger than the cap of 100 bytes"),
            "{e}"
        );
        let e = attempt_error(Failure::TooLarge(None), None);
        assert!(
            e.message
                .ends_with("the response body is larger than the cap of 100 bytes"),
            "{e}"
        );
        let e = attempt_error(Failure::Io("reading failed".into()), None);
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                HttpErrorKind::Io,
                "GET http://127.0.0.1:8080/x: reading failed (127.0.0.1:8080)"
            )
        );
        let e = attempt_error(Failure::Invalid("the host refused the path".into()), None);
        assert_eq!(e.kind, HttpErrorKind::InvalidUrl);
        let e = attempt_error(Failure::NoSandbox, None);
        assert_eq!(e.kind, HttpErrorKind::Connect);
        assert!(
            e.message.contains("needs the Lockgate sandbox (wasi:http"),
            "{e}"
        );

        // After a redirect, the message says where the request came from.
        let start = url("http://127.0.0.1:7070/start");
        let e = attempt_error(Failure::Code(ErrorCode::HttpRequestDenied), Some(&start));
        assert_eq!(e.kind, HttpErrorKind::Refused);
        assert!(
            e.message.starts_with(
                "GET http://127.0.0.1:8080/x (reached by a redirect from http://127.0.0.1:7070/start): the sandbox refused the connection to 127.0.0.1:8080"
            ),
            "{e}"
        );
        assert!(matches!(crate::Error::from(e), crate::Error::Failed(_)));
    }

    #[test]
    fn small_helpers() {
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(human(Duration::ZERO), "0 ms");
        assert_eq!(
            code_name(&ErrorCode::ConnectionRefused),
            "connection-refused"
        );
        assert_eq!(
            code_name(&ErrorCode::DnsError(DnsErrorPayload {
                rcode: None,
                info_code: None
            })),
            "dns-error"
        );
        assert_eq!(reason_phrase(404), "Not Found");
        assert_eq!(reason_phrase(599), "");
        assert_eq!(remove_dot_segments("/"), "/");
        assert_eq!(remove_dot_segments("/a//b/./c/.."), "/a//b/");
        let r = Response {
            status: 200,
            reason: "OK".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"{\"id\": 7}".to_vec(),
            url: url("https://h/x"),
        };
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert!(r.is_success());
        #[derive(serde::Deserialize)]
        struct Id {
            id: u32,
        }
        assert_eq!(r.json::<Id>().unwrap().id, 7);
        let e = r.json::<Vec<u8>>().unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Decode);
        assert!(
            e.message
                .starts_with("https://h/x: the response body is not the JSON expected"),
            "{e}"
        );
    }

    /// Natively there is no `wasi:http`; on wasm32 the test runner's host sends the request
    /// (without any grant check), to a port where nothing listens.
    #[test]
    fn a_port_where_nothing_listens() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = Request::get(&format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .send()
            .unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Connect, "{e}");
        assert!(
            e.message
                .starts_with(&format!("GET http://127.0.0.1:{port}/: ")),
            "{e}"
        );
        if cfg!(target_arch = "wasm32") {
            assert!(
                e.message
                    .contains(&format!("cannot connect to 127.0.0.1:{port}")),
                "{e}"
            );
        } else {
            assert!(e.message.contains("needs the Lockgate sandbox"), "{e}");
        }
    }

    /// The deadline holds against a server that accepts (the listener's backlog does) and
    /// never answers, with a body larger than the socket buffers take: on wasm32, through the
    /// test runner's `wasi:http`.
    #[test]
    #[cfg(target_arch = "wasm32")]
    fn the_deadline_holds_against_a_silent_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/slow", listener.local_addr().unwrap());
        for body in [Vec::new(), vec![b'x'; 8 << 20]] {
            let started = std::time::Instant::now();
            let e = Request::post(&url)
                .unwrap()
                .body(body)
                .timeout(Duration::from_millis(300))
                .send()
                .unwrap_err();
            let took = started.elapsed();
            assert_eq!(e.kind, HttpErrorKind::Timeout, "{e}");
            assert!(e.message.starts_with(&format!("POST {url}: ")), "{e}");
            assert!(e.message.contains("300 ms"), "{e}");
            assert!(took < Duration::from_secs(5), "took {took:?}");
        }
        drop(listener);
    }
}
