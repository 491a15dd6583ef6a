//! `lockgate plugin new`: writes a ready-to-build plugin project from the templates embedded
//! in the binary (`engine/cli/templates/<language>/<kind>/`, plus the layers of
//! `engine/cli/templates/shared/`: each language's build script, the generated C bindings of C and
//! Zig, the Go bindings and the Go package they import), with the WIT contract in `wit/` and, for
//! languages whose libc targets WASI preview 1 (C, Go, Zig), the preview1 reactor adapter
//! matching this engine's wasmtime. The examples in `examples/plugins/` build from the same
//! shared layers.
//!
//! `--kind task` writes a program for a pipeline's `task` step instead: a `wasi:cli/command`
//! component (`engine/cli/templates/<language>/task/` with its own `build.sh`, plus
//! `shared/task/`: a pipeline `task.yml` running it and its sample input); C, Go and Zig
//! projects get the preview1 *command* adapter, which exports `wasi:cli/run` and calls the
//! program's `_start`. Python and JavaScript projects get the WIT of the WASI interfaces their
//! world names (`shared/task-wit/`). The examples in `examples/tasks/` are these projects.

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

/// File name of the WASI preview1 command adapter written into C, Go and Zig task projects.
pub const COMMAND_ADAPTER_FILE: &str = "wasi_snapshot_preview1.command.wasm";

/// The WASI preview1 → preview2 command adapter of this engine's wasmtime version: it exports
/// `wasi:cli/run`, which calls the module's `_start` (a task's `main`).
pub fn preview1_command_adapter() -> &'static [u8] {
    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER
}

/// What a new project is: a plugin of one of the two worlds, or a task program. (A task is
/// not a plugin: [`PluginKind`] has no variant for it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A resource type plugin: discovers and moves versions (check, get, put).
    ResourceType,
    /// A test step plugin: judges a deployed environment (run, returning a test report).
    TestStep,
    /// A program for a pipeline's `task` step: a `wasi:cli/command` component (argv, params as
    /// environment variables, input and output directories, exit code).
    Task,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::ResourceType, Kind::TestStep, Kind::Task];

    /// The template folder name (the plugin's world for plugins).
    pub fn dir(self) -> &'static str {
        match self {
            Kind::ResourceType => "resource-type",
            Kind::TestStep => "test-step",
            Kind::Task => "task",
        }
    }
}

impl From<PluginKind> for Kind {
    fn from(kind: PluginKind) -> Self {
        match kind {
            PluginKind::ResourceType => Kind::ResourceType,
            PluginKind::TestStep => Kind::TestStep,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dir())
    }
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
    #[error("this lockgate has no {lang} template for a {kind} project")]
    NoTemplate {
        /// Language.
        lang: Language,
        /// Project kind.
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
fn layers(lang: Language, kind: Kind) -> Vec<(String, &'static str)> {
    if kind == Kind::Task {
        // The pipeline running it and its sample input; the WASI WIT a Python or JavaScript
        // world names (the other languages need no WIT: their toolchain makes the command).
        let mut layers = vec![("shared/task".to_owned(), "")];
        if matches!(lang, Language::Python | Language::Javascript) {
            layers.push(("shared/task-wit".to_owned(), "wit"));
        }
        return layers;
    }
    let kind = kind.dir();
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
fn substitute(text: &str, name: &str, kind: Kind) -> String {
    text.replace("{{name_snake}}", &name.replace('-', "_"))
        .replace("{{name}}", name)
        .replace("{{world_snake}}", &kind.dir().replace('-', "_"))
        .replace("{{world}}", kind.dir())
}

fn collect<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => collect(d, out),
            DirEntry::File(f) => out.push(f),
        }
    }
}

