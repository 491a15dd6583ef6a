//! Resource type `bosh-io-stemcell`: the versions of a stemcell as bosh.io lists them, and
//! their tarballs (light or regular), checksums verified.
//!
//! See README.md for the configuration. Versions are `{"version": "<version>"}` (`1.406`,
//! `621.5`), ordered as semver read tolerantly. `check` reads
//! `GET <api_url>/api/v1/stemcells/<name>`; `get` writes `version`, `url`, `sha1` and `sha256`
//! and downloads the tarball to `stemcell.tgz` (in ranges), verified against sha256 when
//! bosh.io gives one, else sha1.

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{Description, Error, Fetched, NoParams, ResourceType, Version};
use release_feed::bosh::{self, GetParams};
use release_feed::download::Download;
use release_feed::output::Output;
use release_feed::transport::{Sdk, Transport};
use release_feed::version::Filter;
use serde::Deserialize;

/// The tarball's file name in the output.
const TARBALL: &str = "stemcell.tgz";

/// The resource type.
pub struct BoshIoStemcell;

/// `source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The stemcell's name, e.g. `bosh-aws-xen-hvm-ubuntu-jammy-go_agent`.
    name: String,
    /// bosh.io's base URL.
    #[serde(default)]
    api_url: Option<String>,
    /// Light stemcells: `true`, `false` or `"auto"` (default).
    #[serde(default)]
    light: LightSetting,
    /// Only versions of this family (`1.406`: every 1.406.x).
    #[serde(default)]
    version_family: Option<String>,
    /// Only versions whose whole text matches this regexp.
    #[serde(default)]
    regexp: Option<String>,
}

/// `light` as written: a boolean or a word.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum LightSetting {
    Flag(bool),
    Word(String),
}

impl Default for LightSetting {
    fn default() -> Self {
        LightSetting::Word("auto".into())
    }
}

/// Which tarball of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Light {
    /// Light when the stemcell has light tarballs at all (then only versions whose light
    /// tarball is published), else regular.
    Auto,
    /// Only light tarballs.
    Only,
    /// Only regular tarballs.
    Never,
}

/// One version as bosh.io's API lists it.
#[derive(Debug, Clone, Deserialize)]
struct Entry {
    version: String,
    #[serde(default)]
    regular: Option<Tarball>,
    #[serde(default)]
    light: Option<Tarball>,
}

/// A tarball of a version.
#[derive(Debug, Clone, Deserialize)]
struct Tarball {
    url: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    sha1: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

/// A validated `source`.
#[derive(Debug)]
struct Config {
    api: String,
    name: String,
    light: Light,
    filter: Filter,
}

impl Source {
    fn validate(self) -> Result<Config, Error> {
        let api = release_feed::base_url(
            "source.api_url",
            self.api_url.as_deref().unwrap_or(bosh::DEFAULT_API),
        )?;
        let name = self.name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(Error::invalid_config(format!(
                "source.name: {:?} is not a stemcell name such as bosh-aws-xen-hvm-ubuntu-jammy-go_agent",
                self.name
            )));
        }
        let light = match &self.light {
            LightSetting::Flag(true) => Light::Only,
            LightSetting::Flag(false) => Light::Never,
            LightSetting::Word(w) if w == "auto" => Light::Auto,
            LightSetting::Word(w) if w == "true" => Light::Only,
            LightSetting::Word(w) if w == "false" => Light::Never,
            LightSetting::Word(w) => {
                return Err(Error::invalid_config(format!(
                    "source.light: `{w}` must be true, false or \"auto\""
                )));
            }
        };
        let filter = Filter::new(
            "source.version_family",
            self.version_family.as_deref(),
            "source.regexp",
            self.regexp.as_deref(),
        )?;
        Ok(Config {
            api,
            name: name.to_string(),
            light,
            filter,
        })
    }
}

impl Config {
    fn list_url(&self) -> String {
        format!(
            "{}/api/v1/stemcells/{}",
            self.api,
            release_feed::encode_path(&self.name, false)
        )
    }

