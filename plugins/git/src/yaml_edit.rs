//! Setting one scalar of a YAML document in place: every other byte (comments, key order,
//! indentation, line endings, the quoting of other values) is kept.
//!
//! The document is read with `granit-parser`, which gives each scalar's byte range; the new
//! value replaces exactly that range, written plain when that reads back as the same string
//! (or, in place of a plain number, boolean or date, as one of the same kind: `replicas: 3`
//! becomes `replicas: 5`), else quoted. Every edit is checked by reading the result back. What cannot be edited
//! safely (aliases and anchors on the path, duplicate keys, several documents, tags other
//! than `!!str`) is refused with an [`EditError`] naming the key path.

use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, StrInput, StructureStyle};

/// Why a value could not be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    key_path: String,
    position: Option<(usize, usize)>,
    reason: String,
}

impl EditError {
    fn new(key_path: &str, at: Option<&Span>, reason: impl Into<String>) -> Self {
        Self {
            key_path: key_path.to_string(),
            position: at.map(|span| (span.start.line(), span.start.col() + 1)),
            reason: reason.into(),
        }
    }

    /// The key path that was to be set.
    pub fn key_path(&self) -> &str {
        &self.key_path
    }

    /// Where in the document the problem is: line and column, both from 1 (columns count
    /// characters).
    pub fn position(&self) -> Option<(usize, usize)> {
        self.position
    }

    /// What is wrong, without the key path and position.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot set `{}`", self.key_path)?;
        if let Some((line, column)) = self.position {
            write!(f, " at {line}:{column}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for EditError {}

/// Sets the scalar at `key_path` in the YAML document `text` to the string `value`.
///
/// `key_path` is dot-separated mapping keys; a numeric segment indexes a sequence
/// (`images.app.digest`, `apps.0.tag`). Returns `Ok(None)` when the scalar already is `value`
/// (compared after unquoting: `'1.2'` is `1.2`), else the new text, in which only that scalar
/// changed. The value is written plain when that reads back as the same string (not a
/// number, boolean or null in YAML 1.1 or 1.2, no indicator, no `: ` or ` #`, ...) or when it
/// replaces a plain number, boolean or date by one of the same kind (its type kept), else
/// double-quoted with escapes; a single-quoted old value stays single-quoted where that can
/// hold the new one, a double-quoted one double-quoted. A block scalar (`|`, `>`) is replaced
/// whole by a double-quoted scalar; an empty value (`key:`) gets the value.
///
/// Errors, each naming `key_path` and, where there is one, the line and column: a missing
/// key or item, a value that is a mapping or sequence, a path through a scalar, a key present
/// twice, an anchor or alias on the path, a tag other than `!!str`, a stream with more than
/// one document (or none), and a document that does not parse.
pub fn set_value(text: &str, key_path: &str, value: &str) -> Result<Option<String>, EditError> {
    let segments = split_key_path(key_path)?;
    let root = read(text, key_path)?;
    let target = locate(&root, &segments, key_path)?;
    let Kind::Scalar {
        value: old,
        style,
        header_from,
        ..
    } = &target.node.kind
    else {
        unreachable!("locate returns scalars");
    };
    let null = target.node.span.is_empty() && *style == ScalarStyle::Plain;
    if !null && old == value {
        return Ok(None);
    }
    let range = target
        .node
        .span
        .byte_range()
        .expect("a parser over a str gives byte offsets");
    for scalar in candidates(value, old, *style, target.node.flow) {
        let edited = match style {
            _ if null => Some(insert_into_empty(text, range.start, target.slot, &scalar)),
            ScalarStyle::Literal | ScalarStyle::Folded => {
                replace_block_scalar(text, *header_from, range.clone(), &scalar)
            }
            _ => Some(format!(
                "{}{scalar}{}",
                &text[..range.start],
                &text[range.end..]
            )),
        };
        if let Some(edited) = edited
            && reads_back(&root, target.node, &edited, &segments, key_path, value)
        {
            return Ok(Some(edited));
        }
    }
    Err(EditError::new(
        key_path,
        Some(&target.node.span),
        "writing the value in place did not give a document that reads back with it (please report this, with the document)",
    ))
}

/// The segments of a key path; none may be empty.
fn split_key_path(key_path: &str) -> Result<Vec<&str>, EditError> {
    if key_path.is_empty() {
        return Err(EditError::new(key_path, None, "the key path is empty"));
    }
    let segments: Vec<&str> = key_path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(EditError::new(
            key_path,
            None,
            "the key path has an empty segment (a leading, trailing or doubled `.`)",
        ));
    }
    Ok(segments)
}

/// Whether the edited document `text` reads back as `before` with `value` at `segments`:
/// the same nodes, values, styles of collections and anchors, except the target.
fn reads_back(
    before: &Node,
    target: &Node,
    text: &str,
    segments: &[&str],
    key_path: &str,
    value: &str,
) -> bool {
    let Ok(root) = read(text, key_path) else {
        return false;
    };
    let Ok(edited) = locate(&root, segments, key_path) else {
        return false;
    };
    if edited.node.span.is_empty()
        || !matches!(&edited.node.kind, Kind::Scalar { value: v, .. } if v == value)
    {
        return false;
    }
    let (mut old, mut new) = (Vec::new(), Vec::new());
    outline(before, target, &mut old);
    outline(&root, edited.node, &mut new);
    old == new
}

/// What [`outline`] lists for a node: what it is, a scalar's value, whether it is anchored.
type Token<'n> = (&'n str, Option<&'n str>, bool);

/// The document as a list of tokens (the node `skip` as `None`), to compare documents.
fn outline<'n>(node: &'n Node, skip: &Node, out: &mut Vec<Option<Token<'n>>>) {
    if std::ptr::eq(node, skip) {
        out.push(None);
        return;
    }
    let token = |what, value| Some((what, value, node.anchored));
    match &node.kind {
        Kind::Scalar { value, .. } => out.push(token("scalar", Some(value.as_str()))),
        Kind::Alias => out.push(token("alias", None)),
        Kind::Sequence(items) => {
            out.push(token(if node.flow { "[" } else { "-" }, None));
            for item in items {
                outline(item, skip, out);
            }
            out.push(token("end", None));
        }
        Kind::Mapping(pairs) => {
            out.push(token(if node.flow { "{" } else { ":" }, None));
            for (key, value) in pairs {
                outline(key, skip, out);
                outline(value, skip, out);
            }
            out.push(token("end", None));
        }
    }
}

/// A node of the document, with what editing needs.
struct Node {
    kind: Kind,
    /// Where it is: a scalar's source text, a flow collection's opening bracket, a block
    /// collection's first entry (empty).
    span: Span,
    /// Whether it has an anchor (`&name`).
    anchored: bool,
    /// Whether it is in flow context (a flow collection or inside one).
    flow: bool,
}

enum Kind {
    Scalar {
        /// The value after unquoting and escape processing.
        value: String,
        style: ScalarStyle,
        /// The tag as written (`!!int`), unless absent or `!!str`.
        other_tag: Option<String>,
        /// The end of the event before this one: a block scalar's header is after it.
        header_from: usize,
    },
    Mapping(Vec<(Node, Node)>),
    Sequence(Vec<Node>),
    Alias,
}

impl Node {
    fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn what(&self) -> &'static str {
        match self.kind {
            Kind::Scalar { .. } => "a scalar",
            Kind::Mapping(_) => "a mapping",
            Kind::Sequence(_) => "a sequence",
            Kind::Alias => "an alias",
        }
    }
}

