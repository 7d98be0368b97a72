//! Loading: text to [`Document`] to [`ConfigFile`] and [`PolicyConfig`].
//!
//! Loading is strict about shape and lenient about nothing: an unknown key,
//! a value of the wrong type, a malformed duration, an unknown class or
//! strategy kind, a negative count is a problem that names the key (with
//! line and column for TOML) and, for a typo, the nearest valid name. Every
//! problem of a file is reported, not only the first.
//!
//! Values that are well-formed but cannot work (`max_attempts = 0`,
//! `base` above `max`) load fine and are reported by [`lint`](crate::Lint),
//! which building runs: so one run of `redress doctor` shows everything.
//!
//! [`Document`] is the loaded file with its problems kept per policy and
//! the location of every key, for tools; [`ConfigFile`] is what an
//! application wants: every policy, or an error.

use core::fmt;
use core::ops::Range;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redress_core::ErrorClass;
use redress_core::backoff::{Param, ParamKind, StrategyKind};

use crate::diagnostic::{Diagnostic, Location, Report};
use crate::dialect::Dialect;
use crate::duration::{DurationError, MAX_SECONDS, parse_duration, seconds_to_duration};
use crate::lint::Lint;
use crate::model::{BreakerConfig, BudgetConfig, ConfigFile, PolicyConfig, StrategyConfig};
use crate::source::{LineIndex, Spans};
use crate::suggest::suggest;
use crate::tree::{Node, Value};

/// Codes of the problems found while loading.
pub(crate) mod codes {
    pub(crate) const UNKNOWN_KEY: &str = "E101";
    pub(crate) const WRONG_TYPE: &str = "E102";
    pub(crate) const BAD_DURATION: &str = "E103";
    pub(crate) const UNKNOWN_CLASS: &str = "E104";
    pub(crate) const UNKNOWN_KIND: &str = "E105";
    pub(crate) const OUT_OF_RANGE: &str = "E106";
    pub(crate) const MISSING_KEY: &str = "E107";
    pub(crate) const BAD_NESTING: &str = "E108";
    pub(crate) const NO_POLICIES: &str = "E109";
    pub(crate) const UNKNOWN_REFERENCE: &str = "E110";
    pub(crate) const BAD_STORE: &str = "E111";
    pub(crate) const STORE_SETTING_WITHOUT_STORE: &str = "E112";
}

mod shared;

pub(crate) use shared::Declarations;

/// The keys of a policy.
pub(crate) const POLICY_KEYS: [&str; 10] = [
    "deadline",
    "max_attempts",
    "max_unknown_attempts",
    "attempt_timeout",
    "stop_when_retry_after_exceeds_deadline",
    "per_class_max_attempts",
    "strategy",
    "strategies",
    "budget",
    "circuit_breaker",
];

const BREAKER_KEYS: [&str; 5] = [
    "failure_threshold",
    "window",
    "recovery_timeout",
    "trip_on",
    "class_thresholds",
];

/// A config file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// TOML (errors carry line and column).
    Toml,
    /// JSON with the same structure.
    Json,
}

impl Format {
    /// JSON for a `.json` file, TOML otherwise.
    pub fn of_path(path: &Path) -> Format {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Format::Json
        } else {
            Format::Toml
        }
    }

    /// `"TOML"` or `"JSON"`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        }
    }
}

/// Why a file could not be loaded.
///
/// Its [`Debug`](fmt::Debug) form is its [`Display`](fmt::Display) form,
/// every problem on its own line with the file, line and column, so an
/// application whose `main` returns it (`fn main() -> Result<(), Box<dyn
/// Error>>`) prints a readable report:
///
/// ```
/// use redress_config::ConfigFile;
///
/// let err = ConfigFile::from_toml_str("[policies.a]\nmax_atempts = 5\n").unwrap_err();
/// let as_main_prints = format!("Error: {:?}", Box::<dyn std::error::Error>::from(err));
/// assert_eq!(
///     as_main_prints,
///     "Error: 2:1: policies.a.max_atempts: error[E101]: unknown key `max_atempts` in a policy (help: did you mean `max_attempts`?)"
/// );
/// ```
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES)
    /// (or never ends, like `/dev/zero`): it is refused unread.
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The most that is read, in bytes.
        limit: u64,
    },
    /// The text is not valid TOML or JSON.
    Syntax {
        /// The file, when loading from one.
        file: Option<PathBuf>,
        /// The format it was read as.
        format: Format,
        /// The parser's message.
        message: String,
        /// Where.
        location: Option<Location>,
    },
    /// The text is TOML or JSON but not a valid config: each problem names
    /// its key.
    Invalid {
        /// The file, when loading from one.
        file: Option<PathBuf>,
        /// The problems (all errors).
        problems: Vec<Diagnostic>,
    },
    /// No policy has the requested name.
    NoSuchPolicy {
        /// The file, when loading from one.
        file: Option<PathBuf>,
        /// The name asked for.
        name: String,
        /// The names there are.
        available: Vec<String>,
    },
    /// A single policy was asked for, and the file names several.
    NotSingle {
        /// The file, when loading from one.
        file: Option<PathBuf>,
        /// The names there are.
        available: Vec<String>,
    },
}

impl LoadError {
    /// The file the error is about, when known.
    pub fn file(&self) -> Option<&Path> {
        match self {
            LoadError::Read { file, .. } | LoadError::TooLarge { file, .. } => Some(file),
            LoadError::Syntax { file, .. }
            | LoadError::Invalid { file, .. }
            | LoadError::NoSuchPolicy { file, .. }
            | LoadError::NotSingle { file, .. } => file.as_deref(),
        }
    }

    /// For [`NoSuchPolicy`](LoadError::NoSuchPolicy): the existing name
    /// nearest the one asked for.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            LoadError::NoSuchPolicy {
                name, available, ..
            } => suggest(name, available.iter().map(String::as_str)),
            _ => None,
        }
    }

    pub(crate) fn with_file(mut self, path: &Path) -> Self {
        match &mut self {
            LoadError::Read { .. } | LoadError::TooLarge { .. } => {}
            LoadError::Syntax { file, .. }
            | LoadError::Invalid { file, .. }
            | LoadError::NoSuchPolicy { file, .. }
            | LoadError::NotSingle { file, .. } => *file = Some(path.to_owned()),
        }
        self
    }
}

