//! Git object ids and the parsing of commits and trees.

use std::fmt;

use lockgate_sdk::Error;

/// A SHA-1 object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 20]);

impl ObjectId {
    /// Parses 40 hexadecimal digits (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 40 {
            return None;
        }
        let mut id = [0u8; 20];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            id[i] = (hi * 16 + lo) as u8;
        }
        Some(Self(id))
    }

    /// Takes the 20 raw bytes at the start of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let raw: [u8; 20] = bytes.get(..20)?.try_into().ok()?;
        Some(Self(raw))
    }

    /// The id of an object of `kind` holding `data`: SHA-1 of `"<kind> <len>\0" + data`.
    pub fn hash(kind: Kind, data: &[u8]) -> Self {
        use sha1::{Digest, Sha1};
        let mut hasher = Sha1::new();
        hasher.update(format!("{} {}\0", kind.name(), data.len()).as_bytes());
        hasher.update(data);
        let digest = hasher.finalize();
        let mut id = [0u8; 20];
        id.copy_from_slice(&digest[..]);
        Self(id)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The four object kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A commit.
    Commit,
    /// A directory listing.
    Tree,
    /// File content.
    Blob,
    /// An annotated tag.
    Tag,
}

impl Kind {
    /// The name git uses in object headers.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Commit => "commit",
            Kind::Tree => "tree",
            Kind::Blob => "blob",
            Kind::Tag => "tag",
        }
    }

    /// Parses an object header name.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"commit" => Some(Kind::Commit),
            b"tree" => Some(Kind::Tree),
            b"blob" => Some(Kind::Blob),
            b"tag" => Some(Kind::Tag),
            _ => None,
        }
    }
}

/// A person and a moment, from an `author` or `committer` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `Name <email>`.
    pub who: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// Offset from UTC in minutes.
    pub offset_minutes: i32,
}

impl Signature {
    /// Parses `Name <email> 1700000000 +0100`.
    fn parse(line: &[u8]) -> Option<Self> {
        let text = String::from_utf8_lossy(line);
        let mut parts = text.rsplitn(3, ' ');
        let tz = parts.next()?;
        let time: i64 = parts.next()?.parse().ok()?;
        let who = parts.next()?.trim().to_string();
        let (sign, digits) = match tz.as_bytes().first()? {
            b'+' => (1, &tz[1..]),
            b'-' => (-1, &tz[1..]),
            _ => return None,
        };
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = digits[2..].parse().ok()?;
        Some(Self {
            who,
            time,
            offset_minutes: sign * (hours * 60 + minutes),
        })
    }

    /// The moment as RFC 3339 in the signature's own time zone, e.g.
    /// `2024-03-01T12:00:00+01:00`; `None` when it cannot be represented (a year beyond
    /// 9999, an offset beyond ±25:59: both only in hand-made commits).
    pub fn rfc3339(&self) -> Option<String> {
        let time = jiff::Timestamp::from_second(self.time).ok()?;
        let offset = jiff::tz::Offset::from_seconds(self.offset_minutes.checked_mul(60)?).ok()?;
        Some(time.display_with_offset(offset).to_string())
    }
}

/// The parts of a commit this plugin uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The root tree.
    pub tree: ObjectId,
    /// Parents, first parent first.
    pub parents: Vec<ObjectId>,
    /// Who wrote the change.
    pub author: Signature,
    /// Who made the commit, and when (the commit's timestamp).
    pub committer: Signature,
    /// The whole message.
    pub message: String,
}

impl Commit {
    /// Parses the body of a commit object; `id` names it in errors.
    pub fn parse(id: ObjectId, data: &[u8]) -> Result<Self, Error> {
        let bad = |what: &str| Error::failed(format!("corrupt commit {id}: {what}"));
        let (headers, message) = match find(data, b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &b""[..]),
        };
        let mut tree = None;
        let mut parents = Vec::new();
        let mut author = None;
        let mut committer = None;
        for line in headers.split(|&b| b == b'\n') {
            // Continuation lines of multi-line headers (gpgsig, mergetag) start with a space.
            if line.first() == Some(&b' ') {
                continue;
            }
            let Some(space) = line.iter().position(|&b| b == b' ') else {
                continue;
            };
            let (key, value) = (&line[..space], &line[space + 1..]);
            match key {
                b"tree" => tree = Some(hex_id(value).ok_or_else(|| bad("bad tree line"))?),
                b"parent" => parents.push(hex_id(value).ok_or_else(|| bad("bad parent line"))?),
                b"author" => {
                    author = Some(Signature::parse(value).ok_or_else(|| bad("bad author line"))?)
                }
                b"committer" => {
                    committer =
                        Some(Signature::parse(value).ok_or_else(|| bad("bad committer line"))?)
                }
                _ => {}
            }
        }
        Ok(Self {
            tree: tree.ok_or_else(|| bad("no tree"))?,
            parents,
            author: author.ok_or_else(|| bad("no author"))?,
            committer: committer.ok_or_else(|| bad("no committer"))?,
            message: String::from_utf8_lossy(message).into_owned(),
        })
    }

    /// The first line of the message, trimmed.
    pub fn subject(&self) -> &str {
        self.message.lines().next().unwrap_or("").trim()
    }
}

fn hex_id(value: &[u8]) -> Option<ObjectId> {
    ObjectId::from_hex(std::str::from_utf8(value).ok()?.trim())
}

