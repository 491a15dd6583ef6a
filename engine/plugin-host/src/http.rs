//! `wasi:http/outgoing-handler` for plugins, governed by the same network grants as TCP.
//!
//! JavaScript's `fetch` under jco, Python's wasi-http clients and several Rust HTTP clients
//! speak `wasi:http` rather than raw `wasi:sockets`. The host links only the outgoing
//! handler and the HTTP types (never the incoming handler: a plugin serves nothing), and
//! checks every request in [`HttpGate::send_request`] before [`crate::http_send`] opens a
//! connection (hyper; rustls verifying against the invocation's [`Trust`]).
//!
//! A request may go to `host:port` (port 80 for `http`, 443 for `https` when the URL has
//! none) when a grant of the invocation names exactly that host and port, or when the host is
//! an IP address to which a grant resolved (what a TCP connect may reach, see
//! `sandbox::wasi_ctx`). A host name that was not granted is refused even if it resolves to
//! a granted address: the sender would resolve it again when connecting, so the check could
//! not hold. Refusals fail with `HTTP-request-denied` and leave a notice in the plugin's log.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::http::uri::Scheme;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use super::http_send::{IoFuture, send};
use super::output::Capture;
use super::sandbox::{HostState, canonical};
use super::tls::Trust;
use lockgate_model::NetworkGrant;

/// Connect timeout when the plugin sets none (the crate's default is 10 minutes).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Shortest timeout handed to the sender (a zero one would fail at once, or panic in tokio).
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// The network an invocation may reach: its grants as written and the addresses they
/// resolved to when the sandbox was built.
#[derive(Debug, Default)]
pub(crate) struct Network {
    pub(crate) grants: Vec<NetworkGrant>,
    pub(crate) addrs: HashSet<SocketAddr>,
    /// Who the sandbox runs, for the notices of refusals ("plugin", "task").
    pub(crate) who: &'static str,
}

impl Network {
    /// Whether an HTTP request to `host:port` is granted. `host` is a name or an IP address
    /// (IPv6 with or without brackets).
    pub(crate) fn allows_http(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return false;
        }
        if self
            .grants
            .iter()
            .any(|g| g.port == port && g.host.eq_ignore_ascii_case(host))
        {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => self.addrs.contains(&canonical(SocketAddr::new(ip, port))),
            Err(_) => false,
        }
    }
}

/// The `wasi:http` hooks of one invocation: the grant check and bounded timeouts.
pub(crate) struct HttpGate {
    pub(crate) network: Arc<Network>,
    pub(crate) capture: Arc<Capture>,
    /// When the invocation's deadline passes; no request may wait beyond it.
    pub(crate) stop_at: Instant,
    /// The roots of the host (system and engine CA certificates).
    pub(crate) trust: Arc<Trust>,
    /// The CA certificate files of the invocation's grants.
    pub(crate) ca_files: Vec<PathBuf>,
    /// The TLS configuration, built at the first `https` request.
    pub(crate) tls: Option<Result<Arc<rustls::ClientConfig>, String>>,
}

impl HttpGate {
    /// The TLS client configuration of this invocation (built once).
    fn tls_config(&mut self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.tls
            .get_or_insert_with(|| {
                self.trust
                    .client_config(&self.ca_files)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

/// What [`WasiHttpHooks::send_request`] returns.
type SendFuture = Box<
    dyn Future<Output = wasmtime_wasi_http::Result<(::http::Response<WasiBody>, IoFuture)>> + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: ::http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let target = uri.authority().and_then(|a| {
            // `user@host` would be connected to as a name containing `@`; refuse it here.
            (!a.as_str().contains('@')).then(|| {
                (
                    a.host(),
                    a.port_u16().unwrap_or(if https { 443 } else { 80 }),
                )
            })
        });
        let granted = target.is_some_and(|(host, port)| self.network.allows_http(host, port));
        if !granted {
            // `host()` keeps the brackets of an IPv6 address.
            let what = match target {
                Some((host, port)) => format!("{host}:{port}"),
                None => format!("`{uri}`"),
            };
            self.capture.engine(format!(
                "network: refused to let the {} send an HTTP request to {what}: not granted",
                self.network.who
            ));
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }

        let options = bounded(options, self.stop_at);
        let tls = if https {
            self.tls_config()
        } else {
            Err("not an https request".to_owned())
        };
        let capture = self.capture.clone();
        Box::new(send(request, options, move || tls, capture))
    }
}

/// The plugin's timeouts (or the defaults), none longer than the time left to the deadline.
fn bounded(options: Option<RequestOptions>, stop_at: Instant) -> RequestOptions {
    let left = stop_at
        .saturating_duration_since(Instant::now())
        .max(MIN_TIMEOUT);
    let options = options.unwrap_or_default();
    let cap = |t: Option<Duration>, default: Duration| {
        Some(t.unwrap_or(default).clamp(MIN_TIMEOUT, left))
    };
    RequestOptions {
        connect_timeout: cap(options.connect_timeout, DEFAULT_CONNECT_TIMEOUT),
        first_byte_timeout: cap(options.first_byte_timeout, left),
        between_bytes_timeout: cap(options.between_bytes_timeout, left),
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_gate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(grants: &[&str], addrs: &[&str]) -> Network {
        Network {
            grants: grants.iter().map(|g| g.parse().unwrap()).collect(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            who: "plugin",
        }
    }

    #[test]
    fn http_requires_a_granted_name_or_a_resolved_address() {
        let n = network(
            &["Example.org:443", "localhost:8080"],
            &["93.184.216.34:443", "127.0.0.1:8080", "[::1]:8080"],
        );
        assert!(n.allows_http("example.org", 443));
        assert!(n.allows_http("EXAMPLE.ORG", 443));
        assert!(!n.allows_http("example.org", 80));
        assert!(n.allows_http("localhost", 8080));
        assert!(n.allows_http("127.0.0.1", 8080));
        assert!(n.allows_http("[::1]", 8080));
        assert!(n.allows_http("::ffff:127.0.0.1", 8080));
        assert!(!n.allows_http("127.0.0.1", 8081));
        assert!(!n.allows_http("other.example", 443));
        assert!(!n.allows_http("", 443));
        assert!(!Network::default().allows_http("localhost", 8080));
    }

    #[test]
    fn timeouts_never_outlast_the_deadline() {
        let soon = Instant::now() + Duration::from_secs(5);
        let o = bounded(None, soon);
        assert!(o.connect_timeout.unwrap() <= Duration::from_secs(5));
        assert!(o.first_byte_timeout.unwrap() <= Duration::from_secs(5));
        assert!(o.between_bytes_timeout.unwrap() > Duration::from_secs(4));
        let later = Instant::now() + Duration::from_secs(3600);
        let o = bounded(
            Some(RequestOptions {
                connect_timeout: Some(Duration::from_secs(2)),
                first_byte_timeout: None,
                between_bytes_timeout: Some(Duration::from_secs(7200)),
            }),
            later,
        );
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(2)));
        assert!(o.first_byte_timeout.unwrap() > Duration::from_secs(3500));
        assert!(o.between_bytes_timeout.unwrap() <= Duration::from_secs(3600));
        let past = bounded(None, Instant::now() - Duration::from_secs(1));
        assert_eq!(past.connect_timeout, Some(MIN_TIMEOUT));
    }
}
