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

/// The most measured requests one run may have: its schedule is held in memory.
pub const MAX_NUM_REQUESTS: u64 = 10_000_000;

/// The longest per-request timeout accepted, seconds (a day).
pub const MAX_TIMEOUT_S: f64 = 86_400.0;

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
    /// Prompts that begin with one of a few shared prefixes ([`SharedPrefixes`]); none when
    /// absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_prefixes: Option<SharedPrefixes>,
    /// Multi-turn conversations instead of independent requests ([`Sessions`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Sessions>,
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
            shared_prefixes: None,
            sessions: None,
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

mod errors;
mod example;
pub mod legacy;
mod reuse;
#[cfg(test)]
mod tests;
mod validate;

pub use errors::{ConfigError, ConfigErrors, ConfigFormat, ConfigProblem, ParseError};
pub use example::example_yaml;
pub use reuse::{
    DEFAULT_ANSWER_MS_PER_TOKEN, DEFAULT_THINK_TIME_MS, MAX_PREFIX_GROUPS, Popularity, Sessions,
    SharedPrefixes,
};
pub(crate) use validate::tagged_fields_error;

/// Which keys a config text gives, where a default depends on it (the hybrid ratios, the
/// SLO's definition).
#[derive(Deserialize, Default)]
#[serde(default)]
struct GivenKeys {
    llm_ratio: Option<IgnoredAny>,
    embedding_ratio: Option<IgnoredAny>,
    slo: Option<BTreeMap<String, IgnoredAny>>,
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
        if let Some(doc) = Self::legacy_document(text) {
            return Self::from_json(&doc?);
        }
        let mut c: Self = serde_yaml_ng::from_str(text).map_err(|e| ParseError::yaml(&e))?;
        let keys: GivenKeys = serde_yaml_ng::from_str(text).unwrap_or_default();
        c.resolve_defaults(&keys);
        Ok(c)
    }

    /// Parses JSON. Does not validate.
    pub fn from_json(text: &str) -> Result<Self, ParseError> {
        // The rewritten document has none of the original keys left: one level deep.
        if let Some(doc) = Self::legacy_document(text) {
            return Self::from_json(&doc?);
        }
        let mut c: Self = serde_json::from_str(text).map_err(|e| ParseError::json(&e))?;
        let keys: GivenKeys = serde_json::from_str(text).unwrap_or_default();
        c.resolve_defaults(&keys);
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

    /// A text that uses the original tool's keys ([`legacy`]), rewritten into this tool's as
    /// JSON; `None` when it uses none of them (the text is then read as it is, so errors keep
    /// their line numbers).
    fn legacy_document(text: &str) -> Option<Result<String, ParseError>> {
        let keys = Self::given_keys(text);
        if !legacy::LEGACY_KEYS.iter().any(|k| keys.contains(*k)) {
            return None;
        }
        let parsed: Result<serde_json::Value, ParseError> = match ConfigFormat::sniff(text) {
            ConfigFormat::Json => serde_json::from_str(text).map_err(|e| ParseError::json(&e)),
            ConfigFormat::Yaml => serde_yaml_ng::from_str(text).map_err(|e| ParseError::yaml(&e)),
        };
        Some(parsed.and_then(|mut v| {
            let Some(map) = v.as_object_mut() else {
                return Err(ParseError {
                    format: ConfigFormat::Yaml,
                    message: "a config must be a mapping of keys to values".into(),
                    line: None,
                    column: None,
                });
            };
            legacy::rewrite(map).map_err(|message| ParseError {
                format: ConfigFormat::Yaml,
                message,
                line: None,
                column: None,
            })?;
            Ok(v.to_string())
        }))
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

    /// Defaults that depend on what the text gives: the hybrid ratios
    /// ([`Self::resolve_ratio_defaults`]) and the SLO: a text giving `slo.llm_deadline_ms` without
    /// `slo.llm_definition` means the end-to-end definition, and with the end-to-end
    /// definition, TTFT and TPOT targets apply only when the text gives them.
    fn resolve_defaults(&mut self, keys: &GivenKeys) {
        self.resolve_ratio_defaults(keys);
        let slo = keys.slo.as_ref();
        let given = |k: &str| slo.is_some_and(|m| m.contains_key(k));
        if given("llm_deadline_ms") && !given("llm_definition") {
            self.slo.llm_definition = crate::slo::LlmSloDefinition::EndToEnd;
        }
        if self.slo.llm_definition == crate::slo::LlmSloDefinition::EndToEnd {
            if !given("ttft_ms") {
                self.slo.ttft_ms = None;
            }
            if !given("tpot_ms") {
                self.slo.tpot_ms = None;
            }
        }
    }

    /// In hybrid mode, a text giving one ratio implies the other; giving neither means
    /// [`HYBRID_DEFAULT_LLM_RATIO`]. Llm-mode configs keep what they say (validation checks).
    fn resolve_ratio_defaults(&mut self, keys: &GivenKeys) {
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
}
