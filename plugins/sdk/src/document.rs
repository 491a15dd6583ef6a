//! Reading YAML or JSON documents (manifests, versions files) from the sandbox (feature `yaml`).

use std::path::Path;

use serde_json::Value;

/// Reads the document at `path`: JSON when the file name ends in `.json`, YAML otherwise.
/// `reference` names it in messages (the `<input>/<path>` the configuration gave).
pub fn load(path: &Path, reference: &str) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read `{reference}`: {e}"))?;
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if json {
        serde_json::from_str(&text).map_err(|e| format!("`{reference}` is not valid JSON: {e}"))
    } else {
        serde_saphyr::from_str(&text).map_err(|e| format!("`{reference}` is not valid YAML: {e}"))
    }
}
