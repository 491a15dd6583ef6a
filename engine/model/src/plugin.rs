//! Host-side values of the plugin contract: versions, metadata, descriptions and test reports.
//!
//! These mirror the WIT types in `wit/plugin/types.wit` but are plain serde types, so the rest
//! of the engine (state store, API, CLI) never depends on generated bindings.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Which versions of a resource a job's input accepts (`version:` of a `get`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VersionPolicy {
    /// The newest acceptable version (the default).
    #[default]
    Latest,
    /// Every version, one build each: the oldest acceptable version no build of the job used
    /// yet (the newest once all were used).
    Every,
    /// Exactly this version.
    Pinned(Version),
}

/// The error of a registry reference resolved without a plugin registry.
pub const NO_REGISTRY: &str = "no plugin registry to resolve it in";

/// A resource version: an order-independent map of string fields (Concourse's version map).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub BTreeMap<String, String>);

impl Version {
    /// An empty version.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the version with `name` set to `value`.
    pub fn with(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.0.insert(name.into(), value.to_string());
        self
    }

    /// The value of field `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Builds a version from name/value pairs, refusing duplicate or empty names.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, InvalidVersion> {
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            if name.is_empty() {
                return Err(InvalidVersion::EmptyName);
            }
            if map.contains_key(&name) {
                return Err(InvalidVersion::DuplicateName(name));
            }
            map.insert(name, value);
        }
        Ok(Self(map))
    }

    /// The fields as name/value pairs, sorted by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}: {v}")?;
        }
        f.write_str("}")
    }
}

/// Why a list of pairs is not a valid version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidVersion {
    /// A field has an empty name.
    #[error("a version field has an empty name")]
    EmptyName,
    /// The same field name appears twice.
    #[error("version field `{0}` appears twice")]
    DuplicateName(String),
}

/// Ordered name/value facts about a version.
pub type Metadata = Vec<(String, String)>;

/// A version with its metadata, as returned by `get` and `put`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// The version fetched or created.
    pub version: Version,
    /// Facts about it, in the plugin's order.
    pub metadata: Metadata,
}

/// Which contract a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// World `resource-type`: `check`, `get`, `put`.
    ResourceType,
    /// World `test-step`: `run`.
    TestStep,
}

impl PluginKind {
    /// The WIT world name.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::ResourceType => "resource-type",
            PluginKind::TestStep => "test-step",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.world())
    }
}

/// A network endpoint a plugin asks to reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRequest {
    /// Host name or address; `*` when the pipeline decides.
    pub host: String,
    /// Port; 0 when the pipeline decides.
    pub port: u16,
    /// Why the plugin needs it.
    pub reason: String,
}

/// What a plugin asks the pipeline to grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Network endpoints.
    pub network: Vec<NetworkRequest>,
    /// Environment variable names.
    pub env: Vec<String>,
    /// Named host directories, mounted at `/dirs/<name>`.
    pub dirs: Vec<String>,
}

/// What a plugin says about itself (`describe`), with its schemas parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Description {
    /// Short machine name.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// Which world it implements.
    pub kind: PluginKind,
    /// One line for people.
    pub summary: String,
    /// JSON Schema of `source`.
    pub source_schema: Option<serde_json::Value>,
    /// JSON Schema of the `params` of `get`.
    pub get_params_schema: Option<serde_json::Value>,
    /// JSON Schema of the `params` of `put`.
    pub put_params_schema: Option<serde_json::Value>,
    /// JSON Schema of a test step's `config`.
    pub config_schema: Option<serde_json::Value>,
    /// Requested capabilities.
    pub capabilities: Capabilities,
}

/// Outcome of one test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    /// The assertion held.
    Passed,
    /// The assertion did not hold.
    Failed,
    /// Not run.
    Skipped,
    /// The test itself broke.
    Errored,
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaseStatus::Passed => "passed",
            CaseStatus::Failed => "failed",
            CaseStatus::Skipped => "skipped",
            CaseStatus::Errored => "errored",
        })
    }
}

/// One test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    /// Name within its suite.
    pub name: String,
    /// Outcome.
    pub status: CaseStatus,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Explanation.
    pub message: Option<String>,
}

/// A named group of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSuite {
    /// Suite name.
    pub name: String,
    /// Cases in run order.
    pub cases: Vec<TestCase>,
}

/// The verdict of a test step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    /// Suites in run order.
    pub suites: Vec<TestSuite>,
}

impl TestReport {
    /// True when no case failed or errored.
    pub fn passed(&self) -> bool {
        self.cases()
            .all(|c| !matches!(c.status, CaseStatus::Failed | CaseStatus::Errored))
    }

    /// Every case of every suite.
    pub fn cases(&self) -> impl Iterator<Item = &TestCase> {
        self.suites.iter().flat_map(|s| s.cases.iter())
    }

    /// Number of cases with `status`.
    pub fn count(&self, status: CaseStatus) -> usize {
        self.cases().filter(|c| c.status == status).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_equality_ignores_order() {
        let a = Version::from_pairs([("a".into(), "1".into()), ("b".into(), "2".into())]).unwrap();
        let b = Version::from_pairs([("b".into(), "2".into()), ("a".into(), "1".into())]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "{a: 1, b: 2}");
    }

    #[test]
    fn version_rejects_duplicates_and_empty_names() {
        let dup = Version::from_pairs([("a".into(), "1".into()), ("a".into(), "2".into())]);
        assert_eq!(dup, Err(InvalidVersion::DuplicateName("a".into())));
        let empty = Version::from_pairs([(String::new(), "1".into())]);
        assert_eq!(empty, Err(InvalidVersion::EmptyName));
    }

    #[test]
    fn version_serializes_as_a_json_map() {
        let v = Version::new().with("ref", "abc").with("n", 3);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"n":"3","ref":"abc"}"#
        );
    }

    #[test]
    fn report_passes_only_without_failed_or_errored_cases() {
        let case = |status| TestCase {
            name: "c".into(),
            status,
            duration_ms: 1,
            message: None,
        };
        let mut report = TestReport {
            suites: vec![TestSuite {
                name: "s".into(),
                cases: vec![case(CaseStatus::Passed), case(CaseStatus::Skipped)],
            }],
        };
        assert!(report.passed());
        report.suites[0].cases.push(case(CaseStatus::Errored));
        assert!(!report.passed());
        assert_eq!(report.count(CaseStatus::Passed), 1);
    }
}
