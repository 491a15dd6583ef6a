//! Repository references (`host[:port]/name`, with an optional scheme), tags and digests, as
//! the OCI distribution specification spells them.

use lockgate_sdk::http::Url;

/// The registry Docker Hub's short names (`alpine`, `team/app`, `docker.io/…`) point at.
pub const DOCKER_HUB: &str = "registry-1.docker.io";

/// A repository of a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `https` unless `insecure` or an `http://` prefix says otherwise.
    pub https: bool,
    /// `host[:port]` as written (IPv6 literals in brackets), the API host for Docker Hub.
    pub host: String,
    /// The repository's name: `team/app`.
    pub name: String,
}

impl Repository {
    /// Parses `[http(s)://]host[:port]/name`. Without a scheme the registry is spoken to over
    /// `https`, or plain `http` when `insecure`. A reference whose first component is not a
    /// host (no `.` or `:` in it, not `localhost`) is a Docker Hub name: `alpine` is
    /// `registry-1.docker.io/library/alpine`.
    pub fn parse(text: &str, insecure: bool) -> Result<Self, String> {
        let trimmed = text.trim();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
            None => (None, trimmed),
        };
        let https = match scheme.as_deref() {
            None => !insecure,
            Some("https") => {
                if insecure {
                    return Err(format!(
                        "`{text}`: `insecure: true` contradicts the `https://` prefix"
                    ));
                }
                true
            }
            Some("http") => false,
            Some(other) => {
                return Err(format!(
                    "`{text}`: the scheme `{other}://` is not supported; write `host[:port]/name`, optionally prefixed with `https://` or `http://`"
                ));
            }
        };
        let rest = rest.trim_end_matches('/');
        let (first, remainder) = match rest.split_once('/') {
            Some((first, remainder)) => (first, Some(remainder)),
            None => (rest, None),
        };
        let looks_like_host =
            first.contains(['.', ':', '[']) || first == "localhost" || scheme.is_some();
        let (host, name) = match (looks_like_host, remainder) {
            (true, Some(name)) => (first.to_string(), name.to_string()),
            (true, None) => {
                return Err(format!(
                    "`{text}`: no repository name after the registry `{first}`; expected `host[:port]/name`, e.g. `127.0.0.1:5000/team/app`"
                ));
            }
            (false, _) => (DOCKER_HUB.to_string(), rest.to_string()),
        };
        let host = match host.as_str() {
            "docker.io" | "index.docker.io" => DOCKER_HUB.to_string(),
            _ => host,
        };
        let name = if host == DOCKER_HUB && !name.contains('/') {
            format!("library/{name}")
        } else {
            name
        };
        let url = format!("{}://{host}/", if https { "https" } else { "http" });
        Url::parse(&url).map_err(|e| format!("`{text}`: the registry `{host}`: {}", e.message))?;
        validate_name(&name).map_err(|why| format!("`{text}`: {why}"))?;
        Ok(Self { https, host, name })
    }

    /// `https://host[:port]`.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.host
        )
    }

    /// The URL of `path` under this repository's API: `<origin>/v2/<name>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.origin(), self.name)
    }

    /// Whether `other` lives on the same registry (scheme, host and port), where a blob can
    /// be mounted from one repository into the other.
    pub fn same_registry(&self, other: &Repository) -> bool {
        self.https == other.https && self.host.eq_ignore_ascii_case(&other.host)
    }
}

impl std::fmt::Display for Repository {
    /// `host[:port]/name`, with `http://` in front when the registry is spoken to in plain
    /// HTTP.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.https {
            f.write_str("http://")?;
        }
        write!(f, "{}/{}", self.host, self.name)
    }
}

/// A repository name: path components of lowercase letters and digits separated by `.`,
/// `_`, `__` or runs of `-` (the distribution specification's grammar), at most 255
/// characters.
fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }
    if name.len() > 255 {
        return Err(format!(
            "the repository name is {} characters long; at most 255",
            name.len()
        ));
    }
    for component in name.split('/') {
        if !valid_component(component) {
            return Err(format!(
                "`{component}` is not a valid repository name component (lowercase letters and digits, separated by `.`, `_`, `__` or `-`)"
            ));
        }
    }
    Ok(())
}

fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__` or a run of `-`, followed by an alphanumeric.
        let start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if bytes.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !bytes.get(i).is_some_and(|b| alnum(*b)) {
            return false;
        }
    }
    true
}

/// Whether `tag` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Checks a tag, naming `field` when it is not valid.
pub fn check_tag(field: &str, tag: &str) -> Result<(), String> {
    if valid_tag(tag) {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{tag}` is not a valid tag (letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`)"
        ))
    }
}

/// The hex part of a `sha256:<64 lowercase hex>` digest; other algorithms are refused.
pub fn sha256_hex(digest: &str) -> Result<&str, String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "`{digest}` is not a digest; expected `sha256:<64 hex digits>`"
        ));
    };
    if algorithm != "sha256" {
        return Err(format!(
            "`{digest}`: only sha256 digests are supported, not `{algorithm}`"
        ));
    }
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "`{digest}` is not a digest; expected `sha256:` and 64 lowercase hex digits"
        ));
    }
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(text: &str) -> Repository {
        Repository::parse(text, false).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn references_with_a_registry() {
        let r = repo("127.0.0.1:5000/team/app");
        assert_eq!(
            (r.https, r.host.as_str(), r.name.as_str()),
            (true, "127.0.0.1:5000", "team/app")
        );
        assert_eq!(
            r.url("manifests/latest"),
            "https://127.0.0.1:5000/v2/team/app/manifests/latest"
        );
        assert_eq!(r.to_string(), "127.0.0.1:5000/team/app");
        let r = repo("http://localhost:5000/app/");
        assert_eq!(
            (r.https, r.origin().as_str()),
            (false, "http://localhost:5000")
        );
        assert_eq!(r.to_string(), "http://localhost:5000/app");
        let r = Repository::parse("registry.example/a/b/c", true).unwrap();
        assert_eq!((r.https, r.name.as_str()), (false, "a/b/c"));
        assert_eq!(repo("https://localhost/x").origin(), "https://localhost");
        assert_eq!(repo("[::1]:5000/x").host, "[::1]:5000");
    }

    #[test]
    fn docker_hub_short_names() {
        assert_eq!(
            repo("alpine").to_string(),
            "registry-1.docker.io/library/alpine"
        );
        assert_eq!(repo("team/app").name, "team/app");
        assert_eq!(repo("docker.io/alpine").name, "library/alpine");
        assert_eq!(repo("index.docker.io/team/app").host, DOCKER_HUB);
    }

    #[test]
    fn bad_references_say_why() {
        let bad = |text: &str, insecure: bool| Repository::parse(text, insecure).unwrap_err();
        assert!(bad("ftp://h/x", false).contains("scheme `ftp://`"));
        assert!(bad("https://h:5000/x", true).contains("contradicts"));
        assert!(bad("127.0.0.1:5000", false).contains("no repository name"));
        assert!(bad("h.example/Team/app", false).contains("`Team`"));
        assert!(bad("h.example/a//b", false).contains("``"));
        assert!(bad("h.example/a-/b", false).contains("`a-`"));
        assert!(bad("h.example:0/a", false).contains("port"));
        assert!(bad("h.example:x/a", false).contains("port"));
        assert!(bad(&format!("h.example/{}", "a".repeat(256)), false).contains("255"));
    }

    #[test]
    fn name_components() {
        for good in ["a", "a.b", "a_b", "a__b", "a---b", "0x", "app-1.2_x"] {
            assert!(valid_component(good), "{good}");
        }
        for bad in ["", "A", "-a", "a-", "a._b", "a___b", "a..b", "a b", "é"] {
            assert!(!valid_component(bad), "{bad}");
        }
    }

    #[test]
    fn tags_and_digests() {
        for good in ["latest", "1.2.3", "v1.2.3-rc.1", "_x", "A"] {
            assert!(valid_tag(good), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
        assert!(
            check_tag("source.tag", "a b")
                .unwrap_err()
                .starts_with("source.tag: `a b`")
        );
        let hex = "a".repeat(64);
        assert_eq!(sha256_hex(&format!("sha256:{hex}")).unwrap(), hex);
        assert!(sha256_hex("sha512:ab").unwrap_err().contains("only sha256"));
        assert!(
            sha256_hex("sha256:AB")
                .unwrap_err()
                .contains("64 lowercase hex")
        );
        assert!(sha256_hex("latest").unwrap_err().contains("not a digest"));
    }
}
