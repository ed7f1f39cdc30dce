//! The benchmark runner: for each step (a policy, or a rate of a sweep), put the policy in
//! place on the control plane, warm up, send the step's workload open-loop, snapshot the
//! control plane's metrics, and turn the records into a [`PolicyRun`] of one [`Report`].
//!
//! Every step of a `compare` sends the identical workload. A failure or Ctrl-C in the middle
//! keeps what was measured: the report is returned with `partial: true` together with the
//! error.

use crate::admin_token::AdminToken;
use crate::checks::lateness_warning;
use crate::client::{Client, ClientOptions, Transport};
use crate::collect::{self, SharedRecords};
use crate::control::launch::redact;
use crate::control::{ControlPlane, HealthCheck, Launched, SwitchMode};
use crate::export::csv::RunTag;
use crate::feed::{Part, Schedule};
use crate::sender::{Cancel, SendOptions, send_open_loop_to};
use crate::server::{self, NamedCluster};
use crate::telemetry::Telemetry;
use anyhow::{Context, Result, bail};
use cpbench_core::config::BenchmarkConfig;
use cpbench_core::metrics::{DEFAULT_SAMPLE_LIMIT, MeasureWindow};
use cpbench_core::report::{
    Environment, LaunchRecord, PolicyRun, PolicySwitch, Report, ReportKind, RunParams,
};
use cpbench_core::workload::Workload;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::checks::LATENESS_WARN_MS;

/// Which control plane to measure.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Start the reference control plane in-process with this cluster.
    Embedded(NamedCluster),
    /// A control plane already running at this URL (its base: without `/v1`).
    Url(String),
    /// A control plane started per policy by `--launch` (its URL is per run).
    Launched,
}

/// How a benchmark invocation runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// What kind of report this is.
    pub kind: ReportKind,
    /// The control plane.
    pub target: Target,
    /// How policies are put in place.
    pub switch: SwitchMode,
    /// Bearer token for the control plane.
    pub api_key: Option<String>,
    /// Token of the control plane's admin API, sent with every admin call.
    pub admin_token: Option<AdminToken>,
    /// Where launch logs go.
    pub output_dir: PathBuf,
    /// No progress output.
    pub quiet: bool,
    /// Keep a sample of the per-request records in the report.
    pub keep_records: bool,
    /// Where every per-request record is written as the requests end (`None`: nowhere).
    pub records: Option<SharedRecords>,
    /// Longest wait for queues to drain between steps.
    pub drain: Duration,
    /// URLs POSTed before each run to clear the serving engines' caches (`--reset-url`).
    pub reset_urls: Vec<String>,
    /// Longest wait for a launched control plane to become healthy.
    pub launch_timeout: Duration,
    /// How a control plane's readiness is checked (`--health-path`).
    pub health: HealthCheck,
    /// Most connections to the control plane.
    pub max_connections: usize,
    /// Largest response body accepted, bytes.
    pub max_response_bytes: u64,
    /// The model's tokenizer, for output tokens where the server sends no `usage`.
    pub tokenizer: Option<Arc<tokenizers::Tokenizer>>,
    /// Which HTTP implementation carries the measured requests.
    pub transport: Transport,
    /// Sending threads (each with its own event loop and connections).
    pub client_threads: usize,
    /// GPU sampling and metrics polling beside each measured run.
    pub telemetry: Telemetry,
}

impl BenchOptions {
    /// The options of a run against `target` with every setting at its command-line default
    /// (admin policy switch, no API key, results in the default folder, quiet, a sample of
    /// the records kept, no records file, no telemetry).
    pub fn new(kind: ReportKind, target: Target) -> Self {
        use crate::plan::defaults;
        Self {
            kind,
            target,
            switch: SwitchMode::Admin,
            api_key: None,
            output_dir: PathBuf::from(defaults::OUTPUT_DIR),
            quiet: true,
            keep_records: true,
            records: None,
            drain: Duration::from_secs_f64(defaults::DRAIN_S),
            reset_urls: Vec::new(),
            launch_timeout: Duration::from_secs_f64(defaults::LAUNCH_TIMEOUT_S),
            health: HealthCheck::Auto,
            admin_token: None,
            max_connections: defaults::CONNECTIONS,
            max_response_bytes: defaults::MAX_RESPONSE_MIB << 20,
            tokenizer: None,
            transport: Transport::Auto,
            client_threads: usize::from(defaults::CLIENT_THREADS),
            telemetry: Telemetry::off(),
        }
    }
}

