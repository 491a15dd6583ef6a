//! The registry's HTTP API (OCI distribution specification), on the SDK's HTTP client:
//! authentication (the token flow and Basic), manifests, tag lists, blobs read in ranges and
//! uploaded in one request or in chunks, mounts, manifest pushes. Hand-written: each call is
//! one or two requests with a few headers.

use std::collections::BTreeMap;
use std::time::Duration;

use lockgate_sdk::Error;
use lockgate_sdk::http::{HttpError, HttpErrorKind, Request, Response, Url};
use sha2::{Digest as _, Sha256};

use crate::auth::{self, Challenge};
use crate::manifest::{self, Descriptor, Manifest};
use crate::reference::{Repository, sha256_hex};

/// Blobs larger than this are read with `Range` requests and uploaded in `PATCH` chunks of
/// this size, so that memory holds at most one chunk.
pub const CHUNK: u64 = 16 * 1024 * 1024;
/// Deadline of a request for a manifest, a tag list, a token, a `HEAD`.
const META_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline of one request carrying a blob or a chunk of one (the invocation's own deadline
/// still holds).
const BLOB_TIMEOUT: Duration = Duration::from_secs(600);
/// Cap on a tag list page, a token answer, an error body.
const MAX_META_BYTES: u64 = 16 * 1024 * 1024;
/// Most pages of a tag list followed.
const MAX_PAGES: usize = 10_000;

/// `source.username` and `source.password`.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

/// A manifest as received, its digest verified.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The bytes as received (their sha256 is `digest`).
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    /// The media type (the body's `mediaType`, else the response's `Content-Type`).
    pub media_type: String,
    /// What it holds.
    pub manifest: Manifest,
}

impl Fetched {
    /// Parses and checks `bytes` as a manifest that should have `expected` as digest.
    pub fn verify(
        bytes: Vec<u8>,
        content_type: Option<&str>,
        expected: Option<&str>,
        what: &str,
    ) -> Result<Self, Error> {
        let digest = manifest::sha256(&bytes);
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Error::failed(format!(
                "{what}: digest mismatch: expected {expected}, the content received has {digest}; refusing it"
            )));
        }
        let (media_type, manifest) = manifest::parse(&bytes, content_type)
            .map_err(|e| Error::failed(format!("{what}: {e}")))?;
        Ok(Self {
            bytes,
            digest,
            media_type,
            manifest,
        })
    }

    /// Its descriptor (media type, digest, size).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            platform: None,
            annotations: None,
        }
    }
}

/// Where a blob's bytes come from: a registry or an OCI layout.
pub trait BlobReader {
    /// Calls `consume` with the bytes of the blob `blob`, in order, in pieces of at most
    /// [`CHUNK`] bytes (or all at once). Nothing here is verified: see [`read_verified`].
    fn read_blob(
        &mut self,
        blob: &Descriptor,
        consume: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error>;

    /// Where the bytes come from, for messages: `registry 127.0.0.1:5000/team/app`.
    fn origin(&self) -> String;
}

/// Reads a blob through `consume`, then checks that what was read has the descriptor's size
/// and digest; a mismatch is an error naming the blob and both digests (`consume` has seen
/// the bytes by then: its caller must not keep them unless this returns `Ok`).
pub fn read_verified(
    reader: &mut dyn BlobReader,
    blob: &Descriptor,
    consume: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let origin = reader.origin();
    reader.read_blob(blob, &mut |bytes| {
        size += bytes.len() as u64;
        if size > blob.size {
            return Err(Error::failed(format!(
                "blob {}: {origin} sent more than the {} bytes its descriptor says; refusing it",
                blob.digest, blob.size
            )));
        }
        hasher.update(bytes);
        consume(bytes)
    })?;
    if size != blob.size {
        return Err(Error::failed(format!(
            "blob {}: {origin} sent {size} bytes, its descriptor says {}; refusing it",
            blob.digest, blob.size
        )));
    }
    let got = format!("sha256:{}", manifest::hex(&hasher.finalize()));
    if got != blob.digest {
        return Err(Error::failed(format!(
            "blob {}: digest mismatch: expected {}, the content {origin} sent has {got}; refusing it",
            blob.digest, blob.digest
        )));
    }
    Ok(())
}

/// Why a request failed: the HTTP client's error (its kind kept), or another.
enum SendError {
    Http(HttpError),
    Other(Error),
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Http(e) => e.into(),
            SendError::Other(e) => e,
        }
    }
}

