//! The terminal comparison table (the original tool's layout, with more columns) and the
//! "best of" lines under it. The columns, their values and their formatting are the summary
//! table's ([`cpbench_core::chart::table`]); this module only lays them out.

use super::document::kind_title;
use cpbench_core::chart::runs::name_runs;
use cpbench_core::chart::table::{Column, has_embeddings, summary_rows};
use cpbench_core::chart::verdicts::{VerdictRow, best_lines, verdict_rows};
use cpbench_core::report::Report;
use cpbench_core::report::Statistics;
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
    let _ = writeln!(out, "SLO: {}", report.slo_targets().describe());
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
    out.push_str(&aligned_table(&header, &cells));
    let _ = writeln!(out);
    for l in best_lines(&rows, report.statistics.as_ref()) {
        let _ = writeln!(out, "{l}");
    }
    if let Some(stats) = &report.statistics {
        out.push_str(&render_verdicts(stats, hybrid));
    }
    if report.partial {
        let _ = writeln!(out, "PARTIAL RESULT: the run did not complete.");
    }
    out
}

/// The verdict table: each policy against the baseline, over the trials.
fn render_verdicts(stats: &Statistics, hybrid: bool) -> String {
    let rows = verdict_rows(stats, hybrid);
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Against {} over {} trials ({} seeds; {:.0} % intervals, p-values Holm-adjusted across policies):",
        stats.baseline,
        stats.trials_planned,
        stats.trial_seeds.as_str(),
        stats.confidence * 100.0
    );
    let several = rows.iter().any(|r| !r.variant.is_empty());
    let header: Vec<String> = VerdictRow::headers(several)
        .into_iter()
        .map(String::from)
        .collect();
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(several)).collect();
    out.push_str(&aligned_table(&header, &cells));
    out
}

/// A Markdown pipe table with its columns padded to their widest cell (in characters).
fn aligned_table(header: &[String], cells: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .filter_map(|c| c.get(i))
                .chain([&header[i]])
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: &[String], fill: char| -> String {
        let mut s = String::from("|");
        for (c, w) in cols.iter().zip(&widths) {
            let pad: String = std::iter::repeat_n(fill, w - c.chars().count()).collect();
            let _ = write!(s, "{fill}{c}{pad}{fill}|");
        }
        s
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(header, ' '));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(&rule, '-'));
    for c in cells {
        let _ = writeln!(out, "{}", line(c, ' '));
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
