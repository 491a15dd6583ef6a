//! `((var))` placeholders: where their values come from, how they are filled in, and the
//! [`Redactor`] that keeps secret values out of logs and API answers.
//!
//! A placeholder is `((name))` or `((name.field.subfield))` (Concourse syntax; spaces inside
//! the parentheses are allowed). A name is letters, digits, `_` and `-`. Text between `((` and
//! `))` that is not such a name (shell arithmetic like `$((n + 1))`) is left alone.
//!
//! Values are looked up in this order, the first that defines the name wins:
//! 1. the environment variable `LOCKGATE_SECRET_<NAME>` (secret),
//! 2. the environment variable `LOCKGATE_VAR_<NAME>`,
//! 3. the values set in code or loaded from files (`--vars FILE`, `--secrets FILE`), a later
//!    file overriding an earlier one,
//!
//! where `<NAME>` is the name upper-cased with `-` replaced by `_`. A placeholder that is the
//! whole string value takes the var's YAML type (`max_in_flight: ((n))` is a number when `n`
//! is); a placeholder inside a longer string is replaced by the value's text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;

use super::diagnostic::{Diagnostic, Report};
use super::yaml::{self, Kind, Node};
use lockgate_model::suggest;

/// Prefix of environment variables holding plain vars.
pub const ENV_VAR_PREFIX: &str = "LOCKGATE_VAR_";
/// Prefix of environment variables holding secret vars.
pub const ENV_SECRET_PREFIX: &str = "LOCKGATE_SECRET_";
/// What a secret value is replaced by.
pub const REDACTED: &str = "((redacted))";
/// Secret values (and lines of multi-line secret values) shorter than this many bytes are not
/// redacted: replacing every `1` or `no` in every log line would destroy the logs and reveal
/// the secret's value by its absence. Loading warns when a pipeline uses such a secret.
pub const MIN_REDACTED_LEN: usize = 3;

/// Where a var's value came from.
#[derive(Debug, Clone, PartialEq)]
struct Var {
    value: Value,
    secret: bool,
}

/// The values of `((var))` placeholders.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Var>,
    /// `LOCKGATE_VAR_*` and `LOCKGATE_SECRET_*` variables, by their full name.
    env: BTreeMap<String, String>,
}

/// A var's value as a placeholder sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// The value (a string for environment variables).
    pub value: Value,
    /// Whether it is secret.
    pub secret: bool,
}

impl Vars {
    /// No vars.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `LOCKGATE_VAR_*` and `LOCKGATE_SECRET_*` variables of this process.
    pub fn from_env() -> Self {
        Self::new().with_env(std::env::vars())
    }

