//! A run's per-second series.

use super::buckets::{bucket_for, widen};
use super::sparse::SparseHistogram;
use crate::record::RequestRecord;
use crate::slo::{SloTargets, meets_slo};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;

/// One bucket of a run's series: one second, or [`TimeSeries::bucket_s`] seconds for a run
/// longer than [`MAX_BUCKETS`](super::MAX_BUCKETS) seconds. The bucket starting at `t_s` covers
/// `[t_s * 1e6, (t_s + bucket_s) * 1e6)` µs from the run's start; its counts are totals over
/// the bucket (divide by `bucket_s` for rates). `sent` counts requests by their **intended** send time; every other field counts
/// requests by their **end** time (`end_us`). Percentiles are nearest-rank values over the
/// requests that ended in the second (successful ones; TTFT: successful LLM requests), read
/// from histogram buckets like every other latency statistic (3 significant digits: exact below
/// 2,048 µs, at most 1/1024 above the exact value above); `None` when there are none.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SecondBucket {
    /// Start of the second, seconds from the run's start.
    pub t_s: u64,
    /// Requests due to be sent in this second (all outcomes).
    pub sent: u64,
    /// Successful requests that ended in this second.
    pub completed: u64,
    /// Failed requests that ended in this second.
    pub errors: u64,
    /// SLO-meeting requests that ended in this second.
    pub slo_met: u64,
    /// Median end-to-end latency of the successful requests ending here, ms.
    pub e2e_p50_ms: Option<f64>,
    /// 99th percentile end-to-end latency of the successful requests ending here, ms.
    pub e2e_p99_ms: Option<f64>,
    /// Median TTFT of the successful LLM requests ending here, ms.
    pub ttft_p50_ms: Option<f64>,
    /// 99th percentile TTFT of the successful LLM requests ending here, ms.
    pub ttft_p99_ms: Option<f64>,
    /// Output tokens of the successful requests ending here.
    pub output_tokens: u64,
}

/// A run's per-second series: one [`SecondBucket`] for every second (every `bucket_s`
/// seconds) from 0 to the last one in which a request was due or ended, in ascending `t_s`
/// with no gaps (quiet seconds are zero buckets). At most
/// [`MAX_BUCKETS`](super::MAX_BUCKETS) buckets: a longer run has buckets of 2, 4, 8...
/// seconds, so the report's size does not grow with the run's length. Empty for no records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeSeries {
    /// Seconds each bucket covers: 1, or a power of two for a run longer than
    /// [`MAX_BUCKETS`](super::MAX_BUCKETS) seconds (1 in files written before buckets widened).
    #[serde(default = "one_second")]
    pub bucket_s: u64,
    /// The buckets, ascending.
    pub seconds: Vec<SecondBucket>,
}

impl Default for TimeSeries {
    fn default() -> Self {
        TimeSeries {
            bucket_s: 1,
            seconds: Vec::new(),
        }
    }
}

fn one_second() -> u64 {
    1
}

impl TimeSeries {
    /// The series of `records` (a [`SeriesAccumulator`] fed with each of them).
    pub fn from_records<R: Borrow<RequestRecord>>(records: &[R], targets: &SloTargets) -> Self {
        let mut acc = SeriesAccumulator::default();
        for r in records {
            let r = r.borrow();
            acc.add(r, meets_slo(r, targets));
        }
        acc.finish()
    }
}

/// The per-second series being built from records taken one at a time, in any order: counts
/// per second, and the E2E and TTFT values of each second in [`SparseHistogram`]s (the buckets
/// of a [`LatencyHistogram`](crate::histogram::LatencyHistogram)), so a percentile read back is
/// the highest value of the bucket holding the exact nearest-rank value: the same value below
/// 2,048 µs, within 1/1024 of it above.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct SeriesAccumulator {
    /// Seconds a bucket covers (a power of two).
    #[serde(deserialize_with = "super::buckets::deserialize_width")]
    bucket_s: u64,
    seconds: Vec<SecondAccumulator>,
}

