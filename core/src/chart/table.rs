//! The summary table: one row per run with the numbers of the terminal table, formatted the
//! same way, and sortable by any column. The columns ([`Column`]) are defined here once: the
//! viewer, the HTML and Markdown reports and the terminal table each pick which to show.

use super::metric::{LatencyMetric, Percentile};
use super::runs::NamedRun;
use super::values;
use crate::metrics::Summary;
use crate::report::PolicyRun;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A column of the summary table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// The run's name.
    Policy,
    /// Successful requests per second.
    Throughput,
    /// Output tokens per second.
    OutputTokens,
    /// Median TTFT.
    TtftP50,
    /// 99th percentile TTFT.
    TtftP99,
    /// 99th percentile TTFT of HIGH-priority requests.
    HighTtftP99,
    /// Median time per output token.
    TpotP50,
    /// Mean end-to-end latency.
    E2eAvg,
    /// 99th percentile end-to-end latency.
    E2eP99,
    /// Mean end-to-end latency of the LLM requests (hybrid workloads).
    LlmE2eAvg,
    /// Mean end-to-end latency of the embedding requests (hybrid workloads).
    EmbeddingE2eAvg,
    /// SLO compliance of all requests.
    Slo,
    /// SLO compliance of LLM requests (hybrid workloads).
    LlmSlo,
    /// SLO compliance of embedding requests (hybrid workloads).
    EmbeddingSlo,
    /// Failed requests.
    Errors,
}

impl Column {
    /// Every column with a number (all but the name), in table order: the metrics compared
    /// across trials.
    pub const NUMERIC: [Column; 14] = [
        Column::Throughput,
        Column::OutputTokens,
        Column::TtftP50,
        Column::TtftP99,
        Column::HighTtftP99,
        Column::TpotP50,
        Column::E2eAvg,
        Column::E2eP99,
        Column::LlmE2eAvg,
        Column::EmbeddingE2eAvg,
        Column::Slo,
        Column::LlmSlo,
        Column::EmbeddingSlo,
        Column::Errors,
    ];

    /// The columns of every table, in order.
    pub const BASE: [Column; 11] = [
        Self::Policy,
        Self::Throughput,
        Self::OutputTokens,
        Self::TtftP50,
        Self::TtftP99,
        Self::HighTtftP99,
        Self::TpotP50,
        Self::E2eAvg,
        Self::E2eP99,
        Self::Slo,
        Self::Errors,
    ];

    /// The columns for these rows: [`BASE`](Self::BASE), with the LLM and embedding SLO
    /// columns before `Errors` when any run has embedding requests.
    pub fn for_rows(rows: &[SummaryRow]) -> Vec<Column> {
        let mut cols = Self::BASE.to_vec();
        if has_embeddings(rows) {
            let at = cols.len() - 1;
            cols.splice(at..at, [Self::LlmSlo, Self::EmbeddingSlo]);
        }
        cols
    }

    /// The column of an identifier ([`Column::id`]).
    pub fn from_id(id: &str) -> Option<Column> {
        std::iter::once(Self::Policy)
            .chain(Self::NUMERIC)
            .find(|c| c.id() == id)
    }

    /// Sets the row's value in this column (no-op for the name column).
    pub fn set(self, r: &mut SummaryRow, v: f64) {
        match self {
            Self::Policy => {}
            Self::Throughput => r.throughput_rps = Some(v),
            Self::OutputTokens => r.output_tokens_per_s = Some(v),
            Self::TtftP50 => r.ttft_p50_ms = Some(v),
            Self::TtftP99 => r.ttft_p99_ms = Some(v),
            Self::HighTtftP99 => r.high_ttft_p99_ms = Some(v),
            Self::TpotP50 => r.tpot_p50_ms = Some(v),
            Self::E2eAvg => r.e2e_avg_ms = Some(v),
            Self::E2eP99 => r.e2e_p99_ms = Some(v),
            Self::LlmE2eAvg => r.llm_e2e_avg_ms = Some(v),
            Self::EmbeddingE2eAvg => r.embedding_e2e_avg_ms = Some(v),
            Self::Slo => r.slo_compliance = Some(v),
            Self::LlmSlo => r.llm_slo = Some(v),
            Self::EmbeddingSlo => r.embedding_slo = Some(v),
            Self::Errors => r.error_rate = Some(v),
        }
    }

