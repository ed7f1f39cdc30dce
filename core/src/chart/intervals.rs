//! Means over repeated trials with their 95 % confidence intervals, as bars with whiskers:
//! one chart per metric, one group of bars per workload variant (each rate of a sweep), one
//! bar per policy.

use super::runs::NamedRun;
use super::table::Column;
use super::{Axis, ChartKind, ChartSpec, Point, Series, color};

/// The metrics charted over trials.
pub const INTERVAL_COLUMNS: [Column; 5] = [
    Column::Throughput,
    Column::TtftP99,
    Column::HighTtftP99,
    Column::E2eP99,
    Column::Slo,
];

/// Whether any run carries statistics over trials.
pub fn has_trials(runs: &[NamedRun<'_>]) -> bool {
    runs.iter().any(|r| r.stats.is_some())
}

/// The chart of one metric's means over trials with their intervals; `None` when no run has
/// statistics of it.
pub fn over_trials(runs: &[NamedRun<'_>], column: Column) -> Option<ChartSpec> {
    let variant = |r: &NamedRun<'_>| {
        let p = &r.run.params;
        let mut parts = Vec::new();
        if let Some(rate) = p.request_rate_rps {
            parts.push(format!("@{rate} req/s"));
        }
        if let Some(l) = p.llm_ratio {
            parts.push(format!("llm={l}"));
        }
        if parts.is_empty() {
            "all requests".to_string()
        } else {
            parts.join(" ")
        }
    };
    let mut categories: Vec<String> = Vec::new();
    let mut series: Vec<Series> = Vec::new();
    let percent = column.is_percent();
    let scale = if percent { 100.0 } else { 1.0 };
    let mut trials = 0;
    for r in runs {
        let Some(est) = r.stats.and_then(|s| s.metrics.get(column.id())) else {
            continue;
        };
        trials = trials.max(est.values.len());
        let cat = variant(r);
        let x = match categories.iter().position(|c| *c == cat) {
            Some(i) => i,
            None => {
                categories.push(cat);
                categories.len() - 1
            }
        } as f64;
        let point = match est.interval {
            Some(i) => Point::with_range(x, est.mean * scale, i.low * scale, i.high * scale),
            None => Point::new(x, est.mean * scale),
        };
        let name = r.sweep_group();
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                color: color(series.len()),
                name,
                points: vec![point],
            }),
        }
    }
    if series.is_empty() {
        return None;
    }
    let unit = if percent { "%" } else { column.unit() };
    let unit = if column == Column::OutputTokens {
        "tok/s"
    } else {
        unit
    };
    Some(ChartSpec {
        id: format!("trials-{}", column.id()),
        title: format!("{} over {trials} trials", column.label()),
        note: "Mean over the trials in which every policy completed; whiskers: the 95 % confidence interval of the mean (Student t; a bootstrap for p99s). Intervals that overlap can still differ significantly: the verdicts compare policies trial by trial.".into(),
        kind: ChartKind::Bars { categories },
        x: Axis::new("", ""),
        y: Axis::new(column.label(), unit),
        series,
    })
}