impl From<HttpError> for SendError {
    fn from(e: HttpError) -> Self {
        Self::Http(e)
    }
}

/// A repository of a registry, with the `Authorization` each kind of access has earned.
pub struct Registry {
    /// The repository.
    pub repo: Repository,
    credentials: Option<Credentials>,
    /// `Authorization` values by access (`pull`, `push`, `mount:<from>`): tokens are scoped.
    auth: BTreeMap<String, String>,
}

impl Registry {
    /// A client of `repo`.
    pub fn new(repo: Repository, credentials: Option<Credentials>) -> Self {
        Self {
            repo,
            credentials,
            auth: BTreeMap::new(),
        }
    }

    /// Sends `request` with the `Authorization` earned for `access`; on a 401, answers the
    /// challenge (a token from the token service, or Basic credentials) and sends it once
    /// more.
    fn send(&mut self, request: Request, access: &str) -> Result<Response, SendError> {
        let first = match self.auth.get(access) {
            Some(value) => request.clone().header("Authorization", value),
            None => request.clone(),
        };
        let response = first.send()?;
        if response.status != 401 {
            return Ok(response);
        }
        let what = format!("{} {}", request.method(), request.url());
        let authorization = self.answer(&response, &what).map_err(SendError::Other)?;
        self.auth.insert(access.to_string(), authorization.clone());
        let response = request.header("Authorization", &authorization).send()?;
        if response.status == 401 {
            return Err(SendError::Other(Error::failed(format!(
                "{what}: the registry refused {} even after authenticating: {}",
                self.who(),
                describe(&response)
            ))));
        }
        Ok(response)
    }

    /// `the credentials of source.username` or `anonymous access`.
    fn who(&self) -> String {
        match &self.credentials {
            Some(c) => format!("the credentials of user `{}`", c.username),
            None => "anonymous access (no source.username/password given)".into(),
        }
    }

