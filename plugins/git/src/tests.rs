//! Native tests of the reader and of check/get against repositories made with the `git` CLI.
//!
//! The tests that need `git` are ignored on `wasm32` (a component cannot run a process); they
//! run natively (`tests/wasm-runner` runs this package for the host too). When `git` is not
//! installed they are skipped with a note, except in CI (`CI` set), where that is a failure.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A scratch repository driven by the `git` CLI with a fixed identity and clock (also used
/// by the other modules' tests that need `git`).
pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
    tick: i64,
    /// Fixed author and committer dates instead of the clock.
    dates: Option<(&'static str, &'static str)>,
}

impl Scratch {
    pub(crate) fn new(name: &str) -> Option<Self> {
        if let Err(e) = Command::new("git").arg("--version").output() {
            if std::env::var_os("CI").is_some() {
                panic!("`git` cannot be run ({e}) and CI is set: install git, these tests need it");
            }
            eprintln!("`git` cannot be run ({e}): skipping (a failure when CI is set)");
            return None;
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = lockgate_sdk::testing::temp_root().join(format!(
            "lockgate-git-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let scratch = Self {
            dir,
            tick: 0,
            dates: None,
        };
        scratch.git(&["-c", "init.defaultBranch=main", "init", "-q"]);
        Some(scratch)
    }

    /// Author and committer dates for every later command (`1700000000 +0530`).
    pub(crate) fn with_dates(mut self, author: &'static str, committer: &'static str) -> Self {
        self.dates = Some((author, committer));
        self
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        self.git_with_input(args, b"")
    }

    /// `git ARGS` with `input` on its standard input; its trimmed standard output.
    pub(crate) fn git_with_input(&self, args: &[&str], input: &[u8]) -> String {
        use std::io::Write as _;
        use std::process::Stdio;
        let clock = format!("{} +0200", 1_700_000_000 + self.tick * 60);
        let (author, committer) = self.dates.unwrap_or((&clock, &clock));
        let mut child = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", "Ann Author")
            .env("GIT_AUTHOR_EMAIL", "ann@example.com")
            .env("GIT_AUTHOR_DATE", author)
            .env("GIT_COMMITTER_NAME", "Cid Committer")
            .env("GIT_COMMITTER_EMAIL", "cid@example.com")
            .env("GIT_COMMITTER_DATE", committer)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The object id `git ARGS` prints.
    pub(crate) fn id(&self, args: &[&str]) -> ObjectId {
        ObjectId::from_hex(&self.git(args)).unwrap()
    }

    /// The repository, opened with this crate's reader.
    pub(crate) fn repo(&self) -> Repo {
        Repo::open(&self.dir, "repo").unwrap()
    }

    pub(crate) fn write(&self, path: &str, content: &str) {
        let path = self.dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// Commits everything with `message`; returns the commit id.
    fn commit(&mut self, message: &str) -> String {
        self.tick += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn config(&self, paths: &[&str], ignore: &[&str]) -> Config {
        Source {
            repo: Some(self.dir.display().to_string()),
            branch: "main".into(),
            paths: paths.iter().map(|s| s.to_string()).collect(),
            ignore_paths: ignore.iter().map(|s| s.to_string()).collect(),
            ..Source::default()
        }
        .config()
        .unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn refs(versions: &[Version]) -> Vec<&str> {
    versions.iter().map(|v| v.get("ref").unwrap()).collect()
}

fn from(id: &str) -> Version {
    Version::new().with("ref", id)
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
fn filters_follow_the_first_parent_chain() {
    let Some(mut s) = Scratch::new("filters") else {
        return;
    };
    s.write("manifests/app.yml", "v: 1\n");
    let c1 = s.commit("first");
    s.write("docs/guide.md", "hello\n");
    let c2 = s.commit("docs only");
    s.write("manifests/app.yml", "v: 2\n");
    s.write("docs/guide.md", "hello again\n");
    let c3 = s.commit("manifest and docs");
    s.write("README.md", "readme\n");
    let c4 = s.commit("outside the paths");

    let all = s.config(&[], &[]);
    assert_eq!(refs(&check(&all, None).unwrap().versions), [c4.as_str()]);
    assert_eq!(
        refs(&check(&all, Some(&from(&c1))).unwrap().versions),
        [&c1, &c2, &c3, &c4]
    );

    let manifests = s.config(&["manifests/**"], &[]);
    assert_eq!(
        refs(&check(&manifests, None).unwrap().versions),
        [c3.as_str()]
    );
    assert_eq!(
        refs(&check(&manifests, Some(&from(&c1))).unwrap().versions),
        [&c1, &c3]
    );

    let no_docs = s.config(&[], &["docs"]);
    assert_eq!(
        refs(&check(&no_docs, Some(&from(&c1))).unwrap().versions),
        [&c1, &c3, &c4]
    );

    // Nothing matches: no version.
    let none = s.config(&["nowhere/**"], &[]);
    assert!(check(&none, None).unwrap().versions.is_empty());
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
fn loose_and_packed_give_the_same_answers() {
    let Some(mut s) = Scratch::new("pack") else {
        return;
    };
    // A large file changed a little each time, so that the pack holds deltas.
    let mut big: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    for i in 0..5 {
        big.push_str(&format!("change {i}\n"));
        s.write("manifests/big.txt", &big);
        s.write(&format!("other/{i}.txt"), "x");
        s.commit(&format!("commit {i}"));
    }
    let config = s.config(&["manifests"], &[]);
    let first = s.git(&["rev-list", "--max-parents=0", "HEAD"]);
    let before = check(&config, Some(&from(&first))).unwrap().versions;
    assert_eq!(before.len(), 5);
    s.git(&["repack", "-adq", "--depth=50", "--window=50"]);
    s.git(&["prune-packed"]);
    assert!(!s.dir.join(".git/objects").join(&first[..2]).exists());
    assert_eq!(
        check(&config, Some(&from(&first))).unwrap().versions,
        before
    );

    let mut out = s.dir.clone().into_os_string();
    out.push("-out");
    let out = PathBuf::from(out);
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    let exported = get(&config, &before[2], &out).unwrap();
    assert_eq!(exported.fetched.version, before[2]);
    let text = fs::read_to_string(out.join("manifests/big.txt")).unwrap();
    assert!(text.ends_with("change 2\n"), "{}", &text[text.len() - 30..]);
    let _ = fs::remove_dir_all(&out);
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
fn corrupt_loose_object_is_reported() {
    let Some(mut s) = Scratch::new("corrupt") else {
        return;
    };
    s.write("a.txt", "a");
    let id = s.commit("one");
    let path = s.dir.join(".git/objects").join(&id[..2]).join(&id[2..]);
    let mut perms = fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).unwrap();
    fs::write(&path, b"not zlib at all").unwrap();
    let e = check(&s.config(&[], &[]), None).unwrap_err();
    assert!(
        matches!(&e, Error::Failed(m) if m.contains(&format!("corrupt object {id}"))),
        "{e}"
    );
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
fn unknown_branch_and_not_a_repository() {
    let Some(s) = Scratch::new("errors") else {
        return;
    };
    let mut config = s.config(&[], &[]);
    config.branch = "nope".into();
    // The repository has no commit: `main` does not exist either.
    assert!(matches!(check(&config, None), Err(Error::NotFound(_))));
    config.location = Location::Local(s.dir.join(".git/objects").display().to_string());
    let e = check(&config, None).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidConfig(m) if m.starts_with("source.repo: ")),
        "{e}"
    );
}

#[test]
fn source_is_validated() {
    let source = |repo: &str, branch: &str, paths: &[&str]| Source {
        repo: Some(repo.into()),
        branch: branch.into(),
        paths: paths.iter().map(|s| s.to_string()).collect(),
        ..Source::default()
    };
    let message = |s: Source| match s.config() {
        Err(Error::InvalidConfig(m)) => m,
        other => panic!("expected invalid-config, got {:?}", other.map(|_| ())),
    };
    assert!(message(source("dirs/r", "main", &[])).starts_with("source.repo: "));
    for bad in ["", "a..b", "-x", "a b", "x.lock", "/x", "a//b", "a~1"] {
        assert!(
            message(source("/dirs/r", bad, &[])).starts_with("source.branch: "),
            "{bad}"
        );
    }
    assert!(
        message(source("/dirs/r", "main", &["ok/**", "/abs"])).starts_with("source.paths[1]: ")
    );
    assert!(source("/dirs/r", "release/1.x", &["a"]).config().is_ok());
    let remote = |json: &str| -> Result<Config, Error> {
        lockgate_sdk::parse_json::<Source>("source", json)?.config()
    };
    let refused = |json: &str| match remote(json) {
        Err(Error::InvalidConfig(m)) => m,
        other => panic!("expected invalid-config, got {:?}", other.map(|_| ())),
    };
    assert!(remote(r#"{"uri": "https://git.example/r.git", "token": "t"}"#).is_ok());
    assert!(refused(r#"{"branch": "main"}"#).contains("give `repo`"));
    assert!(refused(r#"{"repo": "/dirs/r", "uri": "https://h/r.git"}"#).contains("not both"));
    assert!(refused(r#"{"uri": "ftp://h/r.git"}"#).starts_with("source.uri: "));
    assert!(refused(r#"{"uri": "https://u:p@h/r.git"}"#).contains("not in the URL"));
    assert!(
        refused(r#"{"uri": "https://h/r.git", "password": "p"}"#).starts_with("source.password")
    );
    assert!(
        refused(r#"{"uri": "https://h/r.git", "username": "u"}"#).starts_with("source.username")
    );
    assert!(refused(r#"{"uri": "https://h/r.git", "depth": 0}"#).starts_with("source.depth"));
    assert!(refused(r#"{"repo": "/dirs/r", "token": "t"}"#).contains("not a local `repo`"));
    let parsed: Result<Source, _> =
        lockgate_sdk::parse_json("source", r#"{"repo": "/dirs/r", "branches": "x"}"#);
    assert!(
        matches!(parsed, Err(Error::InvalidConfig(m)) if m.starts_with("source.branches: unknown field"))
    );
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
fn a_pack_made_by_git_is_indexed_exactly_as_git_indexes_it() {
    let Some(mut s) = Scratch::new("index") else {
        return;
    };
    // Enough similar content for git to write deltas (OFS_DELTA) between versions.
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!("line {i}: the same words again and again\n"));
        if i % 20 == 0 {
            s.write("big.txt", &text);
            s.write(&format!("dir{}/f.txt", i % 3), &text[..text.len() / 2]);
            s.commit(&format!("commit {i}"));
        }
    }
    s.git(&["repack", "-adq", "--window=50"]);
    let pack_dir = s.dir.join(".git/objects/pack");
    let pack_path = fs::read_dir(&pack_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .unwrap();
    let pack = fs::read(&pack_path).unwrap();
    let indexed = pack_index::index_pack(&pack, |_| Ok(None)).unwrap();
    let git_idx = fs::read(pack_path.with_extension("idx")).unwrap();
    assert_eq!(indexed.idx.len(), git_idx.len());
    assert!(indexed.idx == git_idx, "the index differs from git's");
    assert_eq!(
        pack_path.file_stem().unwrap().to_str().unwrap(),
        format!("pack-{}", indexed.checksum)
    );
    let verify = s.git(&["verify-pack", "-v", pack_path.to_str().unwrap()]);
    assert!(
        verify.contains("chain length = 1"),
        "git wrote deltas: {verify}"
    );
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
fn a_mirror_stores_fetched_packs_that_git_can_read() {
    let Some(mut s) = Scratch::new("mirror") else {
        return;
    };
    s.write("a.txt", "one\n");
    let c1 = s.commit("one");
    s.write("a.txt", "two\n");
    let c2 = s.commit("two");
    s.git(&["repack", "-adq"]);
    let pack_path = fs::read_dir(s.dir.join(".git/objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .unwrap();
    let root = s.dir.join("cache-root");
    fs::create_dir_all(&root).unwrap();
    let mirror = remote::Mirror::open_in(&root, "https://git.example/r.git").unwrap();
    let fetched = protocol::Fetched {
        pack: fs::read(&pack_path).unwrap(),
        ..Default::default()
    };
    assert_eq!(mirror.store(fetched, "test").unwrap(), 6);
    let c2_id = ObjectId::from_hex(&c2).unwrap();
    mirror.set_ref("refs/heads/main", c2_id).unwrap();
    assert!(mirror.has_commit(ObjectId::from_hex(&c1).unwrap()).unwrap());
    assert_eq!(mirror.tips().unwrap(), [c2_id]);
    // git itself reads the mirror as a bare repository.
    let dir = mirror.dir().display().to_string();
    assert_eq!(s.git(&["--git-dir", &dir, "rev-parse", "main"]), c2);
    s.git(&["--git-dir", &dir, "fsck", "--strict"]);
    // A truncated pack leaves the mirror as it was.
    let cut = protocol::Fetched {
        pack: fs::read(&pack_path).unwrap()[..100].to_vec(),
        ..Default::default()
    };
    let e = mirror.store(cut, "https://git.example/r.git").unwrap_err();
    assert!(e.message().contains("truncated or corrupt"), "{e}");
    assert_eq!(
        fs::read_dir(mirror.dir().join("objects/pack"))
            .unwrap()
            .count(),
        2
    );
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "needs the git CLI: runs natively")]
fn tag_filter_versions_are_matching_tags_in_version_order() {
    let Some(mut s) = Scratch::new("tags") else {
        return;
    };
    s.write("a.txt", "1\n");
    let c1 = s.commit("one");
    s.git(&["tag", "v1.9.0"]);
    s.write("a.txt", "2\n");
    let c2 = s.commit("two");
    s.git(&["tag", "-a", "-m", "release", "v1.10.0"]);
    s.git(&["tag", "nightly"]);
    s.write("a.txt", "3\n");
    let c3 = s.commit("three");
    s.git(&["tag", "v1.10.1-rc.1"]);
    // Half of them packed: loose and packed tags are read alike.
    s.git(&["pack-refs", "--all"]);
    s.git(&["tag", "v2.0.0", &c3]);

    let config = |filter: &str| {
        Source {
            repo: Some(s.dir.display().to_string()),
            branch: "main".into(),
            tag_filter: Some(filter.into()),
            ..Source::default()
        }
        .config()
        .unwrap()
    };
    let tags = |versions: &[Version]| -> Vec<(String, String)> {
        versions
            .iter()
            .map(|v| (v.get("tag").unwrap().into(), v.get("ref").unwrap().into()))
            .collect()
    };
    let v = config("v*");
    assert_eq!(
        tags(&check(&v, None).unwrap().versions),
        [("v2.0.0".to_string(), c3.clone())]
    );
    let from = Version::new().with("ref", &c1).with("tag", "v1.9.0");
    assert_eq!(
        tags(&check(&v, Some(&from)).unwrap().versions),
        [
            ("v1.9.0".to_string(), c1.clone()),
            ("v1.10.0".to_string(), c2.clone()),
            ("v1.10.1-rc.1".to_string(), c3.clone()),
            ("v2.0.0".to_string(), c3.clone()),
        ],
        "semver order; the annotated tag peeled to its commit"
    );
    assert_eq!(
        tags(&check(&config("v1.9.*"), None).unwrap().versions),
        [("v1.9.0".to_string(), c1.clone())]
    );
    assert!(check(&config("none-*"), None).unwrap().versions.is_empty());
    // get of a tag version writes its commit's tree.
    let out = s.dir.join("out");
    fs::create_dir_all(&out).unwrap();
    let version = Version::new().with("ref", &c2).with("tag", "v1.10.0");
    let exported = get(&v, &version, &out).unwrap();
    assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "2\n");
    assert_eq!(exported.fetched.version, version);
    // tag_filter with paths is refused.
    let both = Source {
        repo: Some("/dirs/r".into()),
        branch: "main".into(),
        tag_filter: Some("v*".into()),
        paths: vec!["a".into()],
        ..Source::default()
    };
    assert!(
        matches!(both.config(), Err(Error::InvalidConfig(m)) if m.starts_with("source.tag_filter"))
    );
}
