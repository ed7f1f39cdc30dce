//! Metric math: request records to summaries, breakdowns, histograms and per-second series.
//!
//! # Definitions
//! - **Measurement window** ([`MeasureWindow`]): `duration_s` runs from the run's start (0 µs,
//!   the instant the first measured request was due) to the latest `end_us` among the records,
//!   unless the caller passes an explicit duration. This is vLLM's `benchmark_duration`
//!   convention (first send to last completion). Breakdowns use the window of the whole set.
//! - **Throughput**: `request_throughput_rps` = successful requests / `duration_s`;
//!   `output_tokens_per_s` = output tokens of successful requests / `duration_s`;
//!   `total_tokens_per_s` = (input + output tokens of successful requests) / `duration_s`, where a
//!   request's input tokens are the server's `usage` count when present, else the workload's
//!   estimate (`input_tokens_estimated` counts how many came from the estimate).
//! - **Latency statistics** are over **successful requests only**, and measured from the intended
//!   send time (see [`LatencyHistograms`] for what each one holds).
//! - **SLO**: a request meets its SLO as [`meets_slo`](crate::slo::meets_slo) defines.
//!   `slo_compliance` = SLO-meeting requests / **all** requests in the set (`requests_total`,
//!   failures included); `goodput_rps` = SLO-meeting requests / `duration_s`.
//! - **Rates**: `error_rate` = failed / `requests_total`; `timeout_rate` = timed-out /
//!   `requests_total`.
//!
//! An empty set, or a zero-length window, gives zero counts, zero rates and `None` statistics,
//! never NaN, infinity or a panic.
//!
//! # One record at a time
//! Every section is built by an accumulator that takes records one at a time, in any order,
//! and keeps only aggregates: [`RunAccumulator`] for a whole run (summary, breakdowns,
//! histograms, per-second series, per-instance statistics ([`InstanceStats`]), [`RunSpans`],
//! and a bounded [`RecordSample`]). The `from_records` functions of this module feed it the
//! records of a slice, so there is one implementation of each metric. Every count, rate and
//! histogram is independent of the order (histogram moments are read from the buckets); the
//! per-second percentiles of [`TimeSeries`] are read from histogram buckets (see
//! [`SecondBucket`]).

mod accumulator;
mod buckets;
mod instances;
mod latency;
mod sample;
mod spans;
mod sparse;
mod summary;
#[cfg(test)]
mod tests;
mod time_series;

pub use accumulator::{AccumulatorState, RunAccumulator, RunAggregates};
pub use buckets::MAX_BUCKETS;
pub use instances::{InstanceStats, load_imbalance};
pub use latency::{LatencyHistograms, LatencyStats};
pub use sample::{DEFAULT_SAMPLE_LIMIT, RecordSample, RecordSampler, sample_key};
pub use spans::{EventSpan, RunSpans};
pub use summary::{Breakdowns, summarize};
pub use time_series::{SecondBucket, TimeSeries};

use crate::record::RequestRecord;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::BTreeMap;

/// Which time span the rates of a [`Summary`] are divided by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeasureWindow {
    /// From 0 µs to the latest `end_us` among the records (vLLM's `benchmark_duration`).
    #[default]
    UntilLastEnd,
    /// An explicit duration in µs from 0 (for instance the wall time the runner measured).
    DurationUs(u64),
}

impl MeasureWindow {
    /// The window's length in µs for these records.
    pub fn duration_us<R: Borrow<RequestRecord>>(self, records: &[R]) -> u64 {
        match self {
            Self::UntilLastEnd => records.iter().map(|r| r.borrow().end_us).max().unwrap_or(0),
            Self::DurationUs(us) => us,
        }
    }
}

/// The summary of a set of records (see the [module docs](self) for every definition).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Requests in the set.
    pub requests_total: u64,
    /// Requests that succeeded.
    pub requests_succeeded: u64,
    /// Requests that failed (any non-success outcome, cancellations included).
    pub requests_failed: u64,
    /// Failed requests by error kind (`http_503`, `timeout`, ...; see `Outcome::error_key`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Length of the measurement window, seconds.
    pub duration_s: f64,
    /// Successful requests per second of the window.
    pub request_throughput_rps: f64,
    /// Input tokens of successful requests (`usage` where present, else the estimate).
    pub input_tokens_total: u64,
    /// Successful requests whose input tokens are the workload's estimate (no `usage`).
    pub input_tokens_estimated: u64,
    /// Output tokens of successful requests.
    pub output_tokens_total: u64,
    /// Successful requests whose output tokens are estimated from their text (the server
    /// sent no `usage` and several tokens a chunk, and no tokenizer was given).
    #[serde(default)]
    pub output_tokens_estimated: u64,
    /// Output tokens of successful requests per second of the window.
    pub output_tokens_per_s: f64,
    /// Input plus output tokens of successful requests per second of the window.
    pub total_tokens_per_s: f64,
    /// Time to first token (successful LLM requests); `None` without samples.
    pub ttft: Option<LatencyStats>,
    /// Inter-token latency, all chunk gaps pooled; `None` without samples.
    pub itl: Option<LatencyStats>,
    /// Time per output token, one value per request; `None` without samples.
    pub tpot: Option<LatencyStats>,
    /// End-to-end latency (successful requests); `None` without samples.
    pub e2e: Option<LatencyStats>,
    /// Send lateness (all requests but cancelled ones); `None` without samples.
    pub lateness: Option<LatencyStats>,
    /// Server-reported queue time; `None` when no response carried the header.
    pub queue_time: Option<LatencyStats>,
    /// Requests that met their SLO.
    pub slo_met: u64,
    /// `slo_met / requests_total` (failures count as misses), 0 to 1; 0 for an empty set.
    pub slo_compliance: f64,
    /// SLO-meeting requests per second of the window.
    pub goodput_rps: f64,
    /// `requests_failed / requests_total`, 0 to 1.
    pub error_rate: f64,
    /// Timed-out requests / `requests_total`, 0 to 1.
    pub timeout_rate: f64,
}
