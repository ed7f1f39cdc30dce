//! The content of the HTML and Markdown reports, as plain data: headings, tables, lists,
//! charts. [`build`] turns a report into a [`Document`]; `html` and `markdown` only lay it
//! out, so both formats say the same thing. Every string in a document is plain text, as it
//! came from the result file: the writers escape all of it.

use super::report_set::{ReportCharts, experiment_summary, slo_target};
use cpbench_core::chart::compare::{LatencyMetric, name_runs, run_label};
use cpbench_core::chart::table::{Column, SummaryRow, best_row, ms, pct, summary_rows};
use cpbench_core::metrics::{LatencyStats, Summary};
use cpbench_core::report::{GpuStatus, PolicyRun, PolicySwitch, Report, ReportKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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

fn heading(level: u8, text: impl Into<String>, id: impl Into<String>) -> Block {
    Block::Heading {
        level,
        text: text.into(),
        id: id.into(),
    }
}

fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "-".into()
    }
}

fn switch_text(s: PolicySwitch) -> &'static str {
    match s {
        PolicySwitch::Verified => "set with /admin/set_policy and verified",
        PolicySwitch::Launched => "control plane started with this policy",
        PolicySwitch::NotSwitched => {
            "NOT switched: the numbers are for whatever policy the control plane ran"
        }
        PolicySwitch::Simulated => "simulated in virtual time",
    }
}

/// A JSON value as one line: strings as they are, everything else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Builds the document of `report` with its `charts` (see [`super::report_set`]).
pub fn build(report: &Report, charts: &ReportCharts) -> Document {
    let files = [("", report)];
    let runs = name_runs(&files);
    let rows = summary_rows(&runs);
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
    b.push(Block::Cards(cards(report, &rows)));
    let warnings = all_warnings(report);
    if !warnings.is_empty() {
        b.push(heading(3, "Warnings", "warnings"));
        b.push(Block::List(warnings));
    }

    b.push(heading(2, "Comparison", "comparison"));
    b.push(Block::Table(comparison(&rows)));
    let best = best_lines(&rows);
    if !best.is_empty() {
        b.push(Block::List(best));
    }

    if let Some(exp) = report.experiment.as_ref() {
        b.extend(experiment_blocks(report, exp));
    }

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
        b.extend(run_blocks(i, r));
    }

    b.push(heading(2, "GPU", "gpu"));
    b.extend(gpu_blocks(report));

    b.push(heading(2, "Configuration", "configuration"));
    b.extend(config_blocks(report));

    b.push(Block::Paragraph(format!(
        "Written by {} {} from the result file (schema version {}). Open the JSON result in the browser viewer for interactive charts.",
        report.tool.name, report.tool.version, report.schema_version
    )));

    Document {
        title: format!("sage-cp-bench {} report", kind_title(report.kind)),
        blocks: b,
    }
}

fn all_warnings(report: &Report) -> Vec<String> {
    let mut out = report.warnings.clone();
    for r in &report.runs {
        for w in &r.warnings {
            out.push(format!("{}: {w}", run_label(r)));
        }
    }
    out
}

fn best_of(rows: &[SummaryRow], col: Column) -> Option<&SummaryRow> {
    best_row(rows, col)
        .map(|i| &rows[i])
        .or_else(|| rows.first().filter(|r| col.value(r).is_some()))
}

