//! Downloads of release files of any size, streamed to disk in ranges.
//!
//! A file is fetched in ranges (`Range: bytes=<from>-<to>`, [`CHUNK_BYTES`] each), as
//! `curl -r` or Concourse's bosh-io-stemcell resource do, each streamed into the file through
//! the SDK's `Request::send_to` (memory stays bounded whatever the size). The first request
//! goes to the URL given (the asset API, a bosh.io download link) and follows its redirects;
//! later ranges go straight to the URL that answered (a signed download URL, without
//! `Authorization` when it is another origin), and back to the URL given when that one
//! expired (401, 403, 404 or 410). A server that ignores `Range` and sends the whole file
//! (`200`) is fine too. Ranges keep each request short and let a long download outlive a
//! download URL's signature.
//!
//! Each range is appended to `.lockgate-partial-<name>` beside the destination and hashed on
//! the way (sha1 and sha256); no more bytes than the size announced are accepted; the size
//! and the expected checksum are checked at the end, and only a verified file is renamed into
//! place. On any failure the partial file is removed.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lockgate_sdk::http::{Response, Url};
use lockgate_sdk::{Error, IoResultExt};

use crate::checksum::{Checksum, Digests, Hasher};
use crate::output::PARTIAL_PREFIX;
use crate::status_error;
use crate::transport::{Get, Transport};

/// Bytes asked for in one range request: 32 MiB.
pub const CHUNK_BYTES: u64 = 32 * 1024 * 1024;
/// Deadline of one range request (the operation's own deadline, 10 min for `get` by
/// default, bounds the whole download).
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(300);

/// A file to download: where from, where to, and what it must be.
#[derive(Debug, Clone)]
pub struct Download {
    /// The URL given by the feed.
    pub url: String,
    /// Headers of every request to that URL (`Authorization`, `Accept`); `Authorization` is
    /// never sent to another origin.
    pub headers: Vec<(String, String)>,
    /// The destination.
    pub path: PathBuf,
    /// The file's name in messages (an asset's name, `release.tgz`).
    pub name: String,
    /// The size the feed announced, if any.
    pub size: Option<u64>,
    /// The checksum the feed announced, if any.
    pub checksum: Option<Checksum>,
    /// Who announced size and checksum, in messages: `the GitHub API`, `bosh.io`.
    pub announced_by: String,
    /// Bytes per range request.
    pub chunk_bytes: u64,
    /// Deadline of one request.
    pub timeout: Duration,
}

/// A verified download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Size and digests of the file.
    pub digests: Digests,
    /// The URL that served the bytes (after redirects), without its query (a signed
    /// download URL's query holds short-lived credentials: never logged).
    pub served_by: String,
    /// Requests made.
    pub requests: u32,
}

