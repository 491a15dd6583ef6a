//! `index.json` at the root of a registry: every published version with its digest, kind and
//! yank state, rewritten from the manifests on every publish and yank so that tools (and
//! people) can list the registry without walking it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;

/// File name of the index at the registry root.
pub const INDEX_FILE: &str = "index.json";

/// The registry index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Format of this file (1).
    pub format: u32,
    /// Plugin name → version → entry.
    pub plugins: BTreeMap<String, BTreeMap<String, IndexEntry>>,
}

/// One version in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// SHA-256 of `plugin.wasm`.
    pub sha256: String,
    /// `resource-type` or `test-step`.
    pub kind: String,
    /// One-line description.
    #[serde(default)]
    pub summary: String,
    /// Whether the version is yanked.
    #[serde(default)]
    pub yanked: bool,
}

impl Index {
    /// The index of these manifests.
    pub fn of<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Self {
        let mut index = Index {
            format: 1,
            ..Default::default()
        };
        for m in manifests {
            index.plugins.entry(m.name.clone()).or_default().insert(
                m.version.to_string(),
                IndexEntry {
                    sha256: m.sha256.clone(),
                    kind: m.kind.clone(),
                    summary: m.summary.clone(),
                    yanked: m.yanked.is_some(),
                },
            );
        }
        index
    }

    /// The JSON text of the index.
    pub fn render(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses the JSON text of an index.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}
