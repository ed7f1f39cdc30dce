//! Service-level objectives: the targets a request is judged against.

use crate::record::RequestRecord;
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

/// Whether one request met its SLO.
///
/// It does when all of these hold:
/// - it succeeded (failures, timeouts and cancellations are always misses);
/// - its end-to-end latency, from the **intended** send time, is at most the record's own
///   `slo_deadline_ms` (the deadline the workload gave it from the targets and sent in
///   `X-SLO-Deadline-Ms`; the targets' deadlines are not consulted again);
/// - for LLM requests, when `targets.ttft_ms` is set: its TTFT is at most the target for its
///   priority (a success without a first-token time misses);
/// - for LLM requests, when `targets.tpot_ms` is set and the request has a TPOT (two or more
///   output tokens): its TPOT is at most the target.
///
/// Latencies are compared in integer microseconds, so a request exactly at its deadline meets it.
pub fn meets_slo(record: &RequestRecord, targets: &SloTargets) -> bool {
    if !record.outcome.is_success() {
        return false;
    }
    let e2e_us = record.end_us.saturating_sub(record.intended_us);
    if e2e_us > record.slo_deadline_ms.saturating_mul(1000) {
        return false;
    }
    if !record.kind.is_llm() {
        return true;
    }
    if let Some(ttft) = &targets.ttft_ms {
        let Some(first_us) = record.first_token_us else {
            return false;
        };
        let ttft_us = first_us.saturating_sub(record.intended_us);
        if ttft_us > ttft.get(record.priority).saturating_mul(1000) {
            return false;
        }
    }
    if let (Some(target_ms), Some(tpot_ms)) = (targets.tpot_ms, record.tpot_ms())
        && tpot_ms > target_ms
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Outcome, TokenSource};

    fn llm(intended_us: u64, first_us: u64, end_us: u64, tokens: u32) -> RequestRecord {
        RequestRecord {
            first_token_us: Some(first_us),
            end_us,
            outcome: Outcome::Success,
            output_tokens: tokens,
            output_tokens_source: TokenSource::Usage,
            chunks: tokens,
            input_tokens: Some(10),
            ..RequestRecord::new(
                0,
                RequestKind::LlmChat,
                Priority::Normal,
                "m",
                1000,
                10,
                intended_us,
            )
        }
    }

    #[test]
    fn deadline_is_inclusive_and_from_intended() {
        let t = SloTargets::default();
        assert!(meets_slo(&llm(5_000, 6_000, 1_005_000, 10), &t));
        assert!(!meets_slo(&llm(5_000, 6_000, 1_005_001, 10), &t));
        // Sent late: the lateness counts against the deadline.
        let mut r = llm(0, 500_000, 999_000, 10);
        r.sent_us = 400_000;
        assert!(meets_slo(&r, &t));
    }

    #[test]
    fn uses_the_records_own_deadline() {
        let mut r = llm(0, 100, 1_500_000, 10);
        assert!(!meets_slo(&r, &SloTargets::default()));
        r.slo_deadline_ms = 2000;
        assert!(meets_slo(&r, &SloTargets::default()));
    }

    #[test]
    fn failures_always_miss() {
        let t = SloTargets::default();
        for outcome in [
            Outcome::Timeout,
            Outcome::Cancelled,
            Outcome::Http {
                status: 503,
                message: String::new(),
            },
        ] {
            let mut r = llm(0, 10, 20, 2);
            r.outcome = outcome;
            assert!(!meets_slo(&r, &t));
        }
    }

    #[test]
    fn ttft_and_tpot_targets_apply_to_llm_only() {
        let t = SloTargets {
            ttft_ms: Some(PerPriority {
                high: 50,
                normal: 100,
                low: 200,
            }),
            tpot_ms: Some(10.0),
            ..SloTargets::default()
        };
        // TTFT 100 ms exactly, TPOT (200-100)/10 = 10 ms exactly: met.
        assert!(meets_slo(&llm(0, 100_000, 200_000, 11), &t));
        // TTFT over.
        assert!(!meets_slo(&llm(0, 100_001, 200_000, 11), &t));
        // TPOT over.
        assert!(!meets_slo(&llm(0, 100_000, 200_011, 11), &t));
        // One token: no TPOT, only TTFT and the deadline apply.
        assert!(meets_slo(&llm(0, 100_000, 900_000, 1), &t));
        // Success without a first token cannot show its TTFT: a miss.
        let mut r = llm(0, 100, 200, 11);
        r.first_token_us = None;
        assert!(!meets_slo(&r, &t));
        // Embeddings: deadline only.
        let mut e = llm(0, 150_000, 150_000, 0);
        e.kind = RequestKind::Embedding;
        assert!(meets_slo(&e, &t));
    }
}
