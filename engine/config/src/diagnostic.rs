//! Problems found in a pipeline (or vars) file, each at `file:line:column`, and their
//! rendering: a plain one-line form for scripts and tests, and rustc-style snippets (miette) for
//! terminals.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::span::Span;
use super::vars::Redactor;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The pipeline is invalid.
    Error,
    /// Worth knowing, but the pipeline is valid (an unused resource, a secret too short to
    /// redact, a directory a plugin asks for that is not granted).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, at a position of a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as it was named to the loader.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Byte offset of the offending text (for snippets).
    pub offset: usize,
    /// Byte length of the offending text (0: a position).
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, e.g. "did you mean `serial_groups`?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span` of `file`.
    pub fn error(file: &Path, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, file, span, message)
    }

    /// A warning at `span` of `file`.
    pub fn warning(file: &Path, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, file, span, message)
    }

    fn new(severity: Severity, file: &Path, span: Span, message: impl Into<String>) -> Self {
        Self {
            severity,
            file: file.to_path_buf(),
            line: span.line.max(1),
            column: span.column.max(1),
            offset: span.offset,
            len: span.len,
            message: message.into(),
            help: None,
        }
    }

    /// The same diagnostic with a help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same diagnostic with a help text if there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The position as a [`Span`].
    pub fn span(&self) -> Span {
        Span::new(self.line, self.column, self.offset, self.len)
    }

    /// `file:line:column: error: message (help: …)`, on one line.
    pub fn plain(&self) -> String {
        let mut out = format!(
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.severity,
            one_line(&self.message)
        );
        if let Some(help) = &self.help {
            out.push_str(" (help: ");
            out.push_str(&one_line(help));
            out.push(')');
        }
        out
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.plain())
    }
}

/// The diagnostics of a load, with the text of the files they point into (for snippets).
#[derive(Debug, Clone, Default)]
pub struct Report {
    diagnostics: Vec<Diagnostic>,
    sources: BTreeMap<PathBuf, String>,
    /// Byte ranges of values that are already wrong (an undefined `((var))`): further errors
    /// inside them would only repeat the first one.
    poisoned: Vec<(PathBuf, usize, usize)>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers the text of `file` so that its diagnostics can be shown with a snippet.
    pub fn add_source(&mut self, file: &Path, text: &str) {
        self.sources.insert(file.to_path_buf(), text.to_owned());
    }

    /// The text of `file`, if it was added.
    pub fn source(&self, file: &Path) -> Option<&str> {
        self.sources.get(file).map(String::as_str)
    }

