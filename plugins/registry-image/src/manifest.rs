//! Manifests: OCI image indexes and manifests, Docker manifest lists and v2 manifests; the
//! descriptors they hold; choosing a platform in an index.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (schema 2).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest (schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header of manifest requests: every kind this plugin reads.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// Manifests larger than this are refused (the OCI distribution specification lets
/// registries refuse manifests over 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A platform, as descriptors of an index carry it and `source.platform` asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/amd64`.
    pub fn linux_amd64() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    /// `os/architecture[/variant]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type of the content.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// The platform of an index's manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What a manifest is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An OCI image index or Docker manifest list: one manifest per platform.
    Index {
        /// The manifests it lists.
        manifests: Vec<Descriptor>,
    },
    /// An image: its config and layers.
    Image {
        /// The config blob.
        config: Descriptor,
        /// The layer blobs, in order.
        layers: Vec<Descriptor>,
    },
}

impl Manifest {
    /// The blobs of an image (config first), none for an index.
    pub fn blobs(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Index { .. } => Vec::new(),
            Manifest::Image { config, layers } => {
                std::iter::once(config).chain(layers.iter()).collect()
            }
        }
    }
}

/// The fields of a manifest this plugin reads.
#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u64>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<Vec<Descriptor>>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
}

/// Parses a manifest; its media type is the body's `mediaType`, else `content_type` (the
/// response's, parameters dropped), else what its fields say (`manifests`: an index,
/// `config`: an image). Returns the media type and the manifest.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<(String, Manifest), String> {
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|e| format!("the manifest is not the JSON expected: {e}"))?;
    if raw.schema_version == Some(1) {
        return Err(
            "the manifest is a Docker schema 1 manifest, which is not supported (push the image again with a current client)".into(),
        );
    }
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_string())
        .filter(|c| c.starts_with("application/vnd."));
    let media_type = match (raw.media_type, content_type) {
        (Some(m), _) => m,
        (None, Some(c)) => c,
        (None, None) if raw.manifests.is_some() => OCI_INDEX.to_string(),
        (None, None) => OCI_MANIFEST.to_string(),
    };
    let manifest = match media_type.as_str() {
        OCI_INDEX | DOCKER_LIST => Manifest::Index {
            manifests: raw
                .manifests
                .ok_or_else(|| format!("the {media_type} has no `manifests`"))?,
        },
        OCI_MANIFEST | DOCKER_MANIFEST => Manifest::Image {
            config: raw
                .config
                .ok_or_else(|| format!("the {media_type} has no `config`"))?,
            layers: raw.layers.unwrap_or_default(),
        },
        other => {
            return Err(format!(
                "the manifest's media type `{other}` is not one this plugin reads ({ACCEPT})"
            ));
        }
    };
    for descriptor in match &manifest {
        Manifest::Index { manifests } => manifests.iter().collect(),
        image => image.blobs(),
    } {
        crate::reference::sha256_hex(&descriptor.digest)
            .map_err(|e| format!("the manifest lists a descriptor with {e}"))?;
    }
    Ok((media_type, manifest))
}

/// Whether a media type is an index (or a manifest list).
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_LIST)
}

/// The manifest of `want` in an index: same OS and architecture, and the same variant when
/// `want` names one (otherwise one without a variant is preferred, then the first).
pub fn select<'a>(manifests: &'a [Descriptor], want: &Platform) -> Result<&'a Descriptor, String> {
    let matching: Vec<&Descriptor> = manifests
        .iter()
        .filter(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == want.os
                    && p.architecture == want.architecture
                    && (want.variant.is_none() || p.variant == want.variant)
            })
        })
        .collect();
    if let Some(plain) = matching
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.variant.is_none()))
    {
        return Ok(plain);
    }
    if let Some(first) = matching.first() {
        return Ok(first);
    }
    let available: Vec<String> = manifests
        .iter()
        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
        .collect();
    Err(format!(
        "the index has no manifest for platform {want}; it has: {}",
        if available.is_empty() {
            "no platforms".to_string()
        } else {
            available.join(", ")
        }
    ))
}

