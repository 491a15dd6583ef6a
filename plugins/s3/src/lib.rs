//! Resource type `s3`: objects of an S3-compatible bucket (AWS S3, MinIO, Ceph, moto, …).
//!
//! Two ways to version, as Concourse's s3 resource: by a **regexp** over object keys, the
//! version being what its group `version` (else its first group) captures, ordered by semver
//! (natural order otherwise); or by the **object versions** of one key of a versioned bucket
//! (`versioned_file`). Requests are presigned with SigV4 by `rusty-s3` and sent through the
//! SDK's `wasi:http` client (HTTPS, grants, deadlines); downloads stream into `/output`, and an
//! upload larger than a part goes up in parts, so no object is held whole in memory. See
//! README.md.

mod api;

use std::fs;
use std::path::PathBuf;

use lockgate_sdk::ordering::sort_names;
use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, ResourceType, Version, input_file, output_path,
};
use regex::Regex;
use serde::Deserialize;

use api::{Client, Object};

/// The resource type.
pub struct S3;

/// `source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The bucket.
    bucket: String,
    /// Regexp matched against whole keys; its group `version` (else its first group) is the
    /// version, e.g. `releases/app-(.*)\.tgz`.
    #[serde(default)]
    regexp: Option<String>,
    /// The key whose object versions are the versions (a versioned bucket).
    #[serde(default)]
    versioned_file: Option<String>,
    /// The endpoint, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`;
    /// default `https://s3.<region>.amazonaws.com`.
    #[serde(default)]
    endpoint: Option<String>,
    /// The region (default `us-east-1`).
    #[serde(default)]
    region: Option<String>,
    /// Access key id; without it, requests are anonymous.
    #[serde(default)]
    access_key_id: Option<String>,
    /// Secret access key.
    #[serde(default)]
    secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    #[serde(default)]
    session_token: Option<String>,
    /// Address buckets in the path (`endpoint/bucket/key`) rather than the host name (default:
    /// `true` with an `endpoint`, `false` for AWS).
    #[serde(default)]
    path_style: Option<bool>,
}

/// `get` params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// Skip the download; write only `url`, `version` and `key`.
    #[serde(default)]
    skip_download: bool,
}

/// `put` params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// `"<input>/<path>"` of the file to upload; the last component may be a glob that
    /// matches exactly one file.
    file: String,
    /// `Content-Type` of the object.
    #[serde(default)]
    content_type: Option<String>,
}

/// How versions are found.
enum Mode {
    Regexp { regexp: Regex, prefix: String },
    VersionedFile(String),
}

/// One version: an object (regexp) or an object version (versioned file).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    key: String,
    /// The captured version (regexp) or the object version id.
    version: String,
    size: u64,
    etag: String,
}

impl Source {
    fn mode(&self) -> Result<Mode, Error> {
        match (&self.regexp, &self.versioned_file) {
            (Some(re), None) => {
                let regexp = Regex::new(&format!("^(?:{re})$")).map_err(|e| {
                    Error::invalid_config(format!(
                        "source.regexp: `{re}` is not a valid regexp: {e}"
                    ))
                })?;
                if regexp.captures_len() < 2 {
                    return Err(Error::invalid_config(format!(
                        "source.regexp: `{re}` has no capture group; the captured text is the version, e.g. releases/app-(.*)\\.tgz"
                    )));
                }
                Ok(Mode::Regexp {
                    prefix: literal_prefix(re),
                    regexp,
                })
            }
            (None, Some(key)) if !key.is_empty() => Ok(Mode::VersionedFile(key.clone())),
            (None, Some(_)) => Err(Error::invalid_config("source.versioned_file is empty")),
            (Some(_), Some(_)) => Err(Error::invalid_config(
                "source: give either `regexp` or `versioned_file`, not both",
            )),
            (None, None) => Err(Error::invalid_config(
                "source: give `regexp` (versions in the keys) or `versioned_file` (the object versions of one key)",
            )),
        }
    }
}

