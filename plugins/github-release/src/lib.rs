//! Resource type `github-release`: the releases of a GitHub repository, in semver order of
//! their tags, and their assets.
//!
//! See README.md for the configuration. Versions are `{"tag": "<tag>", "id": "<release
//! id>"}`. `check` lists every release through the REST API (`per_page=100`, following
//! `Link: …; rel="next"`), leaves out drafts, prereleases unless `pre_release: true`, and tags
//! that `tag_filter` does not match or that are no version. `get` downloads the assets
//! matching `globs` through the asset API (in ranges, verified against the size and the
//! `digest` GitHub gives) and writes `tag`, `version`, `body` and `commit_sha`.

use glob::Pattern;
use lockgate_sdk::serde_json::json;
use lockgate_sdk::{Description, Error, Fetched, NoParams, ResourceType, Version};
use regex::Regex;
use release_feed::checksum::{Checksum, Digests};
use release_feed::download::Download;
use release_feed::output::Output;
use release_feed::transport::{Sdk, Transport};
use release_feed::version::{parse_tolerant, since};
use serde::Deserialize;

mod api;

use api::{Asset, GitHub, Listed, Release};

/// GitHub.com's API.
const DEFAULT_API: &str = "https://api.github.com";
/// The tag filter without `tag_filter`: an optional `v`, then the version.
const DEFAULT_TAG_FILTER: &str = "v?([^v].*)";
/// Files `get` writes besides the assets.
const FILES: [&str; 4] = ["tag", "version", "body", "commit_sha"];
/// Assets listed one by one in the metadata; more are counted.
const MAX_ASSET_METADATA: usize = 200;

/// The resource type.
pub struct GithubRelease;

/// `source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The repository's owner (user or organisation).
    owner: String,
    /// The repository's name.
    repository: String,
    /// The API's base URL (GitHub Enterprise: `https://ghe.example/api/v3`).
    #[serde(default)]
    api_url: Option<String>,
    /// A token (from `((secrets))`), sent as `Authorization: Bearer`.
    #[serde(default)]
    access_token: Option<String>,
    /// Offer releases marked as prereleases.
    #[serde(default)]
    pre_release: bool,
    /// Offer final releases (default).
    #[serde(default = "yes")]
    release: bool,
    /// A regexp the whole tag must match; its group `version` (else its first group, else
    /// the whole match) is the version.
    #[serde(default)]
    tag_filter: Option<String>,
}

fn yes() -> bool {
    true
}

/// `get` params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// Shell patterns of the asset names to download (default: every asset).
    #[serde(default)]
    globs: Option<Vec<String>>,
}

/// A validated `source`.
struct Config {
    api: String,
    owner: String,
    repository: String,
    token: Option<String>,
    pre_release: bool,
    release: bool,
    tag_filter: Regex,
}

impl Source {
    fn validate(self) -> Result<Config, Error> {
        let api = release_feed::base_url(
            "source.api_url",
            self.api_url.as_deref().unwrap_or(DEFAULT_API),
        )?;
        let name_ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !name_ok(&self.owner) {
            return Err(Error::invalid_config(format!(
                "source.owner: {:?} is not a GitHub user or organisation name",
                self.owner
            )));
        }
        if !name_ok(&self.repository) {
            return Err(Error::invalid_config(format!(
                "source.repository: {:?} is not a repository name (give the owner in source.owner)",
                self.repository
            )));
        }
        let token = match self.access_token {
            None => None,
            Some(t) if t.trim().is_empty() => {
                return Err(Error::invalid_config(
                    "source.access_token: empty (an unset secret?); leave it out for anonymous access",
                ));
            }
            Some(t) if t.contains(['\r', '\n']) => {
                return Err(Error::invalid_config(
                    "source.access_token: must be a single line",
                ));
            }
            Some(t) => Some(t.trim().to_string()),
        };
        if !self.release && !self.pre_release {
            return Err(Error::invalid_config(
                "source.release and source.pre_release are both false: no release would ever be offered",
            ));
        }
        let filter = self.tag_filter.as_deref().unwrap_or(DEFAULT_TAG_FILTER);
        let tag_filter = Regex::new(&format!("^(?:{filter})$")).map_err(|e| {
            Error::invalid_config(format!(
                "source.tag_filter: `{filter}` is not a valid regexp: {e}"
            ))
        })?;
        Ok(Config {
            api,
            owner: self.owner,
            repository: self.repository,
            token,
            pre_release: self.pre_release,
            release: self.release,
            tag_filter,
        })
    }
}

