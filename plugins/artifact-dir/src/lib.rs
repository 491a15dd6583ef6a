//! Resource type `artifact-dir`: versioned files in a directory (component releases, OS
//! images, stemcells), the version being what a capture group of a regexp matches in the
//! file name.
//!
//! See README.md for the configuration. Versions are `{"version": "<capture>", "file":
//! "<file name>"}`, ordered by semver (a natural order when a capture is not semver).

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use lockgate_sdk::ordering::sort_names;
use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, ResourceType, Version, input_file,
    output_path,
};
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Prefix of the temporary files `put` writes before renaming them into place; such files
/// are never versions.
const TMP_PREFIX: &str = ".lockgate-tmp-";

/// Size of the buffer files are streamed through.
const CHUNK: usize = 64 * 1024;

/// The resource type.
pub struct ArtifactDir;

/// `source`: where the files are and how their names carry the version.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Absolute sandbox path of the directory, e.g. `/dirs/releases`.
    dir: String,
    /// Regexp matched against whole file names; its group `version` (or else its first
    /// capture group) is the version, e.g. `app-(.*)\.tgz`.
    regexp: String,
}

/// `put` params.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// `"<input>/<path>"` of the file to publish; the last component may be a glob (`*`,
    /// `?`) that must match exactly one file.
    file: String,
}

/// A validated `source`.
struct Config {
    dir: PathBuf,
    regexp: Regex,
}

/// One file of the directory whose name matches the regexp.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Artifact {
    /// The captured version text.
    version: String,
    /// The file name.
    file: String,
}

impl Artifact {
    fn to_version(&self) -> Version {
        Version::new()
            .with("version", &self.version)
            .with("file", &self.file)
    }
}

impl Source {
    fn validate(&self) -> Result<Config, Error> {
        let dir = PathBuf::from(&self.dir);
        if !dir.is_absolute() {
            return Err(Error::invalid_config(format!(
                "source.dir: `{}` must be an absolute path inside the sandbox, e.g. /dirs/releases",
                self.dir
            )));
        }
        let regexp = Regex::new(&format!("^(?:{})$", self.regexp)).map_err(|e| {
            Error::invalid_config(format!(
                "source.regexp: `{}` is not a valid regexp: {e}",
                self.regexp
            ))
        })?;
        if regexp.captures_len() < 2 {
            return Err(Error::invalid_config(format!(
                "source.regexp: `{}` has no capture group; the captured text is the version, e.g. app-(.*)\\.tgz",
                self.regexp
            )));
        }
        Ok(Config { dir, regexp })
    }
}

impl Config {
    /// The version captured from `file`, if the whole name matches.
    fn capture(&self, file: &str) -> Option<String> {
        if file.starts_with(TMP_PREFIX) {
            return None;
        }
        let caps = self.regexp.captures(file)?;
        let group = caps.name("version").or_else(|| caps.get(1))?;
        Some(group.as_str().to_string())
    }

    /// The matching regular files, oldest version first.
    fn list(&self) -> Result<Vec<Artifact>, Error> {
        let entries = fs::read_dir(&self.dir).map_err(|e| dir_error(&self.dir, e))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.with_path(&self.dir)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(version) = self.capture(&name) else {
                continue;
            };
            if entry.file_type().with_path(entry.path())?.is_file() {
                found.push(Artifact {
                    version,
                    file: name,
                });
            }
        }
        if let Some(odd) = sort(&mut found) {
            lockgate_sdk::debug!(
                "version `{odd}` is not semver: ordering every file by natural order"
            );
        }
        Ok(found)
    }
}

/// A clear error for a directory that cannot be read, pointing at a missing grant.
fn dir_error(dir: &Path, e: std::io::Error) -> Error {
    if e.kind() == ErrorKind::NotFound {
        Error::failed(format!(
            "source.dir: {} does not exist; is the directory granted to this resource (`/dirs/<name>` needs a `dirs` grant)?",
            dir.display()
        ))
    } else {
        Error::io(dir, e)
    }
}

/// Orders artifacts oldest first (semver, else natural order; ties by file name). Returns the
/// first capture that is not semver, if any.
fn sort(artifacts: &mut [Artifact]) -> Option<String> {
    sort_names(artifacts, |a| &a.version, |a| &a.file)
}

