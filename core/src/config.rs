//! The benchmark configuration: one [`BenchmarkConfig`], parsed from YAML or JSON text (an
//! empty document is the default config; an unknown key is an error) and validated with
//! every problem reported at once.
//!
//! Departures from the original tool, on purpose:
//! - `priority_distribution` defaults to `{HIGH: 0.2, NORMAL: 0.5, LOW: 0.3}` rather than
//!   NORMAL only, so the priority-aware policies have something to act on.
//! - `model_distribution` defaults to the reference cluster's two models rather than
//!   `{"default": 1.0}`.
//! - SLO deadlines are per request kind *and* priority (`slo`), not one number per kind.
//! - Embedding requests carry a batch of inputs whose size is drawn from
//!   `embedding_batch_sizes` rather than one fixed `embedding_batch_size`.
//! - `timeout_seconds` is spelled `timeout_s` (the old name is accepted).

pub use crate::arrival::ArrivalConfig;
pub use crate::dataset::DatasetFormat;
pub use crate::lengths::LengthDist;
use crate::request::{PerPriority, Priority, RequestKind};
use crate::slo::SloTargets;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

/// The policies the embedded reference control plane implements (its policy names,
/// [`crate::cluster::POLICY_NAMES`]).
pub const REFERENCE_POLICIES: [&str; crate::cluster::POLICY_NAMES.len()] =
    crate::cluster::POLICY_NAMES;

/// The reference cluster's LLM models (the default `model_distribution`, half each).
pub const DEFAULT_LLM_MODELS: [&str; 2] =
    ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-2-13b-chat-hf"];

/// The reference cluster's embedding model (the default `embedding_model`).
pub const DEFAULT_EMBEDDING_MODEL: &str = "BAAI/bge-m3";

/// The LLM share of a hybrid config that sets neither `llm_ratio` nor `embedding_ratio`
/// (the original tool's hybrid config default).
pub const HYBRID_DEFAULT_LLM_RATIO: f64 = 0.5;

/// The largest accepted embedding batch size (inputs per request).
pub const MAX_EMBEDDING_BATCH: u32 = 4096;

/// How close `llm_ratio + embedding_ratio` must be to 1 in hybrid mode.
pub const RATIO_SUM_TOLERANCE: f64 = 1e-9;

/// Which request kinds a benchmark sends.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// LLM requests only (chat, and completions per `completions_ratio`).
    #[default]
    Llm,
    /// LLM and embedding requests mixed by `llm_ratio` / `embedding_ratio`.
    Hybrid,
}

impl Mode {
    /// Both modes.
    pub const ALL: [Mode; 2] = [Self::Llm, Self::Hybrid];

    /// The name as written in a config or on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Llm => "llm",
            Self::Hybrid => "hybrid",
        }
    }

    /// Parses `llm` or `hybrid` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A prompt dataset file. Core never opens it: the runner reads `path` and passes the bytes to
/// [`crate::dataset::Dataset::parse`]. With a dataset, LLM prompts are the dataset's prompts
/// (so `prompt_length` must be `empirical`), and `output_length: empirical` takes the
/// recorded reply lengths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DatasetRef {
    /// Path of the file, as given (relative paths are the runner's business).
    pub path: String,
    /// File format; when absent, implied by the extension (`.json` ShareGPT, `.jsonl` JSONL).
    #[serde(default)]
    pub format: Option<DatasetFormat>,
}

impl DatasetRef {
    /// The format to parse the file with: the explicit one, else the extension's.
    pub fn resolved_format(&self) -> Option<DatasetFormat> {
        self.format.or_else(|| DatasetFormat::from_path(&self.path))
    }
}

/// A replay trace file (JSONL, see [`crate::arrival::Trace::parse_jsonl`]) for
/// `arrival: {pattern: trace}`. Core never opens it; the runner passes the bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TraceRef {
    /// Path of the file, as given.
    pub path: String,
}