    /// Adds a diagnostic (an identical one already present is not repeated: a step reached
    /// through two aliases is reported once; an error inside a value already reported as
    /// wrong is dropped).
    pub fn push(&mut self, diagnostic: Diagnostic) {
        let inside_poisoned = diagnostic.is_error()
            && self.poisoned.iter().any(|(file, start, end)| {
                *file == diagnostic.file && (*start..*end).contains(&diagnostic.offset)
            });
        if !inside_poisoned && !self.diagnostics.contains(&diagnostic) {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Marks the text at `span` of `file` as already reported: later errors pointing into it
    /// are dropped.
    pub(crate) fn poison(&mut self, file: &Path, span: Span) {
        if span.len > 0 {
            self.poisoned
                .push((file.to_path_buf(), span.offset, span.offset + span.len));
        }
    }

    /// Adds several diagnostics.
    pub fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        for d in diagnostics {
            self.push(d);
        }
    }

    /// Adds every diagnostic and source of `other`.
    pub fn merge(&mut self, other: Report) {
        self.sources.extend(other.sources);
        self.poisoned.extend(other.poisoned);
        self.extend(other.diagnostics);
    }

    /// All diagnostics, sorted by file, line and column (errors before warnings at one spot).
    pub fn diagnostics(&self) -> Vec<&Diagnostic> {
        let mut all: Vec<&Diagnostic> = self.diagnostics.iter().collect();
        all.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.severity).cmp(&(&b.file, b.line, b.column, b.severity))
        });
        all
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Whether there is no diagnostic at all.
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Replaces every secret value in messages and help texts by `((redacted))` (a schema
    /// error may quote the offending value, which may have come from a secret).
    pub fn redact(&mut self, redactor: &Redactor) {
        for d in &mut self.diagnostics {
            d.message = redactor.redact(&d.message);
            d.help = d.help.as_deref().map(|h| redactor.redact(h));
        }
    }

    /// One line per diagnostic: `file:line:column: error: message (help: …)`.
    pub fn render_plain(&self) -> String {
        let mut out = String::new();
        for d in self.diagnostics() {
            out.push_str(&d.plain());
            out.push('\n');
        }
        out
    }

    /// rustc-style: the message, the file position, a snippet with the offending text
    /// underlined, and the help. `color` adds ANSI colors.
    pub fn render_human(&self, color: bool) -> String {
        use miette::{GraphicalReportHandler, GraphicalTheme};
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut out = String::new();
        for d in self.diagnostics() {
            let shown = Shown {
                diagnostic: d,
                source: self.sources.get(&d.file).map(|text| {
                    miette::NamedSource::new(d.file.display().to_string(), text.clone())
                }),
            };
            // Without the file's text miette cannot show where: use the plain form.
            let mut rendered = String::new();
            if shown.source.is_none() || handler.render_report(&mut rendered, &shown).is_err() {
                rendered = d.plain();
                rendered.push('\n');
            }
            out.push_str(&rendered);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render_plain().trim_end())
    }
}

impl std::error::Error for Report {}

/// A diagnostic as miette sees it.
struct Shown<'a> {
    diagnostic: &'a Diagnostic,
    source: Option<miette::NamedSource<String>>,
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Shown<'_> {}

impl miette::Diagnostic for Shown<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let source = self.source.as_ref()?;
        let len = source.inner().len();
        let offset = self.diagnostic.offset.min(len);
        let span_len = self.diagnostic.len.min(len - offset);
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(None, (offset, span_len)),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_form_is_one_line_with_position() {
        let d = Diagnostic::error(Path::new("p.yml"), Span::new(3, 5, 10, 4), "bad\nthing")
            .with_help("did you mean `x`?");
        assert_eq!(
            d.plain(),
            "p.yml:3:5: error: bad thing (help: did you mean `x`?)"
        );
    }

    #[test]
    fn report_sorts_dedupes_and_counts() {
        let f = Path::new("p.yml");
        let mut r = Report::new();
        r.push(Diagnostic::error(f, Span::new(5, 1, 0, 0), "later"));
        r.push(Diagnostic::warning(f, Span::new(2, 1, 0, 0), "earlier"));
        r.push(Diagnostic::error(f, Span::new(5, 1, 0, 0), "later"));
        assert_eq!(r.error_count(), 1);
        assert_eq!(r.warning_count(), 1);
        assert_eq!(
            r.render_plain(),
            "p.yml:2:1: warning: earlier\np.yml:5:1: error: later\n"
        );
    }

    #[test]
    fn human_form_shows_the_snippet() {
        let f = Path::new("p.yml");
        let text = "jobs:\n  - name: x\n    serial_grups: [a]\n";
        let mut r = Report::new();
        r.add_source(f, text);
        let at = text.find("serial_grups").unwrap();
        r.push(
            Diagnostic::error(f, Span::new(3, 5, at, 12), "unknown key `serial_grups`")
                .with_help("did you mean `serial_groups`?"),
        );
        let out = r.render_human(false);
        assert!(out.contains("unknown key `serial_grups`"), "{out}");
        assert!(out.contains("p.yml:3:5"), "{out}");
        assert!(out.contains("serial_grups: [a]"), "{out}");
        assert!(out.contains("────────────"), "{out}");
        assert!(out.contains("did you mean `serial_groups`?"), "{out}");
    }
}
