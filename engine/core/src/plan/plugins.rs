//! Loading every plugin of a pipeline with the real host: `plugin:` references resolved to
//! files (a path, or the plugin registry directory), each file loaded once.

use std::collections::BTreeMap;

use lockgate_config::{Pipeline, PluginRef, SchemaError, SchemaSource, TypeKind};
use lockgate_model::{Description, ErrorReport, NO_REGISTRY};
use lockgate_plugin_host::{Plugin, PluginHost};
use lockgate_registry::Resolver;

/// Loads the component a `plugin:` reference designates: a path as it is, a registry
/// reference through `resolver` (pinned version, bytes checked against the pinned digest).
async fn load_ref(
    plugin: &PluginRef,
    host: &PluginHost,
    resolver: Option<&Resolver>,
) -> Result<Plugin, String> {
    match plugin {
        PluginRef::Path(path) => host.load(path).await.map_err(|e| e.report().to_string()),
        PluginRef::Registry { name, req } => {
            let resolved = match resolver {
                Some(r) => r.resolve(name, req).map_err(|e| e.to_string())?,
                None => return Err(NO_REGISTRY.into()),
            };
            let bytes = std::fs::read(&resolved.path).map_err(|e| {
                format!(
                    "{}: cannot read {}: {e}",
                    resolved.path.display(),
                    resolved.id
                )
            })?;
            let digest = lockgate_model::sha256_hex([&bytes]);
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
                .map_err(|e| e.report().to_string())
        }
    }
}

/// The plugins of a pipeline's resource types and test types, loaded by a [`PluginHost`]
/// (or why each could not be). Answers the validator's schema questions.
///
/// Why a plugin could not be loaded is kept as its rendered message: it is handed to the
/// config layer ([`SchemaError::Unavailable`]), which cannot know the host's error types.
#[derive(Clone, Default)]
pub struct LoadedPlugins {
    resource_types: BTreeMap<String, Result<Plugin, String>>,
    test_types: BTreeMap<String, Result<Plugin, String>>,
    /// Left unloaded on purpose ([`LoadedPlugins::none`]): schemas are not checked.
    skipped: bool,
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

    /// No plugin loaded, on purpose: for commands that only read the state, which need the
    /// plan's shape but never run a plugin (no compilation, no registry).
    pub fn none() -> Self {
        Self {
            skipped: true,
            ..Self::default()
        }
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
    fn description(&self, kind: TypeKind, name: &str) -> Result<&Description, SchemaError> {
        if self.skipped {
            return Err(SchemaError::NotChecked);
        }
        let map = match kind {
            TypeKind::Resource => &self.resource_types,
            TypeKind::Test => &self.test_types,
        };
        match map.get(name) {
            Some(Ok(plugin)) => Ok(plugin.description()),
            Some(Err(e)) => Err(SchemaError::Unavailable(e.clone())),
            None => Err(SchemaError::NotLoaded {
                kind,
                name: name.to_owned(),
            }),
        }
    }
}
