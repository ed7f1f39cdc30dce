//! `--launch`: a control plane started as a child process per policy, in its own process
//! group, health-checked, and stopped on every way out (done, error, signal, panic).

use super::ControlPlane;
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

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
}