impl Config {
    fn client<T: Transport>(&self, transport: T) -> Result<GitHub<T>, Error> {
        GitHub::new(
            transport,
            &self.api,
            &self.owner,
            &self.repository,
            self.token.clone(),
        )
    }

    /// The version text a tag carries, and its semver; `None` when the filter does not match
    /// or the text is no version.
    fn version_of(&self, tag: &str) -> Option<(String, semver::Version)> {
        let caps = self.tag_filter.captures(tag)?;
        let text = caps
            .name("version")
            .or_else(|| caps.get(1))
            .or_else(|| caps.get(0))?
            .as_str();
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        parse_tolerant(text).map(|v| (text.to_string(), v))
    }

    /// The releases offered, oldest first (by semver, then id).
    fn offered(&self, releases: Vec<Listed>) -> Vec<(semver::Version, Listed)> {
        let mut skipped = Skipped::default();
        let mut offered = Vec::new();
        for r in releases {
            if r.draft {
                skipped.drafts += 1;
            } else if r.prerelease && !self.pre_release {
                skipped.prereleases += 1;
            } else if !r.prerelease && !self.release {
                skipped.finals += 1;
            } else {
                match self.version_of(&r.tag_name) {
                    Some((_, v)) => offered.push((v, r)),
                    None => skipped.tags.push(r.tag_name),
                }
            }
        }
        offered.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        skipped.log(self.tag_filter.as_str());
        offered
    }
}

/// What `check` left out, for one log line.
#[derive(Default)]
struct Skipped {
    drafts: usize,
    prereleases: usize,
    finals: usize,
    tags: Vec<String>,
}

impl Skipped {
    fn log(&self, filter: &str) {
        let mut parts = Vec::new();
        if self.drafts > 0 {
            parts.push(format!("{} draft(s)", self.drafts));
        }
        if self.prereleases > 0 {
            parts.push(format!(
                "{} prerelease(s) (pre_release: true offers them)",
                self.prereleases
            ));
        }
        if self.finals > 0 {
            parts.push(format!("{} final release(s) (release: false)", self.finals));
        }
        if !self.tags.is_empty() {
            let mut shown: Vec<&str> = self.tags.iter().map(String::as_str).take(10).collect();
            if self.tags.len() > shown.len() {
                shown.push("…");
            }
            parts.push(format!(
                "{} tag(s) that {filter} does not match or that are no version: {}",
                self.tags.len(),
                shown.join(", ")
            ));
        }
        if !parts.is_empty() {
            lockgate_sdk::debug!("left out {}", parts.join("; "));
        }
    }
}

fn version_of(release: &Listed) -> Version {
    Version::new()
        .with("tag", &release.tag_name)
        .with("id", release.id)
}

/// Where `from` is among `offered`: by `id` when it has one, else by `tag`.
fn position(offered: &[(semver::Version, Listed)], from: &Version) -> Option<usize> {
    match (from.get("id"), from.get("tag")) {
        (Some(id), _) => offered.iter().position(|(_, r)| r.id.to_string() == id),
        (None, Some(tag)) => offered.iter().rposition(|(_, r)| r.tag_name == tag),
        (None, None) => None,
    }
}

