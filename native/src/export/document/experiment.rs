//! The experiment section: what a predefined experiment found (best policy, sustained rates,
//! latency and SLO compliance by group), or the raw summary when this version cannot read it.

use super::{Block, Cell, LATENCY_HEADERS, Table, heading, latency_cells, num};
use crate::export::report_set::experiment_summary;
use cpbench_core::chart::table::pct;
use cpbench_core::report::Report;
use serde_json::Value;
use std::collections::BTreeSet;

/// The experiment section of `report`, whose stored summary is `raw`.
pub(super) fn blocks(report: &Report, raw: &Value) -> Vec<Block> {
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
