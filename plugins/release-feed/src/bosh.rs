//! What `bosh-io-release` and `bosh-io-stemcell` share: bosh.io's API (a JSON array of
//! versions, newest first), the version filter, `check`'s answer and the `tarball` param.

use lockgate_sdk::serde_json::{Value, json};
use lockgate_sdk::{Error, Version};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::checksum::Checksum;
use crate::transport::{Get, Transport};
use crate::version::{self, Filter};
use crate::{preview, status_error};

/// bosh.io itself.
pub const DEFAULT_API: &str = "https://bosh.io";

/// `get` params of both types.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// Download the tarball (default); `false` writes only the small files.
    #[serde(default = "yes")]
    pub tarball: bool,
}

fn yes() -> bool {
    true
}

/// The JSON Schema of [`GetParams`]; `file` names the tarball.
pub fn get_params_schema(file: &str) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "tarball": {
                "type": "boolean",
                "default": true,
                "description": format!("Download the tarball to {file} (verified); false writes only version, url and the checksum files")
            }
        },
        "additionalProperties": false
    })
}

/// The schema properties `version_family` and `regexp` (for both sources).
pub fn filter_schema_properties() -> Value {
    json!({
        "version_family": {
            "type": "string",
            "pattern": "^(latest|[0-9]+(\\.[0-9]+){0,2})$",
            "description": "Only versions of this family: `1.406` is every 1.406.x, `621` every 621.x; `latest` (default) is every version"
        },
        "regexp": {
            "type": "string",
            "description": "Only versions whose whole text matches this regexp, e.g. 0\\.2[0-9]{2}\\..*"
        }
    })
}

/// Gets bosh.io's list at `url` (a JSON array) as `T`s; `what` names it in messages (`the
/// release github.com/cloudfoundry/routing-release`).
pub fn fetch_list<T: DeserializeOwned>(
    transport: &mut impl Transport,
    url: &str,
    what: &str,
) -> Result<Vec<T>, Error> {
    let get = Get::new(url).header("Accept", "application/json");
    let response = transport.get(&get)?;
    match response.status {
        200 => {}
        404 => {
            return Err(Error::failed(format!(
                "{}: 404: bosh.io does not know {what}: {}",
                get.what(),
                preview(&response.body)
            )));
        }
        _ => return Err(status_error(&get.what(), &response)),
    }
    let list: Vec<T> = lockgate_sdk::serde_json::from_slice(&response.body).map_err(|e| {
        Error::failed(format!(
            "{}: the answer is not the list of versions expected ({e}): {}",
            get.what(),
            preview(&response.body)
        ))
    })?;
    if list.is_empty() {
        lockgate_sdk::warn!("bosh.io lists no version of {what} ({})", get.url);
    }
    Ok(list)
}

/// The entries `filter` accepts, oldest first; versions that are not versions are logged
/// and left out.
pub fn ordered<T>(
    entries: Vec<T>,
    version_of: impl Fn(&T) -> &str,
    filter: &Filter,
) -> Vec<(semver::Version, T)> {
    let (ordered, skipped) = version::order(entries, &version_of);
    if !skipped.is_empty() {
        lockgate_sdk::debug!(
            "left out {} version(s) that cannot be ordered: {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    ordered
        .into_iter()
        .filter(|(v, item)| filter.accepts(version_of(item), v))
        .collect()
}

/// `check`'s answer: `{version}` of `from` and every newer entry when `from` is listed,
/// else of the newest.
pub fn check_answer<T>(
    ordered: &[(semver::Version, T)],
    from: Option<&Version>,
    version_of: impl Fn(&T) -> &str,
) -> Vec<Version> {
    let position = from.and_then(|f| f.get("version")).and_then(|wanted| {
        ordered
            .iter()
            .position(|(_, item)| version_of(item) == wanted)
    });
    version::since(ordered, position)
        .iter()
        .map(|(_, item)| Version::new().with("version", version_of(item)))
        .collect()
}

/// The `version` field of a version `get` was given.
pub fn requested(version: &Version) -> Result<&str, Error> {
    version.get("version").ok_or_else(|| {
        Error::invalid_config(format!("the version {version} has no `version` field"))
    })
}

/// The checksum to verify a download with: sha256 when bosh.io gives one, else sha1
/// (either field may hold bare hex or `<algorithm>:<hex>`, sha1 also BOSH's multi-digest
/// `sha1:…;sha256:…`). `None` when neither is given.
pub fn expected_checksum(
    sha256: Option<&str>,
    sha1: Option<&str>,
    what: &str,
) -> Result<Option<Checksum>, Error> {
    let mut all = Vec::new();
    for (field, text) in [("sha256", sha256), ("sha1", sha1)] {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            continue;
        };
        let parsed = Checksum::parse_any(text).map_err(|why| {
            Error::failed(format!(
                "bosh.io's `{field}` of {what} is not usable: {why}"
            ))
        })?;
        all.extend(parsed);
    }
    Ok(Checksum::strongest(&all).cloned())
}

/// The end of both types' `get`: writes `version`, `url` and the `sha1`/`sha256` files bosh.io
/// gave (bare hex), adds those sums to `fetched`'s metadata, and keeps everything written.
pub fn finish_get(
    mut out: crate::output::Output,
    mut fetched: lockgate_sdk::Fetched,
    version: &str,
    url: &str,
    sums: [(&str, &Option<String>); 2],
) -> Result<lockgate_sdk::Fetched, Error> {
    out.write("version", version)?;
    out.write("url", url)?;
    for (file, value) in sums {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            out.write(file, bare_hex(value))?;
            fetched = fetched.with_metadata(file, bare_hex(value));
        }
    }
    out.keep();
    Ok(fetched)
}

