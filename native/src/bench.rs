//! Runs a resolved [`Plan`]: over HTTP (opening the telemetry, watching for Ctrl-C, running
//! every step) or in virtual time, then the experiment's summary, the result files, the
//! terminal output and the exit code.

use crate::cli::FormatArg;
use crate::control::ControlPlane;
use crate::export;
use crate::export::records::RecordsWriter;
use crate::plan::{Execution, HttpPlan, Plan};
use crate::runner::{self, BenchOptions, Target};
use crate::sender::Cancel;
use crate::simulate;
use crate::telemetry::Telemetry;
use anyhow::{Context, Result};
use cpbench_core::report::Report;
use cpbench_core::{experiment, trials};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT); SIGTERM gives 143, SIGHUP 129.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Runs the plan and writes its results; returns the process exit code.
pub fn execute(plan: Plan) -> Result<i32> {
    // Before anything is measured: a run must not be thrown away for want of a folder.
    export::prepare_output_dir(&plan.output.dir)
        .map_err(|e| crate::plan::usage(format!("--output: {e:#}")))?;
    let mut records = if plan.output.keep_records {
        Some(RecordsWriter::create(
            &plan.output.dir,
            plan.output.records_csv,
        )?)
    } else {
        None
    };
    match &plan.execution {
        Execution::Simulated(cluster) => {
            let report = simulate::simulate_steps(
                &plan.config,
                &plan.steps,
                plan.trials
                    .workloads
                    .first()
                    .map(|t| t.workload_hash.as_str()),
                &cluster.spec,
                &cluster.name,
                runner::now_rfc3339(),
                plan.output.keep_records,
                records.as_mut(),
            )?;
            finish(report, &plan, None, None, records)
        }
        Execution::Http(http) => {
            let http = http.as_ref().clone();
            runtime()?.block_on(over_http(plan, http, records))
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

/// Before anything is measured on a control plane we did not start: it must be ready, and
/// the workload's models must be ones it serves (`GET /v1/models`), or, when the user chose
/// none, become the ones it serves.
async fn preflight(plan: &mut Plan, http: &HttpPlan) -> Result<()> {
    let Target::Url(url) = &http.target else {
        return Ok(());
    };
    let probe = reqwest::Client::builder().no_proxy().build()?;
    let cp = ControlPlane::new(probe, url).with_api_key(http.api_key.clone());
    cp.wait_ready(&http.health, PREFLIGHT_READY_TIMEOUT).await?;
    match cp.served_models().await {
        Some(served) => plan.fit_models(&served, url)?,
        None => plan.notes.push(format!(
            "{url}/v1/models did not answer with a model list: the models sent were not checked against the served ones"
        )),
    }
    Ok(())
}

/// How long a control plane may take to be ready before the first run.
const PREFLIGHT_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn over_http(mut plan: Plan, http: HttpPlan, records: Option<RecordsWriter>) -> Result<i32> {
    // Before anything is sent: `--gpu-monitor required` without NVML fails here.
    let telemetry = Telemetry::open(&http.telemetry)?.with_admin_token(http.admin_token.clone());
    preflight(&mut plan, &http).await?;
    let opts = BenchOptions {
        kind: plan.kind,
        target: http.target,
        switch: http.switch,
        api_key: http.api_key,
        admin_token: http.admin_token,
        output_dir: plan.output.dir.clone(),
        quiet: plan.output.quiet,
        keep_records: plan.output.keep_records,
        records: records.map(|w| Arc::new(Mutex::new(w))),
        drain: http.drain,
        reset_urls: http.reset_urls,
        launch_timeout: http.launch_timeout,
        health: http.health,
        max_connections: http.max_connections,
        max_response_bytes: http.max_response_bytes,
        tokenizer: http.tokenizer,
        transport: http.transport,
        client_threads: http.client_threads,
        telemetry,
    };
    let cancel = Cancel::default();
    let watcher = tokio::spawn(watch_signals(cancel.clone(), plan.output.quiet));
    let (report, err) = runner::run_steps_sharded(
        &opts,
        &plan.config,
        plan.steps.clone(),
        &cancel,
        plan.shard.as_ref(),
    )
    .await;
    watcher.abort();
    // Every run's collector has ended: the writer is ours again.
    let records = opts
        .records
        .and_then(|w| Arc::try_unwrap(w).ok())
        .map(|w| w.into_inner().unwrap_or_else(|e| e.into_inner()));
    finish(report, &plan, err, cancel.signal(), records)
}

/// Stops the run on SIGINT (Ctrl-C), SIGTERM (`timeout`, `docker stop`, `kubectl delete`, CI
/// cancellation) or SIGHUP (a closed terminal or SSH session): sending stops, requests in
/// flight get a grace period, and what was measured is written. A second signal aborts the
/// requests still in flight at once.
async fn watch_signals(cancel: Cancel, quiet: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let kinds = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ];
    let mut streams = Vec::new();
    for k in kinds {
        match signal(k) {
            Ok(s) => streams.push((k, s)),
            Err(e) => tracing::warn!("cannot watch signal {}: {e}", k.as_raw_value()),
        }
    }
    loop {
        let next = futures_util::future::select_all(
            streams
                .iter_mut()
                .map(|(k, s)| Box::pin(async move { s.recv().await.map(|_| k.as_raw_value()) })),
        );
        let (received, _, _) = next.await;
        let Some(signo) = received else { return };
        let name = runner::signal_name(signo);
        if cancel.stop.is_cancelled() {
            if !quiet {
                eprintln!("\n{name} again: aborting the requests still in flight");
            }
            cancel.abort.cancel();
            continue;
        }
        let _ = cancel.signal.compare_exchange(
            0,
            signo,
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
        );
        if !quiet {
            eprintln!(
                "\n{name}: stopping, waiting briefly for requests in flight, then writing what was measured (again to abort them)"
            );
        }
        cancel.stop.cancel();
    }
}

/// Adds the plan's notes and the experiment's summary, writes the result files, prints the
/// table (or JSON), and picks the exit code.
fn finish(
    mut report: Report,
    plan: &Plan,
    err: Option<anyhow::Error>,
    signal: Option<i32>,
    records: Option<RecordsWriter>,
) -> Result<i32> {
    report.environment.notes.extend(plan.notes.iter().cloned());
    if plan.trials.count > 1 {
        report.statistics = Some(trials::statistics(
            &report.runs,
            &trials::TrialPlan {
                trials: plan.trials.count,
                seeds: plan.trials.seeds,
                workloads: plan.trials.workloads.clone(),
                baseline: plan.trials.baseline.clone(),
                seed: plan.config.seed,
            },
        ));
    }
    let summary = plan
        .experiment
        .map(|e| experiment::summarize(e.name, &report, e.criteria));
    if let Some(s) = &summary {
        report.experiment =
            Some(serde_json::to_value(s).context("serializing the experiment summary")?);
    }
    let out = &plan.output;
    if !report.runs.is_empty() {
        let export::Written { stem, paths } =
            export::write_results(&mut report, &out.dir, out.pretty, records)?;
        let mut written = paths;
        if out.visualize {
            let all = export::visualize::Formats::ALL;
            written.extend(export::visualize::write(
                &report,
                &out.dir,
                all,
                Path::new("."),
                Some(&stem),
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
    if let Some(s) = signal {
        return Ok(128 + s);
    }
    if let Some(why) = failed_verdict(&report, out.max_error_rate) {
        eprintln!("Error: {why}");
        eprintln!("(the result files were written)");
        return Ok(1);
    }
    Ok(0)
}

/// Why a run that completed still counts as failed: every measured request of a run failed,
/// or a run's error rate is above `--max-error-rate`.
fn failed_verdict(report: &Report, max_error_rate: Option<f64>) -> Option<String> {
    let name = |r: &cpbench_core::report::PolicyRun| match &r.params.label {
        Some(l) => format!("{} ({l})", r.policy),
        None => r.policy.clone(),
    };
    let kinds = |r: &cpbench_core::report::PolicyRun| {
        r.summary
            .errors_by_kind
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut why = Vec::new();
    for r in &report.runs {
        let s = &r.summary;
        if s.requests_total > 0 && s.requests_failed == s.requests_total {
            why.push(format!(
                "every one of the {} measured requests of run {} failed ({}); check the URL, the model names (--model) and the API key",
                s.requests_total,
                name(r),
                kinds(r)
            ));
        } else if let Some(max) = max_error_rate
            && s.error_rate > max
        {
            why.push(format!(
                "run {}: {:.2} % of the requests failed ({}), above --max-error-rate {} %",
                name(r),
                s.error_rate * 100.0,
                kinds(r),
                max * 100.0
            ));
        }
    }
    (!why.is_empty()).then(|| why.join("; "))
}
