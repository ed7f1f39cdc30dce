//! What a comparison concludes, in words shared by the terminal, the HTML and Markdown
//! reports and the viewer: the "best of" lines (over repeated trials, a winner only when it
//! can be told from the runner-up) and the verdict table (each policy against the baseline).

use super::table::{Column, SummaryRow, has_embeddings, leading_row, ms};
use crate::report::{Leader, Statistics, StatisticsGroup};

/// The "best of" items: a title and the column whose leader it names.
pub fn best_items(hybrid: bool) -> Vec<(&'static str, Column)> {
    let mut items = vec![
        ("Best throughput", Column::Throughput),
        ("Lowest TTFT p99", Column::TtftP99),
        ("Lowest HIGH-priority TTFT p99", Column::HighTtftP99),
    ];
    if hybrid {
        items.push(("Best LLM SLO", Column::LlmSlo));
        items.push(("Best embedding SLO", Column::EmbeddingSlo));
    } else {
        items.push(("Best SLO", Column::Slo));
    }
    items
}

/// The columns of the verdict table.
pub fn verdict_columns(hybrid: bool) -> Vec<Column> {
    let mut cols = vec![
        Column::Throughput,
        Column::TtftP99,
        Column::HighTtftP99,
        Column::TpotP50,
        Column::E2eP99,
    ];
    if hybrid {
        cols.extend([Column::LlmSlo, Column::EmbeddingSlo]);
    } else {
        cols.push(Column::Slo);
    }
    cols
}

/// The variant a group of statistics is about (`@40 req/s`, `llm=0.5`), empty for the only
/// variant of a comparison.
pub fn group_label(g: &StatisticsGroup) -> String {
    let mut parts = Vec::new();
    if let Some(r) = g.request_rate_rps {
        parts.push(format!("@{r} req/s"));
    }
    if let Some(l) = g.llm_ratio {
        parts.push(format!("llm={l}"));
    }
    parts.join(" ")
}

/// A p-value for reading: `p < 0.001`, else three decimals.
pub fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

/// A difference in a column's unit, signed: `+1.2 pts` (percentages), `-12 ms`, `+0.4 req/s`.
pub fn difference_text(c: Column, d: f64) -> String {
    let sign = if d > 0.0 {
        "+"
    } else if d < 0.0 {
        "-"
    } else {
        "±"
    };
    let a = d.abs();
    if c.is_percent() {
        return format!("{sign}{:.1} pts", a * 100.0);
    }
    match c {
        Column::Throughput => format!("{sign}{a:.2} req/s"),
        Column::OutputTokens => format!("{sign}{a:.0} tok/s"),
        _ => format!("{sign}{} ms", ms(Some(a))),
    }
}

/// The "best of" lines. Over repeated trials (`stats`), each names the leader only when its
/// paired difference from the runner-up is significant, and otherwise says the top policies
/// are not distinguishable and roughly how many trials would tell them apart. From single
/// runs, the leading run, and a closing line that nothing was tested.
pub fn best_lines(rows: &[SummaryRow], stats: Option<&Statistics>) -> Vec<String> {
    if rows.len() < 2 {
        return Vec::new();
    }
    let hybrid = has_embeddings(rows);
    let Some(stats) = stats else {
        let mut out: Vec<String> = best_items(hybrid)
            .into_iter()
            .filter_map(|(title, col)| {
                let r = &rows[leading_row(rows, col)?];
                let v = col.value(r)?;
                Some(format!("{title}: {} ({})", r.name, col.sentence_value(v)))
            })
            .collect();
        out.push(
            "One run per policy: these differences are not tested (no interval can be given from one trial); \
             repeat with --trials 5 or more for intervals and verdicts."
                .into(),
        );
        return out;
    };
    let several = stats.groups.len() > 1;
    let mut out = Vec::new();
    for g in &stats.groups {
        let prefix = if several {
            format!("{} ", group_label(g))
        } else {
            String::new()
        };
        for (title, col) in best_items(hybrid) {
            let Some(l) = g.leaders.iter().find(|l| l.metric == col.id()) else {
                continue;
            };
            out.push(format!("{prefix}{title}: {}", leader_text(g, l, col)));
        }
    }
    out
}

/// The mean of a policy's metric with its interval's half-width, in the column's format.
fn estimate_text(g: &StatisticsGroup, policy: &str, col: Column) -> String {
    let Some(e) = g
        .policies
        .iter()
        .find(|p| p.policy == policy)
        .and_then(|p| p.metrics.get(col.id()))
    else {
        return "-".into();
    };
    match e.interval {
        Some(i) if col.is_percent() => {
            format!("{:.1} ± {:.1}%", e.mean * 100.0, i.half_width() * 100.0)
        }
        Some(i) => match col.unit() {
            "" => format!("{:.1} ± {:.1}", e.mean, i.half_width()),
            unit => format!("{:.1} ± {:.1} {unit}", e.mean, i.half_width()),
        },
        None => col.sentence_value(e.mean),
    }
}

