//! The HTTP/1.1 server in front of `git http-backend`: keep-alive connections, request bodies
//! with a length or chunked (read whole, then given to the CGI program with a length), CGI
//! answers (RFC 3875) streamed back chunked, or close-delimited when the connection closes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinSet;

use crate::Request;

/// Longest request line or header line accepted.
const MAX_LINE: usize = 16 * 1024;

/// What every connection needs.
pub(crate) struct Shared {
    pub(crate) backend: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) port: u16,
    /// The user and the base64 token of `user:password` expected.
    pub(crate) auth: Option<(String, String)>,
    pub(crate) truncate_upload_pack: Option<usize>,
    pub(crate) silent: bool,
    pub(crate) receive_pack: bool,
    pub(crate) requests: Arc<Mutex<Vec<Request>>>,
}

impl Shared {
    /// Records a request; returns its index.
    fn record(&self, request: &Request) -> usize {
        let mut requests = self.requests.lock().unwrap();
        requests.push(request.clone());
        requests.len() - 1
    }

    fn answered(&self, index: usize, request: &Request, status: u16) {
        eprintln!(
            "git server: {} {} -> {status}",
            request.method, request.target
        );
        self.requests.lock().unwrap()[index].status = Some(status);
    }
}

/// Accepts connections until aborted; aborting it ends every connection (and kills their
/// CGI programs).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    shared: Arc<Shared>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else {
                    // Out of file descriptors, say: try again soon.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Answers go out in several small writes (headers, CGI chunks, TLS records):
                // without this, Nagle's algorithm and the client's delayed ACK add ~40 ms.
                let _ = tcp.set_nodelay(true);
                let (acceptor, shared) = (acceptor.clone(), shared.clone());
                connections.spawn(async move {
                    let result = match acceptor {
                        // A client that refuses the certificate ends the handshake.
                        Some(acceptor) => match acceptor.accept(tcp).await {
                            Ok(tls) => connection(tls, peer, &shared).await,
                            Err(_) => Ok(()),
                        },
                        None => connection(tcp, peer, &shared).await,
                    };
                    if let Err(e) = result {
                        eprintln!("git server: connection from {peer}: {e}");
                    }
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// Serves the requests of one connection, in turn.
async fn connection(
    stream: impl AsyncRead + AsyncWrite + Unpin,
    peer: SocketAddr,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    loop {
        let Some((request, version)) = read_head(&mut stream).await? else {
            return Ok(());
        };
        let index = shared.record(&request);
        if shared.silent {
            return std::future::pending().await;
        }
        let expects_continue = request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        let mut close = version != "HTTP/1.1"
            || request
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));

        let user = match &shared.auth {
            None => None,
            Some((user, token)) => {
                let given = request
                    .header("authorization")
                    .and_then(|v| v.split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
                    .map(|(_, token)| token.trim());
                if given != Some(token.as_str()) {
                    // A body not asked for yet is never sent; one already sent is read first
                    // (closing with unread data would reset the connection, losing the 401).
                    close |= expects_continue;
                    if !expects_continue {
                        read_body(&mut stream, &request).await?;
                    }
                    let header = ("WWW-Authenticate", "Basic realm=\"git\"");
                    shared.answered(index, &request, 401);
                    respond(
                        &mut stream,
                        401,
                        &[header],
                        b"authentication required\n",
                        close,
                    )
                    .await?;
                    if close {
                        return stream.shutdown().await;
                    }
                    continue;
                }
                Some(user.as_str())
            }
        };

        if expects_continue {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            stream.flush().await?;
        }
        let body = read_body(&mut stream, &request).await?;
        let truncate = shared
            .truncate_upload_pack
            .filter(|_| request.method == "POST" && request.path().ends_with("/git-upload-pack"));
        close |= truncate.is_some();
        let env = cgi_env(shared, &request, peer, user, body.len());
        // Recorded as the status line goes out, before the body: a client may finish reading
        // (and a test look at the record) before the backend has exited.
        let answered = |status| shared.answered(index, &request, status);
        cgi(
            &mut stream,
            &shared.backend,
            env,
            body,
            truncate,
            close,
            &answered,
        )
        .await?;
        if close {
            return stream.shutdown().await;
        }
    }
}

/// Reads a request line and headers: the request and its HTTP version, or `None` at the end
/// of the connection.
async fn read_head(
    stream: &mut (impl AsyncBufRead + Unpin),
) -> std::io::Result<Option<(Request, String)>> {
    // Empty lines before a request are allowed (RFC 9112, 2.2).
    let line = loop {
        match read_line(stream).await {
            Ok(line) if line.is_empty() => {}
            Ok(line) => break line,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("not a request line: {line:?}")));
    };
    let (method, target, version) = (method.to_owned(), target.to_owned(), version.to_owned());
    let mut headers = Vec::new();
    loop {
        let line = read_line(stream).await?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(format!("not a header: {line:?}")));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let request = Request {
        method,
        target,
        headers,
        status: None,
    };
    Ok(Some((request, version)))
}

