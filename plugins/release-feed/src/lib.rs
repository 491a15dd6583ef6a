//! Shared code of Lockgate's release-feed resource types: `github-release`,
//! `bosh-io-release` and `bosh-io-stemcell`.
//!
//! - [`version`]: release versions ordered as semver, tolerantly (`v1.2`, `270.12`, `1.406`);
//!   version families (`1.406` → `1.406.*`); where `check` starts given `from`.
//! - [`checksum`]: expected checksums as feeds write them (`sha256:…`, bare hex, sha1) and
//!   the sha1 and sha256 of what was downloaded.
//! - [`transport`]: one `GET` through the SDK's HTTP client (`lockgate_sdk::http`), behind a
//!   trait so the plugins' logic is unit-tested against scripted answers.
//! - [`download`]: a file downloaded in ranges (`Range: bytes=…`), each streamed into a
//!   temporary file (the SDK's `Request::send_to`: memory stays bounded whatever the size),
//!   its size and checksum verified, then renamed into place.
//! - [`output`]: the files a `get` writes into `/output`, removed again when it fails.
//! - [`bosh`]: what the two bosh.io types share (the API's base URL, the version filter,
//!   `check`'s answer, the `tarball` param).

use lockgate_sdk::Error;
use lockgate_sdk::http::{Response, Url};

pub mod bosh;
pub mod checksum;
pub mod download;
pub mod output;
pub mod transport;
pub mod version;

/// Validates an API base URL given in `field` (`https://api.github.com`,
/// `https://ghe.example/api/v3`, `https://localhost:8443`): `http(s)://host[:port][/prefix]`
/// without a query. Returns it without a trailing `/`.
pub fn base_url(field: &str, text: &str) -> Result<String, Error> {
    let url = Url::parse(text).map_err(|e| Error::invalid_config(format!("{field}: {e}")))?;
    if url.target().contains('?') {
        return Err(Error::invalid_config(format!(
            "{field}: `{text}` must not have a query"
        )));
    }
    let path = url.target().trim_end_matches('/');
    Ok(format!("{}{path}", url.origin()))
}

/// Percent-encodes `text` for a URL path: everything but RFC 3986's unreserved characters
/// (and `/` when `keep_slash`).
///
/// ```
/// assert_eq!(release_feed::encode_path("v1.0.0+build 7", false), "v1.0.0%2Bbuild%207");
/// assert_eq!(release_feed::encode_path("feature/x", true), "feature/x");
/// assert_eq!(release_feed::encode_path("feature/x", false), "feature%2Fx");
/// ```
pub fn encode_path(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The start of a response body for an error message: at most 200 characters, on one line.
pub fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let one_line = one_line.trim();
    if one_line.is_empty() {
        "(empty body)".to_string()
    } else if text.chars().count() > 200 {
        format!("{one_line:?}…")
    } else {
        format!("{one_line:?}")
    }
}

/// `GET <url>: 404 Not Found: "<body>"` as an [`Error::Failed`].
pub fn status_error(what: &str, response: &Response) -> Error {
    Error::failed(format!(
        "{what}: {} {}: {}",
        response.status,
        response.reason,
        preview(&response.body)
    ))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("source.api_url", "https://api.github.com/").unwrap(),
            "https://api.github.com"
        );
        assert_eq!(
            base_url("source.api_url", "https://ghe.example:8443/api/v3").unwrap(),
            "https://ghe.example:8443/api/v3"
        );
        assert_eq!(
            base_url("source.api_url", "http://127.0.0.1:80").unwrap(),
            "http://127.0.0.1"
        );
        for bad in ["ftp://x", "https://x/?a=1", "api.github.com"] {
            let e = base_url("source.api_url", bad).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.api_url: ")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn previews_are_short_and_on_one_line() {
        assert_eq!(preview(b""), "(empty body)");
        assert_eq!(
            preview(b"{\"message\":\n\"Not Found\"}"),
            "\"{\\\"message\\\": \\\"Not Found\\\"}\""
        );
        let long = "x".repeat(500);
        let p = preview(long.as_bytes());
        assert!(p.ends_with('…') && p.len() < 220, "{p}");
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
    }
}
