//! A bounded, deterministic sample of a run's records for the per-request views: the `limit`
//! records whose ids have the smallest [`sample_key`] (a bottom-k sample), so the same records
//! are chosen whatever order they arrive in, and a run of at most `limit` requests keeps them
//! all.

use crate::record::RequestRecord;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// How many records a run keeps by default.
pub const DEFAULT_SAMPLE_LIMIT: usize = 10_000;

/// The sampling key of a request id: SplitMix64's finalizer, a bijection of `u64` that spreads
/// consecutive ids evenly, so the `limit` smallest keys are a uniform sample of the ids and no
/// two ids tie.
pub fn sample_key(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The records a run kept: at most `limit`, chosen by the smallest [`sample_key`] of their id
/// (all of them when the run had at most `limit`), sorted by id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordSample {
    /// The most records the sample keeps.
    pub limit: u64,
    /// Records of the run, sampled or not.
    pub total: u64,
    /// The records chosen: those with the `limit` smallest keys `splitmix64(id)` (SplitMix64's
    /// finalizer of the request id), sorted by id.
    pub records: Vec<RequestRecord>,
}

impl RecordSample {
    /// Whether the sample holds every record of the run.
    pub fn is_complete(&self) -> bool {
        self.records.len() as u64 == self.total
    }

    /// The sample of `records` (see [`RecordSampler`]).
    pub fn of(records: impl IntoIterator<Item = RequestRecord>, limit: usize) -> Self {
        let mut s = RecordSampler::new(limit);
        for r in records {
            s.offer(r);
        }
        s.finish()
    }
}

/// A record and its place in the sampling order (key, then id and times for equal ids).
#[derive(Debug)]
struct Entry {
    order: (u64, u64, u64, u64),
    record: RequestRecord,
}

fn order(r: &RequestRecord) -> (u64, u64, u64, u64) {
    (sample_key(r.id), r.id, r.intended_us, r.end_us)
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order.cmp(&other.order)
    }
}

/// Builds a [`RecordSample`] from records offered one at a time, in any order: it keeps the
/// `limit` records with the smallest keys seen so far (a max-heap on the key), so memory holds
/// at most `limit` records.
#[derive(Debug)]
pub struct RecordSampler {
    limit: usize,
    total: u64,
    heap: BinaryHeap<Entry>,
}

impl RecordSampler {
    /// A sampler keeping at most `limit` records.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            total: 0,
            heap: BinaryHeap::new(),
        }
    }

    /// Whether a record ordered `o` would be kept now.
    fn takes(&self, o: &(u64, u64, u64, u64)) -> bool {
        self.heap.len() < self.limit || self.heap.peek().is_some_and(|top| *o < top.order)
    }

    fn keep(&mut self, order: (u64, u64, u64, u64), record: RequestRecord) {
        if self.heap.len() >= self.limit {
            self.heap.pop();
        }
        self.heap.push(Entry { order, record });
    }

    /// Offers one record.
    pub fn offer(&mut self, record: RequestRecord) {
        self.total += 1;
        let o = order(&record);
        if self.takes(&o) {
            self.keep(o, record);
        }
    }

    /// Offers one record by reference: it is cloned only when kept.
    pub fn offer_ref(&mut self, record: &RequestRecord) {
        self.total += 1;
        let o = order(record);
        if self.takes(&o) {
            self.keep(o, record.clone());
        }
    }

    /// Adds the records offered to `other`: the result is the sample of both sets of records,
    /// with the smaller of the two limits (the `limit` smallest keys of the union are among the
    /// `limit` smallest of each part).
    pub fn merge(&mut self, other: RecordSampler) {
        self.total += other.total;
        self.limit = self.limit.min(other.limit);
        while self.heap.len() > self.limit {
            self.heap.pop();
        }
        for e in other.heap {
            if self.takes(&e.order) {
                self.keep(e.order, e.record);
            }
        }
    }

    /// Takes back a finished sample: this sampler then holds `sample`'s records and total,
    /// as if it had been offered the records the sample was made from.
    pub fn restore(&mut self, sample: &RecordSample) {
        self.total += sample.total;
        for r in &sample.records {
            let o = order(r);
            if self.takes(&o) {
                self.keep(o, r.clone());
            }
        }
    }

    /// The sample, sorted by id (then intended and end time).
    pub fn finish(self) -> RecordSample {
        let mut entries = self.heap.into_vec();
        entries.sort_by_key(|e| (e.order.1, e.order.2, e.order.3));
        RecordSample {
            limit: self.limit as u64,
            total: self.total,
            records: entries.into_iter().map(|e| e.record).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Priority, RequestKind};

    fn rec(id: u64) -> RequestRecord {
        RequestRecord::new(id, RequestKind::LlmChat, Priority::Normal, "m", 1000, 1, id)
    }

    #[test]
    fn keeps_the_smallest_keys_whatever_the_order() {
        let forward = RecordSample::of((0..1000).map(rec), 100);
        let backward = RecordSample::of((0..1000).rev().map(rec), 100);
        assert_eq!(forward, backward);
        assert_eq!((forward.limit, forward.total), (100, 1000));
        assert_eq!(forward.records.len(), 100);
        assert!(forward.records.windows(2).all(|w| w[0].id < w[1].id));
        let mut keys: Vec<u64> = (0..1000).map(sample_key).collect();
        keys.sort_unstable();
        let largest_kept = forward.records.iter().map(|r| sample_key(r.id)).max();
        assert_eq!(largest_kept, Some(keys[99]));
        assert!(!forward.is_complete());
        // Spread over the ids, not the first hundred.
        assert!(forward.records.last().unwrap().id > 500);
    }

    #[test]
    fn a_small_run_keeps_everything_and_zero_keeps_nothing() {
        let all = RecordSample::of((0..50).rev().map(rec), 100);
        assert!(all.is_complete());
        assert_eq!(all.records, (0..50).map(rec).collect::<Vec<_>>());
        let none = RecordSample::of((0..50).map(rec), 0);
        assert_eq!((none.total, none.records.len()), (50, 0));
        let mut s = RecordSampler::new(3);
        for id in [9, 1, 5, 7] {
            s.offer_ref(&rec(id));
        }
        assert_eq!(s.finish(), RecordSample::of([9, 1, 5, 7].map(rec), 3));
    }

    #[test]
    fn merged_samplers_sample_the_union_with_the_smaller_limit() {
        let part = |ids: std::ops::Range<u64>, limit| {
            let mut s = RecordSampler::new(limit);
            ids.map(rec).for_each(|r| s.offer(r));
            s
        };
        let mut a = part(0..400, 50);
        a.merge(part(400..1000, 80));
        assert_eq!(a.finish(), RecordSample::of((0..1000).map(rec), 50));
        let mut b = part(400..1000, 50);
        b.merge(part(0..400, 50));
        assert_eq!(b.finish(), RecordSample::of((0..1000).map(rec), 50));
        let mut empty = RecordSampler::new(10);
        empty.merge(part(0..5, 10));
        assert_eq!(empty.finish(), RecordSample::of((0..5).map(rec), 10));
    }
}