fn check(
    config: &Config,
    transport: impl Transport,
    from: Option<Version>,
) -> Result<Vec<Version>, Error> {
    let mut github = config.client(transport)?;
    let (releases, pages) = github.releases()?;
    let total = releases.len();
    let offered = config.offered(releases);
    lockgate_sdk::info!(
        "{}: {total} release(s) on {pages} page(s), {} offered",
        github.slug(),
        offered.len()
    );
    let at = from.as_ref().and_then(|f| position(&offered, f));
    if let (Some(f), None) = (&from, at) {
        lockgate_sdk::debug!("{f} is not among the releases offered: answering the newest");
    }
    Ok(since(&offered, at)
        .iter()
        .map(|(_, r)| version_of(r))
        .collect())
}

/// The release `version` designates: by id, else (or when the id is gone) by tag.
fn find_release<T: Transport>(github: &mut GitHub<T>, version: &Version) -> Result<Release, Error> {
    if let Some(id) = version.get("id") {
        let id: u64 = id.parse().map_err(|_| {
            Error::invalid_config(format!("the version's id `{id}` is not a release id"))
        })?;
        if let Some(release) = github.release_by_id(id)? {
            if release.draft {
                return Err(Error::not_found(format!(
                    "the release {version} of {} is a draft now",
                    github.slug()
                )));
            }
            if let Some(tag) = version.get("tag")
                && tag != release.tag_name
            {
                lockgate_sdk::warn!(
                    "release {id} is tagged {} now (it was {tag} when checked)",
                    release.tag_name
                );
            }
            return Ok(release);
        }
    }
    if let Some(tag) = version.get("tag")
        && let Some(release) = github.release_by_tag(tag)?
    {
        return Ok(release);
    }
    Err(Error::not_found(format!(
        "the release {version} no longer exists in {}",
        github.slug()
    )))
}