/// One measured run of a report.
#[derive(Debug, Clone)]
pub struct Step {
    /// Policy to run.
    pub policy: String,
    /// What distinguishes this run (sweep rate, experiment ratio).
    pub params: RunParams,
    /// The config of this step (timeouts, stream, SLOs, concurrency cap).
    pub config: BenchmarkConfig,
    /// The requests (warmup and measured).
    pub workload: Arc<Workload>,
}

impl Step {
    /// What the progress line calls this step: the policy, then its rate, LLM ratio, label
    /// and trial when it has them (`fifo @40 req/s, trial 2`).
    pub fn label(&self) -> String {
        let p = &self.params;
        let mut parts = vec![self.policy.clone()];
        if let Some(r) = p.request_rate_rps {
            parts[0].push_str(&format!(" @{r} req/s"));
        }
        if let Some(r) = p.llm_ratio {
            parts.push(format!("llm ratio {r}"));
        }
        if let Some(l) = &p.label {
            parts.push(l.clone());
        }
        if let Some(t) = p.trial {
            parts.push(format!("trial {t}"));
        }
        parts.join(", ")
    }
}

/// Prints a status line on stderr unless quiet.
pub(crate) fn say(quiet: bool, msg: impl AsRef<str>) {
    if !quiet {
        eprintln!("{}", msg.as_ref());
    }
}

/// Runs every step and builds the report. On failure or interruption, returns the partial
/// report with the error (the caller writes the report either way).
pub async fn run_steps(
    opts: &BenchOptions,
    report_config: &BenchmarkConfig,
    steps: Vec<Step>,
    cancel: &Cancel,
) -> (Report, Option<anyhow::Error>) {
    run_steps_sharded(opts, report_config, steps, cancel, None).await
}

/// [`run_steps`], as shard `shard` of a sharded invocation when given (see [`crate::shard`]).
pub async fn run_steps_sharded(
    opts: &BenchOptions,
    report_config: &BenchmarkConfig,
    steps: Vec<Step>,
    cancel: &Cancel,
    shard: Option<&crate::plan::shard::ShardPlan>,
) -> (Report, Option<anyhow::Error>) {
    let first = steps.first().map(|s| s.workload.clone());
    let (hash, n) = first
        .as_ref()
        .map(|w| (w.hash(), w.requests.len() as u64))
        .unwrap_or_default();
    let mut report = Report::new(
        opts.kind,
        now_rfc3339(),
        serde_json::to_value(report_config).unwrap_or_default(),
        report_config.seed,
        hash,
        n,
    );
    report.environment = environment();
    report.gpu = opts.telemetry.gpu().section();
    if let Some(reason) = opts.telemetry.gpu().unavailable_reason() {
        say(opts.quiet, format!("GPU monitoring unavailable: {reason}"));
    }
    let err = run_into(opts, steps, cancel, &mut report, shard)
        .await
        .err();
    report.gpu.read_errors = report
        .runs
        .iter()
        .flat_map(|r| &r.gpu_summary)
        .map(|g| g.read_errors)
        .sum();
    if err.is_some() || cancel.stop.is_cancelled() || report.runs.iter().any(|r| r.partial) {
        report.partial = true;
    }
    if cancel.stop.is_cancelled() {
        let by = cancel
            .signal()
            .map(signal_name)
            .unwrap_or_else(|| "a stop request".into());
        report.warnings.push(format!(
            "interrupted ({by}): the report holds what was measured until then"
        ));
    }
    if let Some(e) = &err {
        report.warnings.push(format!("run failed: {e:#}"));
    }
    (report, err)
}

