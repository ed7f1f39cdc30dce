//! The terminal comparison table (the original tool's layout, with more columns) and the
//! "best of" lines under it.

use cpbench_core::chart::compare::run_label;
use cpbench_core::metrics::Summary;
use cpbench_core::report::{PolicyRun, Report};
use std::fmt::Write;

/// One row's numbers, derived from a run.
struct Row {
    label: String,
    throughput_rps: f64,
    output_tok_s: f64,
    ttft_p50: Option<f64>,
    ttft_p99: Option<f64>,
    high_ttft_p99: Option<f64>,
    tpot_p50: Option<f64>,
    e2e_avg: Option<f64>,
    e2e_p99: Option<f64>,
    llm_avg: Option<f64>,
    emb_avg: Option<f64>,
    slo: f64,
    llm_slo: Option<f64>,
    emb_slo: Option<f64>,
    error_rate: f64,
    partial: bool,
}

/// SLO compliance and mean E2E of the LLM kinds together.
fn llm_group(r: &PolicyRun) -> (Option<f64>, Option<f64>) {
    let llm: Vec<&Summary> = r
        .by_kind
        .iter()
        .filter(|(k, _)| k.as_str() != "embedding")
        .map(|(_, s)| s)
        .collect();
    let total: u64 = llm.iter().map(|s| s.requests_total).sum();
    if total == 0 {
        return (None, None);
    }
    let met: u64 = llm.iter().map(|s| s.slo_met).sum();
    let (mut sum, mut n) = (0.0, 0u64);
    for s in &llm {
        if let Some(e) = &s.e2e {
            sum += e.mean_ms * e.count as f64;
            n += e.count;
        }
    }
    (
        Some(met as f64 / total as f64),
        (n > 0).then(|| sum / n as f64),
    )
}

fn row(r: &PolicyRun) -> Row {
    let s = &r.summary;
    let (llm_slo, llm_avg) = llm_group(r);
    let emb = r.by_kind.get("embedding");
    Row {
        label: run_label(r),
        throughput_rps: s.request_throughput_rps,
        output_tok_s: s.output_tokens_per_s,
        ttft_p50: s.ttft.as_ref().map(|l| l.p50_ms),
        ttft_p99: s.ttft.as_ref().map(|l| l.p99_ms),
        high_ttft_p99: r
            .by_priority
            .get("HIGH")
            .and_then(|h| h.ttft.as_ref())
            .map(|l| l.p99_ms),
        tpot_p50: s.tpot.as_ref().map(|l| l.p50_ms),
        e2e_avg: s.e2e.as_ref().map(|l| l.mean_ms),
        e2e_p99: s.e2e.as_ref().map(|l| l.p99_ms),
        llm_avg,
        emb_avg: emb.and_then(|e| e.e2e.as_ref()).map(|l| l.mean_ms),
        slo: s.slo_compliance,
        llm_slo,
        emb_slo: emb.map(|e| e.slo_compliance),
        error_rate: s.error_rate,
        partial: r.partial,
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.1} ms"),
        None => "-".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// Renders the report as the terminal table with the best-of lines.
pub fn render(report: &Report) -> String {
    let rows: Vec<Row> = report.runs.iter().map(row).collect();
    let hybrid = rows.iter().any(|r| r.emb_slo.is_some());
    let mut headers = vec![
        "Policy",
        "Throughput",
        "Out tok/s",
        "TTFT p50",
        "TTFT p99",
        "HIGH TTFT p99",
        "TPOT p50",
    ];
    if hybrid {
        headers.extend(["LLM Avg", "Emb Avg", "LLM SLO", "Emb SLO"]);
    } else {
        headers.extend(["E2E avg", "E2E p99", "SLO"]);
    }
    headers.push("Errors");
    let mut cells: Vec<Vec<String>> = Vec::new();
    for r in &rows {
        let mut c = vec![
            format!("{}{}", r.label, if r.partial { " (partial)" } else { "" }),
            format!("{:.1} req/s", r.throughput_rps),
            format!("{:.0}", r.output_tok_s),
            ms(r.ttft_p50),
            ms(r.ttft_p99),
            ms(r.high_ttft_p99),
            ms(r.tpot_p50),
        ];
        if hybrid {
            c.extend([ms(r.llm_avg), ms(r.emb_avg), pct(r.llm_slo), pct(r.emb_slo)]);
        } else {
            c.extend([ms(r.e2e_avg), ms(r.e2e_p99), pct(Some(r.slo))]);
        }
        c.push(pct(Some(r.error_rate)));
        cells.push(c);
    }
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: &[String]| -> String {
        let mut s = String::from("|");
        for (i, c) in cols.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            let _ = write!(s, " {c}{} |", " ".repeat(pad));
        }
        s
    };
    let mut out = String::new();
    let rule = "=".repeat(60);
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(out, "       sage-cp-bench {} report", kind_title(report));
    let _ = writeln!(out, "{rule}");
    let mode = report
        .config
        .get("mode")
        .and_then(|v| v.as_str())
        .unwrap_or("llm");
    let rate = report.config.get("request_rate").and_then(|v| v.as_f64());
    let mut cfg = format!("Config: {} requests", report.workload_requests);
    if let Some(r) = rate
        && report
            .runs
            .iter()
            .all(|r| r.params.request_rate_rps.is_none())
    {
        let _ = write!(cfg, " @ {r} req/s");
    }
    let _ = write!(cfg, " | mode {mode} | seed {}", report.seed);
    if mode == "hybrid"
        && let Some(l) = report.config.get("llm_ratio").and_then(|v| v.as_f64())
    {
        let _ = write!(
            cfg,
            " | LLM: {:.0}% | Embedding: {:.0}%",
            l * 100.0,
            (1.0 - l) * 100.0
        );
    }
    let _ = writeln!(out, "{cfg}");
    let _ = writeln!(
        out,
        "Workload hash: {}",
        report
            .workload_hash
            .get(..16)
            .unwrap_or(&report.workload_hash)
    );
    let _ = writeln!(out, "{}", "-".repeat(60));
    let _ = writeln!(out);
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(out, "{}", line(&header));
    let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(&sep).replace(' ', "-"));
    for c in &cells {
        let _ = writeln!(out, "{}", line(c));
    }
    let _ = writeln!(out);
    if rows.len() > 1 {
        best(
            &mut out,
            &rows,
            "Best Throughput",
            |r| Some(r.throughput_rps),
            true,
            |v| format!("{v:.1} req/s"),
        );
        best(
            &mut out,
            &rows,
            "Lowest TTFT p99",
            |r| r.ttft_p99,
            false,
            |v| format!("{v:.1} ms"),
        );
        best(
            &mut out,
            &rows,
            "Lowest HIGH-priority TTFT p99",
            |r| r.high_ttft_p99,
            false,
            |v| format!("{v:.1} ms"),
        );
        if hybrid {
            best(
                &mut out,
                &rows,
                "Best LLM SLO",
                |r| r.llm_slo,
                true,
                |v| format!("{:.1}%", v * 100.0),
            );
            best(
                &mut out,
                &rows,
                "Best Embedding SLO",
                |r| r.emb_slo,
                true,
                |v| format!("{:.1}%", v * 100.0),
            );
        } else {
            best(
                &mut out,
                &rows,
                "Best SLO",
                |r| Some(r.slo),
                true,
                |v| format!("{:.1}%", v * 100.0),
            );
        }
    }
    if report.partial {
        let _ = writeln!(out, "PARTIAL RESULT: the run did not complete.");
    }
    out
}

