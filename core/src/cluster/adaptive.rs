//! `adaptive`: the mode switch between `fifo`, `slo_aware` and `priority`, decided from the
//! LLM queue's length and the share of it that can no longer meet its deadline.

use super::Cluster;
use super::policy::{Behaviour, Mode};
use super::spec::SchedulerSpec;
use super::timing::ms_to_us;

/// The mode after `mode`, given `queued` LLM requests of which `hopeless` cannot meet their
/// deadline: out of `fifo` above the high-water mark, back to it below the low-water mark,
/// and between `slo_aware` and `priority` by the hopeless share (with hysteresis).
fn next_mode(mode: Mode, queued: usize, hopeless: usize, s: &SchedulerSpec) -> Mode {
    let late_share = if queued == 0 {
        0.0
    } else {
        hopeless as f64 / queued as f64
    };
    match mode {
        Mode::Fifo if queued >= s.adaptive_high_queue as usize => {
            if late_share > 0.5 {
                Mode::Priority
            } else {
                Mode::SloAware
            }
        }
        Mode::Fifo => Mode::Fifo,
        _ if queued <= s.adaptive_low_queue as usize => Mode::Fifo,
        Mode::SloAware if late_share > 0.6 => Mode::Priority,
        Mode::Priority if late_share < 0.3 => Mode::SloAware,
        other => other,
    }
}

impl Cluster {
    /// Re-evaluates the mode at most once per `scheduler.adaptive_interval_ms`; a switch
    /// is counted and re-sorts the queues.
    pub(crate) fn adapt(&mut self, t: u64) {
        let interval = ms_to_us(self.spec.scheduler.adaptive_interval_ms);
        if let Some(last) = self.adaptive_last_eval_us
            && t < last + interval
        {
            return;
        }
        self.adaptive_last_eval_us = Some(t);
        let new = next_mode(
            self.mode,
            self.queued_llm,
            self.hopeless_llm,
            &self.spec.scheduler,
        );
        if new != self.mode {
            self.mode = new;
            self.counters.policy_switches += 1;
            self.behaviour = Behaviour::of(self.policy, new);
            self.rebuild_queues();
        }
    }
}
