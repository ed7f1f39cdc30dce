//! When a run's requests were due, sent and answered: the first and last instant of each, and
//! how many, which is all the offered and achieved rates of an experiment need.

use crate::record::RequestRecord;
use serde::{Deserialize, Serialize};

/// The first and last of a set of instants (µs from the run's start), and how many there were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EventSpan {
    /// How many instants; 0 for none (then `first_us` and `last_us` are 0).
    pub count: u64,
    /// The earliest, µs.
    pub first_us: u64,
    /// The latest, µs.
    pub last_us: u64,
}

impl EventSpan {
    /// Adds one instant.
    pub fn add(&mut self, t_us: u64) {
        if self.count == 0 {
            self.first_us = t_us;
            self.last_us = t_us;
        } else {
            self.first_us = self.first_us.min(t_us);
            self.last_us = self.last_us.max(t_us);
        }
        self.count += 1;
    }

    /// Adds the instants of `other`.
    pub fn merge(&mut self, other: &EventSpan) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        self.first_us = self.first_us.min(other.first_us);
        self.last_us = self.last_us.max(other.last_us);
        self.count += other.count;
    }

    /// The inter-event rate, per second: `(count − 1) / (last − first)`; `None` with fewer
    /// than two instants or when they all coincide.
    pub fn rate_rps(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        let span = self.last_us - self.first_us;
        (span > 0).then(|| (self.count - 1) as f64 / (span as f64 / 1e6))
    }
}

/// The spans of a run's requests: due (all of them), actually sent, and ended successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RunSpans {
    /// Intended send times of every request.
    pub intended: EventSpan,
    /// Actual send times of every request (a request cancelled before it was sent has its
    /// intended time).
    pub sent: EventSpan,
    /// End times of the successful requests.
    pub succeeded_end: EventSpan,
}

impl RunSpans {
    /// Adds one record.
    pub fn add(&mut self, r: &RequestRecord) {
        self.intended.add(r.intended_us);
        self.sent.add(r.sent_us);
        if r.outcome.is_success() {
            self.succeeded_end.add(r.end_us);
        }
    }

    /// Adds the records of `other`.
    pub fn merge(&mut self, other: &RunSpans) {
        self.intended.merge(&other.intended);
        self.sent.merge(&other.sent);
        self.succeeded_end.merge(&other.succeeded_end);
    }

    /// The spans of a set of records.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a RequestRecord>) -> Self {
        let mut s = Self::default();
        for r in records {
            s.add(r);
        }
        s
    }

    /// Whether no record was added (a run read from a file written before runs kept spans).
    pub fn is_empty(&self) -> bool {
        self.intended.count == 0
    }
}