/// The assets `globs` selects (every asset without globs).
fn select<'a>(
    assets: &'a [Asset],
    globs: Option<&[String]>,
    tag: &str,
) -> Result<Vec<&'a Asset>, Error> {
    let Some(globs) = globs else {
        return Ok(assets.iter().collect());
    };
    let patterns = globs
        .iter()
        .enumerate()
        .map(|(i, g)| {
            Pattern::new(g).map_err(|e| {
                Error::invalid_config(format!(
                    "params.globs[{i}]: `{g}` is not a valid pattern: {e}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (glob, pattern) in globs.iter().zip(&patterns) {
        if !assets.iter().any(|a| pattern.matches(&a.name)) {
            lockgate_sdk::warn!("params.globs: `{glob}` matches no asset of {tag}");
        }
    }
    let selected: Vec<&Asset> = assets
        .iter()
        .filter(|a| patterns.iter().any(|p| p.matches(&a.name)))
        .collect();
    if selected.is_empty() && !globs.is_empty() {
        let names: Vec<&str> = assets.iter().map(|a| a.name.as_str()).collect();
        return Err(Error::not_found(format!(
            "params.globs {globs:?} match no asset of release {tag} (its assets: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    Ok(selected)
}

fn get(
    config: &Config,
    transport: impl Transport,
    version: &Version,
    params: &GetParams,
    mut out: Output,
) -> Result<Fetched, Error> {
    let mut github = config.client(transport)?;
    let release = find_release(&mut github, version)?;
    let tag = release.tag_name.clone();
    let assets = select(&release.assets, params.globs.as_deref(), &tag)?;
    for asset in &assets {
        if FILES.contains(&asset.name.as_str()) {
            return Err(Error::failed(format!(
                "the asset `{}` of {tag} has the name of a file this type writes ({}); leave it out with params.globs",
                asset.name,
                FILES.join(", ")
            )));
        }
        if let Some(state) = asset.state.as_deref().filter(|s| *s != "uploaded") {
            return Err(Error::failed(format!(
                "the asset `{}` of {tag} is not completely uploaded yet (state `{state}`)",
                asset.name
            )));
        }
    }
    let mut downloaded: Vec<(&Asset, Digests)> = Vec::new();
    for asset in &assets {
        let checksum = match asset.digest.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(d) => Some(
                Checksum::parse_any(d)
                    .map_err(|why| {
                        Error::failed(format!(
                            "the GitHub API's digest of asset `{}`: {why}",
                            asset.name
                        ))
                    })
                    .map(|all| Checksum::strongest(&all).cloned())?
                    .ok_or_else(|| Error::failed("an empty digest"))?,
            ),
            None => None,
        };
        let url = github.asset_url(asset.id);
        let path = out.path(&asset.name)?;
        let mut download = Download::new(&url, &path, &asset.name).expect(
            Some(asset.size),
            checksum,
            "the GitHub API",
        );
        download.headers = github.headers(&url, "application/octet-stream");
        let done = download.run(&mut github)?;
        out.adopt(path);
        downloaded.push((asset, done.digests));
    }

    let version_text = config
        .version_of(&tag)
        .map(|(text, _)| text)
        .unwrap_or_else(|| tag.trim_start_matches(['v', 'V']).to_string());
    out.write("tag", &tag)?;
    out.write("version", &version_text)?;
    out.write("body", release.body.as_deref().unwrap_or_default())?;
    let commit = match github.commit_sha(&tag)? {
        Some(sha) => Some(sha),
        // No tag yet: GitHub creates it from `target_commitish` on publishing; a full commit
        // id there is the commit.
        None => match release.target_commitish.as_deref() {
            Some(sha) if sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(sha.to_string())
            }
            _ => {
                lockgate_sdk::warn!("the tag {tag} does not exist (yet): no commit_sha");
                None
            }
        },
    };
    if let Some(sha) = &commit {
        out.write("commit_sha", sha)?;
    }
    out.keep();

    let mut fetched = Fetched::new(Version::new().with("tag", &tag).with("id", release.id))
        .with_metadata(
            "name",
            release
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(&tag),
        )
        .with_metadata("tag", &tag)
        .with_metadata("version", &version_text);
    if let Some(url) = &release.html_url {
        fetched = fetched.with_metadata("url", url);
    }
    if let Some(at) = &release.published_at {
        fetched = fetched.with_metadata("published_at", at);
    }
    fetched = fetched.with_metadata("prerelease", release.prerelease);
    if let Some(sha) = &commit {
        fetched = fetched.with_metadata("commit_sha", sha);
    }
    for (asset, digests) in downloaded.iter().take(MAX_ASSET_METADATA) {
        fetched = fetched.with_metadata(
            "asset",
            format!(
                "{} ({} bytes, sha256:{})",
                asset.name, digests.size, digests.sha256
            ),
        );
    }
    if downloaded.len() > MAX_ASSET_METADATA {
        fetched =
            fetched.with_metadata("assets", format!("{} downloaded in all", downloaded.len()));
    }
    Ok(fetched)
}

impl ResourceType for GithubRelease {
    type Source = Source;
    type GetParams = GetParams;
    type PutParams = NoParams;

    fn describe() -> Description {
        Description::new("github-release", env!("CARGO_PKG_VERSION"))
            .summary("Releases of a GitHub repository in semver order of their tags, and their assets")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "owner": {"type": "string", "minLength": 1, "description": "The repository's owner (user or organisation), e.g. cloudfoundry"},
                    "repository": {"type": "string", "minLength": 1, "description": "The repository's name, e.g. cf-deployment"},
                    "api_url": {"type": "string", "pattern": "^https?://", "default": DEFAULT_API, "description": "Base URL of the REST API; GitHub Enterprise: https://<host>/api/v3"},
                    "access_token": {"type": "string", "description": "A token (give it as a ((secret))), sent as Authorization: Bearer; needed for private repositories and drafts, and raises the rate limit from 60 to 5,000 requests an hour"},
                    "pre_release": {"type": "boolean", "default": false, "description": "Also offer releases marked as prereleases"},
                    "release": {"type": "boolean", "default": true, "description": "Offer final releases (false with pre_release: true offers only prereleases)"},
                    "tag_filter": {"type": "string", "description": "Regexp the whole tag must match; its group `version` (else its first group, else the whole tag) is the version, e.g. cli-v(.*). Default v?([^v].*)"}
                },
                "required": ["owner", "repository"],
                "additionalProperties": false
            }))
            .get_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "globs": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Shell patterns (*, ?, [..]) of the asset names to download; default every asset, [] none"
                    }
                },
                "additionalProperties": false
            }))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "put is not supported: github-release only tracks and fetches releases."
            }))
            .network("api.github.com", 443, "the GitHub API (or the host of source.api_url)")
            .network(
                "release-assets.githubusercontent.com",
                443,
                "asset downloads: the asset API redirects there (objects.githubusercontent.com for older assets)",
            )
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        check(&source.validate()?, Sdk, from)
    }

    fn get(source: Source, version: Version, params: GetParams) -> Result<Fetched, Error> {
        get(&source.validate()?, Sdk, &version, &params, Output::new())
    }

    fn put(_: Source, _: NoParams) -> Result<Fetched, Error> {
        Err(Error::failed(
            "github-release does not create releases (put is not supported): it tracks and fetches them; publish with GitHub's own tooling, or the `artifact-dir` type for a directory",
        ))
    }
}

