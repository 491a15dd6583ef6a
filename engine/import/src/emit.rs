//! A small, deterministic YAML writer: block style, keys in the order they were added,
//! comments above entries, every string quoted when a YAML reader could take it for anything
//! but that string.

use std::fmt::Write as _;

/// A value to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// A number, as its text.
    Num(String),
    Str(String),
    Seq(Vec<Value>),
    Map(Vec<Entry>),
}

/// A mapping entry, with comment lines written above its key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: Value,
    pub comments: Vec<String>,
}

impl Value {
    /// An empty mapping.
    pub fn map() -> Self {
        Value::Map(Vec::new())
    }

    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    /// Adds `key: value` (a mapping only).
    pub fn push(&mut self, key: impl Into<String>, value: Value) {
        self.push_commented(key, value, Vec::new());
    }

    /// Adds `key: value` with comment lines above it (a mapping only).
    pub fn push_commented(&mut self, key: impl Into<String>, value: Value, comments: Vec<String>) {
        if let Value::Map(entries) = self {
            entries.push(Entry {
                key: key.into(),
                value,
                comments,
            });
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Value::Seq(_) | Value::Map(_))
    }

    fn is_empty_collection(&self) -> bool {
        matches!(self, Value::Seq(v) if v.is_empty())
            || matches!(self, Value::Map(v) if v.is_empty())
    }
}

/// The YAML text of `value` (a document ending in a newline).
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0),
        Value::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        other => {
            out.push_str(&inline(other).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_comments(out: &mut String, comments: &[String], at: usize) {
    for c in comments {
        if c.is_empty() {
            indent(out, at);
            out.push_str("#\n");
        }
        for line in c.lines() {
            indent(out, at);
            if line.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {}", line.trim_end());
            }
        }
    }
}

fn write_map(out: &mut String, entries: &[Entry], at: usize) {
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && at == 0 {
            // Top-level sections apart.
            out.push('\n');
        }
        if i > 0 {
            indent(out, at);
        }
        write_entry(out, e, at);
    }
}

/// Writes one entry whose first line starts at the current position (already indented).
fn write_entry(out: &mut String, e: &Entry, at: usize) {
    if !e.comments.is_empty() {
        // The first comment line takes the current position; later lines are indented.
        let mut buf = String::new();
        write_comments(&mut buf, &e.comments, at);
        out.push_str(buf.trim_start_matches(' '));
        indent(out, at);
    }
    out.push_str(&key(&e.key));
    out.push(':');
    write_value_after_key(out, &e.value, at);
}

fn write_value_after_key(out: &mut String, value: &Value, at: usize) {
    if let Some(text) = inline(value) {
        out.push(' ');
        out.push_str(&text);
        out.push('\n');
        return;
    }
    if let Some(block) = literal_block(value, at + 2) {
        out.push(' ');
        out.push_str(&block);
        return;
    }
    out.push('\n');
    match value {
        Value::Map(entries) => {
            indent(out, at + 2);
            write_map(out, entries, at + 2);
        }
        Value::Seq(items) => write_seq(out, items, at + 2, at == 0),
        _ => unreachable!("scalars are written inline"),
    }
}

/// A block list; `spaced`: a blank line between items that are mappings (jobs, resources).
fn write_seq(out: &mut String, items: &[Value], at: usize, spaced: bool) {
    for (i, item) in items.iter().enumerate() {
        if spaced && i > 0 && matches!(item, Value::Map(_)) {
            out.push('\n');
        }
        indent(out, at);
        out.push_str("- ");
        if let Some(text) = inline(item) {
            out.push_str(&text);
            out.push('\n');
            continue;
        }
        if let Some(block) = literal_block(item, at + 2) {
            out.push_str(&block);
            continue;
        }
        match item {
            Value::Map(entries) => write_map(out, entries, at + 2),
            Value::Seq(inner) => {
                out.push('\n');
                write_seq(out, inner, at + 2, false);
            }
            _ => unreachable!("scalars are written inline"),
        }
    }
}

/// A value written on its key's line: scalars (but multi-line strings), empty collections,
/// short lists of plain scalars.
fn inline(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("~".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Num(n) => Some(n.clone()),
        Value::Str(s) if s.contains('\n') && literal_ok(s) => None,
        Value::Str(s) => Some(scalar(s)),
        Value::Seq(items) if items.is_empty() => Some("[]".into()),
        Value::Map(entries) if entries.is_empty() => Some("{}".into()),
        Value::Seq(items) => {
            if !items
                .iter()
                .all(|i| i.is_scalar() && !i.is_empty_collection())
            {
                return None;
            }
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::Str(s) => flow_scalar(s),
                    other => inline(other).unwrap_or_default(),
                })
                .collect();
            let text = format!("[{}]", parts.join(", "));
            (text.len() <= 72 && !text.contains('\n')).then_some(text)
        }
        Value::Map(_) => None,
    }
}

