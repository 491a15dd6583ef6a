//! Sends a plugin's granted `wasi:http` request: TCP, TLS verified against the invocation's
//! [`Trust`](crate::tls::Trust), HTTP/1.1 over hyper.
//!
//! Adapted from `wasmtime_wasi_http::default_send_request` (Apache-2.0 WITH LLVM-exception),
//! which verifies against a fixed set of roots: here the roots are the system's plus the CA
//! certificates of the engine and of the step, and a certificate that does not verify is
//! reported as `TLS-certificate-error` to the plugin and, naming the host, in its log.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http::{Request, Response};
use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::output::Capture;

/// What the connection-driving future returns, as the send hook hands it back.
pub(crate) type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// Sends `req` (already granted) with `options` (already bounded by the deadline). `tls` gives
/// the client configuration of an `https` request; it is asked only then.
pub(crate) async fn send(
    mut req: Request<WasiBody>,
    options: RequestOptions,
    tls: impl FnOnce() -> Result<Arc<rustls::ClientConfig>, String>,
    capture: Arc<Capture>,
) -> Result<(Response<WasiBody>, IoFuture), Error> {
    let uri = req.uri();
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let host = authority.host().to_owned();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let target = format!("{host}:{port}");
    let forever = Duration::from_secs(600);
    let connect_timeout = options.connect_timeout.unwrap_or(forever);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(forever);
    let between_bytes_timeout = options
        .between_bytes_timeout
        .unwrap_or(forever)
        .max(Duration::from_nanos(1));

    let tcp = match tokio::time::timeout(connect_timeout, TcpStream::connect((bare.as_str(), port)))
        .await
    {
        Ok(stream) => stream.map_err(Error::Connect)?,
        Err(_) => return Err(Error::ConnectionTimeout),
    };
    let stream: Box<dyn Stream> = if https {
        let config = match tls() {
            Ok(config) => config,
            Err(why) => {
                capture.engine(format!("TLS: cannot verify {target}: {why}"));
                return Err(Error::TlsCertificateError);
            }
        };
        let name = ServerName::try_from(bare.clone()).map_err(Error::InvalidDnsNameError)?;
        let connector = tokio_rustls::TlsConnector::from(config);
        match tokio::time::timeout(connect_timeout, connector.connect(name, tcp)).await {
            Ok(Ok(stream)) => Box::new(stream),
            Ok(Err(e)) => return Err(tls_failure(&e, &target, &capture)),
            Err(_) => return Err(Error::ConnectionTimeout),
        }
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // The request line holds the path only (wasmtime-wasi-http has set `Host`).
    *req.uri_mut() = http::Uri::builder()
        .path_and_query(
            req.uri()
                .path_and_query()
                .map_or("/", http::uri::PathAndQuery::as_str),
        )
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    let mut conn = Box::pin(conn);
    let mut send = Box::pin(async move {
        tokio::time::timeout(first_byte_timeout, sender.send_request(req))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(Error::from)
    });
    // Drive the connection while waiting for the response head.
    let mut conn_done = false;
    let response = std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = send.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        if !conn_done {
            match conn.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => {
                    conn_done = true;
                    return send.as_mut().poll(cx);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::from(e))),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await?;
    let mut interval = tokio::time::interval(between_bytes_timeout);
    interval.reset();
    let response = response.map(|incoming| {
        TimedBody {
            incoming,
            timeout: interval,
        }
        .boxed_unsync()
    });
    let io: IoFuture = Box::new(async move {
        if conn_done {
            return Ok(());
        }
        conn.await.map_err(|e| {
            if e.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                Error::from(e)
            }
        })
    });
    Ok((response, io))
}

/// The wasi:http error of a failed TLS handshake with `target`; a certificate that does not
/// verify is also explained in the plugin's log (the plugin sees only an error code).
fn tls_failure(e: &std::io::Error, target: &str, capture: &Capture) -> Error {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(why)) => {
            let why = match why {
                rustls::CertificateError::UnknownIssuer => {
                    "issued by a certificate authority the engine does not trust".to_owned()
                }
                other => other.to_string(),
            };
            capture.engine(format!(
                "TLS: the certificate of {target} does not verify ({why}); the engine trusts the system's roots, `lockgate --ca-cert` and the step's `grants.ca_certs`"
            ));
            Error::TlsCertificateError
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            capture.engine(format!(
                "TLS: {target} ended the handshake with alert {alert:?}"
            ));
            Error::TlsAlertReceived {
                alert_id: Some(u8::from(*alert)),
                alert_message: Some(format!("{alert:?}")),
            }
        }
        Some(other) => {
            capture.engine(format!("TLS: the handshake with {target} failed: {other}"));
            Error::TlsProtocolError
        }
        None => {
            capture.engine(format!("TLS: the handshake with {target} failed: {e}"));
            Error::TlsProtocolError
        }
    }
}

/// A response body that fails when no byte arrives for the between-bytes timeout.
struct TimedBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                Error::from(e)
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}
