//! What the driver hands the cluster (a request) and what it gets back (events).

use crate::request::{Priority, RequestKind};
use serde::{Deserialize, Serialize};

/// A request as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRequest {
    /// The caller's handle for the request; unique among requests in flight.
    pub key: u64,
    /// Chat, completion or embedding.
    pub kind: RequestKind,
    /// Model name.
    pub model: String,
    /// Priority class (`X-Request-Priority`).
    pub priority: Priority,
    /// End-to-end deadline from arrival (`X-SLO-Deadline-Ms`).
    pub deadline_ms: u64,
    /// Time-to-first-token target from arrival (`X-SLO-TTFT-Ms`), when the request has one:
    /// deadline-aware policies then schedule for the first token by this deadline (the one
    /// queueing decides) instead of the end-to-end one.
    pub ttft_deadline_ms: Option<u64>,
    /// Prompt tokens (LLM) or tokens of all inputs (embeddings); at least 1 is charged.
    pub prompt_tokens: u32,
    /// Output tokens to generate (LLM; at least 1).
    pub max_tokens: u32,
    /// Embedding inputs in the request (at least 1 is charged).
    pub num_inputs: u32,
    /// Chained hashes of the prompt's full blocks ([`super::prefix::block_hashes`] of its
    /// text), for the instances' prefix caches; empty for embeddings (and ignored there).
    pub prefix_blocks: Vec<u64>,
}

/// Something the driver must deliver. Times are when it happened in the cluster's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClusterEvent {
    /// The request left the control-plane queue for an instance.
    Dispatched {
        /// Request key.
        key: u64,
        /// Instance id (`X-Backend-Instance`).
        instance: String,
        /// Time spent in the control-plane queue (`X-Queue-Time-Ms`).
        queue_time_us: u64,
        /// When.
        at_us: u64,
    },
    /// Output tokens were generated.
    Tokens {
        /// Request key.
        key: u64,
        /// How many (one per engine step).
        count: u32,
        /// When.
        at_us: u64,
    },
    /// The request completed.
    Finished {
        /// Request key.
        key: u64,
        /// Prompt tokens charged (embeddings: tokens of all inputs).
        prompt_tokens: u32,
        /// Output tokens generated (0 for embeddings).
        output_tokens: u32,
        /// When.
        at_us: u64,
    },
    /// The request was refused; `status` is the HTTP status to answer with.
    Rejected {
        /// Request key.
        key: u64,
        /// 400, 404, 429 or 503.
        status: u16,
        /// Human-readable reason.
        message: String,
        /// When.
        at_us: u64,
    },
}

impl ClusterEvent {
    /// The request the event is about.
    pub fn key(&self) -> u64 {
        match self {
            Self::Dispatched { key, .. }
            | Self::Tokens { key, .. }
            | Self::Finished { key, .. }
            | Self::Rejected { key, .. } => *key,
        }
    }
}