/// The longest literal start of `re`: the key prefix every match has, for listing less.
fn literal_prefix(re: &str) -> String {
    let mut out = String::new();
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        let literal = match c {
            '\\' => match chars.next() {
                Some(n) if n.is_ascii_punctuation() => n,
                _ => break,
            },
            // A quantifier that allows none makes the character before it uncertain.
            '*' | '?' | '{' => {
                out.pop();
                break;
            }
            '.' | '+' | '(' | ')' | '[' | ']' | '|' | '^' | '$' => break,
            c => c,
        };
        out.push(literal);
    }
    out
}

impl Found {
    fn to_version(&self, mode: &Mode) -> Version {
        match mode {
            Mode::Regexp { .. } => Version::new()
                .with("version", &self.version)
                .with("path", &self.key),
            Mode::VersionedFile(_) => Version::new().with("version_id", &self.version),
        }
    }

    fn fetched(&self, mode: &Mode, url: &str) -> Fetched {
        Fetched::new(self.to_version(mode))
            .with_metadata("key", &self.key)
            .with_metadata("size", self.size)
            .with_metadata("etag", &self.etag)
            .with_metadata("url", url)
    }
}

/// Every version, oldest first.
fn list(client: &Client, mode: &Mode) -> Result<Vec<Found>, Error> {
    match mode {
        Mode::Regexp { regexp, prefix } => {
            let mut found: Vec<Found> = client
                .list_objects(prefix)?
                .into_iter()
                .filter_map(|o: Object| {
                    let caps = regexp.captures(&o.key)?;
                    let version = caps.name("version").or_else(|| caps.get(1))?.as_str();
                    Some(Found {
                        version: version.to_owned(),
                        key: o.key,
                        size: o.size,
                        etag: o.etag,
                    })
                })
                .collect();
            if let Some(odd) = sort_names(&mut found, |f| &f.version, |f| &f.key) {
                lockgate_sdk::debug!(
                    "version `{odd}` is not semver: ordering every object by natural order"
                );
            }
            Ok(found)
        }
        Mode::VersionedFile(key) => {
            // The API lists newest first.
            let mut versions = client.list_versions(key)?;
            versions.reverse();
            Ok(versions
                .into_iter()
                .map(|v| Found {
                    key: v.key,
                    version: v.version_id,
                    size: v.size,
                    etag: v.etag,
                })
                .collect())
        }
    }
}

/// The version `version` designates among `found`.
fn find<'a>(found: &'a [Found], version: &Version, mode: &Mode) -> Option<&'a Found> {
    match mode {
        Mode::Regexp { .. } => match (version.get("path"), version.get("version")) {
            (Some(path), _) => found.iter().find(|f| f.key == path),
            (None, Some(v)) => found.iter().rev().find(|f| f.version == v),
            (None, None) => None,
        },
        Mode::VersionedFile(_) => {
            let id = version.get("version_id")?;
            found.iter().find(|f| f.version == id)
        }
    }
}

