//! `lockgate.lock` beside a pipeline: the registry version and digest each `name@requirement`
//! resolved to, so that every later run loads exactly the same bytes. Created on first run,
//! changed only by `lockgate plugin update` (or when the pipeline asks for a plugin or a
//! requirement the file does not pin yet); a component whose bytes no longer match its pin
//! is refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{Registry, RegistryError, write_atomic};

/// File name of the lockfile, in the pipeline's directory.
pub const LOCKFILE: &str = "lockgate.lock";

/// What a registry reference resolves to when no registry was given and the default one does
/// not exist.
pub use lockgate_model::NO_REGISTRY;

/// The contents of `lockgate.lock`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Format (1).
    pub version: u32,
    /// One pin per `name@requirement` of the pipeline.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<LockedPlugin>,
}

/// One pinned plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPlugin {
    /// Plugin name.
    pub name: String,
    /// The requirement as the pipeline writes it (normalised).
    pub requirement: String,
    /// The version it resolved to.
    pub version: semver::Version,
    /// SHA-256 of that version's `plugin.wasm`.
    pub sha256: String,
}

/// Why lockfile text is not a lockfile.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// Not valid TOML, or not the lockfile's shape (the message names the line).
    #[error(transparent)]
    Syntax(#[from] toml::de::Error),
    /// Written by a newer lockgate.
    #[error("lockfile format {0} is not supported by this lockgate (it writes format 1)")]
    Format(u32),
}

/// Why a registry reference could not be resolved through the lockfile, or the lockfile not
/// be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lockfile exists but is not a lockfile.
    #[error("{}: invalid lockfile: {reason} (delete it to re-resolve every plugin)", path.display())]
    Invalid {
        /// The lockfile.
        path: PathBuf,
        /// What is wrong.
        reason: LockfileError,
    },
    /// The lockfile exists but cannot be read.
    #[error("{}: cannot read the lockfile: {error}", path.display())]
    Read {
        /// The lockfile.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// No registry was given, and the default one does not exist.
    #[error("{}", NO_REGISTRY)]
    NoRegistry,
    /// The pinned version is no longer in the registry.
    #[error(
        "{lockfile} pins {name}@{version}, which the registry no longer has: {error} (run `lockgate plugin update {name}` to choose another version)"
    )]
    PinMissing {
        /// The lockfile's name.
        lockfile: String,
        /// The plugin.
        name: String,
        /// The pinned version.
        version: semver::Version,
        /// What the registry said.
        error: Box<RegistryError>,
    },
    /// The registry records other bytes for the pinned version than the lockfile.
    #[error(
        "{lockfile} pins {name}@{version} to sha256 {pinned}, but the registry records {recorded} for it: the published version was replaced; run `lockgate plugin verify`, and `lockgate plugin update {name}` only if you trust the new bytes"
    )]
    PinReplaced {
        /// The lockfile's name.
        lockfile: String,
        /// The plugin.
        name: String,
        /// The pinned version.
        version: String,
        /// The pinned digest.
        pinned: String,
        /// The registry's digest.
        recorded: String,
    },
    /// `--locked` and the lockfile has no pin for the reference.
    #[error(
        "{lockfile} has no pin for {name}@{requirement} and --locked forbids adding one: run `lockgate plugin update` and commit the lockfile"
    )]
    NotPinned {
        /// The lockfile's name.
        lockfile: String,
        /// The plugin.
        name: String,
        /// The requirement.
        requirement: String,
    },
    /// The registry could not resolve the reference, or the lockfile not be written.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl Lockfile {
    /// Parses lockfile text; errors name the line.
    pub fn parse(text: &str) -> Result<Self, LockfileError> {
        let lock: Lockfile = toml::from_str(text)?;
        if lock.version != 1 {
            return Err(LockfileError::Format(lock.version));
        }
        Ok(lock)
    }

    /// The text of the lockfile.
    pub fn render(&self) -> String {
        let mut sorted = self.clone();
        sorted.version = 1;
        sorted
            .plugins
            .sort_by(|a, b| (&a.name, &a.requirement).cmp(&(&b.name, &b.requirement)));
        format!(
            "# Written by lockgate: the registry plugins of the pipeline beside it, pinned to a\n# version and its sha256. Commit it; change it with `lockgate plugin update`.\n{}",
            toml::to_string_pretty(&sorted).unwrap_or_default()
        )
    }

    fn pin(&self, name: &str, requirement: &str) -> Option<&LockedPlugin> {
        self.plugins
            .iter()
            .find(|p| p.name == name && p.requirement == requirement)
    }
}

/// How a [`Resolver`] treats the lockfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Use the pins, pin what is missing and write the file when it changed (`run`, `server`).
    Update,
    /// Use the pins, resolve what is missing, never write (`validate`).
    ReadOnly,
    /// Use the pins; anything not pinned is an error (`--locked`).
    Frozen,
}

