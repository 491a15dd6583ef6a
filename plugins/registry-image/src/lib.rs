//! Resource type `registry-image`: images in a registry that speaks the OCI distribution
//! API (Docker Hub, GHCR, Harbor, the CNCF `distribution` registry, …).
//!
//! - `check`: the digest of one tag, or the tags a `tag_regex` / `semver_constraint` selects,
//!   oldest first, each with its digest;
//! - `get`: the image (one platform of an index) into an OCI image layout in `/output`,
//!   every manifest and blob checked against its sha256 digest;
//! - `put`: promotion by copy: an image from a layout (the output of a `get`) or from another
//!   repository, blob by blob (already there, mounted, or uploaded), then its manifest under
//!   the tags.
//!
//! See README.md for the configuration. The protocol (requests, the token flow, pagination)
//! is hand-written on the SDK's HTTP client: [`client`], [`auth`].

use std::fs;
use std::path::Path;

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, OUTPUT_DIR, ResourceType, Version, input_file,
};
use serde::Deserialize;

pub mod auth;
pub mod client;
pub mod copy;
pub mod layout;
pub mod manifest;
pub mod reference;
pub mod tags;

use client::{Credentials, Registry};
use layout::{Layout, REF_NAME};
use manifest::{Descriptor, MAX_MANIFEST_BYTES, Manifest, Platform};
use reference::{Repository, check_tag, sha256_hex};
use tags::Filter;

/// The resource type.
pub struct RegistryImage;

/// `source.platform`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// `source`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// `[http(s)://]host[:port]/name`.
    repository: String,
    /// Plain HTTP instead of HTTPS.
    #[serde(default)]
    insecure: bool,
    /// The one tag whose digest is the version (default `latest` when no filter is given).
    tag: Option<String>,
    /// Tags that match this regexp (whole tag) are versions.
    tag_regex: Option<String>,
    /// Tags that are semver and satisfy this constraint are versions.
    semver_constraint: Option<String>,
    /// Whether semver pre-releases are versions.
    #[serde(default)]
    pre_releases: bool,
    /// User name for the registry (and its token service).
    username: Option<String>,
    /// Password or token (a `((secret))`).
    password: Option<String>,
    /// The platform `get` takes from an index (default linux/amd64).
    platform: Option<SourcePlatform>,
    /// `n` of each tag list request; the registry's own page size otherwise.
    page_size: Option<u32>,
}

/// `params` of `get`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// Only the manifest(s), no config or layer.
    #[serde(default)]
    skip_download: bool,
}

/// `params` of `put`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// `<input>[/<path>]`: a directory holding an OCI image layout.
    from: Option<String>,
    /// `[http(s)://]host[:port]/name`: copy from this repository.
    source_repository: Option<String>,
    /// The digest to copy (with `source_repository`), or the manifest of the layout to push.
    digest: Option<String>,
    /// `<input>/<path>` of a file holding the digest (a `get`'s `digest` file).
    digest_file: Option<String>,
    /// Credentials for `source_repository` on another registry.
    source_username: Option<String>,
    /// Credentials for `source_repository` on another registry.
    source_password: Option<String>,
    /// The tag to push under.
    tag: Option<String>,
    /// More tags to push under.
    #[serde(default)]
    tags: Vec<String>,
    /// `<input>/<path>` of a file holding a tag (a `get`'s `tag` file).
    tag_file: Option<String>,
}

/// What a `check` looks for.
#[derive(Debug)]
enum Mode {
    /// The digest of one tag.
    Tag(String),
    /// The tags the filter selects.
    Filter(Filter),
}

/// A validated `source`.
struct Config {
    repo: Repository,
    insecure: bool,
    mode: Mode,
    credentials: Option<Credentials>,
    platform: Platform,
    page_size: Option<u32>,
}

