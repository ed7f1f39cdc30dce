//! Reading and writing a report as JSON (and its JSON Schema). Files of an older
//! `schema_version` ([`OLDEST_READABLE_VERSION`] on) are upgraded as they are read; newer ones
//! are refused with the version found.

use super::{Report, SCHEMA_VERSION};

/// The oldest `schema_version` this build reads (and upgrades to [`SCHEMA_VERSION`]).
pub const OLDEST_READABLE_VERSION: u32 = 1;
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
    #[error(
        "result file has schema_version {found}; accepted: an integer from {OLDEST_READABLE_VERSION} to {SCHEMA_VERSION}"
    )]
    InvalidVersion {
        /// The value found, as JSON.
        found: String,
    },
    /// A `schema_version` this build does not read.
    #[error(
        "result file has schema_version {found}{}; this build ({} {}) reads schema_version {OLDEST_READABLE_VERSION} to {SCHEMA_VERSION}: open it with the tool version that wrote it, or a newer one",
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
    /// Reads a result file of any `schema_version` from [`OLDEST_READABLE_VERSION`] to
    /// [`SCHEMA_VERSION`], upgrading an older one (see [`upgrade`]); any other version is
    /// refused (the error says which version it found and which tool wrote the file).
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
            Some(v)
                if (u64::from(OLDEST_READABLE_VERSION)..=u64::from(SCHEMA_VERSION))
                    .contains(&v) =>
            {
                let mut doc: Value = serde_json::from_str(text)?;
                let adopted = adopt_full_records(&mut doc);
                upgrade(&mut doc, v);
                let mut report: Report = serde_json::from_value(doc)?;
                if adopted {
                    for run in &mut report.runs {
                        run.fill_from_complete_records();
                    }
                }
                Ok(report)
            }
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

    /// The report as compact JSON (no trailing newline); byte-stable for a given report.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Report always serializes: map keys are strings")
    }

    /// The report as pretty-printed JSON (two-space indent, no trailing newline); byte-stable
    /// for a given report.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a Report always serializes: map keys are strings")
    }
}

/// Brings a report document of `schema_version` `from` to [`SCHEMA_VERSION`], step by step.
///
/// 1 → 2: a run's notes were warnings prefixed `note: `; they move to the run's `notes`. LLM
/// SLOs were end to end: the config's `slo` says so (`llm_definition: end_to_end`, TTFT and
/// TPOT targets only where the file had them). Fields added since are optional and take their
/// defaults (one trial, no statistics).
///
/// Up to 2 (files written before runs kept a sample of their records): a run's `records`
/// (every record, or `null`) becomes `records_sample`, a complete sample of them
/// (`limit` = `total` = their number). [`Report::from_json`] also computes, from those records,
/// the aggregates such files lack (`spans`, `by_instance`).
pub fn upgrade(doc: &mut Value, from: u64) {
    if from <= 2 {
        adopt_full_records(doc);
    }
    if from < 2
        && let Some(slo) = doc
            .get_mut("config")
            .and_then(|c| c.get_mut("slo"))
            .and_then(Value::as_object_mut)
    {
        slo.entry("llm_definition")
            .or_insert_with(|| Value::from("end_to_end"));
        slo.entry("ttft_ms").or_insert(Value::Null);
        slo.entry("tpot_ms").or_insert(Value::Null);
    }
    if from < 2
        && let Some(runs) = doc.get_mut("runs").and_then(Value::as_array_mut)
    {
        for run in runs {
            let Some(obj) = run.as_object_mut() else {
                continue;
            };
            let Some(Value::Array(warnings)) = obj.remove("warnings") else {
                continue;
            };
            let (notes, warnings): (Vec<Value>, Vec<Value>) = warnings
                .into_iter()
                .partition(|w| w.as_str().is_some_and(|s| s.starts_with("note: ")));
            let notes: Vec<Value> = notes
                .into_iter()
                .filter_map(|n| n.as_str().map(|s| Value::from(&s["note: ".len()..])))
                .collect();
            obj.insert("warnings".into(), Value::Array(warnings));
            obj.insert("notes".into(), Value::Array(notes));
        }
    }
    if let Some(v) = doc.get_mut("schema_version") {
        *v = Value::from(SCHEMA_VERSION);
    }
}

/// Replaces each run's `records` (every record of the run, or `null`) by `records_sample`, a
/// complete sample of them; whether any run had records.
fn adopt_full_records(doc: &mut Value) -> bool {
    let mut adopted = false;
    let Some(runs) = doc.get_mut("runs").and_then(Value::as_array_mut) else {
        return false;
    };
    for run in runs {
        let Some(obj) = run.as_object_mut() else {
            continue;
        };
        let Some(records) = obj.remove("records") else {
            continue;
        };
        let sample = match records {
            Value::Array(records) => {
                adopted = true;
                let n = records.len();
                serde_json::json!({"limit": n, "total": n, "records": records})
            }
            other => other,
        };
        obj.entry("records_sample").or_insert(sample);
    }
    adopted
}
