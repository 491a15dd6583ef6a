//! Bearer tokens with a role: `viewer` < `operator` < `approver`.
//!
//! The token file (`lockgate server --tokens FILE`, YAML or TOML) lists `{name, token, role}`;
//! a token may be written as `sha256:<hex>` (the digest of the token) so the file holds no
//! secret. Reads are open unless `--protect-reads`; every write needs `operator`; approving and
//! rolling back need `approver`. The token's name is recorded as the actor.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Also trigger, check, pin, disable.
    Operator,
    /// Also approve and roll back.
    Approver,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
        }
    }
}

/// One token as configured.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenEntry {
    /// Who holds it (recorded as the actor).
    pub name: String,
    /// The token, or `sha256:<hex>` of it.
    pub token: String,
    /// Its role.
    pub role: Role,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TokenFile {
    List(Vec<TokenEntry>),
    Table { tokens: Vec<TokenEntry> },
}

/// A known token: its holder, role and SHA-256 digest.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    role: Role,
    digest: [u8; 32],
}

/// The API's access configuration.
#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    tokens: Vec<Known>,
    /// Reads need a token too (any role).
    pub protect_reads: bool,
}

impl ApiConfig {
    /// No tokens (the API is read-only, webhooks aside), reads open.
    pub fn open() -> Self {
        Self::default()
    }

    /// The configuration of `entries`; fails on a malformed `sha256:` digest, an empty token or
    /// a duplicate name.
    pub fn with_tokens(entries: Vec<TokenEntry>, protect_reads: bool) -> anyhow::Result<Self> {
        let mut tokens: Vec<Known> = Vec::new();
        for e in entries {
            if e.name.trim().is_empty() {
                bail!("a token has an empty `name`");
            }
            if tokens.iter().any(|k| k.name == e.name) {
                bail!("token name `{}` appears twice", e.name);
            }
            let digest = match e.token.strip_prefix("sha256:") {
                Some(hex_digest) => {
                    let bytes = hex::decode(hex_digest.trim())
                        .ok()
                        .filter(|b| b.len() == 32);
                    let Some(bytes) = bytes else {
                        bail!(
                            "token `{}`: `sha256:` must be followed by 64 hex digits",
                            e.name
                        );
                    };
                    let mut d = [0u8; 32];
                    d.copy_from_slice(&bytes);
                    d
                }
                None if e.token.len() < 8 => {
                    bail!("token `{}` is shorter than 8 characters", e.name)
                }
                None => digest(&e.token),
            };
            tokens.push(Known {
                name: e.name,
                role: e.role,
                digest,
            });
        }
        Ok(Self {
            tokens,
            protect_reads,
        })
    }

    /// Reads a token file: YAML (a list, or `tokens:` with a list) or TOML (`[[tokens]]`)
    /// when its name ends in `.toml`.
    pub fn load(path: &Path, protect_reads: bool) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file `{}`", path.display()))?;
        let file: TokenFile = if path.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text)
                .with_context(|| format!("`{}` is not a valid token file", path.display()))?
        } else {
            serde_saphyr::from_str(&text).map_err(|e| {
                anyhow::anyhow!("`{}` is not a valid token file: {e}", path.display())
            })?
        };
        let entries = match file {
            TokenFile::List(l) | TokenFile::Table { tokens: l } => l,
        };
        Self::with_tokens(entries, protect_reads)
            .with_context(|| format!("token file `{}`", path.display()))
    }

    /// How many tokens are configured.
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    fn find(&self, token: &str) -> Option<&Known> {
        let d = digest(token);
        // Compare against every entry so the time does not tell which one matched.
        let mut found = None;
        for k in &self.tokens {
            if super::constant_time_eq(&k.digest, &d) {
                found = Some(k);
            }
        }
        found
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Who made a request: the token's holder and role, or anonymous (open reads).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name; `None` for an anonymous reader.
    pub name: Option<String>,
    /// Its role (`viewer` for anonymous readers).
    pub role: Role,
}

