//! A workload: the exact, seeded list of requests a run sends.

use crate::request::{Priority, RequestKind};
use serde::{Deserialize, Serialize};

/// One request of a workload, fully determined by `(config, seed)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RequestSpec {
    /// Position in the workload (0-based, in send order).
    pub id: u64,
    /// Intended send time, microseconds from the run's start.
    pub offset_us: u64,
    /// Request kind.
    pub kind: RequestKind,
    /// Model name to send.
    pub model: String,
    /// Priority class.
    pub priority: Priority,
    /// End-to-end deadline (sent as `X-SLO-Deadline-Ms`).
    pub slo_deadline_ms: u64,
    /// Prompt text (LLM requests); empty for embeddings.
    pub prompt: String,
    /// Estimated prompt tokens (LLM: of `prompt`; embeddings: of all `inputs`). An estimate,
    /// not a tokenizer count.
    pub prompt_tokens_est: u32,
    /// Output tokens requested (`max_tokens`); 0 for embeddings.
    pub max_tokens: u32,
    /// Embedding inputs; empty for LLM requests.
    pub inputs: Vec<String>,
}