    fn what(&self) -> String {
        format!("the stemcell {}", self.name)
    }

    fn list(&self, transport: &mut impl Transport) -> Result<Vec<Entry>, Error> {
        bosh::fetch_list(transport, &self.list_url(), &self.what())
    }

    /// The versions offered, oldest first: of the flavour `light` asks for, accepted by the
    /// filter.
    fn versions(&self, list: Vec<Entry>) -> Vec<(semver::Version, Entry)> {
        let total = list.len();
        let light = match self.light {
            Light::Auto => list.iter().any(|e| e.light.is_some()),
            Light::Only => true,
            Light::Never => false,
        };
        let flavoured: Vec<Entry> = list
            .into_iter()
            .filter(|e| {
                if light {
                    e.light.is_some()
                } else {
                    e.regular.is_some()
                }
            })
            .collect();
        let ordered = bosh::ordered(flavoured, |e| &e.version, &self.filter);
        lockgate_sdk::info!(
            "{}: {total} version(s) on bosh.io, {} offered ({} tarballs, {})",
            self.name,
            ordered.len(),
            if light { "light" } else { "regular" },
            self.filter.describe()
        );
        ordered
    }

    /// The tarball of `entry` to download, and which flavour it is.
    fn tarball<'a>(&self, entry: &'a Entry) -> Result<(&'a Tarball, &'static str), Error> {
        let missing = |flavour: &str| {
            Error::not_found(format!(
                "version {} of {} has no {flavour} stemcell on bosh.io",
                entry.version, self.name
            ))
        };
        match self.light {
            Light::Only => entry
                .light
                .as_ref()
                .map(|t| (t, "light"))
                .ok_or_else(|| missing("light")),
            Light::Never => entry
                .regular
                .as_ref()
                .map(|t| (t, "regular"))
                .ok_or_else(|| missing("regular")),
            Light::Auto => entry
                .light
                .as_ref()
                .map(|t| (t, "light"))
                .or_else(|| entry.regular.as_ref().map(|t| (t, "regular")))
                .ok_or_else(|| missing("light or regular")),
        }
    }
}

fn check(
    config: &Config,
    mut transport: impl Transport,
    from: Option<&Version>,
) -> Result<Vec<Version>, Error> {
    let ordered = config.versions(config.list(&mut transport)?);
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
    let entry = config
        .list(&mut transport)?
        .into_iter()
        .find(|e| e.version == wanted)
        .ok_or_else(|| {
            Error::not_found(format!(
                "version {wanted} of {} is not on bosh.io (any more)",
                config.name
            ))
        })?;
    let (tarball, flavour) = config.tarball(&entry)?;
    let what = format!("the {flavour} stemcell {} {wanted}", config.name);
    let checksum =
        bosh::expected_checksum(tarball.sha256.as_deref(), tarball.sha1.as_deref(), &what)?;
    let size = tarball.size.filter(|s| *s > 0);
    let mut fetched = Fetched::new(Version::new().with("version", &entry.version))
        .with_metadata("name", &config.name)
        .with_metadata("flavour", flavour)
        .with_metadata("url", &tarball.url);
    if let Some(size) = size {
        fetched = fetched.with_metadata("size", size);
    }
    if params.tarball {
        if checksum.is_none() {
            lockgate_sdk::warn!(
                "bosh.io gives no checksum of {what}: the tarball cannot be verified"
            );
        }
        let path = out.path(TARBALL)?;
        let done = Download::new(&tarball.url, &path, TARBALL)
            .expect(size, checksum.clone(), "bosh.io")
            .run(&mut transport)?;
        out.adopt(path);
        fetched = fetched.with_metadata("sha256_downloaded", &done.digests.sha256);
        if let Some(c) = &checksum {
            fetched = fetched.with_metadata("verified", c.algorithm);
        }
    }
    bosh::finish_get(
        out,
        fetched,
        &entry.version,
        &tarball.url,
        [("sha1", &tarball.sha1), ("sha256", &tarball.sha256)],
    )
}

impl ResourceType for BoshIoStemcell {
    type Source = Source;
    type GetParams = GetParams;
    type PutParams = NoParams;

