//! `task` steps in the plan: a task's definition — inline, resolved when the plan is compiled,
//! or read from an artifact when the task runs (`file:`) — and how its program is found and
//! loaded then ([`TaskLoader`]: a file inside an artifact, or the registry).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lockgate_config::{PluginRef, TaskComponent, TaskConfig, parse_task_file};
use lockgate_model::{Grants, Limits};
use lockgate_plugin_host::{PluginHost, Task};
use lockgate_registry::Resolver;

use super::plugins::{PluginLoadError, registry_bytes};

/// The largest task file read (a definition is a few lines of YAML).
pub const MAX_TASK_FILE: u64 = 1 << 20;

/// `task:`.
#[derive(Clone, Debug)]
pub struct TaskPlan {
    /// The step's name: the program's `argv[0]`, and its cache's name.
    pub name: String,
    /// Its definition.
    pub definition: TaskDefinition,
    /// The step's `params`, over those of the definition.
    pub params: Vec<(String, String)>,
    /// `input_mapping`: an input's name → the artifact it is.
    pub input_mapping: Vec<(String, String)>,
    /// `output_mapping`: an output's name → the artifact later steps see.
    pub output_mapping: Vec<(String, String)>,
    /// What else it may touch.
    pub grants: Grants,
    /// Its limits (`limits.memory`, `limits.timeout` as the `run` deadline).
    pub limits: Limits,
}

/// Where a task's definition comes from.
#[derive(Clone, Debug)]
pub enum TaskDefinition {
    /// `config:`, resolved when the plan was compiled.
    Inline(TaskProgram),
    /// `file: <artifact>/<path>`: read from that artifact when the task runs.
    File {
        /// The artifact.
        artifact: String,
        /// The task file inside it.
        path: String,
    },
}

/// A task's definition with the step's params and mappings applied: what runs.
#[derive(Clone, Debug)]
pub struct TaskProgram {
    /// Its program.
    pub component: ComponentPlan,
    /// The program's arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Its environment variables: the definition's `params` with the step's over them.
    pub params: Vec<(String, String)>,
    /// Its inputs, read-only.
    pub inputs: Vec<TaskMount>,
    /// Its outputs: empty directories it writes, artifacts for later steps.
    pub outputs: Vec<TaskMount>,
    /// Its caches' directory names, kept between builds of this job's task.
    pub caches: Vec<String>,
}

/// An input or output of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskMount {
    /// Where the program sees it, relative to its working directory (`config`, `src/app`).
    pub dir: String,
    /// The artifact it is.
    pub artifact: String,
    /// An input that may be missing: the task runs without it.
    pub optional: bool,
}

/// Where a task's program comes from.
#[derive(Clone)]
pub enum ComponentPlan {
    /// Loaded when the plan was compiled, from `source` (a file or `name@version`); `None`
    /// only in plans compiled without plugins.
    Loaded {
        /// The file or registry reference, for messages.
        source: String,
        /// The program.
        task: Option<Task>,
    },
    /// A registry reference `name@version` of a task file, loaded when the task runs.
    Registry(PluginRef),
    /// A file in an artifact of the build, loaded when the task runs.
    Artifact {
        /// The artifact.
        artifact: String,
        /// The file inside it.
        path: String,
    },
}

impl fmt::Debug for ComponentPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComponentPlan::Loaded { source, task } => f
                .debug_struct("Loaded")
                .field("source", source)
                .field("loaded", &task.is_some())
                .finish(),
            ComponentPlan::Registry(r) => write!(f, "Registry({r})"),
            ComponentPlan::Artifact { artifact, path } => write!(f, "Artifact({artifact}/{path})"),
        }
    }
}

