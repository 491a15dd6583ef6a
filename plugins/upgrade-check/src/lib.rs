//! Test step `upgrade-check`: the candidate (a versions file or a manifest) is an in-place,
//! non-breaking upgrade of what production runs; one test case per key.
//!
//! See README.md for the configuration and the rules.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use lockgate_sdk::{
    Description, Error, Outcome, TestCase, TestReport, TestStep, TestSuite, input_file,
};
use semver::Version as Semver;
use serde::Deserialize;
use serde_json::{Value, json};

/// The test step.
pub struct UpgradeCheck;

/// `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the suite in the report.
    #[serde(default = "default_suite")]
    suite: String,
    /// `"<input>/<path>"`: what production runs (versions file or manifest).
    current: String,
    /// `"<input>/<path>"`: the candidate, in the same form.
    candidate: String,
    /// Whether a semver-major jump passes.
    #[serde(default)]
    allow_major: bool,
    /// Whether a key of `current` missing from `candidate` passes.
    #[serde(default)]
    allow_removed_keys: bool,
}

fn default_suite() -> String {
    "upgrade".to_string()
}

/// Every leaf of `value` (scalars, empty objects and arrays) by dotted key path; array items
/// by index. The top level itself is a leaf only when it is a scalar (path `""`).
fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(v, &key(k), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, &key(&i.to_string()), out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// A version, leniently: an optional `v`, and `1` or `1.2` completed to `1.0.0` / `1.2.0`.
fn parse_version(text: &str) -> Option<Semver> {
    let text = text.trim();
    let text = text
        .strip_prefix('v')
        .or_else(|| text.strip_prefix('V'))
        .unwrap_or(text);
    if let Ok(v) = Semver::parse(text) {
        return Some(v);
    }
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [major] if numeric(major) => Semver::parse(&format!("{major}.0.0")).ok(),
        [major, minor] if numeric(major) && numeric(minor) => {
            Semver::parse(&format!("{major}.{minor}.0")).ok()
        }
        _ => None,
    }
}

/// Whether going from `from` to `to` (newer) breaks compatibility: a major increase, or for
/// `0.y.z` a minor increase (Cargo's convention).
fn is_breaking(from: &Semver, to: &Semver) -> bool {
    to.major > from.major || (from.major == 0 && to.major == 0 && to.minor > from.minor)
}

/// Judges one key.
fn judge_key(
    key: &str,
    current: Option<&str>,
    candidate: Option<&str>,
    config: &Config,
) -> Outcome {
    match (current, candidate) {
        (None, None) => Outcome::skipped("in neither document"),
        (None, Some(new)) => Outcome::passed_with(format!("added: `{key}` = {new:?}")),
        (Some(old), None) if config.allow_removed_keys => Outcome::passed_with(format!(
            "removed (was {old:?}); allowed by `allow_removed_keys`"
        )),
        (Some(old), None) => Outcome::failed(format!(
            "`{key}` (production: {old:?}) is missing from the candidate; a removed key is not an in-place upgrade (set `allow_removed_keys: true` to allow it)"
        )),
        (Some(old), Some(new)) => match (parse_version(old), parse_version(new)) {
            (Some(from), Some(to)) => match to.cmp_precedence(&from) {
                Ordering::Equal if old == new => Outcome::passed_with(format!("unchanged: {old}")),
                Ordering::Equal => {
                    Outcome::passed_with(format!("{old} → {new}: same version precedence"))
                }
                Ordering::Less => Outcome::failed(format!(
                    "downgrade from {old} (production) to {new} (candidate)"
                )),
                Ordering::Greater if is_breaking(&from, &to) => {
                    if config.allow_major {
                        Outcome::passed_with(format!(
                            "major upgrade {old} → {new}; allowed by `allow_major`"
                        ))
                    } else {
                        Outcome::failed(format!(
                            "major upgrade {old} → {new} is not an in-place, non-breaking upgrade (set `allow_major: true` to allow it)"
                        ))
                    }
                }
                Ordering::Greater => Outcome::passed_with(format!("upgrade {old} → {new}")),
            },
            _ if old == new => Outcome::passed_with(format!("unchanged: {old:?}")),
            _ => Outcome::passed_with(format!(
                "changed {old:?} → {new:?} (not versions, not compared)"
            )),
        },
    }
}