impl Caller {
    /// The name recorded as actor.
    pub fn actor(&self) -> String {
        self.name.clone().unwrap_or_else(|| "anonymous".to_owned())
    }
}

/// Authenticates the request and requires `needed`.
pub fn authorize(
    config: &ApiConfig,
    headers: &axum::http::HeaderMap,
    needed: Role,
) -> Result<Caller, ApiError> {
    let presented = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().unwrap_or("");
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty());
            match token {
                Some(t) => Some(t.to_owned()),
                None => {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "the Authorization header must be `Bearer TOKEN`",
                    ));
                }
            }
        }
    };
    let Some(token) = presented else {
        if needed == Role::Viewer && !config.protect_reads {
            return Ok(Caller {
                name: None,
                role: Role::Viewer,
            });
        }
        let what = if needed == Role::Viewer {
            "reading"
        } else {
            "this change"
        };
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "{what} needs a bearer token with role `{}` or higher (Authorization: Bearer TOKEN)",
                needed.as_str()
            ),
        ));
    };
    let Some(known) = config.find(&token) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown bearer token",
        ));
    };
    if known.role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has role `{}`; this needs `{}`",
                known.name,
                known.role.as_str(),
                needed.as_str()
            ),
        ));
    }
    Ok(Caller {
        name: Some(known.name.clone()),
        role: known.role,
    })
}

/// A caller with at least the role `R` (0 viewer, 1 operator, 2 approver).
pub struct Auth<const R: u8>(pub Caller);

/// Reads.
pub type Viewer = Auth<0>;
/// Writes.
pub type Operator = Auth<1>;
/// Approve, roll back.
pub type Approver = Auth<2>;

impl<const R: u8> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let needed = match R {
            0 => Role::Viewer,
            1 => Role::Operator,
            _ => Role::Approver,
        };
        authorize(&state.config, &parts.headers, needed).map(Auth)
    }
}

/// Shared configuration.
pub type SharedConfig = Arc<ApiConfig>;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn roles_and_digests() {
        let hashed = format!("sha256:{}", hex::encode(digest("approver-secret")));
        let config = ApiConfig::with_tokens(
            vec![
                TokenEntry {
                    name: "ops".into(),
                    token: "operator-secret".into(),
                    role: Role::Operator,
                },
                TokenEntry {
                    name: "alice".into(),
                    token: hashed,
                    role: Role::Approver,
                },
            ],
            false,
        )
        .unwrap();
        assert!(authorize(&config, &HeaderMap::new(), Role::Viewer).is_ok());
        let e = authorize(&config, &HeaderMap::new(), Role::Operator).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        let e = authorize(&config, &headers("operator-secret"), Role::Approver).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let c = authorize(&config, &headers("approver-secret"), Role::Approver).unwrap();
        assert_eq!(c.actor(), "alice");
        let e = authorize(&config, &headers("nope-nope"), Role::Viewer).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(
            ApiConfig::with_tokens(
                vec![TokenEntry {
                    name: "x".into(),
                    token: "sha256:zz".into(),
                    role: Role::Viewer
                }],
                false
            )
            .is_err()
        );
    }

    #[test]
    fn token_files_in_yaml_and_toml() {
        let dir = tempfile_dir();
        let yaml = dir.join("tokens.yml");
        std::fs::write(
            &yaml,
            "- {name: ci, token: ci-token-123, role: operator}\n- {name: bob, token: bob-token-123, role: approver}\n",
        )
        .unwrap();
        assert_eq!(ApiConfig::load(&yaml, true).unwrap().token_count(), 2);
        let toml = dir.join("tokens.toml");
        std::fs::write(
            &toml,
            "[[tokens]]\nname = \"ci\"\ntoken = \"ci-token-123\"\nrole = \"viewer\"\n",
        )
        .unwrap();
        assert_eq!(ApiConfig::load(&toml, false).unwrap().token_count(), 1);
        std::fs::write(&yaml, "- {name: ci, token: ci-token-123, role: boss}\n").unwrap();
        assert!(ApiConfig::load(&yaml, false).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lockgate-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
