//! What each backend instance got: the requests routed to it (by the `X-Backend-Instance`
//! header of their responses), their outcome, tokens and latencies, and how evenly the load
//! was spread.

use super::buckets::{MAX_BUCKETS, add_counts, widen};
use super::time_series::second_of;
use crate::histogram::LatencyHistogram;
use crate::record::RequestRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The requests one backend instance served, as named by the `X-Backend-Instance` header of
/// their responses (requests without the header, such as most failures, belong to no instance).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InstanceStats {
    /// Requests whose response named this instance (all outcomes).
    pub requests: u64,
    /// Of those, the successful ones.
    pub requests_succeeded: u64,
    /// Output tokens of its successful requests.
    pub output_tokens_total: u64,
    /// Input tokens of its successful requests (`usage` where present, else the estimate).
    pub input_tokens_total: u64,
    /// Time to first token of its successful LLM requests, µs (as in the run's histograms).
    pub ttft: LatencyHistogram,
    /// End-to-end latency of its successful requests, µs.
    pub e2e: LatencyHistogram,
    /// Requests routed to it per bucket of the run's `time_series` (one second, or
    /// `time_series.bucket_s` seconds in a long run), by intended send time: entry `t` counts
    /// the requests due in bucket `t` (same length as the series).
    pub requests_per_s: Vec<u64>,
    /// Tokens routed to it per bucket, by intended send time: entry `t` holds the input plus
    /// output tokens of its successful requests due in bucket `t` (same buckets as
    /// `requests_per_s`); empty in files written before it was kept.
    #[serde(default)]
    pub tokens_per_s: Vec<u64>,
}

impl InstanceStats {
    /// Adds one record that named this instance; `t` is the bucket of its intended send time.
    pub(crate) fn add(&mut self, r: &RequestRecord, t: usize) {
        self.requests += 1;
        if t >= self.requests_per_s.len() {
            self.requests_per_s.resize(t + 1, 0);
        }
        self.requests_per_s[t] += 1;
        if !r.outcome.is_success() {
            return;
        }
        self.requests_succeeded += 1;
        let (input, output) = (
            u64::from(r.input_tokens_or_est()),
            u64::from(r.output_tokens),
        );
        self.output_tokens_total += output;
        self.input_tokens_total += input;
        if t >= self.tokens_per_s.len() {
            self.tokens_per_s.resize(t + 1, 0);
        }
        self.tokens_per_s[t] += input + output;
        self.e2e.record(r.end_us.saturating_sub(r.intended_us));
        if r.kind.is_llm()
            && let Some(first) = r.first_token_us
        {
            self.ttft.record(first.saturating_sub(r.intended_us));
        }
    }

    /// Adds what `other` counted for the same instance (its per-bucket lists with buckets as
    /// wide as this one's: [`merge_bucketed`](Self::merge_bucketed) for others).
    pub fn merge(&mut self, other: &InstanceStats) {
        self.merge_bucketed(1, other, 1);
    }

    /// Adds what `other` counted for the same instance, its per-bucket lists having buckets of
    /// `other_s` seconds and this one's of `self_s` (a power-of-two multiple of `other_s`).
    pub fn merge_bucketed(&mut self, self_s: u64, other: &InstanceStats, other_s: u64) {
        self.requests += other.requests;
        self.requests_succeeded += other.requests_succeeded;
        self.output_tokens_total += other.output_tokens_total;
        self.input_tokens_total += other.input_tokens_total;
        self.ttft.merge(&other.ttft);
        self.e2e.merge(&other.e2e);
        add_counts(
            &mut self.requests_per_s,
            self_s,
            &other.requests_per_s,
            other_s,
        );
        add_counts(&mut self.tokens_per_s, self_s, &other.tokens_per_s, other_s);
    }

    /// Widens the per-bucket lists from `from_s` to `to_s` seconds a bucket.
    fn widen(&mut self, from_s: u64, to_s: u64) {
        let add = |a: &mut u64, b: u64| *a += b;
        widen(&mut self.requests_per_s, &mut from_s.clone(), to_s, add);
        widen(&mut self.tokens_per_s, &mut from_s.clone(), to_s, add);
    }

