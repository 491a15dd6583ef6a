//! `lockgate plugin new`: writes a ready-to-build plugin project from the templates embedded
//! in the binary (`engine/cli/templates/<language>/<kind>/`, plus the layers of
//! `engine/cli/templates/shared/`: each language's build script, the generated C bindings of C and
//! Zig, the Go bindings and the Go package they import), with the WIT contract in `wit/` and, for
//! languages whose libc targets WASI preview 1 (C, Go, Zig), the preview1 reactor adapter
//! matching this engine's wasmtime. The examples in `examples/plugins/` build from the same
//! shared layers.

use std::fmt;
use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

use lockgate_plugin_host::PluginKind;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The WIT files of the plugin contract, as written into every new project's `wit/`.
pub const WIT_FILES: [(&str, &str); 4] = [
    (
        "types.wit",
        include_str!("../../../../wit/plugin/types.wit"),
    ),
    ("host.wit", include_str!("../../../../wit/plugin/host.wit")),
    (
        "resource-type.wit",
        include_str!("../../../../wit/plugin/resource-type.wit"),
    ),
    (
        "test-step.wit",
        include_str!("../../../../wit/plugin/test-step.wit"),
    ),
];

/// File name of the WASI preview1 reactor adapter written into C, Go and Zig projects.
pub const ADAPTER_FILE: &str = "wasi_snapshot_preview1.reactor.wasm";

/// The WASI preview1 → preview2 reactor adapter of this engine's wasmtime version.
pub fn preview1_adapter() -> &'static [u8] {
    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER
}

/// Languages with a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust with wit-bindgen, target wasm32-wasip2.
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with jco / componentize-js.
    Javascript,
    /// C with clang, wasi-libc and wit-bindgen c.
    C,
    /// Go with wit-bindgen go.
    Go,
    /// Zig with the C bindings of wit-bindgen c.
    Zig,
}

impl Language {
    /// Every language.
    pub const ALL: [Language; 6] = [
        Language::Rust,
        Language::Python,
        Language::Javascript,
        Language::C,
        Language::Go,
        Language::Zig,
    ];

    /// The template folder name.
    pub fn dir(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::C => "c",
            Language::Go => "go",
            Language::Zig => "zig",
        }
    }

    /// Whether projects need the WASI preview1 adapter to become a component.
    pub fn needs_adapter(self) -> bool {
        matches!(self, Language::C | Language::Go | Language::Zig)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir())
    }
}

/// Why a project could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The plugin name is not usable.
    #[error(transparent)]
    BadName(#[from] lockgate_registry::NameError),
    /// The target directory exists and is not empty.
    #[error("{} already exists and is not empty: choose another --dir or remove it", .0.display())]
    NotEmpty(PathBuf),
    /// This binary has no template for the combination.
    #[error("this lockgate has no {lang} template for a {kind}")]
    NoTemplate {
        /// Language.
        lang: Language,
        /// Plugin kind.
        kind: &'static str,
    },
    /// Writing failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

/// The shared layers a project of `lang` and `kind` is made of besides its own template:
/// (folder under `engine/cli/templates/`, where it goes in the project).
fn layers(lang: Language, kind: PluginKind) -> Vec<(String, &'static str)> {
    let kind = kind.world();
    // The build script and .gitignore, the same for both kinds.
    let project = (format!("shared/project/{}", lang.dir()), "");
    let mut layers = vec![project];
    layers.extend(match lang {
        Language::C => vec![
            (format!("shared/c/{kind}"), "bindings"),
            ("shared/c-json".to_owned(), "src"),
        ],
        Language::Zig => vec![(format!("shared/c/{kind}"), "bindings")],
        Language::Go => vec![
            (format!("shared/go/{kind}"), ""),
            ("shared/go-pkg".to_owned(), "go-pkg"),
        ],
        Language::Rust | Language::Python | Language::Javascript => Vec::new(),
    });
    layers
}

/// Fills the placeholders of a template file: `{{name}}`, `{{name_snake}}`, and `{{world}}`,
/// `{{world_snake}}` (`resource-type` / `resource_type`, `test-step` / `test_step`).
fn substitute(text: &str, name: &str, kind: PluginKind) -> String {
    text.replace("{{name_snake}}", &name.replace('-', "_"))
        .replace("{{name}}", name)
        .replace("{{world_snake}}", &kind.world().replace('-', "_"))
        .replace("{{world}}", kind.world())
}

fn collect<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => collect(d, out),
            DirEntry::File(f) => out.push(f),
        }
    }
}

