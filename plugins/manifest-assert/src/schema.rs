//! A small, strict subset of JSON Schema (draft 2020-12 semantics), implemented by hand to
//! keep the component small.
//!
//! Supported keywords: `type`, `required`, `properties`, `additionalProperties`, `items`,
//! `enum`, `const`, `minimum`, `maximum`, `minLength`, `maxLength`, `minItems`, `maxItems`;
//! annotations (`$schema`, `$id`, `$comment`, `title`, `description`, `default`,
//! `examples`, `deprecated`, `readOnly`, `writeOnly`) are accepted and ignored. Any other
//! keyword (`$ref`, `pattern`, `oneOf`, ...) makes the schema invalid, rather than being
//! silently ignored: a manifest must never pass a check that was not performed.

use serde_json::Value;

/// The keywords that are checked.
pub const SUPPORTED: &[&str] = &[
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
];

/// Keywords that carry no assertion.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// Checks that `schema` uses only the supported subset, correctly; `at` names it in errors
/// (for example `config.schema`).
pub fn check_schema(schema: &Value, at: &str) -> Result<(), String> {
    let object = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(object) => object,
        other => {
            return Err(format!(
                "{at}: a schema must be an object or a boolean, found {other}"
            ));
        }
    };
    let non_negative = |key: &str, v: &Value| {
        if v.as_u64().is_some() {
            Ok(())
        } else {
            Err(format!(
                "{at}.{key}: expected a non-negative integer, found {v}"
            ))
        }
    };
    for (key, v) in object {
        match key.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "type" => {
                let names: Vec<&Value> = match v {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                for name in names {
                    if !name.as_str().is_some_and(|n| TYPES.contains(&n)) {
                        return Err(format!(
                            "{at}.type: {name} is not a type (expected one of {})",
                            TYPES.join(", ")
                        ));
                    }
                }
            }
            "required" => {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(format!("{at}.required: expected an array of strings"));
                }
            }
            "properties" => {
                let Some(properties) = v.as_object() else {
                    return Err(format!("{at}.properties: expected an object"));
                };
                for (name, sub) in properties {
                    check_schema(sub, &format!("{at}.properties.{name}"))?;
                }
            }
            "additionalProperties" | "items" => check_schema(v, &format!("{at}.{key}"))?,
            "enum" => {
                if !v.is_array() {
                    return Err(format!("{at}.enum: expected an array"));
                }
            }
            "const" => {}
            "minimum" | "maximum" => {
                if !v.is_number() {
                    return Err(format!("{at}.{key}: expected a number, found {v}"));
                }
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" => non_negative(key, v)?,
            other => {
                return Err(format!(
                    "{at}: keyword `{other}` is not supported (supported: {})",
                    SUPPORTED.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "number" => value.is_number(),
        other => type_of(value) == other,
    }
}

/// Short text of a value for messages.
fn show(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// Validates `value` against a schema [`check_schema`] accepted, appending one message per
/// violation to `errors`; `at` is the location of `value` (`$` at the top).
pub fn validate(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let object = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errors.push(format!("{at}: no value is allowed here"));
            return;
        }
        Value::Object(object) => object,
        _ => return,
    };
    if let Some(t) = object.get("type") {
        let names: Vec<&str> = match t {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            single => single.as_str().into_iter().collect(),
        };
        if !names.iter().any(|n| has_type(value, n)) {
            errors.push(format!(
                "{at}: expected {}, found {} {}",
                names.join(" or "),
                type_of(value),
                show(value)
            ));
            return;
        }
    }
    if let Some(Value::Array(options)) = object.get("enum")
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(show).collect();
        errors.push(format!(
            "{at}: {} is not one of {}",
            show(value),
            list.join(", ")
        ));
    }
    if let Some(expected) = object.get("const")
        && expected != value
    {
        errors.push(format!(
            "{at}: expected {}, found {}",
            show(expected),
            show(value)
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = object.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {n} is less than the minimum {min}"));
        }
        if let Some(max) = object.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {n} is more than the maximum {max}"));
        }
    }
    let bound = |key: &str| object.get(key).and_then(Value::as_u64);
    if let Value::String(s) = value {
        let len = s.chars().count() as u64;
        if let Some(min) = bound("minLength")
            && len < min
        {
            errors.push(format!(
                "{at}: {} is shorter than {min} characters",
                show(value)
            ));
        }
        if let Some(max) = bound("maxLength")
            && len > max
        {
            errors.push(format!(
                "{at}: {} is longer than {max} characters",
                show(value)
            ));
        }
    }
    if let Value::Array(items) = value {
        let len = items.len() as u64;
        if let Some(min) = bound("minItems")
            && len < min
        {
            errors.push(format!("{at}: {len} items, fewer than {min}"));
        }
        if let Some(max) = bound("maxItems")
            && len > max
        {
            errors.push(format!("{at}: {len} items, more than {max}"));
        }
        if let Some(item_schema) = object.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(item_schema, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Value::Object(fields) = value {
        if let Some(Value::Array(required)) = object.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    errors.push(format!("{at}: missing required key `{name}`"));
                }
            }
        }
        let properties = object.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            let location = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => validate(sub, field, &location, errors),
                None => {
                    if let Some(extra) = object.get("additionalProperties") {
                        if extra == &Value::Bool(false) {
                            errors.push(format!("{at}: key `{name}` is not allowed"));
                        } else {
                            validate(extra, field, &location, errors);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: Value, value: Value) -> Vec<String> {
        check_schema(&schema, "schema").unwrap();
        let mut errors = Vec::new();
        validate(&schema, &value, "$", &mut errors);
        errors
    }

    #[test]
    fn keywords() {
        let schema = json!({
            "type": "object",
            "required": ["releases", "env"],
            "properties": {
                "env": {"enum": ["staging", "production"]},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "releases": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "minLength": 5}
                },
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
            },
            "additionalProperties": false
        });
        let good =
            json!({"env": "staging", "replicas": 3, "releases": {"app": "1.2.3"}, "tags": ["a"]});
        assert_eq!(errors(schema.clone(), good), Vec::<String>::new());
        let bad = json!({
            "env": "dev", "replicas": 0, "releases": {"app": "1.2", "db": 7},
            "tags": ["a", 2, "c"], "extra": true
        });
        assert_eq!(
            errors(schema.clone(), bad),
            [
                "$.env: \"dev\" is not one of \"staging\", \"production\"",
                "$: key `extra` is not allowed",
                "$.releases.app: \"1.2\" is shorter than 5 characters",
                "$.releases.db: expected string, found integer 7",
                "$.replicas: 0 is less than the minimum 1",
                "$.tags: 3 items, more than 2",
                "$.tags[1]: expected string, found integer 2",
            ]
        );
        assert_eq!(
            errors(schema, json!({})),
            [
                "$: missing required key `releases`",
                "$: missing required key `env`"
            ]
        );
        assert_eq!(
            errors(json!({"type": ["integer", "null"]}), json!(2.0)),
            Vec::<String>::new()
        );
        assert_eq!(
            errors(json!({"const": 1}), json!(2)),
            ["$: expected 1, found 2"]
        );
    }

    #[test]
    fn unsupported_or_malformed_schemas_are_refused() {
        for (schema, needle) in [
            (
                json!({"$ref": "#/x"}),
                "schema: keyword `$ref` is not supported",
            ),
            (
                json!({"properties": {"a": {"pattern": "x"}}}),
                "schema.properties.a: keyword `pattern`",
            ),
            (
                json!({"type": "text"}),
                "schema.type: \"text\" is not a type",
            ),
            (
                json!({"required": "a"}),
                "schema.required: expected an array",
            ),
            (
                json!({"minLength": -1}),
                "schema.minLength: expected a non-negative",
            ),
            (json!(3), "schema: a schema must be an object"),
        ] {
            let e = check_schema(&schema, "schema").unwrap_err();
            assert!(e.starts_with(needle), "{e}");
        }
        assert!(check_schema(&json!({"title": "t", "description": "d"}), "s").is_ok());
    }
}