    /// The `Authorization` value answering the challenge of a 401 `response`.
    fn answer(&self, response: &Response, what: &str) -> Result<String, Error> {
        let values: Vec<&str> = response
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.as_str())
            .collect();
        let challenges = auth::challenges(values.iter().copied());
        let bearer = challenges
            .iter()
            .find(|c| matches!(c, Challenge::Bearer { .. }));
        match (bearer, challenges.first(), &self.credentials) {
            (
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope,
                }),
                _,
                _,
            ) => {
                let token = self.token(realm, service.as_deref(), scope.as_deref(), what)?;
                Ok(format!("Bearer {token}"))
            }
            (None, Some(Challenge::Basic), Some(c)) => Ok(auth::basic(&c.username, &c.password)),
            (None, Some(Challenge::Basic), None) => Err(Error::failed(format!(
                "{what}: the registry asks for credentials (Basic authentication): set source.username and source.password"
            ))),
            _ => Err(Error::failed(format!(
                "{what}: 401 Unauthorized without a challenge this plugin can answer (WWW-Authenticate: {:?})",
                values.join(", ")
            ))),
        }
    }

    /// A token from the token service at `realm` (with Basic credentials when given).
    fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
        what: &str,
    ) -> Result<String, Error> {
        let realm_url = Url::parse(realm).map_err(|e| {
            Error::failed(format!(
                "{what}: the registry's token service (realm) is not usable: {}",
                e.message
            ))
        })?;
        if self.credentials.is_some() && self.repo.https && !realm_url.is_https() {
            return Err(Error::failed(format!(
                "{what}: the registry's token service {realm} is plain http: refusing to send source.username/password there"
            )));
        }
        let url = auth::token_url(realm, service, scope);
        let mut request = Request::get(&url)?
            .header("Accept", "application/json")
            .timeout(META_TIMEOUT)
            .max_response_bytes(MAX_META_BYTES);
        if let Some(c) = &self.credentials {
            request = request.header("Authorization", &auth::basic(&c.username, &c.password));
        }
        let response = request.send()?;
        let scope_text = scope.unwrap_or("(no scope)");
        match response.status {
            200 => {
                let body: serde_json::Value = response.json().map_err(|e| {
                    Error::failed(format!("{what}: the token service's answer: {e}"))
                })?;
                auth::token_from(&body).map(str::to_string).ok_or_else(|| {
                    Error::failed(format!(
                        "{what}: the token service {realm} answered without a `token`"
                    ))
                })
            }
            401 | 403 => Err(Error::failed(format!(
                "{what}: the token service {realm} refused {} for scope {scope_text}: {}",
                self.who(),
                describe(&response)
            ))),
            _ => Err(Error::failed(format!(
                "{what}: the token service {realm} answered {}",
                describe(&response)
            ))),
        }
    }

    // ------------------------------------------------------------ manifests

    /// The manifest `reference` (a tag or a digest), its digest verified: the sha256 of what
    /// was received must be the digest asked for, and the `Docker-Content-Digest` the
    /// registry announces. `None` when the registry does not have it (404).
    pub fn manifest(&mut self, reference: &str, max: u64) -> Result<Option<Fetched>, Error> {
        let url = self.repo.url(&format!("manifests/{reference}"));
        let what = format!("manifest {}@{reference}", self.repo);
        let request = Request::get(&url)?
            .header("Accept", manifest::ACCEPT)
            .timeout(META_TIMEOUT)
            .max_response_bytes(max.min(manifest::MAX_MANIFEST_BYTES));
        let response = self.send(request, "pull")?;
        match response.status {
            200 => {}
            404 => return Ok(None),
            _ => {
                return Err(Error::failed(format!("GET {url}: {}", describe(&response))));
            }
        }
        let expected = sha256_hex(reference).is_ok().then_some(reference);
        let fetched = Fetched::verify(
            response.body.clone(),
            response.header("content-type"),
            expected,
            &what,
        )?;
        if let Some(announced) = response.header("docker-content-digest")
            && announced.trim() != fetched.digest
        {
            return Err(Error::failed(format!(
                "{what}: the registry announced digest {} but the content received has {}; refusing it",
                announced.trim(),
                fetched.digest
            )));
        }
        Ok(Some(fetched))
    }

    /// The digest of the manifest tagged `tag`, as the registry announces it (`HEAD`, its
    /// `Docker-Content-Digest`), else computed from the manifest itself; `None` when the tag
    /// does not exist.
    pub fn manifest_digest(&mut self, tag: &str) -> Result<Option<String>, Error> {
        let url = self.repo.url(&format!("manifests/{tag}"));
        let request = Request::new("HEAD", &url)?
            .header("Accept", manifest::ACCEPT)
            .timeout(META_TIMEOUT);
        let response = self.send(request, "pull")?;
        match response.status {
            404 => return Ok(None),
            200 => {
                if let Some(digest) = response.header("docker-content-digest")
                    && sha256_hex(digest.trim()).is_ok()
                {
                    return Ok(Some(digest.trim().to_string()));
                }
            }
            // Some registries refuse HEAD: ask for the manifest itself.
            405 | 501 => {}
            _ => {
                return Err(Error::failed(format!(
                    "HEAD {url}: {}",
                    describe(&response)
                )));
            }
        }
        Ok(self
            .manifest(tag, manifest::MAX_MANIFEST_BYTES)?
            .map(|m| m.digest))
    }

    /// Pushes a manifest under `reference` (a tag or its digest); checks the digest the
    /// registry announces.
    pub fn put_manifest(&mut self, reference: &str, fetched: &Fetched) -> Result<(), Error> {
        let url = self.repo.url(&format!("manifests/{reference}"));
        let request = Request::put(&url)?
            .header("Content-Type", &fetched.media_type)
            .body(fetched.bytes.clone())
            .timeout(META_TIMEOUT)
            .max_response_bytes(MAX_META_BYTES);
        let response = self.send(request, "push")?;
        if !response.is_success() {
            return Err(Error::failed(format!("PUT {url}: {}", describe(&response))));
        }
        if let Some(announced) = response.header("docker-content-digest")
            && announced.trim() != fetched.digest
        {
            return Err(Error::failed(format!(
                "PUT {url}: the registry stored the manifest as {} instead of {}",
                announced.trim(),
                fetched.digest
            )));
        }
        Ok(())
    }

    // ------------------------------------------------------------ tags

    /// Every tag of the repository, following the `Link` header from page to page (`n` per
    /// page when given); `None` when the registry does not know the repository.
    pub fn tags(&mut self, page_size: Option<u32>) -> Result<Option<Vec<String>>, Error> {
        #[derive(serde::Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let mut url = self.repo.url("tags/list");
        if let Some(n) = page_size {
            url.push_str(&format!("?n={n}"));
        }
        let mut tags = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for page in 0..MAX_PAGES {
            if !seen.insert(url.clone()) {
                return Err(Error::failed(format!(
                    "GET {url}: the tag list's `Link` header leads back to a page already read"
                )));
            }
            let request = Request::get(&url)?
                .header("Accept", "application/json")
                .timeout(META_TIMEOUT)
                .max_response_bytes(MAX_META_BYTES);
            let response = self.send(request, "pull")?;
            match response.status {
                200 => {}
                404 if page == 0 => return Ok(None),
                _ => {
                    return Err(Error::failed(format!("GET {url}: {}", describe(&response))));
                }
            }
            let body: Page = response
                .json()
                .map_err(|e| Error::failed(format!("GET {url}: {}", e.message)))?;
            tags.extend(body.tags.unwrap_or_default());
            let next = response
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("link"))
                .find_map(|(_, v)| crate::tags::next_link(v));
            match next {
                Some(next) => {
                    url = response
                        .url
                        .join(next)
                        .map_err(|e| {
                            Error::failed(format!("GET {url}: the `Link` header: {}", e.message))
                        })?
                        .to_string();
                }
                None => return Ok(Some(tags)),
            }
        }
        Err(Error::failed(format!(
            "{}: the tag list goes on for more than {MAX_PAGES} pages",
            self.repo
        )))
    }

    // ------------------------------------------------------------ blobs

    /// The blob's bytes, all of them or `(offset, length)`; the length of what came back is
    /// checked, the digest is not (see [`read_verified`]).
    fn blob_get(
        &mut self,
        blob: &Descriptor,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>, SendError> {
        let url = self.repo.url(&format!("blobs/{}", blob.digest));
        let cap = range.map_or(blob.size, |(_, length)| length);
        let mut request = Request::get(&url)?
            .timeout(BLOB_TIMEOUT)
            .max_response_bytes(cap);
        if let Some((offset, length)) = range {
            request = request.header("Range", &format!("bytes={offset}-{}", offset + length - 1));
        }
        let response = self.send(request, "pull")?;
        let fail = |why: String| SendError::Other(Error::failed(format!("GET {url}: {why}")));
        match (response.status, range) {
            (200, None) => Ok(response.body),
            (206, Some((offset, length))) => {
                let start = response
                    .header("content-range")
                    .and_then(|r| r.trim().strip_prefix("bytes "))
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.trim().parse::<u64>().ok());
                if start.is_some_and(|s| s != offset) || response.body.len() as u64 != length {
                    return Err(fail(format!(
                        "asked for bytes {offset}-{} of blob {}, the registry sent {} bytes ({})",
                        offset + length - 1,
                        blob.digest,
                        response.body.len(),
                        response
                            .header("content-range")
                            .unwrap_or("no Content-Range")
                    )));
                }
                Ok(response.body)
            }
            (404, _) => Err(fail(format!(
                "the registry does not have blob {} in {}: {}",
                blob.digest,
                self.repo,
                describe(&response)
            ))),
            _ => Err(fail(describe(&response))),
        }
    }

    /// Whether the repository has the blob `digest` (`HEAD`).
    pub fn blob_exists(&mut self, digest: &str) -> Result<bool, Error> {
        let url = self.repo.url(&format!("blobs/{digest}"));
        let request = Request::new("HEAD", &url)?.timeout(META_TIMEOUT);
        let response = self.send(request, "pull")?;
        match response.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(Error::failed(format!(
                "HEAD {url}: {}",
                describe(&response)
            ))),
        }
    }

    /// Starts an upload of `digest`, mounting it from the repository `mount_from` of the
    /// same registry when given: `None` when the mount succeeded, else where to upload.
    pub fn start_upload(
        &mut self,
        digest: &str,
        mount_from: Option<&str>,
    ) -> Result<Option<Url>, Error> {
        let (url, access) = match mount_from {
            Some(from) => (
                self.repo.url(&format!(
                    "blobs/uploads/?mount={}&from={}",
                    auth::encode(digest),
                    auth::encode(from)
                )),
                format!("mount:{from}"),
            ),
            None => (self.repo.url("blobs/uploads/"), "push".to_string()),
        };
        let request = Request::post(&url)?
            .timeout(META_TIMEOUT)
            .max_response_bytes(MAX_META_BYTES);
        let response = self.send(request, &access)?;
        match response.status {
            201 if mount_from.is_some() => Ok(None),
            202 => location(&response, &url).map(Some),
            _ => Err(Error::failed(format!(
                "POST {url}: {}",
                describe(&response)
            ))),
        }
    }

    /// Uploads the blob `blob` from `reader` to the upload session at `location`: in one
    /// `PUT` up to [`CHUNK`] bytes, else in `PATCH` chunks and a closing `PUT`. The content is
    /// verified before the upload is closed; on any failure the session is cancelled.
    pub fn upload(
        &mut self,
        location: Url,
        blob: &Descriptor,
        reader: &mut dyn BlobReader,
    ) -> Result<(), Error> {
        let mut at = location;
        let result = self.upload_to(&mut at, blob, reader);
        if result.is_err() {
            self.cancel(&at);
        }
        result
    }

    /// Cancels the upload session at `location`. Best effort: the registry forgets an
    /// abandoned session anyway after a while.
    pub fn cancel(&mut self, location: &Url) {
        if let Ok(request) = Request::delete(&location.to_string()) {
            let _ = self.send(request.timeout(META_TIMEOUT), "push");
        }
    }

    fn upload_to(
        &mut self,
        at: &mut Url,
        blob: &Descriptor,
        reader: &mut dyn BlobReader,
    ) -> Result<(), Error> {
        let octets = "application/octet-stream";
        let body = if blob.size <= CHUNK {
            let mut whole = Vec::with_capacity(usize::try_from(blob.size).unwrap_or(0));
            read_verified(reader, blob, &mut |bytes| {
                whole.extend_from_slice(bytes);
                Ok(())
            })?;
            whole
        } else {
            let mut offset = 0u64;
            read_verified(reader, blob, &mut |bytes| {
                let url = at.to_string();
                let end = offset + bytes.len() as u64;
                let request = Request::new("PATCH", &url)?
                    .header("Content-Type", octets)
                    .header("Content-Range", &format!("{offset}-{}", end - 1))
                    .body(bytes.to_vec())
                    .timeout(BLOB_TIMEOUT)
                    .max_response_bytes(MAX_META_BYTES);
                let response = self.send(request, "push")?;
                if response.status != 202 {
                    return Err(Error::failed(format!(
                        "PATCH {url} (bytes {offset}-{} of blob {}): {}",
                        end - 1,
                        blob.digest,
                        describe(&response)
                    )));
                }
                *at = location(&response, &url)?;
                offset = end;
                Ok(())
            })?;
            Vec::new()
        };
        let separator = if at.target().contains('?') { '&' } else { '?' };
        let url = format!("{at}{separator}digest={}", auth::encode(&blob.digest));
        let request = Request::put(&url)?
            .header("Content-Type", octets)
            .body(body)
            .timeout(BLOB_TIMEOUT)
            .max_response_bytes(MAX_META_BYTES);
        let response = self.send(request, "push")?;
        if response.status != 201 {
            return Err(Error::failed(format!(
                "PUT {url} (closing the upload of blob {}): {}",
                blob.digest,
                describe(&response)
            )));
        }
        Ok(())
    }
}