/// The platform an image config declares (`os`, `architecture`, `variant`), if it does.
pub fn config_platform(config: &[u8]) -> Option<Platform> {
    let value: Value = serde_json::from_slice(config).ok()?;
    Some(Platform {
        os: value.get("os")?.as_str()?.to_string(),
        architecture: value.get("architecture")?.as_str()?.to_string(),
        variant: value
            .get("variant")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn entry(platform: &str, c: char) -> Value {
        let parts: Vec<&str> = platform.split('/').collect();
        let mut p = json!({"os": parts[0], "architecture": parts[1]});
        if let Some(v) = parts.get(2) {
            p["variant"] = json!(v);
        }
        json!({"mediaType": OCI_MANIFEST, "digest": digest(c), "size": 10, "platform": p})
    }

    #[test]
    fn sha256_of_bytes() {
        assert_eq!(
            sha256(b"hello"),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[test]
    fn images_and_indexes() {
        let image = json!({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest('c'), "size": 2},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest('1'), "size": 5}]
        });
        let (media, manifest) = parse(image.to_string().as_bytes(), None).unwrap();
        assert_eq!(media, DOCKER_MANIFEST);
        let blobs: Vec<&str> = manifest.blobs().iter().map(|d| d.digest.as_str()).collect();
        assert_eq!(blobs, [digest('c'), digest('1')]);

        // No mediaType in the body: the Content-Type, else the fields.
        let bare = json!({"schemaVersion": 2, "manifests": [entry("linux/amd64", 'a')]});
        let (media, manifest) = parse(
            bare.to_string().as_bytes(),
            Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=x"),
        )
        .unwrap();
        assert_eq!(media, DOCKER_LIST);
        assert!(matches!(manifest, Manifest::Index { ref manifests } if manifests.len() == 1));
        assert!(manifest.blobs().is_empty());
        let (media, _) = parse(bare.to_string().as_bytes(), Some("application/json")).unwrap();
        assert_eq!(media, OCI_INDEX);
        assert!(is_index(&media) && !is_index(OCI_MANIFEST));
    }

    #[test]
    fn manifests_that_are_refused() {
        let bad = |v: Value| parse(v.to_string().as_bytes(), None).unwrap_err();
        assert!(bad(json!({"schemaVersion": 1, "fsLayers": []})).contains("schema 1"));
        assert!(bad(json!({"mediaType": "text/plain"})).contains("`text/plain`"));
        assert!(bad(json!({"mediaType": OCI_MANIFEST})).contains("no `config`"));
        assert!(bad(json!({"mediaType": OCI_INDEX})).contains("no `manifests`"));
        assert!(
            bad(json!({"mediaType": OCI_MANIFEST, "config": {"digest": "md5:x", "size": 1}}))
                .contains("only sha256")
        );
        assert!(
            parse(b"not json", None)
                .unwrap_err()
                .contains("not the JSON")
        );
    }

    #[test]
    fn platform_selection() {
        let index: Vec<Descriptor> = serde_json::from_value(json!([
            entry("linux/arm/v7", '1'),
            entry("linux/arm64/v8", '2'),
            entry("linux/amd64", '3'),
            entry("linux/arm/v6", '4'),
            {"mediaType": OCI_MANIFEST, "digest": digest('5'), "size": 1,
             "platform": {"os": "unknown", "architecture": "unknown"}},
        ]))
        .unwrap();
        let want = |p: &str| {
            let parts: Vec<&str> = p.split('/').collect();
            Platform {
                os: parts[0].into(),
                architecture: parts[1].into(),
                variant: parts.get(2).map(|v| (*v).to_string()),
            }
        };
        assert_eq!(
            select(&index, &Platform::linux_amd64()).unwrap().digest,
            digest('3')
        );
        assert_eq!(
            select(&index, &want("linux/arm64")).unwrap().digest,
            digest('2')
        );
        assert_eq!(
            select(&index, &want("linux/arm/v6")).unwrap().digest,
            digest('4')
        );
        assert_eq!(
            select(&index, &want("linux/arm")).unwrap().digest,
            digest('1')
        );
        let e = select(&index, &want("windows/amd64")).unwrap_err();
        assert_eq!(
            e,
            "the index has no manifest for platform windows/amd64; it has: linux/arm/v7, linux/arm64/v8, linux/amd64, linux/arm/v6, unknown/unknown"
        );
        assert!(
            select(&[], &want("linux/amd64"))
                .unwrap_err()
                .ends_with("no platforms")
        );
        assert_eq!(want("linux/arm/v7").to_string(), "linux/arm/v7");
    }

    #[test]
    fn platform_of_a_config() {
        assert_eq!(
            config_platform(br#"{"os": "linux", "architecture": "arm", "variant": "v7"}"#),
            Some(Platform {
                os: "linux".into(),
                architecture: "arm".into(),
                variant: Some("v7".into())
            })
        );
        assert_eq!(config_platform(b"{}"), None);
    }
}
