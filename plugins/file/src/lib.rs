//! Resource type `file`: the content digest of one or more config files, as a version.
//!
//! See README.md for the configuration. Versions are `{"digest": "<sha256>"}`, the sha256
//! over the sorted `(path, content sha256)` pairs; the resource keeps no history, so `check`
//! reports only the current digest.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Component, Path, PathBuf};

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, ResourceType, Version, input_file,
    output_path,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Size of the buffer files are streamed through.
const CHUNK: usize = 64 * 1024;

/// The resource type.
pub struct FileResource;

/// `source`: the files tracked together.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Absolute sandbox paths of the files, e.g. `/dirs/config/app.yml`.
    paths: Vec<String>,
}

/// `put` params: replace one tracked file with a file of an input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// `"<input>/<path>"` of the new content.
    from: String,
    /// Which tracked file to replace: one of `source.paths`.
    to: String,
}

/// The validated tracked paths, sorted and without duplicates.
fn validate(source: &Source) -> Result<Vec<PathBuf>, Error> {
    if source.paths.is_empty() {
        return Err(Error::invalid_config(
            "source.paths: give at least one file, e.g. [\"/dirs/config/app.yml\"]",
        ));
    }
    let mut paths = Vec::new();
    for (i, p) in source.paths.iter().enumerate() {
        let path = PathBuf::from(p);
        let clean = path.is_absolute()
            && path.file_name().is_some()
            && path
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        if !clean {
            return Err(Error::invalid_config(format!(
                "source.paths[{i}]: `{p}` must be the absolute path of a file inside the sandbox without `.` or `..`, e.g. /dirs/config/app.yml"
            )));
        }
        paths.push(path);
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The prefix stripped from tracked paths to name them under `/output`: `/dirs/<x>` when
/// every path is under the same granted directory, else `/dirs` when all are under `/dirs`,
/// else `/`.
fn common_prefix(paths: &[PathBuf]) -> PathBuf {
    let dir_of = |p: &Path| -> Option<PathBuf> {
        let mut c = p.components();
        match (c.next(), c.next(), c.next()) {
            (Some(Component::RootDir), Some(Component::Normal(d)), Some(Component::Normal(x)))
                if d == "dirs" =>
            {
                Some(Path::new("/dirs").join(x))
            }
            _ => None,
        }
    };
    if let Some(first) = dir_of(&paths[0])
        && paths
            .iter()
            .all(|p| dir_of(p).as_ref() == Some(&first) && *p != first)
    {
        return first;
    }
    if paths
        .iter()
        .all(|p| p.starts_with("/dirs") && p != Path::new("/dirs"))
    {
        return PathBuf::from("/dirs");
    }
    PathBuf::from("/")
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams `path` into `out` (when given); returns its sha256. A missing file is
/// `not-found`, naming the path and hinting at the grant.
fn hash_file(path: &Path, mut out: Option<(&mut File, &Path)>) -> Result<String, Error> {
    let mut input = File::open(path).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            Error::not_found(format!(
                "{} does not exist (is its directory granted to this resource?)",
                path.display()
            ))
        } else {
            Error::io(path, e)
        }
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
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
    }
    Ok(hex(&hasher.finalize()))
}

/// The version digest: sha256 over `"<path>\0<content sha256>\n"` for each path, sorted by
/// path.
fn combine(entries: &[(PathBuf, String)]) -> String {
    let mut hasher = Sha256::new();
    for (path, digest) in entries {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(digest.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// The current digest of every tracked path (sorted) and the combined version digest.
fn current(paths: &[PathBuf]) -> Result<(Vec<(PathBuf, String)>, String), Error> {
    let entries = paths
        .iter()
        .map(|p| Ok((p.clone(), hash_file(p, None)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let digest = combine(&entries);
    Ok((entries, digest))
}

fn version(digest: &str) -> Version {
    Version::new().with("digest", digest)
}

/// Writes `from` to `to` atomically: a temporary file next to `to`, then a rename.
fn replace(from: &Path, to: &Path) -> Result<String, Error> {
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let tmp = to.with_file_name(format!(".{name}.lockgate-tmp"));
    let result = (|| {
        let mut out = File::create(&tmp).map_err(|e| {
            if e.kind() == ErrorKind::NotFound {
                Error::failed(format!(
                    "params.to: the directory of {} does not exist (is it granted to this resource?)",
                    to.display()
                ))
            } else {
                Error::failed(format!(
                    "params.to: cannot write next to {}: {e} (is its directory granted read-write?)",
                    to.display()
                ))
            }
        })?;
        let digest = hash_file(from, Some((&mut out, &tmp)))?;
        out.flush().with_path(&tmp)?;
        drop(out);
        fs::rename(&tmp, to).with_path(to)?;
        Ok(digest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

impl ResourceType for FileResource {
    type Source = Source;
    type GetParams = NoParams;
    type PutParams = PutParams;

    fn describe() -> Description {
        Description::new("file", env!("CARGO_PKG_VERSION"))
            .summary("The content digest of one or more config files, as a version")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "paths": {
                        "type": "array",
                        "minItems": 1,
                        "items": { "type": "string", "pattern": "^/" },
                        "description": "Absolute sandbox paths of the tracked files, e.g. /dirs/config/app.yml"
                    }
                },
                "required": ["paths"],
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
                    "from": {
                        "type": "string",
                        "description": "<input>/<path> of the new content"
                    },
                    "to": {
                        "type": "string",
                        "description": "The tracked file to replace: one of source.paths (its directory must be granted rw)"
                    }
                },
                "required": ["from", "to"],
                "additionalProperties": false
            }))
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let paths = validate(&source)?;
        let (_, digest) = current(&paths)?;
        Ok(vec![match from {
            Some(from) if from.get("digest") == Some(digest.as_str()) => from,
            _ => version(&digest),
        }])
    }

    fn get(source: Source, requested: Version, _: NoParams) -> Result<Fetched, Error> {
        let paths = validate(&source)?;
        let Some(wanted) = requested.get("digest") else {
            return Err(Error::not_found(format!(
                "version {requested} has no `digest`"
            )));
        };
        let prefix = common_prefix(&paths);
        let mut entries = Vec::new();
        for path in &paths {
            let relative = path.strip_prefix(&prefix).unwrap_or(path);
            let out = output_path(relative);
            if let Some(parent) = out.parent() {
                fs::create_dir_all(parent).with_path(parent)?;
            }
            let mut file = File::create(&out).with_path(&out)?;
            let digest = hash_file(path, Some((&mut file, &out)))?;
            entries.push((path.clone(), digest));
        }
        let digest = combine(&entries);
        if digest != wanted {
            return Err(Error::not_found(format!(
                "version {requested} is gone: the files now have digest {digest} (a `file` resource keeps no history)"
            )));
        }
        let mut fetched = Fetched::new(version(&digest));
        for (path, file_digest) in &entries {
            fetched = fetched.with_metadata(path.display().to_string(), file_digest);
        }
        Ok(fetched)
    }

    fn put(source: Source, params: PutParams) -> Result<Fetched, Error> {
        let paths = validate(&source)?;
        let to = PathBuf::from(&params.to);
        if !paths.contains(&to) {
            return Err(Error::invalid_config(format!(
                "params.to: `{}` is not one of source.paths ({})",
                params.to,
                source.paths.join(", ")
            )));
        }
        let from = input_file(&params.from).map_err(|e| e.context("params.from"))?;
        if !from.is_file() {
            return Err(Error::not_found(format!(
                "params.from: {} does not exist or is not a file",
                from.display()
            )));
        }
        let written = replace(&from, &to)?;
        lockgate_sdk::info!("replaced {} (sha256 {written})", to.display());
        let (_, digest) = current(&paths)?;
        Ok(Fetched::new(version(&digest))
            .with_metadata("written", to.display())
            .with_metadata("sha256", written))
    }
}

lockgate_sdk::export_resource_type!(FileResource);

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        lockgate_sdk::testing::temp_dir(&format!("file-{name}"))
    }

    fn source(paths: &[&Path]) -> Source {
        Source {
            paths: paths
                .iter()
                .map(|p| p.to_str().unwrap().to_string())
                .collect(),
        }
    }

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            common_prefix(&paths(&["/dirs/config/a.yml", "/dirs/config/sub/b.yml"])),
            PathBuf::from("/dirs/config")
        );
        assert_eq!(
            common_prefix(&paths(&["/dirs/config/a.yml", "/dirs/other/b.yml"])),
            PathBuf::from("/dirs")
        );
        assert_eq!(
            common_prefix(&paths(&["/dirs/config/x/a.yml"])),
            PathBuf::from("/dirs/config")
        );
        assert_eq!(
            common_prefix(&paths(&["/dirs/a.yml"])),
            PathBuf::from("/dirs")
        );
        assert_eq!(common_prefix(&paths(&["/tmp/a"])), PathBuf::from("/"));
    }

    #[test]
    fn invalid_sources_name_the_field() {
        let bad = |s: Source| match validate(&s) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(bad(Source { paths: vec![] }).starts_with("source.paths:"));
        assert!(bad(source(&[Path::new("/a"), Path::new("rel")])).starts_with("source.paths[1]:"));
        assert!(bad(source(&[Path::new("/dirs/c/../x")])).starts_with("source.paths[0]:"));
    }

    #[test]
    fn digest_is_order_independent_and_content_sensitive() {
        let dir = temp_dir("digest");
        let (a, b) = (dir.join("a.yml"), dir.join("b.yml"));
        fs::write(&a, "a: 1\n").unwrap();
        fs::write(&b, "b: 2\n").unwrap();
        let d1 = FileResource::check(source(&[&a, &b]), None).unwrap();
        let d2 = FileResource::check(source(&[&b, &a, &b]), None).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(d1[0].get("digest").unwrap().len(), 64);
        // unchanged: `from` itself
        assert_eq!(
            FileResource::check(source(&[&a, &b]), Some(d1[0].clone())).unwrap(),
            d1
        );
        fs::write(&b, "b: 3\n").unwrap();
        let d3 = FileResource::check(source(&[&a, &b]), Some(d1[0].clone())).unwrap();
        assert_eq!(d3.len(), 1);
        assert_ne!(d3, d1);
        // a different set of paths is a different digest even with the same contents
        fs::write(&b, "a: 1\n").unwrap();
        assert_ne!(
            FileResource::check(source(&[&a]), None).unwrap(),
            FileResource::check(source(&[&b]), None).unwrap()
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_is_not_found() {
        let err =
            FileResource::check(source(&[Path::new("/dirs/none-xyz/a.yml")]), None).unwrap_err();
        assert!(
            matches!(&err, Error::NotFound(m) if m.contains("/dirs/none-xyz/a.yml") && m.contains("granted")),
            "{err:?}"
        );
    }

    #[test]
    fn atomic_replace() {
        let dir = temp_dir("replace");
        let (from, to) = (dir.join("new"), dir.join("app.yml"));
        fs::write(&from, "v: 2\n").unwrap();
        fs::write(&to, "v: 1\n").unwrap();
        let digest = replace(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(&to).unwrap(), "v: 2\n");
        assert_eq!(digest, hex(&Sha256::digest(b"v: 2\n")));
        assert!(!dir.join(".app.yml.lockgate-tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
