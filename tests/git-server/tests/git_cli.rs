//! The git server against the real `git` CLI: clones and `ls-remote` with protocol v2 (gzip
//! request bodies included), pushes (chunked request bodies) allowed or refused, basic
//! authentication, TLS, a truncated upload-pack answer and a server that never answers; and
//! the `git-http-server` binary.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use lockgate_test_git::{GitServer, Options, Request};
use lockgate_test_tls::TestCa;
use tokio::io::AsyncBufReadExt;

/// Runs the `git` CLI in `dir` as a client would, away from any user configuration, proxy or
/// credential prompt; panics if it takes more than 30 s.
async fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Pat Pusher")
        .env("GIT_AUTHOR_EMAIL", "pat@example.com")
        .env("GIT_COMMITTER_NAME", "Pat Pusher")
        .env("GIT_COMMITTER_EMAIL", "pat@example.com")
        .kill_on_drop(true);
    for name in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .unwrap_or_else(|_| panic!("git {args:?} hung"))
        .expect("running git")
}

/// Stdout of a run that must succeed.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "git failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr of a run that must fail.
fn failed(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "git succeeded: {stderr}");
    stderr
}

/// Incompressible bytes, the same for the same seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// A server with repository `repo` holding one commit (`README.md`, plus `len` bytes of
/// noise in `data.bin`); returns its id.
async fn server_with_repo(options: Options, len: usize) -> (GitServer, String) {
    let server = GitServer::start(options).await;
    server.create_bare("repo");
    let mut work = server.work("repo");
    work.write("README.md", "hello\n");
    work.write("data.bin", noise(len, 7));
    let id = work.commit("first");
    work.push();
    (server, id)
}

fn answered<'a>(requests: &'a [Request], method: &str, path_end: &str) -> Vec<&'a Request> {
    requests
        .iter()
        .filter(|r| r.method == method && r.path().ends_with(path_end))
        .collect()
}

#[tokio::test]
async fn clone_and_ls_remote_speak_protocol_v2_with_gzip_bodies() {
    let (server, first) = server_with_repo(Options::default(), 0).await;
    let url = server.url("repo");
    assert_eq!(url, format!("http://127.0.0.1:{}/repo.git", server.port()));
    let client = tempfile::tempdir().unwrap();

    let out = git(
        client.path(),
        &["-c", "protocol.version=2", "ls-remote", &url],
        &[],
    )
    .await;
    assert!(
        ok(&out).contains(&format!("{first}\trefs/heads/main")),
        "{}",
        ok(&out)
    );
    let requests = server.requests();
    let ls_refs = answered(&requests, "POST", "/repo.git/git-upload-pack");
    assert_eq!(ls_refs.len(), 1, "{requests:#?}");
    assert_eq!(ls_refs[0].header("Git-Protocol"), Some("version=2"));
    assert_eq!(ls_refs[0].status, Some(200));

    // Forty tags on forty commits: the fetch request (a `want` each) is over 1 KiB, which
    // git sends gzipped.
    let mut work = server.work("repo");
    for i in 0..40 {
        work.commit(&format!("commit {i}"));
        work.git(&["tag", &format!("t{i}")]);
    }
    work.git(&["push", "-q", "origin", "main", "--tags"]);
    let out = git(
        client.path(),
        &["-c", "protocol.version=2", "clone", "-q", &url, "clone"],
        &[],
    )
    .await;
    ok(&out);
    let readme = std::fs::read_to_string(client.path().join("clone/README.md")).unwrap();
    assert_eq!(readme, "hello\n");
    let tags = ok(&git(&client.path().join("clone"), &["tag"], &[]).await);
    assert_eq!(tags.lines().count(), 40);
    let requests = server.requests();
    let posts = answered(&requests, "POST", "/repo.git/git-upload-pack");
    assert!(
        posts
            .iter()
            .all(|r| r.header("Git-Protocol") == Some("version=2") && r.status == Some(200)),
        "{posts:#?}"
    );
    assert!(
        posts
            .iter()
            .any(|r| r.header("Content-Encoding") == Some("gzip")),
        "{posts:#?}"
    );
}

#[tokio::test]
async fn pushes_over_http_only_when_receive_pack_is_on() {
    for receive_pack in [true, false] {
        let options = Options {
            receive_pack,
            ..Options::default()
        };
        let (server, first) = server_with_repo(options, 0).await;
        let client = tempfile::tempdir().unwrap();
        ok(&git(
            client.path(),
            &["clone", "-q", &server.url("repo"), "c"],
            &[],
        )
        .await);
        let clone = client.path().join("c");
        // Bigger than the post buffer: the pack goes chunked.
        std::fs::write(clone.join("big.bin"), noise(300_000, 3)).unwrap();
        ok(&git(&clone, &["add", "-A"], &[]).await);
        ok(&git(&clone, &["commit", "-q", "-m", "big"], &[]).await);
        let pushed = ok(&git(&clone, &["rev-parse", "HEAD"], &[]).await);
        let push = git(
            &clone,
            &["-c", "http.postBuffer=65536", "push", "origin", "main"],
            &[],
        )
        .await;

        let bare = server.repo_path("repo");
        let head = ok(&git(&bare, &["rev-parse", "main"], &[]).await);
        let requests = server.requests();
        if receive_pack {
            ok(&push);
            assert_eq!(head, pushed);
            let posts = answered(&requests, "POST", "/repo.git/git-receive-pack");
            assert!(
                posts
                    .iter()
                    .any(|r| r.header("Transfer-Encoding") == Some("chunked")
                        && r.status == Some(200)),
                "{posts:#?}"
            );
        } else {
            let stderr = failed(&push);
            assert!(stderr.contains("403"), "{stderr}");
            assert_eq!(head.trim(), first);
            let refs = answered(&requests, "GET", "/repo.git/info/refs");
            let refused = refs.last().unwrap();
            assert_eq!(
                refused.target,
                "/repo.git/info/refs?service=git-receive-pack"
            );
            assert_eq!(refused.status, Some(403));
        }
    }
}

