//! A predefined experiment from Rust: the `throughput` experiment (each policy at several
//! rates; the highest rate it sustains) against the embedded reference control plane, with
//! the summary computed by `core::experiment` from the report alone.
//!
//! ```sh
//! cargo run --release -p sage-cp-bench --example run_experiment
//! ```

use anyhow::Result;
use cpbench_core::config::{BenchmarkConfig, Mode};
use cpbench_core::experiment::{ExperimentName, ThroughputCriteria, summarize};
use cpbench_core::report::{ReportKind, RunParams};
use cpbench_core::workload::{WorkloadData, generate};
use sage_cp_bench::control::SwitchMode;
use sage_cp_bench::runner::{BenchOptions, Step, Target, run_steps};
use sage_cp_bench::sender::Cancel;
use sage_cp_bench::{export, server, settings};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<()> {
    let mut base = BenchmarkConfig::for_mode(Mode::Llm);
    base.num_requests = 40;
    base.warmup_requests = 2;
    base.policies = vec!["fifo".into(), "slo_aware".into()];
    settings::fit_models_to_cluster(&mut base, &server::cluster_from_arg("tiny")?);
    // One workload per rate, shared by the policies at that rate.
    let mut steps = Vec::new();
    for rate in [10.0, 20.0, 40.0] {
        let mut c = base.clone();
        c.request_rate = rate;
        c.validate()?;
        let w = Arc::new(generate(&c, &WorkloadData::none())?);
        for p in &c.policies {
            steps.push(Step {
                policy: p.clone(),
                params: RunParams {
                    request_rate_rps: Some(rate),
                    ..RunParams::default()
                },
                config: c.clone(),
                workload: Arc::clone(&w),
            });
        }
    }
    let opts = BenchOptions {
        kind: ReportKind::Experiment,
        target: Target::Embedded(server::NamedCluster::from_arg("tiny")?),
        switch: SwitchMode::Admin,
        api_key: None,
        admin_token: None,
        output_dir: std::env::temp_dir(),
        quiet: true,
        // The throughput summary needs the per-request records.
        keep_records: true,
        drain: Duration::from_secs(5),
        launch_timeout: Duration::from_secs(30),
        max_connections: sage_cp_bench::plan::defaults::CONNECTIONS,
        transport: sage_cp_bench::client::Transport::Auto,
        client_threads: 1,
        telemetry: sage_cp_bench::telemetry::Telemetry::off(),
    };
    let (mut report, err) = run_steps(&opts, &base, steps, &Cancel::default()).await;
    if let Some(e) = err {
        eprintln!("stopped early: {e:#}");
    }
    let summary = summarize(
        ExperimentName::Throughput,
        &report,
        ThroughputCriteria::default(),
    );
    report.experiment = Some(serde_json::to_value(&summary)?);
    println!("{}", export::table::render(&report));
    println!("{}", export::table::render_experiment(&summary));
    Ok(())
}
