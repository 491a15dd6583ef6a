//! A small read-only git repository reader: refs (loose, `packed-refs`, symbolic), loose
//! objects, pack files with `.idx` version 2 and their deltas (`OFS_DELTA`, `REF_DELTA`).
//!
//! Every object read is checked against its id (SHA-1); a mismatch, a broken zlib stream or
//! a malformed pack is a `failed` error naming the object. No threads, no mmap: pack files are
//! read into memory when first needed.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use lockgate_sdk::{Error, IoResultExt};
use miniz_oxide::inflate::decompress_to_vec_zlib_with_limit;

use crate::object::{Commit, EntryKind, Kind, ObjectId, TreeEntry, parse_tree};

/// Symbolic refs are followed at most this deep.
const MAX_SYMREF_DEPTH: usize = 5;
/// Delta chains longer than this are refused (git's default maximum is 50).
pub(crate) const MAX_DELTA_DEPTH: usize = 1000;
/// Objects kept in memory, in bytes, before the cache is emptied.
const CACHE_BYTES: usize = 64 << 20;
/// Objects larger than this are refused: the sandbox has a memory cap.
pub(crate) const MAX_OBJECT_BYTES: usize = 128 << 20;

/// An object read from the repository.
#[derive(Debug)]
pub struct Object {
    /// Its kind.
    pub kind: Kind,
    /// Its body, without the `"<kind> <len>\0"` header.
    pub data: Vec<u8>,
}

/// One pack: its index and, once needed, its content.
struct Pack {
    path: PathBuf,
    idx: Vec<u8>,
    count: usize,
    data: Option<Vec<u8>>,
}

/// A repository opened for reading.
pub struct Repo {
    git_dir: PathBuf,
    packs: Option<Vec<Pack>>,
    shallow: HashSet<ObjectId>,
    /// Commits and trees read so far, by id.
    cache: HashMap<ObjectId, Rc<Object>>,
    /// Pack entries used as `OFS_DELTA` bases, by (pack, offset).
    bases: HashMap<(usize, u64), Rc<Object>>,
    cached_bytes: usize,
}

impl Repo {
    /// Opens the repository at `path`: a working tree with a `.git` directory, or a bare
    /// repository. `field` names the configuration field in errors.
    pub fn open(path: &Path, field: &str) -> Result<Self, Error> {
        let dot_git = path.join(".git");
        let git_dir = if dot_git.is_dir() {
            dot_git
        } else if dot_git.is_file() {
            return Err(Error::invalid_config(format!(
                "{field}: {} has a `.git` file (a linked worktree or a submodule), which points outside the sandbox; grant the main repository instead",
                path.display()
            )));
        } else if path.join("objects").is_dir() && path.join("HEAD").is_file() {
            path.to_path_buf()
        } else if !path.exists() {
            return Err(Error::invalid_config(format!(
                "{field}: {} does not exist in the sandbox; grant the repository as a directory and name it here, e.g. /dirs/config-repo",
                path.display()
            )));
        } else {
            return Err(Error::invalid_config(format!(
                "{field}: {} is not a git repository (no `.git` directory, and not a bare repository with `objects` and `HEAD`)",
                path.display()
            )));
        };
        let shallow = match fs::read_to_string(git_dir.join("shallow")) {
            Ok(text) => text.lines().filter_map(ObjectId::from_hex).collect(),
            Err(_) => HashSet::new(),
        };
        Ok(Self {
            git_dir,
            packs: None,
            shallow,
            cache: HashMap::new(),
            bases: HashMap::new(),
            cached_bytes: 0,
        })
    }

    /// The commit `refs/heads/<branch>` points to; `not-found` when there is no such branch.
    pub fn branch(&self, branch: &str) -> Result<ObjectId, Error> {
        let mut name = format!("refs/heads/{branch}");
        for _ in 0..MAX_SYMREF_DEPTH {
            let target = self.read_ref(&name)?.ok_or_else(|| {
                Error::not_found(format!(
                    "branch `{branch}` does not exist in {} ({name} is neither a file nor in packed-refs)",
                    self.git_dir.display()
                ))
            })?;
            match target.strip_prefix("ref:") {
                Some(next) => name = next.trim().to_string(),
                None => {
                    return ObjectId::from_hex(target.trim()).ok_or_else(|| {
                        Error::failed(format!("{name}: not an object id: {target:?}"))
                    });
                }
            }
        }
        Err(Error::failed(format!(
            "{name}: symbolic refs nested deeper than {MAX_SYMREF_DEPTH}"
        )))
    }