/// Finds the artifact a version designates: by `file` when present, else by `version`.
fn find<'a>(artifacts: &'a [Artifact], version: &Version) -> Option<&'a Artifact> {
    match (version.get("file"), version.get("version")) {
        (Some(file), v) => artifacts
            .iter()
            .find(|a| a.file == file && v.is_none_or(|v| v == a.version)),
        (None, Some(v)) => artifacts.iter().rev().find(|a| a.version == v),
        (None, None) => None,
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams `from` into `to` (when given), returning the sha256 and the size.
fn stream(from: &Path, mut to: Option<&mut File>, to_path: &Path) -> Result<(String, u64), Error> {
    let mut input = File::open(from).with_path(from)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(from, e)),
        };
        hasher.update(&buf[..n]);
        if let Some(out) = to.as_deref_mut() {
            out.write_all(&buf[..n]).with_path(to_path)?;
        }
        size += n as u64;
    }
    if let Some(out) = to {
        out.flush().with_path(to_path)?;
    }
    Ok((hex(&hasher.finalize()), size))
}

/// The sha256 and size of a file.
fn digest(path: &Path) -> Result<(String, u64), Error> {
    stream(path, None, path)
}

/// Copies `from` to `to` (created or truncated), returning the sha256 and the size.
fn copy(from: &Path, to: &Path) -> Result<(String, u64), Error> {
    let mut out = File::create(to).with_path(to)?;
    stream(from, Some(&mut out), to)
}

/// Resolves `params.file`: a path under `/inputs`, the last component possibly a glob.
fn resolve_input(reference: &str) -> Result<PathBuf, Error> {
    let path = input_file(reference).map_err(|e| e.context("params.file"))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    if !name.contains(['*', '?']) {
        return match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(path),
            Ok(_) => Err(Error::invalid_config(format!(
                "params.file: {} is not a file",
                path.display()
            ))),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::not_found(format!(
                "params.file: {} does not exist",
                path.display()
            ))),
            Err(e) => Err(Error::io(&path, e)),
        };
    }
    let parent = path.parent().unwrap_or(Path::new("/inputs"));
    let entries = fs::read_dir(parent).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            Error::not_found(format!("params.file: {} does not exist", parent.display()))
        } else {
            Error::io(parent, e)
        }
    })?;
    let mut matches = Vec::new();
    for entry in entries {
        let entry = entry.with_path(parent)?;
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        if glob_match(&name, &file) && entry.file_type().with_path(entry.path())?.is_file() {
            matches.push(file);
        }
    }
    matches.sort();
    match matches.len() {
        1 => Ok(parent.join(&matches[0])),
        0 => Err(Error::not_found(format!(
            "params.file: no file of {} matches `{name}`",
            parent.display()
        ))),
        _ => Err(Error::invalid_config(format!(
            "params.file: `{name}` matches {} files in {} ({}); it must match exactly one",
            matches.len(),
            parent.display(),
            matches.join(", ")
        ))),
    }
}

/// Shell-style match of one file name: `*` any run of characters (`**` is the same), `?` one
/// character; everything else, `[` and `]` included, matches itself.
fn glob_match(pattern: &str, name: &str) -> bool {
    let mut escaped = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '*' if escaped.ends_with('*') => {}
            '[' => escaped.push_str("[[]"),
            ']' => escaped.push_str("[]]"),
            c => escaped.push(c),
        }
    }
    // Escaped, without `**` and applied to a name without `/`, no pattern is invalid.
    glob::Pattern::new(&escaped).is_ok_and(|p| {
        p.matches_with(
            name,
            glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: false,
                require_literal_leading_dot: false,
            },
        )
    })
}

fn fetched(artifact: &Artifact, sha256: &str, size: u64) -> Fetched {
    Fetched::new(artifact.to_version())
        .with_metadata("file", &artifact.file)
        .with_metadata("sha256", sha256)
        .with_metadata("size", size)
}

impl ResourceType for ArtifactDir {
    type Source = Source;
    type GetParams = NoParams;
    type PutParams = PutParams;

