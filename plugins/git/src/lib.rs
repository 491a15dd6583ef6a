//! Resource type `git`: the commits of one branch of a git repository (or its tags matching a
//! pattern), each a version `{"ref": "<40-hex commit id>"}`; `put` commits a value into a
//! YAML file and pushes it (GitOps promotion, [`gitops`]).
//!
//! The repository is a host directory granted read-only (`/dirs/<name>`), or a server reached
//! over smart HTTP ([`remote`], [`protocol`]) whose objects are mirrored in `/cache` (packs
//! checked by [`pack_index`]). Objects are read in pure Rust inside the sandbox (see
//! [`repo`]): loose objects, packs and their deltas. See README.md for the configuration.

use std::fs;
use std::path::Path;

use lockgate_sdk::serde_json::json;
use lockgate_sdk::{
    Description, Error, Fetched, IoResultExt, NoParams, OUTPUT_DIR, ResourceType, Version,
};
use serde::Deserialize;

pub mod gitops;
pub mod glob;
pub mod object;
pub mod pack_index;
pub mod protocol;
pub mod remote;
pub mod repo;
pub mod write;
pub mod yaml_edit;

use crate::glob::Pattern;
use object::{Commit, EntryKind, ObjectId};
use protocol::FetchRequest;
use remote::{Mirror, Remote};
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
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Absolute path of a local repository in the sandbox, e.g. `/dirs/config-repo`: a
    /// working tree with a `.git` directory, or a bare repository.
    #[serde(default)]
    repo: Option<String>,
    /// URL of a repository on a server (`https://…` or `http://…`, git's smart HTTP).
    #[serde(default)]
    uri: Option<String>,
    /// The branch to follow (default `main`).
    #[serde(default = "default_branch")]
    branch: String,
    /// Only commits changing a file matching one of these patterns are versions.
    #[serde(default)]
    paths: Vec<String>,
    /// Commits changing only files matching these patterns are not versions.
    #[serde(default)]
    ignore_paths: Vec<String>,
    /// User name for `uri` (with `password`).
    #[serde(default)]
    username: Option<String>,
    /// Password for `uri` (a `((secret))`).
    #[serde(default)]
    password: Option<String>,
    /// Token for `uri`, sent as the password of basic authentication (a `((secret))`).
    #[serde(default)]
    token: Option<String>,
    /// Fetch only this many commits of history into an empty cache.
    #[serde(default)]
    depth: Option<u32>,
    /// Versions are the tags matching this pattern (`v*`, `release/*`) instead of the
    /// branch's commits.
    #[serde(default)]
    tag_filter: Option<String>,
}

fn default_branch() -> String {
    "main".to_string()
}

/// Where the repository is.
enum Location {
    /// A directory granted to the sandbox.
    Local(String),
    /// A server, over smart HTTP.
    Remote {
        uri: String,
        /// `(user, password)` for basic authentication.
        credentials: Option<(String, String)>,
        depth: Option<u32>,
    },
}

/// The checked form of [`Source`].
struct Config {
    location: Location,
    branch: String,
    paths: Vec<Pattern>,
    ignore_paths: Vec<Pattern>,
    tag_filter: Option<Pattern>,
}