impl TaskPlan {
    /// The program `config` defines with this step's params and mappings over it; its
    /// component comes from `component`. Mappings of names `config` does not declare are
    /// left out (see [`TaskPlan::undeclared_mapping`]).
    pub fn program(&self, config: &TaskConfig, component: ComponentPlan) -> TaskProgram {
        let mapped = |mapping: &[(String, String)], name: &str| {
            mapping
                .iter()
                .find(|(k, _)| k == name)
                .map_or(name, |(_, v)| v.as_str())
                .to_owned()
        };
        let mut params: Vec<(String, String)> = config
            .params
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect();
        for (k, v) in &self.params {
            match params.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v.clone(),
                None => params.push((k.clone(), v.clone())),
            }
        }
        TaskProgram {
            component,
            args: config.args.iter().map(|a| a.value.clone()).collect(),
            params,
            inputs: config
                .inputs
                .iter()
                .map(|i| TaskMount {
                    dir: i.dir().value.clone(),
                    artifact: mapped(&self.input_mapping, &i.name),
                    optional: i.optional,
                })
                .collect(),
            outputs: config
                .outputs
                .iter()
                .map(|o| TaskMount {
                    dir: o.dir().value.clone(),
                    artifact: mapped(&self.output_mapping, &o.name),
                    optional: false,
                })
                .collect(),
            caches: config.caches.iter().map(|c| c.value.clone()).collect(),
        }
    }

    /// The first `input_mapping`/`output_mapping` entry naming what `config` does not
    /// declare, as a message (checked by validation for inline definitions, when the task
    /// runs for a task file).
    pub fn undeclared_mapping(&self, config: &TaskConfig) -> Option<String> {
        for (mapping, dirs, which) in [
            (
                &self.input_mapping,
                &config.inputs,
                ("input_mapping", "input"),
            ),
            (
                &self.output_mapping,
                &config.outputs,
                ("output_mapping", "output"),
            ),
        ] {
            let names: Vec<&str> = dirs.iter().map(|d| d.name.as_str()).collect();
            if let Some((k, _)) = mapping.iter().find(|(k, _)| !names.contains(&k.as_str())) {
                let declared = if names.is_empty() {
                    "none".to_owned()
                } else {
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Some(format!(
                    "`{}` of task `{}` maps `{k}`, which is not one of the {}s of its definition ({declared})",
                    which.0, self.name, which.1
                ));
            }
        }
        None
    }
}

/// Where the component of a task's definition comes from, in a plan.
pub(super) fn component_plan(
    component: &TaskComponent,
    loaded: impl FnOnce(&str) -> Option<Task>,
) -> ComponentPlan {
    match component {
        TaskComponent::Ref(r) => {
            let source = r.to_string();
            ComponentPlan::Loaded {
                task: loaded(&source),
                source,
            }
        }
        TaskComponent::Artifact { artifact, path } => ComponentPlan::Artifact {
            artifact: artifact.value.clone(),
            path: path.clone(),
        },
    }
}

/// Why a task could not be set up when it was about to run.
#[derive(Debug, thiserror::Error)]
pub enum TaskSetupError {
    /// An artifact it needs was not provided by an earlier step.
    #[error(
        "{what} of task `{task}`: artifact `{artifact}` was not provided by an earlier step of the build"
    )]
    MissingArtifact {
        /// The task.
        task: String,
        /// What needs it: "the task file", "the component", "input `x`".
        what: String,
        /// The artifact.
        artifact: String,
    },
    /// A file it names is not in its artifact.
    #[error("{what} of task `{task}`: `{artifact}/{path}` is not in artifact `{artifact}`")]
    NotFound {
        /// The task.
        task: String,
        /// "the task file", "the component".
        what: String,
        /// The artifact.
        artifact: String,
        /// The file inside it.
        path: String,
    },
    /// A file it names leads out of its artifact (a symbolic link, an absolute path).
    #[error(
        "{what} of task `{task}`: `{shown}` leads outside artifact `{artifact}` (a symbolic link or an absolute path); a task file and its component must be inside the artifact"
    )]
    Escapes {
        /// The task.
        task: String,
        /// "the task file", "the component".
        what: String,
        /// The artifact.
        artifact: String,
        /// The path as written.
        shown: String,
    },
    /// The file could not be read.
    #[error("cannot read {} (task `{task}`)", path.display())]
    Read {
        /// The task.
        task: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// The task file is larger than [`MAX_TASK_FILE`].
    #[error(
        "the task file `{shown}` of task `{task}` is {size} bytes, more than the {MAX_TASK_FILE} a task file may have"
    )]
    TooLarge {
        /// The task.
        task: String,
        /// The file, as written.
        shown: String,
        /// Its size.
        size: u64,
    },
    /// The task file is not a valid definition (every problem, at its line and column).
    #[error("the task file of task `{task}` is not valid:\n{report}")]
    Invalid {
        /// The task.
        task: String,
        /// The problems, rendered.
        report: String,
    },
    /// A mapping of the step names what the task file does not declare.
    #[error("{0}")]
    Mapping(String),
    /// A registry reference given by a task file, without a registry.
    #[error(
        "task `{task}` names `{reference}`, a registry reference, and no plugin registry is configured"
    )]
    NoRegistry {
        /// The task.
        task: String,
        /// The reference.
        reference: String,
    },
    /// The component was not loaded with the plan (a plan compiled without plugins).
    #[error("the component of task `{task}` ({component}) is not loaded")]
    NotLoaded {
        /// The task.
        task: String,
        /// Its file or reference.
        component: String,
    },
    /// The component could not be loaded.
    #[error("the component of task `{task}` cannot be loaded")]
    Load {
        /// The task.
        task: String,
        /// Why.
        #[source]
        error: Box<PluginLoadError>,
    },
}