/// The report, as [`Display`](fmt::Display) writes it.
impl fmt::Debug for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `n` bytes in the largest whole unit: `16 MiB`, `1500 bytes`.
fn bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n % MIB == 0 {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file().map(|p| p.display().to_string());
        let prefix = |f: &mut fmt::Formatter<'_>| match &file {
            Some(name) => write!(f, "{name}: "),
            None => Ok(()),
        };
        match self {
            LoadError::Read { error, .. } => {
                prefix(f)?;
                write!(f, "cannot read the file: {error}")
            }
            LoadError::TooLarge { limit, .. } => {
                prefix(f)?;
                write!(
                    f,
                    "the file is larger than {}, the most redress reads",
                    bytes(*limit)
                )
            }
            LoadError::Syntax {
                format,
                message,
                location,
                ..
            } => {
                match (&file, location) {
                    (Some(name), Some(at)) => write!(f, "{name}:{}:{}: ", at.line, at.column)?,
                    (None, Some(at)) => write!(f, "{}:{}: ", at.line, at.column)?,
                    (_, None) => prefix(f)?,
                }
                write!(f, "not valid {}: {message}", format.name())
            }
            LoadError::Invalid { problems, .. } => {
                let file = self.file();
                match problems.as_slice() {
                    [one] => write!(f, "{}", one.in_file(file)),
                    many => {
                        prefix(f)?;
                        write!(f, "{} problems:", many.len())?;
                        for p in many {
                            write!(f, "\n  {}", p.in_file(file))?;
                        }
                        Ok(())
                    }
                }
            }
            LoadError::NoSuchPolicy {
                name, available, ..
            } => {
                prefix(f)?;
                write!(f, "no policy named `{name}`")?;
                if let Some(near) = self.suggestion() {
                    write!(f, " (did you mean `{near}`?)")?;
                }
                if available.is_empty() {
                    write!(f, "; the file is a single policy: leave the name out")
                } else {
                    write!(f, "; policies: {}", available.join(", "))
                }
            }
            LoadError::NotSingle { available, .. } => {
                prefix(f)?;
                write!(
                    f,
                    "the file holds several policies; pick one of: {}",
                    available.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// One policy of a [`Document`]: its config, or the problems that kept it
/// from loading.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Entry {
    /// Its name (`None` for a file that is a single policy).
    pub name: Option<String>,
    /// The path of its keys in the file (`policies.NAME`, or empty).
    pub prefix: String,
    /// The config, or the problems (errors, located).
    pub result: Result<PolicyConfig, Vec<Diagnostic>>,
    /// For an entry with problems: what did load (the settings with
    /// problems left at their defaults), for the lint errors of the rest.
    partial: Option<PolicyConfig>,
}

/// Where the keys of a loaded text are: shared by its [`Document`] and by
/// every policy loaded from it, so a finding about a policy (a lint, or an
/// error building it) can say where it is.
#[derive(Debug)]
pub(crate) struct SourceMap {
    pub(crate) file: Option<PathBuf>,
    pub(crate) format: Format,
    index: BTreeMap<String, Spans>,
    lines: LineIndex,
}

impl SourceMap {
    /// Where the key at `path` (a full dotted path) is: its value, or the
    /// nearest enclosing key that is written in the file.
    fn locate(&self, path: &str) -> Option<Location> {
        let mut current = path;
        loop {
            if let Some(spans) = self.index.get(current) {
                let written = [spans.value.as_ref(), spans.key.as_ref()]
                    .into_iter()
                    .flatten()
                    .find(|span| span.end > span.start);
                if let Some(span) = written {
                    return Some(self.lines.location(span.start, span.end));
                }
            }
            current = parent_path(current)?;
        }
    }

    /// A finding about the policy under `prefix`, as the file has it: its
    /// full path, its location, and its help in the file's syntax.
    pub(crate) fn place(&self, prefix: &str, d: &mut Diagnostic) {
        d.path = join_path(prefix, &d.path);
        d.location = self.locate(&d.path);
        self.translate(d);
    }

    /// A finding's help in the file's syntax (JSON for a JSON file).
    fn translate(&self, d: &mut Diagnostic) {
        if self.format == Format::Json {
            if let Some(help) = &mut d.help {
                *help = crate::source::json_help(help);
            }
        }
    }
}

/// Where a loaded policy came from: its file and the path of its keys.
/// It makes no difference to what the policy is: two configs with the same
/// settings are equal wherever they were loaded from.
#[derive(Clone, Default)]
pub(crate) struct Origin(Option<(Arc<SourceMap>, String)>);

impl Origin {
    /// The file, when loaded from one.
    pub(crate) fn file(&self) -> Option<&Path> {
        self.0.as_ref()?.0.file.as_deref()
    }

    /// A report about the policy, as its file has it: full paths, located,
    /// in file order, naming the file.
    pub(crate) fn place(&self, mut report: Report) -> Report {
        if let Some((source, prefix)) = &self.0 {
            for d in &mut report.diagnostics {
                source.place(prefix, d);
            }
            report.file.clone_from(&source.file);
            report = report.in_file_order();
        }
        report
    }
}

impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("None"),
            Some((source, prefix)) => {
                let file = source.file.as_ref().map(|p| p.display().to_string());
                write!(f, "{:?}", (file, prefix))
            }
        }
    }
}

/// A loaded file, for tools: every policy with its problems kept apart,
/// and the location of every key, so diagnostics about a policy (from
/// [`lint`](Document::lint)) point into the file.
///
/// ```
/// use redress_config::{Document, Format};
///
/// let text = "[policies.a]\nmax_attempts = 0\nstrategy = \"full_jitter\"\n";
/// let doc = Document::parse(text, Format::Toml)?;
/// let entry = doc.entry("a")?;
/// let report = doc.lint(entry);
/// let error = report.errors().next().expect("max_attempts = 0");
/// assert_eq!(error.path, "policies.a.max_attempts");
/// assert_eq!(error.location.map(|l| (l.line, l.column)), Some((2, 16)));
/// # Ok::<(), redress_config::LoadError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Document {
    text: String,
    single: bool,
    entries: Vec<Entry>,
    problems: Vec<Diagnostic>,
    skipped: Vec<String>,
    source: Arc<SourceMap>,
    /// `[breakers.NAME]` and `[budgets.NAME]`: what policies may share.
    shared: Declarations,
}

/// The code of a syntax error, as [`Document::problems`] reports it.
const SYNTAX: &str = "E100";

impl Document {
    /// Reads and parses `path` (JSON for `.json`, TOML otherwise), with the
    /// size cap of [`read_file`](crate::read_file).
    pub fn load(path: impl AsRef<Path>) -> Result<Document, LoadError> {
        let path = path.as_ref();
        let text = crate::source::read_file(path)?;
        Document::read(&text, Format::of_path(path), Some(path), false)
    }

    /// Parses `text`. Fails when it is not valid TOML or JSON, or not
    /// shaped like a config file at all; problems inside a policy are kept
    /// in its [`Entry`].
    pub fn parse(text: &str, format: Format) -> Result<Document, LoadError> {
        Document::read(text, format, None, false)
    }

    /// Reads `path` as far as it can be read, for a tool that reports
    /// everything at once (`redress doctor`): see
    /// [`parse_partial`](Document::parse_partial).
    pub fn load_partial(path: impl AsRef<Path>) -> Result<Document, LoadError> {
        let path = path.as_ref();
        let text = crate::source::read_file(path)?;
        Document::read(&text, Format::of_path(path), Some(path), true)
    }

    /// Parses as much of `text` as can be read: TOML syntax errors and
    /// problems outside any policy (an unknown top-level key) are kept in
    /// [`problems`](Document::problems) instead of failing the parse, and
    /// every policy the syntax errors leave whole is an entry; a policy a
    /// syntax error falls in is left out and named by
    /// [`skipped`](Document::skipped). Fails only for a JSON syntax error
    /// (JSON cannot be read past one).
    ///
    /// ```
    /// use redress_config::{Document, Format};
    ///
    /// let text = "[policies.a]\nmax_attempts = 0\nstrategy = \"full_jitter\"\n\n[policies.b]\ndeadline = 10s\n";
    /// let doc = Document::parse_partial(text, Format::Toml)?;
    /// assert_eq!(doc.problems()[0].code, "E100");
    /// assert_eq!(doc.problems()[0].location.map(|l| l.line), Some(6));
    /// assert_eq!(doc.skipped(), ["b"]);
    /// let a = doc.entry("a")?;
    /// assert!(doc.lint(a).contains("E001"));
    /// # Ok::<(), redress_config::LoadError>(())
    /// ```
    pub fn parse_partial(text: &str, format: Format) -> Result<Document, LoadError> {
        Document::read(text, format, None, true)
    }

    fn read(
        text: &str,
        format: Format,
        file: Option<&Path>,
        partial: bool,
    ) -> Result<Document, LoadError> {
        let in_file = |e: LoadError| match file {
            Some(path) => e.with_file(path),
            None => e,
        };
        let lines = LineIndex::new(text);
        let mut syntax = Vec::new();
        let root = match format {
            Format::Toml if partial => {
                let (table, errors) = toml::de::DeTable::parse_recoverable(text);
                for e in &errors {
                    let message = e.message();
                    let first = message.lines().next().unwrap_or(message);
                    let location = e.span().map(|s| lines.location(s.start, s.end));
                    syntax.push(
                        Diagnostic::error(SYNTAX, "", format!("not valid TOML: {first}"))
                            .at(location),
                    );
                }
                let span = table.span();
                let mut root = Node::from_toml(table.get_ref(), span);
                if !errors.is_empty() {
                    // What recovery made up to go on has no text.
                    root.drop_unwritten();
                }
                root
            }
            Format::Toml => {
                let table = toml::de::DeTable::parse(text).map_err(|e| {
                    in_file(LoadError::Syntax {
                        file: None,
                        format,
                        message: e.message().to_owned(),
                        location: e.span().map(|s| lines.location(s.start, s.end)),
                    })
                })?;
                let span = table.span();
                Node::from_toml(table.get_ref(), span)
            }
            Format::Json => crate::tree::parse_json(text, &lines).map_err(in_file)?,
        };
        let mut walker = Walker::new(Some(lines), Dialect::Config);
        let (single, mut entries) = walker.document(&root);
        let mut problems = core::mem::take(&mut walker.problems);
        if !partial && !problems.is_empty() {
            if format == Format::Json {
                for help in problems.iter_mut().filter_map(|d| d.help.as_mut()) {
                    *help = crate::source::json_help(help);
                }
            }
            return Err(in_file(LoadError::Invalid {
                file: None,
                problems: in_line_order(problems),
            }));
        }
        let source = Arc::new(SourceMap {
            file: file.map(Path::to_owned),
            format,
            index: walker.index,
            lines: walker.lines.unwrap_or_default(),
        });
        let mut skipped = Vec::new();
        if !syntax.is_empty() {
            let broken: Vec<usize> = syntax
                .iter()
                .filter_map(|d| d.location.map(|l| l.start))
                .collect();
            let regions = regions(&source, &entries, text.len());
            let mut kept = Vec::new();
            for (entry, region) in entries.into_iter().zip(regions) {
                if broken.iter().any(|at| region.contains(at)) {
                    skipped.extend(entry.name);
                } else {
                    kept.push(entry);
                }
            }
            entries = kept;
        }
        for entry in &mut entries {
            let origin = Origin(Some((Arc::clone(&source), entry.prefix.clone())));
            match &mut entry.result {
                Ok(config) => config.origin = origin,
                Err(problems) => {
                    problems.iter_mut().for_each(|d| source.translate(d));
                    if let Some(config) = &mut entry.partial {
                        config.origin = origin;
                    }
                }
            }
        }
        problems.iter_mut().for_each(|d| source.translate(d));
        syntax.extend(problems);
        Ok(Document {
            text: text.to_owned(),
            single,
            entries,
            problems: in_line_order(syntax),
            skipped,
            source,
            shared: walker.shared,
        })
    }

