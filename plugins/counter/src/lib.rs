//! Resource type `counter`: an integer kept in a file; every value it took is a version.
//!
//! See README.md for the configuration. Versions are `{"number": "<k>"}`.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, ResourceType, Version, input_file,
    output_path,
};
use serde::Deserialize;

/// `check` returns at most this many versions (the newest ones).
const MAX_VERSIONS: u64 = 1000;

/// The resource type.
pub struct Counter;

/// `source`: where the counter lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Absolute path of the counter file inside the sandbox, e.g. `/dirs/state/counter`.
    path: String,
}

/// `put` params: set from a file, or increment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// `"<input>/<relative path>"` of a file holding the new value.
    from_file: Option<String>,
    /// How much to add (default 1); not allowed together with `from_file`.
    increment: Option<u64>,
}

impl Source {
    fn path(&self) -> Result<&Path, Error> {
        let path = Path::new(&self.path);
        if !path.is_absolute() || path.file_name().is_none() {
            return Err(Error::invalid_config(format!(
                "source.path: `{}` must be the absolute path of a file inside the sandbox, e.g. /dirs/state/counter",
                self.path
            )));
        }
        Ok(path)
    }
}

/// Parses a counter value; `None` for anything but a non-negative integer.
fn parse_number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Reads the counter: a missing file is 0.
fn read_counter(path: &Path) -> Result<u64, Error> {
    match fs::read_to_string(path) {
        Ok(text) => parse_number(&text).ok_or_else(|| {
            Error::failed(format!(
                "{}: expected a non-negative integer, found {:?}",
                path.display(),
                preview(&text)
            ))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Replaces the counter file atomically: writes a temporary file next to it, then renames.
fn write_counter(path: &Path, value: u64) -> Result<(), Error> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // A name of its own per invocation: two builds putting at once must not rename each
    // other's file away (the loser's rename then fails with ENOENT).
    let unique = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let tmp: PathBuf = path.with_file_name(format!(".{name}.{unique:016x}.lockgate-tmp"));
    fs::write(&tmp, format!("{value}\n")).with_path(&tmp)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

fn preview(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

fn version(n: u64) -> Version {
    Version::new().with("number", n)
}

/// `[n]`, or nothing when the counter is still 0 (0 is not a version).
fn newest(n: u64) -> Vec<Version> {
    if n == 0 { Vec::new() } else { vec![version(n)] }
}

fn fetched(n: u64, path: &Path) -> Fetched {
    Fetched::new(version(n)).with_metadata("path", path.display())
}

impl ResourceType for Counter {
    type Source = Source;
    type GetParams = NoParams;
    type PutParams = PutParams;

    fn describe() -> Description {
        Description::new("counter", env!("CARGO_PKG_VERSION"))
            .summary("An integer kept in a file; every value it took is a version")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "pattern": "^/",
                        "description": "Absolute path of the counter file in the sandbox, e.g. /dirs/state/counter"
                    }
                },
                "required": ["path"],
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
                "description": "Set the counter from a file of an input, or increment it (default: by 1).",
                "type": "object",
                "properties": {
                    "from_file": {
                        "type": "string",
                        "description": "<input>/<relative path> of a file holding the new value"
                    },
                    "increment": {
                        "type": "integer",
                        "minimum": 0,
                        "default": 1
                    }
                },
                "not": { "required": ["from_file", "increment"] },
                "additionalProperties": false
            }))
            .dir("state")
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let n = read_counter(source.path()?)?;
        let from = from.and_then(|v| v.get("number").and_then(parse_number));
        Ok(match from {
            Some(k) if (1..=n).contains(&k) => {
                let first = k.max(n.saturating_sub(MAX_VERSIONS - 1));
                (first..=n).map(version).collect()
            }
            _ => newest(n),
        })
    }

    fn get(source: Source, requested: Version, _: NoParams) -> Result<Fetched, Error> {
        let path = source.path()?;
        let n = read_counter(path)?;
        let k = match requested.get("number").and_then(parse_number) {
            Some(k) if (1..=n).contains(&k) => k,
            _ => {
                return Err(Error::not_found(format!(
                    "version {requested} does not exist: the counter at {} is at {n}",
                    path.display()
                )));
            }
        };
        let out = output_path("number");
        fs::write(&out, k.to_string()).with_path(&out)?;
        Ok(fetched(k, path))
    }

    fn put(source: Source, params: PutParams) -> Result<Fetched, Error> {
        let path = source.path()?;
        let n = match (params.from_file, params.increment) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_config(
                    "params: give either `from_file` or `increment`, not both",
                ));
            }
            (Some(reference), None) => {
                let file = input_file(&reference).map_err(|e| e.context("params.from_file"))?;
                let text = match fs::read_to_string(&file) {
                    Ok(text) => text,
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        return Err(Error::not_found(format!(
                            "params.from_file: {} does not exist",
                            file.display()
                        )));
                    }
                    Err(e) => return Err(Error::io(&file, e)),
                };
                parse_number(&text).ok_or_else(|| {
                    Error::failed(format!(
                        "{}: expected a non-negative integer, found {:?}",
                        file.display(),
                        preview(&text)
                    ))
                })?
            }
            (None, increment) => {
                let by = increment.unwrap_or(1);
                read_counter(path)?.checked_add(by).ok_or_else(|| {
                    Error::failed(format!("{}: counter overflows", path.display()))
                })?
            }
        };
        write_counter(path, n)?;
        lockgate_sdk::info!("counter {} set to {n}", path.display());
        Ok(fetched(n, path))
    }
}

