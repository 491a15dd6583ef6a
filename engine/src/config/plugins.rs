//! `plugin:` references: parsing them, finding the `.wasm` file (a path, or the plugin
//! registry directory), and loading every plugin of a pipeline with the real host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::{Pipeline, PluginRef};
use super::validate::{SchemaSource, TypeKind};
use crate::plugin_host::{Description, Plugin, PluginHost};

/// What `validate` says about a registry reference when no registry is configured.
pub const NO_REGISTRY: &str = "plugin registry not configured: use a path to a .wasm file for now";

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

impl PluginRef {
    /// The `.wasm` file this reference designates: the path itself, or the highest version of
    /// the registry matching the requirement, `<registry>/<name>/<version>/plugin.wasm`.
    pub fn resolve(&self, registry: Option<&Path>) -> Result<PathBuf, String> {
        match self {
            PluginRef::Path(p) => Ok(p.clone()),
            PluginRef::Registry { name, req } => match registry {
                None => Err(NO_REGISTRY.into()),
                Some(dir) => resolve_in_registry(dir, name, req),
            },
        }
    }
}

/// The highest version of plugin `name` matching `req` in registry directory `dir`, laid out
/// as `<dir>/<name>/<version>/plugin.wasm` (`<version>` a semantic version).
pub fn resolve_in_registry(
    dir: &Path,
    name: &str,
    req: &semver::VersionReq,
) -> Result<PathBuf, String> {
    let plugin_dir = dir.join(name);
    let entries = std::fs::read_dir(&plugin_dir).map_err(|e| {
        format!(
            "plugin `{name}` is not in the registry `{}` ({}: {e})",
            dir.display(),
            plugin_dir.display()
        )
    })?;
    let mut versions: Vec<semver::Version> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|v| semver::Version::parse(v).ok())
        })
        .collect();
    versions.sort();
    let Some(best) = versions.iter().rev().find(|v| req.matches(v)) else {
        let found: Vec<String> = versions.iter().map(ToString::to_string).collect();
        return Err(format!(
            "no version of plugin `{name}` in the registry `{}` matches `{req}` (found: {})",
            dir.display(),
            if found.is_empty() {
                "none".to_owned()
            } else {
                found.join(", ")
            }
        ));
    };
    let file = plugin_dir.join(best.to_string()).join("plugin.wasm");
    if file.is_file() {
        Ok(file)
    } else {
        Err(format!(
            "plugin `{name}@{best}` of the registry has no `{}`",
            file.display()
        ))
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
    /// resolving registry references in `registry`.
    pub async fn load(pipeline: &Pipeline, host: &PluginHost, registry: Option<&Path>) -> Self {
        let mut by_path: BTreeMap<PathBuf, Result<Plugin, String>> = BTreeMap::new();
        let mut out = Self::default();
        for (kind, types) in [
            (TypeKind::Resource, &pipeline.resource_types),
            (TypeKind::Test, &pipeline.test_types),
        ] {
            for t in types {
                if t.name.value.is_empty() || t.plugin.value.is_unusable() {
                    continue;
                }
                let loaded = match t.plugin.value.resolve(registry) {
                    Err(e) => Err(e),
                    Ok(path) => match by_path.get(&path) {
                        Some(done) => done.clone(),
                        None => {
                            let result = host.load(&path).await.map_err(|e| e.to_string());
                            by_path.insert(path, result.clone());
                            result
                        }
                    },
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

    #[test]
    fn registry_lookup_takes_the_highest_matching_version() {
        let tmp = tempfile::tempdir().unwrap();
        for v in ["1.0.0", "1.4.2", "1.10.0", "2.0.0", "not-a-version"] {
            let d = tmp.path().join("git").join(v);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("plugin.wasm"), b"\0asm").unwrap();
        }
        std::fs::create_dir_all(tmp.path().join("git/3.0.0")).unwrap();
        let req = |r: &str| semver::VersionReq::parse(r).unwrap();
        let get = |r: &str| resolve_in_registry(tmp.path(), "git", &req(r));
        assert_eq!(
            get("^1").unwrap(),
            tmp.path().join("git/1.10.0/plugin.wasm")
        );
        assert_eq!(
            get("~1.4").unwrap(),
            tmp.path().join("git/1.4.2/plugin.wasm")
        );
        assert_eq!(
            get("=2.0.0").unwrap(),
            tmp.path().join("git/2.0.0/plugin.wasm")
        );
        let e = get("^4").unwrap_err();
        assert!(
            e.contains("matches `^4`") && e.contains("1.0.0, 1.4.2, 1.10.0, 2.0.0, 3.0.0"),
            "{e}"
        );
        assert!(
            get("^3").unwrap_err().contains("has no"),
            "a version without plugin.wasm"
        );
        let e = resolve_in_registry(tmp.path(), "svn", &req("*")).unwrap_err();
        assert!(e.contains("plugin `svn` is not in the registry"), "{e}");

        let r = PluginRef::Registry {
            name: "git".into(),
            req: req("^2"),
        };
        assert_eq!(r.resolve(None).unwrap_err(), NO_REGISTRY);
        assert_eq!(
            r.resolve(Some(tmp.path())).unwrap(),
            tmp.path().join("git/2.0.0/plugin.wasm")
        );
    }
}