    fn from_node(root: &Node) -> Result<ConfigFile, LoadError> {
        let mut walker = Walker::new(None, Dialect::Config);
        let (single, entries) = walker.document(root);
        if !walker.problems.is_empty() {
            return Err(LoadError::Invalid {
                file: None,
                problems: walker.problems,
            });
        }
        let source = Arc::new(SourceMap {
            file: None,
            format: Format::Toml,
            index: BTreeMap::new(),
            lines: LineIndex::default(),
        });
        Document {
            text: String::new(),
            single,
            entries,
            problems: Vec::new(),
            skipped: Vec::new(),
            source,
            shared: walker.shared,
        }
        .into_config_file()
    }

    /// The file it was loaded from.
    pub fn file(&self) -> Option<&Path> {
        self.source.file.as_deref()
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where the lines of the text are (built once, when it was parsed).
    pub fn lines(&self) -> &LineIndex {
        &self.source.lines
    }

    /// The format it was parsed as.
    pub fn format(&self) -> Format {
        self.source.format
    }

    /// Whether the file is a single policy (not `[policies.NAME]`).
    pub fn is_single(&self) -> bool {
        self.single
    }

    /// Every policy, in name order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The problems of the file outside any policy, in line order: after
    /// [`parse_partial`](Document::parse_partial), its syntax errors
    /// (`E100`) and structure problems (an unknown top-level key); always
    /// empty after [`parse`](Document::parse), which fails on them.
    pub fn problems(&self) -> &[Diagnostic] {
        &self.problems
    }

    /// The policies [`parse_partial`](Document::parse_partial) left out
    /// because a syntax error falls in them, in name order.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The policy named `name`. A file that is a single policy has no
    /// names.
    pub fn entry(&self, name: &str) -> Result<&Entry, LoadError> {
        self.entries
            .iter()
            .find(|e| e.name.as_deref() == Some(name))
            .ok_or_else(|| LoadError::NoSuchPolicy {
                file: self.source.file.clone(),
                name: name.to_owned(),
                available: self.entries.iter().filter_map(|e| e.name.clone()).collect(),
            })
    }

    /// Where the key at `path` (a full dotted path) is in the file: its
    /// value, or the nearest enclosing key that is written in the file when
    /// the key itself is not (a default).
    pub fn locate(&self, path: &str) -> Option<Location> {
        self.source.locate(path)
    }

    /// Where the key (not the value) at `path` is, when written.
    pub fn locate_key(&self, path: &str) -> Option<Location> {
        let span = self.source.index.get(path)?.key.as_ref()?;
        Some(self.source.lines.location(span.start, span.end))
    }

    /// Lints an entry's policy: its paths are made full and located in
    /// the file, its help written in the file's syntax, in file order. An
    /// entry that did not load reports its problems, and the lint errors
    /// of the settings that did load (its warnings wait until it loads).
    pub fn lint(&self, entry: &Entry) -> Report {
        let mut report = match (&entry.result, &entry.partial) {
            (Ok(config), _) => {
                let mut report = config.lint();
                for d in &mut report.diagnostics {
                    self.source.place(&entry.prefix, d);
                }
                report
            }
            (Err(problems), partial) => {
                let mut all = problems.clone();
                if let Some(config) = partial {
                    all.extend(partial_errors(
                        config,
                        &entry.prefix,
                        problems,
                        &self.source,
                    ));
                }
                Report::new(all)
            }
        };
        report.file.clone_from(&self.source.file);
        report.in_file_order()
    }

    /// Every policy, or every problem of every policy (in line order).
    pub fn into_config_file(self) -> Result<ConfigFile, LoadError> {
        let mut problems = Vec::new();
        let mut named = BTreeMap::new();
        let mut single = None;
        for entry in self.entries {
            match (entry.result, entry.name) {
                (Err(p), _) => problems.extend(p),
                (Ok(config), Some(name)) => {
                    named.insert(name, config);
                }
                (Ok(config), None) => single = Some(config),
            }
        }
        if !problems.is_empty() {
            return Err(LoadError::Invalid {
                file: self.source.file.clone(),
                problems: in_line_order(problems),
            });
        }
        Ok(match single {
            Some(config) if self.single => ConfigFile::Single(Box::new(config)),
            _ => ConfigFile::Named(named),
        })
    }
}

/// Problems sorted by where they are; those with no location keep their
/// order, after the others.
fn in_line_order(mut problems: Vec<Diagnostic>) -> Vec<Diagnostic> {
    problems.sort_by_key(|d| match d.location {
        Some(l) => (false, l.line, l.column),
        None => (true, 0, 0),
    });
    problems
}

/// The part of the text each entry owns, for deciding which ones a syntax
/// error falls in: from its first written key to where the next entry
/// begins (or the end), widened to its last key when entries interleave.
fn regions(source: &SourceMap, entries: &[Entry], len: usize) -> Vec<Range<usize>> {
    let extents: Vec<Option<Range<usize>>> = entries
        .iter()
        .map(|entry| {
            let mut extent: Option<Range<usize>> = None;
            for spans in under(&source.index, &entry.prefix) {
                for span in [&spans.key, &spans.value].into_iter().flatten() {
                    if span.end > span.start {
                        extent = Some(match extent {
                            None => span.clone(),
                            Some(e) => e.start.min(span.start)..e.end.max(span.end),
                        });
                    }
                }
            }
            extent
        })
        .collect();
    let mut starts: Vec<usize> = extents.iter().flatten().map(|e| e.start).collect();
    starts.sort_unstable();
    extents
        .iter()
        .map(|extent| match extent {
            // Unwritten: it cannot hold an error.
            None => 0..0,
            Some(e) => {
                let next = starts
                    .get(starts.partition_point(|s| *s <= e.start))
                    .copied()
                    .unwrap_or(len);
                e.start..next.max(e.end)
            }
        })
        .collect()
}

/// The spans of `prefix` and of every key under it.
fn under<'m>(
    index: &'m BTreeMap<String, Spans>,
    prefix: &str,
) -> impl Iterator<Item = &'m Spans> + 'm {
    let ranges: Vec<(String, String)> = if prefix.is_empty() {
        vec![(String::new(), "\u{10ffff}".repeat(2))]
    } else {
        // `prefix`, `prefix.…` and `prefix[…`: '/' and '\\' follow '.' and '['.
        vec![
            (prefix.to_owned(), format!("{prefix}\0")),
            (format!("{prefix}."), format!("{prefix}/")),
            (format!("{prefix}["), format!("{prefix}\\")),
        ]
    };
    ranges
        .into_iter()
        .flat_map(move |(from, to)| index.range(from..to).map(|(_, spans)| spans))
}

