//! Diagnostics: what loading and linting report.

use core::fmt;
use std::path::{Path, PathBuf};

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The policy cannot work as written: loading or building refuses it,
    /// and `redress doctor` exits with 1.
    Error,
    /// The policy works, but probably not as intended.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a file a key or value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset of the start in the file.
    pub start: usize,
    /// Byte offset just past the end in the file.
    pub end: usize,
}

impl Location {
    /// The location of the byte range `start..end` of `text`. This scans
    /// the text: to locate many ranges of one text, build a
    /// [`LineIndex`](crate::LineIndex) once and ask it.
    pub fn in_text(text: &str, start: usize, end: usize) -> Location {
        crate::source::LineIndex::new(text).location(start, end)
    }
}

/// One finding about a policy: a problem found while loading it, or a lint.
///
/// `path` names the key the finding is about, dotted
/// (`policies.payments.strategies.RATE_LIMIT.max`); lints of a policy alone
/// use paths relative to it (`strategies.RATE_LIMIT.max`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The stable code of the rule (`E001`, `W007`, ...).
    pub code: &'static str,
    /// The key it is about.
    pub path: String,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it, in one line.
    pub help: Option<String>,
    /// Where the key is in the file, when it came from a file that says.
    pub location: Option<Location>,
}

impl Diagnostic {
    /// An error.
    pub fn error(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            path: path.into(),
            message: message.into(),
            help: None,
            location: None,
        }
    }

    /// A warning.
    pub fn warning(
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, path, message)
        }
    }

    /// Adds a help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the location.
    #[must_use]
    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl Diagnostic {
    /// The diagnostic on one line, as found in `file`:
    /// `FILE:LINE:COL: PATH: severity[CODE]: message (help: ...)`, the way
    /// compilers and editors point at a place.
    ///
    /// ```
    /// use std::path::Path;
    /// use redress_config::{Diagnostic, Location};
    ///
    /// let d = Diagnostic::error("E001", "max_attempts", "max_attempts is 0")
    ///     .at(Some(Location::in_text("max_attempts = 0", 15, 16)));
    /// assert_eq!(d.to_string(), "1:16: max_attempts: error[E001]: max_attempts is 0");
    /// assert_eq!(
    ///     d.in_file(Some(Path::new("retry.toml"))).to_string(),
    ///     "retry.toml:1:16: max_attempts: error[E001]: max_attempts is 0"
    /// );
    /// ```
    pub fn in_file<'a>(&'a self, file: Option<&'a Path>) -> impl fmt::Display + 'a {
        InFile { d: self, file }
    }
}

struct InFile<'a> {
    d: &'a Diagnostic,
    file: Option<&'a Path>,
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.file, &self.d.location) {
            (Some(file), Some(at)) => write!(f, "{}:{}:{}: ", file.display(), at.line, at.column)?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(at)) => write!(f, "{}:{}: ", at.line, at.column)?,
            (None, None) => {}
        }
        self.d.fmt_unlocated(f)
    }
}

/// One line: `[LINE:COL: ]PATH: severity[CODE]: message (help: ...)`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.in_file(None).fmt(f)
    }
}

impl Diagnostic {
    fn fmt_unlocated(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// The findings of a lint: see [`Lint`](crate::Lint).
///
/// A report about a policy loaded from a file ([`Document::lint`], or
/// the errors of building it) names the file, and prints each finding
/// as `FILE:LINE:COL: ...`.
///
/// [`Document::lint`]: crate::Document::lint
///
/// ```
/// use redress_config::{Lint, PolicyConfig};
///
/// let report = PolicyConfig::default().lint();
/// assert!(report.has_errors()); // no strategy
/// assert_eq!(report.errors().next().map(|d| d.code), Some("E004"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The findings, errors first, each group in rule order (or in file
    /// order, after [`in_file_order`](Report::in_file_order)).
    pub diagnostics: Vec<Diagnostic>,
    /// The file the findings are about, when they came from one.
    pub file: Option<PathBuf>,
}

impl Report {
    /// A report of `diagnostics`, sorted: errors first, then by code.
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by(|a, b| (a.severity, a.code).cmp(&(b.severity, b.code)));
        Report {
            diagnostics,
            file: None,
        }
    }

    /// The report with errors first, then warnings, each in the order of
    /// the file (by line and column; findings with no location last, by
    /// code).
    #[must_use]
    pub fn in_file_order(mut self) -> Self {
        self.diagnostics.sort_by_key(|d| {
            let at = d
                .location
                .map_or((usize::MAX, usize::MAX), |l| (l.line, l.column));
            (d.severity, at, d.code)
        });
        self
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    /// Whether there is any error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Whether there is any warning.
    pub fn has_warnings(&self) -> bool {
        self.warnings().next().is_some()
    }

    /// Whether there is nothing at all to report.
    pub fn is_clean(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Whether a finding with `code` is in the report.
    pub fn contains(&self, code: &str) -> bool {
        self.diagnostics.iter().any(|d| d.code == code)
    }

    /// The report without the findings whose code is in `codes` (for
    /// warnings a project has decided to accept).
    #[must_use]
    pub fn allow(mut self, codes: &[&str]) -> Self {
        self.diagnostics.retain(|d| !codes.contains(&d.code));
        self
    }
}

/// One diagnostic per line; `no findings` when clean.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.diagnostics.is_empty() {
            return f.write_str("no findings");
        }
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            d.in_file(self.file.as_deref()).fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a = 1\nµb = \"x\"\n";
        let at = Location::in_text(text, 8, 9);
        assert_eq!((at.line, at.column), (2, 2));
        let start = Location::in_text(text, 0, 1);
        assert_eq!((start.line, start.column), (1, 1));
    }

    #[test]
    fn reports_sort_and_print() {
        let report = Report::new(vec![
            Diagnostic::warning("W002", "b", "second"),
            Diagnostic::error("E004", "", "first").with_help("fix it"),
        ]);
        assert_eq!(
            report.to_string(),
            "error[E004]: first (help: fix it)\nb: warning[W002]: second"
        );
        assert!(report.has_errors() && report.has_warnings());
        assert!(report.contains("W002"));
        assert!(!report.clone().allow(&["W002", "E004"]).has_errors());
        assert_eq!(Report::default().to_string(), "no findings");
    }
}
