//! Building an imported [`Report`] and its runs from what a file carries.

use crate::metrics::{LatencyHistograms, RunAggregates, Summary};
use crate::report::{GpuSection, Report};
use crate::report::{
    ImportInfo, PolicyRun, PolicySwitch, ReportKind, ReportedLatency, ReportedMetrics, RunParams,
    ToolInfo,
};
use std::collections::BTreeMap;

/// Our metrics, by the words [`ImportInfo::lacks`] uses, that an imported run may lack.
pub(crate) fn lacks(m: &ReportedMetrics, histograms: &LatencyHistograms) -> Vec<String> {
    let mut out = Vec::new();
    let mut lack = |missing: bool, what: &str| {
        if missing {
            out.push(what.to_owned());
        }
    };
    lack(m.ttft.is_none(), "TTFT");
    lack(m.itl.is_none(), "ITL (gaps between chunks)");
    lack(m.tpot.is_none(), "TPOT");
    lack(m.e2e.is_none(), "end-to-end latency");
    lack(m.output_tokens_per_s.is_none(), "output tokens per second");
    lack(m.requests_failed.is_none(), "failed requests");
    lack(
        histograms.ttft.is_empty() && histograms.e2e.is_empty(),
        "per-request values (distributions)",
    );
    for what in [
        "SLO compliance and goodput (no SLO was set)",
        "send lateness (latency from the intended send time)",
        "server-reported queue time",
        "breakdowns by priority, model and request type",
        "per-second series",
        "control-plane metrics and GPU samples",
    ] {
        out.push(what.to_owned());
    }
    out
}

/// One imported run: the reported numbers (also copied into the summary's counts and rates,
/// zero where the file has none) and the histograms of the per-request values.
pub(crate) fn run(
    policy: String,
    params: RunParams,
    reported: ReportedMetrics,
    histograms: LatencyHistograms,
    started_at: Option<String>,
) -> PolicyRun {
    let summary = Summary {
        requests_total: reported.requests_total.unwrap_or(0),
        requests_succeeded: reported.requests_succeeded.unwrap_or(0),
        requests_failed: reported.requests_failed.unwrap_or(0),
        duration_s: reported.duration_s.unwrap_or(0.0),
        request_throughput_rps: reported.request_throughput_rps.unwrap_or(0.0),
        input_tokens_total: reported.input_tokens_total.unwrap_or(0),
        output_tokens_total: reported.output_tokens_total.unwrap_or(0),
        output_tokens_per_s: reported.output_tokens_per_s.unwrap_or(0.0),
        total_tokens_per_s: reported.total_tokens_per_s.unwrap_or(0.0),
        ..Summary::default()
    };
    let aggregates = RunAggregates {
        summary,
        histograms,
        ..RunAggregates::default()
    };
    let mut run = PolicyRun::from_aggregates(policy, PolicySwitch::NotSwitched, params, aggregates);
    run.started_at = started_at;
    run.reported = Some(reported);
    run
}

/// The imported report of these runs.
pub(crate) fn report(
    info: ImportInfo,
    created_at: String,
    target: Option<String>,
    runs: Vec<PolicyRun>,
) -> Report {
    let kind = if runs.len() > 1 {
        ReportKind::Sweep
    } else {
        ReportKind::Run
    };
    let workload_requests = runs
        .iter()
        .filter_map(|r| r.reported.as_ref().and_then(|m| m.requests_total))
        .max()
        .unwrap_or(0);
    let mut report = Report::new(
        kind,
        created_at,
        serde_json::Value::Null,
        0,
        String::new(),
        workload_requests,
    );
    report.tool = ToolInfo {
        name: info.tool.clone(),
        version: info
            .tool_version
            .clone()
            .unwrap_or_else(|| "(version not recorded)".into()),
    };
    report.environment.control_plane_url = target;
    report.gpu = GpuSection::not_requested();
    report.runs = runs;
    report.imported = Some(info);
    report
}

/// Reported statistics from a list of `(key, value)` percentiles and the other numbers;
/// `None` when nothing is there.
pub(crate) fn latency(
    count: Option<u64>,
    mean_ms: Option<f64>,
    min_ms: Option<f64>,
    max_ms: Option<f64>,
    stddev_ms: Option<f64>,
    percentiles_ms: BTreeMap<String, f64>,
) -> Option<ReportedLatency> {
    let l = ReportedLatency {
        count,
        mean_ms,
        min_ms,
        max_ms,
        stddev_ms,
        percentiles_ms,
    };
    (!l.is_empty()).then_some(l)
}
