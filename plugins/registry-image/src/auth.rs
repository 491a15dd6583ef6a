//! The registry's authentication challenges (`WWW-Authenticate: Bearer realm=…` or `Basic`),
//! the token request they lead to, and `Authorization` values. Hand-written: a few dozen lines
//! of RFC 7235 parsing.

use base64::Engine as _;

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="…"`: send the credentials with every request.
    Basic,
    /// `Bearer realm="…",service="…",scope="…"`: ask the token service at `realm` for a
    /// token, then send it as `Authorization: Bearer <token>`.
    Bearer {
        /// The token service's URL.
        realm: String,
        /// `service`, passed back to the token service.
        service: Option<String>,
        /// `scope` (space-separated scopes), passed back to the token service.
        scope: Option<String>,
    },
}

/// The challenges of the `WWW-Authenticate` values of a response, in order; unknown schemes
/// are skipped.
pub fn challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut found = Vec::new();
    for value in values {
        for (scheme, params) in parse(value) {
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            if scheme.eq_ignore_ascii_case("basic") {
                found.push(Challenge::Basic);
            } else if scheme.eq_ignore_ascii_case("bearer")
                && let Some(realm) = param("realm")
            {
                found.push(Challenge::Bearer {
                    realm,
                    service: param("service"),
                    scope: param("scope"),
                });
            }
        }
    }
    found
}

/// `scheme param=value, param="quoted, value", …[, scheme2 …]` → schemes with their
/// parameters. Tolerant: anything unparsable ends the header.
fn parse(header: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let bytes = header.as_bytes();
    let mut i = 0;
    let skip = |i: &mut usize, set: &[u8]| {
        while *i < bytes.len() && set.contains(&bytes[*i]) {
            *i += 1;
        }
    };
    let token = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && !b" \t,=\"".contains(&bytes[*i]) {
            *i += 1;
        }
        header[start..*i].to_string()
    };
    loop {
        skip(&mut i, b" \t,");
        if i >= bytes.len() {
            return out;
        }
        let word = token(&mut i);
        if word.is_empty() {
            return out;
        }
        let mut j = i;
        skip(&mut j, b" \t");
        if j < bytes.len() && bytes[j] == b'=' {
            // A parameter of the current scheme.
            i = j + 1;
            skip(&mut i, b" \t");
            let value = if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
                let mut value = String::new();
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        i += 1;
                    }
                    let c = header[i..].chars().next().unwrap_or_default();
                    value.push(c);
                    i += c.len_utf8();
                }
                i += 1;
                value
            } else {
                token(&mut i)
            };
            match out.last_mut() {
                Some((_, params)) => params.push((word, value)),
                None => return out,
            }
        } else {
            out.push((word, Vec::new()));
        }
    }
}

/// `Basic <base64 of user:password>`.
pub fn basic(username: &str, password: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    format!("Basic {encoded}")
}

/// The token service's URL for a challenge: `realm?service=…&scope=…&scope=…` (one `scope`
/// parameter per space-separated scope, as registries' token services expect).
pub fn token_url(realm: &str, service: Option<&str>, scope: Option<&str>) -> String {
    let mut url = realm.to_string();
    let mut separator = if realm.contains('?') { '&' } else { '?' };
    let mut add = |name: &str, value: &str| {
        url.push(separator);
        url.push_str(name);
        url.push('=');
        url.push_str(&encode(value));
        separator = '&';
    };
    if let Some(service) = service {
        add("service", service);
    }
    for scope in scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        add("scope", scope);
    }
    url
}

/// Percent-encodes everything but unreserved characters, for a query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token in a token service's answer: `token`, else `access_token` (OAuth2 style).
pub fn token_from(body: &serde_json::Value) -> Option<&str> {
    ["token", "access_token"]
        .iter()
        .find_map(|k| body.get(k).and_then(serde_json::Value::as_str))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bearer_challenge_as_registries_send_it() {
        let header = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push""#;
        assert_eq!(
            challenges([header]),
            [Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:team/app:pull,push".into()),
            }]
        );
        // Unquoted values, spaces, a scope of two repositories, escapes.
        let header = r#"bearer realm=http://127.0.0.1:9/t , scope="repository:a:pull repository:b:pull" ,service="s\"q""#;
        assert_eq!(
            challenges([header]),
            [Challenge::Bearer {
                realm: "http://127.0.0.1:9/t".into(),
                service: Some("s\"q".into()),
                scope: Some("repository:a:pull repository:b:pull".into()),
            }]
        );
    }

    #[test]
    fn basic_and_several_challenges() {
        assert_eq!(
            challenges([r#"Basic realm="basic-realm""#]),
            [Challenge::Basic]
        );
        assert_eq!(
            challenges([r#"Basic realm="r", Bearer realm="https://a/t""#]),
            [
                Challenge::Basic,
                Challenge::Bearer {
                    realm: "https://a/t".into(),
                    service: None,
                    scope: None
                }
            ]
        );
        // A Bearer challenge without a realm, unknown schemes, garbage: nothing usable.
        assert!(challenges(["Bearer service=x", "Negotiate", "=", ""]).is_empty());
        assert_eq!(challenges(["Digest realm=x", "Basic"]), [Challenge::Basic]);
    }

    #[test]
    fn token_requests() {
        assert_eq!(
            token_url(
                "https://auth.example/token",
                Some("registry.example"),
                Some("repository:a/b:pull,push repository:c:pull")
            ),
            "https://auth.example/token?service=registry.example&scope=repository%3Aa%2Fb%3Apull%2Cpush&scope=repository%3Ac%3Apull"
        );
        assert_eq!(token_url("http://h/t?x=1", None, None), "http://h/t?x=1");
        assert_eq!(
            token_url("http://h/t?x=1", Some("s"), None),
            "http://h/t?x=1&service=s"
        );
        assert_eq!(
            basic("aladdin", "open sesame"),
            "Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(token_from(&json!({"token": "t1"})), Some("t1"));
        assert_eq!(token_from(&json!({"access_token": "t2"})), Some("t2"));
        assert_eq!(token_from(&json!({"token": ""})), None);
        assert_eq!(token_from(&json!([1])), None);
    }
}
