//! Chart specs from result files: the runs of one or several reports, one series per run.
//!
//! Every builder takes the same list of [`NamedRun`]s (see [`name_runs`]), so run `i` has the
//! same name and colour in every chart.

use super::{Axis, ChartKind, ChartSpec, Point, Series, color};
use crate::histogram::LatencyHistogram;
use crate::metrics::{LatencyHistograms, LatencyStats, SecondBucket, Summary};
use crate::report::{PolicyRun, Report};
use crate::request::{Priority, RequestKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// One run to chart, with the names its series get.
#[derive(Debug, Clone, Copy)]
pub struct NamedRun<'a> {
    /// The run.
    pub run: &'a PolicyRun,
    /// Index of the run in the list (its colour).
    pub index: usize,
    /// The name of the file it came from; `None` when only one file is shown.
    pub file: Option<&'a str>,
}

impl NamedRun<'_> {
    /// The series name: [`run_label`], after the file's name when several files are shown.
    pub fn name(&self) -> String {
        match self.file {
            Some(f) => format!("{f}: {}", run_label(self.run)),
            None => run_label(self.run),
        }
    }

    /// The name without the request rate: the series a sweep's runs share.
    pub fn sweep_group(&self) -> String {
        let r = self.run;
        let mut s = match self.file {
            Some(f) => format!("{f}: {}", r.policy),
            None => r.policy.clone(),
        };
        if let Some(ratio) = r.params.llm_ratio {
            let _ = write!(s, " llm={ratio}");
        }
        s
    }
}

/// A run's label, as the terminal table writes it: the policy, then ` @{rate} req/s`,
/// ` llm={ratio}` and ` [{label}]` when the run has them.
pub fn run_label(r: &PolicyRun) -> String {
    let mut s = r.policy.clone();
    if let Some(rate) = r.params.request_rate_rps {
        let _ = write!(s, " @{rate} req/s");
    }
    if let Some(ratio) = r.params.llm_ratio {
        let _ = write!(s, " llm={ratio}");
    }
    if let Some(l) = &r.params.label {
        let _ = write!(s, " [{l}]");
    }
    s
}

/// The runs of the given files, in order, named after their file when there are several.
pub fn name_runs<'a>(files: &[(&'a str, &'a Report)]) -> Vec<NamedRun<'a>> {
    let several = files.len() > 1;
    files
        .iter()
        .flat_map(|&(name, report)| report.runs.iter().map(move |run| (name, run)))
        .enumerate()
        .map(|(index, (name, run))| NamedRun {
            run,
            index,
            file: several.then_some(name),
        })
        .collect()
}

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

    /// The field's value in a second; `None` where no request gave one.
    pub fn of(self, b: &SecondBucket) -> Option<f64> {
        match self {
            Self::Sent => Some(b.sent as f64),
            Self::Completed => Some(b.completed as f64),
            Self::Errors => Some(b.errors as f64),
            Self::SloMet => Some(b.slo_met as f64),
            Self::OutputTokens => Some(b.output_tokens as f64),
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

fn series(r: &NamedRun<'_>, points: Vec<Point>) -> Series {
    Series {
        name: r.name(),
        color: color(r.index),
        points,
    }
}

fn bars(
    id: &str,
    title: String,
    note: String,
    categories: Vec<String>,
    y: Axis,
    series: Vec<Series>,
) -> ChartSpec {
    ChartSpec {
        id: id.to_owned(),
        title,
        note,
        kind: ChartKind::Bars { categories },
        x: Axis::new("", ""),
        y,
        series,
    }
}

fn bar_points(values: impl IntoIterator<Item = Option<f64>>) -> Vec<Point> {
    values
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| Point::new(i as f64, v)))
        .collect()
}

