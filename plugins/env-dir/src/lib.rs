//! Resource type `env-dir`: a directory-backed deployment target.
//!
//! `put` deploys a manifest and the resolved versions of its components into
//! `<dir>/releases/<n>/` and switches `<dir>/current` atomically, keeping previous releases
//! for rollback; `check` reports what is deployed; `get` fetches a deployed release. See
//! README.md for the layout. Versions are `{"release": "<n>", "digest": "<sha256 of the
//! manifest>"}`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use lockgate_sdk::serde_json::{self, json};
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, ResourceType, Version, input_file,
    output_path,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// File of a release holding the deployed manifest (YAML or JSON, as given).
pub const MANIFEST_FILE: &str = "manifest.yml";
/// File of a release holding the resolved versions, a JSON object `{"<name>": "<version>"}`.
pub const VERSIONS_FILE: &str = "versions.json";
/// File of the environment directory holding the number of the deployed release.
pub const CURRENT_FILE: &str = "current";
/// Directory of the environment directory holding one directory per release.
pub const RELEASES_DIR: &str = "releases";

/// Prefix of the directories and files `put` writes before renaming them into place.
const TMP_PREFIX: &str = ".lockgate-tmp-";
/// Size of the buffer files are streamed through.
const CHUNK: usize = 64 * 1024;
/// Largest version file read for `params.versions` (a version is one short line).
const MAX_VERSION_LEN: u64 = 4096;

/// The resource type.
pub struct EnvDir;

/// `source`: the environment's directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Absolute sandbox path of the environment directory, e.g. `/dirs/staging`; granted
    /// read-write for `put`.
    dir: String,
}

fn default_keep() -> u32 {
    5
}

/// `put` params: what to deploy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// `"<input>/<path>"` of the manifest (YAML or JSON).
    manifest: String,
    /// Resolved versions: name → `"<input>/<file holding the version>"`.
    #[serde(default)]
    versions: BTreeMap<String, String>,
    /// How many releases before the new one to keep for rollback (default 5).
    #[serde(default = "default_keep")]
    keep: u32,
}

/// Validated `source`.
struct Env {
    dir: PathBuf,
}

impl Source {
    fn env(&self) -> Result<Env, Error> {
        let dir = PathBuf::from(&self.dir);
        if !dir.is_absolute() || dir.parent().is_none() {
            return Err(Error::invalid_config(format!(
                "source.dir: `{}` must be the absolute path of a directory inside the sandbox, e.g. /dirs/staging",
                self.dir
            )));
        }
        Ok(Env { dir })
    }
}

impl Env {
    fn releases(&self) -> PathBuf {
        self.dir.join(RELEASES_DIR)
    }

    fn release(&self, n: u64) -> PathBuf {
        self.releases().join(n.to_string())
    }

    /// Fails with a grant hint when the environment directory is missing.
    fn exists(&self) -> Result<(), Error> {
        match fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(Error::failed(format!(
                "source.dir: {} is not a directory",
                self.dir.display()
            ))),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::failed(format!(
                "source.dir: {} does not exist; is the environment directory granted to this resource (`/dirs/<name>`, read-write for put)?",
                self.dir.display()
            ))),
            Err(e) => Err(Error::io(&self.dir, e)),
        }
    }

    /// The deployed release number, if any.
    fn current(&self) -> Result<Option<u64>, Error> {
        self.exists()?;
        let path = self.dir.join(CURRENT_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                Error::failed(format!(
                    "{}: expected a release number, found {:?}",
                    path.display(),
                    text.trim()
                ))
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Numbers of the releases present, ascending.
    fn release_numbers(&self) -> Result<Vec<u64>, Error> {
        let dir = self.releases();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut numbers = Vec::new();
        for entry in entries {
            let entry = entry.with_path(&dir)?;
            if let Some(n) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// The version of release `n`: its number and the digest of its manifest.
    fn version_of(&self, n: u64) -> Result<Version, Error> {
        let manifest = self.release(n).join(MANIFEST_FILE);
        let digest = match File::open(&manifest) {
            Ok(file) => stream(file, &manifest, None)?.0,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::not_found(format!(
                    "release {n} is not in {} (pruned?)",
                    self.releases().display()
                )));
            }
            Err(e) => return Err(Error::io(&manifest, e)),
        };
        Ok(version(n, &digest))
    }
}

fn version(n: u64, digest: &str) -> Version {
    Version::new().with("release", n).with("digest", digest)
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams `input` (read from `path`) into `out` when given; returns the sha256 and size.
fn stream(
    mut input: File,
    path: &Path,
    mut out: Option<(&mut File, &Path)>,
) -> Result<(String, u64), Error> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        hasher.update(&buf[..n]);
        if let Some((file, to)) = out.as_mut() {
            file.write_all(&buf[..n]).with_path(*to)?;
        }
        size += n as u64;
    }
    if let Some((file, to)) = out {
        file.flush().with_path(to)?;
    }
    Ok((hex(&hasher.finalize()), size))
}

