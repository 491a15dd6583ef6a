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
    /// (`images.app.digest`, `apps.0.tag`). Or several keys with `set`.
    #[serde(default)]
    key: Option<String>,
    /// The new value.
    #[serde(default)]
    value: Option<String>,
    /// `<input>/<path>` of a file whose content (trimmed) is the new value, e.g. the `digest`
    /// file a `registry-image` get wrote.
    #[serde(default)]
    value_file: Option<String>,
    /// Several keys of the file set in one commit, each `{key, value}` or `{key, value_file}`.
    #[serde(default)]
    set: Option<Vec<SetParams>>,
    /// The commit message (default: says what was set).
    #[serde(default)]
    message: Option<String>,
    /// Author and committer, `Name <email>`.
    #[serde(default)]
    author: Option<String>,
}

/// One key of `set`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetParams {
    /// As [`PutParams::key`].
    key: String,
    /// As [`PutParams::value`].
    #[serde(default)]
    value: Option<String>,
    /// As [`PutParams::value_file`].
    #[serde(default)]
    value_file: Option<String>,
}

/// The default author and committer.
pub const DEFAULT_AUTHOR: &str = "Lockgate <lockgate@localhost>";

/// What [`PutParams`] asks for, checked.
#[derive(Debug)]
pub struct Edit {
    /// The file's path in the repository.
    pub file: String,
    /// `(key path, value)` to set, in order.
    pub values: Vec<(String, String)>,
    /// The commit message.
    pub message: String,
    /// `Name <email>`.
    pub author: String,
}

impl Edit {
    /// `a.b = 1, c = 2`, for the log.
    fn describe(&self) -> String {
        let pairs: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        pairs.join(", ")
    }
}

/// Checks one key and reads its value; `field` names it in errors (`params`, `params.set[1]`).
fn key_value(
    field: &str,
    key: String,
    value: Option<String>,
    value_file: Option<String>,
) -> Result<(String, String), Error> {
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(Error::invalid_config(format!(
            "{field}.key: `{key}` must be keys separated by `.`, e.g. image.digest"
        )));
    }
    let value = match (value, value_file) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_config(format!(
                "{field}: give `value` or `value_file`, not both"
            )));
        }
        (None, None) => {
            return Err(Error::invalid_config(format!(
                "{field}: give `value`, or `value_file` (`<input>/<path>` of a file holding the value)"
            )));
        }
        (Some(value), None) => value,
        (None, Some(reference)) => {
            let path =
                input_file(&reference).map_err(|e| e.context(format!("{field}.value_file")))?;
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::invalid_config(format!(
                    "{field}.value_file: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            text.trim().to_string()
        }
    };
    if value.contains('\n') {
        return Err(Error::invalid_config(format!(
            "{field}: the value of `{key}` is more than one line; give a single line"
        )));
    }
    Ok((key, value))
}

impl PutParams {
    /// Checks the params and reads the `value_file`s.
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
        let values = match (self.key, self.set) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid_config(
                    "params: give `key` (one value) or `set` (several), not both",
                ));
            }
            (None, None) => {
                return Err(Error::invalid_config(
                    "params: give `key` with `value` or `value_file`, or `set: [{key, value}, …]`",
                ));
            }
            (Some(key), None) => vec![key_value("params", key, self.value, self.value_file)?],
            (None, Some(set)) => {
                if self.value.is_some() || self.value_file.is_some() {
                    return Err(Error::invalid_config(
                        "params: with `set`, each entry has its own `value` or `value_file`",
                    ));
                }
                if set.is_empty() {
                    return Err(Error::invalid_config("params.set: give at least one key"));
                }
                let mut values: Vec<(String, String)> = Vec::with_capacity(set.len());
                for (i, one) in set.into_iter().enumerate() {
                    let field = format!("params.set[{i}]");
                    let pair = key_value(&field, one.key, one.value, one.value_file)?;
                    if values.iter().any(|(k, _)| *k == pair.0) {
                        return Err(Error::invalid_config(format!(
                            "{field}.key: `{}` is set twice",
                            pair.0
                        )));
                    }
                    values.push(pair);
                }
                values
            }
        };
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
        let message = self.message.unwrap_or_else(|| {
            let what: Vec<String> = values.iter().map(|(k, v)| format!("{k} to {v}")).collect();
            format!("Set {} in {file}", what.join(", "))
        });
        Ok(Edit {
            file,
            values,
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
    let mut changed: Option<String> = None;
    for (key, value) in &edit.values {
        let current = changed.as_deref().unwrap_or(&text);
        if let Some(next) = yaml_edit::set_value(current, key, value)
            .map_err(|e| Error::failed(format!("params: in `{}`: {e}", edit.file)))?
        {
            changed = Some(next);
        }
    }
    let Some(new) = changed else {
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
                "{} already holds {} on `{branch}` ({head}): nothing to commit",
                edit.file,
                edit.describe()
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
                    "pushed {commit} to `{branch}` of {url}: {} in {}",
                    edit.describe(),
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
            "Set image.digest to sha256:ab in envs/prod/values.yaml"
        );
        assert_eq!(edit.values, [("image.digest".into(), "sha256:ab".into())]);
        let several = params(
            r#"{"file": "v.yaml", "set": [{"key": "image.digest", "value": "sha256:ab"}, {"key": "image.version", "value": "1.2.0"}]}"#,
        )
        .edit()
        .unwrap();
        assert_eq!(
            several.message,
            "Set image.digest to sha256:ab, image.version to 1.2.0 in v.yaml"
        );
        assert_eq!(several.values.len(), 2);
        assert!(refused(r#"{"file": "a", "key": "k", "set": []}"#).contains("not both"));
        assert!(refused(r#"{"file": "a"}"#).contains("give `key`"));
        assert!(refused(r#"{"file": "a", "set": []}"#).starts_with("params.set: "));
        assert!(
            refused(
                r#"{"file": "a", "set": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}"#
            )
            .starts_with("params.set[1].key: `k` is set twice")
        );
        assert!(
            refused(r#"{"file": "a", "set": [{"key": "k"}]}"#).starts_with("params.set[0]: give")
        );
        assert!(
            refused(r#"{"file": "a", "value": "v", "set": [{"key": "k", "value": "1"}]}"#)
                .contains("its own `value`")
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