/// Reads the one document of `text`.
fn read(text: &str, key_path: &str) -> Result<Node, EditError> {
    let mut reader = Reader {
        events: Parser::new_from_str(text),
        key_path,
        last_end: 0,
    };
    let mut root = None;
    loop {
        let (event, span, _) = reader.next()?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(..) if root.is_some() => {
                return Err(EditError::new(
                    key_path,
                    Some(&span),
                    "the file has more than one YAML document (`---`); only single-document files can be edited",
                ));
            }
            Event::DocumentStart(..) => {
                let (event, span, prev_end) = reader.next()?;
                root = Some(reader.node(event, span, prev_end, false)?);
            }
            _ => {}
        }
    }
    root.ok_or_else(|| EditError::new(key_path, None, "the file has no YAML document"))
}

/// The parser's events, as nodes.
struct Reader<'t> {
    events: Parser<'t, StrInput<'t>>,
    key_path: &'t str,
    /// The byte offset where the last event ended.
    last_end: usize,
}

impl<'t> Reader<'t> {
    /// The next structural event (comments and anchor metadata skipped), its span and the
    /// end of the event before it.
    fn next(&mut self) -> Result<(Event<'t>, Span, usize), EditError> {
        loop {
            let (event, span) = match self.events.next() {
                Some(Ok(next)) => next,
                Some(Err(e)) => return Err(self.parse_error(&e)),
                None => {
                    return Err(EditError::new(
                        self.key_path,
                        None,
                        "the YAML does not parse: it ends unexpectedly",
                    ));
                }
            };
            let prev_end = self.last_end;
            if let Some(range) = span.byte_range() {
                self.last_end = range.end;
            }
            match event {
                Event::StreamStart
                | Event::StreamEnd
                | Event::DocumentStart(..)
                | Event::DocumentEnd
                | Event::Alias(_)
                | Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::SequenceEnd
                | Event::MappingStart(..)
                | Event::MappingEnd => return Ok((event, span, prev_end)),
                _ => {}
            }
        }
    }

    fn parse_error(&self, e: &ScanError) -> EditError {
        let mark = e.marker();
        EditError {
            key_path: self.key_path.to_string(),
            position: Some((mark.line(), mark.col() + 1)),
            reason: format!("the YAML does not parse: {}", e.info()),
        }
    }

