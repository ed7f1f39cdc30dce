//! What a chart of result files can show of a run: a latency and its percentiles, a grouping
//! of the requests, a per-second field, a GPU reading. Each choice has a stable identifier
//! (`as_str`, `parse`), the words menus and axes show, and its value in a run.

use super::runs::NamedRun;
use crate::histogram::LatencyHistogram;
use crate::metrics::{LatencyHistograms, LatencyStats, SecondBucket, Summary};
use crate::report::PolicyRun;
use crate::request::{Priority, RequestKind};
use std::collections::BTreeMap;

/// A latency a chart can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatencyMetric {
    /// Time to first token.
    Ttft,
    /// Inter-token latency.
    Itl,
    /// Time per output token.
    Tpot,
    /// End-to-end latency.
    E2e,
    /// Send lateness (how far behind schedule requests were sent).
    Lateness,
    /// Server-reported queue time.
    QueueTime,
}

impl LatencyMetric {
    /// Every metric, in menu order.
    pub const ALL: [LatencyMetric; 6] = [
        Self::Ttft,
        Self::Itl,
        Self::Tpot,
        Self::E2e,
        Self::Lateness,
        Self::QueueTime,
    ];

    /// A short identifier (`ttft`, `queue_time`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ttft => "ttft",
            Self::Itl => "itl",
            Self::Tpot => "tpot",
            Self::E2e => "e2e",
            Self::Lateness => "lateness",
            Self::QueueTime => "queue_time",
        }
    }

    /// Parses [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The abbreviation shown on axes (`TTFT`).
    pub fn short(self) -> &'static str {
        match self {
            Self::Ttft => "TTFT",
            Self::Itl => "ITL",
            Self::Tpot => "TPOT",
            Self::E2e => "E2E",
            Self::Lateness => "Lateness",
            Self::QueueTime => "Queue time",
        }
    }

    /// The full name (`Time to first token`).
    pub fn long(self) -> &'static str {
        match self {
            Self::Ttft => "Time to first token",
            Self::Itl => "Inter-token latency",
            Self::Tpot => "Time per output token",
            Self::E2e => "End-to-end latency",
            Self::Lateness => "Send lateness",
            Self::QueueTime => "Queue time (server-reported)",
        }
    }

    /// The metric's statistics in a summary.
    pub fn stats(self, s: &Summary) -> Option<&LatencyStats> {
        match self {
            Self::Ttft => s.ttft.as_ref(),
            Self::Itl => s.itl.as_ref(),
            Self::Tpot => s.tpot.as_ref(),
            Self::E2e => s.e2e.as_ref(),
            Self::Lateness => s.lateness.as_ref(),
            Self::QueueTime => s.queue_time.as_ref(),
        }
    }

    /// The metric's histogram.
    pub fn histogram(self, h: &LatencyHistograms) -> &LatencyHistogram {
        match self {
            Self::Ttft => &h.ttft,
            Self::Itl => &h.itl,
            Self::Tpot => &h.tpot,
            Self::E2e => &h.e2e,
            Self::Lateness => &h.lateness,
            Self::QueueTime => &h.queue_time,
        }
    }
}

/// A percentile of [`LatencyStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Percentile {
    /// Median.
    P50,
    /// 90th.
    P90,
    /// 95th.
    P95,
    /// 99th.
    P99,
    /// 99.9th.
    P999,
}

impl Percentile {
    /// Every percentile, in menu order.
    pub const ALL: [Percentile; 5] = [Self::P50, Self::P90, Self::P95, Self::P99, Self::P999];

    /// The name (`p50`, `p99.9`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::P999 => "p99.9",
        }
    }

    /// Parses [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The percentile's value in `stats`, ms.
    pub fn of(self, stats: &LatencyStats) -> f64 {
        match self {
            Self::P50 => stats.p50_ms,
            Self::P90 => stats.p90_ms,
            Self::P95 => stats.p95_ms,
            Self::P99 => stats.p99_ms,
            Self::P999 => stats.p999_ms,
        }
    }
}

/// How to group a run's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Breakdown {
    /// By priority class.
    Priority,
    /// By request kind.
    Kind,
    /// By model name.
    Model,
}

impl Breakdown {
    /// Every breakdown, in menu order.
    pub const ALL: [Breakdown; 3] = [Self::Priority, Self::Kind, Self::Model];

