//! A YAML document as a tree of nodes that all know their position.
//!
//! `serde-saphyr` does the YAML work (scanning, anchors and aliases, `<<:` merge keys, scalar
//! types, alias-bomb limits); this module asks it for every node wrapped in its `Spanned`, so
//! that the model can be built by walking the tree and reporting every problem at once instead
//! of stopping at the first one as a derived `Deserialize` would.
//!
//! Public for other readers of YAML with positions (`lockgate-import` reads Concourse
//! pipelines with it).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::span::Span;

/// A YAML node and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it holds.
    pub kind: Kind,
    /// Where it was written (for an aliased or merged value: where its anchor defines it).
    pub span: Span,
}

/// A mapping key.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` or `false` (YAML 1.1's `yes`, `no`, `on`, `off` too).
    Bool(bool),
    /// An integer or a finite float.
    Num(Number),
    /// A string.
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// Entries in document order (merged `<<:` entries after the explicit ones); duplicate
    /// keys are kept so that they can be reported.
    Map(Vec<(Key, Node)>),
}

impl Node {
    /// A node of `kind` at `span`.
    pub fn new(kind: Kind, span: Span) -> Self {
        Self { kind, span }
    }

    /// "a string", "a mapping", …: for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "nothing (an empty value)".into(),
            Kind::Bool(b) => format!("the boolean `{b}`"),
            Kind::Num(n) => format!("the number `{n}`"),
            Kind::Str(s) if s.chars().count() <= 40 && !s.contains('\n') => {
                format!("the string `{s}`")
            }
            Kind::Str(_) => "a string".into(),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        }
    }

    /// The string it holds, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The node as JSON. Mapping keys are strings; of duplicate keys the first one wins (the
    /// duplicates are reported elsewhere).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Num(n) => Value::Number(n.clone()),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    if !map.contains_key(&k.name) {
                        map.insert(k.name.clone(), v.to_json());
                    }
                }
                Value::Object(map)
            }
        }
    }

    /// A node tree for a JSON value, every node at `span` (values that come from a vars file
    /// are reported at the placeholder that brought them in).
    pub fn from_json(value: &Value, span: Span) -> Node {
        let kind = match value {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Num(n.clone()),
            Value::String(s) => Kind::Str(s.clone()),
            Value::Array(items) => {
                Kind::Seq(items.iter().map(|v| Node::from_json(v, span)).collect())
            }
            Value::Object(map) => Kind::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                name: k.clone(),
                                span,
                            },
                            Node::from_json(v, span),
                        )
                    })
                    .collect(),
            ),
        };
        Node::new(kind, span)
    }

    /// Calls `f` with the JSON pointer (RFC 6901) of every node below and including this one,
    /// the node, and the key it is the value of.
    pub fn visit_pointers(&self, f: &mut dyn FnMut(&str, &Node, Option<&Key>)) {
        fn walk(
            node: &Node,
            pointer: &mut String,
            key: Option<&Key>,
            f: &mut dyn FnMut(&str, &Node, Option<&Key>),
        ) {
            f(pointer, node, key);
            let len = pointer.len();
            match &node.kind {
                Kind::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        pointer.push('/');
                        pointer.push_str(&i.to_string());
                        walk(item, pointer, None, f);
                        pointer.truncate(len);
                    }
                }
                Kind::Map(entries) => {
                    let mut seen = std::collections::HashSet::new();
                    for (k, v) in entries {
                        if !seen.insert(k.name.as_str()) {
                            continue;
                        }
                        pointer.push('/');
                        pointer.push_str(&k.name.replace('~', "~0").replace('/', "~1"));
                        walk(v, pointer, Some(k), f);
                        pointer.truncate(len);
                    }
                }
                _ => {}
            }
        }
        walk(self, &mut String::new(), None, f);
    }
}

/// A YAML syntax error (or a document the YAML layer refuses, such as an alias bomb).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// What is wrong, without the position.
    pub message: String,
    /// Where.
    pub span: Span,
}