    /// Every tag (`refs/tags/<name>`), loose or packed: `(name, the commit it designates)`;
    /// annotated tags are peeled to their commit, tags of other objects are left out.
    pub fn tags(&mut self) -> Result<Vec<(String, ObjectId)>, Error> {
        let mut raw: std::collections::BTreeMap<String, ObjectId> = Default::default();
        let packed = self.git_dir.join("packed-refs");
        match fs::read_to_string(&packed) {
            Ok(text) => {
                for line in text.lines().filter(|l| !l.starts_with(['#', '^'])) {
                    if let Some((id, name)) = line.split_once(' ')
                        && let Some(tag) = name.trim().strip_prefix("refs/tags/")
                        && let Some(id) = ObjectId::from_hex(id)
                    {
                        raw.insert(tag.to_string(), id);
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&packed, e)),
        }
        // Loose refs win over packed ones.
        let dir = self.git_dir.join("refs/tags");
        let mut stack = vec![(dir, String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            };
            for entry in entries.flatten() {
                let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
                let path = entry.path();
                if path.is_dir() {
                    stack.push((path, format!("{name}/")));
                } else if let Ok(text) = fs::read_to_string(&path)
                    && let Some(id) = ObjectId::from_hex(text.trim())
                {
                    raw.insert(name, id);
                }
            }
        }
        let mut tags = Vec::new();
        for (name, id) in raw {
            if let Some(commit) = self.peel(id)? {
                tags.push((name, commit));
            }
        }
        Ok(tags)
    }

    /// The commit object `id` designates: itself, or what its annotated tag(s) point to;
    /// `None` for a tag of a tree or a blob.
    pub fn peel(&mut self, mut id: ObjectId) -> Result<Option<ObjectId>, Error> {
        for _ in 0..MAX_SYMREF_DEPTH {
            let object = self.object(id)?;
            match object.kind {
                Kind::Commit => return Ok(Some(id)),
                Kind::Tag => {
                    let target = object
                        .data
                        .strip_prefix(b"object ")
                        .and_then(|rest| {
                            ObjectId::from_hex(std::str::from_utf8(rest.get(..40)?).ok()?)
                        })
                        .ok_or_else(|| {
                            Error::failed(format!("corrupt tag {id}: no `object` line"))
                        })?;
                    id = target;
                }
                _ => return Ok(None),
            }
        }
        Err(Error::failed(format!(
            "tag {id}: tags of tags nested deeper than {MAX_SYMREF_DEPTH}"
        )))
    }

    /// The content of the ref `name` (`refs/heads/x`), loose or packed.
    fn read_ref(&self, name: &str) -> Result<Option<String>, Error> {
        let loose = self.git_dir.join(name);
        match fs::read_to_string(&loose) {
            Ok(text) => return Ok(Some(text.trim().to_string())),
            // A directory: `refs/heads/a` when branches `a/b` exist; look in packed-refs.
            Err(e) if e.kind() == ErrorKind::NotFound || loose.is_dir() => {}
            Err(e) => return Err(Error::io(&loose, e)),
        }
        let packed = self.git_dir.join("packed-refs");
        let text = match fs::read_to_string(&packed) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&packed, e)),
        };
        Ok(find_packed_ref(&text, name).map(str::to_string))
    }

    /// The commit `id`.
    pub fn commit(&mut self, id: ObjectId) -> Result<Commit, Error> {
        let object = self.object(id)?;
        if object.kind != Kind::Commit {
            return Err(Error::not_found(format!(
                "{id} is a {}, not a commit",
                object.kind.name()
            )));
        }
        let mut commit = Commit::parse(id, &object.data)?;
        if self.shallow.contains(&id) {
            commit.parents.clear();
        }
        Ok(commit)
    }

    /// The entries of the tree `id`.
    pub fn tree(&mut self, id: ObjectId) -> Result<Vec<TreeEntry>, Error> {
        let object = self.object(id)?;
        if object.kind != Kind::Tree {
            return Err(Error::failed(format!(
                "{id} is a {}, expected a tree",
                object.kind.name()
            )));
        }
        parse_tree(id, &object.data)
    }

    /// The content of the blob `id`.
    pub fn blob(&mut self, id: ObjectId) -> Result<Rc<Object>, Error> {
        let object = self.object(id)?;
        if object.kind != Kind::Blob {
            return Err(Error::failed(format!(
                "{id} is a {}, expected a blob",
                object.kind.name()
            )));
        }
        Ok(object)
    }

    /// Reads the object `id` (loose first, then the packs) and checks its SHA-1.
    pub fn object(&mut self, id: ObjectId) -> Result<Rc<Object>, Error> {
        if let Some(object) = self.cache.get(&id) {
            return Ok(object.clone());
        }
        let object = match self.loose(id)? {
            Some(object) => object,
            None => self
                .packed(id)?
                .ok_or_else(|| Error::not_found(format!("object {id} is not in the repository")))?,
        };
        let actual = ObjectId::hash(object.kind, &object.data);
        if actual != id {
            return Err(Error::failed(format!(
                "corrupt object {id}: its content hashes to {actual}"
            )));
        }
        let object = Rc::new(object);
        if object.kind != Kind::Blob {
            self.remember(object.data.len());
            self.cache.insert(id, object.clone());
        }
        Ok(object)
    }

    /// Makes room for `bytes` more in the caches, emptying them when they are full.
    fn remember(&mut self, bytes: usize) {
        if self.cached_bytes + bytes > CACHE_BYTES {
            self.cache.clear();
            self.bases.clear();
            self.cached_bytes = 0;
        }
        self.cached_bytes += bytes;
    }

    fn loose(&self, id: ObjectId) -> Result<Option<Object>, Error> {
        let hex = id.to_string();
        let path = self.git_dir.join("objects").join(&hex[..2]).join(&hex[2..]);
        let compressed = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let raw = decompress_to_vec_zlib_with_limit(&compressed, MAX_OBJECT_BYTES + 64)
            .map_err(|e| Error::failed(format!("corrupt object {id}: {}: {e}", path.display())))?;
        parse_loose(&raw).map(Some).ok_or_else(|| {
            Error::failed(format!(
                "corrupt object {id}: bad header in {}",
                path.display()
            ))
        })
    }

    fn load_packs(&mut self) -> Result<(), Error> {
        if self.packs.is_some() {
            return Ok(());
        }
        let dir = self.git_dir.join("objects").join("pack");
        let mut packs = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.packs = Some(packs);
                return Ok(());
            }
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut idx_paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        idx_paths.sort();
        for idx_path in idx_paths {
            let pack_path = idx_path.with_extension("pack");
            if !pack_path.is_file() {
                continue;
            }
            let idx = fs::read(&idx_path).with_path(&idx_path)?;
            let count = check_idx(&idx).map_err(|what| {
                Error::failed(format!("corrupt pack index {}: {what}", idx_path.display()))
            })?;
            packs.push(Pack {
                path: pack_path,
                idx,
                count,
                data: None,
            });
        }
        self.packs = Some(packs);
        Ok(())
    }

    fn packed(&mut self, id: ObjectId) -> Result<Option<Object>, Error> {
        self.load_packs()?;
        let found = self.packs.as_ref().and_then(|packs| {
            packs
                .iter()
                .enumerate()
                .find_map(|(i, pack)| idx_lookup(&pack.idx, pack.count, &id).map(|off| (i, off)))
        });
        let Some((pack, offset)) = found else {
            return Ok(None);
        };
        self.read_packed(pack, offset, 0)
            .map(Some)
            .map_err(|e| e.context(format!("reading object {id}")))
    }

    /// Reads the entry at `offset` of pack `pack`, resolving deltas.
    fn read_packed(&mut self, pack: usize, offset: u64, depth: usize) -> Result<Object, Error> {
        if depth > MAX_DELTA_DEPTH {
            return Err(Error::failed(format!(
                "delta chain longer than {MAX_DELTA_DEPTH}"
            )));
        }
        let packs = self.packs.as_mut().expect("packs are loaded");
        let p = &mut packs[pack];
        if p.data.is_none() {
            let data = fs::read(&p.path).with_path(&p.path)?;
            if data.len() < 32 || &data[..4] != b"PACK" || !matches!(data[7], 2 | 3) {
                return Err(Error::failed(format!(
                    "corrupt pack {}: bad header",
                    p.path.display()
                )));
            }
            p.data = Some(data);
        }
        let path = p.path.clone();
        let data = p.data.as_deref().expect("pack data loaded");
        let bad = |what: &str| {
            Error::failed(format!(
                "corrupt pack {} at offset {offset}: {what}",
                path.display()
            ))
        };
        let entry = parse_entry_header(data, offset).ok_or_else(|| bad("bad entry header"))?;
        if entry.size > MAX_OBJECT_BYTES {
            return Err(bad("object larger than 128 MiB"));
        }
        let body = inflate_exact(&data[entry.body..], entry.size)
            .ok_or_else(|| bad("broken zlib stream"))?;
        match entry.base {
            Base::None(kind) => Ok(Object { kind, data: body }),
            Base::Offset(base_offset) => {
                let base = match self.bases.get(&(pack, base_offset)) {
                    Some(base) => base.clone(),
                    None => {
                        let base = Rc::new(self.read_packed(pack, base_offset, depth + 1)?);
                        self.remember(base.data.len());
                        self.bases.insert((pack, base_offset), base.clone());
                        base
                    }
                };
                let data = apply_delta(&base.data, &body).map_err(|what| bad(&what))?;
                Ok(Object {
                    kind: base.kind,
                    data,
                })
            }
            Base::Id(base_id) => {
                let base = self.object(base_id)?;
                let data = apply_delta(&base.data, &body).map_err(|what| bad(&what))?;
                Ok(Object {
                    kind: base.kind,
                    data,
                })
            }
        }
    }

    /// Paths (`a/b.txt`) whose entry differs between the trees `old` and `new` (`None`: an
    /// empty tree), added, removed or modified, files only (a directory that changed
    /// contributes the files inside it).
    pub fn changed_paths(
        &mut self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        prefix: &str,
        out: &mut Vec<String>,
    ) -> Result<(), Error> {
        if old == new {
            return Ok(());
        }
        let old_entries = match old {
            Some(id) => self.tree(id)?,
            None => Vec::new(),
        };
        let new_entries = match new {
            Some(id) => self.tree(id)?,
            None => Vec::new(),
        };
        let mut by_name: std::collections::BTreeMap<
            &str,
            (Option<&TreeEntry>, Option<&TreeEntry>),
        > = Default::default();
        for e in &old_entries {
            by_name.entry(&e.name).or_default().0 = Some(e);
        }
        for e in &new_entries {
            by_name.entry(&e.name).or_default().1 = Some(e);
        }
        for (name, (o, n)) in by_name {
            if let (Some(o), Some(n)) = (o, n)
                && o.id == n.id
                && o.kind == n.kind
            {
                continue;
            }
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            let tree_id =
                |e: Option<&TreeEntry>| e.filter(|e| e.kind == EntryKind::Tree).map(|e| e.id);
            let (old_tree, new_tree) = (tree_id(o), tree_id(n));
            if old_tree.is_some() || new_tree.is_some() {
                self.changed_paths(old_tree, new_tree, &path, out)?;
            }
            let file = |e: Option<&TreeEntry>| e.is_some_and(|e| e.kind != EntryKind::Tree);
            if file(o) || file(n) {
                out.push(path);
            }
        }
        Ok(())
    }
}