    /// A stable identifier (`ttft_p99`), for element ids and tests.
    pub fn id(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Throughput => "throughput",
            Self::OutputTokens => "output_tokens",
            Self::TtftP50 => "ttft_p50",
            Self::TtftP99 => "ttft_p99",
            Self::HighTtftP99 => "high_ttft_p99",
            Self::TpotP50 => "tpot_p50",
            Self::E2eAvg => "e2e_avg",
            Self::E2eP99 => "e2e_p99",
            Self::LlmE2eAvg => "llm_e2e_avg",
            Self::EmbeddingE2eAvg => "embedding_e2e_avg",
            Self::Slo => "slo",
            Self::LlmSlo => "llm_slo",
            Self::EmbeddingSlo => "embedding_slo",
            Self::Errors => "errors",
        }
    }

    /// The header without the unit (`TTFT p99`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Policy => "Policy",
            Self::Throughput => "Throughput",
            Self::OutputTokens => "Out tok/s",
            Self::TtftP50 => "TTFT p50",
            Self::TtftP99 => "TTFT p99",
            Self::HighTtftP99 => "HIGH TTFT p99",
            Self::TpotP50 => "TPOT p50",
            Self::E2eAvg => "E2E avg",
            Self::E2eP99 => "E2E p99",
            Self::LlmE2eAvg => "LLM Avg",
            Self::EmbeddingE2eAvg => "Emb Avg",
            Self::Slo => "SLO",
            Self::LlmSlo => "LLM SLO",
            Self::EmbeddingSlo => "Emb SLO",
            Self::Errors => "Errors",
        }
    }

    /// The unit of the column's values (`ms`, `req/s`); empty for the name, for output tokens
    /// (the label says `tok/s`) and for percentages (their text ends in `%`).
    pub fn unit(self) -> &'static str {
        match self {
            Self::Throughput => "req/s",
            Self::Policy | Self::OutputTokens => "",
            c if c.is_percent() => "",
            _ => "ms",
        }
    }

    /// Whether the column holds fractions shown as percentages.
    pub fn is_percent(self) -> bool {
        matches!(
            self,
            Self::Slo | Self::LlmSlo | Self::EmbeddingSlo | Self::Errors
        )
    }

    /// The header, with the unit: `TTFT p99 (ms)`, or the label alone without a unit.
    pub fn header(self) -> String {
        match self.unit() {
            "" => self.label().to_owned(),
            unit => format!("{} ({unit})", self.label()),
        }
    }

    /// Whether a larger value is better (for marking the best run).
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Self::Throughput | Self::OutputTokens | Self::Slo | Self::LlmSlo | Self::EmbeddingSlo
        )
    }

    /// The row's value in this column, as stored in the file (ms, req/s, fractions 0 to 1);
    /// `None` for the name column and for missing statistics.
    pub fn value(self, r: &SummaryRow) -> Option<f64> {
        match self {
            Self::Policy => None,
            Self::Throughput => r.throughput_rps,
            Self::OutputTokens => r.output_tokens_per_s,
            Self::TtftP50 => r.ttft_p50_ms,
            Self::TtftP99 => r.ttft_p99_ms,
            Self::HighTtftP99 => r.high_ttft_p99_ms,
            Self::TpotP50 => r.tpot_p50_ms,
            Self::E2eAvg => r.e2e_avg_ms,
            Self::E2eP99 => r.e2e_p99_ms,
            Self::LlmE2eAvg => r.llm_e2e_avg_ms,
            Self::EmbeddingE2eAvg => r.embedding_e2e_avg_ms,
            Self::Slo => r.slo_compliance,
            Self::LlmSlo => r.llm_slo,
            Self::EmbeddingSlo => r.embedding_slo,
            Self::Errors => r.error_rate,
        }
    }

    /// The cell's text, formatted as the terminal table formats it (without the units, which
    /// are in the header): `12.3`, `812`, `45.6` / `123` ms, `97.5%`, `-` when missing; over
    /// trials, the mean and the half-width of its interval: `12.3 ± 0.4`, `38.1 ± 1.2%`.
    pub fn text(self, r: &SummaryRow) -> String {
        if let (Some(v), Some(hw)) = (self.value(r), r.half_widths.get(&self)) {
            return match self {
                Self::Throughput => format!("{v:.1} ± {hw:.1}"),
                Self::OutputTokens => format!("{v:.0} ± {hw:.0}"),
                c if c.is_percent() => format!("{:.1} ± {:.1}%", v * 100.0, hw * 100.0),
                _ => format!("{} ± {}", ms(Some(v)), ms(Some(*hw))),
            };
        }
        match self {
            Self::Policy => {
                if r.partial {
                    format!("{} (partial)", r.name)
                } else {
                    r.name.clone()
                }
            }
            Self::Throughput => r
                .throughput_rps
                .map_or_else(|| "-".into(), |v| format!("{v:.1}")),
            Self::OutputTokens => r
                .output_tokens_per_s
                .map_or_else(|| "-".into(), |v| format!("{v:.0}")),
            c if c.is_percent() => pct(self.value(r)),
            _ => ms(self.value(r)),
        }
    }

    /// The cell's text followed by the unit, as the terminal table writes it (`12.3 req/s`,
    /// `45.6 ms`, `97.5%`, `-` when missing).
    pub fn text_with_unit(self, r: &SummaryRow) -> String {
        let text = self.text(r);
        match self.unit() {
            "" => text,
            _ if self.value(r).is_none() => text,
            unit => format!("{text} {unit}"),
        }
    }

    /// A value of this column in a sentence (the "best of" lines): one decimal and the unit
    /// (`8.2 req/s`, `41.0 ms`), or a percentage (`97.5%`).
    pub fn sentence_value(self, v: f64) -> String {
        if self.is_percent() {
            return pct(Some(v));
        }
        match self.unit() {
            "" => format!("{v:.1}"),
            unit => format!("{v:.1} {unit}"),
        }
    }
}

