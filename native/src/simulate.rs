//! `simulate`: the workload through the reference control plane's cluster in virtual time,
//! written as the same report a real run gives (marked simulated).

use anyhow::{Context, Result};
use cpbench_core::cluster::ClusterSpec;
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::report::{PolicyRun, PolicySwitch, Report, ReportKind, RunParams};
use cpbench_core::sim;
use cpbench_core::workload::Workload;

/// Simulates every policy of `config` on `workload` and builds the report. Deterministic:
/// the same inputs (and `created_at`) give the same bytes.
pub fn simulate_report(
    config: &BenchmarkConfig,
    workload: &Workload,
    cluster: &ClusterSpec,
    cluster_name: &str,
    created_at: String,
    keep_records: bool,
) -> Result<Report> {
    let mut report = Report::new(
        ReportKind::Simulation,
        created_at,
        serde_json::to_value(config).context("serializing the config")?,
        config.seed,
        workload.hash(),
        workload.requests.len() as u64,
    );
    report.environment.notes.push(format!(
        "virtual-time simulation of the reference control plane, cluster {cluster_name}; no HTTP, no warmup (the cluster starts idle)"
    ));
    for policy in &config.policies {
        let out = sim::simulate(&workload.requests, cluster, policy, config.seed)
            .with_context(|| format!("simulating policy {policy:?}"))?;
        let mut run = PolicyRun::from_records(
            policy.clone(),
            PolicySwitch::Simulated,
            RunParams::default(),
            out.records,
            &config.slo,
            keep_records,
        );
        run.control_plane.after = serde_json::to_value(&out.metrics).ok();
        report.runs.push(run);
    }
    Ok(report)
}
