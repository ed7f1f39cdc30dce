//! Everything a run reports about its requests, built one record at a time: a
//! [`RunAccumulator`] takes records as they complete, in any order, keeps only aggregates (and
//! a bounded [`RecordSample`]), and gives at the end what computing over all the records at
//! once gives ([`RunAggregates`]).

use super::instances::{InstanceAccumulator, InstanceStats, load_imbalance};
use super::sample::{RecordSample, RecordSampler};
use super::spans::RunSpans;
use super::summary::{BreakdownAccumulator, SummaryAccumulator};
use super::time_series::SeriesAccumulator;
use super::{LatencyHistograms, MeasureWindow, Summary, TimeSeries};
use crate::record::RequestRecord;
use crate::slo::{SloTargets, meets_slo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Builds a run's aggregates from its records, taken one at a time as they complete, in any
/// order:
///
/// ```
/// # use cpbench_core::metrics::{RunAccumulator, MeasureWindow, DEFAULT_SAMPLE_LIMIT};
/// # use cpbench_core::slo::SloTargets;
/// # let records: Vec<cpbench_core::record::RequestRecord> = Vec::new();
/// let mut acc = RunAccumulator::new(&SloTargets::default(), Some(DEFAULT_SAMPLE_LIMIT));
/// for r in records {
///     acc.push(r);
/// }
/// let aggregates = acc.finish(MeasureWindow::UntilLastEnd);
/// ```
///
/// Memory: the histograms (fixed per group: the run, each priority, model, kind and backend
/// instance), one small entry per second of the run (with the E2E and TTFT buckets of the
/// requests that ended in it), and at most the sample's limit of records; not the records.
#[derive(Debug)]
pub struct RunAccumulator {
    state: AccumulatorState,
    sample: Option<RecordSampler>,
}

/// What a [`RunAccumulator`] gives: the sections of a
/// [`PolicyRun`](crate::report::PolicyRun) computed from its records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunAggregates {
    /// The summary of all the records.
    pub summary: Summary,
    /// Their latency histograms.
    pub histograms: LatencyHistograms,
    /// Summaries by priority class, same window.
    pub by_priority: BTreeMap<String, Summary>,
    /// Summaries by model, same window.
    pub by_model: BTreeMap<String, Summary>,
    /// Summaries by request kind, same window.
    pub by_kind: BTreeMap<String, Summary>,
    /// The per-second series.
    pub time_series: TimeSeries,
    /// What each backend instance got.
    pub by_instance: BTreeMap<String, InstanceStats>,
    /// [`load_imbalance`] of `by_instance`.
    pub load_imbalance: Option<f64>,
    /// When requests were due, sent and answered.
    pub spans: RunSpans,
    /// The sample of records kept; `None` when none were asked for.
    pub records_sample: Option<RecordSample>,
}

/// The mergeable state of a [`RunAccumulator`] without its sample (see
/// [`RunAccumulator::state`]): counts and histograms of the run, of each breakdown group, of
/// each second and of each backend instance. Opaque: read it back with
/// [`RunAccumulator::from_state`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AccumulatorState {
    targets: SloTargets,
    all: SummaryAccumulator,
    groups: BreakdownAccumulator,
    series: SeriesAccumulator,
    instances: InstanceAccumulator,
    spans: RunSpans,
    last_end_us: u64,
}

impl AccumulatorState {
    /// Adds one record to every aggregate.
    fn add(&mut self, r: &RequestRecord) {
        let met = meets_slo(r, &self.targets);
        self.all.add(r, met);
        self.groups.add(r, met);
        self.series.add(r, met);
        self.instances.add(r);
        self.spans.add(r);
        self.last_end_us = self.last_end_us.max(r.end_us);
    }

    /// Adds the aggregates of `other` (judging SLOs by the same targets).
    fn merge(&mut self, other: &AccumulatorState) {
        debug_assert!(
            self.targets == other.targets,
            "merged runs judge SLOs alike"
        );
        self.all.merge(&other.all);
        self.groups.merge(&other.groups);
        self.series.merge(&other.series);
        self.instances.merge(&other.instances);
        self.spans.merge(&other.spans);
        self.last_end_us = self.last_end_us.max(other.last_end_us);
    }
}