lockgate_sdk::export_resource_type!(Counter);

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(versions: &[Version]) -> Vec<u64> {
        versions
            .iter()
            .map(|v| v.get("number").unwrap().parse().unwrap())
            .collect()
    }

    fn check_at(n: u64, from: Option<&str>) -> Vec<u64> {
        let dir = lockgate_sdk::testing::temp_dir("counter");
        let file = dir.join("counter");
        fs::write(&file, format!(" {n}\n")).unwrap();
        let source = Source {
            path: file.to_str().unwrap().to_string(),
        };
        let from = from.map(|k| Version::new().with("number", k));
        let out = numbers(&Counter::check(source, from).unwrap());
        fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn check_semantics() {
        assert_eq!(check_at(0, None), Vec::<u64>::new());
        assert_eq!(check_at(5, None), [5]);
        assert_eq!(check_at(5, Some("3")), [3, 4, 5]);
        assert_eq!(check_at(5, Some("5")), [5]);
        assert_eq!(check_at(5, Some("9")), [5]);
        assert_eq!(check_at(5, Some("x")), [5]);
        assert_eq!(check_at(5, Some("0")), [5]);
        assert_eq!(check_at(0, Some("3")), Vec::<u64>::new());
        let capped = check_at(5000, Some("1"));
        assert_eq!(capped.len(), 1000);
        assert_eq!(capped[0], 4001);
        assert_eq!(capped[999], 5000);
    }

    #[test]
    fn missing_file_is_zero_and_garbage_fails() {
        let dir = lockgate_sdk::testing::temp_dir("counter-garbage");
        let file = dir.join("counter");
        let _ = fs::remove_file(&file);
        assert_eq!(read_counter(&file).unwrap(), 0);
        fs::write(&file, "twelve").unwrap();
        let err = read_counter(&file).unwrap_err();
        assert!(
            matches!(&err, Error::Failed(m) if m.contains("counter") && m.contains("twelve")),
            "{err:?}"
        );
        write_counter(&file, 12).unwrap();
        assert_eq!(read_counter(&file).unwrap(), 12);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn relative_source_path_is_invalid() {
        let source = Source {
            path: "state/counter".into(),
        };
        assert!(matches!(
            Counter::check(source, None),
            Err(Error::InvalidConfig(_))
        ));
    }
}