impl Default for SeriesAccumulator {
    fn default() -> Self {
        SeriesAccumulator {
            bucket_s: 1,
            seconds: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
struct SecondAccumulator {
    sent: u64,
    completed: u64,
    errors: u64,
    slo_met: u64,
    output_tokens: u64,
    e2e: SparseHistogram,
    ttft: SparseHistogram,
}

impl SecondAccumulator {
    /// Adds the counts of `o` (a neighbouring bucket merged into this one).
    fn absorb(&mut self, o: &SecondAccumulator) {
        self.sent += o.sent;
        self.completed += o.completed;
        self.errors += o.errors;
        self.slo_met += o.slo_met;
        self.output_tokens += o.output_tokens;
        self.e2e.merge(&o.e2e);
        self.ttft.merge(&o.ttft);
    }
}

/// The second holding `us` µs.
pub(crate) fn second_of(us: u64) -> u64 {
    us / 1_000_000
}

impl SeriesAccumulator {
    /// The accumulator of the bucket holding second `s`, widening the buckets or growing the
    /// series to hold it.
    fn second(&mut self, s: u64) -> &mut SecondAccumulator {
        let i = bucket_for(&mut self.seconds, &mut self.bucket_s, s, |a, b| {
            a.absorb(&b)
        });
        if i >= self.seconds.len() {
            self.seconds.resize_with(i + 1, SecondAccumulator::default);
        }
        &mut self.seconds[i]
    }

    /// Buckets in the series so far (from 0 to the last one with a request due or ended).
    pub(crate) fn len(&self) -> usize {
        self.seconds.len()
    }

    /// Seconds a bucket covers now.
    pub(crate) fn bucket_s(&self) -> u64 {
        self.bucket_s
    }

    /// Widens the buckets to `bucket_s` seconds (nothing when they are as wide already).
    pub(crate) fn widen_to(&mut self, bucket_s: u64) {
        widen(&mut self.seconds, &mut self.bucket_s, bucket_s, |a, b| {
            a.absorb(&b)
        });
    }

    /// Adds one record; `met` is whether it met its SLO.
    pub(crate) fn add(&mut self, r: &RequestRecord, met: bool) {
        self.second(second_of(r.intended_us)).sent += 1;
        let b = self.second(second_of(r.end_us));
        if met {
            b.slo_met += 1;
        }
        if !r.outcome.is_success() {
            b.errors += 1;
            return;
        }
        b.completed += 1;
        b.output_tokens += u64::from(r.output_tokens);
        b.e2e.record(r.end_us.saturating_sub(r.intended_us));
        if r.kind.is_llm()
            && let Some(first) = r.first_token_us
        {
            b.ttft.record(first.saturating_sub(r.intended_us));
        }
    }

    /// Adds the records taken by `other`.
    pub(crate) fn merge(&mut self, other: &SeriesAccumulator) {
        self.widen_to(other.bucket_s);
        for (j, o) in other.seconds.iter().enumerate() {
            if o.sent == 0 && o.completed == 0 && o.errors == 0 {
                continue;
            }
            // The first second of `other`'s bucket j lies in this series' (wider or equal)
            // bucket; `second` widens further when that bucket is past the limit.
            self.second(j as u64 * other.bucket_s).absorb(o);
        }
        // Zero buckets at the end count: they say how long the other series ran.
        if let Some(last) = other.seconds.len().checked_sub(1) {
            self.second(last as u64 * other.bucket_s);
        }
    }

    /// The series.
    pub(crate) fn finish(self) -> TimeSeries {
        let ms = |us: Option<u64>| us.map(|us| us as f64 / 1000.0);
        let bucket_s = self.bucket_s;
        let seconds = self
            .seconds
            .into_iter()
            .enumerate()
            .map(|(i, b)| SecondBucket {
                t_s: i as u64 * bucket_s,
                sent: b.sent,
                completed: b.completed,
                errors: b.errors,
                slo_met: b.slo_met,
                e2e_p50_ms: ms(b.e2e.percentile_us(50.0)),
                e2e_p99_ms: ms(b.e2e.percentile_us(99.0)),
                ttft_p50_ms: ms(b.ttft.percentile_us(50.0)),
                ttft_p99_ms: ms(b.ttft.percentile_us(99.0)),
                output_tokens: b.output_tokens,
            })
            .collect();
        TimeSeries { bucket_s, seconds }
    }
}
