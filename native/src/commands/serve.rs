//! `serve`: the reference control plane over HTTP until stopped.

use crate::admin_token::AdminToken;
use crate::cli::ServeArgs;
use crate::plan::{defaults, usage};
use crate::server;
use anyhow::Result;

/// Serves until Ctrl-C; exit code 0.
pub(super) async fn serve(a: &ServeArgs) -> Result<i32> {
    let name = a.cluster.cluster.as_deref().unwrap_or(defaults::CLUSTER);
    let cluster = server::cluster_from_arg(name).map_err(|e| usage(format!("--cluster: {e:#}")))?;
    let admin_token = a
        .admin_token
        .as_deref()
        .map(AdminToken::new)
        .transpose()
        .map_err(|e| {
            usage(format!(
                "--admin-token (or {}): {e}",
                crate::admin_token::ENV
            ))
        })?;
    server::serve(server::ServerOptions {
        host: a.host.clone(),
        port: a.port,
        policy: a.policy.clone(),
        cluster,
        seed: a.seed,
        admin_token,
        ..server::ServerOptions::default()
    })
    .await?;
    Ok(0)
}
