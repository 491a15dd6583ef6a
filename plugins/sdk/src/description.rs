//! What a plugin says about itself.

use serde_json::Value;

use crate::wit;

/// A network endpoint a plugin asks to reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRequest {
    /// Host name or IP address; `*` when the pipeline decides which host.
    pub host: String,
    /// TCP port; 0 when the pipeline decides.
    pub port: u16,
    /// Why the plugin needs it, shown to the operator who grants it.
    pub reason: String,
}

/// What a plugin says about itself: returned by `describe`, built with chained calls.
///
/// The plugin kind (resource type or test step) is filled in by the SDK from the trait the
/// plugin implements. Asking for a capability grants nothing: the pipeline decides.
///
/// ```
/// use lockgate_sdk::Description;
/// use lockgate_sdk::serde_json::json;
///
/// let d = Description::new("http-probe", "1.2.0")
///     .summary("Probes HTTP endpoints of a deployed environment")
///     .config_schema(json!({"type": "object"}))
///     .network("*", 0, "the endpoints named in config")
///     .env("PROBE_TOKEN");
/// assert_eq!(d.network[0].reason, "the endpoints named in config");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Description {
    /// Short machine name, for example `git` or `http-probe`.
    pub name: String,
    /// The plugin's own version, semver.
    pub version: String,
    /// One line for people: what the plugin does.
    pub summary: String,
    /// JSON Schema of `source` (resource types).
    pub source_schema: Option<Value>,
    /// JSON Schema of the `params` of `get` (resource types).
    pub get_params_schema: Option<Value>,
    /// JSON Schema of the `params` of `put` (resource types).
    pub put_params_schema: Option<Value>,
    /// JSON Schema of `config` (test steps).
    pub config_schema: Option<Value>,
    /// Network endpoints the plugin asks to reach.
    pub network: Vec<NetworkRequest>,
    /// Environment variables the plugin reads, by name.
    pub env: Vec<String>,
    /// Named host directories the plugin expects under `/dirs/<name>`.
    pub dirs: Vec<String>,
}

impl Description {
    /// A description with a name and a version and nothing else. Tip: pass
    /// `env!("CARGO_PKG_VERSION")` as the version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            summary: String::new(),
            source_schema: None,
            get_params_schema: None,
            put_params_schema: None,
            config_schema: None,
            network: Vec::new(),
            env: Vec::new(),
            dirs: Vec::new(),
        }
    }

    /// Sets the one-line summary.
    #[must_use]
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// Sets the JSON Schema of `source`.
    #[must_use]
    pub fn source_schema(mut self, schema: Value) -> Self {
        self.source_schema = Some(schema);
        self
    }

    /// Sets the JSON Schema of the `params` of `get`.
    #[must_use]
    pub fn get_params_schema(mut self, schema: Value) -> Self {
        self.get_params_schema = Some(schema);
        self
    }

    /// Sets the JSON Schema of the `params` of `put`.
    #[must_use]
    pub fn put_params_schema(mut self, schema: Value) -> Self {
        self.put_params_schema = Some(schema);
        self
    }

    /// Sets the JSON Schema of `config`.
    #[must_use]
    pub fn config_schema(mut self, schema: Value) -> Self {
        self.config_schema = Some(schema);
        self
    }

    /// Asks to reach `host:port` (`"*"` / `0`: the pipeline decides), saying why.
    #[must_use]
    pub fn network(
        mut self,
        host: impl Into<String>,
        port: u16,
        reason: impl Into<String>,
    ) -> Self {
        self.network.push(NetworkRequest {
            host: host.into(),
            port,
            reason: reason.into(),
        });
        self
    }

    /// Asks for the environment variable `name`.
    #[must_use]
    pub fn env(mut self, name: impl Into<String>) -> Self {
        self.env.push(name.into());
        self
    }

    /// Asks for the named host directory `/dirs/<name>`.
    #[must_use]
    pub fn dir(mut self, name: impl Into<String>) -> Self {
        self.dirs.push(name.into());
        self
    }

    pub(crate) fn into_wit(self, kind: wit::PluginKind) -> wit::Description {
        wit::Description {
            name: self.name,
            version: self.version,
            kind,
            summary: self.summary,
            source_schema: self.source_schema.map(|v| v.to_string()),
            get_params_schema: self.get_params_schema.map(|v| v.to_string()),
            put_params_schema: self.put_params_schema.map(|v| v.to_string()),
            config_schema: self.config_schema.map(|v| v.to_string()),
            capabilities: wit::Capabilities {
                network: self
                    .network
                    .into_iter()
                    .map(|n| wit::NetworkRequest {
                        host: n.host,
                        port: n.port,
                        reason: n.reason,
                    })
                    .collect(),
                env: self.env,
                dirs: self.dirs,
            },
        }
    }
}
