//! What an invocation may touch: granted directories, environment variables and network
//! endpoints. Plain data; the plugin host turns it into a WASI context.

use std::path::PathBuf;

/// A host directory granted under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// Name: the mount is `/inputs/<name>` or `/dirs/<name>`.
    pub name: String,
    /// Directory on the host.
    pub path: PathBuf,
    /// Whether the plugin may write into it (inputs are always read-only).
    pub writable: bool,
}

/// A `host:port` the plugin may connect to over TCP or send HTTP requests to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkGrant {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::str::FromStr for NetworkGrant {
    type Err = GrantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| GrantError::Network {
            grant: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| bad("expected `host:port`"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(bad("port 0 cannot be connected to"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for NetworkGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Everything an invocation may touch. The default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Read-only inputs, mounted at `/inputs/<name>`.
    pub inputs: Vec<DirGrant>,
    /// Read-write output directory, mounted at `/output`.
    pub output: Option<PathBuf>,
    /// Read-write cache directory private to a resource, mounted at `/cache`.
    pub cache: Option<PathBuf>,
    /// Named host directories, mounted at `/dirs/<name>`.
    pub dirs: Vec<DirGrant>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Reachable endpoints (TCP and HTTP).
    pub network: Vec<NetworkGrant>,
    /// PEM files of CA certificates its HTTPS requests trust besides the engine's roots.
    pub ca_certificates: Vec<PathBuf>,
}

impl Grants {
    /// No grant at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a read-only input.
    pub fn input(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.inputs.push(DirGrant {
            name: name.into(),
            path: path.into(),
            writable: false,
        });
        self
    }

    /// Sets the output directory.
    pub fn output(mut self, path: impl Into<PathBuf>) -> Self {
        self.output = Some(path.into());
        self
    }

    /// Sets the cache directory.
    pub fn cache(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache = Some(path.into());
        self
    }

    /// Adds a named directory.
    pub fn dir(
        mut self,
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        writable: bool,
    ) -> Self {
        self.dirs.push(DirGrant {
            name: name.into(),
            path: path.into(),
            writable,
        });
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Adds a reachable `host:port`.
    pub fn network(mut self, grant: NetworkGrant) -> Self {
        self.network.push(grant);
        self
    }

    /// Adds a PEM file of CA certificates to trust for HTTPS.
    pub fn ca_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_certificates.push(path.into());
        self
    }
}

/// Why a sandbox could not be set up for an invocation (a grant is unusable).
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A grant name is not a plain path segment.
    #[error(
        "invalid {what} name `{name}`: use letters, digits, `-`, `_` and `.` (not `.` or `..`)"
    )]
    BadName {
        /// Kind of grant (input, dir).
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The same name is granted twice.
    #[error("{what} `{name}` is granted twice")]
    Duplicate {
        /// Kind of grant.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A granted host directory does not exist or cannot be opened.
    #[error("cannot grant {what} `{name}`: {path}: {reason}")]
    Dir {
        /// Kind of grant.
        what: &'static str,
        /// The name.
        name: String,
        /// Host path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A network grant is not `host:port` or does not resolve.
    #[error("cannot grant network access to `{grant}`: {reason}")]
    Network {
        /// The grant as written.
        grant: String,
        /// Why.
        reason: String,
    },
}
