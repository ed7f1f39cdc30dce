//! The result file: one versioned [`Report`] per invocation, written by the runner and read by
//! the browser viewer.
//!
//! The JSON written by [`Report::to_json_pretty`] is byte-stable for a given report: struct
//! fields keep their declared order and every map is a `BTreeMap`. Its JSON Schema (feature
//! `schema`) is checked in at `schema/report.schema.json`. A file whose `schema_version` is not
//! [`SCHEMA_VERSION`] is refused by [`Report::from_json`] with the version it found; any change
//! to the shape of these types bumps [`SCHEMA_VERSION`] (unknown fields are refused, so an old
//! reader never silently drops data).
//!
//! Units are in field names: `*_us` microseconds, `*_ms` milliseconds, `*_s` seconds,
//! `*_rps` requests per second, `*_pct` percent (0 to 100), `*_mib` mebibytes, `*_w` watts.

use crate::metrics::{Breakdowns, LatencyHistograms, MeasureWindow, Summary, TimeSeries};
use crate::record::RequestRecord;
use crate::slo::SloTargets;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use thiserror::Error;

/// The version of the result file's shape this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// One invocation's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The shape's version (`SCHEMA_VERSION` of the writing tool); a reader refuses any
    /// version but its own.
    pub schema_version: u32,
    /// The tool that wrote the file.
    pub tool: ToolInfo,
    /// When the invocation started, RFC 3339 (given by the runner; the core reads no clock).
    pub created_at: String,
    /// What kind of invocation this was.
    pub kind: ReportKind,
    /// Whether the numbers come from the virtual-time simulation rather than HTTP requests.
    pub simulated: bool,
    /// Whether the invocation was interrupted: some runs are missing or incomplete.
    pub partial: bool,
    /// The resolved BenchmarkConfig, as the config module serializes it.
    pub config: Value,
    /// The seed every random stream of the workload came from.
    pub seed: u64,
    /// Hash of the generated workload (the same workload gives the same hash on every platform).
    pub workload_hash: String,
    /// Requests in the workload of one run.
    pub workload_requests: u64,
    /// Where and against what it ran.
    pub environment: Environment,
    /// One entry per measured run (policy, rate, ratio), in the order they ran.
    pub runs: Vec<PolicyRun>,
    /// The summary block of a predefined experiment; `None` for other kinds.
    pub experiment: Option<Value>,
    /// Things the reader should know (each with its fix where there is one).
    pub warnings: Vec<String>,
    /// GPU monitoring status and devices; the samples are in each run.
    pub gpu: GpuSection,
}

/// The tool that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    /// The tool's name ([`crate::TOOL_NAME`]).
    pub name: String,
    /// The tool's version ([`crate::TOOL_VERSION`]).
    pub version: String,
}

impl Default for ToolInfo {
    fn default() -> Self {
        Self {
            name: crate::TOOL_NAME.to_owned(),
            version: crate::TOOL_VERSION.to_owned(),
        }
    }
}

/// What kind of invocation wrote a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// One policy, one workload.
    Run,
    /// Several policies on the identical workload.
    Compare,
    /// One policy at several request rates.
    Sweep,
    /// A predefined experiment (`throughput`, `latency`, `slo`, `mixed_ratio`).
    Experiment,
    /// The virtual-time simulation of the reference control plane, without HTTP.
    Simulation,
}

/// Where and against what a report's runs were made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The control plane's base URL; `None` for simulations.
    pub control_plane_url: Option<String>,
    /// Whether the control plane was the reference one embedded in the tool.
    pub embedded_control_plane: bool,
    /// Host name of the machine that ran the benchmark, when known.
    pub hostname: Option<String>,
    /// Operating system of that machine, when known.
    pub os: Option<String>,
    /// Logical CPUs of that machine, when known.
    pub cpu_count: Option<u32>,
    /// Free-form notes (for instance the runner's timer resolution).
    pub notes: Vec<String>,
}

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
    /// Things the reader should know about this run.
    pub warnings: Vec<String>,
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
        }
    }
}

/// The control plane's `/admin/metrics` around and during a run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneSection {
    /// Snapshot taken before the measured requests; `None` when unavailable.
    pub before: Option<Value>,
    /// Snapshot taken after the last request finished; `None` when unavailable.
    pub after: Option<Value>,
    /// Snapshots taken during the run, ascending `t_s`.
    pub samples: Vec<TimedValue>,
}

