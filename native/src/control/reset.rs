//! `--reset-url`: before each run, a `POST {}` to each URL given, so the serving engines
//! behind a control plane start every run with empty prefix caches (vLLM's
//! `POST /reset_prefix_cache`, SGLang's `POST /flush_cache`). Any 2xx answer is success;
//! anything else, or no answer, fails the run.

use crate::plan::defaults::RESET_TIMEOUT_S;
use anyhow::{Result, bail};
use std::time::Duration;

/// POSTs `{}` (`Content-Type: application/json`) to `url` and returns the status it
/// answered (`200 OK`); an error names the URL and the status or why there was none.
pub async fn call(http: &reqwest::Client, url: &str) -> Result<String> {
    let resp = http
        .post(url)
        .json(&serde_json::json!({}))
        .timeout(Duration::from_secs_f64(RESET_TIMEOUT_S))
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => bail!("--reset-url {url}: no answer ({e}); the run was not started"),
    };
    let status = resp.status();
    if !status.is_success() {
        let body: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let body = body.trim();
        bail!(
            "--reset-url {url}: answered {status}{}; expected a 2xx status (the run was not started)",
            if body.is_empty() {
                String::new()
            } else {
                format!(" ({body})")
            }
        );
    }
    tracing::debug!(url, %status, "reset before the run");
    Ok(status.to_string())
}