/// Milliseconds as the terminal table writes them: no decimals from 100 ms, one below.
pub fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    }
}

/// A fraction as a percentage with one decimal (`0.975` is `97.5%`).
pub fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// One row of the summary table.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The run's series name ([`NamedRun::name`]).
    pub name: String,
    /// Index of the run (its colour).
    pub index: usize,
    /// Successful requests per second; `None` when an imported file lacks it.
    pub throughput_rps: Option<f64>,
    /// Output tokens per second; `None` when an imported file lacks it.
    pub output_tokens_per_s: Option<f64>,
    /// Median TTFT, ms.
    pub ttft_p50_ms: Option<f64>,
    /// 99th percentile TTFT, ms.
    pub ttft_p99_ms: Option<f64>,
    /// 99th percentile TTFT of HIGH-priority requests, ms.
    pub high_ttft_p99_ms: Option<f64>,
    /// Median TPOT, ms.
    pub tpot_p50_ms: Option<f64>,
    /// Mean E2E latency, ms.
    pub e2e_avg_ms: Option<f64>,
    /// 99th percentile E2E latency, ms.
    pub e2e_p99_ms: Option<f64>,
    /// Mean E2E latency of the LLM kinds together, ms; `None` without successful LLM requests.
    pub llm_e2e_avg_ms: Option<f64>,
    /// Mean E2E latency of embedding requests, ms; `None` without successful ones.
    pub embedding_e2e_avg_ms: Option<f64>,
    /// SLO compliance, 0 to 1; `None` for an imported run (no SLO was judged).
    pub slo_compliance: Option<f64>,
    /// SLO compliance of the LLM kinds together, 0 to 1; `None` without LLM requests.
    pub llm_slo: Option<f64>,
    /// SLO compliance of embedding requests, 0 to 1; `None` without them.
    pub embedding_slo: Option<f64>,
    /// Failed requests / all requests, 0 to 1; `None` when an imported file lacks a count.
    pub error_rate: Option<f64>,
    /// The tool and version an imported run came from (`GuideLLM 0.8.1`); `None` for this
    /// tool's runs.
    pub imported_from: Option<String>,
    /// Whether the run was interrupted.
    pub partial: bool,
    /// Trials behind the values: 1 for a single run; more when the values are means over
    /// repeated trials.
    pub trials: u32,
    /// Over trials: per column, the half-width of the mean's 95 % confidence interval.
    pub half_widths: BTreeMap<Column, f64>,
}

/// SLO compliance (requests met / requests) and mean E2E latency (weighted by each kind's
/// successful requests) of the LLM kinds together; both `None` without LLM requests.
fn llm_kinds(r: &PolicyRun) -> (Option<f64>, Option<f64>) {
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
    for e in llm.iter().filter_map(|s| s.e2e.as_ref()) {
        sum += e.mean_ms * e.count as f64;
        n += e.count;
    }
    (
        Some(met as f64 / total as f64),
        (n > 0).then(|| sum / n as f64),
    )
}

impl SummaryRow {
    /// The row of one run; over repeated trials, the means over the trials with their
    /// intervals' half-widths.
    pub fn of(r: &NamedRun<'_>) -> Self {
        let mut row = Self::of_run(r.run, r.name(), r.index);
        row.imported_from = r.tool.map(|t| t.label());
        if let Some(stats) = r.stats {
            for (id, est) in &stats.metrics {
                let Some(c) = Column::from_id(id) else {
                    continue;
                };
                c.set(&mut row, est.mean);
                row.trials = row.trials.max(est.values.len() as u32);
                if let Some(i) = est.interval {
                    row.half_widths.insert(c, i.half_width());
                }
            }
        }
        row
    }

