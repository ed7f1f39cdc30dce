//! The nine scheduling policies of the reference control plane.
//!
//! A policy decides, whenever an instance has room, **which** waiting request leaves the
//! control plane's queue and **where** it goes. Instances themselves always batch like vLLM
//! (continuous batching, chunked prefill, preemption); they only ever hold a few requests
//! beyond what they run (`scheduler.instance_backlog`), so the order is the policy's.
//!
//! | Policy | Order of the queue | Where a request goes | Built for |
//! |---|---|---|---|
//! | `fifo` | arrival | least-loaded instance serving the model | baseline |
//! | `priority` | HIGH > NORMAL > LOW, arrival within a class | least-loaded | protecting HIGH under overload |
//! | `slo_aware` | earliest absolute deadline; hopeless requests last | lowest predicted completion time | SLO compliance under overload |
//! | `cost_optimized` | arrival | cheapest marginal cost that still meets the deadline (packs busy instances) | cost per request at low load |
//! | `adaptive` | `fifo`, `slo_aware` or `priority`, switched by load and queue mix with hysteresis | as the current mode | changing load |
//! | `aegaeon` | grouped by model, oldest group first | shared pool: any instance can load any model | more models than GPUs |
//! | `hybrid` | arrival; embeddings batched by size or wait | LLM least-loaded; embedding batches co-located on LLM instances when the embedding server is saturated | mixed LLM + embedding load |
//! | `hybrid_slo` | earliest deadline for both kinds | as `hybrid`, co-locating a batch whenever waiting for the embedding server would miss its deadline | embedding SLOs under mixed load |
//! | `cache_aware` | arrival | the instance with the longest cached prefix of the prompt, unless it holds more than `max_num_seqs / 8` sequences beyond the least-loaded one | prompts sharing prefixes (system prompts, multi-turn chats) |
//!
//! **`fifo`** serves requests in arrival order and sends each to the least-loaded instance
//! (fewest running + waiting sequences) that serves its model. It is the baseline every
//! other policy is compared against.
//!
//! **`priority`** keeps one FIFO queue per class and always serves HIGH before NORMAL before
//! LOW. Under overload HIGH requests see almost no queueing while LOW requests absorb it.
//!
//! **`slo_aware`** orders the queue by absolute deadline (earliest deadline first) and routes
//! to the instance with the lowest predicted completion time. The deadline is the one
//! queueing decides: the first-token deadline (arrival + `X-SLO-TTFT-Ms`) for a request with a
//! TTFT target (the per-token SLO), else the end-to-end one (arrival + `X-SLO-Deadline-Ms`),
//! and completion means the first token or the last accordingly. A request that can no longer
//! meet its deadline even if served at once is moved behind all requests that still can,
//! which stops the "domino effect" of plain EDF under overload. The deadline-aware parts of
//! `cost_optimized`, `adaptive` and `hybrid_slo` read the same deadline.
//!
//! **`cost_optimized`** serves in arrival order but routes to the instance with the lowest
//! *marginal* cost (price per hour times the busy time the request adds) among those
//! predicted to meet the deadline: joining an already running batch adds only the per-sequence
//! cost, waking an idle instance adds its whole step cost, so load is packed onto few
//! instances. The cluster reports `cost_usd`, the busy time of every instance times its
//! price, and the cost per completed request.
//!
//! **`adaptive`** runs as `fifo` while the LLM queue is short; when it grows past
//! `scheduler.adaptive_high_queue` it switches to `slo_aware`, or to `priority` when more than
//! half of the queued requests can no longer meet their deadlines (where EDF helps no one and
//! protecting HIGH does); it returns to `fifo` below `scheduler.adaptive_low_queue`. It
//! decides at most once per `scheduler.adaptive_interval_ms` and counts its switches.
//!
//! **`aegaeon`** follows Aegaeon (SOSP '25, "Aegaeon: Effective GPU Pooling for Concurrent
//! LLM Serving on the Market"): the LLM instances form one pool that can serve any model, each
//! holding one loaded model at a time and paying `model_switch_ms` to load another. Waiting
//! requests are dispatched grouped by model (one switch prefills the whole group); an instance
//! holding several models decodes them in weighted round-robin time slices sized so each
//! model's average time between tokens stays within `scheduler.tbt_target_ms`.
//!
//! **`hybrid`** holds embedding requests in the control plane and sends them as batches, when
//! a batch is full or its oldest request has waited `scheduler.embedding_batch_wait_ms`. When
//! the embedding server is busy and a full batch is waiting, it runs the batch on an LLM
//! instance between two decode steps (co-location), adding embedding capacity at a small cost
//! to LLM latency.
//!
//! **`hybrid_slo`** is `hybrid` with deadlines: both queues are earliest-deadline-first, a
//! batch is sent early when its earliest deadline is near, and a batch is co-located whenever
//! waiting for the embedding server would make it miss its deadline.
//!
//! **`cache_aware`** serves in arrival order and routes each request to the instance that
//! already holds the longest run of its prompt's leading blocks ([`super::prefix`]): cached
//! there, or in a prompt routed there and not yet prefilled (SGLang's router likewise inserts
//! a request's prefix into its tree of that worker when it routes it). Such a hit skips the
//! prefill of the cached tokens. To keep one instance from taking every request of a popular
//! prefix, the best-matching instance is passed over for the least-loaded one (fewest
//! sequences running or waiting) when it holds more than `max_num_seqs / 8` sequences beyond
//! it: 32 for vLLM's default `max_num_seqs` of 256, the `balance_abs_threshold` of SGLang's
//! router (`cache_aware`, with `balance_rel_threshold`
//! 1.0001, so any imbalance beyond the absolute one counts); vllm-router's `cache_aware`
//! follows the same rule. Ties (no instance holds any of the prompt: every request of a
//! workload without shared prefixes) go to the least-loaded instance, so there it routes as
//! `fifo` does. Every other policy routes as before; the instance it picks still reuses what
//! it has cached.