/// Compares two loaded documents, one case per key of either.
fn compare(config: &Config, current: &Value, candidate: &Value) -> TestSuite {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    flatten(current, "", &mut old);
    flatten(candidate, "", &mut new);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut suite = TestSuite::new(config.suite.clone());
    for key in keys {
        let name = if key.is_empty() {
            "(document)"
        } else {
            key.as_str()
        };
        suite.case(name, || {
            judge_key(
                name,
                old.get(key).map(String::as_str),
                new.get(key).map(String::as_str),
                config,
            )
        });
    }
    suite
}

impl TestStep for UpgradeCheck {
    type Config = Config;

    fn describe() -> Description {
        Description::new("upgrade-check", env!("CARGO_PKG_VERSION"))
            .summary("Checks the candidate is an in-place, non-breaking upgrade of what production runs")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "suite": { "type": "string", "default": "upgrade" },
                    "current": { "type": "string", "description": "<input>/<path> of what production runs (versions file or manifest; JSON if .json, YAML otherwise)" },
                    "candidate": { "type": "string", "description": "<input>/<path> of the candidate, in the same form" },
                    "allow_major": { "type": "boolean", "default": false },
                    "allow_removed_keys": { "type": "boolean", "default": false }
                },
                "required": ["current", "candidate"],
                "additionalProperties": false
            }))
    }

    fn run(config: Config) -> Result<TestReport, Error> {
        let current_path = input_file(&config.current).map_err(|e| e.context("config.current"))?;
        let candidate_path =
            input_file(&config.candidate).map_err(|e| e.context("config.candidate"))?;
        let current = lockgate_sdk::document::load(&current_path, &config.current);
        let candidate = lockgate_sdk::document::load(&candidate_path, &config.candidate);
        let suite = match (current, candidate) {
            (Ok(current), Ok(candidate)) => compare(&config, &current, &candidate),
            (current, candidate) => {
                let mut suite = TestSuite::new(config.suite.clone());
                for (name, loaded) in [("current", current), ("candidate", candidate)] {
                    suite.push(match loaded {
                        Ok(_) => TestCase::passed(name),
                        Err(e) => TestCase::failed(name, e),
                    });
                }
                suite
            }
        };
        Ok(suite.into())
    }
}

