//! The open-loop sender: sends every request of a schedule at its intended time, however
//! many are in flight, and hands one record per request sent to a [`RecordSink`] as the
//! request ends (nothing per request is kept once it has ended).
//!
//! The schedule is fixed before sending starts; the requests' bytes are made a bounded
//! window ahead on producer threads ([`crate::feed`]) and dropped once sent and measured. A
//! pacing task waits for each request's time with a high-resolution timer ([`Pacer`]) and
//! spawns the request as its own task; an optional `--max-concurrency` cap makes the excess
//! wait for a slot (the wait is recorded, and latency is still measured from the intended
//! time). Cancellation is two-step: `stop` ends sending (nothing more is spawned); after a
//! grace period the requests still in flight are aborted and recorded as cancelled.

use crate::client::{Client, PreparedRequest};
use crate::collect::RecordSink;
use crate::feed::{Schedule, ShardFeed, Window};
use crate::pacer::Pacer;
use cpbench_core::record::{Outcome, RequestRecord};
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How to send a schedule.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// At most this many requests in flight; the excess waits for a slot (a deliberate cap:
    /// the wait is recorded apart from lateness).
    pub max_concurrency: Option<usize>,
    /// At most this many connections (one per request in flight, HTTP/1.1): a bounded,
    /// reused keep-alive pool instead of a storm of new connections under load. Shared out
    /// among the client's sending threads (each gets `max_connections / threads`, rounded
    /// up). A request that finds its thread's connections all busy waits in FIFO order, and
    /// the wait counts as send lateness.
    pub max_connections: usize,
    /// After `stop`, how long in-flight requests may still finish before they are aborted.
    pub grace: Duration,
    /// Delay between the call and the run's t=0, so the first request is not late because of
    /// set-up work.
    pub lead: Duration,
    /// Wait for send times with a high-resolution timer where the platform has one (see
    /// [`Pacer`]); `false` uses tokio's millisecond timer.
    pub precise_pacing: bool,
    /// With precise pacing, the shortest time between two wake-ups of a sending thread:
    /// requests due closer together are sent by one wake-up (see [`Pacer::with_min_gap`]).
    pub pacing_min_gap: Duration,
    /// How far ahead of sending each sending thread's requests are prepared.
    pub window: Window,
    /// The run's t=0, when given (a slot of a shared timeline): every request is due at its
    /// offset from it, even when it has passed (the requests then go out late, and their
    /// lateness is recorded); `None`: `lead` after the call.
    pub t0: Option<Instant>,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            max_concurrency: None,
            max_connections: crate::plan::defaults::CONNECTIONS,
            grace: Duration::from_secs(5),
            lead: Duration::from_millis(20),
            precise_pacing: true,
            pacing_min_gap: crate::pacer::DEFAULT_MIN_GAP,
            window: Window::default(),
            t0: None,
        }
    }
}

/// Signals that end a run early.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    /// Stop sending new requests (a signal, or a failure elsewhere); requests in flight get
    /// the grace period to finish.
    pub stop: CancellationToken,
    /// Abort the requests still in flight now, without waiting for the grace period (a
    /// second signal).
    pub abort: CancellationToken,
    /// The signal that stopped the run (its number; 0 when none did).
    pub signal: Arc<std::sync::atomic::AtomicI32>,
}

impl Cancel {
    /// The number of the signal that stopped the run, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

/// What sending a schedule gave, its records collected (see [`send_open_loop`]).
#[derive(Debug)]
pub struct SendResult {
    /// One record per request that was sent, sorted by id.
    pub records: Vec<RequestRecord>,
    /// Requests of the schedule never sent because the run was stopped.
    pub unsent: usize,
    /// Whether the run was stopped before the whole schedule was sent and finished.
    pub interrupted: bool,
    /// Wall time from t=0 to the last request's end, in seconds.
    pub wall_s: f64,
}

/// What sending a schedule to a sink gave (see [`send_open_loop_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Records handed to the sink: one per request sent.
    pub records: usize,
    /// Requests of the schedule never sent because the run was stopped.
    pub unsent: usize,
    /// Whether the run was stopped before the whole schedule was sent and finished.
    pub interrupted: bool,
    /// When the last request ended, µs from t=0.
    pub last_end_us: u64,
}

/// Sends the requests of `schedule` open-loop, waits for all of them, and gives their
/// records at once, sorted by id: for small schedules and tests (the records are all kept;
/// runs use [`send_open_loop_to`]).
pub async fn send_open_loop(
    client: &Client,
    schedule: Schedule,
    opts: &SendOptions,
    cancel: &Cancel,
    progress: &ProgressBar,
) -> SendResult {
    let (sink, rx) = RecordSink::unbounded();
    let sent = send_open_loop_to(client, schedule, opts, cancel, progress, &sink).await;
    drop(sink);
    let mut records: Vec<RequestRecord> = rx.into_iter().collect();
    records.sort_by_key(|r| r.id);
    SendResult {
        records,
        unsent: sent.unsent,
        interrupted: sent.interrupted,
        wall_s: sent.last_end_us as f64 / 1e6,
    }
}