impl Source {
    fn config(self) -> Result<Config, Error> {
        let location = match (self.repo, self.uri) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_config(
                    "source: give either `repo` (a local repository) or `uri` (a server), not both",
                ));
            }
            (None, None) => {
                return Err(Error::invalid_config(
                    "source: give `repo` (a local repository, e.g. /dirs/config-repo) or `uri` (a server, e.g. https://github.com/owner/repo.git)",
                ));
            }
            (Some(repo), None) => {
                if !repo.starts_with('/') {
                    return Err(Error::invalid_config(format!(
                        "source.repo: `{repo}` must be an absolute path in the sandbox, e.g. /dirs/config-repo"
                    )));
                }
                if self.username.is_some()
                    || self.password.is_some()
                    || self.token.is_some()
                    || self.depth.is_some()
                {
                    return Err(Error::invalid_config(
                        "source: `username`, `password`, `token` and `depth` are for a repository on a server (`uri`), not a local `repo`",
                    ));
                }
                Location::Local(repo)
            }
            (None, Some(uri)) => {
                let credentials = match (self.username, self.password, self.token) {
                    (_, Some(_), Some(_)) => {
                        return Err(Error::invalid_config(
                            "source: give `password` or `token`, not both",
                        ));
                    }
                    (user, None, Some(token)) => {
                        Some((user.unwrap_or_else(|| "x-access-token".into()), token))
                    }
                    (Some(user), Some(password), None) => Some((user, password)),
                    (None, Some(_), None) => {
                        return Err(Error::invalid_config(
                            "source.password: give source.username with it",
                        ));
                    }
                    (Some(_), None, None) => {
                        return Err(Error::invalid_config(
                            "source.username: give source.password or source.token with it",
                        ));
                    }
                    (None, None, None) => None,
                };
                if self.depth == Some(0) {
                    return Err(Error::invalid_config(
                        "source.depth: must be at least 1 (leave it out for the whole history)",
                    ));
                }
                // Checked now, so that a bad URL is a configuration error before any request.
                remote::Remote::new(&uri, None, "source.uri")?;
                Location::Remote {
                    uri,
                    credentials,
                    depth: self.depth,
                }
            }
        };
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
        let tag_filter = match self.tag_filter {
            Some(_) if !self.paths.is_empty() || !self.ignore_paths.is_empty() => {
                return Err(Error::invalid_config(
                    "source.tag_filter: versions are tags, which `paths` and `ignore_paths` cannot filter; give one or the other",
                ));
            }
            Some(text) => Some(
                Pattern::new(&text)
                    .map_err(|e| Error::invalid_config(format!("source.tag_filter: {e}")))?,
            ),
            None => None,
        };
        Ok(Config {
            paths: patterns("paths", &self.paths)?,
            ignore_paths: patterns("ignore_paths", &self.ignore_paths)?,
            location,
            branch: self.branch,
            tag_filter,
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
    /// The repository, and the commit the branch points to: the local repository, or the
    /// mirror in `/cache` after fetching what the server has that it lacks.
    fn open_at_head(&self) -> Result<(Repo, ObjectId), Error> {
        match &self.location {
            Location::Local(path) => {
                let repo = Repo::open(Path::new(path), "source.repo")?;
                let head = repo.branch(&self.branch)?;
                Ok((repo, head))
            }
            Location::Remote { .. } => {
                let server = self.server()?;
                let head = server.sync_branch(&self.branch)?;
                Ok((server.mirror.repo()?, head))
            }
        }
    }

    /// The repository, holding commit `id` (fetched into the mirror if it is not there).
    fn open_with(&self, id: ObjectId, tag: Option<&str>) -> Result<Repo, Error> {
        match &self.location {
            Location::Local(path) => Repo::open(Path::new(path), "source.repo"),
            Location::Remote { .. } => {
                let server = self.server()?;
                if let Some(tag) = tag
                    && !server.mirror.has_commit(id)?
                {
                    server.sync_tag(tag, id)?;
                }
                if tag.is_none() && !server.mirror.has_commit(id)? {
                    server.sync_branch(&self.branch)?;
                }
                if !server.mirror.has_commit(id)? {
                    server.fetch_commit(id).map_err(|e| {
                        Error::not_found(format!(
                            "commit {id} is not on branch `{}` of {}, and the server would not send it: {}",
                            self.branch,
                            server.remote.url(),
                            e.message()
                        ))
                    })?;
                }
                server.mirror.repo()
            }
        }
    }

    /// The server and the mirror of a remote repository.
    fn server(&self) -> Result<Server, Error> {
        let Location::Remote {
            uri,
            credentials,
            depth,
        } = &self.location
        else {
            return Err(Error::invalid_config(
                "source: this needs a repository on a server (`uri`)",
            ));
        };
        let credentials = credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        Ok(Server {
            remote: Remote::new(uri, credentials, "source.uri")?,
            mirror: Mirror::open(uri)?,
            depth: *depth,
        })
    }
}

/// A repository on a server and its mirror in `/cache`.
struct Server {
    remote: Remote,
    mirror: Mirror,
    depth: Option<u32>,
}

impl Server {
    /// The commit `refs/heads/<branch>` points to on the server, fetched into the mirror.
    fn sync_branch(&self, branch: &str) -> Result<ObjectId, Error> {
        let name = format!("refs/heads/{branch}");
        let refs = self.remote.ls_refs(&[&name])?;
        let head = refs
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.id)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "branch `{branch}` does not exist at {}",
                    self.remote.url()
                ))
            })?;
        self.fetch_commit(head)?;
        self.mirror.set_ref(&name, head)?;
        Ok(head)
    }

    /// Fetches tag `name` (which designates `commit`) into the mirror.
    fn sync_tag(&self, name: &str, commit: ObjectId) -> Result<(), Error> {
        let full = format!("refs/tags/{name}");
        let refs = self.remote.ls_refs(&[&full])?;
        let tag = refs.iter().find(|r| r.name == full).ok_or_else(|| {
            Error::not_found(format!(
                "tag `{name}` does not exist at {}",
                self.remote.url()
            ))
        })?;
        if tag.commit() != commit {
            return Err(Error::not_found(format!(
                "tag `{name}` at {} now designates {}, not {commit} (it was moved)",
                self.remote.url(),
                tag.commit()
            )));
        }
        self.fetch(tag.id, commit)?;
        self.mirror.set_ref(&full, commit)
    }

    /// Fetches commit `id` (and what it reaches that the mirror lacks) into the mirror.
    fn fetch_commit(&self, id: ObjectId) -> Result<(), Error> {
        self.fetch(id, id)
    }

    /// Fetches `want` (a commit, or a tag of `commit`) and checks that `commit` came.
    fn fetch(&self, want: ObjectId, id: ObjectId) -> Result<(), Error> {
        if self.mirror.has_commit(id)? {
            return Ok(());
        }
        let haves = self.mirror.tips()?;
        let request = FetchRequest {
            wants: vec![want],
            depth: if haves.is_empty() { self.depth } else { None },
            haves,
            shallow: self.mirror.shallow()?,
        };
        let fetched = self.remote.fetch(&request)?;
        let bytes = fetched.pack.len();
        let objects = self.mirror.store(fetched, self.remote.url())?;
        lockgate_sdk::debug!(
            "fetched {objects} object(s) ({bytes} bytes) from {}",
            self.remote.url()
        );
        if !self.mirror.has_commit(id)? {
            return Err(Error::failed(format!(
                "{} sent a pack without commit {id}",
                self.remote.url()
            )));
        }
        Ok(())
    }
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
    if let Some(filter) = &config.tag_filter {
        return check_tags(config, filter, from);
    }
    let (mut repo, head) = config.open_at_head()?;
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

