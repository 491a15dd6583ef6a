//! A minimal HTTP/1.1 client over [`std::net::TcpStream`], for plugins that talk to a
//! granted `host:port`.
//!
//! - Only `http://host[:port][/path][?query]` URLs: there is **no TLS** in the sandbox, an
//!   `https://` URL is an [`HttpErrorKind::InvalidUrl`] error saying so.
//! - One request per connection (`Connection: close`); any method, headers and a body;
//!   responses with `Content-Length`, `Transfer-Encoding: chunked` or read to the end of the
//!   connection; `1xx` interim responses are skipped.
//! - A deadline for the whole exchange ([`Request::timeout`], default 30 s) and a cap on the
//!   response body ([`Request::max_response_bytes`], default 16 MiB).
//! - Redirects are not followed: a `3xx` is returned as it is.
//!
//! A connection the sandbox refuses (the `host:port` was not granted to the step) is an
//! [`HttpErrorKind::Refused`] error whose message says so; the host also logs the refusal.
//!
//! ```no_run
//! use lockgate_sdk::http::Request;
//!
//! let response = Request::get("http://127.0.0.1:8080/healthz")?
//!     .header("Accept", "application/json")
//!     .send()?;
//! assert_eq!(response.status, 200);
//! println!("{}", response.text());
//! # Ok::<(), lockgate_sdk::http::HttpError>(())
//! ```

use std::fmt;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

/// Default deadline of one exchange (connect, send, receive).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on the size of a response body: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Cap on the status line and headers of a response together.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What kind of failure an [`HttpError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// The URL is not `http://host[:port]/...` (for example `https://`, no host, bad port).
    InvalidUrl,
    /// The sandbox refused the connection: the `host:port` is not granted.
    Refused,
    /// The host name could not be resolved, or the connection failed (nothing listening,
    /// unreachable).
    Connect,
    /// The deadline passed.
    Timeout,
    /// The connection broke while sending or receiving.
    Io,
    /// The server's answer is not valid HTTP/1.x.
    Protocol,
    /// The response body is larger than the cap.
    TooLarge,
    /// The response body is not the JSON expected ([`Response::json`]).
    Decode,
}