async fn run_into(
    opts: &BenchOptions,
    steps: Vec<Step>,
    cancel: &Cancel,
    report: &mut Report,
    shard: Option<&crate::plan::shard::ShardPlan>,
) -> Result<()> {
    let Some(first) = steps.first() else {
        bail!("nothing to run: no policies");
    };
    // The embedded control plane lives for the whole invocation.
    let mut embedded = None;
    let base_url = match &opts.target {
        Target::Embedded(NamedCluster {
            name: cluster,
            spec,
        }) => {
            let running = server::start(server::ServerOptions {
                host: "127.0.0.1".into(),
                port: 0,
                policy: first.policy.clone(),
                cluster: spec.clone(),
                seed: first.config.seed,
                // Loopback only, and no admin token: only this process talks to it.
                ..server::ServerOptions::default()
            })
            .await
            .context("starting the embedded reference control plane")?;
            let url = running.url();
            say(
                opts.quiet,
                format!(
                    "control plane: embedded reference control plane (cluster {cluster}) at {url}"
                ),
            );
            report.environment.embedded_control_plane = true;
            report.environment.notes.push(format!(
                "embedded reference control plane, cluster {cluster}, simulated GPUs"
            ));
            embedded = Some(running);
            url
        }
        Target::Url(u) => {
            say(opts.quiet, format!("control plane: {u}"));
            u.clone()
        }
        Target::Launched => {
            say(
                opts.quiet,
                "control plane: started per policy by --launch (each run records its URL)",
            );
            String::new()
        }
    };
    if !base_url.is_empty() {
        report.environment.control_plane_url = Some(base_url.clone());
    }
    let sent_to = if base_url.is_empty() {
        "http://"
    } else {
        &base_url
    };
    report.environment.notes.push(sending_note(opts, sent_to));
    let result = match shard {
        Some(s) => crate::shard::run_phases(opts, s, &base_url, steps, cancel, report).await,
        None => run_all_steps(opts, &base_url, steps, cancel, report).await,
    };
    if let Some(s) = embedded {
        s.shutdown().await;
    }
    result
}

async fn run_all_steps(
    opts: &BenchOptions,
    base_url: &str,
    steps: Vec<Step>,
    cancel: &Cancel,
    report: &mut Report,
) -> Result<()> {
    let total = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        if cancel.stop.is_cancelled() {
            break;
        }
        say(opts.quiet, format!("[{}/{total}] {}", i + 1, step.label()));
        tracing::info!(step = i + 1, total, policy = %step.policy, params = ?step.params, "run starts");
        let first = i == 0;
        let run = match &opts.switch {
            SwitchMode::Launch(template) => {
                let (command, port) = template.fill(&step.policy)?;
                let url = format!("http://127.0.0.1:{port}");
                let log_path = opts.output_dir.join(format!(
                    "launch_{}_{}.log",
                    file_stamp(),
                    sanitize(&step.policy)
                ));
                let secrets: Vec<&str> = opts.api_key.as_deref().into_iter().collect();
                let shown = redact(&command, &secrets);
                let probe = reqwest::Client::builder().no_proxy().build()?;
                let child = Launched::start(
                    &command,
                    &url,
                    &log_path,
                    probe,
                    &opts.health,
                    opts.launch_timeout,
                    &cancel.stop,
                )
                .await?;
                say(
                    opts.quiet,
                    format!("  launched {shown:?} at {url} (log {})", log_path.display()),
                );
                let res = run_step(opts, &url, &step, PolicySwitch::Launched, cancel, true).await;
                child.stop(Duration::from_secs(10)).await?;
                let mut run = res?;
                run.launch = Some(LaunchRecord {
                    command: shown,
                    url,
                    log_path: log_path.display().to_string(),
                });
                run
            }
            SwitchMode::Admin => {
                run_step(opts, base_url, &step, PolicySwitch::Verified, cancel, first).await?
            }
            SwitchMode::None => {
                let mut run = run_step(
                    opts,
                    base_url,
                    &step,
                    PolicySwitch::NotSwitched,
                    cancel,
                    first,
                )
                .await?;
                run.warnings.push(format!(
                    "the policy was not switched (--policy-switch none): these numbers are for whatever policy the control plane ran, labelled {:?}",
                    step.policy
                ));
                run
            }
        };
        let mut run = run;
        if i > 0 && opts.reset_urls.is_empty() && !matches!(opts.target, Target::Embedded(_)) {
            run.warnings.push(WARM_CACHE_WARNING.into());
        }
        for n in &run.notes {
            say(opts.quiet, format!("  note: {n}"));
        }
        for w in &run.warnings {
            say(opts.quiet, format!("  warning: {w}"));
        }
        report.runs.push(run);
    }
    Ok(())
}

