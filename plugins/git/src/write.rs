//! Creating git objects: tree and commit bodies in git's canonical form, a root tree with one
//! file replaced, and version-2 pack files holding new objects (what a push sends).
//!
//! Pure and network-free: objects are built in memory; reading the existing trees goes through
//! [`Repo`]. Nothing here writes to the repository.

use lockgate_sdk::Error;
use miniz_oxide::deflate::compress_to_vec_zlib;
use sha1::{Digest, Sha1};

use crate::object::{EntryKind, Kind, ObjectId, Signature, TreeEntry};
use crate::repo::Repo;

/// zlib level of pack entries (git's default, `core.compression` -1, is zlib's 6).
const PACK_COMPRESSION: u8 = 6;

/// An object built in memory, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    /// `ObjectId::hash(kind, &data)`.
    pub id: ObjectId,
    /// Its kind.
    pub kind: Kind,
    /// Its body, without the `"<kind> <len>\0"` header.
    pub data: Vec<u8>,
}

impl NewObject {
    /// The object of `kind` holding `data`, its id computed.
    pub fn new(kind: Kind, data: Vec<u8>) -> Self {
        Self {
            id: ObjectId::hash(kind, &data),
            kind,
            data,
        }
    }
}

/// The mode git writes for an entry of `kind` in a tree (octal, without leading zero).
pub fn mode(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Tree => "40000",
        EntryKind::File => "100644",
        EntryKind::Executable => "100755",
        EntryKind::Symlink => "120000",
        EntryKind::Submodule => "160000",
    }
}

/// The body of a tree holding `entries`, in git's canonical order (by name bytes, a
/// subdirectory sorting as if its name ended with `/`), whatever order they are given in.
///
/// Names are written as UTF-8: an entry read with `utf8: false` (its name decoded lossily)
/// would not keep its original name, so callers rewriting a tree must refuse those (as
/// [`replace_file`] does).
pub fn encode_tree(entries: &[TreeEntry]) -> Vec<u8> {
    let mut sorted: Vec<&TreeEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.name.len() + 28).sum());
    for entry in sorted {
        out.extend_from_slice(mode(entry.kind).as_bytes());
        out.push(b' ');
        out.extend_from_slice(entry.name.as_bytes());
        out.push(0);
        out.extend_from_slice(&entry.id.0);
    }
    out
}

/// The bytes trees are ordered by: the name, with a `/` after a subdirectory's name.
fn sort_key(entry: &TreeEntry) -> impl Iterator<Item = u8> + '_ {
    let slash = (entry.kind == EntryKind::Tree).then_some(b'/');
    entry.name.bytes().chain(slash)
}

/// The body of a commit: `tree`, one `parent` line per parent, `author`, `committer`
/// (`Name <email> <seconds> +hhmm`), an empty line and `message` as is (git's own tools end
/// it with a newline). The signatures' `who` is the caller's to check: a line break, `<` or
/// `>` beyond the email's own would corrupt the commit.
pub fn encode_commit(
    tree: ObjectId,
    parents: &[ObjectId],
    author: &Signature,
    committer: &Signature,
    message: &str,
) -> Vec<u8> {
    let mut out = format!("tree {tree}\n");
    for parent in parents {
        out.push_str(&format!("parent {parent}\n"));
    }
    out.push_str(&format!("author {}\n", signature(author)));
    out.push_str(&format!("committer {}\n", signature(committer)));
    out.push('\n');
    out.push_str(message);
    out.into_bytes()
}

/// `Name <email> 1700000000 +0130`.
fn signature(sig: &Signature) -> String {
    let sign = if sig.offset_minutes < 0 { '-' } else { '+' };
    let minutes = sig.offset_minutes.unsigned_abs();
    format!(
        "{} {} {sign}{:02}{:02}",
        sig.who,
        sig.time,
        minutes / 60,
        minutes % 60
    )
}

