//! The "Why a policy wins" section: the tables of `core::chart::attribution` (load imbalance,
//! TTFT split into queue time and the rest, prefix-cache hit rate, longest wait per priority
//! class), each with its definition. Their charts (per instance over time, the TTFT split)
//! are among the report's charts.

use super::{Block, Cell, Table, heading};
use cpbench_core::chart::attribution::{ViewTable, tables};
use cpbench_core::chart::runs::name_runs;
use cpbench_core::report::Report;

/// A view's table as a document table.
fn table(t: &ViewTable) -> Table {
    Table {
        headers: t.headers.iter().map(|h| (*h).to_owned()).collect(),
        numeric: t.numeric.clone(),
        rows: t
            .rows
            .iter()
            .map(|r| r.cells.iter().map(|c| Cell::from(c.as_str())).collect())
            .collect(),
    }
}

/// The section's blocks; nothing for a report without runs.
pub(super) fn blocks(report: &Report) -> Vec<Block> {
    if report.runs.is_empty() {
        return Vec::new();
    }
    let runs = name_runs(&[("", report)]);
    let mut b = vec![heading(2, "Why a policy wins", "attribution")];
    for t in tables(&runs).iter().filter(|t| t.has_rows()) {
        b.push(heading(3, t.title, t.id));
        b.push(Block::Paragraph(t.definition.clone()));
        b.push(Block::Table(table(t)));
    }
    b
}