/// Whether `path` is `prefix` or a key under it.
fn within(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// The lint errors of a policy that did not load in full, about the
/// settings that did: core's rules are each about one setting, so the
/// errors of settings with no problem stand; anything about a setting with
/// a problem (or about the strategies, when one of them did not load) is
/// left out, and so are the warnings, which weigh several settings.
fn partial_errors(
    config: &PolicyConfig,
    prefix: &str,
    problems: &[Diagnostic],
    source: &SourceMap,
) -> Vec<Diagnostic> {
    let strategies_failed = problems.iter().any(|p| {
        within(&p.path, &join_path(prefix, "strategy"))
            || within(&p.path, &join_path(prefix, "strategies"))
    });
    let mut out = Vec::new();
    for mut d in config.lint().diagnostics {
        if !d.is_error() || (d.code == "E004" && strategies_failed) {
            continue;
        }
        source.place(prefix, &mut d);
        let related = problems
            .iter()
            .any(|p| within(&p.path, &d.path) || within(&d.path, &p.path));
        if !related {
            out.push(d);
        }
    }
    out
}

/// `a.b.c` → `a.b`; `a` → ``; `` → none.
fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    // Quoted segments may hold dots; find the last dot outside quotes.
    let mut in_quotes = false;
    let mut last = None;
    let mut escaped = false;
    for (i, c) in path.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '.' if !in_quotes => last = Some(i),
            _ => {}
        }
    }
    Some(last.map_or("", |i| path.get(..i).unwrap_or("")))
}

/// A key as a path segment: bare when it can be, quoted otherwise.
pub(crate) fn segment(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        toml_quoted(key)
    }
}