fn leader_text(g: &StatisticsGroup, l: &Leader, col: Column) -> String {
    let trials = g.complete_trials;
    let lead = estimate_text(g, &l.policy, col);
    match (&l.runner_up, l.significant, l.p_value) {
        (Some(r), Some(true), Some(p)) => format!(
            "{} ({lead}), ahead of {r} ({}) over {trials} trials, {}",
            l.policy,
            estimate_text(g, r, col),
            p_text(p)
        ),
        (Some(r), Some(false), Some(p)) => format!(
            "not distinguishable over {trials} trials: {} ({lead}) and {r} ({}), {}{}",
            l.policy,
            estimate_text(g, r, col),
            p_text(p),
            l.trials_needed
                .map(|n| format!("; about {n} trials would tell them apart"))
                .unwrap_or_default()
        ),
        _ => format!("{} ({lead}; not tested)", l.policy),
    }
}

/// One line of the verdict table: a policy against the baseline on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRow {
    /// The variant (`@40 req/s`), empty for a plain comparison.
    pub variant: String,
    /// The policy compared.
    pub policy: String,
    /// The baseline.
    pub baseline: String,
    /// The metric.
    pub column: Column,
    /// The mean paired difference, policy minus baseline, in the metric's unit.
    pub difference: String,
    /// Its 95 % confidence interval.
    pub interval: String,
    /// The Holm-adjusted p-value.
    pub p_adjusted: String,
    /// `better`, `worse` or `not significant`.
    pub verdict: String,
    /// Whether the difference is significant.
    pub significant: bool,
}

impl VerdictRow {
    /// The table's column headers, with `Variant` first when `several` variants are shown.
    pub fn headers(several: bool) -> Vec<&'static str> {
        let mut h = if several { vec!["Variant"] } else { Vec::new() };
        h.extend([
            "Policy",
            "Metric",
            "Difference",
            "95% interval",
            "p (adjusted)",
            "Verdict",
        ]);
        h
    }

    /// The row's cells, in the order of [`VerdictRow::headers`].
    pub fn cells(&self, several: bool) -> Vec<String> {
        let mut c = if several {
            vec![self.variant.clone()]
        } else {
            Vec::new()
        };
        c.extend([
            self.policy.clone(),
            self.column.label().to_string(),
            self.difference.clone(),
            self.interval.clone(),
            self.p_adjusted.clone(),
            self.verdict.clone(),
        ]);
        c
    }
}

/// The verdict table's rows: per variant, each policy against the baseline on each of
/// [`verdict_columns`].
pub fn verdict_rows(stats: &Statistics, hybrid: bool) -> Vec<VerdictRow> {
    let several = stats.groups.len() > 1;
    let mut out = Vec::new();
    for g in &stats.groups {
        let variant = if several {
            group_label(g)
        } else {
            String::new()
        };
        for p in g.policies.iter().filter(|p| p.policy != stats.baseline) {
            for col in verdict_columns(hybrid) {
                let Some(c) = g
                    .comparisons
                    .iter()
                    .find(|c| c.policy == p.policy && c.metric == col.id())
                else {
                    continue;
                };
                let d = &c.difference;
                out.push(VerdictRow {
                    variant: variant.clone(),
                    policy: p.policy.clone(),
                    baseline: stats.baseline.clone(),
                    column: col,
                    difference: difference_text(col, d.mean),
                    interval: format!(
                        "[{}, {}]",
                        difference_text(col, d.low),
                        difference_text(col, d.high)
                    ),
                    p_adjusted: p_text(c.p_adjusted),
                    verdict: match (c.significant, c.better) {
                        (true, true) => "better".into(),
                        (true, false) => "worse".into(),
                        (false, _) => "not significant".into(),
                    },
                    significant: c.significant,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_read_in_their_units() {
        assert_eq!(difference_text(Column::Slo, 0.0123), "+1.2 pts");
        assert_eq!(difference_text(Column::TtftP99, -1234.0), "-1234 ms");
        assert_eq!(difference_text(Column::TpotP50, 1.25), "+1.2 ms");
        assert_eq!(difference_text(Column::Throughput, 0.0), "±0.00 req/s");
        assert_eq!(p_text(0.0004), "p < 0.001");
        assert_eq!(p_text(0.04123), "p = 0.041");
    }
}