/// One point of a numeric series ([`PolicyRun::series`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SeriesPoint {
    /// Seconds from the run's start (the midpoint between sending the poll and receiving its
    /// answer).
    pub t_s: f64,
    /// The value read (finite).
    pub value: f64,
}

/// What kind of endpoint a telemetry source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TelemetryKind {
    /// The control plane's `GET /admin/metrics` (JSON); samples in
    /// `control_plane.samples`, numbers in `series` under `cp/`.
    AdminMetrics,
    /// A Prometheus text exposition (`--scrape URL`); numbers in `series` under the source's
    /// prefix.
    Prometheus,
}

/// One telemetry endpoint polled during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TelemetrySource {
    /// The prefix of this source's names in `series` (`cp`, or `host:port`).
    pub prefix: String,
    /// What kind of endpoint it is.
    pub kind: TelemetryKind,
    /// The URL polled (without user name or password).
    pub url: String,
    /// Time between polls, seconds.
    pub interval_s: f64,
    /// Polls answered with a usable body.
    pub polls_ok: u64,
    /// Polls that failed (connection error, timeout, error status, body not JSON).
    pub polls_failed: u64,
    /// Whether the endpoint does not exist (it answered 404 or 405); polling stopped then.
    pub missing: bool,
    /// Lines of a Prometheus exposition that could not be parsed and were skipped, over all
    /// polls.
    pub lines_skipped: u64,
    /// Series not recorded because the source exceeded the limit on series per source.
    pub series_dropped: u64,
    /// The first failure or parse error, when there was one.
    pub first_error: Option<String>,
}

/// A value observed at a time of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimedValue {
    /// Seconds from the run's start.
    pub t_s: f64,
    /// What was observed.
    pub value: Value,
}

/// Whether GPUs were monitored. Serialized with a `state` tag:
/// `{"state": "unavailable", "reason": "..."}`, `{"state": "not_requested"}`,
/// `{"state": "sampled"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum GpuStatus {
    /// Monitoring was asked for but could not start (for instance NVML missing); no GPU numbers
    /// are recorded.
    Unavailable {
        /// Why, as the monitoring library said it.
        reason: String,
    },
    /// Monitoring was not asked for.
    NotRequested,
    /// GPUs were sampled; the samples are in each run.
    Sampled,
}

/// GPU monitoring of an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuSection {
    /// Whether GPUs were monitored.
    pub status: GpuStatus,
    /// The devices seen; empty unless `status` is `sampled`.
    pub devices: Vec<GpuDevice>,
    /// Time between samples, ms; `None` unless `status` is `sampled`.
    pub sample_interval_ms: Option<u64>,
    /// NVML calls that failed while sampling, over all runs (each failure left its fields
    /// `None` in a sample); 0 unless `status` is `sampled`.
    #[serde(default)]
    pub read_errors: u64,
}

impl GpuSection {
    /// Monitoring not asked for.
    pub fn not_requested() -> Self {
        Self {
            status: GpuStatus::NotRequested,
            devices: Vec::new(),
            sample_interval_ms: None,
            read_errors: 0,
        }
    }

    /// Monitoring asked for but unavailable, with the reason; holds no devices and no numbers.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            status: GpuStatus::Unavailable {
                reason: reason.into(),
            },
            devices: Vec::new(),
            sample_interval_ms: None,
            read_errors: 0,
        }
    }
}

/// One GPU device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuDevice {
    /// The device's index as the driver numbers it.
    pub index: u32,
    /// The device's product name.
    pub name: String,
    /// The device's UUID.
    pub uuid: String,
}

/// One reading of one GPU. A metric the driver did not report is `None`, never 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuSample {
    /// Seconds from the run's start.
    pub t_s: f64,
    /// The device's index (see `GpuSection::devices`).
    pub index: u32,
    /// Compute utilization, percent.
    pub utilization_pct: Option<f64>,
    /// Memory used, MiB.
    pub memory_used_mib: Option<f64>,
    /// Total memory, MiB.
    pub memory_total_mib: Option<f64>,
    /// Power draw, watts.
    pub power_w: Option<f64>,
    /// GPU temperature, degrees Celsius.
    #[serde(default)]
    pub temperature_c: Option<f64>,
    /// Streaming-multiprocessor clock, MHz.
    #[serde(default)]
    pub sm_clock_mhz: Option<f64>,
    /// Driver calls that failed for this reading (their fields are `None`).
    #[serde(default)]
    pub read_errors: u32,
}

