//! The open-loop sender: sends every request of a schedule at its intended time, however
//! many are in flight, and collects one record per request sent.
//!
//! The schedule is fixed before sending starts. Each request is spawned as its own task when
//! it is due; an optional `--max-concurrency` cap makes the excess wait for a slot (the wait is
//! recorded, and latency is still measured from the intended time). Cancellation is two-step:
//! `stop` ends sending (nothing more is spawned), `abort` ends the requests still in flight,
//! which are recorded as cancelled.

use crate::client::{Client, PreparedRequest};
use cpbench_core::record::{Outcome, RequestRecord, TokenSource};
use indicatif::ProgressBar;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How to send a schedule.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// At most this many requests in flight; the excess waits for a slot (a deliberate cap:
    /// the wait is recorded apart from lateness).
    pub max_concurrency: Option<usize>,
    /// At most this many connections (one per request in flight, HTTP/1.1): a bounded,
    /// reused keep-alive pool instead of a storm of new connections under load. A request
    /// that finds them all busy waits in FIFO order, and the wait counts as send lateness.
    pub max_connections: usize,
    /// After `stop`, how long in-flight requests may still finish before they are aborted.
    pub grace: Duration,
    /// Delay between the call and the run's t=0, so the first request is not late because of
    /// set-up work.
    pub lead: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            max_concurrency: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            grace: Duration::from_secs(5),
            lead: Duration::from_millis(20),
        }
    }
}

/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Signals that end a run early.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    /// Stop sending new requests (Ctrl-C, or a failure elsewhere).
    pub stop: CancellationToken,
}

/// What sending a schedule gave.
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

/// Sends `requests` (sorted by `spec.offset_us`) open-loop and waits for all of them.
pub async fn send_open_loop(
    client: &Client,
    requests: Arc<Vec<PreparedRequest>>,
    opts: &SendOptions,
    cancel: &Cancel,
    progress: &ProgressBar,
) -> SendResult {
    let t0 = Instant::now() + opts.lead;
    let slots = opts
        .max_concurrency
        .map(|n| Arc::new(Semaphore::new(n.max(1))));
    let connections = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let abort = CancellationToken::new();
    let mut handles = Vec::with_capacity(requests.len());
    let mut unsent = 0;
    for i in 0..requests.len() {
        let due = t0 + Duration::from_micros(requests[i].spec.offset_us);
        if Instant::now() < due {
            tokio::select! {
                _ = tokio::time::sleep_until(due.into()) => {}
                _ = cancel.stop.cancelled() => {}
            }
        }
        if cancel.stop.is_cancelled() {
            unsent = requests.len() - i;
            break;
        }
        let client = client.clone();
        let requests = Arc::clone(&requests);
        let slots = slots.clone();
        let connections = Arc::clone(&connections);
        let abort = abort.clone();
        let progress = progress.clone();
        handles.push(tokio::spawn(async move {
            let req = &requests[i];
            let rec = tokio::select! {
                rec = send_one(&client, req, t0, slots.as_deref(), &connections) => rec,
                _ = abort.cancelled() => cancelled_record(req, t0),
            };
            progress.inc(1);
            rec
        }));
    }
    let stopper = {
        let stop = cancel.stop.clone();
        let abort = abort.clone();
        let grace = opts.grace;
        tokio::spawn(async move {
            stop.cancelled().await;
            tokio::time::sleep(grace).await;
            abort.cancel();
        })
    };
    let mut records = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(r) => records.push(r),
            Err(e) => panic!("a request task panicked: {e}"),
        }
    }
    stopper.abort();
    records.sort_by_key(|r| r.id);
    let last_end = records.iter().map(|r| r.end_us).max().unwrap_or(0);
    let interrupted = cancel.stop.is_cancelled();
    SendResult {
        records,
        unsent,
        interrupted,
        wall_s: last_end as f64 / 1e6,
    }
}

async fn send_one(
    client: &Client,
    req: &PreparedRequest,
    t0: Instant,
    slots: Option<&Semaphore>,
    connections: &Semaphore,
) -> RequestRecord {
    let (_permit, wait_us) = match slots {
        None => (None, 0),
        Some(s) => {
            let before = Instant::now();
            let permit = s.acquire().await.expect("the semaphore is never closed");
            (Some(permit), before.elapsed().as_micros() as u64)
        }
    };
    let _connection = connections
        .acquire()
        .await
        .expect("the semaphore is never closed");
    client.execute(req, t0, wait_us).await
}

fn cancelled_record(req: &PreparedRequest, t0: Instant) -> RequestRecord {
    let spec = &req.spec;
    let now_us = t0.elapsed().as_micros() as u64;
    RequestRecord {
        id: spec.id,
        kind: spec.kind,
        priority: spec.priority,
        model: spec.model.clone(),
        slo_deadline_ms: spec.slo_deadline_ms,
        intended_us: spec.offset_us,
        sent_us: spec.offset_us,
        first_token_us: None,
        end_us: now_us,
        itl_us: Vec::new(),
        outcome: Outcome::Cancelled,
        output_tokens: 0,
        output_tokens_source: TokenSource::None,
        chunks: 0,
        input_tokens: None,
        prompt_tokens_est: spec.prompt_tokens_est,
        queue_time_ms: None,
        backend_instance: None,
        concurrency_wait_us: 0,
    }
}
