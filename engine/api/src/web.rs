//! The web dashboard: static assets (`engine/api/web/`) embedded in the binary and served by
//! `lockgate server` at `/` and `/assets/…`. The pages are plain HTML, CSS and JavaScript that
//! talk to the JSON API (`/api/v1`); they hold no data of their own, so they are served without
//! a token even when reads are protected (the page then asks for one).
//!
//! The page links its assets and calls the API by relative URLs, so it also works behind a
//! reverse proxy that serves the server under a path prefix (`https://ci.example.org/lockgate/`).
//!
//! `LOCKGATE_WEB_DIR=DIR` serves the assets from `DIR` instead, read on every request: for
//! working on the dashboard without rebuilding the binary.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

/// The dashboard's files, embedded at build time.
static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/web");

/// What the browser may do on dashboard pages: only this server's own scripts, styles and
/// API; no inline scripts, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The dashboard routes: `/` (the page) and `/assets/{path}` (its scripts and styles).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(UrlPath(path): UrlPath<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The bytes of asset `path` (relative to `engine/api/web/`), from `LOCKGATE_WEB_DIR` when set,
/// else embedded; `None` for a missing file or a path that leaves the folder.
pub fn asset_bytes(path: &str) -> Option<Cow<'static, [u8]>> {
    let rel = Path::new(path);
    if path.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    match std::env::var_os("LOCKGATE_WEB_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::fs::read(PathBuf::from(dir).join(rel))
            .ok()
            .map(Cow::Owned),
        None => ASSETS.get_file(rel).map(|f| Cow::Borrowed(f.contents())),
    }
}

/// Content type by file extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(bytes) = asset_bytes(path) else {
        return (StatusCode::NOT_FOUND, "no such dashboard file\n").into_response();
    };
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&bytes))[..32]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes.into_owned().into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    // Revalidated on every load: a new binary serves new assets at the same paths.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_assets_are_embedded() {
        let index =
            String::from_utf8(ASSETS.get_file("index.html").unwrap().contents().to_vec()).unwrap();
        // Every asset the page links to is embedded, linked relatively (so that the
        // dashboard also works under a reverse proxy's path prefix).
        assert!(
            !index.contains("\"/assets/"),
            "index.html links assets absolutely"
        );
        let links: Vec<&str> = index.split("=\"assets/").skip(1).collect();
        assert!(links.len() >= 2, "index.html links its script and styles");
        for part in links {
            let path = part.split(['"', '?']).next().unwrap();
            assert!(
                ASSETS.get_file(path).is_some(),
                "index.html links assets/{path}, which engine/api/web/ lacks"
            );
        }
    }

    #[test]
    fn paths_cannot_leave_the_assets() {
        for bad in [
            "",
            "../Cargo.toml",
            "/etc/passwd",
            "a/../../b",
            "./index.html",
        ] {
            assert!(asset_bytes(bad).is_none(), "{bad}");
        }
        assert!(asset_bytes("index.html").is_some());
    }
}
