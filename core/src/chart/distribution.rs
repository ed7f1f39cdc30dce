//! Latency distributions: the cumulative distribution of each run ([`cdf`]) and one run's
//! histogram with its percentiles marked ([`latency_histogram`]).

use super::guide::{Guide, GuidedChart, MARK_GREY};
use super::metric::LatencyMetric;
use super::runs::NamedRun;
use super::table::ms;
use super::workload::nice_width;
use super::{Axis, ChartKind, ChartSpec, Point, format_number};
use crate::metrics::LatencyStats;

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
                r.series(points)
            })
            .collect(),
    }
}

/// Most bins of a latency histogram.
pub const HISTOGRAM_BINS: usize = 40;

/// The distribution of one latency of one run as a histogram (bins of a "nice" width from
/// the smallest to the largest value, counts from the run's HdrHistogram), with its p50, p95
/// and p99 marked; `None` when the run has no values of that metric.
pub fn latency_histogram(r: &NamedRun<'_>, metric: LatencyMetric) -> Option<GuidedChart> {
    let h = metric.histogram(&r.run.histograms);
    if h.is_empty() {
        return None;
    }
    // An imported run has no summary statistics: its guides come from the histogram.
    let stats = metric
        .stats(&r.run.summary)
        .copied()
        .or_else(|| LatencyStats::from_histogram(h))?;
    let buckets: Vec<(f64, u64)> = h.buckets().map(|(us, n)| (us as f64 / 1000.0, n)).collect();
    let lo = buckets.first().map_or(0.0, |b| b.0);
    let hi = buckets.last().map_or(0.0, |b| b.0);
    let width = nice_width(hi - lo, HISTOGRAM_BINS, 0.001);
    let start = (lo / width).floor() * width;
    let bins = (((hi - start) / width).floor() as usize + 1).max(1);
    let mut counts = vec![0u64; bins];
    for (v, n) in buckets {
        let i = (((v - start) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += n;
    }
    let points = counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| Point::new(start + i as f64 * width, *n as f64))
        .collect();
    let series = r.series(points);
    let spec = ChartSpec {
        id: format!("hist-{}-{}", metric.as_str(), r.index),
        title: format!("{} distribution: {}", metric.long(), series.name),
        note: format!(
            "Successful requests by {} (bins of {} ms, from the run's histogram); dashed lines at p50, p95 and p99.",
            metric.short(),
            format_number(width)
        ),
        kind: ChartKind::Histogram { bin_width: width },
        x: Axis::new(metric.short(), "ms"),
        y: Axis::new(
            if metric == LatencyMetric::Itl {
                "Gaps"
            } else {
                "Requests"
            },
            "",
        ),
        series: vec![series],
    };
    // Marks in a dark grey: in the series' colour they would vanish over its bars.
    let mark = |p: &str, v: f64| Guide::Vertical {
        x: v,
        label: format!("{p} {} ms", ms(Some(v))),
        color: MARK_GREY,
    };
    Some(GuidedChart {
        spec,
        guides: vec![
            mark("p50", stats.p50_ms),
            mark("p95", stats.p95_ms),
            mark("p99", stats.p99_ms),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::RunParams;

    #[test]
    fn cdfs_end_at_100_percent() {
        let rep = report(vec![run("fifo", 30, 1, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        let c = cdf(&runs, LatencyMetric::E2e);
        let pts = &c.series[0].points;
        assert!(!pts.is_empty() && pts.len() <= CDF_POINTS);
        assert_eq!(pts.last().unwrap().y, 100.0);
        assert!(pts.windows(2).all(|w| w[0].x < w[1].x && w[0].y <= w[1].y));
        assert_eq!(c.x.scale, crate::chart::Scale::Log10);
    }

    #[test]
    fn histogram_counts_every_value_and_marks_percentiles() {
        let rep = report(vec![run("fifo", 40, 3, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        let h = latency_histogram(&runs[0], LatencyMetric::E2e).unwrap();
        let total: f64 = h.spec.series[0].points.iter().map(|p| p.y).sum();
        assert_eq!(total, rep.runs[0].summary.e2e.unwrap().count as f64);
        let ChartKind::Histogram { bin_width } = h.spec.kind else {
            panic!("a histogram")
        };
        let n = h.spec.series[0].points.len();
        assert!(n <= HISTOGRAM_BINS + 1, "{n} bins");
        // Bins start on multiples of the width and never overlap.
        let xs: Vec<f64> = h.spec.series[0].points.iter().map(|p| p.x).collect();
        assert!(xs.windows(2).all(|w| w[1] - w[0] >= bin_width * 0.999));
        let e2e = rep.runs[0].summary.e2e.unwrap();
        assert_eq!(
            h.guides,
            vec![
                Guide::Vertical {
                    x: e2e.p50_ms,
                    label: format!("p50 {} ms", ms(Some(e2e.p50_ms))),
                    color: MARK_GREY
                },
                Guide::Vertical {
                    x: e2e.p95_ms,
                    label: format!("p95 {} ms", ms(Some(e2e.p95_ms))),
                    color: MARK_GREY
                },
                Guide::Vertical {
                    x: e2e.p99_ms,
                    label: format!("p99 {} ms", ms(Some(e2e.p99_ms))),
                    color: MARK_GREY
                },
            ]
        );
        // Every value lies inside the bins' span (buckets are placed by their highest
        // equivalent value, within the histogram's 0.1 %).
        assert!(
            xs[0] <= e2e.min_ms * 1.001 && xs[n - 1] + bin_width >= e2e.max_ms,
            "{xs:?} {bin_width} {e2e:?}"
        );
        // Queue time: every record has 1 ms; one bin.
        let q = latency_histogram(&runs[0], LatencyMetric::QueueTime).unwrap();
        assert_eq!(q.spec.series[0].points.len(), 1);
    }
}
