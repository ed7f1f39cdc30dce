//! A set of records to one [`Summary`] (its computation), and to summaries by group
//! ([`Breakdowns`]).

use super::{LatencyHistograms, LatencyStats, MeasureWindow, Summary};
use crate::record::{Outcome, RequestRecord};
use crate::slo::{SloTargets, meets_slo};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::BTreeMap;

impl Summary {
    /// The summary of `records` and their histograms (see the [module docs](crate::metrics)).
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