/// `s` as a TOML basic string: quoted, with `"`, `\` and control
/// characters escaped and every other character as itself. (Rust's `{:?}`
/// is not TOML: it writes `\u{feff}`, which TOML refuses.)
pub(crate) fn toml_quoted(s: &str) -> String {
    use core::fmt::Write as _;
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Every control character is below U+0100: four digits.
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `prefix.rest` (either may be empty).
pub(crate) fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// Walks a tree into configs, collecting problems and key locations.
struct Walker {
    lines: Option<LineIndex>,
    dialect: Dialect,
    problems: Vec<Diagnostic>,
    index: BTreeMap<String, Spans>,
    /// `[breakers.NAME]` and `[budgets.NAME]`, read before the policies.
    shared: Declarations,
}

/// How deep `fallback`s may nest before loading stops descending. Core
/// refuses anything deeper than `retry_after_or(adaptive(curve))` (two
/// deep) anyway; the limit only keeps a hostile file from exhausting the
/// stack.
const MAX_FALLBACK_DEPTH: u8 = 8;

/// A strategy parameter as read, before the strategy is assembled.
enum Parsed {
    Duration(Duration),
    Number(f64),
    Delays(Vec<Duration>),
    Fallback(StrategyConfig),
}

impl Walker {
    fn new(lines: Option<LineIndex>, dialect: Dialect) -> Self {
        Walker {
            lines,
            dialect,
            problems: Vec::new(),
            index: BTreeMap::new(),
            shared: Declarations::default(),
        }
    }

    /// The key `canonical` is written under in the dialect.
    fn key(&self, canonical: &str) -> String {
        self.dialect.key(canonical)
    }

    /// The keys `canonical` are written under.
    fn keys(&self, canonical: &[&str]) -> Vec<String> {
        canonical.iter().map(|k| self.key(k)).collect()
    }

    /// The value of the setting `canonical`; a scenario's `null` is a key
    /// left out.
    fn find<'n>(&self, entries: &'n [(String, Node)], canonical: &str) -> Option<&'n Node> {
        let node = find(entries, &self.key(canonical))?;
        if self.dialect.null_is_absent() && node.value == Value::Null {
            return None;
        }
        Some(node)
    }

    fn location(&self, span: Option<&Range<usize>>) -> Option<Location> {
        let span = span?;
        Some(self.lines.as_ref()?.location(span.start, span.end))
    }

    fn record(&mut self, path: &str, node: &Node) {
        self.index.insert(
            path.to_owned(),
            Spans {
                key: node.key_span.clone(),
                value: node.span.clone(),
            },
        );
    }

    /// A problem about `node`'s value (or its key, with `at_key`).
    fn problem(&mut self, d: Diagnostic, node: &Node, at_key: bool) {
        let span = if at_key {
            node.key_span.as_ref().or(node.span.as_ref())
        } else {
            node.span.as_ref().or(node.key_span.as_ref())
        };
        let location = self.location(span);
        self.problems.push(d.at(location));
    }

    fn wrong_type(&mut self, node: &Node, path: &str, expected: &str, help: Option<String>) {
        let key = last_segment(path);
        let mut d = Diagnostic::error(
            codes::WRONG_TYPE,
            path,
            format!("`{key}` must be {expected}, not {}", node.value.describe()),
        );
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.problem(d, node, false);
    }

    fn table<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        expected: &str,
    ) -> Option<&'n [(String, Node)]> {
        self.record(path, node);
        match &node.value {
            Value::Table(entries) => Some(entries),
            _ => {
                self.wrong_type(node, path, expected, None);
                None
            }
        }
    }

    /// Reports every key of `entries` not in `allowed` (suggesting from
    /// `allowed` and `extra`).
    fn check_keys(
        &mut self,
        entries: &[(String, Node)],
        path: &str,
        allowed: &[String],
        extra: &[&str],
        what: &str,
    ) {
        for (key, node) in entries {
            if allowed.contains(key) {
                continue;
            }
            let child = join_path(path, &segment(key));
            let near = suggest(
                key,
                allowed
                    .iter()
                    .map(String::as_str)
                    .chain(extra.iter().copied()),
            );
            let help = match near {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("{what} takes: {}", allowed.join(", ")),
            };
            self.problem(
                Diagnostic::error(
                    codes::UNKNOWN_KEY,
                    child,
                    format!("unknown key `{key}` in {what}"),
                )
                .with_help(help),
                node,
                true,
            );
        }
    }

    fn missing(&mut self, parent: &Node, path: &str, what: &str, help: String) {
        let key = last_segment(path);
        self.problem(
            Diagnostic::error(codes::MISSING_KEY, path, format!("{what} needs `{key}`"))
                .with_help(help),
            parent,
            false,
        );
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        self.record(path, node);
        if self.dialect == Dialect::Scenario {
            return self.seconds(node, path);
        }
        let key = last_segment(path);
        let text = match &node.value {
            Value::String(s) => s,
            Value::Integer(n) => {
                let d = Diagnostic::error(
                    codes::BAD_DURATION,
                    path,
                    format!("`{key}` must be a duration with a unit, not the bare number {n}"),
                )
                .with_help(format!(
                    "write `{key} = \"{n}s\"` (or `\"{n}ms\"`); units: ns, us, ms, s, m, h"
                ));
                self.problem(d, node, false);
                return None;
            }
            Value::Float(x) => {
                let d = Diagnostic::error(
                    codes::BAD_DURATION,
                    path,
                    format!("`{key}` must be a duration with a unit, not the bare number {x}"),
                )
                .with_help(format!(
                    "write `{key} = \"{x}s\"`; units: ns, us, ms, s, m, h"
                ));
                self.problem(d, node, false);
                return None;
            }
            _ => {
                self.wrong_type(
                    node,
                    path,
                    "a duration",
                    Some("write it as a string with a unit: \"250ms\", \"1.5s\", \"2m\"".into()),
                );
                return None;
            }
        };
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                let help = duration_help(text, &e);
                let d = Diagnostic::error(
                    codes::BAD_DURATION,
                    path,
                    format!("`{key}` is not a valid duration: {e}"),
                )
                .with_help(help);
                self.problem(d, node, false);
                None
            }
        }
    }

    /// Seconds as a number (the scenario dialect).
    fn seconds(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let key = last_segment(path);
        let secs = match &node.value {
            Value::Integer(n) => *n as f64,
            Value::Float(x) => *x,
            _ => {
                self.wrong_type(node, path, "a number of seconds", None);
                return None;
            }
        };
        let parsed = seconds_to_duration(secs);
        if parsed.is_none() {
            let d = Diagnostic::error(
                codes::BAD_DURATION,
                path,
                format!("`{key}` is not a valid number of seconds: {secs}"),
            )
            .with_help(format!(
                "give a finite number of seconds from 0 to {MAX_SECONDS}"
            ));
            self.problem(d, node, false);
        }
        parsed
    }

    fn opt_duration(
        &mut self,
        entries: &[(String, Node)],
        path: &str,
        key: &str,
    ) -> Option<Duration> {
        let node = self.find(entries, key)?;
        self.duration(node, &join_path(path, &self.key(key)))
    }

    /// `true` or `false`.
    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        self.record(path, node);
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::String(s) if matches!(s.trim(), "true" | "false") => {
                let help = Some(format!(
                    "write it without quotes: `{} = {}`",
                    last_segment(path),
                    s.trim()
                ));
                self.wrong_type(node, path, "true or false", help);
                None
            }
            _ => {
                self.wrong_type(node, path, "true or false", None);
                None
            }
        }
    }

    /// A whole number from 0 to `u32::MAX`.
    fn count(&mut self, node: &Node, path: &str) -> Option<u32> {
        self.record(path, node);
        let key = last_segment(path);
        match &node.value {
            Value::Integer(n) => match u32::try_from(*n) {
                Ok(v) => Some(v),
                Err(_) => {
                    let help = if *n < 0 {
                        "counts cannot be negative; 0 is the smallest (for a cap: stop at the first failure)"
                    } else {
                        "the largest count is 4294967295"
                    };
                    let d = Diagnostic::error(
                        codes::OUT_OF_RANGE,
                        path,
                        format!("`{key}` must be a whole number from 0 to 4294967295, not {n}"),
                    )
                    .with_help(help);
                    self.problem(d, node, false);
                    None
                }
            },
            Value::String(s) if s.trim().parse::<u32>().is_ok() => {
                let help = Some(format!("write it without quotes: `{key} = {}`", s.trim()));
                self.wrong_type(node, path, "a whole number", help);
                None
            }
            _ => {
                self.wrong_type(node, path, "a whole number", None);
                None
            }
        }
    }

    fn opt_count(&mut self, entries: &[(String, Node)], path: &str, key: &str) -> Option<u32> {
        let node = self.find(entries, key)?;
        self.count(node, &join_path(path, key))
    }

    fn number(&mut self, node: &Node, path: &str) -> Option<f64> {
        self.record(path, node);
        match &node.value {
            Value::Integer(n) => Some(*n as f64),
            Value::Float(x) => Some(*x),
            _ => {
                self.wrong_type(node, path, "a number", None);
                None
            }
        }
    }

    fn opt_number(&mut self, entries: &[(String, Node)], path: &str, key: &str) -> Option<f64> {
        let node = self.find(entries, key)?;
        self.number(node, &join_path(path, key))
    }

    fn class_name(
        &mut self,
        name: &str,
        node: &Node,
        path: &str,
        at_key: bool,
    ) -> Option<ErrorClass> {
        if let Some(class) = ErrorClass::from_name(name) {
            return Some(class);
        }
        let names = ErrorClass::ALL.map(ErrorClass::name);
        let help = match suggest(name, names) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("the classes are: {}", names.join(", ")),
        };
        let d = Diagnostic::error(
            codes::UNKNOWN_CLASS,
            path,
            format!("unknown error class `{name}`"),
        )
        .with_help(help);
        self.problem(d, node, at_key);
        None
    }

    /// A table keyed by class names.
    fn class_map<T>(
        &mut self,
        node: &Node,
        path: &str,
        mut each: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
    ) -> BTreeMap<ErrorClass, T> {
        let mut map = BTreeMap::new();
        let Some(entries) = self.table(node, path, "a table keyed by error class") else {
            return map;
        };
        for (key, child) in entries {
            let child_path = join_path(path, &segment(key));
            self.record(&child_path, child);
            let class = self.class_name(key, child, &child_path, true);
            let value = each(self, child, &child_path);
            if let (Some(class), Some(value)) = (class, value) {
                map.insert(class, value);
            }
        }
        map
    }

    /// The whole file: single policy or `[policies.NAME]`.
    fn document(&mut self, root: &Node) -> (bool, Vec<Entry>) {
        let Value::Table(top) = &root.value else {
            self.wrong_type(root, "", "a table of settings", None);
            return (true, Vec::new());
        };
        let Some(policies) = find(top, "policies") else {
            let result = self.entry(root, "", true);
            return (true, vec![entry(None, String::new(), result)]);
        };
        for (key, node) in top {
            if matches!(key.as_str(), "policies" | "breakers" | "budgets") {
                continue;
            }
            let help = if POLICY_KEYS.contains(&key.as_str()) {
                format!("with `[policies.NAME]`, `{key}` belongs inside each policy")
            } else {
                "a file with `[policies.NAME]` holds nothing else at the top level".to_owned()
            };
            self.problem(
                Diagnostic::error(
                    codes::UNKNOWN_KEY,
                    segment(key),
                    format!("unknown top-level key `{key}`"),
                )
                .with_help(help),
                node,
                true,
            );
        }
        self.declarations(top);
        let Some(named) = self.table(policies, "policies", "a table of policies") else {
            return (false, Vec::new());
        };
        if named.is_empty() {
            self.problem(
                Diagnostic::error(codes::NO_POLICIES, "policies", "`policies` holds no policy")
                    .with_help("add one: `[policies.NAME]` with its settings"),
                policies,
                true,
            );
        }
        let mut entries: Vec<Entry> = named
            .iter()
            .map(|(name, node)| {
                let prefix = join_path("policies", &segment(name));
                let result = self.entry(node, &prefix, false);
                entry(Some(name.clone()), prefix, result)
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        (false, entries)
    }

    /// One policy, with its problems kept apart from the file's: the
    /// config, and the problems (in line order) when there are any.
    fn entry(&mut self, node: &Node, prefix: &str, top: bool) -> (PolicyConfig, Vec<Diagnostic>) {
        let outer = core::mem::take(&mut self.problems);
        let config = self.policy(node, prefix, top);
        let problems = core::mem::replace(&mut self.problems, outer);
        (config, in_line_order(problems))
    }

    fn policy(&mut self, node: &Node, path: &str, top: bool) -> PolicyConfig {
        let mut config = PolicyConfig::default();
        let Some(entries) = self.table(node, path, "a policy (a table of settings)") else {
            return config;
        };
        let extra: &[&str] = if top { &["policies"] } else { &[] };
        let allowed = self.keys(&POLICY_KEYS);
        self.check_keys(entries, path, &allowed, extra, "a policy");
        if let Some(d) = self.opt_duration(entries, path, "deadline") {
            config.deadline = d;
        }
        if let Some(n) = self.opt_count(entries, path, "max_attempts") {
            config.max_attempts = n;
        }
        // Not `self.find`: a scenario's `null` lifts the cap.
        if let Some(node) = find(entries, "max_unknown_attempts") {
            config.max_unknown_attempts =
                self.unknown_cap(node, &join_path(path, "max_unknown_attempts"));
        }
        config.attempt_timeout = self.opt_duration(entries, path, "attempt_timeout");
        if let Some(node) = self.find(entries, "stop_when_retry_after_exceeds_deadline") {
            let key_path = join_path(path, "stop_when_retry_after_exceeds_deadline");
            if let Some(stop) = self.boolean(node, &key_path) {
                config.stop_when_retry_after_exceeds_deadline = stop;
            }
        }
        if let Some(node) = self.find(entries, "per_class_max_attempts") {
            config.per_class_max_attempts = self.class_map(
                node,
                &join_path(path, "per_class_max_attempts"),
                |w, n, p| w.count(n, p),
            );
        }
        if let Some(node) = self.find(entries, "strategy") {
            config.strategy = self.strategy(node, &join_path(path, "strategy"), 0);
        }
        if let Some(node) = self.find(entries, "strategies") {
            config.strategies = self.class_map(node, &join_path(path, "strategies"), |w, n, p| {
                w.strategy(n, p, 0)
            });
        }
        if let Some(node) = self.find(entries, "budget") {
            let budget_path = join_path(path, "budget");
            if let (Value::String(_), Dialect::Config) = (&node.value, self.dialect) {
                if let Some((budget, r)) = self.budget_ref(node, &budget_path) {
                    config.budget = Some(budget);
                    config.shared_budget = Some(r);
                }
            } else {
                config.budget = self.budget(node, &budget_path);
            }
        }
        if let Some(node) = self.find(entries, "circuit_breaker") {
            let breaker_path = join_path(path, "circuit_breaker");
            if let (Value::String(_), Dialect::Config) = (&node.value, self.dialect) {
                if let Some((breaker, r)) = self.breaker_ref(node, &breaker_path) {
                    config.circuit_breaker = Some(breaker);
                    config.shared_breaker = Some(r);
                }
            } else {
                config.circuit_breaker = self.breaker(node, &breaker_path);
            }
        }
        config
    }

    fn unknown_cap(&mut self, node: &Node, path: &str) -> Option<u32> {
        let default = Some(redress_core::Policy::DEFAULT_MAX_UNKNOWN_ATTEMPTS);
        if self.dialect == Dialect::Scenario {
            self.record(path, node);
            return match &node.value {
                Value::Null => None,
                Value::Integer(_) => self.count(node, path).or(default),
                _ => {
                    let help = Some("write a whole number, or null for no cap".to_owned());
                    self.wrong_type(node, path, "a whole number or null", help);
                    default
                }
            };
        }
        match &node.value {
            Value::String(s) if s == "unlimited" => {
                self.record(path, node);
                None
            }
            Value::String(s) => {
                self.record(path, node);
                let help = if suggest(s, ["unlimited"]).is_some() {
                    "did you mean \"unlimited\"?".to_owned()
                } else {
                    "write a whole number, or \"unlimited\" for no cap".to_owned()
                };
                self.wrong_type(node, path, "a whole number or \"unlimited\"", Some(help));
                default
            }
            Value::Null => {
                self.record(path, node);
                self.wrong_type(
                    node,
                    path,
                    "a whole number or \"unlimited\"",
                    Some("write \"unlimited\" for no cap".into()),
                );
                default
            }
            _ => self.count(node, path).or(default),
        }
    }

    fn strategy(&mut self, node: &Node, path: &str, depth: u8) -> Option<StrategyConfig> {
        self.record(path, node);
        let dialect = self.dialect;
        let kind_names: Vec<&str> = dialect
            .kinds()
            .iter()
            .map(|k| dialect.kind_name(*k))
            .collect();
        let (kind_node, entries): (&Node, &[(String, Node)]) = match &node.value {
            Value::String(_) => (node, &[]),
            Value::Table(entries) => match find(entries, "kind") {
                Some(kind) => (kind, entries),
                None => {
                    let help = format!(
                        "add `kind = \"{}\"` (kinds: {})",
                        kind_names.first().copied().unwrap_or_default(),
                        kind_names.join(", ")
                    );
                    self.missing(node, &join_path(path, "kind"), "a strategy", help);
                    return None;
                }
            },
            _ => {
                let help = "write `{ kind = \"decorrelated_jitter\", max = \"5s\" }`, or just the kind: `\"full_jitter\"`";
                self.wrong_type(node, path, "a strategy table", Some(help.to_owned()));
                return None;
            }
        };
        let kind_path = if entries.is_empty() {
            path.to_owned()
        } else {
            join_path(path, "kind")
        };
        if !entries.is_empty() {
            self.record(&kind_path, kind_node);
        }
        let Value::String(name) = &kind_node.value else {
            self.wrong_type(kind_node, &kind_path, "a strategy kind (a string)", None);
            return None;
        };
        let Some(kind) = dialect.kind_named(name) else {
            let message = if StrategyKind::from_name(name).is_some() {
                format!(
                    "strategy kind `{name}` is not available in {}",
                    dialect.what()
                )
            } else {
                format!("unknown strategy kind `{name}`")
            };
            let help = match suggest(name, kind_names.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the kinds are: {}", kind_names.join(", ")),
            };
            self.problem(
                Diagnostic::error(codes::UNKNOWN_KIND, kind_path, message).with_help(help),
                kind_node,
                false,
            );
            return None;
        };
        let written = dialect.kind_name(kind);
        if depth >= MAX_FALLBACK_DEPTH && kind.takes_fallback() {
            self.problem(
                Diagnostic::error(
                    codes::BAD_NESTING,
                    kind_path,
                    format!("strategies nested more than {MAX_FALLBACK_DEPTH} deep"),
                )
                .with_help("the engine runs at most retry_after_or(adaptive(curve)): retry_after_or outside, adaptive inside, each at most once"),
                kind_node,
                false,
            );
            return None;
        }
        let params: Vec<Param> = dialect.params(kind).collect();
        let mut allowed = vec!["kind".to_owned()];
        allowed.extend(params.iter().map(|p| self.key(p.name)));
        let takes = allowed.get(1..).unwrap_or_default().join(", ");
        for (key, child) in entries {
            if allowed.contains(key) {
                continue;
            }
            let of_another_kind = dialect
                .kinds()
                .iter()
                .flat_map(|k| dialect.params(*k))
                .any(|p| self.key(p.name) == *key);
            let (message, help) = if of_another_kind {
                (
                    format!("`{key}` does not apply to a `{written}` strategy"),
                    format!("a `{written}` strategy takes: {takes}"),
                )
            } else {
                let help = match suggest(key, allowed.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("a `{written}` strategy takes: {takes}"),
                };
                (
                    format!("unknown key `{key}` in a `{written}` strategy"),
                    help,
                )
            };
            self.problem(
                Diagnostic::error(codes::UNKNOWN_KEY, join_path(path, &segment(key)), message)
                    .with_help(help),
                child,
                true,
            );
        }
        let what = format!("a `{written}` strategy");
        let mut values: Vec<(&str, Option<Parsed>)> = Vec::new();
        for param in &params {
            let key = self.key(param.name);
            let param_path = join_path(path, &key);
            let found = self.find(entries, param.name);
            let value = match (param.kind, found) {
                (ParamKind::Duration(_), Some(n)) => {
                    self.duration(n, &param_path).map(Parsed::Duration)
                }
                (ParamKind::Duration(Some(default)), None) => Some(Parsed::Duration(default)),
                (ParamKind::Number(_), Some(n)) => self.number(n, &param_path).map(Parsed::Number),
                (ParamKind::Number(default), None) => Some(Parsed::Number(default)),
                (ParamKind::Delays, Some(list)) => {
                    self.delays(list, &param_path).map(Parsed::Delays)
                }
                (ParamKind::Fallback, Some(n)) => self
                    .strategy(n, &param_path, depth.saturating_add(1))
                    .map(Parsed::Fallback),
                (_, None) => {
                    self.missing(node, &param_path, &what, dialect.example(param.name));
                    None
                }
                (_, Some(_)) => None,
            };
            values.push((param.name, value));
        }
        // The scenario dialect's `retry_after_or` has no jitter.
        if kind == StrategyKind::RetryAfterOr && !params.iter().any(|p| p.name == "jitter") {
            values.push(("jitter", Some(Parsed::Duration(Duration::ZERO))));
        }
        if values.iter().any(|(_, v)| v.is_none()) {
            // Missing or invalid: reported.
            return None;
        }
        let strategy = assemble(kind, values);
        if strategy.is_none() {
            self.problem(
                Diagnostic::error(
                    codes::UNKNOWN_KIND,
                    join_path(path, "kind"),
                    format!("this version of redress-config cannot load a `{written}` strategy"),
                )
                .with_help("upgrade redress-config to the version of redress-core in use"),
                kind_node,
                false,
            );
        }
        strategy
    }

    /// A list of durations.
    fn delays(&mut self, list: &Node, path: &str) -> Option<Vec<Duration>> {
        self.record(path, list);
        let Value::Array(items) = &list.value else {
            self.wrong_type(list, path, "a list of durations", None);
            return None;
        };
        let delays: Vec<Option<Duration>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.duration(item, &format!("{path}[{i}]")))
            .collect();
        delays.into_iter().collect()
    }

    fn budget(&mut self, node: &Node, path: &str) -> Option<BudgetConfig> {
        let entries = self.table(node, path, "a budget table")?;
        let kind = match find(entries, "kind") {
            // A scenario's budget is the reference's: rolling, no `kind`.
            _ if self.dialect == Dialect::Scenario => "rolling",
            Some(kind_node) => {
                let kind_path = join_path(path, "kind");
                self.record(&kind_path, kind_node);
                let Value::String(kind) = &kind_node.value else {
                    self.wrong_type(kind_node, &kind_path, "a budget kind (a string)", None);
                    return None;
                };
                match BudgetConfig::KINDS.iter().find(|k| *k == kind) {
                    Some(k) => *k,
                    None => {
                        let help = match suggest(kind, BudgetConfig::KINDS) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "the kinds are: rolling (max_retries per window), ratio (a share of calls)".to_owned(),
                        };
                        self.problem(
                            Diagnostic::error(
                                codes::UNKNOWN_KIND,
                                kind_path,
                                format!("unknown budget kind `{kind}`"),
                            )
                            .with_help(help),
                            kind_node,
                            false,
                        );
                        return None;
                    }
                }
            }
            // Without a kind, the keys tell.
            None if find(entries, "ratio").is_some()
                || find(entries, "min_per_second").is_some() =>
            {
                "ratio"
            }
            None => "rolling",
        };
        if kind == "ratio" {
            let what = "a `ratio` budget";
            let allowed = self.keys(&["kind", "ratio", "min_per_second", "window"]);
            self.check_keys(entries, path, &allowed, &[], what);
            let BudgetConfig::Ratio {
                ratio,
                min_per_second,
                window,
            } = BudgetConfig::ratio()
            else {
                return None;
            };
            Some(BudgetConfig::Ratio {
                ratio: self.opt_number(entries, path, "ratio").unwrap_or(ratio),
                min_per_second: self
                    .opt_count(entries, path, "min_per_second")
                    .unwrap_or(min_per_second),
                window: self.opt_duration(entries, path, "window").unwrap_or(window),
            })
        } else {
            let scenario = self.dialect == Dialect::Scenario;
            let (what, allowed) = if scenario {
                ("a budget", self.keys(&["max_retries", "window"]))
            } else {
                (
                    "a `rolling` budget",
                    self.keys(&["kind", "max_retries", "window"]),
                )
            };
            self.check_keys(entries, path, &allowed, &[], what);
            let max_retries = match self.find(entries, "max_retries") {
                Some(n) => self.count(n, &join_path(path, "max_retries")),
                None => {
                    let help = if scenario {
                        "add `\"max_retries\": 100` (retries allowed per window)"
                    } else {
                        "add `max_retries = 100` (retries allowed per window)"
                    };
                    self.missing(node, &join_path(path, "max_retries"), what, help.into());
                    None
                }
            };
            let window_path = join_path(path, &self.key("window"));
            let window = match self.find(entries, "window") {
                Some(n) => self.duration(n, &window_path),
                None => {
                    let help = if scenario {
                        "add `\"window_s\": 60.0`"
                    } else {
                        "add `window = \"60s\"`"
                    };
                    self.missing(node, &window_path, what, help.into());
                    None
                }
            };
            Some(BudgetConfig::Rolling {
                max_retries: max_retries?,
                window: window?,
            })
        }
    }

    fn breaker(&mut self, node: &Node, path: &str) -> Option<BreakerConfig> {
        let entries = self.table(node, path, "a circuit breaker table")?;
        let allowed = self.keys(&BREAKER_KEYS);
        self.check_keys(entries, path, &allowed, &[], "a circuit breaker");
        if self.dialect == Dialect::Scenario && entries.is_empty() {
            // The reference runner treats an empty section as no breaker at
            // all: refuse it rather than guess.
            self.problem(
                Diagnostic::error(
                    codes::MISSING_KEY,
                    path,
                    "an empty `circuit_breaker` (the reference runner ignores it)",
                )
                .with_help(
                    "give at least one field, e.g. `\"failure_threshold\": 5`, or remove it",
                ),
                node,
                false,
            );
            return None;
        }
        let mut config = BreakerConfig::default();
        if let Some(n) = self.opt_count(entries, path, "failure_threshold") {
            config.failure_threshold = n;
        }
        if let Some(d) = self.opt_duration(entries, path, "window") {
            config.window = d;
        }
        if let Some(d) = self.opt_duration(entries, path, "recovery_timeout") {
            config.recovery_timeout = d;
        }
        if let Some(list) = self.find(entries, "trip_on") {
            let list_path = join_path(path, "trip_on");
            self.record(&list_path, list);
            match &list.value {
                Value::Array(items) => {
                    let mut classes = BTreeSet::new();
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{list_path}[{i}]");
                        self.record(&item_path, item);
                        match &item.value {
                            Value::String(name) => {
                                if let Some(c) = self.class_name(name, item, &item_path, false) {
                                    classes.insert(c);
                                }
                            }
                            _ => self.wrong_type(item, &item_path, "an error class name", None),
                        }
                    }
                    config.trip_on = classes;
                }
                Value::String(name) => {
                    let help = Some(format!("write a list: `trip_on = [\"{name}\"]`"));
                    self.wrong_type(list, &list_path, "a list of error classes", help);
                }
                _ => self.wrong_type(list, &list_path, "a list of error classes", None),
            }
        }
        if let Some(n) = self.find(entries, "class_thresholds") {
            config.class_thresholds =
                self.class_map(n, &join_path(path, "class_thresholds"), |w, n, p| {
                    w.count(n, p)
                });
        }
        Some(config)
    }
}