/// Trims a checksum field for a file: `sha256:<hex>` → `<hex>`.
pub fn bare_hex(text: &str) -> &str {
    let text = text.trim();
    text.split_once(':').map_or(text, |(_, hex)| hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::Algorithm;
    use crate::transport::testing::response;

    const SHA1: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
    const SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn checksums_prefer_sha256() {
        let c = expected_checksum(Some(SHA256), Some(SHA1), "x")
            .unwrap()
            .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        let c = expected_checksum(Some(&format!("sha256:{SHA256}")), None, "x")
            .unwrap()
            .unwrap();
        assert_eq!(c.hex, SHA256);
        let c = expected_checksum(None, Some(SHA1), "x").unwrap().unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha1);
        let c = expected_checksum(Some(""), Some(&format!("sha1:{SHA1};sha256:{SHA256}")), "x")
            .unwrap()
            .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(expected_checksum(None, None, "x").unwrap(), None);
        let e = expected_checksum(None, Some("nope"), "version 1.0").unwrap_err();
        assert!(
            e.message()
                .starts_with("bosh.io's `sha1` of version 1.0 is not usable: "),
            "{e}"
        );
        assert_eq!(bare_hex(&format!("sha256:{SHA256}")), SHA256);
        assert_eq!(bare_hex(SHA1), SHA1);
    }

    #[derive(Debug, Deserialize)]
    struct Entry {
        version: String,
    }

    #[test]
    fn lists_order_and_answers() {
        let body =
            r#"[{"version":"0.283.0"},{"version":"0.99.1"},{"version":"0.300.0"},{"version":"x"}]"#;
        let list: Vec<Entry> = fetch_list(
            &mut |g: &Get| Ok(response(&g.url, 200, &[], body)),
            "https://bosh.io/api/v1/releases/github.com/a/b",
            "the release github.com/a/b",
        )
        .unwrap();
        let ordered = ordered(list, |e| &e.version, &Filter::default());
        let texts: Vec<&str> = ordered.iter().map(|(_, e)| e.version.as_str()).collect();
        assert_eq!(texts, ["0.99.1", "0.283.0", "0.300.0"]);
        let answer = |from: Option<&str>| -> Vec<String> {
            let from = from.map(|f| Version::new().with("version", f));
            check_answer(&ordered, from.as_ref(), |e| &e.version)
                .into_iter()
                .map(|v| v.get("version").unwrap().to_string())
                .collect()
        };
        assert_eq!(answer(None), ["0.300.0"]);
        assert_eq!(answer(Some("0.283.0")), ["0.283.0", "0.300.0"]);
        assert_eq!(answer(Some("0.1.0")), ["0.300.0"]);

        let e = fetch_list::<Entry>(
            &mut |g: &Get| Ok(response(&g.url, 404, &[], "Not Found")),
            "https://bosh.io/api/v1/releases/github.com/a/nope",
            "the release github.com/a/nope",
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            "GET https://bosh.io/api/v1/releases/github.com/a/nope: 404: bosh.io does not know the release github.com/a/nope: \"Not Found\""
        );
        let e = fetch_list::<Entry>(
            &mut |g: &Get| Ok(response(&g.url, 200, &[], "<html>")),
            "https://bosh.io/api/v1/releases/github.com/a/b",
            "r",
        )
        .unwrap_err();
        assert!(
            e.message().contains("is not the list of versions expected"),
            "{e}"
        );
        assert_eq!(
            requested(&Version::new().with("version", "1")).unwrap(),
            "1"
        );
        assert!(matches!(
            requested(&Version::new()),
            Err(Error::InvalidConfig(_))
        ));
    }
}