/// Copies `from` to `to`; returns the sha256 of the bytes copied.
fn copy(from: &Path, to: &Path) -> Result<String, Error> {
    let input = File::open(from).with_path(from)?;
    let mut out = File::create(to).with_path(to)?;
    Ok(stream(input, from, Some((&mut out, to)))?.0)
}

/// Opens an input file named by a param; a missing one is `not-found` naming the field.
fn open_input(field: &str, reference: &str) -> Result<(PathBuf, File), Error> {
    let path = input_file(reference).map_err(|e| e.context(field))?;
    match File::open(&path) {
        Ok(file) if file.metadata().is_ok_and(|m| m.is_file()) => Ok((path, file)),
        Ok(_) => Err(Error::invalid_config(format!(
            "{field}: {} is not a file",
            path.display()
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::not_found(format!(
            "{field}: {} does not exist",
            path.display()
        ))),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Reads the resolved versions: each file's trimmed content, which must be one non-empty
/// line.
fn read_versions(refs: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Error> {
    let mut versions = BTreeMap::new();
    for (name, reference) in refs {
        let field = format!("params.versions.{name}");
        if name.is_empty() {
            return Err(Error::invalid_config(
                "params.versions: names must not be empty",
            ));
        }
        let (path, file) = open_input(&field, reference)?;
        let mut text = String::new();
        file.take(MAX_VERSION_LEN + 1)
            .read_to_string(&mut text)
            .with_path(&path)?;
        let value = text.trim();
        if value.is_empty() || value.contains('\n') || text.len() as u64 > MAX_VERSION_LEN {
            return Err(Error::failed(format!(
                "{field}: {} must hold one non-empty line (a version), found {} bytes",
                path.display(),
                text.len()
            )));
        }
        versions.insert(name.clone(), value.to_string());
    }
    Ok(versions)
}

/// A write error in the environment directory, hinting at a read-only grant.
fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::failed(format!(
        "{}: {e} (is the environment directory granted read-write?)",
        path.display()
    ))
}

/// The releases to delete: all but `current` and the `keep` newest ones before it.
fn to_prune(numbers: &[u64], current: u64, keep: u32) -> Vec<u64> {
    let older: Vec<u64> = numbers.iter().copied().filter(|&n| n < current).collect();
    let kept_from = older.len().saturating_sub(keep as usize);
    numbers
        .iter()
        .copied()
        .filter(|&n| n != current && !older[kept_from..].contains(&n))
        .collect()
}

/// Writes `text` to `path` atomically: `<path>.tmp`, then a rename.
fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!("{name}.tmp"));
    fs::write(&tmp, text).map_err(|e| write_error(&tmp, e))?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(write_error(path, e));
    }
    Ok(())
}

impl ResourceType for EnvDir {
    type Source = Source;
    type GetParams = NoParams;
    type PutParams = PutParams;

    fn describe() -> Description {
        Description::new("env-dir", env!("CARGO_PKG_VERSION"))
            .summary("A directory-backed deployment target: releases of a manifest and its versions, switched atomically")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "dir": {
                        "type": "string",
                        "pattern": "^/",
                        "description": "Absolute sandbox path of the environment directory, e.g. /dirs/staging (granted read-write for put)"
                    }
                },
                "required": ["dir"],
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
                    "manifest": {
                        "type": "string",
                        "description": "<input>/<path> of the manifest to deploy (YAML or JSON)"
                    },
                    "versions": {
                        "type": "object",
                        "additionalProperties": { "type": "string" },
                        "description": "Resolved versions: name -> <input>/<file holding the version> (e.g. the `version` file of an artifact-dir get)"
                    },
                    "keep": {
                        "type": "integer",
                        "minimum": 0,
                        "default": 5,
                        "description": "How many releases before the new one to keep for rollback"
                    }
                },
                "required": ["manifest"],
                "additionalProperties": false
            }))
            .dir("env")
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let env = source.env()?;
        let Some(n) = env.current()? else {
            return Ok(Vec::new());
        };
        let current = env.version_of(n)?;
        Ok(vec![match from {
            Some(from) if from == current => from,
            _ => current,
        }])
    }

    fn get(source: Source, requested: Version, _: NoParams) -> Result<Fetched, Error> {
        let env = source.env()?;
        env.exists()?;
        let Some(n) = requested.get("release").and_then(|r| r.parse::<u64>().ok()) else {
            return Err(Error::not_found(format!(
                "version {requested} has no numeric `release`"
            )));
        };
        let dir = env.release(n);
        let manifest = dir.join(MANIFEST_FILE);
        if !manifest.is_file() {
            return Err(Error::not_found(format!(
                "release {n} is not in {} (pruned?)",
                env.releases().display()
            )));
        }
        let digest = copy(&manifest, &output_path(MANIFEST_FILE))?;
        if requested.get("digest").is_some_and(|d| d != digest) {
            return Err(Error::not_found(format!(
                "release {n} in {} now has manifest digest {digest}, not {}",
                env.releases().display(),
                requested.get("digest").unwrap_or_default()
            )));
        }
        let versions = dir.join(VERSIONS_FILE);
        if versions.is_file() {
            copy(&versions, &output_path(VERSIONS_FILE))?;
        } else {
            let out = output_path(VERSIONS_FILE);
            fs::write(&out, "{}\n").with_path(&out)?;
        }
        let release = output_path("release");
        fs::write(&release, n.to_string()).with_path(&release)?;
        let current = env.current()?;
        Ok(Fetched::new(version(n, &digest))
            .with_metadata("release", n)
            .with_metadata("digest", &digest)
            .with_metadata("current", current == Some(n)))
    }

    fn put(source: Source, params: PutParams) -> Result<Fetched, Error> {
        let env = source.env()?;
        let (manifest_path, manifest) = open_input("params.manifest", &params.manifest)?;
        let versions = read_versions(&params.versions)?;
        let previous = env.current()?;
        let releases = env.releases();
        fs::create_dir_all(&releases).map_err(|e| write_error(&releases, e))?;
        let existing = env.release_numbers()?;
        let n = existing
            .last()
            .copied()
            .max(previous)
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| Error::failed("release numbers overflow"))?;

        // Stage the release next to its final place, then publish it with one rename.
        let staging = releases.join(format!("{TMP_PREFIX}{n}"));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir(&staging).map_err(|e| write_error(&staging, e))?;
        let staged = (|| {
            let to = staging.join(MANIFEST_FILE);
            let mut out = File::create(&to).map_err(|e| write_error(&to, e))?;
            let (digest, size) = stream(manifest, &manifest_path, Some((&mut out, &to)))?;
            let to = staging.join(VERSIONS_FILE);
            let mut text = serde_json::to_string_pretty(&versions)?;
            text.push('\n');
            fs::write(&to, text).map_err(|e| write_error(&to, e))?;
            let target = env.release(n);
            fs::rename(&staging, &target).map_err(|e| write_error(&target, e))?;
            Ok((digest, size))
        })();
        let (digest, size) = match staged {
            Ok(r) => r,
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        write_atomic(&env.dir.join(CURRENT_FILE), &format!("{n}\n"))?;
        lockgate_sdk::info!(
            "deployed release {n} to {} ({size} bytes of manifest, {} versions)",
            env.dir.display(),
            versions.len()
        );

        let mut pruned = Vec::new();
        for old in to_prune(&env.release_numbers()?, n, params.keep) {
            let path = env.release(old);
            match fs::remove_dir_all(&path) {
                Ok(()) => pruned.push(old.to_string()),
                Err(e) => lockgate_sdk::warn!("cannot prune {}: {e}", path.display()),
            }
        }
        if !pruned.is_empty() {
            lockgate_sdk::info!("pruned releases {}", pruned.join(", "));
        }

        let mut fetched = Fetched::new(version(n, &digest))
            .with_metadata("release", n)
            .with_metadata("digest", &digest)
            .with_metadata(
                "previous",
                previous.map_or_else(|| "none".to_string(), |p| p.to_string()),
            );
        for (name, value) in &versions {
            fetched = fetched.with_metadata(format!("version.{name}"), value);
        }
        Ok(fetched)
    }
}

