//! Service-level objectives: the targets a request is judged against.

use crate::request::{PerPriority, Priority, RequestKind};
use serde::{Deserialize, Serialize};

/// SLO targets per priority class and request type.
///
/// A request *meets its SLO* when it succeeded, its end-to-end latency (from the intended send
/// time) is within its deadline, and, where set, its TTFT and TPOT are within their targets.
/// Failed and timed-out requests always count as misses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct SloTargets {
    /// End-to-end deadline of LLM requests (chat and completions), per priority.
    pub llm_deadline_ms: PerPriority<u64>,
    /// End-to-end deadline of embedding requests, per priority.
    pub embedding_deadline_ms: PerPriority<u64>,
    /// Optional time-to-first-token target of LLM requests, per priority.
    pub ttft_ms: Option<PerPriority<u64>>,
    /// Optional time-per-output-token target of LLM requests (all priorities).
    pub tpot_ms: Option<f64>,
}

impl Default for SloTargets {
    fn default() -> Self {
        Self {
            llm_deadline_ms: PerPriority {
                high: 500,
                normal: 1000,
                low: 2000,
            },
            embedding_deadline_ms: PerPriority {
                high: 100,
                normal: 200,
                low: 500,
            },
            ttft_ms: None,
            tpot_ms: None,
        }
    }
}

impl SloTargets {
    /// The end-to-end deadline for a request of this kind and priority.
    pub fn deadline_ms(&self, kind: RequestKind, priority: Priority) -> u64 {
        if kind.is_llm() {
            self.llm_deadline_ms.get(priority)
        } else {
            self.embedding_deadline_ms.get(priority)
        }
    }
}
