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
//! - **SLO**: a request meets its SLO as [`meets_slo`] defines. `slo_compliance` = SLO-meeting
//!   requests / **all** requests in the set (`requests_total`, failures included);
//!   `goodput_rps` = SLO-meeting requests / `duration_s`.
//! - **Rates**: `error_rate` = failed / `requests_total`; `timeout_rate` = timed-out /
//!   `requests_total`.
//!
//! An empty set, or a zero-length window, gives zero counts, zero rates and `None` statistics,
//! never NaN, infinity or a panic.

use crate::histogram::LatencyHistogram;
use crate::record::{Outcome, RequestRecord};
use crate::slo::{SloTargets, meets_slo};
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
        if let Some(q) = r.queue_time_ms
            && q.is_finite()
            && q >= 0.0
        {
            // Saturating float-to-int conversion; the value is finite and non-negative.
            self.queue_time.record(libm::round(q * 1000.0) as u64);
        }
        if !r.kind.is_llm() {
            return;
        }
        if let Some(first) = r.first_token_us {
            self.ttft.record(first.saturating_sub(r.intended_us));
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

impl Summary {
    /// The summary of `records` and their histograms (see the [module docs](self)).
    pub fn from_records<R: Borrow<RequestRecord>>(
        records: &[R],
        targets: &SloTargets,
        window: MeasureWindow,
    ) -> (Summary, LatencyHistograms) {
        let histograms = LatencyHistograms::from_records(records);
        let summary = Self::with_histograms(records, targets, window, &histograms);
        (summary, histograms)
    }

    /// The summary of `records`, reading latency statistics from `histograms` (which must be
    /// [`LatencyHistograms::from_records`] of the same records).
    pub fn with_histograms<R: Borrow<RequestRecord>>(
        records: &[R],
        targets: &SloTargets,
        window: MeasureWindow,
        histograms: &LatencyHistograms,
    ) -> Summary {
        let duration_us = window.duration_us(records);
        let duration_s = duration_us as f64 / 1e6;
        let mut s = Summary {
            duration_s,
            ..Summary::default()
        };
        let mut timeouts = 0u64;
        for r in records {
            let r = r.borrow();
            s.requests_total += 1;
            if meets_slo(r, targets) {
                s.slo_met += 1;
            }
            match r.outcome.error_key() {
                None => {
                    s.requests_succeeded += 1;
                    s.output_tokens_total += u64::from(r.output_tokens);
                    s.input_tokens_total += u64::from(r.input_tokens_or_est());
                    if r.input_tokens.is_none() {
                        s.input_tokens_estimated += 1;
                    }
                }
                Some(key) => {
                    s.requests_failed += 1;
                    *s.errors_by_kind.entry(key).or_insert(0) += 1;
                    if matches!(r.outcome, Outcome::Timeout) {
                        timeouts += 1;
                    }
                }
            }
        }
        s.request_throughput_rps = per_second(s.requests_succeeded, duration_s);
        s.output_tokens_per_s = per_second(s.output_tokens_total, duration_s);
        s.total_tokens_per_s = per_second(s.input_tokens_total + s.output_tokens_total, duration_s);
        s.goodput_rps = per_second(s.slo_met, duration_s);
        s.slo_compliance = fraction(s.slo_met, s.requests_total);
        s.error_rate = fraction(s.requests_failed, s.requests_total);
        s.timeout_rate = fraction(timeouts, s.requests_total);
        s.ttft = LatencyStats::from_histogram(&histograms.ttft);
        s.itl = LatencyStats::from_histogram(&histograms.itl);
        s.tpot = LatencyStats::from_histogram(&histograms.tpot);
        s.e2e = LatencyStats::from_histogram(&histograms.e2e);
        s.lateness = LatencyStats::from_histogram(&histograms.lateness);
        s.queue_time = LatencyStats::from_histogram(&histograms.queue_time);
        s
    }
}

/// The summary of `records` (shorthand for [`Summary::from_records`] without the histograms).
pub fn summarize<R: Borrow<RequestRecord>>(
    records: &[R],
    targets: &SloTargets,
    window: MeasureWindow,
) -> Summary {
    Summary::from_records(records, targets, window).0
}

fn per_second(n: u64, duration_s: f64) -> f64 {
    if duration_s > 0.0 {
        n as f64 / duration_s
    } else {
        0.0
    }
}

fn fraction(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 / total as f64
    }
}

