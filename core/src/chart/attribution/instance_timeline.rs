//! Each backend instance over time, per run: the requests and tokens routed to it per second
//! (by the responses' `X-Backend-Instance` header, [`InstanceStats`]), and its running and
//! waiting requests and KV-cache use where the telemetry polled during the run has them
//! (the reference control plane's `cp/instances.<id>.running`, `.waiting` and
//! `.kv_cache_usage`; a scraped vLLM's `vllm:num_requests_running`,
//! `vllm:num_requests_waiting` and `vllm:kv_cache_usage_perc` or `vllm:gpu_cache_usage_perc`;
//! SGLang's `sglang:num_running_reqs`, `sglang:num_queue_reqs` and `sglang:token_usage`).

use crate::chart::runs::NamedRun;
use crate::chart::{Axis, ChartKind, ChartSpec, Point, Series, color};
use crate::metrics::InstanceStats;
use crate::report::PolicyRun;

/// What a per-instance chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceQuantity {
    /// Requests routed per second.
    Requests,
    /// Input plus output tokens routed per second.
    Tokens,
    /// Requests running on the instance.
    Running,
    /// Requests waiting on the instance.
    Waiting,
    /// KV-cache use, percent.
    KvCache,
}

impl InstanceQuantity {
    /// Every quantity, in the order the reports show them.
    pub const ALL: [InstanceQuantity; 5] = [
        Self::Requests,
        Self::Tokens,
        Self::Running,
        Self::Waiting,
        Self::KvCache,
    ];

    /// A stable id (`requests`, `kv-cache`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Tokens => "tokens",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::KvCache => "kv-cache",
        }
    }

    /// The quantity of an id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.as_str() == s)
    }

    /// What it is, for menus.
    pub fn label(self) -> &'static str {
        match self {
            Self::Requests => "Requests routed per second",
            Self::Tokens => "Tokens routed per second",
            Self::Running => "Running requests",
            Self::Waiting => "Waiting requests",
            Self::KvCache => "KV-cache use",
        }
    }

    fn axis(self) -> Axis {
        match self {
            Self::Requests => Axis::new("Requests routed", "req/s"),
            Self::Tokens => Axis::new("Tokens routed (input + output)", "tok/s"),
            Self::Running => Axis::new("Running requests", ""),
            Self::Waiting => Axis::new("Waiting requests", ""),
            Self::KvCache => Axis::new("KV-cache use", "%"),
        }
    }

    fn note(self) -> &'static str {
        match self {
            Self::Requests | Self::Tokens => {
                "Per backend instance (X-Backend-Instance of the responses), by the second each request was due; tokens are the input plus output tokens of its successful requests."
            }
            Self::Running | Self::Waiting | Self::KvCache => {
                "Per backend instance, as polled during the run from the control plane's /admin/metrics or a scraped vLLM/SGLang /metrics."
            }
        }
    }

    /// The telemetry series (`cp/instances.<id>.<field>`, `<source>/<metric>{...}`) of this
    /// quantity, their instance, and the factor to percent (KV use is a fraction in most).
    fn series_instance(self, name: &str) -> Option<(String, f64)> {
        let (src, rest) = name.split_once('/')?;
        if src == "cp" {
            let (id, field) = rest.strip_prefix("instances.")?.rsplit_once('.')?;
            let ok = match self {
                Self::Running => field == "running",
                Self::Waiting => field == "waiting",
                Self::KvCache => field == "kv_cache_usage",
                Self::Requests | Self::Tokens => false,
            };
            return ok.then(|| {
                (
                    id.to_owned(),
                    if self == Self::KvCache { 100.0 } else { 1.0 },
                )
            });
        }
        let (metric, labels) = rest.split_once('{').unwrap_or((rest, ""));
        let ok = match self {
            Self::Running => {
                ["vllm:num_requests_running", "sglang:num_running_reqs"].contains(&metric)
            }
            Self::Waiting => {
                ["vllm:num_requests_waiting", "sglang:num_queue_reqs"].contains(&metric)
            }
            Self::KvCache => [
                "vllm:kv_cache_usage_perc",
                "vllm:gpu_cache_usage_perc",
                "sglang:token_usage",
            ]
            .contains(&metric),
            Self::Requests | Self::Tokens => false,
        };
        let labels = labels.trim_end_matches('}');
        let instance = if labels.is_empty() {
            src.to_owned()
        } else {
            format!("{src}{{{labels}}}")
        };
        ok.then(|| (instance, if self == Self::KvCache { 100.0 } else { 1.0 }))
    }
}