    fn describe() -> Description {
        let mut properties = json!({
            "name": {
                "type": "string",
                "minLength": 1,
                "description": "The stemcell's name, e.g. bosh-aws-xen-hvm-ubuntu-jammy-go_agent"
            },
            "api_url": {
                "type": "string",
                "pattern": "^https?://",
                "default": bosh::DEFAULT_API,
                "description": "bosh.io's base URL (a mirror serving the same API)"
            },
            "light": {
                "oneOf": [{"type": "boolean"}, {"enum": ["auto", "true", "false"]}],
                "default": "auto",
                "description": "true: only light stemcells; false: only regular ones; auto: light when the stemcell has light tarballs (versions whose light tarball is not published yet wait), else regular"
            }
        });
        if let (Some(map), Some(extra)) = (
            properties.as_object_mut(),
            bosh::filter_schema_properties().as_object(),
        ) {
            map.extend(extra.clone());
        }
        Description::new("bosh-io-stemcell", env!("CARGO_PKG_VERSION"))
            .summary("Versions of a stemcell on bosh.io and their tarballs (light or regular), checksums verified")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": properties,
                "required": ["name"],
                "additionalProperties": false
            }))
            .get_params_schema(bosh::get_params_schema(TARBALL))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "put is not supported: bosh.io publishes stemcells."
            }))
            .network("bosh.io", 443, "bosh.io's API (or the host of source.api_url)")
            .network("storage.googleapis.com", 443, "the stemcell tarballs bosh.io lists (their `url`)")
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        check(&source.validate()?, Sdk, from.as_ref())
    }

    fn get(source: Source, version: Version, params: GetParams) -> Result<Fetched, Error> {
        get(&source.validate()?, Sdk, &version, &params, Output::new())
    }

    fn put(_: Source, _: NoParams) -> Result<Fetched, Error> {
        Err(Error::failed(
            "bosh-io-stemcell does not publish stemcells (put is not supported): bosh.io does",
        ))
    }
}