    /// Adds the `LOCKGATE_VAR_*` and `LOCKGATE_SECRET_*` variables among `vars` (other
    /// variables are ignored).
    pub fn with_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        for (k, v) in vars {
            if k.starts_with(ENV_VAR_PREFIX) || k.starts_with(ENV_SECRET_PREFIX) {
                self.env.insert(k, v);
            }
        }
        self
    }

    /// Sets a plain var.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.values.insert(
            name.into(),
            Var {
                value: value.into(),
                secret: false,
            },
        );
        self
    }

    /// Sets a secret var.
    pub fn set_secret(&mut self, name: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.values.insert(
            name.into(),
            Var {
                value: value.into(),
                secret: true,
            },
        );
        self
    }

    /// Loads a YAML file holding a mapping of var names to values (of any YAML type);
    /// `secret` marks every value as secret. Its values override earlier ones of the same name.
    pub fn load_file(&mut self, path: &Path, secret: bool) -> Result<(), Report> {
        match std::fs::read_to_string(path) {
            Ok(text) => self.load_str(path, &text, secret),
            Err(e) => {
                let mut report = Report::new();
                report.push(Diagnostic::error(
                    path,
                    Default::default(),
                    format!("cannot read the {} file: {e}", kind(secret)),
                ));
                Err(report)
            }
        }
    }

    /// [`Vars::load_file`] with the file's text already read.
    pub fn load_str(&mut self, path: &Path, text: &str, secret: bool) -> Result<(), Report> {
        let mut report = Report::new();
        report.add_source(path, text);
        let node = match yaml::parse(text) {
            Ok(node) => node,
            Err(e) => {
                report.push(Diagnostic::error(path, e.span, e.message));
                return Err(report);
            }
        };
        match node.kind {
            Kind::Map(entries) => {
                let mut seen = BTreeMap::new();
                for (key, value) in entries {
                    if let Some(first) = seen.insert(key.name.clone(), key.span) {
                        report.push(
                            Diagnostic::error(
                                path,
                                key.span,
                                format!("var `{}` is defined twice", key.name),
                            )
                            .with_help(format!("first defined at line {}", first.line)),
                        );
                        continue;
                    }
                    if secret {
                        self.set_secret(key.name, value.to_json());
                    } else {
                        self.set(key.name, value.to_json());
                    }
                }
            }
            Kind::Null => {}
            _ => report.push(Diagnostic::error(
                path,
                node.span,
                format!(
                    "a {} file must be a mapping of names to values, found {}",
                    kind(secret),
                    node.describe()
                ),
            )),
        }
        if report.has_errors() {
            Err(report)
        } else {
            Ok(())
        }
    }

    /// The value of var `name` (the part before any `.field`), if defined.
    pub fn lookup(&self, name: &str) -> Option<Lookup> {
        let env_name = env_suffix(name);
        if let Some(v) = self.env.get(&format!("{ENV_SECRET_PREFIX}{env_name}")) {
            return Some(Lookup {
                value: Value::String(v.clone()),
                secret: true,
            });
        }
        if let Some(v) = self.env.get(&format!("{ENV_VAR_PREFIX}{env_name}")) {
            return Some(Lookup {
                value: Value::String(v.clone()),
                secret: false,
            });
        }
        self.values.get(name).map(|v| Lookup {
            value: v.value.clone(),
            secret: v.secret,
        })
    }

    /// The names defined in code and files, and those of the environment variables in lower
    /// case (for "did you mean").
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.values.keys().cloned().collect();
        for k in self.env.keys() {
            let name = k
                .strip_prefix(ENV_SECRET_PREFIX)
                .or_else(|| k.strip_prefix(ENV_VAR_PREFIX))
                .unwrap_or(k);
            names.push(name.to_lowercase());
        }
        names
    }

    /// A redactor for every secret value known here, used by the pipeline or not.
    pub fn redactor(&self) -> Redactor {
        let mut secrets = Vec::new();
        for var in self.values.values().filter(|v| v.secret) {
            leaves(&var.value, &mut secrets);
        }
        for (k, v) in &self.env {
            if k.starts_with(ENV_SECRET_PREFIX) {
                secrets.push(v.clone());
            }
        }
        Redactor::new(secrets)
    }
}

fn kind(secret: bool) -> &'static str {
    if secret { "secrets" } else { "vars" }
}

/// `NAME` of `LOCKGATE_VAR_NAME` for var `name`.
pub fn env_suffix(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// Every scalar of `value` as text.
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push(s.clone()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
    }
}

/// Replaces secret values by `((redacted))` in text: log lines, API answers, diagnostics.
///
/// Every secret value of at least [`MIN_REDACTED_LEN`] bytes is replaced, the longest match
/// first (a secret that contains another is replaced whole); so is each line of a multi-line
/// secret (logs arrive line by line) and the JSON-escaped form of a secret (API answers are
/// JSON). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    matcher: Option<std::sync::Arc<AhoCorasick>>,
    /// The values to replace, longest first.
    patterns: std::sync::Arc<[String]>,
}