impl Download {
    /// A download of `url` to `path`, named `name` in messages, with the default chunk and
    /// timeout, nothing announced.
    pub fn new(url: impl Into<String>, path: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            path: path.into(),
            name: name.into(),
            size: None,
            checksum: None,
            announced_by: "the feed".to_string(),
            chunk_bytes: CHUNK_BYTES,
            timeout: CHUNK_TIMEOUT,
        }
    }

    /// With one more header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// With the size and checksum `announced_by` announced.
    #[must_use]
    pub fn expect(
        mut self,
        size: Option<u64>,
        checksum: Option<Checksum>,
        announced_by: impl Into<String>,
    ) -> Self {
        self.size = size;
        self.checksum = checksum;
        self.announced_by = announced_by.into();
        self
    }

    /// Downloads, verifies and renames the file into place; on failure nothing is left.
    pub fn run(&self, transport: &mut impl Transport) -> Result<Downloaded, Error> {
        let file_name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download");
        let partial = self
            .path
            .with_file_name(format!("{PARTIAL_PREFIX}{file_name}"));
        lockgate_sdk::info!(
            "downloading {} from {}{}",
            self.name,
            self.url,
            self.size
                .map(|s| format!(" ({s} bytes)"))
                .unwrap_or_default()
        );
        match self.fetch(transport, &partial) {
            Ok(done) => {
                fs::rename(&partial, &self.path).with_path(&self.path)?;
                lockgate_sdk::info!(
                    "downloaded {}: {} bytes in {} request(s), sha256 {}{}",
                    self.name,
                    done.digests.size,
                    done.requests,
                    done.digests.sha256,
                    match &self.checksum {
                        Some(c) => format!(", {} verified", c.algorithm),
                        None => String::new(),
                    }
                );
                Ok(done)
            }
            Err(e) => {
                let _ = fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    fn fetch(&self, transport: &mut impl Transport, partial: &Path) -> Result<Downloaded, Error> {
        let origin = Url::parse(&self.url).map_err(Error::from)?;
        let mut file = File::create(partial).with_path(partial)?;
        let mut hasher = Hasher::new();
        // Where ranges are asked: the URL given, then the one that answered.
        let mut target = self.url.clone();
        let mut headers = self.headers.clone();
        let mut total = self.size;
        let mut requests = 0u32;
        let mut refreshed = false;
        let mut served_by = self.url.clone();
        loop {
            let offset = hasher.size();
            // Done when the whole announced length arrived (an empty file is still asked
            // for once: the server says whether it is empty).
            if requests > 0 && total.is_some_and(|t| offset >= t) {
                break;
            }
            let mut get = Get {
                url: target.clone(),
                headers: headers.clone(),
                timeout: self.timeout,
                // Streamed to the file: bounded by the size announced (the sink refuses
                // more), else by the invocation's disk limit.
                max_response_bytes: u64::MAX,
            };
            let wanted = match total {
                Some(0) => None,
                Some(t) => Some((offset, (offset + self.chunk_bytes).min(t) - 1)),
                None => Some((offset, offset + self.chunk_bytes - 1)),
            };
            if let Some((from, to)) = wanted {
                get = get.header("Range", &format!("bytes={from}-{to}"));
            }
            let mut sink = Sink {
                file: &mut file,
                hasher: &mut hasher,
                written: 0,
                limit: self.size,
                overflow: false,
            };
            let sent = transport.get_to(&get, &mut sink);
            let (written, overflow) = (sink.written, sink.overflow);
            let response = match sent {
                Ok(response) => response,
                Err(_) if overflow => {
                    return Err(self.size_mismatch(self.size.unwrap_or_default(), None, &get.url));
                }
                Err(e) => return Err(e.context(format!("downloading {}", self.name))),
            };
            requests += 1;
            match response.status {
                206 => {
                    let Some((from, to)) = wanted else {
                        return Err(
                            self.protocol(&get, "206 Partial Content to a request without `Range`")
                        );
                    };
                    let range = content_range(&response).ok_or_else(|| {
                        self.protocol(
                            &get,
                            &format!(
                                "206 Partial Content without a valid `Content-Range` (got {:?})",
                                response.header("content-range").unwrap_or("none")
                            ),
                        )
                    })?;
                    let (start, end) = range.span.ok_or_else(|| {
                        self.protocol(&get, "206 Partial Content with `Content-Range: bytes */…`")
                    })?;
                    if start != from || end > to || end < start {
                        return Err(self.protocol(
                            &get,
                            &format!("asked for bytes {from}-{to}, got {start}-{end}"),
                        ));
                    }
                    if written != end - start + 1 {
                        return Err(self.protocol(
                            &get,
                            &format!(
                                "`Content-Range: bytes {start}-{end}` but {written} bytes of body"
                            ),
                        ));
                    }
                    if let Some(length) = range.total {
                        if let Some(expected) = self.size
                            && length != expected
                        {
                            return Err(self.size_mismatch(
                                expected,
                                Some(length),
                                &response.url.to_string(),
                            ));
                        }
                        total = Some(length);
                    }
                    // A later expiry may again go back to the URL given.
                    refreshed = false;
                    served_by = response.url.to_string();
                    if served_by != target {
                        (target, headers) =
                            (served_by.clone(), self.headers_for(&origin, &response.url));
                    }
                    if total.is_none() && written < to - from + 1 {
                        break;
                    }
                }
                200 => {
                    if offset > 0 {
                        return Err(self.protocol(
                            &get,
                            &format!("answered 200 with the whole file to a request for the range from byte {offset}: the server stopped honouring `Range`"),
                        ));
                    }
                    served_by = response.url.to_string();
                    break;
                }
                416 => {
                    // Asked past the end: `Content-Range: bytes */<length>`.
                    let length = content_range(&response).and_then(|r| r.total);
                    if length == Some(offset) {
                        break;
                    }
                    return Err(status_error(&self.what(&get), &response));
                }
                401 | 403 | 404 | 410 if !refreshed && target != self.url => {
                    // A signed download URL that expired: ask the URL given again.
                    lockgate_sdk::info!(
                        "{} answered {} after {offset} bytes; asking {} again",
                        without_query(&target),
                        response.status,
                        self.url
                    );
                    refreshed = true;
                    target = self.url.clone();
                    headers = self.headers.clone();
                }
                _ => {
                    let what = if target == self.url {
                        self.what(&get)
                    } else {
                        format!("{} (reached from {})", self.what(&get), self.url)
                    };
                    return Err(status_error(&what, &response)
                        .context(format!("downloading {}", self.name)));
                }
            }
        }
        file.flush().with_path(partial)?;
        drop(file);
        let served_by = without_query(&served_by).to_string();
        let digests = hasher.finish();
        if let Some(expected) = self.size
            && digests.size != expected
        {
            return Err(Error::failed(format!(
                "{}: {} says {expected} bytes, the download from {served_by} has {}; the file was not kept",
                self.name, self.announced_by, digests.size
            )));
        }
        if let Some(expected) = &self.checksum
            && !digests.matches(expected)
        {
            return Err(Error::failed(format!(
                "{}: {} mismatch: {} says {}, the {} bytes downloaded from {served_by} have {}; the file was not kept",
                self.name,
                expected.algorithm,
                self.announced_by,
                expected.hex,
                digests.size,
                digests.get(expected.algorithm)
            )));
        }
        Ok(Downloaded {
            digests,
            served_by,
            requests,
        })
    }

    /// The headers for `url`: the ones given, without `Authorization` for another origin.
    fn headers_for(&self, origin: &Url, url: &Url) -> Vec<(String, String)> {
        let same = origin.scheme() == url.scheme()
            && origin.port() == url.port()
            && origin.host().eq_ignore_ascii_case(url.host());
        self.headers
            .iter()
            .filter(|(n, _)| same || !n.eq_ignore_ascii_case("authorization"))
            .cloned()
            .collect()
    }

    fn protocol(&self, get: &Get, why: &str) -> Error {
        Error::failed(format!(
            "downloading {}: {}: {why}",
            self.name,
            self.what(get)
        ))
    }

    /// `GET <url>` for messages: the URL given as it is, another (a signed download URL)
    /// without its query.
    fn what(&self, get: &Get) -> String {
        if get.url == self.url {
            get.what()
        } else {
            format!("GET {}", without_query(&get.url))
        }
    }

    fn size_mismatch(&self, expected: u64, got: Option<u64>, url: &str) -> Error {
        Error::failed(format!(
            "{}: {} says {expected} bytes, {} serves {}; the file was not kept",
            self.name,
            self.announced_by,
            without_query(url),
            match got {
                Some(got) => format!("{got} bytes"),
                None => "more".to_string(),
            }
        ))
    }
}

/// Where a range goes: appended to the partial file and hashed, refusing bytes past the
/// size announced.
struct Sink<'a> {
    file: &'a mut File,
    hasher: &'a mut Hasher,
    /// Bytes of this request.
    written: u64,
    /// The size announced.
    limit: Option<u64>,
    /// More than `limit` was offered.
    overflow: bool,
}

impl Write for Sink<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(limit) = self.limit
            && self.hasher.size() + bytes.len() as u64 > limit
        {
            self.overflow = true;
            return Err(io::Error::other(format!(
                "more than the {limit} bytes announced"
            )));
        }
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `url` without its query: what messages show of a download URL, whose query may hold
/// short-lived credentials (a signed URL).
fn without_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// A parsed `Content-Range: bytes <start>-<end>/<total>` (or `bytes */<total>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContentRange {
    span: Option<(u64, u64)>,
    total: Option<u64>,
}

