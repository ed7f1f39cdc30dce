//! Record sets for the property tests of the metric math.
#![allow(dead_code)]

use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use cpbench_core::request::{Priority, RequestKind};
use cpbench_core::slo::SloTargets;
use proptest::prelude::*;

/// Arbitrary records: every kind, priority and outcome, three models, three backend instances
/// (or none), latencies from 0 to seconds, ids from 0 to 999 (not unique).
pub(crate) fn record_strategy() -> impl Strategy<Value = RequestRecord> {
    (
        (0u64..1_000, 0u64..30_000_000, 0u64..50_000, 0u64..3_000_000),
        (0usize..3, 0usize..3, 0usize..3, 0u8..10, 0usize..4),
        (0u32..300, proptest::collection::vec(0u32..200_000, 0..6)),
        (
            proptest::option::of(0u32..4_000),
            proptest::option::of(0.0f64..500.0),
            0u32..2_000,
            0u64..4_000_000,
        ),
    )
        .prop_map(
            |(
                (id, intended_us, late_us, e2e_us),
                (kind, priority, model, outcome, instance),
                (tokens, itl_us),
                (input_tokens, queue_time_ms, prompt_tokens_est, deadline_us),
            )| {
                let kind = RequestKind::ALL[kind];
                let outcome = match outcome {
                    0 => Outcome::Timeout,
                    1 => Outcome::Http {
                        status: 503,
                        message: "busy".into(),
                    },
                    2 => Outcome::Cancelled,
                    _ => Outcome::Success,
                };
                let ok = outcome.is_success();
                let end_us = intended_us + late_us + e2e_us;
                let first_token_us = ok.then_some(intended_us + late_us + e2e_us / 3);
                let priority = Priority::ALL[priority];
                let model = ["a", "b", "c"][model];
                RequestRecord {
                    sent_us: intended_us + late_us,
                    first_token_us,
                    end_us,
                    itl_us: if ok && kind.is_llm() { itl_us } else { vec![] },
                    output_tokens: if ok && kind.is_llm() { tokens } else { 0 },
                    output_tokens_source: if ok {
                        TokenSource::Usage
                    } else {
                        TokenSource::None
                    },
                    chunks: tokens,
                    input_tokens: if ok { input_tokens } else { None },
                    queue_time_ms: if ok { queue_time_ms } else { None },
                    backend_instance: ["llm-0", "llm-1", "emb-0"]
                        .get(instance)
                        .map(|s| s.to_string()),
                    outcome,
                    ..RequestRecord::new(
                        id,
                        kind,
                        priority,
                        model,
                        deadline_us / 1000,
                        prompt_tokens_est,
                        intended_us,
                    )
                }
            },
        )
}

/// The default per-token SLO with a 50 ms TPOT target for every priority.
pub(crate) fn targets() -> SloTargets {
    SloTargets {
        tpot_ms: Some(cpbench_core::request::PerPriority {
            high: 50.0,
            normal: 50.0,
            low: 50.0,
        }),
        ..SloTargets::default()
    }
}