    /// A short identifier (`priority`, `kind`, `model`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Priority => "priority",
            Self::Kind => "kind",
            Self::Model => "model",
        }
    }

    /// Parses [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// What the groups are (`Priority class`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Priority => "Priority class",
            Self::Kind => "Request type",
            Self::Model => "Model",
        }
    }

    /// The run's summaries by this breakdown.
    pub fn groups(self, run: &PolicyRun) -> &BTreeMap<String, Summary> {
        match self {
            Self::Priority => &run.by_priority,
            Self::Kind => &run.by_kind,
            Self::Model => &run.by_model,
        }
    }

    /// The group names of all runs, in a natural order (priorities most urgent first, kinds
    /// in their canonical order, models alphabetically).
    pub fn keys(self, runs: &[NamedRun<'_>]) -> Vec<String> {
        let rank = |k: &str| -> usize {
            match self {
                Self::Priority => Priority::parse(k).map_or(usize::MAX, |p| p as usize),
                Self::Kind => RequestKind::parse(k).map_or(usize::MAX, |p| p as usize),
                Self::Model => 0,
            }
        };
        let mut keys: Vec<(usize, &String)> = runs
            .iter()
            .flat_map(|r| self.groups(r.run).keys())
            .map(|k| (rank(k), k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter().map(|(_, k)| k.clone()).collect()
    }
}

/// A per-second field of a run's time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeriesField {
    /// Requests due to be sent.
    Sent,
    /// Successful requests that ended.
    Completed,
    /// Failed requests that ended.
    Errors,
    /// SLO-meeting requests that ended.
    SloMet,
    /// Output tokens of the requests that ended.
    OutputTokens,
    /// Median end-to-end latency of the requests that ended.
    E2eP50,
    /// 99th percentile end-to-end latency.
    E2eP99,
    /// Median TTFT.
    TtftP50,
    /// 99th percentile TTFT.
    TtftP99,
}

impl SeriesField {
    /// Every field, in menu order.
    pub const ALL: [SeriesField; 9] = [
        Self::Sent,
        Self::Completed,
        Self::Errors,
        Self::SloMet,
        Self::OutputTokens,
        Self::E2eP50,
        Self::E2eP99,
        Self::TtftP50,
        Self::TtftP99,
    ];

    /// A short identifier (`sent`, `e2e_p99`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Completed => "completed",
            Self::Errors => "errors",
            Self::SloMet => "slo_met",
            Self::OutputTokens => "output_tokens",
            Self::E2eP50 => "e2e_p50",
            Self::E2eP99 => "e2e_p99",
            Self::TtftP50 => "ttft_p50",
            Self::TtftP99 => "ttft_p99",
        }
    }

    /// Parses [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// What the field is, for menus and axes.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "Requests sent",
            Self::Completed => "Requests completed",
            Self::Errors => "Errors",
            Self::SloMet => "Requests meeting their SLO",
            Self::OutputTokens => "Output tokens",
            Self::E2eP50 => "E2E p50",
            Self::E2eP99 => "E2E p99",
            Self::TtftP50 => "TTFT p50",
            Self::TtftP99 => "TTFT p99",
        }
    }

    /// The unit of its values.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Sent | Self::Completed | Self::Errors | Self::SloMet => "req/s",
            Self::OutputTokens => "tok/s",
            _ => "ms",
        }
    }

    /// The field's value in a bucket of `bucket_s` seconds (counts as rates per second);
    /// `None` where no request gave one.
    pub fn of(self, b: &SecondBucket, bucket_s: u64) -> Option<f64> {
        let rate = |n: u64| Some(n as f64 / bucket_s.max(1) as f64);
        match self {
            Self::Sent => rate(b.sent),
            Self::Completed => rate(b.completed),
            Self::Errors => rate(b.errors),
            Self::SloMet => rate(b.slo_met),
            Self::OutputTokens => rate(b.output_tokens),
            Self::E2eP50 => b.e2e_p50_ms,
            Self::E2eP99 => b.e2e_p99_ms,
            Self::TtftP50 => b.ttft_p50_ms,
            Self::TtftP99 => b.ttft_p99_ms,
        }
    }
}

/// A GPU reading a chart can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GpuMetric {
    /// Compute utilization.
    Utilization,
    /// Memory used.
    MemoryUsed,
    /// Power draw.
    Power,
}

impl GpuMetric {
    /// Every metric, in menu order.
    pub const ALL: [GpuMetric; 3] = [Self::Utilization, Self::MemoryUsed, Self::Power];

    /// A short identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utilization => "utilization",
            Self::MemoryUsed => "memory",
            Self::Power => "power",
        }
    }

    /// Parses [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// What it is, for menus and axes.
    pub fn label(self) -> &'static str {
        match self {
            Self::Utilization => "GPU utilization",
            Self::MemoryUsed => "GPU memory used",
            Self::Power => "GPU power",
        }
    }

    /// Its unit.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Utilization => "%",
            Self::MemoryUsed => "MiB",
            Self::Power => "W",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menus_parse_what_they_print() {
        for m in LatencyMetric::ALL {
            assert_eq!(LatencyMetric::parse(m.as_str()), Some(m));
        }
        for p in Percentile::ALL {
            assert_eq!(Percentile::parse(p.as_str()), Some(p));
        }
        for b in Breakdown::ALL {
            assert_eq!(Breakdown::parse(b.as_str()), Some(b));
        }
        for f in SeriesField::ALL {
            assert_eq!(SeriesField::parse(f.as_str()), Some(f));
        }
        for g in GpuMetric::ALL {
            assert_eq!(GpuMetric::parse(g.as_str()), Some(g));
        }
        assert_eq!(LatencyMetric::parse("nope"), None);
    }
}