lockgate_sdk::export_test_step!(UpgradeCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::{CaseStatus, parse_json};

    fn config(extra: &str) -> Config {
        parse_json(
            "config",
            &format!(
                r#"{{"current": "prod/versions.json", "candidate": "cand/versions.json"{extra}}}"#
            ),
        )
        .unwrap()
    }

    fn cases(
        config: &Config,
        current: Value,
        candidate: Value,
    ) -> Vec<(String, CaseStatus, String)> {
        compare(config, &current, &candidate)
            .cases
            .into_iter()
            .map(|c| (c.name, c.status, c.message.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("v1.2"), Semver::parse("1.2.0").ok());
        assert_eq!(parse_version("7"), Semver::parse("7.0.0").ok());
        assert_eq!(
            parse_version("1.2.3-rc.1"),
            Semver::parse("1.2.3-rc.1").ok()
        );
        assert_eq!(parse_version("latest"), None);
        assert_eq!(parse_version("1.x"), None);
        let v = |s: &str| parse_version(s).unwrap();
        assert!(is_breaking(&v("1.9.9"), &v("2.0.0")));
        assert!(is_breaking(&v("0.3.1"), &v("0.4.0")));
        assert!(!is_breaking(&v("0.3.1"), &v("0.3.2")));
        assert!(!is_breaking(&v("1.2.3"), &v("1.9.0")));
    }

    #[test]
    fn rules() {
        let current = json!({"app": "1.2.3", "db": "14.1", "cache": "2.0.0", "old": "1.0.0",
                             "api": "v3.1.0", "region": "eu", "tags": ["a", "b"]});
        let candidate = json!({"app": "1.3.0", "db": "15.0", "cache": "1.9.9", "new": "0.1.0",
                               "api": "v3.1.0", "region": "us", "tags": ["a"]});
        let got = cases(&config(""), current.clone(), candidate.clone());
        let status: Vec<(&str, CaseStatus)> =
            got.iter().map(|(n, s, _)| (n.as_str(), *s)).collect();
        assert_eq!(
            status,
            [
                ("api", CaseStatus::Passed),
                ("app", CaseStatus::Passed),
                ("cache", CaseStatus::Failed),
                ("db", CaseStatus::Failed),
                ("new", CaseStatus::Passed),
                ("old", CaseStatus::Failed),
                ("region", CaseStatus::Passed),
                ("tags.0", CaseStatus::Passed),
                ("tags.1", CaseStatus::Failed),
            ]
        );
        let message = |name: &str| got.iter().find(|c| c.0 == name).unwrap().2.clone();
        assert_eq!(message("app"), "upgrade 1.2.3 → 1.3.0");
        assert_eq!(
            message("cache"),
            "downgrade from 2.0.0 (production) to 1.9.9 (candidate)"
        );
        assert!(message("db").starts_with("major upgrade 14.1 → 15.0 is not an in-place"));
        assert!(message("old").contains("set `allow_removed_keys: true`"));
        assert_eq!(
            message("region"),
            r#"changed "eu" → "us" (not versions, not compared)"#
        );

        // Allowed: only the downgrade still fails.
        let got = cases(
            &config(r#", "allow_major": true, "allow_removed_keys": true"#),
            current,
            candidate,
        );
        let failed: Vec<&str> = got
            .iter()
            .filter(|c| c.1 == CaseStatus::Failed)
            .map(|c| c.0.as_str())
            .collect();
        assert_eq!(failed, ["cache"]);
        assert!(
            got.iter()
                .any(|c| c.0 == "db" && c.2.contains("allowed by `allow_major`"))
        );
    }

    #[test]
    fn yaml_manifests_and_load_errors() {
        let dir = lockgate_sdk::testing::temp_dir("upgrade-check");
        let path = dir.join("manifest.yml");
        std::fs::write(&path, "releases:\n  app: 1.2.3\n  web: \"2.0\"\n").unwrap();
        let doc = lockgate_sdk::document::load(&path, "prod/manifest.yml").unwrap();
        let mut flat = BTreeMap::new();
        flatten(&doc, "", &mut flat);
        assert_eq!(flat.get("releases.app").map(String::as_str), Some("1.2.3"));
        assert_eq!(flat.get("releases.web").map(String::as_str), Some("2.0"));
        let e = lockgate_sdk::document::load(&dir.join("nope.json"), "prod/nope.json").unwrap_err();
        assert!(e.starts_with("cannot read `prod/nope.json`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_errors_name_the_field() {
        let e = parse_json::<Config>("config", r#"{"current": "a/b"}"#).unwrap_err();
        assert!(
            e.message().starts_with("config: missing field `candidate`"),
            "{e}"
        );
        let e = parse_json::<Config>(
            "config",
            r#"{"current": "a/b", "candidate": "c/d", "allow_minor": true}"#,
        )
        .unwrap_err();
        assert!(
            e.message().starts_with("config.allow_minor: unknown field"),
            "{e}"
        );
        assert!(
            input_file("../x")
                .map_err(|e| e.context("config.current"))
                .unwrap_err()
                .message()
                .starts_with("config.current: ")
        );
    }
}