/// An entry from what [`Walker::entry`] read.
fn entry(name: Option<String>, prefix: String, read: (PolicyConfig, Vec<Diagnostic>)) -> Entry {
    let (config, problems) = read;
    let (result, partial) = if problems.is_empty() {
        (Ok(config), None)
    } else {
        (Err(problems), Some(config))
    };
    Entry {
        name,
        prefix,
        result,
        partial,
    }
}

/// The strategy of `kind` from its parameters as read; `None` when one is
/// missing, or for a kind this crate does not know.
fn assemble(kind: StrategyKind, values: Vec<(&str, Option<Parsed>)>) -> Option<StrategyConfig> {
    let mut read = BTreeMap::new();
    for (name, value) in values {
        read.insert(name, value?);
    }
    let mut duration = |name| match read.remove(name) {
        Some(Parsed::Duration(d)) => Some(d),
        _ => None,
    };
    let (base, max) = (duration("base"), duration("max"));
    let (delay, jitter, window) = (duration("delay"), duration("jitter"), duration("window"));
    let mut number = |name| match read.remove(name) {
        Some(Parsed::Number(x)) => Some(x),
        _ => None,
    };
    let factor = number("factor");
    let target_success = number("target_success");
    let (min_multiplier, max_multiplier) = (number("min_multiplier"), number("max_multiplier"));
    let delays = match read.remove("delays") {
        Some(Parsed::Delays(d)) => Some(d),
        _ => None,
    };
    let fallback = match read.remove("fallback") {
        Some(Parsed::Fallback(s)) => Some(Box::new(s)),
        _ => None,
    };
    Some(match kind {
        StrategyKind::DecorrelatedJitter => StrategyConfig::DecorrelatedJitter {
            base: base?,
            max: max?,
        },
        StrategyKind::EqualJitter => StrategyConfig::EqualJitter {
            base: base?,
            max: max?,
        },
        StrategyKind::FullJitter => StrategyConfig::FullJitter {
            base: base?,
            max: max?,
        },
        StrategyKind::TokenBackoff => StrategyConfig::TokenBackoff {
            base: base?,
            max: max?,
        },
        StrategyKind::Exponential => StrategyConfig::Exponential {
            base: base?,
            max: max?,
            factor: factor?,
        },
        StrategyKind::Constant => StrategyConfig::Constant { delay: delay? },
        StrategyKind::Schedule => StrategyConfig::Schedule { delays: delays? },
        StrategyKind::RetryAfterOr => StrategyConfig::RetryAfterOr {
            fallback: fallback?,
            jitter: jitter?,
        },
        StrategyKind::Adaptive => StrategyConfig::Adaptive {
            fallback: fallback?,
            window: window?,
            target_success: target_success?,
            min_multiplier: min_multiplier?,
            max_multiplier: max_multiplier?,
        },
        _ => return None,
    })
}