/// A new root tree equal to `root` except that the file at `path` (relative, `/`-separated,
/// e.g. `envs/prod/values.yaml`) holds `content`, keeping its mode (regular or executable).
///
/// Returns the new root's id and the new objects: the blob and every rewritten tree, the root
/// last. When the file already holds `content`, that is `root` itself and no object.
///
/// The file must exist and be a regular or executable file: otherwise `not-found` (nothing at
/// `path`) or `failed` (a directory, a symbolic link, a submodule, a file where a directory
/// is expected, a malformed path), naming `path`. [`write_file`] can also create it.
pub fn replace_file(
    repo: &mut Repo,
    root: ObjectId,
    path: &str,
    content: Vec<u8>,
) -> Result<(ObjectId, Vec<NewObject>), Error> {
    write_file(repo, root, path, content, false)
}

/// [`replace_file`], except that with `create` a missing file (and missing directories on
/// the way) is added as a regular file instead of being a `not-found` error.
pub fn write_file(
    repo: &mut Repo,
    root: ObjectId,
    path: &str,
    content: Vec<u8>,
    create: bool,
) -> Result<(ObjectId, Vec<NewObject>), Error> {
    let parts = split_path(path)?;
    let (file_name, dirs) = parts
        .split_last()
        .expect("split_path gives one part at least");
    let blob = NewObject::new(Kind::Blob, content);

    // The trees from the root down to the file's directory (`None`: a directory to create).
    let mut levels: Vec<Vec<TreeEntry>> = Vec::with_capacity(parts.len());
    let mut entries = repo.tree(root)?;
    for (depth, &name) in dirs.iter().enumerate() {
        let here = parts[..=depth].join("/");
        let next = match find_entry(&entries, name) {
            Some(entry) if entry.kind == EntryKind::Tree => repo.tree(entry.id)?,
            Some(entry) => {
                return Err(Error::failed(format!(
                    "cannot write `{path}`: `{here}` is {}, not a directory",
                    describe(entry.kind)
                )));
            }
            None if create => Vec::new(),
            None => {
                return Err(Error::not_found(format!(
                    "cannot write `{path}`: there is no directory `{here}` in tree {root}"
                )));
            }
        };
        levels.push(std::mem::replace(&mut entries, next));
    }

    match entries.iter_mut().find(|e| e.utf8 && e.name == *file_name) {
        Some(entry) => match entry.kind {
            EntryKind::File | EntryKind::Executable => {
                if entry.id == blob.id {
                    return Ok((root, Vec::new()));
                }
                entry.id = blob.id;
            }
            kind => {
                return Err(Error::failed(format!(
                    "cannot write `{path}`: it is {}, not a file",
                    describe(kind)
                )));
            }
        },
        None if create => entries.push(TreeEntry {
            kind: EntryKind::File,
            name: (*file_name).to_string(),
            utf8: true,
            id: blob.id,
        }),
        None => {
            return Err(Error::not_found(format!(
                "cannot write `{path}`: there is no such file in tree {root}"
            )));
        }
    }

    let mut objects = vec![blob];
    let mut depth = dirs.len();
    loop {
        if let Some(bad) = entries.iter().find(|e| !e.utf8) {
            let dir = if depth == 0 {
                "the root directory".to_string()
            } else {
                format!("directory `{}`", parts[..depth].join("/"))
            };
            return Err(Error::failed(format!(
                "cannot write `{path}`: {dir} has an entry whose name is not UTF-8 ({:?}), which this plugin cannot rewrite",
                bad.name
            )));
        }
        let tree = NewObject::new(Kind::Tree, encode_tree(&entries));
        let id = tree.id;
        objects.push(tree);
        let Some(mut parent) = levels.pop() else {
            return Ok((id, objects));
        };
        depth -= 1;
        let name = dirs[depth];
        match parent.iter_mut().find(|e| e.utf8 && e.name == name) {
            Some(entry) => entry.id = id,
            None => parent.push(TreeEntry {
                kind: EntryKind::Tree,
                name: name.to_string(),
                utf8: true,
                id,
            }),
        }
        entries = parent;
    }
}

/// The entry named `name` (names that were not UTF-8 never match).
fn find_entry<'a>(entries: &'a [TreeEntry], name: &str) -> Option<&'a TreeEntry> {
    entries.iter().find(|e| e.utf8 && e.name == name)
}

/// `a directory`, `a symbolic link`, ...
fn describe(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Tree => "a directory",
        EntryKind::File => "a file",
        EntryKind::Executable => "an executable file",
        EntryKind::Symlink => "a symbolic link",
        EntryKind::Submodule => "a submodule",
    }
}