impl Redactor {
    /// A redactor for `secrets`.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            if s.len() >= MIN_REDACTED_LEN && !patterns.iter().any(|p| p == s) {
                patterns.push(s.to_owned());
            }
        };
        for secret in secrets {
            add(&secret);
            if secret.contains('\n') {
                for line in secret.lines() {
                    add(line.trim_end_matches('\r'));
                }
            }
            let json = Value::String(secret.clone()).to_string();
            let escaped = &json[1..json.len() - 1];
            if escaped != secret {
                add(escaped);
            }
        }
        if patterns.is_empty() {
            return Self::default();
        }
        patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
        // Building only fails past the automaton's size limits; `redact` then falls back to
        // replacing one value after the other, longest first.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok()
            .map(std::sync::Arc::new);
        Self {
            matcher,
            patterns: patterns.into(),
        }
    }

    /// A redactor that changes nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `text` holds the value of a secret.
    pub fn finds(&self, text: &str) -> bool {
        match &self.matcher {
            Some(m) => m.is_match(text),
            None => self.patterns.iter().any(|p| text.contains(p.as_str())),
        }
    }

    /// `text` with every secret replaced by `((redacted))`.
    pub fn redact(&self, text: &str) -> String {
        match &self.matcher {
            Some(m) => {
                let mut out = String::with_capacity(text.len());
                m.replace_all_with(text, &mut out, |_, _, dst| {
                    dst.push_str(REDACTED);
                    true
                });
                out
            }
            None => self
                .patterns
                .iter()
                .fold(text.to_owned(), |t, p| t.replace(p.as_str(), REDACTED)),
        }
    }

    /// `value` with every string in it (keys too) redacted.
    pub fn redact_json(&self, value: &Value) -> Value {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// One `((…))` in a string.
#[derive(Debug, PartialEq)]
struct Placeholder<'a> {
    /// `((name.field))` as written.
    text: &'a str,
    /// Byte range of `text` in the string.
    start: usize,
    /// `name`.
    name: &'a str,
    /// `field`, … .
    fields: Vec<&'a str>,
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The placeholders of `s`, in order.
fn placeholders(s: &str) -> Vec<Placeholder<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = s[from..].find("((").map(|i| i + from) {
        let Some(close) = s[open + 2..].find("))").map(|i| i + open + 2) else {
            break;
        };
        let inner = s[open + 2..close].trim();
        let mut parts = inner.split('.');
        let name = parts.next().unwrap_or_default();
        let fields: Vec<&str> = parts.collect();
        if is_name(name) && fields.iter().all(|f| is_name(f)) {
            out.push(Placeholder {
                text: &s[open..close + 2],
                start: open,
                name,
                fields,
            });
            from = close + 2;
        } else {
            from = open + 1;
        }
    }
    out
}

