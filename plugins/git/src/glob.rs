//! Path patterns of `paths` / `ignore_paths`: `*`, `?` and `**`.

/// A path pattern, relative to the repository root, e.g. `manifests/**` or `*.md`.
///
/// - `*` matches any run of characters except `/`;
/// - `?` matches one character except `/`;
/// - `**` as a whole segment matches any number of segments (`a/**/b` matches `a/b` and
///   `a/x/y/b`; a trailing `/**` matches everything below);
/// - everything else matches itself.
///
/// A pattern that matches a directory covers every file below it: `docs` matches
/// `docs/guide/intro.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

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
        Ok(Self(trimmed.to_string()))
    }

    /// Whether `path` (`a/b/c.txt`, no leading `/`) or one of its parent directories matches.
    pub fn matches(&self, path: &str) -> bool {
        let pattern = self.0.as_bytes();
        let path = path.as_bytes();
        if glob(pattern, path) {
            return true;
        }
        path.iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'/')
            .any(|(i, _)| glob(pattern, &path[..i]))
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    if p.starts_with(b"**") && (p.len() == 2 || p[2] == b'/') {
        if p.len() == 2 {
            return true;
        }
        let rest = &p[3..];
        // Zero segments, or skip to after any `/`.
        return glob(rest, s)
            || s.iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'/')
                .any(|(i, _)| glob(rest, &s[i + 1..]));
    }
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == b'/' {
                    break;
                }
            }
            false
        }
        Some(b'?') => !s.is_empty() && s[0] != b'/' && glob(&p[1..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob(&p[1..], &s[1..]),
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
    fn invalid_patterns() {
        for bad in ["", "/", "/abs", "a/../b", "./a", "a//b"] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
    }
}
