//! One measured run of a report: which policy, how it was put in place, and everything
//! computed from its records.

use super::gpu::{GpuSample, GpuSummary};
use super::imported::ReportedMetrics;
use super::telemetry::{ControlPlaneSection, SeriesPoint, TelemetrySource};
use crate::metrics::{
    DEFAULT_SAMPLE_LIMIT, InstanceStats, LatencyHistograms, MeasureWindow, RecordSample,
    RunAccumulator, RunAggregates, RunSpans, Summary, TimeSeries,
};
use crate::record::RequestRecord;
use crate::slo::SloTargets;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the run's policy was put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicySwitch {
    /// Set through `POST /admin/set_policy` and confirmed by the control plane.
    Verified,
    /// The control plane was started with this policy (the embedded one, or a launched command).
    Launched,
    /// The policy could not be switched: the numbers are for whatever policy the control plane
    /// ran, labelled with the one requested.
    NotSwitched,
    /// Virtual-time simulation: the policy ran inside the simulated cluster.
    Simulated,
}

/// The parameters that distinguish one run from the others of the same report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// The target request rate of this run, requests per second (sweeps and experiments).
    pub request_rate_rps: Option<f64>,
    /// Fraction of LLM requests in this run's workload, 0 to 1 (hybrid workloads).
    pub llm_ratio: Option<f64>,
    /// A label for charts and tables (for instance `fifo @ 50 rps`).
    pub label: Option<String>,
    /// The trial this run belongs to (1-based) when the runs were repeated (`--trials`);
    /// `None` for a single trial.
    #[serde(default)]
    pub trial: Option<u32>,
}

impl RunParams {
    /// The parameters without the trial: what the runs of one variant share across trials.
    pub fn variant(&self) -> RunParams {
        RunParams {
            trial: None,
            ..self.clone()
        }
    }
}

/// A control plane started for one run (`--launch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LaunchRecord {
    /// The command run, its secrets redacted (values of options and variables named like a
    /// key, token, secret or password, and the API key).
    pub command: String,
    /// The URL measured.
    pub url: String,
    /// Where its output was logged.
    pub log_path: String,
}

/// One measured run: one policy on one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyRun {
    /// The scheduling policy's name (`fifo`, `slo_aware`, ...).
    pub policy: String,
    /// How the policy was put in place.
    pub policy_switch: PolicySwitch,
    /// What distinguishes this run from the report's others.
    pub params: RunParams,
    /// When the measured part of the run started, RFC 3339 (given by the runner).
    pub started_at: Option<String>,
    /// Whether this run was interrupted before every request finished.
    pub partial: bool,
    /// The summary of all the run's requests.
    pub summary: Summary,
    /// Summaries by priority class (`HIGH`, `NORMAL`, `LOW`), same window as `summary`.
    pub by_priority: BTreeMap<String, Summary>,
    /// Summaries by model name, same window as `summary`.
    pub by_model: BTreeMap<String, Summary>,
    /// Summaries by request kind (`llm_chat`, `llm_generate`, `embedding`), same window.
    pub by_kind: BTreeMap<String, Summary>,
    /// What each backend instance got, by the `X-Backend-Instance` header of the responses
    /// (requests without it are in no instance); empty when no response named one.
    #[serde(default)]
    pub by_instance: BTreeMap<String, InstanceStats>,
    /// The most requests an instance got over the mean of the instances in `by_instance`
    /// (1 is even); `None` without instances.
    #[serde(default)]
    pub load_imbalance: Option<f64>,
    /// Latency histograms (µs) of all the run's requests, for CDFs and merging.
    pub histograms: LatencyHistograms,
    /// Per-second series of the run.
    pub time_series: TimeSeries,
    /// When the requests were due, sent and answered (first, last, how many), for offered
    /// and achieved rates.
    #[serde(default)]
    pub spans: RunSpans,
    /// A bounded sample of the requests' records for per-request views (all of them when the
    /// run has at most `limit`); `None` when not kept (`--no-records`). Files that kept every
    /// record (`records`) are read as a complete sample.
    pub records_sample: Option<RecordSample>,
    /// The control plane's own metrics around and during the run.
    pub control_plane: ControlPlaneSection,
    /// GPU samples taken during the run (`t_s` from the run's start); empty unless
    /// `Report::gpu.status` is `sampled`.
    pub gpu_samples: Vec<GpuSample>,
    /// Per GPU, min/avg/max of `gpu_samples` ([`GpuSummary::from_samples`]), sorted by
    /// index; empty when there are no samples.
    #[serde(default)]
    pub gpu_summary: Vec<GpuSummary>,
    /// Numeric time series observed during the run, by name, each in ascending `t_s`:
    /// `cp/<path>` for the numbers of the control plane's `/admin/metrics` (object keys joined
    /// with `.`, array elements named by their `id` field when every element has a distinct
    /// one, else by index: `cp/queues.llm`, `cp/instances.llm-0.running`), and
    /// `<source>/<metric>{<labels>}` for Prometheus endpoints scraped with `--scrape`
    /// (`<source>` is the endpoint's `host:port`, labels sorted by name:
    /// `10.0.0.5:8000/vllm:num_requests_running{model_name="m"}`). Values are as read: counters
    /// stay cumulative. NaN and infinite values are left out (JSON cannot carry them).
    #[serde(default)]
    pub series: BTreeMap<String, Vec<SeriesPoint>>,
    /// The telemetry endpoints polled during the run and how polling went.
    #[serde(default)]
    pub telemetry_sources: Vec<TelemetrySource>,
    /// Things that may have made the numbers wrong or incomplete (each with its fix where
    /// there is one).
    pub warnings: Vec<String>,
    /// How the run was made, for the record (how the policy was set and confirmed, how the
    /// control plane was reset, an endpoint that does not exist): nothing wrong.
    #[serde(default)]
    pub notes: Vec<String>,
    /// With `--launch`: the control plane started for this run.
    #[serde(default)]
    pub launch: Option<LaunchRecord>,
    /// For a run imported from another tool's file: the numbers that file carries, `None`
    /// where it does not; readers take the run's numbers from here (its `summary` then holds
    /// zeros for what the file lacks). Absent from the files this tool writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<ReportedMetrics>,
}