/// Fills the placeholders of every string value below `node`, reporting undefined vars and
/// unusable values at their position in `file` (whose text is `source`).
pub(crate) fn interpolate(
    node: &mut Node,
    vars: &Vars,
    file: &Path,
    source: &str,
    report: &mut Report,
) {
    match &mut node.kind {
        Kind::Seq(items) => items
            .iter_mut()
            .for_each(|n| interpolate(n, vars, file, source, report)),
        Kind::Map(entries) => entries
            .iter_mut()
            .for_each(|(_, n)| interpolate(n, vars, file, source, report)),
        Kind::Str(s) => {
            let s = s.clone();
            let found = placeholders(&s);
            if found.is_empty() {
                return;
            }
            let whole = found.len() == 1 && found[0].text.len() == s.len();
            let mut out = String::new();
            let mut last = 0;
            let mut failed = false;
            for p in &found {
                let span = node.span.narrow_to(source, p.text);
                match resolve(p, vars) {
                    Ok((value, secret)) => {
                        if secret && text_len(&value) < MIN_REDACTED_LEN {
                            report.push(Diagnostic::warning(
                                file,
                                span,
                                format!(
                                    "secret `{}` is shorter than {MIN_REDACTED_LEN} characters: it will not be redacted from logs",
                                    p.name
                                ),
                            ));
                        }
                        if whole {
                            *node = Node::from_json(&value, node.span);
                            return;
                        }
                        match value {
                            Value::String(v) => {
                                out.push_str(&s[last..p.start]);
                                out.push_str(&v);
                            }
                            Value::Number(_) | Value::Bool(_) => {
                                out.push_str(&s[last..p.start]);
                                out.push_str(&value.to_string());
                            }
                            other => {
                                failed = true;
                                let what = match other {
                                    Value::Null => "empty (null)",
                                    Value::Array(_) => "a list",
                                    _ => "a mapping",
                                };
                                report.push(Diagnostic::error(
                                    file,
                                    span,
                                    format!(
                                        "var `{}` is {what}: it can fill a whole value but not part of a string",
                                        p.text.trim_start_matches("((").trim_end_matches("))").trim()
                                    ),
                                ));
                            }
                        }
                        last = p.start + p.text.len();
                    }
                    Err(e) => {
                        failed = true;
                        let help = e.help.or_else(|| {
                            let names = vars.names();
                            let suggestion =
                                suggest::did_you_mean(p.name, names.iter().map(String::as_str));
                            Some(match suggestion {
                                Some(s) => format!("did you mean `{s}`?"),
                                None => format!(
                                    "define it in a --vars/--secrets file or in the environment variable {ENV_VAR_PREFIX}{}",
                                    env_suffix(p.name)
                                ),
                            })
                        });
                        report.push(Diagnostic::error(file, span, e.message).with_help_opt(help));
                    }
                }
            }
            if failed {
                report.poison(file, node.span);
            } else {
                out.push_str(&s[last..]);
                node.kind = Kind::Str(out);
            }
        }
        Kind::Null | Kind::Bool(_) | Kind::Num(_) => {}
    }
}

fn text_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Null => MIN_REDACTED_LEN,
        other => {
            let mut all = Vec::new();
            leaves(other, &mut all);
            all.iter()
                .map(String::len)
                .min()
                .unwrap_or(MIN_REDACTED_LEN)
        }
    }
}

struct LookupError {
    message: String,
    help: Option<String>,
}

fn resolve(p: &Placeholder<'_>, vars: &Vars) -> Result<(Value, bool), LookupError> {
    let Some(found) = vars.lookup(p.name) else {
        return Err(LookupError {
            message: format!("undefined var `{}`", p.name),
            help: None,
        });
    };
    let mut value = &found.value;
    let mut path = p.name.to_owned();
    for field in &p.fields {
        let next = match value {
            Value::Object(map) => map.get(*field),
            Value::Array(items) => field.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) => value = v,
            None => {
                let keys: Vec<&str> = match value {
                    Value::Object(map) => map.keys().map(String::as_str).collect(),
                    _ => Vec::new(),
                };
                return Err(LookupError {
                    message: match value {
                        Value::Object(_) => format!("var `{path}` has no field `{field}`"),
                        _ => format!("var `{path}` is not a mapping: it has no field `{field}`"),
                    },
                    help: suggest::help(field, &keys),
                });
            }
        }
        path.push('.');
        path.push_str(field);
    }
    Ok((value.clone(), found.secret))
}

/// Files named on the command line that held the vars (for messages).
#[derive(Debug, Clone, Default)]
pub struct VarFiles {
    /// `--vars` files, in order.
    pub vars: Vec<PathBuf>,
    /// `--secrets` files, in order.
    pub secrets: Vec<PathBuf>,
}

