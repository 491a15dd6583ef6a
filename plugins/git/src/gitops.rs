//! `put`: GitOps promotion. Sets one value in a YAML file of the branch (an image digest, a
//! release version), commits it on top of the branch's head and pushes it; when someone
//! else pushed in between, does the edit again on the new head and retries.
//!
//! The edit keeps every other byte of the file ([`crate::yaml_edit`]); the new objects are
//! written as a small pack ([`crate::write`]) and pushed with `git-receive-pack`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lockgate_sdk::{Error, Fetched, input_file};
use serde::Deserialize;

use crate::object::{EntryKind, ObjectId, Signature};
use crate::protocol::{self, PushStatus};
use crate::repo::Repo;
use crate::write::{NewObject, encode_commit, replace_file, write_pack};
use crate::{Server, version_of, yaml_edit};

/// Pushes tried before giving up when the branch keeps moving.
pub const MAX_ATTEMPTS: u32 = 5;

/// `put` params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// The YAML file to change, relative to the repository root (`envs/prod/values.yaml`).
    file: String,
    /// Where in it: mapping keys separated by `.`, sequence indexes as numbers
    /// (`images.app.digest`, `apps.0.tag`).
    key: String,
    /// The new value.
    #[serde(default)]
    value: Option<String>,
    /// `<input>/<path>` of a file whose content (trimmed) is the new value, e.g. the `digest`
    /// file a `registry-image` get wrote.
    #[serde(default)]
    value_file: Option<String>,
    /// The commit message (default: says what was set).
    #[serde(default)]
    message: Option<String>,
    /// Author and committer, `Name <email>`.
    #[serde(default)]
    author: Option<String>,
}

/// The default author and committer.
pub const DEFAULT_AUTHOR: &str = "Lockgate <lockgate@localhost>";

/// What [`PutParams`] asks for, checked.
#[derive(Debug)]
pub struct Edit {
    /// The file's path in the repository.
    pub file: String,
    /// The key path.
    pub key: String,
    /// The value to set.
    pub value: String,
    /// The commit message.
    pub message: String,
    /// `Name <email>`.
    pub author: String,
}

impl PutParams {
    /// Checks the params and reads `value_file`.
    pub fn edit(self) -> Result<Edit, Error> {
        let file = self.file.trim_matches('/').to_string();
        if file.is_empty()
            || file
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(Error::invalid_config(format!(
                "params.file: `{}` must be a path relative to the repository root, e.g. envs/production/values.yaml",
                self.file
            )));
        }
        if self.key.is_empty() || self.key.split('.').any(str::is_empty) {
            return Err(Error::invalid_config(format!(
                "params.key: `{}` must be keys separated by `.`, e.g. image.digest",
                self.key
            )));
        }
        let value = match (self.value, self.value_file) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_config(
                    "params: give `value` or `value_file`, not both",
                ));
            }
            (None, None) => {
                return Err(Error::invalid_config(
                    "params: give `value`, or `value_file` (`<input>/<path>` of a file holding the value)",
                ));
            }
            (Some(value), None) => value,
            (None, Some(reference)) => {
                let path = input_file(&reference).map_err(|e| e.context("params.value_file"))?;
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::invalid_config(format!(
                        "params.value_file: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                text.trim().to_string()
            }
        };
        if value.contains('\n') {
            return Err(Error::invalid_config(
                "params: the value is more than one line; give a single line",
            ));
        }
        let author = self.author.unwrap_or_else(|| DEFAULT_AUTHOR.to_string());
        let well_formed = author.contains(" <")
            && author.ends_with('>')
            && author.matches('<').count() == 1
            && author.matches('>').count() == 1
            && !author.contains(['\n', '\0']);
        if !well_formed {
            return Err(Error::invalid_config(format!(
                "params.author: `{author}` must be `Name <email>`"
            )));
        }
        let message = self
            .message
            .unwrap_or_else(|| format!("Set {} in {file} to {value}", self.key));
        Ok(Edit {
            file,
            key: self.key,
            value,
            message,
            author,
        })
    }
}

/// The content of the file at `path` in tree `root`, and whether it is a file at all.
fn file_at(repo: &mut Repo, root: ObjectId, path: &str) -> Result<Vec<u8>, Error> {
    let mut tree = root;
    let parts: Vec<&str> = path.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let entry = repo
            .tree(tree)?
            .into_iter()
            .find(|e| e.name == *part)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "params.file: `{path}` does not exist on the branch (no `{}`)",
                    parts[..=i].join("/")
                ))
            })?;
        let last = i + 1 == parts.len();
        match (entry.kind, last) {
            (EntryKind::Tree, false) => tree = entry.id,
            (EntryKind::File | EntryKind::Executable, true) => {
                return Ok(repo.blob(entry.id)?.data.clone());
            }
            _ => {
                return Err(Error::invalid_config(format!(
                    "params.file: `{}` on the branch is not a regular file",
                    parts[..=i].join("/")
                )));
            }
        }
    }
    unreachable!("a path has at least one part")
}