impl Config {
    fn new(source: Source) -> Result<Self, Error> {
        let repo = Repository::parse(&source.repository, source.insecure)
            .map_err(|e| Error::invalid_config(format!("source.repository: {e}")))?;
        let filtering = source.tag_regex.is_some() || source.semver_constraint.is_some();
        let mode = match (source.tag, filtering) {
            (Some(_), true) => {
                return Err(Error::invalid_config(
                    "source.tag: give either `tag` (one tag's digest) or `tag_regex`/`semver_constraint` (tags as versions), not both",
                ));
            }
            (tag, false) => {
                let tag = tag.unwrap_or_else(|| "latest".to_string());
                check_tag("source.tag", &tag).map_err(Error::invalid_config)?;
                Mode::Tag(tag)
            }
            (None, true) => Mode::Filter(
                Filter::new(
                    source.tag_regex.as_deref(),
                    source.semver_constraint.as_deref(),
                    source.pre_releases,
                )
                .map_err(Error::invalid_config)?,
            ),
        };
        let credentials = credentials(
            "source",
            "username",
            "password",
            source.username,
            source.password,
        )?;
        let platform = match source.platform {
            None => Platform::linux_amd64(),
            Some(p) => {
                if p.os.is_empty() || p.architecture.is_empty() {
                    return Err(Error::invalid_config(
                        "source.platform: `os` and `architecture` must not be empty",
                    ));
                }
                Platform {
                    os: p.os,
                    architecture: p.architecture,
                    variant: p.variant.filter(|v| !v.is_empty()),
                }
            }
        };
        if source.page_size == Some(0) {
            return Err(Error::invalid_config(
                "source.page_size: must be at least 1",
            ));
        }
        Ok(Self {
            repo,
            insecure: source.insecure,
            mode,
            credentials,
            platform,
            page_size: source.page_size,
        })
    }

    fn registry(&self) -> Registry {
        Registry::new(self.repo.clone(), self.credentials.clone())
    }
}

/// `username` and `password` together or neither; errors name the fields.
fn credentials(
    prefix: &str,
    user_field: &str,
    password_field: &str,
    username: Option<String>,
    password: Option<String>,
) -> Result<Option<Credentials>, Error> {
    match (username, password) {
        (None, None) => Ok(None),
        (Some(username), Some(password)) => {
            if username.is_empty() || username.contains(':') || username.contains(['\r', '\n']) {
                return Err(Error::invalid_config(format!(
                    "{prefix}.{user_field}: must be a non-empty single line without `:`"
                )));
            }
            Ok(Some(Credentials { username, password }))
        }
        (Some(_), None) => Err(Error::invalid_config(format!(
            "{prefix}.{password_field}: required with {prefix}.{user_field}"
        ))),
        (None, Some(_)) => Err(Error::invalid_config(format!(
            "{prefix}.{user_field}: required with {prefix}.{password_field}"
        ))),
    }
}

/// `{tag, digest}`.
fn version(tag: &str, digest: &str) -> Version {
    Version::new().with("tag", tag).with("digest", digest)
}

/// The versions of a tag filter: the tags it selects from `from`'s tag on (every one with its
/// current digest), or the newest when `from` is absent or its tag is gone. Tags that vanish
/// between the list and the digest request are skipped.
fn filtered_versions(
    registry: &mut Registry,
    filter: &Filter,
    page_size: Option<u32>,
    from: Option<&Version>,
) -> Result<Vec<Version>, Error> {
    let Some(all) = registry.tags(page_size)? else {
        lockgate_sdk::info!("{} does not exist (yet): no versions", registry.repo);
        return Ok(Vec::new());
    };
    let (tags, odd) = filter.versions(&all);
    if let Some(odd) = odd {
        lockgate_sdk::debug!("tag `{odd}` is not semver: ordering the tags by natural order");
    }
    lockgate_sdk::debug!(
        "{}: {} tags, {} selected",
        registry.repo,
        all.len(),
        tags.len()
    );
    let start = from
        .and_then(|f| f.get("tag"))
        .and_then(|t| tags.iter().position(|x| x == t));
    let mut versions = Vec::new();
    match start {
        Some(i) => {
            for tag in &tags[i..] {
                if let Some(digest) = registry.manifest_digest(tag)? {
                    versions.push(version(tag, &digest));
                }
            }
        }
        None => {
            for tag in tags.iter().rev() {
                if let Some(digest) = registry.manifest_digest(tag)? {
                    versions.push(version(tag, &digest));
                    break;
                }
            }
        }
    }
    Ok(versions)
}

/// A `version`'s digest, checked.
fn version_digest(version: &Version) -> Result<&str, Error> {
    let digest = version
        .get("digest")
        .ok_or_else(|| Error::not_found(format!("version {version} has no `digest`")))?;
    sha256_hex(digest).map_err(|e| Error::not_found(format!("version {version}: {e}")))?;
    Ok(digest)
}

