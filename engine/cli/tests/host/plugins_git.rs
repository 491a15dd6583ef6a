//! Resource type `git` (`plugins/git`) through the real plugin host, against repositories
//! this test creates with the `git` CLI: branches, path filters, a merge commit, an
//! executable and a symlink, loose objects then a packfile with deltas, a bare clone, a
//! force-push and a corrupt object.

use std::path::Path;
use std::process::Command;

use crate::common::{host, plugin_failure};
use lockgate::plugin_host::{
    Fetched, Grants, Invocation, InvokeError, Plugin, PluginFailure, Version,
};
use lockgate_test_artifacts as artifacts;
use serde_json::{Value, json};

async fn plugin() -> Plugin {
    host()
        .load(artifacts::GIT)
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e}", artifacts::GIT))
}

/// A repository driven by the `git` CLI with a fixed identity and a clock that advances one
/// minute per commit, so that every id is reproducible.
struct Repo {
    dir: tempfile::TempDir,
    tick: i64,
}

impl Repo {
    fn new() -> Self {
        let repo = Self {
            dir: tempfile::tempdir().unwrap(),
            tick: 0,
        };
        repo.git(&["-c", "init.defaultBranch=main", "init", "-q"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), self.tick, args)
    }

    fn write(&self, path: &str, content: &str) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Commits everything; returns the new commit id.
    fn commit(&mut self, message: &str) -> String {
        self.tick += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

fn git_in(dir: &Path, tick: i64, args: &[&str]) -> String {
    let date = format!("{} +0200", 1_700_000_000 + tick * 60);
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ann Author")
        .env("GIT_AUTHOR_EMAIL", "ann@example.com")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_NAME", "Cid Committer")
        .env("GIT_COMMITTER_EMAIL", "cid@example.com")
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("the git CLI is needed to create test repositories");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The commits of the scenario, by name.
struct History {
    repo: Repo,
    c1: String,
    c2: String,
    c3: String,
    f1: String,
    f2: String,
    merge: String,
    c4: String,
}

/// main: c1 (manifests) - c2 (docs) - c3 (README) - merge of feature - c4 (manifests, an
/// executable, a symlink); feature (from c2): f1 (manifests/feature.yml) - f2 (docs).
fn history() -> History {
    let mut repo = Repo::new();
    repo.write("manifests/app.yml", "replicas: 1\n");
    let c1 = repo.commit("Add the app manifest");
    repo.write("docs/guide.md", "# Guide\n");
    let c2 = repo.commit("Document the app");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("manifests/feature.yml", "enabled: true\n");
    let f1 = repo.commit("Add the feature manifest");
    repo.write("docs/feature.md", "# Feature\n");
    let f2 = repo.commit("Document the feature");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("README.md", "config repo\n");
    let c3 = repo.commit("Add a README");
    repo.tick += 1;
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"]);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    repo.write("manifests/app.yml", "replicas: 3\n");
    repo.write("bin/deploy.sh", "#!/bin/sh\necho deploy\n");
    set_executable(&repo.path().join("bin/deploy.sh"));
    std::os::unix::fs::symlink("../manifests/app.yml", repo.path().join("bin/app.yml")).unwrap();
    let c4 = repo.commit("Scale the app\n\nThree replicas from now on.");
    History {
        repo,
        c1,
        c2,
        c3,
        f1,
        f2,
        merge,
        c4,
    }
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn v(id: &str) -> Version {
    Version::new().with("ref", id)
}

fn vs(ids: &[&String]) -> Vec<Version> {
    ids.iter().map(|id| v(id)).collect()
}

fn source(extra: Value) -> Value {
    let mut source = json!({"repo": "/dirs/config-repo", "branch": "main"});
    source
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    source
}

fn granted(repo: &Path) -> Invocation {
    Invocation::new(Grants::none().dir("config-repo", repo, false))
}

/// Every answer of `check` the scenario cares about, to compare loose and packed reads.
async fn all_checks(git: &Plugin, repo: &Path, h: &History) -> Vec<Vec<Version>> {
    let inv = granted(repo);
    let mut answers = Vec::new();
    for (extra, from) in [
        (json!({}), None),
        (json!({}), Some(&h.c1)),
        (json!({"paths": ["manifests/**"]}), None),
        (json!({"paths": ["manifests/**"]}), Some(&h.c1)),
        (json!({"ignore_paths": ["docs/**"]}), Some(&h.c1)),
        (
            json!({"paths": ["manifests"], "ignore_paths": ["**/feature.yml"]}),
            Some(&h.c1),
        ),
        (json!({"branch": "feature"}), Some(&h.c1)),
        (
            json!({"branch": "feature", "paths": ["manifests/*.yml"]}),
            None,
        ),
    ] {
        let versions = git
            .check(&inv, &source(extra.clone()), from.map(|f| v(f)).as_ref())
            .await
            .unwrap_or_else(|e| panic!("check {extra} from {from:?}: {e}"));
        answers.push(versions);
    }
    answers
}

fn expected_checks(h: &History) -> Vec<Vec<Version>> {
    vec![
        vs(&[&h.c4]),
        // First-parent chain: the feature commits are not versions of main.
        vs(&[&h.c1, &h.c2, &h.c3, &h.merge, &h.c4]),
        vs(&[&h.c4]),
        // The merge brought manifests/feature.yml.
        vs(&[&h.c1, &h.merge, &h.c4]),
        // c2 changed docs only.
        vs(&[&h.c1, &h.c3, &h.merge, &h.c4]),
        // The merge changed docs and an ignored manifest only.
        vs(&[&h.c1, &h.c4]),
        vs(&[&h.c1, &h.c2, &h.f1, &h.f2]),
        vs(&[&h.f1]),
    ]
}

/// Runs `get` of `id` into a fresh directory; returns what it returned and the directory.
async fn get(git: &Plugin, repo: &Path, id: &str) -> (Fetched, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .dir("config-repo", repo, false)
            .output(out.path()),
    );
    let fetched = git
        .get(&inv, &source(json!({})), &v(id), &json!({}))
        .await
        .unwrap_or_else(|e| panic!("get {id}: {e}"));
    (fetched, out)
}

/// Every file below `dir`, relative, with its content.
fn files(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn meta<'a>(fetched: &'a Fetched, name: &str) -> &'a str {
    fetched
        .metadata
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no metadata `{name}` in {:?}", fetched.metadata))
}

fn s(text: &str) -> String {
    text.to_string()
}

#[tokio::test]
async fn check_follows_the_first_parent_chain_with_path_filters() {
    let h = history();
    let git = plugin().await;
    assert_eq!(
        all_checks(&git, h.repo.path(), &h).await,
        expected_checks(&h)
    );
}

#[tokio::test]
async fn get_exports_the_tree_with_commit_metadata() {
    let h = history();
    let git = plugin().await;
    let (fetched, out) = get(&git, h.repo.path(), &h.c4).await;
    assert_eq!(fetched.version, v(&h.c4));
    assert_eq!(meta(&fetched, "commit"), h.c4);
    assert_eq!(meta(&fetched, "author"), "Ann Author <ann@example.com>");
    assert_eq!(
        meta(&fetched, "committer"),
        "Cid Committer <cid@example.com>"
    );
    // 1_700_000_000 + 7 minutes, shown in the commit's own +02:00 zone.
    assert_eq!(meta(&fetched, "date"), "2023-11-15T00:20:20+02:00");
    assert_eq!(meta(&fetched, "message"), "Scale the app");
    assert_eq!(
        files(out.path()),
        [
            (s(".git-executables"), s("bin/deploy.sh\n")),
            (s(".git-ref"), format!("{}\n", h.c4)),
            (s("README.md"), s("config repo\n")),
            (s("bin/app.yml"), s("../manifests/app.yml")),
            (s("bin/deploy.sh"), s("#!/bin/sh\necho deploy\n")),
            (s("docs/feature.md"), s("# Feature\n")),
            (s("docs/guide.md"), s("# Guide\n")),
            (s("manifests/app.yml"), s("replicas: 3\n")),
            (s("manifests/feature.yml"), s("enabled: true\n")),
        ]
    );

    // An older commit has the older tree.
    let (fetched, out) = get(&git, h.repo.path(), &h.c1).await;
    assert_eq!(meta(&fetched, "message"), "Add the app manifest");
    assert_eq!(
        files(out.path()),
        [
            (s(".git-executables"), s("")),
            (s(".git-ref"), format!("{}\n", h.c1)),
            (s("manifests/app.yml"), s("replicas: 1\n")),
        ]
    );

    // A commit that does not exist.
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .dir("config-repo", h.repo.path(), false)
            .output(out.path()),
    );
    let missing = git
        .get(&inv, &source(json!({})), &v(&"0".repeat(40)), &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(plugin_failure(missing), PluginFailure::NotFound(m) if m.contains(&"0".repeat(40)))
    );
}

#[tokio::test]
async fn packed_and_bare_repositories_give_the_same_answers() {
    let h = history();
    let git = plugin().await;
    let (_, loose_out) = get(&git, h.repo.path(), &h.c4).await;
    let loose_files = files(loose_out.path());

    // Many versions of a big file, so that the pack holds delta chains.
    let mut h = h;
    let mut big: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    let before = h.repo.git(&["rev-parse", "HEAD"]);
    let mut big_commits = Vec::new();
    for i in 0..6 {
        big.push_str(&format!("change {i}\n"));
        h.repo.write("data/big.txt", &big);
        big_commits.push(h.repo.commit(&format!("Change {i}")));
    }
    h.repo.git(&["gc", "-q"]);
    h.repo.git(&["repack", "-adq", "--depth=50", "--window=50"]);
    h.repo.git(&["prune-packed"]);
    h.repo.git(&["pack-refs", "--all"]);
    let objects = h.repo.path().join(".git/objects");
    let loose_left = std::fs::read_dir(&objects)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().len() == 2)
        .count();
    assert_eq!(loose_left, 0, "every object is packed");
    assert!(
        !h.repo.path().join(".git/refs/heads/main").exists(),
        "refs are packed"
    );
    let verify = h.repo.git(&["verify-pack", "-v", &pack_index(&objects)]);
    assert!(
        verify.contains("chain length"),
        "the pack holds deltas:\n{verify}"
    );

