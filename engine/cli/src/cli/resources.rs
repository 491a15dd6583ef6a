//! `lockgate check`, `pin`, `unpin`, `disable` and `enable`: a resource's versions.

use std::process::ExitCode;

use anyhow::Context;

use super::backend::{Backend, Result};
use lockgate_api::wire::Version;

/// `lockgate check RESOURCE`: checks now; prints how many versions were new and the newest.
pub(super) async fn check(backend: &impl Backend, resource: &str) -> Result<ExitCode> {
    let answer = backend.check(resource).await?;
    let latest = backend
        .resources()
        .await?
        .into_iter()
        .find(|r| r.name == resource)
        .and_then(|r| r.latest);
    println!(
        "{resource}: {} new version(s); latest {}",
        answer.new_versions,
        latest.map_or("none".to_owned(), |v| crate::terminal::safe(
            &v.version.to_string()
        )
        .into_owned())
    );
    Ok(ExitCode::SUCCESS)
}

/// `lockgate pin RESOURCE VERSION`.
pub(super) async fn pin(backend: &impl Backend, resource: &str, version: &str) -> Result<ExitCode> {
    let answer = backend.pin(resource, &parse_version(version)?).await?;
    match answer.pinned {
        Some(v) => println!("{resource} pinned to {}", v.version),
        None => println!("{resource} unpinned"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `lockgate unpin RESOURCE`.
pub(super) async fn unpin(backend: &impl Backend, resource: &str) -> Result<ExitCode> {
    backend.unpin(resource).await?;
    println!("{resource} unpinned");
    Ok(ExitCode::SUCCESS)
}

/// `lockgate disable RESOURCE VERSION` (`disabled`) or `enable RESOURCE VERSION`.
pub(super) async fn set_disabled(
    backend: &impl Backend,
    resource: &str,
    version: &str,
    disabled: bool,
) -> Result<ExitCode> {
    let answer = backend
        .set_disabled(resource, &parse_version(version)?, disabled)
        .await?;
    let word = if answer.disabled {
        "disabled"
    } else {
        "enabled"
    };
    println!("{resource} {} {word}", answer.version);
    Ok(ExitCode::SUCCESS)
}

/// A version from the command line: JSON (`{"ref":"abc"}`) or `name=value[,name=value]`.
pub(super) fn parse_version(text: &str) -> Result<Version> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).context("the version must be a JSON object of strings");
    }
    let mut v = Version::new();
    for pair in text.split(',') {
        let (k, val) = pair
            .split_once('=')
            .with_context(|| format!("`{pair}`: expected name=value"))?;
        v = v.with(k.trim(), val.trim());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_json_or_pairs() {
        assert_eq!(
            parse_version(r#"{"number":"3"}"#).unwrap(),
            Version::new().with("number", "3")
        );
        assert_eq!(
            parse_version("ref=abc, n=2").unwrap(),
            Version::new().with("ref", "abc").with("n", "2")
        );
        assert!(parse_version("nope").is_err());
    }
}