/// Finds and loads what a task's definition names when the task runs: its task file, and a
/// component inside an artifact or in the registry (through the pipeline's lockfile, read
/// only: a pin it has is used; otherwise the newest matching version).
#[derive(Clone)]
pub struct TaskLoader {
    host: PluginHost,
    resolver: Option<Arc<Resolver>>,
}

impl fmt::Debug for TaskLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLoader")
            .field("registry", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

/// `path` (relative, inside `root`) resolved on disk, `Ok(None)` when it does not exist; an
/// error when it leads out of `root`.
fn inside(root: &Path, path: &str) -> Result<Option<PathBuf>, std::io::Error> {
    let root = root.canonicalize()?;
    match root.join(path).canonicalize() {
        Ok(p) if p.starts_with(&root) => Ok(Some(p)),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "outside",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `path` with its `.` and `..` segments resolved lexically; `None` when it climbs out.
fn normalized(path: &Path) -> Option<String> {
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(s) => out.push(s),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop()?;
            }
            _ => return None,
        }
    }
    let joined: PathBuf = out.iter().collect();
    Some(joined.to_string_lossy().into_owned())
}

impl TaskLoader {
    /// A loader on `host`, resolving registry references with `resolver` (read only).
    pub fn new(host: PluginHost, resolver: Option<Arc<Resolver>>) -> Self {
        Self { host, resolver }
    }