    /// The node starting with `event`, reading its children.
    fn node(
        &mut self,
        event: Event<'t>,
        span: Span,
        prev_end: usize,
        flow: bool,
    ) -> Result<Node, EditError> {
        let (kind, anchor, flow) = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let other_tag = tag
                    .filter(|t| !t.is_yaml_core_schema_tag("str"))
                    .map(|t| t.original());
                let kind = Kind::Scalar {
                    value: value.into_owned(),
                    style,
                    other_tag,
                    header_from: prev_end,
                };
                (kind, anchor, flow)
            }
            Event::Alias(_) => (Kind::Alias, 0, flow),
            Event::SequenceStart(style, anchor, _) => {
                let flow = flow || style == StructureStyle::Flow;
                let mut items = Vec::new();
                loop {
                    let (event, span, prev_end) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, span, prev_end, flow)?);
                }
                (Kind::Sequence(items), anchor, flow)
            }
            Event::MappingStart(style, anchor, _) => {
                let flow = flow || style == StructureStyle::Flow;
                let mut pairs = Vec::new();
                loop {
                    let (event, span, prev_end) = self.next()?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(event, span, prev_end, flow)?;
                    let (event, span, prev_end) = self.next()?;
                    pairs.push((key, self.node(event, span, prev_end, flow)?));
                }
                (Kind::Mapping(pairs), anchor, flow)
            }
            other => {
                return Err(EditError::new(
                    self.key_path,
                    Some(&span),
                    format!("the YAML does not parse: unexpected {other:?}"),
                ));
            }
        };
        Ok(Node {
            kind,
            span,
            anchored: anchor != 0,
            flow,
        })
    }
}

/// Where the target is in its parent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    MappingValue,
    SequenceItem,
}

struct Target<'n> {
    node: &'n Node,
    slot: Slot,
}

/// The scalar at `segments`.
fn locate<'n>(root: &'n Node, segments: &[&str], key_path: &str) -> Result<Target<'n>, EditError> {
    let err = |node: &Node, reason: String| EditError::new(key_path, Some(&node.span), reason);
    let mut node = root;
    let mut slot = Slot::MappingValue;
    for (i, &segment) in segments.iter().enumerate() {
        let name = if i == 0 {
            "the top level of the document".to_string()
        } else {
            format!("`{}`", segments[..i].join("."))
        };
        check_no_anchor_or_alias(node, &name, key_path)?;
        match &node.kind {
            Kind::Mapping(pairs) => {
                let mut found = pairs.iter().filter(|(k, _)| k.scalar() == Some(segment));
                let Some((first_key, value)) = found.next() else {
                    let merge = pairs.iter().any(|(k, _)| k.scalar() == Some("<<"));
                    let hint = if merge {
                        " (the mapping has a merge key `<<`: a merged value cannot be set, set it where it is defined)"
                    } else {
                        ""
                    };
                    return Err(err(
                        node,
                        format!("there is no key `{segment}` in {name}{hint}"),
                    ));
                };
                if let Some((again, _)) = found.next() {
                    return Err(err(
                        again,
                        format!(
                            "the key `{segment}` appears more than once in {name} (lines {} and {})",
                            first_key.span.start.line(),
                            again.span.start.line()
                        ),
                    ));
                }
                node = value;
                slot = Slot::MappingValue;
            }
            Kind::Sequence(items) => {
                let index = segment
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| segment.parse::<usize>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        err(
                            node,
                            format!(
                                "{name} is a sequence: `{segment}` is not an item number (0, 1, ...)"
                            ),
                        )
                    })?;
                node = items.get(index).ok_or_else(|| {
                    err(
                        node,
                        format!(
                            "{name} is a sequence of {} items: there is no item {index}",
                            items.len()
                        ),
                    )
                })?;
                slot = Slot::SequenceItem;
            }
            _ => {
                return Err(err(
                    node,
                    format!(
                        "{name} is {}, not a mapping or a sequence: it has no `{segment}`",
                        node.what()
                    ),
                ));
            }
        }
    }
    let name = format!("`{key_path}`");
    check_no_anchor_or_alias(node, &name, key_path)?;
    match &node.kind {
        Kind::Scalar {
            other_tag: Some(tag),
            ..
        } => Err(err(
            node,
            format!("{name} has the tag `{tag}`: only untagged and `!!str` scalars can be set"),
        )),
        Kind::Scalar { .. } => Ok(Target { node, slot }),
        _ => Err(err(
            node,
            format!(
                "{name} is {}, not a scalar: name a scalar under it",
                node.what()
            ),
        )),
    }
}

fn check_no_anchor_or_alias(node: &Node, name: &str, key_path: &str) -> Result<(), EditError> {
    let reason = if matches!(node.kind, Kind::Alias) {
        format!("{name} is an alias (`*name`): set the value where its anchor is")
    } else if node.anchored {
        format!("{name} has an anchor (`&name`): setting it would change its aliases too")
    } else {
        return Ok(());
    };
    Err(EditError::new(key_path, Some(&node.span), reason))
}

/// The ways to write `value` in the place of the scalar `old` of `style`, best first.
///
/// A plain number, boolean or timestamp replaced by one of the same kind stays plain, so
/// that its type does not change (`replicas: 3` → `replicas: 5`, not `"5"`); a plain string
/// stays a string (`tag: v1` → `tag: "2"`).
fn candidates(value: &str, old: &str, style: ScalarStyle, flow: bool) -> Vec<String> {
    let mut out = Vec::new();
    match style {
        ScalarStyle::Plain if plain_ok(value, flow) => out.push(value.to_string()),
        ScalarStyle::Plain
            if plain_syntax_ok(value.strip_prefix(['-', '+']).unwrap_or(value), flow)
                && typed_kind(old).is_some()
                && typed_kind(old) == typed_kind(value) =>
        {
            out.push(value.to_string());
        }
        ScalarStyle::SingleQuoted if single_ok(value) => {
            out.push(format!("'{}'", value.replace('\'', "''")));
        }
        _ => {}
    }
    out.push(double_quoted(value));
    out
}