/// Writes a new `lang` plugin project of `kind` named `name` into `dir` (created; must not
/// exist or be empty). Returns the files written, relative to `dir`.
pub fn create(
    name: &str,
    lang: Language,
    kind: PluginKind,
    dir: &Path,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    lockgate_registry::check_name(name)?;
    let base = format!("{}/{}", lang.dir(), kind.world());
    let template = TEMPLATES.get_dir(&base).ok_or(ScaffoldError::NoTemplate {
        lang,
        kind: kind.world(),
    })?;
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|error| ScaffoldError::Io {
                path: dir.to_path_buf(),
                error,
            })?
            .next()
            .is_none();
        if !empty {
            return Err(ScaffoldError::NotEmpty(dir.to_path_buf()));
        }
    }
    let mut plan: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut sources = vec![(template, base.clone(), "")];
    for (folder, dest) in layers(lang, kind) {
        let layer = TEMPLATES
            .get_dir(&folder)
            .ok_or(ScaffoldError::NoTemplate {
                lang,
                kind: kind.world(),
            })?;
        sources.push((layer, folder, dest));
    }
    for (dir, base, dest) in sources {
        let mut files = Vec::new();
        collect(dir, &mut files);
        for file in files {
            let rel = file.path().strip_prefix(&base).unwrap_or(file.path());
            let rel = Path::new(dest).join(rel).to_string_lossy().into_owned();
            let contents = match file.contents_utf8() {
                Some(text) => substitute(text, name, kind).into_bytes(),
                None => file.contents().to_vec(),
            };
            plan.push((PathBuf::from(substitute(&rel, name, kind)), contents));
        }
    }
    for (file, text) in WIT_FILES {
        plan.push((Path::new("wit").join(file), text.as_bytes().to_vec()));
    }
    if lang.needs_adapter() {
        plan.push((PathBuf::from(ADAPTER_FILE), preview1_adapter().to_vec()));
    }
    let mut written = Vec::new();
    for (rel, contents) in plan {
        let path = dir.join(&rel);
        let io = |error| ScaffoldError::Io {
            path: path.clone(),
            error,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, contents).map_err(io)?;
        #[cfg(unix)]
        if rel.extension().is_some_and(|e| e == "sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
        written.push(rel);
    }
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_both_kinds() {
        for lang in Language::ALL {
            for kind in [PluginKind::ResourceType, PluginKind::TestStep] {
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().join("p");
                let files = create("my-plugin", lang, kind, &dir)
                    .unwrap_or_else(|e| panic!("{lang} {}: {e}", kind.world()));
                assert!(files.contains(&PathBuf::from("wit/types.wit")), "{files:?}");
                assert!(
                    files.iter().any(|f| f.ends_with("README.md")),
                    "{lang}: {files:?}"
                );
                assert!(
                    files.iter().any(|f| f.ends_with("build.sh")),
                    "{lang}: {files:?}"
                );
                assert_eq!(
                    files.contains(&PathBuf::from(ADAPTER_FILE)),
                    lang.needs_adapter()
                );
                let world = kind.world().replace('-', "_");
                match lang {
                    Language::C | Language::Zig => {
                        assert!(files.contains(&PathBuf::from(format!("bindings/{world}.h"))))
                    }
                    Language::Go => {
                        assert!(files.contains(&PathBuf::from("go-pkg/wit/runtime/runtime.go")));
                        assert!(files.contains(&PathBuf::from("wit_exports.go")));
                    }
                    _ => {}
                }
                for f in &files {
                    let text = std::fs::read(dir.join(f)).unwrap();
                    let text = String::from_utf8_lossy(&text);
                    assert!(
                        !text.contains("{{name"),
                        "{lang}: placeholder left in {f:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_a_bad_name_and_a_non_empty_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let e = create(
            "My Plugin",
            Language::Rust,
            PluginKind::TestStep,
            tmp.path(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("invalid plugin name"), "{e}");
        std::fs::write(tmp.path().join("x"), "").unwrap();
        let e = create("ok", Language::Rust, PluginKind::TestStep, tmp.path()).unwrap_err();
        assert!(e.to_string().contains("not empty"), "{e}");
    }

    #[test]
    fn the_adapter_is_a_core_module() {
        assert!(preview1_adapter().starts_with(b"\0asm\x01\0\0\0"));
    }
}
