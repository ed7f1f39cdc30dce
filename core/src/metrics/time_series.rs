//! A run's per-second series.

use crate::record::RequestRecord;
use crate::slo::{SloTargets, meets_slo};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;

/// One second of a run. Second `t_s` covers `[t_s * 1e6, (t_s + 1) * 1e6)` µs from the run's
/// start. `sent` counts requests by their **intended** send time; every other field counts
/// requests by their **end** time (`end_us`). Percentiles are exact nearest-rank values over the
/// requests that ended in the second (successful ones; TTFT: successful LLM requests), `None`
/// when there are none.
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

/// A run's per-second series: one [`SecondBucket`] for every second from 0 to the last second
/// in which a request was due or ended, in ascending `t_s` with no gaps (quiet seconds are
/// zero buckets). Empty for no records.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeSeries {
    /// The seconds, ascending.
    pub seconds: Vec<SecondBucket>,
}

impl TimeSeries {
    /// The series of `records`.
    pub fn from_records<R: Borrow<RequestRecord>>(records: &[R], targets: &SloTargets) -> Self {
        let Some(last_us) = records
            .iter()
            .map(|r| r.borrow().intended_us.max(r.borrow().end_us))
            .max()
        else {
            return Self::default();
        };
        let n = usize::try_from(last_us / 1_000_000 + 1).expect("seconds fit in usize");
        let mut seconds: Vec<SecondBucket> = (0..n as u64)
            .map(|t_s| SecondBucket {
                t_s,
                ..SecondBucket::default()
            })
            .collect();
        let mut e2e: Vec<Vec<u64>> = vec![Vec::new(); n];
        let mut ttft: Vec<Vec<u64>> = vec![Vec::new(); n];
        let sec = |us: u64| (us / 1_000_000) as usize;
        for r in records {
            let r = r.borrow();
            seconds[sec(r.intended_us)].sent += 1;
            let i = sec(r.end_us);
            let b = &mut seconds[i];
            if meets_slo(r, targets) {
                b.slo_met += 1;
            }
            if !r.outcome.is_success() {
                b.errors += 1;
                continue;
            }
            b.completed += 1;
            b.output_tokens += u64::from(r.output_tokens);
            e2e[i].push(r.end_us.saturating_sub(r.intended_us));
            if r.kind.is_llm()
                && let Some(first) = r.first_token_us
            {
                ttft[i].push(first.saturating_sub(r.intended_us));
            }
        }
        for ((b, e), t) in seconds.iter_mut().zip(&mut e2e).zip(&mut ttft) {
            b.e2e_p50_ms = nearest_rank_ms(e, 50.0);
            b.e2e_p99_ms = nearest_rank_ms(e, 99.0);
            b.ttft_p50_ms = nearest_rank_ms(t, 50.0);
            b.ttft_p99_ms = nearest_rank_ms(t, 99.0);
        }
        Self { seconds }
    }
}

/// Exact nearest-rank percentile (the same definition as the histograms) in ms; sorts `values`.
fn nearest_rank_ms(values: &mut [u64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, values.len()) - 1;
    Some(values[idx] as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_matches_definition() {
        let mut v = vec![5, 1, 4, 2, 3];
        assert_eq!(nearest_rank_ms(&mut v, 50.0), Some(0.003));
        assert_eq!(nearest_rank_ms(&mut v, 99.0), Some(0.005));
        assert_eq!(nearest_rank_ms(&mut v, 0.0), Some(0.001));
        assert_eq!(nearest_rank_ms(&mut [], 50.0), None);
    }
}
