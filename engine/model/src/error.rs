//! Showing an error with its causes.
//!
//! Lockgate's error types follow one rule: a cause that an error returns from
//! [`Error::source`] is never repeated in its own message. Whoever shows an error to a person
//! prints the whole chain once, with [`Report`] (or `anyhow`'s `{:#}`).

use std::error::Error;
use std::fmt;

/// A boxed error that keeps its chain of causes (e.g. a `wasmtime::Error` turned into a
/// standard error with `into_boxed_dyn_error`).
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Displays an error and its causes as `message: cause: cause's cause`.
///
/// A cause whose text the line already ends with is left out: some libraries (sqlx, for one)
/// repeat their own source in their message, and a person should read each cause once.
#[derive(Clone, Copy)]
pub struct Report<'a>(&'a (dyn Error + 'static));

impl<'a> Report<'a> {
    /// The report of `error`.
    pub fn new(error: &'a (dyn Error + 'static)) -> Self {
        Self(error)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            next = cause.source();
        }
        f.write_str(&line)
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// [`Report`] for any error: `error.report()` shows it with its causes.
pub trait ErrorReport {
    /// The error with its causes, for a person.
    fn report(&self) -> Report<'_>;
}

impl<E: Error + 'static> ErrorReport for E {
    fn report(&self) -> Report<'_> {
        Report(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the store")]
    struct Outer(#[source] Middle);

    /// Repeats its source in its message, as some libraries do.
    #[derive(Debug, thiserror::Error)]
    #[error("error communicating with database: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn prints_each_cause_once() {
        let e = Outer(Middle(std::io::Error::other("connection refused")));
        assert_eq!(
            e.report().to_string(),
            "cannot open the store: error communicating with database: connection refused"
        );
        let plain = std::io::Error::other("alone");
        assert_eq!(plain.report().to_string(), "alone");
    }
}