    /// The statistics of each instance named by `records`, with `seconds` entries per second
    /// (at least as many as the latest intended send second needs).
    pub fn by_instance<'a>(
        records: impl IntoIterator<Item = &'a RequestRecord>,
        seconds: usize,
    ) -> BTreeMap<String, InstanceStats> {
        let mut acc = InstanceAccumulator::default();
        for r in records {
            acc.add(r);
        }
        acc.finish(seconds, 1)
    }
}

/// The load imbalance of a run: the most requests any instance got divided by the mean over
/// the instances that got any (1 is perfectly even; `n` instances with everything on one give
/// `n`); `None` without instances.
pub fn load_imbalance(by_instance: &BTreeMap<String, InstanceStats>) -> Option<f64> {
    let max = by_instance.values().map(|s| s.requests).max()?;
    let total: u64 = by_instance.values().map(|s| s.requests).sum();
    (total > 0).then(|| max as f64 * by_instance.len() as f64 / total as f64)
}

/// [`InstanceStats`] by instance, taken one record at a time in any order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct InstanceAccumulator {
    by_instance: BTreeMap<String, InstanceStats>,
    /// Seconds a bucket of the per-bucket lists covers (a power of two), the same for every
    /// instance.
    #[serde(deserialize_with = "super::buckets::deserialize_width")]
    bucket_s: u64,
}

impl Default for InstanceAccumulator {
    fn default() -> Self {
        InstanceAccumulator {
            by_instance: BTreeMap::new(),
            bucket_s: 1,
        }
    }
}

impl InstanceAccumulator {
    /// Adds one record (nothing when its response named no instance).
    pub(crate) fn add(&mut self, r: &RequestRecord) {
        let Some(name) = r.backend_instance.as_deref() else {
            return;
        };
        let second = second_of(r.intended_us);
        if second / self.bucket_s >= MAX_BUCKETS as u64 {
            let mut to_s = self.bucket_s;
            while second / to_s >= MAX_BUCKETS as u64 {
                to_s *= 2;
            }
            self.widen_to(to_s);
        }
        let t = (second / self.bucket_s) as usize;
        match self.by_instance.get_mut(name) {
            Some(s) => s.add(r, t),
            None => self
                .by_instance
                .entry(name.to_owned())
                .or_default()
                .add(r, t),
        }
    }

    /// Seconds a bucket covers now.
    pub(crate) fn bucket_s(&self) -> u64 {
        self.bucket_s
    }

    /// Widens every instance's buckets to `to_s` seconds (nothing when as wide already).
    pub(crate) fn widen_to(&mut self, to_s: u64) {
        if to_s <= self.bucket_s {
            return;
        }
        for s in self.by_instance.values_mut() {
            s.widen(self.bucket_s, to_s);
        }
        self.bucket_s = to_s;
    }

    /// Adds the records taken by `other`.
    pub(crate) fn merge(&mut self, other: &InstanceAccumulator) {
        self.widen_to(other.bucket_s);
        for (name, s) in &other.by_instance {
            self.by_instance
                .entry(name.clone())
                .or_default()
                .merge_bucketed(self.bucket_s, s, other.bucket_s);
        }
    }

    /// The statistics, their per-bucket lists widened to `bucket_s` seconds a bucket and
    /// padded to `seconds` entries (and the tokens' to the requests').
    pub(crate) fn finish(
        mut self,
        seconds: usize,
        bucket_s: u64,
    ) -> BTreeMap<String, InstanceStats> {
        self.widen_to(bucket_s);
        for s in self.by_instance.values_mut() {
            if s.requests_per_s.len() < seconds {
                s.requests_per_s.resize(seconds, 0);
            }
            let n = s.requests_per_s.len();
            if s.tokens_per_s.len() < n {
                s.tokens_per_s.resize(n, 0);
            }
        }
        self.by_instance
    }
}
