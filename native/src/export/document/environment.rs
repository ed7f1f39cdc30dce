//! The GPU and configuration sections: what the benchmark ran on (control plane, host, GPUs)
//! and the resolved configuration it ran with.

use super::{AlertKind, Block, Cell, Table};
use cpbench_core::report::{GpuStatus, Report};
use serde_json::Value;

/// A JSON value as one line: strings as they are, everything else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The GPU section: whether GPUs were sampled, and which.
pub(super) fn gpu_blocks(report: &Report) -> Vec<Block> {
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

/// The configuration section: where the benchmark ran and the resolved configuration.
pub(super) fn config_blocks(report: &Report) -> Vec<Block> {
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
    kv.push(("SLO".into(), report.slo_targets().describe()));
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
