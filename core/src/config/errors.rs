//! What goes wrong with a config: its problems (field, value, what is accepted), and texts
//! that do not parse.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// One problem of a config: the field (dotted path), the value found, what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProblem {
    /// Dotted path of the field, e.g. `arrival.burstiness` or `policies[2]`.
    pub field: String,
    /// The value found, as text.
    pub value: String,
    /// What would be accepted.
    pub expected: String,
}

impl ConfigProblem {
    /// A problem with `field`: got `value`, expected `expected`.
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: got {}, expected {}",
            self.field, self.value, self.expected
        )
    }
}

/// Every problem found in a config, in the order checked; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Error, Serialize, Deserialize)]
pub struct ConfigErrors {
    /// The problems (never empty when returned as an error).
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    /// Whether a problem names this field (exactly).
    pub fn has_field(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }

    pub(super) fn push(
        &mut self,
        field: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.problems
            .push(ConfigProblem::new(field, value, expected));
    }

    pub(super) fn into_result(self) -> Result<(), ConfigErrors> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// The text format of a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// YAML (a superset of JSON for our purposes).
    Yaml,
    /// JSON.
    Json,
}

impl ConfigFormat {
    /// The format a file extension implies (`yaml`/`yml`, `json`; leading dot and case
    /// ignored).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.trim_start_matches('.').to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The format of a text without a usable hint: JSON when it starts with `{`, else YAML.
    pub fn sniff(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            Self::Json
        } else {
            Self::Yaml
        }
    }
}

impl fmt::Display for ConfigFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yaml => "YAML",
            Self::Json => "JSON",
        })
    }
}

/// A config text could not be parsed: `message` names the field, and the position when the
/// parser knows it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{format} config: {message}")]
pub struct ParseError {
    /// The format the text was read as.
    pub format: ConfigFormat,
    /// The parser's message (field path, what was wrong, position).
    pub message: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
}

impl ParseError {
    pub(super) fn yaml(e: &serde_yaml_ng::Error) -> Self {
        let loc = e.location();
        Self {
            format: ConfigFormat::Yaml,
            message: e.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
        }
    }

    pub(super) fn json(e: &serde_json::Error) -> Self {
        Self {
            format: ConfigFormat::Json,
            message: e.to_string(),
            line: (e.line() > 0).then_some(e.line()),
            column: (e.line() > 0).then_some(e.column()),
        }
    }
}

/// A config could not be loaded: it did not parse, or it parsed and is invalid.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// The text did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The config parsed but is invalid.
    #[error("invalid configuration:\n{0}")]
    Invalid(#[from] ConfigErrors),
}
