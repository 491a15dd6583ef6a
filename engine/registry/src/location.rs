//! Where the plugin registry is: `--registry DIR`, else `$LOCKGATE_REGISTRY`, else `registry`
//! in the user's config file (`$LOCKGATE_CONFIG`, else `$XDG_CONFIG_HOME/lockgate/config.toml`,
//! else `~/.config/lockgate/config.toml`), else `$XDG_DATA_HOME/lockgate/registry` (by default
//! `~/.local/share/lockgate/registry`).

use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable naming the registry directory.
pub const REGISTRY_ENV: &str = "LOCKGATE_REGISTRY";
/// Environment variable naming the user config file.
pub const CONFIG_ENV: &str = "LOCKGATE_CONFIG";

/// Which setting chose the registry directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryOrigin {
    /// `--registry`.
    Flag,
    /// `$LOCKGATE_REGISTRY`.
    Env,
    /// `registry = …` in this config file.
    ConfigFile(PathBuf),
    /// The default location.
    Default,
}

impl fmt::Display for RegistryOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("--registry"),
            Self::Env => write!(f, "${REGISTRY_ENV}"),
            Self::ConfigFile(p) => write!(f, "`registry` in {}", p.display()),
            Self::Default => f.write_str("the default location"),
        }
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(fallback)))
}

/// The default registry directory: `$XDG_DATA_HOME/lockgate/registry`, else
/// `~/.local/share/lockgate/registry`, else `.lockgate/registry` in the current directory.
pub fn default_registry_dir() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share")
        .map(|d| d.join("lockgate").join("registry"))
        .unwrap_or_else(|| PathBuf::from(".lockgate/registry"))
}

/// The user config file, if one is named or exists at the usual place.
fn config_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let p = xdg("XDG_CONFIG_HOME", ".config")?.join("lockgate/config.toml");
    p.is_file().then_some(p)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserConfig {
    registry: Option<PathBuf>,
}

/// Why the user config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// It could not be read.
    #[error("cannot read the config file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// It is not a valid config file.
    #[error("{}: invalid config file: {error}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What TOML parsing said.
        error: toml::de::Error,
    },
}

/// `registry` of config file `path` (relative paths are relative to the file).
fn registry_in(path: &Path) -> Result<Option<PathBuf>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigFileError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let config: UserConfig = toml::from_str(&text).map_err(|error| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(config.registry.map(|r| {
        if r.is_relative() {
            path.parent().unwrap_or(Path::new(".")).join(r)
        } else {
            r
        }
    }))
}

/// The registry directory and the setting that chose it; `flag` is `--registry`.
pub fn locate_registry(flag: Option<&Path>) -> Result<(PathBuf, RegistryOrigin), ConfigFileError> {
    if let Some(dir) = flag {
        return Ok((dir.to_path_buf(), RegistryOrigin::Flag));
    }
    if let Some(dir) = std::env::var_os(REGISTRY_ENV).filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(dir), RegistryOrigin::Env));
    }
    if let Some(file) = config_file()
        && let Some(dir) = registry_in(&file)?
    {
        return Ok((dir, RegistryOrigin::ConfigFile(file)));
    }
    Ok((default_registry_dir(), RegistryOrigin::Default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_registry_is_relative_to_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("config.toml");
        std::fs::write(&file, "registry = \"plugins\"\n").unwrap();
        assert_eq!(
            registry_in(&file).unwrap(),
            Some(tmp.path().join("plugins"))
        );
        std::fs::write(&file, "registry = \"/abs\"\n").unwrap();
        assert_eq!(registry_in(&file).unwrap(), Some(PathBuf::from("/abs")));
        std::fs::write(&file, "registy = 1\n").unwrap();
        let e = registry_in(&file).unwrap_err().to_string();
        assert!(e.contains("registy"), "{e}");
        std::fs::write(&file, "# nothing\n").unwrap();
        assert_eq!(registry_in(&file).unwrap(), None);
        std::fs::write(&file, "registry = [\n").unwrap();
        let e = registry_in(&file).unwrap_err().to_string();
        assert!(e.contains("invalid config file"), "{e}");
    }

    #[test]
    fn the_flag_wins() {
        let (dir, origin) = locate_registry(Some(Path::new("/r"))).unwrap();
        assert_eq!((dir, origin), (PathBuf::from("/r"), RegistryOrigin::Flag));
    }
}
