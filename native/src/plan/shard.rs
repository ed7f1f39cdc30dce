//! `--shard I/N`, `--start-at`, `--phase-gap`: resolved and checked into a [`ShardPlan`],
//! and the steps' workloads replaced by their shard.

use super::{defaults, usage};
use crate::cli::ShardArgs;
use crate::runner::Step;
use anyhow::Result;
use cpbench_core::timeline::{PhaseSlot, phase_slots, schedule_length_ms};
use std::sync::Arc;

/// How this process takes part in a sharded invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardPlan {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards.
    pub count: u32,
    /// The start of the shared timeline (`--start-at`), unix ms; `None`: start at once.
    pub start_at_ms: Option<u64>,
    /// The gap before each phase, ms.
    pub phase_gap_ms: u64,
    /// Hash of the full workload of the first step (what the report names).
    pub workload_hash: String,
    /// Measured requests of the full workload of one run.
    pub workload_requests: u64,
    /// Each step's schedule length, ms (of the full workload: the same in every shard).
    pub lengths_ms: Vec<u64>,
}

impl ShardPlan {
    /// The phases' slots from `start_ms`.
    pub fn slots(&self, start_ms: u64) -> Vec<PhaseSlot> {
        phase_slots(start_ms, &self.lengths_ms, self.phase_gap_ms)
    }
}

/// `--shard I/N`: `(I, N)` with `I < N` and `N >= 1`.
pub fn parse_shard(s: &str) -> Result<(u32, u32)> {
    let bad = || {
        usage(format!(
            "--shard: {s:?} is not accepted; give I/N with 0 <= I < N, e.g. 0/3 for the first of three shards"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: u32 = i.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `--start-at`: unix milliseconds, or RFC 3339 (`Z` or a `±HH:MM` offset), to unix ms.
pub fn parse_start_at(s: &str) -> Result<u64> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map_err(|_| {
            usage(format!(
                "--start-at: {s:?} is too large for unix milliseconds"
            ))
        });
    }
    let bad = |why: String| {
        usage(format!(
            "--start-at: {s:?} is not accepted ({why}); give RFC 3339 such as 2026-12-06T12:00:00Z or unix milliseconds such as 1796558400000"
        ))
    };
    // humantime reads UTC (`Z`); an offset is taken off by hand.
    let (base, offset_s): (String, i64) = match t.len().checked_sub(6).map(|k| t.split_at(k)) {
        Some((head, tail))
            if (tail.starts_with('+') || tail.starts_with('-'))
                && tail.as_bytes()[3] == b':'
                && head.contains('T') =>
        {
            let h: i64 = tail[1..3].parse().map_err(|_| bad("offset".into()))?;
            let m: i64 = tail[4..6].parse().map_err(|_| bad("offset".into()))?;
            let sign = if tail.starts_with('-') { -1 } else { 1 };
            (format!("{head}Z"), sign * (h * 3600 + m * 60))
        }
        _ => (t.to_string(), 0),
    };
    let at = humantime::parse_rfc3339(&base).map_err(|e| bad(e.to_string()))?;
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| bad("before 1970".into()))?
        .as_millis();
    let ms = i128::try_from(ms).unwrap_or(i128::MAX) - i128::from(offset_s) * 1000;
    u64::try_from(ms).map_err(|_| bad("out of range".into()))
}

/// The wall clock, unix ms.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The shard plan of the flags (`None` without `--shard`), its start checked against
/// `now_ms`, and `steps` given their shard's workloads.
pub fn resolve(a: &ShardArgs, steps: &mut [Step], now_ms: u64) -> Result<Option<ShardPlan>> {
    let Some(spec) = &a.shard else {
        return Ok(None);
    };
    let (index, count) = parse_shard(spec)?;
    let gap_s = a.phase_gap.unwrap_or(defaults::PHASE_GAP_S);
    if !(gap_s.is_finite() && (0.0..=defaults::MAX_DURATION_S).contains(&gap_s)) {
        return Err(usage(format!(
            "--phase-gap: {gap_s} is not accepted; give seconds from 0 to {}",
            defaults::MAX_DURATION_S
        )));
    }
    let phase_gap_ms = (gap_s * 1000.0).round() as u64;
    let start_at_ms = a.start_at.as_deref().map(parse_start_at).transpose()?;
    let mut plan = ShardPlan {
        index,
        count,
        start_at_ms,
        phase_gap_ms,
        workload_hash: String::new(),
        workload_requests: 0,
        lengths_ms: Vec::new(),
    };
    apply(&mut plan, steps)?;
    if let Some(start) = start_at_ms {
        let first_end = plan.slots(start)[0].end_ms;
        if now_ms > first_end {
            return Err(usage(format!(
                "--start-at: {} is {:.1} s in the past, more than the first phase (gap and schedule, {:.1} s): every shard would miss it; give a time ahead",
                a.start_at.as_deref().unwrap_or_default(),
                (now_ms - start) as f64 / 1000.0,
                (first_end - start) as f64 / 1000.0
            )));
        }
    }
    Ok(Some(plan))
}

/// Gives `steps` (of full workloads) their shard's workloads, and `plan` the full
/// workload's hash, size and the steps' schedule lengths.
pub fn apply(plan: &mut ShardPlan, steps: &mut [Step]) -> Result<()> {
    let first = steps
        .first()
        .ok_or_else(|| usage("nothing to run: no policies"))?;
    plan.workload_hash = first.workload.hash();
    plan.workload_requests = first.workload.requests.len() as u64;
    plan.lengths_ms = steps
        .iter()
        .map(|s| schedule_length_ms(s.workload.duration_us()))
        .collect();
    let (index, count) = (u64::from(plan.index), u64::from(plan.count));
    // Each full workload is sharded once, however many steps share it.
    let mut done: Vec<(*const cpbench_core::workload::Workload, Arc<_>)> = Vec::new();
    for s in steps.iter_mut() {
        let key = Arc::as_ptr(&s.workload);
        let sharded = match done.iter().find(|(k, _)| *k == key) {
            Some((_, w)) => Arc::clone(w),
            None => {
                let w = Arc::new(s.workload.shard(index, count));
                done.push((key, Arc::clone(&w)));
                w
            }
        };
        s.workload = sharded;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_flag() {
        assert_eq!(parse_shard("0/1").unwrap(), (0, 1));
        assert_eq!(parse_shard("2/3").unwrap(), (2, 3));
        for bad in ["3/3", "0/0", "1", "a/2", "-1/2", "1/2/3", ""] {
            let e = parse_shard(bad).unwrap_err();
            assert!(e.is::<super::super::UsageError>(), "{bad}");
            assert!(e.to_string().contains("--shard"), "{e}");
        }
    }

    #[test]
    fn start_at_flag() {
        assert_eq!(parse_start_at("1796558400000").unwrap(), 1_796_558_400_000);
        let z = parse_start_at("2026-12-06T12:00:00Z").unwrap();
        assert_eq!(parse_start_at("2026-12-06T13:00:00+01:00").unwrap(), z);
        assert_eq!(parse_start_at("2026-12-06T11:30:00-00:30").unwrap(), z);
        assert_eq!(parse_start_at("2026-12-06T12:00:00.250Z").unwrap(), z + 250);
        for bad in ["tomorrow", "2026-13-06T12:00:00Z", "12:00", ""] {
            let e = parse_start_at(bad).unwrap_err();
            assert!(e.to_string().contains("--start-at"), "{e}");
        }
    }
}