/// Position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A subdirectory (mode 040000).
    Tree,
    /// A regular file (100644).
    File,
    /// An executable file (100755).
    Executable,
    /// A symbolic link (120000); the blob holds the target.
    Symlink,
    /// A submodule commit (160000); not in this repository.
    Submodule,
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// What it is.
    pub kind: EntryKind,
    /// The file or directory name (raw bytes as git stores them, lossily decoded).
    pub name: String,
    /// Whether `name` was valid UTF-8.
    pub utf8: bool,
    /// The object it points to.
    pub id: ObjectId,
}

/// Parses the body of a tree object; `id` names it in errors.
pub fn parse_tree(id: ObjectId, mut data: &[u8]) -> Result<Vec<TreeEntry>, Error> {
    let bad = |what: String| Error::failed(format!("corrupt tree {id}: {what}"));
    let mut entries = Vec::new();
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("entry without mode".into()))?;
        let mode = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .ok_or_else(|| bad("bad mode".into()))?;
        data = &data[space + 1..];
        let nul = data
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| bad("entry without name end".into()))?;
        let raw_name = &data[..nul];
        let entry_id =
            ObjectId::from_bytes(&data[nul + 1..]).ok_or_else(|| bad("truncated entry".into()))?;
        data = &data[nul + 21..];
        let kind = match mode & 0o170000 {
            0o040000 => EntryKind::Tree,
            0o100000 if mode & 0o111 != 0 => EntryKind::Executable,
            0o100000 => EntryKind::File,
            0o120000 => EntryKind::Symlink,
            0o160000 => EntryKind::Submodule,
            _ => return Err(bad(format!("unknown mode {mode:o}"))),
        };
        let (name, utf8) = match std::str::from_utf8(raw_name) {
            Ok(name) => (name.to_string(), true),
            Err(_) => (String::from_utf8_lossy(raw_name).into_owned(), false),
        };
        entries.push(TreeEntry {
            kind,
            name,
            utf8,
            id: entry_id,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn ids_round_trip() {
        let id = ObjectId::from_hex(ID).unwrap();
        assert_eq!(id.to_string(), ID);
        assert_eq!(ObjectId::from_hex(&ID.to_uppercase()), Some(id));
        assert_eq!(ObjectId::from_hex("0123"), None);
        assert_eq!(ObjectId::from_hex(&"g".repeat(40)), None);
    }

    #[test]
    fn hash_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            ObjectId::hash(Kind::Blob, b"hello\n").to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty tree.
        assert_eq!(
            ObjectId::hash(Kind::Tree, b"").to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn commit_parses_headers_and_message() {
        let text = format!(
            "tree {ID}\nparent {ID}\nparent {ID}\nauthor Ann Example <ann@example.com> 1700000000 +0130\n\
             committer Bob <bob@example.com> 1700000060 -0500\ngpgsig -----BEGIN-----\n abc\n -----END-----\n\n\
             Subject line  \n\nBody\n"
        );
        let commit = Commit::parse(ObjectId([1; 20]), text.as_bytes()).unwrap();
        assert_eq!(commit.tree.to_string(), ID);
        assert_eq!(commit.parents.len(), 2);
        assert_eq!(commit.author.who, "Ann Example <ann@example.com>");
        assert_eq!(commit.author.offset_minutes, 90);
        assert_eq!(commit.committer.offset_minutes, -300);
        assert_eq!(commit.subject(), "Subject line");
        assert_eq!(
            commit.author.rfc3339().unwrap(),
            "2023-11-14T23:43:20+01:30"
        );
        assert_eq!(
            commit.committer.rfc3339().unwrap(),
            "2023-11-14T17:14:20-05:00"
        );
    }

    #[test]
    fn corrupt_commit_names_the_object() {
        let e = Commit::parse(ObjectId([0xab; 20]), b"parent nope\n\nx").unwrap_err();
        assert!(
            e.message()
                .starts_with(&format!("corrupt commit {}", "ab".repeat(20))),
            "{e}"
        );
    }

    #[test]
    fn dates() {
        let sig = |time, offset_minutes| Signature {
            who: String::new(),
            time,
            offset_minutes,
        };
        let date = |time, offset| sig(time, offset).rfc3339().unwrap();
        assert_eq!(date(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(date(951_782_400, 0), "2000-02-29T00:00:00+00:00");
        assert_eq!(date(-1, 0), "1969-12-31T23:59:59+00:00");
        assert_eq!(date(1_709_294_400, 60), "2024-03-01T13:00:00+01:00");
        assert_eq!(date(1_709_294_400, -570), "2024-03-01T02:30:00-09:30");
        // Beyond what RFC 3339 (and jiff) represent: no date rather than a wrong one.
        assert_eq!(sig(i64::MAX, 0).rfc3339(), None);
        assert_eq!(sig(0, 99 * 60 + 59).rfc3339(), None);
    }

    #[test]
    fn tree_entries() {
        let mut data = Vec::new();
        for (mode, name, byte) in [
            ("100644", "a.txt", 1u8),
            ("100755", "run.sh", 2),
            ("40000", "dir", 3),
            ("120000", "link", 4),
            ("160000", "sub", 5),
        ] {
            data.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            data.extend_from_slice(&[byte; 20]);
        }
        let entries = parse_tree(ObjectId([0; 20]), &data).unwrap();
        let kinds: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a.txt", EntryKind::File),
                ("run.sh", EntryKind::Executable),
                ("dir", EntryKind::Tree),
                ("link", EntryKind::Symlink),
                ("sub", EntryKind::Submodule),
            ]
        );
        assert_eq!(entries[2].id, ObjectId([3; 20]));
        assert!(parse_tree(ObjectId([0; 20]), &data[..data.len() - 1]).is_err());
    }
}