/// Sends the requests of `schedule` open-loop and waits for all of them, handing each
/// request's record to `sink` as it ends (in the order they end).
///
/// The requests are dealt out round-robin to the client's sending threads; each paces and
/// sends its share on its own event loop and connections, its requests prepared by a
/// producer thread beside it.
///
/// # Panics
/// If a producer thread cannot be started.
pub async fn send_open_loop_to(
    client: &Client,
    schedule: Schedule,
    opts: &SendOptions,
    cancel: &Cancel,
    progress: &ProgressBar,
    sink: &RecordSink,
) -> Sent {
    let shards = client.threads();
    let schedule = Arc::new(schedule);
    let feeds: Vec<ShardFeed> = (0..shards)
        .map(|k| {
            ShardFeed::start(client, &schedule, k, shards, opts.window)
                .expect("starting a thread that prepares requests")
        })
        .collect();
    let t0 = opts.t0.unwrap_or_else(|| Instant::now() + opts.lead);
    let shared = Shared {
        client: client.clone(),
        schedule: Arc::clone(&schedule),
        t0,
        slots: opts
            .max_concurrency
            .map(|n| Arc::new(Semaphore::new(n.max(1)))),
        opts: opts.clone(),
        cancel: cancel.clone(),
        progress: progress.clone(),
        sink: sink.clone(),
    };
    let tasks: Vec<_> = feeds
        .into_iter()
        .enumerate()
        .map(|(k, feed)| client.spawn_on(k, send_shard(shared.clone(), k, feed)))
        .collect();
    drop(shared);
    let mut sent = Sent {
        records: 0,
        unsent: 0,
        interrupted: false,
        last_end_us: 0,
    };
    for t in tasks {
        match t.await {
            Ok(part) => {
                sent.records += part.records;
                sent.unsent += part.unsent;
                sent.last_end_us = sent.last_end_us.max(part.last_end_us);
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a sending thread stopped: {e}"),
        }
    }
    sent.interrupted = cancel.stop.is_cancelled();
    sent
}

/// What every sending thread shares.
#[derive(Clone)]
struct Shared {
    client: Client,
    schedule: Arc<Schedule>,
    t0: Instant,
    /// `--max-concurrency` slots, shared by all threads.
    slots: Option<Arc<Semaphore>>,
    opts: SendOptions,
    cancel: Cancel,
    progress: ProgressBar,
    sink: RecordSink,
}

/// A request task's answer: its record, or `None` when it was never sent.
type Answer = Option<RequestRecord>;

/// How often (in requests spawned) the pacing loop collects the tasks that have ended, so
/// that an ended task's memory is freed during the run, not at its end.
const REAP_EVERY: usize = 64;

/// Sends the requests of `feed` (requests `shard`, `shard + shards`, … of the schedule);
/// runs on thread `shard`.
async fn send_shard(sh: Shared, shard: usize, mut feed: ShardFeed) -> Ended {
    let mut pacer = if sh.opts.precise_pacing {
        Pacer::new().with_min_gap(sh.opts.pacing_min_gap)
    } else {
        Pacer::coarse()
    };
    let Shared { client, t0, .. } = &sh;
    let total = feed.len();
    let connections = Arc::new(Semaphore::new(
        sh.opts.max_connections.div_ceil(client.threads()).max(1),
    ));
    let mut tasks: JoinSet<Answer> = JoinSet::new();
    // The schedule position of each task still running (to record an aborted one).
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut ended = Ended::default();
    let stopped = sh.cancel.stop.cancelled();
    tokio::pin!(stopped);
    let mut spawned = 0;
    loop {
        let next = match feed.try_next() {
            Some(item) => Some(item),
            None => tokio::select! {
                biased;
                _ = &mut stopped => None,
                item = feed.next() => item,
            },
        };
        let Some((i, req)) = next else { break };
        let due = *t0 + Duration::from_micros(req.spec.offset_us);
        if Instant::now() < due {
            tokio::select! {
                biased;
                _ = &mut stopped => {}
                _ = pacer.sleep_until(due) => {}
            }
        }
        if sh.cancel.stop.is_cancelled() {
            break;
        }
        let client = client.clone();
        let slots = sh.slots.clone();
        let connections = Arc::clone(&connections);
        let progress = sh.progress.clone();
        let t0 = *t0;
        let stop = sh.cancel.stop.clone();
        let handle = tasks.spawn(async move {
            let rec = send_one(
                &client,
                shard,
                &req,
                t0,
                slots.as_deref(),
                &connections,
                &stop,
            )
            .await;
            progress.inc(1);
            rec
        });
        running.insert(handle.id(), i);
        spawned += 1;
        if spawned % REAP_EVERY == 0 {
            while let Some(joined) = tasks.try_join_next_with_id() {
                ended.take(&sh, &mut running, joined);
            }
        }
    }
    assert!(
        spawned == total || sh.cancel.stop.is_cancelled(),
        "the thread preparing requests stopped after {spawned} of {total}"
    );
    ended.unsent += total - spawned;
    drop(feed);
    // After a stop, requests in flight get `grace` to finish; then they are aborted and
    // recorded as cancelled.
    let abort_at = async {
        tokio::select! {
            _ = async {
                sh.cancel.stop.cancelled().await;
                tokio::time::sleep(sh.opts.grace).await;
            } => {}
            _ = sh.cancel.abort.cancelled() => {}
        }
    };
    tokio::pin!(abort_at);
    let mut aborting = false;
    loop {
        let joined = if aborting {
            tasks.join_next_with_id().await
        } else {
            tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                _ = &mut abort_at => {
                    aborting = true;
                    tasks.abort_all();
                    continue;
                }
            }
        };
        let Some(joined) = joined else { break };
        ended.take(&sh, &mut running, joined);
    }
    ended
}