/// Writes a new `lang` project of `kind` named `name` into `dir` (created; must not exist or
/// be empty). Returns the files written, relative to `dir`.
pub fn create(
    name: &str,
    lang: Language,
    kind: Kind,
    dir: &Path,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    lockgate_registry::check_name(name)?;
    let base = format!("{}/{}", lang.dir(), kind.dir());
    let template = TEMPLATES.get_dir(&base).ok_or(ScaffoldError::NoTemplate {
        lang,
        kind: kind.dir(),
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
                kind: kind.dir(),
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
    if kind == Kind::Task {
        if lang.needs_adapter() {
            plan.push((
                PathBuf::from(COMMAND_ADAPTER_FILE),
                preview1_command_adapter().to_vec(),
            ));
        }
    } else {
        for (file, text) in WIT_FILES {
            plan.push((Path::new("wit").join(file), text.as_bytes().to_vec()));
        }
        if lang.needs_adapter() {
            plan.push((PathBuf::from(ADAPTER_FILE), preview1_adapter().to_vec()));
        }
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
                let files = create("my-plugin", lang, kind.into(), &dir)
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
        for kind in Kind::ALL {
            let e = create("My Plugin", Language::Rust, kind, tmp.path()).unwrap_err();
            assert!(e.to_string().contains("invalid plugin name"), "{kind}: {e}");
        }
        std::fs::write(tmp.path().join("x"), "").unwrap();
        for kind in Kind::ALL {
            let e = create("ok", Language::Rust, kind, tmp.path()).unwrap_err();
            assert!(e.to_string().contains("not empty"), "{kind}: {e}");
        }
        // Nothing was written into the directory that was not empty.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn every_language_has_a_task_template() {
        for lang in Language::ALL {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("t");
            let files = create("my-task", lang, Kind::Task, &dir)
                .unwrap_or_else(|e| panic!("{lang} task: {e}"));
            for file in ["build.sh", "README.md", "task.yml", "sample/data.txt"] {
                assert!(files.contains(&PathBuf::from(file)), "{lang}: {files:?}");
            }
            // No plugin contract, no reactor adapter: a task is a command, not a plugin.
            assert!(!files.contains(&PathBuf::from("wit/types.wit")), "{lang}");
            assert!(!files.contains(&PathBuf::from(ADAPTER_FILE)), "{lang}");
            assert_eq!(
                files.contains(&PathBuf::from(COMMAND_ADAPTER_FILE)),
                lang.needs_adapter(),
                "{lang}: {files:?}"
            );
            assert_eq!(
                files.iter().any(|f| f.starts_with("wit")),
                matches!(lang, Language::Python | Language::Javascript),
                "{lang}: {files:?}"
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(dir.join("build.sh"))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o111, 0o111, "{lang}: build.sh not executable");
            }
            let pipeline = std::fs::read_to_string(dir.join("task.yml")).unwrap();
            assert!(pipeline.contains("- task: my-task"), "{lang}: {pipeline}");
            for f in files
                .iter()
                .filter(|f| f.extension().is_none_or(|e| e != "wasm"))
            {
                let text = std::fs::read_to_string(dir.join(f)).unwrap();
                assert!(!text.contains("{{"), "{lang}: placeholder left in {f:?}");
            }
        }
    }

    #[test]
    fn the_command_adapter_exports_wasi_cli_run() {
        let adapter = preview1_command_adapter();
        assert!(adapter.starts_with(b"\0asm\x01\0\0\0"));
        assert_ne!(adapter, preview1_adapter());
        // The export's name is in the module's export section.
        let needle = b"wasi:cli/run@0.2";
        assert!(adapter.windows(needle.len()).any(|w| w == needle));
    }

    /// `--kind` and `--lang` accept only what has a template, and say which values exist.
    #[test]
    fn unknown_kinds_and_languages_are_refused() {
        use clap::ValueEnum;
        assert_eq!(Kind::from_str("task", false), Ok(Kind::Task));
        assert_eq!(Kind::from_str("test-step", false), Ok(Kind::TestStep));
        for bad in ["tasks", "command", "plugin", ""] {
            assert!(Kind::from_str(bad, false).is_err(), "{bad}");
        }
        assert!(Language::from_str("cobol", false).is_err());
        assert!(Language::from_str("typescript", false).is_err());

        #[derive(clap::Parser, Debug)]
        struct Args {
            #[arg(long, value_enum)]
            lang: Language,
            #[arg(long, value_enum)]
            kind: Kind,
        }
        use clap::Parser;
        let e = Args::try_parse_from(["x", "--lang", "rust", "--kind", "job"]).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("invalid value 'job'")
                && e.contains("resource-type")
                && e.contains("test-step")
                && e.contains("task"),
            "{e}"
        );
        let e = Args::try_parse_from(["x", "--lang", "cobol", "--kind", "task"]).unwrap_err();
        assert!(e.to_string().contains("invalid value 'cobol'"), "{e}");
        let ok = Args::try_parse_from(["x", "--lang", "zig", "--kind", "task"]).unwrap();
        assert_eq!((ok.lang, ok.kind), (Language::Zig, Kind::Task));
    }

    #[test]
    fn the_adapter_is_a_core_module() {
        assert!(preview1_adapter().starts_with(b"\0asm\x01\0\0\0"));
    }
}
