//! Reading and writing a report as JSON (and its JSON Schema), refusing other versions.

use super::{Report, SCHEMA_VERSION};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

/// A result file that cannot be read.
#[derive(Debug, Error)]
pub enum ReportError {
    /// Not JSON, or JSON of another shape.
    #[error("result file is not a valid sage-cp-bench report: {0}")]
    Json(#[from] serde_json::Error),
    /// No `schema_version` field.
    #[error(
        "result file has no schema_version field; accepted: schema_version {SCHEMA_VERSION} (a report written by {} {})",
        crate::TOOL_NAME,
        crate::TOOL_VERSION
    )]
    MissingVersion,
    /// A `schema_version` that is not a non-negative integer.
    #[error("result file has schema_version {found}; accepted: the integer {SCHEMA_VERSION}")]
    InvalidVersion {
        /// The value found, as JSON.
        found: String,
    },
    /// A `schema_version` this build does not read.
    #[error(
        "result file has schema_version {found}{}; this build ({} {}) reads schema_version {SCHEMA_VERSION} only: open it with the tool version that wrote it",
        written_by.as_deref().map(|w| format!(" (written by {w})")).unwrap_or_default(),
        crate::TOOL_NAME,
        crate::TOOL_VERSION
    )]
    UnsupportedVersion {
        /// The version found.
        found: u64,
        /// `tool.name tool.version` from the file, when it has them.
        written_by: Option<String>,
    },
}

impl Report {
    /// Reads a result file, refusing any `schema_version` other than [`SCHEMA_VERSION`] (the
    /// error says which version it found and which tool wrote the file).
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        #[derive(Deserialize)]
        struct Probe {
            schema_version: Option<Value>,
            tool: Option<Value>,
        }
        let probe: Probe = serde_json::from_str(text)?;
        let Some(version) = probe.schema_version else {
            return Err(ReportError::MissingVersion);
        };
        match version.as_u64() {
            Some(v) if v == u64::from(SCHEMA_VERSION) => Ok(serde_json::from_str(text)?),
            Some(found) => {
                let field = |name: &str| {
                    probe
                        .tool
                        .as_ref()
                        .and_then(|t| t.get(name))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let written_by = match (field("name"), field("version")) {
                    (Some(n), Some(v)) => Some(format!("{n} {v}")),
                    (None, Some(v)) => Some(v),
                    (Some(n), None) => Some(n),
                    (None, None) => None,
                };
                Err(ReportError::UnsupportedVersion { found, written_by })
            }
            None => Err(ReportError::InvalidVersion {
                found: version.to_string(),
            }),
        }
    }

    /// The JSON Schema (draft 2020-12) of the result file, pretty-printed with a trailing
    /// newline: the text checked in at `schema/report.schema.json`.
    #[cfg(feature = "schema")]
    pub fn json_schema_pretty() -> String {
        let schema = schemars::schema_for!(Report);
        let mut text =
            serde_json::to_string_pretty(&schema).expect("a JSON Schema always serializes");
        text.push('\n');
        text
    }

    /// The report as pretty-printed JSON (two-space indent, no trailing newline); byte-stable
    /// for a given report.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a Report always serializes: map keys are strings")
    }
}
