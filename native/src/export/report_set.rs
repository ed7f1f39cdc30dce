//! Which charts a report gets: every chart of `core::chart` that this report has data for,
//! in the order the HTML and Markdown reports show them.

use crate::settings::{self, Resolved};
use cpbench_core::chart::attribution::{instance_timeline, ttft_split};
use cpbench_core::chart::guide::{Guide, GuidedChart, slo_target_guide};
use cpbench_core::chart::metric::{Breakdown, GpuMetric, LatencyMetric, Percentile, SeriesField};
use cpbench_core::chart::runs::name_runs;
use cpbench_core::chart::{
    ChartSpec, compare, control_plane, distribution, intervals, request_mix,
};
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::experiment::{ExperimentSummary, ThroughputCriteria};
use cpbench_core::report::Report;
use cpbench_core::request::RequestKind;
use std::collections::BTreeMap;
use std::path::Path;

/// Per-run latency histograms are drawn for at most this many runs (the CDFs show them all).
pub const MAX_HISTOGRAM_RUNS: usize = 6;

/// The charts of a report and what was left out.
#[derive(Debug, Clone)]
pub struct ReportCharts {
    /// The charts with data, in display order; ids are unique.
    pub charts: Vec<GuidedChart>,
    /// Why a chart the reader might expect is missing (one sentence each).
    pub notes: Vec<String>,
}

/// The SLO compliance target the SLO charts mark: the experiment's threshold when the report
/// is a throughput experiment, else the default threshold of that experiment (90 %).
pub fn slo_target(report: &Report) -> f64 {
    experiment_summary(report)
        .and_then(|s| s.criteria)
        .map_or(ThroughputCriteria::default().slo_threshold, |c| {
            c.slo_threshold
        })
}