/// The value of `name` in the text of a `packed-refs` file.
fn find_packed_ref<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .find_map(|l| {
            let (id, ref_name) = l.split_once(' ')?;
            (ref_name.trim() == name).then_some(id)
        })
}

/// Splits an inflated loose object into kind and body, checking the declared size.
fn parse_loose(raw: &[u8]) -> Option<Object> {
    let nul = raw.iter().position(|&b| b == 0)?;
    let header = &raw[..nul];
    let space = header.iter().position(|&b| b == b' ')?;
    let kind = Kind::from_name(&header[..space])?;
    let size: usize = std::str::from_utf8(&header[space + 1..])
        .ok()?
        .parse()
        .ok()?;
    let data = raw[nul + 1..].to_vec();
    (data.len() == size).then_some(Object { kind, data })
}

/// Inflates the zlib stream at the start of `input` (trailing bytes ignored), which must
/// give exactly `size` bytes.
fn inflate_exact(input: &[u8], size: usize) -> Option<Vec<u8>> {
    let out = decompress_to_vec_zlib_with_limit(input, size).ok()?;
    (out.len() == size).then_some(out)
}

/// Checks an `.idx` version 2 file and returns its object count.
fn check_idx(idx: &[u8]) -> Result<usize, String> {
    if idx.len() < 8 + 1024 || idx[..4] != [0xff, b't', b'O', b'c'] {
        return Err("not a version 2 index (version 1 indexes are not supported)".into());
    }
    let version = u32::from_be_bytes(idx[4..8].try_into().unwrap());
    if version != 2 {
        return Err(format!("index version {version} is not supported"));
    }
    let count = be32(idx, 8 + 255 * 4) as usize;
    if idx.len() < 8 + 1024 + count * 28 + 40 {
        return Err("truncated".into());
    }
    Ok(count)
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Offset of `id` in the pack of the (checked) index `idx` holding `count` objects.
fn idx_lookup(idx: &[u8], count: usize, id: &ObjectId) -> Option<u64> {
    let fanout = |i: usize| be32(idx, 8 + i * 4) as usize;
    let first = id.0[0] as usize;
    let (mut lo, mut hi) = (
        if first == 0 { 0 } else { fanout(first - 1) },
        fanout(first),
    );
    let names = 8 + 1024;
    while lo < hi {
        let mid = (lo + hi) / 2;
        let at = names + mid * 20;
        match idx.get(at..at + 20)?.cmp(&id.0[..]) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                let offsets = names + count * 24;
                let small = be32(idx, offsets + mid * 4);
                if small & 0x8000_0000 == 0 {
                    return Some(u64::from(small));
                }
                let large = offsets + count * 4 + (small & 0x7fff_ffff) as usize * 8;
                return Some(u64::from_be_bytes(
                    idx.get(large..large + 8)?.try_into().ok()?,
                ));
            }
        }
    }
    None
}