/// Whether `value` written plain reads back as the same string, in every YAML 1.1 and 1.2
/// reader (conservative: quoting when in doubt).
fn plain_ok(value: &str, flow: bool) -> bool {
    plain_syntax_ok(value, flow) && !resolves_to_non_string(value)
}

/// What a plain scalar that is not a string resolves to, roughly: `None` for a string.
#[derive(Debug, PartialEq, Eq)]
enum Typed {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
}

/// The kind of the plain scalar `value` when it is not a string.
fn typed_kind(value: &str) -> Option<Typed> {
    if !resolves_to_non_string(value) {
        return None;
    }
    const NULLS: &[&str] = &["~", "null", "Null", "NULL"];
    if NULLS.contains(&value) {
        return Some(Typed::Null);
    }
    if value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
    {
        return Some(Typed::Bool);
    }
    let bytes = value.as_bytes();
    if bytes.len() >= 6 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
        return Some(Typed::Timestamp);
    }
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    if unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        || unsigned.starts_with("0x")
        || unsigned.starts_with("0o")
        || unsigned.starts_with("0b")
    {
        Some(Typed::Int)
    } else {
        Some(Typed::Float)
    }
}

/// Whether `value` can be written plain at all (no indicator, no `: ` or ` #`, one line).
fn plain_syntax_ok(value: &str, flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || value.starts_with(' ')
        || value.ends_with(' ')
        || value.chars().any(|c| !literal_ok(c) || c == '\t')
        || value.contains(": ")
        || value.ends_with(':')
        || value.contains(" #")
        || (flow && value.contains([',', '[', ']', '{', '}']))
    {
        return false;
    }
    true
}

/// Whether `value` fits between single quotes on one line.
fn single_ok(value: &str) -> bool {
    value.chars().all(|c| literal_ok(c) && c != '\t')
}

/// Whether `c` may be written as is inside a scalar on one line: printable, not a line
/// break (YAML 1.1 also breaks lines at U+0085, U+2028, U+2029), not a byte order mark.
fn literal_ok(c: char) -> bool {
    matches!(c, '\t' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `value` double-quoted, escaped.
fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if literal_ok(c) => out.push(c),
            c if u32::from(c) <= 0xff => out.push_str(&format!("\\x{:02X}", u32::from(c))),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Whether the plain scalar `value` is a null, a boolean, a number or a timestamp in YAML 1.2
/// (core schema) or YAML 1.1 (still what many readers use: `yes`, `on`, `0777`, `1:30`,
/// `1_000`, `2024-01-01`), or one of YAML 1.1's special keys (`<<`, `=`).
fn resolves_to_non_string(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        "<<", "=",
    ];
    if WORDS.contains(&value) {
        return true;
    }
    let bytes = value.as_bytes();
    // Timestamps (YAML 1.1): `2024-01-01`, `2024-1-1T10:00:00Z`, ...
    if bytes.len() >= 6 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
        return true;
    }
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let lower = unsigned.to_ascii_lowercase();
    if lower == ".inf" || lower == ".nan" {
        return true;
    }
    for prefix in ["0x", "0o", "0b"] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            return !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
        }
    }
    // Integers and floats, with YAML 1.1's `_` separators and base-60 `:` groups.
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = mantissa.bytes().any(|b| b.is_ascii_digit())
        && mantissa
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'_' | b':' | b'.'))
        && mantissa.bytes().filter(|&b| b == b'.').count() <= 1;
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// `text` with `scalar` put in the empty (null) value at `at`: after the `:` of a mapping
/// value (the parser puts an empty value right after its key, or at the `:` of an explicit
/// `? key`), after the `-` of a sequence item or the properties (`!!str`) of a node.
fn insert_into_empty(text: &str, at: usize, slot: Slot, scalar: &str) -> String {
    let bytes = text.as_bytes();
    let mut at = at;
    if slot == Slot::MappingValue {
        let mut colon = at;
        while matches!(bytes.get(colon), Some(b' ' | b'\t')) {
            colon += 1;
        }
        if bytes.get(colon) == Some(&b':') {
            at = colon + 1;
            if bytes.get(at) == Some(&b' ') {
                at += 1;
            }
        }
    }
    let before = if at > 0 && matches!(bytes[at - 1], b' ' | b'\t') {
        ""
    } else {
        " "
    };
    let after = if bytes.get(at) == Some(&b'#') {
        " "
    } else {
        ""
    };
    format!("{}{before}{scalar}{after}{}", &text[..at], &text[at..])
}

