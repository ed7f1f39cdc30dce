//! What a report read from another tool's result file carries: where it came from
//! ([`ImportInfo`]) and, per run, the numbers that file really holds ([`ReportedMetrics`]),
//! each `None` where the file does not carry it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an imported report came from (see [`crate::import`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportInfo {
    /// The tool that wrote the file (`vLLM bench serve`, `GuideLLM`, `AIPerf`).
    pub tool: String,
    /// The tool's version as the file records it; `None` when the file does not say.
    pub tool_version: Option<String>,
    /// What kind of file it was (`profile_export_aiperf.json with profile_export.jsonl`).
    pub source: String,
    /// How the tool's definitions differ from this project's (one sentence each).
    pub definitions: Vec<String>,
    /// This project's metrics the file does not carry (shown as missing, never as 0).
    pub lacks: Vec<String>,
}

impl ImportInfo {
    /// The tool and its version (`GuideLLM 0.8.1`), or the tool alone when the file does
    /// not record a version.
    pub fn label(&self) -> String {
        match &self.tool_version {
            Some(v) => format!("{} {v}", self.tool),
            None => self.tool.clone(),
        }
    }
}

/// The numbers of one imported run as its file carries them; `None` where it does not.
/// An imported run's `summary` holds the same counts and rates (and zeros where this is
/// `None`): readers take an imported run's numbers from here.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportedMetrics {
    /// Requests the run counted.
    pub requests_total: Option<u64>,
    /// Requests that succeeded.
    pub requests_succeeded: Option<u64>,
    /// Requests that failed (errored or left incomplete).
    pub requests_failed: Option<u64>,
    /// Length of the tool's measurement window, seconds.
    pub duration_s: Option<f64>,
    /// Successful requests per second, as the tool computed it.
    pub request_throughput_rps: Option<f64>,
    /// Output tokens per second.
    pub output_tokens_per_s: Option<f64>,
    /// Input plus output tokens per second.
    pub total_tokens_per_s: Option<f64>,
    /// Input tokens of the successful requests.
    pub input_tokens_total: Option<u64>,
    /// Output tokens of the successful requests.
    pub output_tokens_total: Option<u64>,
    /// Requests per second meeting the tool's own goodput targets, when it was asked for.
    pub goodput_rps: Option<f64>,
    /// Time to first token.
    pub ttft: Option<ReportedLatency>,
    /// Inter-token latency as this project defines it: every gap between content chunks,
    /// pooled.
    pub itl: Option<ReportedLatency>,
    /// Time per output token as this project defines it: one value per request, the decode
    /// time divided by the output tokens after the first.
    pub tpot: Option<ReportedLatency>,
    /// End-to-end latency.
    pub e2e: Option<ReportedLatency>,
}

/// A latency's statistics as a tool reported them, in milliseconds; `None` (or a percentile
/// left out) where the file does not carry it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReportedLatency {
    /// Number of values.
    pub count: Option<u64>,
    /// Mean, ms.
    pub mean_ms: Option<f64>,
    /// Minimum, ms.
    pub min_ms: Option<f64>,
    /// Maximum, ms.
    pub max_ms: Option<f64>,
    /// Standard deviation, ms.
    pub stddev_ms: Option<f64>,
    /// Percentiles by their number (`"50"`, `"99"`, `"99.9"`), ms; the median is `"50"`.
    pub percentiles_ms: BTreeMap<String, f64>,
}

impl ReportedLatency {
    /// The `p`th percentile (50 for the median), when the file carries it.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        self.percentiles_ms.get(&percentile_key(p)).copied()
    }

    /// Whether it carries nothing at all.
    pub fn is_empty(&self) -> bool {
        self.count.is_none()
            && self.mean_ms.is_none()
            && self.min_ms.is_none()
            && self.max_ms.is_none()
            && self.stddev_ms.is_none()
            && self.percentiles_ms.is_empty()
    }
}

/// The name of a percentile for [`ReportedLatency::percentiles_ms`]: `50`, `99`, `99.9`
/// (at most three decimals).
pub fn percentile_key(p: f64) -> String {
    let s = format!("{p:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A percentile written as digits with an optional fraction (`99`, `99.9`), as tools name
/// them; `None` for anything else. (No float parser: the browser bundle stays smaller.)
pub fn parse_percentile(s: &str) -> Option<f64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| d.bytes().all(|c| c.is_ascii_digit());
    if int.is_empty() || int.len() > 3 || frac.len() > 3 || !digits(int) || !digits(frac) {
        return None;
    }
    let whole = int.bytes().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    let part = frac.bytes().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    let p = f64::from(whole) + f64::from(part) / 10f64.powi(frac.len() as i32);
    (p <= 100.0).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_names_round_trip() {
        for (s, p) in [
            ("50", 50.0),
            ("99", 99.0),
            ("99.9", 99.9),
            ("0.1", 0.1),
            ("100", 100.0),
        ] {
            assert_eq!(parse_percentile(s), Some(p), "{s}");
            assert_eq!(percentile_key(p), s);
        }
        for bad in ["", "p99", "9x", "101", "1.2.3", "-1", ".5"] {
            assert_eq!(parse_percentile(bad), None, "{bad}");
        }
    }
}