/// Minimum, mean and maximum of the readings of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MinAvgMax {
    /// Readings (samples where the metric was not `None`).
    pub count: u64,
    /// The smallest reading.
    pub min: f64,
    /// The arithmetic mean of the readings.
    pub avg: f64,
    /// The largest reading.
    pub max: f64,
}

impl MinAvgMax {
    /// The statistics of the values that are `Some`; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<MinAvgMax> {
        let mut count = 0u64;
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for v in values.into_iter().flatten() {
            count += 1;
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        (count > 0).then(|| MinAvgMax {
            count,
            min,
            avg: sum / count as f64,
            max,
        })
    }
}

/// One GPU over one run: statistics of each metric of its samples. A metric never read is
/// `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuSummary {
    /// The device's index (see `GpuSection::devices`).
    pub index: u32,
    /// Samples taken of this device.
    pub samples: u64,
    /// Driver calls that failed over these samples.
    pub read_errors: u64,
    /// Compute utilization, percent.
    pub utilization_pct: Option<MinAvgMax>,
    /// Memory used, MiB.
    pub memory_used_mib: Option<MinAvgMax>,
    /// Total memory, MiB.
    pub memory_total_mib: Option<MinAvgMax>,
    /// Power draw, watts.
    pub power_w: Option<MinAvgMax>,
    /// Temperature, degrees Celsius.
    pub temperature_c: Option<MinAvgMax>,
    /// Streaming-multiprocessor clock, MHz.
    pub sm_clock_mhz: Option<MinAvgMax>,
}

impl GpuSummary {
    /// One summary per device index found in `samples`, sorted by index.
    pub fn from_samples(samples: &[GpuSample]) -> Vec<GpuSummary> {
        let mut by_index: BTreeMap<u32, Vec<&GpuSample>> = BTreeMap::new();
        for s in samples {
            by_index.entry(s.index).or_default().push(s);
        }
        by_index
            .into_iter()
            .map(|(index, s)| {
                let stat = |f: fn(&GpuSample) -> Option<f64>| MinAvgMax::of(s.iter().map(|x| f(x)));
                GpuSummary {
                    index,
                    samples: s.len() as u64,
                    read_errors: s.iter().map(|x| u64::from(x.read_errors)).sum(),
                    utilization_pct: stat(|x| x.utilization_pct),
                    memory_used_mib: stat(|x| x.memory_used_mib),
                    memory_total_mib: stat(|x| x.memory_total_mib),
                    power_w: stat(|x| x.power_w),
                    temperature_c: stat(|x| x.temperature_c),
                    sm_clock_mhz: stat(|x| x.sm_clock_mhz),
                }
            })
            .collect()
    }
}

/// A result file that cannot be read.
#[derive(Debug, Error)]
pub enum ReportError {
    /// Not JSON, or JSON of another shape.
    #[error("result file is not a valid sage-cp-bench report: {0}")]
    Json(#[from] serde_json::Error),
    /// No `schema_version` field.
    #[error(
        "result file has no schema_version field; accepted: schema_version {SCHEMA_VERSION} (a report written by {} {})",
        crate::TOOL_NAME,
        crate::TOOL_VERSION
    )]
    MissingVersion,
    /// A `schema_version` that is not a non-negative integer.
    #[error("result file has schema_version {found}; accepted: the integer {SCHEMA_VERSION}")]
    InvalidVersion {
        /// The value found, as JSON.
        found: String,
    },
    /// A `schema_version` this build does not read.
    #[error(
        "result file has schema_version {found}{}; this build ({} {}) reads schema_version {SCHEMA_VERSION} only: open it with the tool version that wrote it",
        written_by.as_deref().map(|w| format!(" (written by {w})")).unwrap_or_default(),
        crate::TOOL_NAME,
        crate::TOOL_VERSION
    )]
    UnsupportedVersion {
        /// The version found.
        found: u64,
        /// `tool.name tool.version` from the file, when it has them.
        written_by: Option<String>,
    },
}