    fn describe() -> Description {
        Description::new("artifact-dir", env!("CARGO_PKG_VERSION"))
            .summary("Versioned files in a directory, the version captured from the file name by a regexp")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "dir": {
                        "type": "string",
                        "pattern": "^/",
                        "description": "Absolute sandbox path of the directory, e.g. /dirs/releases"
                    },
                    "regexp": {
                        "type": "string",
                        "description": "Regexp matched against whole file names; its group `version` (else its first group) is the version, e.g. app-(.*)\\.tgz"
                    }
                },
                "required": ["dir", "regexp"],
                "additionalProperties": false
            }))
            .get_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "get takes no params.",
                "type": "object",
                "additionalProperties": false
            }))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "file": {
                        "type": "string",
                        "description": "<input>/<path> of the file to publish; the last component may be a glob (*, ?) matching exactly one file"
                    }
                },
                "required": ["file"],
                "additionalProperties": false
            }))
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let config = source.validate()?;
        let artifacts = config.list()?;
        let start = from
            .as_ref()
            .and_then(|f| find(&artifacts, f))
            .and_then(|a| artifacts.iter().position(|b| b == a));
        let slice = match start {
            Some(i) => &artifacts[i..],
            None => &artifacts[artifacts.len().saturating_sub(1)..],
        };
        Ok(slice.iter().map(Artifact::to_version).collect())
    }

    fn get(source: Source, version: Version, _: NoParams) -> Result<Fetched, Error> {
        let config = source.validate()?;
        let artifacts = config.list()?;
        let artifact = find(&artifacts, &version).ok_or_else(|| {
            Error::not_found(format!(
                "version {version} is not in {} (no file matching the regexp has it)",
                config.dir.display()
            ))
        })?;
        let from = config.dir.join(&artifact.file);
        let to = output_path(&artifact.file);
        let (sha256, size) = copy(&from, &to)?;
        let version_file = output_path("version");
        fs::write(&version_file, &artifact.version).with_path(&version_file)?;
        lockgate_sdk::info!("fetched {} ({size} bytes, sha256 {sha256})", artifact.file);
        Ok(fetched(artifact, &sha256, size))
    }

    fn put(source: Source, params: PutParams) -> Result<Fetched, Error> {
        let config = source.validate()?;
        let input = resolve_input(&params.file)?;
        let name = input
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let version = config.capture(&name).ok_or_else(|| {
            Error::invalid_config(format!(
                "params.file: the file name `{name}` does not match source.regexp `{}`",
                source.regexp
            ))
        })?;
        let artifact = Artifact {
            version,
            file: name.clone(),
        };
        // Fail early, with the grant hint, when the directory is missing.
        fs::read_dir(&config.dir).map_err(|e| dir_error(&config.dir, e))?;
        let target = config.dir.join(&name);
        if target.exists() {
            let (existing, size) = digest(&target)?;
            let (new, _) = digest(&input)?;
            if existing != new {
                return Err(Error::failed(format!(
                    "refusing to overwrite {}: version {} already exists with different content (sha256 {existing}, the new file has {new})",
                    target.display(),
                    artifact.version
                )));
            }
            lockgate_sdk::info!(
                "{} already holds these bytes; nothing to do",
                target.display()
            );
            return Ok(fetched(&artifact, &existing, size));
        }
        let tmp = config.dir.join(format!("{TMP_PREFIX}{name}"));
        let copied = copy(&input, &tmp).and_then(|r| {
            fs::rename(&tmp, &target).with_path(&target)?;
            Ok(r)
        });
        let (sha256, size) = match copied {
            Ok(r) => r,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        lockgate_sdk::info!("published {} ({size} bytes)", target.display());
        Ok(fetched(&artifact, &sha256, size))
    }
}

