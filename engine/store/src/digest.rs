//! Canonical JSON and SHA-256 digests: version identity, configuration and candidate identity.

use lockgate_model::Version;

pub(crate) use lockgate_model::sha256_hex;

/// Appends `value` as compact JSON with object keys sorted at every level, independently of
/// whether `serde_json` preserves insertion order.
pub(crate) fn canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Canonical JSON of a version (a sorted string map) and its digest.
pub(crate) fn version_json_and_digest(version: &Version) -> (String, String) {
    // `Version` is a BTreeMap<String, String>: serde_json writes it sorted and compact.
    let json = serde_json::to_string(version).expect("a string map always serializes");
    let digest = sha256_hex([json.as_bytes()]);
    (json, digest)
}

/// Digest of a job's input set: sorted `(name, version id)` pairs.
pub(crate) fn inputs_digest<'a>(inputs: impl IntoIterator<Item = (&'a str, i64)>) -> String {
    let mut pairs: Vec<(&str, i64)> = inputs.into_iter().collect();
    pairs.sort();
    let mut text = String::new();
    for (name, version_id) in pairs {
        text.push_str(name);
        text.push('\0');
        text.push_str(&version_id.to_string());
        text.push('\n');
    }
    sha256_hex([text.as_bytes()])
}

/// Digest of a candidate: its `(resource, version digest)` pairs, which must be sorted.
pub(crate) fn candidate_digest<'a>(
    sorted_pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut text = String::new();
    for (resource, digest) in sorted_pairs {
        text.push_str(resource);
        text.push('\0');
        text.push_str(digest);
        text.push('\n');
    }
    sha256_hex([text.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut a = String::new();
        canonical_json(
            &json!({"b": 1, "a": {"d": [1, {"z": "x", "y": null}], "c": true}}),
            &mut a,
        );
        assert_eq!(a, r#"{"a":{"c":true,"d":[1,{"y":null,"z":"x"}]},"b":1}"#);
    }

    #[test]
    fn version_digest_ignores_field_order() {
        let a = Version::new().with("ref", "abc").with("n", 1);
        let b = Version::new().with("n", 1).with("ref", "abc");
        assert_eq!(version_json_and_digest(&a), version_json_and_digest(&b));
        assert_eq!(version_json_and_digest(&a).0, r#"{"n":"1","ref":"abc"}"#);
        assert_ne!(
            version_json_and_digest(&a).1,
            version_json_and_digest(&Version::new().with("ref", "abd").with("n", 1)).1
        );
    }

    #[test]
    fn inputs_digest_is_order_independent_and_name_sensitive() {
        assert_eq!(
            inputs_digest([("a", 1), ("b", 2)]),
            inputs_digest([("b", 2), ("a", 1)])
        );
        assert_ne!(
            inputs_digest([("a", 1), ("b", 2)]),
            inputs_digest([("a", 2), ("b", 1)])
        );
        // The separator keeps ("a1", 1) and ("a", 11) apart.
        assert_ne!(inputs_digest([("a1", 1)]), inputs_digest([("a", 11)]));
    }
}
