//! What each command does, given its parsed options. `main` only calls [`run`].

use crate::cli::{
    Cli, Command, CompareArgs, ConfigArgs, ExperimentArgs, FormatArg, OutputArgs, PolicySwitchArg,
    RunArgs, ServeArgs, SimulateArgs, SweepArgs, TargetArgs, ValidateArgs, VisualFormatArg,
    VisualizeArgs,
};
use crate::control::SwitchMode;
use crate::export;
use crate::runner::{self, BenchOptions, Step, Target};
use crate::sender::Cancel;
use crate::server;
use crate::settings::{self, Resolved};
use crate::telemetry::{Telemetry, TelemetryArgs};
use anyhow::{Context, Result};
use cpbench_core::config::{BenchmarkConfig, Mode, example_yaml};
use cpbench_core::experiment::{self, ExperimentName, ThroughputCriteria};
use cpbench_core::report::{Report, ReportKind, RunParams};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// A mistake in how the tool was called (exit code 2), as opposed to a failed run (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Config(a) => config_cmd(&a),
        Command::Validate(a) => validate_cmd(&a),
        Command::Serve(a) => runtime()?.block_on(serve_cmd(a)),
        Command::Simulate(a) => simulate_cmd(&a),
        Command::Run(a) => runtime()?.block_on(run_cmd(a)),
        Command::Compare(a) => runtime()?.block_on(compare_cmd(a)),
        Command::Sweep(a) => runtime()?.block_on(sweep_cmd(a)),
        Command::Experiment(a) => runtime()?.block_on(experiment_cmd(a)),
        Command::Visualize(a) => visualize_cmd(&a),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
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

fn resolve_usage(
    args: &crate::cli::WorkloadArgs,
    policies: Option<Vec<String>>,
) -> Result<Resolved> {
    settings::resolve(args, policies).map_err(|e| usage(format!("{e:#}")))
}

async fn run_cmd(a: RunArgs) -> Result<i32> {
    let policies = a.policy.clone().map(|p| vec![p]);
    let mut r = resolve_usage(&a.workload, policies)?;
    r.config.policies.truncate(1);
    bench(ReportKind::Run, r, None, &a.target, &a.output, &a.telemetry).await
}

async fn compare_cmd(a: CompareArgs) -> Result<i32> {
    let r = resolve_usage(&a.workload, a.policies.clone())?;
    bench(
        ReportKind::Compare,
        r,
        None,
        &a.target,
        &a.output,
        &a.telemetry,
    )
    .await
}

async fn sweep_cmd(a: SweepArgs) -> Result<i32> {
    let policies = a.policy.clone().map(|p| vec![p]);
    let mut r = resolve_usage(&a.workload, policies)?;
    r.config.policies.truncate(1);
    if a.rates.is_empty() {
        return Err(usage("--rates: give at least one rate, e.g. 10,50,100"));
    }
    for (i, rate) in a.rates.iter().enumerate() {
        if !(rate.is_finite() && *rate > 0.0) {
            return Err(usage(format!(
                "--rates: value {} ({rate}) is not a finite number > 0",
                i + 1
            )));
        }
    }
    bench(
        ReportKind::Sweep,
        r,
        Some(a.rates.clone()),
        &a.target,
        &a.output,
        &a.telemetry,
    )
    .await
}

/// The control plane and switch mode chosen by the flags and the config.
fn target(t: &TargetArgs, config: &BenchmarkConfig) -> Result<(Target, SwitchMode)> {
    let url = t
        .control_plane
        .clone()
        .or_else(|| config.control_plane_url.clone());
    if let Some(launch) = &t.launch {
        if t.policy_switch == PolicySwitchArg::None {
            return Err(usage(
                "--launch and --policy-switch none contradict each other: --launch starts the control plane with each policy",
            ));
        }
        let url = url.unwrap_or_else(|| "http://127.0.0.1:8080".into());
        return Ok((Target::Url(url), SwitchMode::Launch(launch.clone())));
    }
    let switch = match t.policy_switch {
        PolicySwitchArg::Admin => SwitchMode::Admin,
        PolicySwitchArg::None => {
            if config.policies.len() > 1 {
                return Err(usage(format!(
                    "--policy-switch none with {} policies would measure the same control plane {} times under different names; \
                     give one policy, or use --launch 'COMMAND {{policy}}' to start the control plane per policy",
                    config.policies.len(),
                    config.policies.len()
                )));
            }
            SwitchMode::None
        }
    };
    match url {
        Some(u) => Ok((Target::Url(u), switch)),
        None => {
            config.validate_for_reference().map_err(|e| {
                usage(format!(
                    "invalid configuration for the embedded reference control plane:\n{e}"
                ))
            })?;
            Ok((
                Target::Embedded {
                    cluster: t.cluster.clone().unwrap_or_else(|| "default".into()),
                },
                switch,
            ))
        }
    }
}

