//! `examples/cloud-gov` end to end through the binary: the example's own pipeline, setup script
//! and plugins; a local HTTP server stands in for `python3 -m http.server` over the environments.

use std::path::{Path, PathBuf};
use std::process::Command;

use lockgate_e2e::{Run, lockgate, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Serves the files under `root` over HTTP on an ephemeral port; directories answer with a
/// listing. Returns the port.
async fn serve(root: PathBuf) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let root = root.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let file = root.join(path.trim_start_matches('/'));
                let (status, body) = if path.contains("..") {
                    ("403 Forbidden", b"forbidden".to_vec())
                } else if file.is_dir() {
                    let mut names: Vec<String> = std::fs::read_dir(&file)
                        .unwrap()
                        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    (
                        "200 OK",
                        format!("Directory listing for {path}\n{}", names.join("\n")).into_bytes(),
                    )
                } else {
                    match std::fs::read(&file) {
                        Ok(bytes) => ("200 OK", bytes),
                        Err(_) => ("404 Not Found", b"not found".to_vec()),
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    port
}

struct Example {
    dir: tempfile::TempDir,
}

impl Example {
    fn lg(&self, args: &[&str]) -> Run {
        let mut cmd = lockgate(self.dir.path());
        cmd.current_dir(self.dir.path()).args(args);
        run(&mut cmd)
    }

    fn production_versions(&self) -> String {
        let env = self.dir.path().join("work/envs/production");
        let current = std::fs::read_to_string(env.join("current")).unwrap();
        std::fs::read_to_string(
            env.join("releases")
                .join(current.trim())
                .join("versions.json"),
        )
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_gov_example_walks_releases_to_production_and_stops_a_breaking_one() {
    let example = repo().join("examples/cloud-gov");
    let dir = tempfile::tempdir().unwrap();
    // The example's pipeline, with its plugin paths made absolute.
    let plugins = repo().join("plugins/target/wasm32-wasip2/release/");
    let pipeline = std::fs::read_to_string(example.join("pipeline.yml"))
        .unwrap()
        .replace(
            "../../plugins/target/wasm32-wasip2/release/",
            &format!("{}/", plugins.display()),
        );
    let setup = Command::new("bash")
        .arg(example.join("setup.sh"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let port = serve(dir.path().join("work/envs")).await;
    // The environments are served on this test's port instead of the example's 8801.
    let pipeline = pipeline.replace("127.0.0.1:8801", &format!("127.0.0.1:{port}"));
    std::fs::write(dir.path().join("pipeline.yml"), pipeline).unwrap();
    let ex = Example { dir };

    let r = ex.lg(&["validate", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // 1. development and staging pass; production waits for an approval.
    let r = ex.lg(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("waits for approval to enter `production`"),
        "{}",
        r.stdout
    );
    assert!(ex.production_versions().contains("\"app\": \"1.0.0\""));
    let r = ex.lg(&["approve", "production", "--as", "alice"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ex.lg(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // 2. app 1.1.0 follows.
    std::fs::write(
        ex.dir.path().join("work/releases/app-1.1.0.tgz"),
        "app 1.1.0",
    )
    .unwrap();
    assert_eq!(ex.lg(&["run", "pipeline.yml"]).code, 0);
    assert!(
        ex.production_versions().contains("\"app\": \"1.0.0\""),
        "held until approved"
    );
    assert_eq!(ex.lg(&["approve", "production", "--as", "alice"]).code, 0);
    assert_eq!(ex.lg(&["run", "pipeline.yml"]).code, 0);
    assert!(
        ex.production_versions().contains("\"app\": \"1.1.0\""),
        "{}",
        ex.production_versions()
    );

    // 3. app 2.0.0 breaks the upgrade check in staging and never reaches production.
    std::fs::write(
        ex.dir.path().join("work/releases/app-2.0.0.tgz"),
        "app 2.0.0",
    )
    .unwrap();
    let r = ex.lg(&["run", "pipeline.yml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let why = ex.lg(&["why", "staging"]);
    assert!(
        why.stdout.contains("major upgrade 1.1.0 → 2.0.0"),
        "{}",
        why.stdout
    );
    let r = ex.lg(&["approve", "production", "--as", "mallory"]);
    assert_ne!(
        r.code, 0,
        "nothing qualified waits for production: {}",
        r.stdout
    );
    assert!(ex.production_versions().contains("\"app\": \"1.1.0\""));
}
