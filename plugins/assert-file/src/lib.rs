//! Test step `assert-file`: one test case per assertion on a file of the inputs.
//!
//! See README.md for the configuration.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{Description, Error, Outcome, TestReport, TestStep, TestSuite, input_file};
use serde::Deserialize;

/// How much of a file's content a failure message quotes.
const PREVIEW_CHARS: usize = 200;

/// The test step.
pub struct AssertFile;

/// `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the suite in the report.
    #[serde(default = "default_suite")]
    suite: String,
    /// The assertions, one test case each, run in order.
    assertions: Vec<Assertion>,
}

fn default_suite() -> String {
    "assert-file".to_string()
}

/// One assertion on one file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// Case name; defaults to `file`.
    name: Option<String>,
    /// `"<input>/<relative path>"`.
    file: String,
    /// Whether the file must exist (default) or must not.
    #[serde(default = "default_true")]
    exists: bool,
    /// A string the content must contain.
    contains: Option<String>,
    /// A string the content must not contain (a marker of a broken build, a forbidden value).
    not_contains: Option<String>,
    /// The exact content, trailing whitespace of both sides ignored.
    equals: Option<String>,
}

fn default_true() -> bool {
    true
}

/// An assertion after validation, ready to run.
#[derive(Debug)]
struct Check {
    name: String,
    reference: String,
    path: PathBuf,
    exists: bool,
    contains: Option<String>,
    not_contains: Option<String>,
    equals: Option<String>,
}

fn validate(config: Config) -> Result<(String, Vec<Check>), Error> {
    let mut names = BTreeSet::new();
    let mut checks = Vec::with_capacity(config.assertions.len());
    for (i, a) in config.assertions.into_iter().enumerate() {
        let field = format!("config.assertions[{i}]");
        let path = input_file(&a.file).map_err(|e| e.context(format!("{field}.file")))?;
        if !a.exists && (a.contains.is_some() || a.not_contains.is_some() || a.equals.is_some()) {
            return Err(Error::invalid_config(format!(
                "{field}: `contains`, `not_contains` and `equals` cannot be combined with `exists: false`"
            )));
        }
        // Case names are unique within a suite: number repeated ones. (A BTreeSet, not a
        // HashSet: its RandomState would import wasi:random for nothing.)
        let base = a.name.unwrap_or_else(|| a.file.clone());
        let mut name = base.clone();
        let mut n = 1;
        while !names.insert(name.clone()) {
            n += 1;
            name = format!("{base} #{n}");
        }
        checks.push(Check {
            name,
            reference: a.file,
            path,
            exists: a.exists,
            contains: a.contains,
            not_contains: a.not_contains,
            equals: a.equals,
        });
    }
    Ok((config.suite, checks))
}

/// The start of `text`, quoted, for messages.
fn quote(text: &str) -> String {
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((i, _)) => format!("{:?}... ({} bytes)", &text[..i], text.len()),
        None => format!("{text:?}"),
    }
}

fn run_check(check: &Check) -> Outcome {
    let reference = &check.reference;
    let meta = match fs::metadata(&check.path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => {
            return Outcome::errored(format!("cannot inspect `{reference}`: {e}"));
        }
    };
    let Some(meta) = meta else {
        return if check.exists {
            Outcome::failed(format!(
                "expected file `{reference}` to exist, found nothing at {}",
                check.path.display()
            ))
        } else {
            Outcome::passed_with(format!("`{reference}` does not exist, as expected"))
        };
    };
    if !check.exists {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "a file"
        };
        return Outcome::failed(format!("expected no file at `{reference}`, found {what}"));
    }
    if meta.is_dir() {
        return Outcome::failed(format!(
            "expected `{reference}` to be a file, found a directory"
        ));
    }
    if check.contains.is_none() && check.not_contains.is_none() && check.equals.is_none() {
        return Outcome::passed_with(format!("`{reference}` exists ({} bytes)", meta.len()));
    }
    let content = match read_text(&check.path) {
        Ok(content) => content,
        Err(e) => return Outcome::errored(format!("cannot read `{reference}`: {e}")),
    };
    let mut found = Vec::new();
    if let Some(expected) = &check.equals {
        let (want, got) = (expected.trim_end(), content.trim_end());
        if want != got {
            return Outcome::failed(format!(
                "expected `{reference}` to equal {}, found {}",
                quote(want),
                quote(got)
            ));
        }
        found.push(format!("equals {}", quote(want)));
    }
    if let Some(needle) = &check.contains {
        if !content.contains(needle.as_str()) {
            return Outcome::failed(format!(
                "expected `{reference}` to contain {}, found {}",
                quote(needle),
                quote(&content)
            ));
        }
        found.push(format!("contains {}", quote(needle)));
    }
    if let Some(needle) = &check.not_contains {
        if content.contains(needle.as_str()) {
            return Outcome::failed(format!(
                "expected `{reference}` not to contain {}, found {}",
                quote(needle),
                quote(&content)
            ));
        }
        found.push(format!("does not contain {}", quote(needle)));
    }
    Outcome::passed_with(format!("`{reference}` {}", found.join(" and ")))
}

