//! `plugin:` references: parsing them, finding the `.wasm` file (a path, or the plugin
//! registry directory), and loading every plugin of a pipeline with the real host.

use std::collections::BTreeMap;
use std::path::Path;

use super::model::{Pipeline, PluginRef};
use super::validate::{SchemaSource, TypeKind};
use crate::plugin_host::{Description, Plugin, PluginHost};
use crate::registry::Resolver;

pub use crate::registry::lockfile::NO_REGISTRY;

/// Parses a `plugin:` value. A value containing `/` (or `\`) or ending in `.wasm` is a path,
/// resolved against `dir` when relative; anything else must be `name@version-requirement`
/// (`git@^1.2`, `counter@=0.1.0`, `counter@*`).
pub fn parse_plugin_ref(text: &str, dir: &Path) -> Result<PluginRef, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "empty plugin reference: write `name@version` or a path to a `.wasm` file".into(),
        );
    }
    if text.contains('/') || text.contains('\\') || text.ends_with(".wasm") {
        return Ok(PluginRef::Path(dir.join(text)));
    }
    let Some((name, req)) = text.split_once('@') else {
        return Err(format!(
            "`{text}` is neither a registry reference `name@version` nor a path to a `.wasm` file: write `{text}@*` for the newest version in the registry, or `./{text}.wasm`"
        ));
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "invalid plugin name `{name}` in `{text}`: use letters, digits, `-` and `_`"
        ));
    }
    let req = semver::VersionReq::parse(req.trim()).map_err(|e| {
        format!("invalid version requirement `{req}` in `{text}` (e.g. `^1.2`, `=1.0.3`, `*`): {e}")
    })?;
    Ok(PluginRef::Registry {
        name: name.to_owned(),
        req,
    })
}

/// Loads the component a `plugin:` reference designates: a path as it is, a registry
/// reference through `resolver` (pinned version, bytes checked against the pinned digest).
async fn load_ref(
    plugin: &PluginRef,
    host: &PluginHost,
    resolver: Option<&Resolver>,
) -> Result<Plugin, String> {
    match plugin {
        PluginRef::Path(path) => host.load(path).await.map_err(|e| e.to_string()),
        PluginRef::Registry { name, req } => {
            let resolved = match resolver {
                Some(r) => r.resolve(name, req)?,
                None => return Err(NO_REGISTRY.into()),
            };
            let bytes = std::fs::read(&resolved.path).map_err(|e| {
                format!(
                    "{}: cannot read {}: {e}",
                    resolved.path.display(),
                    resolved.id
                )
            })?;
            let digest = crate::registry::sha256_hex(&bytes);
            if digest != resolved.sha256 {
                return Err(format!(
                    "{} ({}) does not match its pinned digest: expected sha256 {}, the file has {digest}; it was changed after publishing (see `lockgate plugin verify`)",
                    resolved.path.display(),
                    resolved.id,
                    resolved.sha256
                ));
            }
            host.load_hashed(&resolved.path, bytes, digest)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// The plugins of a pipeline's resource types and test types, loaded by a [`PluginHost`]
/// (or why each could not be). Answers the validator's schema questions.
#[derive(Clone, Default)]
pub struct LoadedPlugins {
    resource_types: BTreeMap<String, Result<Plugin, String>>,
    test_types: BTreeMap<String, Result<Plugin, String>>,
}

impl std::fmt::Debug for LoadedPlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |m: &BTreeMap<String, Result<Plugin, String>>| -> Vec<String> {
            m.iter()
                .map(|(k, v)| match v {
                    Ok(p) => format!("{k}: {}", p.path().display()),
                    Err(e) => format!("{k}: {e}"),
                })
                .collect()
        };
        f.debug_struct("LoadedPlugins")
            .field("resource_types", &names(&self.resource_types))
            .field("test_types", &names(&self.test_types))
            .finish()
    }
}

impl LoadedPlugins {
    /// Loads the plugin of every resource type and test type of `pipeline` (each file once),
    /// resolving registry references with `resolver` (without one, they are errors).
    pub async fn load(pipeline: &Pipeline, host: &PluginHost, resolver: Option<&Resolver>) -> Self {
        let mut by_ref: BTreeMap<String, Result<Plugin, String>> = BTreeMap::new();
        let mut out = Self::default();
        for (kind, types) in [
            (TypeKind::Resource, &pipeline.resource_types),
            (TypeKind::Test, &pipeline.test_types),
        ] {
            for t in types {
                if t.name.value.is_empty() || t.plugin.value.is_unusable() {
                    continue;
                }
                let key = t.plugin.value.to_string();
                let loaded = match by_ref.get(&key) {
                    Some(done) => done.clone(),
                    None => {
                        let result = load_ref(&t.plugin.value, host, resolver).await;
                        by_ref.insert(key, result.clone());
                        result
                    }
                };
                let map = match kind {
                    TypeKind::Resource => &mut out.resource_types,
                    TypeKind::Test => &mut out.test_types,
                };
                map.entry(t.name.value.clone()).or_insert(loaded);
            }
        }
        out
    }

    /// The plugin of resource type `name`.
    pub fn resource_type(&self, name: &str) -> Option<&Plugin> {
        self.resource_types.get(name).and_then(|r| r.as_ref().ok())
    }

    /// The plugin of test type `name`.
    pub fn test_type(&self, name: &str) -> Option<&Plugin> {
        self.test_types.get(name).and_then(|r| r.as_ref().ok())
    }
}

impl SchemaSource for LoadedPlugins {
    fn description(&self, kind: TypeKind, name: &str) -> Result<&Description, String> {
        let map = match kind {
            TypeKind::Resource => &self.resource_types,
            TypeKind::Test => &self.test_types,
        };
        match map.get(name) {
            Some(Ok(plugin)) => Ok(plugin.description()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("plugin of {} `{name}` was not loaded", kind.noun())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_registry_references() {
        let dir = Path::new("/pipes");
        assert_eq!(
            parse_plugin_ref("plugins/git.wasm", dir).unwrap(),
            PluginRef::Path("/pipes/plugins/git.wasm".into())
        );
        assert_eq!(
            parse_plugin_ref("git.wasm", dir).unwrap(),
            PluginRef::Path("/pipes/git.wasm".into())
        );
        assert_eq!(
            parse_plugin_ref("/abs/x", dir).unwrap(),
            PluginRef::Path("/abs/x".into())
        );
        assert_eq!(
            parse_plugin_ref("git@^1.2", dir).unwrap(),
            PluginRef::Registry {
                name: "git".into(),
                req: semver::VersionReq::parse("^1.2").unwrap()
            }
        );
        assert!(matches!(
            parse_plugin_ref("counter@*", dir).unwrap(),
            PluginRef::Registry { .. }
        ));
    }

    #[test]
    fn bad_references_say_what_is_expected() {
        let dir = Path::new(".");
        assert!(
            parse_plugin_ref("git", dir)
                .unwrap_err()
                .contains("write `git@*`")
        );
        assert!(
            parse_plugin_ref("git@one", dir)
                .unwrap_err()
                .contains("invalid version requirement")
        );
        assert!(
            parse_plugin_ref("g it@1", dir)
                .unwrap_err()
                .contains("invalid plugin name")
        );
        assert!(parse_plugin_ref(" ", dir).unwrap_err().contains("empty"));
    }
}