/// The commit an edit makes on top of `head`, and the objects to push; `None` when the file
/// already holds the value.
fn commit_edit(
    repo: &mut Repo,
    head: ObjectId,
    edit: &Edit,
    now: i64,
) -> Result<Option<(ObjectId, Vec<NewObject>)>, Error> {
    let commit = repo.commit(head)?;
    let old = file_at(repo, commit.tree, &edit.file)?;
    let text = String::from_utf8(old)
        .map_err(|_| Error::failed(format!("params.file: `{}` is not UTF-8 text", edit.file)))?;
    let new = yaml_edit::set_value(&text, &edit.key, &edit.value)
        .map_err(|e| Error::failed(format!("params.key: in `{}`: {e}", edit.file)))?;
    let Some(new) = new else {
        return Ok(None);
    };
    let (tree, mut objects) = replace_file(repo, commit.tree, &edit.file, new.into_bytes())?;
    let signature = Signature {
        who: edit.author.clone(),
        time: now,
        offset_minutes: 0,
    };
    let message = if edit.message.ends_with('\n') {
        edit.message.clone()
    } else {
        format!("{}\n", edit.message)
    };
    let data = encode_commit(tree, &[head], &signature, &signature, &message);
    let commit = NewObject::new(crate::object::Kind::Commit, data);
    let id = commit.id;
    objects.push(commit);
    Ok(Some((id, objects)))
}

/// Sets the value, commits and pushes to `branch`; retries on a concurrent push. Returns
/// the commit the branch holds afterwards (the head itself when nothing changed).
pub(crate) fn put(server: &Server, branch: &str, edit: &Edit) -> Result<Fetched, Error> {
    let name = format!("refs/heads/{branch}");
    let url = server.remote.url().to_string();
    let mut last: Option<(ObjectId, String)> = None;
    for attempt in 1..=MAX_ATTEMPTS {
        let advertised = server.remote.receive_pack_refs()?;
        if !advertised.has("report-status") {
            return Err(Error::failed(format!(
                "{url} does not offer report-status: a push could not be confirmed"
            )));
        }
        let head = advertised.get(&name).ok_or_else(|| {
            Error::not_found(format!(
                "branch `{branch}` does not exist at {url}: put commits on top of an existing branch"
            ))
        })?;
        if let Some((refused_at, why)) = &last
            && *refused_at == head
        {
            // Refused although nobody else pushed: a hook or a protection rule, not a race.
            return Err(Error::failed(format!(
                "{url} refused the push to `{branch}`: {why}"
            )));
        }
        server.fetch_commit(head)?;
        server.mirror.set_ref(&name, head)?;
        let mut repo = server.mirror.repo()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let Some((commit, objects)) = commit_edit(&mut repo, head, edit, now)? else {
            lockgate_sdk::info!(
                "{} already holds {} = {} on `{branch}` ({head}): nothing to commit",
                edit.file,
                edit.key,
                edit.value
            );
            return Ok(Fetched::new(version_of(head))
                .with_metadata("commit", head)
                .with_metadata("changed", "false"));
        };
        let pack = write_pack(&objects);
        match server
            .remote
            .push(&advertised, &name, Some(head), commit, &pack)?
        {
            PushStatus::Ok => {
                // The mirror gets the commit too, so a later get needs no fetch.
                server.mirror.store(
                    protocol::Fetched {
                        pack,
                        ..Default::default()
                    },
                    &url,
                )?;
                server.mirror.set_ref(&name, commit)?;
                lockgate_sdk::info!(
                    "pushed {commit} to `{branch}` of {url}: {} = {} in {}",
                    edit.key,
                    edit.value,
                    edit.file
                );
                return Ok(Fetched::new(version_of(commit))
                    .with_metadata("commit", commit)
                    .with_metadata("parent", head)
                    .with_metadata("changed", "true")
                    .with_metadata("message", edit.message.lines().next().unwrap_or("")));
            }
            PushStatus::Rejected(why) => {
                lockgate_sdk::warn!(
                    "push {attempt} of {MAX_ATTEMPTS} to `{branch}` refused ({why}): the branch moved; editing its new head and retrying"
                );
                last = Some((head, why));
                std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            }
        }
    }
    let why = last.map(|(_, why)| why).unwrap_or_default();
    Err(Error::failed(format!(
        "could not push to `{branch}` of {url}: it moved under each of {MAX_ATTEMPTS} attempts; the last refusal: {why}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: &str) -> PutParams {
        lockgate_sdk::parse_json("params", json).unwrap()
    }

    fn refused(json: &str) -> String {
        match params(json).edit() {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn params_are_checked_with_the_field_named() {
        let edit = params(
            r#"{"file": "/envs/prod/values.yaml", "key": "image.digest", "value": "sha256:ab"}"#,
        )
        .edit()
        .unwrap();
        assert_eq!(edit.file, "envs/prod/values.yaml");
        assert_eq!(
            edit.message,
            "Set image.digest in envs/prod/values.yaml to sha256:ab"
        );
        assert_eq!(edit.author, DEFAULT_AUTHOR);
        assert!(
            refused(r#"{"file": "a/../b", "key": "k", "value": "v"}"#).starts_with("params.file:")
        );
        assert!(
            refused(r#"{"file": "a", "key": "k..x", "value": "v"}"#).starts_with("params.key:")
        );
        assert!(refused(r#"{"file": "a", "key": "k"}"#).contains("give `value`"));
        assert!(
            refused(r#"{"file": "a", "key": "k", "value": "v", "value_file": "i/f"}"#)
                .contains("not both")
        );
        assert!(refused(r#"{"file": "a", "key": "k", "value": "a\nb"}"#).contains("one line"));
        assert!(
            refused(r#"{"file": "a", "key": "k", "value": "v", "author": "nobody"}"#)
                .starts_with("params.author:")
        );
        assert!(
            refused(r#"{"file": "a", "key": "k", "value_file": "../x"}"#)
                .starts_with("params.value_file")
        );
    }
}
