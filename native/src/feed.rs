//! Requests prepared a bounded window ahead of sending.
//!
//! A workload holds no text (see [`cpbench_core::workload`]): each sending thread has a
//! producer thread beside it that makes the text of its next requests and serializes them
//! ([`Client::prepare`]) in batches, through a bounded channel, so the sending thread does no
//! JSON work and memory does not grow with the length of the run. A request's bytes are
//! dropped when it has been sent and measured.
//!
//! The window, per sending thread: at most [`Window::queued`] batches waiting, one being sent
//! and one being made, each of at most [`Window::batch`] requests and about
//! [`Window::batch_bytes`] bytes; with the defaults about a thousand requests or 16 MiB. The
//! first batch is small, so the first requests are ready well within the sender's lead.

use crate::client::{Client, PreparedRequest};
use cpbench_core::workload::{RequestSpec, Workload};
use std::io;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Which list of a workload is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The warmup requests.
    Warmup,
    /// The measured requests.
    Measured,
}

/// What a sender sends: one list of a workload, with the tag that makes its request ids
/// unique across the runs of one invocation.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The workload.
    pub workload: Arc<Workload>,
    /// Which of its lists.
    pub part: Part,
    /// The run tag of the request ids (`X-Request-Id: {tag}-{id}`).
    pub tag: String,
}

impl Schedule {
    /// List `part` of `workload`, with request ids tagged `tag`.
    pub fn new(workload: Arc<Workload>, part: Part, tag: impl Into<String>) -> Self {
        Self {
            workload,
            part,
            tag: tag.into(),
        }
    }

    /// The requests, sorted by `offset_us`.
    pub fn specs(&self) -> &[RequestSpec] {
        match self.part {
            Part::Warmup => &self.workload.warmup,
            Part::Measured => &self.workload.requests,
        }
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.specs().len()
    }

    /// Whether there is no request.
    pub fn is_empty(&self) -> bool {
        self.specs().is_empty()
    }
}

/// How far ahead of sending requests are prepared, per sending thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Most requests in a batch.
    pub batch: usize,
    /// A batch ends once its requests' bytes reach this.
    pub batch_bytes: usize,
    /// Most batches prepared and waiting to be sent.
    pub queued: usize,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            batch: 256,
            batch_bytes: 4 << 20,
            queued: 2,
        }
    }
}

/// The first batch: small, so that sending can start at once.
const FIRST_BATCH: usize = 16;

/// A request ready to send and its position in the schedule.
pub(crate) type Item = (usize, PreparedRequest);

/// The prepared requests of one sending thread, in send order.
pub(crate) struct ShardFeed {
    rx: mpsc::Receiver<Vec<Item>>,
    batch: std::vec::IntoIter<Item>,
    /// Requests of this thread in all.
    len: usize,
}

impl ShardFeed {
    /// Starts preparing requests `shard`, `shard + shards`, … of `schedule` on a thread of
    /// their own.
    pub(crate) fn start(
        client: &Client,
        schedule: &Arc<Schedule>,
        shard: usize,
        shards: usize,
        window: Window,
    ) -> io::Result<Self> {
        let len = schedule.len().saturating_sub(shard).div_ceil(shards);
        let (tx, rx) = mpsc::channel(window.queued.max(1));
        let client = client.clone();
        let schedule = Arc::clone(schedule);
        std::thread::Builder::new()
            .name(format!("sage-cp-bench-prep-{shard}"))
            .spawn(move || produce(&client, &schedule, shard, shards, window, &tx))?;
        Ok(Self {
            rx,
            batch: Vec::new().into_iter(),
            len,
        })
    }

    /// Requests of this thread in all.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The next request when one is ready now (`None`: wait with [`ShardFeed::next`]).
    pub(crate) fn try_next(&mut self) -> Option<Item> {
        self.batch.next()
    }

    /// The next request, waiting for its batch if it is not ready yet; `None` at the end.
    pub(crate) async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            self.batch = self.rx.recv().await?.into_iter();
        }
    }
}

/// The producer: prepares the thread's requests in order and hands them over in batches;
/// stops early when the sender has gone (sending stopped).
fn produce(
    client: &Client,
    schedule: &Schedule,
    shard: usize,
    shards: usize,
    window: Window,
    tx: &mpsc::Sender<Vec<Item>>,
) {
    let w = &schedule.workload;
    let specs = schedule.specs();
    let mut limit = FIRST_BATCH.min(window.batch.max(1));
    let mut batch = Vec::with_capacity(limit);
    let mut bytes = 0;
    for i in (shard..specs.len()).step_by(shards) {
        if tx.is_closed() {
            return;
        }
        let req = client.prepare(w, &specs[i], &schedule.tag);
        bytes += req.size();
        batch.push((i, req));
        if batch.len() >= limit || bytes >= window.batch_bytes {
            limit = window.batch.max(1);
            let full = std::mem::replace(&mut batch, Vec::with_capacity(limit));
            if tx.blocking_send(full).is_err() {
                return;
            }
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientOptions, Transport};
    use cpbench_core::config::{BenchmarkConfig, Mode};
    use cpbench_core::workload::{WorkloadData, generate};
    use std::time::Duration;

    fn client(threads: usize) -> Client {
        Client::new(ClientOptions {
            base_url: "http://127.0.0.1:9".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
            stream: true,
            max_idle_connections: 4,
            max_response_bytes: 1 << 20,
            transport: Transport::Builtin,
            threads,
            tokenizer: None,
        })
        .unwrap()
    }

    /// Every request of a thread comes once, in send order, with the bytes that preparing it
    /// up front gave; batches end at their request or byte limit.
    #[tokio::test]
    async fn each_thread_gets_its_requests_in_order_with_their_bytes() {
        let mut c = BenchmarkConfig::for_mode(Mode::Hybrid);
        c.num_requests = 300;
        let w = Arc::new(generate(&c, &WorkloadData::none()).unwrap());
        let schedule = Arc::new(Schedule::new(Arc::clone(&w), Part::Measured, "t"));
        let client = client(2);
        for window in [
            Window::default(),
            Window {
                batch: 7,
                batch_bytes: 2_000,
                queued: 1,
            },
        ] {
            for shard in 0..3 {
                let mut feed = ShardFeed::start(&client, &schedule, shard, 3, window).unwrap();
                let expected: Vec<usize> = (shard..300).step_by(3).collect();
                assert_eq!(feed.len(), expected.len());
                let mut got = Vec::new();
                while let Some((i, req)) = feed.next().await {
                    let direct = client.prepare(&w, &w.requests[i], "t");
                    assert_eq!(req.body(), direct.body(), "request {i}");
                    assert_eq!(req.spec, w.requests[i]);
                    got.push(i);
                }
                assert_eq!(got, expected);
            }
        }
    }

    /// A feed dropped early stops its producer (the thread does not block for ever).
    #[tokio::test]
    async fn dropping_a_feed_stops_its_producer() {
        let mut c = BenchmarkConfig::for_mode(Mode::Llm);
        c.num_requests = 5_000;
        let w = Arc::new(generate(&c, &WorkloadData::none()).unwrap());
        let schedule = Arc::new(Schedule::new(w, Part::Measured, "t"));
        let window = Window {
            batch: 4,
            batch_bytes: usize::MAX,
            queued: 1,
        };
        let mut feed = ShardFeed::start(&client(1), &schedule, 0, 1, window).unwrap();
        assert!(feed.next().await.is_some());
        drop(feed);
        // The producer holds the schedule until it ends.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&schedule) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the producer still runs"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
