//! The reference control plane: `core`'s simulated cluster driven in real time behind the
//! HTTP contract (`docs/CONTRACT.md`).
//!
//! One tokio task owns the [`Cluster`]; HTTP handlers send it commands over a channel and
//! receive each request's events on their own channel. The task sleeps until the cluster's
//! next timer or the next command, so the server follows the same timeline a virtual-time
//! simulation (`cpbench_core::sim`) of the same arrivals would, up to the timer's wake-up
//! latency (measured by the fidelity test in `tests/tests/contract.rs`: a few milliseconds).
//!
//! Endpoints: `/health`, `/v1/chat/completions`, `/v1/completions` (streamed as SSE or not),
//! `/v1/embeddings`, `/v1/models`, `/admin/set_policy`, `/admin/policy`, `/admin/metrics`,
//! `/admin/reset`, and `/metrics` (the metrics in the Prometheus text format, see
//! `prometheus.rs`). Generation responses are sent once the request is dispatched from the
//! control-plane queue, so their head carries `X-Backend-Instance` and `X-Queue-Time-Ms`;
//! `X-Request-ID` is echoed (or generated as `cp-<n>`). Generated text is one synthetic word
//! per token; embeddings are deterministic unit vectors (8 dimensions unless `dimensions`
//! asks otherwise). Without `max_tokens` a request generates 256 tokens; without
//! `X-SLO-Deadline-Ms` its deadline is the default SLO target of its kind and priority.
//!
//! What one request may ask and how long a connection may wait are bounded ([`limits`]);
//! every error is an OpenAI error body (`errors.rs`); the admin API refuses requests a web
//! page could send and, with an admin token, requests without it (`admin.rs`); connections
//! time out and abandoned requests are cancelled (`connection.rs`).

mod admin;
mod connection;
mod driver;
mod errors;
mod fields;
mod http;
pub mod limits;
mod openai;
mod prometheus;

use crate::admin_token::AdminToken;
use anyhow::Context;
use cpbench_core::cluster::{Cluster, ClusterSpec, presets};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Address to bind (`127.0.0.1`).
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// The policy to start with.
    pub policy: String,
    /// The simulated cluster.
    pub cluster: ClusterSpec,
    /// Seed of the cluster's step-time jitter and of the generated text.
    pub seed: u64,
    /// When set, every `/admin/*` request must carry it (`Authorization: Bearer` or
    /// `X-Admin-Token`).
    pub admin_token: Option<AdminToken>,
    /// Longest time from a request head's first byte to its end
    /// ([`limits::HEADER_READ_TIMEOUT`]).
    pub header_read_timeout: Duration,
    /// Longest wait of a kept-alive connection for its next request
    /// ([`limits::IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        use crate::plan::defaults;
        Self {
            host: defaults::SERVE_HOST.into(),
            port: defaults::SERVE_PORT,
            policy: defaults::SERVE_POLICY.into(),
            cluster: presets::default_cluster(),
            seed: defaults::SERVE_SEED,
            admin_token: None,
            header_read_timeout: limits::HEADER_READ_TIMEOUT,
            idle_timeout: limits::IDLE_TIMEOUT,
        }
    }
}

/// A server running in the background of the current tokio runtime.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    http: JoinHandle<std::io::Result<()>>,
    driver: JoinHandle<()>,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, gives open responses up to 5 seconds to finish, then
    /// stops everything.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.http)
            .await
            .is_err()
        {
            self.http.abort();
        }
        self.driver.abort();
        let _ = (&mut self.driver).await;
    }
}

/// Binds and starts the server in the background; returns once it accepts connections.
pub async fn start(opts: ServerOptions) -> anyhow::Result<RunningServer> {
    let cluster = Cluster::new(&opts.cluster, &opts.policy, opts.seed)
        .context("cannot build the simulated cluster")?;
    let listener = TcpListener::bind((opts.host.as_str(), opts.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", opts.host, opts.port))?;
    let addr = listener.local_addr()?;
    let (commands, rx) = mpsc::unbounded_channel();
    let epoch = tokio::time::Instant::now();
    let driver = tokio::spawn(driver::run(cluster, rx, epoch));
    let state = Arc::new(http::Shared {
        commands,
        next_key: AtomicU64::new(1),
        seed: opts.seed,
        admin_token: opts.admin_token,
    });
    let app = http::router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let timeouts = connection::Timeouts {
        header_read: opts.header_read_timeout,
        idle: opts.idle_timeout,
    };
    let http = tokio::spawn(connection::accept_loop(
        listener,
        app,
        timeouts,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        http,
        driver,
    })
}

/// Runs the server until Ctrl-C.
pub async fn serve(opts: ServerOptions) -> anyhow::Result<()> {
    let policy = opts.policy.clone();
    let cluster = opts.cluster.name.clone();
    let guarded = opts.admin_token.is_some();
    let server = start(opts).await?;
    eprintln!(
        "sage-cp-bench control plane listening on {} (cluster `{cluster}`, policy `{policy}`); Ctrl-C stops it",
        server.url()
    );
    if let Some(warning) = exposure_warning(server.addr(), guarded) {
        eprintln!("{warning}");
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    server.shutdown().await;
    Ok(())
}

/// The warning for a server that other machines can reach and whose admin API has no token.
pub fn exposure_warning(addr: SocketAddr, has_admin_token: bool) -> Option<String> {
    if has_admin_token || addr.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "warning: listening on {addr}, beyond this machine, and the admin API (/admin/*) has no token: anyone who can \
         reach this port can switch the policy and reset the counters. Set --admin-token or {} (the runner then needs \
         the same token), or listen on 127.0.0.1",
        crate::admin_token::ENV
    ))
}

/// A cluster and the name it was chosen by (a preset's name or the YAML file's path).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedCluster {
    /// The preset name or file path, as given.
    pub name: String,
    /// The cluster.
    pub spec: ClusterSpec,
}

impl NamedCluster {
    /// The cluster named by a `--cluster` argument ([`cluster_from_arg`]).
    pub fn from_arg(arg: &str) -> anyhow::Result<Self> {
        Ok(Self {
            name: arg.to_string(),
            spec: cluster_from_arg(arg)?,
        })
    }
}

/// The cluster named by a `--cluster` argument: a preset name (`default`, `single`, `pool`,
/// `tiny`) or the path of a YAML cluster file.
pub fn cluster_from_arg(arg: &str) -> anyhow::Result<ClusterSpec> {
    if let Some(spec) = presets::by_name(arg) {
        return Ok(spec);
    }
    let path = std::path::Path::new(arg);
    if !path.exists() {
        anyhow::bail!(
            "--cluster `{arg}` is neither a preset ({}) nor an existing file",
            presets::PRESET_NAMES.join(", ")
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read cluster file {}", path.display()))?;
    ClusterSpec::from_yaml(&text).with_context(|| format!("in cluster file {}", path.display()))
}
