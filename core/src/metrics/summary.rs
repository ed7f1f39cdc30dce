//! A set of records to one [`Summary`] (its computation), and to summaries by group
//! ([`Breakdowns`]); both built one record at a time by [`SummaryAccumulator`] and
//! [`BreakdownAccumulator`].

use super::{LatencyHistograms, LatencyStats, MeasureWindow, Summary};
use crate::record::{Outcome, RequestRecord, TokenSource};
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
        let mut acc = SummaryAccumulator::default();
        for r in records {
            let r = r.borrow();
            acc.add(r, meets_slo(r, targets));
        }
        acc.finish(window.duration_us(records))
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

/// The counts and histograms of a [`Summary`], taken one record at a time in any order; the
/// rates are divided by the window's length when it is known ([`finish`](Self::finish)).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct SummaryAccumulator {
    requests_total: u64,
    requests_succeeded: u64,
    requests_failed: u64,
    errors_by_kind: BTreeMap<String, u64>,
    input_tokens_total: u64,
    input_tokens_estimated: u64,
    output_tokens_total: u64,
    output_tokens_estimated: u64,
    slo_met: u64,
    timeouts: u64,
    histograms: LatencyHistograms,
}

impl SummaryAccumulator {
    /// Adds one record; `met` is whether it met its SLO ([`meets_slo`]).
    pub(crate) fn add(&mut self, r: &RequestRecord, met: bool) {
        self.requests_total += 1;
        if met {
            self.slo_met += 1;
        }
        match r.outcome.error_key() {
            None => {
                self.requests_succeeded += 1;
                self.output_tokens_total += u64::from(r.output_tokens);
                self.input_tokens_total += u64::from(r.input_tokens_or_est());
                if r.input_tokens.is_none() {
                    self.input_tokens_estimated += 1;
                }
                if r.output_tokens_source == TokenSource::Estimated {
                    self.output_tokens_estimated += 1;
                }
            }
            Some(key) => {
                self.requests_failed += 1;
                *self.errors_by_kind.entry(key).or_insert(0) += 1;
                if matches!(r.outcome, Outcome::Timeout) {
                    self.timeouts += 1;
                }
            }
        }
        self.histograms.record(r);
    }

    /// Adds the records taken by `other`.
    pub(crate) fn merge(&mut self, other: &SummaryAccumulator) {
        self.requests_total += other.requests_total;
        self.requests_succeeded += other.requests_succeeded;
        self.requests_failed += other.requests_failed;
        for (k, n) in &other.errors_by_kind {
            *self.errors_by_kind.entry(k.clone()).or_insert(0) += n;
        }
        self.input_tokens_total += other.input_tokens_total;
        self.input_tokens_estimated += other.input_tokens_estimated;
        self.output_tokens_total += other.output_tokens_total;
        self.output_tokens_estimated += other.output_tokens_estimated;
        self.slo_met += other.slo_met;
        self.timeouts += other.timeouts;
        self.histograms.merge(&other.histograms);
    }

    /// The summary over a window of `duration_us`, and the histograms.
    pub(crate) fn finish(self, duration_us: u64) -> (Summary, LatencyHistograms) {
        (self.summary(duration_us), self.histograms)
    }

    /// The summary over a window of `duration_us`.
    pub(crate) fn summary(&self, duration_us: u64) -> Summary {
        let duration_s = duration_us as f64 / 1e6;
        let h = &self.histograms;
        Summary {
            requests_total: self.requests_total,
            requests_succeeded: self.requests_succeeded,
            requests_failed: self.requests_failed,
            errors_by_kind: self.errors_by_kind.clone(),
            duration_s,
            request_throughput_rps: per_second(self.requests_succeeded, duration_s),
            input_tokens_total: self.input_tokens_total,
            input_tokens_estimated: self.input_tokens_estimated,
            output_tokens_total: self.output_tokens_total,
            output_tokens_estimated: self.output_tokens_estimated,
            output_tokens_per_s: per_second(self.output_tokens_total, duration_s),
            total_tokens_per_s: per_second(
                self.input_tokens_total + self.output_tokens_total,
                duration_s,
            ),
            ttft: LatencyStats::from_histogram(&h.ttft),
            itl: LatencyStats::from_histogram(&h.itl),
            tpot: LatencyStats::from_histogram(&h.tpot),
            e2e: LatencyStats::from_histogram(&h.e2e),
            lateness: LatencyStats::from_histogram(&h.lateness),
            queue_time: LatencyStats::from_histogram(&h.queue_time),
            slo_met: self.slo_met,
            slo_compliance: fraction(self.slo_met, self.requests_total),
            goodput_rps: per_second(self.slo_met, duration_s),
            error_rate: fraction(self.requests_failed, self.requests_total),
            timeout_rate: fraction(self.timeouts, self.requests_total),
        }
    }
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
        let mut acc = BreakdownAccumulator::default();
        for r in records {
            let r = r.borrow();
            acc.add(r, meets_slo(r, targets));
        }
        acc.finish(window.duration_us(records))
    }
}

/// The groups of [`Breakdowns`], each a [`SummaryAccumulator`], taken one record at a time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub(crate) struct BreakdownAccumulator {
    by_priority: BTreeMap<String, SummaryAccumulator>,
    by_model: BTreeMap<String, SummaryAccumulator>,
    by_kind: BTreeMap<String, SummaryAccumulator>,
}

/// Adds `r` to the group `key` of `groups` (allocating the key only for a new group).
fn add_to(
    groups: &mut BTreeMap<String, SummaryAccumulator>,
    key: &str,
    r: &RequestRecord,
    met: bool,
) {
    match groups.get_mut(key) {
        Some(g) => g.add(r, met),
        None => groups.entry(key.to_owned()).or_default().add(r, met),
    }
}

impl BreakdownAccumulator {
    /// Adds one record; `met` is whether it met its SLO.
    pub(crate) fn add(&mut self, r: &RequestRecord, met: bool) {
        add_to(&mut self.by_priority, r.priority.as_str(), r, met);
        add_to(&mut self.by_model, &r.model, r, met);
        add_to(&mut self.by_kind, r.kind.as_str(), r, met);
    }

    /// Adds the records taken by `other`.
    pub(crate) fn merge(&mut self, other: &BreakdownAccumulator) {
        let merge = |into: &mut BTreeMap<String, SummaryAccumulator>,
                     from: &BTreeMap<String, SummaryAccumulator>| {
            for (k, g) in from {
                into.entry(k.clone()).or_default().merge(g);
            }
        };
        merge(&mut self.by_priority, &other.by_priority);
        merge(&mut self.by_model, &other.by_model);
        merge(&mut self.by_kind, &other.by_kind);
    }

    /// The breakdowns over a window of `duration_us` (the whole set's).
    pub(crate) fn finish(self, duration_us: u64) -> Breakdowns {
        let done = |groups: BTreeMap<String, SummaryAccumulator>| {
            groups
                .into_iter()
                .map(|(k, g)| (k, g.summary(duration_us)))
                .collect()
        };
        Breakdowns {
            by_priority: done(self.by_priority),
            by_model: done(self.by_model),
            by_kind: done(self.by_kind),
        }
    }
}
