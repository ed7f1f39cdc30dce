//! Runs a resolved [`Plan`]: over HTTP (opening the telemetry, watching for Ctrl-C, running
//! every step) or in virtual time, then the experiment's summary, the result files, the
//! terminal output and the exit code.

use crate::cli::FormatArg;
use crate::export;
use crate::plan::{Execution, HttpPlan, Plan};
use crate::runner::{self, BenchOptions};
use crate::sender::Cancel;
use crate::simulate;
use crate::telemetry::Telemetry;
use anyhow::{Context, Result};
use cpbench_core::experiment;
use cpbench_core::report::Report;
use std::path::Path;

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Runs the plan and writes its results; returns the process exit code.
pub fn execute(plan: Plan) -> Result<i32> {
    match &plan.execution {
        Execution::Simulated(cluster) => {
            let report = simulate::simulate_steps(
                &plan.config,
                &plan.steps,
                &cluster.spec,
                &cluster.name,
                runner::now_rfc3339(),
                plan.output.keep_records || plan.experiment.is_some(),
            )?;
            finish(report, &plan, None, false)
        }
        Execution::Http(http) => {
            let http = http.as_ref().clone();
            runtime()?.block_on(over_http(plan, http))
        }
    }
}

/// The tokio runtime of the commands that talk HTTP.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    raise_fd_limit();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Open-loop runs hold one connection per request in flight: raise the soft limit on open
/// files to the hard limit.
fn raise_fd_limit() {
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get()
        && soft < hard
    {
        let _ = rlimit::Resource::NOFILE.set(hard, hard);
    }
}

async fn over_http(plan: Plan, http: HttpPlan) -> Result<i32> {
    // Before anything is sent: `--gpu-monitor required` without NVML fails here.
    let telemetry = Telemetry::open(&http.telemetry)?;
    let opts = BenchOptions {
        kind: plan.kind,
        target: http.target,
        switch: http.switch,
        api_key: http.api_key,
        output_dir: plan.output.dir.clone(),
        quiet: plan.output.quiet,
        // An experiment's summary reads the records; they are dropped afterwards unless kept.
        keep_records: plan.output.keep_records || plan.experiment.is_some(),
        drain: http.drain,
        launch_timeout: http.launch_timeout,
        max_connections: http.max_connections,
        transport: http.transport,
        client_threads: http.client_threads,
        telemetry,
    };
    let cancel = Cancel::default();
    let watcher = {
        let stop = cancel.stop.clone();
        let quiet = plan.output.quiet;
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                if !quiet {
                    eprintln!(
                        "\ninterrupted: stopping, waiting briefly for requests in flight, then writing what was measured"
                    );
                }
                stop.cancel();
            }
        })
    };
    let (report, err) = runner::run_steps(&opts, &plan.config, plan.steps.clone(), &cancel).await;
    watcher.abort();
    finish(report, &plan, err, cancel.stop.is_cancelled())
}

/// Adds the plan's notes and the experiment's summary, writes the result files, prints the
/// table (or JSON), and picks the exit code.
fn finish(
    mut report: Report,
    plan: &Plan,
    err: Option<anyhow::Error>,
    interrupted: bool,
) -> Result<i32> {
    report.environment.notes.extend(plan.notes.iter().cloned());
    let summary = plan
        .experiment
        .map(|e| experiment::summarize(e.name, &report, e.criteria));
    if let Some(s) = &summary {
        report.experiment =
            Some(serde_json::to_value(s).context("serializing the experiment summary")?);
        if !plan.output.keep_records {
            for r in &mut report.runs {
                r.records = None;
            }
        }
    }
    let out = &plan.output;
    if !report.runs.is_empty() {
        let mut written = export::write_results(&report, &out.dir)?;
        if out.visualize {
            let all = export::visualize::Formats::ALL;
            written.extend(export::visualize::write(
                &report,
                &out.dir,
                all,
                Path::new("."),
            )?);
        }
        match out.format {
            FormatArg::Table => {
                println!("{}", export::table::render(&report));
                for p in &written {
                    println!("Wrote {}", p.display());
                }
                if let Some(s) = &summary {
                    println!("{}", export::table::render_experiment(s));
                }
            }
            FormatArg::Json => println!("{}", report.to_json_pretty()),
        }
    }
    if let Some(e) = err {
        if report.runs.is_empty() {
            return Err(e);
        }
        eprintln!("Error: {e:#}");
        eprintln!("(the result files hold the runs measured before the failure, marked partial)");
        return Ok(1);
    }
    Ok(if interrupted { EXIT_INTERRUPTED } else { 0 })
}
