//! Talking to the control plane outside the measured requests: health, verified policy
//! switching, metrics snapshots, reset/drain between policies, and launching a control plane
//! as a child process per policy (`--launch`).

use crate::admin_token::{self, AdminToken};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How the policy under test is put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchMode {
    /// `POST /admin/set_policy`, then verified (the default).
    Admin,
    /// Not switched: the control plane runs whatever it runs (recorded as such).
    None,
    /// A control plane started per policy from this command template (`{policy}`, `{port}`).
    Launch(String),
}

/// How a policy switch was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchVerified {
    /// The policy active before the switch, when the control plane said.
    pub previous: Option<String>,
    /// Which endpoint confirmed the new policy.
    pub confirmed_by: &'static str,
}

/// Admin access to one control plane.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    http: reqwest::Client,
    base: String,
    admin_token: Option<AdminToken>,
}

impl ControlPlane {
    /// Wraps a base URL (no trailing slash) and a client.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            admin_token: None,
        }
    }

    /// The same, sending `token` with every `/admin/*` call as `Authorization: Bearer`.
    #[must_use]
    pub fn with_admin_token(mut self, token: Option<AdminToken>) -> Self {
        self.admin_token = token;
        self
    }

    /// A request to `/admin/...`, with the admin token when there is one.
    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.admin_token {
            Some(t) => req.header(reqwest::header::AUTHORIZATION, t.bearer_header()),
            None => req,
        }
    }

    /// What to say about a 401 from the admin API.
    fn unauthorized_hint(&self) -> String {
        if self.admin_token.is_some() {
            "the control plane refused the admin token given (--admin-token or SAGE_ADMIN_TOKEN)"
                .into()
        } else {
            format!(
                "the control plane's admin API needs a token: give it with --admin-token or {}",
                admin_token::ENV
            )
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Waits until `GET /health` answers 200, or fails after `timeout`.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let last_err = match self
                .http
                .get(format!("{}/health", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    tracing::debug!(base = %self.base, "control plane healthy");
                    return Ok(());
                }
                Ok(r) => format!("GET /health answered {}", r.status()),
                Err(e) => format!("{e}"),
            };
            tracing::debug!(base = %self.base, %last_err, "control plane not healthy yet");
            if Instant::now() >= deadline {
                bail!(
                    "control plane at {} not healthy after {:.0} s ({last_err}); is it running? \
                     (start one with `sage-cp-bench serve`, or leave out --control-plane to use the embedded one)",
                    self.base,
                    timeout.as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get_json(&self, path: &str) -> Result<Option<Value>> {
        let r = self
            .admin(reqwest::Method::GET, path)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .with_context(|| format!("GET {}{path}", self.base))?;
        if r.status() == reqwest::StatusCode::NOT_FOUND
            || r.status() == reqwest::StatusCode::METHOD_NOT_ALLOWED
        {
            return Ok(None);
        }
        if r.status() == reqwest::StatusCode::UNAUTHORIZED {
            bail!(
                "GET {}{path} answered {}: {}",
                self.base,
                r.status(),
                self.unauthorized_hint()
            );
        }
        if !r.status().is_success() {
            bail!("GET {}{path} answered {}", self.base, r.status());
        }
        let v = r
            .json::<Value>()
            .await
            .with_context(|| format!("GET {}{path} returned a body that is not JSON", self.base))?;
        Ok(Some(v))
    }

    /// `GET /admin/metrics` as-is; `None` when the control plane has no such endpoint or it
    /// fails (the runner never requires it).
    pub async fn metrics(&self) -> Option<Value> {
        self.get_json("/admin/metrics").await.ok().flatten()
    }

    /// Switches to `policy` with `POST /admin/set_policy` and confirms it took effect through
    /// `GET /admin/policy`, else the switch response, else `/admin/metrics`. Any disagreement,
    /// a missing admin API, or no way to confirm is an error: a comparison must not silently
    /// compare one policy with itself.
    pub async fn set_policy(&self, policy: &str) -> Result<SwitchVerified> {
        let url = format!("{}/admin/set_policy", self.base);
        let r = self
            .admin(reqwest::Method::POST, "/admin/set_policy")
            .json(&json!({ "policy": policy }))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND
            || status == reqwest::StatusCode::METHOD_NOT_ALLOWED
        {
            bail!(
                "the control plane at {} has no admin API (POST /admin/set_policy answered {status}), so policy {policy:?} cannot be \
                 switched on. Use --policy-switch none to measure it as it is (one policy only), or --launch 'COMMAND {{policy}}' to \
                 start it once per policy",
                self.base
            );
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            bail!(
                "cannot switch to policy {policy:?}: POST /admin/set_policy answered {status}: {}",
                self.unauthorized_hint()
            );
        }
        if !status.is_success() {
            bail!(
                "the control plane refused policy {policy:?}: POST /admin/set_policy answered {status}: {}",
                error_text(&body)
            );
        }
        let resp: Option<Value> = serde_json::from_str(&body).ok();
        let said = resp
            .as_ref()
            .and_then(|v| v.get("policy"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let previous = resp
            .as_ref()
            .and_then(|v| v.get("previous"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(s) = &said
            && s != policy
        {
            bail!(
                "asked the control plane for policy {policy:?}, but POST /admin/set_policy says {s:?} is active"
            );
        }
        if let Some(v) = self.get_json("/admin/policy").await.ok().flatten()
            && let Some(active) = v.get("policy").and_then(Value::as_str)
        {
            if active != policy {
                bail!(
                    "POST /admin/set_policy accepted {policy:?}, but GET /admin/policy reports {active:?}: the switch did not take effect"
                );
            }
            tracing::info!(
                policy,
                ?previous,
                "policy switched, confirmed by GET /admin/policy"
            );
            return Ok(SwitchVerified {
                previous,
                confirmed_by: "GET /admin/policy",
            });
        }
        if said.is_some() {
            tracing::info!(
                policy,
                ?previous,
                "policy switched, confirmed by the set_policy response"
            );
            return Ok(SwitchVerified {
                previous,
                confirmed_by: "POST /admin/set_policy response",
            });
        }
        if let Some(m) = self.metrics().await
            && let Some(active) = m.get("policy").and_then(Value::as_str)
        {
            if active != policy {
                bail!(
                    "POST /admin/set_policy accepted {policy:?}, but GET /admin/metrics reports policy {active:?}"
                );
            }
            tracing::info!(
                policy,
                ?previous,
                "policy switched, confirmed by GET /admin/metrics"
            );
            return Ok(SwitchVerified {
                previous,
                confirmed_by: "GET /admin/metrics",
            });
        }
        bail!(
            "could not confirm that policy {policy:?} is active: neither the set_policy response, GET /admin/policy nor \
             GET /admin/metrics names the active policy"
        )
    }

    /// Between policies: `POST /admin/reset` (zero counters, wait for drain) when available,
    /// otherwise wait until `/admin/metrics` shows empty queues, at most `drain`. Returns what
    /// was done, for the report.
    pub async fn reset_or_drain(&self, drain: Duration) -> String {
        // An empty JSON object: admin POSTs say `Content-Type: application/json`.
        if let Ok(r) = self
            .admin(reqwest::Method::POST, "/admin/reset")
            .json(&json!({}))
            .timeout(Duration::from_secs(120))
            .send()
            .await
            && r.status().is_success()
        {
            tracing::debug!(base = %self.base, "reset with POST /admin/reset");
            return "POST /admin/reset".into();
        }
        tracing::debug!(base = %self.base, drain_s = drain.as_secs_f64(), "no /admin/reset: waiting for the queues to drain");
        let deadline = Instant::now() + drain;
        while Instant::now() < deadline {
            if let Some(m) = self.metrics().await
                && is_idle(&m)
            {
                return "waited until /admin/metrics showed empty queues".into();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        format!("waited the drain time ({:.1} s)", drain.as_secs_f64())
    }
}

/// Whether an `/admin/metrics` snapshot (`docs/CONTRACT.md` shape) shows nothing queued or running.
fn is_idle(m: &Value) -> bool {
    let queues_empty = m
        .get("queues")
        .and_then(Value::as_object)
        .is_some_and(|q| q.values().all(|v| v.as_f64() == Some(0.0)));
    let instances_idle = m
        .get("instances")
        .and_then(Value::as_array)
        .is_none_or(|a| {
            a.iter().all(|i| {
                i.get("running").and_then(Value::as_f64).unwrap_or(0.0) == 0.0
                    && i.get("waiting").and_then(Value::as_f64).unwrap_or(0.0) == 0.0
            })
        });
    queues_empty && instances_idle
}

fn error_text(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// A control plane started as a child process for one policy.
#[derive(Debug)]
pub struct Launched {
    child: tokio::process::Child,
    /// Where its stdout and stderr go.
    pub log_path: PathBuf,
    /// Its base URL.
    pub url: String,
    /// The command line run (after substitution).
    pub command: String,
}

/// Fills a `--launch` template: `{policy}` (required) and `{port}` (a free port is chosen).
/// Returns the command and the port chosen, if any.
pub fn fill_launch_template(template: &str, policy: &str) -> Result<(String, Option<u16>)> {
    if !template.contains("{policy}") {
        bail!(
            "--launch: the command must contain {{policy}}, which is replaced by each policy's name; got {template:?}"
        );
    }
    let mut cmd = template.replace("{policy}", policy);
    let mut port = None;
    if cmd.contains("{port}") {
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .context("choosing a free port for {port}")?;
        let p = l.local_addr()?.port();
        drop(l);
        cmd = cmd.replace("{port}", &p.to_string());
        port = Some(p);
    }
    Ok((cmd, port))
}

impl Launched {
    /// Starts `command` with `sh -c` in its own process group, logging to `log_path`, and
    /// waits until `url` is healthy. Fails with the log's tail when the child exits first.
    pub async fn start(
        command: &str,
        url: &str,
        log_path: &Path,
        http: reqwest::Client,
        health_timeout: Duration,
    ) -> Result<Self> {
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let log = std::fs::File::create(log_path)
            .with_context(|| format!("creating launch log {}", log_path.display()))?;
        let log2 = log.try_clone()?;
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("--launch: could not start {command:?}"))?;
        tracing::info!(command, pid = child.id(), log = %log_path.display(), "launched a control plane");
        let cp = ControlPlane::new(http, url);
        let deadline = Instant::now() + health_timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                let tail = log_tail(log_path);
                bail!(
                    "--launch: {command:?} exited with {status} before {url}/health answered; last lines of {}:\n{tail}",
                    log_path.display()
                );
            }
            if cp.wait_healthy(Duration::from_millis(200)).await.is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.start_kill();
                bail!(
                    "--launch: {url}/health did not answer within {:.0} s after starting {command:?}; log: {}",
                    health_timeout.as_secs_f64(),
                    log_path.display()
                );
            }
        }
        Ok(Self {
            child,
            log_path: log_path.to_path_buf(),
            url: url.to_string(),
            command: command.to_string(),
        })
    }

    /// Stops the child's process group: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) -> Result<()> {
        if let Some(pid) = self.child.id() {
            tracing::info!(pid, command = %self.command, "stopping the launched control plane");
            let pgid = nix::unistd::Pid::from_raw(-(pid as i32));
            let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGTERM);
            match tokio::time::timeout(grace, self.child.wait()).await {
                Ok(r) => {
                    r.map_err(|e| anyhow!("waiting for the launched control plane: {e}"))?;
                }
                Err(_) => {
                    let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
                    let _ = self.child.wait().await;
                }
            }
        }
        Ok(())
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_template_needs_policy_and_fills_port() {
        assert!(fill_launch_template("router --port 8000", "fifo").is_err());
        let (cmd, port) =
            fill_launch_template("r --policy {policy} --port {port}", "fifo").unwrap();
        let p = port.unwrap();
        assert_eq!(cmd, format!("r --policy fifo --port {p}"));
        let (cmd, port) = fill_launch_template("r {policy}", "x").unwrap();
        assert_eq!((cmd.as_str(), port), ("r x", None));
    }

    #[test]
    fn idle_means_empty_queues_and_instances() {
        let busy = json!({"queues": {"llm": 2, "embedding": 0}, "instances": []});
        let idle = json!({"queues": {"llm": 0, "embedding": 0}, "instances": [{"running": 0, "waiting": 0}]});
        let running = json!({"queues": {"llm": 0}, "instances": [{"running": 1, "waiting": 0}]});
        assert!(!is_idle(&busy));
        assert!(is_idle(&idle));
        assert!(!is_idle(&running));
    }
}