/// A multi-line string as a literal block (`|`, `|-`, `|+`) whose lines are indented by `at`.
fn literal_block(value: &Value, at: usize) -> Option<String> {
    let Value::Str(s) = value else { return None };
    if !s.contains('\n') || !literal_ok(s) {
        return None;
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}\n");
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(&mut out, at);
            out.push_str(line);
        }
        out.push('\n');
    }
    Some(out)
}

/// Whether a multi-line string reads back the same from a literal block.
fn literal_ok(s: &str) -> bool {
    let first = s.split('\n').next().unwrap_or("");
    !s.trim_matches('\n').is_empty()
        && !s.starts_with('\n')
        && !first.starts_with([' ', '\t'])
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && !s.contains('\u{feff}')
}

fn key(k: &str) -> String {
    scalar(k)
}

/// A string as a plain scalar when a YAML 1.1 or 1.2 reader takes it back as that string,
/// double-quoted (JSON escapes, which YAML reads) otherwise.
fn scalar(s: &str) -> String {
    if is_plain(s, false) {
        s.to_owned()
    } else {
        quoted(s)
    }
}

/// As [`scalar`], inside a flow collection (`,`, `[`, `]`, `{`, `}` need quotes too).
fn flow_scalar(s: &str) -> String {
    if is_plain(s, true) {
        s.to_owned()
    } else {
        quoted(s)
    }
}

fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn is_plain(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s != s.trim() || looks_typed(s) {
        return false;
    }
    if !(first.is_alphanumeric() || matches!(first, '/' | '.' | '_' | '(' | '$' | '+' | '^' | '<'))
    {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    s.chars().all(|c| {
        (c.is_alphanumeric() && !c.is_control())
            || matches!(
                c,
                ' ' | '-'
                    | '_'
                    | '.'
                    | '/'
                    | '('
                    | ')'
                    | '@'
                    | '='
                    | '+'
                    | '$'
                    | '^'
                    | '~'
                    | '<'
                    | '>'
                    | ';'
            )
            || (!flow && matches!(c, ',' | '[' | ']' | '{' | '}' | ':'))
    })
}

/// Whether a plain scalar of this text would read as something else than a string: a
/// boolean or null of YAML 1.1 or 1.2, a number (decimal, octal, hex, sexagesimal, float,
/// infinity, NaN) or a date.
fn looks_typed(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "~"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    let body = s.trim_start_matches(['-', '+']).replace('_', "");
    if body.parse::<f64>().is_ok() {
        return true;
    }
    let lower_body = body.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower_body.strip_prefix(prefix)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_digit(radix))
        {
            return true;
        }
    }
    // Sexagesimal numbers (`1:30`, `190:20:30.15`) and dates (`2001-12-14`, with a time).
    let sexagesimal = body.contains(':')
        && body
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'));
    let date =
        s.len() >= 8 && s.chars().take(4).all(|c| c.is_ascii_digit()) && s[4..].starts_with('-');
    sexagesimal || date
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(entries: &[(&str, Value)]) -> Value {
        let mut v = Value::map();
        for (k, e) in entries {
            v.push(*k, e.clone());
        }
        v
    }

    #[test]
    fn blocks_comments_and_flow_lists() {
        let mut job = m(&[("name", Value::str("a")), ("serial", Value::Bool(true))]);
        job.push_commented(
            "plan",
            Value::Seq(vec![m(&[("get", Value::str("repo"))])]),
            vec!["the plan".into()],
        );
        let doc = m(&[
            (
                "environments",
                Value::Seq(vec![Value::str("dev"), Value::str("prod")]),
            ),
            ("jobs", Value::Seq(vec![job])),
            ("empty", Value::map()),
        ]);
        assert_eq!(
            to_yaml(&doc),
            "environments: [dev, prod]\n\njobs:\n  - name: a\n    serial: true\n    # the plan\n    plan:\n      - get: repo\n\nempty: {}\n"
        );
    }

    #[test]
    fn strings_that_would_read_as_something_else_are_quoted() {
        for s in [
            "yes",
            "No",
            "on",
            "~",
            "null",
            "1",
            "1.5",
            "0x1f",
            "1_000",
            "12:30",
            "2024-01-01",
            "",
            " x",
            "a: b",
            "a #b",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "'x",
            "\"x",
            "- x",
            "? x",
            "x:",
            "tab\tin",
            "{a}",
            "[a]",
            "#x",
            "|",
            ">",
        ] {
            assert!(
                scalar(s).starts_with('"'),
                "{s:?} must be quoted: {}",
                scalar(s)
            );
        }
        for s in [
            "main",
            "((token))",
            "v1.2.3",
            "https://x.example/a.git",
            "ci/tasks/unit.yml",
            "1.2.x",
        ] {
            assert_eq!(scalar(s), s);
        }
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let doc = m(&[
            ("script", Value::str("set -e\nmake test\n")),
            ("x", Value::str("a\n\nb")),
        ]);
        assert_eq!(
            to_yaml(&doc),
            "script: |\n  set -e\n  make test\n\nx: |-\n  a\n\n  b\n"
        );
    }
}