impl BlobReader for Registry {
    fn read_blob(
        &mut self,
        blob: &Descriptor,
        consume: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if blob.size <= CHUNK {
            return consume(&self.blob_get(blob, None)?);
        }
        let mut offset = 0;
        while offset < blob.size {
            let length = CHUNK.min(blob.size - offset);
            match self.blob_get(blob, Some((offset, length))) {
                Ok(bytes) => consume(&bytes)?,
                // A registry (or its storage) that ignores `Range` sends the whole blob,
                // larger than the chunk asked for: read it whole then.
                Err(SendError::Http(e)) if offset == 0 && e.kind == HttpErrorKind::TooLarge => {
                    lockgate_sdk::debug!(
                        "the registry ignored the Range request for blob {}; reading it whole",
                        blob.digest
                    );
                    return consume(&self.blob_get(blob, None)?);
                }
                Err(e) => return Err(e.into()),
            }
            offset += length;
        }
        Ok(())
    }

    fn origin(&self) -> String {
        format!("the registry ({})", self.repo)
    }
}

/// The `Location` of an upload session, resolved against the request's URL.
fn location(response: &Response, url: &str) -> Result<Url, Error> {
    let Some(location) = response.header("location") else {
        return Err(Error::failed(format!(
            "{url}: the registry answered {} without a Location for the upload",
            response.status
        )));
    };
    response
        .url
        .join(location)
        .map_err(|e| Error::failed(format!("{url}: the upload Location: {}", e.message)))
}