/// Reads a file as text; invalid UTF-8 is replaced rather than refused.
fn read_text(path: &Path) -> std::io::Result<String> {
    let bytes = fs::read(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

impl TestStep for AssertFile {
    type Config = Config;

    fn describe() -> Description {
        Description::new("assert-file", env!("CARGO_PKG_VERSION"))
            .summary("Asserts that files of the inputs exist, contain or equal given text")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "suite": { "type": "string", "default": "assert-file" },
                    "assertions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": { "type": "string", "description": "Case name; defaults to `file`" },
                                "file": { "type": "string", "description": "<input>/<relative path>" },
                                "exists": { "type": "boolean", "default": true },
                                "contains": { "type": "string" },
                                "not_contains": { "type": "string", "description": "A string the content must not contain" },
                                "equals": { "type": "string", "description": "Exact content; trailing whitespace ignored" }
                            },
                            "required": ["file"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["assertions"],
                "additionalProperties": false
            }))
    }

    fn run(config: Config) -> Result<TestReport, Error> {
        let (suite_name, checks) = validate(config)?;
        let mut suite = TestSuite::new(suite_name);
        for check in &checks {
            suite.case(check.name.as_str(), || run_check(check));
        }
        lockgate_sdk::debug!(
            "{} assertions, {} passed",
            checks.len(),
            suite.count(lockgate_sdk::CaseStatus::Passed)
        );
        Ok(suite.into())
    }
}

lockgate_sdk::export_test_step!(AssertFile);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::{CaseStatus, parse_json};

    fn check_at(path: &Path, json: &str) -> Outcome {
        let a: Assertion = parse_json("assertion", json).unwrap();
        run_check(&Check {
            name: "t".into(),
            reference: a.file,
            path: path.to_path_buf(),
            exists: a.exists,
            contains: a.contains,
            not_contains: a.not_contains,
            equals: a.equals,
        })
    }

    #[test]
    fn assertions() {
        let dir = lockgate_sdk::testing::temp_dir("assert-file");
        let file = dir.join("version.txt");
        fs::write(&file, "1.2.3\n\n").unwrap();
        let missing = dir.join("missing");

        let o = check_at(&file, r#"{"file": "b/version.txt", "equals": "1.2.3"}"#);
        assert_eq!(o.status, CaseStatus::Passed, "{o:?}");
        let o = check_at(&file, r#"{"file": "b/version.txt", "equals": "1.2.4"}"#);
        assert_eq!(o.status, CaseStatus::Failed);
        assert_eq!(
            o.message.as_deref(),
            Some(r#"expected `b/version.txt` to equal "1.2.4", found "1.2.3""#)
        );
        let o = check_at(&file, r#"{"file": "b/version.txt", "contains": ".2."}"#);
        assert_eq!(o.status, CaseStatus::Passed);
        let o = check_at(&file, r#"{"file": "b/version.txt", "not_contains": "9"}"#);
        assert_eq!(o.status, CaseStatus::Passed, "{:?}", o.message);
        let o = check_at(&file, r#"{"file": "b/version.txt", "not_contains": ".2."}"#);
        assert_eq!(o.status, CaseStatus::Failed);
        assert!(o.message.as_deref().unwrap().contains("not to contain"));
        let o = check_at(&file, r#"{"file": "b/version.txt", "contains": "9"}"#);
        assert_eq!(o.status, CaseStatus::Failed);
        let o = check_at(&missing, r#"{"file": "b/missing"}"#);
        assert_eq!(o.status, CaseStatus::Failed);
        assert!(o.message.unwrap().contains("to exist, found nothing"));
        let o = check_at(&missing, r#"{"file": "b/missing", "exists": false}"#);
        assert_eq!(o.status, CaseStatus::Passed);
        let o = check_at(&file, r#"{"file": "b/version.txt", "exists": false}"#);
        assert_eq!(o.status, CaseStatus::Failed);
        let o = check_at(&dir, r#"{"file": "b"}"#);
        assert_eq!(o.status, CaseStatus::Failed);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_errors() {
        let bad = |json: &str| match parse_json::<Config>("config", json).and_then(validate) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            bad(r#"{"assertions": [{"file": "a/b", "matches": "x"}]}"#)
                .starts_with("config.assertions[0].matches: unknown field `matches`")
        );
        assert!(
            bad(r#"{"assertions": [{"file": "../b"}]}"#).starts_with("config.assertions[0].file: ")
        );
        assert!(
            bad(r#"{"assertions": [{"file": "a/b", "exists": false, "equals": ""}]}"#)
                .contains("cannot be combined")
        );
        assert!(bad(r#"{}"#).starts_with("config: missing field `assertions`"));
    }

    #[test]
    fn names_are_unique() {
        let config: Config = parse_json(
            "config",
            r#"{"assertions": [{"file": "a/b"}, {"file": "a/b"}, {"file": "a/c", "name": "a/b"}]}"#,
        )
        .unwrap();
        let (suite, checks) = validate(config).unwrap();
        assert_eq!(suite, "assert-file");
        let names: Vec<_> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a/b", "a/b #2", "a/b #3"]);
    }
}
