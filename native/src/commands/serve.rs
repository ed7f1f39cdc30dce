//! `serve`: the reference control plane over HTTP until stopped.

use crate::cli::ServeArgs;
use crate::plan::{defaults, usage};
use crate::server;
use anyhow::Result;

/// Serves until Ctrl-C; exit code 0.
pub(super) async fn serve(a: &ServeArgs) -> Result<i32> {
    let name = a.cluster.cluster.as_deref().unwrap_or(defaults::CLUSTER);
    let cluster = server::cluster_from_arg(name).map_err(|e| usage(format!("--cluster: {e:#}")))?;
    server::serve(server::ServerOptions {
        host: a.host.clone(),
        port: a.port,
        policy: a.policy.clone(),
        cluster,
        seed: a.seed,
    })
    .await?;
    Ok(0)
}