    /// The row of a run, with the name and index it gets.
    pub fn of_run(run: &PolicyRun, name: String, index: usize) -> Self {
        let (llm_slo, llm_e2e_avg_ms) = llm_kinds(run);
        let embedding = run.by_kind.get("embedding");
        let p = |m: LatencyMetric, q: Percentile| values::latency_percentile(run, m, q);
        Self {
            name,
            index,
            throughput_rps: values::throughput(run),
            output_tokens_per_s: values::output_tokens_per_s(run),
            ttft_p50_ms: p(LatencyMetric::Ttft, Percentile::P50),
            ttft_p99_ms: p(LatencyMetric::Ttft, Percentile::P99),
            high_ttft_p99_ms: run
                .by_priority
                .get("HIGH")
                .and_then(|h| h.ttft.as_ref())
                .map(|l| l.p99_ms),
            tpot_p50_ms: p(LatencyMetric::Tpot, Percentile::P50),
            e2e_avg_ms: values::latency_mean(run, LatencyMetric::E2e),
            e2e_p99_ms: p(LatencyMetric::E2e, Percentile::P99),
            llm_e2e_avg_ms,
            embedding_e2e_avg_ms: embedding.and_then(|e| e.e2e.as_ref()).map(|l| l.mean_ms),
            slo_compliance: values::slo_compliance(run),
            llm_slo,
            embedding_slo: embedding.map(|e| e.slo_compliance),
            error_rate: values::error_rate(run),
            partial: run.partial,
            trials: 1,
            half_widths: BTreeMap::new(),
            imported_from: None,
        }
    }
}

