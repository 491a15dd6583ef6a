//! The S3 API calls the resource type makes: list objects (v2, paged), list object versions,
//! download an object into a file (streamed, size and MD5 checked), upload a file (one PUT,
//! or a multipart upload past [`PART_SIZE`]). URLs are presigned by `rusty-s3`; requests go
//! through `lockgate_sdk::http`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use lockgate_sdk::http::{Request, Response};
use lockgate_sdk::{Error, IoResultExt};
use md5::{Digest, Md5};
use rusty_s3::actions::{
    CompleteMultipartUpload, CreateMultipartUpload, ListObjectsV2, S3Action, UploadPart,
};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use serde::Deserialize;

use super::Source;

/// How long a presigned URL is valid: one request, sent at once.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);
/// Files larger than this go up in parts of this size (S3 allows 5 MiB to 5 GiB per part).
pub(crate) const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Deadline of one request (the invocation's deadline bounds it too).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Largest object a download accepts: what the SDK can count (4 GiB on wasm32); the
/// invocation's disk limit applies on top.
const MAX_OBJECT: u64 = u64::MAX;
/// Largest listing page (XML) accepted.
const MAX_LISTING: u64 = 16 * 1024 * 1024;

/// An object of a listing.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) etag: String,
}

/// An object version of a listing.
#[derive(Debug, Clone)]
pub(crate) struct ObjectVersion {
    pub(crate) key: String,
    pub(crate) version_id: String,
    pub(crate) size: u64,
    pub(crate) etag: String,
}

/// What an upload created.
#[derive(Debug)]
pub(crate) struct Uploaded {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) version_id: Option<String>,
}

/// A bucket and the credentials to reach it.
pub(crate) struct Client {
    bucket: Bucket,
    credentials: Option<Credentials>,
}