/// Parses one YAML document into a node tree (anchors, aliases and `<<:` merge keys resolved;
/// duplicate keys kept), within [`MAX_NODES`] and [`MAX_DEPTH`].
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    use serde_saphyr::MessageFormatter;
    // Duplicate keys reach the tree, where they are reported with every other problem.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_NODES;
    budget.max_events = 4 * MAX_NODES;
    budget.max_depth = MAX_DEPTH;
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        budget: Some(budget),
    };
    match serde_saphyr::from_str_with_options::<serde_saphyr::Spanned<Node>>(text, options) {
        Ok(spanned) => {
            let mut node = spanned.value;
            node.span = span_of(&spanned.defined);
            Ok(node)
        }
        Err(error) => {
            let inner = unwrap_error(&error);
            let message = serde_saphyr::DefaultMessageFormatter
                .format_message(inner)
                .into_owned();
            let mut span = error
                .location()
                .map(|l| span_of(&l))
                .unwrap_or_else(|| Span::new(1, 1, 0, 0));
            if span.offset == 0 {
                span.offset = offset_at(text, span.line, span.column);
            }
            Err(explain(text, inner, message, span))
        }
    }
}

/// Most YAML nodes (keys, values, list items) a pipeline file may hold: a generous bound on
/// the memory its tree takes (a 2.6 MB pipeline holds about 250,000).
pub const MAX_NODES: usize = 1_000_000;
/// Deepest nesting of mappings and lists in a pipeline file: far more than a pipeline needs
/// (about 12), and little enough that parsing fits a 2 MiB thread stack even in a debug build
/// (48 levels do not).
pub const MAX_DEPTH: usize = 32;

/// The byte offset of 1-based `line` and `column` (in characters) in `text`.
fn offset_at(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        if n + 1 == line as usize {
            return offset
                + l.char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(l.len(), |(i, _)| i);
        }
        offset += l.len();
    }
    offset
}

/// The library's message and position, turned into what a pipeline author can act on.
fn explain(text: &str, error: &serde_saphyr::Error, message: String, span: Span) -> SyntaxError {
    // A tab in the indentation is reported at the scalar before it: point at the tab.
    let tab_indented = text.lines().enumerate().find(|(_, l)| {
        l.chars()
            .take_while(|c| c.is_whitespace())
            .any(|c| c == '\t')
    });
    if (message.contains("found a tab") || message.contains("tabs"))
        && let Some((n, line)) = tab_indented
    {
        let column = line.chars().position(|c| c == '\t').unwrap_or(0) as u32 + 1;
        let line_no = n as u32 + 1;
        return SyntaxError {
            message: format!(
                "line {line_no} is indented with a tab: YAML indents with spaces only ({message})"
            ),
            span: Span::new(line_no, column, offset_at(text, line_no, column), 1),
        };
    }
    if message.contains("flow mapping") || message.contains("flow sequence") {
        let (open, close) = if message.contains("flow mapping") {
            ('{', '}')
        } else {
            ('[', ']')
        };
        // The bracket left open: the last one before the error that is not closed.
        let mut depth = 0i32;
        let mut opened = None;
        for (i, c) in text[..span.offset.min(text.len())].char_indices().rev() {
            if c == close {
                depth += 1;
            } else if c == open {
                if depth == 0 {
                    opened = Some(i);
                    break;
                }
                depth -= 1;
            }
        }
        if let Some(at) = opened {
            let line = text[..at].matches('\n').count() as u32 + 1;
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let column = text[line_start..at].chars().count() as u32 + 1;
            return SyntaxError {
                message: format!(
                    "the `{open}` at line {line}, column {column} is not closed by a `{close}` ({message})"
                ),
                span: Span::new(line, column, at, 1),
            };
        }
    }
    if message.contains("multiple YAML documents") {
        return SyntaxError {
            message: "a pipeline file holds one YAML document; a second one starts here (remove the `---` and what follows, or merge it into the first)".into(),
            span,
        };
    }
    if let serde_saphyr::Error::Budget { breach, .. } = error {
        let what = match breach {
            serde_saphyr::budget::BudgetBreach::Nodes { .. } => format!(
                "the pipeline holds more than {MAX_NODES} YAML nodes (each key, value and list item is one), the most a pipeline file may hold"
            ),
            serde_saphyr::budget::BudgetBreach::Depth { .. } => format!(
                "the pipeline nests mappings and lists more than {MAX_DEPTH} levels deep, the most a pipeline file may"
            ),
            other => format!("the pipeline is too large for the YAML reader's limits ({other:?})"),
        };
        return SyntaxError {
            message: what,
            span,
        };
    }
    SyntaxError { message, span }
}

