//! A workload: the exact, seeded list of requests a run sends.
//!
//! [`generate`] turns `(config, data)` into a [`Workload`]. Every aspect of a request draws
//! from its own ChaCha8 stream derived from `config.seed` (arrival times, kind, model,
//! priority, prompt length, output length, embedding batch size, text, dataset index,
//! embedding inputs), and each stream is advanced by the same amount for every request, so
//! changing one aspect's settings (e.g. the priority mix) leaves the others untouched. Warmup
//! requests come from their own streams.
//!
//! With a trace, record `i` of the trace (in time order) is request `i`; its optional fields
//! override what would have been sampled.

mod generation;
mod hash;
mod prefixes;
mod sessions;
#[cfg(test)]
mod tests;
mod text;

pub use generation::generate;
pub use text::{
    ConversationLengths, PrefixText, RequestText, SEPARATOR, TextSource, Texts, conversation_turns,
    message_seed,
};

use crate::arrival::Trace;
use crate::config::ConfigErrors;
use crate::dataset::Dataset;
use crate::request::{Priority, RequestKind};
use std::sync::Arc;
use thiserror::Error;

/// One request of a workload, fully determined by `(config, seed)`: its place in the schedule
/// and what it asks for, without its text (which [`Workload::text`] makes from
/// [`text`](Self::text) when it is needed). Small and `Copy`: a schedule of a million requests
/// takes tens of megabytes, whatever the prompts' lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSpec {
    /// Position in the workload (0-based, in send order).
    pub id: u64,
    /// Intended send time, microseconds from the run's start.
    pub offset_us: u64,
    /// Request kind.
    pub kind: RequestKind,
    /// Model to send: an index into [`Workload::models`] (see [`Workload::model`]).
    pub model: u32,
    /// Priority class.
    pub priority: Priority,
    /// End-to-end deadline (sent as `X-SLO-Deadline-Ms`).
    pub slo_deadline_ms: u64,
    /// Time-to-first-token target of an LLM request under the per-token SLO (sent as
    /// `X-SLO-TTFT-Ms`, so an SLO-aware control plane can order its queue by the deadline
    /// that queueing decides); `None` otherwise.
    pub slo_ttft_ms: Option<u64>,
    /// Estimated prompt tokens (LLM: of the prompt; embeddings: of all inputs). An estimate,
    /// not a tokenizer count.
    pub prompt_tokens_est: u32,
    /// Output tokens requested (`max_tokens`); 0 for embeddings.
    pub max_tokens: u32,
    /// What its prompt or embedding inputs are made from.
    pub text: TextSource,
}

impl RequestSpec {
    /// Number of embedding inputs (0 for LLM requests).
    pub fn num_inputs(&self) -> u32 {
        self.text.inputs()
    }
}

/// Inputs a workload is generated from besides the config: the parsed dataset and trace
/// files the config names (core never opens files; the runner reads and parses them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadData {
    /// The parsed `dataset` file; required exactly when the config names one. Shared with
    /// the generated workload, which makes its prompts from it.
    pub dataset: Option<Arc<Dataset>>,
    /// The parsed `trace` file; required exactly when the config names one.
    pub trace: Option<Trace>,
}

impl WorkloadData {
    /// No dataset, no trace.
    pub fn none() -> Self {
        Self::default()
    }
}

