//! Where the records of a run go as its requests end: the sending threads hand each record
//! to a [`RecordSink`], and a collector thread takes them through a bounded channel into the
//! run's [`RunAccumulator`], its running checks ([`RunChecks`]) and the records file
//! ([`RecordsWriter`]), then drops them. Nothing per request outlives its record's trip,
//! so a run's memory does not grow with its length, and the sending threads do no more than
//! a channel send per request.

use crate::checks::{RunChecks, WarmupCheck};
use crate::export::csv::RunTag;
use crate::export::records::RecordsWriter;
use anyhow::{Context, Result};
use cpbench_core::metrics::RunAccumulator;
use cpbench_core::record::RequestRecord;
use cpbench_core::slo::{SloTargets, meets_slo};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Records in the channel between the sending threads and the collector: a sending thread
/// waits only when the collector is this far behind.
pub const CHANNEL_RECORDS: usize = 16_384;

/// Where a sending thread puts the records of the requests that ended.
#[derive(Debug, Clone)]
pub struct RecordSink(Tx);

#[derive(Debug, Clone)]
enum Tx {
    Bounded(SyncSender<RequestRecord>),
    Unbounded(Sender<RequestRecord>),
}

impl RecordSink {
    /// A sink whose records are all kept until read from the receiver (for small schedules
    /// and tests).
    pub fn unbounded() -> (Self, Receiver<RequestRecord>) {
        let (tx, rx) = mpsc::channel();
        (Self(Tx::Unbounded(tx)), rx)
    }

    /// Hands over one record; waits while the channel is full. A record whose collector is
    /// gone is dropped.
    pub fn put(&self, record: RequestRecord) {
        let sent = match &self.0 {
            Tx::Bounded(tx) => tx.send(record),
            Tx::Unbounded(tx) => tx.send(record),
        };
        if sent.is_err() {
            tracing::debug!("a record arrived after its collector ended");
        }
    }
}

/// The records file shared by the runs of a report (one run writes at a time).
pub type SharedRecords = Arc<Mutex<RecordsWriter>>;

/// What a measured run's collector gathered.
#[derive(Debug)]
pub struct Collected {
    /// The run's aggregates.
    pub accumulator: RunAccumulator,
    /// Its running checks.
    pub checks: RunChecks,
    targets: SloTargets,
    file: Option<(SharedRecords, RunTag)>,
}

impl Collected {
    fn take(&mut self, r: RequestRecord) {
        if let Some((file, tag)) = &self.file {
            let met = meets_slo(&r, &self.targets);
            file.lock()
                .expect("a records writer never panics holding it")
                .write(tag, &r, met);
        }
        self.checks.add(&r);
        self.accumulator.push(r);
    }
}

/// A collector thread, holding its state `S`, and the sink that feeds it.
#[derive(Debug)]
pub struct Collector<S> {
    sink: RecordSink,
    thread: JoinHandle<S>,
}

impl<S: Send + 'static> Collector<S> {
    /// Starts a thread that gives each record to `take` with `state`.
    fn spawn(
        name: &str,
        mut state: S,
        take: impl Fn(&mut S, RequestRecord) + Send + 'static,
    ) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<RequestRecord>(CHANNEL_RECORDS);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for r in rx {
                    take(&mut state, r);
                }
                state
            })
            .context("starting the thread that collects records")?;
        Ok(Self {
            sink: RecordSink(Tx::Bounded(tx)),
            thread,
        })
    }

    /// The sink to hand to the sending threads.
    pub fn sink(&self) -> &RecordSink {
        &self.sink
    }

    /// Waits for every record (every clone of the sink must have been dropped) and gives
    /// what was gathered.
    pub fn finish(self) -> S {
        drop(self.sink);
        match self.thread.join() {
            Ok(s) => s,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Starts the collector of a measured run: its records are judged against `targets`, added
/// to an accumulator keeping a sample of at most `sample_limit` (`None`: no sample), counted
/// for the run's checks, and written to `file` (under the run's `tag`) when one is given.
pub fn measured(
    targets: &SloTargets,
    sample_limit: Option<usize>,
    file: Option<(SharedRecords, RunTag)>,
) -> Result<Collector<Collected>> {
    let state = Collected {
        accumulator: RunAccumulator::new(targets, sample_limit),
        checks: RunChecks::default(),
        targets: targets.clone(),
        file,
    };
    Collector::spawn("cpbench-collect", state, Collected::take)
}

/// Starts the collector of a warmup: only its failures are counted.
pub fn warmup() -> Result<Collector<WarmupCheck>> {
    Collector::spawn("cpbench-warmup", WarmupCheck::default(), |c, r| c.add(&r))
}
