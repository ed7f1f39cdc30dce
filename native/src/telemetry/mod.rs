//! Telemetry gathered beside each measured run, never in its way: GPU samples (NVML, on an
//! OS thread, see [`crate::gpu`]), the control plane's `/admin/metrics` and Prometheus
//! endpoints (`--scrape`), each polled on its own tokio task with its own HTTP client (not
//! the measuring client's connection pool).
//!
//! Polling starts at the run's t=0 and stops when the last request has finished. Every
//! sample is timed in seconds from t=0 (the midpoint between sending the poll and receiving
//! its answer). `/admin/metrics` snapshots are kept as-is in `control_plane.samples`; the
//! numbers of every source also go into the run's named `series` (see
//! [`cpbench_core::report::PolicyRun::series`] for the names). A missing endpoint (404/405)
//! stops its polling with one note; failed polls are counted and reported, never an error.

pub mod flatten;
pub mod prometheus;

use crate::admin_token::AdminToken;
use crate::gpu::{GpuError, GpuMode, GpuMonitor, GpuSampler};
use bytes::Bytes;
use cpbench_core::report::{
    GpuSample, GpuSummary, PolicyRun, SeriesPoint, TelemetryKind, TelemetrySource, TimedValue,
};
use reqwest::Url;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Most distinct series one source may add to a run; more are counted in
/// `TelemetrySource::series_dropped` and left out.
pub const MAX_SERIES_PER_SOURCE: usize = 10_000;

/// Largest telemetry answer read, in bytes.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// A Prometheus endpoint to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// The URL read (user name and password included, if given).
    pub url: Url,
    /// The URL as written into the report (without user name or password).
    pub shown: String,
    /// The prefix of its series' names: `host:port`, or `host:port/path` when several
    /// targets share a `host:port`.
    pub prefix: String,
}

/// Checked telemetry settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryOptions {
    /// GPU monitoring mode.
    pub gpu: GpuMode,
    /// Time between GPU samples.
    pub gpu_interval: Duration,
    /// NVML library file; `None` for the system's.
    pub nvml_lib: Option<PathBuf>,
    /// Time between polls of `/admin/metrics` and the scrape targets; `None` turns polling off.
    pub poll_interval: Option<Duration>,
    /// Prometheus endpoints.
    pub scrape: Vec<ScrapeTarget>,
}

