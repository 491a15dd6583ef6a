//! `plugin:` references: a path to a `.wasm` file or a registry reference `name@requirement`.
//! Loading them is the engine's job (`lockgate_engine::plan`).

use std::path::Path;

use super::model::PluginRef;

/// Why a `plugin:` value is not a plugin reference.
#[derive(Debug, thiserror::Error)]
pub enum PluginRefError {
    /// Nothing was written.
    #[error("empty plugin reference: write `name@version` or a path to a `.wasm` file")]
    Empty,
    /// Neither a path nor `name@requirement`.
    #[error(
        "`{text}` is neither a registry reference `name@version` nor a path to a `.wasm` file: write `{text}@*` for the newest version in the registry, or `./{text}.wasm`"
    )]
    Neither {
        /// The value.
        text: String,
    },
    /// The name part has other characters than letters, digits, `-` and `_`.
    #[error("invalid plugin name `{name}` in `{text}`: use letters, digits, `-` and `_`")]
    BadName {
        /// The name.
        name: String,
        /// The value.
        text: String,
    },
    /// The requirement part is not a semver requirement.
    #[error(
        "invalid version requirement `{req}` in `{text}` (e.g. `^1.2`, `=1.0.3`, `*`): {reason}"
    )]
    BadRequirement {
        /// The requirement.
        req: String,
        /// The value.
        text: String,
        /// What semver said.
        reason: semver::Error,
    },
}

/// Parses a `plugin:` value. A value containing `/` (or `\`) or ending in `.wasm` is a path,
/// resolved against `dir` when relative; anything else must be `name@version-requirement`
/// (`git@^1.2`, `counter@=0.1.0`, `counter@*`).
pub fn parse_plugin_ref(text: &str, dir: &Path) -> Result<PluginRef, PluginRefError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PluginRefError::Empty);
    }
    if text.contains('/') || text.contains('\\') || text.ends_with(".wasm") {
        return Ok(PluginRef::Path(dir.join(text)));
    }
    let Some((name, req)) = text.split_once('@') else {
        return Err(PluginRefError::Neither {
            text: text.to_owned(),
        });
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(PluginRefError::BadName {
            name: name.to_owned(),
            text: text.to_owned(),
        });
    }
    let req =
        semver::VersionReq::parse(req.trim()).map_err(|reason| PluginRefError::BadRequirement {
            req: req.to_owned(),
            text: text.to_owned(),
            reason,
        })?;
    Ok(PluginRef::Registry {
        name: name.to_owned(),
        req,
    })
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
                .to_string()
                .contains("write `git@*`")
        );
        assert!(
            parse_plugin_ref("git@one", dir)
                .unwrap_err()
                .to_string()
                .contains("invalid version requirement")
        );
        assert!(
            parse_plugin_ref("g it@1", dir)
                .unwrap_err()
                .to_string()
                .contains("invalid plugin name")
        );
        assert!(
            parse_plugin_ref(" ", dir)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }
}