fn content_range(response: &Response) -> Option<ContentRange> {
    parse_content_range(response.header("content-range")?)
}

fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    let span = match span.trim() {
        "*" => None,
        s => {
            let (a, b) = s.split_once('-')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        }
    };
    Some(ContentRange { span, total })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::checksum::Algorithm;
    use crate::transport::testing::response;

    /// A scripted server of `data` at `https://cdn.example/file` (honouring `Range` unless
    /// `ranges` is false), reached from `https://api.example/asset` by a redirect; every
    /// request is recorded as `url|range|authorization`.
    struct Cdn {
        data: Vec<u8>,
        ranges: bool,
        seen: RefCell<Vec<String>>,
        /// Answer 403 to the direct CDN URL this many times (an expired signature).
        expire: RefCell<u32>,
    }

    impl Cdn {
        fn new(data: Vec<u8>) -> Self {
            Self {
                data,
                ranges: true,
                seen: RefCell::new(Vec::new()),
                expire: RefCell::new(0),
            }
        }

        fn answer(&self, g: &Get) -> Result<Response, Error> {
            let range = g.header_value("range").unwrap_or("-").to_string();
            let auth = g.header_value("authorization").unwrap_or("-").to_string();
            self.seen
                .borrow_mut()
                .push(format!("{}|{range}|{auth}", g.url));
            let served = "https://cdn.example/file?sig=1";
            if g.url.starts_with("https://cdn.example") && *self.expire.borrow() > 0 {
                *self.expire.borrow_mut() -= 1;
                return Ok(response(served, 403, &[], "expired"));
            }
            let len = self.data.len() as u64;
            match g.header_value("range").filter(|_| self.ranges) {
                None => Ok(response(served, 200, &[], self.data.clone())),
                Some(r) => {
                    let (a, b) = r.strip_prefix("bytes=").unwrap().split_once('-').unwrap();
                    let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
                    if a >= len {
                        let cr = format!("bytes */{len}");
                        return Ok(response(served, 416, &[("Content-Range", &cr)], ""));
                    }
                    let b = b.min(len - 1);
                    let cr = format!("bytes {a}-{b}/{len}");
                    let body = self.data[a as usize..=b as usize].to_vec();
                    Ok(response(served, 206, &[("Content-Range", &cr)], body))
                }
            }
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn dir(name: &str) -> PathBuf {
        lockgate_sdk::testing::temp_dir(&format!("release-feed-{name}"))
    }

    fn download(dir: &Path, size: Option<u64>, checksum: Option<Checksum>) -> Download {
        let mut d = Download::new("https://api.example/asset", dir.join("app.tgz"), "app.tgz")
            .header("Authorization", "Bearer t")
            .header("Accept", "application/octet-stream")
            .expect(size, checksum, "the API");
        d.chunk_bytes = 1000;
        d
    }

    fn sha256(bytes: &[u8]) -> Checksum {
        Checksum::new(Algorithm::Sha256, &Digests::of(bytes).sha256).unwrap()
    }

    #[test]
    fn ranges_then_the_direct_url_without_authorization() {
        let dir = dir("ranges");
        let bytes = data(2500);
        let cdn = Cdn::new(bytes.clone());
        let d = download(&dir, Some(2500), Some(sha256(&bytes)));
        let done = d.run(&mut |g: &Get| cdn.answer(g)).unwrap();
        assert_eq!(done.requests, 3);
        assert_eq!(done.digests, Digests::of(&bytes));
        assert_eq!(done.served_by, "https://cdn.example/file");
        assert_eq!(fs::read(dir.join("app.tgz")).unwrap(), bytes);
        assert_eq!(
            *cdn.seen.borrow(),
            [
                "https://api.example/asset|bytes=0-999|Bearer t",
                "https://cdn.example/file?sig=1|bytes=1000-1999|-",
                "https://cdn.example/file?sig=1|bytes=2000-2499|-",
            ]
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no partial file left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_an_announced_size_until_the_end() {
        let dir = dir("unknown");
        // An exact multiple of the chunk: the end is known from Content-Range.
        let bytes = data(2000);
        let cdn = Cdn::new(bytes.clone());
        let done = download(&dir, None, None)
            .run(&mut |g: &Get| cdn.answer(g))
            .unwrap();
        assert_eq!((done.requests, done.digests.size), (2, 2000));
        // An empty file: 416 with `bytes */0`.
        let cdn = Cdn::new(Vec::new());
        let done = download(&dir, None, None)
            .run(&mut |g: &Get| cdn.answer(g))
            .unwrap();
        assert_eq!(done.digests, Digests::of(b""));
        // An empty file announced as such: one plain GET.
        let done = download(&dir, Some(0), Some(sha256(b"")))
            .run(&mut |g: &Get| cdn.answer(g))
            .unwrap();
        assert_eq!(done.requests, 1);
        assert_eq!(
            cdn.seen.borrow().last().unwrap(),
            "https://api.example/asset|-|Bearer t"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_server_ignoring_range_sends_it_whole() {
        let dir = dir("whole");
        let bytes = data(2500);
        let mut cdn = Cdn::new(bytes.clone());
        cdn.ranges = false;
        let done = download(&dir, Some(2500), Some(sha256(&bytes)))
            .run(&mut |g: &Get| cdn.answer(g))
            .unwrap();
        assert_eq!(done.requests, 1);
        assert_eq!(fs::read(dir.join("app.tgz")).unwrap(), bytes);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_expired_signature_goes_back_to_the_given_url() {
        let dir = dir("expired");
        let bytes = data(2500);
        let cdn = Cdn::new(bytes.clone());
        let mut answers = 0;
        let done = download(&dir, Some(2500), Some(sha256(&bytes)))
            .run(&mut |g: &Get| {
                answers += 1;
                // The signature expires twice: each time the given URL is asked again.
                if answers == 2 || answers == 4 {
                    *cdn.expire.borrow_mut() = 1;
                }
                cdn.answer(g)
            })
            .unwrap();
        assert_eq!((done.digests.size, done.requests), (2500, 5));
        assert_eq!(
            cdn.seen.borrow()[1..],
            [
                "https://cdn.example/file?sig=1|bytes=1000-1999|-".to_string(),
                "https://api.example/asset|bytes=1000-1999|Bearer t".to_string(),
                "https://cdn.example/file?sig=1|bytes=2000-2499|-".to_string(),
                "https://api.example/asset|bytes=2000-2499|Bearer t".to_string(),
            ]
        );
        assert_eq!(fs::read(dir.join("app.tgz")).unwrap(), bytes);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_wrong_checksum_names_the_file_and_both_sums_and_leaves_nothing() {
        let dir = dir("mismatch");
        let bytes = data(2500);
        let cdn = Cdn::new(bytes.clone());
        let wrong = sha256(b"something else");
        let e = download(&dir, Some(2500), Some(wrong.clone()))
            .run(&mut |g: &Get| cdn.answer(g))
            .unwrap_err();
        let actual = Digests::of(&bytes).sha256;
        assert_eq!(
            e,
            Error::failed(format!(
                "app.tgz: sha256 mismatch: the API says {}, the 2500 bytes downloaded from https://cdn.example/file have {actual}; the file was not kept",
                wrong.hex
            ))
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "nothing partial left"
        );
        // sha1 too.
        let sha1 = Checksum::new(Algorithm::Sha1, &Digests::of(b"x").sha1).unwrap();
        let e = download(&dir, None, Some(sha1))
            .run(&mut |g: &Get| cdn.answer(g))
            .unwrap_err();
        assert!(
            e.message()
                .starts_with("app.tgz: sha1 mismatch: the API says "),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_size_other_than_announced_fails_early() {
        let dir = dir("size");
        let cdn = Cdn::new(data(2500));
        let e = download(&dir, Some(1200), None)
            .run(&mut |g: &Get| cdn.answer(g))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "app.tgz: the API says 1200 bytes, https://cdn.example/file serves 2500 bytes; the file was not kept"
        );
        assert_eq!(cdn.seen.borrow().len(), 1, "stopped at the first range");
        // More than announced, sent whole: refused as it arrives.
        let mut more = Cdn::new(data(2500));
        more.ranges = false;
        let e = download(&dir, Some(1200), None)
            .run(&mut |g: &Get| more.answer(g))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "app.tgz: the API says 1200 bytes, https://api.example/asset serves more; the file was not kept"
        );
        let mut whole = Cdn::new(data(900));
        whole.ranges = false;
        let e = download(&dir, Some(1200), None)
            .run(&mut |g: &Get| whole.answer(g))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "app.tgz: the API says 1200 bytes, the download from https://cdn.example/file has 900; the file was not kept"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn error_statuses_and_broken_ranges() {
        let dir = dir("errors");
        let d = download(&dir, None, None);
        let e = d
            .run(&mut |g: &Get| Ok(response(&g.url, 404, &[], "{\"message\":\"Not Found\"}")))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "downloading app.tgz: GET https://api.example/asset: 404 : \"{\\\"message\\\":\\\"Not Found\\\"}\""
        );
        let e = d
            .run(&mut |g: &Get| {
                Ok(response(
                    &g.url,
                    206,
                    &[("Content-Range", "bytes 5-9/10")],
                    "01234",
                ))
            })
            .unwrap_err();
        assert!(
            e.message().contains("asked for bytes 0-999, got 5-9"),
            "{e}"
        );
        let e = d
            .run(&mut |g: &Get| Ok(response(&g.url, 206, &[], "01234")))
            .unwrap_err();
        assert!(
            e.message().contains("without a valid `Content-Range`"),
            "{e}"
        );
        let e = d
            .run(&mut |_: &Get| {
                Err(Error::failed(
                    "GET https://api.example/asset: connection refused",
                ))
            })
            .unwrap_err();
        assert_eq!(
            e.message(),
            "downloading app.tgz: GET https://api.example/asset: connection refused"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 0-99/1000"),
            Some(ContentRange {
                span: Some((0, 99)),
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes 5-9/*"),
            Some(ContentRange {
                span: Some((5, 9)),
                total: None
            })
        );
        assert_eq!(
            parse_content_range("bytes */42"),
            Some(ContentRange {
                span: None,
                total: Some(42)
            })
        );
        for bad in ["", "items 0-1/2", "bytes 0-x/2", "bytes 0-1"] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
