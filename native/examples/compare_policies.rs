//! Compare scheduling policies on the identical request stream (the same seeded workload for
//! every policy) against the embedded reference control plane, and name the best one by SLO
//! compliance of HIGH-priority requests.
//!
//! ```sh
//! cargo run --release -p sage-cp-bench --example compare_policies
//! ```

use anyhow::Result;
use cpbench_core::config::{BenchmarkConfig, Mode};
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
    let mut config = BenchmarkConfig::for_mode(Mode::Llm);
    config.num_requests = 60;
    config.request_rate = 30.0;
    config.warmup_requests = 2;
    config.policies = vec!["fifo".into(), "priority".into(), "slo_aware".into()];
    settings::fit_models_to_cluster(&mut config, &server::cluster_from_arg("tiny")?);
    config.validate()?;
    // One workload, shared by every policy.
    let workload = Arc::new(generate(&config, &WorkloadData::none())?);
    let steps = config
        .policies
        .iter()
        .map(|p| Step {
            policy: p.clone(),
            params: RunParams::default(),
            config: config.clone(),
            workload: Arc::clone(&workload),
        })
        .collect();
    let opts = BenchOptions {
        kind: ReportKind::Compare,
        target: Target::Embedded(server::NamedCluster::from_arg("tiny")?),
        switch: SwitchMode::Admin,
        api_key: None,
        admin_token: None,
        output_dir: std::env::temp_dir(),
        quiet: true,
        keep_records: false,
        drain: Duration::from_secs(5),
        launch_timeout: Duration::from_secs(30),
        max_connections: sage_cp_bench::plan::defaults::CONNECTIONS,
        transport: sage_cp_bench::client::Transport::Auto,
        client_threads: 1,
        telemetry: sage_cp_bench::telemetry::Telemetry::off(),
    };
    let (report, err) = run_steps(&opts, &config, steps, &Cancel::default()).await;
    if let Some(e) = err {
        eprintln!("stopped early: {e:#}");
    }
    println!("{}", export::table::render(&report));
    let high = |r: &cpbench_core::report::PolicyRun| {
        r.by_priority.get("HIGH").map_or(0.0, |s| s.slo_compliance)
    };
    if let Some(best) = report
        .runs
        .iter()
        .max_by(|a, b| high(a).total_cmp(&high(b)))
    {
        println!(
            "best for HIGH-priority requests: {} ({:.1}% met their SLO)",
            best.policy,
            high(best) * 100.0
        );
    }
    Ok(())
}
