//! The shared timeline of a sharded invocation: every phase (each policy of a compare, each
//! rate of a sweep, each trial) gets a fixed slot on the wall clock, computed from the start
//! time, each phase's schedule length and a gap for draining and switching, so that every
//! shard process, on every machine, computes the identical slots without talking to the
//! others.
//!
//! Phase `k` begins with its gap (`switch_at_ms`): the previous phase's requests drain and
//! shard 0 switches the policy; its slot starts `gap_ms` later (`start_ms`), when the first
//! request of the phase is due, and ends after the schedule's length (`end_ms`). The next
//! phase's gap begins there. Times are unix milliseconds; pure functions, no clock.

use serde::{Deserialize, Serialize};

/// One phase's place on the shared timeline, unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PhaseSlot {
    /// The phase's position, from 0.
    pub index: usize,
    /// When its gap begins: the previous phase drains, shard 0 switches the policy.
    pub switch_at_ms: u64,
    /// When its slot starts: its schedule's t = 0 (the first request's offset is from here).
    pub start_ms: u64,
    /// When its schedule ends (`start_ms` plus the schedule's length).
    pub end_ms: u64,
}

/// The slots of phases whose schedules last `lengths_ms` (in order), from `start_ms` with a
/// gap of `gap_ms` before each phase (see the [module docs](self)). Saturates at `u64::MAX`
/// instead of overflowing.
pub fn phase_slots(start_ms: u64, lengths_ms: &[u64], gap_ms: u64) -> Vec<PhaseSlot> {
    let mut at = start_ms;
    lengths_ms
        .iter()
        .enumerate()
        .map(|(index, &len)| {
            let switch_at_ms = at;
            let start = switch_at_ms.saturating_add(gap_ms);
            let end_ms = start.saturating_add(len);
            at = end_ms;
            PhaseSlot {
                index,
                switch_at_ms,
                start_ms: start,
                end_ms,
            }
        })
        .collect()
}

/// A schedule's length in whole milliseconds for [`phase_slots`]: the last request's offset
/// in µs, rounded up, plus 1 ms (so a schedule of one request still has a slot).
pub fn schedule_length_ms(last_offset_us: u64) -> u64 {
    last_offset_us.div_ceil(1000).saturating_add(1)
}

/// How late `now_ms` is for an instant due at `due_ms`, in ms (negative: early).
pub fn lateness_ms(now_ms: u64, due_ms: u64) -> i64 {
    let d = i128::from(now_ms) - i128::from(due_ms);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_each_other_with_the_gap() {
        let s = phase_slots(1_000, &[500, 200], 100);
        assert_eq!(
            s,
            vec![
                PhaseSlot {
                    index: 0,
                    switch_at_ms: 1_000,
                    start_ms: 1_100,
                    end_ms: 1_600
                },
                PhaseSlot {
                    index: 1,
                    switch_at_ms: 1_600,
                    start_ms: 1_700,
                    end_ms: 1_900
                },
            ]
        );
        assert!(phase_slots(5, &[], 10).is_empty());
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let s = phase_slots(u64::MAX - 5, &[10, 10], 3);
        assert_eq!(s[1].end_ms, u64::MAX);
    }

    #[test]
    fn lengths_and_lateness() {
        assert_eq!(schedule_length_ms(0), 1);
        assert_eq!(schedule_length_ms(1), 2);
        assert_eq!(schedule_length_ms(2_000), 3);
        assert_eq!(lateness_ms(10, 4), 6);
        assert_eq!(lateness_ms(4, 10), -6);
    }

    /// Property: for any start, lengths and gap, the slots are identical when computed
    /// again (every shard agrees), in order, never overlapping, each `gap` after the
    /// previous end and exactly as long as its schedule.
    #[test]
    fn property_slots_are_ordered_disjoint_and_reproducible() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2_000 {
            let start = next() % 4_000_000_000_000;
            let gap = next() % 60_000;
            let n = (next() % 12) as usize;
            let lengths: Vec<u64> = (0..n).map(|_| next() % 3_600_000).collect();
            let a = phase_slots(start, &lengths, gap);
            assert_eq!(a, phase_slots(start, &lengths, gap));
            assert_eq!(a.len(), n);
            let mut prev_end = start;
            for (k, s) in a.iter().enumerate() {
                assert_eq!(s.index, k);
                assert_eq!(s.switch_at_ms, prev_end);
                assert_eq!(s.start_ms, s.switch_at_ms + gap);
                assert_eq!(s.end_ms - s.start_ms, lengths[k]);
                prev_end = s.end_ms;
            }
        }
    }
}
