//! One `GET`, through the SDK's HTTP client or, in unit tests, a script.

use std::io::Write;
use std::time::Duration;

use lockgate_sdk::Error;
use lockgate_sdk::http::{Request, Response};

/// Deadline of one API request (the engine's deadline of the whole operation bounds it too).
pub const API_TIMEOUT: Duration = Duration::from_secs(60);
/// Cap on one API answer (a page of 100 GitHub releases with their notes is ~1 MiB).
pub const API_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// A `GET` request: URL, headers, deadline and body cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    /// The URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Deadline of the exchange, redirects included.
    pub timeout: Duration,
    /// Cap on the response body.
    pub max_response_bytes: u64,
}

impl Get {
    /// A `GET` of `url` with the API defaults ([`API_TIMEOUT`], [`API_MAX_BYTES`]).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            timeout: API_TIMEOUT,
            max_response_bytes: API_MAX_BYTES,
        }
    }

    /// This request with one more header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The value of header `name`, if set.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `GET <url>`, for messages.
    pub fn what(&self) -> String {
        format!("GET {}", self.url)
    }
}

/// Sends `GET` requests. Implemented by [`Sdk`] and by any
/// `FnMut(&Get) -> Result<Response, Error>` (scripted answers in unit tests).
pub trait Transport {
    /// Sends `request` (following redirects) and returns the response, whatever its status.
    fn get(&mut self, request: &Get) -> Result<Response, Error>;

    /// Sends `request` and streams a successful (2xx) response's body into `out`; the
    /// response's `body` is then empty. Another status's body stays in the response (to say
    /// what went wrong). On an error, part of the body may have been written.
    ///
    /// The default sends with [`Transport::get`] and writes a 2xx body to `out`.
    fn get_to(&mut self, request: &Get, out: &mut dyn Write) -> Result<Response, Error> {
        let mut response = self.get(request)?;
        if response.is_success() {
            out.write_all(&response.body).map_err(|e| {
                Error::failed(format!(
                    "{}: writing the response body failed: {e}",
                    request.what()
                ))
            })?;
            response.body.clear();
        }
        Ok(response)
    }
}

impl<F: FnMut(&Get) -> Result<Response, Error>> Transport for F {
    fn get(&mut self, request: &Get) -> Result<Response, Error> {
        self(request)
    }
}

/// The SDK's HTTP client: the engine sends the request through `wasi:http`, under the
/// step's network grants; redirects are followed within them (never from `https` to `http`,
/// `Authorization` only to the same origin).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sdk;

impl Sdk {
    fn request(request: &Get) -> Result<Request, Error> {
        let mut r = Request::get(&request.url)?
            .timeout(request.timeout)
            .max_response_bytes(request.max_response_bytes);
        for (name, value) in &request.headers {
            r = r.header(name, value);
        }
        Ok(r)
    }
}

impl Transport for Sdk {
    fn get(&mut self, request: &Get) -> Result<Response, Error> {
        Ok(Self::request(request)?.send()?)
    }

    /// Streams through `Request::send_to`: memory stays bounded whatever the body's size.
    fn get_to(&mut self, request: &Get, out: &mut dyn Write) -> Result<Response, Error> {
        Ok(Self::request(request)?.send_to(out)?)
    }
}

/// Building responses for unit tests.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use lockgate_sdk::http::{Response, Url};

    /// A response of `url` with `status`, `headers` and `body`.
    pub fn response(
        url: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Response {
        Response {
            status,
            reason: String::new(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_string()))
                .collect(),
            body: body.into(),
            url: Url::parse(url).expect("a valid URL in a test"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_headers_and_defaults() {
        let g = Get::new("https://api.github.com/x").header("Accept", "application/json");
        assert_eq!(g.header_value("accept"), Some("application/json"));
        assert_eq!(g.header_value("range"), None);
        assert_eq!(
            (g.timeout, g.max_response_bytes),
            (API_TIMEOUT, API_MAX_BYTES)
        );
        assert_eq!(g.what(), "GET https://api.github.com/x");
    }

    #[test]
    fn the_default_streaming_writes_only_successes() {
        let mut t = |g: &Get| {
            let status = if g.url.ends_with("ok") { 200 } else { 404 };
            Ok(testing::response(&g.url, status, &[], "body"))
        };
        let mut out = Vec::new();
        let r = t.get_to(&Get::new("http://h/ok"), &mut out).unwrap();
        assert_eq!(
            (r.status, r.body.len(), out.as_slice()),
            (200, 0, &b"body"[..])
        );
        let mut out = Vec::new();
        let r = t.get_to(&Get::new("http://h/missing"), &mut out).unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), out.len()),
            (404, &b"body"[..], 0)
        );
    }

    #[test]
    fn closures_are_transports() {
        let mut seen = Vec::new();
        let mut t = |g: &Get| {
            seen.push(g.url.clone());
            Ok(testing::response(&g.url, 204, &[], ""))
        };
        assert_eq!(t.get(&Get::new("http://h/a")).unwrap().status, 204);
        assert_eq!(seen, ["http://h/a"]);
    }

    /// Outside the sandbox the SDK's client fails cleanly, and the error names the URL.
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn the_sdk_transport_natively() {
        let e = Sdk.get(&Get::new("http://127.0.0.1:9/")).unwrap_err();
        assert!(
            matches!(&e, Error::Failed(m) if m.starts_with("GET http://127.0.0.1:9/")),
            "{e:?}"
        );
        let e = Sdk.get(&Get::new("ftp://x/")).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
    }
}