/// Why a request failed. The message names the URL.
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

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    host: String,
    port: u16,
    target: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query]` (the port defaults to 80, the path to
    /// `/`; a `#fragment` is dropped). IPv6 literals go in brackets: `http://[::1]:8080/`.
    ///
    /// ```
    /// use lockgate_sdk::http::Url;
    ///
    /// let url = Url::parse("http://127.0.0.1:8080/v1/apps?x=1").unwrap();
    /// assert_eq!((url.host(), url.port(), url.target()), ("127.0.0.1", 8080, "/v1/apps?x=1"));
    /// assert!(Url::parse("https://example.org/").unwrap_err().message.contains("TLS"));
    /// ```
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let bad = |why: &str| HttpError::new(HttpErrorKind::InvalidUrl, format!("`{url}`: {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("expected `http://host[:port]/path`"));
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(bad(
                "https is not supported: the plugin sandbox has no TLS, use plain `http://`",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("only `http://` URLs are supported"));
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        if authority.contains('@') {
            return Err(bad("user information in URLs is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return Err(bad("unterminated `[` in the host"));
            };
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
        if target
            .chars()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
        {
            return Err(bad("the path contains spaces or control characters"));
        }
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
        };
        Ok(Self {
            host: host.to_string(),
            port,
            target,
        })
    }

    /// The host name or IP address (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (80 when the URL has none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query, as sent in the request line: `/v1/apps?x=1`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `host:port` (brackets around IPv6 literals), as the pipeline grants it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.target)
    }
}

/// An HTTP request being built; [`send`](Request::send) performs it.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
    max_response_bytes: usize,
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
            body: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
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

    /// Adds a header. `Host`, `Content-Length` and `Connection` are set by the client;
    /// headers with these names are ignored. CR and LF in names or values are removed.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let clean = |s: &str| s.replace(['\r', '\n'], "");
        let name = clean(name);
        let managed = ["host", "content-length", "connection", "transfer-encoding"];
        if !managed.contains(&name.to_ascii_lowercase().as_str()) {
            self.headers.push((name, clean(value)));
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

    /// Sets the deadline of the whole exchange (connect, send, receive).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the cap on the response body; a larger body is an [`HttpErrorKind::TooLarge`]
    /// error.
    #[must_use]
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The method, upper-cased.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Connects, sends the request and reads the whole response.
    pub fn send(&self) -> Result<Response, HttpError> {
        let deadline = Instant::now() + self.timeout;
        let what = format!("{} {}", self.method, self.url);
        let stream = self.connect(deadline, &what)?;
        let io_err = |e: io::Error| io_error(&what, e);
        let mut writer = &stream;
        writer.write_all(&self.head()).map_err(io_err)?;
        writer.write_all(&self.body).map_err(io_err)?;
        writer.flush().map_err(io_err)?;
        let mut reader = BufReader::new(DeadlineReader {
            stream: &stream,
            deadline,
        });
        read_response(&mut reader, self.method == "HEAD", self.max_response_bytes)
            .map_err(|e| HttpError::new(e.kind, format!("{what}: {}", e.message)))
    }

    fn connect(&self, deadline: Instant, what: &str) -> Result<TcpStream, HttpError> {
        let authority = self.url.authority();
        let addrs: Vec<SocketAddr> = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()
            .map_err(|e| {
                let kind = classify(&e);
                let message = if kind == HttpErrorKind::Refused {
                    refused_message(what, &authority, &e)
                } else {
                    format!("{what}: cannot resolve `{}`: {e}", self.url.host)
                };
                HttpError::new(kind, message)
            })?
            .collect();
        let mut last = None;
        for addr in addrs {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            let attempt = match TcpStream::connect_timeout(&addr, remaining) {
                Err(e) if e.kind() == ErrorKind::Unsupported => TcpStream::connect(addr),
                other => other,
            };
            // On wasm32-wasip2, `connect_timeout` can return a stream whose connection was
            // refused (the refusal comes after the poll it waits on); the first write then
            // fails with "Socket not connected". The pending error says what happened.
            let attempt = attempt.and_then(|stream| match stream.take_error() {
                Ok(Some(e)) => Err(e),
                _ => Ok(stream),
            });
            match attempt {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => match classify(&e) {
                HttpErrorKind::Refused => HttpError::new(
                    HttpErrorKind::Refused,
                    refused_message(what, &authority, &e),
                ),
                HttpErrorKind::Timeout => HttpError::new(
                    HttpErrorKind::Timeout,
                    format!("{what}: connecting to {authority} timed out: {e}"),
                ),
                _ => HttpError::new(
                    HttpErrorKind::Connect,
                    format!("{what}: cannot connect to {authority}: {e}"),
                ),
            },
            None if Instant::now() >= deadline => HttpError::new(
                HttpErrorKind::Timeout,
                format!("{what}: timed out before connecting"),
            ),
            None => HttpError::new(
                HttpErrorKind::Connect,
                format!("{what}: `{}` resolves to no address", self.url.host),
            ),
        })
    }

    /// Request line and headers.
    fn head(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.url.target);
        let default_port = self.url.port == 80;
        let host = if default_port && !self.url.host.contains(':') {
            self.url.host.clone()
        } else {
            self.url.authority()
        };
        head.push_str(&format!("Host: {host}\r\n"));
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if !has("user-agent") {
            head.push_str("User-Agent: lockgate-sdk\r\n");
        }
        if !has("accept") {
            head.push_str("Accept: */*\r\n");
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }
}

fn refused_message(what: &str, authority: &str, e: &io::Error) -> String {
    format!(
        "{what}: the sandbox refused the connection to {authority} ({e}): grant `{authority}` to this step"
    )
}

/// Maps an I/O error to a kind: permission errors are the sandbox refusing.
fn classify(e: &io::Error) -> HttpErrorKind {
    match e.kind() {
        ErrorKind::PermissionDenied => HttpErrorKind::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => HttpErrorKind::Timeout,
        _ => HttpErrorKind::Io,
    }
}

fn io_error(what: &str, e: io::Error) -> HttpError {
    let kind = classify(&e);
    match kind {
        HttpErrorKind::Timeout => HttpError::new(kind, format!("{what}: timed out: {e}")),
        _ => HttpError::new(HttpErrorKind::Io, format!("{what}: {e}")),
    }
}

/// A reader that fails with `TimedOut` once the deadline has passed, and bounds each read
/// by the time left (where the platform supports socket timeouts).
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "deadline passed"));
        }
        // Not every WASI implementation supports socket timeouts; the host's own deadline
        // is then the bound.
        let _ = self.stream.set_read_timeout(Some(remaining));
        let mut stream = self.stream;
        stream.read(buf)
    }
}