/// Everything a benchmark run needs to know, for LLM and hybrid mode.
///
/// Every field has a default, so an empty document is a valid config; unknown keys are
/// errors. Weights (`model_distribution`, `priority_distribution`) need not sum to 1: they
/// are normalized by their total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct BenchmarkConfig {
    /// `llm` (default) or `hybrid`.
    pub mode: Mode,
    /// Control plane base URL (`http://host:port`); `None` runs against the embedded
    /// reference control plane.
    pub control_plane_url: Option<String>,
    /// Policies to benchmark, in order, each on the identical workload.
    pub policies: Vec<String>,
    /// Measured requests per policy (warmup not included).
    pub num_requests: u64,
    /// Mean request rate, requests per second (not used by trace replay, except to space the
    /// warmup).
    pub request_rate: f64,
    /// Arrival process.
    #[serde(deserialize_with = "de_arrival")]
    pub arrival: ArrivalConfig,
    /// LLM model name to weight; embeddings use `embedding_model`.
    pub model_distribution: BTreeMap<String, f64>,
    /// Priority class to weight (keys `HIGH`, `NORMAL`, `LOW`).
    pub priority_distribution: BTreeMap<Priority, f64>,
    /// Prompt length of LLM requests, tokens.
    #[serde(deserialize_with = "de_prompt_length")]
    pub prompt_length: LengthDist,
    /// Output length (`max_tokens`) of LLM requests, tokens.
    #[serde(deserialize_with = "de_output_length")]
    pub output_length: LengthDist,
    /// Length of each embedding input, tokens.
    #[serde(deserialize_with = "de_embedding_input_length")]
    pub embedding_input_length: LengthDist,
    /// Share of LLM requests. In llm mode it is 1; in hybrid mode it and `embedding_ratio` sum
    /// to 1. When a hybrid config text is parsed with [`Self::from_yaml`], [`Self::from_json`]
    /// or [`Self::from_text`], giving only one of them implies the other and giving neither
    /// means [`HYBRID_DEFAULT_LLM_RATIO`].
    pub llm_ratio: f64,
    /// Share of embedding requests (0 in llm mode).
    pub embedding_ratio: f64,
    /// Fraction of LLM requests sent as `llm_generate` to `/v1/completions` (the rest are
    /// `llm_chat`).
    pub completions_ratio: f64,
    /// Model name of embedding requests.
    pub embedding_model: String,
    /// Inputs per embedding request, drawn uniformly from this list.
    pub embedding_batch_sizes: Vec<u32>,
    /// SLO targets; each request's deadline is `slo.deadline_ms(kind, priority)`.
    pub slo: SloTargets,
    /// Per-request timeout, seconds.
    #[serde(alias = "timeout_seconds")]
    pub timeout_s: f64,
    /// Requests sent before measuring, per policy (must be fewer than `num_requests`).
    pub warmup_requests: u64,
    /// Stream LLM responses (needed for TTFT and inter-token latency).
    pub stream: bool,
    /// Most requests in flight at once; `None` is unbounded (pure open loop).
    pub max_concurrency: Option<u64>,
    /// Seed of every random stream of the workload.
    pub seed: u64,
    /// Prompt dataset, if any.
    pub dataset: Option<DatasetRef>,
    /// Replay trace file for `arrival: {pattern: trace}` without inline timestamps.
    pub trace: Option<TraceRef>,
}

impl Default for BenchmarkConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Llm,
            control_plane_url: None,
            policies: ["fifo", "priority", "slo_aware"].map(String::from).to_vec(),
            num_requests: 100,
            request_rate: 10.0,
            arrival: ArrivalConfig::Poisson,
            model_distribution: DEFAULT_LLM_MODELS
                .iter()
                .map(|m| ((*m).to_string(), 0.5))
                .collect(),
            priority_distribution: [
                (Priority::High, 0.2),
                (Priority::Normal, 0.5),
                (Priority::Low, 0.3),
            ]
            .into_iter()
            .collect(),
            prompt_length: LengthDist::Lognormal {
                mean: 256.0,
                sigma: 0.6,
                min: 16,
                max: 2048,
            },
            // Short chat answers, so that the default end-to-end deadlines (500 / 1000 /
            // 2000 ms) are within reach at light load on the default reference cluster
            // (about 20 ms per output token); long generations need their own SLOs.
            output_length: LengthDist::Lognormal {
                mean: 32.0,
                sigma: 0.6,
                min: 4,
                max: 512,
            },
            embedding_input_length: LengthDist::Uniform { min: 16, max: 256 },
            llm_ratio: 1.0,
            embedding_ratio: 0.0,
            completions_ratio: 0.0,
            embedding_model: DEFAULT_EMBEDDING_MODEL.to_string(),
            embedding_batch_sizes: vec![1, 8, 32],
            slo: SloTargets::default(),
            timeout_s: 60.0,
            warmup_requests: 10,
            stream: true,
            max_concurrency: None,
            seed: 42,
            dataset: None,
            trace: None,
        }
    }
}

fn de_length<'de, D: Deserializer<'de>>(field: &str, d: D) -> Result<LengthDist, D::Error> {
    crate::lengths::RawLength::deserialize(d).and_then(|raw| {
        LengthDist::try_from(raw).map_err(|e| serde::de::Error::custom(format!("{field}: {e}")))
    })
}

fn de_arrival<'de, D: Deserializer<'de>>(d: D) -> Result<ArrivalConfig, D::Error> {
    crate::arrival::RawArrival::deserialize(d).and_then(|raw| {
        ArrivalConfig::try_from(raw).map_err(|e| serde::de::Error::custom(format!("arrival: {e}")))
    })
}

fn de_prompt_length<'de, D: Deserializer<'de>>(d: D) -> Result<LengthDist, D::Error> {
    de_length("prompt_length", d)
}

fn de_output_length<'de, D: Deserializer<'de>>(d: D) -> Result<LengthDist, D::Error> {
    de_length("output_length", d)
}