lockgate_sdk::export_resource_type!(BoshIoStemcell);

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use lockgate_sdk::http::Response;
    use release_feed::checksum::Digests;
    use release_feed::transport::Get;
    use release_feed::transport::testing::response;

    const REGULAR: &[u8] = b"a regular stemcell, large";
    const LIGHT: &[u8] = b"light";

    fn tarball(kind: &str, v: &str, bytes: &[u8], sha256: bool) -> serde_json::Value {
        let d = Digests::of(bytes);
        let mut t = json!({
            "url": format!("https://storage.example/{kind}-{v}.tgz"),
            "size": bytes.len(),
            "md5": "0123456789abcdef0123456789abcdef",
            "sha1": d.sha1
        });
        if sha256 {
            t["sha256"] = json!(d.sha256);
        }
        t
    }

    fn list() -> String {
        json!([
            {"name": "bosh-aws-xen-hvm-ubuntu-jammy-go_agent", "version": "1.406",
             "light": tarball("light", "1.406", LIGHT, true), "regular": tarball("regular", "1.406", REGULAR, true)},
            {"name": "bosh-aws-xen-hvm-ubuntu-jammy-go_agent", "version": "1.404",
             "regular": tarball("regular", "1.404", REGULAR, true)},
            {"name": "bosh-aws-xen-hvm-ubuntu-jammy-go_agent", "version": "1.351",
             "light": tarball("light", "1.351", LIGHT, false), "regular": tarball("regular", "1.351", REGULAR, false)},
            {"name": "bosh-aws-xen-hvm-ubuntu-jammy-go_agent", "version": "1.99",
             "light": tarball("light", "1.99", b"not this", false)}
        ])
        .to_string()
    }

    fn bosh_io(g: &Get) -> Result<Response, Error> {
        let url = g.url.as_str();
        if url == "https://bosh.io/api/v1/stemcells/bosh-aws-xen-hvm-ubuntu-jammy-go_agent" {
            return Ok(response(url, 200, &[], list()));
        }
        if url.starts_with("https://storage.example/light") {
            return Ok(response(url, 200, &[], LIGHT));
        }
        if url.starts_with("https://storage.example/regular") {
            return Ok(response(url, 200, &[], REGULAR));
        }
        Ok(response(url, 404, &[], ""))
    }

    fn config(light: serde_json::Value) -> Config {
        let mut s = json!({"name": "bosh-aws-xen-hvm-ubuntu-jammy-go_agent"});
        if !light.is_null() {
            s["light"] = light;
        }
        lockgate_sdk::parse_json::<Source>("source", &s.to_string())
            .unwrap()
            .validate()
            .unwrap()
    }

    fn versions(c: &Config, from: Option<&str>) -> Vec<String> {
        let from = from.map(|f| Version::new().with("version", f));
        check(c, bosh_io, from.as_ref())
            .unwrap()
            .into_iter()
            .map(|v| v.get("version").unwrap().to_string())
            .collect()
    }

    #[test]
    fn light_selection_in_check() {
        // auto: the stemcell has light tarballs, so versions without one (yet) wait.
        assert_eq!(
            versions(&config(json!(null)), Some("1.99")),
            ["1.99", "1.351", "1.406"]
        );
        assert_eq!(versions(&config(json!("auto")), None), ["1.406"]);
        assert_eq!(
            versions(&config(json!(true)), Some("1.351")),
            ["1.351", "1.406"]
        );
        assert_eq!(
            versions(&config(json!(false)), Some("1.351")),
            ["1.351", "1.404", "1.406"]
        );
        assert_eq!(
            versions(&config(json!("false")), Some("1.99")),
            ["1.406"],
            "1.99 has no regular"
        );
        let e = lockgate_sdk::parse_json::<Source>("source", r#"{"name": "x", "light": "maybe"}"#)
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.light")),
            "{e:?}"
        );
        let e = lockgate_sdk::parse_json::<Source>("source", r#"{"name": "a/b"}"#)
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.name")),
            "{e:?}"
        );
    }

    #[test]
    fn get_picks_the_flavour_and_verifies() {
        let dir = lockgate_sdk::testing::temp_dir("bosh-io-stemcell-get");
        let run = |c: &Config, v: &str| {
            get(
                c,
                bosh_io,
                &Version::new().with("version", v),
                &GetParams { tarball: true },
                Output::in_dir(&dir),
            )
        };
        let clean = || {
            for e in fs::read_dir(&dir).unwrap() {
                fs::remove_file(e.unwrap().path()).unwrap();
            }
        };
        let f = run(&config(json!(null)), "1.406").unwrap();
        assert_eq!(
            (f.metadata.get("flavour"), f.metadata.get("verified")),
            (Some("light"), Some("sha256"))
        );
        assert_eq!(fs::read(dir.join("stemcell.tgz")).unwrap(), LIGHT);
        clean();
        let f = run(&config(json!(false)), "1.406").unwrap();
        assert_eq!(f.metadata.get("flavour"), Some("regular"));
        assert_eq!(fs::read(dir.join("stemcell.tgz")).unwrap(), REGULAR);
        assert_eq!(
            fs::read_to_string(dir.join("url")).unwrap(),
            "https://storage.example/regular-1.406.tgz"
        );
        clean();
        // sha1 only.
        let f = run(&config(json!(true)), "1.351").unwrap();
        assert_eq!(f.metadata.get("verified"), Some("sha1"));
        assert!(dir.join("sha1").exists() && !dir.join("sha256").exists());
        clean();
        // auto on a version without light: regular.
        let f = run(&config(json!("auto")), "1.404").unwrap();
        assert_eq!(f.metadata.get("flavour"), Some("regular"));
        clean();
        let e = run(&config(json!(true)), "1.404").unwrap_err();
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("has no light stemcell")),
            "{e:?}"
        );
        // The light 1.99 tarball's sha1 and size do not match what is served.
        let e = run(&config(json!(true)), "1.99").unwrap_err();
        assert!(
            e.message()
                .starts_with("stemcell.tgz: bosh.io says 8 bytes"),
            "{e}"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