/// `text` with the block scalar whose content is `content` (its header, `|` or `>` with
/// indicators, is after `header_from`) replaced by `scalar` on the header's line. A comment
/// after the header, blank lines and comments after the content are kept.
fn replace_block_scalar(
    text: &str,
    header_from: usize,
    content: std::ops::Range<usize>,
    scalar: &str,
) -> Option<String> {
    let bytes = text.as_bytes();
    // Find the indicator, skipping comments and properties (tags may hold `>`).
    let mut at = header_from;
    let mut token_start = true;
    let header = loop {
        // An empty block scalar's span may hold its header.
        if at >= content.end.max(content.start) {
            return None;
        }
        match bytes[at] {
            b'|' | b'>' => break at,
            b'#' if token_start => {
                while at < bytes.len() && !matches!(bytes[at], b'\n' | b'\r') {
                    at += 1;
                }
            }
            b'!' | b'&' if token_start => {
                while at < bytes.len() && !matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
                    at += 1;
                }
            }
            b => {
                token_start = matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b':' | b'-' | b'?');
                at += 1;
            }
        }
    };
    let mut header_end = header + 1;
    while matches!(bytes.get(header_end), Some(b'-' | b'+' | b'0'..=b'9')) {
        header_end += 1;
    }
    let line_end = |from: usize| {
        bytes[from..]
            .iter()
            .position(|&b| matches!(b, b'\n' | b'\r'))
            .map_or(bytes.len(), |i| from + i)
    };
    let header_line_end = line_end(header_end);
    let from = content.start.max(header_line_end);
    let last_content = bytes[from..content.end.max(from)]
        .iter()
        .rposition(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .map(|i| from + i);
    let mut out = format!("{}{scalar}", &text[..header]);
    match last_content {
        Some(last) if last > header_line_end => {
            out.push_str(&text[header_end..header_line_end]);
            out.push_str(&text[line_end(last)..]);
        }
        _ => out.push_str(&text[header_end..]),
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edited text.
    fn set(text: &str, key_path: &str, value: &str) -> String {
        match set_value(text, key_path, value) {
            Ok(Some(edited)) => edited,
            other => panic!("{key_path} = {value:?} in {text:?}: {other:?}"),
        }
    }

    /// The error's message.
    fn error(text: &str, key_path: &str) -> String {
        match set_value(text, key_path, "x") {
            Err(e) => e.to_string(),
            Ok(other) => panic!("{key_path} in {text:?}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn nested_mappings_keep_everything_else() {
        let text = "\
# Values for prod.
images:
  app:   # the main app
    repository: registry.example.com/app
    digest: sha256:aaa   # pinned
  sidecar:
    digest: sha256:bbb
replicas: 3
";
        let edited = set(text, "images.app.digest", "sha256:ccc");
        assert_eq!(
            edited,
            text.replace(
                "digest: sha256:aaa   # pinned",
                "digest: sha256:ccc   # pinned"
            )
        );
        assert_eq!(
            set(text, "replicas", "4"),
            text.replace("replicas: 3", "replicas: 4")
        );
    }

    #[test]
    fn unchanged_value_is_none() {
        let text = "a:\n  b: '1.2'\n  c: \"x\"\n  d: plain # c\n  e: |\n    two\n    lines\n";
        assert_eq!(set_value(text, "a.b", "1.2"), Ok(None));
        assert_eq!(set_value(text, "a.c", "x"), Ok(None));
        assert_eq!(set_value(text, "a.d", "plain"), Ok(None));
        assert_eq!(set_value(text, "a.e", "two\nlines\n"), Ok(None));
        assert!(set_value(text, "a.d", "plain2").unwrap().is_some());
    }

    #[test]
    fn sequences_of_mappings() {
        let text = "apps:\n  - name: web\n    tag: v1\n  - name: api\n    tag: v1 # keep\n";
        assert_eq!(
            set(text, "apps.1.tag", "v2"),
            "apps:\n  - name: web\n    tag: v1\n  - name: api\n    tag: v2 # keep\n"
        );
        assert_eq!(set("- a\n- b\n", "1", "c"), "- a\n- c\n");
        // A key `0` in a mapping is a key, not an index.
        assert_eq!(set("m:\n  0: a\n", "m.0", "b"), "m:\n  0: b\n");
        assert_eq!(
            set("top:\n- x: 1\n-   y: 2\n", "top.1.y", "three"),
            "top:\n- x: 1\n-   y: three\n"
        );
    }

    #[test]
    fn a_plain_number_boolean_or_date_keeps_its_type() {
        assert_eq!(
            set("replicas: 3 # n\n", "replicas", "5"),
            "replicas: 5 # n\n"
        );
        assert_eq!(set("delta: 3\n", "delta", "-2"), "delta: -2\n");
        assert_eq!(set("ratio: 0.5\n", "ratio", "0.75"), "ratio: 0.75\n");
        assert_eq!(set("on: true\n", "on", "false"), "on: false\n");
        assert_eq!(
            set("day: 2024-01-01\n", "day", "2025-02-03"),
            "day: 2025-02-03\n"
        );
        // Another kind, or a string before: quoted, so a string stays a string.
        assert_eq!(
            set("replicas: 3\n", "replicas", "true"),
            "replicas: \"true\"\n"
        );
        assert_eq!(set("tag: v1\n", "tag", "2"), "tag: \"2\"\n");
        assert_eq!(set("ratio: 0.5\n", "ratio", "1"), "ratio: \"1\"\n");
        // A quoted number stays quoted.
        assert_eq!(set("port: '80'\n", "port", "8080"), "port: '8080'\n");
    }

    #[test]
    fn quote_styles() {
        // Single-quoted stays single-quoted, quotes doubled.
        assert_eq!(set("a: 'v1'\n", "a", "it's"), "a: 'it''s'\n");
        // ... unless it cannot hold the value.
        assert_eq!(set("a: 'v1'\n", "a", "x\ny"), "a: \"x\\ny\"\n");
        // Double-quoted stays double-quoted, escaped.
        assert_eq!(set("a: \"v1\"\n", "a", "v2"), "a: \"v2\"\n");
        assert_eq!(
            set("a: \"v1\"\n", "a", "say \"hi\"\\\t\u{7}é\u{2028}\u{feff}"),
            "a: \"say \\\"hi\\\"\\\\\\t\\aé\\L\\uFEFF\"\n"
        );
        // Multi-line quoted and plain scalars are replaced whole.
        assert_eq!(
            set("a: \"multi\n  line\"\nb: 1\n", "a", "one"),
            "a: \"one\"\nb: 1\n"
        );
        assert_eq!(
            set("a: multi\n  line\n  plain\nb: 1\n", "a", "one"),
            "a: one\nb: 1\n"
        );
    }

    #[test]
    fn plain_only_when_it_reads_back_as_a_string() {
        for plain in [
            "v1.2.3",
            "1.2.3",
            "sha256:0123abcd",
            "registry:5000/app@sha256:ab",
            "0123abc",
            "latest",
            "a b",
            "a#b",
            "a:b",
            "naïve",
            ".",
            "1e",
            "x-1",
        ] {
            assert_eq!(
                set("k: old\n", "k", plain),
                format!("k: {plain}\n"),
                "{plain}"
            );
        }
        for quoted in [
            "",
            " lead",
            "trail ",
            "true",
            "False",
            "yes",
            "off",
            "Y",
            "n",
            "null",
            "~",
            "<<",
            "=",
            "1",
            "-1",
            "+1",
            "1.5",
            "1.",
            ".5",
            "1e5",
            "123e456",
            "1E+3",
            "0x1F",
            "0o17",
            "0b101",
            "0777",
            "1_000",
            "1:30",
            "12:30:45",
            ".inf",
            "-.Inf",
            ".NaN",
            "2024-01-01",
            "2024-01-01T10:00:00Z",
            "-x",
            "?x",
            ":x",
            "#x",
            "&a",
            "*a",
            "!t",
            "|",
            ">",
            "'q",
            "\"q",
            "%x",
            "@x",
            "`x",
            "[x",
            "{x",
            "a: b",
            "a:",
            "a #b",
            "a\tb",
            "two\nlines",
            "nbsp\u{85}",
        ] {
            let edited = set("k: old\n", "k", quoted);
            assert!(edited.starts_with("k: \""), "{quoted:?}: {edited:?}");
            assert_eq!(set_value(&edited, "k", quoted), Ok(None), "{quoted:?}");
        }
    }

    #[test]
    fn flow_collections() {
        assert_eq!(
            set("image: {name: app, tag: v1}\n", "image.tag", "v2"),
            "image: {name: app, tag: v2}\n"
        );
        assert_eq!(set("tags: [a, b, c]\n", "tags.2", "d"), "tags: [a, b, d]\n");
        // Flow indicators need quotes in flow context only.
        assert_eq!(
            set("tags: [a, b]\n", "tags.0", "x,y"),
            "tags: [\"x,y\", b]\n"
        );
        assert_eq!(set("tag: a\n", "tag", "x,y"), "tag: x,y\n");
        assert_eq!(
            set("m: {a: {b: [1, {c: d}]}}\n", "m.a.b.1.c", "e"),
            "m: {a: {b: [1, {c: e}]}}\n"
        );
    }

    #[test]
    fn block_scalars_are_replaced_whole() {
        let text = "a: |\n  hello\n  world\n\n# comment\nb: 1\n";
        assert_eq!(set(text, "a", "bye"), "a: \"bye\"\n\n# comment\nb: 1\n");
        let text = "a:\n  b: >-  # folded\n    x\n    y\n  c: 1\n";
        assert_eq!(set(text, "a.b", "z"), "a:\n  b: \"z\"  # folded\n  c: 1\n");
        assert_eq!(set("- |+\n  x\n\n- y\n", "0", "z"), "- \"z\"\n\n- y\n");
        assert_eq!(set("a: !!str |\n  x\n", "a", "y"), "a: !!str \"y\"\n");
        // At the end of a file without a final line break.
        assert_eq!(set("a: |\n  x", "a", "y"), "a: \"y\"");
        assert_eq!(set("a: >\n", "a", "y"), "a: \"y\"\n");
        assert_eq!(set("a: >\nb: 1\n", "a", "y"), "a: \"y\"\nb: 1\n");
        assert_eq!(set("a: |", "a", "y"), "a: \"y\"");
        assert_eq!(set("- |\n- x\n", "0", "y"), "- \"y\"\n- x\n");
        assert_eq!(set("a: |-\n\n  x\n", "a", "y"), "a: \"y\"\n");
        assert_eq!(set("a: > # c |\n  x\n", "a", "y"), "a: \"y\" # c |\n");
    }

    #[test]
    fn empty_values_get_the_value() {
        assert_eq!(set("a:\nb: 1\n", "a", "x"), "a: x\nb: 1\n");
        assert_eq!(set("a: \nb: 1\n", "a", "x"), "a: x\nb: 1\n");
        assert_eq!(set("a: # todo\n", "a", "x"), "a: x # todo\n");
        assert_eq!(set("a:\n  -\n  - \n", "a.0", "x"), "a:\n  - x\n  - \n");
        assert_eq!(set("a:\n  -\n  - \n", "a.1", "x"), "a:\n  -\n  - x\n");
        assert_eq!(set("a: {b: , c: 1}\n", "a.b", "x"), "a: {b: x, c: 1}\n");
        assert_eq!(set("a: {b: }\n", "a.b", "x"), "a: {b: x}\n");
        assert_eq!(set("a:\n", "a", ""), "a: \"\"\n");
        assert_eq!(set("a:\r\nb: 1\r\n", "a", "x"), "a: x\r\nb: 1\r\n");
        assert_eq!(set("? a\n:\nb: 1\n", "a", "x"), "? a\n: x\nb: 1\n");
        assert_eq!(set("? a\n: # c\n", "a", "x"), "? a\n: x # c\n");
        assert_eq!(set("a: !!str\n", "a", "1"), "a: !!str \"1\"\n");
        assert!(error("? a\n", "a").contains("did not give a document that reads back"));
    }

    #[test]
    fn line_endings_and_documents_markers_are_kept() {
        let text = "a: 1\r\nb:\r\n  c: old # c\r\n  d: |\r\n    x\r\n    y\r\ne: 2\r\n";
        assert_eq!(
            set(text, "b.c", "new"),
            "a: 1\r\nb:\r\n  c: new # c\r\n  d: |\r\n    x\r\n    y\r\ne: 2\r\n"
        );
        assert_eq!(
            set(text, "b.d", "z"),
            "a: 1\r\nb:\r\n  c: old # c\r\n  d: \"z\"\r\ne: 2\r\n"
        );
        assert_eq!(
            set("%YAML 1.2\n---\na: 1\n...\n", "a", "x"),
            "%YAML 1.2\n---\na: x\n...\n"
        );
        assert_eq!(set("\u{feff}a: 1\n", "a", "x"), "\u{feff}a: x\n");
        assert_eq!(set("é: ü\nb: 1\n", "b", "ß"), "é: ü\nb: ß\n");
        assert_eq!(set("a:\t1\n", "a", "x"), "a:\tx\n");
    }

    #[test]
    fn str_tags_are_kept_other_tags_refused() {
        assert_eq!(set("a: !!str 1.0\n", "a", "1.1"), "a: !!str 1.1\n");
        assert_eq!(
            error("a: !!int 1\n", "a"),
            "cannot set `a` at 1:10: `a` has the tag `!!int`: only untagged and `!!str` scalars can be set"
        );
        assert!(error("a: !vault abc\n", "a").contains("has the tag `!vault`"));
    }

    #[test]
    fn missing_keys_and_items() {
        let text = "images:\n  app:\n    tag: v1\n";
        assert_eq!(
            error(text, "images.api.tag"),
            "cannot set `images.api.tag` at 2:3: there is no key `api` in `images`"
        );
        assert_eq!(
            error(text, "nope"),
            "cannot set `nope` at 1:1: there is no key `nope` in the top level of the document"
        );
        assert_eq!(
            error("l: [a]\n", "l.3"),
            "cannot set `l.3` at 1:4: `l` is a sequence of 1 items: there is no item 3"
        );
        assert_eq!(
            error("l: [a]\n", "l.x"),
            "cannot set `l.x` at 1:4: `l` is a sequence: `x` is not an item number (0, 1, ...)"
        );
        assert_eq!(
            error("l: [a]\n", "l.-1"),
            "cannot set `l.-1` at 1:4: `l` is a sequence: `-1` is not an item number (0, 1, ...)"
        );
        assert!(
            error("base: &b {tag: 1}\napp:\n  <<: *b\n", "app.tag")
                .ends_with("there is no key `tag` in `app` (the mapping has a merge key `<<`: a merged value cannot be set, set it where it is defined)")
        );
    }

    #[test]
    fn collections_and_scalars_in_the_wrong_place() {
        let text = "a:\n  b:\n    c: 1\n  l:\n    - 1\n";
        assert_eq!(
            error(text, "a.b"),
            "cannot set `a.b` at 3:5: `a.b` is a mapping, not a scalar: name a scalar under it"
        );
        assert_eq!(
            error(text, "a.l"),
            "cannot set `a.l` at 5:5: `a.l` is a sequence, not a scalar: name a scalar under it"
        );
        assert_eq!(
            error(text, "a.b.c.d"),
            "cannot set `a.b.c.d` at 3:8: `a.b.c` is a scalar, not a mapping or a sequence: it has no `d`"
        );
        assert_eq!(
            error("just a scalar\n", "a"),
            "cannot set `a` at 1:1: the top level of the document is a scalar, not a mapping or a sequence: it has no `a`"
        );
    }

    #[test]
    fn duplicate_keys() {
        assert_eq!(
            error("a: 1\nb: 2\na: 3\n", "a"),
            "cannot set `a` at 3:1: the key `a` appears more than once in the top level of the document (lines 1 and 3)"
        );
        // Quoting does not make a different key.
        assert!(error("m:\n  k: 1\n  'k': 2\n", "m.k").contains("appears more than once in `m`"));
        // Duplicates elsewhere do not matter.
        assert_eq!(set("a: 1\nb: 2\nb: 3\n", "a", "x"), "a: x\nb: 2\nb: 3\n");
    }

    #[test]
    fn anchors_and_aliases_on_the_path() {
        let text = "base: &base\n  tag: v1\napp: *base\nv: &v 1\nw: *v\n";
        assert_eq!(
            error(text, "base.tag"),
            "cannot set `base.tag` at 2:3: `base` has an anchor (`&name`): setting it would change its aliases too"
        );
        assert_eq!(
            error(text, "app.tag"),
            "cannot set `app.tag` at 3:6: `app` is an alias (`*name`): set the value where its anchor is"
        );
        assert!(error(text, "v").contains("`v` has an anchor"));
        assert!(error(text, "w").contains("`w` is an alias"));
        assert!(error("&top\na: 1\n", "a").contains("the top level of the document has an anchor"));
    }

    #[test]
    fn documents_and_syntax() {
        assert_eq!(
            error("a: 1\n---\na: 2\n", "a"),
            "cannot set `a` at 2:1: the file has more than one YAML document (`---`); only single-document files can be edited"
        );
        assert_eq!(
            error("# nothing\n", "a"),
            "cannot set `a`: the file has no YAML document"
        );
        assert_eq!(
            error("a: b: c\n", "a"),
            "cannot set `a` at 1:5: the YAML does not parse: mapping values are not allowed in this context"
        );
        assert!(error("a: [1, 2\n", "a.0").starts_with("cannot set `a.0` at "));
        assert!(error("a: *undefined\n", "a").contains("does not parse"));
    }

    #[test]
    fn key_paths_are_checked() {
        assert_eq!(error("a: 1\n", ""), "cannot set ``: the key path is empty");
        for bad in [".a", "a.", "a..b"] {
            assert!(
                error("a: 1\n", bad)
                    .ends_with("has an empty segment (a leading, trailing or doubled `.`)"),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_scalar_of_a_realistic_file_takes_every_kind_of_value() {
        let text = "\
# Helm values for production.
global:
  registry: registry.example.com   # mirrored
  pullPolicy: IfNotPresent
image:
  repository: \"team/app\"
  tag: '1.4.2'
  digest:
resources: {limits: {cpu: 500m, memory: 256Mi}, requests: {cpu: 100m}}
env:
  - name: MODE
    value: >-
      folded
      text
  - name: SCRIPT
    value: |
      #!/bin/sh
      echo hi

  - {name: FLAG, value: \"on\"}
hosts: [a.example.com, 'b.example.com']
replicas: 3
";
        let paths = [
            "global.registry",
            "global.pullPolicy",
            "image.repository",
            "image.tag",
            "image.digest",
            "resources.limits.cpu",
            "resources.requests.cpu",
            "env.0.name",
            "env.0.value",
            "env.1.value",
            "env.2.value",
            "hosts.0",
            "hosts.1",
            "replicas",
        ];
        let values = [
            "v2",
            "",
            "1.0",
            "x: y",
            "#",
            "a\nb",
            "it's",
            "\"",
            "\\",
            "ünï",
            "- x",
            "[x]",
            "{x}",
            "a,b",
            "true",
            "  spaced  ",
            "sha256:abc",
            "tab\there",
            "\r\n",
        ];
        for path in paths {
            for value in values {
                let edited = set(text, path, value);
                assert_eq!(
                    set_value(&edited, path, value),
                    Ok(None),
                    "{path} = {value:?}"
                );
                // Only the lines of the value changed.
                let first = text
                    .lines()
                    .zip(edited.lines())
                    .take_while(|(a, b)| a == b)
                    .count();
                let last = text
                    .lines()
                    .rev()
                    .zip(edited.lines().rev())
                    .take_while(|(a, b)| a == b)
                    .count();
                assert!(
                    edited.lines().count() <= first + last + 1,
                    "{path} = {value:?}:\n{edited}"
                );
            }
        }
    }

    #[test]
    fn error_is_an_error() {
        let e = set_value("a: 1\n", "b", "x").unwrap_err();
        let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
        assert_eq!(boxed.to_string(), e.to_string());
        assert_eq!(e.key_path(), "b");
        assert_eq!(e.position(), Some((1, 1)));
        assert_eq!(
            e.reason(),
            "there is no key `b` in the top level of the document"
        );
    }
}
