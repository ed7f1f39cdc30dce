//! The result file: one versioned [`Report`] per invocation, written by the runner and read by
//! the browser viewer.
//!
//! The JSON written by [`Report::to_json_pretty`] is byte-stable for a given report: struct
//! fields keep their declared order and every map is a `BTreeMap`. Its JSON Schema (feature
//! `schema`) is checked in at `schema/report.schema.json`. [`Report::from_json`] reads files of
//! every `schema_version` from [`OLDEST_READABLE_VERSION`] to [`SCHEMA_VERSION`] (upgrading the
//! older ones) and refuses others with the version it found; any change to the shape of these
//! types bumps [`SCHEMA_VERSION`] (unknown fields are refused, so an old reader never silently
//! drops data).
//!
//! Units are in field names: `*_us` microseconds, `*_ms` milliseconds, `*_s` seconds,
//! `*_rps` requests per second, `*_pct` percent (0 to 100), `*_mib` mebibytes, `*_w` watts.

mod gpu;
mod imported;
mod json;
mod records_file;
mod run;
mod shard;
mod statistics;
mod telemetry;
#[cfg(test)]
mod tests;

pub use gpu::{GpuDevice, GpuSample, GpuSection, GpuStatus, GpuSummary, MinAvgMax};
pub use imported::{
    ImportInfo, ReportedLatency, ReportedMetrics, parse_percentile, percentile_key,
};
pub use json::{OLDEST_READABLE_VERSION, ReportError, upgrade};
pub use records_file::RecordsFile;
pub use run::{LaunchRecord, PolicyRun, PolicySwitch, RunParams};
pub use shard::{
    ClockCheck, ClockState, MergedShard, PhaseRecord, ShardInfo, TimelineInfo, config_hash,
};
pub use statistics::{
    Comparison, Leader, MetricEstimate, PolicyStatistics, Statistics, StatisticsGroup, TrialSeeds,
    TrialWorkload,
};
pub use telemetry::{ControlPlaneSection, SeriesPoint, TelemetryKind, TelemetrySource, TimedValue};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the result file's shape this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// One invocation's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// The shape's version (`SCHEMA_VERSION` of the writing tool); a reader upgrades older
    /// versions it knows and refuses newer ones.
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
    /// Intervals and verdicts over repeated trials (`--trials N` with N > 1); `None` for a
    /// single trial, where no interval can be given.
    #[serde(default)]
    pub statistics: Option<Statistics>,
    /// Set when the report was read from another tool's result file ([`crate::import`]):
    /// which tool and file, and how its definitions differ; absent from the files this tool
    /// writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportInfo>,
    /// The file beside this one holding every per-request record of its runs (the report
    /// keeps only a sample of them), in Parquet (in reports of older versions, CSV); absent
    /// when none was written (`--no-records`, no request measured, or a report not written
    /// by a run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_file: Option<RecordsFile>,
    /// The same records as CSV, written beside `records_file` when asked for
    /// (`--records-csv`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_csv: Option<RecordsFile>,
    /// Set on a shard's result (`--shard I/N`): which shard of which workload, its timeline
    /// and clock, and its runs' mergeable state; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Set on a report merged from shards (`merge`): each shard's file, lateness and clock;
    /// empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedShard>,
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

impl Report {
    /// The SLO targets the report's runs were judged by (from its config); the defaults when
    /// the config does not say.
    pub fn slo_targets(&self) -> crate::slo::SloTargets {
        self.config
            .get("slo")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

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
            statistics: None,
            imported: None,
            records_file: None,
            records_csv: None,
            shard: None,
            merged_from: Vec::new(),
        }
    }
}
