//! The section of each run: its parameters and totals, latency statistics, breakdowns by
//! priority, type and model, errors, warnings and control-plane metrics.

use super::{AlertKind, Block, Cell, LATENCY_HEADERS, Table, heading, latency_cells, num};
use cpbench_core::chart::metric::LatencyMetric;
use cpbench_core::chart::runs::run_label;
use cpbench_core::chart::table::{ms, pct};
use cpbench_core::metrics::Summary;
use cpbench_core::report::{PolicyRun, PolicySwitch};
use std::collections::BTreeMap;

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

/// The section of run number `i` (from 0).
pub(super) fn blocks(i: usize, r: &PolicyRun) -> Vec<Block> {
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
                "{} out/s, {} in+out/s ({} output tokens{}; {} input tokens, {} of them estimated)",
                num(s.output_tokens_per_s, 0),
                num(s.total_tokens_per_s, 0),
                s.output_tokens_total,
                if s.output_tokens_estimated > 0 {
                    format!(
                        ", estimated from the text for {} requests",
                        s.output_tokens_estimated
                    )
                } else {
                    String::new()
                },
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
    if !r.notes.is_empty() {
        b.push(Block::Details {
            summary: format!("Notes ({})", r.notes.len()),
            blocks: vec![Block::List(r.notes.clone())],
        });
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