/// The runs of a report: which policy, at which rate or LLM ratio.
#[derive(Debug, Clone)]
enum Plan {
    /// Every policy on the one workload of the config.
    Policies,
    /// Every policy at each rate (a sweep has one policy).
    Rates(Vec<f64>),
    /// Every policy at each LLM ratio (hybrid mode).
    Ratios(Vec<f64>),
}

/// The steps of a plan: one workload per rate or ratio, shared by all policies.
fn plan_steps(resolved: &Resolved, plan: &Plan) -> Result<Vec<Step>> {
    let variants: Vec<(RunParams, Resolved)> = match plan {
        Plan::Policies => vec![(RunParams::default(), resolved.clone())],
        Plan::Rates(rates) => rates
            .iter()
            .map(|&rate| {
                let mut r = resolved.clone();
                r.config.request_rate = rate;
                let params = RunParams {
                    request_rate_rps: Some(rate),
                    ..RunParams::default()
                };
                (params, r)
            })
            .collect(),
        Plan::Ratios(ratios) => ratios
            .iter()
            .map(|&ratio| {
                let mut r = resolved.clone();
                r.config.set_llm_ratio(ratio);
                let params = RunParams {
                    llm_ratio: Some(ratio),
                    ..RunParams::default()
                };
                (params, r)
            })
            .collect(),
    };
    let mut steps = Vec::new();
    for (params, r) in variants {
        r.config
            .validate()
            .map_err(|e| usage(format!("invalid configuration:\n{e}")))?;
        let w = Arc::new(settings::workload(&r).map_err(|e| usage(format!("{e:#}")))?);
        for p in &r.config.policies {
            steps.push(Step {
                policy: p.clone(),
                params: params.clone(),
                config: r.config.clone(),
                workload: Arc::clone(&w),
            });
        }
    }
    Ok(steps)
}

