//! Sending threads. Each shard is a single-threaded tokio runtime on its own OS thread with its
//! own connection pool: the requests it sends and the responses it reads never cross threads,
//! and it is one thread competing for the cores, not several. (On a 2-core machine with the
//! server beside it, a work-stealing runtime's extra threads were preempted thousands of times
//! per second and added milliseconds of send lateness.)

use super::builtin;
use std::io;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// One sending thread and what lives on it.
#[derive(Debug)]
pub(super) struct Shard {
    /// Spawns onto the shard's runtime (its tasks run on the shard's thread).
    pub(super) handle: Handle,
    /// The builtin transport's connections (registered with this shard's runtime).
    pub(super) builtin: Option<builtin::Pool>,
    /// reqwest's connections for this shard (the reqwest transport).
    pub(super) http: reqwest::Client,
    /// Dropped with the shard: ends the thread.
    _stop: oneshot::Sender<()>,
}

impl Shard {
    /// Starts the thread `sage-cp-bench-send-{index}`.
    pub(super) fn start(
        index: usize,
        builtin: Option<builtin::Pool>,
        http: reqwest::Client,
    ) -> io::Result<Self> {
        let (stop, stopped) = oneshot::channel::<()>();
        let (started, handle) = std::sync::mpsc::sync_channel(1);
        // The runtime is made and dropped on its own thread (never inside the caller's
        // asynchronous context, where dropping a runtime panics).
        std::thread::Builder::new()
            .name(format!("sage-cp-bench-send-{index}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                let _ = started.send(Ok(rt.handle().clone()));
                // Runs the shard's tasks until the shard is dropped; dropping the runtime then
                // closes its connections.
                let _ = rt.block_on(stopped);
            })?;
        let handle = handle
            .recv()
            .map_err(|_| io::Error::other("the sending thread ended while starting"))??;
        Ok(Self {
            handle,
            builtin,
            http,
            _stop: stop,
        })
    }
}