fn de_embedding_input_length<'de, D: Deserializer<'de>>(d: D) -> Result<LengthDist, D::Error> {
    de_length("embedding_input_length", d)
}

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

    fn push(
        &mut self,
        field: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.problems
            .push(ConfigProblem::new(field, value, expected));
    }

    fn into_result(self) -> Result<(), ConfigErrors> {
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
    fn yaml(e: &serde_yaml_ng::Error) -> Self {
        let loc = e.location();
        Self {
            format: ConfigFormat::Yaml,
            message: e.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
        }
    }

    fn json(e: &serde_json::Error) -> Self {
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

/// Which of the two ratio keys a config text gives (to resolve hybrid defaults).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RatioKeys {
    llm_ratio: Option<IgnoredAny>,
    embedding_ratio: Option<IgnoredAny>,
}

impl BenchmarkConfig {
    /// The default config of a mode (hybrid: 0.5 LLM / 0.5 embeddings).
    pub fn for_mode(mode: Mode) -> Self {
        let mut c = Self {
            mode,
            ..Self::default()
        };
        if mode == Mode::Hybrid {
            c.set_llm_ratio(HYBRID_DEFAULT_LLM_RATIO);
        }
        c
    }

    /// Sets `llm_ratio` and `embedding_ratio = 1 - llm_ratio` together.
    pub fn set_llm_ratio(&mut self, llm_ratio: f64) {
        self.llm_ratio = llm_ratio;
        self.embedding_ratio = 1.0 - llm_ratio;
    }

    /// Parses YAML. An empty document is the default config. Does not validate.
    pub fn from_yaml(text: &str) -> Result<Self, ParseError> {
        let mut c: Self = serde_yaml_ng::from_str(text).map_err(|e| ParseError::yaml(&e))?;
        let keys: RatioKeys = serde_yaml_ng::from_str(text).unwrap_or_default();
        c.resolve_ratio_defaults(&keys);
        Ok(c)
    }

    /// Parses JSON. Does not validate.
    pub fn from_json(text: &str) -> Result<Self, ParseError> {
        let mut c: Self = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
        let keys: RatioKeys = serde_json::from_str(text).unwrap_or_default();
        c.resolve_ratio_defaults(&keys);
        Ok(c)
    }

    /// Parses YAML or JSON: `hint` is a file extension (`yaml`, `.yml`, `json`); without a
    /// known hint, text starting with `{` is JSON and anything else YAML. Does not validate.
    pub fn from_text(text: &str, hint: Option<&str>) -> Result<Self, ParseError> {
        let format = hint
            .and_then(ConfigFormat::from_extension)
            .unwrap_or_else(|| ConfigFormat::sniff(text));
        match format {
            ConfigFormat::Yaml => Self::from_yaml(text),
            ConfigFormat::Json => Self::from_json(text),
        }
    }

    /// The top-level keys a config text gives (as written, aliases included); empty when the
    /// text is not a mapping. Lets a caller tell a value the file set from a default.
    pub fn given_keys(text: &str) -> BTreeSet<String> {
        // YAML is a superset of JSON: one parser for both.
        serde_yaml_ng::from_str::<BTreeMap<String, IgnoredAny>>(text)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
    }

    /// Parses ([`Self::from_text`]) and validates ([`Self::validate`]).
    pub fn load(text: &str, hint: Option<&str>) -> Result<Self, ConfigError> {
        let c = Self::from_text(text, hint)?;
        c.validate()?;
        Ok(c)
    }

    /// In hybrid mode, a text giving one ratio implies the other; giving neither means
    /// [`HYBRID_DEFAULT_LLM_RATIO`]. Llm-mode configs keep what they say (validation checks).
    fn resolve_ratio_defaults(&mut self, keys: &RatioKeys) {
        if self.mode != Mode::Hybrid {
            return;
        }
        match (keys.llm_ratio.is_some(), keys.embedding_ratio.is_some()) {
            (true, true) => {}
            (true, false) => self.embedding_ratio = 1.0 - self.llm_ratio,
            (false, true) => self.llm_ratio = 1.0 - self.embedding_ratio,
            (false, false) => self.set_llm_ratio(HYBRID_DEFAULT_LLM_RATIO),
        }
    }

    /// The config as YAML (every field written, so it parses back to the same config).
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("a config always serializes")
    }

    /// The config as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config always serializes")
    }

    /// The request kinds this config can produce.
    pub fn kinds(&self) -> Vec<RequestKind> {
        let mut kinds = Vec::new();
        let llm = self.mode == Mode::Llm || self.llm_ratio > 0.0;
        if llm && self.completions_ratio < 1.0 {
            kinds.push(RequestKind::LlmChat);
        }
        if llm && self.completions_ratio > 0.0 {
            kinds.push(RequestKind::LlmGenerate);
        }
        if self.mode == Mode::Hybrid && self.embedding_ratio > 0.0 {
            kinds.push(RequestKind::Embedding);
        }
        kinds
    }

    /// Checks the whole config and reports every problem at once.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut e = ConfigErrors::default();
        self.check_into(&mut e);
        e.into_result()
    }

    /// [`Self::validate`], plus: every policy is one the embedded reference control plane
    /// implements ([`REFERENCE_POLICIES`]).
    pub fn validate_for_reference(&self) -> Result<(), ConfigErrors> {
        let mut e = ConfigErrors::default();
        self.check_into(&mut e);
        for (i, p) in self.policies.iter().enumerate() {
            if !p.trim().is_empty() && !REFERENCE_POLICIES.contains(&p.as_str()) {
                e.push(
                    format!("policies[{i}]"),
                    format!("{p:?}"),
                    format!(
                        "a policy of the reference control plane: {}",
                        REFERENCE_POLICIES.join(", ")
                    ),
                );
            }
        }
        e.into_result()
    }

    fn check_into(&self, e: &mut ConfigErrors) {
        if let Some(url) = &self.control_plane_url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if rest.is_none_or(|r| r.trim().is_empty()) {
                e.push(
                    "control_plane_url",
                    format!("{url:?}"),
                    "an http:// or https:// URL, or no value for the embedded control plane",
                );
            }
        }

        if self.policies.is_empty() {
            e.push("policies", "[]", "at least one policy name");
        }
        let mut seen = BTreeSet::new();
        for (i, p) in self.policies.iter().enumerate() {
            if p.trim().is_empty() {
                e.push(
                    format!("policies[{i}]"),
                    format!("{p:?}"),
                    "a non-empty policy name",
                );
            } else if !seen.insert(p.as_str()) {
                e.push(
                    format!("policies[{i}]"),
                    format!("{p:?}"),
                    "each policy once (it is listed twice)",
                );
            }
        }

        if self.num_requests == 0 {
            e.push("num_requests", "0", "at least 1 request");
        }
        if !(self.request_rate.is_finite() && self.request_rate > 0.0) {
            e.push(
                "request_rate",
                self.request_rate.to_string(),
                "a finite number > 0 (requests per second)",
            );
        }
        if self.num_requests > 0 && self.warmup_requests >= self.num_requests {
            e.push(
                "warmup_requests",
                self.warmup_requests.to_string(),
                format!("fewer than num_requests ({})", self.num_requests),
            );
        }

        self.check_arrival(e);
        check_weights(
            e,
            "model_distribution",
            self.model_distribution.iter().map(|(k, v)| (k.clone(), *v)),
            true,
        );
        check_weights(
            e,
            "priority_distribution",
            self.priority_distribution
                .iter()
                .map(|(k, v)| (k.to_string(), *v)),
            false,
        );
        self.check_lengths(e);
        self.check_ratios(e);

        if self.embedding_model.trim().is_empty() {
            e.push("embedding_model", "\"\"", "a model name");
        }
        if self.embedding_batch_sizes.is_empty() {
            e.push(
                "embedding_batch_sizes",
                "[]",
                "at least one batch size (inputs per embedding request), e.g. [1, 8, 32]",
            );
        }
        for (i, b) in self.embedding_batch_sizes.iter().enumerate() {
            if *b == 0 || *b > MAX_EMBEDDING_BATCH {
                e.push(
                    format!("embedding_batch_sizes[{i}]"),
                    b.to_string(),
                    format!("1..={MAX_EMBEDDING_BATCH} inputs"),
                );
            }
        }

        self.check_slo(e);

        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            e.push(
                "timeout_s",
                self.timeout_s.to_string(),
                "a finite number of seconds > 0",
            );
        }
        if self.max_concurrency == Some(0) {
            e.push(
                "max_concurrency",
                "0",
                "at least 1, or no value for unbounded",
            );
        }
        if let Some(d) = &self.dataset {
            if d.path.trim().is_empty() {
                e.push("dataset.path", "\"\"", "the path of a dataset file");
            }
            if d.resolved_format().is_none() {
                e.push(
                    "dataset.format",
                    "none",
                    format!(
                        "sharegpt or jsonl (not implied by the extension of {:?})",
                        d.path
                    ),
                );
            }
        }
    }

    fn check_arrival(&self, e: &mut ConfigErrors) {
        e.problems.extend(self.arrival.check());
        match (&self.arrival, &self.trace) {
            (ArrivalConfig::Trace { timestamps_ms }, trace) => {
                if timestamps_ms.is_empty() && trace.is_none() {
                    e.push(
                        "arrival.timestamps_ms",
                        "[]",
                        "inline timestamps, or a `trace: {path: ...}` file to replay",
                    );
                }
                if !timestamps_ms.is_empty() && trace.is_some() {
                    e.push(
                        "trace",
                        "a trace file",
                        "either a trace file or inline arrival.timestamps_ms, not both",
                    );
                }
                if !timestamps_ms.is_empty() && (timestamps_ms.len() as u64) < self.num_requests {
                    e.push(
                        "arrival.timestamps_ms",
                        format!("{} timestamps", timestamps_ms.len()),
                        format!("at least num_requests ({})", self.num_requests),
                    );
                }
            }
            (other, Some(_)) => e.push(
                "trace",
                "a trace file",
                format!(
                    "no trace file unless arrival.pattern is trace (it is {})",
                    other.name()
                ),
            ),
            (_, None) => {}
        }
        if let Some(t) = &self.trace
            && t.path.trim().is_empty()
        {
            e.push("trace.path", "\"\"", "the path of a JSONL trace file");
        }
    }

    fn check_lengths(&self, e: &mut ConfigErrors) {
        let has_dataset = self.dataset.is_some();
        for (field, dist) in [
            ("prompt_length", &self.prompt_length),
            ("output_length", &self.output_length),
            ("embedding_input_length", &self.embedding_input_length),
        ] {
            e.problems.extend(dist.check(field));
            if dist.is_empirical() && !has_dataset {
                e.push(
                    field,
                    "empirical",
                    "a parametric distribution (fixed, uniform, normal, lognormal), or a `dataset` to take lengths from",
                );
            }
        }
        if has_dataset && !self.prompt_length.is_empirical() {
            e.push(
                "prompt_length",
                self.prompt_length.name(),
                "`{dist: empirical}` when a dataset is set (prompts then come from the dataset)",
            );
        }
    }

    fn check_ratios(&self, e: &mut ConfigErrors) {
        for (field, v) in [
            ("llm_ratio", self.llm_ratio),
            ("embedding_ratio", self.embedding_ratio),
            ("completions_ratio", self.completions_ratio),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                e.push(field, v.to_string(), "a number from 0 to 1");
            }
        }
        let (l, m) = (self.llm_ratio, self.embedding_ratio);
        if !(l.is_finite() && m.is_finite()) {
            return;
        }
        match self.mode {
            Mode::Llm => {
                if m != 0.0 {
                    e.push(
                        "embedding_ratio",
                        m.to_string(),
                        "0 in llm mode (set mode: hybrid to mix llm_ratio / embedding_ratio)",
                    );
                } else if l != 1.0 {
                    e.push(
                        "llm_ratio",
                        l.to_string(),
                        "1 in llm mode (set mode: hybrid to mix llm_ratio / embedding_ratio)",
                    );
                }
            }
            Mode::Hybrid => {
                if (l + m - 1.0).abs() > RATIO_SUM_TOLERANCE {
                    e.push(
                        "llm_ratio + embedding_ratio",
                        format!("{l} + {m} = {}", l + m),
                        "a sum of 1",
                    );
                }
            }
        }
    }

    fn check_slo(&self, e: &mut ConfigErrors) {
        let mut per_priority = |field: &str, v: &PerPriority<u64>| {
            for p in Priority::ALL {
                if v.get(p) == 0 {
                    e.push(format!("slo.{field}.{p}"), "0", "a deadline > 0 ms");
                }
            }
        };
        per_priority("llm_deadline_ms", &self.slo.llm_deadline_ms);
        per_priority("embedding_deadline_ms", &self.slo.embedding_deadline_ms);
        if let Some(t) = &self.slo.ttft_ms {
            per_priority("ttft_ms", t);
        }
        if let Some(t) = self.slo.tpot_ms
            && !(t.is_finite() && t > 0.0)
        {
            e.push("slo.tpot_ms", t.to_string(), "a finite number of ms > 0");
        }
    }
}

