//! Which certificate authorities the HTTPS requests of plugins trust.
//!
//! A [`Trust`] is built once per host: the system's roots (as `rustls-native-certs` finds them,
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` included; Mozilla's roots from `webpki-roots` when the system
//! has none) plus the CA certificates given to the engine ([`crate::HostConfig::ca_certificates`],
//! `lockgate --ca-cert`). An invocation adds the certificates of its grants
//! ([`lockgate_model::Grants::ca_certificates`], a resource's or test step's `grants.ca_certs`),
//! so a private registry's CA is trusted by the steps that talk to it and by no others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// A CA certificate file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    /// The file cannot be read.
    #[error("cannot read CA certificate file `{}`: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A PEM block of the file is malformed.
    #[error("CA certificate file `{}` is not valid PEM: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file holds no `CERTIFICATE` block.
    #[error("CA certificate file `{}` holds no `-----BEGIN CERTIFICATE-----` block", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A certificate is not one a TLS client can trust as a root.
    #[error("certificate {index} of CA certificate file `{}` is not a usable CA certificate: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which certificate of the file, from 1.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The certificates of PEM file `path` (every `CERTIFICATE` block; other blocks are skipped).
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaFileError> {
    let bytes = std::fs::read(path).map_err(|error| CaFileError::Read {
        path: path.to_owned(),
        error,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaFileError::Pem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CaFileError::Empty {
            path: path.to_owned(),
        });
    }
    // Each must parse as a trust anchor, or the store would drop it silently.
    let mut probe = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        probe.add(cert.clone()).map_err(|e| CaFileError::Invalid {
            path: path.to_owned(),
            index: i + 1,
            reason: e.to_string(),
        })?;
    }
    Ok(certs)
}

/// A step's CA files as they were: each path with its modification time.
type CaFilesKey = Vec<(PathBuf, Option<SystemTime>)>;

/// The roots HTTPS requests of plugins are verified against. The engine's CA files are read
/// when it is built (a bad one is an error at start-up); the system's store only at the first
/// `https` request, so commands that send none never read it. Client configurations are kept
/// per set of step CA files (and their modification times): an invocation does not read its
/// CA files or copy the roots again unless a file changed.
#[derive(Debug, Default)]
pub struct Trust {
    engine: Vec<CertificateDer<'static>>,
    roots: OnceLock<Arc<RootCertStore>>,
    configs: Mutex<HashMap<CaFilesKey, Arc<ClientConfig>>>,
}

impl Trust {
    /// The system's roots plus the certificates of `ca_files`.
    pub fn new(ca_files: &[PathBuf]) -> Result<Self, CaFileError> {
        let mut engine = Vec::new();
        for path in ca_files {
            engine.extend(read_ca_file(path)?);
        }
        Ok(Self {
            engine,
            ..Self::default()
        })
    }

    /// The roots: the system's (Mozilla's, bundled, when the system has none) and the
    /// engine's; loaded on first use.
    fn roots(&self) -> &Arc<RootCertStore> {
        self.roots.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                tracing::debug!("system certificate store: {e}");
            }
            let (added, _) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            // `read_ca_file` checked each parses.
            roots.add_parsable_certificates(self.engine.iter().cloned());
            Arc::new(roots)
        })
    }

    /// Whether there is no root at all (never, in practice: the bundled roots fill in).
    pub fn is_empty(&self) -> bool {
        self.roots().is_empty()
    }

    /// A TLS client configuration trusting these roots and the certificates of `extra` files.
    pub(crate) fn client_config(
        &self,
        extra: &[PathBuf],
    ) -> Result<Arc<ClientConfig>, CaFileError> {
        let key: CaFilesKey = extra
            .iter()
            .map(|p| {
                let modified = std::fs::metadata(p).and_then(|m| m.modified()).ok();
                (p.clone(), modified)
            })
            .collect();
        let mut configs = self.configs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(config) = configs.get(&key) {
            return Ok(config.clone());
        }
        let roots = if extra.is_empty() {
            self.roots().clone()
        } else {
            let mut roots = (**self.roots()).clone();
            for path in extra {
                for cert in read_ca_file(path)? {
                    let _ = roots.add(cert);
                }
            }
            Arc::new(roots)
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        configs.insert(key, config.clone());
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_or_with_broken_pem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "just text\n").unwrap();
        assert_eq!(
            read_ca_file(&empty).unwrap_err().to_string(),
            format!(
                "CA certificate file `{}` holds no `-----BEGIN CERTIFICATE-----` block",
                empty.display()
            )
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = read_ca_file(&broken).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "CA certificate file `{}` is not valid PEM",
                broken.display()
            )),
            "{e}"
        );
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = read_ca_file(&garbage).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "certificate 1 of CA certificate file `{}` is not a usable CA certificate",
                garbage.display()
            )),
            "{e}"
        );
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            read_ca_file(&missing),
            Err(CaFileError::Read { .. })
        ));
        assert!(matches!(
            Trust::new(std::slice::from_ref(&missing)),
            Err(CaFileError::Read { .. })
        ));
    }

    #[test]
    fn the_roots_are_never_empty() {
        let trust = Trust::new(&[]).unwrap();
        assert!(!trust.is_empty());
        // Built once per set of CA files.
        let a = trust.client_config(&[]).unwrap();
        assert!(Arc::ptr_eq(&a, &trust.client_config(&[]).unwrap()));
    }
}