/// One run's lines of `q`: `(instance, points)`, sorted by instance.
pub fn instance_lines(run: &PolicyRun, q: InstanceQuantity) -> Vec<(String, Vec<Point>)> {
    // Counts per bucket of the run's series, as rates per second at each bucket's start.
    let bucket_s = run.time_series.bucket_s.max(1) as f64;
    let per_second = |f: fn(&InstanceStats) -> &Vec<u64>| {
        run.by_instance
            .iter()
            .map(|(name, s)| {
                let points = f(s)
                    .iter()
                    .enumerate()
                    .map(|(t, &n)| Point::new(t as f64 * bucket_s, n as f64 / bucket_s))
                    .collect();
                (name.clone(), points)
            })
            .collect()
    };
    match q {
        InstanceQuantity::Requests => per_second(|s| &s.requests_per_s),
        InstanceQuantity::Tokens => per_second(|s| &s.tokens_per_s),
        _ => run
            .series
            .iter()
            .filter_map(|(name, points)| {
                let (instance, scale) = q.series_instance(name)?;
                let points = points
                    .iter()
                    .map(|p| Point::new(p.t_s, p.value * scale))
                    .collect();
                Some((instance, points))
            })
            .collect(),
    }
}

/// `q` per instance over time: one line per run and instance (`run · instance`).
pub fn chart(runs: &[NamedRun<'_>], q: InstanceQuantity) -> ChartSpec {
    let mut series = Vec::new();
    for r in runs {
        for (instance, points) in instance_lines(r.run, q) {
            if points.is_empty() {
                continue;
            }
            series.push(Series {
                name: format!("{} · {instance}", r.name()),
                color: color(series.len()),
                points,
            });
        }
    }
    ChartSpec {
        id: format!("instance-{}", q.as_str()),
        title: format!("{} by backend instance", q.label()),
        note: q.note().into(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: q.axis(),
        series,
    }
}

/// The quantities some run has per-instance data of.
pub fn available(runs: &[NamedRun<'_>]) -> Vec<InstanceQuantity> {
    InstanceQuantity::ALL
        .into_iter()
        .filter(|&q| {
            runs.iter()
                .any(|r| instance_lines(r.run, q).iter().any(|(_, p)| !p.is_empty()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::{RunParams, SeriesPoint};

    #[test]
    fn routed_load_and_polled_gauges_per_instance() {
        let mut a = run("cache_aware", 10, 1, RunParams::default());
        a.by_instance.insert(
            "llm-0".into(),
            InstanceStats {
                requests: 3,
                requests_per_s: vec![2, 1],
                tokens_per_s: vec![200, 90],
                ..Default::default()
            },
        );
        let p = |t: f64, v: f64| SeriesPoint { t_s: t, value: v };
        a.series.insert(
            "cp/instances.llm-0.running".into(),
            vec![p(0.0, 1.0), p(1.0, 3.0)],
        );
        a.series.insert(
            "cp/instances.llm-0.kv_cache_usage".into(),
            vec![p(0.5, 0.25)],
        );
        a.series.insert("cp/queues.llm".into(), vec![p(0.0, 4.0)]);
        a.series.insert(
            "10.0.0.5:8000/vllm:num_requests_waiting{model_name=\"m\"}".into(),
            vec![p(0.0, 7.0)],
        );
        let rep = report(vec![a, run("fifo", 10, 1, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        let req = chart(&runs, InstanceQuantity::Requests);
        assert_eq!(req.series.len(), 1);
        assert_eq!(req.series[0].name, "cache_aware · llm-0");
        assert_eq!(
            req.series[0].points,
            [Point::new(0.0, 2.0), Point::new(1.0, 1.0)]
        );
        let tok = chart(&runs, InstanceQuantity::Tokens);
        assert_eq!(tok.series[0].points[0], Point::new(0.0, 200.0));
        let kv = chart(&runs, InstanceQuantity::KvCache);
        assert_eq!(kv.series[0].points, [Point::new(0.5, 25.0)]);
        let waiting = chart(&runs, InstanceQuantity::Waiting);
        assert_eq!(
            waiting.series[0].name,
            "cache_aware · 10.0.0.5:8000{model_name=\"m\"}"
        );
        assert_eq!(available(&runs), InstanceQuantity::ALL.to_vec());
        let none = report(vec![run("fifo", 10, 1, RunParams::default())]);
        assert!(available(&name_runs(&[("r", &none)])).is_empty());
    }
}