/// A tag version: `{"ref": "<commit>", "tag": "<name>"}`.
fn tag_version(name: &str, commit: ObjectId) -> Version {
    version_of(commit).with("tag", name)
}

/// `check` with `tag_filter`: the tags matching it, in version order (semver when every
/// name is, else natural order), from `from`'s tag on.
fn check_tags(config: &Config, filter: &Pattern, from: Option<&Version>) -> Result<Checked, Error> {
    let (mut tags, head) = match &config.location {
        Location::Local(path) => {
            let mut repo = Repo::open(Path::new(path), "source.repo")?;
            let head = repo.branch(&config.branch).ok();
            (repo.tags()?, head)
        }
        Location::Remote { .. } => {
            let server = config.server()?;
            let refs = server.remote.ls_refs(&["refs/tags/"])?;
            let tags = refs
                .iter()
                .filter_map(|r| Some((r.name.strip_prefix("refs/tags/")?.to_string(), r.commit())))
                .collect();
            (tags, None)
        }
    };
    tags.retain(|(name, _)| filter.matches(name));
    if let Some(odd) = lockgate_sdk::ordering::sort_names(&mut tags, |(n, _)| n, |(n, _)| n) {
        lockgate_sdk::debug!("tag `{odd}` is not a version number: tags are in natural order");
    }
    let from_tag = from.and_then(|v| v.get("tag"));
    let start = from_tag.and_then(|t| tags.iter().position(|(n, _)| n == t));
    let versions: Vec<Version> = match start {
        Some(i) => tags[i..].iter().map(|(n, c)| tag_version(n, *c)).collect(),
        None => tags
            .last()
            .map(|(n, c)| tag_version(n, *c))
            .into_iter()
            .collect(),
    };
    let skip = versions.len().saturating_sub(MAX_VERSIONS);
    Ok(Checked {
        versions: versions.into_iter().skip(skip).collect(),
        head: head
            .or_else(|| tags.last().map(|(_, c)| *c))
            .unwrap_or(ObjectId([0; 20])),
        from_gone: from_tag.is_some() && start.is_none(),
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
    let mut repo = config.open_with(id, version.get("tag"))?;
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
    // The version as asked: a tag version keeps its tag.
    let asked = match version.get("tag") {
        Some(tag) => tag_version(tag, id),
        None => version_of(id),
    };
    let mut fetched = Fetched::new(asked)
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
    type PutParams = gitops::PutParams;

    fn describe() -> Description {
        let patterns = json!({
            "type": "array",
            "items": {"type": "string", "minLength": 1, "pattern": "^[^/]"}
        });
        Description::new("git", env!("CARGO_PKG_VERSION"))
            .summary("Commits of a branch of a git repository, local or on a server over HTTPS (read in the sandbox, never by running git); put commits a value into a YAML file and pushes it")
            .source_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "repo": {
                        "type": "string",
                        "pattern": "^/",
                        "description": "Absolute path of a local repository in the sandbox, e.g. /dirs/config-repo: a working tree with .git, or a bare repository"
                    },
                    "uri": {
                        "type": "string",
                        "pattern": "^https?://",
                        "description": "URL of a repository on a server (git's smart HTTP), e.g. https://github.com/owner/repo.git; grant its host:port under network"
                    },
                    "username": {
                        "type": "string",
                        "description": "User name for uri (with password, or with token instead of x-access-token)"
                    },
                    "password": {
                        "type": "string",
                        "description": "Password for uri; pass a ((secret))"
                    },
                    "token": {
                        "type": "string",
                        "description": "Token for uri, sent as the password of basic authentication; pass a ((secret))"
                    },
                    "tag_filter": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Versions are the tags matching this pattern (`v*`, `release/*`), in version order, instead of the branch's commits"
                    },
                    "depth": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Fetch only this many commits of history into an empty cache (later checks fetch what is new)"
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
                "oneOf": [{"required": ["repo"]}, {"required": ["uri"]}],
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
                "description": "GitOps promotion: set one value in a YAML file of the branch, commit and push (needs source.uri); retried on a concurrent push.",
                "type": "object",
                "properties": {
                    "file": {"type": "string", "minLength": 1, "description": "The YAML file, relative to the repository root, e.g. envs/production/values.yaml"},
                    "key": {"type": "string", "minLength": 1, "description": "Where in it: keys separated by `.`, sequence indexes as numbers, e.g. image.digest"},
                    "set": {
                        "type": "array",
                        "minItems": 1,
                        "description": "Several keys of the file in one commit (instead of key/value)",
                        "items": {
                            "type": "object",
                            "properties": {
                                "key": {"type": "string", "minLength": 1},
                                "value": {"type": "string"},
                                "value_file": {"type": "string"}
                            },
                            "required": ["key"],
                            "oneOf": [{"required": ["value"]}, {"required": ["value_file"]}],
                            "additionalProperties": false
                        }
                    },
                    "value": {"type": "string", "description": "The new value"},
                    "value_file": {"type": "string", "description": "`<input>/<path>` of a file whose content (trimmed) is the new value, e.g. image/digest"},
                    "message": {"type": "string", "description": "The commit message (default: says what was set)"},
                    "author": {"type": "string", "description": "Author and committer, `Name <email>` (default Lockgate <lockgate@localhost>)"}
                },
                "required": ["file"],
                "oneOf": [
                    {"required": ["key", "value"]},
                    {"required": ["key", "value_file"]},
                    {"required": ["set"]}
                ],
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

    fn put(source: Source, params: gitops::PutParams) -> Result<Fetched, Error> {
        let config = source.config()?;
        let edit = params.edit()?;
        if let Location::Local(_) = config.location {
            return Err(Error::invalid_config(
                "source: put pushes to a repository on a server: give `uri` (a local `repo` is read-only)",
            ));
        }
        gitops::put(&config.server()?, &config.branch, &edit)
    }
}

lockgate_sdk::export_resource_type!(Git);

#[cfg(test)]
mod tests;
