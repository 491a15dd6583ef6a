//! The layering of ARCHITECTURE.md, checked on the workspace's real dependency graph
//! (`cargo metadata`): each engine crate depends only on the crates below it, and the bottom
//! crates stay free of the WebAssembly runtime, the database and the async runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Engine crates from the bottom up, with the workspace crates each may depend on.
const LAYERS: &[(&str, &[&str])] = &[
    ("lockgate-model", &[]),
    ("lockgate-config", &["lockgate-model"]),
    ("lockgate-import", &["lockgate-model", "lockgate-config"]),
    ("lockgate-registry", &["lockgate-model"]),
    ("lockgate-plugin-host", &["lockgate-model"]),
    ("lockgate-store", &["lockgate-model"]),
    (
        "lockgate-engine",
        &[
            "lockgate-model",
            "lockgate-config",
            "lockgate-registry",
            "lockgate-plugin-host",
            "lockgate-store",
        ],
    ),
    (
        "lockgate-api",
        &[
            "lockgate-model",
            "lockgate-config",
            "lockgate-registry",
            "lockgate-plugin-host",
            "lockgate-store",
            "lockgate-engine",
        ],
    ),
];

/// External crates that must not be anywhere in a crate's normal dependency tree.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("lockgate-model", &["wasmtime", "sqlx", "tokio"]),
    ("lockgate-config", &["wasmtime", "sqlx", "tokio"]),
    ("lockgate-import", &["wasmtime", "sqlx", "tokio"]),
    ("lockgate-registry", &["wasmtime", "sqlx"]),
    ("lockgate-store", &["wasmtime"]),
    ("lockgate-plugin-host", &["sqlx"]),
];

struct Graph {
    /// Package name → names of its normal (non-dev, non-build) dependencies.
    deps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn load() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        // Not `--offline`: metadata needs every package of the lockfile, other platforms' too
        // (`anstyle-wincon`), which a build for this one never downloaded.
        let out = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(&root)
            .output()
            .expect("running cargo metadata");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let names: BTreeMap<&str, &str> = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let mut deps = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().unwrap() {
            let name = names[node["id"].as_str().unwrap()].to_owned();
            let normal: BTreeSet<String> = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
                .collect();
            deps.entry(name)
                .or_insert_with(BTreeSet::new)
                .extend(normal);
        }
        Self { deps }
    }

    /// Every package `name` depends on, directly or not.
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_owned()];
        while let Some(n) = todo.pop() {
            for d in self.deps.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    }
}

#[test]
fn engine_crates_depend_only_on_the_layers_below() {
    let graph = Graph::load();
    for (krate, allowed) in LAYERS {
        let workspace: Vec<&String> = graph.deps[*krate]
            .iter()
            .filter(|d| d.starts_with("lockgate"))
            .collect();
        for dep in workspace {
            assert!(
                allowed.contains(&dep.as_str()),
                "`{krate}` depends on `{dep}`, which is not below it (see ARCHITECTURE.md)"
            );
        }
    }
}

#[test]
fn the_bottom_crates_have_no_runtime_database_or_async_dependency() {
    let graph = Graph::load();
    for (krate, forbidden) in FORBIDDEN {
        let closure = graph.closure(krate);
        for f in *forbidden {
            assert!(
                !closure.contains(*f),
                "`{krate}` has `{f}` in its dependency tree (see ARCHITECTURE.md)"
            );
        }
    }
}
