//! Reading result files: text in, a [`Report`] or an error that says where the text is wrong.

use cpbench_core::import::{self, ImportError};
use cpbench_core::report::{Report, ReportError};
use std::fmt;

/// A result file that could not be read, with the position of the problem when the JSON
/// parser knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Where the text came from (a file name, `pasted 1`, a URL).
    pub source: String,
    /// What was wrong, as the reader said it.
    pub message: String,
    /// 1-based line of the problem.
    pub line: Option<usize>,
    /// 1-based column of the problem.
    pub column: Option<usize>,
    /// The offending line (shortened around the column) and a caret under the column.
    pub excerpt: Option<String>,
}

impl LoadError {
    /// An error without a position (a failed download, an unreadable file).
    pub fn new(source: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            message: message.into(),
            line: None,
            column: None,
            excerpt: None,
        }
    }

    /// `line 3, column 17`, when the position is known.
    pub fn position(&self) -> Option<String> {
        match (self.line, self.column) {
            (Some(l), Some(c)) => Some(format!("line {l}, column {c}")),
            (Some(l), None) => Some(format!("line {l}")),
            _ => None,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Characters of the offending line shown on each side of the column.
const EXCERPT_CONTEXT: usize = 40;

/// The line `line` (1-based) of `text`, cut to [`EXCERPT_CONTEXT`] characters around `column`
/// (1-based, in characters), and a second line with a caret under the column.
pub fn excerpt(text: &str, line: usize, column: usize) -> Option<String> {
    let full = text.lines().nth(line.checked_sub(1)?)?;
    let chars: Vec<char> = full.chars().collect();
    let col = column.saturating_sub(1).min(chars.len());
    let start = col.saturating_sub(EXCERPT_CONTEXT);
    let end = (col + EXCERPT_CONTEXT).min(chars.len());
    let mut shown: String = chars[start..end].iter().collect();
    let mut caret_at = col - start;
    if start > 0 {
        shown.insert(0, '…');
        caret_at += 1;
    }
    if end < chars.len() {
        shown.push('…');
    }
    Some(format!("{shown}\n{}^", " ".repeat(caret_at)))
}

/// Reads a result file's text: a sage-cp-bench report, or another tool's result file imported
/// ([`import::read`]). A refused `schema_version` keeps `Report::from_json`'s message (which
/// versions it found and reads); malformed JSON gets its line, column and excerpt; another
/// tool's file that cannot be read names the tool and what is wrong.
pub fn parse_report(source: &str, text: &str) -> Result<Report, LoadError> {
    import::read(text).map_err(|e| load_error(source, text, e))
}

/// The [`LoadError`] of a file that could not be read (see [`parse_report`]).
pub fn load_error(source: &str, text: &str, e: ImportError) -> LoadError {
    let mut err = LoadError::new(source, e.to_string());
    if let ImportError::Own(ReportError::Json(j)) = &e
        && j.line() > 0
    {
        err.line = Some(j.line());
        err.column = Some(j.column());
        err.excerpt = excerpt(text, j.line(), j.column());
    }
    if text.trim().is_empty() {
        err.message = "the file is empty: expected a result file (JSON)".into();
    }
    err
}

/// `name`, or `name (2)`, `name (3)`, ... when `taken` already has it.
pub fn unique_name<'a>(name: &str, taken: impl Iterator<Item = &'a str> + Clone) -> String {
    if !taken.clone().any(|t| t == name) {
        return name.to_owned();
    }
    (2..)
        .map(|i| format!("{name} ({i})"))
        .find(|candidate| !taken.clone().any(|t| t == candidate))
        .expect("some suffix is free")
}

/// The last path segment of a URL, for naming a fetched file (`results/compare.json` is
/// `compare.json`); the whole URL when it has none.
pub fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(seg) if !seg.is_empty() => seg.to_owned(),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_has_a_position_and_an_excerpt() {
        let text = "{\n  \"schema_version\": 1,\n  \"tool\": {\"name\": oops}\n}";
        let err = parse_report("bad.json", text).unwrap_err();
        assert_eq!((err.line, err.column), (Some(3), Some(20)));
        assert_eq!(err.position().unwrap(), "line 3, column 20");
        assert!(err.message.contains("line 3 column 20"), "{}", err.message);
        assert_eq!(
            err.excerpt.unwrap(),
            "  \"tool\": {\"name\": oops}\n                   ^"
        );
        assert_eq!(err.source, "bad.json");
    }

    #[test]
    fn other_schema_versions_say_which() {
        let err = parse_report(
            "old.json",
            r#"{"schema_version": 7, "tool": {"name": "x", "version": "9"}}"#,
        )
        .unwrap_err();
        assert!(err.message.contains("schema_version 7"), "{}", err.message);
        assert!(
            err.message.contains("reads schema_version 1"),
            "{}",
            err.message
        );
        assert_eq!(err.line, None);
    }

    #[test]
    fn empty_and_truncated_files() {
        let err = parse_report("e.json", "  \n").unwrap_err();
        assert!(err.message.contains("empty"), "{}", err.message);
        let err = parse_report("t.json", "{\"schema_version\": 1, \"tool\"").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.excerpt.is_some());
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("{}X{}", "a".repeat(100), "b".repeat(100));
        let ex = excerpt(&line, 1, 101).unwrap();
        let (shown, caret) = ex.split_once('\n').unwrap();
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert_eq!(shown.chars().nth(caret.len() - 1), Some('X'));
        assert_eq!(excerpt("x", 5, 1), None);
    }

    #[test]
    fn names_are_made_unique() {
        let taken = ["a.json", "a.json (2)"];
        assert_eq!(unique_name("b.json", taken.iter().copied()), "b.json");
        assert_eq!(unique_name("a.json", taken.iter().copied()), "a.json (3)");
        assert_eq!(
            url_file_name("https://h/x/compare.json?raw=1"),
            "compare.json"
        );
        assert_eq!(url_file_name("results/"), "results");
        assert_eq!(url_file_name(""), "");
    }
}
