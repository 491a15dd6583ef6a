//! Resource type `bosh-io-release`: the versions of a BOSH release as bosh.io lists them,
//! and their tarballs, checksums verified.
//!
//! See README.md for the configuration. Versions are `{"version": "<version>"}`, ordered as
//! semver read tolerantly (`0.283.0`, `270.12`, `1.406`). `check` reads
//! `GET <api_url>/api/v1/releases/<repository>`; `get` writes `version`, `url`, `sha1` and
//! `sha256` and downloads the tarball to `release.tgz` (in ranges, following bosh.io's
//! redirect), verified against sha256 when bosh.io gives one, else sha1.

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{Description, Error, Fetched, NoParams, ResourceType, Version};
use release_feed::bosh::{self, GetParams};
use release_feed::download::Download;
use release_feed::output::Output;
use release_feed::transport::{Sdk, Transport};
use release_feed::version::Filter;
use serde::Deserialize;

/// The tarball's file name in the output.
const TARBALL: &str = "release.tgz";

/// The resource type.
pub struct BoshIoRelease;

/// `source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The release as bosh.io names it: `github.com/cloudfoundry/routing-release`, or
    /// `cloudfoundry/routing-release` (then `github.com/` is implied).
    repository: String,
    /// bosh.io's base URL (a mirror, or a test server).
    #[serde(default)]
    api_url: Option<String>,
    /// Only versions of this family (`0.283`: every 0.283.x).
    #[serde(default)]
    version_family: Option<String>,
    /// Only versions whose whole text matches this regexp.
    #[serde(default)]
    regexp: Option<String>,
}