/// The original error below the snippet and alias wrappers, whose message has no position.
fn unwrap_error(error: &serde_saphyr::Error) -> &serde_saphyr::Error {
    let mut e = error.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = e {
        e = error.without_snippet();
    }
    e
}

fn span_of(location: &serde_saphyr::Location) -> Span {
    let span = location.span();
    Span {
        line: u32::try_from(location.line()).unwrap_or(u32::MAX),
        column: u32::try_from(location.column()).unwrap_or(u32::MAX),
        offset: span
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
            .unwrap_or(0),
        len: span
            .byte_len()
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(0),
    }
}

/// `Spanned<Node>` children keep the position of the text that defines them.
fn unspan(spanned: serde_saphyr::Spanned<Node>) -> Node {
    let mut node = spanned.value;
    node.span = span_of(&spanned.defined);
    node
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(leaf(Kind::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(leaf(Kind::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        Ok(leaf(Kind::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Node, E> {
        Ok(leaf(Kind::Num(n.into())))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Node, E> {
        Ok(leaf(Kind::Num(n.into())))
    }

    fn visit_i128<E: de::Error>(self, n: i128) -> Result<Node, E> {
        match i64::try_from(n) {
            Ok(n) => self.visit_i64(n),
            Err(_) => self.visit_f64(n as f64),
        }
    }

    fn visit_u128<E: de::Error>(self, n: u128) -> Result<Node, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => self.visit_f64(n as f64),
        }
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        Number::from_f64(n)
            .map(|n| leaf(Kind::Num(n)))
            .ok_or_else(|| E::custom("a number that is not finite (.nan, .inf) is not allowed"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Node, E> {
        Ok(leaf(Kind::Str(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Node, E> {
        Ok(leaf(Kind::Str(s)))
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Node, E> {
        Ok(leaf(Kind::Str(String::from_utf8_lossy(b).into_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_saphyr::Spanned<Node>>()? {
            items.push(unspan(item));
        }
        Ok(leaf(Kind::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<serde_saphyr::Spanned<String>>()? {
            let value = map.next_value::<serde_saphyr::Spanned<Node>>()?;
            entries.push((
                Key {
                    name: key.value,
                    span: span_of(&key.defined),
                },
                unspan(value),
            ));
        }
        Ok(leaf(Kind::Map(entries)))
    }
}

/// A node whose position is filled in by the enclosing `Spanned`.
fn leaf(kind: Kind) -> Node {
    Node::new(kind, Span::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get<'a>(node: &'a Node, key: &str) -> &'a Node {
        match &node.kind {
            Kind::Map(entries) => &entries.iter().find(|(k, _)| k.name == key).unwrap().1,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn positions_of_keys_and_values() {
        let doc = parse("a: 1\nb:\n  - x\n  - {c: true}\n").unwrap();
        let Kind::Map(entries) = &doc.kind else {
            panic!()
        };
        assert_eq!((entries[1].0.span.line, entries[1].0.span.column), (2, 1));
        let b = get(&doc, "b");
        let Kind::Seq(items) = &b.kind else { panic!() };
        assert_eq!((items[0].span.line, items[0].span.column), (3, 5));
        assert_eq!(items[0].span.offset, "a: 1\nb:\n  - ".len());
        assert_eq!(items[0].span.len, 1);
        let c = get(&items[1], "c");
        assert_eq!(c.kind, Kind::Bool(true));
        assert_eq!((c.span.line, c.span.column), (4, 9));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = "\
defaults: &defaults
  serial: true
  max_in_flight: 2
plan: &plan
  - get: repo
jobs:
  - name: a
    <<: *defaults
    max_in_flight: 3
    plan: *plan
";
        let doc = parse(text).unwrap();
        assert_eq!(
            doc.to_json()["jobs"][0],
            json!({"name": "a", "serial": true, "max_in_flight": 3, "plan": [{"get": "repo"}]})
        );
        // Merged and aliased values point at their definition.
        let Kind::Seq(jobs) = &get(&doc, "jobs").kind else {
            panic!()
        };
        assert_eq!(get(&jobs[0], "serial").span.line, 2);
        assert_eq!(get(&jobs[0], "max_in_flight").span.line, 9);
        let Kind::Seq(plan) = &get(&jobs[0], "plan").kind else {
            panic!()
        };
        assert_eq!(get(&plan[0], "get").span.line, 5);
    }

    #[test]
    fn duplicate_keys_are_kept_for_reporting() {
        let doc = parse("a: 1\na: 2\n").unwrap();
        let Kind::Map(entries) = &doc.kind else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(doc.to_json(), json!({"a": 1}));
    }

    #[test]
    fn syntax_errors_have_a_position_and_a_bare_message() {
        let e = parse("a:\n  - b: 1\n   c: 2\n").unwrap_err();
        assert_eq!((e.span.line, e.span.column), (3, 4));
        assert!(e.message.contains("expected '-'"), "{}", e.message);
        assert!(!e.message.contains("line 3"), "{}", e.message);

        let e = parse("a: *nope\n").unwrap_err();
        assert_eq!((e.span.line, e.span.column), (1, 4));
        assert!(e.message.contains("unknown anchor"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_point_at_their_cause_and_say_what_to_do() {
        let text = "environments: [dev]\njobs:\n  - name: j\n\tenvironment: dev\n";
        let e = parse(text).unwrap_err();
        assert_eq!((e.span.line, e.span.column), (4, 1));
        assert_eq!(
            e.span.offset,
            text.find('\t').unwrap(),
            "the snippet shows the tab"
        );
        assert!(
            e.message
                .starts_with("line 4 is indented with a tab: YAML indents with spaces only"),
            "{}",
            e.message
        );

        let text = "environments: [dev]\njobs: {a: 1\n  - name: j\n";
        let e = parse(text).unwrap_err();
        assert_eq!((e.span.line, e.span.column), (2, 7));
        assert_eq!(e.span.offset, text.find('{').unwrap());
        assert!(
            e.message
                .starts_with("the `{` at line 2, column 7 is not closed by a `}`"),
            "{}",
            e.message
        );

        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.span.line, 3);
        assert!(
            e.message
                .starts_with("a pipeline file holds one YAML document"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("from_str"), "{}", e.message);

        // Any other error's snippet is where its position says, not at the top of the file.
        let e = parse("a: 1\nb:\n  - c\n  d: 2\n").unwrap_err();
        assert!(e.span.line > 1);
        assert_eq!(
            e.span.offset,
            offset_at("a: 1\nb:\n  - c\n  d: 2\n", e.span.line, e.span.column)
        );
        assert!(e.span.offset > 0);
    }

    #[test]
    fn size_limits_are_generous() {
        // A valid file of 300,000 nodes (more than the reader's default budget) is read.
        let big: String = (0..150_000).map(|i| format!("k{i}: v\n")).collect();
        assert!(parse(&big).is_ok());
    }

    #[test]
    fn nesting_is_limited_and_named() {
        // A thread of 2 MiB (tokio's workers, test threads) parses up to the limit.
        let at_limit = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let deep = format!(
                    "{}1{}",
                    "[".repeat(MAX_DEPTH - 1),
                    "]".repeat(MAX_DEPTH - 1)
                );
                parse(&format!("a: {deep}\n")).is_ok()
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(at_limit);
        let e = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let deep = format!(
                    "{}1{}",
                    "[".repeat(MAX_DEPTH + 1),
                    "]".repeat(MAX_DEPTH + 1)
                );
                parse(&format!("a: {deep}\n")).unwrap_err()
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(
            e.message
                .starts_with("the pipeline nests mappings and lists more than 32 levels deep"),
            "{}",
            e.message
        );
        assert_eq!(e.span.line, 1);
        assert!(e.span.offset > 0);
    }

    #[test]
    fn scalars_keep_their_yaml_types() {
        let doc = parse("a: 1\nb: 1.5\nc: '1'\nd: ~\ne:\nf: yes\ng: \"x\"\n").unwrap();
        assert_eq!(
            doc.to_json(),
            json!({"a": 1, "b": 1.5, "c": "1", "d": null, "e": null, "f": true, "g": "x"})
        );
    }

    #[test]
    fn pointers_are_escaped_rfc_6901() {
        let doc = parse("a/b:\n  - x\nc~d: 1\n").unwrap();
        let mut seen = Vec::new();
        doc.visit_pointers(&mut |p, n, k| {
            seen.push((p.to_owned(), n.span.line, k.map(|k| k.name.clone())))
        });
        assert_eq!(
            seen,
            vec![
                (String::new(), 1, None),
                ("/a~1b".into(), 2, Some("a/b".into())),
                ("/a~1b/0".into(), 2, None),
                ("/c~0d".into(), 3, Some("c~d".into())),
            ]
        );
    }
}
