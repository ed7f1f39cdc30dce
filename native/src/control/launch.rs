//! `--launch`: a control plane started as a child process per policy, in its own process
//! group, health-checked, and stopped on every way out (done, error, signal, panic).

use super::{ControlPlane, HealthCheck};
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A `--launch` command template: `{policy}` is replaced by each policy's name, `{port}` by a
/// free port (or the command listens on `port`, `--launch-port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTemplate {
    /// The command, with `{policy}` and (unless `port` is set) `{port}`.
    pub template: String,
    /// The port the command listens on when the template has no `{port}`.
    pub port: Option<u16>,
}

impl LaunchTemplate {
    /// A checked template: it must name `{policy}`, and `{port}` unless `port` is given.
    pub fn new(template: &str, port: Option<u16>) -> Result<Self, String> {
        if !template.contains("{policy}") {
            return Err(format!(
                "--launch: the command must contain {{policy}}, which is replaced by each policy's name; got {template:?} \
                 (e.g. --launch 'vllm-router --policy {{policy}} --port {{port}} ...')"
            ));
        }
        if !template.contains("{port}") && port.is_none() {
            return Err(format!(
                "--launch: the command must contain {{port}}, which is replaced by a free port the runner then measures \
                 (e.g. --launch 'vllm-router --policy {{policy}} --port {{port}} ...'), or give --launch-port PORT with the port \
                 the command listens on; got {template:?}"
            ));
        }
        Ok(Self {
            template: template.to_string(),
            port,
        })
    }

    /// The command for one policy and the port its control plane will listen on.
    pub fn fill(&self, policy: &str) -> Result<(String, u16)> {
        let (cmd, port) = fill_launch_template(&self.template, policy)?;
        match port.or(self.port) {
            Some(p) => Ok((cmd, p)),
            None => bail!("--launch: no {{port}} in the command and no --launch-port"),
        }
    }
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

/// A command line with its secrets replaced by `<redacted>`: the values of options and
/// variables whose names contain `key`, `token`, `secret`, `password` or `credential`
/// (`--api-key X`, `--hf-token=X`, `OPENAI_API_KEY=X`), and every occurrence of the
/// `secrets` given (the `--api-key` value), so a command can be written into a result.
pub fn redact(command: &str, secrets: &[&str]) -> String {
    const SECRET_NAMES: [&str; 6] = ["key", "token", "secret", "password", "passwd", "credential"];
    let secret_name = |name: &str| {
        let n = name.to_ascii_lowercase();
        SECRET_NAMES.iter().any(|s| n.contains(s))
    };
    let mut out: Vec<String> = Vec::new();
    let mut redact_next = false;
    for word in command.split(' ') {
        if redact_next && !word.is_empty() {
            out.push("<redacted>".into());
            redact_next = false;
            continue;
        }
        let name = word.trim_start_matches('-');
        match name.split_once('=') {
            Some((n, v)) if !v.is_empty() && secret_name(n) && !n.is_empty() => {
                out.push(format!(
                    "{}={}",
                    &word[..word.len() - v.len() - 1],
                    "<redacted>"
                ));
            }
            None if word.starts_with('-') && secret_name(name) => {
                out.push(word.to_string());
                redact_next = true;
            }
            _ => out.push(word.to_string()),
        }
    }
    let mut s = out.join(" ");
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        s = s.replace(secret, "<redacted>");
    }
    s
}

/// A control plane started as a child process for one policy. Dropping it kills the child's
/// whole process group, so it never outlives the runner's way out (an error, a signal, a
/// panic); [`Launched::stop`] stops it gracefully.
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

impl Launched {
    /// Starts `command` with `sh -c` in its own process group, logging to `log_path`, and
    /// waits until the control plane at `url` is ready (`check`), at most `timeout` and
    /// only while `cancel` is not cancelled. Fails with the log's tail when the child exits
    /// first; on any failure the child's process group is killed.
    pub async fn start(
        command: &str,
        url: &str,
        log_path: &Path,
        http: reqwest::Client,
        check: &HealthCheck,
        timeout: Duration,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Self> {
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let log = std::fs::File::create(log_path)
            .with_context(|| format!("creating launch log {}", log_path.display()))?;
        let log2 = log.try_clone()?;
        let child = tokio::process::Command::new("sh")
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
        // From here on, dropping `launched` (any early return) kills the process group.
        let mut launched = Self {
            child,
            log_path: log_path.to_path_buf(),
            url: url.to_string(),
            command: command.to_string(),
        };
        let cp = ControlPlane::new(http, url);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = launched.child.try_wait()? {
                let tail = log_tail(log_path);
                bail!(
                    "--launch: {command:?} exited with {status} before {url} was ready; last lines of {}:\n{tail}",
                    log_path.display()
                );
            }
            if cancel.is_cancelled() {
                bail!("--launch: stopped while waiting for {url} to be ready");
            }
            if cp
                .wait_ready(check, Duration::from_millis(200))
                .await
                .is_ok()
            {
                return Ok(launched);
            }
            if Instant::now() >= deadline {
                launched.kill_group();
                bail!(
                    "--launch: {url} was not ready within {:.0} s after starting {command:?} (the child was stopped); \
                     check that the command listens on the port in the URL (--health-path PATH|none changes the check); log: {}",
                    timeout.as_secs_f64(),
                    log_path.display()
                );
            }
        }
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
            // Whatever the command left in its group (a router's workers) goes too.
            let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
        }
        Ok(())
    }

    /// SIGKILL to the child's whole process group (the `sh` and everything it started).
    fn kill_group(&mut self) {
        if let Some(pid) = self.child.id() {
            let pgid = nix::unistd::Pid::from_raw(-(pid as i32));
            let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        self.kill_group();
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
    fn secrets_are_redacted_from_commands() {
        assert_eq!(
            redact("router --api-key sk-123 --policy fifo --port 80", &[]),
            "router --api-key <redacted> --policy fifo --port 80"
        );
        assert_eq!(
            redact(
                "HF_TOKEN=hf_abc OPENAI_API_KEY=x vllm --hf-token=zz --model m",
                &[]
            ),
            "HF_TOKEN=<redacted> OPENAI_API_KEY=<redacted> vllm --hf-token=<redacted> --model m"
        );
        assert_eq!(
            redact(
                "curl -H 'Authorization: Bearer s3cr3t-value' x",
                &["s3cr3t-value"]
            ),
            "curl -H 'Authorization: Bearer <redacted>' x"
        );
        assert_eq!(
            redact("r --policy {policy}", &["ab"]),
            "r --policy {policy}"
        );
    }

    #[test]
    fn templates_need_policy_and_a_port() {
        assert!(
            LaunchTemplate::new("r --port {port}", None)
                .unwrap_err()
                .contains("{policy}")
        );
        let e = LaunchTemplate::new("r {policy}", None).unwrap_err();
        assert!(e.contains("{port}") && e.contains("--launch-port"), "{e}");
        let t = LaunchTemplate::new("r {policy}", Some(9000)).unwrap();
        assert_eq!(t.fill("fifo").unwrap(), ("r fifo".to_string(), 9000));
        let t = LaunchTemplate::new("r {policy} --port {port}", None).unwrap();
        let (cmd, port) = t.fill("x").unwrap();
        assert_eq!(cmd, format!("r x --port {port}"));
    }

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
}
