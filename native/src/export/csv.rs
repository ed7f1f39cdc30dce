//! Per-request CSV rows: one row per measured request, with the run it belongs to (the
//! columns of the Parquet records file, [`super::records`], but for the inter-token gaps).

use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use cpbench_core::report::RunParams;
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
    output_tokens_source: &'static str,
    input_tokens: Option<u32>,
    outcome: &'a str,
    http_status: Option<u16>,
    error: &'a str,
    queue_time_ms: Option<f64>,
    backend_instance: Option<&'a str>,
}

/// What identifies a run in the rows of its records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunTag {
    /// Policy name.
    pub policy: String,
    /// What distinguishes the run besides its policy (sweep rate, ratio, label), or "".
    pub label: String,
}

impl RunTag {
    /// The tag of a run of `policy` with `params` (its label by [`run_label`]).
    pub fn new(policy: &str, params: &RunParams) -> Self {
        Self {
            policy: policy.to_owned(),
            label: run_label(params),
        }
    }
}

/// What distinguishes a run besides its policy (sweep rate, ratio, label), or "".
pub fn run_label(params: &RunParams) -> String {
    let mut parts = Vec::new();
    if let Some(rate) = params.request_rate_rps {
        parts.push(format!("rate={rate}"));
    }
    if let Some(l) = params.llm_ratio {
        parts.push(format!("llm_ratio={l}"));
    }
    if let Some(l) = &params.label {
        parts.push(l.clone());
    }
    parts.join(" ")
}

/// Writes one record of the run `tag` as a CSV row (the header row comes before the first);
/// `slo_met` is whether it met its SLO.
pub fn write_row<W: std::io::Write>(
    w: &mut ::csv::Writer<W>,
    tag: &RunTag,
    r: &RequestRecord,
    slo_met: bool,
) -> ::csv::Result<()> {
    let (outcome, status, error) = outcome_columns(&r.outcome);
    w.serialize(Row {
        policy: &tag.policy,
        label: &tag.label,
        id: r.id,
        kind: r.kind.as_str(),
        priority: r.priority.as_str(),
        model: &r.model,
        slo_deadline_ms: r.slo_deadline_ms,
        slo_met,
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
        output_tokens_source: token_source(r.output_tokens_source),
        input_tokens: r.input_tokens,
        outcome,
        http_status: status,
        error: error.unwrap_or(""),
        queue_time_ms: r.queue_time_ms,
        backend_instance: r.backend_instance.as_deref(),
    })
}

/// A record's outcome as the records files give it: its kind (`success`, `http_error`,
/// `timeout`, `connection`, `stream_broken`, `malformed`, `too_large`, `cancelled`), the HTTP
/// status of an `http_error`, and the error's message (for `too_large`, what was too large),
/// if the outcome has one.
pub fn outcome_columns(o: &Outcome) -> (&'static str, Option<u16>, Option<&str>) {
    match o {
        Outcome::Success => ("success", None, None),
        Outcome::Http { status, message } => ("http_error", Some(*status), Some(message)),
        Outcome::Timeout => ("timeout", None, None),
        Outcome::Connection { message } => ("connection", None, Some(message)),
        Outcome::StreamBroken { message } => ("stream_broken", None, Some(message)),
        Outcome::Malformed { message } => ("malformed", None, Some(message)),
        Outcome::TooLarge { what, .. } => ("too_large", None, Some(what)),
        Outcome::Cancelled => ("cancelled", None, None),
    }
}

/// How a record's output tokens were counted, as the JSON names it.
pub fn token_source(s: TokenSource) -> &'static str {
    match s {
        TokenSource::Usage => "usage",
        TokenSource::Chunks => "chunks",
        TokenSource::Tokenizer => "tokenizer",
        TokenSource::Estimated => "estimated",
        TokenSource::None => "none",
    }
}