/// Parses `--scrape` URLs and gives each a distinct prefix.
pub fn scrape_targets(urls: &[String]) -> Result<Vec<ScrapeTarget>, String> {
    let mut targets: Vec<ScrapeTarget> = Vec::new();
    for raw in urls {
        let bad = |reason: String| {
            format!(
                "--scrape: {raw:?} is not a usable http(s) URL ({reason}); expected e.g. http://localhost:8000/metrics"
            )
        };
        let mut url = Url::parse(raw.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        let Some(host) = url.host_str().map(str::to_owned) else {
            return Err(bad("no host".into()));
        };
        if url.path().is_empty() || url.path() == "/" {
            url.set_path("/metrics");
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        if targets.iter().any(|t| t.url == url) {
            return Err(format!("--scrape: {raw:?} is given twice"));
        }
        targets.push(ScrapeTarget {
            url,
            shown: shown.to_string(),
            prefix: format!("{host}:{port}"),
        });
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in &targets {
        *counts.entry(t.prefix.clone()).or_default() += 1;
    }
    for t in &mut targets {
        if counts[&t.prefix] > 1 {
            let mut p = format!("{}{}", t.prefix, t.url.path());
            if let Some(q) = t.url.query() {
                p.push('?');
                p.push_str(q);
            }
            t.prefix = p;
        }
    }
    Ok(targets)
}

/// Telemetry that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// GPU monitoring was required and cannot be had.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The polling HTTP client could not be built.
    #[error("cannot build the HTTP client for --cp-metrics-interval / --scrape polling: {0}")]
    Http(#[from] reqwest::Error),
}

/// Telemetry for one invocation: the GPU monitor and the polling client, set up once before
/// anything is sent, and the endpoints to poll.
#[derive(Debug, Clone)]
pub struct Telemetry {
    gpu: GpuMonitor,
    /// `Some` exactly when polling is on.
    poll: Option<(Duration, reqwest::Client)>,
    scrape: Vec<ScrapeTarget>,
    /// Sent with the polls of `/admin/metrics`.
    admin_token: Option<AdminToken>,
}

impl Telemetry {
    /// No telemetry at all (GPU monitoring not requested, nothing polled).
    pub fn off() -> Self {
        Self {
            gpu: GpuMonitor::not_requested(),
            poll: None,
            scrape: Vec::new(),
            admin_token: None,
        }
    }

    /// Opens the GPU monitor as the options say and builds the polling client; fails for
    /// `--gpu-monitor required` without NVML, before anything is sent.
    pub fn open(opts: &TelemetryOptions) -> Result<Self, TelemetryError> {
        let gpu = GpuMonitor::open(opts.gpu, opts.nvml_lib.as_deref(), opts.gpu_interval)?;
        Self::with_gpu(gpu, opts)
    }

    /// Telemetry with a GPU monitor opened elsewhere (tests, other monitors).
    pub fn with_gpu(gpu: GpuMonitor, opts: &TelemetryOptions) -> Result<Self, TelemetryError> {
        let poll = match opts.poll_interval {
            // Its own client: polls never take a connection from the measuring pool. Built
            // here, once, because building one takes a while (TLS set-up).
            Some(interval) => Some((
                interval,
                reqwest::Client::builder()
                    .no_proxy()
                    .tcp_nodelay(true)
                    .pool_max_idle_per_host(2)
                    .build()?,
            )),
            None => None,
        };
        Ok(Self {
            gpu,
            poll,
            scrape: opts.scrape.clone(),
            admin_token: None,
        })
    }

    /// The same, sending `token` with each poll of the control plane's `/admin/metrics`
    /// (never to the `--scrape` targets).
    #[must_use]
    pub fn with_admin_token(mut self, token: Option<AdminToken>) -> Self {
        self.admin_token = token;
        self
    }

    /// The GPU monitor.
    pub fn gpu(&self) -> &GpuMonitor {
        &self.gpu
    }

    /// Starts every sampler for one run whose t=0 is `t0`: GPU sampling, and, when polling
    /// is on, `/admin/metrics` of the control plane at `cp_base` and each scrape target.
    /// Must be called inside a tokio runtime; quick (it only spawns).
    pub fn start(&self, cp_base: &str, t0: Instant) -> Result<RunTelemetry, GpuError> {
        let gpu = self.gpu.start(t0)?;
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        if let Some((interval, http)) = &self.poll {
            let interval = *interval;
            let admin = format!("{}/admin/metrics", cp_base.trim_end_matches('/'));
            let mut sources = Vec::new();
            if let Ok(url) = Url::parse(&admin) {
                sources.push(Source {
                    url,
                    kind: TelemetryKind::AdminMetrics,
                    prefix: "cp".into(),
                    shown: admin,
                    authorization: self.admin_token.as_ref().map(AdminToken::bearer_header),
                });
            }
            sources.extend(self.scrape.iter().map(|t| Source {
                url: t.url.clone(),
                kind: TelemetryKind::Prometheus,
                prefix: t.prefix.clone(),
                shown: t.shown.clone(),
                authorization: None,
            }));
            for source in sources {
                tasks.push(tokio::spawn(poll_loop(
                    source,
                    http.clone(),
                    t0,
                    interval,
                    stop.clone(),
                )));
            }
        }
        Ok(RunTelemetry {
            gpu,
            tasks,
            stop: stop.drop_guard(),
        })
    }
}

/// The samplers of one run; dropping it stops them all.
#[derive(Debug)]
pub struct RunTelemetry {
    gpu: Option<GpuSampler>,
    tasks: Vec<JoinHandle<SourceRun>>,
    stop: tokio_util::sync::DropGuard,
}

impl RunTelemetry {
    /// Stops every sampler (a poll in flight is abandoned) and gathers what they read.
    pub async fn stop(self) -> Collected {
        let token = self.stop.disarm();
        token.cancel();
        let mut out = Collected::default();
        if let Some(gpu) = self.gpu {
            out.gpu_samples = tokio::task::spawn_blocking(move || gpu.stop())
                .await
                .unwrap_or_default();
        }
        for task in self.tasks {
            let Ok(run) = task.await else { continue };
            run.finish(&mut out);
        }
        out
    }
}

/// What the samplers of one run read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    /// GPU samples in time order.
    pub gpu_samples: Vec<GpuSample>,
    /// `/admin/metrics` snapshots as-is.
    pub cp_samples: Vec<TimedValue>,
    /// Named series of every source.
    pub series: BTreeMap<String, Vec<SeriesPoint>>,
    /// How each source went.
    pub sources: Vec<TelemetrySource>,
    /// Things to note (an endpoint that does not exist).
    pub notes: Vec<String>,
    /// Things that went wrong (failed polls, unparsable lines).
    pub warnings: Vec<String>,
}

impl Collected {
    /// Puts everything into `run`: GPU samples and their summary, the control plane's
    /// samples, the series, the sources, warnings and notes.
    pub fn attach(self, run: &mut PolicyRun) {
        run.gpu_summary = GpuSummary::from_samples(&self.gpu_samples);
        run.gpu_samples = self.gpu_samples;
        run.control_plane.samples = self.cp_samples;
        run.series = self.series;
        run.telemetry_sources = self.sources;
        run.warnings.extend(self.warnings);
        run.notes.extend(self.notes);
    }
}

#[derive(Debug, Clone)]
struct Source {
    url: Url,
    kind: TelemetryKind,
    prefix: String,
    shown: String,
    /// `Authorization` sent with each poll: the admin token, for `/admin/metrics` only (never
    /// to a scrape target).
    authorization: Option<reqwest::header::HeaderValue>,
}

/// One source's polling over one run.
#[derive(Debug)]
struct SourceRun {
    report: TelemetrySource,
    samples: Vec<TimedValue>,
    series: BTreeMap<String, Vec<SeriesPoint>>,
    dropped: BTreeSet<String>,
    missing_status: Option<u16>,
}

impl SourceRun {
    fn new(source: &Source, interval: Duration) -> Self {
        Self {
            report: TelemetrySource {
                prefix: source.prefix.clone(),
                kind: source.kind,
                url: source.shown.clone(),
                interval_s: interval.as_secs_f64(),
                polls_ok: 0,
                polls_failed: 0,
                missing: false,
                lines_skipped: 0,
                series_dropped: 0,
                first_error: None,
            },
            samples: Vec::new(),
            series: BTreeMap::new(),
            dropped: BTreeSet::new(),
            missing_status: None,
        }
    }

    fn fail(&mut self, message: String) {
        self.report.polls_failed += 1;
        self.report.first_error.get_or_insert(message);
    }

    fn push(&mut self, name: String, t_s: f64, value: f64) {
        if !value.is_finite() {
            return;
        }
        if !self.series.contains_key(&name) && self.series.len() >= MAX_SERIES_PER_SOURCE {
            self.dropped.insert(name);
            return;
        }
        let points = self.series.entry(name).or_default();
        // A name repeated within one exposition keeps its first value.
        if points.last().is_some_and(|p| p.t_s == t_s) {
            return;
        }
        points.push(SeriesPoint { t_s, value });
    }

    /// Takes in one answer.
    fn ingest(&mut self, t_s: f64, body: &Bytes) {
        match self.report.kind {
            TelemetryKind::AdminMetrics => match serde_json::from_slice::<Value>(body) {
                Ok(v) => {
                    self.report.polls_ok += 1;
                    for (path, x) in flatten::flatten_numbers(&v) {
                        self.push(format!("cp/{path}"), t_s, x);
                    }
                    self.samples.push(TimedValue { t_s, value: v });
                }
                Err(e) => self.fail(format!("the body is not JSON: {e}")),
            },
            TelemetryKind::Prometheus => {
                self.report.polls_ok += 1;
                let text = String::from_utf8_lossy(body);
                let e = prometheus::parse(&text);
                if let Some(first) = e.errors.first() {
                    self.report.lines_skipped += e.errors.len() as u64;
                    self.report
                        .first_error
                        .get_or_insert_with(|| format!("cannot parse {first}"));
                }
                for s in &e.samples {
                    let name = format!("{}/{}", self.report.prefix, s.key());
                    self.push(name, t_s, s.value);
                }
            }
        }
    }

    /// Moves this source's results into `out`, with its notes and warnings.
    fn finish(mut self, out: &mut Collected) {
        self.report.series_dropped = self.dropped.len() as u64;
        let r = &self.report;
        let url = &r.url;
        // One story per source: what it answered, in order of what matters most.
        let first_error = r.first_error.as_deref().unwrap_or("unknown");
        match (self.missing_status, r.polls_ok + r.polls_failed) {
            (Some(status), 0) => match r.kind {
                TelemetryKind::AdminMetrics => out.notes.push(format!(
                    "the control plane has no /admin/metrics (GET {url} answered {status}): no control-plane samples during the run"
                )),
                TelemetryKind::Prometheus => out.warnings.push(format!(
                    "--scrape {url} answered {status}: nothing was scraped from it; check the URL (vLLM serves /metrics)"
                )),
            },
            (Some(status), earlier) => out.warnings.push(format!(
                "GET {url} answered {status} after {earlier} earlier polls ({} answered, {} failed, first failure: {first_error}); \
                 polling stopped there, so its samples cover only the start of the run",
                r.polls_ok, r.polls_failed
            )),
            (None, _) if r.polls_failed > 0 => out.warnings.push(format!(
                "{} of {} polls of {url} failed (first: {first_error})",
                r.polls_failed,
                r.polls_failed + r.polls_ok,
            )),
            (None, _) => {}
        }
        if r.polls_failed == 0 && r.lines_skipped > 0 {
            out.warnings.push(format!(
                "{url}: {} lines of its expositions could not be parsed and were skipped (first: {first_error})",
                r.lines_skipped,
            ));
        }
        if r.series_dropped > 0 {
            out.warnings.push(format!(
                "{url}: {} series were left out: a source may add at most {MAX_SERIES_PER_SOURCE}",
                r.series_dropped
            ));
        }
        out.cp_samples.extend(self.samples);
        out.series.extend(self.series);
        out.sources.push(self.report);
    }
}

/// A poll that did not give a body.
enum PollError {
    /// 404 or 405: the endpoint does not exist.
    Missing(u16),
    /// Anything else.
    Failed(String),
}

async fn fetch(
    http: &reqwest::Client,
    source: &Source,
    timeout: Duration,
) -> Result<Bytes, PollError> {
    let (url, kind) = (&source.url, source.kind);
    let accept = match kind {
        TelemetryKind::AdminMetrics => "application/json",
        TelemetryKind::Prometheus => "text/plain;version=0.0.4;q=1,*/*;q=0.1",
    };
    let mut req = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, accept)
        .timeout(timeout);
    if let Some(auth) = &source.authorization {
        req = req.header(reqwest::header::AUTHORIZATION, auth.clone());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| PollError::Failed(error_chain(&e)))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::METHOD_NOT_ALLOWED
    {
        return Err(PollError::Missing(status.as_u16()));
    }
    if !status.is_success() {
        return Err(PollError::Failed(format!("answered {status}")));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(PollError::Failed(format!(
            "the answer is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| PollError::Failed(error_chain(&e)))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(PollError::Failed(format!(
            "the answer is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    Ok(body)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Polls one source every `interval` from `t0` until `stop`; a tick missed while a poll was
/// in flight is skipped.
async fn poll_loop(
    source: Source,
    http: reqwest::Client,
    t0: Instant,
    interval: Duration,
    stop: CancellationToken,
) -> SourceRun {
    let mut run = SourceRun::new(&source, interval);
    let timeout = interval.clamp(Duration::from_secs(1), Duration::from_secs(10));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::from_std(t0), interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let sent = Instant::now();
        let answer = tokio::select! {
            _ = stop.cancelled() => break,
            a = fetch(&http, &source, timeout) => a,
        };
        let done = Instant::now();
        let t_s = (sent.saturating_duration_since(t0) + done.saturating_duration_since(t0))
            .as_secs_f64()
            / 2.0;
        match answer {
            Ok(body) => {
                tracing::debug!(source = %source.shown, t_s, bytes = body.len(), "polled");
                run.ingest(t_s, &body);
            }
            Err(PollError::Missing(status)) => {
                tracing::debug!(source = %source.shown, status, "endpoint missing: polling stops");
                run.report.missing = true;
                run.missing_status = Some(status);
                break;
            }
            Err(PollError::Failed(message)) => {
                tracing::debug!(source = %source.shown, t_s, %message, "poll failed");
                run.fail(message);
            }
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_prefixes_are_host_port_and_distinct() {
        let t = scrape_targets(&[
            "http://10.0.0.5:8000".into(),
            "https://user:secret@gpu-1/metrics".into(),
            "http://127.0.0.1:9000/a/metrics".into(),
            "http://127.0.0.1:9000/b/metrics".into(),
            "http://[::1]:8000/metrics".into(),
        ])
        .unwrap();
        let prefixes: Vec<&str> = t.iter().map(|t| t.prefix.as_str()).collect();
        assert_eq!(
            prefixes,
            vec![
                "10.0.0.5:8000",
                "gpu-1:443",
                "127.0.0.1:9000/a/metrics",
                "127.0.0.1:9000/b/metrics",
                "[::1]:8000"
            ]
        );
        assert_eq!(t[0].url.as_str(), "http://10.0.0.5:8000/metrics");
        assert_eq!(t[1].shown, "https://gpu-1/metrics");
        assert_eq!(t[1].url.password(), Some("secret"));
    }

    fn source(kind: TelemetryKind) -> Source {
        Source {
            url: Url::parse("http://h:1/metrics").unwrap(),
            kind,
            prefix: match kind {
                TelemetryKind::AdminMetrics => "cp".into(),
                TelemetryKind::Prometheus => "h:1".into(),
            },
            shown: "http://h:1/metrics".into(),
            authorization: None,
        }
    }

    #[test]
    fn prometheus_answers_become_prefixed_series() {
        let mut run = SourceRun::new(&source(TelemetryKind::Prometheus), Duration::from_secs(1));
        let page = |running: u32| {
            Bytes::from(format!(
                "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{{model_name=\"m\"}} {running}\nq{{quantile=\"0.5\"}} NaN\nbroken{{ 1\nc_total 5\n"
            ))
        };
        run.ingest(0.5, &page(2));
        run.ingest(1.5, &page(7));
        let mut out = Collected::default();
        run.finish(&mut out);
        let key = "h:1/vllm:num_requests_running{model_name=\"m\"}";
        assert_eq!(
            out.series[key],
            vec![
                SeriesPoint {
                    t_s: 0.5,
                    value: 2.0
                },
                SeriesPoint {
                    t_s: 1.5,
                    value: 7.0
                }
            ]
        );
        assert_eq!(out.series["h:1/c_total"].len(), 2);
        assert!(
            !out.series.keys().any(|k| k.contains("quantile")),
            "NaN is left out"
        );
        let s = &out.sources[0];
        assert_eq!((s.polls_ok, s.polls_failed, s.lines_skipped), (2, 0, 2));
        assert!(
            s.first_error.as_deref().unwrap().contains("line 4"),
            "{s:?}"
        );
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(out.cp_samples.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn admin_answers_are_kept_and_flattened_and_a_missing_endpoint_is_one_note() {
        let mut run = SourceRun::new(&source(TelemetryKind::AdminMetrics), Duration::from_secs(1));
        run.ingest(
            0.25,
            &Bytes::from_static(
                br#"{"queues":{"llm":4},"instances":[{"id":"llm-0","running":2}]}"#,
            ),
        );
        run.ingest(0.75, &Bytes::from_static(b"<html>"));
        let mut out = Collected::default();
        run.finish(&mut out);
        assert_eq!(out.cp_samples.len(), 1);
        assert_eq!(out.cp_samples[0].t_s, 0.25);
        assert_eq!(out.series["cp/queues.llm"][0].value, 4.0);
        assert_eq!(out.series["cp/instances.llm-0.running"][0].value, 2.0);
        assert_eq!(out.sources[0].polls_failed, 1);
        assert!(
            out.warnings[0].starts_with(
                "1 of 2 polls of http://h:1/metrics failed (first: the body is not JSON"
            ),
            "{:?}",
            out.warnings
        );

        let mut missing =
            SourceRun::new(&source(TelemetryKind::AdminMetrics), Duration::from_secs(1));
        missing.report.missing = true;
        missing.missing_status = Some(404);
        let mut out = Collected::default();
        missing.finish(&mut out);
        assert_eq!(out.notes.len(), 1);
        assert!(out.notes[0].contains("no /admin/metrics") && out.notes[0].contains("404"));
        assert!(out.warnings.is_empty() && out.series.is_empty() && out.cp_samples.is_empty());
    }

    #[test]
    fn series_per_source_are_capped() {
        let mut run = SourceRun::new(&source(TelemetryKind::Prometheus), Duration::from_secs(1));
        let page: String = (0..MAX_SERIES_PER_SOURCE + 5)
            .map(|i| format!("m{{i=\"{i}\"}} 1\n"))
            .collect();
        run.ingest(0.0, &Bytes::from(page.clone()));
        run.ingest(1.0, &Bytes::from(page));
        let mut out = Collected::default();
        run.finish(&mut out);
        assert_eq!(out.series.len(), MAX_SERIES_PER_SOURCE);
        assert_eq!(out.sources[0].series_dropped, 5);
        assert!(
            out.warnings
                .iter()
                .any(|w| w.contains("5 series were left out"))
        );
    }
}
