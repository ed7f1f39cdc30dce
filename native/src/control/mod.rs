//! Talking to the control plane outside the measured requests: health, verified policy
//! switching, metrics snapshots, reset/drain between policies, and launching a control plane
//! as a child process per policy (`--launch`, in [`launch`]).

pub mod launch;
pub mod reset;

pub use launch::{Launched, fill_launch_template};

use crate::admin_token::{self, AdminToken};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How the policy under test is put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchMode {
    /// `POST /admin/set_policy`, then verified (the default).
    Admin,
    /// Not switched: the control plane runs whatever it runs (recorded as such).
    None,
    /// A control plane started per policy from this command template.
    Launch(launch::LaunchTemplate),
}

/// How the runner checks that a control plane is ready (`--health-path`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HealthCheck {
    /// `GET /health`, and where the server has none, `GET /v1/models`.
    #[default]
    Auto,
    /// `GET` this path only.
    Path(String),
    /// No check.
    Off,
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
    /// The API key, sent with `GET /v1/models` (an OpenAI-compatible server may require it).
    api_key: Option<String>,
    admin_token: Option<AdminToken>,
}

impl ControlPlane {
    /// Wraps a base URL (no trailing slash) and a client.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key: None,
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

    /// A `GET` of an admin path, with the admin token when there is one.
    pub(crate) fn admin_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.admin(reqwest::Method::GET, path)
    }

    /// The active policy as `GET /admin/policy` names it; `None` when it names none.
    pub async fn active_policy(&self) -> Option<String> {
        self.get_json("/admin/policy")
            .await
            .ok()
            .flatten()
            .and_then(|v| v.get("policy").and_then(Value::as_str).map(str::to_owned))
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

    /// The same, sending `key` as a bearer token where the OpenAI API expects one.
    pub fn with_api_key(mut self, key: Option<String>) -> Self {
        self.api_key = key;
        self
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Waits until the control plane is ready as `check` says, or fails after `timeout`
    /// with a message naming the URLs asked and what they answered. Returns the path that
    /// answered (`None` when the check is off).
    pub async fn wait_ready(
        &self,
        check: &HealthCheck,
        timeout: Duration,
    ) -> Result<Option<String>> {
        let paths: Vec<&str> = match check {
            HealthCheck::Off => return Ok(None),
            HealthCheck::Auto => vec!["/health", "/v1/models"],
            HealthCheck::Path(p) => vec![p.as_str()],
        };
        let deadline = Instant::now() + timeout;
        loop {
            let mut answers = Vec::new();
            for path in &paths {
                let url = format!("{}{path}", self.base);
                match self
                    .http
                    .get(&url)
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        tracing::debug!(%url, "control plane ready");
                        return Ok(Some((*path).to_string()));
                    }
                    // Auto: a missing /health sends us on to the next path at once.
                    Ok(r) => answers.push(format!("GET {url} answered {}", r.status())),
                    Err(e) => {
                        answers.push(format!(
                            "GET {url} failed: {}",
                            crate::client::error_chain(&e)
                        ));
                        // Nothing listens (yet): no point asking the other paths now.
                        break;
                    }
                }
            }
            let last = answers.join("; ");
            tracing::debug!(base = %self.base, %last, "control plane not ready yet");
            if Instant::now() >= deadline {
                bail!(
                    "the control plane at {} is not ready after {:.0} s ({last}); is it running? \
                     (start one with `sage-cp-bench serve`, or leave out --control-plane to use the embedded one; \
                     --health-path PATH checks another path, --health-path none skips the check)",
                    self.base,
                    timeout.as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The model ids `GET /v1/models` lists; `None` when the server has no such endpoint or
    /// its answer is not an OpenAI model list.
    pub async fn served_models(&self) -> Option<Vec<String>> {
        let mut req = self
            .http
            .get(format!("{}/v1/models", self.base))
            .timeout(Duration::from_secs(10));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let r = req.send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        let v: Value = r.json().await.ok()?;
        let ids: Vec<String> = v
            .get("data")?
            .as_array()?
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        Some(ids)
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
                 switched on. Use --policy-switch none to measure it as it is (one policy only), or start it once per policy with \
                 --launch 'COMMAND --policy {{policy}} --port {{port}}' (the command your router takes, with {{policy}} and {{port}} where its \
                 policy and port go)",
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

    /// Before a run: `POST /admin/reset` when the control plane has it (it zeroes its
    /// counters and waits for its queues to drain). Otherwise nothing before the first run;
    /// between runs (every request of ours has ended by then), wait until `/admin/metrics`
    /// shows empty queues and idle instances, at most `drain`, and not at all when the
    /// control plane has no metrics to tell. Returns what was done, for the run's notes.
    pub async fn prepare_run(&self, first_run: bool, drain: Duration) -> String {
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
            return "reset with POST /admin/reset".into();
        }
        if first_run {
            return "no /admin/reset; the first run starts at once".into();
        }
        let Some(m) = self.metrics().await else {
            return "no /admin/reset nor /admin/metrics: every request of the previous run had ended, and the control plane cannot tell whether its own queues are empty"
                .into();
        };
        tracing::debug!(base = %self.base, drain_s = drain.as_secs_f64(), "no /admin/reset: waiting for /admin/metrics to show the queues empty");
        let started = Instant::now();
        let deadline = started + drain;
        let mut last = m;
        loop {
            if is_idle(&last) {
                return format!(
                    "no /admin/reset; /admin/metrics showed empty queues after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            if Instant::now() >= deadline {
                return format!(
                    "no /admin/reset; /admin/metrics still showed work queued after the --drain limit of {:.1} s",
                    drain.as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            match self.metrics().await {
                Some(m) => last = m,
                None => {
                    return "no /admin/reset; /admin/metrics stopped answering while waiting for empty queues".into();
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