/// The rows of these runs, in their order.
pub fn summary_rows(runs: &[NamedRun<'_>]) -> Vec<SummaryRow> {
    runs.iter().map(SummaryRow::of).collect()
}

/// Whether any row has embedding requests (a hybrid workload).
pub fn has_embeddings(rows: &[SummaryRow]) -> bool {
    rows.iter().any(|r| r.embedding_slo.is_some())
}

/// Sorts rows by a column (names alphabetically; missing values last either way); stable, so
/// equal values keep their run order.
pub fn sort_rows(rows: &mut [SummaryRow], column: Column, descending: bool) {
    rows.sort_by(|a, b| {
        let ord = match column {
            Column::Policy => a.name.cmp(&b.name),
            _ => match (column.value(a), column.value(b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        };
        if descending { ord.reverse() } else { ord }
    });
}

/// The index (into `rows`) of the first row with the best value in a column, whenever any
/// row has a value (the terminal table's "best of" lines).
pub fn leading_row(rows: &[SummaryRow], column: Column) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| column.value(r).map(|v| (i, v)))
    {
        let better = best.is_none_or(|(_, b)| {
            if column.higher_is_better() {
                v > b
            } else {
                v < b
            }
        });
        if better {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// The index (into `rows`) of the best row in a column (the first of equals), when at least
/// two rows have a value and they are not all equal.
pub fn best_row(rows: &[SummaryRow], column: Column) -> Option<usize> {
    let values: Vec<f64> = rows.iter().filter_map(|r| column.value(r)).collect();
    if values.len() < 2 || values.iter().all(|v| *v == values[0]) {
        return None;
    }
    leading_row(rows, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::fixtures::{report, run};
    use crate::chart::runs::name_runs;
    use crate::report::RunParams;

    #[test]
    fn rows_hold_the_terminal_tables_numbers() {
        let rep = report(vec![
            run("fifo", 30, 1, RunParams::default()),
            run("prio", 30, 5, RunParams::default()),
        ]);
        let runs = name_runs(&[("r", &rep)]);
        let rows = summary_rows(&runs);
        let s = &rep.runs[1].summary;
        let r = &rows[1];
        assert_eq!(r.name, "prio");
        assert_eq!(Column::Throughput.value(r), Some(s.request_throughput_rps));
        assert_eq!(Column::TtftP99.value(r), Some(s.ttft.unwrap().p99_ms));
        assert_eq!(
            Column::HighTtftP99.value(r),
            Some(rep.runs[1].by_priority["HIGH"].ttft.unwrap().p99_ms)
        );
        assert_eq!(Column::E2eAvg.value(r), Some(s.e2e.unwrap().mean_ms));
        assert_eq!(Column::Slo.value(r), Some(s.slo_compliance));
        assert_eq!(
            Column::Errors.text(r),
            format!("{:.1}%", s.error_rate * 100.0)
        );
        assert_eq!(
            Column::Throughput.text(r),
            format!("{:.1}", s.request_throughput_rps)
        );
        assert_eq!(Column::Policy.value(r), None);
        // Embeddings present: the LLM and embedding SLO columns come before Errors.
        let cols = Column::for_rows(&rows);
        assert_eq!(
            &cols[cols.len() - 3..],
            [Column::LlmSlo, Column::EmbeddingSlo, Column::Errors]
        );
        let llm = &rep.runs[1].by_kind["llm_chat"];
        assert_eq!(
            r.llm_slo,
            Some(llm.slo_met as f64 / llm.requests_total as f64)
        );
        assert_eq!(
            Column::LlmE2eAvg.value(r),
            Some(llm.e2e.unwrap().mean_ms),
            "one LLM kind: its own mean"
        );
        assert_eq!(
            Column::EmbeddingE2eAvg.value(r),
            Some(rep.runs[1].by_kind["embedding"].e2e.unwrap().mean_ms)
        );
    }

    #[test]
    fn formatting_matches_the_terminal_table() {
        assert_eq!(ms(Some(123.456)), "123");
        assert_eq!(ms(Some(99.94)), "99.9");
        assert_eq!(ms(None), "-");
        assert_eq!(pct(Some(0.9751)), "97.5%");
        assert_eq!(pct(None), "-");
        let mut row = SummaryRow::of(
            &name_runs(&[("r", &report(vec![run("x", 5, 1, RunParams::default())]))])[0],
        );
        row.partial = true;
        assert_eq!(Column::Policy.text(&row), "x (partial)");
        // Headers carry the unit; the terminal writes it after each value instead.
        assert_eq!(Column::TtftP99.header(), "TTFT p99 (ms)");
        assert_eq!(Column::Throughput.header(), "Throughput (req/s)");
        assert_eq!(Column::OutputTokens.header(), "Out tok/s");
        assert_eq!(Column::Slo.header(), "SLO");
        row.throughput_rps = Some(8.25);
        row.ttft_p99_ms = Some(123.4);
        row.high_ttft_p99_ms = None;
        row.slo_compliance = Some(0.5);
        assert_eq!(Column::Throughput.text_with_unit(&row), "8.2 req/s");
        assert_eq!(Column::TtftP99.text_with_unit(&row), "123 ms");
        assert_eq!(Column::HighTtftP99.text_with_unit(&row), "-");
        assert_eq!(Column::Slo.text_with_unit(&row), "50.0%");
        assert_eq!(Column::Policy.text_with_unit(&row), "x (partial)");
        assert_eq!(Column::TtftP99.sentence_value(123.4), "123.4 ms");
        assert_eq!(Column::Throughput.sentence_value(8.25), "8.2 req/s");
        assert_eq!(Column::Slo.sentence_value(0.5), "50.0%");
    }

    #[test]
    fn sorting_and_best_values() {
        let rep = report(vec![
            run("b", 30, 3, RunParams::default()),
            run("a", 30, 1, RunParams::default()),
            run("c", 30, 2, RunParams::default()),
        ]);
        let rows = summary_rows(&name_runs(&[("r", &rep)]));
        let mut sorted = rows.clone();
        sort_rows(&mut sorted, Column::TtftP99, false);
        assert_eq!(
            sorted.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "c", "b"]
        );
        sort_rows(&mut sorted, Column::Policy, true);
        assert_eq!(
            sorted.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["c", "b", "a"]
        );
        assert_eq!(best_row(&rows, Column::TtftP99), Some(1));
        assert_eq!(best_row(&rows, Column::Policy), None);
        // All equal: nothing is best, but the first leads.
        assert_eq!(best_row(&rows, Column::Errors), None);
        assert_eq!(leading_row(&rows, Column::Errors), Some(0));
        assert_eq!(leading_row(&rows, Column::TtftP99), Some(1));
        assert_eq!(leading_row(&rows, Column::Policy), None);
        // One value: it leads, but is not marked best.
        let mut one = rows.clone();
        for r in &mut one[..2] {
            r.ttft_p99_ms = None;
        }
        assert_eq!(leading_row(&one, Column::TtftP99), Some(2));
        assert_eq!(best_row(&one, Column::TtftP99), None);
        let mut missing = rows.clone();
        missing[0].ttft_p99_ms = None;
        sort_rows(&mut missing, Column::TtftP99, true);
        assert_eq!(
            missing.last().unwrap().name,
            "b",
            "missing values sort last"
        );
    }
}
