//! Run a benchmark from Rust against the reference control plane embedded in the library
//! (simulated GPUs, real HTTP on 127.0.0.1), then print the terminal table.
//!
//! ```sh
//! cargo run --release -p sage-cp-bench --example embedded_benchmark
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
    // The workload: 40 LLM requests at 20 req/s, seeded, so every run sends the same bytes.
    let mut config = BenchmarkConfig::for_mode(Mode::Llm);
    config.num_requests = 40;
    config.request_rate = 20.0;
    config.warmup_requests = 2;
    config.policies = vec!["fifo".into()];
    // Send the models the embedded cluster serves.
    let cluster = server::cluster_from_arg("tiny")?;
    settings::fit_models_to_cluster(&mut config, &cluster);
    config.validate()?;
    let workload = Arc::new(generate(&config, &WorkloadData::none())?);
    println!("workload hash {}", workload.hash());

    let opts = BenchOptions {
        kind: ReportKind::Run,
        // Target::Url("http://host:port".into()) measures a real control plane instead.
        target: Target::Embedded(server::NamedCluster::from_arg("tiny")?),
        switch: SwitchMode::Admin,
        api_key: None,
        admin_token: None,
        output_dir: std::env::temp_dir(),
        quiet: true,
        keep_records: true,
        drain: Duration::from_secs(5),
        launch_timeout: Duration::from_secs(30),
        max_connections: sage_cp_bench::plan::defaults::CONNECTIONS,
        transport: sage_cp_bench::client::Transport::Auto,
        client_threads: 1,
        telemetry: sage_cp_bench::telemetry::Telemetry::off(),
    };
    let steps = vec![Step {
        policy: "fifo".into(),
        params: RunParams::default(),
        config: config.clone(),
        workload,
    }];
    let (report, err) = run_steps(&opts, &config, steps, &Cancel::default()).await;
    if let Some(e) = err {
        eprintln!("the run failed: {e:#}");
    }
    println!("{}", export::table::render(&report));
    let s = &report.runs[0].summary;
    println!(
        "{} of {} requests met their SLO; E2E p99 {:.1} ms",
        s.slo_met,
        s.requests_total,
        s.e2e.as_ref().map_or(f64::NAN, |e| e.p99_ms)
    );
    Ok(())
}
