//! Native baseline for benchmarks: what the `counter` plugin's `check` does, as a
//! Concourse-style executable. Dependency-free; compiled by `build.rs` with plain `rustc`.
//!
//! stdin:  `{"source": {"path": "<absolute path>"}, "version": null | {"number": "<k>"}}`
//! stdout: the versions, oldest first, e.g. `[{"number":"3"},{"number":"4"}]`
//! exit:   0, or 1 with a message on stderr.
//!
//! Semantics (identical to `counter`): the file holds an integer N (whitespace trimmed; a
//! missing file is 0). Without a version: `[N]`, or `[]` while N = 0. With version k and
//! 1 <= k <= N: k..=N, at most the newest 1000. Otherwise as without a version.

use std::io::{self, Read, Write};
use std::process::ExitCode;

const MAX_VERSIONS: u64 = 1000;

/// The JSON values this program needs to understand.
#[derive(Debug)]
enum Json {
    Null,
    Bool,
    Number,
    String(String),
    Array,
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A small recursive-descent JSON parser (RFC 8259, without number values: numbers are
/// validated and dropped since the request has none that matter).
struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("invalid JSON request at byte {}: {what}", self.pos))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Result<(), String> {
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.error(&format!("expected `{}`", byte as char))
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            self.error("unexpected token")
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 64 {
            return self.error("nested too deeply");
        }
        self.skip_ws();
        match self.bytes.get(self.pos) {
            None => self.error("unexpected end"),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool),
            Some(b'f') => self.literal("false", Json::Bool),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.error("unexpected character"),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.eat(b'{')?;
        let mut fields = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Json::Object(fields));
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.eat(b':')?;
            let value = self.value(depth + 1)?;
            fields.push((key, value));
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(fields));
                }
                _ => return self.error("expected `,` or `}`"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.eat(b'[')?;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Json::Array);
        }
        loop {
            self.value(depth + 1)?;
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array);
                }
                _ => return self.error("expected `,` or `]`"),
            }
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(_) => Ok(Json::Number),
            Err(_) => self.error("invalid number"),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.bytes.get(self.pos..self.pos + 4);
        let value = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => self.error("invalid \\u escape"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return self.error("expected a string");
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return self.error("unterminated string");
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.bytes.get(self.pos) else {
                        return self.error("unterminated escape");
                    };
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.bytes[self.pos..].starts_with(b"\\u") {
                                    return self.error("unpaired surrogate");
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.error("invalid surrogate pair");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(c) => c,
                                None => return self.error("invalid code point"),
                            }
                        }
                        _ => return self.error("invalid escape"),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return self.error("control character in string"),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).or_else(|_| self.error("invalid UTF-8"))
    }
}

fn parse(text: &str) -> Result<Json, String> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return parser.error("trailing characters");
    }
    Ok(value)
}

fn parse_number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

fn run() -> Result<String, String> {
    let mut input = String::new();
    io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read the request from stdin: {e}"))?;
    let request = parse(&input)?;
    let path = match request.get("source").and_then(|s| s.get("path")) {
        Some(Json::String(path)) if path.starts_with('/') => path.clone(),
        Some(Json::String(path)) => {
            return Err(format!("source.path: `{path}` must be an absolute path"));
        }
        _ => return Err("source.path: missing or not a string".to_string()),
    };
    let from = match request.get("version") {
        None | Some(Json::Null) => None,
        Some(version @ Json::Object(_)) => match version.get("number") {
            Some(Json::String(k)) => parse_number(k),
            _ => None,
        },
        Some(_) => return Err("version: expected an object or null".to_string()),
    };

    let n = match std::fs::read_to_string(&path) {
        Ok(text) => parse_number(&text).ok_or_else(|| {
            format!(
                "{path}: expected a non-negative integer, found {:?}",
                text.trim()
            )
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(format!("{path}: {e}")),
    };

    let range = match from {
        Some(k) if (1..=n).contains(&k) => k.max(n.saturating_sub(MAX_VERSIONS - 1))..=n,
        _ if n == 0 => 1..=0,
        _ => n..=n,
    };
    let mut out = String::from("[");
    for (i, k) in range.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"number\":\"");
        out.push_str(&k.to_string());
        out.push_str("\"}");
    }
    out.push(']');
    Ok(out)
}

fn main() -> ExitCode {
    match run() {
        Ok(versions) => {
            let mut stdout = io::stdout().lock();
            if writeln!(stdout, "{versions}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("native-check: {message}");
            ExitCode::FAILURE
        }
    }
}