    /// `artifact/path`, a file of artifact `artifact` (whose directory is `dir`), resolved
    /// on disk: inside the artifact, existing.
    fn file_in(
        task: &str,
        what: &str,
        artifact: &str,
        dir: &Path,
        path: &str,
    ) -> Result<PathBuf, TaskSetupError> {
        let escapes = || TaskSetupError::Escapes {
            task: task.to_owned(),
            what: what.to_owned(),
            artifact: artifact.to_owned(),
            shown: format!("{artifact}/{path}"),
        };
        if Path::new(path).is_absolute() {
            return Err(escapes());
        }
        match inside(dir, path) {
            Ok(Some(p)) if p.is_file() => Ok(p),
            Ok(_) => Err(TaskSetupError::NotFound {
                task: task.to_owned(),
                what: what.to_owned(),
                artifact: artifact.to_owned(),
                path: path.to_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(escapes()),
            Err(error) => Err(TaskSetupError::Read {
                task: task.to_owned(),
                path: dir.join(path),
                error,
            }),
        }
    }

    /// Reads and parses the task file `path` of artifact `artifact` (directory `dir`) of
    /// task `task`, and applies the step's params and mappings: the program that runs.
    pub fn definition(
        task: &TaskPlan,
        artifact: &str,
        dir: &Path,
        path: &str,
    ) -> Result<TaskProgram, TaskSetupError> {
        let name = task.name.as_str();
        let file = Self::file_in(name, "the task file", artifact, dir, path)?;
        let read = |error| TaskSetupError::Read {
            task: name.to_owned(),
            path: file.clone(),
            error,
        };
        let size = std::fs::metadata(&file).map_err(read)?.len();
        if size > MAX_TASK_FILE {
            return Err(TaskSetupError::TooLarge {
                task: name.to_owned(),
                shown: format!("{artifact}/{path}"),
                size,
            });
        }
        let text = std::fs::read_to_string(&file).map_err(read)?;
        let shown = PathBuf::from(format!("{artifact}/{path}"));
        // Paths stay as written: they are resolved inside the artifact below.
        let config = parse_task_file(&shown, Path::new(""), &text).map_err(|report| {
            TaskSetupError::Invalid {
                task: name.to_owned(),
                report: report.render_plain().trim_end().to_owned(),
            }
        })?;
        if let Some(m) = task.undeclared_mapping(&config) {
            return Err(TaskSetupError::Mapping(m));
        }
        let component = match &config.component.value {
            TaskComponent::Ref(PluginRef::Path(p)) => {
                // Relative to the task file, inside the artifact.
                let within = Path::new(path).parent().unwrap_or(Path::new("")).join(p);
                match normalized(&within).filter(|_| !p.is_absolute()) {
                    Some(r) => ComponentPlan::Artifact {
                        artifact: artifact.to_owned(),
                        path: r,
                    },
                    None => {
                        return Err(TaskSetupError::Escapes {
                            task: name.to_owned(),
                            what: "the component".into(),
                            artifact: artifact.to_owned(),
                            shown: p.display().to_string(),
                        });
                    }
                }
            }
            TaskComponent::Ref(r) => ComponentPlan::Registry(r.clone()),
            TaskComponent::Artifact { artifact, path } => ComponentPlan::Artifact {
                artifact: artifact.value.clone(),
                path: path.clone(),
            },
        };
        Ok(task.program(&config, component))
    }

    /// Loads `component` of task `task` when it runs (`artifacts`: the build's artifacts so
    /// far); returns the program and where it came from, for the log.
    pub async fn load(
        &self,
        task: &str,
        component: &ComponentPlan,
        artifacts: &BTreeMap<String, PathBuf>,
    ) -> Result<(Task, String), TaskSetupError> {
        let load = |error: PluginLoadError| TaskSetupError::Load {
            task: task.to_owned(),
            error: Box::new(error),
        };
        match component {
            ComponentPlan::Loaded {
                source,
                task: Some(t),
            } => Ok((t.clone(), source.clone())),
            ComponentPlan::Loaded { source, task: None } => Err(TaskSetupError::NotLoaded {
                task: task.to_owned(),
                component: source.clone(),
            }),
            ComponentPlan::Artifact { artifact, path } => {
                let dir =
                    artifacts
                        .get(artifact)
                        .ok_or_else(|| TaskSetupError::MissingArtifact {
                            task: task.to_owned(),
                            what: "the component".into(),
                            artifact: artifact.clone(),
                        })?;
                let file = Self::file_in(task, "the component", artifact, dir, path)?;
                let loaded = self
                    .host
                    .load_task(&file)
                    .await
                    .map_err(|e| load(e.into()))?;
                Ok((loaded, format!("{artifact}/{path}")))
            }
            ComponentPlan::Registry(PluginRef::Path(p)) => Err(TaskSetupError::NotLoaded {
                task: task.to_owned(),
                component: p.display().to_string(),
            }),
            ComponentPlan::Registry(PluginRef::Registry { name, req }) => {
                let reference = format!("{name}@{req}");
                let resolver =
                    self.resolver
                        .as_deref()
                        .ok_or_else(|| TaskSetupError::NoRegistry {
                            task: task.to_owned(),
                            reference: reference.clone(),
                        })?;
                let (resolved, bytes) = registry_bytes(name, req, resolver).map_err(load)?;
                let loaded = self
                    .host
                    .load_task_bytes(&resolved.path, bytes)
                    .await
                    .map_err(|e| load(e.into()))?;
                Ok((
                    loaded,
                    format!("{reference} ({} from the registry)", resolved.id),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(input_mapping: &[(&str, &str)]) -> TaskPlan {
        TaskPlan {
            name: "render".into(),
            definition: TaskDefinition::File {
                artifact: "tools".into(),
                path: "tasks/render.yml".into(),
            },
            params: vec![("LEVEL".into(), "2".into())],
            input_mapping: input_mapping
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            output_mapping: Vec::new(),
            grants: Grants::default(),
            limits: Limits::default(),
        }
    }

    /// An artifact directory `tools` holding `files`.
    fn artifact(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn read(task: &TaskPlan, dir: &Path, path: &str) -> Result<TaskProgram, String> {
        TaskLoader::definition(task, "tools", dir, path).map_err(|e| {
            use lockgate_model::ErrorReport;
            e.report().to_string()
        })
    }

    #[test]
    fn a_task_file_defines_the_program_with_the_steps_params_and_mappings() {
        let dir = artifact(&[(
            "tasks/render.yml",
            "component: bin/render.wasm\nargs: [files]\nparams: {LEVEL: '1', REGION: eu}\ninputs: [{name: config}, {name: app, path: src/app, optional: true}]\noutputs: [rendered]\ncaches: [{path: deps}]\n",
        )]);
        let p = read(
            &plan(&[("config", "settings")]),
            dir.path(),
            "tasks/render.yml",
        )
        .unwrap();
        let ComponentPlan::Artifact { artifact, path } = &p.component else {
            panic!("{:?}", p.component)
        };
        // Relative to the task file, inside the artifact.
        assert_eq!(
            (artifact.as_str(), path.as_str()),
            ("tools", "tasks/bin/render.wasm")
        );
        assert_eq!(p.args, ["files"]);
        assert_eq!(
            p.params,
            [("LEVEL".into(), "2".into()), ("REGION".into(), "eu".into())]
        );
        let mount = |dir: &str, artifact: &str, optional| TaskMount {
            dir: dir.into(),
            artifact: artifact.into(),
            optional,
        };
        assert_eq!(
            p.inputs,
            [
                mount("config", "settings", false),
                mount("src/app", "app", true)
            ]
        );
        assert_eq!(p.outputs, [mount("rendered", "rendered", false)]);
        assert_eq!(p.caches, ["deps"]);
    }

    #[test]
    fn a_registry_reference_in_a_task_file_is_resolved_when_the_task_runs() {
        let dir = artifact(&[("t.yml", "component: render@^1\n")]);
        let p = read(&plan(&[]), dir.path(), "t.yml").unwrap();
        assert!(
            matches!(&p.component, ComponentPlan::Registry(PluginRef::Registry { name, .. }) if name == "render"),
            "{:?}",
            p.component
        );
    }

    #[test]
    fn a_bad_task_file_is_reported_at_its_line_and_column_in_the_artifact() {
        let dir = artifact(&[(
            "tasks/bad.yml",
            "platform: linux\nimage_resource: {type: registry-image}\nrun: {path: sh}\ncomponent: x.wasm\ninputs: [{name: a}, {name: a}]\n",
        )]);
        let e = read(&plan(&[]), dir.path(), "tasks/bad.yml").unwrap_err();
        for want in [
            "the task file of task `render` is not valid",
            "tools/tasks/bad.yml:1:1: error: `platform` is a container platform",
            "tools/tasks/bad.yml:2:1: error: `image_resource` is a container image",
            "tools/tasks/bad.yml:3:1: error: `run` is a container command",
            "tools/tasks/bad.yml:5:28: error: `inputs` lists `a` twice",
        ] {
            assert!(e.contains(want), "{want:?} not in:\n{e}");
        }
        let e = read(&plan(&[]), dir.path(), "tasks/none.yml").unwrap_err();
        assert_eq!(
            e,
            "the task file of task `render`: `tools/tasks/none.yml` is not in artifact `tools`"
        );
        let dir = artifact(&[("t.yml", "component: x.wasm\ninputs: [config]\n")]);
        let e = read(&plan(&[("conifg", "settings")]), dir.path(), "t.yml").unwrap_err();
        assert_eq!(
            e,
            "`input_mapping` of task `render` maps `conifg`, which is not one of the inputs of its definition (`config`)"
        );
        let big = format!(
            "component: x.wasm\n#{}\n",
            "x".repeat(MAX_TASK_FILE as usize)
        );
        let dir = artifact(&[("t.yml", &big)]);
        let e = read(&plan(&[]), dir.path(), "t.yml").unwrap_err();
        assert!(
            e.contains("more than the 1048576 a task file may have"),
            "{e}"
        );
    }

    #[test]
    fn a_task_file_or_component_outside_its_artifact_is_refused() {
        let outside = artifact(&[("secret.yml", "component: x.wasm\n")]);
        let dir = artifact(&[
            ("up.yml", "component: ../../x.wasm\n"),
            ("abs.yml", "component: /etc/x.wasm\n"),
        ]);
        std::os::unix::fs::symlink(
            outside.path().join("secret.yml"),
            dir.path().join("link.yml"),
        )
        .unwrap();
        let e = read(&plan(&[]), dir.path(), "link.yml").unwrap_err();
        assert!(
            e.contains("`tools/link.yml` leads outside artifact `tools` (a symbolic link"),
            "{e}"
        );
        for (file, shown) in [("up.yml", "../../x.wasm"), ("abs.yml", "/etc/x.wasm")] {
            let e = read(&plan(&[]), dir.path(), file).unwrap_err();
            assert!(
                e.contains(&format!(
                    "the component of task `render`: `{shown}` leads outside artifact `tools`"
                )),
                "{file}: {e}"
            );
        }
        let e = TaskLoader::file_in(
            "render",
            "the component",
            "tools",
            dir.path(),
            "../../x.wasm",
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                TaskSetupError::Escapes { .. } | TaskSetupError::NotFound { .. }
            ),
            "{e:?}"
        );
    }
}