fn find<'n>(entries: &'n [(String, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
}

fn last_segment(path: &str) -> &str {
    match parent_path(path) {
        Some(parent) if !parent.is_empty() => {
            path.get(parent.len().saturating_add(1)..).unwrap_or(path)
        }
        _ => path,
    }
}

fn duration_help(text: &str, e: &DurationError) -> String {
    match e {
        DurationError::MissingUnit { number } => {
            format!("add a unit: \"{number}s\" or \"{number}ms\" (units: ns, us, ms, s, m, h)")
        }
        DurationError::UnknownUnit { unit } => {
            let canonical = match unit.trim().to_ascii_lowercase().as_str() {
                "sec" | "secs" | "second" | "seconds" => Some("s"),
                "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => Some("ms"),
                "min" | "mins" | "minute" | "minutes" => Some("m"),
                "hr" | "hrs" | "hour" | "hours" => Some("h"),
                "usec" | "micros" | "microsecond" | "microseconds" => Some("us"),
                "nanos" | "nanosecond" | "nanoseconds" => Some("ns"),
                "" => Some("(no space)"),
                _ => None,
            };
            match canonical {
                Some("(no space)") | None if unit.starts_with(' ') => {
                    format!("write it without a space: \"{}\"", text.replace(' ', ""))
                }
                Some(u) => format!("write `{u}`: \"{}\"", text.replace(unit.as_str(), u)),
                None => "units: ns, us, ms, s, m, h (e.g. \"250ms\", \"1.5s\", \"2m\")".to_owned(),
            }
        }
        DurationError::Negative => "durations are never negative; use \"0s\" for none".to_owned(),
        DurationError::UnitOrder { .. } => {
            "write each unit once, the largest first: \"1h30m\", \"1s500ms\"".to_owned()
        }
        _ => "write a number and a unit: \"250ms\", \"1.5s\", \"2m\", \"1m30s\"".to_owned(),
    }
}

impl ConfigFile {
    /// Reads `path` (JSON for `.json`, TOML otherwise).
    ///
    /// ```no_run
    /// use redress_config::ConfigFile;
    ///
    /// let file = ConfigFile::load("retry.toml")?;
    /// let payments = file.policy("payments")?.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<ConfigFile, LoadError> {
        Document::load(path)?.into_config_file()
    }

    /// Parses TOML text.
    pub fn from_toml_str(text: &str) -> Result<ConfigFile, LoadError> {
        Document::parse(text, Format::Toml)?.into_config_file()
    }

    /// Parses JSON text.
    pub fn from_json_str(text: &str) -> Result<ConfigFile, LoadError> {
        Document::parse(text, Format::Json)?.into_config_file()
    }

    /// The policy named `name`; the error suggests the nearest name.
    pub fn policy(&self, name: &str) -> Result<&PolicyConfig, LoadError> {
        match self {
            ConfigFile::Named(map) => map.get(name).ok_or_else(|| LoadError::NoSuchPolicy {
                file: map
                    .values()
                    .find_map(|p| p.origin.file())
                    .map(Path::to_owned),
                name: name.to_owned(),
                available: map.keys().cloned().collect(),
            }),
            ConfigFile::Single(_) => Err(LoadError::NoSuchPolicy {
                file: None,
                name: name.to_owned(),
                available: Vec::new(),
            }),
        }
    }

    /// The file's only policy: the top-level one, or the one named policy.
    pub fn single(&self) -> Result<&PolicyConfig, LoadError> {
        match self {
            ConfigFile::Single(config) => Ok(config),
            ConfigFile::Named(map) if map.len() == 1 => {
                map.values().next().ok_or_else(|| LoadError::NotSingle {
                    file: None,
                    available: Vec::new(),
                })
            }
            ConfigFile::Named(map) => Err(LoadError::NotSingle {
                file: None,
                available: map.keys().cloned().collect(),
            }),
        }
    }
}