/// Where a pack entry's base is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Base {
    /// Not a delta: an object of this kind.
    None(Kind),
    /// `OFS_DELTA`: the entry at this absolute offset.
    Offset(u64),
    /// `REF_DELTA`: the object with this id.
    Id(ObjectId),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EntryHeader {
    pub(crate) base: Base,
    /// Inflated size of the body (the delta itself for deltas).
    pub(crate) size: usize,
    /// Offset of the zlib stream.
    pub(crate) body: usize,
}

pub(crate) fn parse_entry_header(data: &[u8], offset: u64) -> Option<EntryHeader> {
    let mut at = usize::try_from(offset).ok()?;
    let mut byte = *data.get(at)?;
    at += 1;
    let kind = (byte >> 4) & 7;
    let mut size = u64::from(byte & 15);
    let mut shift = 4;
    while byte & 0x80 != 0 {
        byte = *data.get(at)?;
        at += 1;
        if shift > 57 {
            return None;
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    let base = match kind {
        1 => Base::None(Kind::Commit),
        2 => Base::None(Kind::Tree),
        3 => Base::None(Kind::Blob),
        4 => Base::None(Kind::Tag),
        6 => {
            byte = *data.get(at)?;
            at += 1;
            let mut distance = u64::from(byte & 0x7f);
            while byte & 0x80 != 0 {
                byte = *data.get(at)?;
                at += 1;
                distance = distance.checked_add(1)?.checked_mul(128)? | u64::from(byte & 0x7f);
            }
            Base::Offset(offset.checked_sub(distance).filter(|_| distance > 0)?)
        }
        7 => {
            let id = ObjectId::from_bytes(data.get(at..)?)?;
            at += 20;
            Base::Id(id)
        }
        _ => return None,
    };
    Some(EntryHeader {
        base,
        size: usize::try_from(size).ok()?,
        body: at,
    })
}

/// Reads a delta's little-endian base-128 size.
fn delta_size(delta: &[u8], at: &mut usize) -> Option<usize> {
    let mut size = 0usize;
    let mut shift = 0;
    loop {
        let byte = *delta.get(*at)?;
        *at += 1;
        size |= usize::from(byte & 0x7f).checked_shl(shift)?;
        shift += 7;
        if byte & 0x80 == 0 {
            return Some(size);
        }
        if shift > 63 {
            return None;
        }
    }
}

/// Applies a git delta to `base`.
pub(crate) fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, String> {
    let mut at = 0;
    let source = delta_size(delta, &mut at).ok_or("truncated delta header")?;
    let target = delta_size(delta, &mut at).ok_or("truncated delta header")?;
    if source != base.len() {
        return Err(format!(
            "delta expects a base of {source} bytes, the base has {}",
            base.len()
        ));
    }
    if target > MAX_OBJECT_BYTES {
        return Err("delta result larger than 128 MiB".into());
    }
    let mut out = Vec::with_capacity(target);
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            let mut offset = 0usize;
            let mut size = 0usize;
            for i in 0..4 {
                if op & (1 << i) != 0 {
                    offset |= usize::from(*delta.get(at).ok_or("truncated copy")?) << (8 * i);
                    at += 1;
                }
            }
            for i in 0..3 {
                if op & (16 << i) != 0 {
                    size |= usize::from(*delta.get(at).ok_or("truncated copy")?) << (8 * i);
                    at += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            let chunk = offset
                .checked_add(size)
                .and_then(|end| base.get(offset..end))
                .ok_or("delta copies past the end of its base")?;
            out.extend_from_slice(chunk);
        } else if op != 0 {
            let n = usize::from(op);
            let chunk = delta.get(at..at + n).ok_or("truncated insert")?;
            out.extend_from_slice(chunk);
            at += n;
        } else {
            return Err("delta opcode 0 is reserved".into());
        }
    }
    if out.len() != target {
        return Err(format!(
            "delta produced {} bytes, expected {target}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_refs_lookup() {
        let text = "# pack-refs with: peeled fully-peeled sorted\n\
                    1111111111111111111111111111111111111111 refs/heads/main\n\
                    2222222222222222222222222222222222222222 refs/tags/v1\n\
                    ^3333333333333333333333333333333333333333\n";
        assert_eq!(
            find_packed_ref(text, "refs/heads/main"),
            Some("1111111111111111111111111111111111111111")
        );
        assert_eq!(find_packed_ref(text, "refs/heads/other"), None);
    }

    #[test]
    fn loose_header() {
        let object = parse_loose(b"blob 6\0hello\n").unwrap();
        assert_eq!(
            (object.kind, object.data.as_slice()),
            (Kind::Blob, &b"hello\n"[..])
        );
        assert!(parse_loose(b"blob 7\0hello\n").is_none());
        assert!(parse_loose(b"bolb 6\0hello\n").is_none());
    }

    #[test]
    fn delta_copy_and_insert() {
        let base = b"the quick brown fox";
        // sizes 19 -> 13; copy offset 4 size 5 ("quick"); insert " cat"; copy offset 0 size 4.
        let delta = [19, 13, 0x91, 4, 5, 4, b' ', b'c', b'a', b't', 0x90, 4];
        assert_eq!(apply_delta(base, &delta).unwrap(), b"quick catthe ");
        assert!(apply_delta(b"short", &delta).is_err());
        assert!(apply_delta(base, &[19, 1, 0]).is_err());
        assert!(apply_delta(base, &[19, 4, 0x91, 30, 4]).is_err());
    }

    #[test]
    fn entry_headers() {
        // A blob of 300 bytes: type 3, size 300 = 0b1_0010_1100 -> 0xbc 0x12.
        let data = [0xbc, 0x12, 0x78];
        let header = parse_entry_header(&data, 0).unwrap();
        assert_eq!(header.base, Base::None(Kind::Blob));
        assert_eq!((header.size, header.body), (300, 2));
        // An OFS_DELTA at offset 200 whose base is 130 bytes back: 130 = ((0 + 1) << 7) + 2.
        let mut data = vec![0; 200];
        data.extend_from_slice(&[0x65, 0x80, 0x02]);
        let header = parse_entry_header(&data, 200).unwrap();
        assert_eq!(header.base, Base::Offset(70));
        assert_eq!((header.size, header.body), (5, 203));
        // Type 5 is reserved.
        assert!(parse_entry_header(&[0x50], 0).is_none());
    }

    #[test]
    fn index_lookup_with_large_offsets() {
        let ids = [
            ObjectId([0x10; 20]),
            ObjectId([0x20; 20]),
            ObjectId([0xf0; 20]),
        ];
        let mut idx = vec![0xff, b't', b'O', b'c', 0, 0, 0, 2];
        for byte in 0..256usize {
            let n = ids.iter().filter(|id| usize::from(id.0[0]) <= byte).count() as u32;
            idx.extend_from_slice(&n.to_be_bytes());
        }
        for id in &ids {
            idx.extend_from_slice(&id.0);
        }
        idx.extend_from_slice(&[0; 12]); // crc32s
        idx.extend_from_slice(&12u32.to_be_bytes());
        idx.extend_from_slice(&0x8000_0000u32.to_be_bytes());
        idx.extend_from_slice(&99u32.to_be_bytes());
        idx.extend_from_slice(&(5u64 << 32).to_be_bytes());
        idx.extend_from_slice(&[0; 40]);
        let count = check_idx(&idx).unwrap();
        assert_eq!(count, 3);
        assert_eq!(idx_lookup(&idx, count, &ids[0]), Some(12));
        assert_eq!(idx_lookup(&idx, count, &ids[1]), Some(5 << 32));
        assert_eq!(idx_lookup(&idx, count, &ids[2]), Some(99));
        assert_eq!(idx_lookup(&idx, count, &ObjectId([0x30; 20])), None);
        assert!(check_idx(&idx[..idx.len() - 41]).is_err());
    }
}
