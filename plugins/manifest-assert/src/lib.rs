//! Test step `manifest-assert`: the deployed manifest (YAML or JSON) holds the expected
//! versions and matches a JSON Schema; one test case per expectation.
//!
//! See README.md for the configuration.

use std::collections::BTreeMap;

use lockgate_sdk::{
    CaseStatus, Description, Error, Outcome, TestCase, TestReport, TestStep, TestSuite, input_file,
};
use serde::Deserialize;
use serde_json::{Value, json};

pub mod schema;

/// The test step.
pub struct ManifestAssert;

/// `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the suite in the report.
    #[serde(default = "default_suite")]
    suite: String,
    /// `"<input>/<path>"` of the manifest: JSON when the name ends in `.json`, YAML otherwise.
    manifest: String,
    /// Key path (`releases.app`, `components.0.version`) → expected version.
    #[serde(default)]
    expect_versions: BTreeMap<String, String>,
    /// A JSON Schema (supported subset, see [`schema`]) the whole manifest must match.
    schema: Option<Value>,
}

fn default_suite() -> String {
    "manifest".to_string()
}

/// The value at a dotted key path: object keys, or array indexes for arrays.
fn lookup<'a>(document: &'a Value, key_path: &str) -> Result<&'a Value, String> {
    let mut current = document;
    let mut walked = Vec::new();
    for segment in key_path.split('.') {
        let here = if walked.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{}`", walked.join("."))
        };
        current = match current {
            Value::Object(map) => map.get(segment).ok_or_else(|| {
                let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
                keys.truncate(20);
                format!("no key `{segment}` at {here} (keys: {})", keys.join(", "))
            })?,
            Value::Array(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .ok_or_else(|| {
                    format!(
                        "no item `{segment}` at {here}, an array of {} items",
                        items.len()
                    )
                })?,
            other => {
                return Err(format!(
                    "{here} is {}, not an object: cannot look up `{segment}`",
                    describe_value(other)
                ));
            }
        };
        walked.push(segment);
    }
    Ok(current)
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".to_string(),
        Value::Array(_) => "an array".to_string(),
        other => format!("the value {other}"),
    }
}

/// Judges one expectation against the document.
fn expect_version(document: &Value, key_path: &str, expected: &str) -> Outcome {
    let found = match lookup(document, key_path) {
        Ok(found) => found,
        Err(e) => return Outcome::failed(format!("expected `{key_path}` = {expected:?}: {e}")),
    };
    let text = match found {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Outcome::failed(format!(
                "expected `{key_path}` = {expected:?}, found {}",
                describe_value(other)
            ));
        }
    };
    if text == expected {
        Outcome::passed_with(format!("`{key_path}` = {text:?}"))
    } else {
        Outcome::failed(format!(
            "expected `{key_path}` = {expected:?}, found {text:?}"
        ))
    }
}

/// Judges the schema against the document.
fn match_schema(document: &Value, schema: &Value) -> Outcome {
    let mut errors = Vec::new();
    schema::validate(schema, document, "$", &mut errors);
    match errors.len() {
        0 => Outcome::passed_with("the manifest matches the schema"),
        n => {
            let shown: Vec<&str> = errors.iter().take(20).map(String::as_str).collect();
            let more = if n > shown.len() {
                format!(" (and {} more)", n - shown.len())
            } else {
                String::new()
            };
            Outcome::failed(format!(
                "{n} schema violation(s): {}{more}",
                shown.join("; ")
            ))
        }
    }
}

/// Runs every case on an already loaded document (or the reason it could not be loaded).
fn judge(config: &Config, document: Result<Value, String>) -> TestSuite {
    let mut suite = TestSuite::new(config.suite.clone());
    let document = match document {
        Ok(document) => {
            suite.push(
                TestCase::passed("manifest").with_message(format!("`{}` read", config.manifest)),
            );
            document
        }
        Err(e) => {
            suite.push(TestCase::failed("manifest", e));
            for key in config.expect_versions.keys() {
                suite.push(TestCase::skipped(
                    key.as_str(),
                    "the manifest could not be read",
                ));
            }
            if config.schema.is_some() {
                suite.push(TestCase::skipped(
                    "schema",
                    "the manifest could not be read",
                ));
            }
            return suite;
        }
    };
    for (key, expected) in &config.expect_versions {
        suite.case(key.as_str(), || expect_version(&document, key, expected));
    }
    if let Some(schema) = &config.schema {
        suite.case("schema", || match_schema(&document, schema));
    }
    suite
}

fn validate(config: &Config) -> Result<std::path::PathBuf, Error> {
    let path = input_file(&config.manifest).map_err(|e| e.context("config.manifest"))?;
    if config.expect_versions.is_empty() && config.schema.is_none() {
        return Err(Error::invalid_config(
            "config: nothing to check; give `expect_versions`, `schema` or both",
        ));
    }
    for key in config.expect_versions.keys() {
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(Error::invalid_config(format!(
                "config.expect_versions: `{key}` is not a key path like `releases.app`"
            )));
        }
        if key == "manifest" || key == "schema" {
            return Err(Error::invalid_config(format!(
                "config.expect_versions: `{key}` clashes with the case of the same name; write it as a longer path"
            )));
        }
    }
    if let Some(schema) = &config.schema {
        schema::check_schema(schema, "config.schema").map_err(Error::invalid_config)?;
    }
    Ok(path)
}

impl TestStep for ManifestAssert {
    type Config = Config;

    fn describe() -> Description {
        Description::new("manifest-assert", env!("CARGO_PKG_VERSION"))
            .summary("Asserts the deployed manifest holds the expected versions and matches a schema")
            .config_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "suite": { "type": "string", "default": "manifest" },
                    "manifest": { "type": "string", "description": "<input>/<path> of the manifest; JSON if it ends in .json, YAML otherwise" },
                    "expect_versions": {
                        "type": "object",
                        "description": "Key path (dots; numbers index arrays) → expected value",
                        "additionalProperties": { "type": "string" }
                    },
                    "schema": {
                        "type": ["object", "boolean"],
                        "description": "JSON Schema subset: type, required, properties, additionalProperties, items, enum, const, minimum, maximum, minLength, maxLength, minItems, maxItems"
                    }
                },
                "required": ["manifest"],
                "additionalProperties": false
            }))
    }

    fn run(config: Config) -> Result<TestReport, Error> {
        let path = validate(&config)?;
        let document = lockgate_sdk::document::load(&path, &config.manifest);
        let suite = judge(&config, document);
        lockgate_sdk::debug!(
            "{} cases, {} passed",
            suite.cases.len(),
            suite.count(CaseStatus::Passed)
        );
        Ok(suite.into())
    }
}

lockgate_sdk::export_test_step!(ManifestAssert);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::parse_json;

    const YAML: &str = "\
env: staging
releases:
  app: \"1.2.3\"
  db: 14
components:
  - name: api
    version: 2.0.1
";

    fn config(json: &str) -> Config {
        parse_json("config", json).unwrap()
    }

    fn statuses(suite: &TestSuite) -> Vec<(&str, CaseStatus)> {
        suite
            .cases
            .iter()
            .map(|c| (c.name.as_str(), c.status))
            .collect()
    }

    #[test]
    fn yaml_and_json_documents() {
        let dir = lockgate_sdk::testing::temp_dir("manifest-assert");
        let yaml = dir.join("manifest.yml");
        std::fs::write(&yaml, YAML).unwrap();
        let doc = lockgate_sdk::document::load(&yaml, "d/manifest.yml").unwrap();
        assert_eq!(doc["components"][0]["version"], "2.0.1");
        let json = dir.join("manifest.json");
        std::fs::write(&json, r#"{"a": {"b": "1"}}"#).unwrap();
        assert_eq!(
            lockgate_sdk::document::load(&json, "d/m.json").unwrap()["a"]["b"],
            "1"
        );
        std::fs::write(&json, "a: b").unwrap();
        assert!(
            lockgate_sdk::document::load(&json, "d/m.json")
                .unwrap_err()
                .contains("not valid JSON")
        );
        std::fs::write(&yaml, "a: [b").unwrap();
        assert!(
            lockgate_sdk::document::load(&yaml, "d/m.yml")
                .unwrap_err()
                .contains("not valid YAML")
        );
        assert!(
            lockgate_sdk::document::load(&dir.join("none.yml"), "d/none.yml")
                .unwrap_err()
                .starts_with("cannot read `d/none.yml`")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn expectations_and_schema() {
        let doc: Value = serde_saphyr::from_str(YAML).unwrap();
        let c = config(
            r#"{"manifest": "m/manifest.yml",
                "expect_versions": {"releases.app": "1.2.3", "releases.db": "14",
                                    "components.0.version": "2.0.2", "releases.web": "1",
                                    "env.x": "1", "releases": "1"},
                "schema": {"type": "object", "required": ["env", "releases"],
                           "properties": {"env": {"enum": ["staging"]}}}}"#,
        );
        validate(&c).unwrap();
        let suite = judge(&c, Ok(doc));
        assert_eq!(
            statuses(&suite),
            [
                ("manifest", CaseStatus::Passed),
                ("components.0.version", CaseStatus::Failed),
                ("env.x", CaseStatus::Failed),
                ("releases", CaseStatus::Failed),
                ("releases.app", CaseStatus::Passed),
                ("releases.db", CaseStatus::Passed),
                ("releases.web", CaseStatus::Failed),
                ("schema", CaseStatus::Passed),
            ]
        );
        let message = |name: &str| {
            suite
                .cases
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .message
                .clone()
                .unwrap()
        };
        assert_eq!(
            message("components.0.version"),
            r#"expected `components.0.version` = "2.0.2", found "2.0.1""#
        );
        assert!(message("releases.web").contains("no key `web` at `releases` (keys: app, db)"));
        assert!(message("env.x").contains("`env` is the value \"staging\", not an object"));
        assert!(message("releases").contains("found an object"));

        let bad_schema = config(r#"{"manifest": "m/x.json", "schema": {"required": ["nope"]}}"#);
        let suite = judge(&bad_schema, Ok(json!({"a": 1})));
        assert_eq!(suite.cases[1].status, CaseStatus::Failed);
        assert_eq!(
            suite.cases[1].message.as_deref(),
            Some("1 schema violation(s): $: missing required key `nope`")
        );
    }

    #[test]
    fn unreadable_manifest_fails_and_skips_the_rest() {
        let c = config(r#"{"manifest": "m/x.yml", "expect_versions": {"a": "1"}, "schema": true}"#);
        let suite = judge(&c, Err("cannot read `m/x.yml`: No such file".into()));
        assert_eq!(
            statuses(&suite),
            [
                ("manifest", CaseStatus::Failed),
                ("a", CaseStatus::Skipped),
                ("schema", CaseStatus::Skipped)
            ]
        );
    }

    #[test]
    fn config_errors_name_the_field() {
        let bad = |json: &str| match parse_json::<Config>("config", json).and_then(|c| validate(&c))
        {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(bad(r#"{"manifest": "../x", "schema": true}"#).starts_with("config.manifest: "));
        assert!(bad(r#"{"manifest": "m/x"}"#).starts_with("config: nothing to check"));
        assert!(
            bad(r#"{"manifest": "m/x", "expect_versions": {"a..b": "1"}}"#)
                .starts_with("config.expect_versions: `a..b`")
        );
        assert!(
            bad(r#"{"manifest": "m/x", "schema": {"oneOf": []}}"#)
                .starts_with("config.schema: keyword `oneOf` is not supported")
        );
        assert!(
            bad(r#"{"manifest": "m/x", "expect_versions": {"a": 1}}"#)
                .starts_with("config.expect_versions.a: invalid type")
        );
        assert!(
            bad(r#"{"manifest": "m/x", "expect": {}}"#).starts_with("config.expect: unknown field")
        );
    }
}