/// What the ended request tasks of a sending thread gave: how many records went to the
/// sink, how many requests were never sent, and when the last one ended.
#[derive(Debug, Default)]
struct Ended {
    records: usize,
    unsent: usize,
    last_end_us: u64,
}

impl Ended {
    /// Hands a record to the sink.
    fn put(&mut self, sh: &Shared, record: RequestRecord) {
        self.records += 1;
        self.last_end_us = self.last_end_us.max(record.end_us);
        sh.sink.put(record);
    }

    /// Takes the answer of an ended task: its record; or, aborted, a cancelled record of
    /// its request.
    fn take(
        &mut self,
        sh: &Shared,
        running: &mut HashMap<tokio::task::Id, usize>,
        joined: Result<(tokio::task::Id, Answer), tokio::task::JoinError>,
    ) {
        match joined {
            Ok((id, sent)) => {
                running.remove(&id);
                match sent {
                    Some(r) => self.put(sh, r),
                    // Still waiting for a slot when sending stopped: never sent.
                    None => self.unsent += 1,
                }
            }
            Err(e) if e.is_cancelled() => {
                let i = running
                    .remove(&e.id())
                    .expect("every request task is known");
                sh.progress.inc(1);
                let w = &sh.schedule.workload;
                let spec = &sh.schedule.specs()[i];
                let record = RequestRecord {
                    end_us: now_us(sh.t0),
                    outcome: Outcome::Cancelled,
                    ..RequestRecord::for_spec(spec, w.model(spec))
                };
                self.put(sh, record);
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// Sends one request once it has a `--max-concurrency` slot and a connection; `None` when
/// sending stopped while it was still waiting for them (it was never sent).
async fn send_one(
    client: &Client,
    shard: usize,
    req: &PreparedRequest,
    t0: Instant,
    slots: Option<&Semaphore>,
    connections: &Semaphore,
    stop: &CancellationToken,
) -> Option<RequestRecord> {
    if stop.is_cancelled() {
        return None;
    }
    let (_permit, wait_us) = match slots {
        None => (None, 0),
        Some(s) => {
            let before = Instant::now();
            let permit = acquire_unless_stopped(s, stop).await?;
            (Some(permit), before.elapsed().as_micros() as u64)
        }
    };
    // A free connection is waited for no longer than the request may take: past that the
    // request times out unsent (a burst larger than the pool must not run on for ever).
    let timeout = client.options().timeout;
    let _connection =
        match tokio::time::timeout(timeout, acquire_unless_stopped(connections, stop)).await {
            Ok(permit) => permit?,
            Err(_) => {
                tracing::debug!(id = req.spec.id, "no free connection within the timeout");
                return Some(unsent_record(req, t0, Outcome::Timeout, wait_us));
            }
        };
    tracing::trace!(id = req.spec.id, shard, wait_us, "sending");
    let record = client.execute_on(shard, req, t0, wait_us).await;
    tracing::trace!(
        id = record.id,
        outcome = record.outcome.error_key().as_deref().unwrap_or("success"),
        ttft_ms = record.ttft_ms(),
        e2e_ms = record.e2e_ms(),
        chunks = record.chunks,
        "request ended"
    );
    Some(record)
}

/// A permit, at once when one is free; otherwise the first of a permit and `stop`.
async fn acquire_unless_stopped<'a>(
    s: &'a Semaphore,
    stop: &CancellationToken,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    if let Ok(p) = s.try_acquire() {
        return Some(p);
    }
    tokio::select! {
        biased;
        _ = stop.cancelled() => None,
        p = s.acquire() => Some(p.expect("the semaphore is never closed")),
    }
}

/// Microseconds from `t0` to now.
fn now_us(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The record of a request that was never sent: no connection within its timeout. Its send
/// time stays the intended one; it ends now, with `outcome`.
fn unsent_record(
    req: &PreparedRequest,
    t0: Instant,
    outcome: Outcome,
    concurrency_wait_us: u64,
) -> RequestRecord {
    RequestRecord {
        end_us: now_us(t0),
        outcome,
        concurrency_wait_us,
        ..RequestRecord::for_spec(&req.spec, &req.model)
    }
}