/// Reads a one-line file of an input (`<input>/<path>`), trimmed; errors name `field`.
fn read_input_line(field: &str, reference: &str) -> Result<String, Error> {
    let path = input_file(reference).map_err(|e| e.context(format!("params.{field}")))?;
    let text = fs::read_to_string(&path)
        .with_path(&path)
        .map_err(|e| e.context(format!("params.{field}")))?;
    Ok(text.trim().to_string())
}

impl PutParams {
    /// The tags to push under, in order, without duplicates: `tag`, `tags`, `tag_file`, else
    /// the source's `tag`.
    fn tags(&self, config: &Config) -> Result<Vec<String>, Error> {
        let mut tags: Vec<(String, String)> = Vec::new();
        if let Some(tag) = &self.tag {
            tags.push(("params.tag".into(), tag.clone()));
        }
        for (i, tag) in self.tags.iter().enumerate() {
            tags.push((format!("params.tags[{i}]"), tag.clone()));
        }
        if let Some(file) = &self.tag_file {
            tags.push((
                format!("params.tag_file ({file})"),
                read_input_line("tag_file", file)?,
            ));
        }
        if tags.is_empty()
            && let Mode::Tag(tag) = &config.mode
        {
            tags.push(("source.tag".into(), tag.clone()));
        }
        if tags.is_empty() {
            return Err(Error::invalid_config(
                "params.tag: a tag to push under is needed with a tag filter: give params.tag, params.tags or params.tag_file",
            ));
        }
        let mut out: Vec<String> = Vec::new();
        for (field, tag) in tags {
            check_tag(&field, &tag).map_err(Error::invalid_config)?;
            if !out.contains(&tag) {
                out.push(tag);
            }
        }
        Ok(out)
    }

    /// `digest` or the content of `digest_file`, checked.
    fn digest(&self) -> Result<Option<String>, Error> {
        let digest = match (&self.digest, &self.digest_file) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_config(
                    "params.digest: give either `digest` or `digest_file`, not both",
                ));
            }
            (Some(d), None) => Some(("params.digest", d.trim().to_string())),
            (None, Some(file)) => {
                Some(("params.digest_file", read_input_line("digest_file", file)?))
            }
            (None, None) => None,
        };
        match digest {
            None => Ok(None),
            Some((field, digest)) => {
                sha256_hex(&digest).map_err(|e| Error::invalid_config(format!("{field}: {e}")))?;
                Ok(Some(digest))
            }
        }
    }
}

