//! Per-request CSV: one row per measured request of every run in a result.

use cpbench_core::record::{Outcome, RequestRecord};
use serde::Serialize;

/// One CSV row. Times are microseconds from the run's start; latencies in ms.
#[derive(Debug, Serialize)]
struct Row<'a> {
    policy: &'a str,
    label: &'a str,
    id: u64,
    kind: &'a str,
    priority: &'a str,
    model: &'a str,
    slo_deadline_ms: u64,
    slo_met: bool,
    intended_us: u64,
    sent_us: u64,
    lateness_ms: f64,
    concurrency_wait_us: u64,
    first_token_us: Option<u64>,
    end_us: u64,
    ttft_ms: Option<f64>,
    e2e_ms: f64,
    tpot_ms: Option<f64>,
    chunks: u32,
    output_tokens: u32,
    output_tokens_source: String,
    input_tokens: Option<u32>,
    outcome: &'a str,
    http_status: Option<u16>,
    error: &'a str,
    queue_time_ms: Option<f64>,
    backend_instance: Option<&'a str>,
}

/// One run's records for the CSV, with what identifies the run.
#[derive(Debug, Clone, Copy)]
pub struct CsvRun<'a> {
    /// Policy name.
    pub policy: &'a str,
    /// Extra label (sweep rate, experiment step), or "".
    pub label: &'a str,
    /// The records.
    pub records: &'a [RequestRecord],
    /// Whether each record met its SLO, by position in `records`.
    pub slo_met: &'a [bool],
}

/// Serializes the records of several runs as CSV with a header row.
pub fn serialize(runs: &[CsvRun<'_>]) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for run in runs {
        for (i, r) in run.records.iter().enumerate() {
            let (outcome, status, error) = match &r.outcome {
                Outcome::Success => ("success", None, ""),
                Outcome::Http { status, message } => {
                    ("http_error", Some(*status), message.as_str())
                }
                Outcome::Timeout => ("timeout", None, ""),
                Outcome::Connection { message } => ("connection", None, message.as_str()),
                Outcome::StreamBroken { message } => ("stream_broken", None, message.as_str()),
                Outcome::Malformed { message } => ("malformed", None, message.as_str()),
                Outcome::TooLarge { what, .. } => ("too_large", None, what.as_str()),
                Outcome::Cancelled => ("cancelled", None, ""),
            };
            let row = Row {
                policy: run.policy,
                label: run.label,
                id: r.id,
                kind: r.kind.as_str(),
                priority: r.priority.as_str(),
                model: &r.model,
                slo_deadline_ms: r.slo_deadline_ms,
                slo_met: run.slo_met.get(i).copied().unwrap_or(false),
                intended_us: r.intended_us,
                sent_us: r.sent_us,
                lateness_ms: r.lateness_ms(),
                concurrency_wait_us: r.concurrency_wait_us,
                first_token_us: r.first_token_us,
                end_us: r.end_us,
                ttft_ms: r.ttft_ms(),
                e2e_ms: r.e2e_ms(),
                tpot_ms: r.tpot_ms(),
                chunks: r.chunks,
                output_tokens: r.output_tokens,
                output_tokens_source: serde_json::to_value(r.output_tokens_source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                input_tokens: r.input_tokens,
                outcome,
                http_status: status,
                error,
                queue_time_ms: r.queue_time_ms,
                backend_instance: r.backend_instance.as_deref(),
            };
            w.serialize(row).expect("writing CSV to memory cannot fail");
        }
    }
    w.into_inner().expect("flushing CSV to memory cannot fail")
}
