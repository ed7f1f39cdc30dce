//! What a report says of sharding: a shard's result names the full workload, the
//! configuration and which shard it is ([`ShardInfo`], with the mergeable state of each of
//! its runs), and a merged report names the shards it was made from ([`MergedShard`]).

use crate::metrics::AccumulatorState;
use crate::timeline::PhaseSlot;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A shard's result: which part of which workload and configuration it sent, when, and how
/// its clock stood. Absent from unsharded results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    /// This shard's index, from 0.
    pub index: u32,
    /// How many shards the workload was split into.
    pub count: u32,
    /// Hash of the full workload (every shard names the same one; the report's
    /// `workload_hash` is it too).
    pub workload_hash: String,
    /// Hash of the resolved configuration ([`config_hash`]): shards of one invocation agree.
    pub config_hash: String,
    /// Measured requests of one run that this shard sent (about `1 / count` of the
    /// workload's: the requests whose id modulo `count` is `index`).
    pub shard_requests: u64,
    /// The shared timeline: the start, the gap before each phase, each phase's slot.
    pub timeline: TimelineInfo,
    /// Each phase as this shard ran it, in order (one per entry of the report's `runs`).
    pub phases: Vec<PhaseRecord>,
    /// This machine's clock as the kernel tells it.
    pub clock: ClockState,
    /// This machine's clock against the control plane's (`GET /admin/time`).
    pub clock_check: ClockCheck,
    /// The mergeable state of each run (same order as `runs`; `None` for a failed phase),
    /// read by `merge`.
    pub accumulators: Vec<Option<AccumulatorState>>,
}

/// The shared timeline of a sharded invocation (see [`crate::timeline`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimelineInfo {
    /// The start of the first phase's gap, unix ms.
    pub start_unix_ms: u64,
    /// Whether the start was given (`--start-at`), shared by every shard; `false`: this
    /// shard started at once on its own.
    pub shared: bool,
    /// The gap before each phase for draining and switching the policy, ms (`--phase-gap`).
    pub phase_gap_ms: u64,
    /// Every phase's slot.
    pub slots: Vec<PhaseSlot>,
}

/// One phase as a shard ran it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PhaseRecord {
    /// The phase's slot.
    pub slot: PhaseSlot,
    /// The policy it measured.
    pub policy: String,
    /// Whether `GET /admin/policy` named the phase's policy before its slot started.
    pub policy_confirmed: bool,
    /// How late this shard was ready to send at the slot's start, ms (0 when on time): its
    /// schedule was never shifted, so its first requests were late by about this much.
    pub start_lateness_ms: f64,
    /// Why the phase failed (it was not measured), `None` when it ran.
    pub failed: Option<String>,
}

/// The kernel's view of the clock (`adjtimex`/`ntp_adjtime`), or why it could not be read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClockState {
    /// `synchronized`, `unsynchronized` (the kernel says the clock is not synchronized), or
    /// `unavailable` (it could not be read; see `reason`).
    pub status: String,
    /// The kernel's estimate of the clock's offset, ms.
    pub offset_ms: Option<f64>,
    /// The kernel's maximum error, ms.
    pub max_error_ms: Option<f64>,
    /// The kernel's estimated error, ms.
    pub est_error_ms: Option<f64>,
    /// Why the state is unavailable.
    pub reason: Option<String>,
}

/// A round-trip check of this machine's clock against the control plane's
/// (`GET /admin/time`, best of a few tries).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClockCheck {
    /// `measured`, `not_offered` (the control plane has no `/admin/time`: nothing wrong),
    /// or `failed` (see `detail`).
    pub status: String,
    /// How far this machine's clock is ahead of the control plane's, ms:
    /// `(t_send + t_recv) / 2 - server_time` of the try with the shortest round trip
    /// (negative: behind).
    pub offset_ms: Option<f64>,
    /// That try's round trip, ms: the offset is right within this much.
    pub rtt_ms: Option<f64>,
    /// Tries made.
    pub tries: u32,
    /// What went wrong, or what answered.
    pub detail: Option<String>,
}

/// One shard of a merged report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MergedShard {
    /// The shard's result file (its name).
    pub file: String,
    /// Its index.
    pub index: u32,
    /// Its records file (its name), when it had one.
    pub records_file: Option<String>,
    /// Median send lateness over its runs' requests, ms.
    pub send_lateness_p50_ms: Option<f64>,
    /// Largest send lateness over its runs' requests, ms.
    pub send_lateness_max_ms: Option<f64>,
    /// Largest lateness of its start of a phase, ms.
    pub start_lateness_max_ms: f64,
    /// Its clock as its kernel told it.
    pub clock: ClockState,
    /// Its clock against the control plane's.
    pub clock_check: ClockCheck,
}

/// The hash of a resolved configuration (SHA-256 of its JSON, lowercase hex): shards of one
/// invocation give the same one.
pub fn config_hash(config: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(config).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
