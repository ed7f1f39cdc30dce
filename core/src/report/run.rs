//! One measured run of a report: which policy, how it was put in place, and everything
//! computed from its records.

use super::gpu::{GpuSample, GpuSummary};
use super::imported::ReportedMetrics;
use super::telemetry::{ControlPlaneSection, SeriesPoint, TelemetrySource};
use crate::metrics::{Breakdowns, LatencyHistograms, MeasureWindow, Summary, TimeSeries};
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
    /// Latency histograms (µs) of all the run's requests, for CDFs and merging.
    pub histograms: LatencyHistograms,
    /// Per-second series of the run.
    pub time_series: TimeSeries,
    /// Every request's record, sorted by id; `None` when not kept.
    pub records: Option<Vec<RequestRecord>>,
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
    /// A run computed from its records: summary, breakdowns, histograms and time series, with
    /// the window from 0 to the last request's end ([`MeasureWindow::UntilLastEnd`]). The
    /// records are kept (sorted by id) when `keep_records` is true. Other sections start empty.
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

    /// [`from_records`](Self::from_records) with an explicit measurement window.
    pub fn from_records_in_window(
        policy: impl Into<String>,
        policy_switch: PolicySwitch,
        params: RunParams,
        mut records: Vec<RequestRecord>,
        targets: &SloTargets,
        keep_records: bool,
        window: MeasureWindow,
    ) -> PolicyRun {
        records.sort_by_key(|r| (r.id, r.intended_us));
        let window = MeasureWindow::DurationUs(window.duration_us(&records));
        let (summary, histograms) = Summary::from_records(&records, targets, window);
        let Breakdowns {
            by_priority,
            by_model,
            by_kind,
        } = Breakdowns::from_records(&records, targets, window);
        let time_series = TimeSeries::from_records(&records, targets);
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
            histograms,
            time_series,
            records: keep_records.then_some(records),
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
}