/// The components of a relative `/`-separated path, checked as git checks tree entry names.
fn split_path(path: &str) -> Result<Vec<&str>, Error> {
    let bad = |why: &str| Err(Error::failed(format!("cannot write `{path}`: {why}")));
    if path.is_empty() {
        return bad("the path is empty");
    }
    if path.starts_with('/') {
        return bad("the path must be relative to the repository's root");
    }
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts {
        match *part {
            "" => return bad("the path has an empty component (`//` or a trailing `/`)"),
            "." | ".." => return bad("the path may not have `.` or `..` components"),
            p if p.eq_ignore_ascii_case(".git") => return bad("git refuses `.git` in a path"),
            p if p.contains('\0') => return bad("the path has a NUL character"),
            _ => {}
        }
    }
    Ok(parts)
}

/// A version-2 pack holding `objects` whole (no deltas), each zlib-compressed, followed by
/// the SHA-1 of everything before it: what `git index-pack` accepts and a push sends.
pub fn write_pack(objects: &[NewObject]) -> Vec<u8> {
    let count = u32::try_from(objects.len()).expect("fewer than 2^32 objects");
    let mut out = Vec::new();
    out.extend_from_slice(b"PACK");
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    for object in objects {
        let kind: u8 = match object.kind {
            Kind::Commit => 1,
            Kind::Tree => 2,
            Kind::Blob => 3,
            Kind::Tag => 4,
        };
        // Type in bits 4-6 of the first byte; the size in 4 bits, then 7 bits per byte.
        let mut size = object.data.len();
        let mut byte = (kind << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size != 0 {
            out.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        out.push(byte);
        out.extend_from_slice(&compress_to_vec_zlib(&object.data, PACK_COMPRESSION));
    }
    let digest = Sha1::digest(&out);
    out.extend_from_slice(&digest[..]);
    out
}

#[cfg(test)]
mod tests {
    //! The tests that need `git` follow `tests.rs`: ignored on `wasm32`, skipped with a note
    //! when `git` is missing, except in CI (`CI` set), where that is a failure.

    use super::*;
    use crate::tests::Scratch;

    fn entry(kind: EntryKind, name: &str, byte: u8) -> TreeEntry {
        TreeEntry {
            kind,
            name: name.to_string(),
            utf8: true,
            id: ObjectId([byte; 20]),
        }
    }

    fn names(data: &[u8]) -> Vec<String> {
        crate::object::parse_tree(ObjectId([0; 20]), data)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn tree_order_puts_directories_as_if_slashed() {
        let entries = [
            entry(EntryKind::File, "a.txt", 1),
            entry(EntryKind::Tree, "a", 2),
            entry(EntryKind::File, "a-b", 3),
            entry(EntryKind::Tree, "a0", 4),
            entry(EntryKind::Submodule, "b", 5),
            entry(EntryKind::File, "b.c", 6),
            entry(EntryKind::File, "B", 7),
        ];
        // "a-" < "a." < "a/" (the tree `a`) < "a0"; a submodule sorts as a plain name.
        assert_eq!(
            names(&encode_tree(&entries)),
            ["B", "a-b", "a.txt", "a", "a0", "b", "b.c"]
        );
        let parsed = crate::object::parse_tree(ObjectId([0; 20]), &encode_tree(&entries)).unwrap();
        for e in &entries {
            assert!(parsed.contains(e), "{e:?}");
        }
    }

    #[test]
    fn modes_are_what_git_writes() {
        let entries = [
            entry(EntryKind::Tree, "d", 1),
            entry(EntryKind::Executable, "x", 2),
            entry(EntryKind::Symlink, "y", 3),
        ];
        let data = encode_tree(&entries);
        assert!(data.starts_with(b"40000 d\0"));
        assert_eq!(&data[28..28 + 9], b"100755 x\0");
        assert_eq!(encode_tree(&[]), b"");
        assert_eq!(
            NewObject::new(Kind::Tree, encode_tree(&[])).id.to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn commit_text() {
        let sig = |who: &str, time, offset_minutes| Signature {
            who: who.into(),
            time,
            offset_minutes,
        };
        let tree = ObjectId([0xaa; 20]);
        let parent = ObjectId([0xbb; 20]);
        let data = encode_commit(
            tree,
            &[parent],
            &sig("Ann <ann@example.com>", 1_700_000_000, -330),
            &sig("Bob <bob@example.com>", 1_700_000_060, 0),
            "Promote app\n\nBody\n",
        );
        let text = String::from_utf8(data.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "tree {tree}\nparent {parent}\nauthor Ann <ann@example.com> 1700000000 -0530\n\
                 committer Bob <bob@example.com> 1700000060 +0000\n\nPromote app\n\nBody\n"
            )
        );
        let parsed = crate::object::Commit::parse(ObjectId([0; 20]), &data).unwrap();
        assert_eq!(parsed.author.offset_minutes, -330);
        assert_eq!(parsed.parents, [parent]);
        assert_eq!(parsed.subject(), "Promote app");
    }

    #[test]
    fn pack_header_sizes_and_trailer() {
        let small = NewObject::new(Kind::Blob, b"hello\n".to_vec());
        let big = NewObject::new(Kind::Tree, vec![7; 300]);
        let pack = write_pack(&[small.clone(), big.clone()]);
        assert_eq!(&pack[..12], b"PACK\0\0\0\x02\0\0\0\x02");
        // A blob (3) of 6 bytes fits in one header byte.
        assert_eq!(pack[12], 0x36);
        let body = 13;
        let inflated = miniz_oxide::inflate::decompress_to_vec_zlib(&pack[body..]).unwrap();
        assert_eq!(inflated, small.data);
        // The trailer is the SHA-1 of the rest.
        let (content, trailer) = pack.split_at(pack.len() - 20);
        assert_eq!(trailer, &Sha1::digest(content)[..]);
        // The tree (2) of 300 bytes: 300 = 0b1_0010_1100 -> 0xac, 0x12.
        let second = (0..content.len() - 1)
            .find(|&i| content[i..].starts_with(&[0xac, 0x12]))
            .unwrap();
        let inflated = miniz_oxide::inflate::decompress_to_vec_zlib(&content[second + 2..]);
        assert_eq!(inflated.unwrap(), big.data);
        assert_eq!(write_pack(&[]).len(), 12 + 20);
    }

    #[test]
    fn bad_paths_are_refused_before_reading() {
        for (path, why) in [
            ("", "empty"),
            ("/a", "relative"),
            ("a//b", "empty component"),
            ("a/", "empty component"),
            ("a/../b", "`..`"),
            (".git/config", ".git"),
            ("a/.GIT/x", ".git"),
        ] {
            let e = split_path(path).unwrap_err();
            assert!(matches!(&e, Error::Failed(_)), "{e}");
            assert!(e.message().contains(why), "{path}: {e}");
            assert!(e.message().contains(&format!("`{path}`")), "{path}: {e}");
        }
        assert_eq!(split_path("a/b.yaml").unwrap(), ["a", "b.yaml"]);
    }

    /// `git`'s scratch repository of this crate's tests, with fixed dates in two offsets.
    fn scratch(name: &str) -> Option<Scratch> {
        Some(
            Scratch::new(&format!("write-{name}"))?
                .with_dates("1700000000 +0530", "1700000060 -0700"),
        )
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
    fn tree_and_commit_ids_match_git() {
        let Some(s) = scratch("ids") else {
            return;
        };
        let entries = [
            entry(EntryKind::File, "values.yaml", 0x11),
            entry(EntryKind::Tree, "charts", 0x22),
            entry(EntryKind::Executable, "deploy.sh", 0x33),
            entry(EntryKind::Symlink, "current", 0x44),
            entry(EntryKind::Submodule, "vendor", 0x55),
            entry(EntryKind::Tree, "charts-old", 0x66),
            entry(EntryKind::File, "charts.md", 0x77),
        ];
        let ours = NewObject::new(Kind::Tree, encode_tree(&entries));
        let listing: String = entries
            .iter()
            .map(|e| {
                let kind = match e.kind {
                    EntryKind::Tree => "tree",
                    EntryKind::Submodule => "commit",
                    _ => "blob",
                };
                format!("{:0>6} {kind} {}\t{}\n", mode(e.kind), e.id, e.name)
            })
            .collect();
        let theirs = s.git_with_input(&["mktree", "--missing"], listing.as_bytes());
        assert_eq!(ours.id.to_string(), theirs);
        let hashed = s.git_with_input(
            &["hash-object", "-t", "tree", "--literally", "--stdin"],
            &ours.data,
        );
        assert_eq!(ours.id.to_string(), hashed);

        // Commits: a root commit, then one with two parents, both with odd offsets.
        let tree = s.id(&["hash-object", "-w", "-t", "tree", "/dev/null"]);
        let author = Signature {
            who: "Ann Author <ann@example.com>".into(),
            time: 1_700_000_000,
            offset_minutes: 5 * 60 + 30,
        };
        let committer = Signature {
            who: "Cid Committer <cid@example.com>".into(),
            time: 1_700_000_060,
            offset_minutes: -7 * 60,
        };
        let first = NewObject::new(
            Kind::Commit,
            encode_commit(tree, &[], &author, &committer, "first\n"),
        );
        let theirs = s.git(&["commit-tree", &tree.to_string(), "-m", "first"]);
        assert_eq!(first.id.to_string(), theirs);
        let other = NewObject::new(
            Kind::Commit,
            encode_commit(tree, &[], &author, &committer, "other\n"),
        );
        assert_eq!(
            other.id.to_string(),
            s.git(&["commit-tree", &tree.to_string(), "-m", "other"])
        );
        let second = NewObject::new(
            Kind::Commit,
            encode_commit(
                tree,
                &[first.id, other.id],
                &author,
                &committer,
                "second\n\nbody\n",
            ),
        );
        let first_hex = first.id.to_string();
        let theirs = s.git(&[
            "commit-tree",
            &tree.to_string(),
            "-p",
            &first_hex,
            "-p",
            &other.id.to_string(),
            "-m",
            "second",
            "-m",
            "body",
        ]);
        assert_eq!(second.id.to_string(), theirs);
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
    fn replace_file_gives_the_tree_git_gives() {
        let Some(s) = scratch("replace") else {
            return;
        };
        s.write("README.md", "readme\n");
        s.write("envs/prod/values.yaml", "tag: 1\n");
        s.write("envs/prod/other.yaml", "x: 1\n");
        s.write("envs/prod-eu/values.yaml", "tag: 1\n");
        s.write("envs/staging/values.yaml", "tag: 1\n");
        s.write("envs/run.sh", "#!/bin/sh\n");
        s.git(&["add", "-A"]);
        s.git(&["update-index", "--chmod=+x", "envs/run.sh"]);
        s.git(&["commit", "-q", "-m", "one"]);
        let root = s.id(&["rev-parse", "HEAD^{tree}"]);
        let mut repo = s.repo();

        // A regular file two directories deep.
        let (ours, objects) = replace_file(
            &mut repo,
            root,
            "envs/prod/values.yaml",
            b"tag: 2\n".to_vec(),
        )
        .unwrap();
        s.write("envs/prod/values.yaml", "tag: 2\n");
        s.git(&["add", "envs/prod/values.yaml"]);
        assert_eq!(ours, s.id(&["write-tree"]));
        // The blob, `envs/prod`, `envs` and the root; the root last.
        assert_eq!(objects.len(), 4);
        assert_eq!(objects[0].kind, Kind::Blob);
        assert_eq!(objects.last().unwrap().id, ours);

        // An executable file keeps its mode.
        let (ours, _) = replace_file(
            &mut repo,
            root,
            "envs/run.sh",
            b"#!/bin/sh\nexit 0\n".to_vec(),
        )
        .unwrap();
        s.git(&["reset", "-q", "--hard"]);
        s.write("envs/run.sh", "#!/bin/sh\nexit 0\n");
        s.git(&["add", "envs/run.sh"]);
        s.git(&["update-index", "--chmod=+x", "envs/run.sh"]);
        assert_eq!(ours, s.id(&["write-tree"]));

        // Creating a file in new directories.
        let (ours, objects) = write_file(
            &mut repo,
            root,
            "envs/dev/a/values.yaml",
            b"new\n".to_vec(),
            true,
        )
        .unwrap();
        s.git(&["reset", "-q", "--hard"]);
        s.write("envs/dev/a/values.yaml", "new\n");
        s.git(&["add", "envs/dev/a/values.yaml"]);
        assert_eq!(ours, s.id(&["write-tree"]));
        assert_eq!(objects.len(), 5);

        // The same content: the same root, nothing new.
        assert_eq!(
            replace_file(&mut repo, root, "README.md", b"readme\n".to_vec()).unwrap(),
            (root, Vec::new())
        );
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
    fn replace_file_errors_name_the_path() {
        let Some(s) = scratch("replace-errors") else {
            return;
        };
        s.write("envs/prod/values.yaml", "tag: 1\n");
        s.git(&["add", "-A"]);
        s.git(&["commit", "-q", "-m", "one"]);
        #[cfg(unix)]
        std::os::unix::fs::symlink("envs", s.dir.join("link")).unwrap();
        s.git(&["add", "-A"]);
        s.git(&["commit", "-q", "-m", "two"]);
        let root = s.id(&["rev-parse", "HEAD^{tree}"]);
        let mut repo = s.repo();
        let mut error = |path: &str| {
            replace_file(&mut repo, root, path, b"x".to_vec())
                .map(|_| ())
                .unwrap_err()
        };
        let e = error("envs/prod/missing.yaml");
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("`envs/prod/missing.yaml`: there is no such file")),
            "{e}"
        );
        let e = error("envs/nope/values.yaml");
        assert!(
            matches!(&e, Error::NotFound(m) if m.contains("no directory `envs/nope`")),
            "{e}"
        );
        let e = error("envs/prod");
        assert!(
            matches!(&e, Error::Failed(m) if m.contains("`envs/prod`: it is a directory")),
            "{e}"
        );
        let e = error("envs/prod/values.yaml/x");
        assert!(
            matches!(&e, Error::Failed(m) if m.contains("`envs/prod/values.yaml` is a file, not a directory")),
            "{e}"
        );
        if cfg!(unix) {
            let e = error("link");
            assert!(
                matches!(&e, Error::Failed(m) if m.contains("it is a symbolic link")),
                "{e}"
            );
        }
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
    fn written_pack_is_accepted_by_git() {
        let Some(s) = scratch("pack") else {
            return;
        };
        s.write("envs/prod/values.yaml", "tag: 1\n");
        s.write("big.txt", &"some text to compress\n".repeat(1000));
        s.git(&["add", "-A"]);
        s.git(&["commit", "-q", "-m", "one"]);
        let head = s.id(&["rev-parse", "HEAD"]);
        let mut repo = s.repo();
        let root = repo.commit(head).unwrap().tree;
        let (tree, mut objects) = replace_file(
            &mut repo,
            root,
            "envs/prod/values.yaml",
            b"tag: 2\n".to_vec(),
        )
        .unwrap();
        let sig = Signature {
            who: "Lockgate <lockgate@example.com>".into(),
            time: 1_700_000_100,
            offset_minutes: 0,
        };
        let commit = NewObject::new(
            Kind::Commit,
            encode_commit(tree, &[head], &sig, &sig, "Promote\n"),
        );
        objects.push(commit.clone());
        // A large blob, so that sizes take several header bytes.
        objects.push(NewObject::new(
            Kind::Blob,
            "0123456789".repeat(10_000).into_bytes(),
        ));
        let pack = write_pack(&objects);

        let out = s.git_with_input(&["index-pack", "--stdin", "--strict"], &pack);
        let pack_hash = out.trim_start_matches("pack\t");
        let idx = format!(".git/objects/pack/pack-{pack_hash}.idx");
        let verified = s.git(&["verify-pack", "-v", &idx]);
        for object in &objects {
            assert!(verified.contains(&object.id.to_string()), "{verified}");
        }
        s.git(&["update-ref", "refs/heads/main", &commit.id.to_string()]);
        s.git(&["fsck", "--strict", "--no-dangling"]);
        assert_eq!(s.git(&["show", "HEAD:envs/prod/values.yaml"]), "tag: 2");
        // This plugin's reader reads the pack back.
        let mut repo = s.repo();
        assert_eq!(repo.commit(commit.id).unwrap().tree, tree);
        assert_eq!(repo.object(objects[0].id).unwrap().data, b"tag: 2\n");
    }
}