impl Report {
    /// A report with no runs yet: current schema version and tool, not simulated, not partial,
    /// default environment, no warnings, GPU monitoring not requested.
    pub fn new(
        kind: ReportKind,
        created_at: impl Into<String>,
        config: Value,
        seed: u64,
        workload_hash: impl Into<String>,
        workload_requests: u64,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::default(),
            created_at: created_at.into(),
            kind,
            simulated: kind == ReportKind::Simulation,
            partial: false,
            config,
            seed,
            workload_hash: workload_hash.into(),
            workload_requests,
            environment: Environment::default(),
            runs: Vec::new(),
            experiment: None,
            warnings: Vec::new(),
            gpu: GpuSection::not_requested(),
        }
    }

    /// Reads a result file, refusing any `schema_version` other than [`SCHEMA_VERSION`] (the
    /// error says which version it found and which tool wrote the file).
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        #[derive(Deserialize)]
        struct Probe {
            schema_version: Option<Value>,
            tool: Option<Value>,
        }
        let probe: Probe = serde_json::from_str(text)?;
        let Some(version) = probe.schema_version else {
            return Err(ReportError::MissingVersion);
        };
        match version.as_u64() {
            Some(v) if v == u64::from(SCHEMA_VERSION) => Ok(serde_json::from_str(text)?),
            Some(found) => {
                let field = |name: &str| {
                    probe
                        .tool
                        .as_ref()
                        .and_then(|t| t.get(name))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let written_by = match (field("name"), field("version")) {
                    (Some(n), Some(v)) => Some(format!("{n} {v}")),
                    (None, Some(v)) => Some(v),
                    (Some(n), None) => Some(n),
                    (None, None) => None,
                };
                Err(ReportError::UnsupportedVersion { found, written_by })
            }
            None => Err(ReportError::InvalidVersion {
                found: version.to_string(),
            }),
        }
    }

    /// The JSON Schema (draft 2020-12) of the result file, pretty-printed with a trailing
    /// newline: the text checked in at `schema/report.schema.json`.
    #[cfg(feature = "schema")]
    pub fn json_schema_pretty() -> String {
        let schema = schemars::schema_for!(Report);
        let mut text =
            serde_json::to_string_pretty(&schema).expect("a JSON Schema always serializes");
        text.push('\n');
        text
    }

    /// The report as pretty-printed JSON (two-space indent, no trailing newline); byte-stable
    /// for a given report.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a Report always serializes: map keys are strings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Outcome, TokenSource};
    use crate::request::{Priority, RequestKind};

    fn record(id: u64) -> RequestRecord {
        let intended_us = id * 100_000;
        let ok = id % 7 != 3;
        RequestRecord {
            id,
            kind: if id.is_multiple_of(4) {
                RequestKind::Embedding
            } else {
                RequestKind::LlmChat
            },
            priority: Priority::ALL[(id % 3) as usize],
            model: if id.is_multiple_of(4) {
                "bge-m3"
            } else {
                "qwen"
            }
            .into(),
            slo_deadline_ms: 1000,
            intended_us,
            sent_us: intended_us + 200 + id,
            first_token_us: ok.then_some(intended_us + 40_000 + id * 97),
            end_us: intended_us + 300_000 + id * 1_234,
            itl_us: if ok {
                vec![9_000 + id as u32; 3]
            } else {
                vec![]
            },
            outcome: if ok {
                Outcome::Success
            } else {
                Outcome::Http {
                    status: 503,
                    message: "overloaded".into(),
                }
            },
            output_tokens: if ok { 4 } else { 0 },
            output_tokens_source: if ok {
                TokenSource::Usage
            } else {
                TokenSource::None
            },
            chunks: if ok { 4 } else { 0 },
            input_tokens: ok.then_some(30),
            prompt_tokens_est: 28,
            queue_time_ms: ok.then_some(2.25),
            backend_instance: Some("llm-0".into()),
            concurrency_wait_us: 0,
        }
    }

    fn sample_report() -> Report {
        let mut report = Report::new(
            ReportKind::Compare,
            "2026-01-02T03:04:05Z",
            serde_json::json!({"policies": ["fifo", "priority"], "requests": 40}),
            42,
            "sha256:abc",
            40,
        );
        report.environment.control_plane_url = Some("http://127.0.0.1:8889".into());
        report.environment.embedded_control_plane = true;
        for policy in ["fifo", "priority"] {
            let records: Vec<_> = (0..40).rev().map(record).collect();
            let mut run = PolicyRun::from_records(
                policy,
                PolicySwitch::Verified,
                RunParams {
                    request_rate_rps: Some(10.0),
                    llm_ratio: Some(0.75),
                    label: Some(format!("{policy} @ 10 rps")),
                },
                records,
                &SloTargets::default(),
                true,
            );
            run.control_plane.before = Some(serde_json::json!({"policy": policy}));
            run.control_plane.samples.push(TimedValue {
                t_s: 1.5,
                value: serde_json::json!({"queue": 3}),
            });
            run.series.insert(
                "cp/queue".into(),
                vec![SeriesPoint {
                    t_s: 1.5,
                    value: 3.0,
                }],
            );
            run.telemetry_sources.push(TelemetrySource {
                prefix: "cp".into(),
                kind: TelemetryKind::AdminMetrics,
                url: "http://127.0.0.1:8889/admin/metrics".into(),
                interval_s: 1.0,
                polls_ok: 1,
                polls_failed: 0,
                missing: false,
                lines_skipped: 0,
                series_dropped: 0,
                first_error: None,
            });
            report.runs.push(run);
        }
        report.gpu = GpuSection::unavailable("NVML library not found");
        report
            .warnings
            .push("sent late: raise --max-concurrency".into());
        report
    }

    #[test]
    fn round_trips_equal_and_byte_stable() {
        let report = sample_report();
        let json = report.to_json_pretty();
        let back = Report::from_json(&json).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.to_json_pretty(), json);
        assert_eq!(sample_report().to_json_pretty(), json);
    }

    #[test]
    fn from_records_computes_every_section() {
        let run = &sample_report().runs[0];
        assert_eq!(run.summary.requests_total, 40);
        // ids 3, 10, 17, 24, 31, 38 fail.
        assert_eq!(run.summary.requests_failed, 6);
        assert_eq!(run.summary.errors_by_kind["http_503"], 6);
        assert_eq!(
            run.by_kind.keys().collect::<Vec<_>>(),
            vec!["embedding", "llm_chat"]
        );
        assert_eq!(run.by_kind["embedding"].requests_total, 10);
        assert_eq!(run.by_priority.len(), 3);
        assert_eq!(run.by_model["qwen"].requests_total, 30);
        assert_eq!(run.histograms.e2e.count(), 34);
        let records = run.records.as_ref().unwrap();
        assert!(records.windows(2).all(|w| w[0].id < w[1].id));
        let sent: u64 = run.time_series.seconds.iter().map(|b| b.sent).sum();
        assert_eq!(sent, 40);
        assert_eq!(
            run.summary.duration_s,
            (3_900_000 + 300_000 + 39 * 1_234) as f64 / 1e6
        );
    }

    #[test]
    fn records_order_does_not_matter_and_can_be_dropped() {
        let targets = SloTargets::default();
        let forward: Vec<_> = (0..40).map(record).collect();
        let mut shuffled = forward.clone();
        shuffled.swap(0, 39);
        shuffled.swap(5, 17);
        let a = PolicyRun::from_records(
            "f",
            PolicySwitch::Simulated,
            RunParams::default(),
            forward,
            &targets,
            true,
        );
        let b = PolicyRun::from_records(
            "f",
            PolicySwitch::Simulated,
            RunParams::default(),
            shuffled,
            &targets,
            true,
        );
        assert_eq!(a, b);
        let c = PolicyRun::from_records(
            "f",
            PolicySwitch::Simulated,
            RunParams::default(),
            (0..40).map(record).collect(),
            &targets,
            false,
        );
        assert!(c.records.is_none());
        assert_eq!(c.summary, a.summary);
    }

    #[test]
    fn explicit_window_changes_rates_only() {
        let targets = SloTargets::default();
        let run = PolicyRun::from_records_in_window(
            "f",
            PolicySwitch::Launched,
            RunParams::default(),
            (0..40).map(record).collect(),
            &targets,
            false,
            MeasureWindow::DurationUs(10_000_000),
        );
        assert_eq!(run.summary.duration_s, 10.0);
        assert_eq!(run.summary.request_throughput_rps, 3.4);
        assert_eq!(run.by_model["qwen"].duration_s, 10.0);
    }

    #[test]
    fn refuses_other_versions_saying_which() {
        let mut value: Value = serde_json::from_str(&sample_report().to_json_pretty()).unwrap();
        value["schema_version"] = 2.into();
        let err = Report::from_json(&value.to_string()).unwrap_err();
        assert!(matches!(
            err,
            ReportError::UnsupportedVersion { found: 2, .. }
        ));
        let msg = err.to_string();
        assert!(msg.contains("schema_version 2"), "{msg}");
        assert!(msg.contains("reads schema_version 1"), "{msg}");
        assert!(
            msg.contains(&format!("written by sage-cp-bench {}", crate::TOOL_VERSION)),
            "{msg}"
        );

        value["schema_version"] = "one".into();
        let err = Report::from_json(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("schema_version \"one\""), "{err}");

        value.as_object_mut().unwrap().remove("schema_version");
        let err = Report::from_json(&value.to_string()).unwrap_err();
        assert!(matches!(err, ReportError::MissingVersion), "{err}");

        let err = Report::from_json("[1, 2]").unwrap_err();
        assert!(matches!(err, ReportError::Json(_)), "{err}");
    }

    #[test]
    fn refuses_unknown_fields_and_names_them() {
        let mut value: Value = serde_json::from_str(&sample_report().to_json_pretty()).unwrap();
        value["runs"][0]["summary"]["p42_ms"] = 1.into();
        let err = Report::from_json(&value.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("p42_ms"), "{err}");
    }

    #[test]
    fn gpu_status_is_tagged_and_unavailable_holds_no_numbers() {
        let gpu = GpuSection::unavailable("NVML: driver not loaded");
        let json = serde_json::to_value(&gpu).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "status": {"state": "unavailable", "reason": "NVML: driver not loaded"},
                "devices": [],
                "sample_interval_ms": null,
                "read_errors": 0
            })
        );
        assert_eq!(
            serde_json::to_value(GpuSection::not_requested().status).unwrap(),
            serde_json::json!({"state": "not_requested"})
        );
    }

    fn gpu_sample(t_s: f64, index: u32, util: Option<f64>, power: Option<f64>) -> GpuSample {
        GpuSample {
            t_s,
            index,
            utilization_pct: util,
            memory_used_mib: Some(1024.0),
            memory_total_mib: Some(81920.0),
            power_w: power,
            temperature_c: None,
            sm_clock_mhz: Some(1410.0),
            read_errors: u32::from(util.is_none()) + u32::from(power.is_none()) + 1,
        }
    }

    #[test]
    fn gpu_summary_skips_gaps_and_never_invents_a_number() {
        let samples = vec![
            gpu_sample(0.0, 1, Some(50.0), Some(300.0)),
            gpu_sample(0.0, 0, Some(10.0), None),
            gpu_sample(0.5, 0, None, None),
            gpu_sample(1.0, 0, Some(40.0), Some(200.0)),
        ];
        let s = GpuSummary::from_samples(&samples);
        assert_eq!(s.iter().map(|g| g.index).collect::<Vec<_>>(), vec![0, 1]);
        let g0 = &s[0];
        assert_eq!(g0.samples, 3);
        assert_eq!(g0.read_errors, 2 + 3 + 1);
        assert_eq!(
            g0.utilization_pct,
            Some(MinAvgMax {
                count: 2,
                min: 10.0,
                avg: 25.0,
                max: 40.0
            })
        );
        assert_eq!(g0.power_w.unwrap().count, 1);
        assert_eq!(g0.power_w.unwrap().avg, 200.0);
        assert_eq!(g0.temperature_c, None);
        assert_eq!(s[1].utilization_pct.unwrap().max, 50.0);
        assert!(GpuSummary::from_samples(&[]).is_empty());
        assert_eq!(MinAvgMax::of([None, None]), None);
    }

    #[test]
    fn fields_added_later_may_be_absent_from_a_file() {
        let mut value: Value = serde_json::from_str(&sample_report().to_json_pretty()).unwrap();
        for key in ["gpu_summary", "series", "telemetry_sources"] {
            value["runs"][0].as_object_mut().unwrap().remove(key);
        }
        value["gpu"].as_object_mut().unwrap().remove("read_errors");
        let back = Report::from_json(&value.to_string()).unwrap();
        let mut expected = sample_report();
        expected.runs[0].series.clear();
        expected.runs[0].telemetry_sources.clear();
        assert_eq!(back, expected);
    }

    #[test]
    fn new_fills_tool_and_version() {
        let r = Report::new(ReportKind::Simulation, "t", Value::Null, 1, "h", 0);
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        assert_eq!(r.tool.name, "sage-cp-bench");
        assert_eq!(r.tool.version, env!("CARGO_PKG_VERSION"));
        assert!(r.simulated);
        let json = r.to_json_pretty();
        assert!(
            json.starts_with("{\n  \"schema_version\": 1,\n  \"tool\": {"),
            "{json}"
        );
    }
}