lockgate_sdk::export_resource_type!(ArtifactDir);

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, regexp: &str) -> Source {
        Source {
            dir: dir.to_str().unwrap().to_string(),
            regexp: regexp.to_string(),
        }
    }

    fn artifacts(versions: &[&str]) -> Vec<Artifact> {
        versions
            .iter()
            .map(|v| Artifact {
                version: v.to_string(),
                file: format!("app-{v}.tgz"),
            })
            .collect()
    }

    fn sorted(versions: &[&str]) -> Vec<String> {
        let mut list = artifacts(versions);
        sort(&mut list);
        list.into_iter().map(|a| a.version).collect()
    }

    fn temp_dir(name: &str) -> PathBuf {
        lockgate_sdk::testing::temp_dir(&format!("artifact-dir-{name}"))
    }

    #[test]
    fn semver_then_natural_order() {
        assert_eq!(
            sorted(&["1.10.0", "1.2", "v1.9.1", "1.2.1"]),
            ["1.2", "1.2.1", "v1.9.1", "1.10.0"]
        );
        assert_eq!(
            sorted(&["build-10", "build-9", "build-100"]),
            ["build-9", "build-10", "build-100"]
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("app-*.tgz", "app-1.2.3.tgz"));
        assert!(glob_match("*", "x"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("app-*.tgz", "app-1.2.3.zip"));
        assert!(glob_match("*-*-*", "a-b-c-d"));
        assert!(glob_match("app-**.tgz", "app-1.tgz"));
        assert!(glob_match("*", ".hidden"));
        assert!(glob_match("a[1]-*", "a[1]-x"));
        assert!(!glob_match("a[1]-*", "a1-x"));
        assert!(!glob_match("App-*", "app-1"));
    }

    #[test]
    fn source_validation_names_fields() {
        let bad = |s: Source| match s.validate() {
            Err(Error::InvalidConfig(m)) => m,
            _ => panic!("expected invalid-config"),
        };
        assert!(bad(source(Path::new("rel"), "a-(.*)")).starts_with("source.dir"));
        assert!(bad(source(Path::new("/d"), "a-(")).starts_with("source.regexp"));
        assert!(bad(source(Path::new("/d"), "a-.*")).contains("no capture group"));
    }

    #[test]
    fn check_follows_from_and_skips_other_files() {
        let dir = temp_dir("check");
        for f in [
            "app-1.0.0.tgz",
            "app-1.10.0.tgz",
            "app-1.2.0.tgz",
            "other.txt",
            ".lockgate-tmp-app-9.0.0.tgz",
        ] {
            fs::write(dir.join(f), f).unwrap();
        }
        fs::create_dir(dir.join("app-5.0.0.tgz")).unwrap();
        let check = |from: Option<Version>| -> Vec<String> {
            ArtifactDir::check(source(&dir, r"app-(.*)\.tgz"), from)
                .unwrap()
                .into_iter()
                .map(|v| v.get("version").unwrap().to_string())
                .collect()
        };
        assert_eq!(check(None), ["1.10.0"]);
        let from = Version::new()
            .with("version", "1.2.0")
            .with("file", "app-1.2.0.tgz");
        assert_eq!(check(Some(from)), ["1.2.0", "1.10.0"]);
        let gone = Version::new()
            .with("version", "0.1.0")
            .with("file", "app-0.1.0.tgz");
        assert_eq!(check(Some(gone)), ["1.10.0"]);
        assert_eq!(
            check(Some(Version::new().with("version", "1.0.0"))),
            ["1.0.0", "1.2.0", "1.10.0"]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn named_group_is_the_version() {
        let config = source(Path::new("/d"), r"(os|app)-(?P<version>[0-9.]+)\.img")
            .validate()
            .unwrap();
        assert_eq!(config.capture("os-621.5.img").as_deref(), Some("621.5"));
        assert_eq!(config.capture("xos-621.5.img"), None);
    }

    #[test]
    fn streaming_copy_hashes() {
        let dir = temp_dir("copy");
        let data: Vec<u8> = (0..(CHUNK * 3 + 17)).map(|i| (i % 251) as u8).collect();
        fs::write(dir.join("a"), &data).unwrap();
        let (sha, size) = copy(&dir.join("a"), &dir.join("b")).unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(sha, hex(&Sha256::digest(&data)));
        assert_eq!(fs::read(dir.join("b")).unwrap(), data);
        assert_eq!(digest(&dir.join("b")).unwrap().0, sha);
        fs::write(dir.join("empty"), "").unwrap();
        assert_eq!(
            digest(&dir.join("empty")).unwrap(),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string(),
                0
            )
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_dir_hints_at_the_grant() {
        let err =
            ArtifactDir::check(source(Path::new("/dirs/nope-xyz"), "a-(.*)"), None).unwrap_err();
        assert!(
            matches!(&err, Error::Failed(m) if m.contains("/dirs/nope-xyz") && m.contains("granted")),
            "{err:?}"
        );
    }
}