/// One version as bosh.io's API lists it.
#[derive(Debug, Clone, Deserialize)]
struct Entry {
    #[serde(default)]
    name: String,
    version: String,
    url: String,
    #[serde(default)]
    sha1: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

/// A validated `source`.
struct Config {
    api: String,
    repository: String,
    filter: Filter,
}

impl Source {
    fn validate(self) -> Result<Config, Error> {
        let api = release_feed::base_url(
            "source.api_url",
            self.api_url.as_deref().unwrap_or(bosh::DEFAULT_API),
        )?;
        let repository = release_name(&self.repository)?;
        let filter = Filter::new(
            "source.version_family",
            self.version_family.as_deref(),
            "source.regexp",
            self.regexp.as_deref(),
        )?;
        Ok(Config {
            api,
            repository,
            filter,
        })
    }
}

/// `owner/name` → `github.com/owner/name`; a name whose first part is a host stays.
fn release_name(text: &str) -> Result<String, Error> {
    let text = text.trim().trim_matches('/');
    let text = text.strip_prefix("https://").unwrap_or(text);
    let parts: Vec<&str> = text.split('/').collect();
    let valid = |p: &&str| {
        !p.is_empty()
            && *p != "."
            && *p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let has_host = parts.first().is_some_and(|p| p.contains('.'));
    let ok = parts.iter().all(valid)
        && if has_host {
            parts.len() >= 3
        } else {
            parts.len() == 2
        };
    if !ok {
        return Err(Error::invalid_config(format!(
            "source.repository: `{text}` is not a release as bosh.io names it: `cloudfoundry/routing-release` or `github.com/cloudfoundry/routing-release`"
        )));
    }
    Ok(if has_host {
        text.to_string()
    } else {
        format!("github.com/{text}")
    })
}

impl Config {
    fn list_url(&self) -> String {
        format!(
            "{}/api/v1/releases/{}",
            self.api,
            release_feed::encode_path(&self.repository, true)
        )
    }

    fn what(&self) -> String {
        format!("the release {}", self.repository)
    }

    /// The versions `filter` accepts, oldest first.
    fn versions(
        &self,
        transport: &mut impl Transport,
    ) -> Result<Vec<(semver::Version, Entry)>, Error> {
        let list: Vec<Entry> = bosh::fetch_list(transport, &self.list_url(), &self.what())?;
        let total = list.len();
        let ordered = bosh::ordered(list, |e| &e.version, &self.filter);
        lockgate_sdk::info!(
            "{}: {total} version(s) on bosh.io, {} offered ({})",
            self.repository,
            ordered.len(),
            self.filter.describe()
        );
        Ok(ordered)
    }
}

fn check(
    config: &Config,
    mut transport: impl Transport,
    from: Option<&Version>,
) -> Result<Vec<Version>, Error> {
    let ordered = config.versions(&mut transport)?;
    Ok(bosh::check_answer(&ordered, from, |e| &e.version))
}

fn get(
    config: &Config,
    mut transport: impl Transport,
    version: &Version,
    params: &GetParams,
    mut out: Output,
) -> Result<Fetched, Error> {
    let wanted = bosh::requested(version)?;
    let list: Vec<Entry> = bosh::fetch_list(&mut transport, &config.list_url(), &config.what())?;
    let entry = list
        .into_iter()
        .find(|e| e.version == wanted)
        .ok_or_else(|| {
            Error::not_found(format!(
                "version {wanted} of {} is not on bosh.io (any more)",
                config.repository
            ))
        })?;
    let what = format!("version {wanted} of {}", config.repository);
    let checksum = bosh::expected_checksum(entry.sha256.as_deref(), entry.sha1.as_deref(), &what)?;
    let mut fetched = Fetched::new(Version::new().with("version", &entry.version))
        .with_metadata(
            "name",
            if entry.name.is_empty() {
                &config.repository
            } else {
                &entry.name
            },
        )
        .with_metadata("url", &entry.url);
    if params.tarball {
        if checksum.is_none() {
            lockgate_sdk::warn!(
                "bosh.io gives no checksum of {what}: the tarball cannot be verified"
            );
        }
        let path = out.path(TARBALL)?;
        let done = Download::new(&entry.url, &path, TARBALL)
            .expect(None, checksum.clone(), "bosh.io")
            .run(&mut transport)?;
        out.adopt(path);
        fetched = fetched
            .with_metadata("size", done.digests.size)
            .with_metadata("sha256_downloaded", &done.digests.sha256);
        if let Some(c) = &checksum {
            fetched = fetched.with_metadata("verified", c.algorithm);
        }
    }
    bosh::finish_get(
        out,
        fetched,
        &entry.version,
        &entry.url,
        [("sha1", &entry.sha1), ("sha256", &entry.sha256)],
    )
}

impl ResourceType for BoshIoRelease {
    type Source = Source;
    type GetParams = GetParams;
    type PutParams = NoParams;

    fn describe() -> Description {
        let mut properties = json!({
            "repository": {
                "type": "string",
                "minLength": 3,
                "description": "The release as bosh.io names it: github.com/cloudfoundry/routing-release, or cloudfoundry/routing-release (github.com/ implied)"
            },
            "api_url": {
                "type": "string",
                "pattern": "^https?://",
                "default": bosh::DEFAULT_API,
                "description": "bosh.io's base URL (a mirror serving the same API)"
            }
        });
        if let (Some(map), Some(extra)) = (
            properties.as_object_mut(),
            bosh::filter_schema_properties().as_object(),
        ) {
            map.extend(extra.clone());
        }
        Description::new("bosh-io-release", env!("CARGO_PKG_VERSION"))
            .summary("Versions of a BOSH release on bosh.io and their tarballs, checksums verified")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": properties,
                "required": ["repository"],
                "additionalProperties": false
            }))
            .get_params_schema(bosh::get_params_schema(TARBALL))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "put is not supported: bosh.io lists releases built from their repositories."
            }))
            .network("bosh.io", 443, "bosh.io's API and download links (or the host of source.api_url)")
            .network(
                "*",
                443,
                "the host bosh.io's download link redirects to for the tarball (grant the one the error names, e.g. github.com and release-assets.githubusercontent.com, or s3.amazonaws.com)",
            )
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        check(&source.validate()?, Sdk, from.as_ref())
    }

    fn get(source: Source, version: Version, params: GetParams) -> Result<Fetched, Error> {
        get(&source.validate()?, Sdk, &version, &params, Output::new())
    }

    fn put(_: Source, _: NoParams) -> Result<Fetched, Error> {
        Err(Error::failed(
            "bosh-io-release does not publish releases (put is not supported): bosh.io builds them from their repositories",
        ))
    }
}