impl VarFiles {
    /// Loads the files (vars first, then secrets) and then the process environment into
    /// [`Vars`]; every problem of every file is reported.
    pub fn load(&self) -> Result<Vars, Report> {
        let mut vars = Vars::new();
        let mut report = Report::new();
        for (files, secret) in [(&self.vars, false), (&self.secrets, true)] {
            for file in files {
                if let Err(r) = vars.load_file(file, secret) {
                    report.merge(r);
                }
            }
        }
        if report.has_errors() {
            return Err(report);
        }
        Ok(vars.with_env(std::env::vars()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fill(text: &str, vars: &Vars) -> (Value, Report) {
        let mut node = yaml::parse(text).unwrap();
        let mut report = Report::new();
        interpolate(&mut node, vars, Path::new("p.yml"), text, &mut report);
        (node.to_json(), report)
    }

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.set("url", "https://example.test")
            .set("n", 3)
            .set("flag", true)
            .set("map", json!({"user": "bob", "nested": {"x": 1}}))
            .set_secret("token", "s3cr3t-t0ken");
        v
    }

    #[test]
    fn whole_string_placeholders_keep_the_yaml_type() {
        let (v, r) = fill(
            "a: ((n))\nb: ((flag))\nc: ((map))\nd: ((map.nested.x))\n",
            &vars(),
        );
        assert!(r.is_empty(), "{r}");
        assert_eq!(
            v,
            json!({"a": 3, "b": true, "c": {"user": "bob", "nested": {"x": 1}}, "d": 1})
        );
    }

    #[test]
    fn embedded_placeholders_are_text() {
        let (v, r) = fill(
            "a: \"((url))/api?n=((n))&u=(( map.user ))\"\nb: [x-((token))]\n",
            &vars(),
        );
        assert!(r.is_empty(), "{r}");
        assert_eq!(
            v,
            json!({"a": "https://example.test/api?n=3&u=bob", "b": ["x-s3cr3t-t0ken"]})
        );
    }

    #[test]
    fn text_that_is_not_a_placeholder_is_left_alone() {
        let (v, r) = fill("a: echo $((1 + 2)) ((\nb: (())\n", &vars());
        assert!(r.is_empty(), "{r}");
        assert_eq!(v, json!({"a": "echo $((1 + 2)) ((", "b": "(())"}));
    }

    #[test]
    fn undefined_vars_are_errors_at_their_position() {
        let (_, r) = fill("a: 1\nb: \"x ((nope)) ((urll))\"\n", &vars());
        let lines = r.render_plain();
        assert!(
            lines.contains("p.yml:2:7: error: undefined var `nope` (help: define it in a --vars/--secrets file or in the environment variable LOCKGATE_VAR_NOPE)"),
            "{lines}"
        );
        assert!(
            lines.contains("p.yml:2:16: error: undefined var `urll` (help: did you mean `url`?)"),
            "{lines}"
        );
    }

    #[test]
    fn missing_fields_and_unembeddable_values_are_errors() {
        let (_, r) = fill("a: ((map.usr))\nb: x((map))\nc: ((url.x))\n", &vars());
        let lines = r.render_plain();
        assert!(
            lines.contains(
                "p.yml:1:4: error: var `map` has no field `usr` (help: did you mean `user`?)"
            ),
            "{lines}"
        );
        assert!(lines.contains("p.yml:2:5: error: var `map` is a mapping: it can fill a whole value but not part of a string"), "{lines}");
        assert!(
            lines.contains("p.yml:3:4: error: var `url` is not a mapping: it has no field `x`"),
            "{lines}"
        );
    }

    #[test]
    fn environment_overrides_files_and_secrets_come_first() {
        let mut v = vars();
        v = v.with_env([
            ("LOCKGATE_VAR_URL".to_owned(), "http://env".to_owned()),
            ("LOCKGATE_VAR_MY_VAR".to_owned(), "dashes".to_owned()),
            (
                "LOCKGATE_SECRET_MY_VAR".to_owned(),
                "secret-dashes".to_owned(),
            ),
            ("PATH".to_owned(), "/bin".to_owned()),
        ]);
        assert_eq!(v.lookup("url").unwrap().value, json!("http://env"));
        let l = v.lookup("my-var").unwrap();
        assert_eq!((l.value, l.secret), (json!("secret-dashes"), true));
        assert!(v.lookup("PATH").is_none());
        let r = v.redactor();
        assert_eq!(r.redact("a secret-dashes b"), "a ((redacted)) b");
    }

    #[test]
    fn vars_files_are_yaml_mappings() {
        let mut v = Vars::new();
        v.load_str(Path::new("v.yml"), "a: 1\nb: {c: [x]}\n", false)
            .unwrap();
        v.load_str(Path::new("s.yml"), "pw: hunter22\n", true)
            .unwrap();
        assert_eq!(v.lookup("b").unwrap().value, json!({"c": ["x"]}));
        assert!(v.lookup("pw").unwrap().secret);

        let r = v.load_str(Path::new("v.yml"), "- a\n", false).unwrap_err();
        assert_eq!(
            r.render_plain(),
            "v.yml:1:1: error: a vars file must be a mapping of names to values, found a list\n"
        );
        let r = v
            .load_str(Path::new("v.yml"), "a: 1\na: 2\nb: [\n", false)
            .unwrap_err();
        assert!(r.render_plain().starts_with("v.yml:"), "{r}");
        let r = v
            .load_str(Path::new("v.yml"), "a: 1\na: 2\n", false)
            .unwrap_err();
        assert_eq!(
            r.render_plain(),
            "v.yml:2:1: error: var `a` is defined twice (help: first defined at line 1)\n"
        );
    }

    #[test]
    fn redaction_replaces_longest_first_and_skips_short_values() {
        let r = Redactor::new([
            "abc".to_owned(),
            "abcdef".to_owned(),
            "xy".to_owned(),
            String::new(),
        ]);
        assert_eq!(
            r.redact("1 abcdef 2 abc 3 xy"),
            "1 ((redacted)) 2 ((redacted)) 3 xy"
        );
        assert_eq!(r.redact("abcabc"), "((redacted))((redacted))");
        assert!(Redactor::none().is_empty());
        assert_eq!(Redactor::none().redact("abc"), "abc");
    }

    #[test]
    fn redaction_covers_lines_and_json_escapes_of_multiline_secrets() {
        let key = "-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----".to_owned();
        let r = Redactor::new([key.clone()]);
        assert_eq!(r.redact(&format!("key: {key}")), "key: ((redacted))");
        assert_eq!(r.redact("line: AAAABBBB"), "line: ((redacted))");
        let json = serde_json::to_string(&json!({ "k": key })).unwrap();
        assert_eq!(r.redact(&json), "{\"k\":\"((redacted))\"}");
        assert_eq!(
            r.redact_json(&json!({"a": [key.clone()], "AAAABBBB": 1})),
            json!({"a": ["((redacted))"], "((redacted))": 1})
        );
    }

    #[test]
    fn redactor_from_vars_covers_secret_leaves_only() {
        let mut v = vars();
        v.set_secret(
            "creds",
            json!({"user": "deploy-bot", "pass": "pa55word", "port": 5432}),
        );
        let r = v.redactor();
        assert_eq!(
            r.redact("deploy-bot:pa55word@db:5432 s3cr3t-t0ken https://example.test"),
            "((redacted)):((redacted))@db:((redacted)) ((redacted)) https://example.test"
        );
    }

    #[test]
    fn short_secrets_warn() {
        let mut v = Vars::new();
        v.set_secret("pin", "42");
        let (value, r) = fill("a: ((pin))\n", &v);
        assert_eq!(value, json!({"a": "42"}));
        assert_eq!(
            r.render_plain(),
            "p.yml:1:4: warning: secret `pin` is shorter than 3 characters: it will not be redacted from logs\n"
        );
    }

    #[test]
    fn placeholder_scanner() {
        let found = placeholders("a ((x)) b ((y.z)) ((bad name)) ((w");
        let names: Vec<(&str, Vec<&str>)> =
            found.iter().map(|p| (p.name, p.fields.clone())).collect();
        assert_eq!(names, vec![("x", vec![]), ("y", vec!["z"])]);
        assert_eq!(found[1].text, "((y.z))");
        assert_eq!(found[1].start, 10);
    }
}
