//! Parsing of `source`, `params` and `config` JSON into the plugin's own types.

use serde::de::{Deserialize, DeserializeOwned, Deserializer, IgnoredAny};

use crate::Error;

/// Parses the JSON text `json` into `T`; `what` names the document in error messages
/// (`"source"`, `"params"`, `"config"`).
///
/// An empty (or all-whitespace) text and `null` are read as `{}`, so a struct whose fields
/// all have defaults accepts "no params". Trailing characters after the document are an
/// error.
///
/// Failures are [`Error::InvalidConfig`] naming the field path and the problem, for
/// example `config.assertions[1].exists: invalid type: string "yes", expected a boolean at
/// line 1 column 52`, or `source is not valid JSON: ...`.
///
/// The SDK calls this for you before invoking a trait method; call it yourself to parse
/// nested JSON text.
///
/// ```
/// use lockgate_sdk::{parse_json, Error};
///
/// #[derive(serde::Deserialize, Debug)]
/// struct Source { path: String }
///
/// let s: Source = parse_json("source", r#"{"path": "/dirs/state/n"}"#).unwrap();
/// assert_eq!(s.path, "/dirs/state/n");
///
/// let e = parse_json::<Source>("source", r#"{"path": 3}"#).unwrap_err();
/// assert!(matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.path: invalid type")));
/// ```
pub fn parse_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, Error> {
    let trimmed = json.trim();
    let text = if trimmed.is_empty() || trimmed == "null" {
        "{}"
    } else {
        json
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::InvalidConfig(format!("{what} is not valid JSON: {inner}"))
        } else if path == "." {
            Error::InvalidConfig(format!("{what}: {inner}"))
        } else {
            Error::InvalidConfig(format!("{what}.{path}: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| Error::InvalidConfig(format!("{what} is not valid JSON: {e}")))?;
    Ok(value)
}

/// Parameters for an operation that takes none: accepts any JSON (and ignores it).
///
/// Use it as `GetParams`, `PutParams` or `Config` when there is nothing to configure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoParams;

impl<'de> Deserialize<'de> for NoParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(NoParams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Assertion {
        file: String,
        #[serde(default)]
        exists: Option<bool>,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct Config {
        #[serde(default)]
        assertions: Vec<Assertion>,
    }

    fn invalid(json: &str) -> String {
        match parse_json::<Config>("config", json) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn empty_and_null_are_empty_objects() {
        for text in ["", "  \n", "null", " null "] {
            assert_eq!(
                parse_json::<Config>("params", text).unwrap(),
                Config::default()
            );
        }
    }

    #[test]
    fn nested_field_path_is_named() {
        let m = invalid(r#"{"assertions": [{"file": "a/b"}, {"file": "c", "exists": "yes"}]}"#);
        assert!(
            m.starts_with("config.assertions[1].exists: invalid type: string \"yes\""),
            "{m}"
        );
    }

    #[test]
    fn missing_field() {
        let m = invalid(r#"{"assertions": [{}]}"#);
        assert!(
            m.starts_with("config.assertions[0]: missing field `file`"),
            "{m}"
        );
    }

    #[test]
    fn unknown_field_at_top() {
        let m = invalid(r#"{"assertion": []}"#);
        assert!(
            m.starts_with("config.assertion: unknown field `assertion`, expected `assertions`"),
            "{m}"
        );
    }

    #[test]
    fn syntax_error() {
        let m = invalid(r#"{"assertions": [}"#);
        assert!(m.starts_with("config is not valid JSON: "), "{m}");
        let m = invalid(r#"{} {}"#);
        assert!(m.starts_with("config is not valid JSON: trailing"), "{m}");
    }

    #[test]
    fn no_params_accepts_anything() {
        for text in ["", "null", "{}", r#"{"a": [1, 2]}"#, "3", r#""x""#] {
            assert_eq!(parse_json::<NoParams>("params", text).unwrap(), NoParams);
        }
        assert!(parse_json::<NoParams>("params", "{").is_err());
    }
}