/// The manifest of a layout to push: the one `index.json` lists, or the one of `digest`.
fn layout_root(layout: &Layout, digest: Option<&str>) -> Result<Descriptor, Error> {
    let listed = layout.index()?;
    if let Some(digest) = digest {
        if let Some(found) = listed.iter().find(|d| d.digest == digest) {
            return Ok(found.clone());
        }
        if layout.has_blob(digest) {
            // A manifest among the blobs (an index a `get` kept beside its platform's image).
            return Ok(Descriptor {
                media_type: String::new(),
                digest: digest.to_string(),
                size: MAX_MANIFEST_BYTES,
                platform: None,
                annotations: None,
            });
        }
        return Err(Error::failed(format!(
            "the layout in {} does not hold manifest {digest} (params.digest)",
            layout.root().display()
        )));
    }
    match listed.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::failed(format!(
            "{}/index.json lists no manifest",
            layout.root().display()
        ))),
        many => Err(Error::invalid_config(format!(
            "params.digest: {}/index.json lists {} manifests ({}); say which to push",
            layout.root().display(),
            many.len(),
            many.iter()
                .map(|d| d.digest.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Writes a small text file at the root of `/output`.
fn write_output(dir: &Path, name: &str, text: &str) -> Result<(), Error> {
    let path = dir.join(name);
    fs::write(&path, text).with_path(&path)
}

impl ResourceType for RegistryImage {
    type Source = Source;
    type GetParams = GetParams;
    type PutParams = PutParams;

    fn describe() -> Description {
        Description::new("registry-image", env!("CARGO_PKG_VERSION"))
            .summary("Images of an OCI registry: tags or semver-filtered tags as versions, fetched into an OCI image layout with every digest verified, promoted by copy")
            .network("*", 0, "the registry (source.repository), its token service and the storage its blob downloads redirect to")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "repository": {
                        "type": "string", "minLength": 1,
                        "description": "[http(s)://]host[:port]/name, e.g. 127.0.0.1:5000/team/app (https unless `insecure` or an http:// prefix); a name without a registry is a Docker Hub name"
                    },
                    "insecure": { "type": "boolean", "default": false, "description": "speak plain HTTP to the registry" },
                    "tag": { "type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", "description": "check this tag's digest (default `latest` when no tag_regex/semver_constraint is given)" },
                    "tag_regex": { "type": "string", "description": "check the tags matching this regexp (the whole tag)" },
                    "semver_constraint": { "type": "string", "description": "check the tags that are semver and satisfy this constraint, e.g. `>=1.2, <2`" },
                    "pre_releases": { "type": "boolean", "default": false, "description": "semver pre-releases (1.2.0-rc.1) are versions too" },
                    "username": { "type": "string", "minLength": 1, "description": "user for the registry and its token service" },
                    "password": { "type": "string", "description": "password or token; pass a ((secret))" },
                    "platform": {
                        "type": "object",
                        "properties": {
                            "os": { "type": "string", "minLength": 1 },
                            "architecture": { "type": "string", "minLength": 1 },
                            "variant": { "type": "string" }
                        },
                        "required": ["os", "architecture"],
                        "additionalProperties": false,
                        "description": "the platform get takes from a multi-platform image (default linux/amd64)"
                    },
                    "page_size": { "type": "integer", "minimum": 1, "description": "tags per tag-list request (`n`); the registry's default otherwise" }
                },
                "required": ["repository"],
                "additionalProperties": false,
                "not": {
                    "required": ["tag"],
                    "anyOf": [{ "required": ["tag_regex"] }, { "required": ["semver_constraint"] }]
                },
                "dependentRequired": { "username": ["password"], "password": ["username"] }
            }))
            .get_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "skip_download": { "type": "boolean", "default": false, "description": "write only the manifests (no config, no layers)" }
                },
                "additionalProperties": false
            }))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "from": { "type": "string", "minLength": 1, "description": "<input>[/<path>]: a directory holding an OCI image layout (a registry-image get)" },
                    "source_repository": { "type": "string", "minLength": 1, "description": "[http(s)://]host[:port]/name to copy the image from, by digest" },
                    "digest": { "type": "string", "pattern": "^sha256:[a-f0-9]{64}$", "description": "the image to copy (with source_repository), or the manifest of the layout to push" },
                    "digest_file": { "type": "string", "minLength": 1, "description": "<input>/<path> of a file holding the digest (a get's `digest` file)" },
                    "source_username": { "type": "string", "minLength": 1, "description": "user for source_repository on another registry" },
                    "source_password": { "type": "string", "description": "password for source_repository on another registry; pass a ((secret))" },
                    "tag": { "type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$" },
                    "tags": { "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$" } },
                    "tag_file": { "type": "string", "minLength": 1, "description": "<input>/<path> of a file holding a tag (a get's `tag` file)" }
                },
                "oneOf": [
                    { "required": ["from"], "not": { "required": ["source_repository"] } },
                    { "required": ["source_repository"], "not": { "required": ["from"] } }
                ],
                "not": { "required": ["digest", "digest_file"] },
                "additionalProperties": false
            }))
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let config = Config::new(source)?;
        let mut registry = config.registry();
        match &config.mode {
            Mode::Tag(tag) => match registry.manifest_digest(tag)? {
                Some(digest) => Ok(vec![version(tag, &digest)]),
                None => {
                    lockgate_sdk::info!("{}:{tag} does not exist (yet): no versions", config.repo);
                    Ok(Vec::new())
                }
            },
            Mode::Filter(filter) => {
                filtered_versions(&mut registry, filter, config.page_size, from.as_ref())
            }
        }
    }

    fn get(source: Source, version: Version, params: GetParams) -> Result<Fetched, Error> {
        let config = Config::new(source)?;
        let digest = version_digest(&version)?.to_string();
        let tag = version.get("tag").map(str::to_string);
        let mut registry = config.registry();
        let top = registry
            .manifest(&digest, MAX_MANIFEST_BYTES)?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "{}@{digest} is not in the registry (deleted?)",
                    config.repo
                ))
            })?;
        let out = Path::new(OUTPUT_DIR);
        let layout = Layout::create(out)?;
        layout.store(&top.digest, &top.bytes)?;

        // The image: the version's manifest, or the platform's in an index.
        let (mut entry, image) = match &top.manifest {
            Manifest::Index { manifests } => {
                let chosen = manifest::select(manifests, &config.platform)
                    .map_err(|e| Error::failed(format!("{}@{digest}: {e}", config.repo)))?
                    .clone();
                let image = registry
                    .manifest(&chosen.digest, chosen.size)?
                    .ok_or_else(|| {
                        Error::failed(format!(
                            "{}@{digest} lists manifest {} for {} but the registry does not have it",
                            config.repo, chosen.digest, config.platform
                        ))
                    })?;
                if image.bytes.len() as u64 != chosen.size {
                    return Err(Error::failed(format!(
                        "manifest {}: {} bytes received, the index says {}",
                        chosen.digest,
                        image.bytes.len(),
                        chosen.size
                    )));
                }
                if !matches!(image.manifest, Manifest::Image { .. }) {
                    return Err(Error::failed(format!(
                        "{}@{digest}: the manifest for {} is itself an index ({}); nested indexes are not supported",
                        config.repo, config.platform, image.media_type
                    )));
                }
                layout.store(&image.digest, &image.bytes)?;
                let entry = Descriptor {
                    platform: chosen.platform.clone(),
                    ..image.descriptor()
                };
                (entry, image)
            }
            Manifest::Image { .. } => (top.descriptor(), top.clone()),
        };

        let blobs = image.manifest.blobs();
        let total: u64 = blobs.iter().map(|b| b.size).sum();
        let mut downloaded = 0;
        if params.skip_download {
            lockgate_sdk::info!(
                "skip_download: only the manifest of {}@{digest} is written",
                config.repo
            );
        } else {
            for (i, blob) in blobs.iter().enumerate() {
                if layout.has_blob(&blob.digest) {
                    continue;
                }
                lockgate_sdk::debug!(
                    "blob {}/{}: {} ({} bytes)",
                    i + 1,
                    blobs.len(),
                    blob.digest,
                    blob.size
                );
                layout.receive(blob, &mut registry)?;
                downloaded += 1;
            }
            if entry.platform.is_none()
                && let Manifest::Image { config: c, .. } = &image.manifest
                && let Ok(bytes) = fs::read(layout.blob_path(&c.digest)?)
            {
                entry.platform = manifest::config_platform(&bytes);
            }
        }
        if let Some(tag) = &tag {
            entry.annotations = Some([(REF_NAME.to_string(), tag.clone())].into());
        }
        layout.write_index(std::slice::from_ref(&entry))?;
        write_output(out, "digest", &digest)?;
        write_output(out, "repository", &config.repo.to_string())?;
        if let Some(tag) = &tag {
            write_output(out, "tag", tag)?;
        }

        let mut fetched = Fetched::new(version)
            .with_metadata("repository", config.repo.to_string())
            .with_metadata("digest", &digest)
            .with_metadata("media_type", &top.media_type)
            .with_metadata("size", top.bytes.len());
        if let Some(tag) = &tag {
            fetched = fetched.with_metadata("tag", tag);
        }
        if image.digest != top.digest {
            fetched = fetched.with_metadata("manifest_digest", &image.digest);
        }
        if let Some(platform) = &entry.platform {
            fetched = fetched.with_metadata("platform", platform);
        }
        Ok(fetched
            .with_metadata("layers", blobs.len().saturating_sub(1))
            .with_metadata("image_bytes", total)
            .with_metadata("blobs_downloaded", downloaded))
    }

    fn put(source: Source, params: PutParams) -> Result<Fetched, Error> {
        let config = Config::new(source)?;
        let tags = params.tags(&config)?;
        let digest = params.digest()?;
        let mut target = config.registry();
        let (copied, root, origin) = match (&params.from, &params.source_repository) {
            (Some(from), None) => {
                let dir = input_file(from).map_err(|e| e.context("params.from"))?;
                let mut layout = Layout::open(&dir)?;
                let root = layout.manifest(&layout_root(&layout, digest.as_deref())?)?;
                // A `get` names where the image came from: mount from there when it is on
                // the target's registry.
                let recorded = fs::read_to_string(dir.join("repository"))
                    .ok()
                    .and_then(|r| Repository::parse(r.trim(), false).ok());
                let mount_from = recorded
                    .filter(|r| r.same_registry(&config.repo) && r.name != config.repo.name)
                    .map(|r| r.name);
                let copied = copy::copy(
                    &mut layout,
                    &mut target,
                    &root,
                    mount_from.as_deref(),
                    &tags,
                )?;
                (copied, root, format!("the layout in {}", dir.display()))
            }
            (None, Some(source_repository)) => {
                let repo = Repository::parse(source_repository, config.insecure)
                    .map_err(|e| Error::invalid_config(format!("params.source_repository: {e}")))?;
                let Some(digest) = digest else {
                    return Err(Error::invalid_config(
                        "params.digest: required with params.source_repository (or params.digest_file)",
                    ));
                };
                let same = repo.same_registry(&config.repo);
                let given = credentials(
                    "params",
                    "source_username",
                    "source_password",
                    params.source_username.clone(),
                    params.source_password.clone(),
                )?;
                let creds = match given {
                    Some(c) => Some(c),
                    None if same => config.credentials.clone(),
                    None => None,
                };
                let mut from = Registry::new(repo.clone(), creds);
                let root = from.manifest(&digest, MAX_MANIFEST_BYTES)?.ok_or_else(|| {
                    Error::not_found(format!("{repo}@{digest} is not in the registry"))
                })?;
                let mount_from = (same && repo.name != config.repo.name).then(|| repo.name.clone());
                let copied =
                    copy::copy(&mut from, &mut target, &root, mount_from.as_deref(), &tags)?;
                (copied, root, repo.to_string())
            }
            _ => {
                return Err(Error::invalid_config(
                    "params.from: give either `from` (an OCI layout in an input) or `source_repository` (with `digest`)",
                ));
            }
        };
        lockgate_sdk::info!(
            "{}@{} tagged {}: {} blobs already there, {} mounted, {} uploaded ({} bytes)",
            config.repo,
            root.digest,
            tags.join(", "),
            copied.existing,
            copied.mounted,
            copied.uploaded,
            copied.uploaded_bytes
        );
        let tag = match &config.mode {
            Mode::Tag(t) if tags.contains(t) => t.clone(),
            _ => tags[0].clone(),
        };
        Ok(Fetched::new(version(&tag, &root.digest))
            .with_metadata("repository", config.repo.to_string())
            .with_metadata("digest", &root.digest)
            .with_metadata("tags", tags.join(","))
            .with_metadata("media_type", &root.media_type)
            .with_metadata("from", origin)
            .with_metadata("blobs_existing", copied.existing)
            .with_metadata("blobs_mounted", copied.mounted)
            .with_metadata("blobs_uploaded", copied.uploaded)
            .with_metadata("bytes_uploaded", copied.uploaded_bytes))
    }
}

