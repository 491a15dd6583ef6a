//! The plugin registry directory: teams share plugins as
//! `<registry>/<name>/<version>/plugin.wasm` + `plugin.toml`, with `index.json` at the root.
//!
//! Publishing validates the component with the real host (world, contract version,
//! `describe`), refuses to overwrite a version with other bytes, and writes each version
//! atomically (staged, then renamed into place) under a registry-wide file lock. Yanked versions
//! stay for lockfiles that pin them but are never chosen for a new resolution. Pipelines
//! resolve `name@requirement` here and pin the result in `lockgate.lock` ([`lockfile`]).

pub mod index;
pub mod location;
pub mod lockfile;
pub mod manifest;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use lockgate_model::sha256_hex;

pub use index::{INDEX_FILE, Index};
pub use location::{ConfigFileError, RegistryOrigin, default_registry_dir, locate_registry};
pub use lockfile::{
    LOCKFILE, LockError, LockMode, LockedPlugin, Lockfile, LockfileError, Resolved, Resolver,
};
pub use manifest::{Manifest, TASK_KIND, TASK_WORLD, Yank};

use lockgate_model::Description;

/// Name of a version's component file.
pub const WASM_FILE: &str = "plugin.wasm";
/// Name of a version's manifest.
pub const MANIFEST_FILE: &str = "plugin.toml";
const LOCK_FILE: &str = ".lock";

/// Why a registry operation failed; every message names the file or the plugin involved.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry directory does not exist.
    #[error(
        "the plugin registry `{0}` does not exist (publish a plugin into it with `lockgate plugin publish FILE --registry DIR`, or point --registry / LOCKGATE_REGISTRY at another directory)"
    )]
    Missing(PathBuf),
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// A `plugin.toml` is unreadable.
    #[error("{}: invalid plugin manifest: {reason}", path.display())]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        reason: toml::de::Error,
    },
    /// The component could not be published.
    #[error("`{}` cannot be published: {reason}", file.display())]
    Rejected {
        /// The component file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// The version is published already with other bytes.
    #[error(
        "{id} is already in the registry with different bytes (registry sha256 {existing}, `{}` has {new}): a published version never changes; publish under a new version",
        file.display()
    )]
    Conflict {
        /// `name@version`.
        id: String,
        /// The component file being published.
        file: PathBuf,
        /// Digest in the registry.
        existing: String,
        /// Digest of the file.
        new: String,
    },
    /// No such plugin, version, or no version matching a requirement.
    #[error("{0}")]
    NotFound(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |error| RegistryError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// One published version: its manifest and its directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The manifest.
    pub manifest: Manifest,
    /// `<registry>/<name>/<version>`.
    pub dir: PathBuf,
}

impl Entry {
    /// Path of the component.
    pub fn wasm(&self) -> PathBuf {
        self.dir.join(WASM_FILE)
    }
}

/// What `publish` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The version was added.
    Added,
    /// The same bytes were published already; nothing changed.
    Unchanged,
}

/// One problem found by [`Registry::verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// What [`Registry::verify`] found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Versions whose digest was re-checked and matched.
    pub verified: usize,
    /// Everything wrong.
    pub problems: Vec<Problem>,
    /// Whether `index.json` was rewritten.
    pub reindexed: bool,
}

/// A plugin registry directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    root: PathBuf,
}

/// A plugin name that is not usable in a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid plugin name `{name}`: use at most 64 lowercase letters, digits, `-` and `_`, starting with a letter"
)]
pub struct NameError {
    /// The name.
    pub name: String,
}

/// Checks a plugin name: lowercase letters, digits, `-` and `_`, starting with a letter.
pub fn check_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(NameError {
            name: name.to_owned(),
        })
    }
}

/// Why a `NAME@VERSION` argument is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// No `@`.
    #[error("`{spec}`: expected NAME@VERSION, e.g. `git@1.2.0` or `git@^1`")]
    NoVersion {
        /// The argument.
        spec: String,
    },
    /// The name is invalid.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The version is neither a version nor a requirement.
    #[error("`{spec}`: invalid version `{req}`: {reason}")]
    Version {
        /// The argument.
        spec: String,
        /// The version part.
        req: String,
        /// What semver said.
        reason: semver::Error,
    },
}

