//! What each backend instance got: the requests routed to it (by the `X-Backend-Instance`
//! header of their responses), their outcome, tokens and latencies, and how evenly the load
//! was spread.

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
    /// Requests routed to it per second, by intended send time: entry `t` counts the requests
    /// due in second `t` (the seconds of the run's `time_series`, same length).
    pub requests_per_s: Vec<u64>,
    /// Tokens routed to it per second, by intended send time: entry `t` holds the input plus
    /// output tokens of its successful requests due in second `t` (same seconds as
    /// `requests_per_s`); empty in files written before it was kept.
    #[serde(default)]
    pub tokens_per_s: Vec<u64>,
}

impl InstanceStats {
    /// Adds one record that named this instance.
    pub(crate) fn add(&mut self, r: &RequestRecord) {
        self.requests += 1;
        let t = super::time_series::second_of(r.intended_us);
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

    /// Adds what `other` counted for the same instance.
    pub fn merge(&mut self, other: &InstanceStats) {
        self.requests += other.requests;
        self.requests_succeeded += other.requests_succeeded;
        self.output_tokens_total += other.output_tokens_total;
        self.input_tokens_total += other.input_tokens_total;
        self.ttft.merge(&other.ttft);
        self.e2e.merge(&other.e2e);
        if self.requests_per_s.len() < other.requests_per_s.len() {
            self.requests_per_s.resize(other.requests_per_s.len(), 0);
        }
        for (n, m) in self.requests_per_s.iter_mut().zip(&other.requests_per_s) {
            *n += m;
        }
        if self.tokens_per_s.len() < other.tokens_per_s.len() {
            self.tokens_per_s.resize(other.tokens_per_s.len(), 0);
        }
        for (n, m) in self.tokens_per_s.iter_mut().zip(&other.tokens_per_s) {
            *n += m;
        }
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
        acc.finish(seconds)
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct InstanceAccumulator {
    by_instance: BTreeMap<String, InstanceStats>,
}

impl InstanceAccumulator {
    /// Adds one record (nothing when its response named no instance).
    pub(crate) fn add(&mut self, r: &RequestRecord) {
        let Some(name) = r.backend_instance.as_deref() else {
            return;
        };
        match self.by_instance.get_mut(name) {
            Some(s) => s.add(r),
            None => self.by_instance.entry(name.to_owned()).or_default().add(r),
        }
    }

    /// Adds the records taken by `other`.
    pub(crate) fn merge(&mut self, other: &InstanceAccumulator) {
        for (name, s) in &other.by_instance {
            self.by_instance.entry(name.clone()).or_default().merge(s);
        }
    }

    /// The statistics, each per-second list padded to `seconds` entries (and the tokens'
    /// to the requests').
    pub(crate) fn finish(mut self, seconds: usize) -> BTreeMap<String, InstanceStats> {
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
