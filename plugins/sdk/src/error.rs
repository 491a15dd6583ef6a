//! The error a plugin operation returns.

use std::fmt;
use std::path::Path;

use crate::wit;

/// Why a plugin operation failed; becomes the WIT `plugin-error` the host sees.
///
/// Pick the variant by who has to act: [`Error::InvalidConfig`] when the pipeline author
/// must fix `source`, `params` or `config`; [`Error::NotFound`] when the requested version,
/// file or object does not exist (any more); [`Error::Failed`] for everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `source`, `params` or `config` is missing a field, has a wrong type or an impossible
    /// value. The message should name the field.
    InvalidConfig(String),
    /// The requested version, file or object does not exist (any more).
    NotFound(String),
    /// Anything else: the operation was attempted and did not succeed.
    Failed(String),
}

impl Error {
    /// An [`Error::InvalidConfig`] with this message.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::InvalidConfig(message.into())
    }

    /// An [`Error::NotFound`] with this message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// An [`Error::Failed`] with this message.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// An [`Error::Failed`] for an I/O error on `path`: `"<path>: <error>"`.
    ///
    /// Every I/O error maps to `Failed`, including "not found": whether a missing file means
    /// [`Error::NotFound`] depends on the operation, so decide that explicitly with
    /// [`std::io::ErrorKind::NotFound`] where it matters.
    pub fn io(path: impl AsRef<Path>, error: std::io::Error) -> Self {
        Self::Failed(format!("{}: {error}", path.as_ref().display()))
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidConfig(m) | Self::NotFound(m) | Self::Failed(m) => m,
        }
    }

    /// The same error with `"<context>: "` put in front of its message, for example the
    /// name of the configuration field a value came from.
    #[must_use]
    pub fn context(self, context: impl fmt::Display) -> Self {
        match self {
            Self::InvalidConfig(m) => Self::InvalidConfig(format!("{context}: {m}")),
            Self::NotFound(m) => Self::NotFound(format!("{context}: {m}")),
            Self::Failed(m) => Self::Failed(format!("{context}: {m}")),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    /// [`Error::Failed`] with the I/O error's message. Prefer [`Error::io`] or
    /// [`IoResultExt::with_path`], which also name the file.
    fn from(error: std::io::Error) -> Self {
        Self::Failed(error.to_string())
    }
}

impl From<serde_json::Error> for Error {
    /// [`Error::Failed`] with the JSON error's message (for JSON the plugin itself reads or
    /// writes; configuration goes through [`parse_json`](crate::parse_json), which reports
    /// [`Error::InvalidConfig`]).
    fn from(error: serde_json::Error) -> Self {
        Self::Failed(error.to_string())
    }
}

impl From<Error> for wit::PluginError {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidConfig(m) => Self::InvalidConfig(m),
            Error::NotFound(m) => Self::NotFound(m),
            Error::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<wit::PluginError> for Error {
    fn from(error: wit::PluginError) -> Self {
        match error {
            wit::PluginError::InvalidConfig(m) => Self::InvalidConfig(m),
            wit::PluginError::NotFound(m) => Self::NotFound(m),
            wit::PluginError::Failed(m) => Self::Failed(m),
        }
    }
}

/// Adds the path to I/O errors: `fs::read(&p).with_path(&p)?`.
pub trait IoResultExt<T> {
    /// Turns an I/O error into [`Error::Failed`] whose message is `"<path>: <error>"`
    /// (see [`Error::io`]).
    fn with_path(self, path: impl AsRef<Path>) -> Result<T, Error>;
}

impl<T> IoResultExt<T> for std::io::Result<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T, Error> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_names_the_path() {
        let e: Result<(), _> = Err(std::io::Error::other("disk on fire"));
        assert_eq!(
            e.with_path("/cache/x"),
            Err(Error::failed("/cache/x: disk on fire"))
        );
    }

    #[test]
    fn context_prefixes_the_message() {
        let e = Error::invalid_config("must be relative").context("params.from_file");
        assert_eq!(e.message(), "params.from_file: must be relative");
        assert_eq!(
            e.to_string(),
            "invalid config: params.from_file: must be relative"
        );
    }
}
