//! Charts of the control plane: its own metrics, sampled from `/admin/metrics` during each run
//! (any numeric field over time, [`field_chart`], and the queue depth, [`queue_depth`]), and
//! where it routed the requests ([`requests_by_instance`]).

use super::runs::NamedRun;
use super::{Axis, ChartKind, ChartSpec, Point, Series, color};
use crate::report::PolicyRun;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write;

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
pub fn keys(runs: &[NamedRun<'_>]) -> Vec<String> {
    let keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.run.control_plane.samples.iter())
        .flat_map(|s| numeric_leaves(&s.value).into_iter().map(|(k, _)| k))
        .collect();
    keys.into_iter().collect()
}

/// One numeric field of a run's control-plane samples: a point (seconds since the start,
/// value) per sample that has the field.
pub fn field_points(run: &PolicyRun, key: &str) -> Vec<Point> {
    run.control_plane
        .samples
        .iter()
        .filter_map(|s| {
            numeric_leaves(&s.value)
                .into_iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| Point::new(s.t_s, v))
        })
        .collect()
}

/// The runs that have control-plane samples.
fn sampled<'a, 'b>(runs: &'b [NamedRun<'a>]) -> impl Iterator<Item = &'b NamedRun<'a>> {
    runs.iter()
        .filter(|r| !r.run.control_plane.samples.is_empty())
}

