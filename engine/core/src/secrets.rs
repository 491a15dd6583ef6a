//! Secrets in what plugins hand back (docs/promotion.md's sibling rule for secrets, README's
//! sandbox table). A plugin may echo a `((secret))` of its `source` anywhere. A *version* is an
//! identity: it is stored, compared, shown by the API and the CLI and handed back to plugins as
//! it is, so a version holding a secret's value is refused (nothing of that check or `put` is
//! stored). Metadata and messages are only shown: their secrets are replaced by
//! `((redacted))` before anything stores or prints them.

use lockgate_config::Redactor;
use lockgate_model::{Fetched, Version};

/// A version refused because it holds a secret's value.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{what} returned a version whose field `{field}` holds the value of a secret: versions are stored and shown as they are, so it was refused and nothing was stored (the plugin must not copy secrets into versions; metadata is redacted instead)"
)]
pub struct SecretInVersion {
    /// Where the version came from (`check of `repo``).
    pub what: String,
    /// The field, redacted.
    pub field: String,
}

/// Refuses `version` when a field name or value holds a secret's value. `what` names where it
/// came from (`check of `repo``).
pub(crate) fn refuse_secret_version(
    redactor: &Redactor,
    what: &str,
    version: &Version,
) -> Result<(), SecretInVersion> {
    if redactor.is_empty() {
        return Ok(());
    }
    for (name, value) in &version.0 {
        if redactor.finds(name) || redactor.finds(value) {
            return Err(SecretInVersion {
                what: what.to_owned(),
                field: redactor.redact(name),
            });
        }
    }
    Ok(())
}

/// `fetched` with its metadata redacted, or the refusal of its version.
pub(crate) fn clean_fetched(
    redactor: &Redactor,
    what: &str,
    mut fetched: Fetched,
) -> Result<Fetched, SecretInVersion> {
    refuse_secret_version(redactor, what, &fetched.version)?;
    if !redactor.is_empty() {
        for (name, value) in &mut fetched.metadata {
            *name = redactor.redact(name);
            *value = redactor.redact(value);
        }
    }
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new(["s3cr3t-token".to_owned()])
    }

    #[test]
    fn a_version_holding_a_secret_is_refused_naming_the_field() {
        let v = Version::new()
            .with("ref", "abc")
            .with("url", "https://u:s3cr3t-token@h");
        let err = refuse_secret_version(&redactor(), "check of `repo`", &v)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("check of `repo` returned a version whose field `url`"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t-token"), "{err}");
        let key = Version::new().with("s3cr3t-token", "1");
        let err = refuse_secret_version(&redactor(), "put to `x`", &key)
            .unwrap_err()
            .to_string();
        assert!(err.contains("field `((redacted))`"), "{err}");
        assert!(
            refuse_secret_version(&redactor(), "x", &Version::new().with("ref", "abc")).is_ok()
        );
    }

    #[test]
    fn metadata_is_redacted_and_the_version_kept() {
        let fetched = Fetched {
            version: Version::new().with("ref", "abc"),
            metadata: vec![
                ("token".to_owned(), "s3cr3t-token".to_owned()),
                ("note".to_owned(), "x s3cr3t-token y".to_owned()),
            ],
        };
        let clean = clean_fetched(&redactor(), "x", fetched).unwrap();
        assert_eq!(clean.version, Version::new().with("ref", "abc"));
        assert_eq!(
            clean.metadata,
            [
                ("token".to_owned(), "((redacted))".to_owned()),
                ("note".to_owned(), "x ((redacted)) y".to_owned()),
            ]
        );
    }
}