lockgate_sdk::export_resource_type!(GithubRelease);

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::fs;
    use std::path::PathBuf;

    use super::*;
    use lockgate_sdk::http::Response;
    use release_feed::transport::Get;
    use release_feed::transport::testing::response;

    fn source(json: serde_json::Value) -> Config {
        lockgate_sdk::parse_json::<Source>("source", &json.to_string())
            .unwrap()
            .validate()
            .unwrap()
    }

    fn listed(id: u64, tag: &str, draft: bool, prerelease: bool) -> Listed {
        Listed {
            id,
            tag_name: tag.to_string(),
            draft,
            prerelease,
        }
    }

    fn releases() -> Vec<Listed> {
        vec![
            listed(9, "v2.1.0-rc.1", false, true),
            listed(8, "v2.2.0", true, false),
            listed(7, "v2.0.0", false, false),
            listed(6, "v1.10.0", false, false),
            listed(5, "nightly-20261201", false, true),
            listed(4, "v1.9.0", false, false),
            listed(3, "1.0.0", false, false),
            listed(2, "v0.9.0-beta.1", false, true),
            listed(1, "cli-v3.0.0", false, false),
        ]
    }

    fn tags(config: &Config) -> Vec<String> {
        config
            .offered(releases())
            .into_iter()
            .map(|(_, r)| r.tag_name)
            .collect()
    }

    #[test]
    fn semver_order_drafts_and_prereleases() {
        let base = json!({"owner": "octo", "repository": "cli"});
        assert_eq!(
            tags(&source(base.clone())),
            ["1.0.0", "v1.9.0", "v1.10.0", "v2.0.0"]
        );
        let mut pre = base.clone();
        pre["pre_release"] = json!(true);
        assert_eq!(
            tags(&source(pre.clone())),
            [
                "v0.9.0-beta.1",
                "1.0.0",
                "v1.9.0",
                "v1.10.0",
                "v2.0.0",
                "v2.1.0-rc.1"
            ]
        );
        pre["release"] = json!(false);
        assert_eq!(tags(&source(pre)), ["v0.9.0-beta.1", "v2.1.0-rc.1"]);
        let mut filtered = base.clone();
        filtered["tag_filter"] = json!(r"v(1\..*)");
        assert_eq!(tags(&source(filtered)), ["v1.9.0", "v1.10.0"]);
        let mut named = base;
        named["tag_filter"] = json!(r"cli-v(?P<version>.*)");
        let c = source(named);
        assert_eq!(tags(&c), ["cli-v3.0.0"]);
        assert_eq!(c.version_of("cli-v3.0.0").unwrap().0, "3.0.0");
    }

    #[test]
    fn from_by_id_then_tag() {
        let c = source(json!({"owner": "octo", "repository": "cli"}));
        let offered = c.offered(releases());
        assert_eq!(
            position(
                &offered,
                &Version::new().with("id", 4).with("tag", "v1.9.0")
            ),
            Some(1)
        );
        assert_eq!(
            position(&offered, &Version::new().with("tag", "v1.10.0")),
            Some(2)
        );
        assert_eq!(
            position(&offered, &Version::new().with("id", 8)),
            None,
            "a draft"
        );
        assert_eq!(position(&offered, &Version::new()), None);
    }

    #[test]
    fn source_validation() {
        let bad = |json: serde_json::Value| match lockgate_sdk::parse_json::<Source>(
            "source",
            &json.to_string(),
        )
        .and_then(Source::validate)
        {
            Err(Error::InvalidConfig(m)) => m,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted {json}"),
        };
        assert!(bad(json!({"owner": "o/x", "repository": "r"})).starts_with("source.owner"));
        assert!(bad(json!({"owner": "o", "repository": "a/b"})).starts_with("source.repository"));
        assert!(
            bad(json!({"owner": "o", "repository": "r", "api_url": "ftp://x"}))
                .starts_with("source.api_url")
        );
        assert!(
            bad(json!({"owner": "o", "repository": "r", "access_token": " "}))
                .starts_with("source.access_token")
        );
        assert!(
            bad(json!({"owner": "o", "repository": "r", "tag_filter": "("}))
                .starts_with("source.tag_filter")
        );
        assert!(
            bad(json!({"owner": "o", "repository": "r", "release": false})).contains("both false")
        );
        assert!(
            bad(json!({"owner": "o", "repository": "r", "extra": 1})).starts_with("source.extra")
        );
    }

    fn asset(id: u64, name: &str) -> Asset {
        Asset {
            id,
            name: name.to_string(),
            size: 1,
            state: Some("uploaded".into()),
            digest: None,
        }
    }

    #[test]
    fn globs_select_assets() {
        let assets = [
            asset(1, "cli-linux-amd64.tgz"),
            asset(2, "cli-darwin-arm64.tgz"),
            asset(3, "checksums.txt"),
        ];
        let names = |globs: Option<&[String]>| -> Vec<String> {
            select(&assets, globs, "v1")
                .unwrap()
                .into_iter()
                .map(|a| a.name.clone())
                .collect()
        };
        assert_eq!(names(None).len(), 3);
        assert_eq!(names(Some(&["*linux*".into()])), ["cli-linux-amd64.tgz"]);
        assert_eq!(names(Some(&["*.tgz".into(), "nothing-*".into()])).len(), 2);
        assert!(names(Some(&[])).is_empty());
        let e = select(&assets, Some(&["*.zip".into()]), "v1").unwrap_err();
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("its assets: cli-linux-amd64.tgz, cli-darwin-arm64.tgz, checksums.txt")),
            "{e:?}"
        );
        let e = select(&assets, Some(&["[".into()]), "v1").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidConfig(m) if m.starts_with("params.globs[0]")),
            "{e:?}"
        );
    }

    /// A scripted GitHub: one release (id 7, tag v2.0.0) with two assets, downloads through a
    /// redirect to another host.
    struct Fake {
        asset: Vec<u8>,
        digest: String,
        seen: RefCell<Vec<String>>,
    }

    impl Fake {
        fn answer(&self, g: &Get) -> Result<Response, Error> {
            self.seen.borrow_mut().push(g.url.clone());
            let api = "https://api.example/repos/octo/cli";
            let release = json!({
                "id": 7, "tag_name": "v2.0.0", "name": "CLI 2.0.0", "body": "Notes", "draft": false,
                "prerelease": false, "html_url": "https://github.com/octo/cli/releases/tag/v2.0.0",
                "published_at": "2026-11-30T10:00:00Z",
                "assets": [
                    {"id": 11, "name": "cli-linux-amd64.tgz", "size": self.asset.len(), "state": "uploaded", "digest": self.digest},
                    {"id": 12, "name": "checksums.txt", "size": 3, "state": "uploaded", "digest": null}
                ]
            });
            let url = g.url.as_str();
            if url == format!("{api}/releases/7") {
                return Ok(response(url, 200, &[], release.to_string()));
            }
            if url == format!("{api}/releases/assets/11") {
                return Ok(response(
                    "https://cdn.example/11",
                    200,
                    &[],
                    self.asset.clone(),
                ));
            }
            if url == format!("{api}/releases/assets/12") {
                return Ok(response("https://cdn.example/12", 200, &[], "abc"));
            }
            if url == format!("{api}/git/ref/tags/v2.0.0") {
                return Ok(response(
                    url,
                    200,
                    &[],
                    r#"{"object":{"sha":"c0ffee","type":"commit"}}"#,
                ));
            }
            Ok(response(url, 404, &[], "{}"))
        }
    }

    fn out_dir(name: &str) -> PathBuf {
        lockgate_sdk::testing::temp_dir(&format!("github-release-{name}"))
    }

    #[test]
    fn get_writes_assets_and_files() {
        let dir = out_dir("get");
        let c =
            source(json!({"owner": "octo", "repository": "cli", "api_url": "https://api.example"}));
        let data = b"the linux build".to_vec();
        let fake = Fake {
            digest: format!("sha256:{}", Digests::of(&data).sha256),
            asset: data.clone(),
            seen: RefCell::new(Vec::new()),
        };
        let version = Version::new().with("tag", "v2.0.0").with("id", 7);
        let fetched = get(
            &c,
            |g: &Get| fake.answer(g),
            &version,
            &GetParams::default(),
            Output::in_dir(&dir),
        )
        .unwrap();
        assert_eq!(fetched.version, version);
        assert_eq!(fs::read(dir.join("cli-linux-amd64.tgz")).unwrap(), data);
        assert_eq!(
            fs::read_to_string(dir.join("checksums.txt")).unwrap(),
            "abc"
        );
        for (file, content) in [
            ("tag", "v2.0.0"),
            ("version", "2.0.0"),
            ("body", "Notes"),
            ("commit_sha", "c0ffee"),
        ] {
            assert_eq!(
                fs::read_to_string(dir.join(file)).unwrap(),
                content,
                "{file}"
            );
        }
        let meta: Vec<(String, String)> = fetched.metadata.into_iter().collect();
        assert_eq!(meta[0], ("name".to_string(), "CLI 2.0.0".to_string()));
        assert!(meta.contains(&("prerelease".to_string(), "false".to_string())));
        assert!(meta.contains(&("commit_sha".to_string(), "c0ffee".to_string())));
        assert!(
            meta.iter()
                .any(|(k, v)| k == "asset"
                    && v.starts_with("cli-linux-amd64.tgz (15 bytes, sha256:"))
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_wrong_digest_leaves_nothing() {
        let dir = out_dir("digest");
        let c =
            source(json!({"owner": "octo", "repository": "cli", "api_url": "https://api.example"}));
        let fake = Fake {
            digest: format!("sha256:{}", Digests::of(b"other").sha256),
            asset: b"the linux build".to_vec(),
            seen: RefCell::new(Vec::new()),
        };
        let e = get(
            &c,
            |g: &Get| fake.answer(g),
            &Version::new().with("tag", "v2.0.0").with("id", 7),
            &GetParams {
                globs: Some(vec!["*".into()]),
            },
            Output::in_dir(&dir),
        )
        .unwrap_err();
        assert!(
            e.message()
                .starts_with("cli-linux-amd64.tgz: sha256 mismatch: the GitHub API says "),
            "{e}"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing left");
        // A release that is gone, by id and by tag.
        let e = get(
            &c,
            |g: &Get| fake.answer(g),
            &Version::new().with("tag", "v9").with("id", 99),
            &GetParams::default(),
            Output::in_dir(&dir),
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("no longer exists in octo/cli")),
            "{e:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn put_is_unsupported() {
        let e = GithubRelease::put(
            lockgate_sdk::parse_json("source", r#"{"owner":"o","repository":"r"}"#).unwrap(),
            NoParams,
        )
        .unwrap_err();
        assert!(e.message().contains("put is not supported"), "{e}");
    }
}
