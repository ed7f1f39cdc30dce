//! The content of the HTML and Markdown reports, as plain data: headings, tables, lists,
//! charts. [`build`] turns a report into a [`Document`]; `html` and `markdown` only lay it
//! out, so both formats say the same thing. Every string in a document is plain text, as it
//! came from the result file: the writers escape all of it.
//!
//! The sections are built by the submodules: `summary` (cards, comparison table, best-of
//! lines), `experiment`, `attribution` (why a policy wins: load imbalance, TTFT split,
//! prefix-cache hit rate, longest wait per class), `runs` (one section per run) and
//! `environment` (GPU and configuration).

mod attribution;
mod environment;
mod experiment;
mod runs;
mod summary;

use super::report_set::ReportCharts;
use cpbench_core::chart::runs::name_runs;
use cpbench_core::chart::table::{ms, summary_rows};
use cpbench_core::metrics::LatencyStats;
use cpbench_core::report::{Report, ReportKind};

/// A whole report: a title and its blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The page title.
    pub title: String,
    /// The content, in order.
    pub blocks: Vec<Block>,
}

/// How urgent an [`Block::Alert`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// Something the reader should know.
    Note,
    /// Something that limits what the numbers mean.
    Warning,
}

/// One summary card: a label, a value, and a detail line.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// What the value is.
    pub label: String,
    /// The value.
    pub value: String,
    /// Whose value it is, or more context.
    pub detail: String,
}

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The text.
    pub text: String,
    /// Whether to emphasize it (the best value of its column).
    pub strong: bool,
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self {
            text,
            strong: false,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

/// A table with a header row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Whether each column holds numbers (right-aligned).
    pub numeric: Vec<bool>,
    /// The rows, each with one cell per header.
    pub rows: Vec<Vec<Cell>>,
}

/// A piece of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading (level 2 or 3), with an anchor id.
    Heading {
        /// 2 for sections, 3 for subsections.
        level: u8,
        /// The heading.
        text: String,
        /// A stable anchor (`runs`, `run-2`).
        id: String,
    },
    /// A paragraph of text.
    Paragraph(String),
    /// A highlighted message.
    Alert {
        /// How urgent.
        kind: AlertKind,
        /// The message.
        text: String,
    },
    /// Summary cards.
    Cards(Vec<Card>),
    /// A table.
    Table(Table),
    /// Name/value pairs.
    KeyValues(Vec<(String, String)>),
    /// A bulleted list.
    List(Vec<String>),
    /// A chart: `index` into the report's charts.
    Chart {
        /// Index into [`ReportCharts::charts`].
        index: usize,
        /// The chart's id (file name).
        id: String,
        /// The chart's title.
        title: String,
        /// What it shows.
        note: String,
    },
    /// Preformatted text (JSON).
    Code(String),
    /// A collapsible group (expanded in Markdown).
    Details {
        /// What it holds.
        summary: String,
        /// Its content.
        blocks: Vec<Block>,
    },
}

/// The invocation, in words (`policy comparison`).
pub fn kind_title(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Run => "benchmark",
        ReportKind::Compare => "policy comparison",
        ReportKind::Sweep => "rate sweep",
        ReportKind::Experiment => "experiment",
        ReportKind::Simulation => "simulation (virtual time)",
    }
}

/// A heading block.
fn heading(level: u8, text: impl Into<String>, id: impl Into<String>) -> Block {
    Block::Heading {
        level,
        text: text.into(),
        id: id.into(),
    }
}

/// A number with `decimals` decimals; `-` for NaN and infinities.
fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "-".into()
    }
}

/// The headers of the latency statistics columns ([`latency_cells`]).
const LATENCY_HEADERS: [&str; 8] = [
    "Count",
    "Mean (ms)",
    "p50 (ms)",
    "p90 (ms)",
    "p95 (ms)",
    "p99 (ms)",
    "p99.9 (ms)",
    "Max (ms)",
];