/// The report's experiment summary, when it has one that this build reads.
pub fn experiment_summary(report: &Report) -> Option<ExperimentSummary> {
    report
        .experiment
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The number of inputs of each embedding request of each run, recovered by generating the
/// run's workload again from the report's config and seed (with the run's rate and LLM ratio);
/// a config naming a dataset or trace file reads it relative to `base_dir`. A run whose
/// regenerated workload does not match its records (kind and prompt-size estimate of every
/// embedding request) gets an empty map: its records are not charted against batch sizes.
pub fn embedding_inputs(report: &Report, base_dir: &Path) -> Vec<BTreeMap<u64, u32>> {
    let Ok(config) = serde_json::from_value::<BenchmarkConfig>(report.config.clone()) else {
        return vec![BTreeMap::new(); report.runs.len()];
    };
    report
        .runs
        .iter()
        .map(|run| {
            let records = run.sampled_records();
            if !records.iter().any(|r| r.kind == RequestKind::Embedding) {
                return BTreeMap::new();
            }
            let mut c = config.clone();
            if let Some(rate) = run.params.request_rate_rps {
                c.request_rate = rate;
            }
            if let Some(ratio) = run.params.llm_ratio {
                c.set_llm_ratio(ratio);
            }
            let resolved = Resolved {
                config: c,
                base_dir: base_dir.to_path_buf(),
            };
            let Ok(w) = settings::workload(&resolved) else {
                return BTreeMap::new();
            };
            let by_id: BTreeMap<u64, _> = w.requests.iter().map(|s| (s.id, s)).collect();
            let mut out = BTreeMap::new();
            for r in records.iter().filter(|r| r.kind == RequestKind::Embedding) {
                match by_id.get(&r.id) {
                    Some(s)
                        if s.kind == RequestKind::Embedding
                            && s.prompt_tokens_est == r.prompt_tokens_est =>
                    {
                        out.insert(r.id, s.num_inputs());
                    }
                    _ => return BTreeMap::new(),
                }
            }
            out
        })
        .collect()
}

/// The charts of `report` that have data. `inputs` is [`embedding_inputs`] (or empty maps).
pub fn report_charts(report: &Report, inputs: &[BTreeMap<u64, u32>]) -> ReportCharts {
    let files = [("", report)];
    let runs = name_runs(&files);
    let target = slo_target(report);
    let mut notes = Vec::new();
    let mut out: Vec<GuidedChart> = Vec::new();
    let plain = |s: ChartSpec| GuidedChart::plain(s);

    for c in intervals::INTERVAL_COLUMNS {
        out.extend(intervals::over_trials(&runs, c).map(plain));
    }
    if intervals::has_trials(&runs) {
        notes.push(
            "Repeated trials: the charts of single runs (distributions, time series) show each policy's first trial."
                .into(),
        );
    }
    out.push(plain(compare::throughput(&runs)));
    out.push(plain(compare::token_throughput(&runs)));
    if compare::has_sweep(&runs) {
        out.push(
            plain(compare::sweep_throughput(&runs)).with(Guide::Identity {
                label: "offered = achieved".into(),
            }),
        );
        for metric in [LatencyMetric::Ttft, LatencyMetric::E2e] {
            let mut spec = compare::sweep_latency(&runs, metric, Percentile::P99);
            spec.id = format!("sweep-latency-{}", metric.as_str());
            out.push(plain(spec));
        }
    }
    out.push(plain(compare::latency_percentiles(
        &runs,
        LatencyMetric::Ttft,
    )));
    out.push(plain(compare::latency_percentiles(
        &runs,
        LatencyMetric::E2e,
    )));
    if runs.len() <= MAX_HISTOGRAM_RUNS {
        out.extend(
            runs.iter()
                .filter_map(|r| distribution::latency_histogram(r, LatencyMetric::E2e)),
        );
    } else {
        notes.push(format!(
            "Latency histograms are drawn for reports of at most {MAX_HISTOGRAM_RUNS} runs; this one has {}, so the CDFs show their distributions.",
            runs.len()
        ));
    }
    out.push(plain(distribution::cdf(&runs, LatencyMetric::Ttft)));
    out.push(plain(distribution::cdf(&runs, LatencyMetric::E2e)));
    out.push(plain(compare::slo_overall(&runs)).with(slo_target_guide(target)));
    out.push(
        plain(compare::slo_compliance_by(&runs, Breakdown::Priority))
            .with(slo_target_guide(target)),
    );
    out.push(plain(compare::goodput_by(&runs, Breakdown::Priority)));
    out.push(plain(compare::latency_by(
        &runs,
        LatencyMetric::Ttft,
        Percentile::P99,
        Breakdown::Priority,
    )));
    if request_mix::has_llm_and_embedding(&runs) {
        out.push(plain(request_mix::request_types(&runs)));
        out.push(
            plain(compare::slo_compliance_by(&runs, Breakdown::Kind))
                .with(slo_target_guide(target)),
        );
        out.push(plain(request_mix::llm_vs_embedding_latency(&runs)));
    }
    if request_mix::has_ratios(&runs) {
        out.push(plain(request_mix::mixed_ratio_slo(&runs)).with(slo_target_guide(target)));
        out.push(plain(request_mix::mixed_ratio_latency(&runs)));
    }
    let has_embedding_records = runs.iter().any(|r| {
        r.run
            .sampled_records()
            .iter()
            .any(|x| x.kind == RequestKind::Embedding)
    });
    let batch = request_mix::embedding_batch_efficiency(&runs, inputs);
    if batch.has_data() {
        out.push(plain(batch));
    } else if has_embedding_records {
        notes.push("Embedding batch efficiency is left out: the inputs per request could not be recovered from the report's config (its workload could not be generated again, or did not match the records).".into());
    } else if runs.iter().any(|r| r.run.by_kind.contains_key("embedding")) {
        notes.push("Embedding batch efficiency needs the per-request records, which this report does not keep (--no-records).".into());
    }
    out.push(plain(compare::time_series(&runs, SeriesField::Completed)));
    out.push(plain(compare::lateness(&runs)));
    if compare::has_gpu(&runs) {
        out.push(plain(compare::gpu(&runs, GpuMetric::Utilization)));
        out.push(plain(compare::gpu(&runs, GpuMetric::MemoryUsed)));
    }
    if !control_plane::queue_keys(&runs).is_empty() {
        out.push(plain(control_plane::queue_depth(&runs)));
    } else if let Some(key) = control_plane::preferred_key(&runs) {
        out.push(plain(control_plane::field_chart(&runs, &key)));
    }
    out.push(plain(control_plane::requests_by_instance(&runs)));
    for q in instance_timeline::available(&runs) {
        out.push(plain(instance_timeline::chart(&runs, q)));
    }
    out.push(plain(ttft_split::chart(&runs)));
    out.retain(|c| c.spec.has_data());
    // Ids name files: keep them unique.
    let mut seen = std::collections::BTreeSet::new();
    for c in &mut out {
        let base = c.spec.id.clone();
        let mut n = 2;
        while !seen.insert(c.spec.id.clone()) {
            c.spec.id = format!("{base}-{n}");
            n += 1;
        }
    }
    ReportCharts { charts: out, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
    use cpbench_core::report::{
        GpuSample, PolicyRun, PolicySwitch, ReportKind, RunParams, TimedValue,
    };
    use cpbench_core::request::Priority;
    use cpbench_core::slo::SloTargets;
    use std::collections::BTreeSet;

    fn run(policy: &str, params: RunParams, embeddings: bool) -> PolicyRun {
        let records = (0..20u64)
            .map(|id| {
                let intended_us = id * 50_000;
                let emb = embeddings && id % 4 == 3;
                let kind = if emb {
                    RequestKind::Embedding
                } else {
                    RequestKind::LlmChat
                };
                let priority = Priority::ALL[(id % 3) as usize];
                RequestRecord {
                    first_token_us: Some(intended_us + 10_000 + id * 1000),
                    end_us: intended_us + 80_000 + id * 9000,
                    itl_us: vec![5_000; 3],
                    outcome: Outcome::Success,
                    output_tokens: 4,
                    output_tokens_source: TokenSource::Usage,
                    chunks: 4,
                    input_tokens: Some(10),
                    backend_instance: embeddings.then(|| format!("gpu-{}", id % 2)),
                    ..RequestRecord::new(id, kind, priority, "m", 500, 10, intended_us)
                }
            })
            .collect();
        PolicyRun::from_records(
            policy,
            PolicySwitch::Verified,
            params,
            records,
            &SloTargets::default(),
            true,
        )
    }

    /// A report of this kind holding these runs.
    fn report(kind: ReportKind, runs: Vec<PolicyRun>) -> Report {
        let mut r = Report::new(kind, "t", serde_json::Value::Null, 1, "h", 20);
        r.runs = runs;
        r
    }

    fn ids(c: &ReportCharts) -> Vec<&str> {
        c.charts.iter().map(|c| c.spec.id.as_str()).collect()
    }

    #[test]
    fn a_plain_comparison_gets_the_standard_charts_only() {
        let r = report(
            ReportKind::Compare,
            vec![
                run("fifo", RunParams::default(), false),
                run("priority", RunParams::default(), false),
            ],
        );
        let c = report_charts(&r, &[]);
        let ids = ids(&c);
        assert_eq!(
            ids,
            [
                "throughput",
                "token-throughput",
                "latency-ttft",
                "latency-e2e",
                "hist-e2e-0",
                "hist-e2e-1",
                "cdf-ttft",
                "cdf-e2e",
                "slo-overall",
                "slo-by-priority",
                "goodput-by-priority",
                "latency-by-priority",
                "time-completed",
                "lateness"
            ]
        );
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(c.notes.is_empty());
        assert_eq!(
            c.charts[8].guides,
            vec![Guide::Horizontal {
                y: 90.0,
                label: "SLO target 90%".into()
            }]
        );
    }

    #[test]
    fn sweeps_ratios_gpu_and_queues_add_their_charts() {
        let p = |rate: f64, ratio: f64| RunParams {
            request_rate_rps: Some(rate),
            llm_ratio: Some(ratio),
            label: None,
            trial: None,
        };
        let mut a = run("fifo", p(10.0, 0.5), true);
        a.gpu_samples.push(GpuSample {
            t_s: 0.0,
            index: 0,
            utilization_pct: Some(50.0),
            memory_used_mib: Some(1000.0),
            memory_total_mib: Some(8000.0),
            power_w: None,
            temperature_c: None,
            sm_clock_mhz: None,
            read_errors: 0,
        });
        a.control_plane.samples.push(TimedValue {
            t_s: 0.0,
            value: serde_json::json!({"queues": {"llm": 3}}),
        });
        let r = report(
            ReportKind::Experiment,
            vec![a, run("fifo", p(20.0, 0.75), true)],
        );
        let inputs: Vec<BTreeMap<u64, u32>> = vec![(0..20).map(|id| (id, 8)).collect(); 2];
        let c = report_charts(&r, &inputs);
        let all = ids(&c);
        for id in [
            "sweep-throughput",
            "sweep-latency-ttft",
            "sweep-latency-e2e",
            "request-types",
            "slo-by-kind",
            "latency-by-type",
            "mixed-ratio-slo",
            "mixed-ratio-latency",
            "embedding-batch",
            "gpu-utilization",
            "gpu-memory",
            "control-plane-queue",
            "instances",
        ] {
            assert!(all.contains(&id), "{id} in {all:?}");
        }
        let sweep = c
            .charts
            .iter()
            .find(|c| c.spec.id == "sweep-throughput")
            .unwrap();
        assert_eq!(
            sweep.guides,
            vec![Guide::Identity {
                label: "offered = achieved".into()
            }]
        );
        let unique: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(unique.len(), all.len(), "ids name files: {all:?}");
        // Without input counts the batch chart is left out, with a note.
        let c = report_charts(&r, &[]);
        assert!(!ids(&c).contains(&"embedding-batch"));
        assert_eq!(c.notes.len(), 1);
    }

    #[test]
    fn experiment_threshold_is_the_slo_target() {
        let mut r = report(ReportKind::Experiment, Vec::new());
        assert_eq!(slo_target(&r), 0.9);
        r.experiment = Some(serde_json::json!({
            "name": "throughput", "best_policy": null, "best_by": "x",
            "criteria": {"tolerance": 0.1, "slo_threshold": 0.75}
        }));
        assert_eq!(slo_target(&r), 0.75);
    }
}