fn cards(report: &Report, rows: &[SummaryRow]) -> Vec<Card> {
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
    if let Some(r) = best_of(rows, Column::Throughput) {
        out.push(Card {
            label: "Best throughput".into(),
            value: format!("{:.1} req/s", r.throughput_rps),
            detail: r.name.clone(),
        });
    }
    if let Some(r) = best_of(rows, Column::TtftP99) {
        out.push(Card {
            label: "Lowest TTFT p99".into(),
            value: format!("{} ms", ms(r.ttft_p99_ms)),
            detail: r.name.clone(),
        });
    } else if let Some(r) = best_of(rows, Column::E2eP99) {
        out.push(Card {
            label: "Lowest E2E p99".into(),
            value: format!("{} ms", ms(r.e2e_p99_ms)),
            detail: r.name.clone(),
        });
    }
    if let Some(r) = best_of(rows, Column::Slo) {
        out.push(Card {
            label: "Best SLO compliance".into(),
            value: pct(Some(r.slo_compliance)),
            detail: format!("{} (target {})", r.name, pct(Some(slo_target(report)))),
        });
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
fn comparison(rows: &[SummaryRow]) -> Table {
    let cols = Column::for_rows(rows);
    let best: Vec<Option<usize>> = cols.iter().map(|c| best_row(rows, *c)).collect();
    Table {
        headers: cols.iter().map(|c| c.header().to_owned()).collect(),
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

/// How a best-of line writes its value.
type Format = fn(f64) -> String;

/// The terminal table's "best of" lines.
fn best_lines(rows: &[SummaryRow]) -> Vec<String> {
    if rows.len() < 2 {
        return Vec::new();
    }
    let hybrid = rows.iter().any(|r| r.embedding_slo.is_some());
    let mut items: Vec<(&str, Column, Format)> = vec![
        ("Best throughput", Column::Throughput, |v| {
            format!("{v:.1} req/s")
        }),
        ("Lowest TTFT p99", Column::TtftP99, |v| format!("{v:.1} ms")),
        ("Lowest HIGH-priority TTFT p99", Column::HighTtftP99, |v| {
            format!("{v:.1} ms")
        }),
    ];
    if hybrid {
        items.push(("Best LLM SLO", Column::LlmSlo, |v| pct(Some(v))));
        items.push(("Best embedding SLO", Column::EmbeddingSlo, |v| pct(Some(v))));
    } else {
        items.push(("Best SLO", Column::Slo, |v| pct(Some(v))));
    }
    items
        .into_iter()
        .filter_map(|(title, col, fmt)| {
            let r = best_of(rows, col)?;
            let v = col.value(r)?;
            Some(format!("{title}: {} ({})", r.name, fmt(v)))
        })
        .collect()
}

fn experiment_blocks(report: &Report, raw: &Value) -> Vec<Block> {
    let mut b = Vec::new();
    let Some(s) = experiment_summary(report) else {
        b.push(heading(2, "Experiment", "experiment"));
        b.push(Block::Paragraph(
            "The report holds an experiment summary this version cannot read; here it is as stored:"
                .into(),
        ));
        b.push(Block::Code(
            serde_json::to_string_pretty(raw).unwrap_or_default(),
        ));
        return b;
    };
    b.push(heading(
        2,
        format!("Experiment: {}", s.name.as_str()),
        "experiment",
    ));
    let mut kv = vec![
        (
            "Best policy".to_owned(),
            s.best_policy
                .clone()
                .unwrap_or_else(|| "none qualifies".into()),
        ),
        ("Chosen by".to_owned(), s.best_by.clone()),
    ];
    if let Some(c) = s.criteria {
        kv.push((
            "Sustained when".to_owned(),
            format!(
                "achieved ≥ {} of offered and SLO compliance ≥ {}",
                pct(Some(1.0 - c.tolerance)),
                pct(Some(c.slo_threshold))
            ),
        ));
    }
    b.push(Block::KeyValues(kv));
    if !s.max_sustained_rps.is_empty() {
        b.push(Block::Table(Table {
            headers: vec!["Policy".into(), "Max sustained rate (req/s)".into()],
            numeric: vec![false, true],
            rows: s
                .max_sustained_rps
                .iter()
                .map(|(p, r)| {
                    vec![
                        Cell::from(p.as_str()),
                        Cell::from(r.map_or("none".into(), |r| num(r, 1))),
                    ]
                })
                .collect(),
        }));
    }
    if !s.throughput.is_empty() {
        b.push(Block::Table(Table {
            headers: vec![
                "Policy".into(),
                "Configured (req/s)".into(),
                "Offered (req/s)".into(),
                "Achieved (req/s)".into(),
                "SLO".into(),
                "Sustained".into(),
            ],
            numeric: vec![false, true, true, true, true, false],
            rows: s
                .throughput
                .iter()
                .flat_map(|(p, points)| {
                    points.iter().map(move |t| {
                        vec![
                            Cell::from(p.as_str()),
                            num(t.configured_rps, 1).into(),
                            num(t.offered_rps, 1).into(),
                            num(t.achieved_rps, 1).into(),
                            pct(Some(t.slo_compliance)).into(),
                            Cell::from(if t.sustained { "yes" } else { "no" }),
                        ]
                    })
                })
                .collect(),
        }));
    }
    if !s.latency.is_empty() {
        let mut rows = Vec::new();
        for (p, spec) in &s.latency {
            for (name, stats) in [
                ("TTFT", &spec.ttft),
                ("ITL", &spec.itl),
                ("TPOT", &spec.tpot),
                ("E2E", &spec.e2e),
            ] {
                if let Some(st) = stats {
                    let mut row = vec![Cell::from(p.as_str()), Cell::from(name)];
                    row.extend(latency_cells(st));
                    rows.push(row);
                }
            }
        }
        let mut headers = vec!["Policy".to_owned(), "Metric".to_owned()];
        headers.extend(LATENCY_HEADERS.iter().map(|h| (*h).to_owned()));
        let n = headers.len();
        b.push(Block::Table(Table {
            headers,
            numeric: (0..n).map(|i| i >= 2).collect(),
            rows,
        }));
    }
    if !s.best_at.is_empty() {
        b.push(Block::List(
            s.best_at
                .iter()
                .map(|(at, p)| format!("Lowest {at}: {p}"))
                .collect(),
        ));
    }
    if !s.compliance.is_empty() {
        let groups: BTreeSet<&String> = s
            .compliance
            .values()
            .flat_map(|by| by.values().flat_map(|g| g.keys()))
            .collect();
        let groups: Vec<&String> = sort_groups(groups);
        let mut headers = vec!["Policy".to_owned(), "Load / ratio".to_owned()];
        headers.extend(groups.iter().map(|g| format!("SLO {g}")));
        let n = headers.len();
        b.push(Block::Table(Table {
            headers,
            numeric: (0..n).map(|i| i >= 2).collect(),
            rows: s
                .compliance
                .iter()
                .flat_map(|(p, by)| {
                    let groups = &groups;
                    by.iter().map(move |(label, g)| {
                        let mut row = vec![Cell::from(p.as_str()), Cell::from(label.as_str())];
                        row.extend(groups.iter().map(|k| Cell::from(pct(g.get(*k).copied()))));
                        row
                    })
                })
                .collect(),
        }));
    }
    if !s.mean_compliance.is_empty() {
        b.push(Block::List(
            s.mean_compliance
                .iter()
                .map(|(p, c)| format!("{p}: mean SLO compliance {}", pct(Some(*c))))
                .collect(),
        ));
    }
    if !s.best_per_ratio.is_empty() {
        b.push(Block::List(
            s.best_per_ratio
                .iter()
                .map(|(r, p)| format!("Best at {r}: {p}"))
                .collect(),
        ));
    }
    b
}

/// `all` first, then priorities most urgent first, then kinds, then the rest.
fn sort_groups(groups: BTreeSet<&String>) -> Vec<&String> {
    let rank = |g: &str| -> usize {
        match g {
            "all" => 0,
            "priority:HIGH" => 1,
            "priority:NORMAL" => 2,
            "priority:LOW" => 3,
            "kind:llm_chat" => 4,
            "kind:llm_generate" => 5,
            "kind:embedding" => 6,
            _ => 7,
        }
    };
    let mut v: Vec<&String> = groups.into_iter().collect();
    v.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    v
}

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

fn breakdown_table(groups: &BTreeMap<String, Summary>, order: &[String]) -> Table {
    Table {
        headers: [
            "Group",
            "Requests",
            "Failed",
            "Throughput (req/s)",
            "TTFT p99 (ms)",
            "E2E p50 (ms)",
            "E2E p99 (ms)",
            "SLO",
            "Goodput (req/s)",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, true, true, true, true, true, true, true, true],
        rows: order
            .iter()
            .filter_map(|k| groups.get(k).map(|s| (k, s)))
            .map(|(k, s)| {
                vec![
                    Cell::from(k.as_str()),
                    s.requests_total.to_string().into(),
                    s.requests_failed.to_string().into(),
                    num(s.request_throughput_rps, 2).into(),
                    ms(s.ttft.as_ref().map(|l| l.p99_ms)).into(),
                    ms(s.e2e.as_ref().map(|l| l.p50_ms)).into(),
                    ms(s.e2e.as_ref().map(|l| l.p99_ms)).into(),
                    pct(Some(s.slo_compliance)).into(),
                    num(s.goodput_rps, 2).into(),
                ]
            })
            .collect(),
    }
}

/// Group names in a natural order: priorities most urgent first, kinds canonical, the rest
/// alphabetically.
fn ordered_keys(groups: &BTreeMap<String, Summary>) -> Vec<String> {
    let rank = |k: &str| -> usize {
        match k {
            "HIGH" | "llm_chat" => 0,
            "NORMAL" | "llm_generate" => 1,
            "LOW" | "embedding" => 2,
            _ => 3,
        }
    };
    let mut keys: Vec<String> = groups.keys().cloned().collect();
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    keys
}

fn run_blocks(i: usize, r: &PolicyRun) -> Vec<Block> {
    let s = &r.summary;
    let mut b = vec![heading(3, run_label(r), format!("run-{}", i + 1))];
    if r.partial {
        b.push(Block::Alert {
            kind: AlertKind::Warning,
            text: "This run was interrupted before every request finished.".into(),
        });
    }
    if r.policy_switch == PolicySwitch::NotSwitched {
        b.push(Block::Alert {
            kind: AlertKind::Warning,
            text: format!(
                "The policy could not be switched: these numbers are for whatever policy the control plane ran, labelled {}.",
                r.policy
            ),
        });
    }
    let mut kv = vec![
        ("Policy".to_owned(), r.policy.clone()),
        (
            "Policy switch".to_owned(),
            switch_text(r.policy_switch).to_owned(),
        ),
    ];
    if let Some(rate) = r.params.request_rate_rps {
        kv.push(("Target rate".into(), format!("{rate} req/s")));
    }
    if let Some(ratio) = r.params.llm_ratio {
        kv.push(("LLM share".into(), pct(Some(ratio))));
    }
    if let Some(l) = &r.params.label {
        kv.push(("Label".into(), l.clone()));
    }
    if let Some(t) = &r.started_at {
        kv.push(("Started".into(), t.clone()));
    }
    kv.extend([
        (
            "Requests".to_owned(),
            format!(
                "{} ({} succeeded, {} failed)",
                s.requests_total, s.requests_succeeded, s.requests_failed
            ),
        ),
        ("Window".to_owned(), format!("{} s", num(s.duration_s, 2))),
        (
            "Throughput".to_owned(),
            format!("{} req/s", num(s.request_throughput_rps, 2)),
        ),
        (
            "Tokens".to_owned(),
            format!(
                "{} out/s, {} in+out/s ({} output tokens; {} input tokens, {} of them estimated)",
                num(s.output_tokens_per_s, 0),
                num(s.total_tokens_per_s, 0),
                s.output_tokens_total,
                s.input_tokens_total,
                s.input_tokens_estimated
            ),
        ),
        (
            "SLO compliance".to_owned(),
            format!(
                "{} ({} met), goodput {} req/s",
                pct(Some(s.slo_compliance)),
                s.slo_met,
                num(s.goodput_rps, 2)
            ),
        ),
        (
            "Errors".to_owned(),
            format!(
                "{} of requests ({} timeouts)",
                pct(Some(s.error_rate)),
                pct(Some(s.timeout_rate))
            ),
        ),
    ]);
    b.push(Block::KeyValues(kv));

    let mut rows = Vec::new();
    for m in LatencyMetric::ALL {
        if let Some(st) = m.stats(s) {
            let mut row = vec![Cell::from(m.long())];
            row.extend(latency_cells(st));
            rows.push(row);
        }
    }
    if !rows.is_empty() {
        let mut headers = vec!["Latency".to_owned()];
        headers.extend(LATENCY_HEADERS.iter().map(|h| (*h).to_owned()));
        let n = headers.len();
        b.push(Block::Table(Table {
            headers,
            numeric: (0..n).map(|i| i > 0).collect(),
            rows,
        }));
    }
    for (title, groups) in [
        ("By priority", &r.by_priority),
        ("By request type", &r.by_kind),
        ("By model", &r.by_model),
    ] {
        if !groups.is_empty() {
            b.push(Block::Paragraph(format!("{title}:")));
            b.push(Block::Table(breakdown_table(groups, &ordered_keys(groups))));
        }
    }
    if s.errors_by_kind.is_empty() {
        b.push(Block::Paragraph("No failed requests.".into()));
    } else {
        b.push(Block::Paragraph("Errors by kind:".into()));
        b.push(Block::Table(Table {
            headers: vec!["Error".into(), "Requests".into()],
            numeric: vec![false, true],
            rows: s
                .errors_by_kind
                .iter()
                .map(|(k, n)| vec![Cell::from(k.as_str()), n.to_string().into()])
                .collect(),
        }));
    }
    if !r.warnings.is_empty() {
        b.push(Block::Paragraph("Warnings:".into()));
        b.push(Block::List(r.warnings.clone()));
    }
    let cp = &r.control_plane;
    let mut details = Vec::new();
    if !cp.samples.is_empty() {
        details.push(Block::Paragraph(format!(
            "{} samples taken during the run (see the charts).",
            cp.samples.len()
        )));
    }
    for (name, v) in [("Before the run", &cp.before), ("After the run", &cp.after)] {
        if let Some(v) = v {
            details.push(Block::Paragraph(format!("{name}:")));
            details.push(Block::Code(
                serde_json::to_string_pretty(v).unwrap_or_default(),
            ));
        }
    }
    if !details.is_empty() {
        b.push(Block::Details {
            summary: "Control-plane metrics".into(),
            blocks: details,
        });
    }
    b
}

fn gpu_blocks(report: &Report) -> Vec<Block> {
    let gpu = &report.gpu;
    match &gpu.status {
        GpuStatus::NotRequested => vec![Block::Paragraph(
            "GPU monitoring was not requested for this invocation; no GPU numbers were recorded."
                .into(),
        )],
        GpuStatus::Unavailable { reason } => vec![Block::Alert {
            kind: AlertKind::Note,
            text: format!(
                "GPU monitoring was requested but unavailable: {reason}. No GPU numbers were recorded."
            ),
        }],
        GpuStatus::Sampled => {
            let samples: usize = report.runs.iter().map(|r| r.gpu_samples.len()).sum();
            let mut b = vec![Block::Paragraph(format!(
                "GPUs were sampled every {} ms: {samples} samples in all (see the charts).",
                gpu.sample_interval_ms
                    .map_or_else(|| "-".into(), |v| v.to_string())
            ))];
            if !gpu.devices.is_empty() {
                b.push(Block::Table(Table {
                    headers: vec!["Index".into(), "Device".into(), "UUID".into()],
                    numeric: vec![true, false, false],
                    rows: gpu
                        .devices
                        .iter()
                        .map(|d| {
                            vec![
                                d.index.to_string().into(),
                                Cell::from(d.name.as_str()),
                                Cell::from(d.uuid.as_str()),
                            ]
                        })
                        .collect(),
                }));
            }
            b
        }
    }
}

fn config_blocks(report: &Report) -> Vec<Block> {
    let mut b = Vec::new();
    let env = &report.environment;
    let mut kv = vec![(
        "Control plane".to_owned(),
        match (&env.control_plane_url, env.embedded_control_plane) {
            (Some(u), true) => format!("{u} (embedded reference control plane)"),
            (Some(u), false) => u.clone(),
            (None, _) => "none (simulation)".into(),
        },
    )];
    if let Some(h) = &env.hostname {
        kv.push(("Host".into(), h.clone()));
    }
    if let Some(o) = &env.os {
        kv.push(("OS".into(), o.clone()));
    }
    if let Some(c) = env.cpu_count {
        kv.push(("CPUs".into(), c.to_string()));
    }
    b.push(Block::KeyValues(kv));
    if !env.notes.is_empty() {
        b.push(Block::List(env.notes.clone()));
    }
    match &report.config {
        Value::Object(map) => {
            b.push(Block::Table(Table {
                headers: vec!["Setting".into(), "Value".into()],
                numeric: vec![false, false],
                rows: map
                    .iter()
                    .map(|(k, v)| vec![Cell::from(k.as_str()), Cell::from(value_text(v))])
                    .collect(),
            }));
        }
        Value::Null => b.push(Block::Paragraph(
            "The report holds no configuration.".into(),
        )),
        other => b.push(Block::Code(
            serde_json::to_string_pretty(other).unwrap_or_default(),
        )),
    }
    b
}
