//! `lockgate import concourse`: a Concourse pipeline in, a Lockgate pipeline and a report out.
//!
//! The Concourse file is read with positions by `lockgate-config`'s YAML layer (anchors,
//! aliases and `<<:` merge keys resolved), mapped construct by construct to the Lockgate
//! pipeline format (`docs/pipeline-reference.md`) and written as deterministic YAML: the same
//! input always gives the same bytes. Whatever has no Lockgate equivalent is left out or
//! written as a marked placeholder (`TODO(lockgate import)`), and listed in the report at its
//! `file:line:column` with the reason. See `docs/import.md` for the mapping table.
//!
//! ```
//! use lockgate_import::{Options, import_concourse};
//! let text = "resources: []\njobs:\n  - name: unit\n    plan: [{task: test, file: ci/test.yml}]\n";
//! let imported = import_concourse("ci.yml".as_ref(), text, &Options::default()).unwrap();
//! assert!(imported.pipeline.contains("file: ci/test.yml"));
//! ```

mod concourse;
mod emit;
mod types;

use std::fmt;
use std::path::{Path, PathBuf};

/// What an import may be told.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `(Concourse group, Lockgate environment)` pairs, over the default mapping of group
    /// names (`dev`, `staging`, `prod`, … anywhere in the name).
    pub environments: Vec<(String, String)>,
}

/// The result of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The Lockgate pipeline, as YAML text.
    pub pipeline: String,
    /// Every construct not translated, or translated into a placeholder, in file order.
    pub report: Vec<Item>,
}

/// One line of the report (or one problem of a malformed input).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    /// The Concourse file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column in characters (0 when unknown).
    pub column: u32,
    /// What: "`icon` of resource `app`", "task `unit` of job `test`", ….
    pub construct: String,
    /// Why it was not translated, or what was written instead.
    pub reason: String,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.construct,
            self.reason
        )
    }
}

/// Why nothing was written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// The file is not a Concourse pipeline Lockgate can read: each problem at its position.
    #[error("{}", render(.0))]
    Malformed(Vec<Item>),
    /// `--environment GROUP=ENV` names a group the pipeline does not have.
    #[error("`--environment {group}={environment}`: the pipeline has no group `{group}`{help}")]
    UnknownGroup {
        /// The group given.
        group: String,
        /// The environment given.
        environment: String,
        /// " (did you mean …?)" or nothing.
        help: String,
    },
}

/// The report as text: one `file:line:column: construct: reason` line per item.
pub fn render(items: &[Item]) -> String {
    items.iter().map(|i| format!("{i}\n")).collect()
}

/// Imports the Concourse pipeline `text` of `file` (named in the report and the header).
pub fn import_concourse(
    file: &Path,
    text: &str,
    options: &Options,
) -> Result<Imported, ImportError> {
    concourse::import(file, text, options)
}