impl PolicyConfig {
    /// Reads the policy in `path` (a file that is one policy, or that
    /// names exactly one).
    pub fn load(path: impl AsRef<Path>) -> Result<PolicyConfig, LoadError> {
        let path = path.as_ref();
        ConfigFile::load(path)?
            .single()
            .cloned()
            .map_err(|e| e.with_file(path))
    }

    /// Parses one policy from TOML text (the settings at the top level).
    ///
    /// ```
    /// use core::time::Duration;
    /// use redress_config::PolicyConfig;
    ///
    /// let config = PolicyConfig::from_toml_str(r#"
    ///     deadline = "10s"
    ///     max_attempts = 5
    ///     strategy = { kind = "decorrelated_jitter", base = "100ms", max = "2s" }
    ///     per_class_max_attempts = { RATE_LIMIT = 3 }
    /// "#)?;
    /// assert_eq!(config.deadline, Duration::from_secs(10));
    ///
    /// // Typos are located and corrected:
    /// let err = PolicyConfig::from_toml_str("max_atempts = 5").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "1:1: max_atempts: error[E101]: unknown key `max_atempts` in a policy (help: did you mean `max_attempts`?)"
    /// );
    /// # Ok::<(), redress_config::LoadError>(())
    /// ```
    pub fn from_toml_str(text: &str) -> Result<PolicyConfig, LoadError> {
        ConfigFile::from_toml_str(text)?.single().cloned()
    }

    /// Parses one policy from JSON text.
    pub fn from_json_str(text: &str) -> Result<PolicyConfig, LoadError> {
        ConfigFile::from_json_str(text)?.single().cloned()
    }

    /// Reads one policy from a JSON value written in `dialect`, found in
    /// its document under `path` (the prefix of every problem's key, e.g.
    /// `policy` for a scenario's). Every problem is reported, as
    /// [`LoadError::Invalid`]; like the other loaders, it leaves values
    /// that cannot work to [`lint`](crate::Lint) and building.
    ///
    /// ```
    /// use redress_config::{Dialect, LoadError, PolicyConfig};
    ///
    /// let value = serde_json::json!({"strategy": {"kind": "exponential"}});
    /// let Err(LoadError::Invalid { problems, .. }) =
    ///     PolicyConfig::from_json_value(&value, Dialect::Scenario, "policy")
    /// else {
    ///     panic!("exponential is not a scenario kind");
    /// };
    /// assert_eq!(problems[0].path, "policy.strategy.kind");
    /// assert_eq!(problems[0].message, "strategy kind `exponential` is not available in a scenario");
    /// ```
    pub fn from_json_value(
        value: &serde_json::Value,
        dialect: Dialect,
        path: &str,
    ) -> Result<PolicyConfig, LoadError> {
        let mut walker = Walker::new(None, dialect);
        let config = walker.policy(&Node::from_json(value), path, false);
        if walker.problems.is_empty() {
            Ok(config)
        } else {
            Err(LoadError::Invalid {
                file: None,
                problems: walker.problems,
            })
        }
    }
}

fn from_deserializer<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<ConfigFile, D::Error> {
    let node: Node = serde::Deserialize::deserialize(deserializer)?;
    Document::from_node(&node).map_err(serde::de::Error::custom)
}

/// Reads a policy from any serde format, with the checks of
/// [`PolicyConfig::from_toml_str`] (the first problem becomes the error;
/// no line numbers). Lets an application embed a policy in its own config.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct AppConfig {
///     listen: String,
///     retry: redress_config::PolicyConfig,
/// }
///
/// let app: AppConfig = toml::from_str(r#"
///     listen = "0.0.0.0:8080"
///     [retry]
///     max_attempts = 4
///     strategy = "equal_jitter"
/// "#)?;
/// assert_eq!(app.retry.max_attempts, 4);
/// # Ok::<(), toml::de::Error>(())
/// ```
impl<'de> serde::Deserialize<'de> for PolicyConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_deserializer(deserializer)?
            .single()
            .cloned()
            .map_err(serde::de::Error::custom)
    }
}

/// Reads a file of policies from any serde format.
impl<'de> serde::Deserialize<'de> for ConfigFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_deserializer(deserializer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

    use super::*;
    use crate::source::SCANS;

    /// Locating findings costs one pass over the text, however many there
    /// are: the doctor once rescanned the file for each one.
    #[test]
    fn a_file_is_scanned_once_however_many_findings() {
        let policies = 20_000;
        let mut text = String::new();
        for i in 0..policies {
            text.push_str(&format!(
                "[policies.p{i}]\nmax_attempts = 1\nstrategy = \"full_jitter\"\n"
            ));
        }
        SCANS.with(|s| s.set((0, 0)));
        let doc = Document::parse(&text, Format::Toml).unwrap();
        let mut found = 0;
        for entry in doc.entries() {
            let report = doc.lint(entry);
            for d in &report.diagnostics {
                assert_eq!(d.code, "W015");
                let line = d.location.unwrap().line;
                let name = entry.name.as_deref().unwrap();
                let index: usize = name.strip_prefix('p').unwrap().parse().unwrap();
                // The warning is about `max_attempts`, the 2nd line of its policy.
                assert_eq!(line, index * 3 + 2);
                found += 1;
            }
        }
        assert_eq!(found, policies);
        assert_eq!(SCANS.with(|s| s.get()), (1, text.len()));
    }
}
