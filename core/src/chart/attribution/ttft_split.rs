//! The time to first token split into the control plane's queue time (`X-Queue-Time-Ms`) and
//! the rest (sending, routing, prefill, the first token back), per run: from the run's
//! `ttft_queue` and `ttft_after_queue` histograms
//! ([`LatencyHistograms`](crate::metrics::LatencyHistograms)), which hold the same requests.

use super::{ViewRow, ViewTable, fixed};
use crate::chart::runs::NamedRun;
use crate::chart::table::ms;
use crate::chart::{Axis, ChartKind, ChartSpec, Point, Series, color};
use crate::metrics::LatencyStats;

/// What the split is.
pub const DEFINITION: &str = "Over the successful LLM requests whose response carried X-Queue-Time-Ms: the time they waited in the control plane's queue, and the rest of their time to first token (TTFT minus queue: sending, routing, prefill and the first token's way back). The means add up to those requests' mean TTFT; percentiles are of each part on its own.";

/// The two parts of one run's TTFT; `None` when no request carried a queue time.
pub fn split(run: &NamedRun<'_>) -> Option<(LatencyStats, LatencyStats)> {
    let h = &run.run.histograms;
    Some((
        LatencyStats::from_histogram(&h.ttft_queue)?,
        LatencyStats::from_histogram(&h.ttft_after_queue)?,
    ))
}

/// Grouped bars per run: queue and after-queue time, mean and p99.
pub fn chart(runs: &[NamedRun<'_>]) -> ChartSpec {
    let parts: Vec<Option<(LatencyStats, LatencyStats)>> = runs.iter().map(split).collect();
    let bars = |name: &str, i: usize, f: &dyn Fn(&(LatencyStats, LatencyStats)) -> f64| Series {
        name: name.into(),
        color: color(i),
        points: parts
            .iter()
            .enumerate()
            .filter_map(|(x, s)| Some(Point::new(x as f64, f(s.as_ref()?))))
            .collect(),
    };
    ChartSpec {
        id: "ttft-split".into(),
        title: "TTFT: control-plane queue vs the rest".into(),
        note: DEFINITION.into(),
        kind: ChartKind::Bars {
            categories: runs.iter().map(NamedRun::name).collect(),
        },
        x: Axis::new("", ""),
        y: Axis::new("Time", "ms"),
        series: vec![
            bars("Queue, mean", 0, &|s| s.0.mean_ms),
            bars("After queue, mean", 1, &|s| s.1.mean_ms),
            bars("Queue, p99", 2, &|s| s.0.p99_ms),
            bars("After queue, p99", 3, &|s| s.1.p99_ms),
        ],
    }
}

/// One row per run with a split: requests, each part's mean, p50 and p99, and the queue's
/// share of the mean TTFT.
pub fn table(runs: &[NamedRun<'_>]) -> ViewTable {
    let rows = runs
        .iter()
        .filter_map(|r| {
            let (q, rest) = split(r)?;
            let total = q.mean_ms + rest.mean_ms;
            let share = if total > 0.0 {
                fixed(q.mean_ms / total * 100.0, 1) + "%"
            } else {
                "-".into()
            };
            Some(ViewRow {
                run: r.index,
                cells: vec![
                    r.name(),
                    q.count.to_string(),
                    ms(Some(q.mean_ms)),
                    ms(Some(q.p50_ms)),
                    ms(Some(q.p99_ms)),
                    ms(Some(rest.mean_ms)),
                    ms(Some(rest.p50_ms)),
                    ms(Some(rest.p99_ms)),
                    share,
                ],
            })
        })
        .collect();
    ViewTable {
        id: "ttft-split",
        title: "TTFT: control-plane queue vs the rest",
        definition: DEFINITION.into(),
        headers: vec![
            "Policy",
            "Requests",
            "Queue mean (ms)",
            "Queue p50 (ms)",
            "Queue p99 (ms)",
            "Rest mean (ms)",
            "Rest p50 (ms)",
            "Rest p99 (ms)",
            "Queue share of mean TTFT",
        ],
        numeric: vec![false, true, true, true, true, true, true, true, true],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::RunParams;

    #[test]
    fn queue_and_rest_add_up_to_the_ttft() {
        let mut none = run("imported", 10, 1, RunParams::default());
        none.histograms = Default::default();
        let rep = report(vec![run("fifo", 30, 2, RunParams::default()), none]);
        let runs = name_runs(&[("r", &rep)]);
        let (q, rest) = split(&runs[0]).unwrap();
        // Every LLM request of the fixture waited 1 ms; the successful ones are in the split.
        assert_eq!(q.mean_ms, 1.0);
        let ttft = rep.runs[0].summary.ttft.unwrap();
        assert_eq!(q.count, ttft.count);
        assert!((q.mean_ms + rest.mean_ms - ttft.mean_ms).abs() < ttft.mean_ms / 500.0);
        assert!(split(&runs[1]).is_none());
        let c = chart(&runs);
        assert_eq!(c.series.len(), 4);
        assert_eq!(c.series[0].points, [Point::new(0.0, 1.0)]);
        let t = table(&runs);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].cells[2], "1.0");
        assert_eq!(t.rows[0].cells.len(), t.headers.len());
    }
}
