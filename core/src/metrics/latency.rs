//! Latency statistics and the mergeable latency histograms of a set of records.

use crate::histogram::LatencyHistogram;
use crate::record::{Outcome, RequestRecord};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;

/// Statistics of one latency, in milliseconds, read from a [`LatencyHistogram`] (3 significant
/// digits: within 0.1 %; percentiles are nearest-rank, see [`crate::histogram`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LatencyStats {
    /// Number of values.
    pub count: u64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Minimum, ms.
    pub min_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Population standard deviation, ms.
    pub stddev_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
}

impl LatencyStats {
    /// The statistics of a histogram; `None` when it is empty.
    pub fn from_histogram(h: &LatencyHistogram) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let [p50, p90, p95, p99, p999] = h.percentiles_us(&[50.0, 90.0, 95.0, 99.0, 99.9])[..]
        else {
            unreachable!("five percentiles asked, five returned")
        };
        let (mean_us, stddev_us) = h.moments_us();
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Self {
            count: h.count(),
            mean_ms: mean_us / 1000.0,
            min_ms: h.min_ms(),
            max_ms: h.max_ms(),
            stddev_ms: stddev_us / 1000.0,
            p50_ms: ms(p50),
            p90_ms: ms(p90),
            p95_ms: ms(p95),
            p99_ms: ms(p99),
            p999_ms: ms(p999),
        })
    }
}

/// The latency histograms of a set of records, in µs; serializable (sparse) and mergeable, so a
/// viewer can draw CDFs and combine runs.
///
/// What each one holds (all measured from the intended send time):
/// - `ttft`: successful LLM requests with a first-token time: `first_token_us - intended_us`.
/// - `itl`: every chunk gap (`itl_us`) of every successful LLM request, pooled (as vLLM does).
/// - `tpot`: successful LLM requests with at least 2 output tokens, one value each:
///   `(end_us - first_token_us) / (output_tokens - 1)`, rounded to the nearest µs.
/// - `e2e`: successful requests of every kind: `end_us - intended_us`.
/// - `lateness`: every request except cancelled ones (which may never have been sent):
///   `sent_us - intended_us`. This measures the client, so failures are included.
/// - `queue_time`: successful requests whose response carried `X-Queue-Time-Ms`, rounded to µs.
/// - `ttft_queue` and `ttft_after_queue`: the time to first token split in two, over the
///   successful LLM requests with a first-token time whose response carried `X-Queue-Time-Ms`:
///   the queue time (rounded to µs, at most the TTFT) and the rest of the TTFT
///   (`ttft - queue`: sending, routing, prefill, first token back). Both hold the same requests,
///   so their means add up to the mean TTFT of those requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LatencyHistograms {
    /// Time to first token, µs.
    pub ttft: LatencyHistogram,
    /// Inter-token latency (chunk gaps), µs.
    pub itl: LatencyHistogram,
    /// Time per output token, µs.
    pub tpot: LatencyHistogram,
    /// End-to-end latency, µs.
    pub e2e: LatencyHistogram,
    /// Send lateness, µs.
    pub lateness: LatencyHistogram,
    /// Server-reported queue time, µs.
    pub queue_time: LatencyHistogram,
    /// The control-plane queue time part of the TTFT, µs (see the type's docs).
    #[serde(default)]
    pub ttft_queue: LatencyHistogram,
    /// The TTFT after the control-plane queue, µs (see the type's docs).
    #[serde(default)]
    pub ttft_after_queue: LatencyHistogram,
}

impl LatencyHistograms {
    /// The histograms of a set of records.
    pub fn from_records<R: Borrow<RequestRecord>>(records: &[R]) -> Self {
        let mut h = Self::default();
        for r in records {
            h.record(r.borrow());
        }
        h
    }

    /// Adds one record's values (see the type's docs for which go where).
    pub fn record(&mut self, r: &RequestRecord) {
        if !matches!(r.outcome, Outcome::Cancelled) {
            self.lateness
                .record(r.sent_us.saturating_sub(r.intended_us));
        }
        if !r.outcome.is_success() {
            return;
        }
        self.e2e.record(r.end_us.saturating_sub(r.intended_us));
        let queue_us = r
            .queue_time_ms
            .filter(|q| q.is_finite() && *q >= 0.0)
            // Saturating float-to-int conversion; the value is finite and non-negative.
            .map(|q| libm::round(q * 1000.0) as u64);
        if let Some(q) = queue_us {
            self.queue_time.record(q);
        }
        if !r.kind.is_llm() {
            return;
        }
        if let Some(first) = r.first_token_us {
            let ttft = first.saturating_sub(r.intended_us);
            self.ttft.record(ttft);
            if let Some(q) = queue_us {
                let q = q.min(ttft);
                self.ttft_queue.record(q);
                self.ttft_after_queue.record(ttft - q);
            }
            if r.output_tokens >= 2 {
                let gaps = u64::from(r.output_tokens - 1);
                let decode_us = r.end_us.saturating_sub(first);
                self.tpot.record((decode_us + gaps / 2) / gaps);
            }
        }
        for &gap in &r.itl_us {
            self.itl.record(u64::from(gap));
        }
    }

    /// Adds every count of `other` (shards, threads or runs combined).
    pub fn merge(&mut self, other: &LatencyHistograms) {
        self.ttft.merge(&other.ttft);
        self.itl.merge(&other.itl);
        self.tpot.merge(&other.tpot);
        self.e2e.merge(&other.e2e);
        self.lateness.merge(&other.lateness);
        self.queue_time.merge(&other.queue_time);
        self.ttft_queue.merge(&other.ttft_queue);
        self.ttft_after_queue.merge(&other.ttft_after_queue);
    }
}