/// The warning of a run after the first against a control plane other than the embedded one,
/// with no `--reset-url`: nothing cleared the serving engines' prefix caches in between.
pub const WARM_CACHE_WARNING: &str = "no --reset-url: the serving engines' prefix caches were not cleared after the previous run, so its warm cache may favour this one (give --reset-url, e.g. vLLM's /reset_prefix_cache or SGLang's /flush_cache, unless the control plane's /admin/reset clears them, as the reference control plane's does)";

/// How the measured requests were sent: client, threads, pacing.
fn sending_note(opts: &BenchOptions, base_url: &str) -> String {
    let builtin = opts.transport.resolve(base_url) == Transport::Builtin;
    let pacing = if crate::pacer::Pacer::new().is_precise() {
        "a high-resolution timer (timerfd)"
    } else {
        "tokio's millisecond timer"
    };
    format!(
        "requests sent by {} sending thread(s) with the {} HTTP/1.1 client, paced by {pacing}",
        opts.client_threads,
        if builtin { "builtin" } else { "reqwest" },
    )
}

pub(crate) fn client_for(
    opts: &BenchOptions,
    url: &str,
    config: &BenchmarkConfig,
) -> Result<Client> {
    Ok(Client::new(ClientOptions {
        base_url: url.to_string(),
        api_key: opts.api_key.clone(),
        timeout: Duration::from_secs_f64(config.timeout_s),
        stream: config.stream,
        max_idle_connections: opts.max_connections,
        max_response_bytes: opts.max_response_bytes,
        tokenizer: opts.tokenizer.clone(),
        transport: opts.transport,
        threads: opts.client_threads,
    })?)
}

/// How long a control plane that answered before may take to be ready for the next run.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(10);

async fn run_step(
    opts: &BenchOptions,
    url: &str,
    step: &Step,
    switch: PolicySwitch,
    cancel: &Cancel,
    first_run: bool,
) -> Result<PolicyRun> {
    let client = client_for(opts, url, &step.config)?;
    let cp = ControlPlane::new(client.http().clone(), client.base_url())
        .with_admin_token(opts.admin_token.clone());
    cp.wait_ready(&opts.health, READY_TIMEOUT).await?;
    let mut notes = Vec::new();
    if switch == PolicySwitch::Verified {
        let v = cp.set_policy(&step.policy).await?;
        notes.push(format!(
            "policy {:?} set with POST /admin/set_policy and confirmed by {}{}",
            step.policy,
            v.confirmed_by,
            v.previous
                .map(|p| format!(" (previous: {p})"))
                .unwrap_or_default()
        ));
    }
    if switch != PolicySwitch::Launched {
        let how = cp.prepare_run(first_run, opts.drain).await;
        notes.push(format!("before the run: {how}"));
    }
    for reset in &opts.reset_urls {
        let status = crate::control::reset::call(client.http(), reset).await?;
        notes.push(format!(
            "before the run: POST {reset} (--reset-url) answered {status}"
        ));
    }
    let send_opts = send_options(opts, step);
    client
        .preopen(opts.max_connections.min(PREOPEN_CONNECTIONS))
        .await;
    let tag = format!("{}-{}", sanitize(&step.policy), file_stamp());
    // Warmup: same client and pool, not measured.
    if !step.workload.warmup.is_empty() {
        let warm = Schedule::new(
            Arc::clone(&step.workload),
            Part::Warmup,
            format!("{tag}-warmup"),
        );
        let collector = collect::warmup()?;
        send_open_loop_to(
            &client,
            warm,
            &send_opts,
            cancel,
            &ProgressBar::hidden(),
            collector.sink(),
        )
        .await;
        let check = collector.finish();
        if let Some((_, first)) = &check.first_failure {
            if check.failed == check.records {
                bail!(
                    "all {} warmup requests failed (first: {first}); check the model names (--model), the URL and the API key",
                    check.failed,
                );
            }
            notes.push(format!(
                "{} of {} warmup requests failed",
                check.failed, check.records
            ));
        }
    }
    let (run, _) = measure(
        opts, &client, &cp, step, switch, cancel, notes, &send_opts, tag,
    )
    .await?;
    Ok(run)
}

