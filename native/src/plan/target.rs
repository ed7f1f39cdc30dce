//! Where the requests go and how: the control plane (embedded, a URL, or launched per
//! policy), the policy switch, the client's knobs and the telemetry beside each run.

use super::{HttpPlan, defaults, usage};
use crate::admin_token::{self, AdminToken};
use crate::cli::HttpClientArg;
use crate::cli::{PolicySwitchArg, TargetArgs, TelemetryArgs};
use crate::client::Transport;
use crate::control::launch::LaunchTemplate;
use crate::control::{HealthCheck, SwitchMode};
use crate::runner::Target;
use crate::server::NamedCluster;
use crate::telemetry::{TelemetryOptions, scrape_targets};
use anyhow::Result;
use cpbench_core::config::BenchmarkConfig;
use std::time::Duration;

/// A number of seconds from `flag`: finite, at least 0 and at most
/// [`defaults::MAX_DURATION_S`].
pub fn seconds(flag: &str, value: f64) -> Result<Duration> {
    if !(value.is_finite() && (0.0..=defaults::MAX_DURATION_S).contains(&value)) {
        return Err(usage(format!(
            "{flag}: {} is not accepted; give a number of seconds from 0 to {}",
            short_number(value),
            defaults::MAX_DURATION_S
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

/// A number as a person reads it: `1e300` rather than 301 digits.
fn short_number(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// The cluster named by `--cluster` (a preset or a YAML file), or the default preset.
pub(super) fn cluster(arg: Option<&str>) -> Result<NamedCluster> {
    NamedCluster::from_arg(arg.unwrap_or(defaults::CLUSTER))
        .map_err(|e| usage(format!("--cluster: {e:#}")))
}

/// The control plane and switch mode chosen by the flags and the config, the client's
/// settings, and the telemetry.
pub(super) fn http(
    t: &TargetArgs,
    telemetry: &TelemetryArgs,
    config: &BenchmarkConfig,
) -> Result<HttpPlan> {
    let (target, switch) = target(t, config)?;
    let health = match t.health_path.as_deref().map(str::trim) {
        None | Some("") => HealthCheck::Auto,
        Some("none") => HealthCheck::Off,
        Some(p) if p.starts_with('/') && !p.contains(char::is_whitespace) => {
            HealthCheck::Path(p.to_string())
        }
        Some(p) => {
            return Err(usage(format!(
                "--health-path: {p:?} is not accepted; give a path starting with / (e.g. /health, /v1/models) or none"
            )));
        }
    };
    if t.connections == 0 {
        return Err(usage(
            "--connections: 0 is not accepted; give at least 1 (each request in flight needs a connection)",
        ));
    }
    Ok(HttpPlan {
        target,
        switch,
        api_key: t.api_key.clone(),
        admin_token: t
            .admin_token
            .as_deref()
            .map(AdminToken::new)
            .transpose()
            .map_err(|e| usage(format!("--admin-token (or {}): {e}", admin_token::ENV)))?,
        drain: seconds("--drain", t.drain)?,
        reset_urls: t
            .reset_url
            .iter()
            .map(|u| reset_url(u))
            .collect::<Result<_>>()?,
        launch_timeout: seconds("--launch-timeout", t.launch_timeout)?,
        health,
        max_connections: t.connections,
        max_response_bytes: t.max_response_mib << 20,
        tokenizer: match &t.tokenizer {
            None => None,
            Some(path) => Some(std::sync::Arc::new(
                tokenizers::Tokenizer::from_file(path).map_err(|e| {
                    usage(format!(
                        "--tokenizer {}: not a readable Hugging Face tokenizer.json ({e})",
                        path.display()
                    ))
                })?,
            )),
        },
        transport: match t.http_client {
            HttpClientArg::Auto => Transport::Auto,
            HttpClientArg::Builtin => Transport::Builtin,
            HttpClientArg::Reqwest => Transport::Reqwest,
        },
        client_threads: usize::from(t.client_threads),
        telemetry: telemetry_options(telemetry)?,
    })
}

/// A `--reset-url`: an `http://` or `https://` URL with a host, called as given.
fn reset_url(u: &str) -> Result<String> {
    let u = u.trim();
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.starts_with('/') || r.contains(char::is_whitespace)) {
        return Err(usage(format!(
            "--reset-url: {u:?} is not accepted; give an http:// or https:// URL, e.g. http://localhost:8000/reset_prefix_cache"
        )));
    }
    Ok(u.to_string())
}

fn target(t: &TargetArgs, config: &BenchmarkConfig) -> Result<(Target, SwitchMode)> {
    if let Some(launch) = &t.launch {
        if t.policy_switch == PolicySwitchArg::None {
            return Err(usage(
                "--launch and --policy-switch none contradict each other: --launch starts the control plane with each policy",
            ));
        }
        if t.control_plane.is_some() {
            return Err(usage(
                "--launch and --control-plane contradict each other: --launch starts the control plane and measures it at http://127.0.0.1:{port}",
            ));
        }
        let template = LaunchTemplate::new(launch, t.launch_port).map_err(usage)?;
        return Ok((Target::Launched, SwitchMode::Launch(template)));
    }
    let url = match (&t.control_plane, &config.control_plane_url) {
        (Some(u), _) => Some(base_url("--control-plane", u)?),
        (None, Some(u)) => Some(base_url("control_plane_url", u)?),
        (None, None) => None,
    };
    let switch = match t.policy_switch {
        PolicySwitchArg::Admin => SwitchMode::Admin,
        PolicySwitchArg::None => {
            if config.policies.len() > 1 {
                return Err(usage(format!(
                    "--policy-switch none with {} policies would measure the same control plane {} times under different names; \
                     give one policy, or use --launch 'COMMAND {{policy}} {{port}}' to start the control plane per policy",
                    config.policies.len(),
                    config.policies.len()
                )));
            }
            SwitchMode::None
        }
    };
    match url {
        Some(u) => Ok((Target::Url(u), switch)),
        None => Ok((
            Target::Embedded(cluster(t.cluster.cluster.as_deref())?),
            switch,
        )),
    }
}

/// A control plane's base URL as the runner uses it: an `http://` or `https://` URL with a
/// host, without a trailing `/` and without a trailing `/v1` (the OpenAI SDK convention,
/// `OPENAI_BASE_URL`): API paths are `/v1/...` under it, `/health` and `/admin/...` at it.
pub fn base_url(name: &str, raw: &str) -> Result<String> {
    let bad = |why: String| {
        usage(format!(
            "{name}: {raw:?} is not a control plane URL ({why}); expected e.g. http://localhost:8080 or http://localhost:8000/v1"
        ))
    };
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query or fragment has no place in a base URL".into()));
    }
    let mut s = url.as_str().trim_end_matches('/').to_string();
    if let Some(root) = s.strip_suffix("/v1") {
        s = root.to_string();
    }
    Ok(s)
}

/// Checks the telemetry flags; the error names the flag, the value and what is accepted.
fn telemetry_options(a: &TelemetryArgs) -> Result<TelemetryOptions> {
    let s = a.cp_metrics_interval;
    let interval = seconds("--cp-metrics-interval", s)?;
    if s > 0.0 && s < defaults::MIN_CP_METRICS_INTERVAL_S {
        return Err(usage(format!(
            "--cp-metrics-interval: {s} is not accepted; give 0 (off) or a number of seconds of at least {}",
            defaults::MIN_CP_METRICS_INTERVAL_S
        )));
    }
    let poll_interval = (s > 0.0).then_some(interval);
    if poll_interval.is_none() && !a.scrape.is_empty() {
        return Err(usage(
            "--scrape reads its endpoints every --cp-metrics-interval, which is 0 (off); give an interval > 0",
        ));
    }
    Ok(TelemetryOptions {
        gpu: a.gpu_monitor,
        gpu_interval: Duration::from_millis(a.gpu_interval),
        nvml_lib: a.nvml_lib.clone(),
        poll_interval,
        scrape: scrape_targets(&a.scrape).map_err(usage)?,
    })
}
