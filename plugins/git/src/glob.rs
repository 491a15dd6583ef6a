//! Path patterns of `paths` / `ignore_paths`: `*`, `?` and `**`, matched by rust-lang's
//! `glob` crate.

use ::glob::{MatchOptions, Pattern as Glob};

/// How patterns match: `*` and `?` never match `/`, a leading `.` is not special, case
/// matters.
const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// A path pattern, relative to the repository root, e.g. `manifests/**` or `*.md`.
///
/// - `*` matches any run of characters except `/`;
/// - `?` matches one character except `/`;
/// - `**` as a whole segment matches any number of segments (`a/**/b` matches `a/b` and
///   `a/x/y/b`; a trailing `/**` matches everything below); elsewhere (`a**`) it is an error;
/// - everything else matches itself, `[` and `]` included (no character classes).
///
/// A pattern that matches a directory covers every file below it: `docs` matches
/// `docs/guide/intro.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Glob);

impl Pattern {
    /// Checks and builds a pattern; the error says what is wrong.
    pub fn new(text: &str) -> Result<Self, String> {
        let trimmed = text.trim_end_matches('/');
        if trimmed.is_empty() {
            return Err("an empty pattern".into());
        }
        if trimmed.starts_with('/') {
            return Err(format!(
                "`{text}` must be relative to the repository root (no leading `/`)"
            ));
        }
        if trimmed
            .split('/')
            .any(|s| s == "." || s == ".." || s.is_empty())
        {
            return Err(format!(
                "`{text}` must not contain `.`, `..` or empty segments"
            ));
        }
        // Brackets match themselves: `[` and `]` become the one-character classes `[[]`
        // and `[]]`.
        let mut escaped = String::with_capacity(trimmed.len());
        for c in trimmed.chars() {
            match c {
                '[' => escaped.push_str("[[]"),
                ']' => escaped.push_str("[]]"),
                c => escaped.push(c),
            }
        }
        Glob::new(&escaped)
            .map(Self)
            .map_err(|e| format!("`{text}`: {}", e.msg))
    }

    /// Whether `path` (`a/b/c.txt`, no leading `/`) or one of its parent directories matches.
    pub fn matches(&self, path: &str) -> bool {
        self.0.matches_with(path, OPTIONS)
            || path
                .match_indices('/')
                .any(|(i, _)| self.0.matches_with(&path[..i], OPTIONS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::new(pattern).unwrap().matches(path)
    }

    #[test]
    fn star_stays_in_one_segment() {
        assert!(m("*.md", "README.md"));
        assert!(!m("*.md", "docs/README.md"));
        assert!(m("docs/*.md", "docs/a.md"));
        assert!(!m("docs/*.md", "docs/x/a.md"));
        assert!(m("a*c", "abbc"));
        assert!(!m("a*c", "ab/c"));
    }

    #[test]
    fn double_star_spans_segments() {
        assert!(m("manifests/**", "manifests/a.yml"));
        assert!(m("manifests/**", "manifests/x/y/a.yml"));
        assert!(!m("manifests/**", "manifestsx/a.yml"));
        assert!(m("**/*.md", "README.md"));
        assert!(m("**/*.md", "a/b/README.md"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/x/yb"));
        assert!(m("**", "anything/at/all"));
    }

    #[test]
    fn question_mark_and_directories() {
        assert!(m("v?.txt", "v1.txt"));
        assert!(!m("v?.txt", "v10.txt"));
        assert!(!m("a?b", "a/b"));
        assert!(m("docs", "docs/guide/intro.md"));
        assert!(m("docs/", "docs/a"));
        assert!(!m("docs", "docs2/a"));
        assert!(m("*/secret", "x/secret/key"));
    }

    #[test]
    fn brackets_match_themselves() {
        assert!(m("a[1].txt", "a[1].txt"));
        assert!(!m("a[1].txt", "a1.txt"));
        assert!(m("x]/*", "x]/y"));
        assert!(m("[*", "[abc"));
    }

    #[test]
    fn invalid_patterns() {
        for bad in [
            "", "/", "/abs", "a/../b", "./a", "a//b", "a**", "x/**b", "***",
        ] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
        assert!(
            Pattern::new("a**")
                .unwrap_err()
                .contains("recursive wildcards must form a single path component")
        );
    }
}
