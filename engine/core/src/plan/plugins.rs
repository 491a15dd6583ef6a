//! Loading every plugin of a pipeline with the real host: `plugin:` references resolved to
//! files (a path, or the plugin registry directory), each file loaded once.

use std::collections::BTreeMap;
use std::sync::Arc;

use lockgate_config::{Pipeline, PluginRef, SchemaError, SchemaSource, TaskComponent, TypeKind};
use lockgate_model::{Description, ErrorReport, NO_REGISTRY};
use lockgate_plugin_host::{Plugin, PluginHost, Task};
use lockgate_registry::{Resolved, Resolver};

use super::task::TaskLoader;

/// Why the plugin of a `plugin:` reference could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    /// The host refused the file (unreadable, not a component, does not compile, ...).
    #[error(transparent)]
    Host(#[from] lockgate_plugin_host::LoadError),
    /// The registry reference does not resolve to a pinned entry.
    #[error(transparent)]
    Registry(#[from] lockgate_registry::LockError),
    /// A registry reference in a pipeline run without a plugin registry directory.
    #[error("{}", NO_REGISTRY)]
    NoRegistry,
    /// The registry's file could not be read.
    #[error("{}: cannot read {id}", path.display())]
    Read {
        /// The file in the registry directory.
        path: std::path::PathBuf,
        /// `name@version`.
        id: String,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// The registry's file is not the one pinned in the lockfile.
    #[error(
        "{} ({id}) does not match its pinned digest: expected sha256 {expected}, the file has {actual}; it was changed after publishing (see `lockgate plugin verify`)",
        path.display()
    )]
    Digest {
        /// The file in the registry directory.
        path: std::path::PathBuf,
        /// `name@version`.
        id: String,
        /// The digest pinned in the lockfile.
        expected: String,
        /// The digest of the file.
        actual: String,
    },
}

/// The bytes of registry reference `name@req`, resolved through `resolver` (the pinned
/// version) and checked against the digest pinned for it.
pub(super) fn registry_bytes(
    name: &str,
    req: &semver::VersionReq,
    resolver: &Resolver,
) -> Result<(Resolved, Vec<u8>), PluginLoadError> {
    let resolved = resolver.resolve(name, req)?;
    let bytes = std::fs::read(&resolved.path).map_err(|error| PluginLoadError::Read {
        path: resolved.path.clone(),
        id: resolved.id.clone(),
        error,
    })?;
    let digest = lockgate_model::sha256_hex([&bytes]);
    if digest != resolved.sha256 {
        return Err(PluginLoadError::Digest {
            path: resolved.path.clone(),
            id: resolved.id.clone(),
            expected: resolved.sha256.clone(),
            actual: digest,
        });
    }
    Ok((resolved, bytes))
}

/// Loads the component a `plugin:` reference designates: a path as it is, a registry
/// reference through `resolver` (pinned version, bytes checked against the pinned digest).
async fn load_ref(
    plugin: &PluginRef,
    host: &PluginHost,
    resolver: Option<&Resolver>,
) -> Result<Plugin, PluginLoadError> {
    match plugin {
        PluginRef::Path(path) => Ok(host.load(path).await?),
        PluginRef::Registry { name, req } => {
            let resolver = resolver.ok_or(PluginLoadError::NoRegistry)?;
            let (resolved, bytes) = registry_bytes(name, req, resolver)?;
            let digest = resolved.sha256;
            Ok(host.load_hashed(&resolved.path, bytes, digest).await?)
        }
    }
}

/// Loads the program of a `task` step's `component:` (a path or a registry reference to a
/// component published as a task).
async fn load_task_ref(
    component: &PluginRef,
    host: &PluginHost,
    resolver: Option<&Resolver>,
) -> Result<Task, PluginLoadError> {
    match component {
        PluginRef::Path(path) => Ok(host.load_task(path).await?),
        PluginRef::Registry { name, req } => {
            let resolver = resolver.ok_or(PluginLoadError::NoRegistry)?;
            let (resolved, bytes) = registry_bytes(name, req, resolver)?;
            Ok(host.load_task_bytes(&resolved.path, bytes).await?)
        }
    }
}

/// A plugin, or why it could not be loaded (shared: one file may serve several types).
type Loaded = Result<Plugin, Arc<PluginLoadError>>;

/// The plugins of a pipeline's resource types and test types, loaded by a [`PluginHost`]
/// (or why each could not be). Answers the validator's schema questions.
///
/// Why a plugin could not be loaded reaches the config layer rendered
/// ([`SchemaError::Unavailable`]): it cannot know the host's error types.
#[derive(Clone, Default)]
pub struct LoadedPlugins {
    resource_types: BTreeMap<String, Loaded>,
    test_types: BTreeMap<String, Loaded>,
    /// The programs of `task` steps, by `component:` (a file or registry reference).
    tasks: BTreeMap<String, Result<Task, Arc<PluginLoadError>>>,
    /// Loads what task files name when their tasks run (`None`: no host).
    loader: Option<TaskLoader>,
    /// Left unloaded on purpose ([`LoadedPlugins::none`]): schemas are not checked.
    skipped: bool,
}

impl std::fmt::Debug for LoadedPlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |m: &BTreeMap<String, Loaded>| -> Vec<String> {
            m.iter()
                .map(|(k, v)| match v {
                    Ok(p) => format!("{k}: {}", p.path().display()),
                    Err(e) => format!("{k}: {}", e.report()),
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
        let mut by_ref: BTreeMap<String, Loaded> = BTreeMap::new();
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
                        let result = load_ref(&t.plugin.value, host, resolver)
                            .await
                            .map_err(Arc::new);
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
        for job in &pipeline.jobs {
            for (_, task) in job.tasks() {
                let TaskComponent::Ref(component) = &task.config.component.value else {
                    continue;
                };
                let key = component.to_string();
                if component.is_unusable() || out.tasks.contains_key(&key) {
                    continue;
                }
                let loaded = load_task_ref(component, host, resolver)
                    .await
                    .map_err(Arc::new);
                out.tasks.insert(key, loaded);
            }
        }
        out.loader = Some(TaskLoader::new(
            host.clone(),
            resolver.map(|r| Arc::new(r.read_only())),
        ));
        out
    }

    /// The program of the `task` steps whose `component:` is `component` (a file or a
    /// registry reference, as displayed).
    pub fn task(&self, component: &str) -> Option<&Task> {
        self.tasks.get(component).and_then(|r| r.as_ref().ok())
    }

    /// Why the program of `component` could not be loaded, if it could not.
    pub fn task_error(&self, component: &str) -> Option<&PluginLoadError> {
        self.tasks
            .get(component)
            .and_then(|r| r.as_ref().err())
            .map(|e| &**e)
    }

    /// What loads task files' components when their tasks run (`None`: loaded without a host).
    pub fn task_loader(&self) -> Option<&TaskLoader> {
        self.loader.as_ref()
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
            Some(Err(e)) => Err(SchemaError::Unavailable(e.report().to_string())),
            None => Err(SchemaError::NotLoaded {
                kind,
                name: name.to_owned(),
            }),
        }
    }
}