lockgate_sdk::export_resource_type!(EnvDir);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_current_and_previous() {
        assert_eq!(to_prune(&[1, 2, 3, 4, 5, 6, 7], 7, 2), [1, 2, 3, 4]);
        assert_eq!(to_prune(&[1, 2, 3], 3, 5), Vec::<u64>::new());
        assert_eq!(to_prune(&[1, 2, 3], 3, 0), [1, 2]);
    }

    #[test]
    fn invalid_source_names_the_field() {
        let source = Source {
            dir: "staging".into(),
        };
        assert!(
            matches!(source.env(), Err(Error::InvalidConfig(m)) if m.starts_with("source.dir:"))
        );
        let source = Source { dir: "/".into() };
        assert!(matches!(source.env(), Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn params_keep_defaults_to_five() {
        let p: PutParams =
            lockgate_sdk::parse_json("params", r#"{"manifest": "m/manifest.yml"}"#).unwrap();
        assert_eq!(p.keep, 5);
        assert!(p.versions.is_empty());
        let e =
            lockgate_sdk::parse_json::<PutParams>("params", r#"{"manifest": "m/x", "keep": -1}"#)
                .unwrap_err();
        assert!(e.message().starts_with("params.keep:"), "{e}");
    }

    #[test]
    fn check_reads_current_and_misses_grant() {
        let dir = lockgate_sdk::testing::temp_dir("env-dir-check");
        fs::create_dir_all(dir.join("releases/3")).unwrap();
        fs::write(dir.join("releases/3/manifest.yml"), "a: 1\n").unwrap();
        let source = || Source {
            dir: dir.to_str().unwrap().to_string(),
        };
        assert!(EnvDir::check(source(), None).unwrap().is_empty());
        write_atomic(&dir.join("current"), "3\n").unwrap();
        assert!(!dir.join("current.tmp").exists());
        let v = EnvDir::check(source(), None).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].get("release"), Some("3"));
        assert_eq!(
            v[0].get("digest"),
            Some(hex(&Sha256::digest(b"a: 1\n")).as_str())
        );
        let stale = version(2, "x");
        assert_eq!(EnvDir::check(source(), Some(stale)).unwrap(), v);
        fs::remove_dir_all(&dir).unwrap();

        let missing = Source {
            dir: "/dirs/nope-xyz".into(),
        };
        let err = EnvDir::check(missing, None).unwrap_err();
        assert!(err.message().contains("granted"), "{err}");
    }
}