fn kind_title(report: &Report) -> &'static str {
    use cpbench_core::report::ReportKind::*;
    match report.kind {
        Run => "benchmark",
        Compare => "policy comparison",
        Sweep => "rate sweep",
        Experiment => "experiment",
        Simulation => "simulation (virtual time)",
    }
}

fn best(
    out: &mut String,
    rows: &[Row],
    title: &str,
    value: impl Fn(&Row) -> Option<f64>,
    higher_is_better: bool,
    fmt: impl Fn(f64) -> String,
) {
    let mut best: Option<(&Row, f64)> = None;
    for r in rows {
        if let Some(v) = value(r) {
            let better = match best {
                None => true,
                Some((_, b)) => {
                    if higher_is_better {
                        v > b
                    } else {
                        v < b
                    }
                }
            };
            if better {
                best = Some((r, v));
            }
        }
    }
    if let Some((r, v)) = best {
        let _ = writeln!(out, "{title}: {} ({})", r.label, fmt(v));
    }
}

/// The summary lines of a predefined experiment.
pub fn render_experiment(s: &cpbench_core::experiment::ExperimentSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Experiment {}:", s.name.as_str());
    for (policy, rate) in &s.max_sustained_rps {
        let _ = match rate {
            Some(r) => writeln!(out, "  {policy}: max sustained rate {r} req/s"),
            None => writeln!(out, "  {policy}: no rate sustained"),
        };
    }
    for (at, policy) in &s.best_at {
        let _ = writeln!(out, "  lowest {at}: {policy}");
    }
    for (policy, c) in &s.mean_compliance {
        let _ = writeln!(out, "  {policy}: mean SLO compliance {:.1}%", c * 100.0);
    }
    for (ratio, policy) in &s.best_per_ratio {
        let _ = writeln!(out, "  best at {ratio}: {policy}");
    }
    match &s.best_policy {
        Some(p) => {
            let _ = writeln!(out, "Best policy: {p} ({})", s.best_by);
        }
        None => {
            let _ = writeln!(out, "Best policy: none qualifies ({})", s.best_by);
        }
    }
    out
}
