//! A tiny HTTP/1.1 test server on 127.0.0.1 for the host tests of HTTP clients (the SDK's,
//! the HTTP plugins'): one request per connection, answered by a handler; answers with a
//! length or chunked, never (`Silent`) or one byte at a time (`Drip`); every request kept.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockgate::plugin_host::NetworkGrant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request as the test server received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    /// Path and query.
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the test server does with a request.
pub(crate) enum Reply {
    /// Answers with a `Content-Length` body, or a chunked one (in 7-byte chunks).
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        chunked: bool,
    },
    /// Never answers; keeps the connection open.
    Silent,
    /// Sends the head with `Content-Length: 1000`, then one byte every 200 ms.
    Drip,
}

impl Reply {
    pub(crate) fn text(status: u16, body: &str) -> Self {
        Self::Answer {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            chunked: false,
        }
    }

    /// A JSON body.
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::Answer {
            status,
            headers: vec![("Content-Type".to_string(), "application/json".to_string())],
            body: body.to_string().into_bytes(),
            chunked: false,
        }
    }

    /// The same answer sent with `Transfer-Encoding: chunked`.
    pub(crate) fn chunked(self) -> Self {
        match self {
            Self::Answer {
                status,
                headers,
                body,
                ..
            } => Self::Answer {
                status,
                headers,
                body,
                chunked: true,
            },
            other => other,
        }
    }

    pub(crate) fn redirect(status: u16, location: &str) -> Self {
        Self::Answer {
            status,
            headers: vec![("Location".to_string(), location.to_string())],
            body: b"moved".to_vec(),
            chunked: false,
        }
    }
}

/// `handler(request, the server's own port)`.
type Handler = Arc<dyn Fn(&Received, u16) -> Reply + Send + Sync>;

/// A tiny HTTP/1.1 server on 127.0.0.1: one request per connection, answered by its handler;
/// every request it receives is kept, in order.
pub(crate) struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Server {
    /// A server answering with `handler(request)`.
    pub(crate) async fn start(
        handler: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_with_port(move |r, _| handler(r)).await
    }

    /// A server answering with `handler(request, its own port)`.
    pub(crate) async fn start_with_port(
        handler: impl Fn(&Received, u16) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let handler: Handler = Arc::new(handler);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, seen) = (handler.clone(), seen.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, port, handler, seen).await;
                });
            }
        });
        Self {
            port,
            requests,
            task,
        }
    }

    pub(crate) fn url(&self, target: &str) -> String {
        format!("http://127.0.0.1:{}{target}", self.port)
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn grant(&self) -> NetworkGrant {
        self.addr().parse().unwrap()
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// `METHOD target` of each request received.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.target))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    port: u16,
    handler: Handler,
    seen: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&buf[..n]);
        // Not HTTP (a TLS ClientHello starts with 0x16): answered as a plain HTTP server does.
        if !data[0].is_ascii_uppercase() {
            stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                )
                .await?;
            return stream.shutdown().await;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let request = Received {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    seen.lock().unwrap().push(request.clone());
    match handler(&request, port) {
        Reply::Silent => {
            std::future::pending::<()>().await;
        }
        Reply::Drip => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                .await?;
            for _ in 0..1000 {
                stream.write_all(b"x").await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Reply::Answer {
            status,
            headers,
            body,
            chunked,
        } => {
            let mut response = format!("HTTP/1.1 {status} Whatever\r\nConnection: close\r\n");
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            let mut bytes;
            if chunked {
                response.push_str("Transfer-Encoding: chunked\r\n\r\n");
                bytes = response.into_bytes();
                for chunk in body.chunks(7) {
                    bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    bytes.extend_from_slice(chunk);
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
            } else {
                response.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                bytes = response.into_bytes();
                bytes.extend_from_slice(&body);
            }
            stream.write_all(&bytes).await?;
            stream.shutdown().await?;
        }
    }
    Ok(())
}
