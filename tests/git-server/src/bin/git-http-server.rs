//! `git-http-server --root DIR --port N [--receive-pack] [--tls-cert PEM --tls-key PEM]`:
//! serves the bare repositories under DIR (`<name>.git`) at `http(s)://127.0.0.1:N/<name>.git`
//! with git's `git http-backend`, until killed. Prints `listening on http://127.0.0.1:N` once
//! ready.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use lockgate_test_git::{GitServer, Options};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const USAGE: &str =
    "usage: git-http-server --root DIR --port N [--receive-pack] [--tls-cert PEM --tls-key PEM]";

#[tokio::main]
async fn main() -> ExitCode {
    let (root, port, options) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("git-http-server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = GitServer::start_in(&root, port, options).await;
    println!("listening on {}", server.base_url());
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, u16, Options), String> {
    let (mut root, mut port, mut cert, mut key) = (None, None, None, None);
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--root" => root = Some(PathBuf::from(value()?)),
            "--port" => port = Some(value()?.parse().map_err(|e| format!("--port: {e}"))?),
            "--tls-cert" => cert = Some(PathBuf::from(value()?)),
            "--tls-key" => key = Some(PathBuf::from(value()?)),
            "--receive-pack" => options.receive_pack = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    options.tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(tls(&cert, &key)?),
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    };
    let root = root.ok_or("--root is required")?;
    let port = port.ok_or("--port is required")?;
    Ok((root, port, options))
}

/// A server configuration with the certificate chain and the key of these PEM files.
fn tls(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}
