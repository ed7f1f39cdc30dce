//! Charts of the request mix: requests by type, LLM against embedding latency, SLO compliance
//! and latency against the LLM share of the workload (mixed-ratio runs), and the latency per
//! input of embedding requests by batch size.

use super::metric::Breakdown;
use super::runs::NamedRun;
use super::{Axis, ChartKind, ChartSpec, Point, Series, color};
use crate::record::RequestRecord;
use crate::request::RequestKind;
use std::collections::{BTreeMap, BTreeSet};

/// Whether any run has an LLM ratio (a mixed-ratio experiment or a hybrid sweep).
pub fn has_ratios(runs: &[NamedRun<'_>]) -> bool {
    runs.iter().any(|r| r.run.params.llm_ratio.is_some())
}

/// Runs with a ratio grouped by [`NamedRun::ratio_group`], in first-seen order; within a group sorted
/// by ratio.
fn ratio_groups<'a, 'b>(runs: &'b [NamedRun<'a>]) -> Vec<(String, Vec<&'b NamedRun<'a>>)> {
    let mut groups: Vec<(String, Vec<&NamedRun<'a>>)> = Vec::new();
    for r in runs.iter().filter(|r| r.run.params.llm_ratio.is_some()) {
        let key = r.ratio_group();
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    for g in &mut groups {
        g.1.sort_by(|a, b| {
            let x = a.run.params.llm_ratio.unwrap_or(0.0);
            let y = b.run.params.llm_ratio.unwrap_or(0.0);
            x.total_cmp(&y)
        });
    }
    groups
}

/// SLO compliance of all requests against the LLM share of the workload, one line per policy
/// (runs with an LLM ratio).
pub fn mixed_ratio_slo(runs: &[NamedRun<'_>]) -> ChartSpec {
    ChartSpec {
        id: "mixed-ratio-slo".into(),
        title: "SLO compliance vs LLM share".into(),
        note: "Requests that met their SLO, percent of all requests, at each share of LLM requests in the workload (the rest are embeddings).".into(),
        kind: ChartKind::Lines { markers: true },
        x: Axis::new("LLM share of requests", "%"),
        y: Axis::new("SLO compliance", "%"),
        series: ratio_groups(runs)
            .into_iter()
            .enumerate()
            .map(|(i, (name, rs))| Series {
                name,
                color: color(i),
                points: rs
                    .iter()
                    .map(|r| {
                        Point::new(
                            r.run.params.llm_ratio.unwrap_or(0.0) * 100.0,
                            r.run.summary.slo_compliance * 100.0,
                        )
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The p99 end-to-end latency of each request type against the LLM share of the workload:
/// one line per policy and type (runs with an LLM ratio).
pub fn mixed_ratio_latency(runs: &[NamedRun<'_>]) -> ChartSpec {
    let mut series = Vec::new();
    for (name, rs) in ratio_groups(runs) {
        for kind in RequestKind::ALL {
            let points: Vec<Point> = rs
                .iter()
                .filter_map(|r| {
                    let e2e = r.run.by_kind.get(kind.as_str())?.e2e.as_ref()?;
                    Some(Point::new(
                        r.run.params.llm_ratio.unwrap_or(0.0) * 100.0,
                        e2e.p99_ms,
                    ))
                })
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: format!("{name} · {kind}"),
                    color: color(series.len()),
                    points,
                });
            }
        }
    }
    ChartSpec {
        id: "mixed-ratio-latency".into(),
        title: "E2E p99 by request type vs LLM share".into(),
        note: "99th percentile end-to-end latency of each request type's successful requests, at each share of LLM requests.".into(),
        kind: ChartKind::Lines { markers: true },
        x: Axis::new("LLM share of requests", "%"),
        y: Axis::new("E2E p99", "ms"),
        series,
    }
}

/// The median of some values (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Embedding batch efficiency: the median end-to-end latency per input of each run's
/// successful embedding requests, by the number of inputs in the request.
/// `inputs[i]` maps request ids of `runs[i]` to their number of inputs (the records do not
/// hold it; the workload does); a run without records or without an entry has no bars. The
/// records are each run's sample (every record of a run of at most the sample's limit).
pub fn embedding_batch_efficiency(
    runs: &[NamedRun<'_>],
    inputs: &[BTreeMap<u64, u32>],
) -> ChartSpec {
    let per_run: Vec<BTreeMap<u32, Vec<f64>>> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut by: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
            let Some(map) = inputs.get(i) else {
                return by;
            };
            let records: &[RequestRecord] = r.run.sampled_records();
            for rec in records
                .iter()
                .filter(|rec| rec.kind == RequestKind::Embedding && rec.outcome.is_success())
            {
                if let Some(&n) = map.get(&rec.id).filter(|n| **n > 0) {
                    by.entry(n).or_default().push(rec.e2e_ms() / f64::from(n));
                }
            }
            by
        })
        .collect();
    let sizes: Vec<u32> = per_run
        .iter()
        .flat_map(|m| m.keys().copied())
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    ChartSpec {
        id: "embedding-batch".into(),
        title: "Embedding latency per input by batch size".into(),
        note: format!(
            "Median end-to-end latency of successful embedding requests divided by their number of inputs; lower means the batch was served more efficiently.{}",
            sample_note(runs)
        ),
        kind: ChartKind::Bars {
            categories: sizes.iter().map(|n| n.to_string()).collect(),
        },
        x: Axis::new("Inputs per request", ""),
        y: Axis::new("Median E2E per input", "ms"),
        series: runs
            .iter()
            .zip(per_run)
            .map(|(r, mut by)| {
                r.series(
                    sizes
                        .iter()
                        .enumerate()
                        .filter_map(|(i, n)| {
                            median(by.remove(n).unwrap_or_default())
                                .map(|m| Point::new(i as f64, m))
                        })
                        .collect(),
                )
            })
            .collect(),
    }
}

/// A sentence saying how many records a per-request chart was drawn from, when a run kept only
/// a sample of them; empty when every run kept all its records.
pub fn sample_note(runs: &[NamedRun<'_>]) -> String {
    let sampled: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            let s = r.run.records_sample.as_ref().filter(|s| !s.is_complete())?;
            Some(format!(
                "{} of {} in {}",
                s.records.len(),
                s.total,
                r.name()
            ))
        })
        .collect();
    if sampled.is_empty() {
        String::new()
    } else {
        format!(
            " Drawn from a sample of the requests ({}), chosen by request id.",
            sampled.join(", ")
        )
    }
}

/// Measured requests of each type in each run.
pub fn request_types(runs: &[NamedRun<'_>]) -> ChartSpec {
    let keys = Breakdown::Kind.keys(runs);
    ChartSpec {
        id: "request-types".into(),
        title: "Requests by type".into(),
        note: "Measured requests of each type (successful and failed).".into(),
        kind: ChartKind::Bars {
            categories: keys.clone(),
        },
        x: Axis::new("", ""),
        y: Axis::new("Requests", ""),
        series: runs
            .iter()
            .map(|r| {
                r.series(
                    keys.iter()
                        .enumerate()
                        .filter_map(|(i, k)| {
                            r.run
                                .by_kind
                                .get(k)
                                .map(|s| Point::new(i as f64, s.requests_total as f64))
                        })
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Whether the runs hold both LLM and embedding requests.
pub fn has_llm_and_embedding(runs: &[NamedRun<'_>]) -> bool {
    let kinds: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.run.by_kind.keys().map(String::as_str))
        .collect();
    kinds.contains("embedding") && kinds.iter().any(|k| *k != "embedding")
}

/// End-to-end latency p50 and p99 of each request type (LLM kinds and embeddings side by side).
pub fn llm_vs_embedding_latency(runs: &[NamedRun<'_>]) -> ChartSpec {
    let kinds = Breakdown::Kind.keys(runs);
    let categories: Vec<(String, &str, bool)> = kinds
        .iter()
        .flat_map(|k| {
            [
                (format!("{k} p50"), k.as_str(), false),
                (format!("{k} p99"), k.as_str(), true),
            ]
        })
        .collect();
    ChartSpec {
        id: "latency-by-type".into(),
        title: "LLM vs embedding latency".into(),
        note: "End-to-end latency p50 and p99 of each request type's successful requests.".into(),
        kind: ChartKind::Bars {
            categories: categories.iter().map(|c| c.0.clone()).collect(),
        },
        x: Axis::new("", ""),
        y: Axis::new("E2E", "ms"),
        series: runs
            .iter()
            .map(|r| {
                r.series(
                    categories
                        .iter()
                        .enumerate()
                        .filter_map(|(i, (_, kind, p99))| {
                            let e = r.run.by_kind.get(*kind)?.e2e.as_ref()?;
                            Some(Point::new(i as f64, if *p99 { e.p99_ms } else { e.p50_ms }))
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
    use crate::chart::fixtures::{report, run, run_with_records};
    use crate::chart::runs::name_runs;
    use crate::report::RunParams;

    #[test]
    fn type_breakdowns_carry_the_summary_numbers() {
        let rep = report(vec![
            run("fifo", 30, 1, RunParams::default()),
            run("edf", 30, 9, RunParams::default()),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        assert!(has_llm_and_embedding(&runs));
        let t = request_types(&runs);
        assert_eq!(
            t.kind,
            ChartKind::Bars {
                categories: vec!["llm_chat".into(), "embedding".into()]
            }
        );
        let ys: Vec<f64> = t.series[0].points.iter().map(|p| p.y).collect();
        assert_eq!(ys, [24.0, 6.0]);
        let l = llm_vs_embedding_latency(&runs);
        let emb = rep.runs[1].by_kind["embedding"].e2e.unwrap();
        assert_eq!(l.series[1].points[3], Point::new(3.0, emb.p99_ms));
        assert_eq!(l.series[1].points[2], Point::new(2.0, emb.p50_ms));
    }

    #[test]
    fn mixed_ratio_groups_policies_and_sorts_by_share() {
        let p = |r: f64| RunParams {
            llm_ratio: Some(r),
            ..RunParams::default()
        };
        let rep = report(vec![
            run("fifo", 20, 1, p(1.0)),
            run("fifo", 20, 1, p(0.5)),
            run("hybrid", 20, 2, p(0.5)),
            run("hybrid", 20, 2, p(1.0)),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        assert!(has_ratios(&runs));
        let s = mixed_ratio_slo(&runs);
        assert_eq!(
            s.series.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
            ["fifo", "hybrid"]
        );
        assert_eq!(
            s.series[0].points,
            vec![
                Point::new(50.0, rep.runs[1].summary.slo_compliance * 100.0),
                Point::new(100.0, rep.runs[0].summary.slo_compliance * 100.0)
            ]
        );
        let l = mixed_ratio_latency(&runs);
        assert_eq!(
            l.series.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
            [
                "fifo · llm_chat",
                "fifo · embedding",
                "hybrid · llm_chat",
                "hybrid · embedding"
            ]
        );
        assert_eq!(
            l.series[1].points[0].y,
            rep.runs[1].by_kind["embedding"].e2e.unwrap().p99_ms
        );
        let plain = report(vec![run("fifo", 5, 1, RunParams::default())]);
        assert!(!has_ratios(&name_runs(&[("r", &plain)])));
    }

    #[test]
    fn embedding_batches_use_the_given_input_counts() {
        let rep = report(vec![
            run_with_records("fifo", 30, 1),
            run_with_records("edf", 30, 2),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        // Embeddings are ids 4, 9, 14, 19, 24, 29; give them 1 or 8 inputs.
        let inputs: BTreeMap<u64, u32> = (0..30)
            .filter(|id| id % 5 == 4)
            .map(|id| (id, if id < 15 { 1 } else { 8 }))
            .collect();
        let c = embedding_batch_efficiency(&runs, &[inputs]);
        assert_eq!(
            c.kind,
            ChartKind::Bars {
                categories: vec!["1".into(), "8".into()]
            }
        );
        let recs = rep.runs[0].sampled_records();
        let e2e = |id: u64| recs.iter().find(|r| r.id == id).unwrap().e2e_ms();
        assert_eq!(c.series[0].points[0], Point::new(0.0, e2e(9)));
        // Ids 19, 24 and 29 have 8 inputs: the middle one.
        assert_eq!(c.series[0].points[1], Point::new(1.0, e2e(24) / 8.0));
        assert!(c.series[1].points.is_empty(), "no input counts for run 2");
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }
}