lockgate_sdk::export_resource_type!(BoshIoRelease);

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use lockgate_sdk::http::Response;
    use release_feed::checksum::Digests;
    use release_feed::transport::Get;
    use release_feed::transport::testing::response;

    fn config(json: serde_json::Value) -> Result<Config, Error> {
        lockgate_sdk::parse_json::<Source>("source", &json.to_string())?.validate()
    }

    #[test]
    fn release_names() {
        assert_eq!(
            release_name("cloudfoundry/routing-release").unwrap(),
            "github.com/cloudfoundry/routing-release"
        );
        assert_eq!(
            release_name("github.com/cloudfoundry/routing-release").unwrap(),
            "github.com/cloudfoundry/routing-release"
        );
        assert_eq!(
            release_name("https://github.com/a/b/").unwrap(),
            "github.com/a/b"
        );
        for bad in [
            "routing-release",
            "a/b/c",
            "github.com/a",
            "a/../b",
            "a b/c",
            "",
        ] {
            let e = release_name(bad).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.repository")),
                "{bad}"
            );
        }
    }

    const TARBALL_BYTES: &[u8] = b"a release tarball";

    fn list() -> String {
        let d = Digests::of(TARBALL_BYTES);
        json!([
            {"name": "github.com/cloudfoundry/routing-release", "version": "0.300.0",
             "url": "https://bosh.io/d/github.com/cloudfoundry/routing-release?v=0.300.0",
             "sha1": d.sha1, "sha256": format!("sha256:{}", d.sha256)},
            {"name": "github.com/cloudfoundry/routing-release", "version": "0.299.0",
             "url": "https://bosh.io/d/github.com/cloudfoundry/routing-release?v=0.299.0",
             "sha1": d.sha1},
            {"name": "github.com/cloudfoundry/routing-release", "version": "0.298.0",
             "url": "https://bosh.io/d/github.com/cloudfoundry/routing-release?v=0.298.0",
             "sha1": Digests::of(b"else").sha1},
            {"name": "github.com/cloudfoundry/routing-release", "version": "0.99.0",
             "url": "https://bosh.io/d/github.com/cloudfoundry/routing-release?v=0.99.0",
             "sha1": d.sha1}
        ])
        .to_string()
    }

    fn bosh_io(g: &Get) -> Result<Response, Error> {
        match g.url.as_str() {
            "https://bosh.io/api/v1/releases/github.com/cloudfoundry/routing-release" => {
                Ok(response(&g.url, 200, &[], list()))
            }
            url if url.starts_with("https://bosh.io/d/") => Ok(response(
                "https://s3.example/tarball",
                200,
                &[],
                TARBALL_BYTES,
            )),
            _ => Ok(response(&g.url, 404, &[], "")),
        }
    }

    fn versions(config: &Config, from: Option<&str>) -> Vec<String> {
        let from = from.map(|f| Version::new().with("version", f));
        check(config, bosh_io, from.as_ref())
            .unwrap()
            .into_iter()
            .map(|v| v.get("version").unwrap().to_string())
            .collect()
    }

    #[test]
    fn check_orders_and_filters() {
        let c = config(json!({"repository": "cloudfoundry/routing-release"})).unwrap();
        assert_eq!(versions(&c, None), ["0.300.0"]);
        assert_eq!(
            versions(&c, Some("0.298.0")),
            ["0.298.0", "0.299.0", "0.300.0"]
        );
        assert_eq!(versions(&c, Some("0.1.0")), ["0.300.0"]);
        let c =
            config(json!({"repository": "cloudfoundry/routing-release", "version_family": "0.99"}))
                .unwrap();
        assert_eq!(versions(&c, None), ["0.99.0"]);
        let c = config(json!({"repository": "cloudfoundry/routing-release", "regexp": r"0\.29.*"}))
            .unwrap();
        assert_eq!(versions(&c, Some("0.99.0")), ["0.299.0"]);
        assert!(config(json!({"repository": "x/y", "version_family": "one"})).is_err());
    }

    #[test]
    fn get_verifies_sha256_else_sha1() {
        let dir = lockgate_sdk::testing::temp_dir("bosh-io-release-get");
        let c = config(json!({"repository": "github.com/cloudfoundry/routing-release"})).unwrap();
        let params = GetParams { tarball: true };
        let get_version = |v: &str| {
            get(
                &c,
                bosh_io,
                &Version::new().with("version", v),
                &params,
                Output::in_dir(&dir),
            )
        };
        let fetched = get_version("0.300.0").unwrap();
        assert_eq!(fetched.metadata.get("verified"), Some("sha256"));
        assert_eq!(fs::read(dir.join("release.tgz")).unwrap(), TARBALL_BYTES);
        assert_eq!(fs::read_to_string(dir.join("version")).unwrap(), "0.300.0");
        assert_eq!(
            fs::read_to_string(dir.join("sha256")).unwrap(),
            Digests::of(TARBALL_BYTES).sha256
        );
        for f in ["release.tgz", "version", "url", "sha1", "sha256"] {
            fs::remove_file(dir.join(f)).unwrap();
        }
        let fetched = get_version("0.299.0").unwrap();
        assert_eq!(fetched.metadata.get("verified"), Some("sha1"));
        assert!(!dir.join("sha256").exists());
        for f in ["release.tgz", "version", "url", "sha1"] {
            fs::remove_file(dir.join(f)).unwrap();
        }
        let e = get_version("0.298.0").unwrap_err();
        assert!(
            e.message()
                .starts_with("release.tgz: sha1 mismatch: bosh.io says "),
            "{e}"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing left");
        let e = get_version("0.1.0").unwrap_err();
        assert!(matches!(e, Error::NotFound(_)), "{e:?}");
        // Without the tarball: only the small files.
        get(
            &c,
            bosh_io,
            &Version::new().with("version", "0.298.0"),
            &GetParams { tarball: false },
            Output::in_dir(&dir),
        )
        .unwrap();
        let mut files: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["sha1", "url", "version"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