/// `404 Not Found: MANIFEST_UNKNOWN manifest unknown` (the registry's errors), else the
/// status and up to 200 characters of the body.
pub fn describe(response: &Response) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        code: Option<String>,
        message: Option<String>,
    }
    let status = format!("{} {}", response.status, response.reason);
    if let Ok(errors) = serde_json::from_slice::<Errors>(&response.body)
        && !errors.errors.is_empty()
    {
        let list: Vec<String> = errors
            .errors
            .iter()
            .map(|e| {
                [e.code.as_deref(), e.message.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        return format!("{}: {}", status.trim(), list.join("; "));
    }
    let text = response.text();
    let text = text.trim();
    if text.is_empty() {
        return status.trim().to_string();
    }
    let preview: String = text.chars().take(200).collect();
    let more = if text.chars().count() > 200 {
        "…"
    } else {
        ""
    };
    format!("{}: {preview:?}{more}", status.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            reason: "Reason".into(),
            headers: vec![],
            body: body.as_bytes().to_vec(),
            url: Url::parse("http://r/v2/").unwrap(),
        }
    }

    #[test]
    fn registry_errors_are_described() {
        assert_eq!(
            describe(&response(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}},{"code":"X"}]}"#
            )),
            "404 Reason: MANIFEST_UNKNOWN manifest unknown; X"
        );
        assert_eq!(describe(&response(500, "")), "500 Reason");
        assert_eq!(
            describe(&response(502, "bad gateway\n")),
            "502 Reason: \"bad gateway\""
        );
        assert!(describe(&response(500, &"x".repeat(300))).ends_with("\"…"));
    }

    /// Bytes served from memory, in pieces of `piece` bytes.
    struct Memory {
        bytes: Vec<u8>,
        piece: usize,
    }

    impl BlobReader for Memory {
        fn read_blob(
            &mut self,
            _: &Descriptor,
            consume: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
        ) -> Result<(), Error> {
            for piece in self.bytes.chunks(self.piece) {
                consume(piece)?;
            }
            Ok(())
        }

        fn origin(&self) -> String {
            "memory".into()
        }
    }

    fn blob(bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: "application/octet-stream".into(),
            digest: manifest::sha256(bytes),
            size: bytes.len() as u64,
            platform: None,
            annotations: None,
        }
    }

    #[test]
    fn blobs_are_verified_by_size_and_digest() {
        let content = b"0123456789".to_vec();
        let mut reader = Memory {
            bytes: content.clone(),
            piece: 3,
        };
        let mut seen = Vec::new();
        read_verified(&mut reader, &blob(&content), &mut |b| {
            seen.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, content);

        // Same size, other bytes: both digests named.
        let mut liar = Memory {
            bytes: b"0123456780".to_vec(),
            piece: 4,
        };
        let expected = blob(&content);
        let e = read_verified(&mut liar, &expected, &mut |_| Ok(())).unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "blob {0}: digest mismatch: expected {0}, the content memory sent has {1}; refusing it",
                expected.digest,
                manifest::sha256(b"0123456780")
            )
        );
        // Shorter, longer.
        let mut short = Memory {
            bytes: b"012".to_vec(),
            piece: 4,
        };
        let e = read_verified(&mut short, &expected, &mut |_| Ok(())).unwrap_err();
        assert!(
            e.message()
                .contains("memory sent 3 bytes, its descriptor says 10"),
            "{e}"
        );
        let mut long = Memory {
            bytes: b"0123456789abc".to_vec(),
            piece: 4,
        };
        let mut consumed = 0;
        let e = read_verified(&mut long, &expected, &mut |b| {
            consumed += b.len();
            Ok(())
        })
        .unwrap_err();
        assert!(e.message().contains("more than the 10 bytes"), "{e}");
        assert_eq!(
            consumed, 8,
            "nothing past the descriptor's size is consumed"
        );
    }

    #[test]
    fn manifests_are_verified_against_the_digest_asked_for() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;
        let digest = manifest::sha256(body);
        let fetched = Fetched::verify(body.to_vec(), None, Some(&digest), "m").unwrap();
        assert_eq!(fetched.digest, digest);
        assert_eq!(fetched.descriptor().size, body.len() as u64);
        let other = manifest::sha256(b"x");
        let e = Fetched::verify(body.to_vec(), None, Some(&other), "manifest r/a@x").unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "manifest r/a@x: digest mismatch: expected {other}, the content received has {digest}; refusing it"
            )
        );
    }

    /// Outside the sandbox (native) a request fails saying so; on wasm32 the test runner's
    /// host sends it to port 9 (discard), where nothing listens. Neither leaks the password.
    #[test]
    fn an_unreachable_registry_is_a_failed_error() {
        let repo = Repository::parse("127.0.0.1:9/team/app", true).unwrap();
        let mut registry = Registry::new(
            repo,
            Some(Credentials {
                username: "u".into(),
                password: "s3cret".into(),
            }),
        );
        let e = registry.manifest_digest("latest").unwrap_err();
        assert!(matches!(e, Error::Failed(_)), "{e:?}");
        assert!(
            e.message()
                .starts_with("HEAD http://127.0.0.1:9/v2/team/app/manifests/latest: "),
            "{e}"
        );
        assert!(!e.message().contains("s3cret"));
    }
}
