//! The terminal comparison table (the original tool's layout, with more columns) and the
//! "best of" lines under it. The columns, their values and their formatting are the summary
//! table's ([`cpbench_core::chart::table`]); this module only lays them out.

use super::document::kind_title;
use cpbench_core::chart::runs::name_runs;
use cpbench_core::chart::table::{Column, has_embeddings, leading_row, summary_rows};
use cpbench_core::report::Report;
use std::fmt::Write;

/// The terminal's columns: the summary table's [`Column::BASE`]; with embedding requests (a
/// hybrid workload), the LLM and embedding means and SLO compliance take the place of the
/// overall E2E and SLO columns, before `Errors`.
fn columns(hybrid: bool) -> Vec<Column> {
    use Column::*;
    let mut cols = Column::BASE.to_vec();
    if hybrid {
        cols.retain(|c| !matches!(c, E2eAvg | E2eP99 | Slo));
        let at = cols.len() - 1;
        cols.splice(at..at, [LlmE2eAvg, EmbeddingE2eAvg, LlmSlo, EmbeddingSlo]);
    }
    cols
}

/// The "best of" lines: a title and the column whose leading run it names.
fn best_lines(hybrid: bool) -> Vec<(&'static str, Column)> {
    let mut lines = vec![
        ("Best Throughput", Column::Throughput),
        ("Lowest TTFT p99", Column::TtftP99),
        ("Lowest HIGH-priority TTFT p99", Column::HighTtftP99),
    ];
    if hybrid {
        lines.push(("Best LLM SLO", Column::LlmSlo));
        lines.push(("Best Embedding SLO", Column::EmbeddingSlo));
    } else {
        lines.push(("Best SLO", Column::Slo));
    }
    lines
}

/// Renders the report as the terminal table with the best-of lines.
pub fn render(report: &Report) -> String {
    let rows = summary_rows(&name_runs(&[("", report)]));
    let hybrid = has_embeddings(&rows);
    let cols = columns(hybrid);
    let headers: Vec<&str> = cols.iter().map(|c| c.label()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| c.text_with_unit(r)).collect())
        .collect();
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
    let _ = writeln!(
        out,
        "       sage-cp-bench {} report",
        kind_title(report.kind)
    );
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
        for (title, col) in best_lines(hybrid) {
            if let Some(r) = leading_row(&rows, col).map(|i| &rows[i])
                && let Some(v) = col.value(r)
            {
                let _ = writeln!(out, "{title}: {} ({})", r.name, col.sentence_value(v));
            }
        }
    }
    if report.partial {
        let _ = writeln!(out, "PARTIAL RESULT: the run did not complete.");
    }
    out
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
