//! Why a policy wins: the views that attribute a policy's numbers to what it did. Where each
//! backend instance's load went over time ([`instance_timeline`]), how unevenly it was spread
//! ([`load_imbalance`]), how much of the time to first token was spent in the control plane's
//! queue ([`ttft_split`]), how often the prefix caches were hit ([`prefix_cache`]) and the
//! longest wait of each priority class ([`starvation`]).
//!
//! Charts are [`ChartSpec`](super::ChartSpec)s like every other; the tables are
//! [`ViewTable`]s of plain text, laid out by the viewer and the HTML/Markdown reports alike.

pub mod instance_timeline;
pub mod load_imbalance;
pub mod prefix_cache;
pub mod starvation;
pub mod ttft_split;

use super::runs::NamedRun;

/// A small table of one view: a title, what its numbers mean, and its rows as text.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewTable {
    /// A stable id (`load-imbalance`), for anchors and tests.
    pub id: &'static str,
    /// The table's title.
    pub title: &'static str,
    /// How its numbers are defined (shown under the title).
    pub definition: String,
    /// Column headers.
    pub headers: Vec<&'static str>,
    /// Whether each column holds numbers (right-aligned).
    pub numeric: Vec<bool>,
    /// The rows, each with one cell per header.
    pub rows: Vec<ViewRow>,
}

/// One row of a [`ViewTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    /// The index of the run the row is about (its colour).
    pub run: usize,
    /// One text per header.
    pub cells: Vec<String>,
}

impl ViewTable {
    /// Whether the table has rows.
    pub fn has_rows(&self) -> bool {
        !self.rows.is_empty()
    }
}

/// Every table of these views for `runs`, in the order the reports show them (tables without
/// rows included: the caller leaves them out).
pub fn tables(runs: &[NamedRun<'_>]) -> Vec<ViewTable> {
    vec![
        load_imbalance::table(runs),
        ttft_split::table(runs),
        prefix_cache::table(runs),
        starvation::table(runs),
    ]
}

/// A number with `decimals` decimals; `-` for NaN and infinities.
pub(crate) fn fixed(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "-".into()
    }
}