/// An HTTP response: status, headers and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, for example 200.
    pub status: u16,
    /// Reason phrase, for example `OK` (may be empty).
    pub reason: String,
    /// Headers in the order received (names as sent).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header named `name` (case-insensitive).
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
                format!("the response body is not the JSON expected ({e}): {preview:?}"),
            )
        })
    }
}

fn protocol(message: impl Into<String>) -> HttpError {
    HttpError::new(HttpErrorKind::Protocol, message)
}

fn read_err(e: io::Error) -> HttpError {
    match classify(&e) {
        HttpErrorKind::Timeout => HttpError::new(
            HttpErrorKind::Timeout,
            format!("timed out reading the response: {e}"),
        ),
        _ => HttpError::new(HttpErrorKind::Io, format!("reading the response: {e}")),
    }
}

/// Reads one line ending in LF (CR LF accepted), at most `limit` bytes, without the
/// line ending. `None` at end of stream before any byte.
fn read_line(reader: &mut impl BufRead, limit: usize) -> Result<Option<String>, HttpError> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().map_err(read_err)?;
        if buf.is_empty() {
            if line.is_empty() {
                return Ok(None);
            }
            return Err(protocol("the connection closed in the middle of a line"));
        }
        let (used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..used]);
        reader.consume(used);
        if line.len() > limit {
            return Err(protocol(format!(
                "a response line is longer than {limit} bytes"
            )));
        }
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return String::from_utf8(line)
                .map(Some)
                .map_err(|_| protocol("a response line is not UTF-8"));
        }
    }
}

/// Reads a status line and headers: a response without its body.
fn read_head(reader: &mut impl BufRead) -> Result<Response, HttpError> {
    let mut budget = MAX_HEAD_BYTES;
    let status_line = read_line(reader, budget)?
        .ok_or_else(|| protocol("the server closed the connection without a response"))?;
    budget = budget.saturating_sub(status_line.len());
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        let preview: String = status_line.chars().take(80).collect();
        return Err(protocol(format!("not an HTTP/1.x response: {preview:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| protocol(format!("bad status line {status_line:?}")))?;
    let reason = parts.next().unwrap_or_default().trim().to_string();
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, budget)?
            .ok_or_else(|| protocol("the connection closed in the middle of the headers"))?;
        if line.is_empty() {
            break;
        }
        budget = budget.checked_sub(line.len()).ok_or_else(|| {
            protocol(format!(
                "the headers are larger than {MAX_HEAD_BYTES} bytes"
            ))
        })?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| protocol(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Response {
        status,
        reason,
        headers,
        body: Vec::new(),
    })
}

/// Reads a whole response from `reader`: skips `1xx` interim responses, then decodes the
/// body by `Transfer-Encoding: chunked`, `Content-Length` or end of stream.
fn read_response(
    reader: &mut impl BufRead,
    head_request: bool,
    max_body: usize,
) -> Result<Response, HttpError> {
    let mut response = loop {
        let head = read_head(reader)?;
        if !(100..200).contains(&head.status) || head.status == 101 {
            break head;
        }
    };
    let status = response.status;
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(response);
    }
    let too_large = || {
        HttpError::new(
            HttpErrorKind::TooLarge,
            format!("the response body is larger than the cap of {max_body} bytes"),
        )
    };
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        response.body = read_chunked(reader, max_body)?;
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| protocol(format!("bad Content-Length {length:?}")))?;
        if length > max_body {
            return Err(too_large());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                protocol(format!(
                    "the connection closed before the {length} bytes of the body"
                ))
            } else {
                read_err(e)
            }
        })?;
        response.body = body;
    } else {
        let mut body = Vec::new();
        let limit = u64::try_from(max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        reader
            .take(limit)
            .read_to_end(&mut body)
            .map_err(read_err)?;
        if body.len() > max_body {
            return Err(too_large());
        }
        response.body = body;
    }
    Ok(response)
}