impl PolicyRun {
    /// A run computed from its records: summary, breakdowns, histograms, time series and
    /// per-instance statistics, with the window from 0 to the last request's end
    /// ([`MeasureWindow::UntilLastEnd`]). A sample of the records
    /// ([`DEFAULT_SAMPLE_LIMIT`], sorted by id) is kept when `keep_records` is true. Other
    /// sections start empty.
    pub fn from_records(
        policy: impl Into<String>,
        policy_switch: PolicySwitch,
        params: RunParams,
        records: Vec<RequestRecord>,
        targets: &SloTargets,
        keep_records: bool,
    ) -> PolicyRun {
        Self::from_records_in_window(
            policy,
            policy_switch,
            params,
            records,
            targets,
            keep_records,
            MeasureWindow::UntilLastEnd,
        )
    }

    /// [`from_records`](Self::from_records) with an explicit measurement window: the records
    /// fed one by one to a [`RunAccumulator`].
    pub fn from_records_in_window(
        policy: impl Into<String>,
        policy_switch: PolicySwitch,
        params: RunParams,
        records: Vec<RequestRecord>,
        targets: &SloTargets,
        keep_records: bool,
        window: MeasureWindow,
    ) -> PolicyRun {
        let mut acc = RunAccumulator::new(targets, keep_records.then_some(DEFAULT_SAMPLE_LIMIT));
        for r in records {
            acc.push(r);
        }
        Self::from_aggregates(policy, policy_switch, params, acc.finish(window))
    }

    /// A run of these aggregates (from [`RunAccumulator::finish`]). Other sections start
    /// empty.
    pub fn from_aggregates(
        policy: impl Into<String>,
        policy_switch: PolicySwitch,
        params: RunParams,
        aggregates: RunAggregates,
    ) -> PolicyRun {
        let RunAggregates {
            summary,
            histograms,
            by_priority,
            by_model,
            by_kind,
            time_series,
            by_instance,
            load_imbalance,
            spans,
            records_sample,
        } = aggregates;
        PolicyRun {
            policy: policy.into(),
            policy_switch,
            params,
            started_at: None,
            partial: false,
            summary,
            by_priority,
            by_model,
            by_kind,
            by_instance,
            load_imbalance,
            histograms,
            time_series,
            spans,
            records_sample,
            control_plane: ControlPlaneSection::default(),
            gpu_samples: Vec::new(),
            gpu_summary: Vec::new(),
            series: BTreeMap::new(),
            telemetry_sources: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
            launch: None,
            reported: None,
        }
    }

    /// The records kept in the sample, sorted by id; empty when none were kept. All the
    /// run's records only when [`RecordSample::is_complete`].
    pub fn sampled_records(&self) -> &[RequestRecord] {
        self.records_sample
            .as_ref()
            .map_or(&[], |s| s.records.as_slice())
    }

    /// For a run read from a file that kept every record but not the aggregates added since
    /// (`spans`, `by_instance`): computes them from those records. Nothing otherwise.
    pub(crate) fn fill_from_complete_records(&mut self) {
        let Some(sample) = self.records_sample.as_ref().filter(|s| s.is_complete()) else {
            return;
        };
        if !self.spans.is_empty() || !self.by_instance.is_empty() {
            return;
        }
        let mut acc = RunAccumulator::new(&SloTargets::default(), None);
        for r in &sample.records {
            acc.add(r);
        }
        let a = acc.finish(MeasureWindow::UntilLastEnd);
        self.spans = a.spans;
        self.by_instance = a.by_instance;
        self.load_imbalance = a.load_imbalance;
    }
}