    // The old answers, plus the new commits after `before`.
    let mut expected = expected_checks(&h);
    expected[0] = vs(&[big_commits.last().unwrap()]);
    expected[1].extend(big_commits.iter().map(|c| v(c)));
    expected[4].extend(big_commits.iter().map(|c| v(c)));
    assert_eq!(all_checks(&git, h.repo.path(), &h).await, expected);
    let (_, packed_out) = get(&git, h.repo.path(), &h.c4).await;
    assert_eq!(files(packed_out.path()), loose_files);
    let (_, out) = get(&git, h.repo.path(), big_commits.last().unwrap()).await;
    let exported = std::fs::read_to_string(out.path().join("data/big.txt")).unwrap();
    assert_eq!(exported, big);
    // The oldest version of the big file is stored as a delta against a newer one.
    let (_, out) = get(&git, h.repo.path(), &big_commits[0]).await;
    let exported = std::fs::read_to_string(out.path().join("data/big.txt")).unwrap();
    assert!(exported.ends_with("line 2999\nchange 0\n"));
    let from_before = git
        .check(
            &granted(h.repo.path()),
            &source(json!({"paths": ["data"]})),
            Some(&v(&before)),
        )
        .await
        .unwrap();
    assert_eq!(from_before.len(), 7);

    // A bare clone answers the same.
    let bare = tempfile::tempdir().unwrap();
    git_in(
        bare.path(),
        0,
        &[
            "clone",
            "-q",
            "--bare",
            "--no-local",
            h.repo.path().to_str().unwrap(),
            "r.git",
        ],
    );
    let bare_repo = bare.path().join("r.git");
    // Repacked with REF_DELTA entries (bases named by id) instead of OFS_DELTA.
    git_in(
        &bare_repo,
        0,
        &[
            "-c",
            "repack.useDeltaBaseOffset=false",
            "repack",
            "-adfq",
            "--depth=50",
            "--window=50",
        ],
    );
    assert_eq!(all_checks(&git, &bare_repo, &h).await, expected);
    let (_, bare_out) = get(&git, &bare_repo, &h.c4).await;
    assert_eq!(files(bare_out.path()), loose_files);
    let (_, out) = get(&git, &bare_repo, &big_commits[0]).await;
    let exported = std::fs::read_to_string(out.path().join("data/big.txt")).unwrap();
    assert!(exported.ends_with("line 2999\nchange 0\n"));
}