impl Client {
    pub(crate) fn new(source: &Source) -> Result<Self, Error> {
        let region = source.region.clone().unwrap_or_else(|| "us-east-1".into());
        let (endpoint, default_path_style) = match &source.endpoint {
            Some(e) => (e.trim_end_matches('/').to_owned(), true),
            None => (format!("https://s3.{region}.amazonaws.com"), false),
        };
        let url = endpoint.parse().map_err(|e| {
            Error::invalid_config(format!("source.endpoint: `{endpoint}` is not a URL: {e}"))
        })?;
        let style = if source.path_style.unwrap_or(default_path_style) {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(url, style, source.bucket.clone(), region).map_err(|e| {
            Error::invalid_config(format!(
                "source: bucket `{}` at `{endpoint}`: {e}",
                source.bucket
            ))
        })?;
        let credentials = match (&source.access_key_id, &source.secret_access_key) {
            (Some(key), Some(secret)) => Some(match &source.session_token {
                Some(token) => Credentials::new_with_token(key, secret, token),
                None => Credentials::new(key, secret),
            }),
            (None, None) => None,
            _ => {
                return Err(Error::invalid_config(
                    "source: give both `access_key_id` and `secret_access_key`, or neither (anonymous)",
                ));
            }
        };
        Ok(Self {
            bucket,
            credentials,
        })
    }

    /// The object's URL, unsigned (for people and metadata).
    pub(crate) fn object_url(&self, key: &str) -> Result<String, Error> {
        self.bucket
            .object_url(key)
            .map(|u| u.to_string())
            .map_err(|e| Error::failed(format!("no URL for key `{key}`: {e}")))
    }

    /// Sends `request`; a non-2xx answer is an error quoting S3's `<Code>` and `<Message>`.
    fn send(&self, what: &str, request: Request) -> Result<Response, Error> {
        let response = request.timeout(REQUEST_TIMEOUT).send()?;
        check(what, response)
    }

    /// Every object whose key starts with `prefix`, following continuation tokens.
    pub(crate) fn list_objects(&self, prefix: &str) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, self.credentials.as_ref());
            if !prefix.is_empty() {
                action.with_prefix(prefix);
            }
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(SIGNED_FOR);
            let response = self.send(
                &format!("listing bucket `{}`", self.bucket.name()),
                Request::get(url.as_str())?.max_response_bytes(MAX_LISTING),
            )?;
            let page = ListObjectsV2::parse_response(&response.body).map_err(|e| {
                Error::failed(format!(
                    "listing bucket `{}`: the answer is not a ListBucketResult: {e}",
                    self.bucket.name()
                ))
            })?;
            out.extend(page.contents.into_iter().map(|c| Object {
                key: c.key,
                size: c.size,
                etag: c.etag.trim_matches('"').to_owned(),
            }));
            match page.next_continuation_token {
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                Some(_) => {
                    return Err(Error::failed(format!(
                        "listing bucket `{}`: the server returned the same continuation token twice",
                        self.bucket.name()
                    )));
                }
                None => return Ok(out),
            }
        }
    }

    /// The versions of `key` (newest first, as S3 lists them), delete markers left out.
    pub(crate) fn list_versions(&self, key: &str) -> Result<Vec<ObjectVersion>, Error> {
        let mut out = Vec::new();
        let mut marker: Option<(String, String)> = None;
        loop {
            // ListObjectVersions is `GET /?versions`: ListObjectsV2's request with another
            // query (rusty-s3 signs the query it is given).
            let mut action = ListObjectsV2::new(&self.bucket, self.credentials.as_ref());
            let query = action.query_mut();
            query.remove("list-type");
            query.insert("versions", "");
            query.insert("prefix", key.to_owned());
            if let Some((k, v)) = &marker {
                query.insert("key-marker", k.clone());
                query.insert("version-id-marker", v.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let response = self.send(
                &format!("listing the versions of `{key}`"),
                Request::get(url.as_str())?.max_response_bytes(MAX_LISTING),
            )?;
            let text = String::from_utf8_lossy(&response.body);
            let page: ListVersionsResult = quick_xml::de::from_str(&text).map_err(|e| {
                Error::failed(format!(
                    "listing the versions of `{key}`: the answer is not a ListVersionsResult: {e}"
                ))
            })?;
            out.extend(
                page.versions
                    .into_iter()
                    .filter(|v| v.key == key)
                    .map(|v| ObjectVersion {
                        key: v.key,
                        version_id: v.version_id,
                        size: v.size,
                        etag: v.etag.trim_matches('"').to_owned(),
                    }),
            );
            if !page.is_truncated {
                return Ok(out);
            }
            let next = (
                page.next_key_marker.unwrap_or_default(),
                page.next_version_id_marker.unwrap_or_default(),
            );
            if next.0.is_empty() || marker.as_ref() == Some(&next) {
                return Err(Error::failed(format!(
                    "listing the versions of `{key}`: a truncated page without a new marker"
                )));
            }
            marker = Some(next);
        }
    }

    /// Streams `object` (of `version_id`, when given) into `path`; checks its size and, for
    /// an object uploaded in one part, the MD5 its ETag is. Nothing is left at `path` when
    /// the download fails.
    pub(crate) fn download(
        &self,
        object: &super::Found,
        version_id: Option<&str>,
        path: &Path,
    ) -> Result<(), Error> {
        let mut action = self
            .bucket
            .get_object(self.credentials.as_ref(), &object.key);
        if let Some(id) = version_id {
            action.query_mut().insert("versionId", id.to_owned());
        }
        let url = action.sign(SIGNED_FOR);
        let tmp = path.with_extension("lockgate-partial");
        let result = (|| {
            let file = File::create(&tmp).with_path(&tmp)?;
            let mut out = Hashing {
                file,
                md5: Md5::new(),
                size: 0,
            };
            let response = Request::get(url.as_str())?
                .timeout(REQUEST_TIMEOUT)
                .max_response_bytes(MAX_OBJECT)
                .send_to(&mut out)?;
            check(&format!("downloading `{}`", object.key), response)?;
            out.file.flush().with_path(&tmp)?;
            if out.size != object.size {
                return Err(Error::failed(format!(
                    "downloading `{}`: received {} bytes, the listing says {}",
                    object.key, out.size, object.size
                )));
            }
            let md5 = hex(&out.md5.finalize());
            if is_single_part_etag(&object.etag) && md5 != object.etag.to_ascii_lowercase() {
                return Err(Error::failed(format!(
                    "downloading `{}`: its MD5 is {md5}, its ETag says {}: the object changed or the transfer is corrupt",
                    object.key, object.etag
                )));
            }
            std::fs::rename(&tmp, path).with_path(path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Uploads `file` as `key`: one PUT up to [`PART_SIZE`], a multipart upload beyond.
    pub(crate) fn upload(
        &self,
        file: &Path,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<Uploaded, Error> {
        let credentials = self.credentials.as_ref().ok_or_else(|| {
            Error::invalid_config(
                "put needs credentials: source.access_key_id and source.secret_access_key",
            )
        })?;
        let size = std::fs::metadata(file).with_path(file)?.len();
        if size <= PART_SIZE {
            let body = std::fs::read(file).with_path(file)?;
            let mut action = self.bucket.put_object(Some(credentials), key);
            if let Some(t) = content_type {
                action.headers_mut().insert("content-type", t.to_owned());
            }
            let url = action.sign(SIGNED_FOR);
            let mut request = Request::put(url.as_str())?.body(body);
            if let Some(t) = content_type {
                request = request.header("Content-Type", t);
            }
            let response = self.send(&format!("uploading `{key}`"), request)?;
            return Ok(Uploaded {
                size,
                etag: header(&response, "etag"),
                version_id: response.header("x-amz-version-id").map(str::to_owned),
            });
        }
        self.upload_parts(file, key, size, content_type, credentials)
    }

    fn upload_parts(
        &self,
        file: &Path,
        key: &str,
        size: u64,
        content_type: Option<&str>,
        credentials: &Credentials,
    ) -> Result<Uploaded, Error> {
        let what = format!("uploading `{key}` in parts");
        let mut create = self.bucket.create_multipart_upload(Some(credentials), key);
        if let Some(t) = content_type {
            create.headers_mut().insert("content-type", t.to_owned());
        }
        let mut request = Request::post(create.sign(SIGNED_FOR).as_str())?;
        if let Some(t) = content_type {
            request = request.header("Content-Type", t);
        }
        let response = self.send(&what, request)?;
        let created = CreateMultipartUpload::parse_response(&response.body)
            .map_err(|e| Error::failed(format!("{what}: no upload id in the answer: {e}")))?;
        let upload_id = created.upload_id();
        let result = (|| {
            let mut reader = File::open(file).with_path(file)?;
            let mut etags = Vec::new();
            let mut part = vec![0; PART_SIZE as usize];
            for number in 1u16.. {
                let n = read_full(&mut reader, &mut part).with_path(file)?;
                if n == 0 {
                    break;
                }
                let action =
                    UploadPart::new(&self.bucket, Some(credentials), key, number, upload_id);
                let response = self.send(
                    &format!("{what} (part {number})"),
                    Request::put(action.sign(SIGNED_FOR).as_str())?.body(part[..n].to_vec()),
                )?;
                etags.push(header(&response, "etag"));
            }
            let complete = CompleteMultipartUpload::new(
                &self.bucket,
                Some(credentials),
                key,
                upload_id,
                etags.iter().map(String::as_str),
            );
            let url = complete.sign(SIGNED_FOR);
            let body = complete.body();
            let response = self.send(&what, Request::post(url.as_str())?.body(body))?;
            // S3 may answer 200 with an <Error> body when completing fails late.
            if String::from_utf8_lossy(&response.body).contains("<Error>") {
                return Err(Error::failed(format!(
                    "{what}: completing failed: {}",
                    s3_error(&response.body)
                )));
            }
            Ok(Uploaded {
                size,
                etag: header(&response, "etag"),
                version_id: response.header("x-amz-version-id").map(str::to_owned),
            })
        })();
        if result.is_err() {
            let abort = self
                .bucket
                .abort_multipart_upload(Some(credentials), key, upload_id);
            if let Ok(request) = Request::delete(abort.sign(SIGNED_FOR).as_str()) {
                let _ = request.send();
            }
        }
        result
    }
}

/// A file writer that also hashes and counts.
struct Hashing {
    file: File,
    md5: Md5,
    size: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.md5.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Reads until `buf` is full or the end; returns how much was read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A response header (quotes of an ETag removed), empty when absent.
fn header(response: &Response, name: &str) -> String {
    response
        .header(name)
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned()
}

/// `response` if it is a success; an error quoting S3's answer otherwise.
fn check(what: &str, response: Response) -> Result<Response, Error> {
    if response.is_success() {
        return Ok(response);
    }
    let why = s3_error(&response.body);
    let hint = match response.status {
        403 => " (check source.access_key_id / secret_access_key and the bucket's policy)",
        404 => " (check source.bucket, the key and source.endpoint / region)",
        301 | 307 => " (the bucket is in another region: set source.region or source.endpoint)",
        _ => "",
    };
    Err(Error::failed(format!(
        "{what}: {} {}: {why}{hint}",
        response.status, response.reason
    )))
}

/// `Code: Message` of an S3 `<Error>` body, or its first 200 characters.
fn s3_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct S3Error {
        code: Option<String>,
        message: Option<String>,
    }
    let text = String::from_utf8_lossy(body);
    match quick_xml::de::from_str::<S3Error>(&text) {
        Ok(S3Error {
            code: Some(code),
            message,
        }) => match message {
            Some(m) => format!("{code}: {m}"),
            None => code,
        },
        _ => {
            let mut t = text.trim().to_owned();
            if t.len() > 200 {
                t.truncate(t.floor_char_boundary(200));
                t.push('…');
            }
            if t.is_empty() {
                "no details".to_owned()
            } else {
                t
            }
        }
    }
}

/// Whether an ETag is the MD5 of the content (one-part upload: 32 hex digits, no `-N`).
fn is_single_part_etag(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `ListVersionsResult` (the parts used).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListVersionsResult {
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_version_id_marker: Option<String>,
    #[serde(rename = "Version", default)]
    versions: Vec<ListedVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedVersion {
    key: String,
    version_id: String,
    #[serde(default)]
    size: u64,
    #[serde(rename = "ETag", default)]
    etag: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_versions_are_read_from_the_xml_s3_returns() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>app.tgz</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>
  <MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
  <NextKeyMarker>app.tgz</NextKeyMarker><NextVersionIdMarker>v1</NextVersionIdMarker>
  <Version><Key>app.tgz</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest>
    <LastModified>2026-01-02T00:00:00.000Z</LastModified><ETag>"abc"</ETag><Size>3</Size></Version>
  <DeleteMarker><Key>app.tgz</Key><VersionId>d1</VersionId><IsLatest>false</IsLatest></DeleteMarker>
  <Version><Key>app.tgz</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>
    <LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"def"</ETag><Size>4</Size></Version>
</ListVersionsResult>"#;
        let page: ListVersionsResult = quick_xml::de::from_str(xml).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_version_id_marker.as_deref(), Some("v1"));
        let ids: Vec<_> = page
            .versions
            .iter()
            .map(|v| v.version_id.as_str())
            .collect();
        assert_eq!(ids, ["v2", "v1"]);
        assert_eq!(page.versions[1].size, 4);
    }

    #[test]
    fn errors_quote_the_code_and_message_of_s3() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            s3_error(body),
            "NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(s3_error(b""), "no details");
        assert!(is_single_part_etag("0123456789abcdef0123456789ABCDEF"));
        assert!(!is_single_part_etag("0123456789abcdef0123456789abcdef-2"));
    }
}