/// The names of all policies, in the canonical order ([`Policy::ALL`]'s names).
pub const POLICY_NAMES: [&str; Policy::ALL.len()] = {
    let mut names = [""; Policy::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Policy::ALL[i].as_str();
        i += 1;
    }
    names
};

/// Other names a policy answers to: `fcfs` (first come, first served, the textbook name) is
/// `fifo`. A policy set by an alias reports that name (so a comparison of `fifo` against
/// `fcfs` measures one policy under two names: a check that the verdicts see no difference).
pub const POLICY_ALIASES: [(&str, Policy); 1] = [("fcfs", Policy::Fifo)];

/// A scheduling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// Arrival order, least-loaded instance.
    Fifo,
    /// Strict priority classes, FIFO within a class.
    Priority,
    /// Earliest deadline first, lowest predicted completion.
    SloAware,
    /// Cheapest marginal cost that meets the deadline.
    CostOptimized,
    /// Switches among fifo / slo_aware / priority.
    Adaptive,
    /// Shared model pool with grouped prefill and decode time slices.
    Aegaeon,
    /// Batched embeddings, co-located on LLM instances when saturated.
    Hybrid,
    /// `hybrid` with earliest-deadline-first across both kinds.
    HybridSlo,
    /// Arrival order, the instance with the longest cached prefix unless it is too loaded.
    CacheAware,
}

impl Policy {
    /// All policies, in the canonical order.
    pub const ALL: [Policy; 9] = [
        Self::Fifo,
        Self::Priority,
        Self::SloAware,
        Self::CostOptimized,
        Self::Adaptive,
        Self::Aegaeon,
        Self::Hybrid,
        Self::HybridSlo,
        Self::CacheAware,
    ];

    /// The policy's name as used by `/admin/set_policy`: the one place policy names are
    /// spelled ([`POLICY_NAMES`] and every list of known policies derive from it).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Fifo => "fifo",
            Self::Priority => "priority",
            Self::SloAware => "slo_aware",
            Self::CostOptimized => "cost_optimized",
            Self::Adaptive => "adaptive",
            Self::Aegaeon => "aegaeon",
            Self::Hybrid => "hybrid",
            Self::HybridSlo => "hybrid_slo",
            Self::CacheAware => "cache_aware",
        }
    }

    /// Parses a policy name (exact, lower case).
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .or_else(|| {
                POLICY_ALIASES
                    .iter()
                    .find(|(a, _)| *a == name)
                    .map(|(_, p)| *p)
            })
    }

    /// The known names joined for an error message (aliases after the names).
    pub fn known_names() -> String {
        let aliases: Vec<String> = POLICY_ALIASES
            .iter()
            .map(|(a, p)| format!("{a} (= {})", p.as_str()))
            .collect();
        format!("{}; also {}", POLICY_NAMES.join(", "), aliases.join(", "))
    }

    /// Whether embeddings are batched in the control plane and may be co-located.
    pub(crate) fn is_hybrid(self) -> bool {
        matches!(self, Self::Hybrid | Self::HybridSlo)
    }
}

/// How a control-plane queue is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueOrder {
    /// Arrival order.
    Arrival,
    /// Priority class, then arrival.
    Priority,
    /// Absolute deadline, then arrival; hopeless requests demoted.
    Deadline,
}

/// How the dispatcher picks an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routing {
    LeastLoaded,
    EarliestCompletion,
    MarginalCost,
    Pool,
    /// Longest cached prefix within a load threshold of the least-loaded instance.
    CacheAware,
}

/// The mode `adaptive` is in (and what the static policies map to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Fifo,
    Priority,
    SloAware,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Fifo => Policy::Fifo.as_str(),
            Self::Priority => Policy::Priority.as_str(),
            Self::SloAware => Policy::SloAware.as_str(),
        }
    }
}

/// The effective behaviour of a policy at one moment (for `adaptive`, of its current mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Behaviour {
    pub(crate) llm_order: QueueOrder,
    pub(crate) emb_order: QueueOrder,
    pub(crate) routing: Routing,
}