/// Reads the body of `request`: `Content-Length` bytes, or chunks to the last one.
async fn read_body(
    stream: &mut (impl AsyncBufRead + Unpin),
    request: &Request,
) -> std::io::Result<Vec<u8>> {
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let line = read_line(stream).await?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("not a chunk size: {line:?}")))?;
            if size == 0 {
                // Trailers, to the empty line.
                while !read_line(stream).await?.is_empty() {}
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            stream.read_exact(&mut body[start..]).await?;
            if !read_line(stream).await?.is_empty() {
                return Err(invalid("a chunk longer than its size".to_owned()));
            }
        }
    }
    if let Some(length) = request.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("not a length: {length:?}")))?;
        body.resize(length, 0);
        stream.read_exact(&mut body).await?;
    }
    Ok(body)
}

/// Reads a line ending with LF (or CRLF); returns it without its ending. `UnexpectedEof` at
/// the end of the stream.
async fn read_line(stream: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<String> {
    let mut line = Vec::new();
    (&mut *stream)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() >= MAX_LINE {
            invalid("a line too long".to_owned())
        } else {
            std::io::ErrorKind::UnexpectedEof.into()
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// The environment of `git http-backend` for `request` (RFC 3875, 4.1), and nothing else of
/// this process's but `PATH` and `HOME`.
fn cgi_env(
    shared: &Shared,
    request: &Request,
    peer: SocketAddr,
    user: Option<&str>,
    content_length: usize,
) -> Vec<(String, String)> {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let receive_pack = if shared.receive_pack { "true" } else { "false" };
    let mut env: Vec<(String, String)> = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_SOFTWARE", "lockgate-test-git"),
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PORT", &shared.port.to_string()),
        ("REQUEST_METHOD", &request.method),
        ("SCRIPT_NAME", ""),
        ("PATH_INFO", path),
        ("QUERY_STRING", query),
        ("REMOTE_ADDR", &peer.ip().to_string()),
        ("GIT_PROJECT_ROOT", path_str(&shared.root)),
        ("GIT_HTTP_EXPORT_ALL", "1"),
        // Away from the user's and the system's configuration, which this decides instead:
        // pushes as the options say (authenticated or not), repositories owned by anyone.
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_CONFIG_COUNT", "2"),
        ("GIT_CONFIG_KEY_0", "http.receivepack"),
        ("GIT_CONFIG_VALUE_0", receive_pack),
        ("GIT_CONFIG_KEY_1", "safe.directory"),
        ("GIT_CONFIG_VALUE_1", "*"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name).and_then(|v| v.into_string().ok()) {
            env.push((name.to_owned(), value));
        }
    }
    if content_length > 0 {
        env.push(("CONTENT_LENGTH".to_owned(), content_length.to_string()));
    }
    if let Some(user) = user {
        env.push(("AUTH_TYPE".to_owned(), "Basic".to_owned()));
        env.push(("REMOTE_USER".to_owned(), user.to_owned()));
    }
    for (name, value) in &request.headers {
        let name = name.to_ascii_uppercase().replace('-', "_");
        match name.as_str() {
            "CONTENT_TYPE" => env.push((name, value.clone())),
            // Credentials stay with the server; the body's framing is the server's.
            "AUTHORIZATION" | "PROXY_AUTHORIZATION" | "CONTENT_LENGTH" | "TRANSFER_ENCODING" => {}
            // `HTTP_GIT_PROTOCOL` (protocol v2), `HTTP_CONTENT_ENCODING` (gzip bodies), ...
            _ => env.push((format!("HTTP_{name}"), value.clone())),
        }
    }
    env
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 root directory")
}

/// Runs `backend` with `env` and `body` on its stdin, and answers with its output: the
/// CGI headers (`Status` as the status line), then its stdout, chunked or, when `close`,
/// close-delimited and cut after `truncate` bytes. `answered` is told the status just
/// before the status line is written.
async fn cgi(
    stream: &mut (impl AsyncWrite + Unpin),
    backend: &Path,
    env: Vec<(String, String)>,
    body: Vec<u8>,
    truncate: Option<usize>,
    close: bool,
    answered: &(dyn Fn(u16) + Sync),
) -> std::io::Result<()> {
    let spawned = Command::new(backend)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            eprintln!("git server: running {}: {e}", backend.display());
            answered(500);
            return respond(stream, 500, &[], b"cannot run git http-backend\n", close).await;
        }
    };
    // Both end when the child does (it is killed if this connection ends first).
    let mut stdin = child.stdin.take().expect("piped stdin");
    tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let stderr = child.stderr.take().expect("piped stderr");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("git http-backend: {line}");
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));

    let (mut status, mut reason) = (200, "OK".to_owned());
    let mut headers = Vec::new();
    loop {
        let line = match read_line(&mut stdout).await {
            Ok(line) => line,
            Err(e) => {
                eprintln!("git server: the headers of git http-backend: {e}");
                answered(502);
                return respond(
                    stream,
                    502,
                    &[],
                    b"bad answer from git http-backend\n",
                    close,
                )
                .await;
            }
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("status") {
            let (code, text) = value.split_once(' ').unwrap_or((value, ""));
            status = code.parse().unwrap_or(500);
            reason = text.to_owned();
        } else if !["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|framing| name.eq_ignore_ascii_case(framing))
        {
            headers.push(format!("{name}: {value}\r\n"));
        }
    }
    let framing = if close {
        "Connection: close\r\n"
    } else {
        "Transfer-Encoding: chunked\r\n"
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n{}{framing}\r\n",
        headers.concat()
    );
    answered(status);
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;

    let mut left = truncate.unwrap_or(usize::MAX);
    let mut buf = vec![0; 32 * 1024];
    loop {
        let n = stdout.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let data = &buf[..n.min(left)];
        left -= data.len();
        if close {
            stream.write_all(data).await?;
        } else {
            stream
                .write_all(format!("{:x}\r\n", data.len()).as_bytes())
                .await?;
            stream.write_all(data).await?;
            stream.write_all(b"\r\n").await?;
        }
        stream.flush().await?;
        if left == 0 {
            // Cut: the child is killed when dropped.
            return Ok(());
        }
    }
    if !close {
        stream.write_all(b"0\r\n\r\n").await?;
        stream.flush().await?;
    }
    let _ = child.wait().await;
    Ok(())
}

/// Answers with a short body of its own.
async fn respond(
    stream: &mut (impl AsyncWrite + Unpin),
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> std::io::Result<()> {
    let reason = match status {
        401 => "Unauthorized",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str(&format!(
        "Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(receive_pack: bool) -> Shared {
        Shared {
            backend: PathBuf::from("/usr/lib/git-core/git-http-backend"),
            root: PathBuf::from("/srv/git"),
            port: 8080,
            auth: None,
            truncate_upload_pack: None,
            silent: false,
            receive_pack,
            requests: Arc::default(),
        }
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_cgi_environment_is_what_git_http_backend_needs() {
        let request = Request {
            method: "POST".to_owned(),
            target: "/repo.git/git-upload-pack?x=1".to_owned(),
            headers: [
                ("Content-Type", "application/x-git-upload-pack-request"),
                ("Git-Protocol", "version=2"),
                ("Content-Encoding", "gzip"),
                ("Authorization", "Basic dXNlcjpwYXNz"),
                ("Transfer-Encoding", "chunked"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .to_vec(),
            status: None,
        };
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let env = cgi_env(&shared(false), &request, peer, Some("user"), 42);
        let expected = [
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/repo.git/git-upload-pack"),
            ("QUERY_STRING", "x=1"),
            ("GIT_PROJECT_ROOT", "/srv/git"),
            ("GIT_HTTP_EXPORT_ALL", "1"),
            ("CONTENT_TYPE", "application/x-git-upload-pack-request"),
            ("CONTENT_LENGTH", "42"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("REMOTE_USER", "user"),
            ("HTTP_GIT_PROTOCOL", "version=2"),
            ("HTTP_CONTENT_ENCODING", "gzip"),
            ("GIT_CONFIG_KEY_0", "http.receivepack"),
            ("GIT_CONFIG_VALUE_0", "false"),
        ];
        for (name, value) in expected {
            assert_eq!(get(&env, name), Some(value), "{name}");
        }
        for name in [
            "HTTP_AUTHORIZATION",
            "HTTP_TRANSFER_ENCODING",
            "HTTP_CONTENT_TYPE",
        ] {
            assert_eq!(get(&env, name), None, "{name}");
        }

        let request = Request {
            method: "GET".to_owned(),
            target: "/repo.git/info/refs".to_owned(),
            headers: Vec::new(),
            status: None,
        };
        let env = cgi_env(&shared(true), &request, peer, None, 0);
        assert_eq!(get(&env, "QUERY_STRING"), Some(""));
        assert_eq!(get(&env, "GIT_CONFIG_VALUE_0"), Some("true"));
        for name in ["CONTENT_LENGTH", "REMOTE_USER", "HTTP_GIT_PROTOCOL"] {
            assert_eq!(get(&env, name), None, "{name}");
        }
    }

    #[tokio::test]
    async fn request_bodies_are_read_with_a_length_or_chunked() {
        let mut input: &[u8] = b"POST /r.git/git-receive-pack HTTP/1.1\r\nHost: x\r\n\
            Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\n\
            \r\nPOST /r.git/git-upload-pack HTTP/1.0\nContent-Length: 3\n\nabc";
        let (request, version) = read_head(&mut input).await.unwrap().unwrap();
        assert_eq!(
            (request.method.as_str(), version.as_str()),
            ("POST", "HTTP/1.1")
        );
        assert_eq!(request.header("transfer-encoding"), Some("chunked"));
        assert_eq!(read_body(&mut input, &request).await.unwrap(), b"hello!");
        let (request, version) = read_head(&mut input).await.unwrap().unwrap();
        assert_eq!(
            (request.target.as_str(), version.as_str()),
            ("/r.git/git-upload-pack", "HTTP/1.0")
        );
        assert_eq!(read_body(&mut input, &request).await.unwrap(), b"abc");
        assert!(read_head(&mut input).await.unwrap().is_none());
    }
}