#[tokio::test]
async fn basic_authentication_refuses_a_client_without_the_credentials() {
    let options = Options {
        basic_auth: Some(("user".to_owned(), "pass".to_owned())),
        ..Options::default()
    };
    let (server, first) = server_with_repo(options, 0).await;
    let client = tempfile::tempdir().unwrap();
    let url = server.url("repo");
    let with = |credentials: &str| url.replacen("http://", &format!("http://{credentials}@"), 1);

    let stderr = failed(&git(client.path(), &["ls-remote", &url], &[]).await);
    assert!(stderr.contains("Username"), "{stderr}");
    let stderr = failed(&git(client.path(), &["ls-remote", &with("user:wrong")], &[]).await);
    assert!(stderr.contains("Authentication failed"), "{stderr}");
    let requests = server.requests();
    assert!(
        requests.iter().all(|r| r.status == Some(401)),
        "{requests:#?}"
    );
    let challenged = &requests[0];
    assert_eq!(challenged.header("Authorization"), None);

    let out = git(client.path(), &["ls-remote", &with("user:pass")], &[]).await;
    assert!(ok(&out).contains(&first));
    let requests = server.requests();
    let last = requests.last().unwrap();
    assert_eq!(last.header("Authorization"), Some("Basic dXNlcjpwYXNz"));
    assert_eq!(last.status, Some(200));
}

#[tokio::test]
async fn a_clone_over_tls_trusts_the_test_ca() {
    let ca = TestCa::new("lockgate-test-git CA");
    let options = Options {
        tls: Some(ca.server_config(&["127.0.0.1", "localhost"])),
        ..Options::default()
    };
    let (server, _) = server_with_repo(options, 0).await;
    let url = server.url("repo");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let client = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(client.path(), "ca.pem");
    let ca_file = ca_file.to_str().unwrap();

    let stderr = failed(&git(client.path(), &["clone", "-q", &url, "untrusted"], &[]).await);
    assert!(stderr.contains("certificate"), "{stderr}");
    let trust = [("GIT_SSL_CAINFO", ca_file)];
    ok(&git(client.path(), &["clone", "-q", &url, "trusted"], &trust).await);
    let readme = std::fs::read_to_string(client.path().join("trusted/README.md")).unwrap();
    assert_eq!(readme, "hello\n");
}

#[tokio::test]
async fn a_truncated_upload_pack_answer_fails_the_clone() {
    let options = Options {
        truncate_upload_pack: Some(4096),
        ..Options::default()
    };
    // A pack far longer than the cut; `ls-refs` answers far shorter.
    let (server, _) = server_with_repo(options, 64 * 1024).await;
    let client = tempfile::tempdir().unwrap();
    let args = [
        "-c",
        "protocol.version=2",
        "clone",
        &server.url("repo"),
        "clone",
    ];
    let stderr = failed(&git(client.path(), &args, &[]).await);
    assert!(stderr.contains("early EOF"), "{stderr}");
    assert!(!client.path().join("clone/data.bin").exists(), "{stderr}");
    let requests = server.requests();
    let posts = answered(&requests, "POST", "/repo.git/git-upload-pack");
    // `ls-refs`, then the cut `fetch`.
    assert_eq!(posts.len(), 2, "{requests:#?}");
    assert!(posts.iter().all(|r| r.status == Some(200)), "{posts:#?}");
}

#[tokio::test]
async fn a_silent_server_times_a_client_out() {
    let options = Options {
        silent: true,
        ..Options::default()
    };
    let server = GitServer::start(options).await;
    server.create_bare("repo");
    let client = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let args = [
        "-c",
        "http.lowSpeedLimit=1",
        "-c",
        "http.lowSpeedTime=1",
        "ls-remote",
        &server.url("repo"),
    ];
    let stderr = failed(&git(client.path(), &args, &[]).await);
    assert!(stderr.contains("too slow"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(
        requests[0].target,
        "/repo.git/info/refs?service=git-upload-pack"
    );
    assert_eq!(requests[0].status, None);
}

#[tokio::test]
async fn the_binary_serves_a_directory_of_repositories() {
    let root = tempfile::tempdir().unwrap();
    ok(&git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "repo.git"],
        &[],
    )
    .await);
    let mut work = lockgate_test_git::WorkRepo::clone_of(&root.path().join("repo.git"));
    let id = work.commit("first");
    work.push();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_git-http-server"))
        .args(["--root", root.path().to_str().unwrap(), "--port", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the server starts")
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("listening on ").expect(&line);
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let out = git(
        root.path(),
        &["ls-remote", &format!("{base}/repo.git")],
        &[],
    )
    .await;
    assert!(ok(&out).contains(&format!("{id}\trefs/heads/main")));
    child.kill().await.unwrap();

    let usage = tokio::process::Command::new(env!("CARGO_BIN_EXE_git-http-server"))
        .arg("--port")
        .output()
        .await
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--port needs a value"));
}
