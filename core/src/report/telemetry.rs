//! What the control plane and other telemetry endpoints said during a run.

#[cfg(doc)]
use super::PolicyRun; // only named in a doc link
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