fn pack_index(objects: &Path) -> String {
    std::fs::read_dir(objects.join("pack"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .expect("a pack index")
        .display()
        .to_string()
}

#[tokio::test]
async fn a_force_pushed_branch_gives_the_newest_commit() {
    let mut h = history();
    let git = plugin().await;
    let inv = granted(h.repo.path());
    h.repo.git(&["reset", "-q", "--hard", &h.c3]);
    h.repo.write("manifests/app.yml", "replicas: 5\n");
    let rewritten = h.repo.commit("Rewrite history");
    // c4 is gone from main: only the newest.
    assert_eq!(
        git.check(&inv, &source(json!({})), Some(&v(&h.c4)))
            .await
            .unwrap(),
        [v(&rewritten)]
    );
    // c3 is still there.
    assert_eq!(
        git.check(&inv, &source(json!({})), Some(&v(&h.c3)))
            .await
            .unwrap(),
        [v(&h.c3), v(&rewritten)]
    );
    // Not a commit id at all: treated as gone.
    assert_eq!(
        git.check(&inv, &source(json!({})), Some(&v("nope")))
            .await
            .unwrap(),
        [v(&rewritten)]
    );
}

#[tokio::test]
async fn a_corrupt_object_is_a_clear_failure() {
    let h = history();
    let git = plugin().await;
    let blob = h
        .repo
        .git(&["rev-parse", &format!("{}:manifests/app.yml", h.c4)]);
    let path = h
        .repo
        .path()
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    set_executable(&path); // any mode that is writable by the owner
    // A valid zlib stream of a different blob: the SHA-1 check catches it.
    let other = h
        .repo
        .path()
        .join(".git/objects")
        .join(&h.c1[..2])
        .join(&h.c1[2..]);
    std::fs::copy(&other, &path).unwrap();
    let out = tempfile::tempdir().unwrap();
    let inv = Invocation::new(
        Grants::none()
            .dir("config-repo", h.repo.path(), false)
            .output(out.path()),
    );
    let e = git
        .get(&inv, &source(json!({})), &v(&h.c4), &json!({}))
        .await
        .unwrap_err();
    match plugin_failure(e) {
        PluginFailure::Failed(m) => assert!(m.contains(&format!("corrupt object {blob}")), "{m}"),
        other => panic!("expected failed, got {other:?}"),
    }
    // Garbage instead of zlib, in a tree `check` reads to filter paths.
    let tree = h.repo.git(&["rev-parse", &format!("{}:manifests", h.c4)]);
    let path = h
        .repo
        .path()
        .join(".git/objects")
        .join(&tree[..2])
        .join(&tree[2..]);
    set_executable(&path);
    std::fs::write(&path, b"garbage").unwrap();
    let e = git
        .check(
            &granted(h.repo.path()),
            &source(json!({"paths": ["manifests"]})),
            Some(&v(&h.c1)),
        )
        .await
        .unwrap_err();
    match plugin_failure(e) {
        PluginFailure::Failed(m) => assert!(m.contains(&format!("corrupt object {tree}")), "{m}"),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test]
async fn configuration_errors_name_the_field_and_put_needs_a_server() {
    let h = history();
    let git = plugin().await;
    let inv = granted(h.repo.path());
    let invalid = |e: InvokeError| match plugin_failure(e) {
        PluginFailure::InvalidConfig(m) => m,
        other => panic!("expected invalid-config, got {other:?}"),
    };
    for (bad, field) in [
        (json!({"repo": "relative"}), "source.repo: "),
        (json!({"branch": "a..b"}), "source.branch: "),
        (json!({"paths": ["ok", "/abs"]}), "source.paths[1]: "),
        (json!({"ignore_paths": [""]}), "source.ignore_paths[0]: "),
        (json!({"paths": "manifests"}), "source.paths: invalid type"),
        (json!({"branchh": "main"}), "source.branchh: unknown field"),
        (
            json!({"repo": "/dirs/elsewhere"}),
            "source.repo: /dirs/elsewhere does not exist",
        ),
    ] {
        let m = invalid(
            git.check(&inv, &source(bad.clone()), None)
                .await
                .unwrap_err(),
        );
        assert!(m.starts_with(field), "{bad}: {m}");
    }
    let e = git
        .check(&inv, &source(json!({"branch": "nope"})), None)
        .await
        .unwrap_err();
    assert!(matches!(plugin_failure(e), PluginFailure::NotFound(m) if m.contains("branch `nope`")));

    let params = json!({"file": "manifests/app.yml", "key": "instances", "value": "3"});
    let m = invalid(
        git.put(&inv, &source(json!({})), &params)
            .await
            .unwrap_err(),
    );
    assert!(m.contains("a local `repo` is read-only"), "{m}");
    let m = invalid(
        git.put(&inv, &source(json!({})), &json!({}))
            .await
            .unwrap_err(),
    );
    assert!(m.starts_with("params"), "{m}");
}