/// The cells of one latency's statistics: count, mean, percentiles and maximum.
fn latency_cells(s: &LatencyStats) -> Vec<Cell> {
    vec![
        s.count.to_string().into(),
        ms(Some(s.mean_ms)).into(),
        ms(Some(s.p50_ms)).into(),
        ms(Some(s.p90_ms)).into(),
        ms(Some(s.p95_ms)).into(),
        ms(Some(s.p99_ms)).into(),
        ms(Some(s.p999_ms)).into(),
        ms(Some(s.max_ms)).into(),
    ]
}

/// Builds the document of `report` with its `charts` (see [`super::report_set`]).
pub fn build(report: &Report, charts: &ReportCharts) -> Document {
    let rows = summary_rows(&name_runs(&[("", report)]));
    let mut b = Vec::new();

    let hash = report
        .workload_hash
        .get(..16)
        .unwrap_or(&report.workload_hash);
    b.push(Block::Paragraph(format!(
        "Created {} by {} {}. {} measured requests per run, seed {}, workload hash {hash}.",
        report.created_at,
        report.tool.name,
        report.tool.version,
        report.workload_requests,
        report.seed
    )));
    if let Some(info) = &report.imported {
        b.push(Block::Alert {
            kind: AlertKind::Note,
            text: format!(
                "Imported from {} ({}): the numbers are the ones the file carries, as {} defines them. Differences of definition: {}. Not in this file: {}.",
                info.label(),
                info.source,
                info.tool,
                info.definitions.join("; "),
                info.lacks.join(", ")
            ),
        });
    }
    if report.partial {
        b.push(Block::Alert {
            kind: AlertKind::Warning,
            text: "PARTIAL RESULT: the invocation was interrupted; some runs are missing or incomplete.".into(),
        });
    }
    if report.simulated {
        b.push(Block::Alert {
            kind: AlertKind::Note,
            text: "Simulated: these numbers come from the reference control plane's cluster run in virtual time, not from HTTP requests.".into(),
        });
    }
    if report.runs.is_empty() {
        b.push(Block::Alert {
            kind: AlertKind::Warning,
            text: "This report holds no measured runs.".into(),
        });
    }

    b.push(heading(2, "Summary", "summary"));
    b.push(Block::Cards(summary::cards(report, &rows)));
    let warnings = summary::all_warnings(report);
    if !warnings.is_empty() {
        b.push(heading(3, "Warnings", "warnings"));
        b.push(Block::List(warnings));
    }

    b.push(heading(2, "Comparison", "comparison"));
    b.push(Block::Table(summary::comparison(&rows)));
    let best = summary::best_lines(report, &rows);
    if !best.is_empty() {
        b.push(Block::List(best));
    }
    if let Some((intro, table)) = summary::verdicts(report, &rows) {
        b.push(heading(3, "Verdicts", "verdicts"));
        b.push(Block::Paragraph(intro));
        b.push(Block::Table(table));
    }

    if let Some(exp) = report.experiment.as_ref() {
        b.extend(experiment::blocks(report, exp));
    }

    b.extend(attribution::blocks(report));

    b.push(heading(2, "Charts", "charts"));
    if charts.charts.is_empty() {
        b.push(Block::Paragraph("No chart has data.".into()));
    }
    for (index, c) in charts.charts.iter().enumerate() {
        b.push(Block::Chart {
            index,
            id: c.spec.id.clone(),
            title: c.spec.title.clone(),
            note: c.spec.note.clone(),
        });
    }
    for n in &charts.notes {
        b.push(Block::Alert {
            kind: AlertKind::Note,
            text: n.clone(),
        });
    }

    b.push(heading(2, "Runs", "runs"));
    for (i, r) in report.runs.iter().enumerate() {
        b.extend(runs::blocks(i, r));
    }

    b.push(heading(2, "GPU", "gpu"));
    b.extend(environment::gpu_blocks(report));

    b.push(heading(2, "Configuration", "configuration"));
    b.extend(environment::config_blocks(report));

    b.push(Block::Paragraph(format!(
        "Written by {} {} from the result file (schema version {}). Open the JSON result in the browser viewer for interactive charts.",
        report.tool.name, report.tool.version, report.schema_version
    )));

    Document {
        title: format!("sage-cp-bench {} report", kind_title(report.kind)),
        blocks: b,
    }
}