/// The control-plane field a chart starts with: the first (in [`keys`] order) whose value
/// changes during some run, else the first; `None` without samples.
pub fn preferred_key(runs: &[NamedRun<'_>]) -> Option<String> {
    let keys = keys(runs);
    let varies = |key: &str| {
        runs.iter().any(|r| {
            let points = field_points(r.run, key);
            points
                .split_first()
                .is_some_and(|(first, rest)| rest.iter().any(|p| p.y != first.y))
        })
    };
    keys.iter().find(|k| varies(k)).or(keys.first()).cloned()
}

/// One numeric field of the control plane's samples over each run that has samples.
pub fn field_chart(runs: &[NamedRun<'_>], key: &str) -> ChartSpec {
    ChartSpec {
        id: "control-plane".into(),
        title: format!("Control plane: {key}"),
        note: "Sampled from the control plane's /admin/metrics during each run.".into(),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new(key, ""),
        series: sampled(runs)
            .map(|r| r.series(field_points(r.run, key)))
            .collect(),
    }
}

/// Most queue fields one chart shows.
pub const MAX_QUEUE_KEYS: usize = 4;

/// The control-plane fields that hold a queue depth: those naming a queue (not a queue time or
/// a limit), else those naming waiting requests; at most [`MAX_QUEUE_KEYS`], sorted.
pub fn queue_keys(runs: &[NamedRun<'_>]) -> Vec<String> {
    let keys = keys(runs);
    let lower = |k: &String| k.to_ascii_lowercase();
    let mut out: Vec<String> = keys
        .iter()
        .filter(|k| {
            let l = lower(k);
            l.contains("queue") && !l.contains("time") && !l.contains("max") && !l.contains("limit")
        })
        .cloned()
        .collect();
    if out.is_empty() {
        out = keys
            .iter()
            .filter(|k| {
                let l = lower(k);
                let last = l.rsplit('.').next().unwrap_or(&l);
                last == "waiting" || last.contains("num_requests_waiting")
            })
            .cloned()
            .collect();
    }
    out.truncate(MAX_QUEUE_KEYS);
    out
}

/// The control plane's queue depth over each run that has samples: one line per run and
/// queue field (see [`queue_keys`]).
pub fn queue_depth(runs: &[NamedRun<'_>]) -> ChartSpec {
    let keys = queue_keys(runs);
    let mut series = Vec::new();
    for r in sampled(runs) {
        for key in &keys {
            let points = field_points(r.run, key);
            series.push(Series {
                name: if keys.len() > 1 {
                    format!("{} · {key}", r.name())
                } else {
                    r.name()
                },
                color: color(series.len()),
                points,
            });
        }
    }
    ChartSpec {
        id: "control-plane-queue".into(),
        title: "Control-plane queue depth".into(),
        note: format!(
            "Requests waiting in the control plane's queues ({}), sampled from /admin/metrics during each run.",
            keys.join(", ")
        ),
        kind: ChartKind::Lines { markers: false },
        x: Axis::new("Time since start", "s"),
        y: Axis::new("Queued requests", ""),
        series,
    }
}

/// The backend instances named by any run's responses, sorted.
pub fn instance_names(runs: &[NamedRun<'_>]) -> Vec<String> {
    let names: BTreeSet<&String> = runs.iter().flat_map(|r| r.run.by_instance.keys()).collect();
    names.into_iter().cloned().collect()
}

/// Requests each backend instance got in each run (by the `X-Backend-Instance` header of the
/// responses), with each run's load imbalance in the note.
pub fn requests_by_instance(runs: &[NamedRun<'_>]) -> ChartSpec {
    let names = instance_names(runs);
    let imbalance: Vec<String> = runs
        .iter()
        .filter_map(|r| Some(format!("{} {:.2}", r.name(), r.run.load_imbalance?)))
        .collect();
    let mut note = "Requests whose response named each backend instance (X-Backend-Instance); requests without the header are not shown.".to_owned();
    if !imbalance.is_empty() {
        let _ = write!(
            note,
            " Load imbalance (most requests on one instance / mean per instance): {}.",
            imbalance.join(", ")
        );
    }
    ChartSpec {
        id: "instances".into(),
        title: "Requests by backend instance".into(),
        note,
        kind: ChartKind::Bars {
            categories: names.clone(),
        },
        x: Axis::new("Backend instance", ""),
        y: Axis::new("Requests", ""),
        series: runs
            .iter()
            .map(|r| {
                r.series(
                    names
                        .iter()
                        .enumerate()
                        .filter_map(|(i, n)| {
                            let s = r.run.by_instance.get(n)?;
                            Some(Point::new(i as f64, s.requests as f64))
                        })
                        .collect(),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::{RunParams, TimedValue};

    #[test]
    fn fields_of_the_samples_are_found_and_charted() {
        let mut a = run("fifo", 30, 1, RunParams::default());
        for t in 0..3 {
            a.control_plane.samples.push(TimedValue {
                t_s: f64::from(t),
                value: serde_json::json!({"healthy": 2, "queue": {"depth": t * 2}, "name": "x", "load": [0.5, t]}),
            });
        }
        let rep = report(vec![a, run("prio", 30, 2, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        assert_eq!(
            keys(&runs),
            ["healthy", "load[0]", "load[1]", "queue.depth"]
        );
        assert_eq!(preferred_key(&runs).as_deref(), Some("load[1]"));
        let cp = field_chart(&runs, "queue.depth");
        assert_eq!(cp.series.len(), 1, "runs without samples are left out");
        assert_eq!(cp.series[0].points[2], Point::new(2.0, 4.0));
        assert_eq!(
            numeric_leaves(&serde_json::json!({"a": {"b": [1, {"c": 2.5}]}, "s": "x"})),
            [("a.b[0]".to_owned(), 1.0), ("a.b[1].c".to_owned(), 2.5)]
        );
    }

    #[test]
    fn requests_by_instance_shows_every_instance_of_every_run() {
        let mut a = run("fifo", 10, 1, RunParams::default());
        let mut b = run("prio", 10, 1, RunParams::default());
        let stats = |n: u64| crate::metrics::InstanceStats {
            requests: n,
            ..Default::default()
        };
        a.by_instance.insert("llm-0".into(), stats(6));
        a.by_instance.insert("llm-1".into(), stats(4));
        a.load_imbalance = Some(1.2);
        b.by_instance.insert("llm-1".into(), stats(10));
        b.load_imbalance = Some(1.0);
        let rep = report(vec![a, b, run("none", 10, 1, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        assert_eq!(instance_names(&runs), ["llm-0", "llm-1"]);
        let c = requests_by_instance(&runs);
        assert!(c.has_data());
        assert_eq!(
            c.series[0].points,
            [Point::new(0.0, 6.0), Point::new(1.0, 4.0)]
        );
        assert_eq!(c.series[1].points, [Point::new(1.0, 10.0)]);
        assert!(c.series[2].points.is_empty());
        assert!(c.note.contains("fifo 1.20, prio 1.00"), "{}", c.note);
        let none = report(vec![run("none", 10, 1, RunParams::default())]);
        assert!(!requests_by_instance(&name_runs(&[("r", &none)])).has_data());
    }

    #[test]
    fn queue_depth_prefers_queue_fields() {
        let mut a = run("fifo", 10, 1, RunParams::default());
        for t in 0..3 {
            a.control_plane.samples.push(TimedValue {
                t_s: f64::from(t),
                value: serde_json::json!({"queues": {"llm": t, "embedding": 1}, "queue_time_ms": 3, "max_queue": 9, "instances": [{"waiting": 2}]}),
            });
        }
        let rep = report(vec![a, run("prio", 10, 1, RunParams::default())]);
        let runs = name_runs(&[("r", &rep)]);
        assert_eq!(queue_keys(&runs), ["queues.embedding", "queues.llm"]);
        let q = queue_depth(&runs);
        assert_eq!(q.series.len(), 2, "runs without samples are left out");
        assert_eq!(q.series[1].name, "fifo · queues.llm");
        assert_eq!(q.series[1].points[2], Point::new(2.0, 2.0));

        let mut b = run("fifo", 10, 1, RunParams::default());
        b.control_plane.samples.push(TimedValue {
            t_s: 0.0,
            value: serde_json::json!({"instances": [{"waiting": 2}], "num_requests_waiting": 4}),
        });
        let rep = report(vec![b]);
        assert_eq!(
            queue_keys(&name_runs(&[("r", &rep)])),
            ["instances[0].waiting", "num_requests_waiting"]
        );
    }
}