/// Why a workload could not be generated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WorkloadError {
    /// The config is invalid.
    #[error("invalid configuration:\n{0}")]
    Invalid(#[from] ConfigErrors),
    /// The config names a dataset but none was passed.
    #[error("the config names dataset {path:?} but its contents were not passed")]
    MissingDataset {
        /// The config's dataset path.
        path: String,
    },
    /// The dataset passed has no entries.
    #[error("the dataset passed has no entries: expected at least one prompt")]
    EmptyDataset,
    /// A dataset was passed but the config names none.
    #[error("a dataset was passed but the config has no `dataset`")]
    UnexpectedDataset,
    /// The config names a trace file but none was passed.
    #[error("the config names trace {path:?} but its contents were not passed")]
    MissingTrace {
        /// The config's trace path.
        path: String,
    },
    /// A trace was passed but the config names no trace file.
    #[error(
        "a trace was passed but the config has no `trace` file (arrival.pattern: trace without inline timestamps)"
    )]
    UnexpectedTrace,
    /// The trace has fewer records than the config's `num_requests`.
    #[error(
        "the trace has {records} records but num_requests is {requests}: expected at least as many records as requests"
    )]
    TraceTooShort {
        /// Records in the trace.
        records: usize,
        /// Requests asked for.
        requests: u64,
    },
    /// `output_length` is empirical but a sampled dataset entry has no output length.
    #[error(
        "output_length is empirical but dataset entry {index} has no output length (no reply / output_tokens); use a parametric output_length"
    )]
    MissingOutputLength {
        /// Index of the entry among the dataset's usable entries.
        index: usize,
    },
    /// A trace record asks for an embedding request in llm mode.
    #[error(
        "trace record {index} (at {timestamp_ms} ms) has kind embedding, but mode is llm: expected mode: hybrid"
    )]
    EmbeddingInLlmMode {
        /// Index of the record in time order.
        index: usize,
        /// Its timestamp.
        timestamp_ms: f64,
    },
}

/// The exact list of requests a run sends: warmup first, then the measured requests, with
/// what their text is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The seed it was generated from.
    pub seed: u64,
    /// The model names the requests' [`RequestSpec::model`] index.
    pub models: Vec<String>,
    /// What the requests' text is made from besides their own [`TextSource`].
    pub texts: Texts,
    /// Warmup requests (ids `0..w`, evenly spaced at the configured rate from offset 0),
    /// sent before measuring.
    pub warmup: Vec<RequestSpec>,
    /// Measured requests, sorted by `offset_us` (ids `0..n` in send order).
    pub requests: Vec<RequestSpec>,
}

impl Workload {
    /// A workload of hand-built requests (tests, benchmarks): models by index, text from
    /// [`Texts::default`] (no dataset).
    pub fn from_requests(seed: u64, models: Vec<String>, requests: Vec<RequestSpec>) -> Self {
        Self {
            seed,
            models,
            texts: Texts::default(),
            warmup: Vec::new(),
            requests,
        }
    }

    /// The model name of `spec`.
    ///
    /// # Panics
    /// If `spec.model` is not an index of [`models`](Self::models).
    pub fn model(&self, spec: &RequestSpec) -> &str {
        &self.models[spec.model as usize]
    }

    /// The prompt or embedding inputs of `spec`, made now, exactly as generation chose them.
    pub fn text(&self, spec: &RequestSpec) -> RequestText {
        self.texts.text(&spec.text)
    }

    /// Hex SHA-256 of the canonical JSON encoding (`{"warmup":[...],"requests":[...]}`, each
    /// request `{"id", "offset_us", "kind", "model", "priority", "slo_deadline_ms",
    /// "slo_ttft_ms" (when set), "prompt", "prompt_tokens_est", "max_tokens", "inputs"}` with
    /// its model name and text, no whitespace) of the warmup and measured requests. The same
    /// requests give the same hash on every platform. Computed in one pass, one request's
    /// text at a time.
    pub fn hash(&self) -> String {
        hash::hash(self)
    }

    /// Shard `index` of `count`: the requests (and warmup requests) whose `id % count ==
    /// index`. Round-robin by id, so every shard spans the whole run at `1/count` of the
    /// rate; shards are disjoint and together hold every request. Ids and offsets keep their
    /// whole-workload values.
    ///
    /// # Panics
    /// If `count == 0` or `index >= count`.
    pub fn shard(&self, index: u64, count: u64) -> Workload {
        assert!(
            count > 0 && index < count,
            "shard index {index} of {count}: expected 0 <= index < count"
        );
        let pick = |v: &[RequestSpec]| -> Vec<RequestSpec> {
            v.iter()
                .filter(|r| r.id % count == index)
                .copied()
                .collect()
        };
        Workload {
            seed: self.seed,
            models: self.models.clone(),
            texts: self.texts.clone(),
            warmup: pick(&self.warmup),
            requests: pick(&self.requests),
        }
    }

    /// Offset of the last measured request, µs (0 when there is none).
    pub fn duration_us(&self) -> u64 {
        self.requests.last().map_or(0, |r| r.offset_us)
    }

    /// Number of measured requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether there is no measured request.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}
