//! `{{name}}`: a Lockgate test step. Checks that a file of an input contains every expected
//! string and reports one test case per string.

wit_bindgen::generate!({ path: "wit", world: "test-step" });

use exports::lockgate::plugin::test_ops::Guest;
use lockgate::plugin::host::{Level, log};
use lockgate::plugin::types::{
    Capabilities, CaseStatus, Description, Json, PluginError, PluginKind, TestCase, TestReport,
    TestSuite,
};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> Description {
        Description {
            name: "{{name}}".into(),
            version: "0.1.0".into(),
            kind: PluginKind::TestStep,
            summary: "Checks that a file of an input contains the expected strings".into(),
            source_schema: None,
            get_params_schema: None,
            put_params_schema: None,
            config_schema: Some(
                r#"{"type":"object","required":["file","contains"],"properties":{"file":{"type":"string","description":"path under /inputs"},"contains":{"type":"array","items":{"type":"string"}}},"additionalProperties":false}"#.into(),
            ),
            capabilities: Capabilities { network: vec![], env: vec![], dirs: vec![] },
        }
    }

    fn run(config: Json) -> Result<TestReport, PluginError> {
        let config: serde_json::Value = serde_json::from_str(&config)
            .map_err(|e| PluginError::InvalidConfig(format!("config is not JSON: {e}")))?;
        let file = config["file"]
            .as_str()
            .ok_or_else(|| PluginError::InvalidConfig("config.file is required".into()))?;
        let text = std::fs::read_to_string(format!("/inputs/{file}"))
            .map_err(|e| PluginError::NotFound(format!("/inputs/{file}: {e}")))?;
        let cases = config["contains"]
            .as_array()
            .ok_or_else(|| PluginError::InvalidConfig("config.contains must be a list".into()))?
            .iter()
            .filter_map(|v| v.as_str())
            .map(|wanted| {
                let found = text.contains(wanted);
                log(Level::Info, &format!("{file} contains {wanted:?}: {found}"));
                TestCase {
                    name: format!("contains {wanted:?}"),
                    status: if found { CaseStatus::Passed } else { CaseStatus::Failed },
                    duration_ms: 0,
                    message: (!found).then(|| format!("{file} does not contain {wanted:?}")),
                }
            })
            .collect();
        Ok(TestReport { suites: vec![TestSuite { name: file.into(), cases }] })
    }
}

export!(Plugin);