/// Parses `name@version` (an exact version) or `name@requirement`.
pub fn parse_spec(spec: &str) -> Result<(String, semver::VersionReq), SpecError> {
    let (name, req) = spec.split_once('@').ok_or_else(|| SpecError::NoVersion {
        spec: spec.to_owned(),
    })?;
    check_name(name)?;
    let req_text = req;
    let req = match semver::Version::parse(req) {
        Ok(v) => semver::VersionReq::parse(&format!("={v}")),
        Err(_) => semver::VersionReq::parse(req),
    }
    .map_err(|reason| SpecError::Version {
        spec: spec.to_owned(),
        req: req_text.to_owned(),
        reason,
    })?;
    Ok((name.to_owned(), req))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io(path))
}

impl Registry {
    /// The registry at `root` (which may not exist yet: `publish` creates it).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The registry directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn require(&self) -> Result<(), RegistryError> {
        if self.root.is_dir() {
            Ok(())
        } else {
            Err(RegistryError::Missing(self.root.clone()))
        }
    }

    /// Holds the registry-wide lock (an exclusive file lock on `<registry>/.lock`) while `f`
    /// runs, so that concurrent publishers and yankers never interleave.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, RegistryError>) -> Result<T, RegistryError> {
        let path = self.root.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        file.lock().map_err(io(&path))?;
        let result = f();
        let _ = file.unlock();
        result
    }

    /// Publishes the component `bytes` read from `file`, which the plugin host loaded and
    /// described as `description` (world, contract version and `describe` checked), under the
    /// name and version its `describe` returns. Publishing the same bytes again changes
    /// nothing; other bytes under an existing version are refused.
    pub fn publish(
        &self,
        file: &Path,
        bytes: &[u8],
        description: &Description,
        license: Option<String>,
    ) -> Result<(Entry, PublishOutcome), RegistryError> {
        let rejected = |reason: String| RegistryError::Rejected {
            file: file.to_path_buf(),
            reason,
        };
        let d = description;
        check_name(&d.name).map_err(|e| rejected(format!("its describe() returns {e}")))?;
        let version = semver::Version::parse(&d.version).map_err(|e| {
            rejected(format!(
                "its describe() returns version `{}`, which is not a semantic version ({e})",
                d.version
            ))
        })?;
        let manifest = Manifest::from_description(
            d,
            version,
            sha256_hex([bytes]),
            bytes.len() as u64,
            license,
            manifest::now_rfc3339(),
        );
        self.publish_manifest(file, bytes, manifest)
    }

    /// Publishes task component `bytes` read from `file` (the host checked that it is a
    /// program of the command world) as `name@version`. Publishing the same bytes again
    /// changes nothing; other bytes under an existing version are refused.
    pub fn publish_task(
        &self,
        file: &Path,
        bytes: &[u8],
        name: &str,
        version: semver::Version,
        summary: String,
        license: Option<String>,
    ) -> Result<(Entry, PublishOutcome), RegistryError> {
        check_name(name).map_err(|e| RegistryError::Rejected {
            file: file.to_path_buf(),
            reason: format!("the task's name: {e}"),
        })?;
        let manifest = Manifest::for_task(
            name,
            version,
            summary,
            sha256_hex([bytes]),
            bytes.len() as u64,
            license,
            manifest::now_rfc3339(),
        );
        self.publish_manifest(file, bytes, manifest)
    }

    /// Writes version `manifest` with component `bytes` (from `file`) under the registry lock.
    fn publish_manifest(
        &self,
        file: &Path,
        bytes: &[u8],
        manifest: Manifest,
    ) -> Result<(Entry, PublishOutcome), RegistryError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        self.locked(|| self.publish_locked(file, bytes, manifest))
    }

    fn publish_locked(
        &self,
        file: &Path,
        bytes: &[u8],
        manifest: Manifest,
    ) -> Result<(Entry, PublishOutcome), RegistryError> {
        let plugin_dir = self.root.join(&manifest.name);
        let dir = plugin_dir.join(manifest.version.to_string());
        if dir.exists() {
            let existing = self.entry_at(&dir)?;
            let on_disk = sha256_hex([fs::read(existing.wasm()).map_err(io(&existing.wasm()))?]);
            if on_disk != existing.manifest.sha256 {
                return Err(RegistryError::Rejected {
                    file: file.to_path_buf(),
                    reason: format!(
                        "{} in the registry is damaged ({} no longer matches its manifest): run `lockgate plugin verify`",
                        existing.manifest.id(),
                        existing.wasm().display()
                    ),
                });
            }
            if existing.manifest.sha256 == manifest.sha256 {
                return Ok((existing, PublishOutcome::Unchanged));
            }
            return Err(RegistryError::Conflict {
                id: manifest.id(),
                file: file.to_path_buf(),
                existing: existing.manifest.sha256,
                new: manifest.sha256,
            });
        }
        fs::create_dir_all(&plugin_dir).map_err(io(&plugin_dir))?;
        // Stage the version beside its final place, then rename it in: a reader sees either
        // no version or a complete one.
        let staging = plugin_dir.join(format!(".staging-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        let staged = (|| {
            fs::create_dir(&staging).map_err(io(&staging))?;
            write_atomic(&staging.join(WASM_FILE), bytes)?;
            write_atomic(&staging.join(MANIFEST_FILE), manifest.render().as_bytes())?;
            fs::rename(&staging, &dir).map_err(io(&dir))
        })();
        if let Err(e) = staged {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        self.write_index()?;
        Ok((Entry { manifest, dir }, PublishOutcome::Added))
    }

    fn entry_at(&self, dir: &Path) -> Result<Entry, RegistryError> {
        let path = dir.join(MANIFEST_FILE);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let manifest = Manifest::parse(&text).map_err(|reason| RegistryError::BadManifest {
            path: path.clone(),
            reason,
        })?;
        Ok(Entry {
            manifest,
            dir: dir.to_path_buf(),
        })
    }

    /// Version directories of plugin `name` (unsorted; hidden staging folders skipped).
    fn version_dirs(&self, name: &str) -> Result<Vec<(semver::Version, PathBuf)>, RegistryError> {
        let plugin_dir = self.root.join(name);
        let entries = match fs::read_dir(&plugin_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&plugin_dir)(e)),
        };
        Ok(entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| {
                let v = semver::Version::parse(e.file_name().to_str()?).ok()?;
                Some((v, e.path()))
            })
            .collect())
    }

    /// Names of the plugins in the registry, sorted.
    pub fn names(&self) -> Result<Vec<String>, RegistryError> {
        self.require()?;
        let mut names: Vec<String> = fs::read_dir(&self.root)
            .map_err(io(&self.root))?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| check_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every published version of plugin `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Entry>, RegistryError> {
        let mut dirs = self.version_dirs(name)?;
        dirs.sort_by(|a, b| a.0.cmp(&b.0));
        dirs.into_iter()
            .map(|(_, dir)| self.entry_at(&dir))
            .collect()
    }

    /// Every published version of every plugin, by name then version.
    pub fn list(&self) -> Result<Vec<Entry>, RegistryError> {
        let mut all = Vec::new();
        for name in self.names()? {
            all.extend(self.versions(&name)?);
        }
        Ok(all)
    }

    /// Exactly `name@version`, yanked or not.
    pub fn entry(&self, name: &str, version: &semver::Version) -> Result<Entry, RegistryError> {
        self.require()?;
        let dir = self.root.join(name).join(version.to_string());
        if !dir.is_dir() {
            let known: Vec<String> = self
                .versions(name)?
                .iter()
                .map(|e| e.manifest.version.to_string())
                .collect();
            return Err(RegistryError::NotFound(format!(
                "{name}@{version} is not in the registry `{}` ({})",
                self.root.display(),
                if known.is_empty() {
                    format!("no plugin `{name}` there{}", self.suggest(name))
                } else {
                    format!("versions there: {}", known.join(", "))
                }
            )));
        }
        self.entry_at(&dir)
    }

    fn suggest(&self, name: &str) -> String {
        let names = self.names().unwrap_or_default();
        lockgate_model::did_you_mean(name, names.iter().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default()
    }

    /// The newest version of `name` matching `req` that is not yanked.
    pub fn resolve(&self, name: &str, req: &semver::VersionReq) -> Result<Entry, RegistryError> {
        self.require()?;
        let versions = self.versions(name)?;
        if versions.is_empty() {
            return Err(RegistryError::NotFound(format!(
                "plugin `{name}` is not in the registry `{}`{}",
                self.root.display(),
                self.suggest(name)
            )));
        }
        let matching: Vec<&Entry> = versions
            .iter()
            .filter(|e| req.matches(&e.manifest.version))
            .collect();
        if let Some(best) = matching.iter().rev().find(|e| e.manifest.yanked.is_none()) {
            return Ok((*best).clone());
        }
        let all: Vec<String> = versions
            .iter()
            .map(|e| {
                let v = e.manifest.version.to_string();
                if e.manifest.yanked.is_some() {
                    format!("{v} (yanked)")
                } else {
                    v
                }
            })
            .collect();
        Err(RegistryError::NotFound(if matching.is_empty() {
            format!(
                "no version of plugin `{name}` in the registry `{}` matches `{req}` (versions there: {})",
                self.root.display(),
                all.join(", ")
            )
        } else {
            format!(
                "every version of plugin `{name}` matching `{req}` is yanked (versions there: {}); a yanked version is only used where a lockfile already pins it",
                all.join(", ")
            )
        }))
    }

    /// Yanks `name@version` (or, with `undo`, restores it) and updates the index.
    pub fn yank(
        &self,
        name: &str,
        version: &semver::Version,
        reason: &str,
        undo: bool,
    ) -> Result<Entry, RegistryError> {
        let mut entry = self.entry(name, version)?;
        self.locked(|| {
            entry.manifest.yanked = (!undo).then(|| Yank {
                reason: reason.to_owned(),
                at: manifest::now_rfc3339(),
            });
            write_atomic(
                &entry.dir.join(MANIFEST_FILE),
                entry.manifest.render().as_bytes(),
            )?;
            self.write_index()?;
            Ok(entry)
        })
    }

    fn write_index(&self) -> Result<(), RegistryError> {
        let entries = self.list()?;
        let index = Index::of(entries.iter().map(|e| &e.manifest));
        write_atomic(&self.root.join(INDEX_FILE), index.render().as_bytes())
    }

    /// Re-checks every version: manifest readable and consistent with its place, component
    /// present with the recorded size and digest, and `index.json` up to date (rewritten when
    /// `reindex`).
    pub fn verify(&self, reindex: bool) -> Result<VerifyReport, RegistryError> {
        self.require()?;
        let mut report = VerifyReport::default();
        let mut manifests = Vec::new();
        for name in self.names()? {
            for (version, dir) in self.version_dirs(&name)? {
                let entry = match self.entry_at(&dir) {
                    Ok(e) => e,
                    Err(e) => {
                        report.problems.push(Problem {
                            path: dir.join(MANIFEST_FILE),
                            message: e.to_string(),
                        });
                        continue;
                    }
                };
                let m = &entry.manifest;
                let mut problem = |message: String| {
                    report.problems.push(Problem {
                        path: entry.wasm(),
                        message,
                    })
                };
                if m.name != name || m.version != version {
                    problem(format!(
                        "the manifest says {} but the directory is {name}/{version}",
                        m.id()
                    ));
                } else {
                    match fs::read(entry.wasm()) {
                        Err(e) => problem(format!("cannot read the component: {e}")),
                        Ok(bytes) => {
                            let digest = sha256_hex([&bytes]);
                            if digest != m.sha256 {
                                problem(format!(
                                    "sha256 mismatch: the manifest records {}, the file has {digest} ({} bytes, {} recorded): the component was modified after publishing",
                                    m.sha256,
                                    bytes.len(),
                                    m.size
                                ));
                            } else {
                                report.verified += 1;
                            }
                        }
                    }
                }
                manifests.push(entry.manifest);
            }
        }
        let expected = Index::of(manifests.iter());
        let index_path = self.root.join(INDEX_FILE);
        let current = fs::read_to_string(&index_path)
            .ok()
            .and_then(|t| Index::parse(&t).ok());
        if current.as_ref() != Some(&expected) {
            if reindex {
                self.locked(|| self.write_index())?;
                report.reindexed = true;
            } else {
                report.problems.push(Problem {
                    path: index_path,
                    message: "index.json is missing or out of date (run `lockgate plugin verify --reindex`)".into(),
                });
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_specs() {
        assert!(check_name("git").is_ok());
        assert!(check_name("http-probe_2").is_ok());
        for bad in ["", "Git", "1git", "a/b", "a.b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let (name, req) = parse_spec("git@1.2.0").unwrap();
        assert_eq!(name, "git");
        assert!(req.matches(&semver::Version::new(1, 2, 0)));
        assert!(!req.matches(&semver::Version::new(1, 2, 1)));
        let (_, req) = parse_spec("git@^1").unwrap();
        assert!(req.matches(&semver::Version::new(1, 9, 0)));
        assert!(
            parse_spec("git")
                .unwrap_err()
                .to_string()
                .contains("NAME@VERSION")
        );
        assert!(
            parse_spec("git@one")
                .unwrap_err()
                .to_string()
                .contains("invalid version")
        );
        assert_eq!(
            parse_spec("Git@1").unwrap_err().to_string(),
            check_name("Git").unwrap_err().to_string()
        );
    }

    #[test]
    fn missing_registry_is_named() {
        let r = Registry::new("/nonexistent/registry");
        let e = r.resolve("git", &semver::VersionReq::STAR).unwrap_err();
        assert!(
            e.to_string()
                .contains("/nonexistent/registry` does not exist"),
            "{e}"
        );
    }
}