/// The message for a tagged object (`kind` is e.g. "dist `fixed`") whose keys do not fit its
/// tag: `allowed` are its keys, `present` says which of all known keys were given.
pub(crate) fn tagged_fields_error(
    kind: &str,
    allowed: &[&str],
    present: &[(&str, bool)],
) -> Option<String> {
    let quote = |names: Vec<&str>| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let extra: Vec<&str> = present
        .iter()
        .filter(|(n, p)| *p && !allowed.contains(n))
        .map(|(n, _)| *n)
        .collect();
    let missing: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|a| !present.iter().any(|(n, p)| n == a && *p))
        .collect();
    if extra.is_empty() && missing.is_empty() {
        return None;
    }
    let takes = if allowed.is_empty() {
        "no other keys".to_string()
    } else {
        quote(allowed.to_vec())
    };
    let mut msg = format!("{kind} takes {takes}");
    if !missing.is_empty() {
        msg.push_str(&format!("; missing {}", quote(missing)));
    }
    if !extra.is_empty() {
        msg.push_str(&format!("; unexpected {}", quote(extra)));
    }
    Some(msg)
}

fn check_weights(
    e: &mut ConfigErrors,
    field: &str,
    weights: impl Iterator<Item = (String, f64)>,
    keys_are_names: bool,
) {
    let mut total = 0.0;
    let mut count = 0usize;
    let mut all_valid = true;
    for (k, w) in weights {
        count += 1;
        if keys_are_names && k.trim().is_empty() {
            e.push(
                format!("{field}[{k:?}]"),
                "an empty model name",
                "a model name",
            );
        }
        if w.is_finite() && w >= 0.0 {
            total += w;
        } else {
            all_valid = false;
            e.push(
                format!("{field}[{k:?}]"),
                w.to_string(),
                "a finite weight >= 0",
            );
        }
    }
    if count == 0 {
        e.push(field, "{}", "at least one entry with a weight > 0");
    } else if all_valid && !(total > 0.0 && total.is_finite()) {
        e.push(
            field,
            format!("total weight {total}"),
            "weights with a finite total > 0",
        );
    }
}

