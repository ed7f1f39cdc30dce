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
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("sage-cp-bench-send-{index}"))
            .spawn(move || {
                // Runs the shard's tasks until the shard is dropped; dropping the runtime then
                // closes its connections.
                let _ = rt.block_on(stopped);
            })?;
        Ok(Self {
            handle,
            builtin,
            http,
            _stop: stop,
        })
    }
}
