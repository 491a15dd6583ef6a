//! Source positions of the pipeline file.

use std::fmt;
use std::ops::Deref;

/// Where something was written in the pipeline file: 1-based line and column (in characters)
/// and the byte range, for diagnostics.
///
/// A value reached through a YAML alias (`*name`) or merge key (`<<:`) carries the position of
/// its definition (the anchored text), where a fix has to be made. A value filled in by a
/// whole-string `((var))` carries the position of the placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column in characters; 0 when unknown.
    pub column: u32,
    /// Byte offset of the start in the file.
    pub offset: usize,
    /// Length in bytes (0 for a position, e.g. the start of a mapping).
    pub len: usize,
}

impl Span {
    /// A span at `line:column`, `offset` bytes into the file, `len` bytes long.
    pub fn new(line: u32, column: u32, offset: usize, len: usize) -> Self {
        Self {
            line,
            column,
            offset,
            len,
        }
    }

    /// The part of this span's text in `source` where `needle` occurs first, when the span's
    /// text contains it before any line break (used to point at a `((var))` inside a longer
    /// string). Returns `self` otherwise.
    pub fn narrow_to(self, source: &str, needle: &str) -> Span {
        let Some(text) = source.get(self.offset..self.offset + self.len) else {
            return self;
        };
        match text.find(needle) {
            Some(at) if !text[..at].contains('\n') => Span {
                line: self.line,
                column: self.column + text[..at].chars().count() as u32,
                offset: self.offset + at,
                len: needle.len(),
            },
            _ => self,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value with the position it was written at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// `value` written at `span`.
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }

    /// The same position with the value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            span: self.span,
        }
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl Spanned<String> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_points_inside_a_single_line_string() {
        let source = "a: x ((v)) y\n";
        let span = Span::new(1, 4, 3, 9);
        let inner = span.narrow_to(source, "((v))");
        assert_eq!(
            (inner.line, inner.column, inner.offset, inner.len),
            (1, 6, 5, 5)
        );
        // Not found: unchanged.
        assert_eq!(span.narrow_to(source, "((w))"), span);
    }

    #[test]
    fn narrow_counts_characters_not_bytes() {
        let source = "a: é ((v))\n";
        let span = Span::new(1, 4, 3, source.len() - 4);
        assert_eq!(span.narrow_to(source, "((v))").column, 6);
    }
}
