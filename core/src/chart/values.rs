//! A run's numbers as the charts and the summary table read them: from the summary for this
//! tool's runs, and for a run imported from another tool ([`crate::import`]) from what its
//! file carries ([`ReportedMetrics`]), `None` where the file lacks it (never 0).

use super::metric::{LatencyMetric, Percentile};
use crate::report::{PolicyRun, ReportedLatency, ReportedMetrics};

impl Percentile {
    /// The percentile as a number (50, 99.9).
    pub fn number(self) -> f64 {
        match self {
            Self::P50 => 50.0,
            Self::P90 => 90.0,
            Self::P95 => 95.0,
            Self::P99 => 99.0,
            Self::P999 => 99.9,
        }
    }
}

/// The statistics an imported run's file carries for a latency; `None` for the latencies no
/// other tool reports (lateness, queue time).
fn reported(m: &ReportedMetrics, metric: LatencyMetric) -> Option<&ReportedLatency> {
    match metric {
        LatencyMetric::Ttft => m.ttft.as_ref(),
        LatencyMetric::Itl => m.itl.as_ref(),
        LatencyMetric::Tpot => m.tpot.as_ref(),
        LatencyMetric::E2e => m.e2e.as_ref(),
        LatencyMetric::Lateness | LatencyMetric::QueueTime => None,
    }
}

/// A percentile of a latency, ms.
pub fn latency_percentile(run: &PolicyRun, metric: LatencyMetric, p: Percentile) -> Option<f64> {
    match &run.reported {
        Some(m) => reported(m, metric)?.percentile(p.number()),
        None => metric.stats(&run.summary).map(|s| p.of(s)),
    }
}

/// The mean of a latency, ms.
pub fn latency_mean(run: &PolicyRun, metric: LatencyMetric) -> Option<f64> {
    match &run.reported {
        Some(m) => reported(m, metric)?.mean_ms,
        None => metric.stats(&run.summary).map(|s| s.mean_ms),
    }
}

/// Successful requests per second.
pub fn throughput(run: &PolicyRun) -> Option<f64> {
    match &run.reported {
        Some(m) => m.request_throughput_rps,
        None => Some(run.summary.request_throughput_rps),
    }
}

/// Requests per second that met their SLO (an imported run: the tool's own goodput, when it
/// was asked for one).
pub fn goodput(run: &PolicyRun) -> Option<f64> {
    match &run.reported {
        Some(m) => m.goodput_rps,
        None => Some(run.summary.goodput_rps),
    }
}

/// Output tokens per second.
pub fn output_tokens_per_s(run: &PolicyRun) -> Option<f64> {
    match &run.reported {
        Some(m) => m.output_tokens_per_s,
        None => Some(run.summary.output_tokens_per_s),
    }
}

/// Input plus output tokens per second.
pub fn total_tokens_per_s(run: &PolicyRun) -> Option<f64> {
    match &run.reported {
        Some(m) => m.total_tokens_per_s,
        None => Some(run.summary.total_tokens_per_s),
    }
}

/// SLO compliance, 0 to 1; `None` for an imported run (no other tool judges this project's
/// SLOs).
pub fn slo_compliance(run: &PolicyRun) -> Option<f64> {
    match &run.reported {
        Some(_) => None,
        None => Some(run.summary.slo_compliance),
    }
}

/// Failed requests / all requests, 0 to 1; `None` when an imported file lacks either count.
pub fn error_rate(run: &PolicyRun) -> Option<f64> {
    match &run.reported {
        Some(m) => match (m.requests_failed, m.requests_total) {
            (Some(_), Some(0)) => Some(0.0),
            (Some(f), Some(t)) => Some(f as f64 / t as f64),
            _ => None,
        },
        None => Some(run.summary.error_rate),
    }
}