/// A commented example config for a mode (what `sage-cp-bench config` prints). It parses and
/// validates; the llm example is exactly the default config.
pub fn example_yaml(mode: Mode) -> String {
    let (mode_name, policies) = match mode {
        Mode::Llm => ("llm", "fifo, priority, slo_aware"),
        Mode::Hybrid => ("hybrid", "fifo, hybrid, hybrid_slo"),
    };
    let reference_policies = REFERENCE_POLICIES.join(", ");
    let mode_block = format!(
        "\
# Benchmark mode: llm (LLM requests only) or hybrid (LLM + embedding requests).
mode: {mode_name}
# Control plane base URL; leave out to run against the embedded reference control plane.
# control_plane_url: http://localhost:8080
# Policies to compare, each on the identical request stream. The reference control plane
# implements {reference_policies}.
policies: [{policies}]
"
    );
    let ratio_block = match mode {
        Mode::Llm => {
            "\
# Fraction of LLM requests sent as llm_generate to /v1/completions (the rest: chat).
completions_ratio: 0.0
"
        }
        Mode::Hybrid => {
            "\
# Request mix: shares of LLM and embedding requests (they sum to 1).
llm_ratio: 0.7
embedding_ratio: 0.3
# Fraction of LLM requests sent as llm_generate to /v1/completions (the rest: chat).
completions_ratio: 0.0
# Embedding requests: model, inputs per request (drawn uniformly from the list), and the
# token length of each input.
embedding_model: BAAI/bge-m3
embedding_batch_sizes: [1, 8, 32]
embedding_input_length: {dist: uniform, min: 16, max: 256}
"
        }
    };
    format!(
        "\
# sage-cp-bench {mode} configuration. Every key is optional; unknown keys are errors.
{mode_block}
# Measured requests per policy, and their mean rate (requests per second).
num_requests: 100
request_rate: 10.0
# Arrival process (pattern): poisson | constant | gamma {{burstiness}} (1 = poisson, < 1 burstier)
# | burst {{on_s, off_s}} | trace {{timestamps_ms: [...]}} (or a `trace: {{path: file.jsonl}}`).
arrival: {{pattern: poisson}}
# Weights (normalized by their total) of LLM models and priority classes.
model_distribution:
  Qwen/Qwen2.5-7B-Instruct: 0.5
  meta-llama/Llama-2-13b-chat-hf: 0.5
priority_distribution: {{HIGH: 0.2, NORMAL: 0.5, LOW: 0.3}}
# Token lengths (dist): fixed {{value}} | uniform {{min, max}} | normal {{mean, stddev, min, max}}
# | lognormal {{mean, sigma, min, max}} (mean is the distribution's mean) | empirical (from the
# dataset). Sampled values are rounded and clamped to [min, max].
prompt_length: {{dist: lognormal, mean: 256.0, sigma: 0.6, min: 16, max: 2048}}
output_length: {{dist: lognormal, mean: 32.0, sigma: 0.6, min: 4, max: 512}}
{ratio_block}
# End-to-end deadlines per priority, sent as X-SLO-Deadline-Ms; optional ttft_ms / tpot_ms.
slo:
  llm_deadline_ms: {{HIGH: 500, NORMAL: 1000, LOW: 2000}}
  embedding_deadline_ms: {{HIGH: 100, NORMAL: 200, LOW: 500}}
# Per-request timeout (seconds), warmup requests per policy, streaming, in-flight limit.
timeout_s: 60.0
warmup_requests: 10
stream: true
# max_concurrency: 256
# Seed of every random stream: the same seed gives the same requests, byte for byte.
seed: 42
# Prompt dataset (ShareGPT .json or .jsonl); then use prompt_length: {{dist: empirical}}.
# dataset: {{path: ShareGPT_V3_unfiltered_cleaned_split.json, format: sharegpt}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> ConfigErrors {
        BenchmarkConfig::from_yaml(yaml)
            .expect("parses")
            .validate()
            .expect_err("invalid")
    }

    #[test]
    fn empty_documents_are_the_default() {
        let d = BenchmarkConfig::default();
        assert_eq!(BenchmarkConfig::from_yaml("").unwrap(), d);
        assert_eq!(BenchmarkConfig::from_yaml("# nothing\n").unwrap(), d);
        assert_eq!(BenchmarkConfig::from_json("{}").unwrap(), d);
        assert_eq!(BenchmarkConfig::from_text("{}", None).unwrap(), d);
        d.validate().unwrap();
        d.validate_for_reference().unwrap();
    }

    #[test]
    fn negative_rate_is_named() {
        let e = problems("request_rate: -5");
        assert_eq!(
            e.problems,
            [ConfigProblem::new(
                "request_rate",
                "-5",
                "a finite number > 0 (requests per second)"
            )]
        );
        assert_eq!(
            e.to_string(),
            "request_rate: got -5, expected a finite number > 0 (requests per second)"
        );
        assert!(problems("request_rate: 0").has_field("request_rate"));
        assert!(problems("request_rate: .nan").has_field("request_rate"));
        assert!(problems("request_rate: .inf").has_field("request_rate"));
    }

    #[test]
    fn hybrid_ratios_must_sum_to_one() {
        let e = problems("mode: hybrid\nllm_ratio: 0.7\nembedding_ratio: 0.2");
        assert!(e.has_field("llm_ratio + embedding_ratio"), "{e}");
        assert!(e.to_string().contains("0.7 + 0.2"), "{e}");
        // 0.1 + 0.2 is not exactly 0.3 in binary, but within the tolerance of 1.
        BenchmarkConfig::from_yaml("mode: hybrid\nllm_ratio: 0.7\nembedding_ratio: 0.3")
            .unwrap()
            .validate()
            .unwrap();
    }

    #[test]
    fn hybrid_ratio_defaults_resolve() {
        let c = BenchmarkConfig::from_yaml("mode: hybrid").unwrap();
        assert_eq!((c.llm_ratio, c.embedding_ratio), (0.5, 0.5));
        assert_eq!(c, BenchmarkConfig::for_mode(Mode::Hybrid));
        let c = BenchmarkConfig::from_yaml("mode: hybrid\nllm_ratio: 0.75").unwrap();
        assert_eq!((c.llm_ratio, c.embedding_ratio), (0.75, 0.25));
        let c =
            BenchmarkConfig::from_json(r#"{"mode": "hybrid", "embedding_ratio": 0.25}"#).unwrap();
        assert_eq!((c.llm_ratio, c.embedding_ratio), (0.75, 0.25));
        c.validate().unwrap();
        assert_eq!(c.kinds(), [RequestKind::LlmChat, RequestKind::Embedding]);
    }

    #[test]
    fn embeddings_in_llm_mode_name_both() {
        let e = problems("embedding_ratio: 0.3\nllm_ratio: 0.7");
        assert_eq!(e.problems.len(), 1, "{e}");
        let p = &e.problems[0];
        assert_eq!(p.field, "embedding_ratio");
        assert!(
            p.expected.contains("llm mode") && p.expected.contains("hybrid"),
            "{p}"
        );
        assert!(problems("llm_ratio: 0.5").has_field("llm_ratio"));
    }

    #[test]
    fn policy_names_are_checked() {
        let e = problems("policies: [fifo, '', fifo]");
        assert!(e.has_field("policies[1]"), "{e}");
        assert!(e.has_field("policies[2]"), "{e}");
        assert!(problems("policies: []").has_field("policies"));
        let c = BenchmarkConfig::from_yaml("policies: [fifo, my_policy]").unwrap();
        c.validate().unwrap();
        let e = c.validate_for_reference().unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert_eq!(e.problems[0].field, "policies[1]");
        assert!(e.problems[0].expected.contains("hybrid_slo"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_position() {
        let e = BenchmarkConfig::from_yaml("num_requests: 5\nrequest_rat: 5\n").unwrap_err();
        assert!(e.message.contains("request_rat"), "{e}");
        assert_eq!(e.line, Some(2));
        let e = BenchmarkConfig::from_json("{\n \"seeds\": 1}").unwrap_err();
        assert_eq!(e.format, ConfigFormat::Json);
        assert!(e.message.contains("seeds"), "{e}");
        assert_eq!(e.line, Some(2));
        let e =
            BenchmarkConfig::from_yaml("arrival:\n  pattern: gamma\n  burstines: 1\n").unwrap_err();
        assert!(
            e.message.contains("burstines") && e.message.contains("arrival"),
            "{e}"
        );
        let e =
            BenchmarkConfig::from_yaml("arrival: {pattern: poisson, burstiness: 1}").unwrap_err();
        assert!(
            e.message.contains("burstiness") && e.message.contains("poisson"),
            "{e}"
        );
        let e = BenchmarkConfig::from_yaml("output_length: {dist: fixed, value: 4, min: 1}")
            .unwrap_err();
        assert!(
            e.message.contains("output_length") && e.message.contains("min"),
            "{e}"
        );
        let e = BenchmarkConfig::from_yaml("priority_distribution: {URGENT: 1}").unwrap_err();
        assert!(e.message.contains("URGENT"), "{e}");
        let e = BenchmarkConfig::from_yaml("num_requests: many").unwrap_err();
        assert!(e.message.contains("num_requests"), "{e}");
        assert_eq!((e.line, e.column), (Some(1), Some(15)));
    }

    #[test]
    fn min_above_max_is_named() {
        let e = problems("prompt_length: {dist: uniform, min: 100, max: 10}");
        assert_eq!(e.problems.len(), 1, "{e}");
        assert_eq!(e.problems[0].field, "prompt_length.min");
        assert!(
            problems("output_length: {dist: normal, mean: 5, stddev: -1, min: 1, max: 9}")
                .has_field("output_length.stddev")
        );
        assert!(
            problems("output_length: {dist: lognormal, mean: 5, sigma: -1, min: 1, max: 9}")
                .has_field("output_length.sigma")
        );
    }

    #[test]
    fn warmup_must_be_fewer_than_requests() {
        let e = problems("num_requests: 10\nwarmup_requests: 10");
        assert_eq!(e.problems.len(), 1, "{e}");
        assert_eq!(e.problems[0].field, "warmup_requests");
        assert_eq!(e.problems[0].expected, "fewer than num_requests (10)");
        let e = problems("num_requests: 0\nwarmup_requests: 0");
        assert_eq!(e.problems.len(), 1, "{e}");
        assert!(e.has_field("num_requests"));
    }

    #[test]
    fn batch_sizes_are_checked() {
        let e = problems("embedding_batch_sizes: []");
        assert!(e.has_field("embedding_batch_sizes"), "{e}");
        let e = problems("embedding_batch_sizes: [1, 0]");
        assert!(e.has_field("embedding_batch_sizes[1]"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = problems(
            "request_rate: -1\ntimeout_s: 0\nnum_requests: 5\nwarmup_requests: 9\n\
             arrival: {pattern: gamma, burstiness: 0}\nmodel_distribution: {'': 1, m: -1}\n\
             priority_distribution: {HIGH: 0, LOW: 0}\nembedding_model: ''\n\
             control_plane_url: localhost:8080\nmax_concurrency: 0\n\
             slo: {tpot_ms: -1, llm_deadline_ms: {HIGH: 0, NORMAL: 1, LOW: 1}}\n\
             completions_ratio: 2\n",
        );
        for field in [
            "request_rate",
            "timeout_s",
            "warmup_requests",
            "arrival.burstiness",
            "model_distribution[\"\"]",
            "model_distribution[\"m\"]",
            "priority_distribution",
            "embedding_model",
            "control_plane_url",
            "max_concurrency",
            "slo.tpot_ms",
            "slo.llm_deadline_ms.HIGH",
            "completions_ratio",
        ] {
            assert!(e.has_field(field), "{field} missing from:\n{e}");
        }
        assert_eq!(e.to_string().lines().count(), e.problems.len());
    }

    #[test]
    fn dataset_and_trace_rules() {
        assert!(problems("prompt_length: {dist: empirical}").has_field("prompt_length"));
        assert!(problems("dataset: {path: d.json}").has_field("prompt_length"));
        assert!(
            problems("dataset: {path: d.txt}\nprompt_length: {dist: empirical}")
                .has_field("dataset.format")
        );
        let c = BenchmarkConfig::from_yaml(
            "dataset: {path: d.json}\nprompt_length: {dist: empirical}\noutput_length: {dist: empirical}",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.dataset.as_ref().unwrap().resolved_format(),
            Some(DatasetFormat::Sharegpt)
        );
        assert!(problems("arrival: {pattern: trace}").has_field("arrival.timestamps_ms"));
        assert!(problems("trace: {path: t.jsonl}").has_field("trace"));
        assert!(
            problems("num_requests: 3\nwarmup_requests: 0\narrival: {pattern: trace, timestamps_ms: [1, 2]}")
                .has_field("arrival.timestamps_ms")
        );
        BenchmarkConfig::from_yaml("arrival: {pattern: trace}\ntrace: {path: t.jsonl}")
            .unwrap()
            .validate()
            .unwrap();
    }

    #[test]
    fn round_trips_through_yaml_and_json() {
        let mut c = BenchmarkConfig::for_mode(Mode::Hybrid);
        c.arrival = ArrivalConfig::Burst {
            on_s: 0.5,
            off_s: 1.5,
        };
        c.control_plane_url = Some("http://127.0.0.1:8080".into());
        c.max_concurrency = Some(64);
        c.slo.tpot_ms = Some(50.0);
        c.output_length = LengthDist::Normal {
            mean: 100.5,
            stddev: 0.1,
            min: 1,
            max: 300,
        };
        c.prompt_length = LengthDist::Empirical;
        c.dataset = Some(DatasetRef {
            path: "x.jsonl".into(),
            format: Some(DatasetFormat::Jsonl),
        });
        c.validate().unwrap();
        for d in [BenchmarkConfig::default(), c] {
            assert_eq!(BenchmarkConfig::from_yaml(&d.to_yaml()).unwrap(), d);
            assert_eq!(BenchmarkConfig::from_json(&d.to_json_pretty()).unwrap(), d);
            assert_eq!(
                BenchmarkConfig::from_text(&d.to_json_pretty(), Some("yaml")).unwrap(),
                d
            );
        }
    }

    #[test]
    fn aliases_of_the_original_are_accepted() {
        let c =
            BenchmarkConfig::from_yaml("timeout_seconds: 5\narrival: {pattern: uniform}").unwrap();
        assert_eq!(c.timeout_s, 5.0);
        assert_eq!(c.arrival, ArrivalConfig::Constant);
    }

    #[test]
    fn examples_parse_and_validate() {
        let llm = BenchmarkConfig::from_yaml(&example_yaml(Mode::Llm)).unwrap();
        assert_eq!(llm, BenchmarkConfig::default());
        let hybrid = BenchmarkConfig::from_yaml(&example_yaml(Mode::Hybrid)).unwrap();
        hybrid.validate_for_reference().unwrap();
        let mut expected = BenchmarkConfig::for_mode(Mode::Hybrid);
        expected.set_llm_ratio(0.7);
        expected.embedding_ratio = 0.3;
        expected.policies = vec!["fifo".into(), "hybrid".into(), "hybrid_slo".into()];
        assert_eq!(hybrid, expected);
    }

    #[test]
    fn format_hints() {
        assert_eq!(
            ConfigFormat::from_extension(".YML"),
            Some(ConfigFormat::Yaml)
        );
        assert_eq!(
            ConfigFormat::from_extension("json"),
            Some(ConfigFormat::Json)
        );
        assert_eq!(ConfigFormat::from_extension("toml"), None);
        assert_eq!(ConfigFormat::sniff("  {\"a\": 1}"), ConfigFormat::Json);
        let e = BenchmarkConfig::from_text("seed: 1", Some("json")).unwrap_err();
        assert_eq!(e.format, ConfigFormat::Json);
        assert_eq!(Mode::parse("Hybrid"), Some(Mode::Hybrid));
        assert_eq!(Mode::parse("both"), None);
    }
}