/// Plans, runs and measures the steps; returns the report and the error that ended it early.
async fn measure(
    kind: ReportKind,
    mut resolved: Resolved,
    plan: &Plan,
    t: &TargetArgs,
    out: &OutputArgs,
    keep_records: bool,
    telemetry: &TelemetryArgs,
) -> Result<(Report, Option<anyhow::Error>, bool)> {
    let telemetry = telemetry.resolve().map_err(usage)?;
    let (target, switch) = target(t, &resolved.config)?;
    let mut model_note = None;
    if let Target::Embedded { cluster } = &target {
        let spec =
            server::cluster_from_arg(cluster).map_err(|e| usage(format!("--cluster: {e:#}")))?;
        model_note = settings::fit_models_to_cluster(&mut resolved.config, &spec);
    }
    let steps = plan_steps(&resolved, plan)?;
    // Before anything is sent: `--gpu-monitor required` without NVML fails here.
    let telemetry = Telemetry::open(&telemetry)?;
    let opts = BenchOptions {
        kind,
        target,
        switch,
        api_key: t.api_key.clone(),
        output_dir: out.output.clone(),
        quiet: out.quiet,
        keep_records,
        drain: Duration::from_secs_f64(t.drain.max(0.0)),
        launch_timeout: Duration::from_secs_f64(t.launch_timeout.max(0.0)),
        max_connections: t.connections.max(1),
        transport: t.http_client.into(),
        client_threads: usize::from(t.client_threads),
        telemetry,
    };
    let cancel = Cancel::default();
    let watcher = {
        let stop = cancel.stop.clone();
        let quiet = out.quiet;
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
    let (mut report, err) = runner::run_steps(&opts, &resolved.config, steps, &cancel).await;
    report.environment.notes.extend(model_note);
    watcher.abort();
    Ok((report, err, cancel.stop.is_cancelled()))
}

async fn bench(
    kind: ReportKind,
    resolved: Resolved,
    rates: Option<Vec<f64>>,
    t: &TargetArgs,
    out: &OutputArgs,
    telemetry: &TelemetryArgs,
) -> Result<i32> {
    let plan = match rates {
        None => Plan::Policies,
        Some(r) => Plan::Rates(r),
    };
    let (report, err, interrupted) =
        measure(kind, resolved, &plan, t, out, !out.no_records, telemetry).await?;
    finish(&report, out, err, interrupted)
}

async fn experiment_cmd(a: ExperimentArgs) -> Result<i32> {
    let name = ExperimentName::parse(&a.name).ok_or_else(|| {
        usage(format!(
            "--name: unknown experiment {:?}; expected one of: {}",
            a.name,
            ExperimentName::ALL.map(|e| e.as_str()).join(", ")
        ))
    })?;
    let mut w = a.workload.clone();
    w.requests = w.requests.or(Some(500));
    w.rate = w.rate.or(Some(100.0));
    if name == ExperimentName::MixedRatio {
        if w.mode == Some(crate::cli::ModeArg::Llm) {
            return Err(usage(
                "--name mixed_ratio mixes LLM and embedding requests: it runs in hybrid mode, not --mode llm",
            ));
        }
        w.mode = Some(crate::cli::ModeArg::Hybrid);
    }
    let resolved = resolve_usage(&w, a.policies.clone())?;
    let rate = resolved.config.request_rate;
    let check_rates = |v: &[f64]| -> Result<()> {
        match v.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
            Some(i) => Err(usage(format!(
                "--rates: value {} ({}) is not a finite number > 0",
                i + 1,
                v[i]
            ))),
            None => Ok(()),
        }
    };
    let plan = match name {
        ExperimentName::Throughput => {
            let rates = a
                .rates
                .clone()
                .unwrap_or_else(|| vec![rate / 4.0, rate / 2.0, rate, rate * 2.0]);
            check_rates(&rates)?;
            Plan::Rates(rates)
        }
        ExperimentName::Slo => {
            let rates = a
                .rates
                .clone()
                .unwrap_or_else(|| vec![rate / 2.0, rate, rate * 1.5]);
            check_rates(&rates)?;
            Plan::Rates(rates)
        }
        ExperimentName::Latency => Plan::Policies,
        ExperimentName::MixedRatio => {
            let ratios = a
                .ratios
                .clone()
                .unwrap_or_else(|| vec![0.0, 0.25, 0.5, 0.75, 1.0]);
            if let Some(i) = ratios.iter().position(|x| !(0.0..=1.0).contains(x)) {
                return Err(usage(format!(
                    "--ratios: value {} ({}) is not between 0 and 1",
                    i + 1,
                    ratios[i]
                )));
            }
            Plan::Ratios(ratios)
        }
    };
    if !(0.0..1.0).contains(&a.tolerance) {
        return Err(usage(format!(
            "--tolerance: got {}, expected a fraction in [0, 1)",
            a.tolerance
        )));
    }
    if !(0.0..=1.0).contains(&a.slo_threshold) {
        return Err(usage(format!(
            "--slo-threshold: got {}, expected a fraction in [0, 1]",
            a.slo_threshold
        )));
    }
    let (mut report, err, interrupted) = measure(
        ReportKind::Experiment,
        resolved,
        &plan,
        &a.target,
        &a.output,
        true,
        &a.telemetry,
    )
    .await?;
    let criteria = ThroughputCriteria {
        tolerance: a.tolerance,
        slo_threshold: a.slo_threshold,
    };
    let summary = experiment::summarize(name, &report, criteria);
    report.experiment =
        Some(serde_json::to_value(&summary).context("serializing the experiment summary")?);
    if a.output.no_records {
        for r in &mut report.runs {
            r.records = None;
        }
    }
    let code = finish(&report, &a.output, err, interrupted)?;
    if a.output.format == FormatArg::Table && !report.runs.is_empty() {
        println!("{}", export::table::render_experiment(&summary));
    }
    Ok(code)
}

