//! The task that owns the [`Cluster`] and drives it in real time.
//!
//! Handlers talk to it over an unbounded channel of [`Command`]s. Between commands it sleeps
//! until the cluster's next timer (`poll_timeout`, in microseconds since the server started),
//! then calls `handle_timeout` with the elapsed time and routes the cluster's events to the
//! per-request channels. The cluster fires each timer at its own scheduled time, so a late
//! wake-up delays delivery but never shifts the simulated timeline.

use crate::pacer::Pacer;
use cpbench_core::cluster::{
    Cluster, ClusterError, ClusterEvent, ClusterMetrics, ClusterRequest, ModelInfo,
};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What a handler can ask of the cluster.
#[derive(Debug)]
pub(crate) enum Command {
    /// A request arrived; its events go to `events` until it finishes or is rejected.
    Arrive {
        req: ClusterRequest,
        events: mpsc::UnboundedSender<ClusterEvent>,
    },
    /// The client of `key` went away.
    Cancel {
        key: u64,
    },
    SetPolicy {
        name: String,
        reply: oneshot::Sender<Result<String, ClusterError>>,
    },
    Policy {
        reply: oneshot::Sender<String>,
    },
    Metrics {
        reply: oneshot::Sender<ClusterMetrics>,
    },
    Models {
        reply: oneshot::Sender<Vec<ModelInfo>>,
    },
    /// Reply once every queue has drained, after zeroing the counters.
    Reset {
        reply: oneshot::Sender<()>,
    },
}

/// A sleep far in the future, for when the cluster has nothing scheduled.
const IDLE: Duration = Duration::from_secs(86_400 * 365);

/// Microseconds since `epoch`.
fn now_us(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Runs until every command sender is gone.
pub(crate) async fn run(
    mut cluster: Cluster,
    mut commands: mpsc::UnboundedReceiver<Command>,
    epoch: Instant,
) {
    let mut routes: HashMap<u64, mpsc::UnboundedSender<ClusterEvent>> = HashMap::new();
    let mut resets: Vec<oneshot::Sender<()>> = Vec::new();
    // Simulated GPU steps end at microsecond times; tokio's timer would round each up to the
    // next millisecond.
    let mut pacer = Pacer::new().with_min_gap(Duration::ZERO);
    loop {
        let wake = cluster
            .poll_timeout()
            .map(|t| epoch + Duration::from_micros(t));
        // With nothing scheduled the sleep branch is disabled; its deadline is never reached.
        let sleep = pacer.sleep_until(wake.unwrap_or_else(|| epoch + IDLE).into_std());
        tokio::select! {
            biased;
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { break };
                handle(&mut cluster, &mut routes, &mut resets, cmd, epoch);
                // Take everything else already queued before delivering events.
                while let Ok(cmd) = commands.try_recv() {
                    handle(&mut cluster, &mut routes, &mut resets, cmd, epoch);
                }
            }
            () = sleep, if wake.is_some() => {
                cluster.handle_timeout(now_us(epoch));
            }
        }
        while let Some(ev) = cluster.poll_event() {
            let key = ev.key();
            let last = matches!(
                ev,
                ClusterEvent::Finished { .. } | ClusterEvent::Rejected { .. }
            );
            if let Some(tx) = routes.get(&key) {
                // A closed receiver means the handler is gone; its cancel is on the way.
                let _ = tx.send(ev);
            }
            if last {
                routes.remove(&key);
            }
        }
        if !resets.is_empty() && cluster.is_idle() {
            cluster.reset_counters();
            cluster.clear_prefix_caches();
            for r in resets.drain(..) {
                let _ = r.send(());
            }
        }
    }
}

fn handle(
    cluster: &mut Cluster,
    routes: &mut HashMap<u64, mpsc::UnboundedSender<ClusterEvent>>,
    resets: &mut Vec<oneshot::Sender<()>>,
    cmd: Command,
    epoch: Instant,
) {
    match cmd {
        Command::Arrive { req, events } => {
            routes.insert(req.key, events);
            cluster.on_arrival(now_us(epoch), req);
        }
        Command::Cancel { key } => {
            if routes.remove(&key).is_some() {
                cluster.cancel(now_us(epoch), key);
            }
        }
        Command::SetPolicy { name, reply } => {
            cluster.handle_timeout(now_us(epoch));
            let _ = reply.send(cluster.set_policy(&name));
        }
        Command::Policy { reply } => {
            let _ = reply.send(cluster.policy().to_string());
        }
        Command::Metrics { reply } => {
            let now = now_us(epoch);
            cluster.handle_timeout(now);
            let _ = reply.send(cluster.metrics(now));
        }
        Command::Models { reply } => {
            let _ = reply.send(cluster.models());
        }
        Command::Reset { reply } => resets.push(reply),
    }
}
