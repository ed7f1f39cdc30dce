//! Comparison charts from result files: one series per run, the same run in the same colour
//! in every chart (see [`super::runs::name_runs`]): throughput, latency percentiles, results
//! by group, SLO compliance, send lateness, rate sweeps, per-second series and GPU readings.

use super::control_plane;
use super::distribution::cdf;
use super::metric::{Breakdown, GpuMetric, LatencyMetric, Percentile, SeriesField};
use super::runs::NamedRun;
use super::values;
use super::{Axis, ChartKind, ChartSpec, Point, Series, color};
use crate::report::PolicyRun;
use std::collections::BTreeSet;

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
                r.series(bar_points([values::throughput(r.run), values::goodput(r.run)]))
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
                r.series(bar_points([
                    values::output_tokens_per_s(r.run),
                    values::total_tokens_per_s(r.run),
                ]))
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
                r.series(bar_points(
                    ps.iter()
                        .map(|p| values::latency_percentile(r.run, metric, *p)),
                ))
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
                r.series(bar_points(keys.iter().map(|k| {
                    groups.get(k).and_then(|s| metric.stats(s)).map(|s| p.of(s))
                })))
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
                r.series(bar_points(keys.iter().map(|k| groups.get(k).map(|s| s.slo_compliance * 100.0))))
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
                r.series(bar_points(
                    keys.iter().map(|k| groups.get(k).map(|s| s.goodput_rps)),
                ))
            })
            .collect(),
    )
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
                r.series(bar_points([s.map(|s| s.p50_ms), s.map(|s| s.p90_ms), s.map(|s| s.p99_ms), s.map(|s| s.max_ms)]),
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
        series: sweep_series(runs, values::throughput),
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
        series: sweep_series(runs, |r| values::latency_percentile(r, metric, p)),
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
                let ts = &r.run.time_series;
                let points = ts
                    .seconds
                    .iter()
                    .filter_map(|b| field.of(b, ts.bucket_s).map(|v| Point::new(b.t_s as f64, v)))
                    .collect();
                r.series(points)
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

/// SLO compliance of all of each run's requests (percent; failures count as misses).
pub fn slo_overall(runs: &[NamedRun<'_>]) -> ChartSpec {
    ChartSpec {
        id: "slo-overall".into(),
        title: "SLO compliance".into(),
        note: "Requests that met their SLO, percent of all measured requests (failures count as misses).".into(),
        kind: ChartKind::Bars {
            categories: vec!["All requests".into()],
        },
        x: Axis::new("", ""),
        y: Axis::new("SLO compliance", "%"),
        series: runs
            .iter()
            .map(|r| r.series(bar_points([values::slo_compliance(r.run).map(|v| v * 100.0)])))
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
    if let Some(key) = control_plane::preferred_key(runs) {
        out.push(control_plane::field_chart(runs, &key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::RunParams;

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
    fn time_series_gpu_and_the_standard_set() {
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

        let ids: Vec<String> = standard_charts(&runs).into_iter().map(|c| c.id).collect();
        assert!(
            ids.contains(&"gpu-utilization".to_owned())
                && ids.contains(&"control-plane".to_owned())
        );
        assert!(!ids.iter().any(|i| i.starts_with("sweep")));
    }

    #[test]
    fn slo_overall_carries_each_runs_compliance() {
        let rep = report(vec![
            run("fifo", 30, 1, RunParams::default()),
            run("edf", 30, 9, RunParams::default()),
        ]);
        let slo = slo_overall(&name_runs(&[("r", &rep)]));
        assert_eq!(
            slo.series[1].points,
            vec![Point::new(0.0, rep.runs[1].summary.slo_compliance * 100.0)]
        );
    }
}