/// Writes the result files, prints the table (or JSON), and picks the exit code.
fn finish(
    report: &Report,
    out: &OutputArgs,
    err: Option<anyhow::Error>,
    interrupted: bool,
) -> Result<i32> {
    if !report.runs.is_empty() {
        let mut written = export::write_results(report, &out.output)?;
        if !out.no_visualize {
            let all = export::visualize::Formats::ALL;
            written.extend(export::visualize::write(
                report,
                &out.output,
                all,
                Path::new("."),
            )?);
        }
        match out.format {
            FormatArg::Table => {
                println!("{}", export::table::render(report));
                for p in &written {
                    println!("Wrote {}", p.display());
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

/// Reads a result file and writes its visualizations.
fn visualize_cmd(a: &VisualizeArgs) -> Result<i32> {
    let input = &a.input;
    let text = std::fs::read_to_string(input)
        .map_err(|e| usage(format!("--input {}: cannot read it: {e}", input.display())))?;
    let report =
        Report::from_json(&text).map_err(|e| usage(format!("--input {}: {e}", input.display())))?;
    let (charts, html, markdown) = match a.format {
        VisualFormatArg::Charts => (true, false, false),
        VisualFormatArg::Html => (false, true, false),
        VisualFormatArg::Markdown => (false, false, true),
        VisualFormatArg::All => (true, true, true),
    };
    let formats = export::visualize::Formats {
        charts,
        html,
        markdown,
    };
    // A dataset or trace the config names is read from where the benchmark ran.
    let base = Path::new(".");
    let written = export::visualize::write(&report, &a.output, formats, base)?;
    for p in &written {
        println!("Wrote {}", p.display());
    }
    Ok(0)
}

fn config_cmd(a: &ConfigArgs) -> Result<i32> {
    if let Some(path) = &a.hash {
        let mut c = settings::read_config_file(path).map_err(|e| usage(format!("{e:#}")))?;
        if let Some(s) = a.seed {
            c.seed = s;
        }
        c.validate()
            .map_err(|e| usage(format!("{}: invalid configuration:\n{e}", path.display())))?;
        let r = Resolved {
            config: c,
            base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let w = settings::workload(&r)?;
        println!("{}", w.hash());
        return Ok(0);
    }
    let text = example_yaml(Mode::from(a.mode));
    match &a.output {
        Some(p) => {
            export::write_atomic(p, text.as_bytes())?;
            eprintln!("Wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}

fn validate_cmd(a: &ValidateArgs) -> Result<i32> {
    let c = match settings::read_config_file(&a.file) {
        Ok(c) => c,
        Err(e) => {
            println!("{e:#}");
            return Ok(1);
        }
    };
    if let Some(m) = a.mode {
        let mode = Mode::from(m);
        if c.mode != mode {
            println!(
                "{}: mode is {} in the file but --mode {} was given",
                a.file.display(),
                c.mode,
                mode
            );
            return Ok(1);
        }
    }
    let checked = if a.reference {
        c.validate_for_reference()
    } else {
        c.validate()
    };
    if let Err(e) = checked {
        println!(
            "{}: {} problem(s):\n{e}",
            a.file.display(),
            e.problems.len()
        );
        return Ok(1);
    }
    let r = Resolved {
        config: c,
        base_dir: a.file.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let w = match settings::workload(&r) {
        Ok(w) => w,
        Err(e) => {
            println!("{}: {e:#}", a.file.display());
            return Ok(1);
        }
    };
    println!("{}: valid ({} mode)", a.file.display(), r.config.mode);
    println!(
        "workload: {} measured + {} warmup requests over {:.1} s, seed {}, hash {}",
        w.requests.len(),
        w.warmup.len(),
        w.duration_us() as f64 / 1e6,
        r.config.seed,
        w.hash()
    );
    Ok(0)
}

async fn serve_cmd(a: ServeArgs) -> Result<i32> {
    let cluster =
        server::cluster_from_arg(&a.cluster).map_err(|e| usage(format!("--cluster: {e:#}")))?;
    server::serve(server::ServerOptions {
        host: a.host,
        port: a.port,
        policy: a.policy,
        cluster,
        seed: a.seed,
    })
    .await?;
    Ok(0)
}

fn simulate_cmd(a: &SimulateArgs) -> Result<i32> {
    let r = resolve_usage(&a.workload, a.policies.clone())?;
    r.config.validate_for_reference().map_err(|e| {
        usage(format!(
            "invalid configuration for the simulated reference control plane:\n{e}"
        ))
    })?;
    let cluster =
        server::cluster_from_arg(&a.cluster).map_err(|e| usage(format!("--cluster: {e:#}")))?;
    let mut r = r;
    let model_note = settings::fit_models_to_cluster(&mut r.config, &cluster);
    let w = settings::workload(&r).map_err(|e| usage(format!("{e:#}")))?;
    let mut report = crate::simulate::simulate_report(
        &r.config,
        &w,
        &cluster,
        &a.cluster,
        runner::now_rfc3339(),
        !a.output.no_records,
    )?;
    report.environment.notes.extend(model_note);
    finish(&report, &a.output, None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_switch_with_several_policies_is_a_usage_error() {
        let t = TargetArgs {
            policy_switch: PolicySwitchArg::None,
            control_plane: Some("http://x".into()),
            ..TargetArgs::default()
        };
        let mut c = BenchmarkConfig {
            policies: vec!["a".into(), "b".into()],
            ..BenchmarkConfig::default()
        };
        let e = target(&t, &c).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some());
        c.policies.truncate(1);
        assert_eq!(
            target(&t, &c).unwrap(),
            (Target::Url("http://x".into()), SwitchMode::None)
        );
    }

    #[test]
    fn embedded_target_checks_reference_policies() {
        let t = TargetArgs::default();
        let c = BenchmarkConfig {
            policies: vec!["round_robin".into()],
            ..BenchmarkConfig::default()
        };
        let e = target(&t, &c).unwrap_err().to_string();
        assert!(e.contains("round_robin") && e.contains("fifo"), "{e}");
    }
}