lockgate_sdk::export_resource_type!(RegistryImage);

#[cfg(test)]
mod tests {
    use super::*;
    use lockgate_sdk::parse_json;

    fn config(json: &str) -> Result<Config, Error> {
        parse_json::<Source>("source", json).and_then(Config::new)
    }

    fn invalid(json: &str) -> String {
        match config(json) {
            Err(Error::InvalidConfig(m)) => m,
            Err(other) => panic!("{json}: {other:?}"),
            Ok(_) => panic!("{json}: accepted"),
        }
    }

    #[test]
    fn sources() {
        let c = config(r#"{"repository": "127.0.0.1:5000/team/app"}"#).unwrap();
        assert!(matches!(&c.mode, Mode::Tag(t) if t == "latest"));
        assert_eq!(c.platform, Platform::linux_amd64());
        assert!(c.repo.https && c.credentials.is_none());
        let c = config(
            r#"{"repository": "127.0.0.1:5000/team/app", "insecure": true, "semver_constraint": "^1", "username": "u", "password": "p",
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}, "page_size": 2}"#,
        )
        .unwrap();
        assert!(matches!(c.mode, Mode::Filter(_)));
        assert!(!c.repo.https && c.insecure);
        assert_eq!(c.platform.to_string(), "linux/arm64/v8");
        assert_eq!(c.page_size, Some(2));
        assert_eq!(c.credentials.unwrap().username, "u");
    }

    #[test]
    fn source_errors_name_the_field() {
        assert!(invalid(r#"{"repository": "ftp://x/y"}"#).starts_with("source.repository: "));
        assert!(
            invalid(r#"{"repository": "h.example/a", "tag": "1", "tag_regex": "x"}"#)
                .starts_with("source.tag: give either")
        );
        assert!(
            invalid(r#"{"repository": "h.example/a", "tag": "a:b"}"#)
                .starts_with("source.tag: `a:b`")
        );
        assert!(
            invalid(r#"{"repository": "h.example/a", "tag_regex": "("}"#)
                .starts_with("source.tag_regex: ")
        );
        assert!(
            invalid(r#"{"repository": "h.example/a", "semver_constraint": "~>1"}"#)
                .starts_with("source.semver_constraint: ")
        );
        assert_eq!(
            invalid(r#"{"repository": "h.example/a", "username": "u"}"#),
            "source.password: required with source.username"
        );
        assert_eq!(
            invalid(r#"{"repository": "h.example/a", "password": "p"}"#),
            "source.username: required with source.password"
        );
        assert!(
            invalid(r#"{"repository": "h.example/a", "username": "a:b", "password": "p"}"#)
                .starts_with("source.username: ")
        );
        assert!(
            invalid(
                r#"{"repository": "h.example/a", "platform": {"os": "", "architecture": "x"}}"#
            )
            .starts_with("source.platform: ")
        );
        assert!(
            invalid(r#"{"repository": "h.example/a", "page_size": 0}"#)
                .starts_with("source.page_size: ")
        );
        assert!(
            invalid(r#"{"repository": "h.example/a", "tags": "x"}"#)
                .contains("unknown field `tags`")
        );
    }

    #[test]
    fn put_tags_and_digests() {
        let tag_mode = config(r#"{"repository": "h.example/a", "tag": "stable"}"#).unwrap();
        let filter_mode = config(r#"{"repository": "h.example/a", "tag_regex": ".*"}"#).unwrap();
        let params = |json: &str| parse_json::<PutParams>("params", json).unwrap();
        assert_eq!(
            params(r#"{"from": "img"}"#).tags(&tag_mode).unwrap(),
            ["stable"]
        );
        assert_eq!(
            params(r#"{"from": "img", "tag": "1.2.0", "tags": ["latest", "1.2.0", "1"]}"#)
                .tags(&filter_mode)
                .unwrap(),
            ["1.2.0", "latest", "1"]
        );
        let e = params(r#"{"from": "img"}"#).tags(&filter_mode).unwrap_err();
        assert!(
            e.message()
                .starts_with("params.tag: a tag to push under is needed"),
            "{e}"
        );
        let e = params(r#"{"from": "img", "tags": ["ok", "-bad"]}"#)
            .tags(&tag_mode)
            .unwrap_err();
        assert!(e.message().starts_with("params.tags[1]: `-bad`"), "{e}");
        let e = params(r#"{"from": "img", "tag_file": "../x"}"#)
            .tags(&tag_mode)
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidConfig(ref m) if m.starts_with("params.tag_file: ")),
            "{e}"
        );

        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            params(&format!(
                r#"{{"source_repository": "h.example/b", "digest": "{digest}"}}"#
            ))
            .digest()
            .unwrap(),
            Some(digest.clone())
        );
        assert_eq!(params(r#"{"from": "img"}"#).digest().unwrap(), None);
        let e = params(r#"{"source_repository": "h.example/b", "digest": "latest"}"#)
            .digest()
            .unwrap_err();
        assert!(
            e.message()
                .starts_with("params.digest: `latest` is not a digest"),
            "{e}"
        );
        let e = params(&format!(
            r#"{{"digest": "{digest}", "digest_file": "img/digest"}}"#
        ))
        .digest()
        .unwrap_err();
        assert!(e.message().contains("not both"), "{e}");
    }

    #[test]
    fn versions_name_their_digest() {
        let digest = format!("sha256:{}", "b".repeat(64));
        assert_eq!(version_digest(&version("1.0.0", &digest)).unwrap(), digest);
        let e = version_digest(&Version::new().with("tag", "x")).unwrap_err();
        assert!(matches!(e, Error::NotFound(_)), "{e:?}");
        let e = version_digest(&Version::new().with("digest", "sha1:x")).unwrap_err();
        assert!(e.message().contains("only sha256"), "{e}");
    }

    #[test]
    fn description_has_schemas() {
        let d = RegistryImage::describe();
        assert_eq!(d.name, "registry-image");
        for schema in [&d.source_schema, &d.get_params_schema, &d.put_params_schema] {
            assert!(schema.as_ref().is_some_and(|s| s.is_object()));
        }
        assert_eq!(d.network.len(), 1);
    }
}
