//! `{{name}}`: a Lockgate resource type. Versions are the files of a granted directory
//! (`source.dir` names it; the pipeline grants it at `/dirs/<dir>`), oldest name first.

wit_bindgen::generate!({ path: "wit", world: "resource-type" });

use exports::lockgate::plugin::resource_ops::Guest;
use lockgate::plugin::host::{Level, log};
use lockgate::plugin::types::{
    Capabilities, Description, Fetched, Json, Pair, PluginError, PluginKind, Version,
};

struct Plugin;

fn dir_of(source: &Json) -> Result<String, PluginError> {
    let source: serde_json::Value = serde_json::from_str(source)
        .map_err(|e| PluginError::InvalidConfig(format!("source is not JSON: {e}")))?;
    let dir = source["dir"]
        .as_str()
        .ok_or_else(|| PluginError::InvalidConfig("source.dir (a string) is required".into()))?;
    Ok(format!("/dirs/{dir}"))
}

fn version(file: &str) -> Version {
    vec![Pair { name: "file".into(), value: file.into() }]
}

fn file_of(v: &Version) -> Result<String, PluginError> {
    v.iter()
        .find(|p| p.name == "file")
        .map(|p| p.value.clone())
        .ok_or_else(|| PluginError::InvalidConfig("the version has no `file`".into()))
}

impl Guest for Plugin {
    fn describe() -> Description {
        Description {
            name: "{{name}}".into(),
            version: "0.1.0".into(),
            kind: PluginKind::ResourceType,
            summary: "Versions are the files of a granted directory".into(),
            source_schema: Some(
                r#"{"type":"object","required":["dir"],"properties":{"dir":{"type":"string","description":"name of the granted directory"}},"additionalProperties":false}"#.into(),
            ),
            get_params_schema: None,
            put_params_schema: Some(
                r#"{"type":"object","required":["from"],"properties":{"from":{"type":"string","description":"path under /inputs of the file to publish"}},"additionalProperties":false}"#.into(),
            ),
            config_schema: None,
            capabilities: Capabilities { network: vec![], env: vec![], dirs: vec![] },
        }
    }

    fn check(source: Json, from: Option<Version>) -> Result<Vec<Version>, PluginError> {
        let dir = dir_of(&source)?;
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| PluginError::Failed(format!("cannot list {dir}: {e} (is it granted?)")))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        files.sort();
        let start = from
            .as_ref()
            .and_then(|v| file_of(v).ok())
            .and_then(|f| files.iter().position(|x| *x == f));
        let versions: Vec<Version> = match start {
            Some(i) => files[i..].iter().map(|f| version(f)).collect(),
            None => files.last().map(|f| vec![version(f)]).unwrap_or_default(),
        };
        log(Level::Info, &format!("{} file(s) in {dir}", files.len()));
        Ok(versions)
    }

    fn get(source: Json, version: Version, _params: Json) -> Result<Fetched, PluginError> {
        let dir = dir_of(&source)?;
        let file = file_of(&version)?;
        let from = format!("{dir}/{file}");
        std::fs::copy(&from, format!("/output/{file}"))
            .map_err(|e| PluginError::NotFound(format!("{from}: {e}")))?;
        Ok(Fetched { version, metadata: vec![] })
    }

    fn put(source: Json, params: Json) -> Result<Fetched, PluginError> {
        let dir = dir_of(&source)?;
        let params: serde_json::Value = serde_json::from_str(&params)
            .map_err(|e| PluginError::InvalidConfig(format!("params are not JSON: {e}")))?;
        let from = params["from"]
            .as_str()
            .ok_or_else(|| PluginError::InvalidConfig("params.from is required".into()))?;
        let name = from.rsplit('/').next().unwrap_or(from).to_owned();
        std::fs::copy(format!("/inputs/{from}"), format!("{dir}/{name}"))
            .map_err(|e| PluginError::Failed(format!("cannot publish {from} to {dir}: {e}")))?;
        Ok(Fetched { version: version(&name), metadata: vec![] })
    }
}

export!(Plugin);
