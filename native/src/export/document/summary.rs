//! The summary of a report: its cards, the comparison table (the summary table's columns,
//! best value of each emphasized) and the "best of" lines.

use super::{Card, Cell, Table};
use crate::export::report_set::{experiment_summary, slo_target};
use cpbench_core::chart::runs::run_label;
use cpbench_core::chart::table::{Column, SummaryRow, best_row, has_embeddings, pct};
use cpbench_core::chart::verdicts::{VerdictRow, verdict_rows};
use cpbench_core::report::Report;
use std::collections::BTreeSet;

/// The report's warnings, then each run's, named after the run.
pub(super) fn all_warnings(report: &Report) -> Vec<String> {
    let mut out = report.warnings.clone();
    for r in &report.runs {
        for w in &r.warnings {
            out.push(format!("{}: {w}", run_label(r)));
        }
    }
    out
}

/// The row with the best value of a column (see [`best_row`]), else the first row when it
/// has a value.
fn best_of(rows: &[SummaryRow], col: Column) -> Option<&SummaryRow> {
    best_row(rows, col)
        .map(|i| &rows[i])
        .or_else(|| rows.first().filter(|r| col.value(r).is_some()))
}

/// The summary cards: runs, requests, the best runs, the experiment's pick, the control
/// plane.
pub(super) fn cards(report: &Report, rows: &[SummaryRow]) -> Vec<Card> {
    let mut out = Vec::new();
    let policies: Vec<&str> = report
        .runs
        .iter()
        .map(|r| r.policy.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    out.push(Card {
        label: "Runs".into(),
        value: report.runs.len().to_string(),
        detail: if policies.is_empty() {
            "no runs".into()
        } else {
            format!("policies: {}", policies.join(", "))
        },
    });
    let total: u64 = report.runs.iter().map(|r| r.summary.requests_total).sum();
    let failed: u64 = report.runs.iter().map(|r| r.summary.requests_failed).sum();
    out.push(Card {
        label: "Requests measured".into(),
        value: total.to_string(),
        detail: format!("{failed} failed, {} per run", report.workload_requests),
    });
    let best_card = |label: &str, col: Column| {
        best_of(rows, col).map(|r| Card {
            label: label.into(),
            value: col.text_with_unit(r),
            detail: r.name.clone(),
        })
    };
    out.extend(best_card("Best throughput", Column::Throughput));
    out.extend(
        best_card("Lowest TTFT p99", Column::TtftP99)
            .or_else(|| best_card("Lowest E2E p99", Column::E2eP99)),
    );
    if let Some(mut card) = best_card("Best SLO compliance", Column::Slo) {
        card.detail = format!("{} (target {})", card.detail, pct(Some(slo_target(report))));
        out.push(card);
    }
    if let Some(s) = experiment_summary(report) {
        out.push(Card {
            label: format!("Best policy ({} experiment)", s.name.as_str()),
            value: s.best_policy.clone().unwrap_or_else(|| "none".into()),
            detail: s.best_by.clone(),
        });
    }
    out.push(Card {
        label: "Control plane".into(),
        value: if report.simulated {
            "simulated".into()
        } else if report.environment.embedded_control_plane {
            "embedded reference".into()
        } else {
            "external".into()
        },
        detail: report
            .environment
            .control_plane_url
            .clone()
            .unwrap_or_else(|| "-".into()),
    });
    out
}

/// The comparison table: the terminal table's numbers (the browser viewer's columns), best
/// value of each column emphasized.
pub(super) fn comparison(rows: &[SummaryRow]) -> Table {
    let cols = Column::for_rows(rows);
    let best: Vec<Option<usize>> = cols.iter().map(|c| best_row(rows, *c)).collect();
    Table {
        headers: cols.iter().map(|c| c.header()).collect(),
        numeric: cols.iter().map(|c| *c != Column::Policy).collect(),
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                cols.iter()
                    .zip(&best)
                    .map(|(c, b)| Cell {
                        text: c.text(r),
                        strong: *b == Some(i),
                    })
                    .collect()
            })
            .collect(),
    }
}

/// The "best of" lines (shared with the terminal).
pub(super) fn best_lines(report: &Report, rows: &[SummaryRow]) -> Vec<String> {
    cpbench_core::chart::verdicts::best_lines(rows, report.statistics.as_ref())
}

/// The verdict table (each policy against the baseline, over the trials) with its
/// introduction; `None` without repeated trials.
pub(super) fn verdicts(report: &Report, rows: &[SummaryRow]) -> Option<(String, Table)> {
    let stats = report.statistics.as_ref()?;
    let verdicts = verdict_rows(stats, has_embeddings(rows));
    if verdicts.is_empty() {
        return None;
    }
    let several = verdicts.iter().any(|v| !v.variant.is_empty());
    let headers: Vec<String> = VerdictRow::headers(several)
        .into_iter()
        .map(String::from)
        .collect();
    let mut numeric = vec![false; headers.len()];
    let n = numeric.len();
    numeric[n - 4] = true;
    numeric[n - 2] = true;
    let table = Table {
        headers,
        numeric,
        rows: verdicts
            .iter()
            .map(|v| {
                let mut cells: Vec<Cell> = v.cells(several).into_iter().map(Cell::from).collect();
                if let Some(last) = cells.last_mut() {
                    last.strong = v.significant;
                }
                cells
            })
            .collect(),
    };
    let intro = format!(
        "Each policy against {} over {} trials ({} seeds): the mean difference paired by trial, its {:.0} % interval, and the p-value of a paired t test adjusted with Holm's method across the policies compared.",
        stats.baseline,
        stats.trials_planned,
        stats.trial_seeds.as_str(),
        stats.confidence * 100.0
    );
    Some((intro, table))
}