/// The file `params.file` designates (a glob in its last component must match one file).
fn upload_source(reference: &str) -> Result<PathBuf, Error> {
    let path = input_file(reference)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    if !name.contains(['*', '?', '[']) {
        return Ok(path);
    }
    let pattern = glob::Pattern::new(&name)
        .map_err(|e| Error::invalid_config(format!("params.file: `{reference}`: {e}")))?;
    // The directory is listed, not walked from `/`: only the inputs are mounted.
    let dir = path.parent().unwrap_or(&path).to_path_buf();
    let mut matches = Vec::new();
    for entry in fs::read_dir(&dir).with_path(&dir)? {
        let entry = entry.with_path(&dir)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if pattern.matches(&file_name) && entry.file_type().with_path(entry.path())?.is_file() {
            matches.push(entry.path());
        }
    }
    matches.sort();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::not_found(format!(
            "params.file: no file matches `{reference}` (is the input named in the put's `inputs`?)"
        ))),
        many => Err(Error::invalid_config(format!(
            "params.file: `{reference}` matches {} files ({}); it must match exactly one",
            many.len(),
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

impl ResourceType for S3 {
    type Source = Source;
    type GetParams = GetParams;
    type PutParams = PutParams;

    fn describe() -> Description {
        let schema = "https://json-schema.org/draft/2020-12/schema";
        Description::new("s3", env!("CARGO_PKG_VERSION"))
            .summary("Objects of an S3-compatible bucket, versioned by a regexp over their keys or by object versions")
            .network("*", 0, "the endpoint of source.endpoint (default s3.<region>.amazonaws.com:443)")
            .source_schema(json!({
                "$schema": schema,
                "type": "object",
                "properties": {
                    "bucket": {"type": "string", "minLength": 1, "description": "The bucket"},
                    "regexp": {"type": "string", "description": "Regexp over whole keys; its group `version` (else its first group) is the version, e.g. releases/app-(.*)\\.tgz"},
                    "versioned_file": {"type": "string", "minLength": 1, "description": "A key whose object versions are the versions (a versioned bucket)"},
                    "endpoint": {"type": "string", "pattern": "^https?://", "description": "e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000; default https://s3.<region>.amazonaws.com"},
                    "region": {"type": "string", "description": "Default us-east-1"},
                    "access_key_id": {"type": "string"},
                    "secret_access_key": {"type": "string"},
                    "session_token": {"type": "string"},
                    "path_style": {"type": "boolean", "description": "endpoint/bucket/key (default with an endpoint) rather than bucket.endpoint/key"}
                },
                "required": ["bucket"],
                "oneOf": [{"required": ["regexp"]}, {"required": ["versioned_file"]}],
                "dependentRequired": {
                    "access_key_id": ["secret_access_key"],
                    "secret_access_key": ["access_key_id"],
                    "session_token": ["access_key_id", "secret_access_key"]
                },
                "additionalProperties": false
            }))
            .get_params_schema(json!({
                "$schema": schema,
                "type": "object",
                "properties": {
                    "skip_download": {"type": "boolean", "description": "Write only url, version and key"}
                },
                "additionalProperties": false
            }))
            .put_params_schema(json!({
                "$schema": schema,
                "type": "object",
                "properties": {
                    "file": {"type": "string", "description": "<input>/<path> of the file to upload; the last component may be a glob matching one file"},
                    "content_type": {"type": "string"}
                },
                "required": ["file"],
                "additionalProperties": false
            }))
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let mode = source.mode()?;
        let client = Client::new(&source)?;
        let found = list(&client, &mode)?;
        let start = from
            .as_ref()
            .and_then(|f| find(&found, f, &mode))
            .and_then(|f| found.iter().position(|g| g == f));
        let slice = match start {
            Some(i) => &found[i..],
            None => &found[found.len().saturating_sub(1)..],
        };
        Ok(slice.iter().map(|f| f.to_version(&mode)).collect())
    }

    fn get(source: Source, version: Version, params: GetParams) -> Result<Fetched, Error> {
        let mode = source.mode()?;
        let client = Client::new(&source)?;
        let found = list(&client, &mode)?;
        let object = find(&found, &version, &mode).ok_or_else(|| {
            Error::not_found(format!(
                "version {version} is not in bucket `{}` (deleted, or not matching the source any more)",
                source.bucket
            ))
        })?;
        let version_id = match mode {
            Mode::VersionedFile(_) => Some(object.version.as_str()),
            Mode::Regexp { .. } => None,
        };
        let url = client.object_url(&object.key)?;
        let write = |name: &str, text: &str| -> Result<(), Error> {
            let path = output_path(name);
            fs::write(&path, text).with_path(&path)
        };
        write("url", &url)?;
        write("version", &object.version)?;
        write("key", &object.key)?;
        if !params.skip_download {
            let name = object.key.rsplit('/').next().unwrap_or(&object.key);
            if name.is_empty() || name == "url" || name == "version" || name == "key" {
                return Err(Error::failed(format!(
                    "the object `{}` would be written as `{name}`, which get writes itself",
                    object.key
                )));
            }
            client.download(object, version_id, &output_path(name))?;
        }
        Ok(object.fetched(&mode, &url))
    }

    fn put(source: Source, params: PutParams) -> Result<Fetched, Error> {
        let mode = source.mode()?;
        let client = Client::new(&source)?;
        let file = upload_source(&params.file)?;
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let key = match &mode {
            Mode::Regexp { regexp, prefix } => {
                // The file goes where the regexp's literal directory says.
                let dir = prefix.rfind('/').map_or("", |i| &prefix[..=i]);
                let key = format!("{dir}{name}");
                if !regexp.is_match(&key) {
                    return Err(Error::invalid_config(format!(
                        "params.file: the key `{key}` (the file `{name}` under `{dir}`) does not match source.regexp `{}`",
                        source.regexp.as_deref().unwrap_or_default()
                    )));
                }
                key
            }
            Mode::VersionedFile(key) => key.clone(),
        };
        let uploaded = client.upload(&file, &key, params.content_type.as_deref())?;
        let found = match &mode {
            Mode::Regexp { regexp, .. } => {
                let caps = regexp.captures(&key).expect("checked above");
                let version = caps.name("version").or_else(|| caps.get(1));
                Found {
                    version: version.map_or("", |m| m.as_str()).to_owned(),
                    key: key.clone(),
                    size: uploaded.size,
                    etag: uploaded.etag,
                }
            }
            Mode::VersionedFile(_) => Found {
                version: uploaded.version_id.ok_or_else(|| {
                    Error::failed(format!(
                        "bucket `{}` returned no version id for `{key}`: is versioning enabled on the bucket?",
                        source.bucket
                    ))
                })?,
                key: key.clone(),
                size: uploaded.size,
                etag: uploaded.etag,
            },
        };
        let url = client.object_url(&key)?;
        lockgate_sdk::info!(
            "uploaded {} to {url} ({} bytes)",
            file.display(),
            found.size
        );
        Ok(found.fetched(&mode, &url))
    }
}

lockgate_sdk::export_resource_type!(S3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_literal_prefix_of_a_regexp_narrows_the_listing() {
        assert_eq!(literal_prefix(r"releases/app-(.*)\.tgz"), "releases/app-");
        assert_eq!(literal_prefix(r"releases/app-v?(\d+)"), "releases/app-");
        assert_eq!(literal_prefix(r"a\.b/c-(.*)"), "a.b/c-");
        assert_eq!(literal_prefix(r"(.*)"), "");
        assert_eq!(literal_prefix(r"x\d"), "x");
        assert_eq!(literal_prefix(r"ab{2}"), "a");
    }

    #[test]
    fn source_needs_one_way_to_version() {
        let source = |v: lockgate_sdk::serde_json::Value| -> Source {
            lockgate_sdk::serde_json::from_value(v).unwrap()
        };
        let err = |s: Source| s.mode().err().unwrap().message().to_owned();
        assert!(err(source(json!({"bucket": "b"}))).contains("give `regexp`"));
        assert!(
            err(source(
                json!({"bucket": "b", "regexp": "a-(.*)", "versioned_file": "k"})
            ))
            .contains("not both")
        );
        assert!(err(source(json!({"bucket": "b", "regexp": "a-.*"}))).contains("no capture group"));
        assert!(
            err(source(json!({"bucket": "b", "regexp": "a-(["}))).contains("not a valid regexp")
        );
        assert!(matches!(
            source(json!({"bucket": "b", "versioned_file": "k"})).mode(),
            Ok(Mode::VersionedFile(k)) if k == "k"
        ));
    }

    #[test]
    fn versions_designate_objects_by_path_or_version() {
        let mode = Source {
            bucket: "b".into(),
            regexp: Some(r"r/app-(.*)\.tgz".into()),
            versioned_file: None,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            path_style: None,
        }
        .mode()
        .unwrap();
        let found: Vec<Found> = ["1.0.0", "1.1.0"]
            .iter()
            .map(|v| Found {
                key: format!("r/app-{v}.tgz"),
                version: (*v).to_owned(),
                size: 1,
                etag: String::new(),
            })
            .collect();
        let by_path = Version::new().with("path", "r/app-1.0.0.tgz");
        assert_eq!(find(&found, &by_path, &mode), Some(&found[0]));
        let by_version = Version::new().with("version", "1.1.0");
        assert_eq!(find(&found, &by_version, &mode), Some(&found[1]));
        assert_eq!(
            found[1].to_version(&mode),
            Version::new()
                .with("version", "1.1.0")
                .with("path", "r/app-1.1.0.tgz")
        );
    }
}