/// A registry reference, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The component to load.
    pub path: PathBuf,
    /// `name@version`.
    pub id: String,
    /// The digest the bytes must have.
    pub sha256: String,
}

#[derive(Debug, Default)]
struct State {
    lock: Lockfile,
    used: BTreeSet<(String, String)>,
    notes: Vec<String>,
}

/// Resolves `name@requirement` references in a registry through a pipeline's lockfile.
#[derive(Debug)]
pub struct Resolver {
    registry: Option<Registry>,
    lock_path: Option<PathBuf>,
    mode: LockMode,
    state: Mutex<State>,
}

impl Resolver {
    /// A resolver on `registry` (None: references are an error) with the lockfile at
    /// `lock_path` (None: no lockfile). Fails when the lockfile exists but is unreadable.
    pub fn new(
        registry: Option<Registry>,
        lock_path: Option<PathBuf>,
        mode: LockMode,
    ) -> Result<Self, LockError> {
        let lock = match &lock_path {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => Lockfile::parse(&text).map_err(|reason| LockError::Invalid {
                    path: path.clone(),
                    reason,
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Lockfile {
                    version: 1,
                    plugins: Vec::new(),
                },
                Err(error) => {
                    return Err(LockError::Read {
                        path: path.clone(),
                        error,
                    });
                }
            },
            None => Lockfile::default(),
        };
        Ok(Self {
            registry,
            lock_path,
            mode,
            state: Mutex::new(State {
                lock,
                ..State::default()
            }),
        })
    }

    /// A resolver with this one's registry, lockfile and pins so far that never writes (for
    /// references met when a build runs: a task file's component). Under `--locked`
    /// ([`LockMode::Frozen`]) it still refuses what is not pinned.
    pub fn read_only(&self) -> Resolver {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Resolver {
            registry: self.registry.clone(),
            lock_path: self.lock_path.clone(),
            mode: match self.mode {
                LockMode::Frozen => LockMode::Frozen,
                LockMode::Update | LockMode::ReadOnly => LockMode::ReadOnly,
            },
            state: Mutex::new(State {
                lock: state.lock.clone(),
                ..State::default()
            }),
        }
    }

    /// The lockfile path of pipeline file `pipeline`: `lockgate.lock` beside it.
    pub fn lock_path_of(pipeline: &Path) -> PathBuf {
        pipeline
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(LOCKFILE)
    }

    /// The registry, if one is configured.
    pub fn registry(&self) -> Option<&Registry> {
        self.registry.as_ref()
    }

    /// Forgets the pins of these plugins (all when `names` is empty), so that they resolve
    /// to the newest matching version again (`lockgate plugin update`).
    pub fn unpin(&self, names: &[String]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .lock
            .plugins
            .retain(|p| !names.is_empty() && !names.contains(&p.name));
    }

    /// Resolves `name@req`: the pinned version when the lockfile has one that still
    /// satisfies `req`, else the newest non-yanked matching version (then pinned).
    pub fn resolve(&self, name: &str, req: &semver::VersionReq) -> Result<Resolved, LockError> {
        let Some(registry) = &self.registry else {
            return Err(LockError::NoRegistry);
        };
        let requirement = req.to_string();
        let lock_name = self
            .lock_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| LOCKFILE.into());
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let pinned = state
            .lock
            .pin(name, &requirement)
            .filter(|p| req.matches(&p.version))
            .cloned();
        if let Some(pin) = pinned {
            let entry =
                registry
                    .entry(name, &pin.version)
                    .map_err(|error| LockError::PinMissing {
                        lockfile: lock_name.clone(),
                        name: name.to_owned(),
                        version: pin.version.clone(),
                        error: Box::new(error),
                    })?;
            if entry.manifest.sha256 != pin.sha256 {
                return Err(LockError::PinReplaced {
                    lockfile: lock_name,
                    name: name.to_owned(),
                    version: pin.version.to_string(),
                    pinned: pin.sha256,
                    recorded: entry.manifest.sha256,
                });
            }
            if let Some(yank) = &entry.manifest.yanked {
                state.notes.push(format!(
                    "{name}@{} (pinned in {lock_name}) is yanked{}: run `lockgate plugin update {name}` to move off it",
                    pin.version,
                    if yank.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", yank.reason)
                    }
                ));
            }
            state.used.insert((name.to_owned(), requirement));
            return Ok(Resolved {
                path: entry.wasm(),
                id: entry.manifest.id(),
                sha256: pin.sha256,
            });
        }
        if self.mode == LockMode::Frozen && self.lock_path.is_some() {
            return Err(LockError::NotPinned {
                lockfile: lock_name,
                name: name.to_owned(),
                requirement,
            });
        }
        let entry = registry.resolve(name, req)?;
        let pin = LockedPlugin {
            name: name.to_owned(),
            requirement: requirement.clone(),
            version: entry.manifest.version.clone(),
            sha256: entry.manifest.sha256.clone(),
        };
        state
            .lock
            .plugins
            .retain(|p| !(p.name == name && p.requirement == requirement));
        state.lock.plugins.push(pin);
        state.used.insert((name.to_owned(), requirement));
        Ok(Resolved {
            path: entry.wasm(),
            id: entry.manifest.id(),
            sha256: entry.manifest.sha256.clone(),
        })
    }

    /// Warnings gathered while resolving (yanked pins), each once.
    pub fn take_notes(&self) -> Vec<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut notes = std::mem::take(&mut state.notes);
        notes.dedup();
        notes
    }

    /// The lockfile as it stands after resolving: pins of this run only.
    pub fn lockfile(&self) -> Lockfile {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut lock = state.lock.clone();
        lock.version = 1;
        lock.plugins.retain(|p| {
            state
                .used
                .contains(&(p.name.clone(), p.requirement.clone()))
        });
        lock
    }

    /// In [`LockMode::Update`], writes the lockfile when its pins changed (a pin added, an
    /// unused one dropped); returns whether it wrote. Call once every reference resolved.
    pub fn save(&self) -> Result<bool, LockError> {
        let Some(path) = &self.lock_path else {
            return Ok(false);
        };
        if self.mode != LockMode::Update {
            return Ok(false);
        }
        let lock = self.lockfile();
        let on_disk = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| Lockfile::parse(&t).ok());
        match on_disk {
            None if lock.plugins.is_empty() => return Ok(false),
            Some(old) if old.render() == lock.render() => return Ok(false),
            _ => {}
        }
        write_atomic(path, lock.render().as_bytes())?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockfile_round_trip_and_errors() {
        let lock = Lockfile {
            version: 1,
            plugins: vec![LockedPlugin {
                name: "git".into(),
                requirement: "^1".into(),
                version: semver::Version::new(1, 2, 0),
                sha256: "ab".repeat(32),
            }],
        };
        let text = lock.render();
        assert!(text.starts_with("# Written by lockgate"), "{text}");
        assert!(text.contains("[[plugin]]"), "{text}");
        assert_eq!(Lockfile::parse(&text).unwrap(), lock);
        assert!(
            Lockfile::parse("version = 2\n")
                .unwrap_err()
                .to_string()
                .contains("format 2")
        );
        let e = Lockfile::parse("version = 1\n[[plugin]]\nname = \"git\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line") || e.contains("missing field"), "{e}");
    }

    #[test]
    fn no_registry_means_paths_only() {
        let r = Resolver::new(None, None, LockMode::Update).unwrap();
        assert_eq!(
            r.resolve("git", &semver::VersionReq::STAR)
                .unwrap_err()
                .to_string(),
            NO_REGISTRY
        );
    }

    #[test]
    fn a_read_only_copy_uses_the_pins_never_writes_and_stays_frozen_under_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = crate::Registry::new(tmp.path().join("registry"));
        let publish = |v: &str, bytes: &[u8]| {
            registry
                .publish_task(
                    Path::new("t.wasm"),
                    bytes,
                    "t",
                    semver::Version::parse(v).unwrap(),
                    String::new(),
                    None,
                )
                .unwrap()
        };
        publish("1.0.0", b"one");
        let lock = tmp.path().join(LOCKFILE);
        let req = semver::VersionReq::parse("^1").unwrap();
        let r =
            Resolver::new(Some(registry.clone()), Some(lock.clone()), LockMode::Update).unwrap();
        assert_eq!(r.resolve("t", &req).unwrap().id, "t@1.0.0");
        assert!(r.save().unwrap());
        publish("1.1.0", b"two");
        // The pin holds; a read-only copy never writes the lockfile.
        let copy = r.read_only();
        assert_eq!(copy.resolve("t", &req).unwrap().id, "t@1.0.0");
        assert_eq!(
            copy.resolve("t", &semver::VersionReq::STAR).unwrap().id,
            "t@1.1.0"
        );
        assert!(!copy.save().unwrap());
        // Under `--locked`, what is not pinned stays refused.
        let frozen = Resolver::new(Some(registry), Some(lock), LockMode::Frozen).unwrap();
        let e = frozen
            .read_only()
            .resolve("t", &semver::VersionReq::STAR)
            .unwrap_err();
        assert!(matches!(e, LockError::NotPinned { .. }), "{e}");
    }

    #[test]
    fn an_unreadable_lockfile_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(LOCKFILE);
        std::fs::write(&path, "version = \n").unwrap();
        let e = Resolver::new(None, Some(path.clone()), LockMode::Update)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains("invalid lockfile"),
            "{e}"
        );
    }
}