fn read_chunked(reader: &mut impl BufRead, max_body: usize) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader, 1024)?
            .ok_or_else(|| protocol("the connection closed in the middle of a chunked body"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| protocol(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line (or the end of the stream).
            while let Some(trailer) = read_line(reader, MAX_HEAD_BYTES)? {
                if trailer.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        if body.len().saturating_add(size) > max_body {
            return Err(HttpError::new(
                HttpErrorKind::TooLarge,
                format!("the response body is larger than the cap of {max_body} bytes"),
            ));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                protocol("the connection closed in the middle of a chunk")
            } else {
                read_err(e)
            }
        })?;
        let end = read_line(reader, 2)?;
        if end.as_deref() != Some("") {
            return Err(protocol("a chunk is not followed by CRLF"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    fn parse(raw: &str, max: usize) -> Result<Response, HttpError> {
        read_response(&mut raw.as_bytes(), false, max)
    }

    #[test]
    fn urls() {
        let u = Url::parse("http://example.org").unwrap();
        assert_eq!((u.host(), u.port(), u.target()), ("example.org", 80, "/"));
        let u = Url::parse("HTTP://10.0.0.1:8080?q=1#frag").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.target()),
            ("10.0.0.1", 8080, "/?q=1")
        );
        let u = Url::parse("http://[::1]:9000/a/b").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.authority()),
            ("::1", 9000, "[::1]:9000".into())
        );
        assert_eq!(u.to_string(), "http://[::1]:9000/a/b");
        for (bad, why) in [
            ("https://example.org/", "no TLS"),
            ("ftp://example.org/", "only `http://`"),
            ("example.org/", "expected `http://"),
            ("http:///x", "no host"),
            ("http://h:0/", "port"),
            ("http://h:99999/", "port"),
            ("http://h:x/", "port"),
            ("http://u@h/", "user information"),
            ("http://h/a b", "spaces"),
        ] {
            let e = Url::parse(bad).unwrap_err();
            assert_eq!(e.kind, HttpErrorKind::InvalidUrl, "{bad}");
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
        assert!(matches!(
            crate::Error::from(Url::parse("https://x/").unwrap_err()),
            crate::Error::InvalidConfig(_)
        ));
    }

    #[test]
    fn content_length_body_and_headers() {
        let r = parse(
            "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello trailing",
            100,
        )
        .unwrap();
        assert_eq!((r.status, r.reason.as_str()), (201, "Created"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.text(), "hello");
        assert!(r.is_success());
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let r = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n",
            100,
        )
        .unwrap();
        assert_eq!(r.text(), "Wikipedia");
        let e = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            100,
        )
        .unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Protocol);
    }

    #[test]
    fn body_to_end_of_stream_interim_and_no_body_statuses() {
        let r = parse("HTTP/1.0 200 OK\nServer: x\n\nall of it", 100).unwrap();
        assert_eq!(r.text(), "all of it");
        let r = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            100,
        )
        .unwrap();
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
    }

    #[test]
    fn caps_and_malformed_responses() {
        let big = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world";
        assert_eq!(parse(big, 10).unwrap_err().kind, HttpErrorKind::TooLarge);
        let eof = "HTTP/1.1 200 OK\r\n\r\nhello world";
        assert_eq!(parse(eof, 10).unwrap_err().kind, HttpErrorKind::TooLarge);
        let chunked =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n";
        assert_eq!(
            parse(chunked, 10).unwrap_err().kind,
            HttpErrorKind::TooLarge
        );
        let short = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello";
        let e = parse(short, 100).unwrap_err();
        assert!(
            e.message.contains("closed before the 50 bytes"),
            "{}",
            e.message
        );
        for bad in [
            "",
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad, 100).unwrap_err().kind,
                HttpErrorKind::Protocol,
                "{bad:?}"
            );
        }
        let huge_header = format!(
            "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert_eq!(
            parse(&huge_header, 100).unwrap_err().kind,
            HttpErrorKind::Protocol
        );
    }

    /// Serves one connection: returns what the client sent (head and body) through the
    /// join handle after replying `reply`.
    fn serve_once(reply: &'static str) -> (String, thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                request.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            request.push_str(&String::from_utf8(body).unwrap());
            (&stream).write_all(reply.as_bytes()).unwrap();
            request
        });
        (base, handle)
    }

    #[test]
    #[cfg_attr(
        target_arch = "wasm32",
        ignore = "needs a server thread: runs natively"
    )]
    fn round_trip_over_tcp() {
        let (base, server) = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"id\": 7}\r\n0\r\n\r\n",
        );
        let response = Request::post(&format!("{base}/v1/apps/x?y=1"))
            .unwrap()
            .header("Authorization", "Bearer t0k")
            .header("Host", "ignored")
            .json(&serde_json::json!({"app": "x"}))
            .send()
            .unwrap();
        #[derive(serde::Deserialize)]
        struct Id {
            id: u32,
        }
        assert_eq!(response.json::<Id>().unwrap().id, 7);
        assert_eq!(
            response.json::<Vec<u8>>().unwrap_err().kind,
            HttpErrorKind::Decode
        );
        let request = server.join().unwrap();
        let authority = base.trim_start_matches("http://");
        assert!(
            request.starts_with("POST /v1/apps/x?y=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("Host: {authority}\r\n")),
            "{request}"
        );
        assert!(!request.contains("ignored"), "{request}");
        assert!(request.contains("Authorization: Bearer t0k\r\n"));
        assert!(request.contains("Content-Type: application/json\r\n"));
        assert!(request.contains("Content-Length: 11\r\n"));
        assert!(request.ends_with("\r\n\r\n{\"app\":\"x\"}"), "{request}");
    }

    #[test]
    #[cfg_attr(
        target_arch = "wasm32",
        ignore = "needs a server thread: runs natively"
    )]
    fn timeout_and_connection_errors() {
        // A server that accepts and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/slow", listener.local_addr().unwrap());
        let hold = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            thread::sleep(Duration::from_millis(800));
            drop(stream);
        });
        let started = Instant::now();
        let e = Request::get(&url)
            .unwrap()
            .timeout(Duration::from_millis(200))
            .send()
            .unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Timeout, "{e}");
        assert!(e.message.starts_with(&format!("GET {url}: ")), "{e}");
        assert!(started.elapsed() < Duration::from_millis(700));
        hold.join().unwrap();
    }

    /// Runs on wasm32 too, where `connect_timeout` can return a refused connection as if
    /// it were established (see `Request::connect`).
    #[test]
    fn connection_refused_is_a_connect_error() {
        // Nothing listening any more.
        let port = TcpListener::bind("127.0.0.1:0")
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
                .contains(&format!("cannot connect to 127.0.0.1:{port}"))
        );
    }
}