/// Summaries of the groups of a set of records, all divided by the window of the **whole** set
/// (so a group's rates add up to the set's). Keys: priority (`HIGH`, `NORMAL`, `LOW`), model
/// name, request kind (`llm_chat`, `llm_generate`, `embedding`); only groups with records appear.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Breakdowns {
    /// By priority class.
    pub by_priority: BTreeMap<String, Summary>,
    /// By model name.
    pub by_model: BTreeMap<String, Summary>,
    /// By request kind.
    pub by_kind: BTreeMap<String, Summary>,
}

impl Breakdowns {
    /// The breakdowns of `records`; `window` is resolved once over all of them.
    pub fn from_records<R: Borrow<RequestRecord>>(
        records: &[R],
        targets: &SloTargets,
        window: MeasureWindow,
    ) -> Self {
        let window = MeasureWindow::DurationUs(window.duration_us(records));
        Self {
            by_priority: group_summaries(records, targets, window, |r| {
                r.priority.as_str().to_owned()
            }),
            by_model: group_summaries(records, targets, window, |r| r.model.clone()),
            by_kind: group_summaries(records, targets, window, |r| r.kind.as_str().to_owned()),
        }
    }
}

fn group_summaries<R: Borrow<RequestRecord>>(
    records: &[R],
    targets: &SloTargets,
    window: MeasureWindow,
    key: impl Fn(&RequestRecord) -> String,
) -> BTreeMap<String, Summary> {
    let mut groups: BTreeMap<String, Vec<&RequestRecord>> = BTreeMap::new();
    for r in records {
        let r = r.borrow();
        groups.entry(key(r)).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(k, rs)| (k, summarize(&rs, targets, window)))
        .collect()
}

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
    use crate::record::TokenSource;
    use crate::request::{Priority, RequestKind};

    fn rec(id: u64, intended_us: u64, end_us: u64) -> RequestRecord {
        RequestRecord {
            id,
            kind: RequestKind::LlmChat,
            priority: Priority::Normal,
            model: "qwen".into(),
            slo_deadline_ms: 1000,
            intended_us,
            sent_us: intended_us + 100,
            first_token_us: Some(intended_us + 50_000),
            end_us,
            itl_us: vec![10_000; 4],
            outcome: Outcome::Success,
            output_tokens: 5,
            output_tokens_source: TokenSource::Usage,
            chunks: 5,
            input_tokens: Some(20),
            prompt_tokens_est: 18,
            queue_time_ms: Some(1.5),
            backend_instance: None,
            concurrency_wait_us: 0,
        }
    }

    fn failed(id: u64, intended_us: u64, end_us: u64, outcome: Outcome) -> RequestRecord {
        RequestRecord {
            first_token_us: None,
            itl_us: vec![],
            outcome,
            output_tokens: 0,
            output_tokens_source: TokenSource::None,
            chunks: 0,
            input_tokens: None,
            queue_time_ms: None,
            ..rec(id, intended_us, end_us)
        }
    }

    #[test]
    fn empty_set_is_all_zero_and_none() {
        let s =
            summarize::<RequestRecord>(&[], &SloTargets::default(), MeasureWindow::UntilLastEnd);
        assert_eq!(s, Summary::default());
        assert_eq!(s.duration_s, 0.0);
        assert!(s.ttft.is_none() && s.e2e.is_none());
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("NaN") && !json.contains("inf"));
        assert!(
            TimeSeries::from_records::<RequestRecord>(&[], &SloTargets::default())
                .seconds
                .is_empty()
        );
        let b = Breakdowns::from_records::<RequestRecord>(
            &[],
            &SloTargets::default(),
            MeasureWindow::UntilLastEnd,
        );
        assert!(b.by_model.is_empty());
    }

    #[test]
    fn zero_window_gives_zero_rates() {
        let r = rec(0, 0, 0);
        let s = summarize(&[r], &SloTargets::default(), MeasureWindow::UntilLastEnd);
        assert_eq!(s.requests_succeeded, 1);
        assert_eq!(s.request_throughput_rps, 0.0);
        assert_eq!(s.goodput_rps, 0.0);
        assert_eq!(s.slo_compliance, 1.0);
    }

    #[test]
    fn counts_rates_and_throughput() {
        let records = vec![
            rec(0, 0, 500_000),           // meets (500 ms)
            rec(1, 1_000_000, 2_500_000), // misses (1500 ms)
            failed(2, 1_500_000, 2_000_000, Outcome::Timeout),
            failed(
                3,
                1_600_000,
                1_700_000,
                Outcome::Http {
                    status: 503,
                    message: "busy".into(),
                },
            ),
        ];
        let s = summarize(
            &records,
            &SloTargets::default(),
            MeasureWindow::UntilLastEnd,
        );
        assert_eq!(s.requests_total, 4);
        assert_eq!(s.requests_succeeded, 2);
        assert_eq!(s.requests_failed, 2);
        assert_eq!(
            s.errors_by_kind,
            BTreeMap::from([("http_503".to_owned(), 1), ("timeout".to_owned(), 1)])
        );
        assert_eq!(s.duration_s, 2.5);
        assert_eq!(s.request_throughput_rps, 2.0 / 2.5);
        assert_eq!(s.output_tokens_total, 10);
        assert_eq!(s.input_tokens_total, 40);
        assert_eq!(s.input_tokens_estimated, 0);
        assert_eq!(s.output_tokens_per_s, 4.0);
        assert_eq!(s.total_tokens_per_s, 20.0);
        assert_eq!(s.slo_met, 1);
        assert_eq!(s.slo_compliance, 0.25);
        assert_eq!(s.goodput_rps, 0.4);
        assert_eq!(s.error_rate, 0.5);
        assert_eq!(s.timeout_rate, 0.25);
        let e2e = s.e2e.unwrap();
        assert_eq!(e2e.count, 2);
        assert!((e2e.min_ms - 500.0).abs() <= 0.5 && (e2e.max_ms - 1500.0).abs() <= 1.5);
        assert_eq!(s.ttft.unwrap().count, 2);
        // 50,000 µs sits in a 32 µs wide bucket whose highest value is 50,015 µs.
        assert_eq!(s.ttft.unwrap().p50_ms, 50.015);
        // 8 chunk gaps pooled, all 10 ms (exact within 0.1 %).
        let itl = s.itl.unwrap();
        assert_eq!(itl.count, 8);
        assert!((itl.p99_ms - 10.0).abs() <= 0.01);
        // TPOT: (500 - 50) / 4 = 112.5 ms and (1500 - 50) / 4 = 362.5 ms.
        let tpot = s.tpot.unwrap();
        assert_eq!(tpot.count, 2);
        assert!((tpot.min_ms - 112.5).abs() <= 0.12 && (tpot.max_ms - 362.5).abs() <= 0.37);
        // Lateness: all four requests were sent 100 µs late.
        let late = s.lateness.unwrap();
        assert_eq!((late.count, late.max_ms), (4, 0.1));
        // Queue time from the header on successes only.
        assert_eq!(s.queue_time.unwrap().count, 2);
        assert_eq!(s.queue_time.unwrap().p50_ms, 1.5);
    }

    #[test]
    fn explicit_window_and_estimated_input() {
        let mut r = rec(0, 0, 100_000);
        r.input_tokens = None;
        let s = summarize(
            &[r],
            &SloTargets::default(),
            MeasureWindow::DurationUs(2_000_000),
        );
        assert_eq!(s.duration_s, 2.0);
        assert_eq!(s.input_tokens_total, 18);
        assert_eq!(s.input_tokens_estimated, 1);
        assert_eq!(s.request_throughput_rps, 0.5);
    }

    #[test]
    fn cancelled_counts_as_failed_but_not_late() {
        let mut c = failed(0, 0, 10, Outcome::Cancelled);
        c.sent_us = 0;
        let s = summarize(&[c], &SloTargets::default(), MeasureWindow::UntilLastEnd);
        assert_eq!(s.requests_failed, 1);
        assert_eq!(s.errors_by_kind["cancelled"], 1);
        assert!(s.lateness.is_none());
    }

    #[test]
    fn embeddings_have_no_token_latencies() {
        let mut e = rec(0, 0, 30_000);
        e.kind = RequestKind::Embedding;
        e.itl_us.clear();
        e.output_tokens = 0;
        let s = summarize(&[e], &SloTargets::default(), MeasureWindow::UntilLastEnd);
        assert!(s.ttft.is_none() && s.itl.is_none() && s.tpot.is_none());
        assert_eq!(s.e2e.unwrap().p50_ms, 30.015);
    }

    #[test]
    fn breakdowns_share_the_whole_window() {
        let mut a = rec(0, 0, 1_000_000);
        a.priority = Priority::High;
        a.model = "a".into();
        let mut b = rec(1, 0, 4_000_000);
        b.kind = RequestKind::Embedding;
        b.model = "b".into();
        let bd =
            Breakdowns::from_records(&[a, b], &SloTargets::default(), MeasureWindow::UntilLastEnd);
        assert_eq!(
            bd.by_priority.keys().collect::<Vec<_>>(),
            vec!["HIGH", "NORMAL"]
        );
        assert_eq!(
            bd.by_kind.keys().collect::<Vec<_>>(),
            vec!["embedding", "llm_chat"]
        );
        assert_eq!(bd.by_model["a"].duration_s, 4.0);
        assert_eq!(bd.by_model["a"].request_throughput_rps, 0.25);
        assert_eq!(bd.by_model["b"].requests_total, 1);
    }

    #[test]
    fn time_series_buckets_sent_by_intended_and_rest_by_end() {
        let records = vec![
            rec(0, 100_000, 600_000),
            rec(1, 900_000, 2_100_000),
            failed(2, 1_200_000, 3_000_000, Outcome::Timeout),
        ];
        let ts = TimeSeries::from_records(&records, &SloTargets::default());
        let s = &ts.seconds;
        assert_eq!(
            s.iter().map(|b| b.t_s).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(
            s.iter().map(|b| b.sent).collect::<Vec<_>>(),
            vec![2, 1, 0, 0]
        );
        assert_eq!(
            s.iter().map(|b| b.completed).collect::<Vec<_>>(),
            vec![1, 0, 1, 0]
        );
        assert_eq!(
            s.iter().map(|b| b.errors).collect::<Vec<_>>(),
            vec![0, 0, 0, 1]
        );
        assert_eq!(
            s.iter().map(|b| b.slo_met).collect::<Vec<_>>(),
            vec![1, 0, 0, 0]
        );
        assert_eq!(s[0].e2e_p50_ms, Some(500.0));
        assert_eq!(s[2].e2e_p99_ms, Some(1200.0));
        assert_eq!(s[2].ttft_p50_ms, Some(50.0));
        assert_eq!(s[1].e2e_p50_ms, None);
        assert_eq!(s[0].output_tokens, 5);
        assert_eq!(s[3].output_tokens, 0);
    }

    #[test]
    fn nearest_rank_matches_definition() {
        let mut v = vec![5, 1, 4, 2, 3];
        assert_eq!(nearest_rank_ms(&mut v, 50.0), Some(0.003));
        assert_eq!(nearest_rank_ms(&mut v, 99.0), Some(0.005));
        assert_eq!(nearest_rank_ms(&mut v, 0.0), Some(0.001));
        assert_eq!(nearest_rank_ms(&mut [], 50.0), None);
    }

    #[test]
    fn histograms_merge_like_concatenation() {
        let a = vec![rec(0, 0, 500_000), rec(1, 10, 700_000)];
        let b = vec![rec(2, 20, 2_000_000)];
        let mut h = LatencyHistograms::from_records(&a);
        h.merge(&LatencyHistograms::from_records(&b));
        let all: Vec<_> = a.into_iter().chain(b).collect();
        assert_eq!(h, LatencyHistograms::from_records(&all));
    }
}
