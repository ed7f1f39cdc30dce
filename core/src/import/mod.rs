//! Reading the result files of other LLM-serving benchmark tools as imported [`Report`]s, so
//! the viewer and `visualize` show them next to this tool's runs.
//!
//! Supported (see each module for what is read and how definitions differ):
//! - [`vllm`]: `vllm bench serve --save-result` JSON (vLLM 0.33), with the per-request lists
//!   of `--save-detailed` when present;
//! - [`guidellm`]: GuideLLM benchmark reports, JSON or YAML (YAML with the feature
//!   `import-yaml`, which the browser viewer leaves out), report `metadata.version` 2
//!   (GuideLLM 0.8);
//! - [`aiperf`]: AIPerf's `profile_export_aiperf.json` (export `schema_version` 1.x, AIPerf
//!   0.13), with the per-request `profile_export.jsonl` when given, or that file alone.
//!
//! The tool is recognised by the file's content, never its name ([`detect`]). An imported
//! report carries [`ImportInfo`] (tool, version, file kind, differences of definition, our
//! metrics the file lacks), and each run the numbers the file carries
//! ([`ReportedMetrics`](crate::report::ReportedMetrics)), `None` where it does not: nothing
//! is invented. Per-request values, when the file has them, fill the run's latency histograms
//! (for distributions); no request records are made up from them.
//!
//! Like the rest of the crate this reads no files: callers pass the text.

pub mod aiperf;
mod build;
pub mod guidellm;
mod num;
pub mod vllm;

use crate::report::{ImportInfo, Report, ReportError};
use serde_json::Value;
use thiserror::Error;

/// A tool whose result files can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `vllm bench serve --save-result`.
    Vllm,
    /// GuideLLM.
    GuideLlm,
    /// AIPerf's aggregate export.
    AiPerf,
    /// AIPerf's per-request export (`profile_export.jsonl`).
    AiPerfRecords,
}

impl Tool {
    /// The tool's name as labels show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vllm => vllm::TOOL,
            Self::GuideLlm => guidellm::TOOL,
            Self::AiPerf | Self::AiPerfRecords => aiperf::TOOL,
        }
    }
}

/// What a result file is: this tool's own, or another tool's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A sage-cp-bench report.
    Own,
    /// Another tool's file.
    Foreign(Tool),
}

/// A file that could not be imported.
#[derive(Debug, Error)]
pub enum ImportError {
    /// A sage-cp-bench report that cannot be read.
    #[error(transparent)]
    Own(#[from] ReportError),
    /// A file of a known tool, of a version (or kind) that is not supported.
    #[error("{tool}{} file is not supported: {why}; supported: {supported}", version.as_deref().map(|v| format!(" {v}")).unwrap_or_default())]
    Unsupported {
        /// The tool.
        tool: &'static str,
        /// The tool's (or its file format's) version found, when the file says.
        version: Option<String>,
        /// Why it is not read.
        why: String,
        /// What is.
        supported: &'static str,
    },
    /// A file of a known tool that lacks something or has a value of the wrong kind.
    #[error("{tool}{} file is malformed: {what}", version.as_deref().map(|v| format!(" {v}")).unwrap_or_default())]
    Malformed {
        /// The tool.
        tool: &'static str,
        /// The tool's version, when the file says.
        version: Option<String>,
        /// What is wrong, naming the field.
        what: String,
    },
    /// Neither a sage-cp-bench report nor a file of a supported tool.
    #[error(
        "not a result file this viewer reads: {why}; accepted: a sage-cp-bench report (JSON), vllm bench serve --save-result JSON, a GuideLLM report (JSON or YAML), AIPerf profile_export_aiperf.json or profile_export.jsonl"
    )]
    Unknown {
        /// What was found instead.
        why: String,
    },
}

impl ImportError {
    /// A [`Malformed`](Self::Malformed) error.
    pub(crate) fn malformed(tool: &'static str, version: Option<&str>, what: String) -> Self {
        Self::Malformed {
            tool,
            version: version.map(str::to_owned),
            what,
        }
    }
}

/// Which kind of result file `text` is, by its content; `None` when it is none this crate
/// reads. A JSON object with a `schema_version` number and a `tool` object is this tool's own.
pub fn detect(text: &str) -> Option<FileKind> {
    let doc = parse_document(text).ok()?;
    detect_value(&doc)
}

fn detect_value(doc: &Value) -> Option<FileKind> {
    if let Value::Object(o) = doc {
        if o.get("schema_version").is_some_and(Value::is_u64) && o.contains_key("tool") {
            return Some(FileKind::Own);
        }
        if guidellm::recognises(doc) {
            return Some(FileKind::Foreign(Tool::GuideLlm));
        }
        if aiperf::recognises(doc) {
            return Some(FileKind::Foreign(Tool::AiPerf));
        }
        if vllm::recognises(doc) {
            return Some(FileKind::Foreign(Tool::Vllm));
        }
        if aiperf::recognises_record(doc) {
            return Some(FileKind::Foreign(Tool::AiPerfRecords));
        }
    }
    None
}