/// Successful requests and SLO-meeting requests per second of each run.
pub fn throughput(runs: &[NamedRun<'_>]) -> ChartSpec {
    bars(
        "throughput",
        "Request throughput and goodput".into(),
        "Successful requests and requests that met their SLO, per second of the measurement window.".into(),
        vec!["Throughput".into(), "Goodput (SLO met)".into()],
        Axis::new("Requests", "req/s"),
        runs.iter()
            .map(|r| {
                let s = &r.run.summary;
                series(r, bar_points([Some(s.request_throughput_rps), Some(s.goodput_rps)]))
            })
            .collect(),
    )
}

/// Output and total tokens per second of each run.
pub fn token_throughput(runs: &[NamedRun<'_>]) -> ChartSpec {
    bars(
        "token-throughput",
        "Token throughput".into(),
        "Tokens of successful requests per second; total = input (server usage, else estimate) + output.".into(),
        vec!["Output tokens".into(), "Input + output tokens".into()],
        Axis::new("Tokens", "tok/s"),
        runs.iter()
            .map(|r| {
                let s = &r.run.summary;
                series(r, bar_points([Some(s.output_tokens_per_s), Some(s.total_tokens_per_s)]))
            })
            .collect(),
    )
}

/// The p50, p90, p95 and p99 of one latency for each run.
pub fn latency_percentiles(runs: &[NamedRun<'_>], metric: LatencyMetric) -> ChartSpec {
    let ps = [
        Percentile::P50,
        Percentile::P90,
        Percentile::P95,
        Percentile::P99,
    ];
    bars(
        &format!("latency-{}", metric.as_str()),
        format!("{} percentiles", metric.long()),
        format!(
            "{} of successful requests, from the intended send time.",
            metric.short()
        ),
        ps.iter().map(|p| p.as_str().to_owned()).collect(),
        Axis::new(metric.short(), "ms"),
        runs.iter()
            .map(|r| {
                let stats = metric.stats(&r.run.summary);
                series(r, bar_points(ps.iter().map(|p| stats.map(|s| p.of(s)))))
            })
            .collect(),
    )
}

/// One percentile of one latency for each group of each run.
pub fn latency_by(
    runs: &[NamedRun<'_>],
    metric: LatencyMetric,
    p: Percentile,
    by: Breakdown,
) -> ChartSpec {
    let keys = by.keys(runs);
    bars(
        &format!("latency-by-{}", by.as_str()),
        format!(
            "{} {} by {}",
            metric.short(),
            p.as_str(),
            by.label().to_ascii_lowercase()
        ),
        format!(
            "{} {} of each group's successful requests.",
            metric.long(),
            p.as_str()
        ),
        keys.clone(),
        Axis::new(format!("{} {}", metric.short(), p.as_str()), "ms"),
        runs.iter()
            .map(|r| {
                let groups = by.groups(r.run);
                series(
                    r,
                    bar_points(
                        keys.iter()
                            .map(|k| groups.get(k).and_then(|s| metric.stats(s)).map(|s| p.of(s))),
                    ),
                )
            })
            .collect(),
    )
}

/// SLO compliance (percent of all requests, failures count as misses) of each group.
pub fn slo_compliance_by(runs: &[NamedRun<'_>], by: Breakdown) -> ChartSpec {
    let keys = by.keys(runs);
    bars(
        &format!("slo-by-{}", by.as_str()),
        format!("SLO compliance by {}", by.label().to_ascii_lowercase()),
        "Requests that met their deadline, percent of all requests in the group (failures count as misses).".into(),
        keys.clone(),
        Axis::new("SLO compliance", "%"),
        runs.iter()
            .map(|r| {
                let groups = by.groups(r.run);
                series(r, bar_points(keys.iter().map(|k| groups.get(k).map(|s| s.slo_compliance * 100.0))))
            })
            .collect(),
    )
}

/// Goodput (SLO-meeting requests per second of the whole run's window) of each group.
pub fn goodput_by(runs: &[NamedRun<'_>], by: Breakdown) -> ChartSpec {
    let keys = by.keys(runs);
    bars(
        &format!("goodput-by-{}", by.as_str()),
        format!("Goodput by {}", by.label().to_ascii_lowercase()),
        "Requests that met their SLO per second of the run's measurement window.".into(),
        keys.clone(),
        Axis::new("Goodput", "req/s"),
        runs.iter()
            .map(|r| {
                let groups = by.groups(r.run);
                series(
                    r,
                    bar_points(keys.iter().map(|k| groups.get(k).map(|s| s.goodput_rps))),
                )
            })
            .collect(),
    )
}

/// Most points of a CDF line.
pub const CDF_POINTS: usize = 200;

/// The cumulative distribution of one latency for each run, from the serialized histograms
/// (log x axis; y in percent of the run's values).
pub fn cdf(runs: &[NamedRun<'_>], metric: LatencyMetric) -> ChartSpec {
    ChartSpec {
        id: format!("cdf-{}", metric.as_str()),
        title: format!("{} distribution (CDF)", metric.long()),
        note: "Share of values at or below each latency, from the run's histogram (3 significant digits).".into(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new(metric.short(), "ms").log(),
        y: Axis::new("At or below", "%"),
        series: runs
            .iter()
            .map(|r| {
                let points = metric
                    .histogram(&r.run.histograms)
                    .cdf_ms_thinned(CDF_POINTS)
                    .into_iter()
                    .map(|p| Point::new(p.value_ms, p.fraction * 100.0))
                    .collect();
                series(r, points)
            })
            .collect(),
    }
}

/// The p50, p90, p99 and maximum send lateness of each run.
pub fn lateness(runs: &[NamedRun<'_>]) -> ChartSpec {
    bars(
        "lateness",
        "Send lateness".into(),
        "How far behind the schedule requests were sent (actual minus intended send time); latencies are measured from the intended time.".into(),
        vec!["p50".into(), "p90".into(), "p99".into(), "max".into()],
        Axis::new("Lateness", "ms"),
        runs.iter()
            .map(|r| {
                let s = r.run.summary.lateness.as_ref();
                series(
                    r,
                    bar_points([s.map(|s| s.p50_ms), s.map(|s| s.p90_ms), s.map(|s| s.p99_ms), s.map(|s| s.max_ms)]),
                )
            })
            .collect(),
    )
}

/// Whether any run has a target request rate (a sweep).
pub fn has_sweep(runs: &[NamedRun<'_>]) -> bool {
    runs.iter().any(|r| r.run.params.request_rate_rps.is_some())
}

/// Runs with a rate, grouped into one series per [`NamedRun::sweep_group`], sorted by rate.
fn sweep_series(runs: &[NamedRun<'_>], value: impl Fn(&PolicyRun) -> Option<f64>) -> Vec<Series> {
    let mut groups: Vec<(String, usize, Vec<Point>)> = Vec::new();
    for r in runs {
        let Some(rate) = r.run.params.request_rate_rps else {
            continue;
        };
        let key = r.sweep_group();
        let pos = match groups.iter().position(|g| g.0 == key) {
            Some(p) => p,
            None => {
                groups.push((key, groups.len(), Vec::new()));
                groups.len() - 1
            }
        };
        if let Some(v) = value(r.run).filter(|v| v.is_finite()) {
            groups[pos].2.push(Point::new(rate, v));
        }
    }
    groups
        .into_iter()
        .map(|(name, i, mut points)| {
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series {
                name,
                color: color(i),
                points,
            }
        })
        .collect()
}

/// Throughput against the offered request rate, one line per policy (runs with a rate).
pub fn sweep_throughput(runs: &[NamedRun<'_>]) -> ChartSpec {
    ChartSpec {
        id: "sweep-throughput".into(),
        title: "Throughput vs offered rate".into(),
        note: "Successful requests per second at each target request rate.".into(),
        kind: ChartKind::Lines { markers: true },
        x: Axis::new("Offered rate", "req/s"),
        y: Axis::new("Throughput", "req/s"),
        series: sweep_series(runs, |r| Some(r.summary.request_throughput_rps)),
    }
}

/// One latency percentile against the offered request rate, one line per policy.
pub fn sweep_latency(runs: &[NamedRun<'_>], metric: LatencyMetric, p: Percentile) -> ChartSpec {
    ChartSpec {
        id: "sweep-latency".into(),
        title: format!("{} {} vs offered rate", metric.short(), p.as_str()),
        note: format!(
            "{} {} at each target request rate.",
            metric.long(),
            p.as_str()
        ),
        kind: ChartKind::Lines { markers: true },
        x: Axis::new("Offered rate", "req/s"),
        y: Axis::new(format!("{} {}", metric.short(), p.as_str()), "ms"),
        series: sweep_series(runs, |r| metric.stats(&r.summary).map(|s| p.of(s))),
    }
}

/// One per-second field over each run.
pub fn time_series(runs: &[NamedRun<'_>], field: SeriesField) -> ChartSpec {
    ChartSpec {
        id: format!("time-{}", field.as_str()),
        title: format!("{} per second", field.label()),
        note: "Sent counts requests by their intended send time; every other field by the second they ended in.".into(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new(field.label(), field.unit()),
        series: runs
            .iter()
            .map(|r| {
                let points = r
                    .run
                    .time_series
                    .seconds
                    .iter()
                    .filter_map(|b| field.of(b).map(|v| Point::new(b.t_s as f64, v)))
                    .collect();
                series(r, points)
            })
            .collect(),
    }
}

/// Whether any run has GPU samples.
pub fn has_gpu(runs: &[NamedRun<'_>]) -> bool {
    runs.iter().any(|r| !r.run.gpu_samples.is_empty())
}

/// One GPU reading over time: a series per run and device.
pub fn gpu(runs: &[NamedRun<'_>], metric: GpuMetric) -> ChartSpec {
    let mut out = Vec::new();
    for r in runs {
        let devices: BTreeSet<u32> = r.run.gpu_samples.iter().map(|s| s.index).collect();
        for (k, d) in devices.iter().enumerate() {
            let points = r
                .run
                .gpu_samples
                .iter()
                .filter(|s| s.index == *d)
                .filter_map(|s| {
                    let v = match metric {
                        GpuMetric::Utilization => s.utilization_pct,
                        GpuMetric::MemoryUsed => s.memory_used_mib,
                        GpuMetric::Power => s.power_w,
                    };
                    v.map(|v| Point::new(s.t_s, v))
                })
                .collect();
            out.push(Series {
                name: format!("{} · GPU {d}", r.name()),
                color: color(r.index + k * runs.len()),
                points,
            });
        }
    }
    ChartSpec {
        id: format!("gpu-{}", metric.as_str()),
        title: format!("{} over time", metric.label()),
        note: "Samples taken by the runner during each run (NVML).".into(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new(metric.label(), metric.unit()),
        series: out,
    }
}

/// The numeric fields of a JSON value, as `(dotted path, value)` (`queue.depth`, `gpus[0].load`).
pub fn numeric_leaves(value: &Value) -> Vec<(String, f64)> {
    fn walk(v: &Value, path: &mut String, out: &mut Vec<(String, f64)>) {
        match v {
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    out.push((path.clone(), f));
                }
            }
            Value::Bool(_) | Value::Null | Value::String(_) => {}
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "[{i}]");
                    walk(item, path, out);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    walk(item, path, out);
                    path.truncate(len);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(value, &mut String::new(), &mut out);
    out
}

/// The numeric fields found in any run's control-plane samples, sorted.
pub fn control_plane_keys(runs: &[NamedRun<'_>]) -> Vec<String> {
    let keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.run.control_plane.samples.iter())
        .flat_map(|s| numeric_leaves(&s.value).into_iter().map(|(k, _)| k))
        .collect();
    keys.into_iter().collect()
}

/// The control-plane field a chart starts with: the first (in [`control_plane_keys`] order)
/// whose value changes during some run, else the first; `None` without samples.
pub fn preferred_control_plane_key(runs: &[NamedRun<'_>]) -> Option<String> {
    let keys = control_plane_keys(runs);
    let varies = |key: &str| {
        runs.iter().any(|r| {
            let mut values = r
                .run
                .control_plane
                .samples
                .iter()
                .filter_map(|s| numeric_leaves(&s.value).into_iter().find(|(k, _)| k == key))
                .map(|(_, v)| v);
            values
                .next()
                .is_some_and(|first| values.any(|v| v != first))
        })
    };
    keys.iter().find(|k| varies(k)).or(keys.first()).cloned()
}

/// One numeric field of the control plane's samples over each run that has samples.
pub fn control_plane(runs: &[NamedRun<'_>], key: &str) -> ChartSpec {
    ChartSpec {
        id: "control-plane".into(),
        title: format!("Control plane: {key}"),
        note: "Sampled from the control plane's /admin/metrics during each run.".into(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new(key, ""),
        series: runs
            .iter()
            .filter(|r| !r.run.control_plane.samples.is_empty())
            .map(|r| {
                let points = r
                    .run
                    .control_plane
                    .samples
                    .iter()
                    .filter_map(|s| {
                        numeric_leaves(&s.value)
                            .into_iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, v)| Point::new(s.t_s, v))
                    })
                    .collect();
                series(r, points)
            })
            .collect(),
    }
}

/// The charts a report is summed up with, with default choices (TTFT, p99, by priority):
/// what a static export draws.
pub fn standard_charts(runs: &[NamedRun<'_>]) -> Vec<ChartSpec> {
    let mut out = vec![
        throughput(runs),
        token_throughput(runs),
        latency_percentiles(runs, LatencyMetric::Ttft),
        latency_percentiles(runs, LatencyMetric::E2e),
        cdf(runs, LatencyMetric::Ttft),
        cdf(runs, LatencyMetric::E2e),
        slo_compliance_by(runs, Breakdown::Priority),
        goodput_by(runs, Breakdown::Priority),
        latency_by(
            runs,
            LatencyMetric::Ttft,
            Percentile::P99,
            Breakdown::Priority,
        ),
        time_series(runs, SeriesField::Completed),
        lateness(runs),
    ];
    if has_sweep(runs) {
        out.push(sweep_throughput(runs));
        out.push(sweep_latency(runs, LatencyMetric::Ttft, Percentile::P99));
    }
    if has_gpu(runs) {
        out.push(gpu(runs, GpuMetric::Utilization));
    }
    if let Some(key) = preferred_control_plane_key(runs) {
        out.push(control_plane(runs, &key));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::{Outcome, RequestRecord, TokenSource};
    use crate::report::{PolicySwitch, ReportKind, RunParams};
    use crate::slo::SloTargets;

    /// A run of `n` requests whose latencies grow with `slow` (ms per request id).
    pub(crate) fn run(policy: &str, n: u64, slow: u64, params: RunParams) -> PolicyRun {
        let records = (0..n)
            .map(|id| {
                let intended_us = id * 200_000;
                let kind = if id % 5 == 4 {
                    RequestKind::Embedding
                } else {
                    RequestKind::LlmChat
                };
                let priority = Priority::ALL[(id % 3) as usize];
                let model = if kind.is_llm() { "qwen" } else { "bge" };
                RequestRecord {
                    sent_us: intended_us + 100 + id,
                    first_token_us: Some(intended_us + 20_000 + id * slow * 1000),
                    end_us: intended_us + 300_000 + id * slow * 1000,
                    itl_us: if kind.is_llm() {
                        vec![8_000; 9]
                    } else {
                        vec![]
                    },
                    outcome: if id == 7 {
                        Outcome::Timeout
                    } else {
                        Outcome::Success
                    },
                    output_tokens: if kind.is_llm() { 10 } else { 0 },
                    output_tokens_source: TokenSource::Usage,
                    chunks: 10,
                    input_tokens: Some(50),
                    queue_time_ms: Some(1.0),
                    ..RequestRecord::new(id, kind, priority, model, 1000, 48, intended_us)
                }
            })
            .collect();
        PolicyRun::from_records(
            policy,
            PolicySwitch::Simulated,
            params,
            records,
            &SloTargets::default(),
            false,
        )
    }

    pub(crate) fn report(runs: Vec<PolicyRun>) -> Report {
        let mut r = Report::new(ReportKind::Compare, "t", Value::Null, 1, "h", 30);
        r.runs = runs;
        r
    }

    #[test]
    fn runs_are_named_after_their_file_only_when_there_are_several() {
        let a = report(vec![
            run("fifo", 30, 1, RunParams::default()),
            run("priority", 30, 2, RunParams::default()),
        ]);
        let b = report(vec![run(
            "fifo",
            30,
            3,
            RunParams {
                request_rate_rps: Some(20.0),
                llm_ratio: Some(0.5),
                label: Some("x".into()),
            },
        )]);
        let one = name_runs(&[("a.json", &a)]);
        assert_eq!(
            one.iter().map(NamedRun::name).collect::<Vec<_>>(),
            ["fifo", "priority"]
        );
        let two = name_runs(&[("a.json", &a), ("b.json", &b)]);
        assert_eq!(
            two.iter().map(NamedRun::name).collect::<Vec<_>>(),
            [
                "a.json: fifo",
                "a.json: priority",
                "b.json: fifo @20 req/s llm=0.5 [x]"
            ]
        );
        assert_eq!(two[2].index, 2);
        assert_eq!(two[2].sweep_group(), "b.json: fifo llm=0.5");
    }

    #[test]
    fn bar_charts_carry_the_summary_numbers() {
        let rep = report(vec![
            run("fifo", 30, 1, RunParams::default()),
            run("slo", 30, 4, RunParams::default()),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        let t = throughput(&runs);
        assert_eq!(t.series.len(), 2);
        assert_eq!(t.series[1].color, color(1));
        assert_eq!(
            t.series[1].points[0],
            Point::new(0.0, rep.runs[1].summary.request_throughput_rps)
        );
        assert_eq!(
            t.series[1].points[1],
            Point::new(1.0, rep.runs[1].summary.goodput_rps)
        );

        let l = latency_percentiles(&runs, LatencyMetric::E2e);
        let e2e = rep.runs[0].summary.e2e.unwrap();
        let ys: Vec<f64> = l.series[0].points.iter().map(|p| p.y).collect();
        assert_eq!(ys, [e2e.p50_ms, e2e.p90_ms, e2e.p95_ms, e2e.p99_ms]);
        assert_eq!(l.y.unit, "ms");

        let by = latency_by(
            &runs,
            LatencyMetric::Ttft,
            Percentile::P99,
            Breakdown::Priority,
        );
        assert_eq!(
            by.kind,
            ChartKind::Bars {
                categories: vec!["HIGH".into(), "NORMAL".into(), "LOW".into()]
            }
        );
        assert_eq!(
            by.series[0].points[2].y,
            rep.runs[0].by_priority["LOW"].ttft.unwrap().p99_ms
        );
        // Embeddings have no TTFT: no bar for that group.
        let by_kind = latency_by(&runs, LatencyMetric::Ttft, Percentile::P50, Breakdown::Kind);
        assert_eq!(
            by_kind.kind,
            ChartKind::Bars {
                categories: vec!["llm_chat".into(), "embedding".into()]
            }
        );
        assert_eq!(by_kind.series[0].points.len(), 1);

        let slo = slo_compliance_by(&runs, Breakdown::Kind);
        assert_eq!(
            slo.series[0].points[1].y,
            rep.runs[0].by_kind["embedding"].slo_compliance * 100.0
        );
        let good = goodput_by(&runs, Breakdown::Model);
        assert_eq!(
            good.series[1].points[0].y,
            rep.runs[1].by_model["bge"].goodput_rps
        );
        let late = lateness(&runs);
        assert_eq!(
            late.series[0].points[3].y,
            rep.runs[0].summary.lateness.unwrap().max_ms
        );
    }

    #[test]
    fn cdfs_end_at_100_percent() {
        let rep = report(vec![run("fifo", 30, 1, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        let c = cdf(&runs, LatencyMetric::E2e);
        let pts = &c.series[0].points;
        assert!(!pts.is_empty() && pts.len() <= CDF_POINTS);
        assert_eq!(pts.last().unwrap().y, 100.0);
        assert!(pts.windows(2).all(|w| w[0].x < w[1].x && w[0].y <= w[1].y));
        assert_eq!(c.x.scale, super::super::Scale::Log10);
    }

    #[test]
    fn sweeps_group_runs_by_policy_and_sort_by_rate() {
        let params = |rate: f64| RunParams {
            request_rate_rps: Some(rate),
            ..RunParams::default()
        };
        let rep = report(vec![
            run("fifo", 20, 1, params(20.0)),
            run("fifo", 20, 1, params(10.0)),
            run("edf", 20, 2, params(10.0)),
            run("plain", 20, 2, RunParams::default()),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        assert!(has_sweep(&runs));
        let s = sweep_throughput(&runs);
        assert_eq!(
            s.series.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
            ["fifo", "edf"]
        );
        assert_eq!(
            s.series[0].points.iter().map(|p| p.x).collect::<Vec<_>>(),
            [10.0, 20.0]
        );
        assert_eq!(
            s.series[0].points[1].y,
            rep.runs[0].summary.request_throughput_rps
        );
        let l = sweep_latency(&runs, LatencyMetric::Ttft, Percentile::P95);
        assert_eq!(
            l.series[1].points[0].y,
            rep.runs[2].summary.ttft.unwrap().p95_ms
        );
        assert_eq!(
            standard_charts(&runs)
                .iter()
                .filter(|c| c.id.starts_with("sweep"))
                .count(),
            2
        );
        let plain = name_runs(&[("r", &report(vec![run("x", 5, 1, RunParams::default())]))])
            .iter()
            .map(|r| r.run.params.request_rate_rps)
            .collect::<Vec<_>>();
        assert_eq!(plain, [None]);
    }

    #[test]
    fn time_series_gpu_and_control_plane() {
        let mut a = run("fifo", 30, 1, RunParams::default());
        a.gpu_samples = (0..4)
            .flat_map(|t| {
                (0..2).map(move |i| crate::report::GpuSample {
                    t_s: f64::from(t),
                    index: i,
                    utilization_pct: Some(f64::from(t * 10 + i)),
                    memory_used_mib: None,
                    memory_total_mib: None,
                    power_w: Some(100.0),
                    temperature_c: None,
                    sm_clock_mhz: None,
                    read_errors: 0,
                })
            })
            .collect();
        for t in 0..3 {
            a.control_plane.samples.push(crate::report::TimedValue {
                t_s: f64::from(t),
                value: serde_json::json!({"healthy": 2, "queue": {"depth": t * 2}, "name": "x", "load": [0.5, t]}),
            });
        }
        let b = run("prio", 30, 2, RunParams::default());
        let rep = report(vec![a, b]);
        let runs = name_runs(&[("r", &rep)]);

        let ts = time_series(&runs, SeriesField::Sent);
        let sent: f64 = ts.series[0].points.iter().map(|p| p.y).sum();
        assert_eq!(sent, 30.0);
        let e2e = time_series(&runs, SeriesField::E2eP99);
        assert!(e2e.series[0].points.iter().all(|p| p.y > 0.0));

        assert!(has_gpu(&runs));
        let g = gpu(&runs, GpuMetric::Utilization);
        assert_eq!(
            g.series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["fifo · GPU 0", "fifo · GPU 1"]
        );
        assert_eq!(g.series[1].points[3], Point::new(3.0, 31.0));
        assert!(
            gpu(&runs, GpuMetric::MemoryUsed)
                .series
                .iter()
                .all(|s| s.points.is_empty())
        );

        assert_eq!(
            control_plane_keys(&runs),
            ["healthy", "load[0]", "load[1]", "queue.depth"]
        );
        assert_eq!(
            preferred_control_plane_key(&runs).as_deref(),
            Some("load[1]")
        );
        let cp = control_plane(&runs, "queue.depth");
        assert_eq!(cp.series.len(), 1, "runs without samples are left out");
        assert_eq!(cp.series[0].points[2], Point::new(2.0, 4.0));
        assert_eq!(
            numeric_leaves(&serde_json::json!({"a": {"b": [1, {"c": 2.5}]}, "s": "x"})),
            [("a.b[0]".to_owned(), 1.0), ("a.b[1].c".to_owned(), 2.5)]
        );
        let ids: Vec<String> = standard_charts(&runs).into_iter().map(|c| c.id).collect();
        assert!(
            ids.contains(&"gpu-utilization".to_owned())
                && ids.contains(&"control-plane".to_owned())
        );
        assert!(!ids.iter().any(|i| i.starts_with("sweep")));
    }

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
