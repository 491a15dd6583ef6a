//! Resource type `git`: the commits of one branch of a local git repository, each a version
//! `{"ref": "<40-hex commit id>"}`.
//!
//! The repository is a host directory granted read-only (`/dirs/<name>`). Objects are read in
//! pure Rust inside the sandbox (see [`repo`]): loose objects, packs and their deltas. See
//! README.md for the configuration.

use std::fs;
use std::path::Path;

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, OUTPUT_DIR, ResourceType, Version,
};
use serde::Deserialize;

pub mod glob;
pub mod object;
pub mod repo;

use crate::glob::Pattern;
use object::{Commit, EntryKind, ObjectId};
use repo::Repo;

/// `check` returns at most this many versions (the newest ones).
const MAX_VERSIONS: usize = 1000;
/// The file `get` writes with the commit id.
const REF_FILE: &str = ".git-ref";
/// The file `get` writes listing the executable files, one path per line.
const EXECUTABLES_FILE: &str = ".git-executables";

/// The resource type.
pub struct Git;

/// `source`: which repository, branch and paths.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Absolute path of the repository in the sandbox, e.g. `/dirs/config-repo`: a working
    /// tree with a `.git` directory, or a bare repository.
    repo: String,
    /// The branch to follow (default `main`).
    #[serde(default = "default_branch")]
    branch: String,
    /// Only commits changing a file matching one of these patterns are versions.
    #[serde(default)]
    paths: Vec<String>,
    /// Commits changing only files matching these patterns are not versions.
    #[serde(default)]
    ignore_paths: Vec<String>,
}

fn default_branch() -> String {
    "main".to_string()
}

/// The checked form of [`Source`].
struct Config {
    repo: String,
    branch: String,
    paths: Vec<Pattern>,
    ignore_paths: Vec<Pattern>,
}