impl Behaviour {
    pub(crate) fn of(policy: Policy, mode: Mode) -> Self {
        let (llm_order, routing) = match policy {
            Policy::Fifo | Policy::Hybrid => (QueueOrder::Arrival, Routing::LeastLoaded),
            Policy::Priority => (QueueOrder::Priority, Routing::LeastLoaded),
            Policy::SloAware | Policy::HybridSlo => {
                (QueueOrder::Deadline, Routing::EarliestCompletion)
            }
            Policy::CostOptimized => (QueueOrder::Arrival, Routing::MarginalCost),
            Policy::Aegaeon => (QueueOrder::Arrival, Routing::Pool),
            Policy::CacheAware => (QueueOrder::Arrival, Routing::CacheAware),
            Policy::Adaptive => match mode {
                Mode::Fifo => (QueueOrder::Arrival, Routing::LeastLoaded),
                Mode::Priority => (QueueOrder::Priority, Routing::LeastLoaded),
                Mode::SloAware => (QueueOrder::Deadline, Routing::EarliestCompletion),
            },
        };
        let emb_order = match policy {
            Policy::HybridSlo => QueueOrder::Deadline,
            _ => llm_order,
        };
        Self {
            llm_order,
            emb_order,
            routing,
        }
    }
}

/// How many more sequences (running + waiting) than the least-loaded instance an instance
/// with `max_num_seqs` may hold and still get a request for its cached prefix under
/// `cache_aware`: an eighth of its batch, at least 1 (32 at vLLM's default of 256, SGLang
/// router's `balance_abs_threshold`).
pub(crate) fn cache_aware_balance_threshold(max_num_seqs: usize) -> usize {
    (max_num_seqs / 8).max(1)
}

/// Decode slice length (in steps) for an instance holding several models, after Aegaeon's
/// weighted round-robin: a round visits each of the `n` models, paying `switch_us` and
/// running `k` decode steps of that model. Each model then emits `k` tokens per round, so its
/// average time between tokens is `round / k = n * switch / k + sum(step)`.
///
/// - Holding the target needs `k >= n * switch / (target - sum(step))`.
/// - The average only falls as `k` grows, and the pause a model sees between its slices is
///   absorbed by the slack it builds while decoding faster than its target, so slices are
///   also made long enough that switching takes at most `1 / (1 + EFFICIENCY)` of the round
///   (`k * sum(step) >= EFFICIENCY * n * switch`, 20% switching).
///
/// When the target cannot be met (`sum(step) >= target`) slices are as long as allowed
/// (`MAX_SLICE_STEPS`), to waste as little time switching as possible.
pub(crate) fn aegaeon_slice_steps(step_us: &[u64], switch_us: u64, target_us: u64) -> u32 {
    const MAX_SLICE_STEPS: u64 = 256;
    const EFFICIENCY: u64 = 4;
    let n = step_us.len() as u64;
    let sum: u64 = step_us.iter().sum::<u64>().max(1);
    if n <= 1 || sum >= target_us {
        return MAX_SLICE_STEPS as u32;
    }
    let k_tbt = (n * switch_us).div_ceil(target_us - sum);
    let k_eff = (EFFICIENCY * n * switch_us).div_ceil(sum);
    k_tbt.max(k_eff).clamp(1, MAX_SLICE_STEPS) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.as_str()), Some(p));
        }
        assert_eq!(Policy::parse("FIFO"), None);
        assert_eq!(POLICY_NAMES.len(), 9);
        assert_eq!(cache_aware_balance_threshold(256), 32);
        assert_eq!(cache_aware_balance_threshold(8), 1);
        assert_eq!(cache_aware_balance_threshold(1), 1);
    }

    #[test]
    fn slices_hold_the_tbt_target() {
        // Two models, 10 ms steps each, 50 ms switch, 100 ms target: the target needs
        // k >= 2 * 50 / (100 - 20) = 1.25 -> 2; 20% switching needs k >= 4 * 2 * 50 / 20 = 20.
        let k = aegaeon_slice_steps(&[10_000, 10_000], 50_000, 100_000);
        assert_eq!(k, 20);
        let round = 2 * 50_000 + u64::from(k) * 20_000;
        assert!(round / u64::from(k) <= 100_000);
        assert!(2 * 50_000 * 5 <= round);
        // A tight target dominates: 40 ms steps, 100 ms target, 50 ms switch:
        // k >= 100 / 20 = 5 (tbt) vs 400 / 80 = 5 (efficiency).
        assert_eq!(aegaeon_slice_steps(&[40_000, 40_000], 50_000, 100_000), 5);
        assert_eq!(aegaeon_slice_steps(&[45_000, 45_000], 50_000, 100_000), 10);
        // Infeasible target: long slices.
        assert_eq!(aegaeon_slice_steps(&[60_000, 60_000], 1, 100_000), 256);
    }
}