/// How a step's requests are sent.
pub(crate) fn send_options(opts: &BenchOptions, step: &Step) -> SendOptions {
    SendOptions {
        max_concurrency: step.config.max_concurrency.map(|n| n as usize),
        max_connections: opts.max_connections,
        ..SendOptions::default()
    }
}

/// The measured part of a step, its policy in place: sends the step's measured requests
/// (from `send_opts.t0` when given), and gives the run and its accumulator's state.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn measure(
    opts: &BenchOptions,
    client: &Client,
    cp: &ControlPlane,
    step: &Step,
    switch: PolicySwitch,
    cancel: &Cancel,
    notes: Vec<String>,
    send_opts: &SendOptions,
    tag: String,
) -> Result<(PolicyRun, cpbench_core::metrics::AccumulatorState)> {
    let before = cp.metrics().await;
    let started_at = now_rfc3339();
    let measured = Schedule::new(Arc::clone(&step.workload), Part::Measured, tag);
    let progress = progress_bar(opts.quiet, measured.len() as u64);
    let collector = collect::measured(
        &step.config.slo,
        opts.keep_records.then_some(DEFAULT_SAMPLE_LIMIT),
        opts.records
            .clone()
            .map(|f| (f, RunTag::new(&step.policy, &step.params))),
    )?;
    // Samplers run from the sender's t=0 (`lead` after this call) until the last request ends.
    let telemetry = opts.telemetry.start(
        client.base_url(),
        send_opts
            .t0
            .unwrap_or_else(|| Instant::now() + send_opts.lead),
    )?;
    let res = send_open_loop_to(
        client,
        measured,
        send_opts,
        cancel,
        &progress,
        collector.sink(),
    )
    .await;
    let collected = telemetry.stop().await;
    progress.finish_and_clear();
    let after = cp.metrics().await;
    let records = collector.finish();
    let state = records.accumulator.state();
    let mut run = PolicyRun::from_aggregates(
        step.policy.clone(),
        switch,
        step.params.clone(),
        records.accumulator.finish(MeasureWindow::UntilLastEnd),
    );
    run.started_at = Some(started_at);
    run.control_plane.before = before;
    run.control_plane.after = after;
    collected.attach(&mut run);
    run.partial = res.interrupted;
    if res.unsent > 0 {
        run.warnings.push(format!(
            "{} of {} requests were never sent (interrupted)",
            res.unsent,
            step.workload.requests.len()
        ));
    }
    run.warnings.extend(lateness_warning(&run));
    run.warnings
        .extend(records.checks.warnings(&step.workload, &run.spans.sent));
    run.notes.extend(notes);
    Ok((run, state))
}

/// Connections opened before measuring (at most `--connections`).
pub(crate) const PREOPEN_CONNECTIONS: usize = 64;

fn progress_bar(quiet: bool, n: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "  {bar:40} {pos}/{len} requests done, {per_sec}, elapsed {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// A signal's name for messages: `SIGINT (Ctrl-C)`, `SIGTERM`, `SIGHUP`, or its number.
pub fn signal_name(signal: i32) -> String {
    match nix::sys::signal::Signal::try_from(signal) {
        Ok(nix::sys::signal::Signal::SIGINT) => "SIGINT (Ctrl-C)".into(),
        Ok(s) => s.as_str().into(),
        Err(_) => format!("signal {signal}"),
    }
}

/// The current time as RFC 3339 (UTC, seconds); `SOURCE_DATE_EPOCH` (seconds since 1970),
/// when set, replaces the clock so that reports are byte-reproducible.
pub fn now_rfc3339() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|s| std::time::UNIX_EPOCH + Duration::from_secs(s))
        .unwrap_or_else(std::time::SystemTime::now);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The current time for file names: `20261128T063000Z`.
pub fn file_stamp() -> String {
    now_rfc3339().replace(['-', ':'], "")
}

/// A name safe in file names.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn environment() -> Environment {
    Environment {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        os: Some(format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)),
        cpu_count: std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u32),
        notes: vec![
            "latencies are measured from each request's intended send time (open loop, no coordinated omission)".into(),
        ],
        ..Environment::default()
    }
}