/// The parsed document: JSON, else the first line of JSON Lines, else YAML (GuideLLM).
fn parse_document(text: &str) -> Result<Value, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => return Ok(v),
            Err(e) => {
                // JSON Lines: the first line alone is an object.
                if let Some(first) = trimmed.lines().next()
                    && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(first)
                {
                    return Ok(v);
                }
                return Err(format!("not valid JSON ({e})"));
            }
        }
    }
    if trimmed.is_empty() {
        return Err("the file is empty".into());
    }
    yaml(text)
}

/// A YAML document (GuideLLM's YAML reports).
#[cfg(feature = "import-yaml")]
fn yaml(text: &str) -> Result<Value, String> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| format!("neither JSON nor YAML ({e})"))
}

/// Without the YAML parser (the browser viewer): a GuideLLM YAML report is recognised by its
/// keys and refused with what to open instead.
#[cfg(not(feature = "import-yaml"))]
fn yaml(text: &str) -> Result<Value, String> {
    if guidellm::looks_like_yaml_report(text) {
        return Err(guidellm::YAML_UNREAD.into());
    }
    Err("not JSON".into())
}

/// Reads a result file of any kind: this tool's report ([`Report::from_json`]) or another
/// tool's file, imported. An AIPerf `profile_export.jsonl` alone gives a run with the
/// per-request values only; pass it with its aggregate file to [`aiperf::import`] to get both.
pub fn read(text: &str) -> Result<Report, ImportError> {
    let doc = match parse_document(text) {
        Ok(doc) => doc,
        // Not JSON: keep the JSON parser's own error (with its position) for our reports.
        Err(_) if text.trim_start().starts_with('{') => return Ok(Report::from_json(text)?),
        #[cfg(not(feature = "import-yaml"))]
        Err(_) if guidellm::looks_like_yaml_report(text) => {
            return Err(ImportError::Unsupported {
                tool: guidellm::TOOL,
                version: None,
                why: guidellm::YAML_UNREAD.into(),
                supported: guidellm::SUPPORTED_HERE,
            });
        }
        Err(why) => return Err(ImportError::Unknown { why }),
    };
    match detect_value(&doc) {
        Some(FileKind::Own) => Ok(Report::from_json(text)?),
        Some(FileKind::Foreign(Tool::Vllm)) => vllm::import_value(&doc),
        Some(FileKind::Foreign(Tool::GuideLlm)) => guidellm::import_value(&doc),
        Some(FileKind::Foreign(Tool::AiPerf)) => aiperf::import_value(&doc, None),
        Some(FileKind::Foreign(Tool::AiPerfRecords)) => aiperf::import_records_only(text),
        None => match &doc {
            // An object with a schema_version but not ours: let our reader say what it found.
            Value::Object(o) if o.contains_key("schema_version") && o.contains_key("tool") => {
                Ok(Report::from_json(text)?)
            }
            Value::Object(o) if o.contains_key("schema_version") || o.contains_key("runs") => {
                Ok(Report::from_json(text)?)
            }
            Value::Object(o) => Err(ImportError::Unknown {
                why: format!(
                    "a JSON object with the fields {}",
                    o.keys().take(6).cloned().collect::<Vec<_>>().join(", ")
                ),
            }),
            other => Err(ImportError::Unknown {
                why: format!("a {} at the top level", kind_of(other)),
            }),
        },
    }
}

/// Reads several files loaded together: like [`read`] each, except that an AIPerf
/// `profile_export.jsonl` is joined to an AIPerf aggregate file of the same batch that counted
/// as many requests (the first such), giving one run with both. Results keep the input order;
/// a joined JSONL file gives `None`.
pub fn read_batch(files: &[(&str, &str)]) -> Vec<Option<Result<Report, ImportError>>> {
    let kinds: Vec<Option<FileKind>> = files.iter().map(|(_, t)| detect(t)).collect();
    let mut out: Vec<Option<Result<Report, ImportError>>> = Vec::with_capacity(files.len());
    let mut joined = vec![false; files.len()];
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (j, kind) in kinds.iter().enumerate() {
        if *kind != Some(FileKind::Foreign(Tool::AiPerfRecords)) {
            continue;
        }
        let n = aiperf::profiling_record_count(files[j].1);
        let partner = kinds.iter().enumerate().position(|(i, k)| {
            *k == Some(FileKind::Foreign(Tool::AiPerf))
                && !pairs.iter().any(|(a, _)| *a == i)
                && aiperf::request_count(files[i].1) == Some(n)
        });
        if let Some(i) = partner {
            pairs.push((i, j));
            joined[j] = true;
        }
    }
    for (i, (_, text)) in files.iter().enumerate() {
        if joined[i] {
            out.push(None);
            continue;
        }
        let result = match pairs.iter().find(|(a, _)| *a == i) {
            Some((_, j)) => aiperf::import(text, Some(files[*j].1)),
            None => read(text),
        };
        out.push(Some(result));
    }
    out
}

/// Whether a report was imported from another tool, and from which (its label).
pub fn imported_label(report: &Report) -> Option<String> {
    report.imported.as_ref().map(ImportInfo::label)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}
