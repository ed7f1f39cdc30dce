//! Runs and reports for the chart tests.

use crate::record::{Outcome, RequestRecord, TokenSource};
use crate::report::{PolicyRun, PolicySwitch, Report, ReportKind, RunParams};
use crate::request::{Priority, RequestKind};
use crate::slo::SloTargets;
use serde_json::Value;

/// A run of `n` requests whose latencies grow with `slow` (ms per request id): every fifth an
/// embedding, priorities in turn, request 7 timed out.
fn run_of(policy: &str, n: u64, slow: u64, params: RunParams, keep_records: bool) -> PolicyRun {
    let records = (0..n)
        .map(|id| {
            let intended_us = id * 200_000;
            let kind = if id % 5 == 4 {
                RequestKind::Embedding
            } else {
                RequestKind::LlmChat
            };
            let priority = Priority::ALL[(id % 3) as usize];
            let model = if kind.is_llm() { "qwen" } else { "bge" };
            RequestRecord {
                sent_us: intended_us + 100 + id,
                first_token_us: Some(intended_us + 20_000 + id * slow * 1000),
                end_us: intended_us + 300_000 + id * slow * 1000,
                itl_us: if kind.is_llm() {
                    vec![8_000; 9]
                } else {
                    vec![]
                },
                outcome: if id == 7 {
                    Outcome::Timeout
                } else {
                    Outcome::Success
                },
                output_tokens: if kind.is_llm() { 10 } else { 0 },
                output_tokens_source: TokenSource::Usage,
                chunks: 10,
                input_tokens: Some(50),
                queue_time_ms: Some(1.0),
                ..RequestRecord::new(id, kind, priority, model, 1000, 48, intended_us)
            }
        })
        .collect();
    PolicyRun::from_records(
        policy,
        PolicySwitch::Simulated,
        params,
        records,
        &SloTargets::default(),
        keep_records,
    )
}

/// [`run_of`] without its records.
pub(crate) fn run(policy: &str, n: u64, slow: u64, params: RunParams) -> PolicyRun {
    run_of(policy, n, slow, params, false)
}

/// [`run_of`] with its records kept.
pub(crate) fn run_with_records(policy: &str, n: u64, slow: u64) -> PolicyRun {
    run_of(policy, n, slow, RunParams::default(), true)
}

/// A comparison report of these runs.
pub(crate) fn report(runs: Vec<PolicyRun>) -> Report {
    let mut r = Report::new(ReportKind::Compare, "t", Value::Null, 1, "h", 30);
    r.runs = runs;
    r
}
