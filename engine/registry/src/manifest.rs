//! `plugin.toml`: what the registry records about one published plugin version, written at
//! publish time from the component's own `describe` and its digest.

use serde::{Deserialize, Serialize};

use lockgate_model::{Description, PluginKind};

/// The manifest of `<registry>/<name>/<version>/plugin.toml`. Unknown keys are ignored, so
/// that registries written by newer engines stay readable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Plugin name (from `describe`).
    pub name: String,
    /// Semantic version (from `describe`).
    pub version: semver::Version,
    /// `resource-type`, `test-step` or `task` ([`TASK_KIND`]).
    pub kind: String,
    /// The WIT world and contract version it implements, e.g. `lockgate:plugin/test-step@0.1.0`.
    pub world: String,
    /// SHA-256 of `plugin.wasm`, lowercase hex.
    pub sha256: String,
    /// Size of `plugin.wasm` in bytes.
    pub size: u64,
    /// One-line description (from `describe`).
    #[serde(default)]
    pub summary: String,
    /// SPDX license expression given at publish time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// When it was published (RFC 3339, UTC).
    pub published: String,
    /// Set when the version was yanked: kept for existing lockfiles, never chosen anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<Yank>,
    /// Capabilities the plugin asks for (grants are still the pipeline's decision).
    #[serde(default)]
    pub capabilities: ManifestCapabilities,
    /// JSON Schemas (as JSON text) of what the plugin accepts.
    #[serde(default)]
    pub schemas: ManifestSchemas,
}

/// Why and when a version was yanked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Yank {
    /// The reason given to `lockgate plugin yank`.
    #[serde(default)]
    pub reason: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// Requested capabilities, as recorded in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestCapabilities {
    /// `host:port` (or `host`) the plugin wants to reach, with the plugin's reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<String>,
    /// Environment variables it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Named directories it expects at `/dirs/<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<String>,
}

/// JSON Schemas of the plugin's inputs, each as JSON text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestSchemas {
    /// `source` of a resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `params` of a get step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get_params: Option<String>,
    /// `params` of a put step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub put_params: Option<String>,
    /// `config` of a test step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

impl Manifest {
    /// The manifest of a component described by `d`, whose bytes have `sha256` and `size`.
    pub fn from_description(
        d: &Description,
        version: semver::Version,
        sha256: String,
        size: u64,
        license: Option<String>,
        published: String,
    ) -> Self {
        let schema = |s: &Option<serde_json::Value>| {
            s.as_ref()
                .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
        };
        Self {
            name: d.name.clone(),
            version,
            kind: d.kind.world().to_owned(),
            world: world_id(d.kind),
            sha256,
            size,
            summary: d.summary.clone(),
            license,
            published,
            yanked: None,
            capabilities: ManifestCapabilities {
                network: d
                    .capabilities
                    .network
                    .iter()
                    .map(|n| {
                        let target = if n.port == 0 {
                            n.host.clone()
                        } else {
                            format!("{}:{}", n.host, n.port)
                        };
                        if n.reason.is_empty() {
                            target
                        } else {
                            format!("{target} ({})", n.reason)
                        }
                    })
                    .collect(),
                env: d.capabilities.env.clone(),
                dirs: d.capabilities.dirs.clone(),
            },
            schemas: ManifestSchemas {
                source: schema(&d.source_schema),
                get_params: schema(&d.get_params_schema),
                put_params: schema(&d.put_params_schema),
                config: schema(&d.config_schema),
            },
        }
    }

    /// Parses `plugin.toml` text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The `plugin.toml` text.
    pub fn render(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# Written by `lockgate plugin publish`; `lockgate plugin verify` re-checks sha256.\n{body}"
        )
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// The `kind` of a component published as a task: a program of the standard command world.
pub const TASK_KIND: &str = "task";
/// The world of a task component.
pub const TASK_WORLD: &str = "wasi:cli/command@0.2";

impl Manifest {
    /// The manifest of task component `name@version` (a program of [`TASK_WORLD`], which has
    /// no `describe`), whose bytes have `sha256` and `size`.
    pub fn for_task(
        name: &str,
        version: semver::Version,
        summary: String,
        sha256: String,
        size: u64,
        license: Option<String>,
        published: String,
    ) -> Self {
        Self {
            name: name.to_owned(),
            version,
            kind: TASK_KIND.to_owned(),
            world: TASK_WORLD.to_owned(),
            sha256,
            size,
            summary,
            license,
            published,
            yanked: None,
            capabilities: ManifestCapabilities::default(),
            schemas: ManifestSchemas::default(),
        }
    }

    /// Whether this version is a task (a command component) rather than a plugin.
    pub fn is_task(&self) -> bool {
        self.kind == TASK_KIND
    }
}

/// `lockgate:plugin/<world>@<contract>` for a plugin kind.
pub fn world_id(kind: PluginKind) -> String {
    format!(
        "lockgate:plugin/{}@{}",
        kind.world(),
        lockgate_model::CONTRACT_VERSION
    )
}

/// The current time as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_706_105), "2026-11-26T15:15:05Z");
    }

    #[test]
    fn manifest_round_trips_through_toml() {
        let m = Manifest {
            name: "git".into(),
            version: semver::Version::new(1, 2, 0),
            kind: "resource-type".into(),
            world: "lockgate:plugin/resource-type@0.1.0".into(),
            sha256: "ab".repeat(32),
            size: 1234,
            summary: "Git repositories".into(),
            license: Some("Apache-2.0".into()),
            published: rfc3339(0),
            yanked: Some(Yank {
                reason: "breaks on packs".into(),
                at: rfc3339(60),
            }),
            capabilities: ManifestCapabilities {
                network: vec![],
                env: vec!["HOME".into()],
                dirs: vec!["repo".into()],
            },
            schemas: ManifestSchemas {
                source: Some("{\n  \"type\": \"object\"\n}".into()),
                ..Default::default()
            },
        };
        let text = m.render();
        assert!(text.contains("sha256 = \""), "{text}");
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        let newer = format!("{text}\nsigned_by = \"someone\"\n");
        assert_eq!(
            Manifest::parse(&newer).unwrap(),
            m,
            "unknown keys are ignored"
        );
        let err = Manifest::parse("name = 1").unwrap_err().to_string();
        assert!(err.contains("name"), "{err}");
    }
}