impl Source {
    fn config(self) -> Result<Config, Error> {
        if !self.repo.starts_with('/') {
            return Err(Error::invalid_config(format!(
                "source.repo: `{}` must be an absolute path in the sandbox, e.g. /dirs/config-repo",
                self.repo
            )));
        }
        check_branch(&self.branch)?;
        let patterns = |field: &str, list: &[String]| {
            list.iter()
                .enumerate()
                .map(|(i, p)| {
                    Pattern::new(p)
                        .map_err(|e| Error::invalid_config(format!("source.{field}[{i}]: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Config {
            paths: patterns("paths", &self.paths)?,
            ignore_paths: patterns("ignore_paths", &self.ignore_paths)?,
            repo: self.repo,
            branch: self.branch,
        })
    }
}

/// A branch name git would accept (a subset of `git check-ref-format`).
fn check_branch(branch: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::invalid_config(format!(
            "source.branch: `{branch}` is not a valid branch name: {why}"
        )))
    };
    if branch.is_empty() {
        return bad("it is empty");
    }
    if branch.starts_with('/') || branch.ends_with('/') || branch.contains("//") {
        return bad("leading, trailing or doubled `/`");
    }
    if branch.starts_with('-') || branch.ends_with('.') || branch.ends_with(".lock") {
        return bad("it starts with `-` or ends with `.` or `.lock`");
    }
    if branch.contains("..")
        || branch.contains("@{")
        || branch.split('/').any(|s| s.starts_with('.'))
    {
        return bad("`..`, `@{` or a segment starting with `.`");
    }
    if branch
        .chars()
        .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
    {
        return bad("spaces, control characters and `~^:?*[\\` are not allowed");
    }
    Ok(())
}

impl Config {
    fn filtered(&self) -> bool {
        !self.paths.is_empty() || !self.ignore_paths.is_empty()
    }

    /// Whether a commit changing `changed` is a version: some changed file matches `paths`
    /// (every file when `paths` is empty) and not `ignore_paths`.
    fn includes_paths(&self, changed: &[String]) -> bool {
        changed.iter().any(|path| {
            (self.paths.is_empty() || self.paths.iter().any(|p| p.matches(path)))
                && !self.ignore_paths.iter().any(|p| p.matches(path))
        })
    }

    /// Whether `commit` is a version: always when there is no filter; otherwise by the files
    /// it changed against its first parent (all its files for a root commit).
    fn includes(&self, repo: &mut Repo, commit: &Commit) -> Result<bool, Error> {
        if !self.filtered() {
            return Ok(true);
        }
        let parent_tree = match commit.parents.first() {
            Some(&parent) => Some(repo.commit(parent)?.tree),
            None => None,
        };
        let mut changed = Vec::new();
        repo.changed_paths(parent_tree, Some(commit.tree), "", &mut changed)?;
        Ok(self.includes_paths(&changed))
    }
}

fn version_of(id: ObjectId) -> Version {
    Version::new().with("ref", id)
}

/// What [`check`] found.
#[derive(Debug)]
struct Checked {
    /// The versions, oldest first.
    versions: Vec<Version>,
    /// The branch head.
    head: ObjectId,
    /// A `from` was given but is no longer on the branch's first-parent chain.
    from_gone: bool,
}

/// The versions `check` returns for `config`, oldest first.
fn check(config: &Config, from: Option<&Version>) -> Result<Checked, Error> {
    let mut repo = Repo::open(Path::new(&config.repo), "source.repo")?;
    let head = repo.branch(&config.branch)?;
    let from = from.and_then(|v| v.get("ref")).and_then(ObjectId::from_hex);
    // Newest first, along the first-parent chain.
    let mut matching = Vec::new();
    let mut found_from = false;
    let mut next = Some(head);
    while let Some(id) = next {
        if Some(id) == from {
            found_from = true;
            break;
        }
        let commit = repo.commit(id)?;
        if config.includes(&mut repo, &commit)? {
            matching.push(id);
            if from.is_none() {
                break;
            }
        }
        next = commit.parents.first().copied();
    }
    let versions: Vec<Version> = match (found_from, from) {
        (true, Some(from)) => std::iter::once(from)
            .chain(matching.into_iter().rev())
            .map(version_of)
            .collect(),
        // No `from`, or `from` is not on the branch any more (force-push): the newest.
        _ => matching.into_iter().take(1).map(version_of).collect(),
    };
    let skip = versions.len().saturating_sub(MAX_VERSIONS);
    Ok(Checked {
        versions: versions.into_iter().skip(skip).collect(),
        head,
        from_gone: from.is_some() && !found_from,
    })
}

/// What [`get`] wrote.
#[derive(Debug)]
struct Exported {
    fetched: Fetched,
    files: usize,
    submodules: Vec<String>,
}

/// Writes the tree of the version's commit into `out` and returns its metadata.
fn get(config: &Config, version: &Version, out: &Path) -> Result<Exported, Error> {
    let text = version
        .get("ref")
        .ok_or_else(|| Error::not_found(format!("version {version} has no `ref`")))?;
    let id = ObjectId::from_hex(text).ok_or_else(|| {
        Error::not_found(format!("version ref `{text}` is not a 40-digit commit id"))
    })?;
    let mut repo = Repo::open(Path::new(&config.repo), "source.repo")?;
    let commit = repo.commit(id)?;
    let mut written = Written::default();
    export(&mut repo, commit.tree, out, "", &mut written)?;
    let ref_file = out.join(REF_FILE);
    fs::write(&ref_file, format!("{id}\n")).with_path(&ref_file)?;
    let exec_file = out.join(EXECUTABLES_FILE);
    let listing: String = written
        .executables
        .iter()
        .map(|p| format!("{p}\n"))
        .collect();
    fs::write(&exec_file, listing).with_path(&exec_file)?;
    let mut fetched = Fetched::new(version_of(id))
        .with_metadata("commit", id)
        .with_metadata("author", &commit.author.who)
        .with_metadata("committer", &commit.committer.who);
    if let Some(date) = commit.committer.rfc3339() {
        fetched = fetched.with_metadata("date", date);
    }
    let fetched = fetched.with_metadata("message", commit.subject());
    Ok(Exported {
        fetched,
        files: written.files,
        submodules: written.submodules,
    })
}

/// What [`export`] wrote so far.
#[derive(Default)]
struct Written {
    files: usize,
    executables: Vec<String>,
    submodules: Vec<String>,
}

/// Writes the tree `tree` into the directory `dir` (which exists); `prefix` is its path in
/// the repository.
fn export(
    repo: &mut Repo,
    tree: ObjectId,
    dir: &Path,
    prefix: &str,
    written: &mut Written,
) -> Result<(), Error> {
    for entry in repo.tree(tree)? {
        let rel = if prefix.is_empty() {
            entry.name.clone()
        } else {
            format!("{prefix}/{}", entry.name)
        };
        if !entry.utf8
            || entry.name.is_empty()
            || entry.name == "."
            || entry.name == ".."
            || entry.name.contains(['/', '\\'])
            || entry.name.eq_ignore_ascii_case(".git")
        {
            return Err(Error::failed(format!(
                "tree {tree} has an entry `{rel}` that cannot be written safely"
            )));
        }
        let path = dir.join(&entry.name);
        match entry.kind {
            EntryKind::Tree => {
                fs::create_dir(&path).with_path(&path)?;
                export(repo, entry.id, &path, &rel, written)?;
            }
            EntryKind::File | EntryKind::Executable | EntryKind::Symlink => {
                let blob = repo.blob(entry.id)?;
                fs::write(&path, &blob.data).with_path(&path)?;
                written.files += 1;
                if entry.kind == EntryKind::Executable {
                    written.executables.push(rel);
                }
            }
            EntryKind::Submodule => {
                fs::create_dir(&path).with_path(&path)?;
                written
                    .submodules
                    .push(format!("{rel} (commit {})", entry.id));
            }
        }
    }
    Ok(())
}

impl ResourceType for Git {
    type Source = Source;
    type GetParams = NoParams;
    type PutParams = NoParams;

    fn describe() -> Description {
        let patterns = json!({
            "type": "array",
            "items": {"type": "string", "minLength": 1, "pattern": "^[^/]"}
        });
        Description::new("git", env!("CARGO_PKG_VERSION"))
            .summary("Commits of a branch of a local git repository (read in the sandbox, never by running git)")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "repo": {
                        "type": "string",
                        "pattern": "^/",
                        "description": "Absolute path of the repository in the sandbox, e.g. /dirs/config-repo: a working tree with .git, or a bare repository"
                    },
                    "branch": {
                        "type": "string",
                        "minLength": 1,
                        "default": "main",
                        "description": "The branch to follow"
                    },
                    "paths": patterns.clone().as_object().cloned().map(|mut o| {
                        o.insert("description".into(), json!("Only commits changing a file matching one of these patterns (`*`, `?`, `**`; a directory covers its files) are versions"));
                        o
                    }),
                    "ignore_paths": patterns.as_object().cloned().map(|mut o| {
                        o.insert("description".into(), json!("Commits changing only files matching these patterns are not versions"));
                        o
                    })
                },
                "required": ["repo"],
                "additionalProperties": false
            }))
            .get_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "get takes no params.",
                "type": "object",
                "additionalProperties": false
            }))
            .put_params_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "put is not supported: Lockgate does not push to git repositories.",
                "type": "object",
                "additionalProperties": false
            }))
    }

    fn check(source: Source, from: Option<Version>) -> Result<Vec<Version>, Error> {
        let config = source.config()?;
        let checked = check(&config, from.as_ref())?;
        lockgate_sdk::debug!(
            "branch {} is at {}: {} version(s){}",
            config.branch,
            checked.head,
            checked.versions.len(),
            if checked.from_gone {
                "; the previous version is no longer on the branch"
            } else {
                ""
            }
        );
        Ok(checked.versions)
    }

    fn get(source: Source, version: Version, _: NoParams) -> Result<Fetched, Error> {
        let exported = get(&source.config()?, &version, Path::new(OUTPUT_DIR))?;
        for submodule in &exported.submodules {
            lockgate_sdk::warn!("submodule {submodule} exported as an empty directory");
        }
        lockgate_sdk::info!(
            "exported {} file(s) of {}",
            exported.files,
            exported.fetched.version
        );
        Ok(exported.fetched)
    }

    fn put(_: Source, _: NoParams) -> Result<Fetched, Error> {
        Err(Error::failed(
            "the git resource type is read-only: Lockgate does not push to git repositories (commit and push outside the pipeline; `check` picks the commit up)",
        ))
    }
}

lockgate_sdk::export_resource_type!(Git);

#[cfg(test)]
mod tests;
