//! `simulate`: the workload through the reference control plane's cluster in virtual time,
//! written as the same report a real run gives (marked simulated).

use crate::export::csv::RunTag;
use crate::export::records::RecordsWriter;
use crate::runner::Step;
use crate::telemetry::flatten::flatten_numbers;
use anyhow::{Context, Result};
use cpbench_core::cluster::ClusterMetrics;
use cpbench_core::cluster::ClusterSpec;
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::metrics::{DEFAULT_SAMPLE_LIMIT, MeasureWindow, RunAccumulator};
use cpbench_core::report::{
    PolicyRun, PolicySwitch, Report, ReportKind, RunParams, SeriesPoint, TimedValue,
};
use cpbench_core::sim;
use cpbench_core::slo::meets_slo;
use cpbench_core::workload::Workload;
use std::sync::Arc;

/// Simulates every policy of `config` on `workload` and builds the report (with a sample of
/// the records when `keep_records`; no records file). Deterministic: the same inputs (and
/// `created_at`) give the same bytes.
pub fn simulate_report(
    config: &BenchmarkConfig,
    workload: &Workload,
    cluster: &ClusterSpec,
    cluster_name: &str,
    created_at: String,
    keep_records: bool,
) -> Result<Report> {
    let workload = Arc::new(workload.clone());
    let steps: Vec<Step> = config
        .policies
        .iter()
        .map(|p| Step {
            policy: p.clone(),
            params: RunParams::default(),
            config: config.clone(),
            workload: Arc::clone(&workload),
        })
        .collect();
    simulate_steps(
        config,
        &steps,
        None,
        cluster,
        cluster_name,
        created_at,
        keep_records,
        None,
    )
}

/// Simulates each step (a policy on its workload) in order and builds the report: one run
/// per step, with the step's own SLO targets. Each record goes, as its request ends, into
/// the run's accumulator (a sample of them kept when `keep_records`) and to `records` when
/// given, and is dropped: memory does not grow with the number of requests beyond the
/// workload's schedule. `workload_hash` is the first step's [`Workload::hash`] when the
/// caller has it already (the plan computes it for its trials): the hash makes the text of
/// every request, so it is not made twice. Deterministic like [`simulate_report`].
#[allow(clippy::too_many_arguments)] // the report's inputs, each once
pub fn simulate_steps(
    config: &BenchmarkConfig,
    steps: &[Step],
    workload_hash: Option<&str>,
    cluster: &ClusterSpec,
    cluster_name: &str,
    created_at: String,
    keep_records: bool,
    mut records: Option<&mut RecordsWriter>,
) -> Result<Report> {
    let (hash, n) = steps
        .first()
        .map(|s| {
            let hash = workload_hash.map_or_else(|| s.workload.hash(), str::to_owned);
            (hash, s.workload.requests.len() as u64)
        })
        .unwrap_or_default();
    let mut report = Report::new(
        ReportKind::Simulation,
        created_at,
        serde_json::to_value(config).context("serializing the config")?,
        config.seed,
        hash,
        n,
    );
    report.environment.notes.push(format!(
        "virtual-time simulation of the reference control plane, cluster {cluster_name}; no HTTP, no warmup (the cluster starts idle)"
    ));
    for step in steps {
        let targets = &step.config.slo;
        let mut acc = RunAccumulator::new(targets, keep_records.then_some(DEFAULT_SAMPLE_LIMIT));
        let tag = RunTag::new(&step.policy, &step.params);
        let out = sim::simulate_with(
            &step.workload,
            cluster,
            &step.policy,
            step.config.seed,
            |r| {
                if let Some(w) = records.as_deref_mut() {
                    w.write(&tag, &r, meets_slo(&r, targets));
                }
                acc.push(r);
            },
        )
        .with_context(|| format!("simulating policy {:?}", step.policy))?;
        let mut run = PolicyRun::from_aggregates(
            step.policy.clone(),
            PolicySwitch::Simulated,
            step.params.clone(),
            acc.finish(MeasureWindow::UntilLastEnd),
        );
        run.control_plane.after = serde_json::to_value(&out.metrics).ok();
        attach_samples(&mut run, &out.samples);
        report.runs.push(run);
    }
    Ok(report)
}

/// The cluster's snapshots taken every second of virtual time, as a real run records its
/// polls of `/admin/metrics`: in `control_plane.samples`, and their numbers in `series` under
/// `cp/` (`cp/instances.llm-0.running`).
fn attach_samples(run: &mut PolicyRun, samples: &[(u64, ClusterMetrics)]) {
    for (us, m) in samples {
        let Ok(value) = serde_json::to_value(m) else {
            continue;
        };
        let t_s = *us as f64 / 1e6;
        for (path, value) in flatten_numbers(&value) {
            run.series
                .entry(format!("cp/{path}"))
                .or_default()
                .push(SeriesPoint { t_s, value });
        }
        run.control_plane.samples.push(TimedValue { t_s, value });
    }
}