impl RunAccumulator {
    /// An empty accumulator judging SLOs by `targets`, keeping a sample of at most
    /// `sample_limit` records (`None`: no sample).
    pub fn new(targets: &SloTargets, sample_limit: Option<usize>) -> Self {
        Self {
            state: AccumulatorState {
                targets: targets.clone(),
                all: SummaryAccumulator::default(),
                groups: BreakdownAccumulator::default(),
                series: SeriesAccumulator::default(),
                instances: InstanceAccumulator::default(),
                spans: RunSpans::default(),
                last_end_us: 0,
            },
            sample: sample_limit.map(RecordSampler::new),
        }
    }

    /// Adds one record, taking it (the sample may keep it without a copy).
    pub fn push(&mut self, record: RequestRecord) {
        self.state.add(&record);
        if let Some(s) = &mut self.sample {
            s.offer(record);
        }
    }

    /// Adds one record by reference (copied only when the sample keeps it).
    pub fn add(&mut self, record: &RequestRecord) {
        self.state.add(record);
        if let Some(s) = &mut self.sample {
            s.offer_ref(record);
        }
    }

    /// Adds the records taken by `other`, as if they had been added to this one: the
    /// aggregates of several accumulators (one per sending thread, say) merged in any order
    /// equal those of one accumulator that took every record. Both must judge SLOs by the same
    /// targets. The sample keeps the smaller of the two limits, and is dropped when either
    /// has none (it would not be a sample of every record).
    pub fn merge(&mut self, other: RunAccumulator) {
        self.state.merge(&other.state);
        self.sample = match (self.sample.take(), other.sample) {
            (Some(mut a), Some(b)) => {
                a.merge(b);
                Some(a)
            }
            _ => None,
        };
    }

    /// Everything but the sample, to be written beside a run's result and merged later
    /// ([`RunAccumulator::from_state`]): how a shard's runs are combined with the other
    /// shards' as if one process had taken every record.
    pub fn state(&self) -> AccumulatorState {
        self.state.clone()
    }

    /// The accumulator whose [`state`](Self::state) was `state`, with `sample` (the run's
    /// `records_sample`) as its sample: `None` keeps no sample.
    pub fn from_state(state: AccumulatorState, sample: Option<&RecordSample>) -> Self {
        let sample = sample.map(|s| {
            let mut sampler = RecordSampler::new(usize::try_from(s.limit).unwrap_or(usize::MAX));
            sampler.restore(s);
            sampler
        });
        Self { state, sample }
    }

    /// Records added so far.
    pub fn len(&self) -> u64 {
        self.state.spans.intended.count
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The aggregates, with rates over `window` (for [`MeasureWindow::UntilLastEnd`], from 0
    /// to the latest end among the records added).
    pub fn finish(self, window: MeasureWindow) -> RunAggregates {
        let s = self.state;
        let duration_us = match window {
            MeasureWindow::UntilLastEnd => s.last_end_us,
            MeasureWindow::DurationUs(us) => us,
        };
        let (summary, histograms) = s.all.finish(duration_us);
        let groups = s.groups.finish(duration_us);
        // One bucket width for the series and the instances' lists (the instances' buckets,
        // by intended send time, are never wider than the series', which also counts ends).
        let mut series = s.series;
        series.widen_to(s.instances.bucket_s());
        let by_instance = s.instances.finish(series.len(), series.bucket_s());
        RunAggregates {
            summary,
            histograms,
            by_priority: groups.by_priority,
            by_model: groups.by_model,
            by_kind: groups.by_kind,
            time_series: series.finish(),
            load_imbalance: load_imbalance(&by_instance),
            by_instance,
            spans: s.spans,
            records_sample: self.sample.map(RecordSampler::finish),
        }
    }
}
